//! The whole stack against a moto server: what `up` builds, that a second `up` changes
//! nothing, that config changes update in place or delete, and that `down` removes
//! everything (or keeps the logs). Everything is checked through the AWS SDK.

use crate::support::inventory::{self, Kind, Roles, Scope, RESOURCES};
use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project, ACCOUNT_ID};
use aws_sdk_ec2::types::Filter;

const REGION: &str = "us-east-1";

struct Clients {
    cfg: aws_config::SdkConfig,
    ec2: aws_sdk_ec2::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    lambda: aws_sdk_lambda::Client,
    iam: aws_sdk_iam::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    s3: aws_sdk_s3::Client,
    acm: aws_sdk_acm::Client,
    route53: aws_sdk_route53::Client,
}

async fn clients(moto: &Moto, region: &str) -> Clients {
    let cfg = sdk_config(moto, region).await;
    Clients {
        ec2: aws_sdk_ec2::Client::new(&cfg),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
        lambda: aws_sdk_lambda::Client::new(&cfg),
        iam: aws_sdk_iam::Client::new(&cfg),
        logs: aws_sdk_cloudwatchlogs::Client::new(&cfg),
        s3: crate::support::s3_client(&cfg),
        acm: aws_sdk_acm::Client::new(&cfg),
        route53: aws_sdk_route53::Client::new(&cfg),
        cfg,
    }
}

fn stack_filter(stack: &str) -> Filter {
    Filter::builder()
        .name("tag:albkit:stack")
        .values(stack)
        .build()
}

fn minimal_config(stack: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[[functions]]
name = "hello"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = ["/hello", "/hello/*"]
"#
    )
}

fn bucket(stack: &str, region: &str) -> String {
    format!("albkit-{stack}-logs-{ACCOUNT_ID}-{region}")
}

/// Everything albkit may have left of a stack (its certificates too), as `kind id`;
/// empty means nothing is left.
async fn leftovers(c: &Clients, stack: &str, region: &str) -> Vec<String> {
    let scope = Scope {
        stack,
        region,
        account: ACCOUNT_ID,
        roles: Roles::AllRegions,
    };
    let mut kinds = RESOURCES.to_vec();
    kinds.push(Kind::Certificate);
    inventory::leftovers(&c.cfg, &scope, &kinds).await
}

async fn ids_of(c: &Clients, stack: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let vpcs = c
        .ec2
        .describe_vpcs()
        .filters(stack_filter(stack))
        .send()
        .await
        .expect("vpcs");
    ids.extend(
        vpcs.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_string)),
    );
    let subnets = c
        .ec2
        .describe_subnets()
        .filters(stack_filter(stack))
        .send()
        .await
        .expect("subnets");
    let mut s: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|v| v.subnet_id().map(str::to_string))
        .collect();
    s.sort();
    ids.extend(s);
    let lbs = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("lb");
    ids.extend(
        lbs.load_balancers()
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_string)),
    );
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn minimal_stack_up_is_complete_idempotent_and_down_removes_it() {
    let moto = Moto::shared();
    let stack = unique_stack_name("minimal");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let c = clients(moto, REGION).await;

    let up = albkit(moto, &project, REGION, &["up", "--yes", "-o", "json"]);
    up.ok();
    let doc = up.json();
    assert_eq!(doc["counts"]["created"], 14, "{doc}");
    let dns = doc["dns_name"].as_str().expect("dns name").to_string();
    assert_eq!(doc["url"], format!("http://{dns}"));

    // Network: VPC with DNS on, two subnets in two AZs, IGW attached, default route.
    let vpcs = c
        .ec2
        .describe_vpcs()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("vpcs");
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc = vpcs.vpcs()[0].vpc_id().expect("vpc id").to_string();
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let out = c
            .ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc)
            .attribute(attr.clone())
            .send()
            .await
            .expect("attr");
        let on = out
            .enable_dns_support()
            .or(out.enable_dns_hostnames())
            .and_then(aws_sdk_ec2::types::AttributeBooleanValue::value);
        assert_eq!(on, Some(true), "{attr:?}");
    }
    let subnets = c
        .ec2
        .describe_subnets()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("subnets");
    assert_eq!(subnets.subnets().len(), 2);
    let azs: std::collections::BTreeSet<_> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    assert_eq!(azs.len(), 2, "one subnet per AZ");
    let igws = c
        .ec2
        .describe_internet_gateways()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("igw");
    assert_eq!(
        igws.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(vpc.as_str())
    );
    let rts = c
        .ec2
        .describe_route_tables()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("rt");
    let rt = &rts.route_tables()[0];
    assert!(rt
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
            && r.gateway_id() == igws.internet_gateways()[0].internet_gateway_id()));
    assert_eq!(
        rt.associations()
            .iter()
            .filter(|a| a.subnet_id().is_some())
            .count(),
        2
    );

    // Security group: port 80 only, from everywhere (IPv4 and IPv6).
    let sgs = c
        .ec2
        .describe_security_groups()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("sg");
    let perms = sgs.security_groups()[0].ip_permissions();
    assert!(
        perms
            .iter()
            .all(|p| p.from_port() == Some(80) && p.to_port() == Some(80)),
        "{perms:?}"
    );
    assert!(perms.iter().any(|p| p
        .ip_ranges()
        .iter()
        .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))));
    // The load balancer is IPv4-only: nothing lets IPv6 in.
    assert!(
        perms.iter().all(|p| p.ipv6_ranges().is_empty()),
        "{perms:?}"
    );

    // Log bucket: private, encrypted, owner-enforced, expiring, ELB may write.
    let b = bucket(&stack, REGION);
    let pab =
        c.s3.get_public_access_block()
            .bucket(&b)
            .send()
            .await
            .expect("pab");
    let pab = pab.public_access_block_configuration().expect("pab config");
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc =
        c.s3.get_bucket_encryption()
            .bucket(&b)
            .send()
            .await
            .expect("encryption");
    assert!(enc.server_side_encryption_configuration().is_some());
    let life =
        c.s3.get_bucket_lifecycle_configuration()
            .bucket(&b)
            .send()
            .await
            .expect("lifecycle");
    assert_eq!(
        life.rules()[0]
            .expiration()
            .and_then(aws_sdk_s3::types::LifecycleExpiration::days),
        Some(30)
    );
    let policy =
        c.s3.get_bucket_policy()
            .bucket(&b)
            .send()
            .await
            .expect("policy");
    let policy: serde_json::Value =
        serde_json::from_str(policy.policy().unwrap_or_default()).expect("json");
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::127311923021:root",
        "us-east-1 ELB account"
    );
    assert_eq!(
        policy["Statement"][1]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );

    // Load balancer and attributes.
    let lbs = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("lb");
    let lb = &lbs.load_balancers()[0];
    let lb_arn = lb.load_balancer_arn().expect("arn").to_string();
    assert_eq!(
        lb.scheme()
            .map(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::as_str),
        Some("internet-facing")
    );
    let attrs = c
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .expect("attrs");
    let attr = |k: &str| {
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(k))
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(
        attr("routing.http.drop_invalid_header_fields.enabled").as_deref(),
        Some("true")
    );
    assert_eq!(attr("access_logs.s3.enabled").as_deref(), Some("true"));
    assert_eq!(attr("access_logs.s3.bucket"), Some(b.clone()));
    assert_eq!(attr("idle_timeout.timeout_seconds").as_deref(), Some("60"));

    // Listener 80 with the fixed 404, one rule forwarding to the lambda target group.
    let all = listeners(&c, &stack).await;
    assert_eq!(all.len(), 1);
    let l = &all[0];
    assert_eq!(l.port(), Some(80));
    let fixed = l.default_actions()[0]
        .fixed_response_config()
        .expect("fixed response");
    assert_eq!(fixed.status_code(), Some("404"));
    let rules = c
        .elb
        .describe_rules()
        .listener_arn(l.listener_arn().expect("arn"))
        .send()
        .await
        .expect("rules");
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("10"))
        .expect("rule 10");
    let paths = rule
        .conditions()
        .iter()
        .find(|c| c.field() == Some("path-pattern"))
        .and_then(|c| c.path_pattern_config())
        .map(|p| p.values().to_vec());
    assert_eq!(
        paths,
        Some(vec!["/hello".to_string(), "/hello/*".to_string()])
    );
    let tg_arn = rule.actions()[0]
        .target_group_arn()
        .expect("forward")
        .to_string();
    let tgs = c
        .elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .expect("tg");
    assert_eq!(
        tgs.target_groups()[0]
            .target_type()
            .map(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::as_str),
        Some("lambda")
    );
    assert_eq!(
        tgs.target_groups()[0].health_check_enabled(),
        Some(false),
        "health check off by default"
    );

    // Function: provided.al2023, bootstrap, alias live, registered, permission scoped.
    let name = format!("{stack}--hello");
    let f = c
        .lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await
        .expect("function");
    assert_eq!(
        f.runtime().map(aws_sdk_lambda::types::Runtime::as_str),
        Some("provided.al2023")
    );
    assert_eq!(f.handler(), Some("bootstrap"));
    assert_eq!(f.memory_size(), Some(128));
    let alias = c
        .lambda
        .get_alias()
        .function_name(&name)
        .name("live")
        .send()
        .await
        .expect("alias");
    let alias_arn = alias.alias_arn().expect("alias arn").to_string();
    let health = c
        .elb
        .describe_target_health()
        .target_group_arn(&tg_arn)
        .send()
        .await
        .expect("health");
    assert_eq!(
        health.target_health_descriptions()[0]
            .target()
            .and_then(|t| t.id()),
        Some(alias_arn.as_str())
    );
    let policy = c
        .lambda
        .get_policy()
        .function_name(&name)
        .qualifier("live")
        .send()
        .await
        .expect("policy");
    let policy: serde_json::Value =
        serde_json::from_str(policy.policy().unwrap_or_default()).expect("json");
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"]["Service"],
        "elasticloadbalancing.amazonaws.com"
    );
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        tg_arn.as_str()
    );

    // Role and log group.
    let role = c
        .iam
        .get_role()
        .role_name(format!("albkit-{stack}--hello-{REGION}"))
        .send()
        .await
        .expect("role");
    assert!(role
        .role()
        .expect("role")
        .tags()
        .iter()
        .any(|t| t.key() == "albkit:stack" && t.value() == stack));
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(format!("albkit-{stack}--hello-{REGION}"))
        .send()
        .await
        .expect("policies");
    assert!(attached.attached_policies().is_empty());
    let inline = c
        .iam
        .list_role_policies()
        .role_name(format!("albkit-{stack}--hello-{REGION}"))
        .send()
        .await
        .expect("inline policies");
    assert_eq!(inline.policy_names(), ["albkit-execution"]);
    let groups = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{name}"))
        .send()
        .await
        .expect("groups");
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));

    // Second up: nothing changes, every id is kept, plan --detailed-exitcode says 0.
    let before = ids_of(&c, &stack).await;
    let again = albkit(moto, &project, REGION, &["up", "--yes", "-o", "json"]);
    again.ok();
    assert_eq!(again.json()["counts"]["unchanged"], 14, "{}", again.json());
    assert_eq!(again.json()["counts"]["created"], 0);
    assert_eq!(ids_of(&c, &stack).await, before);
    albkit(moto, &project, REGION, &["plan", "--detailed-exitcode"]).code_is(0);
    let versions = c
        .lambda
        .list_versions_by_function()
        .function_name(&name)
        .send()
        .await
        .expect("versions");
    assert_eq!(
        versions.versions().len(),
        2,
        "$LATEST and version 1 only: unchanged code publishes nothing"
    );

    // down without --purge-logs keeps the bucket and the log group.
    let down = albkit(moto, &project, REGION, &["down", "--yes", "-o", "json"]);
    down.ok();
    let kept: Vec<String> = down.json()["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .map(|k| k["logical"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        kept.contains(&"log-bucket".to_string()) && kept.contains(&"log-group/hello".to_string()),
        "{kept:?}"
    );
    let left = leftovers(&c, &stack, REGION).await;
    assert_eq!(left.len(), 2, "only the logs are kept: {left:?}");

    // down --purge-logs removes them; down again is fine.
    albkit(moto, &project, REGION, &["down", "--yes", "--purge-logs"]).ok();
    assert!(leftovers(&c, &stack, REGION).await.is_empty());
    let twice = albkit(moto, &project, REGION, &["down", "--yes"]);
    twice.ok();
    assert!(twice.stderr.contains("does not exist"), "{twice}");
}

async fn hosted_zone(c: &Clients, domain: &str) -> String {
    let out = c
        .route53
        .create_hosted_zone()
        .name(domain)
        .caller_reference(format!("albkit-test-{domain}"))
        .send()
        .await
        .expect("hosted zone");
    out.hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
}

async fn records(c: &Clients, zone: &str) -> Vec<(String, String)> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("records");
    out.resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type().as_str(), "NS" | "SOA"))
        .map(|r| (r.name().to_string(), r.r#type().as_str().to_string()))
        .collect()
}

fn https_config(
    stack: &str,
    domain: &str,
    zone: &str,
    with_admin: bool,
    api_memory: u32,
) -> String {
    let mut s = format!(
        r#"[stack]
name = "{stack}"
tags = {{ team = "api" }}

[load_balancer]
idle_timeout_seconds = 120

[https]
domain = "{domain}"
hosted_zone_id = "{zone}"

[[functions]]
name = "api"
path = "functions/hello"
memory_mb = {api_memory}
multi_value_headers = true

[[functions.routes]]
priority = 10
paths = ["/api", "/api/*"]
methods = ["GET", "POST"]
"#
    );
    if with_admin {
        s.push_str(&format!(
            r#"
[[functions]]
name = "admin"
path = "functions/hello"
health_check = {{ path = "/health", interval_seconds = 60 }}
environment = {{ RUST_LOG = "debug" }}

[[functions.routes]]
priority = 20
paths = ["/admin/*"]
hosts = ["{domain}"]

[[functions.routes]]
priority = 30
paths = ["/admin-legacy"]
"#
        ));
    }
    s
}

/// The listener attribute that carries the HTTPS listener's `Strict-Transport-Security`.
const HSTS: &str = "routing.http.response.strict_transport_security.header_value";

/// One attribute of a listener, read through the SDK.
async fn listener_attribute(c: &Clients, listener: &str, key: &str) -> Option<String> {
    c.elb
        .describe_listener_attributes()
        .listener_arn(listener)
        .send()
        .await
        .expect("DescribeListenerAttributes")
        .attributes()
        .iter()
        .find(|a| a.key() == Some(key))
        .and_then(|a| a.value())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn https_stack_with_two_functions_updates_in_place_and_tears_down_completely() {
    let moto = Moto::shared();
    let region = "eu-west-1";
    let stack = unique_stack_name("https");
    let domain = format!("{stack}.example.com");
    let c = clients(moto, region).await;
    let zone = hosted_zone(&c, &domain).await;
    let project = Project::from_template("hello", &stack);
    project.with_config(&https_config(
        &stack,
        &format!("api.{domain}"),
        &zone,
        true,
        256,
    ));

    let up = albkit(moto, &project, region, &["up", "--yes", "-o", "json"]);
    up.ok();
    assert_eq!(up.json()["url"], format!("https://api.{domain}"));

    // Certificate issued, validated through the zone; 443 HTTPS with TLS 1.3 policy.
    let lbs = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("lb");
    let lb_arn = lbs.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_string();
    let all = listeners(&c, &stack).await;
    let https = all.iter().find(|l| l.port() == Some(443)).expect("443");
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    assert_eq!(
        listener_attribute(&c, https.listener_arn().expect("arn"), HSTS).await,
        Some("max-age=31536000; includeSubDomains".into())
    );
    let cert_arn = https.certificates()[0]
        .certificate_arn()
        .expect("cert")
        .to_string();
    let cert = c
        .acm
        .describe_certificate()
        .certificate_arn(&cert_arn)
        .send()
        .await
        .expect("cert");
    assert_eq!(
        cert.certificate()
            .and_then(|c| c.status())
            .map(aws_sdk_acm::types::CertificateStatus::as_str),
        Some("ISSUED")
    );
    let http = all.iter().find(|l| l.port() == Some(80)).expect("80");
    let redirect = http.default_actions()[0]
        .redirect_config()
        .expect("redirect");
    assert_eq!(
        (
            redirect.protocol(),
            redirect.port(),
            redirect
                .status_code()
                .map(aws_sdk_elasticloadbalancingv2::types::RedirectActionStatusCodeEnum::as_str)
        ),
        (Some("HTTPS"), Some("443"), Some("HTTP_301"))
    );
    let rules = c
        .elb
        .describe_rules()
        .listener_arn(https.listener_arn().expect("arn"))
        .send()
        .await
        .expect("rules");
    let priorities: Vec<&str> = rules
        .rules()
        .iter()
        .filter_map(|r| r.priority())
        .filter(|p| *p != "default")
        .collect();
    assert_eq!(priorities.len(), 3, "{priorities:?}");
    let r20 = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("20"))
        .expect("rule 20");
    assert!(r20
        .conditions()
        .iter()
        .any(|c| c.field() == Some("host-header")));
    let r10 = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("10"))
        .expect("rule 10");
    let methods = r10
        .conditions()
        .iter()
        .find(|c| c.field() == Some("http-request-method"))
        .and_then(|c| c.http_request_method_config())
        .map(|m| m.values().to_vec());
    assert_eq!(methods, Some(vec!["GET".to_string(), "POST".to_string()]));
    let sgs = c
        .ec2
        .describe_security_groups()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("sg");
    let ports: std::collections::BTreeSet<i32> = sgs.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter_map(aws_sdk_ec2::types::IpPermission::from_port)
        .collect();
    assert_eq!(ports, [80, 443].into_iter().collect());

    // DNS: the alias A record to the ALB (IPv4-only: no AAAA), plus the validation CNAME.
    let recs = records(&c, &zone).await;
    assert!(
        recs.contains(&(format!("api.{domain}."), "A".into())),
        "{recs:?}"
    );
    assert!(
        !recs.contains(&(format!("api.{domain}."), "AAAA".into())),
        "{recs:?}"
    );
    assert!(
        recs.iter().any(|(_, t)| t == "CNAME"),
        "validation record: {recs:?}"
    );

    // Target groups: multi-value on for api, health check for admin; tags everywhere.
    let tgs = c
        .elb
        .describe_target_groups()
        .names(format!("{stack}-api-{}", stack.len()))
        .names(format!("{stack}-admin-{}", stack.len()))
        .send()
        .await
        .expect("tgs");
    for tg in tgs.target_groups() {
        let arn = tg.target_group_arn().expect("arn");
        let attrs = c
            .elb
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .expect("attrs");
        let multi = attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("lambda.multi_value_headers.enabled"))
            .and_then(|a| a.value())
            .map(str::to_string);
        let is_api =
            tg.target_group_name() == Some(format!("{stack}-api-{}", stack.len()).as_str());
        assert_eq!(
            multi.as_deref(),
            Some(if is_api { "true" } else { "false" })
        );
        assert_eq!(tg.health_check_enabled(), Some(!is_api));
        if !is_api {
            assert_eq!(tg.health_check_path(), Some("/health"));
            assert_eq!(tg.health_check_interval_seconds(), Some(60));
        }
        let tags = c
            .elb
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .expect("tags");
        assert!(tags.tag_descriptions()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("api")));
    }
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Change: api memory 512 and idle timeout; admin removed with its routes; a shorter
    // HSTS max-age.
    let before = ids_of(&c, &stack).await;
    project.with_config(
        &https_config(&stack, &format!("api.{domain}"), &zone, false, 512)
            .replace("idle_timeout_seconds = 120", "idle_timeout_seconds = 90")
            .replace(
                &format!("hosted_zone_id = \"{zone}\"\n"),
                &format!("hosted_zone_id = \"{zone}\"\nhsts = \"max-age=600\"\n"),
            ),
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(2);
    let plan = albkit(moto, &project, region, &["plan", "-o", "json"]);
    plan.ok();
    let changes = plan.json()["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let action = |logical: &str| {
        changes
            .iter()
            .find(|c| c["logical"] == logical)
            .map(|c| c["action"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(action("function/api").as_deref(), Some("update"));
    assert_eq!(action("load-balancer").as_deref(), Some("update"));
    assert_eq!(action("function/admin").as_deref(), Some("delete"));
    assert_eq!(action("rule/20").as_deref(), Some("delete"));
    assert_eq!(action("listener/https").as_deref(), Some("update"));
    let hsts_field = changes
        .iter()
        .find(|c| c["logical"] == "listener/https")
        .and_then(|c| c["fields"].as_array())
        .and_then(|f| f.iter().find(|f| f["name"] == "hsts"))
        .cloned();
    assert_eq!(
        hsts_field.map(|f| (f["old"].clone(), f["new"].clone())),
        Some((
            "max-age=31536000; includeSubDomains".into(),
            "max-age=600".into()
        ))
    );
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(ids_of(&c, &stack).await, before, "updated in place");
    assert_eq!(
        listener_attribute(&c, https.listener_arn().expect("arn"), HSTS).await,
        Some("max-age=600".into())
    );
    let f = c
        .lambda
        .get_function_configuration()
        .function_name(format!("{stack}--api"))
        .qualifier("live")
        .send()
        .await
        .expect("api");
    assert_eq!(
        f.memory_size(),
        Some(512),
        "the live alias serves the new configuration"
    );
    let attrs = c
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .expect("attrs");
    assert!(attrs
        .attributes()
        .iter()
        .any(|a| a.key() == Some("idle_timeout.timeout_seconds") && a.value() == Some("90")));
    assert!(
        c.lambda
            .get_function()
            .function_name(format!("{stack}--admin"))
            .send()
            .await
            .is_err(),
        "admin deleted"
    );
    let rules = c
        .elb
        .describe_rules()
        .listener_arn(https.listener_arn().expect("arn"))
        .send()
        .await
        .expect("rules");
    assert_eq!(
        rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .count(),
        1
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // `hsts = false`: the header is no longer sent, and the next plan is empty.
    project.with_config(
        &https_config(&stack, &format!("api.{domain}"), &zone, false, 512)
            .replace("idle_timeout_seconds = 120", "idle_timeout_seconds = 90")
            .replace(
                &format!("hosted_zone_id = \"{zone}\"\n"),
                &format!("hosted_zone_id = \"{zone}\"\nhsts = false\n"),
            ),
    );
    let plan = albkit(moto, &project, region, &["plan"]);
    plan.ok();
    assert!(plan.stdout.contains("hsts: max-age=600 -> off"), "{plan}");
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(
        listener_attribute(&c, https.listener_arn().expect("arn"), HSTS).await,
        Some(String::new())
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Teardown leaves nothing tagged and no DNS records (the validation CNAME, shared
    // with other certificates of the domain, goes only when asked).
    albkit(
        moto,
        &project,
        region,
        &[
            "down",
            "--yes",
            "--purge-logs",
            "--delete-validation-records",
        ],
    )
    .ok();
    assert!(
        leftovers(&c, &stack, region).await.is_empty(),
        "{:?}",
        leftovers(&c, &stack, region).await
    );
    assert!(
        records(&c, &zone).await.is_empty(),
        "{:?}",
        records(&c, &zone).await
    );
}

/// The listeners of the stack's load balancer (`<stack>-alb`), read through the SDK.
async fn listeners(
    c: &Clients,
    stack: &str,
) -> Vec<aws_sdk_elasticloadbalancingv2::types::Listener> {
    let lbs = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let lb_arn = lbs.load_balancers()[0].load_balancer_arn().expect("arn");
    c.elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .expect("DescribeListeners")
        .listeners()
        .to_vec()
}

/// The listener's certificates other than its default one, sorted.
async fn extra_certificates(c: &Clients, listener: &str) -> Vec<String> {
    let mut arns: Vec<String> = c
        .elb
        .describe_listener_certificates()
        .listener_arn(listener)
        .send()
        .await
        .expect("DescribeListenerCertificates")
        .certificates()
        .iter()
        .filter(|c| c.is_default() != Some(true))
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect();
    arns.sort();
    arns
}

/// A certificate of the account, requested through the SDK (moto issues it).
async fn certificate(c: &Clients, domain: &str) -> String {
    c.acm
        .request_certificate()
        .domain_name(domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("RequestCertificate")
        .certificate_arn()
        .expect("arn")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn extra_sni_certificates_are_added_converged_and_removed() {
    let moto = Moto::shared();
    let region = "eu-west-2";
    let stack = unique_stack_name("sni");
    let domain = format!("{stack}.example.com");
    let c = clients(moto, region).await;
    let zone = hosted_zone(&c, &domain).await;
    let [a, b, other] = [
        certificate(&c, &format!("a.{domain}")).await,
        certificate(&c, &format!("b.{domain}")).await,
        certificate(&c, &format!("other.{domain}")).await,
    ];
    let project = Project::from_template("hello", &stack);
    let config = |extra: Option<&[&str]>| {
        let base = https_config(&stack, &format!("api.{domain}"), &zone, false, 128);
        let Some(extra) = extra else { return base };
        let list: Vec<String> = extra.iter().map(|a| format!("{a:?}")).collect();
        base.replace(
            &format!("hosted_zone_id = \"{zone}\"\n"),
            &format!(
                "hosted_zone_id = \"{zone}\"\nextra_certificate_arns = [{}]\n",
                list.join(", ")
            ),
        )
    };

    // Without the key, albkit leaves a certificate someone added by hand alone.
    project.with_config(&config(None));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let https = listeners(&c, &stack)
        .await
        .iter()
        .find(|l| l.port() == Some(443))
        .and_then(|l| l.listener_arn())
        .expect("443")
        .to_string();
    let by_hand = aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
        .certificate_arn(&other)
        .build();
    c.elb
        .add_listener_certificates()
        .listener_arn(&https)
        .certificates(by_hand)
        .send()
        .await
        .expect("AddListenerCertificates");
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // With the key, the list is exact: what it names is added, the rest removed.
    project.with_config(&config(Some(&[&b, &a])));
    let plan = albkit(moto, &project, region, &["plan"]);
    plan.ok();
    assert!(
        plan.stdout
            .contains("~ listener/https/certificates (listener-certificates)"),
        "{plan}"
    );
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(extra_certificates(&c, &https).await, want);
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // One fewer: removed in place, the listener itself untouched.
    project.with_config(&config(Some(&[&b])));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(extra_certificates(&c, &https).await, vec![b.clone()]);
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // `[]` removes them all.
    project.with_config(&config(Some(&[])));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert!(extra_certificates(&c, &https).await.is_empty());
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    project.with_config(&config(Some(&[&a])));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(extra_certificates(&c, &https).await, vec![a.clone()]);
    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(
        leftovers(&c, &stack, region).await.is_empty(),
        "{:?}",
        leftovers(&c, &stack, region).await
    );
    // The certificates themselves are the account's: still there.
    for arn in [&a, &b, &other] {
        c.acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .expect("certificate kept");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_config_is_rejected_before_any_aws_call() {
    let moto = Moto::shared();
    let stack = unique_stack_name("invalid");
    let project = Project::from_template("hello", &stack);
    project.with_config(&format!(
        "[stack]\nname = \"{stack}\"\nbogus = 1\n\n[[functions]]\nname = \"Bad_Name\"\npath = \"functions/hello\"\nmemory_mb = 64\n"
    ));
    let out = albkit(moto, &project, REGION, &["up", "--yes"]);
    out.code_is(2);
    for needle in ["stack.bogus", "functions[0].name", "functions[0].memory_mb"] {
        assert!(out.stderr.contains(needle), "{needle} missing from:\n{out}");
    }
    let c = clients(moto, REGION).await;
    assert!(leftovers(&c, &stack, REGION).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn up_without_terminal_or_yes_refuses_with_exit_2() {
    let moto = Moto::shared();
    let stack = unique_stack_name("noyes");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let out = albkit(moto, &project, REGION, &["up"]);
    out.code_is(2);
    assert!(out.stderr.contains("--yes"), "{out}");
    let c = clients(moto, REGION).await;
    assert!(
        leftovers(&c, &stack, REGION).await.is_empty(),
        "nothing created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_with_the_stack_name_but_not_its_tags_is_never_touched() {
    let moto = Moto::shared();
    let region = "us-west-2";
    let stack = unique_stack_name("foreign");
    let c = clients(moto, region).await;
    // Someone else's ALB that happens to have the name albkit would use.
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("id").to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-west-2a", "us-west-2b"].iter().enumerate() {
        let s = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.9.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .expect("subnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_string(),
        );
    }
    let theirs = c
        .elb
        .create_load_balancer()
        .name(format!("{stack}-alb"))
        .set_subnets(Some(subnets))
        .send()
        .await
        .expect("alb");
    let theirs = theirs.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_string();

    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let out = albkit(moto, &project, region, &["up", "--yes"]);
    out.code_is(1);
    assert!(
        out.stderr.contains("not the stack's") && out.stderr.contains("no albkit:stack tag"),
        "{out}"
    );
    // down leaves what is not the stack's, says so, and removes the rest (here: none).
    let down = albkit(moto, &project, region, &["down", "--yes"]);
    down.ok();
    assert!(down.stderr.contains("Left in place"), "{down}");
    let still = c
        .elb
        .describe_load_balancers()
        .load_balancer_arns(&theirs)
        .send()
        .await
        .expect("still there");
    assert_eq!(still.load_balancers().len(), 1);
    let c2 = clients(moto, region).await;
    let vpcs = c2
        .ec2
        .describe_vpcs()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("vpcs");
    assert!(
        vpcs.vpcs().is_empty(),
        "up stopped before creating anything"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_vpc_is_only_read_never_modified_or_deleted() {
    let moto = Moto::shared();
    let region = "ap-southeast-2";
    let stack = unique_stack_name("reuse");
    let c = clients(moto, region).await;
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("id").to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["ap-southeast-2a", "ap-southeast-2b"].iter().enumerate() {
        let s = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.42.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .expect("subnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_string(),
        );
    }
    let project = Project::from_template("hello", &stack);
    let config = format!(
        r#"[stack]
name = "{stack}"

[network]
vpc_id = "{vpc}"
subnet_ids = ["{}", "{}"]

[load_balancer]
scheme = "internal"
access_logs = false

[[functions]]
name = "hello"
path = "functions/hello"

[[functions.routes]]
priority = 1
paths = ["/*"]
"#,
        subnets[0], subnets[1]
    );
    project.with_config(&config);
    albkit(moto, &project, region, &["up", "--yes"]).ok();

    // Nothing of the network was created or tagged.
    let tagged = c
        .ec2
        .describe_vpcs()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("vpcs");
    assert!(tagged.vpcs().is_empty());
    let all_subnets = c
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .expect("subnets");
    assert_eq!(
        all_subnets.subnets().len(),
        2,
        "no subnet added to the reused VPC"
    );
    // The ALB lives in the given subnets, its security group in the VPC, open to the VPC CIDR only.
    let lbs = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("lb");
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.vpc_id(), Some(vpc.as_str()));
    assert_eq!(
        lb.scheme()
            .map(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::as_str),
        Some("internal")
    );
    let mut used: Vec<String> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    used.sort();
    let mut expected = subnets.clone();
    expected.sort();
    assert_eq!(used, expected);
    let sgs = c
        .ec2
        .describe_security_groups()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("sg");
    assert_eq!(sgs.security_groups()[0].vpc_id(), Some(vpc.as_str()));
    let cidrs: Vec<&str> = sgs.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(aws_sdk_ec2::types::IpPermission::ip_ranges)
        .filter_map(|r| r.cidr_ip())
        .collect();
    assert_eq!(cidrs, vec!["10.42.0.0/16"]);
    assert!(
        c.s3.head_bucket()
            .bucket(bucket(&stack, region))
            .send()
            .await
            .is_err(),
        "access_logs = false: no bucket"
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(leftovers(&c, &stack, region).await.is_empty());
    let still = c
        .ec2
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .expect("vpc still there");
    assert_eq!(still.vpcs().len(), 1);
    let still = c
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnets))
        .send()
        .await
        .expect("subnets still there");
    assert_eq!(still.subnets().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_vpc_that_does_not_exist_is_reported_before_anything_is_created() {
    let moto = Moto::shared();
    let stack = unique_stack_name("novpc");
    let project = Project::from_template("hello", &stack);
    project.with_config(&format!(
        "[stack]\nname = \"{stack}\"\n\n[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nsubnet_ids = [\"subnet-0123456789abcdef0\", \"subnet-0123456789abcdef1\"]\n\n[[functions]]\nname = \"hello\"\npath = \"functions/hello\"\n"
    ));
    let out = albkit(moto, &project, REGION, &["up", "--yes"]);
    out.code_is(2);
    assert!(
        out.stderr.contains("vpc-0123456789abcdef0") && out.stderr.contains("does not exist"),
        "{out}"
    );
    let c = clients(moto, REGION).await;
    assert!(leftovers(&c, &stack, REGION).await.is_empty());
}

/// `reserved_concurrency` is planned and converged as `function/<name>/concurrency`;
/// dropping the key removes the reservation, and one set by hand is drift.
#[tokio::test(flavor = "multi_thread")]
async fn reserved_concurrency_is_set_changed_and_removed() {
    let moto = Moto::shared();
    let region = "eu-central-1";
    let stack = unique_stack_name("rc");
    let p = Project::from_template("hello", &stack);
    let toml = p.read("albkit.toml");
    let with = |n: u32| {
        toml.replacen(
            "[[functions]]\n",
            &format!("[[functions]]\nreserved_concurrency = {n}\n"),
            1,
        )
    };
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(moto, region).await);
    let function = format!("{stack}--hello");
    let reserved = || async {
        lambda
            .get_function_concurrency()
            .function_name(&function)
            .send()
            .await
            .expect("GetFunctionConcurrency")
            .reserved_concurrent_executions()
    };

    p.write("albkit.toml", &with(5));
    let plan = albkit(moto, &p, region, &["plan"]);
    assert!(
        plan.ok()
            .stdout
            .contains("+ function/hello/concurrency (function-concurrency)"),
        "{plan}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(reserved().await, Some(5));
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);

    p.write("albkit.toml", &with(7));
    let plan = albkit(moto, &p, region, &["plan"]);
    let text = plan.ok().stdout.clone();
    assert!(
        text.contains("~ function/hello/concurrency") && text.contains("reserved: 5 -> 7"),
        "{text}"
    );
    assert!(
        !text.contains("~ function/hello (lambda-function)"),
        "the function itself is unchanged:\n{text}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(reserved().await, Some(7));

    p.write("albkit.toml", &toml);
    let plan = albkit(moto, &p, region, &["plan"]);
    assert!(
        plan.ok().stdout.contains("- function/hello/concurrency"),
        "{plan}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(reserved().await, None);

    // Set by hand while the config sets none: drift, removed by `up`.
    lambda
        .put_function_concurrency()
        .function_name(&function)
        .reserved_concurrent_executions(3)
        .send()
        .await
        .expect("PutFunctionConcurrency");
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(2);
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(reserved().await, None);
    albkit(moto, &p, region, &["down", "--yes", "--purge-logs"]).ok();
}

/// The attributes of `[https.headers]` albkit manages on the HTTPS listener, by key.
async fn header_attributes(c: &Clients, listener: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = c
        .elb
        .describe_listener_attributes()
        .listener_arn(listener)
        .send()
        .await
        .expect("DescribeListenerAttributes")
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .filter(|(k, v)| k.starts_with("routing.http.response.") && !v.is_empty())
        .collect();
    out.sort();
    out
}

/// The rule at `priority` on `listener`, read through the SDK.
async fn rule_at(
    c: &Clients,
    listener: &str,
    priority: &str,
) -> Option<aws_sdk_elasticloadbalancingv2::types::Rule> {
    c.elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("DescribeRules")
        .rules()
        .iter()
        .find(|r| r.priority() == Some(priority))
        .cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn response_headers_and_the_cors_preflight_are_set_repaired_changed_and_removed() {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, FixedResponseActionConfig, ListenerAttribute,
    };
    let moto = Moto::shared();
    let region = "eu-west-3";
    let stack = unique_stack_name("hdrs");
    let domain = format!("{stack}.example.com");
    let c = clients(moto, region).await;
    let zone = hosted_zone(&c, &domain).await;
    let project = Project::from_template("hello", &stack);
    let config = |headers: &str| {
        https_config(&stack, &format!("api.{domain}"), &zone, false, 128)
            .replace("[[functions]]", &format!("{headers}\n[[functions]]"))
    };
    let full = "[https.headers]\nx_frame_options = \"DENY\"\nserver = false\n\
                [https.headers.cors]\nallow_origins = [\"https://app.example.com\"]\n\
                allow_methods = [\"GET\", \"POST\"]\nmax_age = 600\n";
    project.with_config(&config(full));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let https = listeners(&c, &stack)
        .await
        .iter()
        .find(|l| l.port() == Some(443))
        .and_then(|l| l.listener_arn())
        .expect("443")
        .to_string();
    let attr = |k: &str, v: &str| (format!("routing.http.response.{k}"), v.to_string());
    let mut want = vec![
        attr("access_control_allow_methods.header_value", "GET,POST"),
        attr(
            "access_control_allow_origin.header_value",
            "https://app.example.com",
        ),
        attr("access_control_max_age.header_value", "600"),
        attr("server.enabled", "false"),
        attr(
            "strict_transport_security.header_value",
            "max-age=31536000; includeSubDomains",
        ),
        attr("x_frame_options.header_value", "DENY"),
    ];
    want.sort();
    assert_eq!(header_attributes(&c, &https).await, want);
    // The preflight rule: every OPTIONS request, a fixed 204, at priority 1.
    let preflight = rule_at(&c, &https, "1").await.expect("preflight rule");
    let condition = &preflight.conditions()[0];
    assert_eq!(condition.field(), Some("http-request-method"));
    assert_eq!(
        condition
            .http_request_method_config()
            .map(|m| m.values().to_vec()),
        Some(vec!["OPTIONS".to_string()])
    );
    let fixed = preflight.actions()[0]
        .fixed_response_config()
        .expect("fixed response");
    assert_eq!(fixed.status_code(), Some("204"));
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Drift: a header changed and the preflight's answer changed by hand are planned and
    // repaired.
    c.elb
        .modify_listener_attributes()
        .listener_arn(&https)
        .attributes(
            ListenerAttribute::builder()
                .key("routing.http.response.x_frame_options.header_value")
                .value("SAMEORIGIN")
                .build(),
        )
        .send()
        .await
        .expect("ModifyListenerAttributes");
    let by_hand = Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("200")
                .content_type("text/plain")
                .message_body("ok")
                .build(),
        )
        .build();
    c.elb
        .modify_rule()
        .rule_arn(preflight.rule_arn().expect("arn"))
        .actions(by_hand)
        .send()
        .await
        .expect("ModifyRule");
    let plan = albkit(moto, &project, region, &["plan"]);
    plan.ok();
    assert!(
        plan.stdout.contains("x-frame-options: SAMEORIGIN"),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("fixed-response 200 text/plain ok -> fixed-response 204 text/plain"),
        "{plan}"
    );
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(header_attributes(&c, &https).await, want);
    let repaired = rule_at(&c, &https, "1").await.expect("preflight rule");
    assert_eq!(
        repaired.actions()[0]
            .fixed_response_config()
            .and_then(|f| f.status_code()),
        Some("204")
    );
    assert_eq!(
        repaired.rule_arn(),
        preflight.rule_arn(),
        "updated in place"
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Changed: any origin, no X-Frame-Options, the Server header back.
    project.with_config(&config(
        "[https.headers.cors]\nallow_origins = [\"*\"]\nallow_methods = [\"GET\", \"POST\"]\n\
         max_age = 600\n",
    ));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let mut want = vec![
        attr("access_control_allow_methods.header_value", "GET,POST"),
        attr("access_control_allow_origin.header_value", "*"),
        attr("access_control_max_age.header_value", "600"),
        attr("server.enabled", "true"),
        attr(
            "strict_transport_security.header_value",
            "max-age=31536000; includeSubDomains",
        ),
    ];
    want.sort();
    assert_eq!(header_attributes(&c, &https).await, want);
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Removed: only the default HSTS stays, and the preflight rule goes.
    project.with_config(&config(""));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(
        header_attributes(&c, &https).await,
        vec![
            attr("server.enabled", "true"),
            attr(
                "strict_transport_security.header_value",
                "max-age=31536000; includeSubDomains"
            ),
        ]
    );
    assert!(rule_at(&c, &https, "1").await.is_none());
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(
        leftovers(&c, &stack, region).await.is_empty(),
        "{:?}",
        leftovers(&c, &stack, region).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_without_a_function_are_created_repaired_changed_and_removed() {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
    };
    let moto = Moto::shared();
    let region = "ap-southeast-2";
    let stack = unique_stack_name("static");
    let c = clients(moto, region).await;
    let project = Project::from_template("hello", &stack);
    let config = |status: u16, body: &str| {
        format!(
            "{}\n[[routes]]\npriority = 5\npaths = [\"/old/*\"]\n\
             redirect = {{ to = \"https://new.example.com/v2/#{{path}}\", status = {status} }}\n\n\
             [[routes]]\npriority = 6\npaths = [\"/gone\"]\n\
             fixed_response = {{ status = 410, body = {body:?} }}\n",
            minimal_config(&stack)
        )
    };
    project.with_config(&config(301, "gone"));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let http = listeners(&c, &stack)
        .await
        .iter()
        .find(|l| l.port() == Some(80))
        .and_then(|l| l.listener_arn())
        .expect("80")
        .to_string();
    let redirect = rule_at(&c, &http, "5").await.expect("rule 5");
    let r = redirect.actions()[0].redirect_config().expect("redirect");
    assert_eq!(
        (
            r.protocol(),
            r.host(),
            r.port(),
            r.path(),
            r.query(),
            r.status_code().map(RedirectActionStatusCodeEnum::as_str)
        ),
        (
            Some("HTTPS"),
            Some("new.example.com"),
            Some("443"),
            Some("/v2/#{path}"),
            Some("#{query}"),
            Some("HTTP_301")
        )
    );
    let fixed = rule_at(&c, &http, "6").await.expect("rule 6");
    let f = fixed.actions()[0].fixed_response_config().expect("fixed");
    assert_eq!(
        (f.status_code(), f.content_type(), f.message_body()),
        (Some("410"), Some("text/plain"), Some("gone"))
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Drift: the redirect's host changed by hand is planned and repaired in place.
    let by_hand = Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .host("elsewhere.example.com")
                .port("443")
                .path("/v2/#{path}")
                .query("#{query}")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build();
    c.elb
        .modify_rule()
        .rule_arn(redirect.rule_arn().expect("arn"))
        .actions(by_hand)
        .send()
        .await
        .expect("ModifyRule");
    let plan = albkit(moto, &project, region, &["plan"]);
    plan.ok();
    assert!(
        plan.stdout.contains(
            "action: redirect HTTP_301 https://elsewhere.example.com:443/v2/#{path}?#{query} -> \
             redirect HTTP_301 https://new.example.com:443/v2/#{path}?#{query}"
        ),
        "{plan}"
    );
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let repaired = rule_at(&c, &http, "5").await.expect("rule 5");
    assert_eq!(repaired.rule_arn(), redirect.rule_arn(), "updated in place");
    assert_eq!(
        repaired.actions()[0]
            .redirect_config()
            .and_then(|r| r.host()),
        Some("new.example.com")
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Changed: a temporary redirect, another body.
    project.with_config(&config(302, "moved on"));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let r = rule_at(&c, &http, "5").await.expect("rule 5");
    assert_eq!(
        r.actions()[0]
            .redirect_config()
            .and_then(|r| r.status_code())
            .map(RedirectActionStatusCodeEnum::as_str),
        Some("HTTP_302")
    );
    let f = rule_at(&c, &http, "6").await.expect("rule 6");
    assert_eq!(
        f.actions()[0]
            .fixed_response_config()
            .and_then(|f| f.message_body()),
        Some("moved on")
    );
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Removed: both rules go, the function's route stays.
    project.with_config(&minimal_config(&stack));
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert!(rule_at(&c, &http, "5").await.is_none());
    assert!(rule_at(&c, &http, "6").await.is_none());
    assert!(rule_at(&c, &http, "10").await.is_some());
    albkit(moto, &project, region, &["plan", "--detailed-exitcode"]).code_is(0);

    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(
        leftovers(&c, &stack, region).await.is_empty(),
        "{:?}",
        leftovers(&c, &stack, region).await
    );
}
