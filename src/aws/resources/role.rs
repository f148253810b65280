//! The function's IAM execution role: trusted by Lambda only, one inline policy
//! ([`crate::model::role_policy`]), no managed policy, the configured permissions boundary.

use aws_sdk_iam::operation::{
    get_role::GetRoleOutput, list_role_policies::ListRolePoliciesOutput as ListOutput,
};
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use futures::future::try_join_all;

use super::ignore_not_found;
use super::{
    as_found, logical_of, not_tagged_reason, tag_changes, teardown, Ctx, Foreign, Teardown,
};
use crate::aws::error::{build_error, AwsError, AwsResultExt, ResourceError};
use crate::aws::events::ResourceNotify;
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::{Names, TAG_REGION, TAG_RESOURCE, TAG_STACK};
use crate::model::plan::{Change, Facts, Observed};
use crate::model::role_policy::{
    describe_trust, inline_prop, parse_document, trust_policy as trust_document,
    EXECUTION_POLICY_NAME,
};
use crate::model::spec::{Props, RoleSpec};
use crate::model::stack::Tags;

pub fn trust_policy() -> String {
    trust_document().to_string()
}

/// Who may assume the role, as `plan` compares it ([`describe_trust`]).
fn trusted_services(document: &str) -> String {
    parse_document(document).map_or_else(|| "unreadable".into(), |doc| describe_trust(&doc))
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

/// What a role found under the stack's path (or under one of its names) is to the stack
/// in this region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The stack's role in this region, as the logical id its tags give.
    Ours(String),
    /// The same stack's role in another region: never read further, changed or deleted.
    OtherRegion,
    /// It bears one of the names this stack uses here, without the proof.
    Foreign(String),
    /// Nothing to do with this stack in this region.
    Unrelated,
}

/// Decides, from its path, name and tags, whose a role is. Pure.
///
/// The stack's role in this region has the stack's tag and this region's
/// `albkit:region` tag. A role of an albkit version from before roles carried their
/// region (directly under `/albkit/<stack>/`, no region tag) is taken only when its name
/// is exactly the one this stack and region gave it, a name that ends with the region.
pub fn owner(names: &Names, functions: &[&str], path: &str, name: &str, tags: &Tags) -> Owner {
    let ours_here = |f: &str| name == names.role(f) || name == names.legacy_role(f);
    let uses_our_name = functions.iter().any(|f| ours_here(f));
    let foreign = |reason: String| {
        if uses_our_name {
            Owner::Foreign(reason)
        } else {
            Owner::Unrelated
        }
    };
    match tags.get(TAG_STACK) {
        None => return foreign(format!("it has no {TAG_STACK} tag")),
        Some(stack) if stack != names.stack() => {
            return foreign(format!(
                "its {TAG_STACK} tag is {stack:?}, not {:?}",
                names.stack()
            ))
        }
        Some(_) => {}
    }
    let Some(logical) = logical_of(tags) else {
        return foreign(format!("it has no {TAG_RESOURCE} tag"));
    };
    match tags.get(TAG_REGION) {
        Some(region) if region == names.region() => Owner::Ours(logical),
        Some(_) => Owner::OtherRegion,
        None => {
            let function = logical.strip_prefix("role/").unwrap_or_default();
            if path == names.role_path_prefix() && !function.is_empty() && ours_here(function) {
                Owner::Ours(logical)
            } else if uses_our_name {
                Owner::Foreign(format!(
                    "it has no {TAG_REGION} tag, and is not the role an earlier albkit created for this stack in {}",
                    names.region()
                ))
            } else {
                // An earlier albkit's role of this stack in another region.
                Owner::OtherRegion
            }
        }
    }
}

/// Whether a role under the stack's path needs reading: the roles of the stack's other
/// regions live under their own region's path and are left alone without a call.
fn worth_reading(names: &Names, path: &str) -> bool {
    path == names.role_path_prefix() || path == names.role_path()
}

fn tags_of(role: &aws_sdk_iam::types::Role) -> Tags {
    role.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// `GetRole` for role `name`.
async fn get_role(iam: &Client, name: &str) -> Result<GetRoleOutput, AwsError> {
    iam.get_role()
        .role_name(name)
        .send()
        .await
        .aws("GetRole", name)
}

/// `ListRolePolicies` for role `name`: the names of its inline policies.
async fn list_inline(iam: &Client, name: &str) -> Result<ListOutput, AwsError> {
    let listed = iam.list_role_policies().role_name(name).send().await;
    listed.aws("ListRolePolicies", name)
}

/// The names of the configured functions, one role each.
fn function_names<'c>(ctx: &'c Ctx<'_>) -> Vec<&'c str> {
    ctx.config
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect()
}

pub async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let functions = function_names(ctx);
    let (names, mut foreign) =
        tokio::try_join!(list_role_names(ctx), misplaced_roles(ctx, &functions))?;
    let notify = ctx.notify("role");
    let reads = names.iter().map(|n| read_role(ctx, &functions, n, &notify));
    let found = try_join_all(reads).await?;
    let (roles, found_foreign) = super::split_found(found);
    foreign.extend(found_foreign);
    Ok((roles, foreign))
}

/// The names of the roles under the stack's path that are worth reading.
async fn list_role_names(ctx: &Ctx<'_>) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut pages = ctx
        .aws
        .iam
        .list_roles()
        .path_prefix(ctx.names.role_path_prefix())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListRoles", "roles")?;
        names.extend(
            page.roles()
                .iter()
                .filter(|r| worth_reading(ctx.names, r.path()))
                .map(|r| r.role_name().to_string()),
        );
    }
    Ok(names)
}

/// Roles with one of the stack's names elsewhere than under its path (IAM names are
/// global): looked for beside the listing, each foreign.
async fn misplaced_roles(ctx: &Ctx<'_>, functions: &[&str]) -> Result<Vec<Foreign>, AwsError> {
    let iam = &ctx.aws.iam;
    let elsewhere = try_join_all(functions.iter().map(|f| async move {
        let name = ctx.names.role(f);
        match get_role(iam, &name).await {
            Ok(out) => Ok(out.role().cloned()),
            Err(e) if e.not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }))
    .await?;
    Ok(elsewhere
        .into_iter()
        .flatten()
        .filter(|r| !r.path().starts_with(&ctx.names.role_path_prefix()))
        .map(|r| Foreign {
            kind: "IAM role",
            name: r.role_name().to_string(),
            reason: format!(
                "its path is {}, not under {}, where albkit puts the stack's roles",
                r.path(),
                ctx.names.role_path_prefix()
            ),
        })
        .collect())
}

/// Reads role `name` with its inline and attached policies: the stack's role, a foreign
/// one in its place, or nothing of this stack in this region (`None`).
async fn read_role(
    ctx: &Ctx<'_>,
    functions: &[&str],
    name: &str,
    notify: &ResourceNotify<'_>,
) -> Result<Option<Result<Found, Foreign>>, AwsError> {
    let iam = &ctx.aws.iam;
    let get = || get_role(iam, name);
    let attached = || async {
        iam.list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .aws("ListAttachedRolePolicies", name)
    };
    let (role, inline, policies) = tokio::try_join!(
        retry(Policy::transient(), "read role", notify, get),
        read_inline_policies(iam, name, notify),
        retry(Policy::transient(), "read role policies", notify, attached),
    )?;
    let Some(role) = role.role() else {
        return Ok(None);
    };
    let tags = tags_of(role);
    let logical = match owner(ctx.names, functions, role.path(), name, &tags) {
        Owner::Ours(logical) => logical,
        Owner::Foreign(reason) => {
            return Ok(Some(Err(Foreign {
                kind: "IAM role",
                name: name.to_string(),
                reason,
            })))
        }
        Owner::OtherRegion | Owner::Unrelated => return Ok(None),
    };
    let attached: Vec<String> = policies
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    Ok(Some(Ok(observe(logical, role, attached, &inline, &tags))))
}

/// The stack's role as found. Pure.
fn observe(
    logical: String,
    role: &aws_sdk_iam::types::Role,
    mut attached: Vec<String>,
    inline: &[(String, serde_json::Value)],
    tags: &Tags,
) -> Found {
    attached.sort();
    let execution = inline
        .iter()
        .find(|(name, _)| name == EXECUTION_POLICY_NAME);
    let spec = RoleSpec {
        name: role.role_name().to_string(),
        execution_policy: execution.map(|(_, p)| p.clone()).unwrap_or_default(),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        tags: tags.clone(),
    };
    let mut extras = Props::new();
    let trust = trusted_services(role.assume_role_policy_document().unwrap_or_default());
    as_found(&mut extras, "trust", trust, RoleSpec::TRUSTED);
    if !attached.is_empty() {
        extras.push(("policies", attached.join(", ")));
    }
    let policies = inline_prop(&spec.inline_policies());
    as_found(
        &mut extras,
        "inline_policies",
        inline_prop(inline),
        policies,
    );
    let facts = Facts::Role {
        name: role.role_name().to_string(),
        policies: attached,
    };
    Found::new(role.arn(), logical, spec, tags.clone())
        .extras(extras)
        .with(facts)
}

pub async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RoleSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let notify = ctx.notify(&change.logical);
    let arn = match &change.id {
        Some(arn) => {
            update(ctx, change, want, have).await?;
            arn.clone()
        }
        None => create(ctx, change, want, &notify).await?,
    };
    if change.id.is_none() || change.changed("inline_policies") {
        put_inline_policy(ctx, change, want, &notify).await?;
    }
    if change.id.is_some() && change.changed("policies") {
        detach_policies(ctx, want, have.map_or(&[], policies)).await?;
    }
    Ok(arn)
}

/// Brings an existing role's tags, trust policy and permissions boundary, where they
/// changed, to the wanted ones.
async fn update(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RoleSpec,
    have: Option<&Observed>,
) -> Result<(), AwsError> {
    let (iam, name) = (&ctx.aws.iam, want.name.as_str());
    if change.changed("tags") {
        let (set, remove) = tag_changes(have, &want.tags);
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
    if !change.changed("permissions_boundary") {
        return Ok(());
    }
    match &want.permissions_boundary {
        Some(boundary) => iam
            .put_role_permissions_boundary()
            .role_name(name)
            .permissions_boundary(boundary)
            .send()
            .await
            .map(|_| ())
            .aws("PutRolePermissionsBoundary", name),
        None => iam
            .delete_role_permissions_boundary()
            .role_name(name)
            .send()
            .await
            .map(|_| ())
            .aws("DeleteRolePermissionsBoundary", name)
            .or_else(ignore_not_found),
    }
}

/// Creates the role under the stack's path, trusted by Lambda, with its boundary and
/// tags; gives its ARN.
async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RoleSpec,
    notify: &ResourceNotify<'_>,
) -> Result<String, AwsError> {
    let name = want.name.as_str();
    let created = retry(Policy::transient(), "create role", notify, || async {
        ctx.aws
            .iam
            .create_role()
            .role_name(name)
            .path(ctx.names.role_path())
            .description(format!("albkit stack {}: execution role", ctx.stack()))
            .assume_role_policy_document(trust_policy())
            .set_permissions_boundary(want.permissions_boundary.clone())
            .set_tags(Some(to_tags(&want.tags)?))
            .send()
            .await
            .aws("CreateRole", name)
    })
    .await;
    match created {
        Ok(out) => Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default()),
        Err(e) if e.is("EntityAlreadyExists") => adopt(ctx, change, name, e).await,
        Err(e) => Err(e),
    }
}

/// A lost response to an earlier attempt: the role is there. It is taken (its ARN
/// given) only with the proof discovery asks for; otherwise `e`, the `EntityAlreadyExists`
/// error, is returned, saying why the role is not the stack's.
async fn adopt(
    ctx: &Ctx<'_>,
    change: &Change,
    name: &str,
    e: AwsError,
) -> Result<String, AwsError> {
    let out = get_role(&ctx.aws.iam, name).await?;
    let Some(role) = out.role() else {
        return Err(AwsError::incomplete("GetRole", name, "role"));
    };
    let functions = function_names(ctx);
    let reason = match owner(ctx.names, &functions, role.path(), name, &tags_of(role)) {
        Owner::Ours(logical) if logical == change.logical => None,
        Owner::Ours(logical) => Some(format!(
            "its {TAG_RESOURCE} tag is {logical:?}, not {:?}",
            change.logical
        )),
        Owner::Foreign(reason) => Some(reason),
        Owner::OtherRegion => Some(format!(
            "it belongs to stack {} in another region",
            ctx.stack()
        )),
        Owner::Unrelated => Some(not_tagged_reason(ctx, &tags_of(role))),
    };
    if let Some(reason) = reason {
        return Err(AwsError {
            message: format!(
                "role {name} exists but is not this stack's ({reason}); albkit will not use it: delete or rename that role, or rename the stack ([stack].name)"
            ),
            ..e
        });
    }
    Ok(role.arn().to_string())
}

/// Writes the role's one inline policy, the execution policy. On a role that was there
/// before, statements someone added in inline policies of their own go with them.
async fn put_inline_policy(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &RoleSpec,
    notify: &ResourceNotify<'_>,
) -> Result<(), AwsError> {
    let (iam, name) = (&ctx.aws.iam, want.name.as_str());
    let document = want.execution_policy.to_string();
    // A role just created may not be visible to every IAM endpoint yet.
    retry(Policy::fresh(), "put execution policy", notify, || async {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(EXECUTION_POLICY_NAME)
            .policy_document(&document)
            .send()
            .await
            .aws("PutRolePolicy", name)
    })
    .await?;
    if change.id.is_none() {
        return Ok(());
    }
    let listed = list_inline(iam, name).await?;
    let others = listed.policy_names().iter();
    for other in others.filter(|p| p.as_str() != EXECUTION_POLICY_NAME) {
        delete_inline_policy(iam, name, other).await?;
    }
    Ok(())
}

/// Deletes inline policy `policy` of role `name`; one already gone is success.
async fn delete_inline_policy(iam: &Client, name: &str, policy: &str) -> Result<(), AwsError> {
    iam.delete_role_policy()
        .role_name(name)
        .policy_name(policy)
        .send()
        .await
        .aws("DeleteRolePolicy", name)
        .map(|_| ())
        .or_else(ignore_not_found)
}

/// The managed policies attached to an observed role.
fn policies(have: &Observed) -> &[String] {
    match &have.facts {
        Facts::Role { policies, .. } => policies,
        _ => &[],
    }
}

/// No managed policy belongs on the role: AWSLambdaBasicExecutionRole (attached by
/// earlier albkit versions) and any other found on it (`attached`) are detached.
async fn detach_policies(
    ctx: &Ctx<'_>,
    want: &RoleSpec,
    attached: &[String],
) -> Result<(), AwsError> {
    let (iam, name) = (&ctx.aws.iam, want.name.as_str());
    for attached in attached {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(attached)
            .send()
            .await
            .aws("DetachRolePolicy", name)
            .map(|_| ())
            .or_else(ignore_not_found)?;
    }
    Ok(())
}

/// Every inline policy of role `name`, with its document.
async fn read_inline_policies(
    iam: &Client,
    name: &str,
    notify: &ResourceNotify<'_>,
) -> Result<Vec<(String, serde_json::Value)>, AwsError> {
    let list = || list_inline(iam, name);
    let listed = retry(Policy::transient(), "read role policies", notify, list).await?;
    let names: Vec<String> = listed.policy_names().to_vec();
    try_join_all(names.into_iter().map(|policy| async move {
        let out = retry(Policy::transient(), "read role policy", notify, || async {
            iam.get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .aws("GetRolePolicy", name)
        })
        .await?;
        let doc = parse_document(out.policy_document())
            .unwrap_or_else(|| serde_json::Value::String("unreadable".into()));
        Ok((policy, doc))
    }))
    .await
}

pub async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let (iam, logical) = (&ctx.aws.iam, &have.resource.logical);
    let name = have.name().unwrap_or_default();
    for policy in policies(have) {
        teardown(ctx, logical, "detach role policy", || async {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(policy)
                .send()
                .await
                .aws("DetachRolePolicy", name)
        })
        .await?;
    }
    if let Ok(inline) = list_inline(iam, name).await {
        for policy in inline.policy_names() {
            delete_inline_policy(iam, name, policy).await?;
        }
    }
    teardown(ctx, logical, "delete role", || async {
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .aws("DeleteRole", name)
    })
    .await
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

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        crate::model::stack::tags_from(pairs)
    }

    #[test]
    fn a_role_is_the_stacks_only_with_its_region() {
        let east = Names::new("shop", "us-east-1");
        let ours = tags(&[
            (TAG_STACK, "shop"),
            (TAG_RESOURCE, "role/api"),
            (TAG_REGION, "us-east-1"),
        ]);
        let name = east.role("api");
        let path = east.role_path();
        assert_eq!(
            owner(&east, &["api"], &path, &name, &ours),
            Owner::Ours("role/api".into())
        );
        // The same stack in us-west-2 sees it, and leaves it.
        let west = Names::new("shop", "us-west-2");
        assert_eq!(
            owner(&west, &["api"], &path, &name, &ours),
            Owner::OtherRegion
        );
        // Another stack's role, or an untagged one, under one of our names: foreign.
        let other = tags(&[(TAG_STACK, "shop-api"), (TAG_RESOURCE, "role/api")]);
        assert!(matches!(
            owner(&east, &["api"], &path, &name, &other),
            Owner::Foreign(r) if r.contains("shop-api")
        ));
        assert!(matches!(
            owner(&east, &["api"], "/", &name, &Tags::new()),
            Owner::Foreign(r) if r.contains("no albkit:stack tag")
        ));
        // …and under a name we do not use: none of our business.
        assert_eq!(
            owner(&east, &["web"], &path, &name, &Tags::new()),
            Owner::Unrelated
        );
    }

    #[test]
    fn a_role_of_an_earlier_albkit_is_taken_by_its_exact_name_in_its_region() {
        let east = Names::new("shop", "us-east-1");
        let west = Names::new("shop", "us-west-2");
        let old = tags(&[(TAG_STACK, "shop"), (TAG_RESOURCE, "role/api")]);
        let legacy_path = east.role_path_prefix();
        let name = east.legacy_role("api");
        assert_eq!(name, "albkit-shop-api-us-east-1");
        assert_eq!(
            owner(&east, &["api"], &legacy_path, &name, &old),
            Owner::Ours("role/api".into())
        );
        // The other region's role of an earlier albkit: not ours, not foreign either.
        assert_eq!(
            owner(&west, &["api"], &legacy_path, &name, &old),
            Owner::OtherRegion
        );
        // Without the region tag, the name must be exact.
        assert!(matches!(
            owner(&east, &["api", "web"], &legacy_path, &east.role("api"), &tags(&[(TAG_STACK, "shop"), (TAG_RESOURCE, "role/web")])),
            Owner::Foreign(r) if r.contains(TAG_REGION)
        ));
        // And the path must be the old one.
        assert!(matches!(
            owner(&east, &["api"], "/elsewhere/", &name, &old),
            Owner::Foreign(_)
        ));
    }

    #[test]
    fn only_roles_of_this_region_or_of_earlier_versions_are_read() {
        let east = Names::new("shop", "us-east-1");
        assert!(worth_reading(&east, "/albkit/shop/"));
        assert!(worth_reading(&east, "/albkit/shop/us-east-1/"));
        assert!(!worth_reading(&east, "/albkit/shop/us-west-2/"));
    }
}
