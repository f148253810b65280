//! The checks of a route's `auth` and of `[https].auth`.

use super::*;
use crate::model::config::fields::{auth, client_secret, cognito, jwt, oidc};
use crate::model::config::rules::*;
use crate::model::config::{CognitoAuth, JwtAuth, OidcAuth, RouteAuth, DEFAULT_OIDC_SCOPE};

/// Most `aud` values the `jwt-validation` action compares a token with (the limit of an
/// additional claim's values).
const MAX_AUDIENCES: usize = 10;

impl Checker<'_> {
    /// `auth = { jwt = {...} }` under `t`: `Some(None)` when absent, `None` when wrong
    /// (reported). `https`: whether the file has an `[https]` table, which every
    /// authentication needs (the load balancer authenticates on its HTTPS listener only).
    pub(super) fn auth(&mut self, t: &Tbl, f: &Field, https: bool) -> Option<Option<RouteAuth>> {
        let a = match self.sub_table(t, f) {
            Got::Val(a) => a,
            Got::Missing => return Some(None),
            Got::Bad => return None,
        };
        self.check_unknown_keys(&a, &fields::AUTH);
        if self.attach {
            self.push(
                &a.path,
                a.header.clone(),
                format!(
                    "{} cannot be combined with load_balancer.listener_arn",
                    a.path
                ),
                "in attach mode albkit does not know the listener's protocol and login \
                 callback: remove `auth`, or put the authentication on the shared listener's \
                 rules yourself (docs/attach.md)",
            );
        } else if !https {
            self.push(
                &a.path,
                a.header.clone(),
                format!("{} needs [https]", a.path),
                "the load balancer authenticates requests on its HTTPS listener only: add an \
                 [https] table with `domain`, or remove `auth`",
            );
        }
        let jwt = self
            .sub_table(&a, &auth::JWT)
            .check(None, |j| self.jwt(&j).map(|j| Some(RouteAuth::Jwt(j))));
        let cognito = self.sub_table(&a, &auth::COGNITO).check(None, |c| {
            self.cognito(&c).map(|c| Some(RouteAuth::Cognito(c)))
        });
        let oidc = self
            .sub_table(&a, &auth::OIDC)
            .check(None, |o| self.oidc(&o).map(|o| Some(RouteAuth::Oidc(o))));
        let given = [auth::JWT.key, auth::COGNITO.key, auth::OIDC.key]
            .iter()
            .filter(|k| Self::lookup(&a, k).is_some())
            .count();
        if given > 1 {
            self.push(
                &a.path,
                a.header.clone(),
                format!("{} names {given} kinds of authentication", a.path),
                "keep one of `jwt`, `cognito` and `oidc`: a rule authenticates one way",
            );
            return None;
        }
        if given == 0 {
            if a.t.is_empty() {
                self.push(
                    &a.path,
                    a.header.clone(),
                    format!("{} names no kind of authentication", a.path),
                    format!(
                        "add `jwt = {{ issuer = {}, jwks_endpoint = {} }}` (or `cognito = \
                         {{...}}`, `oidc = {{...}}`), or remove `auth`",
                        jwt::ISSUER.example_toml(),
                        jwt::JWKS_ENDPOINT.example_toml()
                    ),
                );
            }
            return None;
        }
        let kind = jwt?.or(cognito?).or(oidc?);
        https.then_some(kind)
    }

    fn jwt(&mut self, t: &Tbl) -> Option<JwtAuth> {
        self.check_unknown_keys(t, &fields::JWT);
        let issuer = self.https_url(t, &jwt::ISSUER);
        let jwks = self.https_url(t, &jwt::JWKS_ENDPOINT);
        let audiences = self.audiences(t);
        Some(JwtAuth {
            issuer: issuer?,
            jwks_endpoint: jwks?,
            audiences: audiences?,
        })
    }

    fn cognito(&mut self, t: &Tbl) -> Option<CognitoAuth> {
        self.check_unknown_keys(t, &fields::COGNITO);
        let arn = self.checked(t, &cognito::USER_POOL_ARN, check_user_pool_arn);
        let client = self.checked(t, &cognito::USER_POOL_CLIENT_ID, check_client_id);
        let domain = self.checked(t, &cognito::USER_POOL_DOMAIN, check_user_pool_domain);
        Some(CognitoAuth {
            user_pool_arn: arn?,
            user_pool_client_id: client?,
            user_pool_domain: domain?,
        })
    }

    fn oidc(&mut self, t: &Tbl) -> Option<OidcAuth> {
        self.check_unknown_keys(t, &fields::OIDC);
        let issuer = self.https_url(t, &oidc::ISSUER);
        let authorization = self.https_url(t, &oidc::AUTHORIZATION_ENDPOINT);
        let token = self.https_url(t, &oidc::TOKEN_ENDPOINT);
        let user_info = self.https_url(t, &oidc::USER_INFO_ENDPOINT);
        let client = self.checked(t, &oidc::CLIENT_ID, check_oidc_client_id);
        let secret = self.client_secret(t);
        let scope = match self.get_str(t, &oidc::SCOPE) {
            Got::Val(s) => self.checked_value(&s, &oidc::SCOPE, check_scope),
            Got::Missing => Some(DEFAULT_OIDC_SCOPE.to_owned()),
            Got::Bad => None,
        };
        Some(OidcAuth {
            issuer: issuer?,
            authorization_endpoint: authorization?,
            token_endpoint: token?,
            user_info_endpoint: user_info?,
            client_id: client?,
            client_secret_arn: secret?,
            scope: scope?,
        })
    }

    /// `client_secret = { secretsmanager = "arn:…" }`: the ARN. A literal secret is
    /// refused without being repeated in the problem.
    fn client_secret(&mut self, t: &Tbl) -> Option<String> {
        let f = &oidc::CLIENT_SECRET;
        if let Some((item, path, _)) = Self::lookup(t, f.key) {
            if item.is_str() {
                // No position: the problem would quote the line, and with it the secret.
                self.push(
                    &path,
                    None,
                    "client_secret is written in the file; albkit takes it from Secrets Manager only",
                    format!(
                        "store the client secret in Secrets Manager (`aws secretsmanager \
                         create-secret --name <name> --secret-string <secret>`), remove it \
                         from this file and give its ARN: `client_secret = {{ secretsmanager \
                         = {} }}`",
                        client_secret::SECRETSMANAGER.example_toml()
                    ),
                );
                return None;
            }
        }
        let s = match self.sub_table(t, f) {
            Got::Val(s) => s,
            Got::Missing => {
                let help = format!(
                    "add `client_secret = {{ secretsmanager = {} }}`",
                    client_secret::SECRETSMANAGER.example_toml()
                );
                self.missing(t, f.key, &format!("required key `{}`", f.key), help);
                return None;
            }
            Got::Bad => return None,
        };
        self.check_unknown_keys(&s, &fields::CLIENT_SECRET);
        let arn = self.get_str(&s, &client_secret::SECRETSMANAGER).val()?;
        if !arn.value.starts_with("arn:") {
            // Perhaps the secret itself: neither repeated nor its line quoted.
            self.push(
                &arn.path,
                None,
                "secretsmanager is not an ARN",
                format!(
                    "give the ARN of the secret that holds the client secret, not the client \
                     secret itself, e.g. {}",
                    client_secret::SECRETSMANAGER.example_toml()
                ),
            );
            return None;
        }
        let region = self.region.clone();
        match check_client_secret_arn(&arn.value, region.as_deref()) {
            Ok(()) => Some(arn.value),
            Err((why, help)) => {
                let key = client_secret::SECRETSMANAGER.key;
                self.bad(&arn, format!("{key} {} {why}", q(&arn.value)), help);
                None
            }
        }
    }

    /// A string key through `check` (the problem's message tail and help).
    fn checked(
        &mut self,
        t: &Tbl,
        f: &Field,
        check: fn(&str) -> Result<(), (String, String)>,
    ) -> Option<String> {
        let s = self.get_str(t, f).val()?;
        self.checked_value(&s, f, check)
    }

    /// `s`, the value of `f`, through `check`.
    fn checked_value(
        &mut self,
        s: &Str,
        f: &Field,
        check: fn(&str) -> Result<(), (String, String)>,
    ) -> Option<String> {
        match check(&s.value) {
            Ok(()) => Some(s.value.clone()),
            Err((why, help)) => {
                self.bad(s, format!("{} {} {why}", f.key, q(&s.value)), help);
                None
            }
        }
    }

    fn https_url(&mut self, t: &Tbl, f: &Field) -> Option<String> {
        let s = self.get_str(t, f).val()?;
        match check_https_url(&s.value) {
            Ok(()) => Some(s.value),
            Err((why, help)) => {
                self.bad(&s, format!("{} {} {why}", f.key, q(&s.value)), help);
                None
            }
        }
    }

    /// 1–10 values of at most 256 characters, none twice.
    fn audiences(&mut self, t: &Tbl) -> Option<Vec<String>> {
        let f = &jwt::AUDIENCES;
        let list = match self.get_str_array(t, f) {
            Got::Val(list) => list,
            Got::Missing => return Some(Vec::new()),
            Got::Bad => return None,
        };
        let before = self.problems.len();
        if list.is_empty() || list.len() > MAX_AUDIENCES {
            let span = Self::lookup(t, f.key).and_then(|(_, _, s)| s);
            self.push(
                &join(&t.path, f.key),
                span,
                format!(
                    "audiences has {} values; the load balancer compares 1 to {MAX_AUDIENCES}",
                    list.len()
                ),
                "list the aud values your clients' tokens carry (at most 10), or remove \
                 `audiences` to accept any aud",
            );
        }
        for s in &list {
            let len = s.value.chars().count();
            if s.value.is_empty() || len > MAX_JWT_VALUE {
                self.bad(
                    s,
                    format!("audience {} is {len} characters long", q(&s.value)),
                    format!("use a value of 1 to {MAX_JWT_VALUE} characters"),
                );
            }
        }
        self.check_duplicates("audience", &list, str::to_owned);
        (self.problems.len() == before).then(|| list.into_iter().map(|s| s.value).collect())
    }
}
