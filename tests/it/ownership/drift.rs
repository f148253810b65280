//! Drift made by hand on what the stack owns, which `plan` must show and `up` must
//! repair: a changed `$LATEST` configuration of the function (the next publication
//! would ship it), and security-group rules of every shape added to the stack's group.
//! Everything is made and checked through the AWS SDK.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    AddPrefixListEntry, Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair,
};
use aws_sdk_lambda::types::Environment;

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project};

/// A region of these tests' own on the shared moto server.
const REGION: &str = "us-west-2";

fn config(stack: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[[functions]]
name = "hello"
path = "functions/hello"
memory_mb = 128
timeout_seconds = 10
environment = {{ GREETING = "hello" }}

[[functions.routes]]
priority = 10
paths = ["/hello", "/hello/*"]
"#
    )
}

/// The planned change of `logical` in a `plan -o json` document.
fn change<'a>(plan: &'a serde_json::Value, logical: &str) -> &'a serde_json::Value {
    plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["logical"] == logical))
        .unwrap_or_else(|| panic!("no change of {logical} in {plan:#}"))
}

/// The old value of `field` in a planned change (panics when the field did not change).
fn old_value<'a>(change: &'a serde_json::Value, field: &str) -> &'a str {
    change["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == field))
        .and_then(|f| f["old"].as_str())
        .unwrap_or_else(|| panic!("{field} is not a changed field of {change:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_drift_is_shown_by_plan_and_repaired_by_up() {
    let moto = Moto::shared();
    let stack = unique_stack_name("latest-drift");
    let project = Project::from_template("hello", &stack);
    project.with_config(&config(&stack));
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(moto, REGION).await);
    let name = format!("{stack}--hello");

    albkit(moto, &project, REGION, &["up", "--yes"]).ok();
    let live_before = lambda
        .get_alias()
        .function_name(&name)
        .name("live")
        .send()
        .await
        .expect("live alias")
        .function_version()
        .map(str::to_string);

    // By hand, on the unpublished configuration only.
    lambda
        .update_function_configuration()
        .function_name(&name)
        .memory_size(512)
        .timeout(30)
        .environment(
            Environment::builder()
                .variables("GREETING", "changed by hand")
                .build(),
        )
        .send()
        .await
        .expect("update $LATEST");

    let plan = albkit(
        moto,
        &project,
        REGION,
        &["plan", "--detailed-exitcode", "-o", "json"],
    );
    plan.code_is(2);
    let doc = plan.json();
    let function = change(&doc, "function/hello");
    assert_eq!(function["action"], "update", "{doc:#}");
    for (field, published, unpublished) in [
        ("memory_mb", "128", "512"),
        ("timeout_seconds", "10", "30"),
        // Environment values are never shown: which variable differs is.
        ("environment", "GREETING", "GREETING; changed GREETING"),
    ] {
        assert_eq!(
            old_value(function, field),
            format!("{published} (unpublished in $LATEST: {unpublished})"),
            "{doc:#}"
        );
    }
    let human = albkit(moto, &project, REGION, &["plan"]);
    human.ok();
    assert!(
        human
            .stdout
            .contains("memory_mb: 128 (unpublished in $LATEST: 512) -> 128"),
        "{human}"
    );

    albkit(moto, &project, REGION, &["up", "--yes"]).ok();

    let latest = lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await
        .expect("$LATEST");
    let live = lambda
        .get_function_configuration()
        .function_name(&name)
        .qualifier("live")
        .send()
        .await
        .expect("live");
    for (what, c) in [("$LATEST", &latest), ("live", &live)] {
        assert_eq!(c.memory_size(), Some(128), "{what}");
        assert_eq!(c.timeout(), Some(10), "{what}");
        let env = c.environment().and_then(|e| e.variables()).cloned();
        assert_eq!(
            env,
            Some(std::collections::HashMap::from([(
                "GREETING".to_string(),
                "hello".to_string()
            )])),
            "{what}"
        );
    }
    // The live version already served the desired configuration: no copy of it was
    // published.
    let live_after = lambda
        .get_alias()
        .function_name(&name)
        .name("live")
        .send()
        .await
        .expect("live alias")
        .function_version()
        .map(str::to_string);
    assert_eq!(live_after, live_before);

    albkit(moto, &project, REGION, &["plan", "--detailed-exitcode"]).ok();
    albkit(moto, &project, REGION, &["down", "--yes", "--purge-logs"]).ok();
}

/// A rule as the test reads it from `DescribeSecurityGroupRules`: direction, protocol,
/// ports (or ICMP type and code), and the peer, whatever its kind.
type Shape = (bool, String, i32, i32, String);

/// The group's rules by rule id.
async fn rules(ec2: &aws_sdk_ec2::Client, group: &str) -> BTreeMap<String, Shape> {
    let out = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group).build())
        .send()
        .await
        .expect("describe rules");
    out.security_group_rules()
        .iter()
        .map(|r| {
            let peer = r
                .cidr_ipv4()
                .or(r.cidr_ipv6())
                .or(r.prefix_list_id())
                .or(r.referenced_group_info().and_then(|g| g.group_id()))
                .unwrap_or_else(|| panic!("a rule without a peer: {r:?}"))
                .to_string();
            (
                r.security_group_rule_id().expect("rule id").to_string(),
                (
                    r.is_egress().expect("direction"),
                    r.ip_protocol().expect("protocol").to_string(),
                    r.from_port().unwrap_or(-1),
                    r.to_port().unwrap_or(-1),
                    peer,
                ),
            )
        })
        .collect()
}

fn cidr(protocol: &str, from: i32, to: i32, cidr: &str) -> IpPermission {
    let b = IpPermission::builder().ip_protocol(protocol);
    let b = if protocol == "-1" {
        b
    } else {
        b.from_port(from).to_port(to)
    };
    if cidr.contains(':') {
        b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
    } else {
        b.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
    }
    .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_security_group_rule_shape_is_revoked() {
    let moto = Moto::shared();
    let stack = unique_stack_name("rule-drift");
    let project = Project::from_template("hello", &stack);
    project.with_config(&config(&stack));
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(moto, REGION).await);

    albkit(moto, &project, REGION, &["up", "--yes"]).ok();
    let groups = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("tag:albkit:stack")
                .values(&stack)
                .build(),
        )
        .send()
        .await
        .expect("groups");
    assert_eq!(groups.security_groups().len(), 1);
    let group = groups.security_groups()[0]
        .group_id()
        .expect("group id")
        .to_string();
    let vpc = groups.security_groups()[0]
        .vpc_id()
        .expect("vpc id")
        .to_string();
    let desired = rules(&ec2, &group).await;
    let shapes: BTreeSet<Shape> = desired.values().cloned().collect();
    let expected: BTreeSet<Shape> = [
        (false, "tcp", 80, 80, "0.0.0.0/0"),
        (true, "-1", -1, -1, "0.0.0.0/0"),
    ]
    .into_iter()
    .map(|(e, p, f, t, c)| (e, p.to_string(), f, t, c.to_string()))
    .collect();
    assert_eq!(shapes, expected, "the listener port and the default egress");

    // By hand: an inbound rule of every shape and an outbound one.
    let other = ec2
        .create_security_group()
        .group_name(format!("{stack}-other"))
        .description("not the stack's")
        .vpc_id(&vpc)
        .send()
        .await
        .expect("other group")
        .group_id()
        .expect("other group id")
        .to_string();
    let list = ec2
        .create_managed_prefix_list()
        .prefix_list_name(format!("{stack}-office"))
        .address_family("IPv4")
        .max_entries(5)
        .entries(AddPrefixListEntry::builder().cidr("10.1.0.0/16").build())
        .send()
        .await
        .expect("prefix list")
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .expect("prefix list id")
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(cidr("-1", -1, -1, "192.168.0.0/16"))
        .ip_permissions(cidr("icmp", 8, -1, "10.9.0.0/16"))
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&other).build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .prefix_list_ids(PrefixListId::builder().prefix_list_id(&list).build())
                .build(),
        )
        .ip_permissions(cidr("tcp", 8443, 8443, "2001:db8::/32"))
        .send()
        .await
        .expect("add inbound rules");
    ec2.authorize_security_group_egress()
        .group_id(&group)
        .ip_permissions(cidr("tcp", 443, 443, "10.0.0.0/8"))
        .send()
        .await
        .expect("add an outbound rule");
    assert_eq!(rules(&ec2, &group).await.len(), desired.len() + 6);

    let plan = albkit(
        moto,
        &project,
        REGION,
        &["plan", "--detailed-exitcode", "-o", "json"],
    );
    plan.code_is(2);
    let doc = plan.json();
    let sg = change(&doc, "security-group");
    let ingress = old_value(sg, "ingress");
    for shape in [
        "all from 192.168.0.0/16".to_string(),
        "icmp type 8 from 10.9.0.0/16".to_string(),
        format!("tcp/22 from security group {other}"),
        format!("tcp/5432 from prefix list {list}"),
        "tcp/8443 from 2001:db8::/32".to_string(),
    ] {
        assert!(ingress.contains(&shape), "{shape} not in {ingress}");
    }
    assert_eq!(
        old_value(sg, "egress"),
        "all to 0.0.0.0/0, tcp/443 to 10.0.0.0/8"
    );

    albkit(moto, &project, REGION, &["up", "--yes"]).ok();

    // Exactly the desired rules, under the ids they had: none was revoked and added
    // again, and the default egress rule is still there.
    assert_eq!(rules(&ec2, &group).await, desired);
    albkit(moto, &project, REGION, &["plan", "--detailed-exitcode"]).ok();

    // What the test made itself goes before the stack does.
    ec2.delete_security_group()
        .group_id(&other)
        .send()
        .await
        .expect("delete other group");
    ec2.delete_managed_prefix_list()
        .prefix_list_id(&list)
        .send()
        .await
        .expect("delete prefix list");
    albkit(moto, &project, REGION, &["down", "--yes", "--purge-logs"]).ok();
}
