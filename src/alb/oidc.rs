//! PURE: what the function receives behind an `authenticate-cognito` or
//! `authenticate-oidc` action once the user has logged in (docs/auth.md), as `albkit dev` gives it a development identity
//! instead of a login.
//!
//! The load balancer adds three headers to the request it forwards:
//! - `x-amzn-oidc-accesstoken`: the access token from the token endpoint, as text;
//! - `x-amzn-oidc-identity`: the `sub` of the user info, as text;
//! - `x-amzn-oidc-data`: the user claims as a JWT signed ES256 (ECDSA P-256, SHA-256) by
//!   a key of the load balancer's, whose header names that key (`kid`), the load balancer
//!   (`signer`), the issuer (`iss`), the app client (`client`) and an expiry (`exp`);
//!   its three parts are base64url *with* padding (`=`), unlike RFC 7515's.
//!
//! Headers of those names that the client sent are replaced, never passed on.

use std::collections::BTreeMap;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde_json::{json, Value};

use crate::model::config::{CognitoAuth, OidcAuth, RouteAuth};

/// The headers the load balancer sets, in the order it sets them.
pub const HEADERS: [&str; 3] = [
    "x-amzn-oidc-accesstoken",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-data",
];

/// How long the claims token is valid, in seconds (the load balancer's own value is not
/// documented; short, like the tokens it signs for a request).
pub const CLAIMS_LIFETIME: u64 = 120;

/// The user `albkit dev` presents as logged in: the claims the user info endpoint would
/// return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    claims: BTreeMap<String, String>,
}

impl Identity {
    /// `sub=alice,email=alice@example.com`: `sub` is required, every value is a string.
    pub fn parse(text: &str) -> Result<Identity, String> {
        let mut claims = BTreeMap::new();
        for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(format!("{pair:?} is not claim=value"));
            };
            let k = k.trim();
            if k.is_empty() || claims.insert(k.to_owned(), v.trim().to_owned()).is_some() {
                return Err(format!("claim {k:?} is empty or given twice"));
            }
        }
        if claims.get("sub").is_none_or(String::is_empty) {
            return Err("it has no sub claim (the user's id)".to_owned());
        }
        Ok(Identity { claims })
    }

    /// `sub=dev-user`, when `--identity` is not given.
    pub fn default_user() -> Identity {
        Identity {
            claims: BTreeMap::from([("sub".to_owned(), "dev-user".to_owned())]),
        }
    }

    pub fn sub(&self) -> &str {
        self.claims.get("sub").map_or("", String::as_str)
    }
}

/// What the login went through, as the claims token's header names it: the issuer
/// (`iss`) and the client (`client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub issuer: String,
    pub client: String,
}

impl Provider {
    /// The provider of a login route; `None` for an authentication without a login (JWT).
    pub fn of(auth: &RouteAuth) -> Option<Provider> {
        match auth {
            RouteAuth::Jwt(_) => None,
            RouteAuth::Cognito(pool) => Some(Provider::cognito(pool)),
            RouteAuth::Oidc(o) => Some(Provider::oidc(o)),
        }
    }

    /// A Cognito user pool: its issuer URL and app client.
    pub fn cognito(pool: &CognitoAuth) -> Provider {
        Provider {
            issuer: issuer(&pool.user_pool_arn),
            client: pool.user_pool_client_id.clone(),
        }
    }

    /// An OpenID Connect provider: the configured issuer and client id.
    pub fn oidc(o: &OidcAuth) -> Provider {
        Provider {
            issuer: o.issuer.clone(),
            client: o.client_id.clone(),
        }
    }
}

/// Who `albkit dev` presents as logged in, and the key that signs their claims.
pub struct Login {
    pub identity: Identity,
    pub signer: ClaimsSigner,
}

/// The load balancer's signing key, as `albkit dev` stands in for it.
pub struct ClaimsSigner {
    key: EcdsaKeyPair,
    /// The key's id, in every token's header.
    pub kid: String,
    /// The load balancer's ARN, the header's `signer`.
    pub signer: String,
}

impl ClaimsSigner {
    /// `key` must be a P-256 key for ES256 (`ECDSA_P256_SHA256_FIXED_SIGNING`).
    pub fn new(key: EcdsaKeyPair, kid: String, signer: String) -> ClaimsSigner {
        ClaimsSigner { key, kid, signer }
    }

    /// The public key as the load balancer publishes its own (at
    /// `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`): PEM.
    pub fn public_key_pem(&self) -> Result<String, String> {
        let der = self
            .key
            .public_key()
            .as_der()
            .map_err(|_| "cannot encode the public key".to_owned())?;
        Ok(super::pem("PUBLIC KEY", der.as_ref()))
    }

    /// The `x-amzn-oidc-data` token of `identity` logged in through `provider`, at `now`.
    pub fn token(
        &self,
        identity: &Identity,
        provider: &Provider,
        now: u64,
    ) -> Result<String, String> {
        let header = json!({
            "alg": "ES256",
            "kid": self.kid,
            "signer": self.signer,
            "iss": provider.issuer,
            "client": provider.client,
            "exp": now + CLAIMS_LIFETIME,
        });
        let claims: serde_json::Map<String, Value> = identity
            .claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let signed = format!(
            "{}.{}",
            URL_SAFE.encode(header.to_string()),
            URL_SAFE.encode(Value::Object(claims).to_string())
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), signed.as_bytes())
            .map_err(|_| "cannot sign the claims".to_owned())?;
        Ok(format!("{signed}.{}", URL_SAFE.encode(sig.as_ref())))
    }
}

/// A Cognito user pool's issuer: `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
fn issuer(user_pool_arn: &str) -> String {
    let parts: Vec<&str> = user_pool_arn.splitn(6, ':').collect();
    let region = parts.get(3).copied().unwrap_or_default();
    let pool = parts
        .get(5)
        .and_then(|r| r.strip_prefix("userpool/"))
        .unwrap_or_default();
    format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
}

/// The request's headers as the load balancer forwards them after a login: the client's
/// `x-amzn-oidc-*` removed, the three set for `identity` with its claims `token`.
pub fn set_headers(headers: &mut Vec<(String, Vec<u8>)>, identity: &Identity, token: &str) {
    headers.retain(|(name, _)| !HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)));
    let values = [
        format!("albkit-dev-access-token-{}", identity.sub()),
        identity.sub().to_owned(),
        token.to_owned(),
    ];
    for (name, value) in HEADERS.iter().zip(values) {
        headers.push(((*name).to_owned(), value.into_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    const NOW: u64 = 1_700_000_000;

    fn pool() -> CognitoAuth {
        CognitoAuth {
            user_pool_arn: "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc"
                .into(),
            user_pool_client_id: "client123".into(),
            user_pool_domain: "login".into(),
        }
    }

    fn signer() -> ClaimsSigner {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        ClaimsSigner::new(
            key,
            "dev-key".into(),
            "arn:aws:elasticloadbalancing:x".into(),
        )
    }

    #[test]
    fn an_oidc_login_names_the_configured_issuer_and_client() {
        let o = OidcAuth {
            issuer: "https://login.example.com".into(),
            authorization_endpoint: "https://login.example.com/authorize".into(),
            token_endpoint: "https://login.example.com/token".into(),
            user_info_endpoint: "https://login.example.com/userinfo".into(),
            client_id: "app".into(),
            client_secret_arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s".into(),
            scope: "openid".into(),
        };
        let want = Provider {
            issuer: "https://login.example.com".into(),
            client: "app".into(),
        };
        assert_eq!(Provider::of(&RouteAuth::Oidc(o)), Some(want));
        assert_eq!(
            Provider::of(&RouteAuth::Cognito(pool())).map(|p| p.client),
            Some("client123".to_owned())
        );
    }

    #[test]
    fn an_identity_is_claims_with_a_sub() {
        let id = Identity::parse("sub=alice, email=alice@example.com").expect("identity");
        assert_eq!(id.sub(), "alice");
        assert_eq!(
            id.claims.get("email").map(String::as_str),
            Some("alice@example.com")
        );
        for bad in ["email=a@b", "sub=", "sub=a,sub=b", "sub", "=x,sub=a"] {
            assert!(Identity::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Identity::default_user().sub(), "dev-user");
    }

    #[test]
    fn the_claims_token_is_es256_with_the_load_balancers_header_and_padding() {
        let s = signer();
        let id = Identity::parse("sub=alice,email=alice@example.com").expect("identity");
        let token = s
            .token(&id, &Provider::cognito(&pool()), NOW)
            .expect("token");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        // Padded base64url: the signature (64 bytes) always ends in '='.
        assert!(parts[2].ends_with('='), "{token}");
        let decode = |p: &str| -> Value {
            serde_json::from_slice(&URL_SAFE.decode(p).expect("base64url")).expect("JSON")
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "dev-key");
        assert_eq!(header["signer"], "arn:aws:elasticloadbalancing:x");
        assert_eq!(
            header["iss"],
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc"
        );
        assert_eq!(header["client"], "client123");
        assert_eq!(header["exp"], NOW + CLAIMS_LIFETIME);
        assert_eq!(
            decode(parts[1]),
            json!({ "sub": "alice", "email": "alice@example.com" })
        );
        // The signature verifies with the published public key.
        let pem = s.public_key_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let point = s.key.public_key().as_ref().to_vec();
        let signature = URL_SAFE.decode(parts[2]).expect("signature");
        let signed = format!("{}.{}", parts[0], parts[1]);
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
        assert!(key.verify(signed.as_bytes(), &signature).is_ok());
    }

    #[test]
    fn the_clients_oidc_headers_are_replaced() {
        let mut headers = vec![
            ("X-Amzn-Oidc-Identity".to_owned(), b"mallory".to_vec()),
            ("accept".to_owned(), b"*/*".to_vec()),
        ];
        let id = Identity::parse("sub=alice").expect("identity");
        set_headers(&mut headers, &id, "t.o.k");
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["accept", HEADERS[0], HEADERS[1], HEADERS[2]]);
        assert_eq!(headers[2].1, b"alice");
        assert_eq!(headers[3].1, b"t.o.k");
    }
}
