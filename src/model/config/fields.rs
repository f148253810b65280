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

#[rustfmt::skip]
pub mod top {
    use super::*;
    pub const STACK: Field = field("stack", Ty::Table(&super::STACK), "").required();
    pub const NETWORK: Field = field("network", Ty::Table(&super::NETWORK), "");
    pub const LOAD_BALANCER: Field = field("load_balancer", Ty::Table(&super::LOAD_BALANCER), "");
    pub const HTTPS: Field = field("https", Ty::Table(&super::HTTPS), "");
    pub const FUNCTIONS: Field = field("functions", Ty::Tables(&super::FUNCTION), "").required();
}

#[rustfmt::skip]
pub mod stack {
    use super::*;
    pub const NAME: Field = text("name", "\"my-app\"", "1–24 of [a-z0-9-], starts with a letter, no \"--\"; every resource name derives from it").required();
    pub const REGION: Field = text("region", "\"us-east-1\"", "default: --region, then AWS_REGION / the profile");
    pub const TAGS: Field = field("tags", Ty::StrMap, "added to every taggable resource (not aws:* or albkit:*; at most 45)").example("{ team = \"api\" }");
    pub const PERMISSIONS_BOUNDARY: Field = text("permissions_boundary", "\"arn:aws:iam::123456789012:policy/boundary\"", "managed policy set as every execution role's permissions boundary").commented();
}

#[rustfmt::skip]
pub mod network {
    use super::*;
    pub const CIDR: Field = text("cidr", "", "/16 to /23; subnets are 4 bits longer (/20 for a /16)").default("10.0.0.0/16");
    pub const AVAILABILITY_ZONES: Field = int("availability_zones", 2, 6, 2, "one public subnet each");
    pub const VPC_ID: Field = text("vpc_id", "\"vpc-0123456789abcdef0\"", "reuse an existing VPC: albkit never creates or deletes anything of its network").commented();
    pub const SUBNET_IDS: Field = field("subnet_ids", Ty::StrList, "with vpc_id: at least 2 subnets of it, in different availability zones").example("[\"subnet-0123abcd\", \"subnet-4567abcd\"]").commented();
}

#[rustfmt::skip]
pub mod load_balancer {
    use super::*;
    pub const SCHEME: Field = field("scheme", Ty::Enum { values: &["internet-facing", "internal"], default: "internet-facing" }, "\"internal\": only reachable from inside the VPC");
    pub const INGRESS_CIDRS: Field = field("ingress_cidrs", Ty::StrList, "who may connect (at most 50); default: 0.0.0.0/0 and ::/0, for internal the VPC CIDR").example("[\"0.0.0.0/0\"]");
    pub const IDLE_TIMEOUT_SECONDS: Field = int("idle_timeout_seconds", 1, 4000, 60, "");
    pub const DELETION_PROTECTION: Field = field("deletion_protection", Ty::Bool(false), "");
    pub const ACCESS_LOGS: Field = field("access_logs", Ty::Bool(true), "to an S3 bucket created and owned by the stack");
    pub const ACCESS_LOG_RETENTION_DAYS: Field = int("access_log_retention_days", 1, 3650, 30, "");
}

#[rustfmt::skip]
pub mod https {
    use super::*;
    pub const DOMAIN: Field = text("domain", "\"api.example.com\"", "DNS name, possibly \"*.\"-prefixed").required();
    pub const CERTIFICATE_ARN: Field = text("certificate_arn", "\"arn:aws:acm:us-east-1:123456789012:certificate/...\"", "use this certificate (same region); else albkit requests one (DNS validation)").commented();
    pub const HOSTED_ZONE_ID: Field = text("hosted_zone_id", "\"Z0123456789ABCDEFGHIJ\"", "albkit writes the validation CNAMEs and alias A/AAAA records").commented();
    pub const SSL_POLICY: Field = text("ssl_policy", "", "one allowing TLS 1.0/1.1 is refused, one without TLS 1.3 warned about (docs/tls-policies.md)").default(DEFAULT_SSL_POLICY);
    pub const HSTS: Field = field("hsts", Ty::StrOrBool, "Strict-Transport-Security of every HTTPS response: max-age, includeSubDomains, preload; true: the default, false: none").default(DEFAULT_HSTS);
}

#[rustfmt::skip]
pub mod function {
    use super::*;
    pub const NAME: Field = text("name", "\"api\"", "[a-z0-9-], starts with a letter, no \"--\", at most 32, unique in the stack").required();
    pub const PATH: Field = text("path", "\"functions/api\"", "the function's Rust crate, relative to albkit.toml, inside the project").required();
    pub const MEMORY_MB: Field = int("memory_mb", 128, 10240, 128, "");
    pub const TIMEOUT_SECONDS: Field = int("timeout_seconds", 1, 900, 10, "");
    pub const ARCHITECTURE: Field = field("architecture", Ty::Enum { values: &["x86_64", "arm64"], default: "x86_64" }, "\"arm64\" needs the aarch64 Rust target and a linker");
    pub const ENVIRONMENT: Field = field("environment", Ty::StrMap, "at most 4096 bytes; values are never printed: plan names the keys added, changed, removed").example("{ RUST_LOG = \"info\" }");
    pub const SECRETS: Field = field("secrets", Ty::StrMap, "Secrets Manager ARN or \"ssm:\" parameter name per variable, which holds the reference, never the value; the role may read exactly these").example("{ DB_URL = \"ssm:/shop/db-url\" }").commented();
    pub const KMS_KEY_ARN: Field = text("kms_key_arn", "\"arn:aws:kms:us-east-1:123456789012:key/...\"", "encrypt the environment with this customer managed key").commented();
    pub const LOG_RETENTION_DAYS: Field = field("log_retention_days", Ty::IntOf { values: super::LOG_RETENTION_DAYS, default: 14 }, "one of CloudWatch Logs' periods (1, 3, 5, 7, 14, 30, 60, 90, ...)");
    pub const MULTI_VALUE_HEADERS: Field = field("multi_value_headers", Ty::Bool(false), "target group attribute lambda.multi_value_headers.enabled: the event's header and query form");
    pub const HEALTH_CHECK: Field = field("health_check", Ty::Table(&super::HEALTH_CHECK), "");
    pub const ROUTES: Field = field("routes", Ty::Tables(&super::ROUTE), "");
}

#[rustfmt::skip]
pub mod health_check {
    use super::*;
    pub const PATH: Field = text("path", "\"/health\"", "starts with '/', at most 1024 characters").required();
    pub const INTERVAL_SECONDS: Field = int("interval_seconds", 5, 300, 35, "");
    pub const TIMEOUT_SECONDS: Field = int("timeout_seconds", 2, 120, 30, "less than interval_seconds");
    pub const HEALTHY_THRESHOLD: Field = int("healthy_threshold", 2, 10, 5, "");
    pub const UNHEALTHY_THRESHOLD: Field = int("unhealthy_threshold", 2, 10, 2, "");
    pub const MATCHER: Field = text("matcher", "", "HTTP codes 200 to 499: \"200\", a range \"200-299\" or a list \"200,204\"").default("200");
}

#[rustfmt::skip]
pub mod route {
    use super::*;
    pub const PRIORITY: Field = int("priority", 1, 50000, 0, "unique in the stack; lower numbers are matched first").example("10").required();
    pub const PATHS: Field = field("paths", Ty::StrList, "path patterns (case-sensitive, * and ? wildcards)").example("[\"/api\", \"/api/*\"]");
    pub const METHODS: Field = field("methods", Ty::StrList, "upper case; default: every method").example("[\"GET\", \"POST\"]");
    pub const HOSTS: Field = field("hosts", Ty::StrList, "host patterns; at most 5 values and 5 wildcards per route in all").example("[\"api.example.com\"]");
}

/// CloudWatch Logs retention periods, in days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub const TOP: Section = Section {
    path: "",
    header: "",
    doc: "",
    fields: &[
        top::STACK,
        top::NETWORK,
        top::LOAD_BALANCER,
        top::HTTPS,
        top::FUNCTIONS,
    ],
};

pub const STACK: Section = Section {
    path: "stack",
    header: "[stack]",
    doc: "required",
    fields: &[
        stack::NAME,
        stack::REGION,
        stack::TAGS,
        stack::PERMISSIONS_BOUNDARY,
    ],
};

pub const NETWORK: Section = Section {
    path: "network",
    header: "[network]",
    doc: "optional; default: a new VPC 10.0.0.0/16 over 2 availability zones",
    fields: &[
        network::CIDR,
        network::AVAILABILITY_ZONES,
        network::VPC_ID,
        network::SUBNET_IDS,
    ],
};

pub const LOAD_BALANCER: Section = Section {
    path: "load_balancer",
    header: "[load_balancer]",
    doc: "optional",
    fields: &[
        load_balancer::SCHEME,
        load_balancer::INGRESS_CIDRS,
        load_balancer::IDLE_TIMEOUT_SECONDS,
        load_balancer::DELETION_PROTECTION,
        load_balancer::ACCESS_LOGS,
        load_balancer::ACCESS_LOG_RETENTION_DAYS,
    ],
};

pub const HTTPS: Section = Section {
    path: "https",
    header: "[https]",
    doc: "optional; without it the stack is HTTP only",
    fields: &[
        https::DOMAIN,
        https::CERTIFICATE_ARN,
        https::HOSTED_ZONE_ID,
        https::SSL_POLICY,
        https::HSTS,
    ],
};

pub const FUNCTION: Section = Section {
    path: "functions",
    header: "[[functions]]",
    doc: "at least one",
    fields: &[
        function::NAME,
        function::PATH,
        function::MEMORY_MB,
        function::TIMEOUT_SECONDS,
        function::ARCHITECTURE,
        function::ENVIRONMENT,
        function::SECRETS,
        function::KMS_KEY_ARN,
        function::LOG_RETENTION_DAYS,
        function::MULTI_VALUE_HEADERS,
        function::HEALTH_CHECK,
        function::ROUTES,
    ],
};

pub const HEALTH_CHECK: Section = Section {
    path: "functions.health_check",
    header: "[functions.health_check]",
    doc: "optional; no health check without it",
    fields: &[
        health_check::PATH,
        health_check::INTERVAL_SECONDS,
        health_check::TIMEOUT_SECONDS,
        health_check::HEALTHY_THRESHOLD,
        health_check::UNHEALTHY_THRESHOLD,
        health_check::MATCHER,
    ],
};

pub const ROUTE: Section = Section {
    path: "functions.routes",
    header: "[[functions.routes]]",
    doc: "optional, any number per function; at least one of paths, methods, hosts",
    fields: &[route::PRIORITY, route::PATHS, route::METHODS, route::HOSTS],
};

/// Every section, in the order of the reference.
pub const SECTIONS: &[&Section] = &[
    &STACK,
    &NETWORK,
    &LOAD_BALANCER,
    &HTTPS,
    &FUNCTION,
    &HEALTH_CHECK,
    &ROUTE,
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
