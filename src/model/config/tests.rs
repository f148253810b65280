//! The checks of `albkit.toml`, one test per rule, and whole files.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

use miette::Diagnostic;

use super::rules::suggest_name;
use super::*;
use crate::model::headers::PREFLIGHT_PRIORITY;

/// A project directory holding two function crates: `functions/api` and `functions/web`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["functions/api", "functions/web"] {
        let d = dir.path().join(f);
        fs::create_dir_all(&d).expect("mkdir");
        fs::write(d.join("Cargo.toml"), "[package]\nname = \"f\"\n").expect("write");
    }
    dir
}

const STACK: &str = "[stack]\nname = \"hello\"\n";
const FUNCTION: &str = "[[functions]]\nname = \"api\"\npath = \"functions/api\"\n";

/// `[stack]` (with `stack_extra` inside it), then `sections`, then one function with
/// `function_extra` appended.
fn doc(stack_extra: &str, sections: &str, function_extra: &str) -> String {
    format!("{STACK}{stack_extra}\n{sections}\n{FUNCTION}{function_extra}")
}

fn stack(extra: &str) -> String {
    doc(extra, "", "")
}

fn section(text: &str) -> String {
    doc("", text, "")
}

fn function(extra: &str) -> String {
    doc("", "", extra)
}

fn problems_of(text: &str) -> Vec<Problem> {
    let dir = project();
    match parse_str(text, dir.path()) {
        Ok(c) => panic!("expected problems, got {c:#?}\n--- input ---\n{text}"),
        Err(p) => p,
    }
}

fn parse_ok(text: &str) -> (tempfile::TempDir, Config) {
    let dir = project();
    let config = match parse_str(text, dir.path()) {
        Ok(c) => c,
        Err(p) => panic!("expected a valid config, got {p:#?}\n--- input ---\n{text}"),
    };
    (dir, config)
}

#[track_caller]
fn assert_problem(text: &str, key: &str, needle: &str) -> Problem {
    let ps = problems_of(text);
    let found = ps
        .iter()
        .find(|p| p.key == key && p.message.contains(needle))
        .cloned()
        .unwrap_or_else(|| {
            panic!("no problem at {key:?} containing {needle:?}; got {ps:#?}\n{text}")
        });
    assert!(!found.help.trim().is_empty(), "empty help: {found:#?}");
    assert!(
        found.message.starts_with(|c: char| !c.is_uppercase()),
        "message must start lower-case: {found:#?}"
    );
    found
}

/// One test per rule: the input, the key of the problem and part of its message.
macro_rules! rule {
    ($($name:ident: $text:expr, $key:expr, $needle:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_problem(&$text, $key, $needle);
        }
    )*};
}

/// Like `rule!`, also checking part of the help.
macro_rules! rule_help {
    ($($name:ident: $text:expr, $key:expr, $needle:expr, $help:expr;)*) => {$(
        #[test]
        fn $name() {
            let p = assert_problem(&$text, $key, $needle);
            assert!(p.help.contains($help), "help {:?} lacks {:?}", p.help, $help);
        }
    )*};
}

// ---- top level and structure --------------------------------------------------

rule! {
    stack_table_missing: FUNCTION, "stack", "missing required table [stack]";
    stack_wrong_type: format!("stack = \"hello\"\n{FUNCTION}"), "stack", "expected a table, found a string";
    stack_array_of_tables: format!("[[stack]]\nname = \"a\"\n{FUNCTION}"), "stack", "expected a table, found an array of tables";
    functions_missing: STACK, "functions", "at least one function is required";
    functions_empty: format!("functions = []\n{STACK}"), "functions", "functions is empty";
    functions_string: format!("functions = \"api\"\n{STACK}"), "functions", "expected an array of tables, found a string";
    functions_element_not_table: format!("functions = [1]\n{STACK}"), "functions[0]", "expected a table, found an integer";
    network_wrong_type: format!("network = 1\n{STACK}{FUNCTION}"), "network", "expected a table, found an integer";
    health_check_wrong_type: function("health_check = \"/health\"\n"), "functions[0].health_check", "expected a table, found a string";
    routes_single_table: function("[functions.routes]\npriority = 1\npaths = [\"/\"]\n"), "functions[0].routes", "expected an array of tables, found a table";
    environment_wrong_type: function("environment = [\"A=1\"]\n"), "functions[0].environment", "expected a table, found an array";
    tags_wrong_type: stack("tags = \"team=api\"\n"), "stack.tags", "expected a table, found a string";
}

rule_help! {
    functions_single_table: format!("{STACK}[functions]\nname = \"api\"\npath = \"functions/api\"\n"), "functions", "expected an array of tables, found a table", "[[functions]]";
    unknown_key_typo: stack("regoin = \"us-east-1\"\n"), "stack.regoin", "unknown key `regoin` in [stack]", "did you mean `region`?";
    unknown_table_typo: format!("{STACK}[netwrok]\ncidr = \"10.0.0.0/16\"\n{FUNCTION}"), "netwrok", "unknown key `netwrok` at the top level", "did you mean `network`?";
    unknown_key_in_function: function("memroy_mb = 256\n"), "functions[0].memroy_mb", "unknown key", "did you mean `memory_mb`?";
    unknown_key_in_route: function("[[functions.routes]]\npriority = 1\npath = \"/api\"\n"), "functions[0].routes[0].path", "unknown key", "did you mean `paths`?";
    unknown_key_in_health_check: function("health_check = { path = \"/h\", intervall = 10 }\n"), "functions[0].health_check.intervall", "unknown key", "did you mean `interval_seconds`?";
    unknown_key_without_suggestion: stack("colour = \"blue\"\n"), "stack.colour", "unknown key `colour`", "remove it; the keys allowed in [stack] are: name, region, tags";
    misplaced_key_names_its_table: section("[network]\nregion = \"us-east-1\"\n"), "network.region", "unknown key", "belongs in [stack]";
    hosted_zone_id_outside_https: stack("hosted_zone_id = \"Z123\"\n"), "stack.hosted_zone_id", "unknown key", "belongs in the [https] table, together with `domain`";
    certificate_arn_at_top_level: format!("certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/x\"\n{STACK}{FUNCTION}"), "certificate_arn", "unknown key", "belongs in the [https] table";
}

// ---- [stack] --------------------------------------------------------------------

rule! {
    stack_name_missing: format!("[stack]\nregion = \"us-east-1\"\n{FUNCTION}"), "stack.name", "missing required key `name` in [stack]";
    stack_name_not_string: format!("[stack]\nname = 7\n{FUNCTION}"), "stack.name", "expected a string, found an integer";
    stack_name_empty: format!("[stack]\nname = \"\"\n{FUNCTION}"), "stack.name", "stack name is empty";
    stack_name_too_long: format!("[stack]\nname = \"{}\"\n{FUNCTION}", "a".repeat(25)), "stack.name", "is 25 characters long; the limit is 24";
    stack_name_starts_with_digit: format!("[stack]\nname = \"1app\"\n{FUNCTION}"), "stack.name", "must start with a letter";
    stack_name_trailing_dash: format!("[stack]\nname = \"app-\"\n{FUNCTION}"), "stack.name", "must not end with '-'";
    stack_name_double_dash: format!("[stack]\nname = \"my--app\"\n{FUNCTION}"), "stack.name", "must not contain \"--\"";
    stack_region_invalid: stack("region = \"us-east\"\n"), "stack.region", "region \"us-east\" is not an AWS region code";
    tag_value_not_string: stack("tags = { team = 1 }\n"), "stack.tags.team", "expected a string, found an integer";
    tag_key_empty: stack("tags = { \"\" = \"x\" }\n"), "stack.tags.\"\"", "is 0 characters long";
    tag_key_too_long: stack(&format!("tags = {{ {} = \"x\" }}\n", "k".repeat(129))), &format!("stack.tags.{}", "k".repeat(129)), "is 129 characters long";
    tag_value_too_long: stack(&format!("tags = {{ team = \"{}\" }}\n", "v".repeat(257))), "stack.tags.team", "257 characters; the limit is 256";
    tag_key_aws_prefix: stack("tags = { \"AWS:owner\" = \"me\" }\n"), "stack.tags.\"AWS:owner\"", "reserved prefix";
    tag_key_albkit_prefix: stack("[stack.tags]\n\"albkit:stack\" = \"x\"\n"), "stack.tags.\"albkit:stack\"", "reserved prefix";
    too_many_tags: stack(&format!("[stack.tags]\n{}", (0..46).map(|i| format!("t{i} = \"v\"\n")).collect::<String>())), "stack.tags", "stack has 46 tags; at most 45";
}

rule_help! {
    stack_name_charset: format!("[stack]\nname = \"Hello_World\"\n{FUNCTION}"), "stack.name", "stack name \"Hello_World\" may contain only a-z, 0-9 and '-'", "use \"hello-world\"";
    stack_region_upper_case: stack("region = \"US-EAST-1\"\n"), "stack.region", "not an AWS region code", "use \"us-east-1\"";
}

#[test]
fn region_pattern() {
    for ok in [
        "us-east-1",
        "eu-west-3",
        "ap-southeast-12",
        "us-gov-west-1",
        "cn-north-1",
        "us-iso-east-1",
        "us-isob-east-1",
    ] {
        assert!(is_aws_region(ok), "{ok}");
    }
    for bad in [
        "us-east",
        "useast1",
        "us-east-123",
        "USA-east-1",
        "us-isobb-east-1",
        "us-east-1a",
        "",
    ] {
        assert!(!is_aws_region(bad), "{bad}");
    }
}

#[test]
fn name_suggestions() {
    assert_eq!(suggest_name("Hello_World", 24), "hello-world");
    assert_eq!(suggest_name("1app", 24), "app-1app");
    assert_eq!(suggest_name("app--", 24), "app");
    assert_eq!(suggest_name("___", 24), "my-app");
    assert_eq!(suggest_name(&"ab-".repeat(20), 24).len(), 23);
}

// ---- [network] ------------------------------------------------------------------

rule! {
    cidr_not_a_cidr: section("[network]\ncidr = \"10.0.0/16\"\n"), "network.cidr", "invalid IPv4 address";
    cidr_without_prefix: section("[network]\ncidr = \"10.0.0.0\"\n"), "network.cidr", "has no prefix length";
    cidr_prefix_too_short: section("[network]\ncidr = \"10.0.0.0/8\"\n"), "network.cidr", "is too large";
    cidr_prefix_too_long: section("[network]\ncidr = \"10.0.0.0/24\"\n"), "network.cidr", "is too small";
    availability_zones_too_few: section("[network]\navailability_zones = 1\n"), "network.availability_zones", "availability_zones 1 is out of range (2–6)";
    availability_zones_too_many: section("[network]\navailability_zones = 7\n"), "network.availability_zones", "out of range";
    vpc_id_invalid: section("[network]\nvpc_id = \"vpc-123\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n"), "network.vpc_id", "is not a VPC id";
    vpc_id_without_subnets: section("[network]\nvpc_id = \"vpc-0123abcd\"\n"), "network.subnet_ids", "missing `subnet_ids`";
    subnets_too_few: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\"]\n"), "network.subnet_ids", "an ALB needs at least 2";
    subnet_id_invalid: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-XYZ\"]\n"), "network.subnet_ids[1]", "is not a subnet id";
    subnet_id_duplicate: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-0123abcd\"]\n"), "network.subnet_ids[1]", "listed twice";
    subnets_without_vpc: section("[network]\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n"), "network.subnet_ids", "needs `vpc_id`";
    vpc_id_conflicts_with_cidr: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\ncidr = \"10.0.0.0/16\"\n"), "network.cidr", "cannot be combined with `vpc_id`";
    vpc_id_conflicts_with_azs: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\navailability_zones = 3\n"), "network.availability_zones", "cannot be combined with `vpc_id`";
}

rule_help! {
    cidr_host_bits: section("[network]\ncidr = \"10.0.1.0/16\"\n"), "network.cidr", "has host bits set", "use \"10.0.0.0/16\"";
}

#[test]
fn existing_network() {
    let (_dir, c) = parse_ok(&section(
        "[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n",
    ));
    assert_eq!(
        c.network,
        Network::Existing {
            vpc_id: VpcId::new("vpc-0123456789abcdef0"),
            subnet_ids: vec![
                SubnetId::new("subnet-0123abcd"),
                SubnetId::new("subnet-4567abcd")
            ],
        }
    );
}

// ---- [load_balancer] ------------------------------------------------------------

rule! {
    ingress_not_a_cidr: section("[load_balancer]\ningress_cidrs = [\"10.0.0.0\"]\n"), "load_balancer.ingress_cidrs[0]", "has no prefix length";
    ingress_bad_address: section("[load_balancer]\ningress_cidrs = [\"300.0.0.0/8\"]\n"), "load_balancer.ingress_cidrs[0]", "invalid IPv4 address";
    ingress_bad_prefix: section("[load_balancer]\ningress_cidrs = [\"::/129\"]\n"), "load_balancer.ingress_cidrs[0]", "invalid prefix length";
    ingress_empty: section("[load_balancer]\ningress_cidrs = []\n"), "load_balancer.ingress_cidrs", "ingress_cidrs is empty";
    ingress_too_many: section(&format!("[load_balancer]\ningress_cidrs = [{}]\n", (0..51).map(|i| format!("\"10.0.{i}.0/24\"")).collect::<Vec<_>>().join(", "))), "load_balancer.ingress_cidrs", "lists 51 CIDRs; at most 50";
    ingress_duplicate_after_canonicalising: section("[load_balancer]\ningress_cidrs = [\"2001:db8::/32\", \"2001:DB8:0::/32\"]\n"), "load_balancer.ingress_cidrs[1]", "listed twice";
    ingress_not_strings: section("[load_balancer]\ningress_cidrs = \"0.0.0.0/0\"\n"), "load_balancer.ingress_cidrs", "expected an array of strings, found a string";
    idle_timeout_zero: section("[load_balancer]\nidle_timeout_seconds = 0\n"), "load_balancer.idle_timeout_seconds", "out of range (1–4000)";
    idle_timeout_too_long: section("[load_balancer]\nidle_timeout_seconds = 4001\n"), "load_balancer.idle_timeout_seconds", "out of range";
    deletion_protection_not_bool: section("[load_balancer]\ndeletion_protection = \"yes\"\n"), "load_balancer.deletion_protection", "expected a boolean, found a string";
    access_log_retention_zero: section("[load_balancer]\naccess_log_retention_days = 0\n"), "load_balancer.access_log_retention_days", "out of range (1–3650)";
    access_log_retention_too_long: section("[load_balancer]\naccess_log_retention_days = 3651\n"), "load_balancer.access_log_retention_days", "out of range";
}

rule_help! {
    ip_address_type_invalid: section("[load_balancer]\nip_address_type = \"ipv6\"\n"), "load_balancer.ip_address_type", "ip_address_type \"ipv6\" is not one of", "\"dualstack\"";
    dualstack_internal: section("[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n[load_balancer]\nscheme = \"internal\"\nip_address_type = \"dualstack\"\n"), "load_balancer.ip_address_type", "internal load balancers IPv4 addresses only", "scheme = \"internet-facing\"";
    scheme_invalid: section("[load_balancer]\nscheme = \"public\"\n"), "load_balancer.scheme", "scheme \"public\" is not one of", "did you mean \"internet-facing\"?";
    ingress_v4_host_bits: section("[load_balancer]\ningress_cidrs = [\"10.1.2.3/8\"]\n"), "load_balancer.ingress_cidrs[0]", "has host bits set", "use \"10.0.0.0/8\"";
    ingress_v6_host_bits: section("[load_balancer]\ningress_cidrs = [\"2001:db8::1/32\"]\n"), "load_balancer.ingress_cidrs[0]", "has host bits set", "use \"2001:db8::/32\"";
    access_logs_quoted_bool: section("[load_balancer]\naccess_logs = \"false\"\n"), "load_balancer.access_logs", "expected a boolean, found a string", "remove the quotes: `access_logs = false`";
}

#[test]
fn dualstack_in_a_reused_vpc_or_the_stacks_own() {
    let (_dir, c) = parse_ok(&section(
        "[network]\nvpc_id = \"vpc-0123abcd\"\nsubnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n[load_balancer]\nip_address_type = \"dualstack\"\n",
    ));
    assert_eq!(c.load_balancer.ip_address_type, IpAddressType::Dualstack);
    let (_dir, c) = parse_ok(&section(
        "[load_balancer]\nip_address_type = \"dualstack\"\n",
    ));
    assert_eq!(c.load_balancer.ip_address_type, IpAddressType::Dualstack);
    assert!(matches!(c.network, Network::Managed { .. }));
    let (_dir, c) = parse_ok(&section(""));
    assert_eq!(c.load_balancer.ip_address_type, IpAddressType::Ipv4);
}

// ---- [https] --------------------------------------------------------------------

rule! {
    https_domain_missing: section("[https]\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n"), "https.domain", "missing required key `domain` in [https]";
    domain_bad_chars: section("[https]\ndomain = \"api_x.example.com\"\n"), "https.domain", "label \"api_x\" may contain only a-z, 0-9 and '-'";
    domain_single_label: section("[https]\ndomain = \"localhost\"\n"), "https.domain", "needs at least two labels";
    domain_too_long: section(&format!("[https]\ndomain = \"{}.com\"\n", vec!["a".repeat(60); 5].join("."))), "https.domain", "the limit is 253";
    domain_label_too_long: section(&format!("[https]\ndomain = \"{}.com\"\n", "a".repeat(64))), "https.domain", "longer than 63 characters";
    domain_label_dash: section("[https]\ndomain = \"-api.example.com\"\n"), "https.domain", "starts or ends with '-'";
    domain_empty_label: section("[https]\ndomain = \"api..example.com\"\n"), "https.domain", "empty label";
    domain_inner_wildcard: section("[https]\ndomain = \"api.*.example.com\"\n"), "https.domain", "wildcard is only allowed as a leading";
    certificate_arn_invalid: section("[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:acm:us-east-1:123:certificate/x\"\n"), "https.certificate_arn", "is not a 12-digit account id";
    certificate_arn_wrong_service: section("[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:iam:us-east-1:123456789012:certificate/x\"\n"), "https.certificate_arn", "not \"acm\"";
    certificate_arn_region_mismatch: doc("region = \"us-east-1\"\n", "[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc-123\"\n", ""), "https.certificate_arn", "is in eu-west-1, but the stack is in us-east-1";
    extra_certificate_not_acm: section("[https]\ndomain = \"api.example.com\"\nextra_certificate_arns = [\"arn:aws:iam:us-east-1:123456789012:certificate/x\"]\n"), "https.extra_certificate_arns[0]", "not \"acm\"";
    extra_certificate_region_mismatch: doc("region = \"us-east-1\"\n", "[https]\ndomain = \"api.example.com\"\nextra_certificate_arns = [\"arn:aws:acm:eu-west-1:123456789012:certificate/abc-123\"]\n", ""), "https.extra_certificate_arns[0]", "is in eu-west-1, but the stack is in us-east-1";
    extra_certificate_twice: section("[https]\ndomain = \"api.example.com\"\nextra_certificate_arns = [\"arn:aws:acm:us-east-1:123456789012:certificate/a\", \"arn:aws:acm:us-east-1:123456789012:certificate/a\"]\n"), "https.extra_certificate_arns[1]", "is listed twice";
    extra_certificate_is_default: section("[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/a\"\nextra_certificate_arns = [\"arn:aws:acm:us-east-1:123456789012:certificate/a\"]\n"), "https.extra_certificate_arns[0]", "is the listener's default certificate";
    extra_certificate_not_a_list: section("[https]\ndomain = \"api.example.com\"\nextra_certificate_arns = \"arn:aws:acm:us-east-1:123456789012:certificate/a\"\n"), "https.extra_certificate_arns", "array";
    ssl_policy_invalid: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"TLS13\"\n"), "https.ssl_policy", "is not an ELB security policy";
}

rule_help! {
    ssl_policy_tls_1_0: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n"), "https.ssl_policy", "https.ssl_policy \"ELBSecurityPolicy-2016-08\" allows TLS 1.0 and TLS 1.1, which RFC 8996 deprecates", "remove `ssl_policy` to use the default \"ELBSecurityPolicy-TLS13-1-2-2021-06\"";
    ssl_policy_tls_1_1: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS-1-1-2017-01\"\n"), "https.ssl_policy", "allows TLS 1.1, which", "docs/tls-policies.md";
    ssl_policy_tls13_from_1_0: section("[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS13-1-0-2021-06\"\n"), "https.ssl_policy", "allows TLS 1.0 and TLS 1.1", "ELBSecurityPolicy-TLS13-1-2-2021-06";
    hosted_zone_id_invalid: section("[https]\ndomain = \"api.example.com\"\nhosted_zone_id = \"z0123abc\"\n"), "https.hosted_zone_id", "is not valid", "use \"Z0123ABC\"";
}

/// The warnings of a valid config.
fn warnings_of(text: &str) -> Vec<Warning> {
    parse_ok(text).1.warnings
}

#[test]
fn ssl_policy_without_tls_1_3_is_accepted_with_a_warning() {
    let text = section(
        "[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS-1-2-2017-01\"\n",
    );
    let (_dir, c) = parse_ok(&text);
    assert_eq!(
        c.https.map(|h| h.ssl_policy).as_deref(),
        Some("ELBSecurityPolicy-TLS-1-2-2017-01")
    );
    let [w] = c.warnings.as_slice() else {
        panic!("expected one warning, got {:#?}", c.warnings);
    };
    assert_eq!(w.key, "https.ssl_policy");
    assert!(
        w.message.contains("allows TLS 1.2 but not TLS 1.3"),
        "{w:#?}"
    );
    assert!(w.help.contains(DEFAULT_SSL_POLICY), "{w:#?}");
    let line = text
        .lines()
        .position(|l| l.starts_with("ssl_policy"))
        .map(|i| i + 1);
    assert_eq!(w.line, line);
    assert_eq!(w.column, Some("ssl_policy = ".len() + 1));
}

#[test]
fn tls_1_3_policies_raise_no_warning() {
    for policy in [
        DEFAULT_SSL_POLICY,
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    ] {
        let text = section(&format!(
            "[https]\ndomain = \"api.example.com\"\nssl_policy = \"{policy}\"\n"
        ));
        assert_eq!(warnings_of(&text), vec![], "{policy}");
    }
    assert_eq!(warnings_of(&format!("{STACK}{FUNCTION}")), vec![]);
}

#[test]
fn an_unknown_policy_is_accepted_with_a_warning_and_a_suggestion() {
    let ws = warnings_of(&section(
        "[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021-6\"\n",
    ));
    let [w] = ws.as_slice() else {
        panic!("expected one warning, got {ws:#?}");
    };
    assert_eq!(w.key, "https.ssl_policy");
    assert!(w
        .message
        .contains("not one of the ELB security policies albkit knows"));
    assert!(
        w.help
            .contains("did you mean \"ELBSecurityPolicy-TLS13-1-2-2021-06\"?"),
        "{w:#?}"
    );
    let ws = warnings_of(&section(
        "[https]\ndomain = \"api.example.com\"\nssl_policy = \"ELBSecurityPolicy-Future-2031-01\"\n",
    ));
    assert!(
        ws.first()
            .is_some_and(|w| w.help.contains("after albkit's table")),
        "{ws:#?}"
    );
}

fn hsts_only(value: &str) -> ResponseHeaders {
    ResponseHeaders {
        values: [(Inserted::StrictTransportSecurity, value.to_owned())].into(),
        server: true,
    }
}

fn hsts_of(value: &str) -> Option<String> {
    let (_dir, c) = parse_ok(&section(&format!(
        "[https]\ndomain = \"api.example.com\"\nhsts = {value}\n"
    )));
    c.https.and_then(|h| h.hsts().map(str::to_owned))
}

#[test]
fn hsts_defaults_and_switches() {
    let (_dir, c) = parse_ok(&section("[https]\ndomain = \"api.example.com\"\n"));
    assert_eq!(
        c.https.as_ref().and_then(HttpsSettings::hsts),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(hsts_of("true").as_deref(), Some(DEFAULT_HSTS));
    assert_eq!(hsts_of("false"), None);
    assert_eq!(
        hsts_of("\" max-age=300 ;\"").as_deref(),
        Some("max-age=300")
    );
    assert_eq!(
        hsts_of("\"INCLUDESUBDOMAINS; MAX-AGE=0\"").as_deref(),
        Some("includeSubDomains; max-age=0")
    );
}

rule! {
    hsts_wrong_type: section("[https]\ndomain = \"api.example.com\"\nhsts = 31536000\n"), "https.hsts", "expected a string or a boolean, found an integer";
    hsts_without_max_age: section("[https]\ndomain = \"api.example.com\"\nhsts = \"includeSubDomains\"\n"), "https.hsts", "max-age is missing";
    hsts_max_age_not_a_number: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1y\"\n"), "https.hsts", "max-age \"1y\" is not a number of seconds";
    hsts_max_age_negative: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=-1\"\n"), "https.hsts", "is not a number of seconds";
    hsts_max_age_empty: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age\"\n"), "https.hsts", "max-age has no value";
    hsts_twice: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1; max-age=2\"\n"), "https.hsts", "`max-age` appears twice";
    hsts_flag_with_value: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1; preload=yes\"\n"), "https.hsts", "`preload` takes no value";
    hsts_control_character: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1\\r\\nX-Evil: 1\"\n"), "https.hsts", "which a header value cannot hold";
    hsts_outside_https: stack("hsts = false\n"), "stack.hsts", "unknown key";
}

rule_help! {
    hsts_typo: section("[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=1; includeSubdomain\"\n"), "https.hsts", "unknown directive `includeSubdomain`", "did you mean `includeSubDomains`?";
}

#[test]
fn hsts_preload_without_its_requirements_is_warned_about() {
    let ws = warnings_of(&section(
        "[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=300; preload\"\n",
    ));
    assert_eq!(ws.len(), 1, "{ws:#?}");
    assert_eq!(ws[0].key, "https.hsts");
    assert!(ws[0].message.contains("preload"), "{ws:#?}");
    let ws = warnings_of(&section(
        "[https]\ndomain = \"api.example.com\"\nhsts = \"max-age=31536000; includeSubDomains; preload\"\n",
    ));
    assert_eq!(ws, vec![]);
}

#[test]
fn https_is_normalised() {
    let (_dir, c) = parse_ok(&section(
        "[https]\ndomain = \"*.Example.COM\"\nhosted_zone_id = \"/hostedzone/Z0123ABC\"\n",
    ));
    assert_eq!(
        c.https,
        Some(HttpsSettings {
            domain: "*.example.com".to_owned(),
            certificate_arn: None,
            extra_certificate_arns: None,
            hosted_zone_id: Some(HostedZoneId::new("Z0123ABC")),
            ssl_policy: DEFAULT_SSL_POLICY.to_owned(),
            headers: hsts_only(DEFAULT_HSTS),
            auth: None,
            mtls: None,
        })
    );
}

#[test]
fn certificate_region_is_free_without_stack_region() {
    let (_dir, c) = parse_ok(&section(
        "[https]\ndomain = \"api.example.com\"\ncertificate_arn = \"arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc-123\"\n",
    ));
    let https = c.https.expect("https");
    assert_eq!(
        https.certificate_arn.expect("arn").region(),
        Some("cn-north-1")
    );
}

// ---- [[functions]] --------------------------------------------------------------

rule_help! {
    // ELB refuses `--` in target group names, and a function's is `<stack>-<name>-<n>`.
    function_name_double_dash: format!("{STACK}[[functions]]\nname = \"api--v2\"\npath = \"functions/api\"\n"), "functions[0].name", "function name \"api--v2\" must not contain \"--\"", "use \"api-v2\"";
}

rule! {
    function_name_missing: format!("{STACK}[[functions]]\npath = \"functions/api\"\n"), "functions[0].name", "missing required key `name` in functions[0]";
    function_name_charset: format!("{STACK}[[functions]]\nname = \"API\"\npath = \"functions/api\"\n"), "functions[0].name", "function name \"API\" may contain only a-z, 0-9 and '-'";
    function_name_too_long: format!("{STACK}[[functions]]\nname = \"{}\"\npath = \"functions/api\"\n", "f".repeat(33)), "functions[0].name", "the limit is 32";
    function_name_starts_with_digit: format!("{STACK}[[functions]]\nname = \"9lives\"\npath = \"functions/api\"\n"), "functions[0].name", "must start with a letter";
    function_name_trailing_dash: format!("{STACK}[[functions]]\nname = \"api-\"\npath = \"functions/api\"\n"), "functions[0].name", "must not end with '-'";
    function_path_missing: format!("{STACK}[[functions]]\nname = \"api\"\n"), "functions[0].path", "missing required key `path`";
    function_path_absolute: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"/usr/src/api\"\n"), "functions[0].path", "is absolute";
    function_path_escapes: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/../../api\"\n"), "functions[0].path", "points outside the project directory";
    function_path_does_not_exist: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/nope\"\n"), "functions[0].path", "does not exist";
    memory_too_small: function("memory_mb = 64\n"), "functions[0].memory_mb", "memory_mb 64 is out of range (128–10240)";
    memory_too_large: function("memory_mb = 10241\n"), "functions[0].memory_mb", "out of range";
    memory_float: function("memory_mb = 256.5\n"), "functions[0].memory_mb", "expected an integer, found a float";
    timeout_zero: function("timeout_seconds = 0\n"), "functions[0].timeout_seconds", "out of range (1–900)";
    timeout_too_long: function("timeout_seconds = 901\n"), "functions[0].timeout_seconds", "out of range";
    reserved_concurrency_negative: function("reserved_concurrency = -1\n"), "functions[0].reserved_concurrency", "reserved_concurrency -1 is out of range (0–100000)";
    reserved_concurrency_text: function("reserved_concurrency = \"10\"\n"), "functions[0].reserved_concurrency", "expected an integer, found a string";
    provisioned_concurrency_zero: function("provisioned_concurrency = 0\n"), "functions[0].provisioned_concurrency", "provisioned_concurrency 0 is out of range (1–100000)";
    provisioned_concurrency_text: function("provisioned_concurrency = \"5\"\n"), "functions[0].provisioned_concurrency", "expected an integer, found a string";
    provisioned_concurrency_above_reserved: function("reserved_concurrency = 4\nprovisioned_concurrency = 5\n"), "functions[0].provisioned_concurrency", "provisioned_concurrency 5 is more than reserved_concurrency 4";
    deploy_strategy_weight: function("deploy_strategy = \"canary:0%:5m\"\n"), "functions[0].deploy_strategy", "weight \"0%\" is out of range (1%–99%)";
    deploy_strategy_linear_uneven: function("deploy_strategy = \"linear:30%:1m\"\n"), "functions[0].deploy_strategy", "do not reach 100%";
    deploy_strategy_no_unit: function("deploy_strategy = \"canary:10%:5\"\n"), "functions[0].deploy_strategy", "needs a unit";
    deploy_strategy_unknown: function("deploy_strategy = \"blue-green\"\n"), "functions[0].deploy_strategy", "is not one albkit knows";
    deploy_gate_zero: function("deploy_gate = { errors = 0 }\n"), "functions[0].deploy_gate.errors", "errors 0 is out of range (1–1000000)";
    deploy_gate_unknown_key: function("[functions.deploy_gate]\nerror = 2\n"), "functions[0].deploy_gate.error", "unknown key";
    environment_bad_name: function("environment = { \"1BAD\" = \"x\" }\n"), "functions[0].environment.1BAD", "is not valid";
    environment_reserved: function("environment = { AWS_REGION = \"us-east-1\" }\n"), "functions[0].environment.AWS_REGION", "reserved by Lambda";
    environment_reserved_handler: function("[functions.environment]\n_HANDLER = \"x\"\n"), "functions[0].environment._HANDLER", "reserved by Lambda";
    environment_value_not_string: function("environment = { PORT = 8080 }\n"), "functions[0].environment.PORT", "expected a string, found an integer";
    environment_too_large: function(&format!("environment = {{ BIG = \"{}\" }}\n", "x".repeat(4094))), "functions[0].environment", "4097 bytes; Lambda allows at most 4096";
    multi_value_headers_not_bool: function("multi_value_headers = 1\n"), "functions[0].multi_value_headers", "expected a boolean, found an integer";
}

rule_help! {
    function_name_duplicate: format!("{STACK}{FUNCTION}[[functions]]\nname = \"api\"\npath = \"functions/web\"\n"), "functions[1].name", "function name \"api\" is used twice", "functions[0] is already named \"api\"";
    function_path_is_a_file: format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/api/Cargo.toml\"\n"), "functions[0].path", "is not a directory", "\"functions/api\"";
    memory_quoted: function("memory_mb = \"256\"\n"), "functions[0].memory_mb", "expected an integer, found a string", "remove the quotes: `memory_mb = 256`";
    architecture_invalid: function("architecture = \"aarch64\"\n"), "functions[0].architecture", "architecture \"aarch64\" is not one of", "did you mean \"arm64\"?";
    log_retention_not_allowed: function("log_retention_days = 15\n"), "functions[0].log_retention_days", "log_retention_days 15 is not a retention period", "14 or 30";
    secret_not_a_reference: function("secrets = { DB_URL = \"postgres://u:p@db/x\" }\n"), "functions[0].secrets.DB_URL", "secret DB_URL is not a secret reference", "\"ssm:/shop/api-key\"";
    secret_arn_of_another_service: function("secrets = { DB_URL = \"arn:aws:s3:::bucket/key\" }\n"), "functions[0].secrets.DB_URL", "not \"secretsmanager\"", "Secrets Manager secret ARN";
    secret_parameter_name_invalid: function("secrets = { KEY = \"ssm:/shop/a key\" }\n"), "functions[0].secrets.KEY", "is not an SSM parameter name", "\"ssm:/shop/api-key\"";
    secret_also_in_environment: function("environment = { DB_URL = \"x\" }\nsecrets = { DB_URL = \"ssm:/shop/db\" }\n"), "functions[0].secrets.DB_URL", "variable DB_URL is both in `environment` and in `secrets`", "keep DB_URL in one of them";
    secret_name_reserved: function("secrets = { AWS_REGION = \"ssm:/shop/db\" }\n"), "functions[0].secrets.AWS_REGION", "cannot be an environment variable name", "not one Lambda reserves";
    kms_key_is_an_alias: function("kms_key_arn = \"arn:aws:kms:us-east-1:123456789012:alias/shop\"\n"), "functions[0].kms_key_arn", "is not a KMS key ARN", "not an alias";
    boundary_not_a_policy: stack("permissions_boundary = \"arn:aws:iam::123456789012:role/boundary\"\n"), "stack.permissions_boundary", "is not an IAM policy ARN", "managed policy";
}

#[test]
fn secrets_kms_key_and_boundary_are_read() {
    let dir = project();
    let text = doc(
        "permissions_boundary = \"arn:aws:iam::123456789012:policy/albkit-boundary\"\n",
        "",
        "secrets = { DB_URL = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf\", API_KEY = \"ssm:/shop/api-key\" }\n\
         kms_key_arn = \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab\"\n",
    );
    let config = parse_str(&text, dir.path()).expect("valid");
    assert_eq!(
        config.stack.permissions_boundary.as_deref(),
        Some("arn:aws:iam::123456789012:policy/albkit-boundary")
    );
    let f = &config.functions[0];
    assert_eq!(
        f.secrets.get("API_KEY"),
        Some(&SecretRef::Parameter("/shop/api-key".into()))
    );
    assert_eq!(
        f.lambda_environment().get("DB_URL").map(String::as_str),
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf")
    );
    assert_eq!(
        f.kms_key_arn.as_deref(),
        Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab")
    );
}

#[test]
fn function_path_without_cargo_toml() {
    let dir = project();
    fs::create_dir_all(dir.path().join("functions/empty")).expect("mkdir");
    let text = format!("{STACK}[[functions]]\nname = \"api\"\npath = \"functions/empty\"\n");
    let ps = parse_str(&text, dir.path()).expect_err("must fail");
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert_eq!(ps[0].key, "functions[0].path");
    assert!(ps[0].message.contains("has no Cargo.toml"), "{ps:#?}");
}

#[cfg(unix)]
#[test]
fn function_path_symlink_escaping_root() {
    let outside = project();
    let dir = project();
    std::os::unix::fs::symlink(
        outside.path().join("functions/api"),
        dir.path().join("link"),
    )
    .expect("symlink");
    let text = format!("{STACK}[[functions]]\nname = \"api\"\npath = \"link\"\n");
    let ps = parse_str(&text, dir.path()).expect_err("must fail");
    assert_eq!(ps[0].key, "functions[0].path");
    assert!(
        ps[0]
            .message
            .contains("points outside the project directory"),
        "{ps:#?}"
    );
}

#[test]
fn function_path_is_canonical() {
    let (dir, c) = parse_ok(&format!(
        "{STACK}[[functions]]\nname = \"api\"\npath = \"./functions/../functions/api/\"\n"
    ));
    let root = dir.path().canonicalize().expect("canonical");
    assert_eq!(c.root, root);
    assert_eq!(c.functions[0].path, root.join("functions/api"));
}

// ---- health_check ---------------------------------------------------------------

rule! {
    health_check_path_missing: function("health_check = { interval_seconds = 30 }\n"), "functions[0].health_check.path", "missing required key `path`";
    health_check_path_relative: function("health_check = { path = \"health\" }\n"), "functions[0].health_check.path", "must start with '/'";
    health_check_path_too_long: function(&format!("health_check = {{ path = \"/{}\" }}\n", "h".repeat(1024))), "functions[0].health_check.path", "the limit is 1024";
    health_check_interval_range: function("health_check = { path = \"/h\", interval_seconds = 4 }\n"), "functions[0].health_check.interval_seconds", "out of range (5–300)";
    health_check_timeout_range: function("health_check = { path = \"/h\", timeout_seconds = 1 }\n"), "functions[0].health_check.timeout_seconds", "out of range (2–120)";
    health_check_healthy_range: function("health_check = { path = \"/h\", healthy_threshold = 11 }\n"), "functions[0].health_check.healthy_threshold", "out of range (2–10)";
    health_check_unhealthy_range: function("health_check = { path = \"/h\", unhealthy_threshold = 1 }\n"), "functions[0].health_check.unhealthy_threshold", "out of range (2–10)";
    health_check_default_timeout_not_below_interval: function("health_check = { path = \"/h\", interval_seconds = 20 }\n"), "functions[0].health_check.interval_seconds", "timeout_seconds 30 must be less than interval_seconds 20";
    health_check_timeout_not_below_interval: function("[functions.health_check]\npath = \"/h\"\ninterval_seconds = 30\ntimeout_seconds = 30\n"), "functions[0].health_check.timeout_seconds", "must be less than interval_seconds 30";
    matcher_out_of_range: function("health_check = { path = \"/h\", matcher = \"600\" }\n"), "functions[0].health_check.matcher", "600 is outside 200–499";
    matcher_not_a_code: function("health_check = { path = \"/h\", matcher = \"ok\" }\n"), "functions[0].health_check.matcher", "is not an HTTP status code";
    matcher_reversed_range: function("health_check = { path = \"/h\", matcher = \"299-200\" }\n"), "functions[0].health_check.matcher", "empty or reversed";
    matcher_range_and_list: function("health_check = { path = \"/h\", matcher = \"200-299,404\" }\n"), "functions[0].health_check.matcher", "either a range or a list";
}

#[test]
fn matcher_forms() {
    for ok in ["200", "200-299", "200,204", "499"] {
        assert!(ok.parse::<Matcher>().is_ok(), "{ok}");
    }
    for bad in ["", "199", "500", "200,", "2000", "200-", "+200"] {
        assert!(bad.parse::<Matcher>().is_err(), "{bad}");
    }
}

#[test]
fn matchers_accept_their_codes() {
    let accepts = |m: &str, status| m.parse::<Matcher>().is_ok_and(|m| m.accepts(status));
    assert!(accepts("200", 200));
    assert!(!accepts("200", 204));
    assert!(accepts("200-299", 204));
    assert!(!accepts("200-299", 300));
    assert!(accepts("200,204", 204));
    assert!(!accepts("200,204", 201));
    let m: Matcher = "200-299".parse().expect("matcher");
    assert_eq!(
        (m.as_str(), m.to_string()),
        ("200-299", "200-299".to_owned())
    );
    assert_eq!(String::from(&m), "200-299");
}

// ---- [[functions.routes]] -------------------------------------------------------

const ROUTE: &str = "[[functions.routes]]\n";

rule! {
    route_priority_missing: function(&format!("{ROUTE}paths = [\"/\"]\n")), "functions[0].routes[0].priority", "missing required key `priority`";
    route_priority_zero: function(&format!("{ROUTE}priority = 0\npaths = [\"/\"]\n")), "functions[0].routes[0].priority", "out of range (1–50000)";
    route_priority_too_large: function(&format!("{ROUTE}priority = 50001\npaths = [\"/\"]\n")), "functions[0].routes[0].priority", "out of range";
    route_priority_string: function(&format!("{ROUTE}priority = \"1\"\npaths = [\"/\"]\n")), "functions[0].routes[0].priority", "expected an integer, found a string";
    route_path_bad_char: function(&format!("{ROUTE}priority = 1\npaths = [\"/a b\"]\n")), "functions[0].routes[0].paths[0]", "contains ' '";
    route_path_no_slash: function(&format!("{ROUTE}priority = 1\npaths = [\"api\"]\n")), "functions[0].routes[0].paths[0]", "must start with '/' or '*'";
    route_path_empty: function(&format!("{ROUTE}priority = 1\npaths = [\"\"]\n")), "functions[0].routes[0].paths[0]", "is 0 characters long";
    route_path_too_long: function(&format!("{ROUTE}priority = 1\npaths = [\"/{}\"]\n", "p".repeat(128))), "functions[0].routes[0].paths[0]", "is 129 characters long";
    route_path_duplicate: function(&format!("{ROUTE}priority = 1\npaths = [\"/api\", \"/api\"]\n")), "functions[0].routes[0].paths[1]", "path \"/api\" is listed twice";
    route_paths_not_array: function(&format!("{ROUTE}priority = 1\npaths = \"/api\"\n")), "functions[0].routes[0].paths", "expected an array of strings, found a string";
    route_path_not_string: function(&format!("{ROUTE}priority = 1\npaths = [1]\n")), "functions[0].routes[0].paths[0]", "expected a string, found an integer";
    route_method_invalid: function(&format!("{ROUTE}priority = 1\nmethods = [\"GET ALL\"]\n")), "functions[0].routes[0].methods[0]", "is not an HTTP method";
    route_method_too_long: function(&format!("{ROUTE}priority = 1\nmethods = [\"{}\"]\n", "M".repeat(41))), "functions[0].routes[0].methods[0]", "is not an HTTP method";
    route_method_duplicate: function(&format!("{ROUTE}priority = 1\nmethods = [\"GET\", \"GET\"]\n")), "functions[0].routes[0].methods[1]", "listed twice";
    route_host_bad_char: function(&format!("{ROUTE}priority = 1\nhosts = [\"api_x.example.com\"]\n")), "functions[0].routes[0].hosts[0]", "contains '_'";
    route_host_too_long: function(&format!("{ROUTE}priority = 1\nhosts = [\"{}\"]\n", "h".repeat(129))), "functions[0].routes[0].hosts[0]", "is 129 characters long";
    route_host_duplicate: function(&format!("{ROUTE}priority = 1\nhosts = [\"a.example.com\", \"a.example.com\"]\n")), "functions[0].routes[0].hosts[1]", "listed twice";
    route_without_condition: function(&format!("{ROUTE}priority = 1\n")), "functions[0].routes[0]", "has no condition";
    route_with_empty_conditions: function(&format!("{ROUTE}priority = 1\npaths = []\nhosts = []\n")), "functions[0].routes[0]", "has no condition";
}

rule_help! {
    route_method_lower_case: function(&format!("{ROUTE}priority = 1\nmethods = [\"get\"]\n")), "functions[0].routes[0].methods[0]", "method \"get\" is not upper-case", "methods are case-sensitive on ALB: write \"GET\"";
    route_too_many_values: function(&format!("{ROUTE}priority = 1\npaths = [\"/a\", \"/b\", \"/c\"]\nmethods = [\"GET\", \"PUT\", \"POST\"]\n")), "functions[0].routes[0]", "has 6 condition values", "split it into two routes";
    route_too_many_wildcards: function(&format!("{ROUTE}priority = 1\npaths = [\"/a*b*c*\"]\nhosts = [\"*.ex?mple.*\"]\n")), "functions[0].routes[0]", "uses 6 wildcards", "split it into two routes";
    route_priority_duplicate_across_functions: format!("{STACK}{FUNCTION}{ROUTE}priority = 10\npaths = [\"/a\"]\n[[functions]]\nname = \"web\"\npath = \"functions/web\"\n{ROUTE}priority = 10\npaths = [\"/b\"]\n"), "functions[1].routes[0].priority", "route priority 10 is used twice", "functions[0].routes[0] (function \"api\") already has priority 10";
}

#[test]
fn duplicate_priority_suggests_a_free_one() {
    let text = function(&format!(
        "{ROUTE}priority = 10\npaths = [\"/a\"]\n{ROUTE}priority = 11\npaths = [\"/b\"]\n{ROUTE}priority = 10\npaths = [\"/c\"]\n"
    ));
    let p = assert_problem(&text, "functions[0].routes[2].priority", "used twice");
    assert!(p.help.contains("such as 12"), "{}", p.help);
}

// ---- whole files ----------------------------------------------------------------

const FULL: &str = r#"
[stack]
name = "hello"
region = "us-east-1"
tags = { team = "api", "cost-center" = "42" }

[network]
cidr = "10.1.0.0/16"
availability_zones = 3

[load_balancer]
scheme = "internal"
ingress_cidrs = ["10.0.0.0/8", "2001:DB8:0::/32"]
idle_timeout_seconds = 120
deletion_protection = true
access_logs = false
access_log_retention_days = 90

[https]
domain = "API.Example.com"
certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234"
extra_certificate_arns = ["arn:aws:acm:us-east-1:123456789012:certificate/efgh-5678"]
hosted_zone_id = "/hostedzone/Z0123ABC"
ssl_policy = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
hsts = "max-age=63072000;includesubdomains ; Preload"

[[functions]]
name = "api"
path = "functions/api"
memory_mb = 512
timeout_seconds = 30
reserved_concurrency = 25
provisioned_concurrency = 5
architecture = "arm64"
environment = { RUST_LOG = "info", GREETING = "hi" }
log_retention_days = 30
multi_value_headers = true
deploy_strategy = "canary:10%:5m"
deploy_gate = { errors = 3, target_5xx = 10 }
health_check = { path = "/health", interval_seconds = 60, timeout_seconds = 10, healthy_threshold = 3, unhealthy_threshold = 4, matcher = "200-299" }

[[functions.routes]]
priority = 10
paths = ["/api", "/api/*"]
methods = ["GET", "POST"]

[[functions.routes]]
priority = 20
hosts = ["api.example.com"]

[[functions]]
name = "web"
path = "./functions/web/"
health_check = { path = "/" }
"#;

#[test]
fn full_example() {
    let (dir, c) = parse_ok(FULL);
    let root = dir.path().canonicalize().expect("canonical");
    let expected = Config {
        root: root.clone(),
        stack: StackSettings {
            name: "hello".to_owned(),
            region: Some("us-east-1".to_owned()),
            tags: BTreeMap::from([
                ("team".to_owned(), "api".to_owned()),
                ("cost-center".to_owned(), "42".to_owned()),
            ]),
            permissions_boundary: None,
        },
        network: Network::Managed {
            cidr: Ipv4Cidr {
                addr: Ipv4Addr::new(10, 1, 0, 0),
                prefix: 16,
            },
            availability_zones: 3,
        },
        load_balancer: LoadBalancerSettings {
            scheme: Scheme::Internal,
            ip_address_type: IpAddressType::Ipv4,
            ingress_cidrs: Some(vec![
                IngressCidr::V4("10.0.0.0/8".to_owned()),
                IngressCidr::V6("2001:db8::/32".to_owned()),
            ]),
            idle_timeout_seconds: 120,
            deletion_protection: true,
            access_logs: false,
            access_log_retention_days: 90,
            attach: None,
        },
        https: Some(HttpsSettings {
            domain: "api.example.com".to_owned(),
            certificate_arn: Some(CertificateArn::new(
                "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234",
            )),
            extra_certificate_arns: Some(vec![CertificateArn::new(
                "arn:aws:acm:us-east-1:123456789012:certificate/efgh-5678",
            )]),
            hosted_zone_id: Some(HostedZoneId::new("Z0123ABC")),
            ssl_policy: "ELBSecurityPolicy-TLS13-1-2-Res-2021-06".to_owned(),
            headers: hsts_only("max-age=63072000; includeSubDomains; preload"),
            auth: None,
            mtls: None,
        }),
        waf: None,
        alarms: None,
        functions: vec![
            FunctionSettings {
                name: "api".to_owned(),
                path: root.join("functions/api"),
                target_dir: root.join("target"),
                memory_mb: 512,
                timeout_seconds: 30,
                reserved_concurrency: Some(25),
                provisioned_concurrency: Some(5),
                architecture: Architecture::Arm64,
                environment: BTreeMap::from([
                    ("RUST_LOG".to_owned(), "info".to_owned()),
                    ("GREETING".to_owned(), "hi".to_owned()),
                ]),
                secrets: BTreeMap::new(),
                kms_key_arn: None,
                log_retention_days: 30,
                multi_value_headers: true,
                health_check: Some(HealthCheck {
                    path: "/health".to_owned(),
                    interval_seconds: 60,
                    timeout_seconds: 10,
                    healthy_threshold: 3,
                    unhealthy_threshold: 4,
                    matcher: "200-299".parse().expect("matcher"),
                }),
                deploy_strategy: "canary:10%:5m".parse().expect("strategy"),
                deploy_gate: crate::model::shift::GateThresholds {
                    errors: 3,
                    target_5xx: 10,
                    ..Default::default()
                },
                routes: vec![
                    Route {
                        priority: 10,
                        paths: vec!["/api".to_owned(), "/api/*".to_owned()],
                        methods: vec!["GET".to_owned(), "POST".to_owned()],
                        hosts: vec![],
                        auth: None,
                    },
                    Route {
                        priority: 20,
                        paths: vec![],
                        methods: vec![],
                        hosts: vec!["api.example.com".to_owned()],
                        auth: None,
                    },
                ],
            },
            FunctionSettings {
                name: "web".to_owned(),
                path: root.join("functions/web"),
                target_dir: root.join("target"),
                memory_mb: 128,
                timeout_seconds: 10,
                reserved_concurrency: None,
                provisioned_concurrency: None,
                architecture: Architecture::X86_64,
                environment: BTreeMap::new(),
                secrets: BTreeMap::new(),
                kms_key_arn: None,
                log_retention_days: 14,
                multi_value_headers: false,
                health_check: Some(HealthCheck {
                    path: "/".to_owned(),
                    interval_seconds: 35,
                    timeout_seconds: 30,
                    healthy_threshold: 5,
                    unhealthy_threshold: 2,
                    matcher: "200".parse().expect("matcher"),
                }),
                deploy_strategy: Default::default(),
                deploy_gate: Default::default(),
                routes: vec![],
            },
        ],
        routes: vec![],
        warnings: vec![],
    };
    assert_eq!(c, expected);
}

#[test]
fn minimal_config_gets_all_defaults() {
    let (dir, c) = parse_ok(&format!("{STACK}{FUNCTION}"));
    let root = dir.path().canonicalize().expect("canonical");
    let expected = Config {
        root: root.clone(),
        stack: StackSettings {
            name: "hello".to_owned(),
            region: None,
            tags: BTreeMap::new(),
            permissions_boundary: None,
        },
        network: Network::Managed {
            cidr: Ipv4Cidr {
                addr: Ipv4Addr::new(10, 0, 0, 0),
                prefix: 16,
            },
            availability_zones: 2,
        },
        load_balancer: LoadBalancerSettings {
            scheme: Scheme::InternetFacing,
            ip_address_type: IpAddressType::Ipv4,
            ingress_cidrs: None,
            idle_timeout_seconds: 60,
            deletion_protection: false,
            access_logs: true,
            access_log_retention_days: 30,
            attach: None,
        },
        https: None,
        waf: None,
        alarms: None,
        functions: vec![FunctionSettings {
            name: "api".to_owned(),
            path: root.join("functions/api"),
            target_dir: root.join("target"),
            memory_mb: 128,
            timeout_seconds: 10,
            reserved_concurrency: None,
            provisioned_concurrency: None,
            architecture: Architecture::X86_64,
            environment: BTreeMap::new(),
            secrets: BTreeMap::new(),
            kms_key_arn: None,
            log_retention_days: 14,
            multi_value_headers: false,
            health_check: None,
            deploy_strategy: Default::default(),
            deploy_gate: Default::default(),
            routes: vec![],
        }],
        routes: vec![],
        warnings: vec![],
    };
    assert_eq!(c, expected);
}

#[test]
fn inline_tables_and_dotted_keys_are_accepted() {
    let text = "stack = { name = \"hello\" }\nnetwork.cidr = \"10.2.0.0/20\"\n\
                functions = [{ name = \"api\", path = \"functions/api\", routes = [{ priority = 1, paths = [\"/*\"] }] }]\n";
    let (_dir, c) = parse_ok(text);
    assert_eq!(c.stack.name, "hello");
    assert_eq!(
        c.network,
        Network::Managed {
            cidr: Ipv4Cidr {
                addr: Ipv4Addr::new(10, 2, 0, 0),
                prefix: 20
            },
            availability_zones: 2
        }
    );
    assert_eq!(c.functions[0].routes[0].paths, vec!["/*".to_owned()]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
[stack]
name = "Hello_World"
region = "mars-1"

[load_balancer]
idle_timeout_seconds = 0

[[functions]]
name = "api"
path = "functions/api"
memory_mb = "lots"

[[functions.routes]]
priority = 1
methods = ["get"]
"#;
    let ps = problems_of(text);
    let keys: Vec<&str> = ps.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "stack.name",
            "stack.region",
            "load_balancer.idle_timeout_seconds",
            "functions[0].memory_mb",
            "functions[0].routes[0].methods[0]",
        ],
        "{ps:#?}"
    );
    assert!(ps.iter().all(|p| p.span.is_some() && !p.help.is_empty()));
}

#[test]
fn spans_point_at_values_keys_and_headers() {
    let text = "[stack]\nname = \"Hello_World\"\nnmae = \"x\"\n[[functions]]\nname = \"api\"\n";
    let ps = problems_of(text);
    let span_of = |key: &str| {
        let p = ps
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("{key}: {ps:#?}"));
        let span = p
            .span
            .clone()
            .unwrap_or_else(|| panic!("{key} has no span"));
        &text[span]
    };
    assert_eq!(span_of("stack.name"), "\"Hello_World\"");
    assert_eq!(span_of("stack.nmae"), "nmae");
    assert_eq!(span_of("functions[0].path"), "[[functions]]");
}

#[test]
fn syntax_error_has_a_span() {
    let text = "[stack]\nname = \"hello\nregion = 1\n";
    let ps = problems_of(text);
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert_eq!(ps[0].key, "");
    assert!(ps[0].message.starts_with("invalid TOML"), "{ps:#?}");
    assert!(ps[0].help.contains("line 2"), "{ps:#?}");
    let span = ps[0].span.clone().expect("span");
    assert!(
        span.start >= "[stack]\n".len() && span.end <= text.len(),
        "{span:?}"
    );
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let ps = problems_of("[stack]\nname = \"a\"\nname = \"b\"\n");
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert!(ps[0].span.is_some());
    assert!(ps[0].message.contains("invalid TOML"));
}

// ---- load and rendering ---------------------------------------------------------

#[test]
fn load_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("albkit.toml");
    let err = load(&path).expect_err("missing");
    assert_eq!(err.path(), path);
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].key, "");
    assert!(err.problems()[0].message.contains("does not exist"));
    assert!(err.problems()[0].help.contains("albkit init"));
    assert!(err.problems()[0].help.contains("-c PATH"));
    assert_eq!(err.to_string(), "albkit.toml has 1 problem");
}

#[test]
fn load_refuses_large_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("albkit.toml");
    fs::write(&path, "#".repeat(1024 * 1024 + 1)).expect("write");
    let err = load(&path).expect_err("too large");
    assert!(
        err.problems()[0].message.contains("at most 1 MiB"),
        "{:?}",
        err.problems()
    );
    assert!(!err.problems()[0].help.is_empty());
}

#[test]
fn load_refuses_non_utf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("albkit.toml");
    fs::write(&path, b"[stack]\nname = \"h\xe9llo\"\n").expect("write");
    let err = load(&path).expect_err("not utf-8");
    assert_eq!(err.problems()[0].key, "");
    assert!(
        err.problems()[0].message.contains("not valid UTF-8"),
        "{:?}",
        err.problems()
    );
    assert!(err.problems()[0].help.contains("UTF-8"));
}

#[test]
fn load_valid_file() {
    let dir = project();
    let path = dir.path().join("albkit.toml");
    fs::write(&path, format!("{STACK}{FUNCTION}")).expect("write");
    let c = load(&path).expect("valid");
    assert_eq!(c.root, dir.path().canonicalize().expect("canonical"));
    assert_eq!(c.functions[0].name, "api");
}

#[test]
fn load_reports_problems_with_the_source() {
    let dir = project();
    let path = dir.path().join("albkit.toml");
    fs::write(&path, "[stack]\nname = \"A\"\n").expect("write");
    let err = load(&path).expect_err("invalid");
    assert_eq!(err.problems().len(), 2, "{:?}", err.problems());
    assert_eq!(err.to_string(), "albkit.toml has 2 problems");
    let related: Vec<_> = err.related().expect("related").collect();
    assert_eq!(related.len(), 2);
}

#[test]
fn rendered_report() {
    let dir = project();
    let text = r#"[stack]
name = "Hello_World"

[[functions]]
name = "api"
path = "functions/api"
memroy_mb = 256

[[functions.routes]]
priority = 10
methods = ["get"]
"#;
    let problems = parse_str(text, dir.path()).expect_err("three problems");
    assert_eq!(problems.len(), 3, "{problems:#?}");
    let err = ConfigError::new(Path::new("albkit.toml"), text.to_owned(), problems);
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, &err)
        .expect("render");
    insta::assert_snapshot!(out);
}

// ---- [waf] ----------------------------------------------------------------------

rule_help! {
    waf_unknown_group: section("[waf]\nmanaged_rules = [\"comon\"]\n"), "waf.managed_rules[0]", "\"comon\" is not a managed rule group albkit offers", "did you mean \"common\"?";
    waf_group_by_aws_name: section("[waf]\nmanaged_rules = [\"AWSManagedRulesSQLiRuleSet\"]\n"), "waf.managed_rules[0]", "is not a managed rule group albkit offers", "did you mean \"sqli\"?";
    waf_group_twice: section("[waf]\nmanaged_rules = [\"sqli\", \"sqli\"]\n"), "waf.managed_rules[1]", "managed rule group \"sqli\" is listed twice", "remove this entry";
    waf_unknown_country: section("[waf]\nblock_countries = [\"UK\"]\n"), "waf.block_countries[0]", "\"UK\" is not a country code AWS WAF knows", "\"GB\"";
    waf_country_twice: section("[waf]\nblock_countries = [\"kp\", \"KP\"]\n"), "waf.block_countries[1]", "country \"KP\" is listed twice", "remove this entry";
    waf_rate_limit_too_low: section("[waf]\nrate_limit = { requests = 5 }\n"), "waf.rate_limit.requests", "requests 5 is out of range (10–2000000000)", "requests = 10";
    waf_rate_limit_without_requests: section("[waf.rate_limit]\nper = \"1m\"\n"), "waf.rate_limit.requests", "required key `requests`", "add `requests = 2000`";
    waf_rate_limit_window: section("[waf]\nrate_limit = { requests = 100, per = \"30s\" }\n"), "waf.rate_limit.per", "per \"30s\" is not one of", "\"1m\" or \"2m\" or \"5m\" or \"10m\"";
    waf_unknown_key: section("[waf]\nrate = 100\n"), "waf.rate", "unknown key `rate` in [waf]", "rate_limit";
}

#[test]
fn waf_defaults_to_the_baseline_groups_and_reads_every_key() {
    let (_, c) = parse_ok(&section("[waf]\n"));
    let waf = c.waf.expect("waf");
    let groups: Vec<&str> = waf.managed_rules.iter().map(|g| g.short).collect();
    assert_eq!(groups, ["common", "known-bad-inputs", "ip-reputation"]);
    assert_eq!((waf.rate_limit, waf.block_countries.len()), (None, 0));

    let text = section(
        "[waf]\nmanaged_rules = [\"sqli\"]\nblock_countries = [\"ru\", \"KP\"]\n\
         rate_limit = { requests = 2000, per = \"10m\" }\n",
    );
    let (_, c) = parse_ok(&text);
    let waf = c.waf.expect("waf");
    assert_eq!(waf.managed_rules[0].aws, "AWSManagedRulesSQLiRuleSet");
    assert_eq!(waf.block_countries, ["KP", "RU"]);
    assert_eq!(
        waf.rate_limit,
        Some(RateLimit {
            requests: 2000,
            window_seconds: 600
        })
    );
    assert!(parse_ok(&section("")).1.waf.is_none());
    let (_, none) = parse_ok(&section("[waf]\nmanaged_rules = []\n"));
    assert!(none.waf.expect("waf").managed_rules.is_empty());
}

#[test]
fn waf_over_the_included_capacity_is_a_warning() {
    let all = "[\"common\", \"sqli\", \"linux\", \"windows\", \"known-bad-inputs\", \"php\"]";
    let (_, c) = parse_ok(&section(&format!("[waf]\nmanaged_rules = {all}\n")));
    let w = c
        .warnings
        .iter()
        .find(|w| w.key == "waf.managed_rules")
        .expect("capacity warning");
    assert!(w.message.contains("1600 web ACL capacity units"), "{w:?}");
}

// ---- [alarms] -------------------------------------------------------------------

rule_help! {
    alarms_not_an_email: section("[alarms]\nnotify = [\"ops.example.com\"]\n"), "alarms.notify[0]", "\"ops.example.com\" is not an email address", "ops@example.com";
    alarms_email_twice: section("[alarms]\nnotify = [\"ops@example.com\", \"OPS@example.com\"]\n"), "alarms.notify[1]", "email address \"OPS@example.com\" is listed twice", "remove this entry";
    alarms_too_many_emails: section(&format!("[alarms]\nnotify = [{}]\n", (0..11).map(|i| format!("\"o{i}@example.com\"")).collect::<Vec<_>>().join(", "))), "alarms.notify", "notify lists 11 addresses; at most 10", "mailing list";
    alarms_threshold_out_of_range: section("[alarms]\nlatency_p99_ms = 0\n"), "alarms.latency_p99_ms", "latency_p99_ms 0 is out of range (1–900000)", "latency_p99_ms = 1";
    alarms_dashboard_not_a_bool: section("[alarms]\ndashboard = \"yes\"\n"), "alarms.dashboard", "expected a boolean", "";
    alarms_percent_over_100: section("[alarms]\nhttp_5xx_percent = 101\n"), "alarms.http_5xx_percent", "http_5xx_percent 101 is out of range (1–100)", "http_5xx_percent = 100";
    alarms_unknown_key: section("[alarms]\nhttp_5xx_rate = 5\n"), "alarms.http_5xx_rate", "unknown key `http_5xx_rate` in [alarms]", "";
}

#[test]
fn alarms_have_defaults_and_read_every_key() {
    let (_, c) = parse_ok(&section("[alarms]\n"));
    let a = c.alarms.expect("alarms");
    assert_eq!(
        (
            a.http_5xx,
            a.lambda_errors,
            a.latency_p99_ms,
            a.throttles,
            a.unhealthy_targets
        ),
        (10, 1, 1000, 1, 1)
    );
    assert!(a.notify.is_empty());
    assert_eq!(a.http_5xx_percent, 5);
    assert!(a.dashboard);
    let text = section(
        "[alarms]\nhttp_5xx = 50\nhttp_5xx_percent = 2\nlambda_errors = 5\nlatency_p99_ms = 2500\nthrottles = 3\n\
         unhealthy_targets = 2\nnotify = [\"Team@Example.com\", \"ops@example.com\"]\n\
         dashboard = false\n",
    );
    let (_, c) = parse_ok(&text);
    let a = c.alarms.expect("alarms");
    assert_eq!(
        (
            a.http_5xx,
            a.lambda_errors,
            a.latency_p99_ms,
            a.throttles,
            a.unhealthy_targets
        ),
        (50, 5, 2500, 3, 2)
    );
    assert_eq!(a.http_5xx_percent, 2);
    assert_eq!(a.notify, ["ops@example.com", "team@example.com"]);
    assert!(!a.dashboard);
    assert!(parse_ok(&section("")).1.alarms.is_none());
}

// ---- [https.headers] ------------------------------------------------------------------

const HTTPS: &str = "[https]\ndomain = \"api.example.com\"\n";

fn headers_of(text: &str) -> ResponseHeaders {
    let (_dir, c) = parse_ok(&section(&format!("{HTTPS}{text}")));
    c.https.map(|h| h.headers).unwrap_or_default()
}

#[test]
fn response_headers_are_read_and_normalised() {
    let h = headers_of(
        "[https.headers]\nhsts = \"max-age=600\"\ncontent_security_policy = \"default-src 'self'\"\n\
         x_content_type_options = \"NOSNIFF\"\nx_frame_options = \"sameorigin\"\nserver = false\n\
         [https.headers.cors]\nallow_origins = [\"https://app.example.com\"]\n\
         allow_methods = [\"GET\", \"POST\"]\nallow_headers = [\"content-type\", \"authorization\"]\n\
         expose_headers = [\"*\"]\nallow_credentials = true\nmax_age = 600\n",
    );
    let get = |i| h.get(i);
    assert_eq!(get(Inserted::StrictTransportSecurity), Some("max-age=600"));
    assert_eq!(
        get(Inserted::ContentSecurityPolicy),
        Some("default-src 'self'")
    );
    assert_eq!(get(Inserted::XContentTypeOptions), Some("nosniff"));
    assert_eq!(get(Inserted::XFrameOptions), Some("SAMEORIGIN"));
    assert_eq!(
        get(Inserted::AccessControlAllowOrigin),
        Some("https://app.example.com")
    );
    assert_eq!(get(Inserted::AccessControlAllowMethods), Some("GET,POST"));
    assert_eq!(
        get(Inserted::AccessControlAllowHeaders),
        Some("content-type,authorization")
    );
    assert_eq!(get(Inserted::AccessControlExposeHeaders), Some("*"));
    assert_eq!(get(Inserted::AccessControlAllowCredentials), Some("true"));
    assert_eq!(get(Inserted::AccessControlMaxAge), Some("600"));
    assert!(!h.server);
    assert!(h.cors());
}

#[test]
fn headers_may_be_written_inline_in_https() {
    let inline = headers_of(
        "headers = { hsts = \"max-age=600\", cors = { allow_origins = [\"*\"], max_age = 60 } }\n",
    );
    let tables = headers_of(
        "[https.headers]\nhsts = \"max-age=600\"\n[https.headers.cors]\nallow_origins = [\"*\"]\nmax_age = 60\n",
    );
    assert_eq!(inline, tables);
    assert_eq!(inline.get(Inserted::AccessControlMaxAge), Some("60"));
}

#[test]
fn https_hsts_is_an_alias_of_headers_hsts() {
    let old = headers_of("hsts = \"max-age=600\"\n");
    let new = headers_of("[https.headers]\nhsts = \"max-age=600\"\n");
    assert_eq!(old, new);
    assert_eq!(old, hsts_only("max-age=600"));
    // Without cors, no preflight: a route may use priority 1.
    let (_dir, c) = parse_ok(&doc(
        "",
        &format!("{HTTPS}[https.headers]\nx_frame_options = \"DENY\"\n"),
        "[[functions.routes]]\npriority = 1\npaths = [\"/*\"]\n",
    ));
    assert!(!c.https.is_some_and(|h| h.headers.cors()));
}

#[test]
fn a_route_at_the_preflight_priority_is_refused_with_cors() {
    let text = doc(
        "",
        &format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\n"),
        &format!("[[functions.routes]]\npriority = {PREFLIGHT_PRIORITY}\npaths = [\"/*\"]\n"),
    );
    let p = assert_problem(
        &text,
        "functions[0].routes[0].priority",
        "reserved for the CORS preflight rule",
    );
    assert!(p.help.contains("such as 2"), "{p:#?}");
    assert!(p.span.is_some());
}

rule! {
    headers_hsts_set_twice: section(&format!("{HTTPS}hsts = false\n[https.headers]\nhsts = true\n")), "https.headers.hsts", "hsts is set twice";
    headers_unknown_key: section(&format!("{HTTPS}[https.headers]\nx_xss_protection = \"1\"\n")), "https.headers.x_xss_protection", "unknown key";
    headers_csp_empty: section(&format!("{HTTPS}[https.headers]\ncontent_security_policy = \" \"\n")), "https.headers.content_security_policy", "is empty";
    headers_csp_control_character: section(&format!("{HTTPS}[https.headers]\ncontent_security_policy = \"a\\nb\"\n")), "https.headers.content_security_policy", "which a header value cannot hold";
    headers_x_content_type_options_not_nosniff: section(&format!("{HTTPS}[https.headers]\nx_content_type_options = \"sniff\"\n")), "https.headers.x_content_type_options", "is not \"nosniff\"";
    headers_x_frame_options_unknown: section(&format!("{HTTPS}[https.headers]\nx_frame_options = \"NEVER\"\n")), "https.headers.x_frame_options", "is not an X-Frame-Options value";
    headers_server_not_bool: section(&format!("{HTTPS}[https.headers]\nserver = \"off\"\n")), "https.headers.server", "expected a boolean";
    headers_outside_https: section("[headers]\nserver = false\n"), "headers", "unknown key";
    cors_without_origins: section(&format!("{HTTPS}[https.headers.cors]\nmax_age = 5\n")), "https.headers.cors.allow_origins", "required key `allow_origins`";
    cors_two_origins: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"https://a.test\", \"https://b.test\"]\n")), "https.headers.cors.allow_origins", "lists 2 origins";
    cors_origin_with_path: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"https://a.test/app\"]\n")), "https.headers.cors.allow_origins[0]", "is not an origin";
    cors_origin_without_scheme: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"a.test\"]\n")), "https.headers.cors.allow_origins[0]", "must start with https://";
    cors_origin_bad_port: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"https://a.test:0\"]\n")), "https.headers.cors.allow_origins[0]", "invalid port";
    cors_method_lower_case: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nallow_methods = [\"get\"]\n")), "https.headers.cors.allow_methods[0]", "is not an HTTP method";
    cors_method_twice: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nallow_methods = [\"GET\", \"GET\"]\n")), "https.headers.cors.allow_methods[1]", "listed twice";
    cors_header_name_invalid: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nallow_headers = [\"x y\"]\n")), "https.headers.cors.allow_headers[0]", "is not a header name";
    cors_header_star_mixed: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nexpose_headers = [\"*\", \"x-id\"]\n")), "https.headers.cors.expose_headers[0]", "mixes \"*\"";
    cors_credentials_with_any_origin: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n")), "https.headers.cors.allow_credentials", "browsers refuse";
    cors_max_age_out_of_range: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nmax_age = 90000\n")), "https.headers.cors.max_age", "out of range";
    cors_unknown_key: section(&format!("{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\nallow_origin = \"*\"\n")), "https.headers.cors.allow_origin", "unknown key";
}

// ---- [[routes]] ---------------------------------------------------------------------

/// A config with `[[routes]]` text after the function (and `[https]` when `https`).
fn with_routes(https: bool, routes: &str) -> String {
    let https = if https { HTTPS } else { "" };
    format!("{STACK}\n{https}\n{FUNCTION}[[functions.routes]]\npriority = 10\npaths = [\"/api/*\"]\n\n{routes}")
}

fn static_routes_of(https: bool, routes: &str) -> Vec<StaticRoute> {
    let (_dir, c) = parse_ok(&with_routes(https, routes));
    c.routes
}

#[test]
fn routes_redirect_targets_split_into_the_parts_of_elb_redirects() {
    let parts = |to: &str| {
        let routes = static_routes_of(
            false,
            &format!(
                "[[routes]]\npriority = 5\npaths = [\"/old\"]\nredirect = {{ to = {to:?} }}\n"
            ),
        );
        match &routes[0].answer {
            StaticAnswer::Redirect(r) => (
                r.status,
                r.protocol.clone(),
                r.host.clone(),
                r.port.clone(),
                r.path.clone(),
                r.query.clone(),
            ),
            StaticAnswer::Fixed(f) => panic!("not a redirect: {f:?}"),
        }
    };
    let s = |v: &str| v.to_owned();
    assert_eq!(
        parts("https://new.example.com/v2/#{path}"),
        (
            301,
            s("HTTPS"),
            s("new.example.com"),
            s("443"),
            s("/v2/#{path}"),
            s("#{query}")
        )
    );
    assert_eq!(
        parts("/new?x=1"),
        (
            301,
            s("#{protocol}"),
            s("#{host}"),
            s("#{port}"),
            s("/new"),
            s("x=1")
        )
    );
    assert_eq!(
        parts("http://#{host}:8080"),
        (
            301,
            s("HTTP"),
            s("#{host}"),
            s("8080"),
            s("/#{path}"),
            s("#{query}")
        )
    );
}

#[test]
fn routes_fixed_responses_and_statuses_are_read() {
    let routes = static_routes_of(
        true,
        "[[routes]]\npriority = 5\npaths = [\"/old\"]\nredirect = { to = \"/new\", status = 302 }\n\n\
         [[routes]]\npriority = 6\npaths = [\"/gone\"]\nmethods = [\"GET\"]\n\
         [routes.fixed_response]\nstatus = 410\ncontent_type = \"application/json\"\nbody = '{\"gone\":true}'\n",
    );
    assert_eq!(routes.len(), 2);
    assert!(matches!(&routes[0].answer, StaticAnswer::Redirect(r) if r.status == 302));
    assert_eq!(
        routes[1].answer,
        StaticAnswer::Fixed(crate::model::spec::FixedResponse {
            status: 410,
            content_type: "application/json".into(),
            body: r#"{"gone":true}"#.into(),
        })
    );
    assert_eq!(routes[1].methods, ["GET"]);
}

rule! {
    routes_both_answers: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"/y\" }\nfixed_response = { status = 404 }\n"), "routes[0].fixed_response", "has both a redirect and a fixed_response";
    routes_no_answer: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\n"), "routes[0]", "has no answer";
    routes_no_condition: with_routes(false, "[[routes]]\npriority = 5\nredirect = { to = \"/y\" }\n"), "routes[0]", "has no condition";
    routes_unknown_key: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nfunction = \"api\"\nredirect = { to = \"/y\" }\n"), "routes[0].function", "unknown key";
    routes_priority_taken_by_a_function_route: with_routes(false, "[[routes]]\npriority = 10\npaths = [\"/x\"]\nredirect = { to = \"/y\" }\n"), "functions[0].routes[0].priority", "is used twice";
    routes_priority_reserved_by_cors: format!("{STACK}\n{HTTPS}[https.headers.cors]\nallow_origins = [\"*\"]\n\n{FUNCTION}\n[[routes]]\npriority = 1\npaths = [\"/x\"]\nredirect = {{ to = \"/y\" }}\n"), "routes[0].priority", "reserved for the CORS preflight";
    routes_redirect_status_303: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"/y\", status = 303 }\n"), "routes[0].redirect.status", "is not 301 or 302";
    routes_redirect_without_to: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { status = 301 }\n"), "routes[0].redirect.to", "required key `to`";
    routes_redirect_to_itself: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"#{protocol}://#{host}:#{port}/#{path}\" }\n"), "routes[0].redirect.to", "redirects every request to itself";
    routes_redirect_unknown_placeholder: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"/#{paht}\" }\n"), "routes[0].redirect.to", "unknown placeholder";
    routes_redirect_bad_scheme: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"ftp://a.test/\" }\n"), "routes[0].redirect.to", "has the scheme";
    routes_redirect_not_a_url: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"new-page\" }\n"), "routes[0].redirect.to", "neither a URL nor a path";
    routes_redirect_bad_port: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"https://a.test:99999/\" }\n"), "routes[0].redirect.to", "invalid port";
    routes_redirect_bad_host: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"https://a_b!/\" }\n"), "routes[0].redirect.to", "not a DNS name";
    routes_redirect_space: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"/a b\" }\n"), "routes[0].redirect.to", "contains ' '";
    routes_redirect_https_to_http: with_routes(true, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nredirect = { to = \"http://a.test/\" }\n"), "routes[0].redirect.to", "goes from HTTPS to HTTP";
    routes_fixed_without_status: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nfixed_response = { body = \"x\" }\n"), "routes[0].fixed_response.status", "required key `status`";
    routes_fixed_status_302: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nfixed_response = { status = 302 }\n"), "routes[0].fixed_response.status", "is not a 2XX, 4XX or 5XX code";
    routes_fixed_content_type: with_routes(false, "[[routes]]\npriority = 5\npaths = [\"/x\"]\nfixed_response = { status = 404, content_type = \"text/xml\" }\n"), "routes[0].fixed_response.content_type", "is not one of";
    routes_fixed_body_too_long: with_routes(false, &format!("[[routes]]\npriority = 5\npaths = [\"/x\"]\nfixed_response = {{ status = 404, body = \"{}\" }}\n", "x".repeat(1025))), "routes[0].fixed_response.body", "1025 bytes";
}

// ---- auth ------------------------------------------------------------------------

const ISSUER: &str = "https://issuer.example.com";
const JWKS: &str = "https://issuer.example.com/jwks.json";

/// `[https]` and one route whose `auth` is `auth`.
fn auth_route(auth: &str) -> String {
    doc(
        "",
        HTTPS,
        &format!("[[functions.routes]]\npriority = 1\npaths = [\"/\"]\nauth = {auth}\n"),
    )
}

fn jwt(extra: &str) -> String {
    auth_route(&format!(
        "{{ jwt = {{ issuer = \"{ISSUER}\", jwks_endpoint = \"{JWKS}\"{extra} }} }}"
    ))
}

rule! {
    auth_needs_https: function(&format!("[[functions.routes]]\npriority = 1\npaths = [\"/\"]\nauth = {{ jwt = {{ issuer = \"{ISSUER}\", jwks_endpoint = \"{JWKS}\" }} }}\n")), "functions[0].routes[0].auth", "needs [https]";
    auth_without_a_kind: auth_route("{}"), "functions[0].routes[0].auth", "names no kind of authentication";
    auth_unknown_kind: auth_route("{ saml = {} }"), "functions[0].routes[0].auth.saml", "unknown key `saml`";
    jwt_issuer_missing: auth_route(&format!("{{ jwt = {{ jwks_endpoint = \"{JWKS}\" }} }}")), "functions[0].routes[0].auth.jwt.issuer", "missing required key `issuer`";
    jwt_jwks_missing: auth_route(&format!("{{ jwt = {{ issuer = \"{ISSUER}\" }} }}")), "functions[0].routes[0].auth.jwt.jwks_endpoint", "missing required key `jwks_endpoint`";
    jwt_issuer_not_https: auth_route(&format!("{{ jwt = {{ issuer = \"http://issuer.example.com\", jwks_endpoint = \"{JWKS}\" }} }}")), "functions[0].routes[0].auth.jwt.issuer", "is not an https URL";
    jwt_jwks_not_https: auth_route(&format!("{{ jwt = {{ issuer = \"{ISSUER}\", jwks_endpoint = \"ftp://x/jwks\" }} }}")), "functions[0].routes[0].auth.jwt.jwks_endpoint", "is not an https URL";
    jwt_jwks_without_host: auth_route(&format!("{{ jwt = {{ issuer = \"{ISSUER}\", jwks_endpoint = \"https:///jwks\" }} }}")), "functions[0].routes[0].auth.jwt.jwks_endpoint", "is not a URL with a host name";
    jwt_issuer_too_long: auth_route(&format!("{{ jwt = {{ issuer = \"https://{}.com\", jwks_endpoint = \"{JWKS}\" }} }}", "a".repeat(250))), "functions[0].routes[0].auth.jwt.issuer", "is 262 characters long";
    jwt_unknown_key: jwt(", audience = [\"a\"]"), "functions[0].routes[0].auth.jwt.audience", "unknown key `audience`";
    jwt_audiences_empty: jwt(", audiences = []"), "functions[0].routes[0].auth.jwt.audiences", "audiences has 0 values";
    jwt_too_many_audiences: jwt(&format!(", audiences = [{}]", (0..11).map(|i| format!("\"a{i}\"")).collect::<Vec<_>>().join(", "))), "functions[0].routes[0].auth.jwt.audiences", "audiences has 11 values";
    jwt_audience_twice: jwt(", audiences = [\"a\", \"a\"]"), "functions[0].routes[0].auth.jwt.audiences[1]", "listed twice";
    jwt_audience_empty_string: jwt(", audiences = [\"\"]"), "functions[0].routes[0].auth.jwt.audiences[0]", "is 0 characters long";
    https_auth_checked_too: section(&format!("{HTTPS}auth = {{ jwt = {{ issuer = \"{ISSUER}\", jwks_endpoint = \"http://x\" }} }}\n")), "https.auth.jwt.jwks_endpoint", "is not an https URL";
}

#[test]
fn a_route_takes_its_own_auth_or_the_https_default() {
    let own = RouteAuth::Jwt(JwtAuth {
        issuer: ISSUER.into(),
        jwks_endpoint: JWKS.into(),
        audiences: vec!["orders".into()],
    });
    let (_dir, c) = parse_ok(&jwt(", audiences = [\"orders\"]"));
    let route = &c.functions[0].routes[0];
    assert_eq!(route.auth.as_ref(), Some(&own));
    assert_eq!(c.route_auth(route), Some(&own));

    let default = format!(
        "{HTTPS}[https.auth.jwt]\nissuer = \"https://other.example.com\"\njwks_endpoint = \"{JWKS}\"\n"
    );
    let text = doc(
        "",
        &default,
        "[[functions.routes]]\npriority = 1\npaths = [\"/\"]\n",
    );
    let (_dir, c) = parse_ok(&text);
    let route = &c.functions[0].routes[0];
    assert_eq!(route.auth, None);
    let Some(RouteAuth::Jwt(j)) = c.route_auth(route) else {
        panic!("no default auth: {c:#?}");
    };
    assert_eq!(
        (j.issuer.as_str(), j.audiences.len()),
        ("https://other.example.com", 0)
    );

    // Without any, a route has none.
    let (_dir, c) = parse_ok(&section(HTTPS));
    assert!(c.https.as_ref().is_some_and(|h| h.auth.is_none()));
}

const POOL: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC";

fn cognito(arn: &str, client: &str, domain: &str) -> String {
    auth_route(&format!(
        "{{ cognito = {{ user_pool_arn = \"{arn}\", user_pool_client_id = \"{client}\", user_pool_domain = \"{domain}\" }} }}"
    ))
}

rule! {
    auth_two_kinds: auth_route(&format!("{{ jwt = {{ issuer = \"{ISSUER}\", jwks_endpoint = \"{JWKS}\" }}, cognito = {{}} }}")), "functions[0].routes[0].auth", "names 2 kinds of authentication";
    cognito_pool_missing: auth_route("{ cognito = { user_pool_client_id = \"c\", user_pool_domain = \"d\" } }"), "functions[0].routes[0].auth.cognito.user_pool_arn", "missing required key `user_pool_arn`";
    cognito_pool_not_an_arn: cognito("us-east-1_AbC", "c", "d"), "functions[0].routes[0].auth.cognito.user_pool_arn", "is not a Cognito user pool ARN";
    cognito_pool_of_another_service: cognito("arn:aws:iam::123456789012:role/x", "c", "d"), "functions[0].routes[0].auth.cognito.user_pool_arn", "not \"cognito-idp\"";
    cognito_client_id_invalid: cognito(POOL, "a b", "d"), "functions[0].routes[0].auth.cognito.user_pool_client_id", "is not a Cognito app client id";
    cognito_domain_with_scheme: cognito(POOL, "c", "https://login.example.com"), "functions[0].routes[0].auth.cognito.user_pool_domain", "is not a user pool domain";
    cognito_unknown_key: auth_route(&format!("{{ cognito = {{ user_pool_arn = \"{POOL}\", user_pool_client_id = \"c\", user_pool_domain = \"d\", scope = \"openid\" }} }}")), "functions[0].routes[0].auth.cognito.scope", "unknown key `scope`";
}

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-oidc-AbC";

/// An OIDC route whose `field` is `value` (a TOML value), the other keys valid.
fn oidc_with(field: &str, value: &str) -> String {
    let mut keys = vec![
        ("issuer", "\"https://login.example.com\"".to_owned()),
        (
            "authorization_endpoint",
            "\"https://login.example.com/authorize\"".to_owned(),
        ),
        (
            "token_endpoint",
            "\"https://login.example.com/token\"".to_owned(),
        ),
        (
            "user_info_endpoint",
            "\"https://login.example.com/userinfo\"".to_owned(),
        ),
        ("client_id", "\"app\"".to_owned()),
        (
            "client_secret",
            format!("{{ secretsmanager = \"{SECRET}\" }}"),
        ),
    ];
    keys.retain(|(k, _)| *k != field);
    if !value.is_empty() {
        keys.push((field, value.to_owned()));
    }
    let body: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    auth_route(&format!("{{ oidc = {{ {} }} }}", body.join(", ")))
}

const OIDC_AUTH: &str = "functions[0].routes[0].auth.oidc";

rule! {
    oidc_issuer_not_https: oidc_with("issuer", "\"http://login.example.com\""), &format!("{OIDC_AUTH}.issuer"), "is not an https URL";
    oidc_authorization_endpoint_not_https: oidc_with("authorization_endpoint", "\"http://login.example.com/a\""), &format!("{OIDC_AUTH}.authorization_endpoint"), "is not an https URL";
    oidc_token_endpoint_without_host: oidc_with("token_endpoint", "\"https:///token\""), &format!("{OIDC_AUTH}.token_endpoint"), "is not a URL with a host name";
    oidc_user_info_endpoint_missing: oidc_with("user_info_endpoint", ""), &format!("{OIDC_AUTH}.user_info_endpoint"), "missing required key `user_info_endpoint`";
    oidc_client_id_empty: oidc_with("client_id", "\"\""), &format!("{OIDC_AUTH}.client_id"), "is not an OAuth 2.0 client id";
    oidc_client_secret_missing: oidc_with("client_secret", ""), &format!("{OIDC_AUTH}.client_secret"), "missing required key `client_secret`";
    oidc_secret_not_secrets_manager: oidc_with("client_secret", "{ secretsmanager = \"arn:aws:ssm:us-east-1:123456789012:parameter/x\" }"), &format!("{OIDC_AUTH}.client_secret.secretsmanager"), "is not a Secrets Manager secret ARN";
    oidc_secret_unknown_store: oidc_with("client_secret", &format!("{{ secretsmanager = \"{SECRET}\", ssm = \"/x\" }}")), &format!("{OIDC_AUTH}.client_secret.ssm"), "unknown key `ssm`";
    oidc_secret_too_long: oidc_with("client_secret", &format!("{{ secretsmanager = \"{SECRET}{}\" }}", "a".repeat(200))), &format!("{OIDC_AUTH}.client_secret.secretsmanager"), "at most 256";
    oidc_scope_without_openid: oidc_with("scope", "\"email profile\""), &format!("{OIDC_AUTH}.scope"), "with openid";
    oidc_without_https: function("[[functions.routes]]\npriority = 1\npaths = [\"/\"]\nauth = { oidc = {} }\n"), "functions[0].routes[0].auth", "needs [https]";
}

#[test]
fn an_oidc_secret_in_another_region_than_the_stacks_is_refused() {
    let text = oidc_with(
        "client_secret",
        &format!("{{ secretsmanager = \"{SECRET}\" }}"),
    )
    .replacen("[stack]\n", "[stack]\nregion = \"eu-west-1\"\n", 1);
    assert!(text.contains("region = \"eu-west-1\""), "{text}");
    let p = assert_problem(
        &text,
        &format!("{OIDC_AUTH}.client_secret.secretsmanager"),
        "is in us-east-1, but the stack is in eu-west-1",
    );
    assert!(p.help.contains("in eu-west-1"), "{}", p.help);
}

#[test]
fn a_literal_oidc_client_secret_is_refused_without_being_repeated() {
    let p = assert_problem(
        &oidc_with("client_secret", "\"hunter2-very-secret\""),
        &format!("{OIDC_AUTH}.client_secret"),
        "albkit takes it from Secrets Manager only",
    );
    assert!(
        p.help
            .contains("store the client secret in Secrets Manager"),
        "{}",
        p.help
    );
    assert!(
        p.help
            .contains("secretsmanager = \"arn:aws:secretsmanager:"),
        "{}",
        p.help
    );
    assert!(!format!("{p:?}").contains("hunter2"), "{p:?}");
    assert!(p.span.is_none(), "{p:?}");
    let p = assert_problem(
        &oidc_with(
            "client_secret",
            "{ secretsmanager = \"hunter2-very-secret\" }",
        ),
        &format!("{OIDC_AUTH}.client_secret.secretsmanager"),
        "is not an ARN",
    );
    assert!(
        !format!("{p:?}").contains("hunter2") && p.span.is_none(),
        "{p:?}"
    );
}

#[test]
fn an_oidc_login_is_read_with_the_default_scope() {
    let (_dir, c) = parse_ok(&oidc_with("scope", ""));
    let route = &c.functions[0].routes[0];
    let want = OidcAuth {
        issuer: "https://login.example.com".into(),
        authorization_endpoint: "https://login.example.com/authorize".into(),
        token_endpoint: "https://login.example.com/token".into(),
        user_info_endpoint: "https://login.example.com/userinfo".into(),
        client_id: "app".into(),
        client_secret_arn: SECRET.into(),
        scope: "openid".into(),
    };
    assert_eq!(c.route_auth(route), Some(&RouteAuth::Oidc(want)));
    assert_eq!(c.oidc_client_secrets(), vec![SECRET]);
    let (_dir, c) = parse_ok(&oidc_with("scope", "\"openid email\""));
    let Some(RouteAuth::Oidc(o)) = c.route_auth(&c.functions[0].routes[0]) else {
        panic!("not an OIDC login");
    };
    assert_eq!(o.scope, "openid email");
}

#[test]
fn a_cognito_login_is_read() {
    let (_dir, c) = parse_ok(&cognito(POOL, "1example23", "login.example.com"));
    let route = &c.functions[0].routes[0];
    assert_eq!(
        c.route_auth(route),
        Some(&RouteAuth::Cognito(CognitoAuth {
            user_pool_arn: POOL.into(),
            user_pool_client_id: "1example23".into(),
            user_pool_domain: "login.example.com".into(),
        }))
    );
}

// ---- attach mode (docs/attach.md) ----------------------------------------------

const LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/0123456789abcdef/aaaa1111bbbb2222";
const HTTP_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/0123456789abcdef/cccc3333dddd4444";

/// An attach-mode file: `[load_balancer]` with `listener_arn` and `lb_extra`, then
/// `sections`, then the function with one route under `/orders` and `route_extra`.
fn attached(lb_extra: &str, sections: &str, route_extra: &str) -> String {
    doc(
        "region = \"us-east-1\"\n",
        &format!("[load_balancer]\nlistener_arn = \"{LISTENER}\"\n{lb_extra}\n{sections}"),
        &format!("[[functions.routes]]\npriority = 10\n{route_extra}\n"),
    )
}

fn attached_ok(route: &str) -> String {
    attached(
        "",
        "",
        &format!("paths = [\"/orders\", \"/orders/*\"]\n{route}"),
    )
}

#[test]
fn attach_mode_reads_both_listeners_and_the_range() {
    let text = attached(
        &format!("http_listener_arn = \"{HTTP_LISTENER}\"\npriority_range = [1000, 1999]\n"),
        "",
        "hosts = [\"orders.example.com\"]\n",
    );
    let (_dir, c) = parse_ok(&text);
    let attach = c.load_balancer.attach.expect("attach mode");
    assert_eq!(attach.listener_arn.as_str(), LISTENER);
    assert_eq!(
        attach
            .http_listener_arn
            .as_ref()
            .map(crate::model::ids::ListenerArn::as_str),
        Some(HTTP_LISTENER)
    );
    assert_eq!(
        attach.priority_range,
        PriorityRange {
            from: 1000,
            to: 1999
        }
    );
    assert_eq!(attach.listeners().len(), 2);
    // Without a range: the whole of ALB's; defaults of the load balancer's keys do not
    // stand in the way.
    let (_dir, c) = parse_ok(&attached_ok(""));
    let attach = c.load_balancer.attach.expect("attach mode");
    assert_eq!(attach.priority_range, PriorityRange::ALL);
    assert_eq!(attach.http_listener_arn, None);
    let (_dir, c) = parse_ok(&function(""));
    assert_eq!(c.load_balancer.attach, None);
}

rule_help! {
    attach_listener_arn_not_an_arn: attached("", "", "paths = [\"/a\"]\n").replace(LISTENER, "my-listener"), "load_balancer.listener_arn", "is not a listener ARN", "describe-listeners";
    attach_listener_arn_of_a_load_balancer: attached("", "", "paths = [\"/a\"]\n").replace("listener/app/shared/0123456789abcdef/aaaa1111bbbb2222", "loadbalancer/app/shared/0123456789abcdef"), "load_balancer.listener_arn", "a rule's or a load balancer's ARN", "ListenerArn";
    attach_listener_arn_of_a_network_load_balancer: attached("", "", "paths = [\"/a\"]\n").replace("listener/app/", "listener/net/"), "load_balancer.listener_arn", "Network or Gateway Load Balancer", "ListenerArn";
    attach_listener_arn_other_region: attached("", "", "paths = [\"/a\"]\n").replace("us-east-1:123456789012", "eu-west-1:123456789012"), "load_balancer.listener_arn", "is in eu-west-1, but the stack is in us-east-1", "attach to a listener in us-east-1";
    attach_http_listener_arn_not_an_arn: attached("http_listener_arn = \"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0123\"\n", "", "paths = [\"/a\"]\n"), "load_balancer.http_listener_arn", "is not a listener ARN", "describe-listeners";
    attach_http_listener_same_as_main: attached(&format!("http_listener_arn = \"{LISTENER}\"\n"), "", "paths = [\"/a\"]\n"), "load_balancer.listener_arn", "name the same listener", "remove `http_listener_arn`";
    attach_http_listener_other_load_balancer: attached(&format!("http_listener_arn = \"{}\"\n", HTTP_LISTENER.replace("shared", "other")), "", "paths = [\"/a\"]\n"), "load_balancer.http_listener_arn", "another load balancer", "same load balancer";
    attach_http_listener_without_listener_arn: section(&format!("[load_balancer]\nhttp_listener_arn = \"{HTTP_LISTENER}\"\n")), "load_balancer.http_listener_arn", "needs `listener_arn`", "add `listener_arn";
    attach_priority_range_without_listener_arn: section("[load_balancer]\npriority_range = [1, 10]\n"), "load_balancer.priority_range", "needs `listener_arn`", "or remove `priority_range`";
    attach_priority_range_not_a_pair: attached("priority_range = [5]\n", "", "paths = [\"/a\"]\n"), "load_balancer.priority_range", "must be two integers [from, to]", "[1000, 1999]";
    attach_priority_range_not_integers: attached("priority_range = \"1-10\"\n", "", "paths = [\"/a\"]\n"), "load_balancer.priority_range", "must be two integers", "the lower first";
    attach_priority_range_out_of_range: attached("priority_range = [0, 50001]\n", "", "paths = [\"/a\"]\n"), "load_balancer.priority_range", "out of range (1–50000)", "from 1 to 50000";
    attach_priority_range_reversed: attached("priority_range = [20, 10]\n", "", "paths = [\"/a\"]\n"), "load_balancer.priority_range", "ends before it starts", "`priority_range = [10, 20]`";
    attach_refuses_load_balancer_settings: attached("access_logs = false\n", "", "paths = [\"/a\"]\n"), "load_balancer.access_logs", "cannot be combined with `listener_arn`", "ask the load balancer's owner";
    attach_refuses_ip_address_type: attached("ip_address_type = \"dualstack\"\n", "", "paths = [\"/a\"]\n"), "load_balancer.ip_address_type", "cannot be combined with `listener_arn`", "remove `ip_address_type`";
    attach_refuses_network: attached("", "[network]\ncidr = \"10.1.0.0/16\"\n", "paths = [\"/a\"]\n"), "network", "[network] cannot be combined with load_balancer.listener_arn", "remove [network]";
    attach_refuses_https: attached("", "[https]\ndomain = \"api.example.com\"\n", "paths = [\"/a\"]\n"), "https", "[https] cannot be combined", "remove [https]";
    attach_refuses_https_headers: attached("", "[https]\ndomain = \"api.example.com\"\n[https.headers]\nserver = false\n", "paths = [\"/a\"]\n"), "https", "[https] cannot be combined", "response headers are its owner's";
    attach_refuses_waf: attached("", "[waf]\nmanaged_rules = []\n", "paths = [\"/a\"]\n"), "waf", "[waf] cannot be combined", "remove [waf]";
    attach_refuses_alarms: attached("", "[alarms]\n", "paths = [\"/a\"]\n"), "alarms", "[alarms] cannot be combined", "remove [alarms]";
    attach_refuses_route_auth: attached_ok("[functions.routes.auth.jwt]\nissuer = \"https://issuer.example.com\"\njwks_endpoint = \"https://issuer.example.com/jwks.json\"\n"), "functions[0].routes[0].auth", "cannot be combined with load_balancer.listener_arn", "remove `auth`";
    attach_route_without_host_or_path: attached("", "", "methods = [\"GET\"]\n"), "functions[0].routes[0]", "matches every request", "give it `hosts` or `paths`";
    attach_route_catch_all_path: attached("", "", "paths = [\"/*\"]\n"), "functions[0].routes[0]", "matches every request", "hosts = [\"orders.example.com\"]";
    attach_static_route_catch_all: format!("{}[[routes]]\npriority = 20\npaths = [\"*\"]\nfixed_response = {{ status = 404 }}\n", attached_ok("")), "routes[0]", "matches every request", "give it `hosts` or `paths`";
}

#[test]
fn attach_an_empty_network_table_asks_for_nothing() {
    let (_dir, c) = parse_ok(&attached("", "[network]\n", "paths = [\"/a\"]\n"));
    assert!(c.load_balancer.attach.is_some());
    assert!(
        !c.load_balancer.access_logs,
        "the shared load balancer's logs are not albkit's"
    );
}

#[test]
fn attach_a_catch_all_path_on_a_host_is_a_route_of_its_own() {
    let (_dir, c) = parse_ok(&attached(
        "",
        "",
        "paths = [\"/*\"]\nhosts = [\"orders.example.com\"]\n",
    ));
    assert!(c.load_balancer.attach.is_some());
}

// ---- [https.mtls] -----------------------------------------------------------------

mod mtls {
    use super::*;

    const CA: &str = include_str!("../../../tests/fixtures/mtls/ca-one.pem");
    const LEAF: &str = include_str!("../../../tests/fixtures/mtls/leaf.pem");
    const HTTPS: &str = "[https]\ndomain = \"api.example.com\"\n";

    /// The config with `mtls = { ca_bundle = "certs/ca.pem" }`, the file holding `pem`
    /// (no file when `None`).
    fn parse_with(pem: Option<&[u8]>) -> Result<Config, Vec<Problem>> {
        let dir = project();
        if let Some(pem) = pem {
            fs::create_dir_all(dir.path().join("certs")).expect("mkdir");
            fs::write(dir.path().join("certs/ca.pem"), pem).expect("write");
        }
        let text = section(&format!(
            "{HTTPS}mtls = {{ ca_bundle = \"certs/ca.pem\" }}\n"
        ));
        parse_str(&text, dir.path())
    }

    #[track_caller]
    fn refused(pem: Option<&[u8]>, needle: &str) {
        let problems = parse_with(pem).expect_err("refused");
        let p = problems
            .iter()
            .find(|p| p.key == "https.mtls.ca_bundle" && p.message.contains(needle))
            .unwrap_or_else(|| panic!("no problem containing {needle:?}: {problems:#?}"));
        assert!(!p.help.trim().is_empty());
    }

    #[test]
    fn a_bundle_of_ca_certificates_is_read_and_checked() {
        let config = parse_with(Some(CA.as_bytes())).expect("valid");
        let mtls = config.https.and_then(|h| h.mtls).expect("mtls");
        assert_eq!(mtls.path, "certs/ca.pem");
        assert_eq!(mtls.bundle.certificates, 1);
        assert_eq!(mtls.bundle.pem, CA.as_bytes());
    }

    #[test]
    fn the_section_form_is_the_same() {
        let dir = project();
        fs::create_dir_all(dir.path().join("certs")).expect("mkdir");
        fs::write(dir.path().join("certs/ca.pem"), CA).expect("write");
        let text = section(&format!(
            "{HTTPS}\n[https.mtls]\nca_bundle = \"certs/ca.pem\"\n"
        ));
        let config = parse_str(&text, dir.path()).expect("valid");
        assert!(config.https.and_then(|h| h.mtls).is_some());
    }

    #[test]
    fn a_missing_bundle_is_refused() {
        refused(None, "ca_bundle \"certs/ca.pem\" does not exist");
    }

    #[test]
    fn a_bundle_without_a_certificate_is_refused() {
        refused(Some(b"nothing here\n"), "holds no PEM CERTIFICATE block");
    }

    #[test]
    fn a_bundle_with_another_block_is_refused() {
        let key = format!("{CA}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        refused(Some(key.as_bytes()), "is a \"PRIVATE KEY\" block");
    }

    #[test]
    fn a_certificate_that_is_not_x509_is_refused() {
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        refused(Some(junk.as_bytes()), "is not a valid X.509 certificate");
    }

    #[test]
    fn a_certificate_that_is_not_a_ca_is_refused() {
        let both = format!("{CA}{LEAF}");
        refused(Some(both.as_bytes()), "is not a CA certificate");
    }

    #[test]
    fn a_bundle_over_aws_limit_is_refused() {
        let big = vec![b'#'; crate::model::mtls::MAX_BUNDLE_BYTES + 1];
        refused(Some(&big), "more than the 1000000 bytes");
    }

    #[test]
    fn ca_bundle_is_required() {
        let text = section(&format!("{HTTPS}mtls = {{}}\n"));
        assert_problem(&text, "https.mtls.ca_bundle", "");
    }

    #[test]
    fn mtls_is_only_known_inside_https() {
        let text = section("[load_balancer]\nmtls = { ca_bundle = \"x.pem\" }\n");
        assert_problem(&text, "load_balancer.mtls", "");
    }
}
