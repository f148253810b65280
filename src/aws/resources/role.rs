//! The function's IAM execution role: trusted by Lambda, basic execution policy only.

use aws_sdk_iam::types::Tag;
use futures::future::try_join_all;

use super::vpc::ignore_not_found;
use super::{logical_of, observed, old_tags, tag_changes, Ctx};
use crate::aws::error::{build_error, AwsError, AwsResultExt};
use crate::aws::retry::{retry, Policy};
use crate::model::plan::{Change, Observed};
use crate::model::stack::{tags_prop, Kind, Resource, Tags, BASIC_EXECUTION_POLICY};

pub fn trust_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// Which services a trust policy lets assume the role (`lambda.amazonaws.com`).
fn trusted_services(document: &str) -> String {
    let decoded = urlencoding::decode(document)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| document.to_string());
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return "unreadable".into();
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let mut services: Vec<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| match &s["Principal"]["Service"] {
            serde_json::Value::String(v) => vec![v.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        })
        .collect();
    services.sort();
    services.join(", ")
}

fn to_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("TagRole", k))
        })
        .collect()
}

pub fn path(stack: &str) -> String {
    format!("/albkit/{stack}/")
}

pub async fn discover(ctx: &Ctx<'_>) -> Result<Vec<Observed>, AwsError> {
    let iam = &ctx.aws.iam;
    let mut names = Vec::new();
    let mut pages = iam
        .list_roles()
        .path_prefix(path(ctx.stack()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListRoles", "roles")?;
        names.extend(page.roles().iter().map(|r| r.role_name().to_string()));
    }
    let notify = ctx.notify("role");
    let notify = &notify;
    let found = try_join_all(names.iter().map(|name| async move {
        let (role, policies) = tokio::try_join!(
            retry(Policy::transient(), "read role", notify, || async {
                iam.get_role()
                    .role_name(name)
                    .send()
                    .await
                    .aws("GetRole", name)
            }),
            retry(
                Policy::transient(),
                "read role policies",
                notify,
                || async {
                    iam.list_attached_role_policies()
                        .role_name(name)
                        .send()
                        .await
                        .aws("ListAttachedRolePolicies", name)
                }
            ),
        )?;
        let Some(role) = role.role() else {
            return Ok(None);
        };
        let tags: Tags = role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        if !ctx.owns(&tags) {
            return Ok(None);
        }
        let Some(logical) = logical_of(&tags) else {
            return Ok(None);
        };
        let mut attached: Vec<String> = policies
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect();
        attached.sort();
        Ok::<_, AwsError>(Some(observed(
            role.arn(),
            Resource::new(logical, Kind::Role)
                .prop("name", role.role_name())
                .prop(
                    "trust",
                    trusted_services(role.assume_role_policy_document().unwrap_or_default()),
                )
                .prop("policies", attached.join(", "))
                .prop("tags", tags_prop(&tags)),
        )))
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

pub async fn apply(ctx: &Ctx<'_>, change: &Change, want: &Resource) -> Result<String, AwsError> {
    let iam = &ctx.aws.iam;
    let notify = ctx.notify(&want.logical);
    let name = want.get("name").unwrap_or_default();
    let tags = ctx.tags(&want.logical);
    let arn = match &change.id {
        Some(arn) => {
            if change.changed("tags") {
                let (set, remove) = tag_changes(&old_tags(change), &tags);
                if !set.is_empty() {
                    iam.tag_role()
                        .role_name(name)
                        .set_tags(Some(to_tags(&set)?))
                        .send()
                        .await
                        .aws("TagRole", name)?;
                }
                if !remove.is_empty() {
                    iam.untag_role()
                        .role_name(name)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .aws("UntagRole", name)?;
                }
            }
            if change.changed("trust") {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(trust_policy())
                    .send()
                    .await
                    .aws("UpdateAssumeRolePolicy", name)?;
            }
            arn.clone()
        }
        None => {
            let created = retry(Policy::transient(), "create role", &notify, || async {
                iam.create_role()
                    .role_name(name)
                    .path(path(ctx.stack()))
                    .description(format!("albkit stack {}: execution role", ctx.stack()))
                    .assume_role_policy_document(trust_policy())
                    .set_tags(Some(to_tags(&tags)?))
                    .send()
                    .await
                    .aws("CreateRole", name)
            })
            .await;
            match created {
                Ok(out) => out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                // A lost response to an earlier attempt: the role is there.
                Err(e) if e.is("EntityAlreadyExists") => {
                    let out = iam
                        .get_role()
                        .role_name(name)
                        .send()
                        .await
                        .aws("GetRole", name)?;
                    let role_tags: Tags = out
                        .role()
                        .map(|r| {
                            r.tags()
                                .iter()
                                .map(|t| (t.key().to_string(), t.value().to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    if !ctx.owns(&role_tags) {
                        return Err(AwsError { message: format!("role {name} exists but is not tagged for stack {}; albkit will not use it", ctx.stack()), ..e });
                    }
                    out.role().map(|r| r.arn().to_string()).unwrap_or_default()
                }
                Err(e) => return Err(e),
            }
        }
    };
    if change.id.is_none() || change.changed("policies") {
        let old: Vec<String> = change
            .fields
            .iter()
            .find(|f| f.name == "policies")
            .and_then(|f| f.old.clone())
            .map(|s| s.split(", ").map(str::to_string).collect())
            .unwrap_or_default();
        if !old.iter().any(|p| p == BASIC_EXECUTION_POLICY) {
            retry(
                Policy::fresh(),
                "attach basic execution policy",
                &notify,
                || async {
                    iam.attach_role_policy()
                        .role_name(name)
                        .policy_arn(BASIC_EXECUTION_POLICY)
                        .send()
                        .await
                        .aws("AttachRolePolicy", name)
                },
            )
            .await?;
        }
        for extra in old
            .iter()
            .filter(|p| !p.is_empty() && p.as_str() != BASIC_EXECUTION_POLICY)
        {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(extra)
                .send()
                .await
                .aws("DetachRolePolicy", name)
                .map(|_| ())
                .or_else(ignore_not_found)?;
        }
    }
    Ok(arn)
}

pub async fn delete(ctx: &Ctx<'_>, have: &Resource) -> Result<(), AwsError> {
    let iam = &ctx.aws.iam;
    let name = have.get("name").unwrap_or_default();
    let notify = ctx.notify(&have.logical);
    for policy in have
        .get("policies")
        .unwrap_or_default()
        .split(", ")
        .filter(|p| !p.is_empty())
    {
        retry(
            Policy::teardown(),
            "detach role policy",
            &notify,
            || async {
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(policy)
                    .send()
                    .await
                    .aws("DetachRolePolicy", name)
            },
        )
        .await
        .map(|_| ())
        .or_else(ignore_not_found)?;
    }
    if let Ok(inline) = iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .aws("ListRolePolicies", name)
    {
        for policy in inline.policy_names() {
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .aws("DeleteRolePolicy", name)
                .map(|_| ())
                .or_else(ignore_not_found)?;
        }
    }
    retry(Policy::teardown(), "delete role", &notify, || async {
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .aws("DeleteRole", name)
    })
    .await
    .map(|_| ())
    .or_else(ignore_not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_trusted_services_from_encoded_documents() {
        assert_eq!(trusted_services(&trust_policy()), "lambda.amazonaws.com");
        let encoded = urlencoding::encode(&trust_policy()).into_owned();
        assert_eq!(trusted_services(&encoded), "lambda.amazonaws.com");
        assert_eq!(trusted_services("nonsense"), "unreadable");
    }
}
