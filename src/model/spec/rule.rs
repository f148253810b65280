//! A listener rule: a route of a function.

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
    /// Where a match goes.
    pub target_group: Ref,
    /// What the load balancer checks before it forwards; `None`: nothing.
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
            ("action", format!("forward -> {}", self.target_group)),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.listener, &mut self.target_group]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
