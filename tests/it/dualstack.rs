//! `[load_balancer] ip_address_type = "dualstack"` in a reused VPC with IPv6: the load
//! balancer's address type, the `::/0` ingress and the AAAA alias record are created,
//! drift-checked, repaired, removed when the stack goes back to IPv4, and a VPC whose
//! subnets lack IPv6 is refused before anything is created. Through the test proxy
//! (moto 5.2.1 writes a subnet's IPv6 block state unlike AWS, see docs/testing.md);
//! checked through the SDK.

use std::net::Ipv6Addr;

use aws_sdk_ec2::types::{
    Filter, IpPermission, Ipv6Range, SubnetCidrBlockStateCode, VpcCidrBlockStateCode,
};
use aws_sdk_elasticloadbalancingv2::types::IpAddressType;

use crate::support::inventory::{self, Kind, Roles, Scope, RESOURCES};
use crate::support::proxy::{Proxy, ProxyConfig};
use crate::support::{
    albkit_command_at, create_hosted_zone, run, sdk_config_at, unique_stack_name, Moto, Output,
    Project, ACCESS_KEY_ID, ACCOUNT_ID, ALBKIT_TIMEOUT, SECRET_ACCESS_KEY,
};

const REGION: &str = "eu-west-3";

struct Clients {
    cfg: aws_config::SdkConfig,
    ec2: aws_sdk_ec2::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    route53: aws_sdk_route53::Client,
}

/// albkit with `args`, through the proxy.
fn albkit(proxy: &Proxy, project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&proxy.endpoint(), project, REGION);
    cmd.args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

async fn clients(proxy: &Proxy) -> Clients {
    let cfg = sdk_config_at(&proxy.endpoint(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    Clients {
        ec2: aws_sdk_ec2::Client::new(&cfg),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
        route53: aws_sdk_route53::Client::new(&cfg),
        cfg,
    }
}

/// A VPC for the stack to reuse, with two subnets in two zones; with `ipv6`, the VPC
/// has an Amazon-provided /56 and each subnet a /64 of it. Returns the VPC and subnets.
async fn reused_vpc(c: &Clients, ipv6: bool) -> (String, Vec<String>) {
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.43.0.0/16")
        .amazon_provided_ipv6_cidr_block(ipv6)
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc.vpc().expect("vpc");
    let block = vpc
        .ipv6_cidr_block_association_set()
        .first()
        .and_then(|a| a.ipv6_cidr_block())
        .and_then(|b| b.split('/').next())
        .map(|a| a.parse::<Ipv6Addr>().expect("IPv6 block"));
    let vpc = vpc.vpc_id().expect("vpc id").to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["eu-west-3a", "eu-west-3b"].into_iter().enumerate() {
        let index = u128::try_from(i).expect("index");
        let v6 = block.map(|b| format!("{}/64", Ipv6Addr::from(u128::from(b) + (index << 64))));
        let s = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.43.{i}.0/24"))
            .set_ipv6_cidr_block(v6)
            .availability_zone(az)
            .send()
            .await
            .expect("CreateSubnet");
        let id = s.subnet().and_then(|s| s.subnet_id()).expect("subnet id");
        subnets.push(id.to_string());
    }
    (vpc, subnets)
}

fn config(stack: &str, vpc: &str, subnets: &[String], ip: &str, https: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[network]
vpc_id = "{vpc}"
subnet_ids = ["{}", "{}"]

[load_balancer]
ip_address_type = "{ip}"
access_logs = false
{https}
[[functions]]
name = "hello"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = ["/hello"]
"#,
        subnets[0], subnets[1]
    )
}

/// The stack's load balancer's address type; `None` when there is no load balancer.
async fn ip_address_type(c: &Clients, stack: &str) -> Option<IpAddressType> {
    let out = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if format!("{e:?}").contains("LoadBalancerNotFound") => return None,
        Err(e) => panic!("DescribeLoadBalancers: {e:?}"),
    };
    out.load_balancers()
        .first()
        .and_then(|lb| lb.ip_address_type().cloned())
}

/// The stack's security group and its inbound `(port, IPv6 CIDR)` pairs, sorted.
async fn ipv6_ingress(c: &Clients, stack: &str) -> (String, Vec<(i32, String)>) {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("tag:albkit:stack")
                .values(stack)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let group = out.security_groups().first().expect("the stack's group");
    let mut pairs: Vec<(i32, String)> = group
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            let port = p.from_port().unwrap_or(-1);
            p.ipv6_ranges()
                .iter()
                .filter_map(move |r| r.cidr_ipv6().map(|c| (port, c.to_string())))
        })
        .collect();
    pairs.sort();
    (group.group_id().unwrap_or_default().to_string(), pairs)
}

/// The alias record types at `domain` in the zone, sorted.
async fn alias_types(c: &Clients, zone: &str, domain: &str) -> Vec<String> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("ListResourceRecordSets");
    let fqdn = format!("{domain}.");
    let mut types: Vec<String> = out
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().eq_ignore_ascii_case(&fqdn) && r.alias_target().is_some())
        .map(|r| r.r#type().as_str().to_string())
        .collect();
    types.sort();
    types
}

async fn leftovers(c: &Clients, stack: &str) -> Vec<String> {
    let scope = Scope {
        stack,
        region: REGION,
        account: ACCOUNT_ID,
        roles: Roles::AllRegions,
    };
    let mut kinds = RESOURCES.to_vec();
    kinds.push(Kind::Certificate);
    inventory::leftovers(&c.cfg, &scope, &kinds).await
}

fn ipv6_everywhere(ports: &[i32]) -> Vec<(i32, String)> {
    ports.iter().map(|p| (*p, "::/0".to_string())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dualstack_is_created_repaired_and_removed_in_a_reused_ipv6_vpc() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let c = clients(&proxy).await;
    let stack = unique_stack_name("dual");
    let (vpc, subnets) = reused_vpc(&c, true).await;
    let zone_name = format!("{stack}.example.com");
    let zone = create_hosted_zone(&c.cfg, &zone_name).await;
    let domain = format!("api.{zone_name}");
    let https = format!("\n[https]\ndomain = \"{domain}\"\nhosted_zone_id = \"{zone}\"\n");
    let project = Project::from_template("hello", &stack);
    project.with_config(&config(&stack, &vpc, &subnets, "dualstack", &https));
    albkit(&proxy, &project, &["up", "--yes"]).ok();

    assert_eq!(
        ip_address_type(&c, &stack).await,
        Some(IpAddressType::Dualstack)
    );
    let (group, v6) = ipv6_ingress(&c, &stack).await;
    assert_eq!(v6, ipv6_everywhere(&[80, 443]));
    assert_eq!(alias_types(&c, &zone, &domain).await, ["A", "AAAA"]);
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Drift: the IPv6 rule of 443 revoked and the address type set back by hand.
    let rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build();
    c.ec2
        .revoke_security_group_ingress()
        .group_id(&group)
        .ip_permissions(rule)
        .send()
        .await
        .expect("RevokeSecurityGroupIngress");
    let lb = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let arn = lb.load_balancers()[0].load_balancer_arn().expect("arn");
    c.elb
        .set_ip_address_type()
        .load_balancer_arn(arn)
        .ip_address_type(IpAddressType::Ipv4)
        .send()
        .await
        .expect("SetIpAddressType");
    assert_eq!(ipv6_ingress(&c, &stack).await.1, ipv6_everywhere(&[80]));
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(2);
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(
        ip_address_type(&c, &stack).await,
        Some(IpAddressType::Dualstack)
    );
    assert_eq!(
        ipv6_ingress(&c, &stack).await.1,
        ipv6_everywhere(&[80, 443])
    );
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Back to IPv4: the address type in place, no `::/0` rule, no AAAA record; the
    // reused VPC keeps its IPv6 blocks (albkit never changes it).
    project.with_config(&config(&stack, &vpc, &subnets, "ipv4", &https));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(ip_address_type(&c, &stack).await, Some(IpAddressType::Ipv4));
    assert_eq!(ipv6_ingress(&c, &stack).await, (group, vec![]));
    assert_eq!(alias_types(&c, &zone, &domain).await, ["A"]);
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // An IPv4 stack with an IPv6 ingress rule added by hand: drift, revoked.
    let (group, _) = ipv6_ingress(&c, &stack).await;
    let rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(80)
        .to_port(80)
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build();
    c.ec2
        .authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(rule)
        .send()
        .await
        .expect("AuthorizeSecurityGroupIngress");
    assert_eq!(ipv6_ingress(&c, &stack).await.1, ipv6_everywhere(&[80]));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(ipv6_ingress(&c, &stack).await.1, vec![]);

    albkit(
        &proxy,
        &project,
        &[
            "down",
            "--yes",
            "--purge-logs",
            "--delete-validation-records",
        ],
    )
    .ok();
    assert!(leftovers(&c, &stack).await.is_empty());
    assert!(alias_types(&c, &zone, &domain).await.is_empty());
    let still = c
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnets.clone()))
        .send()
        .await
        .expect("the reused subnets are still there");
    assert!(still
        .subnets()
        .iter()
        .all(|s| !s.ipv6_cidr_block_association_set().is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn dualstack_in_a_vpc_without_ipv6_is_refused_before_anything_is_created() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let c = clients(&proxy).await;
    let stack = unique_stack_name("dual-no6");
    let (vpc, subnets) = reused_vpc(&c, false).await;
    let project = Project::from_template("hello", &stack);
    project.with_config(&config(&stack, &vpc, &subnets, "dualstack", ""));
    let plan: &[&str] = &["plan"];
    let up: &[&str] = &["up", "--yes"];
    for args in [plan, up] {
        let out = albkit(&proxy, &project, args);
        out.fails();
        for subnet in &subnets {
            assert!(out.stderr.contains(subnet.as_str()), "{out}");
        }
        assert!(out.stderr.contains("no IPv6 CIDR block"), "{out}");
    }
    assert_eq!(ip_address_type(&c, &stack).await, None);
    assert!(leftovers(&c, &stack).await.is_empty());
}

/// A config of the stack in the VPC albkit creates, with `ip` as its address type.
fn own_vpc_config(stack: &str, ip: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[load_balancer]
ip_address_type = "{ip}"
access_logs = false

[[functions]]
name = "hello"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = ["/hello"]
"#
    )
}

/// What the stack's own network has of IPv6: the VPC's associated /56, each subnet's
/// `(logical id, associated /64)` sorted, and where the route table's `::/0` goes.
#[derive(Debug, PartialEq)]
struct OwnIpv6 {
    vpc: Option<String>,
    subnets: Vec<(String, Option<String>)>,
    route: Option<String>,
    route_table: String,
}

async fn own_ipv6(c: &Clients, stack: &str) -> OwnIpv6 {
    let by_stack = || {
        Filter::builder()
            .name("tag:albkit:stack")
            .values(stack)
            .build()
    };
    let logical = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter()
            .find(|t| t.key() == Some("albkit:resource"))
            .and_then(|t| t.value())
            .unwrap_or_default()
            .to_string()
    };
    let vpcs = c.ec2.describe_vpcs().filters(by_stack()).send().await;
    let vpcs = vpcs.expect("DescribeVpcs");
    let vpc = vpcs.vpcs().first().expect("the stack's VPC");
    let vpc_block = vpc
        .ipv6_cidr_block_association_set()
        .iter()
        .find(|a| {
            a.ipv6_cidr_block_state().and_then(|s| s.state())
                == Some(&VpcCidrBlockStateCode::Associated)
        })
        .and_then(|a| a.ipv6_cidr_block())
        .map(str::to_string);
    let subnets = c.ec2.describe_subnets().filters(by_stack()).send().await;
    let mut subnets: Vec<(String, Option<String>)> = subnets
        .expect("DescribeSubnets")
        .subnets()
        .iter()
        .map(|s| {
            let block = s
                .ipv6_cidr_block_association_set()
                .iter()
                .find(|a| {
                    a.ipv6_cidr_block_state().and_then(|s| s.state())
                        == Some(&SubnetCidrBlockStateCode::Associated)
                })
                .and_then(|a| a.ipv6_cidr_block())
                .map(str::to_string);
            (logical(s.tags()), block)
        })
        .collect();
    subnets.sort();
    let tables = c
        .ec2
        .describe_route_tables()
        .filters(by_stack())
        .send()
        .await;
    let tables = tables.expect("DescribeRouteTables");
    let table = tables
        .route_tables()
        .first()
        .expect("the stack's route table");
    let route = table
        .routes()
        .iter()
        .find(|r| r.destination_ipv6_cidr_block() == Some("::/0"))
        .and_then(|r| r.gateway_id())
        .map(str::to_string);
    OwnIpv6 {
        vpc: vpc_block,
        subnets,
        route,
        route_table: table.route_table_id().unwrap_or_default().to_string(),
    }
}

/// The stack's internet gateway.
async fn own_gateway(c: &Clients, stack: &str) -> String {
    let out = c
        .ec2
        .describe_internet_gateways()
        .filters(
            Filter::builder()
                .name("tag:albkit:stack")
                .values(stack)
                .build(),
        )
        .send()
        .await
        .expect("DescribeInternetGateways");
    let igw = out
        .internet_gateways()
        .first()
        .expect("the stack's gateway");
    igw.internet_gateway_id().unwrap_or_default().to_string()
}

/// Checks the whole of a dualstack stack in its own VPC: the VPC's /56, `subnet/N` on
/// the /64 number N of it, `::/0` to the stack's gateway, the load balancer and its
/// `::/0` ingress.
async fn assert_own_dualstack(c: &Clients, stack: &str) -> OwnIpv6 {
    let seen = own_ipv6(c, stack).await;
    let vpc = seen
        .vpc
        .clone()
        .expect("the VPC has an associated IPv6 block");
    assert!(vpc.ends_with("::/56"), "{seen:?}");
    let prefix: u128 = vpc
        .split('/')
        .next()
        .and_then(|a| a.parse::<Ipv6Addr>().ok())
        .expect("an IPv6 block")
        .into();
    let wanted: Vec<(String, Option<String>)> = (1..=2u128)
        .map(|n| {
            let block = Ipv6Addr::from(prefix + (n << 64));
            (format!("subnet/{n}"), Some(format!("{block}/64")))
        })
        .collect();
    assert_eq!(seen.subnets, wanted, "{seen:?}");
    assert_eq!(seen.route, Some(own_gateway(c, stack).await), "{seen:?}");
    assert_eq!(
        ip_address_type(c, stack).await,
        Some(IpAddressType::Dualstack)
    );
    assert_eq!(ipv6_ingress(c, stack).await.1, ipv6_everywhere(&[80]));
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn dualstack_in_the_stacks_own_vpc_is_created_from_nothing() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let c = clients(&proxy).await;
    let stack = unique_stack_name("dual-own");
    let project = Project::from_template("hello", &stack);
    project.with_config(&own_vpc_config(&stack, "dualstack"));
    let plan = albkit(&proxy, &project, &["plan"]);
    assert!(plan.ok().stdout.contains("amazon-provided /56"), "{plan}");
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_own_dualstack(&c, &stack).await;
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);
    albkit(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
    assert!(leftovers(&c, &stack).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ipv4_stacks_own_vpc_gains_ipv6_keeps_it_and_repairs_its_route() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let c = clients(&proxy).await;
    let stack = unique_stack_name("dual-add");
    let project = Project::from_template("hello", &stack);
    project.with_config(&own_vpc_config(&stack, "ipv4"));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    let before = own_ipv6(&c, &stack).await;
    assert_eq!((&before.vpc, &before.route), (&None, &None));
    assert!(
        before.subnets.iter().all(|(_, b)| b.is_none()),
        "{before:?}"
    );

    // To dualstack in place: the blocks associated, the route added, in one `up`.
    project.with_config(&own_vpc_config(&stack, "dualstack"));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    let seen = assert_own_dualstack(&c, &stack).await;
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // The `::/0` route deleted by hand is drift, and put back.
    c.ec2
        .delete_route()
        .route_table_id(&seen.route_table)
        .destination_ipv6_cidr_block("::/0")
        .send()
        .await
        .expect("DeleteRoute");
    let drift = albkit(&proxy, &project, &["plan", "--detailed-exitcode"]);
    drift.code_is(2);
    assert!(drift.stdout.contains("ipv6_routes"), "{drift}");
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(own_ipv6(&c, &stack).await, seen);

    // Back to IPv4: the load balancer and its ingress go back, the blocks and the
    // route stay (docs/dualstack.md), and that is no drift.
    project.with_config(&own_vpc_config(&stack, "ipv4"));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(ip_address_type(&c, &stack).await, Some(IpAddressType::Ipv4));
    assert_eq!(ipv6_ingress(&c, &stack).await.1, vec![]);
    assert_eq!(own_ipv6(&c, &stack).await, seen);
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    albkit(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
    assert!(leftovers(&c, &stack).await.is_empty());
}
