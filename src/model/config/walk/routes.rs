//! The checks of `[[routes]]`: listener rules the load balancer answers itself, with a
//! redirect or a fixed response (docs/alb-lambda.md §12).

use super::functions::PriorityUse;
use super::*;
use crate::model::config::fields::{fixed_response as fr, redirect as rd, static_route, top};
use crate::model::config::rules::*;
use crate::model::config::{StaticAnswer, StaticRoute};
use crate::model::spec::{FixedResponse, Redirect};

/// The largest body of a fixed response ELB accepts.
const MAX_FIXED_BODY: usize = 1024;

impl Checker<'_> {
    /// `[[routes]]`; their priorities join `priorities`. `https`: the routes live on the
    /// HTTPS listener, which may not redirect to HTTP. `None` when wrong (reported).
    pub(super) fn static_routes(
        &mut self,
        top: &Tbl,
        https: bool,
        priorities: &mut Vec<PriorityUse>,
    ) -> Option<Vec<StaticRoute>> {
        let list = match self.table_list(top, &top::ROUTES) {
            Got::Val(list) => list,
            Got::Missing => return Some(Vec::new()),
            Got::Bad => return None,
        };
        let before = self.problems.len();
        let mut out = Vec::new();
        for t in &list {
            self.check_unknown_keys(t, &fields::STATIC_ROUTE);
            let route = self.route_conditions(t, "a [[routes]] entry", priorities);
            let answer = self.static_answer(t, https);
            if let (Some(r), Some(answer)) = (route, answer) {
                out.push(StaticRoute {
                    priority: r.priority,
                    paths: r.paths,
                    methods: r.methods,
                    hosts: r.hosts,
                    answer,
                });
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    /// Exactly one of `redirect` and `fixed_response`.
    fn static_answer(&mut self, t: &Tbl, https: bool) -> Option<StaticAnswer> {
        let redirect = self.sub_table(t, &static_route::REDIRECT);
        let fixed = self.sub_table(t, &static_route::FIXED_RESPONSE);
        match (redirect, fixed) {
            (Got::Val(r), Got::Missing) => self.redirect(&r, https).map(StaticAnswer::Redirect),
            (Got::Missing, Got::Val(f)) => self.fixed_response(&f).map(StaticAnswer::Fixed),
            (Got::Val(_), Got::Val(f)) => {
                self.push(
                    &f.path,
                    f.header.clone(),
                    format!("route {} has both a redirect and a fixed_response", t.path),
                    "keep one of them: a rule has one answer",
                );
                None
            }
            (Got::Missing, Got::Missing) => {
                self.push(
                    &t.path,
                    t.header.clone(),
                    format!("route {} has no answer", t.path),
                    "add `redirect = { to = \"https://…\" }` or `fixed_response = { status = \
                     404 }`; a route to a function goes under its [[functions.routes]]",
                );
                None
            }
            _ => None,
        }
    }

    fn redirect(&mut self, t: &Tbl, https: bool) -> Option<Redirect> {
        self.check_unknown_keys(t, &fields::REDIRECT);
        let status = self.redirect_status(t);
        let to = self.get_str(t, &rd::TO).val()?;
        let redirect = match parse_redirect(&to.value, status?) {
            Ok(r) => r,
            Err((why, help)) => {
                self.bad(&to, format!("redirect target {} {why}", q(&to.value)), help);
                return None;
            }
        };
        if https && redirect.protocol == "HTTP" {
            self.bad(
                &to,
                format!(
                    "redirect target {} goes from HTTPS to HTTP, which ELB refuses",
                    q(&to.value)
                ),
                "redirect to an https:// URL (the routes live on the HTTPS listener)",
            );
            return None;
        }
        Some(redirect)
    }

    /// 301 or 302.
    fn redirect_status(&mut self, t: &Tbl) -> Option<u16> {
        let Ty::IntOf { values, default } = rd::STATUS.ty else {
            unreachable!("status is an integer out of a list")
        };
        match self.get_int(t, rd::STATUS.key) {
            Got::Val((n, path, span)) => {
                let ok = u32::try_from(n).is_ok_and(|n| values.contains(&n));
                if !ok {
                    self.push(
                        &path,
                        span,
                        format!("redirect status {n} is not 301 or 302"),
                        "use 301 (moved permanently) or 302 (found, temporary)",
                    );
                }
                u16::try_from(n).ok().filter(|_| ok)
            }
            Got::Missing => u16::try_from(default).ok(),
            Got::Bad => None,
        }
    }

    fn fixed_response(&mut self, t: &Tbl) -> Option<FixedResponse> {
        self.check_unknown_keys(t, &fields::FIXED_RESPONSE);
        let status = self.fixed_status(t);
        let types = [
            "text/plain",
            "text/css",
            "text/html",
            "application/javascript",
            "application/json",
        ];
        let content_type = self.get_enum(t, &fr::CONTENT_TYPE, &types);
        let body = match self.get_str(t, &fr::BODY) {
            Got::Val(s) if s.value.len() > MAX_FIXED_BODY => {
                self.bad(
                    &s,
                    format!(
                        "body is {} bytes; a fixed response holds at most {MAX_FIXED_BODY}",
                        s.value.len()
                    ),
                    "shorten it, or serve the page from a function",
                );
                None
            }
            Got::Val(s) => Some(s.value),
            Got::Missing => Some(String::new()),
            Got::Bad => None,
        };
        Some(FixedResponse {
            status: status?,
            content_type: content_type?.to_string(),
            body: body?,
        })
    }

    /// A status of class 2XX, 4XX or 5XX.
    fn fixed_status(&mut self, t: &Tbl) -> Option<u16> {
        let (n, path, span) = match self.get_int(t, fr::STATUS.key) {
            Got::Val(v) => v,
            Got::Bad => return None,
            Got::Missing => {
                let help = format!("add `status = {}`", fr::STATUS.example_toml());
                self.missing(t, fr::STATUS.key, "required key `status`", help);
                return None;
            }
        };
        let status = u16::try_from(n)
            .ok()
            .filter(|s| matches!(s / 100, 2 | 4 | 5));
        if status.is_none() {
            self.push(
                &path,
                span,
                format!("fixed_response status {n} is not a 2XX, 4XX or 5XX code"),
                "use e.g. 200, 404, 410 or 503; for 301 or 302 write a `redirect` instead",
            );
        }
        status
    }
}
