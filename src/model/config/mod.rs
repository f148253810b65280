//! The configuration: what `albkit.toml` means once every rule has passed.
//!
//! - [`fields`]: one table per section, each key declared once (type, default, range,
//!   documentation); the unknown-key lists, the reference in the README and
//!   `schemas/albkit-toml.schema.json` ([`reference`]) derive from it;
//! - `walk`: reads the file and walks the TOML document, reporting every problem at once
//!   with its position ([`load`], [`parse_str`]);
//! - `rules`: the pure value rules (CIDRs, DNS names, ARNs, HSTS, matchers, routes).
//!
//! Everything downstream (the desired stack, the plan, the local emulator) reads only the
//! types below. Nothing here touches the network; the only file system access is reading
//! the file and checking that each function's crate directory exists.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::headers::{Inserted, ResponseHeaders};
use super::ids::{CertificateArn, HostedZoneId, ListenerArn, SubnetId, VpcId};
use super::shift::{GateThresholds, Strategy};
use super::spec::{FixedResponse, Redirect};

pub mod fields;
pub mod reference;
mod rules;
mod walk;

pub use rules::is_aws_region;
pub use walk::{load, parse_str, ConfigError, Problem};

#[cfg(test)]
mod tests;

/// Default TLS policy: TLS 1.3 with TLS 1.2 fallback.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// The scope the `authenticate-oidc` action requests when none is given (AWS's default).
pub const DEFAULT_OIDC_SCOPE: &str = "openid";

/// Default `Strict-Transport-Security` header the HTTPS listener adds to responses: one
/// year, subdomains of `[https].domain` included.
pub const DEFAULT_HSTS: &str = "max-age=31536000; includeSubDomains";

/// The VPC block albkit creates when `[network]` names none.
pub const DEFAULT_VPC_CIDR: Ipv4Cidr = Ipv4Cidr {
    addr: Ipv4Addr::new(10, 0, 0, 0),
    prefix: 16,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Directory holding `albkit.toml`; function paths are relative to it.
    pub root: PathBuf,
    pub stack: StackSettings,
    pub network: Network,
    pub load_balancer: LoadBalancerSettings,
    pub https: Option<HttpsSettings>,
    /// `[waf]`: a web ACL in front of the load balancer; `None`: none.
    pub waf: Option<WafSettings>,
    /// `[alarms]`: CloudWatch alarms and their SNS topic; `None`: none.
    pub alarms: Option<AlarmSettings>,
    pub functions: Vec<FunctionSettings>,
    /// `[[routes]]`: rules the load balancer answers itself, without a function.
    pub routes: Vec<StaticRoute>,
    /// What is valid but worth knowing (a TLS policy without TLS 1.3), in file order.
    pub warnings: Vec<Warning>,
}

/// A valid setting the user should still hear about. `plan` and `up` print each one on
/// stderr, and their `-o json` documents list them under `warnings`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// Dotted key path, as in a validation problem: `https.ssl_policy`.
    pub key: String,
    pub message: String,
    /// What to do about it.
    pub help: String,
    /// 1-based position of the value in albkit.toml.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "warning: {}", self.key)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, " (line {line}, column {column})")?;
        }
        write!(f, ": {}\n  help: {}", self.message, self.help)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSettings {
    /// 1–24 of `[a-z0-9-]`, starting with a letter.
    pub name: String,
    pub region: Option<String>,
    /// User tags, added to every taggable resource (never keys starting with `aws:` or `albkit:`).
    pub tags: BTreeMap<String, String>,
    /// ARN of a managed policy every execution role is created with as its permissions
    /// boundary; `albkit iam-policy --for deploy` then requires it.
    pub permissions_boundary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// albkit creates and owns the VPC.
    Managed {
        cidr: Ipv4Cidr,
        availability_zones: u8,
    },
    /// An existing VPC: only read, never modified.
    Existing {
        vpc_id: VpcId,
        subnet_ids: Vec<SubnetId>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// The `index`-th block of prefix `new_prefix` inside this one, if it fits.
    pub fn subnet(&self, new_prefix: u8, index: u32) -> Option<Ipv4Cidr> {
        if new_prefix < self.prefix || new_prefix > 32 {
            return None;
        }
        let bits = new_prefix - self.prefix;
        if bits < 32 && u64::from(index) >= (1u64 << bits) {
            return None;
        }
        let base = u32::from(self.addr);
        let size = if new_prefix == 32 {
            1u64
        } else {
            1u64 << (32 - new_prefix)
        };
        let start = u64::from(base) + u64::from(index) * size;
        Some(Ipv4Cidr {
            addr: Ipv4Addr::from(u32::try_from(start).ok()?),
            prefix: new_prefix,
        })
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv4 or IPv6 CIDR, kept in its canonical text form (`10.0.0.0/16`, `::/0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IngressCidr {
    V4(String),
    V6(String),
}

impl IngressCidr {
    pub fn as_str(&self) -> &str {
        match self {
            IngressCidr::V4(s) | IngressCidr::V6(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    InternetFacing,
    Internal,
}

impl Scheme {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

/// Which addresses clients reach the load balancer on (its `IpAddressType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpAddressType {
    /// IPv4 only: the default.
    Ipv4,
    /// IPv4 and IPv6: needs subnets with an IPv6 block (docs/dualstack.md).
    Dualstack,
}

impl IpAddressType {
    pub fn as_str(&self) -> &'static str {
        match self {
            IpAddressType::Ipv4 => "ipv4",
            IpAddressType::Dualstack => "dualstack",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerSettings {
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    /// `None` means the default: `0.0.0.0/0` for internet-facing (and `::/0` when
    /// dualstack), the VPC CIDR for internal (only known once the VPC is, for a reused
    /// VPC).
    pub ingress_cidrs: Option<Vec<IngressCidr>>,
    pub idle_timeout_seconds: u32,
    pub deletion_protection: bool,
    pub access_logs: bool,
    pub access_log_retention_days: u32,
    /// `listener_arn`: attach mode, the stack's rules on a shared load balancer's
    /// listener; `None`: albkit's own load balancer (docs/attach.md).
    pub attach: Option<Attach>,
}

/// Attach mode: the load balancer, its listeners and its network are someone else's;
/// albkit adds its functions, target groups, permissions and rules only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    /// The listener the routes' rules go on.
    pub listener_arn: ListenerArn,
    /// A second listener of the same load balancer that gets the same rules.
    pub http_listener_arn: Option<ListenerArn>,
    /// The priorities albkit's rules may take on each listener.
    pub priority_range: PriorityRange,
}

impl Attach {
    /// The attached listeners: `(config key, whether it is http_listener_arn, ARN)`,
    /// the main one first.
    pub fn listeners(&self) -> Vec<(&'static str, bool, &ListenerArn)> {
        let mut out = vec![("load_balancer.listener_arn", false, &self.listener_arn)];
        if let Some(http) = &self.http_listener_arn {
            out.push(("load_balancer.http_listener_arn", true, http));
        }
        out
    }
}

/// `priority_range = [from, to]`: `1 <= from <= to <= 50000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityRange {
    pub from: u32,
    pub to: u32,
}

impl PriorityRange {
    /// ALB's whole range of rule priorities: the default.
    pub const ALL: PriorityRange = PriorityRange { from: 1, to: 50000 };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsSettings {
    /// Lowercase DNS name, possibly a `*.` wildcard.
    pub domain: String,
    pub certificate_arn: Option<CertificateArn>,
    /// Certificates served by SNI beside the default one; `None`: albkit leaves the
    /// listener's extra certificates alone.
    pub extra_certificate_arns: Option<Vec<CertificateArn>>,
    pub hosted_zone_id: Option<HostedZoneId>,
    pub ssl_policy: String,
    /// The headers the HTTPS listener adds to every response (`[https.headers]`, and
    /// `[https] hsts`): `Strict-Transport-Security` in its canonical form (see
    /// `rules::check_hsts`), CORS, the security headers; and whether it sends `Server`.
    pub headers: ResponseHeaders,
    /// The authentication of every route without its own `auth`.
    pub auth: Option<RouteAuth>,
    /// `[https.mtls]`: client certificates verified against this CA bundle.
    pub mtls: Option<MtlsSettings>,
}

/// `[https.mtls]`: mutual TLS in verify mode (docs/mtls.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsSettings {
    /// `ca_bundle` as written, relative to albkit.toml.
    pub path: String,
    /// The file's content, checked.
    pub bundle: crate::model::mtls::CaBundle,
}

impl HttpsSettings {
    /// The `Strict-Transport-Security` value of every HTTPS response; `None`: no header.
    pub fn hsts(&self) -> Option<&str> {
        self.headers.get(Inserted::StrictTransportSecurity)
    }
}

/// `[waf]`: an AWS WAF web ACL albkit creates and associates with the load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafSettings {
    /// AWS managed rule groups, in the order of the config, without duplicates.
    pub managed_rules: Vec<crate::model::waf::ManagedGroup>,
    pub rate_limit: Option<RateLimit>,
    /// ISO 3166-1 alpha-2 codes, sorted, without duplicates.
    pub block_countries: Vec<String>,
}

/// `[alarms]`: the thresholds of the stack's alarms (docs/alarms.md) and who they email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmSettings {
    /// A function's 5xx answers in percent of its requests over 5 minutes.
    pub http_5xx_percent: u32,
    /// The load balancer's own 5xx answers in 5 minutes.
    pub http_5xx: u32,
    /// `LambdaUserError` and `LambdaInternalError` counts in 5 minutes, each.
    pub lambda_errors: u32,
    /// p99 of `TargetResponseTime` over 5 minutes, in milliseconds.
    pub latency_p99_ms: u32,
    /// Lambda `Throttles` in 5 minutes.
    pub throttles: u32,
    /// `UnHealthyHostCount`, the highest in 5 minutes.
    pub unhealthy_targets: u32,
    /// Email addresses subscribed to the alarms' SNS topic, sorted, lower-cased; empty:
    /// no topic.
    pub notify: Vec<String>,
    /// The stack's CloudWatch dashboard.
    pub dashboard: bool,
}

/// `[waf] rate_limit`: a client IP address sending more than `requests` within
/// `window_seconds` is blocked until its rate falls under the limit again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window_seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
    /// The Rust target triple that runs on Lambda's `provided.al2023` for this architecture.
    pub fn rust_target(&self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
}

impl Config {
    /// Whether a function deploys by canary or linear steps (`deploy_strategy`): the
    /// gate's alarms are then part of the stack's permissions and of its teardown.
    pub fn uses_progressive_deploys(&self) -> bool {
        self.functions
            .iter()
            .any(|f| f.deploy_strategy != Strategy::AllAtOnce)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    /// `[a-z0-9-]`, starts with a letter, unique in the stack.
    pub name: String,
    /// Absolute path of the function's crate directory (holds `Cargo.toml`).
    pub path: PathBuf,
    /// The cargo target directory the project's functions share, `target/` beside
    /// `albkit.toml`: their common dependencies are compiled once. `CARGO_TARGET_DIR` in
    /// albkit's environment wins.
    pub target_dir: PathBuf,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// Concurrent executions reserved for the function (`PutFunctionConcurrency`);
    /// `None`: none reserved, and one reserved by hand is removed.
    pub reserved_concurrency: Option<u32>,
    /// Execution environments kept initialized for the `live` alias
    /// (`PutProvisionedConcurrencyConfig`); `None`: none, and one set by hand is removed.
    pub provisioned_concurrency: Option<u32>,
    pub architecture: Architecture,
    pub environment: BTreeMap<String, String>,
    /// Secrets the function reads at run time, by environment variable: the variable
    /// holds the reference (ARN or parameter name), never the value.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Customer managed KMS key that encrypts the function's environment.
    pub kms_key_arn: Option<String>,
    pub log_retention_days: u32,
    pub multi_value_headers: bool,
    pub health_check: Option<HealthCheck>,
    /// How `albkit deploy` moves `live` to a new version (`deploy_strategy`).
    pub deploy_strategy: Strategy,
    /// The thresholds of a canary or linear deploy's gate (`[functions.deploy_gate]`).
    pub deploy_gate: GateThresholds,
    pub routes: Vec<Route>,
}

/// A `[[routes]]` entry: a listener rule with the conditions of a function's route and
/// an answer of the load balancer's own (docs/alb-lambda.md §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub priority: u32,
    pub paths: Vec<String>,
    pub methods: Vec<String>,
    pub hosts: Vec<String>,
    pub answer: StaticAnswer,
}

/// What a `[[routes]]` entry answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticAnswer {
    Redirect(Redirect),
    Fixed(FixedResponse),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: Matcher,
}

/// HTTP codes for success, as ELB takes them: `200`, `200-299`, `200,204` (codes 200 to
/// 499). Parsed once, from the text ELB is given (`FromStr`, in `rules`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    text: String,
    codes: MatcherCodes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MatcherCodes {
    Range(u16, u16),
    List(Vec<u16>),
}

impl Matcher {
    /// The text as written, which is what ELB takes.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a response with `status` counts as healthy.
    pub fn accepts(&self, status: u16) -> bool {
        match &self.codes {
            MatcherCodes::Range(lo, hi) => (*lo..=*hi).contains(&status),
            MatcherCodes::List(codes) => codes.contains(&status),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The text, for ELB's `http_code`.
impl From<&Matcher> for String {
    fn from(m: &Matcher) -> String {
        m.text.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub priority: u32,
    pub paths: Vec<String>,
    pub methods: Vec<String>,
    pub hosts: Vec<String>,
    /// The route's own authentication; `None`: `[https].auth`, if any
    /// ([`Config::route_auth`]).
    pub auth: Option<RouteAuth>,
}

/// How the load balancer authenticates a route's requests before it forwards them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAuth {
    /// The `jwt-validation` action: a bearer token signed by the issuer's keys.
    Jwt(JwtAuth),
    /// The `authenticate-cognito` action: a browser login through an Amazon Cognito user
    /// pool.
    Cognito(CognitoAuth),
    /// The `authenticate-oidc` action: a browser login through any OpenID Connect
    /// provider, its client secret read from Secrets Manager at `up` time.
    Oidc(OidcAuth),
}

/// `auth = { oidc = { issuer, authorization_endpoint, token_endpoint, user_info_endpoint,
/// client_id, client_secret = { secretsmanager = "arn:…" }, scope } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcAuth {
    /// The provider's issuer identifier, an https URL.
    pub issuer: String,
    /// Where the browser is sent to log in, an https URL.
    pub authorization_endpoint: String,
    /// Where the load balancer exchanges the code for tokens, an https URL.
    pub token_endpoint: String,
    /// Where the load balancer reads the user's claims, an https URL.
    pub user_info_endpoint: String,
    /// The OAuth 2.0 client the load balancer signs users in as.
    pub client_id: String,
    /// The ARN of the Secrets Manager secret whose value is the client secret; the value
    /// itself is never in the config, a plan or a log.
    pub client_secret_arn: String,
    /// The claims requested, space-separated (default `openid`).
    pub scope: String,
}

/// `auth = { cognito = { user_pool_arn, user_pool_client_id, user_pool_domain } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoAuth {
    /// `arn:aws:cognito-idp:<region>:<account>:userpool/<id>`.
    pub user_pool_arn: String,
    /// The app client the load balancer signs users in with.
    pub user_pool_client_id: String,
    /// The user pool's domain: its prefix or a custom domain name.
    pub user_pool_domain: String,
}

/// `auth = { jwt = { issuer, jwks_endpoint, audiences } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuth {
    /// The `iss` claim a token must carry (at most 256 characters).
    pub issuer: String,
    /// The https URL of the issuer's JSON Web Key Set (at most 256 characters).
    pub jwks_endpoint: String,
    /// The `aud` values a token may carry, one of which it must; empty: `aud` is not
    /// checked.
    pub audiences: Vec<String>,
}

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A Secrets Manager secret, by ARN.
    SecretsManager(String),
    /// An SSM Parameter Store parameter, by name (`/shop/api-key`).
    Parameter(String),
}

impl SecretRef {
    /// What the function finds in its environment variable.
    pub fn reference(&self) -> &str {
        match self {
            SecretRef::SecretsManager(arn) => arn,
            SecretRef::Parameter(name) => name,
        }
    }

    /// The ARN the execution role is granted read access to.
    pub fn arn(&self, partition: &str, region: &str, account: &str) -> String {
        match self {
            SecretRef::SecretsManager(arn) => arn.clone(),
            SecretRef::Parameter(name) => format!(
                "arn:{partition}:ssm:{region}:{account}:parameter/{}",
                name.trim_start_matches('/')
            ),
        }
    }
}

impl FunctionSettings {
    /// The environment Lambda gives the function: the configured variables and, for each
    /// secret, its reference.
    pub fn lambda_environment(&self) -> BTreeMap<String, String> {
        let mut env = self.environment.clone();
        for (k, r) in &self.secrets {
            env.insert(k.clone(), r.reference().to_string());
        }
        env
    }
}

impl Config {
    pub fn function(&self, name: &str) -> Option<&FunctionSettings> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The ARNs of the secrets holding the OIDC client secrets of the routes (their own
    /// `auth`, or `[https].auth` for a route without one), sorted, each once.
    pub fn oidc_client_secrets(&self) -> Vec<&str> {
        let mut arns: Vec<&str> = self
            .functions
            .iter()
            .flat_map(|f| &f.routes)
            .filter_map(|r| match self.route_auth(r) {
                Some(RouteAuth::Oidc(o)) => Some(o.client_secret_arn.as_str()),
                _ => None,
            })
            .collect();
        arns.sort_unstable();
        arns.dedup();
        arns
    }

    /// A route's authentication: its own, else `[https].auth`.
    pub fn route_auth<'a>(&'a self, route: &'a Route) -> Option<&'a RouteAuth> {
        route
            .auth
            .as_ref()
            .or_else(|| self.https.as_ref().and_then(|h| h.auth.as_ref()))
    }
}
