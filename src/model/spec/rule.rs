//! A listener rule: a route of a function, or a rule the load balancer answers itself
//! (a `[[routes]]` redirect or fixed response, the CORS preflight).

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub listener: Ref,
    pub priority: u32,
    /// Path patterns, host headers and methods: AND between the three, OR inside one;
    /// an empty list is no condition.
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
    pub methods: Vec<String>,
    /// What a match gets.
    pub action: RuleAction,
    /// What the load balancer checks before it acts; `None`: nothing.
    pub auth: Option<RuleAuth>,
    pub tags: Tags,
}

/// The authentication step of a rule: an action ordered before its forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAuth {
    /// `jwt-validation`: the request's bearer token, signed by a key of `jwks_endpoint`,
    /// issued by `issuer` and, when `audiences` is not empty, for one of them (the
    /// additional claim `aud`).
    Jwt {
        issuer: String,
        jwks_endpoint: String,
        audiences: Vec<String>,
    },
    /// `authenticate-cognito`: a browser login through the user pool's hosted UI, with
    /// the action's defaults for everything else (scope `openid`, a 7-day session, an
    /// unauthenticated request sent to log in).
    Cognito {
        user_pool_arn: String,
        user_pool_client_id: String,
        user_pool_domain: String,
    },
    /// `authenticate-oidc`: a browser login through an OpenID Connect provider.
    Oidc(Box<OidcLogin>),
}

/// An `authenticate-oidc` step, with the action's defaults for the session and an
/// unauthenticated request. The client secret is not here: only the ARN of the secret
/// that holds it, which the rule carries as its `albkit:oidc-client-secret` tag (AWS does
/// not return the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub user_info_endpoint: String,
    pub client_id: String,
    /// Empty when a rule found in AWS has no such tag.
    pub client_secret_arn: String,
    pub scope: String,
}

impl RuleAuth {
    /// The `auth` property: what the plan compares and shows.
    pub fn prop(auth: Option<&RuleAuth>) -> String {
        match auth {
            None => "none".to_owned(),
            Some(RuleAuth::Jwt {
                issuer,
                jwks_endpoint,
                audiences,
            }) => {
                let mut out = format!("jwt-validation issuer {issuer}, jwks {jwks_endpoint}");
                if !audiences.is_empty() {
                    out.push_str(&format!(", aud in [{}]", audiences.join(", ")));
                }
                out
            }
            Some(RuleAuth::Cognito {
                user_pool_arn,
                user_pool_client_id,
                user_pool_domain,
            }) => format!(
                "authenticate-cognito user pool {user_pool_arn}, client {user_pool_client_id}, \
                 domain {user_pool_domain}"
            ),
            Some(RuleAuth::Oidc(o)) => {
                let OidcLogin {
                    issuer,
                    authorization_endpoint,
                    token_endpoint,
                    user_info_endpoint,
                    client_id,
                    client_secret_arn,
                    scope,
                } = o.as_ref();
                let secret = if client_secret_arn.is_empty() {
                    "not recorded"
                } else {
                    client_secret_arn
                };
                format!(
                    "authenticate-oidc issuer {issuer}, authorization {authorization_endpoint}, \
                     token {token_endpoint}, user info {user_info_endpoint}, client \
                     {client_id}, scope {scope}, client secret from {secret}"
                )
            }
        }
    }
}

/// What a listener rule does with the requests it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Forward to a target group (a function's).
    Forward(Ref),
    /// The load balancer answers itself.
    FixedResponse(FixedResponse),
    /// The load balancer redirects.
    Redirect(Redirect),
}

/// A `redirect` action: each part of the target URL, literal or a placeholder
/// (`#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}`), as ELB takes them
/// (docs/alb-lambda.md §5, §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// `HTTP_301` or `HTTP_302`'s number.
    pub status: u16,
    /// `HTTP`, `HTTPS` or `#{protocol}`.
    pub protocol: String,
    pub host: String,
    pub port: String,
    /// Starts with `/`.
    pub path: String,
    /// Without the leading `?`.
    pub query: String,
}

impl Redirect {
    /// ELB's name of the status: `HTTP_301`.
    pub fn status_code(&self) -> String {
        format!("HTTP_{}", self.status)
    }

    /// As the plan shows it, in the form the listeners' redirect is shown.
    pub fn text(&self) -> String {
        format!(
            "redirect {} {}://{}:{}{}?{}",
            self.status_code(),
            self.protocol.to_ascii_lowercase(),
            self.host,
            self.port,
            self.path,
            self.query
        )
    }
}

/// A `fixed-response` action: status, content type and body (docs/alb-lambda.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl FixedResponse {
    /// As the plan shows it, and as discovery renders what it found; the body, when
    /// there is one, last.
    pub fn text(&self) -> String {
        let head = format!("fixed-response {} {}", self.status, self.content_type);
        if self.body.is_empty() {
            head
        } else {
            format!("{head} {}", self.body)
        }
    }
}

impl RuleAction {
    /// The `action` property.
    pub fn text(&self) -> String {
        match self {
            RuleAction::Forward(tg) => format!("forward -> {tg}"),
            RuleAction::FixedResponse(f) => f.text(),
            RuleAction::Redirect(r) => r.text(),
        }
    }
}

impl RuleSpec {
    /// The `conditions` property, in ALB's evaluation terms.
    pub fn conditions_prop(paths: &[String], hosts: &[String], methods: &[String]) -> String {
        let mut parts = Vec::new();
        for (field, values) in [
            ("path-pattern", paths),
            ("host-header", hosts),
            ("http-request-method", methods),
        ] {
            if !values.is_empty() {
                parts.push(format!("{field} in [{}]", values.join(", ")));
            }
        }
        parts.join(" and ")
    }
}

impl KindFacts for RuleSpec {
    const NAME: &'static str = "listener-rule";
    const RANK: u8 = 5;
    const REPLACE_ON: &'static [&'static str] = &["listener"];
}

impl Describe for RuleSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("listener", self.listener.to_string()),
            ("priority", self.priority.to_string()),
            (
                "conditions",
                Self::conditions_prop(&self.paths, &self.hosts, &self.methods),
            ),
            ("auth", RuleAuth::prop(self.auth.as_ref())),
            ("action", self.action.text()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let mut refs = vec![&mut self.listener];
        if let RuleAction::Forward(tg) = &mut self.action {
            refs.push(tg);
        }
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_response_rule_renders_its_answer_and_needs_only_its_listener() {
        let mut rule = RuleSpec {
            listener: Ref::Stack("listener/https".into()),
            priority: 1,
            paths: vec![],
            hosts: vec![],
            methods: vec!["OPTIONS".into()],
            action: RuleAction::FixedResponse(FixedResponse {
                status: 204,
                content_type: "text/plain".into(),
                body: String::new(),
            }),
            auth: None,
            tags: Tags::new(),
        };
        let props = rule.render(&LogicalId::from("rule/1"));
        let get = |k: &str| props.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("action"), Some("fixed-response 204 text/plain"));
        assert_eq!(get("conditions"), Some("http-request-method in [OPTIONS]"));
        assert_eq!(rule.refs_mut().len(), 1);
        rule.action = RuleAction::Forward(Ref::Stack("target-group/api".into()));
        assert_eq!(rule.refs_mut().len(), 2);
        let gone = FixedResponse {
            status: 410,
            content_type: "application/json".into(),
            body: "{}".into(),
        };
        assert_eq!(gone.text(), "fixed-response 410 application/json {}");
    }

    #[test]
    fn auth_is_rendered_with_its_audiences_or_as_none() {
        let jwt = RuleAuth::Jwt {
            issuer: "https://issuer.example.com".into(),
            jwks_endpoint: "https://issuer.example.com/jwks.json".into(),
            audiences: vec!["orders".into(), "cart".into()],
        };
        assert_eq!(
            RuleAuth::prop(Some(&jwt)),
            "jwt-validation issuer https://issuer.example.com, \
             jwks https://issuer.example.com/jwks.json, aud in [orders, cart]"
        );
        let RuleAuth::Jwt {
            issuer,
            jwks_endpoint,
            ..
        } = jwt
        else {
            panic!("built as a JWT step")
        };
        let any_aud = RuleAuth::Jwt {
            issuer,
            jwks_endpoint,
            audiences: vec![],
        };
        assert!(!RuleAuth::prop(Some(&any_aud)).contains("aud"));
        assert_eq!(RuleAuth::prop(None), "none");
        let cognito = RuleAuth::Cognito {
            user_pool_arn: "arn:aws:cognito-idp:us-east-1:123456789012:userpool/p".into(),
            user_pool_client_id: "client".into(),
            user_pool_domain: "login".into(),
        };
        assert_eq!(
            RuleAuth::prop(Some(&cognito)),
            "authenticate-cognito user pool arn:aws:cognito-idp:us-east-1:123456789012:\
             userpool/p, client client, domain login"
        );
    }
}
