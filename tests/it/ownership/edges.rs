//! What the stack shares with others or protects: the domain's alias records, the
//! certificate's validation CNAME (shared by every certificate of the domain), and a
//! load balancer's deletion protection.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use crate::support::{albkit, create_hosted_zone, sdk_config, unique_stack_name, Moto, Project};

/// CloudFront's fixed hosted zone for alias targets.
const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";
const CLOUDFRONT_TARGET: &str = "d111111abcdef8.cloudfront.net.";

fn config(stack: &str, extra: &str) -> String {
    format!(
        "[stack]\nname = \"{stack}\"\n{extra}\n\n[[functions]]\nname = \"hello\"\npath = \"functions/hello\"\n\n[[functions.routes]]\npriority = 10\npaths = [\"/hello\"]\n"
    )
}

/// A hello project whose `[https]` domain `api.<stack>.example.com` lives in a new hosted
/// zone; returns the project, the zone id and the domain.
async fn https_project(moto: &Moto, region: &str, stack: &str) -> (Project, String, String) {
    let zone_name = format!("{stack}.example.com");
    let zone = create_hosted_zone(&sdk_config(moto, region).await, &zone_name).await;
    let domain = format!("api.{zone_name}");
    let project = Project::from_template("hello", stack);
    project.with_config(&format!(
        "{}\n[https]\ndomain = \"{domain}\"\nhosted_zone_id = \"{zone}\"\n",
        config(stack, "")
    ));
    (project, zone, domain)
}

async fn route53(moto: &Moto, region: &str) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&sdk_config(moto, region).await)
}

async fn elb(moto: &Moto, region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(moto, region).await)
}

/// Record sets of `name` (any type) in the zone.
async fn records(moto: &Moto, zone: &str, name: &str) -> Vec<ResourceRecordSet> {
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    route53(moto, "us-east-1")
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("ListResourceRecordSets")
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().eq_ignore_ascii_case(&fqdn))
        .cloned()
        .collect()
}

fn alias_of(sets: &[ResourceRecordSet], kind: RrType) -> Option<String> {
    sets.iter()
        .find(|r| *r.r#type() == kind)
        .and_then(|r| r.alias_target())
        .map(|a| a.dns_name().to_string())
}

/// Writes an alias record of `kind` at `name` pointing at CloudFront.
async fn point_at_cloudfront(moto: &Moto, zone: &str, name: &str, kind: RrType) {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(kind)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(CLOUDFRONT_ZONE)
                .dns_name(CLOUDFRONT_TARGET)
                .evaluate_target_health(false)
                .build()
                .expect("alias target"),
        )
        .build()
        .expect("record set");
    change(moto, zone, ChangeAction::Upsert, set).await;
}

async fn change(moto: &Moto, zone: &str, action: ChangeAction, set: ResourceRecordSet) {
    route53(moto, "us-east-1")
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action)
                        .resource_record_set(set)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("ChangeResourceRecordSets");
}

/// Names of the load balancers of the region.
async fn load_balancers(moto: &Moto, region: &str) -> Vec<String> {
    elb(moto, region)
        .await
        .describe_load_balancers()
        .send()
        .await
        .expect("DescribeLoadBalancers")
        .load_balancers()
        .iter()
        .filter_map(|l| l.load_balancer_name().map(str::to_string))
        .collect()
}

/// Ids of the VPCs tagged for `stack` in `region`.
async fn stack_vpcs(moto: &Moto, region: &str, stack: &str) -> Vec<String> {
    aws_sdk_ec2::Client::new(&sdk_config(moto, region).await)
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:albkit:stack")
                .values(stack)
                .build(),
        )
        .send()
        .await
        .expect("DescribeVpcs")
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_alias_record_at_the_domain_is_refused_and_left_in_place() {
    let moto = Moto::shared();
    let region = "ap-south-1";
    let stack = unique_stack_name("dns");
    let (project, zone, domain) = https_project(moto, region, &stack).await;

    // Before the stack exists, the domain already points at CloudFront.
    point_at_cloudfront(moto, &zone, &domain, RrType::A).await;
    for args in [&["plan"][..], &["up", "--yes"][..]] {
        let out = albkit(moto, &project, region, args);
        out.code_is(1);
        assert!(
            out.stderr.contains("Route 53 alias record") && out.stderr.contains(&domain),
            "the refusal names the record:\n{out}"
        );
        assert!(out.stderr.contains("cloudfront.net"), "and why:\n{out}");
    }
    assert!(
        stack_vpcs(moto, region, &stack).await.is_empty(),
        "up refused before its first mutating call"
    );
    assert!(!load_balancers(moto, region)
        .await
        .iter()
        .any(|n| n.starts_with(&stack)));
    let sets = records(moto, &zone, &domain).await;
    assert_eq!(
        alias_of(&sets, RrType::A).as_deref(),
        Some(CLOUDFRONT_TARGET),
        "the foreign record is untouched"
    );

    // The record moved away: the stack comes up and writes its own records.
    let set = sets
        .iter()
        .find(|r| *r.r#type() == RrType::A)
        .cloned()
        .expect("A record");
    change(moto, &zone, ChangeAction::Delete, set).await;
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let sets = records(moto, &zone, &domain).await;
    let target = alias_of(&sets, RrType::A).unwrap_or_default();
    assert!(
        target.contains(".elb.amazonaws.com"),
        "A points at the load balancer: {target}"
    );
    assert_eq!(alias_of(&sets, RrType::Aaaa), None, "IPv4-only: no AAAA");

    // Someone repoints A at CloudFront: plan refuses, down leaves it and removes the rest.
    point_at_cloudfront(moto, &zone, &domain, RrType::A).await;
    albkit(moto, &project, region, &["plan"]).code_is(1);
    let out = albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]);
    out.ok();
    assert!(
        out.stderr.contains("Left in place") && out.stderr.contains(&domain),
        "down says what it left:\n{out}"
    );
    let sets = records(moto, &zone, &domain).await;
    assert_eq!(
        alias_of(&sets, RrType::A).as_deref(),
        Some(CLOUDFRONT_TARGET),
        "down kept the foreign record"
    );
    assert!(!load_balancers(moto, region)
        .await
        .iter()
        .any(|n| n.starts_with(&stack)));
    assert!(stack_vpcs(moto, region, &stack).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn down_refuses_a_protected_load_balancer_without_the_flag() {
    let moto = Moto::shared();
    let region = "eu-north-1";
    let stack = unique_stack_name("protect");
    let project = Project::from_template("hello", &stack);
    project.with_config(&config(
        &stack,
        "\n[load_balancer]\ndeletion_protection = true",
    ));
    albkit(moto, &project, region, &["up", "--yes"]).ok();

    let out = albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]);
    out.code_is(1);
    assert!(
        out.stderr.contains("deletion protection")
            && out.stderr.contains("--disable-deletion-protection"),
        "the refusal says why and what to do:\n{out}"
    );
    // Nothing was removed, and protection is still on.
    let client = elb(moto, region).await;
    let lb = client
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("the load balancer is still there");
    let arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_string();
    let attrs = client
        .describe_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .send()
        .await
        .expect("attributes");
    assert!(attrs
        .attributes()
        .iter()
        .any(|a| a.key() == Some("deletion_protection.enabled") && a.value() == Some("true")));
    assert_eq!(stack_vpcs(moto, region, &stack).await.len(), 1);
    let targets = client
        .describe_target_groups()
        .load_balancer_arn(&arn)
        .send()
        .await
        .expect("target groups");
    assert_eq!(targets.target_groups().len(), 1, "the rest is intact too");

    albkit(
        moto,
        &project,
        region,
        &[
            "down",
            "--yes",
            "--purge-logs",
            "--disable-deletion-protection",
        ],
    )
    .ok();
    assert!(!load_balancers(moto, region)
        .await
        .iter()
        .any(|n| n.starts_with(&stack)));
    assert!(stack_vpcs(moto, region, &stack).await.is_empty());
}

/// The validation CNAME of the stack's certificate, written from what ACM asks for (moto
/// may issue the certificate before albkit asks, and then albkit writes none).
async fn ensure_validation_cname(moto: &Moto, region: &str, zone: &str, domain: &str) -> String {
    let acm = aws_sdk_acm::Client::new(&sdk_config(moto, region).await);
    let list = acm.list_certificates().send().await.expect("certificates");
    let arn = list
        .certificate_summary_list()
        .iter()
        .find(|c| c.domain_name() == Some(domain))
        .and_then(|c| c.certificate_arn())
        .expect("the stack's certificate")
        .to_string();
    let cert = acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .expect("DescribeCertificate");
    let record = cert
        .certificate()
        .and_then(|c| c.domain_validation_options().first())
        .and_then(|o| o.resource_record())
        .expect("a validation record")
        .clone();
    change(
        moto,
        zone,
        ChangeAction::Upsert,
        ResourceRecordSet::builder()
            .name(record.name())
            .r#type(RrType::Cname)
            .ttl(300)
            .resource_records(
                ResourceRecord::builder()
                    .value(record.value())
                    .build()
                    .expect("value"),
            )
            .build()
            .expect("record set"),
    )
    .await;
    record.name().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn down_keeps_the_shared_validation_cname_unless_asked() {
    let moto = Moto::shared();
    let region = "ap-south-1";
    let stack = unique_stack_name("cname");
    let (project, zone, domain) = https_project(moto, region, &stack).await;

    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let cname = ensure_validation_cname(moto, region, &zone, &domain).await;
    let out = albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]);
    out.ok();
    assert!(
        out.stderr.contains("kept the DNS validation record")
            && out.stderr.contains("--delete-validation-records"),
        "down says it kept the CNAME and how to remove it:\n{out}"
    );
    assert!(
        records(moto, &zone, &cname)
            .await
            .iter()
            .any(|r| *r.r#type() == RrType::Cname),
        "the CNAME shared with other certificates of {domain} is still there"
    );

    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let cname = ensure_validation_cname(moto, region, &zone, &domain).await;
    let out = albkit(
        moto,
        &project,
        region,
        &[
            "down",
            "--yes",
            "--purge-logs",
            "--delete-validation-records",
            "-o",
            "json",
        ],
    );
    out.ok();
    let notes = out.json()["notes"].to_string();
    assert!(
        notes.contains("deleting the DNS validation record"),
        "down says what else the CNAME served: {notes}"
    );
    assert!(
        !records(moto, &zone, &cname)
            .await
            .iter()
            .any(|r| *r.r#type() == RrType::Cname),
        "--delete-validation-records removed the CNAME"
    );
}

/// Earlier albkit versions wrote an alias AAAA record and let `::/0` in, for a load
/// balancer that is IPv4-only. `plan` shows both as drift and `up` removes them; a
/// `::/0` the config lists stays.
#[tokio::test(flavor = "multi_thread")]
async fn an_aaaa_alias_and_ipv6_ingress_of_an_ipv4_load_balancer_are_removed() {
    let moto = Moto::shared();
    let region = "eu-north-1";
    let stack = unique_stack_name("ipv4");
    let (project, zone, domain) = https_project(moto, region, &stack).await;
    albkit(moto, &project, region, &["up", "--yes"]).ok();

    // What an earlier albkit left: AAAA beside A, and tcp/443 from ::/0.
    let a = records(moto, &zone, &domain)
        .await
        .into_iter()
        .find(|r| *r.r#type() == RrType::A)
        .expect("the A record");
    let aaaa = ResourceRecordSet::builder()
        .name(a.name())
        .r#type(RrType::Aaaa)
        .set_alias_target(a.alias_target().cloned())
        .build()
        .expect("record set");
    change(moto, &zone, ChangeAction::Create, aaaa).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(moto, region).await);
    let group = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{stack}-alb"))
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups")
        .security_groups()
        .first()
        .and_then(|g| g.group_id().map(str::to_string))
        .expect("the stack's security group");
    let ipv6_in = || {
        aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ipv6_ranges(
                aws_sdk_ec2::types::Ipv6Range::builder()
                    .cidr_ipv6("::/0")
                    .build(),
            )
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(ipv6_in())
        .send()
        .await
        .expect("AuthorizeSecurityGroupIngress");

    let plan = albkit(moto, &project, region, &["plan"]);
    let text = plan.ok().stdout.clone();
    assert!(text.contains("- dns/AAAA (dns-record)"), "{text}");
    assert!(text.contains("tcp/443 from ::/0"), "{text}");
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    let sets = records(moto, &zone, &domain).await;
    assert_eq!(
        alias_of(&sets, RrType::Aaaa),
        None,
        "the AAAA alias is gone"
    );
    assert!(alias_of(&sets, RrType::A).is_some(), "the A alias stays");
    let ipv6_rules =
        |groups: aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput| {
            groups.security_groups()[0]
                .ip_permissions()
                .iter()
                .map(|p| p.ipv6_ranges().len())
                .sum::<usize>()
        };
    let describe = || ec2.describe_security_groups().group_ids(&group).send();
    assert_eq!(
        ipv6_rules(describe().await.expect("groups")),
        0,
        "::/0 revoked"
    );

    // Listed in the config, `::/0` is wanted.
    let toml = project.read("albkit.toml");
    project.write(
        "albkit.toml",
        &format!("{toml}\n[load_balancer]\ningress_cidrs = [\"0.0.0.0/0\", \"::/0\"]\n"),
    );
    albkit(moto, &project, region, &["up", "--yes"]).ok();
    assert_eq!(
        ipv6_rules(describe().await.expect("groups")),
        2,
        "tcp/80 and tcp/443"
    );
    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
}
