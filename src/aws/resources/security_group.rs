//! The load balancer's security group: ingress only on the listener ports from the
//! configured CIDRs.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, ResourceType};

use super::vpc::{find_tagged, ignore_not_found, retag, stack_filter, tag_map, tag_spec, Ec2Kind};
use super::{logical_of, observed, Ctx};
use crate::aws::clients::no_sdk_retries;
use crate::aws::error::{AwsError, AwsResultExt};
use crate::aws::retry::{create_once, retry, Policy};
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::stack::{tags_prop, Kind, Resource};

/// Parses `tcp/80 from 0.0.0.0/0` back into a permission.
fn permission(rule: &str) -> Option<IpPermission> {
    let (proto_port, cidr) = rule.split_once(" from ")?;
    let (proto, port) = proto_port.split_once('/')?;
    let (from, to) = match port.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p: i32 = port.parse().ok()?;
            (p, p)
        }
    };
    let b = IpPermission::builder()
        .ip_protocol(proto)
        .from_port(from)
        .to_port(to);
    Some(if cidr.contains(':') {
        b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
            .build()
    } else {
        b.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build()
    })
}

fn rules(text: &str) -> Vec<String> {
    text.split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Observed>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read security groups",
        &ctx.notify(logical::SECURITY_GROUP),
        || async {
            ctx.aws
                .ec2
                .describe_security_groups()
                .filters(stack_filter(ctx.stack()))
                .send()
                .await
                .aws("DescribeSecurityGroups", logical::SECURITY_GROUP)
        },
    )
    .await?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(|g| {
            let tags = tag_map(g.tags());
            let logical = logical_of(&tags)?;
            let mut ingress = Vec::new();
            for p in g.ip_permissions() {
                let proto = p.ip_protocol().unwrap_or("-1");
                let port = match (p.from_port(), p.to_port()) {
                    (Some(a), Some(b)) if a == b => a.to_string(),
                    (Some(a), Some(b)) => format!("{a}-{b}"),
                    _ => "all".to_string(),
                };
                for r in p.ip_ranges() {
                    ingress.push(format!(
                        "{proto}/{port} from {}",
                        r.cidr_ip().unwrap_or_default()
                    ));
                }
                for r in p.ipv6_ranges() {
                    ingress.push(format!(
                        "{proto}/{port} from {}",
                        r.cidr_ipv6().unwrap_or_default()
                    ));
                }
                for r in p.user_id_group_pairs() {
                    ingress.push(format!(
                        "{proto}/{port} from {}",
                        r.group_id().unwrap_or_default()
                    ));
                }
            }
            ingress.sort();
            Some(observed(
                g.group_id()?,
                Resource::new(logical, Kind::SecurityGroup)
                    .prop("name", g.group_name().unwrap_or_default())
                    .prop("vpc", g.vpc_id().unwrap_or_default())
                    .prop("ingress", ingress.join(", "))
                    .prop("tags", tags_prop(&tags)),
            ))
        })
        .collect())
}

pub async fn apply(ctx: &Ctx<'_>, change: &Change, want: &Resource) -> Result<String, AwsError> {
    let tags = ctx.tags(&want.logical);
    let notify = ctx.notify(&want.logical);
    let id = match &change.id {
        Some(id) => {
            if change.changed("tags") {
                retag(ctx, id, change, &tags).await?;
            }
            id.clone()
        }
        None => {
            let vpc = ctx.ids.resolve(want.get("vpc").unwrap_or_default());
            create_once(
                Policy::fresh(),
                "create security group",
                &notify,
                || find_tagged(ctx, Ec2Kind::SecurityGroup, &want.logical),
                || async {
                    let out = ctx
                        .aws
                        .ec2
                        .create_security_group()
                        .group_name(want.get("name").unwrap_or_default())
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
                        .aws("CreateSecurityGroup", &want.logical)?;
                    Ok(out.group_id().unwrap_or_default().to_string())
                },
            )
            .await?
        }
    };
    if change.id.is_none() || change.changed("ingress") {
        let old = change
            .fields
            .iter()
            .find(|f| f.name == "ingress")
            .and_then(|f| f.old.as_deref())
            .map(rules)
            .unwrap_or_default();
        let new = rules(want.get("ingress").unwrap_or_default());
        let add: Vec<IpPermission> = new
            .iter()
            .filter(|r| !old.contains(r))
            .filter_map(|r| permission(r))
            .collect();
        let remove: Vec<IpPermission> = old
            .iter()
            .filter(|r| !new.contains(r))
            .filter_map(|r| permission(r))
            .collect();
        if !add.is_empty() {
            retry(Policy::fresh(), "open listener ports", &notify, || async {
                ctx.aws
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(&id)
                    .set_ip_permissions(Some(add.clone()))
                    .send()
                    .await
                    .aws("AuthorizeSecurityGroupIngress", &id)
            })
            .await
            .map(|_| ())
            .or_else(|e| {
                if e.is("InvalidPermission.Duplicate") {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        if !remove.is_empty() {
            retry(
                Policy::fresh(),
                "close ports no longer configured",
                &notify,
                || async {
                    ctx.aws
                        .ec2
                        .revoke_security_group_ingress()
                        .group_id(&id)
                        .set_ip_permissions(Some(remove.clone()))
                        .send()
                        .await
                        .aws("RevokeSecurityGroupIngress", &id)
                },
            )
            .await?;
        }
    }
    Ok(id)
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<(), AwsError> {
    // DependencyViolation while the deleted ALB's network interfaces are released.
    retry(
        Policy::teardown(),
        "delete security group",
        &ctx.notify(logical::SECURITY_GROUP),
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
    .map(|_| ())
    .or_else(ignore_not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_back_into_permissions() {
        let p = permission("tcp/443 from ::/0").expect("parses");
        assert_eq!(p.from_port(), Some(443));
        assert_eq!(p.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
        let p = permission("tcp/80 from 10.0.0.0/16").expect("parses");
        assert_eq!(p.ip_ranges()[0].cidr_ip(), Some("10.0.0.0/16"));
        assert!(permission("garbage").is_none());
    }
}
