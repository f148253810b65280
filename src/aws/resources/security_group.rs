//! The load balancer's security group: ingress only on the listener ports from the
//! configured CIDRs, egress as AWS creates it. Its rules are read one by one
//! (`DescribeSecurityGroupRules`), in every shape, and reconciled by rule id.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroupRule,
    UserIdGroupPair,
};
use futures::future::try_join_all;

use super::ec2::{find_tagged, retagged, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{already_done, ignore_not_found};
use super::{logical_of, teardown, Ctx, Teardown};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::events::ResourceNotify;
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::sg_rule::{peer_of, reconcile, Direction, Peer, Rule};
use crate::model::spec::{Ref, SecurityGroupSpec};

/// A rule as `DescribeSecurityGroupRules` reports it: its group, its id and its shape.
#[derive(Debug)]
struct FoundRule {
    group: String,
    id: String,
    rule: Rule,
}

/// Reads one rule of any shape. A rule with neither a CIDR, a prefix list nor a
/// referenced group is not something AWS reports; it fails naming the call rather than
/// being left out of the comparison.
fn found(r: &SecurityGroupRule) -> Result<FoundRule, AwsError> {
    let id = r.security_group_rule_id().unwrap_or_default().to_string();
    let peer = if let Some(cidr) = r.cidr_ipv4() {
        peer_of(cidr)
    } else if let Some(cidr) = r.cidr_ipv6() {
        Peer::Ipv6(cidr.to_string())
    } else if let Some(list) = r.prefix_list_id() {
        Peer::PrefixList(list.to_string())
    } else if let Some(group) = r.referenced_group_info().and_then(|g| g.group_id()) {
        Peer::Group(group.to_string())
    } else {
        return Err(AwsError::incomplete(
            "DescribeSecurityGroupRules",
            &id,
            "source or destination of the rule",
        ));
    };
    let direction = if r.is_egress().unwrap_or(false) {
        Direction::Egress
    } else {
        Direction::Ingress
    };
    Ok(FoundRule {
        group: r.group_id().unwrap_or_default().to_string(),
        rule: Rule::new(
            direction,
            r.ip_protocol().unwrap_or("-1"),
            r.from_port().unwrap_or(-1),
            r.to_port().unwrap_or(-1),
            peer,
        ),
        id,
    })
}

/// Every rule, inbound and outbound, of the groups `ids`.
async fn read_rules(
    ctx: &Ctx<'_>,
    ids: &[String],
    policy: Policy,
    notify: &ResourceNotify<'_>,
) -> Result<Vec<FoundRule>, AwsError> {
    let filter = Filter::builder()
        .name("group-id")
        .set_values(Some(ids.to_vec()))
        .build();
    let rules = retry(policy, "read security group rules", notify, || async {
        let mut rules = Vec::new();
        let mut pages = ctx
            .aws
            .ec2
            .describe_security_group_rules()
            .filters(filter.clone())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.aws("DescribeSecurityGroupRules", &ids.join(", "))?;
            rules.extend(page.security_group_rules().iter().cloned());
        }
        Ok(rules)
    })
    .await?;
    rules.iter().map(found).collect()
}

/// The rule as the permission `Authorize…` takes.
fn permission(rule: &Rule) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(&rule.protocol);
    if matches!(rule.protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6") {
        b = b.from_port(rule.from).to_port(rule.to);
    }
    match &rule.peer {
        Peer::Ipv4(cidr) => b.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
        Peer::Ipv6(cidr) => b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()),
        Peer::PrefixList(id) => {
            b.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
        }
        Peer::Group(id) => b.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build()),
    }
    .build()
}

pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Found>, AwsError> {
    let (ec2, notify) = (&ctx.aws.ec2, ctx.notify(logical::SECURITY_GROUP));
    let read = || async {
        ec2.describe_security_groups()
            .filters(stack_filter(ctx.stack()))
            .send()
            .await
            .aws("DescribeSecurityGroups", logical::SECURITY_GROUP)
    };
    let out = retry(Policy::transient(), "read security groups", &notify, read).await?;
    let groups: Vec<_> = out
        .security_groups()
        .iter()
        .filter_map(|g| {
            let tags = tag_map(g.tags());
            Some((g.group_id()?.to_string(), logical_of(&tags)?, g, tags))
        })
        .collect();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    // The rules of the stack's groups: a second round trip, beside the load balancer's
    // listeners.
    let ids: Vec<String> = groups.iter().map(|(id, ..)| id.clone()).collect();
    let rules = read_rules(ctx, &ids, Policy::transient(), &notify).await?;
    let of = |id: &str, direction: Direction| {
        let rules = rules
            .iter()
            .filter(|f| f.group == id && f.rule.direction == direction);
        rules.map(|f| f.rule.clone()).collect()
    };
    Ok(groups
        .into_iter()
        .map(|(id, logical, g, tags)| {
            let spec = SecurityGroupSpec {
                name: g.group_name().unwrap_or_default().to_string(),
                vpc: Ref::External(g.vpc_id().unwrap_or_default().to_string()),
                ingress: of(&id, Direction::Ingress),
                egress: of(&id, Direction::Egress),
                tags: tags.clone(),
            };
            Found::new(id, logical, spec, tags)
        })
        .collect())
}

/// Makes the group's rules exactly the desired ones (`ingress` and `egress` of `want`),
/// reading them again by rule id: the desired rules that exist are left alone (never
/// revoked and added again), the missing ones authorized, every other rule, whatever
/// its shape, revoked by its id. New rules are authorized before old ones are revoked,
/// so replacing a CIDR never leaves the listeners closed in between.
async fn reconcile_rules(
    ctx: &Ctx<'_>,
    id: &str,
    want: &SecurityGroupSpec,
    notify: &ResourceNotify<'_>,
) -> Result<(), AwsError> {
    let desired: Vec<Rule> = want.ingress.iter().chain(&want.egress).cloned().collect();
    // Fresh: the group may have been created a moment ago.
    let existing: Vec<(String, Rule)> = read_rules(ctx, &[id.to_string()], Policy::fresh(), notify)
        .await?
        .into_iter()
        .filter(|f| f.group == id)
        .map(|f| (f.id, f.rule))
        .collect();
    let todo = reconcile(&desired, &existing);
    let add = |direction: Direction| -> Vec<IpPermission> {
        todo.authorize
            .iter()
            .filter(|r| r.direction == direction)
            .map(permission)
            .collect()
    };
    authorize(ctx, id, Direction::Ingress, add(Direction::Ingress), notify).await?;
    authorize(ctx, id, Direction::Egress, add(Direction::Egress), notify).await?;
    let revoke_in = todo.revoke_ingress.iter();
    let revoke_in = revoke_in.map(|r| revoke(ctx, id, Direction::Ingress, r, notify));
    let revoke_out = todo.revoke_egress.iter();
    let revoke_out = revoke_out.map(|r| revoke(ctx, id, Direction::Egress, r, notify));
    tokio::try_join!(try_join_all(revoke_in), try_join_all(revoke_out))?;
    Ok(())
}

/// Adds `permissions` (none: no call) to the group's rules in `direction`, in one batch.
async fn authorize(
    ctx: &Ctx<'_>,
    id: &str,
    direction: Direction,
    permissions: Vec<IpPermission>,
    notify: &ResourceNotify<'_>,
) -> Result<(), AwsError> {
    if permissions.is_empty() {
        return Ok(());
    }
    let what = match direction {
        Direction::Ingress => "open listener ports",
        Direction::Egress => "allow outbound traffic",
    };
    let ec2 = &ctx.aws.ec2;
    let permissions = Some(permissions);
    retry(Policy::fresh(), what, notify, || async {
        match direction {
            Direction::Ingress => ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(permissions.clone())
                .send()
                .await
                .aws("AuthorizeSecurityGroupIngress", id)
                .map(|_| ()),
            Direction::Egress => ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(permissions.clone())
                .send()
                .await
                .aws("AuthorizeSecurityGroupEgress", id)
                .map(|_| ()),
        }
    })
    .await
    // A batch is applied whole or not at all: `Duplicate` on a repeat means that the
    // first attempt, whose answer was lost, added it.
    .or_else(already_done(&["InvalidPermission.Duplicate"]))
}

/// Revokes one rule of the group, by its id. One call per rule: a rule already gone (a
/// repeat whose first answer was lost) is then exactly what was asked, and no other
/// rule depends on that call.
async fn revoke(
    ctx: &Ctx<'_>,
    id: &str,
    direction: Direction,
    rule: &str,
    notify: &ResourceNotify<'_>,
) -> Result<(), AwsError> {
    let what = match direction {
        Direction::Ingress => "revoke an inbound rule albkit does not want",
        Direction::Egress => "revoke an outbound rule albkit does not want",
    };
    let ec2 = &ctx.aws.ec2;
    retry(Policy::transient(), what, notify, || async {
        match direction {
            Direction::Ingress => ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .security_group_rule_ids(rule)
                .send()
                .await
                .aws("RevokeSecurityGroupIngress", rule)
                .map(|_| ()),
            Direction::Egress => ec2
                .revoke_security_group_egress()
                .group_id(id)
                .security_group_rule_ids(rule)
                .send()
                .await
                .aws("RevokeSecurityGroupEgress", rule)
                .map(|_| ()),
        }
    })
    .await
    .or_else(ignore_not_found)
    .or_else(already_done(&["InvalidSecurityGroupRuleId.NotFound"]))
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &SecurityGroupSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let tags = want.tags.clone();
    let notify = ctx.notify(&change.logical);
    let id = if let Some(id) = &change.id {
        retagged(ctx, id, change, have, &tags).await?
    } else {
        let vpc = ctx.ids.of(&want.vpc)?;
        create_once(
            Policy::fresh(),
            "create security group",
            &notify,
            || find_tagged(ctx, Ec2Kind::SecurityGroup, &change.logical),
            || async {
                let out = ctx
                    .aws
                    .ec2
                    .create_security_group()
                    .group_name(&want.name)
                    .description(format!(
                        "albkit stack {}: load balancer listeners",
                        ctx.stack()
                    ))
                    .vpc_id(&vpc)
                    .tag_specifications(tag_spec(ResourceType::SecurityGroup, &tags))
                    .customize()
                    .config_override(no_sdk_retries())
                    .send()
                    .await
                    .aws("CreateSecurityGroup", &change.logical)?;
                Ok(out.group_id().unwrap_or_default().to_string())
            },
        )
        .await?
    };
    if change.id.is_none() || change.changed("ingress") || change.changed("egress") {
        reconcile_rules(ctx, &id, want, &notify).await?;
    }
    Ok(id)
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let id = have.id.as_str();
    // DependencyViolation while the deleted ALB's network interfaces are released.
    teardown(
        ctx,
        logical::SECURITY_GROUP,
        "delete security group",
        || async {
            ctx.aws
                .ec2
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .aws("DeleteSecurityGroup", id)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_becomes_the_permission_aws_takes() {
        let p = permission(&Rule::tcp_from(443, "::/0"));
        assert_eq!(p.ip_protocol(), Some("tcp"));
        assert_eq!((p.from_port(), p.to_port()), (Some(443), Some(443)));
        assert_eq!(p.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
        assert!(p.ip_ranges().is_empty());

        let p = permission(&Rule::all_to("0.0.0.0/0"));
        assert_eq!(p.ip_protocol(), Some("-1"));
        assert_eq!(p.from_port(), None, "all protocols take no ports");
        assert_eq!(p.ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));

        let icmp = Rule::new(Direction::Ingress, "icmp", 8, -1, peer_of("10.0.0.0/8"));
        let p = permission(&icmp);
        assert_eq!((p.from_port(), p.to_port()), (Some(8), Some(-1)));

        let list = Rule::new(
            Direction::Ingress,
            "tcp",
            5432,
            5432,
            Peer::PrefixList("pl-1".into()),
        );
        assert_eq!(
            permission(&list).prefix_list_ids()[0].prefix_list_id(),
            Some("pl-1")
        );

        let group = Rule::new(Direction::Egress, "tcp", 22, 22, Peer::Group("sg-1".into()));
        let p = permission(&group);
        assert_eq!(p.user_id_group_pairs()[0].group_id(), Some("sg-1"));
        assert!(p.ip_ranges().is_empty() && p.ipv6_ranges().is_empty());
    }

    #[test]
    fn rules_of_every_shape_are_read_from_describe_security_group_rules() {
        let base = || {
            SecurityGroupRule::builder()
                .security_group_rule_id("sgr-1")
                .group_id("sg-1")
        };
        let f = found(
            &base()
                .is_egress(true)
                .ip_protocol("-1")
                .from_port(-1)
                .to_port(-1)
                .cidr_ipv4("0.0.0.0/0")
                .build(),
        )
        .expect("rule");
        assert_eq!((f.group.as_str(), f.id.as_str()), ("sg-1", "sgr-1"));
        assert_eq!(f.rule, Rule::all_to("0.0.0.0/0"));
        let f = found(
            &base()
                .is_egress(false)
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .referenced_group_info(
                    aws_sdk_ec2::types::ReferencedSecurityGroup::builder()
                        .group_id("sg-2")
                        .build(),
                )
                .build(),
        )
        .expect("rule");
        assert_eq!(f.rule.to_string(), "tcp/22 from security group sg-2");
        let f = found(
            &base()
                .ip_protocol("icmpv6")
                .from_port(-1)
                .to_port(-1)
                .cidr_ipv6("::/0")
                .build(),
        )
        .expect("rule");
        assert_eq!(f.rule.to_string(), "icmpv6 all types from ::/0");
        let f = found(
            &base()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .prefix_list_id("pl-9")
                .build(),
        )
        .expect("rule");
        assert_eq!(f.rule.to_string(), "tcp/5432 from prefix list pl-9");
        let e = found(&base().ip_protocol("tcp").build()).expect_err("no peer");
        assert_eq!(e.operation, "DescribeSecurityGroupRules");
    }
}
