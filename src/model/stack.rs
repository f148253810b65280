//! The rendered view of the stack: every resource albkit owns, with the properties
//! that `plan` compares against what exists (the typed specs they are rendered from
//! are in [`super::spec`], built by [`super::desired`]).
//!
//! Properties are kept as `(name, text)` pairs so that one generic diff serves every
//! kind of resource and the plan prints exactly what it compared. References to other
//! resources of the stack are written as their logical id (`vpc`, `subnet/1`,
//! `target-group/api`), so a desired property never depends on an id AWS has yet to assign;
//! discovery writes observed references the same way.

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::Config;
use super::names::{log_group_of, logical, Names, TAG_RESOURCE, TAG_STACK};
use super::spec::{LogicalId, Spec};

pub type Tags = BTreeMap<String, String>;

/// The managed policy earlier albkit versions attached to every function role; albkit
/// now detaches it (its actions apply to every log group of the account).
pub const BASIC_EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// A function's `kms_key` when its environment is encrypted with Lambda's own key.
pub const AWS_MANAGED_KEY: &str = "(aws managed)";

/// A role's managed policies (and its permissions boundary) when there is none.
pub const NO_POLICIES: &str = "(none)";

pub use super::spec::Kind;

/// One resource as albkit wants it (desired) or found it (observed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub logical: String,
    pub kind: Kind,
    pub props: Vec<(&'static str, String)>,
}

impl Resource {
    /// Sets a property, in place of any value it had.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        match self.props.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value.into(),
            None => self.props.push((name, value.into())),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A tag map from `(key, value)` pairs.
pub fn tags_from(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Renders a tag map as one property value: a JSON object with sorted keys, so that
/// every character of the values shows.
pub fn tags_prop(tags: &Tags) -> String {
    serde_json::to_string(tags).unwrap_or_default()
}

/// What albkit learnt from AWS before planning, needed to compute the desired stack.
/// The default (no account, region, zones or built code) still gives every resource
/// and what it needs: only names and properties depend on these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub account: String,
    pub region: String,
    /// Availability zones of the region, in AWS's order; the first N are used.
    pub availability_zones: Vec<String>,
    /// SHA-256 (base64, as Lambda reports `CodeSha256`) of each function's zip, by function name.
    pub code_sha256: BTreeMap<String, String>,
    /// CIDR of a reused VPC (the default ingress of an internal ALB), when known.
    pub existing_vpc_cidr: Option<String>,
    /// Whether the reused VPC has an IPv6 CIDR block (AWS then gives a new security
    /// group an IPv6 outbound rule too). albkit's own VPC has none.
    pub existing_vpc_ipv6: bool,
    /// Names of the stack's own resources as discovery found them, by logical id: a
    /// function, role, target group or log group found under its name of the previous
    /// naming scheme keeps it (see [`crate::model::names`]).
    pub names_in_use: BTreeMap<String, String>,
    /// Attach mode: the priority of each of the stack's rules on its listener, by
    /// logical id ([`crate::model::attach::place`]); empty otherwise.
    pub rule_priorities: BTreeMap<String, u32>,
}

/// The names a function's resources get: the current scheme's, except where the stack's
/// own resource exists under the previous scheme's name, which it keeps (a name change
/// would replace it). The log group follows the function's name, since that is where
/// Lambda writes; when the function does not exist, the log group's own name decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionNames {
    pub function: String,
    pub role: String,
    pub target_group: String,
    pub log_group: String,
}

pub fn function_names(names: &Names, in_use: &BTreeMap<String, String>, f: &str) -> FunctionNames {
    let found = |logical: &str| in_use.get(logical).map(String::as_str);
    let keep = |logical: &str, legacy: String, current: String| {
        if found(logical) == Some(legacy.as_str()) {
            legacy
        } else {
            current
        }
    };
    let legacy_function = names.legacy_function(f);
    let function_is_legacy = match found(&logical::function(f)) {
        Some(name) => name == legacy_function,
        None => found(&logical::log_group(f)) == Some(log_group_of(&legacy_function).as_str()),
    };
    let function = if function_is_legacy {
        legacy_function
    } else {
        names.function(f)
    };
    FunctionNames {
        log_group: log_group_of(&function),
        function,
        role: keep(&logical::role(f), names.legacy_role(f), names.role(f)),
        target_group: keep(
            &logical::target_group(f),
            names.legacy_target_group(f),
            names.target_group(f),
        ),
    }
}

/// The desired stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub names: Names,
    /// Every resource's properties as the plan compares and shows them, in creation
    /// order.
    pub resources: Vec<Resource>,
    /// The typed spec of each resource, in the same order.
    specs: Vec<Spec>,
}

impl Desired {
    /// The desired stack of these specs, each rendered once.
    pub fn new(names: Names, specs: Vec<(LogicalId, Spec)>) -> Self {
        let resources = specs
            .iter()
            .map(|(id, spec)| Resource {
                logical: id.to_string(),
                kind: spec.kind(),
                props: spec.render(id),
            })
            .collect();
        Desired {
            names,
            resources,
            specs: specs.into_iter().map(|(_, spec)| spec).collect(),
        }
    }

    pub fn get(&self, logical: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical == logical)
    }

    /// The typed spec of a resource.
    pub fn spec(&self, logical: &str) -> Option<&Spec> {
        self.resources
            .iter()
            .position(|r| r.logical == logical)
            .and_then(|i| self.specs.get(i))
    }
}

/// Tags every taggable resource of the stack carries.
pub fn resource_tags(config: &Config, logical: &str) -> Tags {
    let mut tags = config.stack.tags.clone();
    tags.insert(TAG_STACK.to_string(), config.stack.name.clone());
    tags.insert(TAG_RESOURCE.to_string(), logical.to_string());
    tags
}

pub use super::desired::desired;
pub use super::spec::{HSTS_OFF, NOT_FOUND_BODY};

/// Environment as one property: `KEY=<fingerprint>` pairs, sorted by key. The
/// fingerprint is a SHA-256 of the value under a key drawn at random once per process:
/// within one run equal values compare equal (so `plan` sees a change), while nothing
/// outside the process can recover a value or link it to another run. No output shows
/// the fingerprints either: [`shown`] turns the property into its keys, and
/// [`environment_change`] describes a change by key.
pub fn environment_prop(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}={}", fingerprint(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fingerprint(value: &str) -> String {
    use sha2::{Digest, Sha256};
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(rand::random);
    let mut h = Sha256::new();
    h.update(key);
    h.update(value.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// `(key, fingerprint)` pairs of an environment property.
fn environment_entries(prop: &str) -> BTreeMap<&str, &str> {
    prop.split(", ")
        .filter(|e| !e.is_empty())
        .map(|e| e.split_once('=').unwrap_or((e, "")))
        .collect()
}

/// The keys of an environment property, as output shows them.
fn environment_keys(prop: &str) -> String {
    let keys: Vec<&str> = environment_entries(prop).into_keys().collect();
    if keys.is_empty() {
        "(none)".to_string()
    } else {
        keys.join(", ")
    }
}

/// Discovery shows a published function's setting with the value `$LATEST` holds
/// beside it when they differ: `<published> (unpublished in $LATEST: <latest>)`.
const UNPUBLISHED: &str = " (unpublished in $LATEST: ";

fn split_unpublished(value: &str) -> (&str, Option<&str>) {
    match value.split_once(UNPUBLISHED) {
        Some((published, rest)) => (published, Some(rest.strip_suffix(')').unwrap_or(rest))),
        None => (value, None),
    }
}

/// A property's value as output shows it: the environment by its keys only.
pub fn shown(name: &str, value: &str) -> String {
    if name != "environment" {
        return value.to_string();
    }
    match split_unpublished(value) {
        (published, Some(latest)) => {
            let (_, what) = environment_change(published, latest);
            format!(
                "{}{UNPUBLISHED}{})",
                environment_keys(published),
                what.replacen(" (", "; ", 1).trim_end_matches(')')
            )
        }
        (published, None) => environment_keys(published),
    }
}

/// How output describes a change of the environment: the keys before, and the keys after
/// with what was added, changed and removed. Never a value, never a digest of one.
pub fn environment_change(old: &str, new: &str) -> (String, String) {
    let shown_old = shown("environment", old);
    let (old, _) = split_unpublished(old);
    let (o, n) = (environment_entries(old), environment_entries(new));
    let mut what = Vec::new();
    let added: Vec<&str> = n.keys().filter(|k| !o.contains_key(*k)).copied().collect();
    let changed: Vec<&str> = n
        .iter()
        .filter(|(k, v)| o.get(*k).is_some_and(|ov| ov != *v))
        .map(|(k, _)| *k)
        .collect();
    let removed: Vec<&str> = o.keys().filter(|k| !n.contains_key(*k)).copied().collect();
    for (label, keys) in [("added", added), ("changed", changed), ("removed", removed)] {
        if !keys.is_empty() {
            what.push(format!("{label} {}", keys.join(", ")));
        }
    }
    if what.is_empty() {
        // Only `$LATEST` differs: publishing the desired settings is the change.
        what.push("publish".to_string());
    }
    (
        shown_old,
        format!("{} ({})", environment_keys(new), what.join("; ")),
    )
}

/// The S3 bucket policy for ELB access-log delivery, plus a TLS-only deny.
/// `elb_account` is the regional ELB account for regions that have one; other regions use
/// the log-delivery service principal.
pub fn log_bucket_policy(bucket: &str, account: &str, region: &str) -> serde_json::Value {
    let partition = partition(region);
    let object_arn = format!("arn:{partition}:s3:::{bucket}/alb/AWSLogs/{account}/*");
    let principal = match elb_account(region) {
        Some(elb) => serde_json::json!({ "AWS": format!("arn:{partition}:iam::{elb}:root") }),
        None => serde_json::json!({ "Service": "logdelivery.elasticloadbalancing.amazonaws.com" }),
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AlbkitElbLogDelivery",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": object_arn,
            },
            {
                "Sid": "AlbkitDenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [
                    format!("arn:{partition}:s3:::{bucket}"),
                    format!("arn:{partition}:s3:::{bucket}/*"),
                ],
                "Condition": { "Bool": { "aws:SecureTransport": "false" } },
            }
        ]
    })
}

pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ELB account that delivers access logs in regions available before August 2022
/// (from the ELB user guide, "Enable access logs for your Application Load Balancer").
/// Newer regions use the `logdelivery.elasticloadbalancing.amazonaws.com` principal.
pub fn elb_account(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "127311923021",
        "us-east-2" => "033677994240",
        "us-west-1" => "027434742980",
        "us-west-2" => "797873946194",
        "af-south-1" => "098369216593",
        "ap-east-1" => "754344448648",
        "ap-southeast-3" => "589379963580",
        "ap-south-1" => "718504428378",
        "ap-northeast-3" => "383597477331",
        "ap-northeast-2" => "600734575887",
        "ap-southeast-1" => "114774131450",
        "ap-southeast-2" => "783225319266",
        "ap-northeast-1" => "582318560864",
        "ca-central-1" => "985666609251",
        "eu-central-1" => "054676820928",
        "eu-west-1" => "156460612806",
        "eu-west-2" => "652711504416",
        "eu-south-1" => "635631232127",
        "eu-west-3" => "009996457667",
        "eu-north-1" => "897822967062",
        "me-south-1" => "076674570225",
        "sa-east-1" => "507241528517",
        "us-gov-west-1" => "048591011584",
        "us-gov-east-1" => "190560391635",
        "cn-north-1" => "638102146993",
        "cn-northwest-1" => "037604701340",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_use(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_new_stack_gets_the_current_names() {
        let names = Names::new("shop", "us-east-1");
        let n = function_names(&names, &BTreeMap::new(), "api");
        assert_eq!(n.function, "shop--api");
        assert_eq!(n.role, "albkit-shop--api-us-east-1");
        assert_eq!(n.target_group, "shop-api-4");
        assert_eq!(n.log_group, "/aws/lambda/shop--api");
    }

    #[test]
    fn resources_found_under_the_previous_names_keep_them() {
        let names = Names::new("shop", "us-east-1");
        let found = in_use(&[
            ("function/api", "shop-api"),
            ("role/api", "albkit-shop-api-us-east-1"),
            ("target-group/api", "shop-api"),
            ("log-group/api", "/aws/lambda/shop-api"),
        ]);
        let n = function_names(&names, &found, "api");
        assert_eq!(n.function, "shop-api");
        assert_eq!(n.role, "albkit-shop-api-us-east-1");
        assert_eq!(n.target_group, "shop-api");
        assert_eq!(n.log_group, "/aws/lambda/shop-api");
    }

    #[test]
    fn each_kind_keeps_its_previous_name_on_its_own() {
        let names = Names::new("shop", "us-east-1");
        // A legacy role and target group beside a function created under the new scheme:
        // the log group follows the function, whatever its own name.
        let found = in_use(&[
            ("function/api", "shop--api"),
            ("role/api", "albkit-shop-api-us-east-1"),
            ("target-group/api", "shop-api"),
            ("log-group/api", "/aws/lambda/shop-api"),
        ]);
        let n = function_names(&names, &found, "api");
        assert_eq!(n.function, "shop--api");
        assert_eq!(n.log_group, "/aws/lambda/shop--api");
        assert_eq!(n.role, "albkit-shop-api-us-east-1");
        assert_eq!(n.target_group, "shop-api");
        // No function at all: a legacy log group keeps the function on the legacy name,
        // so that its logs stay where they are.
        let found = in_use(&[("log-group/api", "/aws/lambda/shop-api")]);
        let n = function_names(&names, &found, "api");
        assert_eq!(n.function, "shop-api");
        assert_eq!(n.log_group, "/aws/lambda/shop-api");
    }

    #[test]
    fn a_name_of_neither_scheme_is_not_kept() {
        let names = Names::new("shop", "us-east-1");
        let found = in_use(&[
            ("function/api", "something-else"),
            ("role/api", "albkit-other"),
            ("target-group/api", "other"),
        ]);
        let n = function_names(&names, &found, "api");
        assert_eq!(n.function, "shop--api");
        assert_eq!(n.role, "albkit-shop--api-us-east-1");
        assert_eq!(n.target_group, "shop-api-4");
    }
}
