//! Deterministic names for every resource, derived from the stack name, within AWS limits.
//!
//! Names are how albkit finds untaggable things and how it avoids creating a second copy
//! of something after a crash, so they must never depend on anything but the stack, the
//! function, the account and the region. When a derived name would be too long it is
//! truncated and a short stable hash of the full name is appended.
//!
//! # Per-function names cannot collide across stacks
//!
//! A function's own resources are named `<stack>--<function>` (Lambda function, log
//! group `/aws/lambda/<stack>--<function>`) and `albkit-<stack>--<function>-<region>`
//! (IAM role). A stack name never contains `--` nor ends with `-` (validation), so in
//! `S--F` the first `--` starts exactly at the end of `S`: a `--` starting earlier would
//! lie inside `S`, or be `S`'s last character followed by the separator's first, and `S`
//! would end with `-`. The name therefore gives back `S`, and the rest is `F`: distinct
//! (stack, function) pairs give distinct names. (This does not need `F` to be free of
//! `--`; validation keeps it out of `F` all the same, for the target group below.) For
//! the role, the tail `F-R` also gives back the region `R`: two
//! region codes are never one the `-`-suffix of the other (`xx-word-N` or
//! `xx-qual-word-N`, a qualifier being `gov` or `iso…`, never two letters), so
//! `F1-R1 = F2-R2` forces `R1 = R2` and `F1 = F2`.
//!
//! ELB refuses `--` in a target group's name (hence no `--` in `S` or in `F`), so it is
//! `S-F-n`, `n` being the length of
//! `S`: the part after the last `-` is `n` (a number has no `-`), the first `n`
//! characters are `S`, the rest after one `-` is `F`.
//!
//! Limits: a function name is at most 24 + 2 + 32 = 58 characters, so Lambda's 64 never
//! truncates it (nor its log group). A role name (64) may be truncated by [`fit`]; the
//! kept prefix then still holds `albkit-<stack>--`, so roles of different stacks stay
//! distinct, and two functions of one stack whose long names share the kept prefix are
//! told apart by the hash. A target group's `S-F` is fitted into the room the `-n`
//! suffix leaves: when it is truncated, pairs whose stacks have the same length and
//! share the kept prefix are told apart by the hash (24 bits), as before.
//!
//! The previous scheme, `<stack>-<function>`, was ambiguous (stack `shop` + function
//! `api-v2` and stack `shop-api` + function `v2` gave `shop-api-v2`). Stacks created
//! under it keep their names: the `legacy_*` methods give them, and the desired stack
//! takes them where discovery found the stack's own resource under one
//! ([`crate::model::stack::Context::names_in_use`]).

use sha2::{Digest, Sha256};

/// Tag keys albkit owns.
pub const TAG_STACK: &str = "albkit:stack";
pub const TAG_RESOURCE: &str = "albkit:resource";
/// On a listener rule with an OIDC login: the ARN of the secret its client secret was
/// read from (AWS does not return the secret, so this is how `plan` knows it).
pub const TAG_OIDC_SECRET: &str = "albkit:oidc-client-secret";
/// The region of a resource of a global service (IAM roles): one stack name may live in
/// several regions of an account, and each region's roles are its own.
pub const TAG_REGION: &str = "albkit:region";

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

    /// Target group names: ≤ 32, same alphabet as ALB names, and ELB refuses `--` in
    /// them: `<stack>-<function>-<n>`, `n` being the length of the stack's name (see the
    /// module documentation).
    pub fn target_group(&self, function: &str) -> String {
        let suffix = format!("-{}", self.stack.len());
        let head = fit(&self.legacy_per_function(function), 32 - suffix.len());
        format!("{head}{suffix}")
    }

    /// `<stack>--<function>`: see the module documentation for why it cannot collide.
    fn per_function(&self, function: &str) -> String {
        format!("{}--{}", self.stack, function)
    }

    /// The web ACL (`[waf]`): WAF names are 1–128 of `[A-Za-z0-9_-]`.
    pub fn web_acl(&self) -> String {
        format!("{}-waf", self.stack)
    }

    /// A stack alarm (`[alarms]`): `albkit-<stack>-alarm-<scope>-<what>`, the scope
    /// being a function or `load-balancer`. CloudWatch alarm names are ≤ 255. Never under
    /// [`Self::gate_alarm_stack_prefix`] (`albkit-<stack>--`); another stack's names
    /// can share [`Self::alarm_prefix`], which is why discovery goes by the tags.
    pub fn alarm(&self, scope: &str, what: &str) -> String {
        format!("{}{scope}-{what}", self.alarm_prefix())
    }

    /// What every stack alarm's name starts with: `albkit-<stack>-alarm-`.
    pub fn alarm_prefix(&self) -> String {
        format!("albkit-{}-alarm-", self.stack)
    }

    /// The stack's CloudWatch dashboard: dashboards are global to the account, so the
    /// name holds the region; ≤ 255 of `[A-Za-z0-9_-]`.
    pub fn dashboard(&self) -> String {
        format!("albkit-{}-{}", self.stack, self.region)
    }

    /// The SNS topic the stack's alarms notify: SNS names are 1–256 of `[A-Za-z0-9_-]`.
    /// The ELB trust store of `[https.mtls]`: ≤ 32, the load balancer's alphabet.
    pub fn trust_store(&self) -> String {
        fit(&format!("{}-mtls", self.stack), 32)
    }

    pub fn alarm_topic(&self) -> String {
        format!("albkit-{}-alarms", self.stack)
    }

    pub fn security_group(&self) -> String {
        format!("{}-alb", self.stack)
    }

    /// Lambda function names: ≤ 64.
    pub fn function(&self, function: &str) -> String {
        fit(&self.per_function(function), 64)
    }

    /// IAM is global: the region is part of the name so the same stack name can live in
    /// two regions of one account. ≤ 64 characters.
    pub fn role(&self, function: &str) -> String {
        fit(
            &format!("albkit-{}-{}", self.per_function(function), self.region),
            64,
        )
    }

    /// The log group Lambda writes the function's logs to.
    pub fn log_group(&self, function: &str) -> String {
        log_group_of(&self.function(function))
    }

    /// What the names of a function's deploy-gate alarms start with:
    /// `albkit-<stack>--<function>-gate-`, then `v<version>-<metric>`
    /// ([`crate::model::shift::gate_alarms`]). CloudWatch alarms are regional, so the
    /// region is not needed; the stack-wide prefix is [`Self::gate_alarm_stack_prefix`].
    pub fn gate_alarm_prefix(&self, function: &str) -> String {
        format!("albkit-{}-gate-", self.per_function(function))
    }

    /// What the names of every gate alarm of the stack start with: `albkit-<stack>--`.
    pub fn gate_alarm_stack_prefix(&self) -> String {
        format!("albkit-{}--", self.stack)
    }

    /// The path new roles are created under: the stack's and the region's. Discovery
    /// lists [`Self::role_path_prefix`], which also holds roles of earlier versions.
    pub fn role_path(&self) -> String {
        format!("/albkit/{}/{}/", self.stack, self.region)
    }

    /// The path of the stack's roles in every region, and of roles created by albkit
    /// before roles carried their region (directly under it).
    pub fn role_path_prefix(&self) -> String {
        format!("/albkit/{}/", self.stack)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Function name under the previous scheme, `<stack>-<function>`.
    pub fn legacy_function(&self, function: &str) -> String {
        fit(&self.legacy_per_function(function), 64)
    }

    /// Target group name under the previous scheme.
    pub fn legacy_target_group(&self, function: &str) -> String {
        fit(&self.legacy_per_function(function), 32)
    }

    /// Role name under the previous scheme, `albkit-<stack>-<function>-<region>`.
    pub fn legacy_role(&self, function: &str) -> String {
        fit(
            &format!(
                "albkit-{}-{}",
                self.legacy_per_function(function),
                self.region
            ),
            64,
        )
    }

    fn legacy_per_function(&self, function: &str) -> String {
        format!("{}-{}", self.stack, function)
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

/// The log group Lambda writes a function's logs to: `/aws/lambda/<function name>`.
pub fn log_group_of(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
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
    pub const LISTENER_CERTIFICATES: &str = "listener/https/certificates";
    pub const TRUST_STORE: &str = "trust-store";
    pub const WEB_ACL: &str = "web-acl";
    pub const ALARM_TOPIC: &str = "alarm-topic";
    pub const DASHBOARD: &str = "dashboard";
    /// The scope of the load balancer's own alarms: `alarm/load-balancer/<what>`.
    pub const ALARM_LOAD_BALANCER: &str = "load-balancer";
    pub const WEB_ACL_ASSOCIATION: &str = "web-acl/association";

    pub fn subnet(index: usize) -> String {
        format!("subnet/{}", index + 1)
    }
    pub fn role(function: &str) -> String {
        format!("role/{function}")
    }
    pub fn log_group(function: &str) -> String {
        format!("log-group/{function}")
    }
    /// A stack alarm: `alarm/<function or load-balancer>/<what>`.
    pub fn alarm(scope: &str, what: &str) -> String {
        format!("alarm/{scope}/{what}")
    }

    pub fn function(function: &str) -> String {
        format!("function/{function}")
    }
    pub fn function_concurrency(function: &str) -> String {
        format!("function/{function}/concurrency")
    }
    pub fn function_provisioned(function: &str) -> String {
        format!("function/{function}/provisioned")
    }
    pub fn target_group(function: &str) -> String {
        format!("target-group/{function}")
    }
    pub fn rule(priority: u32) -> String {
        format!("rule/{priority}")
    }
    /// Attach mode: the rule of the route ordered `order` on `http_listener_arn`.
    pub fn rule_http(order: u32) -> String {
        format!("rule/http/{order}")
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
        assert_eq!(names().target_group("api"), "hello-api-5");
        assert_eq!(names().function("api"), "hello--api");
        assert_eq!(names().role("api"), "albkit-hello--api-us-east-1");
        assert_eq!(names().log_group("api"), "/aws/lambda/hello--api");
        assert_eq!(names().role_path(), "/albkit/hello/us-east-1/");
        assert!(names().role_path().starts_with(&names().role_path_prefix()));
    }

    #[test]
    fn stack_alarms_and_gate_alarms_never_share_a_prefix() {
        let n = names();
        let alarm = n.alarm("api", "target-5xx-rate");
        assert_eq!(alarm, "albkit-hello-alarm-api-target-5xx-rate");
        assert!(!alarm.starts_with(&n.gate_alarm_stack_prefix()));
        assert!(!n.gate_alarm_prefix("api").starts_with(&n.alarm_prefix()));
        assert_eq!(n.alarm_topic(), "albkit-hello-alarms");
        assert_eq!(n.dashboard(), "albkit-hello-us-east-1");
    }

    #[test]
    fn gate_alarms_of_one_stack_never_match_another_stacks_prefix() {
        assert_eq!(names().gate_alarm_prefix("api"), "albkit-hello--api-gate-");
        assert!(names()
            .gate_alarm_prefix("api")
            .starts_with(&names().gate_alarm_stack_prefix()));
        // "hello-eu" is another stack; its alarms are not "hello"'s.
        let other = Names::new("hello-eu", "us-east-1").gate_alarm_prefix("api");
        assert!(!other.starts_with(&names().gate_alarm_stack_prefix()));
    }

    #[test]
    fn legacy_names_are_those_of_the_previous_scheme() {
        assert_eq!(names().legacy_function("api"), "hello-api");
        assert_eq!(names().legacy_target_group("api"), "hello-api");
        assert_eq!(names().legacy_role("api"), "albkit-hello-api-us-east-1");
        assert_eq!(
            log_group_of(&names().legacy_function("api")),
            "/aws/lambda/hello-api"
        );
    }

    #[test]
    fn stacks_whose_names_used_to_collide_get_distinct_names() {
        let shop = Names::new("shop", "us-east-1");
        let shop_api = Names::new("shop-api", "us-east-1");
        assert_eq!(
            shop.legacy_function("api-v2"),
            shop_api.legacy_function("v2"),
            "the previous scheme collided"
        );
        assert_ne!(shop.function("api-v2"), shop_api.function("v2"));
        assert_ne!(shop.target_group("api-v2"), shop_api.target_group("v2"));
        assert_eq!(shop.target_group("api-v2"), "shop-api-v2-4");
        assert_eq!(shop_api.target_group("v2"), "shop-api-v2-8");
        assert_ne!(shop.role("api-v2"), shop_api.role("v2"));
        assert_ne!(shop.log_group("api-v2"), shop_api.log_group("v2"));
    }

    /// Every valid name of `len` characters or fewer over the alphabet `a`, `b`, `-`.
    fn valid(len: usize, no_double_dash: bool) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..len {
            out = out
                .iter()
                .flat_map(|p| ["a", "b", "-"].map(|c| format!("{p}{c}")))
                .collect();
            all.extend(out.iter().cloned());
        }
        all.into_iter()
            .filter(|n| n.starts_with(|c: char| c.is_ascii_lowercase()) && !n.ends_with('-'))
            .filter(|n| !no_double_dash || !n.contains("--"))
            .collect()
    }

    /// Asserts that `name` maps every input to a distinct name.
    fn injective<K: std::fmt::Debug>(inputs: impl IntoIterator<Item = (K, String)>) {
        let mut seen: std::collections::HashMap<String, K> = std::collections::HashMap::new();
        for (key, name) in inputs {
            if let Some(other) = seen.get(&name) {
                panic!("{other:?} and {key:?} both give {name}");
            }
            seen.insert(name, key);
        }
    }

    #[test]
    fn distinct_stack_and_function_pairs_give_distinct_names() {
        // Every valid stack name up to 6 characters and function name up to 5 over an
        // alphabet with '-', in the two regions that end alike.
        let stacks = valid(6, true);
        let functions = valid(5, false);
        assert!(stacks.contains(&"a-b".to_string()) && functions.contains(&"b--a".to_string()));
        for region in ["us-east-1", "us-gov-east-1"] {
            let pairs: Vec<((&String, &String), Names)> = stacks
                .iter()
                .flat_map(|s| {
                    functions
                        .iter()
                        .map(move |f| ((s, f), Names::new(s, region)))
                })
                .collect();
            let all = |name: fn(&Names, &str) -> String| {
                injective(pairs.iter().map(move |(k, n)| (*k, name(n, k.1))));
            };
            all(Names::function);
            all(Names::target_group);
            all(Names::role);
            all(Names::log_group);
        }
        // The role also keeps regions apart, whatever the function's name ends with.
        let regions = ["us-east-1", "us-gov-east-1", "eu-west-1", "us-isob-east-1"];
        let functions = ["f", "f-us", "f-us-gov", "f-us-east-1", "f-eu", "f-us-isob"];
        injective(regions.iter().flat_map(|r| {
            functions
                .iter()
                .map(move |f| ((*r, *f), Names::new("s", r).role(f)))
        }));
    }

    #[test]
    fn truncated_names_of_different_stacks_stay_apart() {
        // Long stack names (21 to 24 characters, where truncation cuts around the
        // separator) with long function names.
        let stacks: Vec<String> = (21..=24)
            .flat_map(|len| ["a", "b"].map(|c| format!("{}{c}", "s".repeat(len - 1))))
            .collect();
        let functions: Vec<String> = (28..=32)
            .flat_map(|len| ["x", "y-z"].map(|t| format!("{}{t}", "f".repeat(len - t.len()))))
            .collect();
        let pairs: Vec<((&String, &String), Names)> = stacks
            .iter()
            .flat_map(|s| {
                functions
                    .iter()
                    .map(move |f| ((s, f), Names::new(s, "ap-southeast-2")))
            })
            .collect();
        injective(pairs.iter().map(|(k, n)| (*k, n.target_group(k.1))));
        injective(pairs.iter().map(|(k, n)| (*k, n.role(k.1))));
        for ((_, f), n) in &pairs {
            assert!(n.target_group(f).len() <= 32);
            assert!(!n.target_group(f).contains("--"), "ELB refuses `--`");
            assert!(n.role(f).len() <= 64);
            assert!(n.function(f).len() <= 64);
            assert_eq!(
                n.function(f),
                format!("{}--{f}", n.stack()),
                "never truncated"
            );
        }
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
