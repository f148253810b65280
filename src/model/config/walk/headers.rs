//! The checks of `[https.headers]` and `[https.headers.cors]`, and of the `[https] hsts`
//! alias: the response headers the HTTPS listener inserts (docs/alb-lambda.md §11).

use super::*;
use crate::model::config::fields::{cors, headers as hd, https as h};
use crate::model::config::rules::*;
use crate::model::headers::{Inserted, ResponseHeaders};

impl Checker<'_> {
    /// `[https.headers]` with the `[https] hsts` alias; `None` when wrong (reported).
    pub(super) fn response_headers(&mut self, https: &Tbl) -> Option<ResponseHeaders> {
        let table = match self.sub_table(https, &h::HEADERS) {
            Got::Val(t) => Some(t),
            Got::Missing => None,
            Got::Bad => return None,
        };
        let before = self.problems.len();
        let alias = Self::lookup(https, h::HSTS.key);
        let inner = table.as_ref().and_then(|t| Self::lookup(t, hd::HSTS.key));
        let hsts = match (alias, inner, &table) {
            (Some((_, alias_path, _)), Some((_, path, span)), _) => {
                self.push(
                    &path,
                    span,
                    format!("hsts is set twice: here and as `{alias_path}`"),
                    format!(
                        "remove `{alias_path}`: `[https] hsts` is the former place of \
                         `[https.headers] hsts`, and only one may be given"
                    ),
                );
                None
            }
            (None, Some(_), Some(t)) => self.hsts(t),
            _ => self.hsts(https),
        };
        let mut out = ResponseHeaders::default();
        if let Some(Some(v)) = hsts {
            out.values.insert(Inserted::StrictTransportSecurity, v);
        }
        if let Some(t) = &table {
            self.check_unknown_keys(t, &fields::HEADERS);
            self.security_headers(t, &mut out);
            if let Got::Val(c) = self.sub_table(t, &hd::CORS) {
                self.cors(&c, &mut out);
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    /// Content-Security-Policy, X-Content-Type-Options, X-Frame-Options and `server`.
    fn security_headers(&mut self, t: &Tbl, out: &mut ResponseHeaders) {
        if let Got::Val(s) = self.get_str(t, &hd::CONTENT_SECURITY_POLICY) {
            let example = "e.g. \"default-src 'self'\"";
            match check_header_value(&s.value, example) {
                Ok(()) => {
                    out.values
                        .insert(Inserted::ContentSecurityPolicy, s.value.trim().to_string());
                }
                Err((why, help)) => self.bad(
                    &s,
                    format!("content_security_policy {} {why}", q(&s.value)),
                    help,
                ),
            }
        }
        if let Got::Val(s) = self.get_str(t, &hd::X_CONTENT_TYPE_OPTIONS) {
            if s.value.trim().eq_ignore_ascii_case("nosniff") {
                out.values
                    .insert(Inserted::XContentTypeOptions, "nosniff".to_string());
            } else {
                self.bad(
                    &s,
                    format!(
                        "x_content_type_options {} is not \"nosniff\", its only value",
                        q(&s.value)
                    ),
                    "write `x_content_type_options = \"nosniff\"`, or remove the key",
                );
            }
        }
        if let Got::Val(s) = self.get_str(t, &hd::X_FRAME_OPTIONS) {
            match check_x_frame_options(&s.value) {
                Ok(v) => {
                    out.values.insert(Inserted::XFrameOptions, v);
                }
                Err((why, help)) => {
                    self.bad(&s, format!("x_frame_options {} {why}", q(&s.value)), help);
                }
            }
        }
        if let Some(server) = self.get_bool(t, &hd::SERVER) {
            out.server = server;
        }
    }

    /// `[https.headers.cors]`: the Access-Control-* headers.
    fn cors(&mut self, t: &Tbl, out: &mut ResponseHeaders) {
        self.check_unknown_keys(t, &fields::CORS);
        let origin = self.allow_origin(t);
        if let Some(origin) = &origin {
            out.values
                .insert(Inserted::AccessControlAllowOrigin, origin.clone());
        }
        if let Some(methods) = self.cors_methods(t) {
            out.values
                .insert(Inserted::AccessControlAllowMethods, methods.join(","));
        }
        let names = [
            (&cors::ALLOW_HEADERS, Inserted::AccessControlAllowHeaders),
            (&cors::EXPOSE_HEADERS, Inserted::AccessControlExposeHeaders),
        ];
        for (f, header) in names {
            if let Some(list) = self.header_names(t, f) {
                out.values.insert(header, list.join(","));
            }
        }
        if self.get_bool(t, &cors::ALLOW_CREDENTIALS) == Some(true) {
            if origin.as_deref() == Some("*") {
                let span = Self::lookup(t, cors::ALLOW_CREDENTIALS.key).and_then(|x| x.2);
                self.push(
                    &join(&t.path, cors::ALLOW_CREDENTIALS.key),
                    span,
                    "allow_credentials = true with the origin \"*\": browsers refuse \
                     credentialed responses that allow any origin",
                    "name the one origin that may send credentials in `allow_origins`, or \
                     set `allow_credentials = false`",
                );
            }
            out.values
                .insert(Inserted::AccessControlAllowCredentials, "true".to_string());
        }
        if let Some(Some(age)) = self.get_opt_int(t, &cors::MAX_AGE) {
            out.values
                .insert(Inserted::AccessControlMaxAge, age.to_string());
        }
    }

    /// `allow_origins`: exactly one origin, or `*`.
    fn allow_origin(&mut self, t: &Tbl) -> Option<String> {
        let f = &cors::ALLOW_ORIGINS;
        let list = match self.get_str_array(t, f) {
            Got::Val(list) => list,
            Got::Bad => return None,
            Got::Missing => {
                let help = format!("add `{} = {}`", f.key, f.example_toml());
                self.missing(t, f.key, "required key `allow_origins`", help);
                return None;
            }
        };
        if list.len() != 1 {
            let span = Self::lookup(t, f.key).and_then(|x| x.2);
            self.push(
                &join(&t.path, f.key),
                span,
                format!(
                    "allow_origins lists {} origins; the load balancer sends one fixed \
                     Access-Control-Allow-Origin value",
                    list.len()
                ),
                "list exactly one origin (or \"*\"); to allow several, leave out \
                 [https.headers.cors] and answer CORS in the function, which can echo the \
                 request's Origin",
            );
            return None;
        }
        let s = list.into_iter().next()?;
        match check_origin(&s.value) {
            Ok(()) => Some(s.value),
            Err((why, help)) => {
                self.bad(&s, format!("origin {} {why}", q(&s.value)), help);
                None
            }
        }
    }

    /// `allow_methods`: upper-case HTTP methods, each once.
    fn cors_methods(&mut self, t: &Tbl) -> Option<Vec<String>> {
        let Got::Val(list) = self.get_str_array(t, &cors::ALLOW_METHODS) else {
            return None;
        };
        let before = self.problems.len();
        for s in &list {
            if !CORS_METHODS.contains(&s.value.as_str()) {
                let upper = s.value.to_ascii_uppercase();
                let help = if CORS_METHODS.contains(&upper.as_str()) {
                    format!("methods are case-sensitive: write {upper:?}")
                } else {
                    format!("use methods among {}", CORS_METHODS.join(", "))
                };
                self.bad(
                    s,
                    format!("method {} is not an HTTP method", q(&s.value)),
                    help,
                );
            }
        }
        self.check_duplicates("method", &list, str::to_owned);
        (self.problems.len() == before).then(|| list.into_iter().map(|s| s.value).collect())
    }

    /// `allow_headers` / `expose_headers`: header names, each once, or `*` alone.
    fn header_names(&mut self, t: &Tbl, f: &Field) -> Option<Vec<String>> {
        let Got::Val(list) = self.get_str_array(t, f) else {
            return None;
        };
        let before = self.problems.len();
        let star = list.iter().any(|s| s.value == "*");
        for s in &list {
            if star && list.len() > 1 {
                self.bad(
                    s,
                    format!("{} mixes \"*\" with header names", f.key),
                    format!("write `{} = [\"*\"]` alone, or list the names", f.key),
                );
                break;
            }
            if star {
                continue;
            }
            if let Err((why, help)) = check_header_name(&s.value) {
                self.bad(s, format!("header {} {why}", q(&s.value)), help);
            }
        }
        self.check_duplicates("header", &list, str::to_ascii_lowercase);
        (self.problems.len() == before).then(|| list.into_iter().map(|s| s.value).collect())
    }
}
