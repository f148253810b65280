//! The keys of `albkit.toml`, one table per section, each key declared once.
//!
//! The checker reads its types, defaults and ranges from here; the unknown-key lists and
//! the "belongs in [section]" hints, the configuration reference in the README and
//! `schemas/albkit-toml.schema.json` are all derived from these tables.

use super::{DEFAULT_HSTS, DEFAULT_SSL_POLICY};

/// What a key holds, with its default and allowed values where it has them.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    /// An integer in `min..=max`.
    Int {
        min: u32,
        max: u32,
        default: u32,
    },
    /// An integer in `min..=max`, or absent: no default.
    OptInt {
        min: u32,
        max: u32,
    },
    /// An integer out of a fixed list.
    IntOf {
        values: &'static [u32],
        default: u32,
    },
    Bool(bool),
    /// One string out of a fixed list.
    Enum {
        values: &'static [&'static str],
        default: &'static str,
    },
    StrList,
    /// Two integers `[from, to]`, each in `min..=max`, `from <= to`; absent: no default.
    IntRange {
        min: u32,
        max: u32,
    },
    /// A table of strings to strings.
    StrMap,
    /// A string, or `true` for the default and `false` for none.
    StrOrBool,
    Table(&'static Section),
    Tables(&'static Section),
}

/// One key of a section.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// The default of a string key.
    pub default: Option<&'static str>,
    /// A TOML value for the reference (and the "add `key = ...`" help of a required key);
    /// empty: the default.
    pub example: &'static str,
    /// Shown commented out in the reference (an alternative or an opt-in).
    pub commented: bool,
    /// One line: what the key means and what it accepts.
    pub doc: &'static str,
}

/// One table of the file.
#[derive(Debug)]
pub struct Section {
    /// Dotted path without indices: `functions.routes`; empty for the top level.
    pub path: &'static str,
    /// How the section is written: `[stack]`, `[[functions]]`.
    pub header: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// Shown commented out in the reference (an alternative to the section before it).
    pub commented: bool,
}

/// A section: its table and a module of its keys (`stack::NAME`), in declaration order.
macro_rules! section {
    ($name:ident = $path:literal, $header:literal, $doc:literal $(, $commented:ident)?; mod $m:ident {
        $($key:ident: $field:expr;)*
    }) => {
        pub mod $m {
            use super::*;
            $(pub const $key: Field = $field;)*
        }
        pub const $name: Section = Section {
            path: $path,
            header: $header,
            doc: $doc,
            fields: &[$($m::$key),*],
            commented: section!(@flag $($commented)?),
        };
    };
    (@flag commented) => { true };
    (@flag) => { false };
}

const fn field(key: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        key,
        ty,
        required: false,
        default: None,
        example: "",
        commented: false,
        doc,
    }
}

const fn text(key: &'static str, example: &'static str, doc: &'static str) -> Field {
    field(key, Ty::Str, doc).example(example)
}

const fn int(key: &'static str, min: u32, max: u32, default: u32, doc: &'static str) -> Field {
    field(key, Ty::Int { min, max, default }, doc)
}

impl Field {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn commented(mut self) -> Self {
        self.commented = true;
        self
    }
    const fn example(mut self, example: &'static str) -> Self {
        self.example = example;
        self
    }
    const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
}

/// CloudWatch Logs retention periods, in days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

section! {
    TOP = "", "", "";
    mod top {
        STACK: field("stack", Ty::Table(&super::STACK), "").required();
        NETWORK: field("network", Ty::Table(&super::NETWORK), "");
        LOAD_BALANCER: field("load_balancer", Ty::Table(&super::LOAD_BALANCER), "");
        HTTPS: field("https", Ty::Table(&super::HTTPS), "");
        WAF: field("waf", Ty::Table(&super::WAF), "");
        ALARMS: field("alarms", Ty::Table(&super::ALARMS), "");
        FUNCTIONS: field("functions", Ty::Tables(&super::FUNCTION), "").required();
        ROUTES: field("routes", Ty::Tables(&super::STATIC_ROUTE), "");
    }
}

section! {
    STACK = "stack", "[stack]", "required";
    mod stack {
        NAME: text("name", "\"my-app\"", "1–24 of [a-z0-9-], starts with a letter, no \"--\"; every resource name derives from it").required();
        REGION: text("region", "\"us-east-1\"", "default: --region, then AWS_REGION / the profile");
        TAGS: field("tags", Ty::StrMap, "added to every taggable resource (not aws:* or albkit:*; at most 45)").example("{ team = \"api\" }");
        PERMISSIONS_BOUNDARY: text("permissions_boundary", "\"arn:aws:iam::123456789012:policy/boundary\"", "managed policy set as every execution role's permissions boundary").commented();
    }
}

section! {
    NETWORK = "network", "[network]", "optional; default: a new VPC 10.0.0.0/16 over 2 availability zones";
    mod network {
        CIDR: text("cidr", "", "/16 to /23; subnets are 4 bits longer (/20 for a /16)").default("10.0.0.0/16");
        AVAILABILITY_ZONES: int("availability_zones", 2, 6, 2, "one public subnet each");
        VPC_ID: text("vpc_id", "\"vpc-0123456789abcdef0\"", "reuse an existing VPC: albkit never creates or deletes anything of its network").commented();
        SUBNET_IDS: field("subnet_ids", Ty::StrList, "with vpc_id: at least 2 subnets of it, in different availability zones").example("[\"subnet-0123abcd\", \"subnet-4567abcd\"]").commented();
    }
}

section! {
    LOAD_BALANCER = "load_balancer", "[load_balancer]", "optional";
    mod load_balancer {
        SCHEME: field("scheme", Ty::Enum { values: &["internet-facing", "internal"], default: "internet-facing" }, "\"internal\": only reachable from inside the VPC");
        IP_ADDRESS_TYPE: field("ip_address_type", Ty::Enum { values: &["ipv4", "dualstack"], default: "ipv4" }, "\"dualstack\": IPv6 too (internet-facing; adds IPv6 to albkit's own VPC, a reused one must have it; docs/dualstack.md)");
        INGRESS_CIDRS: field("ingress_cidrs", Ty::StrList, "who may connect (at most 50); default: 0.0.0.0/0 (and ::/0 with dualstack), for internal the VPC CIDR").example("[\"0.0.0.0/0\"]");
        IDLE_TIMEOUT_SECONDS: int("idle_timeout_seconds", 1, 4000, 60, "");
        DELETION_PROTECTION: field("deletion_protection", Ty::Bool(false), "");
        ACCESS_LOGS: field("access_logs", Ty::Bool(true), "to an S3 bucket created and owned by the stack");
        ACCESS_LOG_RETENTION_DAYS: int("access_log_retention_days", 1, 3650, 30, "");
        LISTENER_ARN: text("listener_arn", "\"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/0123456789abcdef/0123456789abcdef\"", "attach mode: put the stack's rules on this existing listener of a shared load balancer and create no network, load balancer or listener; the keys above do not apply (docs/attach.md)").commented();
        HTTP_LISTENER_ARN: text("http_listener_arn", "\"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/0123456789abcdef/fedcba9876543210\"", "with listener_arn: the same rules on this second listener of the same load balancer (its HTTP one)").commented();
        PRIORITY_RANGE: field("priority_range", Ty::IntRange { min: 1, max: 50000 }, "with listener_arn: the rule priorities albkit may take, [from, to]; default: [1, 50000]").example("[1000, 1999]").commented();
    }
}

section! {
    HTTPS = "https", "[https]", "optional; without it the stack is HTTP only";
    mod https {
        DOMAIN: text("domain", "\"api.example.com\"", "DNS name, possibly \"*.\"-prefixed").required();
        CERTIFICATE_ARN: text("certificate_arn", "\"arn:aws:acm:us-east-1:123456789012:certificate/...\"", "use this certificate (same region); else albkit requests one (DNS validation)").commented();
        EXTRA_CERTIFICATE_ARNS: field("extra_certificate_arns", Ty::StrList, "more certificates (same region, at most 25) the HTTPS listener serves by SNI to clients asking for their names; [] removes all, absent leaves the listener's extra certificates alone").example("[\"arn:aws:acm:us-east-1:123456789012:certificate/...\"]").commented();
        HOSTED_ZONE_ID: text("hosted_zone_id", "\"Z0123456789ABCDEFGHIJ\"", "albkit writes the validation CNAMEs and the alias A record").commented();
        SSL_POLICY: text("ssl_policy", "", "one allowing TLS 1.0/1.1 is refused, one without TLS 1.3 warned about (docs/tls-policies.md)").default(DEFAULT_SSL_POLICY);
        HSTS: field("hsts", Ty::StrOrBool, "the former place of headers.hsts, still read; not both").default(DEFAULT_HSTS).commented();
        HEADERS: field("headers", Ty::Table(&super::HEADERS), "");
        AUTH: field("auth", Ty::Table(&super::AUTH), "the authentication of every route without its own, as a route's `auth`");
        MTLS: field("mtls", Ty::Table(&super::MTLS), "");
    }
}

section! {
    MTLS = "https.mtls", "[https.mtls]", "optional; mutual TLS in verify mode: the load balancer accepts only clients with a certificate issued by one of these CAs and passes it to the function in x-amzn-mtls-clientcert-* headers (docs/mtls.md); also written `mtls = { ca_bundle = \"...\" }`", commented;
    mod mtls {
        CA_BUNDLE: text("ca_bundle", "\"certs/clients-ca.pem\"", "PEM file of CA certificates (basicConstraints CA:TRUE), relative to albkit.toml, at most 1 MB; uploaded to the stack's bucket (created even with access_logs = false) for a trust store").required();
    }
}

section! {
    HEADERS = "https.headers", "[https.headers]", "optional; response headers the HTTPS listener adds to every response, the function's and its own (docs/alb-lambda.md §11)";
    mod headers {
        HSTS: field("hsts", Ty::StrOrBool, "Strict-Transport-Security: max-age, includeSubDomains, preload; true: the default, false: none").default(DEFAULT_HSTS);
        CONTENT_SECURITY_POLICY: text("content_security_policy", "\"default-src 'self'\"", "Content-Security-Policy, as given").commented();
        X_CONTENT_TYPE_OPTIONS: text("x_content_type_options", "\"nosniff\"", "X-Content-Type-Options: only \"nosniff\"").commented();
        X_FRAME_OPTIONS: text("x_frame_options", "\"DENY\"", "X-Frame-Options: \"DENY\", \"SAMEORIGIN\" or \"ALLOW-FROM <origin>\"").commented();
        SERVER: field("server", Ty::Bool(true), "false: the load balancer sends no `Server: awselb/2.0` header");
        CORS: field("cors", Ty::Table(&super::CORS), "");
    }
}

section! {
    CORS = "https.headers.cors", "[https.headers.cors]", "optional; CORS headers on every response, and OPTIONS requests answered 204 by the load balancer (rule priority 1, reserved)";
    mod cors {
        ALLOW_ORIGINS: field("allow_origins", Ty::StrList, "exactly one origin (scheme://host[:port]) or \"*\": Access-Control-Allow-Origin is one fixed value").example("[\"https://app.example.com\"]").required();
        ALLOW_METHODS: field("allow_methods", Ty::StrList, "Access-Control-Allow-Methods; absent: browsers allow GET, HEAD, POST").example("[\"GET\", \"POST\", \"PUT\", \"DELETE\"]");
        ALLOW_HEADERS: field("allow_headers", Ty::StrList, "Access-Control-Allow-Headers: header names, or [\"*\"]").example("[\"content-type\", \"authorization\"]");
        EXPOSE_HEADERS: field("expose_headers", Ty::StrList, "Access-Control-Expose-Headers: response headers scripts may read, or [\"*\"]").example("[\"x-request-id\"]").commented();
        ALLOW_CREDENTIALS: field("allow_credentials", Ty::Bool(false), "true: Access-Control-Allow-Credentials: true (cookies); not with the origin \"*\"");
        MAX_AGE: field("max_age", Ty::OptInt { min: 0, max: 86400 }, "Access-Control-Max-Age: seconds a browser keeps a preflight's answer").example("600");
    }
}

section! {
    WAF = "waf", "[waf]", "optional; an AWS WAF web ACL in front of the load balancer (docs/waf.md)";
    mod waf {
        MANAGED_RULES: field("managed_rules", Ty::StrList, "AWS managed rule groups, by name: common, admin-protection, known-bad-inputs, sqli, linux, unix, windows, php, wordpress, ip-reputation, anonymous-ip; default: common, known-bad-inputs, ip-reputation; [] for none").example("[\"common\", \"known-bad-inputs\", \"ip-reputation\"]");
        RATE_LIMIT: field("rate_limit", Ty::Table(&super::WAF_RATE_LIMIT), "");
        BLOCK_COUNTRIES: field("block_countries", Ty::StrList, "requests from these countries (ISO 3166-1 alpha-2 codes) get 403").example("[\"KP\"]").commented();
    }
}

section! {
    WAF_RATE_LIMIT = "waf.rate_limit", "[waf.rate_limit]", "optional; no rate limit without it";
    mod rate_limit {
        REQUESTS: int("requests", 10, 2_000_000_000, 0, "a client IP address sending more within the window gets 403 until its rate falls under the limit").example("2000").required();
        PER: field("per", Ty::Enum { values: &["1m", "2m", "5m", "10m"], default: "5m" }, "the window the requests are counted over");
    }
}

section! {
    ALARMS = "alarms", "[alarms]", "optional; CloudWatch alarms on every function and the load balancer, an SNS topic for them (docs/alarms.md)";
    mod alarms {
        HTTP_5XX_PERCENT: int("http_5xx_percent", 1, 100, 5, "a function's 5xx answers, as a percentage of its requests over 5 minutes, that raise its alarm");
        HTTP_5XX: int("http_5xx", 1, 1_000_000, 10, "the load balancer's own 5xx answers (no function reached) in 5 minutes that raise its alarm");
        LAMBDA_ERRORS: int("lambda_errors", 1, 1_000_000, 1, "invocations the load balancer saw fail, per kind (LambdaUserError, LambdaInternalError), in 5 minutes");
        LATENCY_P99_MS: int("latency_p99_ms", 1, 900_000, 1000, "p99 of the target response time over 5 minutes, in milliseconds");
        THROTTLES: int("throttles", 1, 1_000_000, 1, "a function's throttled invocations in 5 minutes");
        UNHEALTHY_TARGETS: int("unhealthy_targets", 1, 1000, 1, "a target group's unhealthy targets (its function failing its health check)");
        DASHBOARD: field("dashboard", Ty::Bool(true), "a CloudWatch dashboard albkit-<stack>-<region>: a row per function, the load balancer's requests and errors");
        NOTIFY: field("notify", Ty::StrList, "email addresses subscribed to the SNS topic the alarms notify (at most 10); each must confirm AWS's email; absent or []: no topic").example("[\"ops@example.com\"]");
    }
}

section! {
    FUNCTION = "functions", "[[functions]]", "at least one";
    mod function {
        NAME: text("name", "\"api\"", "[a-z0-9-], starts with a letter, no \"--\", at most 32, unique in the stack").required();
        PATH: text("path", "\"functions/api\"", "the function's Rust crate, relative to albkit.toml, inside the project").required();
        MEMORY_MB: int("memory_mb", 128, 10240, 128, "");
        TIMEOUT_SECONDS: int("timeout_seconds", 1, 900, 10, "");
        RESERVED_CONCURRENCY: field("reserved_concurrency", Ty::OptInt { min: 0, max: 100_000 }, "concurrent executions set aside for it, and its ceiling; 0 stops every invocation; absent: none reserved").example("50").commented();
        PROVISIONED_CONCURRENCY: field("provisioned_concurrency", Ty::OptInt { min: 1, max: 100_000 }, "execution environments kept initialized for the `live` alias, billed while configured; at most reserved_concurrency when both are set; absent: none").example("5").commented();
        ARCHITECTURE: field("architecture", Ty::Enum { values: &["x86_64", "arm64"], default: "x86_64" }, "\"arm64\" needs the aarch64 Rust target and a linker");
        ENVIRONMENT: field("environment", Ty::StrMap, "at most 4096 bytes; values are never printed: plan names the keys added, changed, removed").example("{ RUST_LOG = \"info\" }");
        SECRETS: field("secrets", Ty::StrMap, "Secrets Manager ARN or \"ssm:\" parameter name per variable, which holds the reference, never the value; the role may read exactly these").example("{ DB_URL = \"ssm:/shop/db-url\" }").commented();
        KMS_KEY_ARN: text("kms_key_arn", "\"arn:aws:kms:us-east-1:123456789012:key/...\"", "encrypt the environment with this customer managed key").commented();
        LOG_RETENTION_DAYS: field("log_retention_days", Ty::IntOf { values: super::LOG_RETENTION_DAYS, default: 14 }, "one of CloudWatch Logs' periods (1, 3, 5, 7, 14, 30, 60, 90, ...)");
        MULTI_VALUE_HEADERS: field("multi_value_headers", Ty::Bool(false), "target group attribute lambda.multi_value_headers.enabled: the event's header and query form");
        DEPLOY_STRATEGY: text("deploy_strategy", "", "how `albkit deploy` moves `live` to a new version: \"all-at-once\", \"canary:10%:5m\" (10% of the traffic for 5 minutes, then all) or \"linear:10%:1m\" (10% more every minute); `deploy --strategy` overrides it (docs/deploys.md)").default("all-at-once");
        HEALTH_CHECK: field("health_check", Ty::Table(&super::HEALTH_CHECK), "");
        DEPLOY_GATE: field("deploy_gate", Ty::Table(&super::DEPLOY_GATE), "");
        ROUTES: field("routes", Ty::Tables(&super::ROUTE), "");
    }
}

section! {
    HEALTH_CHECK = "functions.health_check", "[functions.health_check]", "optional; no health check without it";
    mod health_check {
        PATH: text("path", "\"/health\"", "starts with '/', at most 1024 characters").required();
        INTERVAL_SECONDS: int("interval_seconds", 5, 300, 35, "");
        TIMEOUT_SECONDS: int("timeout_seconds", 2, 120, 30, "less than interval_seconds");
        HEALTHY_THRESHOLD: int("healthy_threshold", 2, 10, 5, "");
        UNHEALTHY_THRESHOLD: int("unhealthy_threshold", 2, 10, 2, "");
        MATCHER: text("matcher", "", "HTTP codes 200 to 499: \"200\", a range \"200-299\" or a list \"200,204\"").default("200");
    }
}

section! {
    DEPLOY_GATE = "functions.deploy_gate", "[functions.deploy_gate]", "optional; the alarms that roll back a canary or linear deploy: a metric's sum over one minute reaching its threshold";
    mod deploy_gate {
        ERRORS: int("errors", 1, 1_000_000, 1, "Lambda Errors of the new version");
        THROTTLES: int("throttles", 1, 1_000_000, 1, "Lambda Throttles of the new version");
        LAMBDA_USER_ERRORS: int("lambda_user_errors", 1, 1_000_000, 1, "the target group's LambdaUserError (responses the load balancer cannot use)");
        LAMBDA_INTERNAL_ERRORS: int("lambda_internal_errors", 1, 1_000_000, 1, "the target group's LambdaInternalError (the load balancer cannot invoke)");
        TARGET_5XX: int("target_5xx", 1, 1_000_000, 5, "the target group's HTTPCode_Target_5XX_Count");
    }
}

section! {
    ROUTE = "functions.routes", "[[functions.routes]]", "optional, any number per function; at least one of paths, methods, hosts";
    mod route {
        PRIORITY: int("priority", 1, 50000, 0, "unique in the stack; lower numbers are matched first; with listener_arn the order of the stack's rules, their listener priorities allocated (docs/attach.md)").example("10").required();
        PATHS: field("paths", Ty::StrList, "path patterns (case-sensitive, * and ? wildcards)").example("[\"/api\", \"/api/*\"]");
        METHODS: field("methods", Ty::StrList, "upper case; default: every method").example("[\"GET\", \"POST\"]");
        HOSTS: field("hosts", Ty::StrList, "host patterns; at most 5 values and 5 wildcards per route in all").example("[\"api.example.com\"]");
        AUTH: field("auth", Ty::Table(&super::AUTH), "");
    }
}

section! {
    AUTH = "functions.routes.auth", "[functions.routes.auth]", "optional; needs [https]; the load balancer authenticates the route's requests before it forwards them (docs/auth.md); [https.auth] sets it for every route without its own";
    mod auth {
        JWT: field("jwt", Ty::Table(&super::JWT), "");
        COGNITO: field("cognito", Ty::Table(&super::COGNITO), "");
        OIDC: field("oidc", Ty::Table(&super::OIDC), "");
    }
}

section! {
    JWT = "functions.routes.auth.jwt", "[functions.routes.auth.jwt]", "the jwt-validation action: only requests with a valid bearer token reach the function";
    mod jwt {
        ISSUER: text("issuer", "\"https://issuer.example.com\"", "the iss claim a token must carry; an https URL, at most 256 characters").required();
        JWKS_ENDPOINT: text("jwks_endpoint", "\"https://issuer.example.com/.well-known/jwks.json\"", "https URL of the issuer's JSON Web Key Set (RS256 keys), at most 256 characters").required();
        AUDIENCES: field("audiences", Ty::StrList, "1–10 aud values, one of which a token must carry; absent: aud is not checked").example("[\"orders-api\"]");
    }
}

section! {
    COGNITO = "functions.routes.auth.cognito", "[functions.routes.auth.cognito]", "instead of jwt: the authenticate-cognito action, a browser login through an Amazon Cognito user pool; the function gets the user in x-amzn-oidc-* headers";
    mod cognito {
        USER_POOL_ARN: text("user_pool_arn", "\"arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123\"", "the user pool's ARN").required().commented();
        USER_POOL_CLIENT_ID: text("user_pool_client_id", "\"1example23456789\"", "its app client, with a client secret and the callback https://<domain>/oauth2/idpresponse").required().commented();
        USER_POOL_DOMAIN: text("user_pool_domain", "\"my-app-login\"", "the user pool's domain prefix, or its custom domain name").required().commented();
    }
}

section! {
    OIDC = "functions.routes.auth.oidc", "[functions.routes.auth.oidc]", "instead of jwt or cognito: the authenticate-oidc action, a browser login through an OpenID Connect provider; the function gets the user in x-amzn-oidc-* headers";
    mod oidc {
        ISSUER: text("issuer", "\"https://login.example.com\"", "the provider's issuer identifier; an https URL").required().commented();
        AUTHORIZATION_ENDPOINT: text("authorization_endpoint", "\"https://login.example.com/authorize\"", "where the browser logs in; an https URL").required().commented();
        TOKEN_ENDPOINT: text("token_endpoint", "\"https://login.example.com/oauth/token\"", "where the load balancer exchanges the code for tokens; an https URL").required().commented();
        USER_INFO_ENDPOINT: text("user_info_endpoint", "\"https://login.example.com/userinfo\"", "where the load balancer reads the user's claims; an https URL").required().commented();
        CLIENT_ID: text("client_id", "\"albkit-app\"", "the OAuth 2.0 client, with the callback https://<domain>/oauth2/idpresponse").required().commented();
        CLIENT_SECRET: field("client_secret", Ty::Table(&super::CLIENT_SECRET), "").required().commented();
        SCOPE: text("scope", "\"openid email\"", "the claims requested, space-separated; default: openid").commented();
    }
}

section! {
    CLIENT_SECRET = "functions.routes.auth.oidc.client_secret", "[functions.routes.auth.oidc.client_secret]", "required: where the client secret is; never the secret itself (docs/auth.md)", commented;
    mod client_secret {
        SECRETSMANAGER: text("secretsmanager", "\"arn:aws:secretsmanager:us-east-1:123456789012:secret:albkit-oidc-AbCdEf\"", "the ARN of a Secrets Manager secret whose value is the client secret, in the stack's region; up reads it with GetSecretValue").required().commented();
    }
}

section! {
    STATIC_ROUTE = "routes", "[[routes]]", "optional, any number; a rule the load balancer answers itself, without a function: exactly one of redirect, fixed_response";
    mod static_route {
        PRIORITY: int("priority", 1, 50000, 0, "unique in the stack, functions' routes included; lower numbers are matched first").example("5").required();
        PATHS: field("paths", Ty::StrList, "at least one of paths, methods, hosts, as for a function's route").example("[\"/old\", \"/old/*\"]");
        METHODS: field("methods", Ty::StrList, "upper case; default: every method").example("[\"GET\"]").commented();
        HOSTS: field("hosts", Ty::StrList, "host patterns").example("[\"api.example.com\"]").commented();
        REDIRECT: field("redirect", Ty::Table(&super::REDIRECT), "");
        FIXED_RESPONSE: field("fixed_response", Ty::Table(&super::FIXED_RESPONSE), "");
    }
}

section! {
    REDIRECT = "routes.redirect", "[routes.redirect]", "the route's answer: a redirect (or fixed_response)";
    mod redirect {
        TO: text("to", "\"https://#{host}/new/#{path}\"", "a URL or a path; a part left out keeps the request's (#{protocol}, #{host}, #{port}, #{path}, #{query} placeholders allowed)").required();
        STATUS: field("status", Ty::IntOf { values: &[301, 302], default: 301 }, "301 (permanent) or 302 (temporary)");
    }
}

section! {
    FIXED_RESPONSE = "routes.fixed_response", "[routes.fixed_response]", "the route's answer: a fixed response (or redirect)", commented;
    mod fixed_response {
        STATUS: int("status", 200, 599, 0, "2XX, 4XX or 5XX").example("410").required();
        CONTENT_TYPE: field("content_type", Ty::Enum { values: &["text/plain", "text/css", "text/html", "application/javascript", "application/json"], default: "text/plain" }, "");
        BODY: text("body", "\"gone\"", "at most 1024 bytes; default: none");
    }
}

/// Every section, in the order of the reference.
pub const SECTIONS: &[&Section] = &[
    &STACK,
    &NETWORK,
    &LOAD_BALANCER,
    &HTTPS,
    &HEADERS,
    &CORS,
    &MTLS,
    &WAF,
    &WAF_RATE_LIMIT,
    &ALARMS,
    &FUNCTION,
    &HEALTH_CHECK,
    &DEPLOY_GATE,
    &ROUTE,
    &AUTH,
    &JWT,
    &COGNITO,
    &OIDC,
    &CLIENT_SECRET,
    &STATIC_ROUTE,
    &REDIRECT,
    &FIXED_RESPONSE,
];

impl Section {
    /// The keys allowed here, in declaration order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.key).collect()
    }
}

/// The section a key found elsewhere belongs in, when exactly one section has it.
pub fn home(key: &str) -> Option<&'static Section> {
    let mut owners = SECTIONS
        .iter()
        .filter(|s| s.fields.iter().any(|f| f.key == key));
    let first = owners.next()?;
    owners.next().is_none().then_some(*first)
}

impl Field {
    /// The default as a TOML value, if the key has one.
    pub fn default_toml(&self) -> Option<String> {
        match self.ty {
            Ty::Int { default, .. } | Ty::IntOf { default, .. } if !self.required => {
                Some(default.to_string())
            }
            Ty::Bool(b) => Some(b.to_string()),
            Ty::Enum { default, .. } => Some(format!("{default:?}")),
            _ => self.default.map(|d| format!("{d:?}")),
        }
    }

    /// The value shown in the reference and in the help for a missing required key.
    pub fn example_toml(&self) -> String {
        if self.example.is_empty() {
            self.default_toml().unwrap_or_default()
        } else {
            self.example.to_owned()
        }
    }
}
