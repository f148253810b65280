//! The association of the stack's web ACL with its load balancer: read with
//! `GetWebACLForResource`, made with `AssociateWebACL` (which also replaces the web ACL
//! a load balancer had), removed with `DisassociateWebACL`.
//!
//! A load balancer holds one web ACL. One associated by someone else (AWS Firewall
//! Manager, a security team) is not the stack's: without `[waf]` albkit leaves it
//! alone; with `[waf]` it is in the way, and `plan`/`up` stop until somebody decides.

use super::{read, teardown, Ctx, Foreign, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{Ref, WebAclAssociationSpec};
use crate::model::stack::Tags;

/// The association of the load balancer `lb_arn` (the stack's), given the stack's web
/// ACL as discovery found it (`web_acl`).
pub(crate) async fn discover(
    ctx: &Ctx<'_>,
    lb_arn: &str,
    web_acl: Option<&Found>,
) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let out = read(
        ctx,
        logical::WEB_ACL_ASSOCIATION,
        "read web ACL association",
        || async {
            ctx.aws
                .wafv2
                .get_web_acl_for_resource()
                .resource_arn(lb_arn)
                .send()
                .await
                .aws("GetWebACLForResource", lb_arn)
        },
    )
    .await?;
    let Some(associated) = out.web_acl().map(|a| a.arn().to_string()) else {
        return Ok((vec![], vec![]));
    };
    if web_acl.is_some_and(|w| w.id == associated) {
        let spec = WebAclAssociationSpec {
            web_acl: Ref::External(associated),
            load_balancer: Ref::External(lb_arn.to_string()),
        };
        let found = Found::new(lb_arn, logical::WEB_ACL_ASSOCIATION, spec, Tags::new());
        return Ok((vec![found], vec![]));
    }
    if ctx.config.waf.is_none() {
        return Ok((vec![], vec![]));
    }
    let foreign = Foreign {
        kind: "web ACL association",
        name: associated,
        reason: "this web ACL, which is not the stack's, is associated with the stack's load \
                 balancer; `[waf]` would replace it (disassociate it, or remove `[waf]`)"
            .to_string(),
    };
    Ok((vec![], vec![foreign]))
}

/// Associates the web ACL with the load balancer. Returns the load balancer's ARN. A
/// web ACL just created may not be usable yet (`WAFUnavailableEntityException`): the
/// fresh policy waits for it.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &WebAclAssociationSpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let web_acl = ctx.ids.of(&want.web_acl)?;
    let lb = ctx.ids.of(&want.load_balancer)?;
    retry(
        Policy::fresh(),
        "associate web ACL",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .wafv2
                .associate_web_acl()
                .web_acl_arn(&web_acl)
                .resource_arn(&lb)
                .send()
                .await
                .aws("AssociateWebACL", &lb)
        },
    )
    .await?;
    Ok(lb)
}

/// Takes the web ACL off the load balancer (its id); `down` does this before deleting
/// either.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let lb = have.id.as_str();
    teardown(
        ctx,
        logical::WEB_ACL_ASSOCIATION,
        "disassociate web ACL",
        || async {
            ctx.aws
                .wafv2
                .disassociate_web_acl()
                .resource_arn(lb)
                .send()
                .await
                .aws("DisassociateWebACL", lb)
        },
    )
    .await
}
