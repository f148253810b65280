//! Deterministic names for every resource, derived from the stack name, within AWS limits.
//!
//! Names are how albkit finds untaggable things and how it avoids creating a second copy
//! of something after a crash, so they must never depend on anything but the stack, the
//! function, the account and the region. When a derived name would be too long it is
//! truncated and a short stable hash of the full name is appended.

use sha2::{Digest, Sha256};

/// Tag keys albkit owns.
pub const TAG_STACK: &str = "albkit:stack";
pub const TAG_RESOURCE: &str = "albkit:resource";

/// The alias the target group invokes.
pub const LIVE_ALIAS: &str = "live";

/// Fits `name` into `max` characters: unchanged when it fits, otherwise the longest
/// prefix that leaves room for `-` and 6 hex characters of its SHA-256. Never ends with '-'
/// before the hash.
pub fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash = &hex::encode(digest)[..6];
    let keep = max.saturating_sub(hash.len() + 1);
    let prefix: String = name.chars().take(keep).collect();
    format!("{}-{}", prefix.trim_end_matches('-'), hash)
}

/// Names of the stack's resources. Pure: built from the stack name and region; the two
/// S3 names, which are global, also take the account (known only once STS answers,
/// which albkit does not wait for before it starts reading the stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    stack: String,
    region: String,
}

impl Names {
    pub fn new(stack: &str, region: &str) -> Self {
        Self {
            stack: stack.to_string(),
            region: region.to_string(),
        }
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The `Name` tag of network resources (VPC, subnets, ...).
    pub fn display(&self, what: &str) -> String {
        format!("{}-{}", self.stack, what)
    }

    /// ALB names: ≤ 32 of `[A-Za-z0-9-]`, no leading/trailing hyphen, not starting `internal-`.
    pub fn load_balancer(&self) -> String {
        fit(&format!("{}-alb", self.stack), 32)
    }

    /// Target group names: ≤ 32, same alphabet as ALB names.
    pub fn target_group(&self, function: &str) -> String {
        fit(&format!("{}-{}", self.stack, function), 32)
    }

    pub fn security_group(&self) -> String {
        format!("{}-alb", self.stack)
    }

    /// Lambda function names: ≤ 64.
    pub fn function(&self, function: &str) -> String {
        fit(&format!("{}-{}", self.stack, function), 64)
    }

    /// IAM is global: the region is part of the name so the same stack name can live in
    /// two regions of one account. ≤ 64 characters.
    pub fn role(&self, function: &str) -> String {
        fit(
            &format!("albkit-{}-{}-{}", self.stack, function, self.region),
            64,
        )
    }

    pub fn log_group(&self, function: &str) -> String {
        format!("/aws/lambda/{}", self.function(function))
    }

    /// S3 names are global: account and region are part of it. 3–63 lowercase characters.
    pub fn log_bucket(&self, account: &str) -> String {
        fit(
            &format!("albkit-{}-logs-{account}-{}", self.stack, self.region),
            63,
        )
    }

    /// The bucket that holds the stacks' locks in this account and region: one per
    /// region, shared by every stack, deleted by `down` once no lock is left in it.
    pub fn lock_bucket(&self, account: &str) -> String {
        fit(&format!("albkit-locks-{account}-{}", self.region), 63)
    }

    /// The lock object of this stack inside [`Self::lock_bucket`].
    pub fn lock_key(&self) -> String {
        format!("{}/lock.json", self.stack)
    }

    /// Prefix of the access logs inside the bucket.
    pub fn log_prefix(&self) -> &'static str {
        "alb"
    }

    /// Statement id of the Lambda permission for the target group.
    pub fn permission_statement(&self, function: &str) -> String {
        fit(&format!("albkit-{}-{}-elb", self.stack, function), 100)
    }

    /// Idempotency token for `RequestCertificate`: stable for the stack, the domain and
    /// one run (`run`, unique per albkit process), ≤ 32 of `\w`. It only has to make the
    /// SDK's repeat of a request whose response was lost return the same certificate; a
    /// run that crashed finds its certificate again by its tags. A token that outlived
    /// its run would, within ACM's hour, hand a later `up` the certificate a `down` in
    /// between deleted.
    pub fn certificate_token(&self, domain: &str, run: &str) -> String {
        let digest = Sha256::digest(format!("{}|{}|{}|{}", self.stack, self.region, domain, run));
        hex::encode(digest)[..32].to_string()
    }
}

/// Logical ids: the value of the `albkit:resource` tag and the key of every plan entry.
pub mod logical {
    pub const VPC: &str = "vpc";
    pub const INTERNET_GATEWAY: &str = "internet-gateway";
    pub const ROUTE_TABLE: &str = "route-table";
    pub const SECURITY_GROUP: &str = "security-group";
    pub const LOG_BUCKET: &str = "log-bucket";
    pub const LOAD_BALANCER: &str = "load-balancer";
    pub const CERTIFICATE: &str = "certificate";
    pub const LISTENER_HTTP: &str = "listener/http";
    pub const LISTENER_HTTPS: &str = "listener/https";

    pub fn subnet(index: usize) -> String {
        format!("subnet/{}", index + 1)
    }
    pub fn role(function: &str) -> String {
        format!("role/{function}")
    }
    pub fn log_group(function: &str) -> String {
        format!("log-group/{function}")
    }
    pub fn function(function: &str) -> String {
        format!("function/{function}")
    }
    pub fn target_group(function: &str) -> String {
        format!("target-group/{function}")
    }
    pub fn rule(priority: u32) -> String {
        format!("rule/{priority}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new("hello", "us-east-1")
    }

    #[test]
    fn short_names_are_kept() {
        assert_eq!(fit("abc", 5), "abc");
        assert_eq!(names().load_balancer(), "hello-alb");
        assert_eq!(names().target_group("api"), "hello-api");
        assert_eq!(names().function("api"), "hello-api");
        assert_eq!(names().role("api"), "albkit-hello-api-us-east-1");
        assert_eq!(names().log_group("api"), "/aws/lambda/hello-api");
    }

    #[test]
    fn long_names_are_truncated_with_a_stable_hash() {
        let long = "a".repeat(24);
        let n = Names::new(&long, "ap-southeast-2");
        let tg = n.target_group(&"f".repeat(32));
        assert!(tg.len() <= 32, "{tg}");
        assert_eq!(tg, n.target_group(&"f".repeat(32)), "stable");
        assert_ne!(
            tg,
            n.target_group(&format!("{}g", "f".repeat(31))),
            "distinct"
        );
        assert!(tg.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(!tg.starts_with('-') && !tg.ends_with('-'));
    }

    #[test]
    fn every_name_is_within_its_limit_at_the_longest_inputs() {
        let stack = format!("a{}", "-b".repeat(11) + "c"); // 24 chars
        assert_eq!(stack.len(), 24);
        let function = format!("f{}", "x".repeat(31));
        let n = Names::new(&stack, "ap-southeast-2");
        assert!(n.load_balancer().len() <= 32);
        assert!(n.target_group(&function).len() <= 32);
        assert!(n.function(&function).len() <= 64);
        assert!(n.role(&function).len() <= 64);
        let bucket = n.log_bucket("123456789012");
        assert!((3..=63).contains(&bucket.len()), "{bucket}");
        assert!(bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert!(n.permission_statement(&function).len() <= 100);
    }

    #[test]
    fn hash_never_follows_a_hyphen_pair() {
        let out = fit("abcdefgh-ijklmnop", 15);
        assert_eq!(out.len(), 15);
        assert!(!out.contains("--"), "{out}");
    }

    #[test]
    fn lock_bucket_is_per_account_and_region_and_the_key_per_stack() {
        let n = names();
        let bucket = n.lock_bucket("123456789012");
        assert!(bucket.starts_with("albkit-locks-"), "{bucket}");
        assert!(bucket.contains("123456789012") && bucket.ends_with(&n.region));
        assert!((3..=63).contains(&bucket.len()));
        assert_eq!(n.lock_key(), format!("{}/lock.json", n.stack()));
    }

    #[test]
    fn bucket_includes_account_and_region() {
        let b = names().log_bucket("123456789012");
        assert!(b.contains("123456789012") && b.contains("us-east-1"), "{b}");
    }

    #[test]
    fn certificate_token_is_stable_and_short() {
        let t = names().certificate_token("api.example.com", "run-1");
        assert_eq!(t.len(), 32);
        assert_eq!(t, names().certificate_token("api.example.com", "run-1"));
        assert_ne!(t, names().certificate_token("www.example.com", "run-1"));
        assert_ne!(t, names().certificate_token("api.example.com", "run-2"));
    }
}
