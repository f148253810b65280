//! The stack's AWS WAF web ACL (regional scope): found by its name `<stack>-waf` and
//! proven the stack's by its tags; created with `CreateWebACL`, its rules replaced with
//! `UpdateWebACL`, deleted with `DeleteWebACL`. The last two take the lock token of the
//! version they replace, read just before (a stale one is refused with
//! `WAFOptimisticLockException`, which the retry answers by reading it again).

use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, CountryCode, DefaultAction, GeoMatchStatement,
    ManagedRuleGroupStatement, NoneAction, OverrideAction, RateBasedStatement,
    RateBasedStatementAggregateKeyType, Rule, RuleAction, Scope, Statement, Tag, VisibilityConfig,
    WebAcl, WebAclSummary,
};

use super::{logical_of, not_tagged_reason, read, tag_changes, teardown, Ctx, Foreign, Teardown};
use crate::aws::error::{build_error, AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Facts, Observed};
use crate::model::spec::{WafRule, WebAclSpec, BLOCK_COUNTRIES_RULE, RATE_LIMIT_RULE};
use crate::model::stack::Tags;

/// The vendor of AWS's managed rule groups.
const AWS_VENDOR: &str = "AWS";

/// The web ACL named as the stack's, if there is one: the stack's own (tags), or a
/// foreign one in its place.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let name = ctx.names.web_acl();
    let Some(summary) = find(ctx, &name).await? else {
        return Ok((vec![], vec![]));
    };
    let (Some(arn), Some(id)) = (summary.arn(), summary.id()) else {
        return Err(AwsError::incomplete("ListWebACLs", &name, "ARN and Id"));
    };
    let tags = tags_of(ctx, arn).await?;
    if !ctx.owns(&tags) {
        let reason = not_tagged_reason(ctx, &tags);
        return Ok((vec![], vec![foreign(&name, reason)]));
    }
    let Some(logical) = logical_of(&tags) else {
        return Ok((vec![], vec![]));
    };
    let (acl, _) = get(ctx, &name, id).await?;
    let spec = WebAclSpec {
        name: name.clone(),
        rules: acl.rules().iter().map(rule_of).collect(),
        tags: tags.clone(),
    };
    let mut extras = Vec::new();
    if acl.default_action().is_none_or(|a| a.allow().is_none()) {
        extras.push(("default_action", "block".to_string()));
    }
    let facts = Facts::WebAcl {
        name,
        id: id.to_string(),
    };
    let found = Found::new(arn, logical, spec, tags)
        .extras(extras)
        .with(facts);
    Ok((vec![found], vec![]))
}

fn foreign(name: &str, reason: String) -> Foreign {
    Foreign {
        kind: "web ACL",
        name: name.to_string(),
        reason,
    }
}

/// The regional web ACL called `name`, from `ListWebACLs` (paged by marker).
async fn find(ctx: &Ctx<'_>, name: &str) -> Result<Option<WebAclSummary>, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        let page = read(ctx, logical::WEB_ACL, "list web ACLs", || async {
            ctx.aws
                .wafv2
                .list_web_acls()
                .scope(Scope::Regional)
                .limit(100)
                .set_next_marker(marker.clone())
                .send()
                .await
                .aws("ListWebACLs", name)
        })
        .await?;
        if let Some(s) = page.web_acls().iter().find(|s| s.name() == Some(name)) {
            return Ok(Some(s.clone()));
        }
        match page.next_marker() {
            Some(next) if !next.is_empty() && page.web_acls().len() == 100 => {
                marker = Some(next.to_string());
            }
            _ => return Ok(None),
        }
    }
}

async fn tags_of(ctx: &Ctx<'_>, arn: &str) -> Result<Tags, AwsError> {
    let out = read(ctx, logical::WEB_ACL, "read web ACL tags", || async {
        ctx.aws
            .wafv2
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws("ListTagsForResource", arn)
    })
    .await?;
    let list = out
        .tag_info_for_resource()
        .map(aws_sdk_wafv2::types::TagInfoForResource::tag_list)
        .unwrap_or_default();
    Ok(list
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// The web ACL and the lock token of this version of it.
async fn get(ctx: &Ctx<'_>, name: &str, id: &str) -> Result<(WebAcl, String), AwsError> {
    let out = read(ctx, logical::WEB_ACL, "read web ACL", || async {
        ctx.aws
            .wafv2
            .get_web_acl()
            .name(name)
            .id(id)
            .scope(Scope::Regional)
            .send()
            .await
            .aws("GetWebACL", name)
    })
    .await?;
    match (out.web_acl(), out.lock_token()) {
        (Some(acl), Some(token)) => Ok((acl.clone(), token.to_string())),
        _ => Err(AwsError::incomplete(
            "GetWebACL",
            name,
            "WebACL and LockToken",
        )),
    }
}

/// A rule of the web ACL in albkit's terms: by its name for albkit's own, by its
/// statement for a managed group; anything else is [`WafRule::Other`].
fn rule_of(rule: &Rule) -> WafRule {
    let name = rule.name();
    let statement = rule.statement();
    let geo = statement.and_then(Statement::geo_match_statement);
    let rate = statement.and_then(Statement::rate_based_statement);
    let managed = statement.and_then(Statement::managed_rule_group_statement);
    match (name, geo, rate, managed) {
        (BLOCK_COUNTRIES_RULE, Some(g), _, _) => {
            let mut codes: Vec<String> = g
                .country_codes()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect();
            codes.sort();
            WafRule::BlockCountries(codes)
        }
        (RATE_LIMIT_RULE, _, Some(r), _) => WafRule::RateLimit {
            requests: u64::try_from(r.limit()).unwrap_or_default(),
            window_seconds: u32::try_from(r.evaluation_window_sec()).unwrap_or_default(),
        },
        (_, _, _, Some(m))
            if m.vendor_name() == AWS_VENDOR && name == format!("AWS-{}", m.name()) =>
        {
            WafRule::Managed(m.name().to_string())
        }
        _ => WafRule::Other(name.to_string()),
    }
}

/// The metrics and samples AWS WAF keeps of a rule or the web ACL, named `metric`.
fn visibility(metric: &str) -> Result<VisibilityConfig, AwsError> {
    VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()
        .map_err(build_error("CreateWebACL", metric))
}

/// The SDK rule of `rule` at `priority`. [`WafRule::Other`] is never desired.
fn sdk_rule(rule: &WafRule, priority: usize) -> Result<Rule, AwsError> {
    let name = rule.name();
    let block = || {
        RuleAction::builder()
            .block(BlockAction::builder().build())
            .build()
    };
    let (statement, action, override_action) = match rule {
        WafRule::BlockCountries(codes) => {
            let geo = GeoMatchStatement::builder()
                .set_country_codes(Some(
                    codes
                        .iter()
                        .map(|c| CountryCode::from(c.as_str()))
                        .collect(),
                ))
                .build();
            (
                Statement::builder().geo_match_statement(geo).build(),
                Some(block()),
                None,
            )
        }
        WafRule::RateLimit {
            requests,
            window_seconds,
        } => {
            let rate = RateBasedStatement::builder()
                .limit(i64::try_from(*requests).unwrap_or(i64::MAX))
                .evaluation_window_sec(i64::from(*window_seconds))
                .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                .build()
                .map_err(build_error("CreateWebACL", &name))?;
            (
                Statement::builder().rate_based_statement(rate).build(),
                Some(block()),
                None,
            )
        }
        WafRule::Managed(group) => {
            let managed = ManagedRuleGroupStatement::builder()
                .vendor_name(AWS_VENDOR)
                .name(group)
                .build()
                .map_err(build_error("CreateWebACL", &name))?;
            let statement = Statement::builder()
                .managed_rule_group_statement(managed)
                .build();
            let keep = OverrideAction::builder()
                .none(NoneAction::builder().build())
                .build();
            (statement, None, Some(keep))
        }
        WafRule::Other(_) => {
            return Err(crate::aws::error::AwsError::incomplete(
                "CreateWebACL",
                &name,
                "a rule albkit writes",
            ))
        }
    };
    Rule::builder()
        .name(&name)
        .priority(i32::try_from(priority).unwrap_or(i32::MAX))
        .statement(statement)
        .set_action(action)
        .set_override_action(override_action)
        .visibility_config(visibility(&name)?)
        .build()
        .map_err(build_error("CreateWebACL", &name))
}

fn sdk_rules(spec: &WebAclSpec) -> Result<Vec<Rule>, AwsError> {
    spec.rules
        .iter()
        .enumerate()
        .map(|(priority, r)| sdk_rule(r, priority))
        .collect()
}

fn sdk_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("TagResource", k))
        })
        .collect()
}

fn allow() -> DefaultAction {
    DefaultAction::builder()
        .allow(AllowAction::builder().build())
        .build()
}

/// Creates the web ACL, or brings an existing one's rules and tags to the spec.
/// Returns its ARN.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &WebAclSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let Some(have) = have else {
        return Ok(create(ctx, change, want).await?);
    };
    let Facts::WebAcl { name, id } = &have.facts else {
        return Err(AwsError::incomplete("GetWebACL", &change.logical, "name and id").into());
    };
    if change.changed("rules") || change.changed("default_action") {
        update(ctx, change, want, name, id).await?;
    }
    if change.changed("tags") {
        retag(ctx, have, &want.tags).await?;
    }
    Ok(have.id.clone())
}

async fn create(ctx: &Ctx<'_>, change: &Change, want: &WebAclSpec) -> Result<String, AwsError> {
    let name = want.name.as_str();
    let rules = sdk_rules(want)?;
    let tags = sdk_tags(&want.tags)?;
    let created = retry(
        Policy::transient(),
        "create web ACL",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .wafv2
                .create_web_acl()
                .name(name)
                .scope(Scope::Regional)
                .default_action(allow())
                .set_rules(Some(rules.clone()))
                .visibility_config(visibility(name)?)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .aws("CreateWebACL", name)
        },
    )
    .await;
    match created {
        Ok(out) => out
            .summary()
            .and_then(WebAclSummary::arn)
            .map(str::to_string)
            .ok_or_else(|| AwsError::incomplete("CreateWebACL", name, "Summary.ARN")),
        // A lost response: the retry found the one it made. It is the stack's only if it
        // carries the stack's tags.
        Err(e) if e.is("WAFDuplicateItemException") => {
            let summary = find(ctx, name).await?;
            let arn = summary
                .as_ref()
                .and_then(WebAclSummary::arn)
                .ok_or(e.clone())?;
            if ctx.owns(&tags_of(ctx, arn).await?) {
                Ok(arn.to_string())
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// Replaces the rules (and default action) with the spec's, on the version just read.
async fn update(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &WebAclSpec,
    name: &str,
    id: &str,
) -> Result<(), AwsError> {
    let rules = sdk_rules(want)?;
    retry(
        Policy::fresh(),
        "update web ACL rules",
        &ctx.notify(&change.logical),
        || async {
            let (_, token) = get(ctx, name, id).await?;
            ctx.aws
                .wafv2
                .update_web_acl()
                .name(name)
                .id(id)
                .scope(Scope::Regional)
                .default_action(allow())
                .set_rules(Some(rules.clone()))
                .visibility_config(visibility(name)?)
                .lock_token(token)
                .send()
                .await
                .aws("UpdateWebACL", name)
        },
    )
    .await
    .map(|_| ())
}

async fn retag(ctx: &Ctx<'_>, have: &Observed, tags: &Tags) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    let (set, remove) = tag_changes(Some(have), tags);
    if !set.is_empty() {
        let set = sdk_tags(&set)?;
        ctx.aws
            .wafv2
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set))
            .send()
            .await
            .aws("TagResource", arn)?;
    }
    if !remove.is_empty() {
        ctx.aws
            .wafv2
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .aws("UntagResource", arn)?;
    }
    Ok(())
}

/// Deletes the web ACL; while it is still associated (the disassociation is
/// propagating), AWS refuses with `WAFAssociatedItemException` and the teardown policy
/// waits.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let Facts::WebAcl { name, id } = &have.facts else {
        return Err(AwsError::incomplete("GetWebACL", &have.id, "name and id"));
    };
    teardown(ctx, logical::WEB_ACL, "delete web ACL", || async {
        let (_, token) = get(ctx, name, id).await?;
        ctx.aws
            .wafv2
            .delete_web_acl()
            .name(name)
            .id(id)
            .scope(Scope::Regional)
            .lock_token(token)
            .send()
            .await
            .aws("DeleteWebACL", name)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waf::country_codes;

    #[test]
    fn albkit_knows_every_country_aws_waf_matches_on() {
        let sdk: Vec<&str> = CountryCode::values().to_vec();
        let ours: Vec<&str> = country_codes().collect();
        for c in &ours {
            assert!(sdk.contains(c), "{c} is not an AWS WAF country code");
        }
        for c in &sdk {
            assert!(
                ours.contains(c),
                "albkit does not accept the country code {c}"
            );
        }
    }

    #[test]
    fn every_rule_albkit_writes_reads_back_as_itself() {
        let rules = [
            WafRule::BlockCountries(vec!["KP".into(), "RU".into()]),
            WafRule::RateLimit {
                requests: 2000,
                window_seconds: 300,
            },
            WafRule::Managed("AWSManagedRulesCommonRuleSet".into()),
        ];
        for (i, rule) in rules.iter().enumerate() {
            let sdk = sdk_rule(rule, i).expect("valid rule");
            assert_eq!(sdk.priority(), i32::try_from(i).expect("small"));
            assert_eq!(&rule_of(&sdk), rule);
        }
    }

    #[test]
    fn a_rule_written_by_someone_else_is_not_albkits() {
        let managed = sdk_rule(&WafRule::Managed("AWSManagedRulesSQLiRuleSet".into()), 0)
            .expect("valid rule");
        let renamed = Rule::builder()
            .name("my-sqli")
            .priority(0)
            .set_statement(managed.statement().cloned())
            .set_override_action(managed.override_action().cloned())
            .set_visibility_config(managed.visibility_config().cloned())
            .build()
            .expect("valid rule");
        assert_eq!(rule_of(&renamed), WafRule::Other("my-sqli".into()));
        assert!(sdk_rule(&WafRule::Other("x".into()), 0).is_err());
    }
}
