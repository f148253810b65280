//! A function's provisioned concurrency on its `live` alias: read with
//! `GetProvisionedConcurrencyConfig`, set with `PutProvisionedConcurrencyConfig` and
//! waited for until Lambda reports it `READY`, removed with
//! `DeleteProvisionedConcurrencyConfig`. It has no id or tags of its own; it is the
//! stack's because the function is, and its id is the function's name.

use std::time::Duration;

use aws_sdk_lambda::operation::get_provisioned_concurrency_config::GetProvisionedConcurrencyConfigOutput;
use aws_sdk_lambda::types::ProvisionedConcurrencyStatusEnum as Status;

use super::{found, per_function, read, teardown, wait_error, Ctx, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, wait_until, Policy, Poll};
use crate::model::found::Found;
use crate::model::names::LIVE_ALIAS;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{FunctionProvisionedSpec, Props, Ref};
use crate::model::stack::Tags;

/// How long Lambda may take to start the environments: minutes on AWS (Lambda
/// Developer Guide, "Configuring provisioned concurrency"), more for many of them.
const READY_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// The provisioned concurrency configuration of `function`'s `live` alias, if it has one.
async fn config(
    ctx: &Ctx<'_>,
    function: &str,
) -> Result<Option<GetProvisionedConcurrencyConfigOutput>, AwsError> {
    found(
        ctx.aws
            .lambda
            .get_provisioned_concurrency_config()
            .function_name(function)
            .qualifier(LIVE_ALIAS)
            .send()
            .await
            .aws("GetProvisionedConcurrencyConfig", function),
    )
}

/// The provisioned concurrency of the stack's functions among `functions` (found by
/// discovery): one found `function/<name>/provisioned` per function whose `live` alias
/// has a configuration. A function without one has nothing here, so a config without
/// `provisioned_concurrency` plans nothing for it, and one that drops the key plans the
/// configuration's removal. A state other than `READY` is shown beside the count.
pub(crate) async fn discover(ctx: &Ctx<'_>, functions: &[Found]) -> Result<Vec<Found>, AwsError> {
    per_function(functions, "provisioned", |f, name, logical_id| async move {
        let what = "read provisioned concurrency";
        let out = read(ctx, &logical_id, what, || config(ctx, name)).await?;
        Ok(out.map(|c| {
            let spec = FunctionProvisionedSpec {
                function: Ref::External(f.id.clone()),
                reservation: None,
                provisioned: c
                    .requested_provisioned_concurrent_executions()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or_default(),
            };
            Found::new(name, logical_id, spec, Tags::new()).extras(status(&c))
        }))
    })
    .await
}

/// The configuration's state as the plan shows it, when it is not `READY`.
fn status(c: &GetProvisionedConcurrencyConfigOutput) -> Props {
    match c.status() {
        Some(Status::Ready) => Props::new(),
        Some(s) => {
            let reason = c
                .status_reason()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            vec![("status", format!("{}{reason}", s.as_str()))]
        }
        None => vec![("status", "unknown".to_string())],
    }
}

/// Sets the count on the function's `live` alias (the function named by the last part
/// of its ARN) and waits until Lambda has the environments ready. Returns the
/// function's name.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &FunctionProvisionedSpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let arn = ctx.ids.of(&want.function)?;
    let function = arn.rsplit(':').next().unwrap_or(arn.as_str()).to_string();
    let count = i32::try_from(want.provisioned).unwrap_or(i32::MAX);
    let notify = ctx.notify(&change.logical);
    retry(
        Policy::fresh(),
        "provision concurrency",
        &notify,
        || async {
            ctx.aws
                .lambda
                .put_provisioned_concurrency_config()
                .function_name(&function)
                .qualifier(LIVE_ALIAS)
                .provisioned_concurrent_executions(count)
                .send()
                .await
                .aws("PutProvisionedConcurrencyConfig", &function)
        },
    )
    .await?;
    let what = format!("provisioned concurrency of {function}:{LIVE_ALIAS} to be ready");
    wait_until(&what, READY_DEADLINE, &notify, || async {
        let c = config(ctx, &function).await?;
        Ok(match c.as_ref().and_then(|c| c.status().cloned()) {
            Some(Status::Ready) => Poll::Ready(()),
            Some(Status::Failed) => Poll::Failed {
                state: "FAILED".into(),
                reason: c
                    .as_ref()
                    .and_then(|c| c.status_reason())
                    .unwrap_or("no reason given")
                    .to_string(),
            },
            // Not visible yet right after the put, or still allocating.
            other => Poll::Pending(
                other.map_or_else(|| "not found yet".into(), |s| s.as_str().to_string()),
            ),
        })
    })
    .await
    .map_err(|e| wait_error(e, "GetProvisionedConcurrencyConfig", &function))?;
    Ok(function)
}

/// Removes the configuration (`down` too: it goes before its function); one whose
/// function or alias is gone is gone with it.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let name = have.id.as_str();
    let logical_id = have.resource.logical.as_str();
    teardown(
        ctx,
        logical_id,
        "remove provisioned concurrency",
        || async {
            ctx.aws
                .lambda
                .delete_provisioned_concurrency_config()
                .function_name(name)
                .qualifier(LIVE_ALIAS)
                .send()
                .await
                .aws("DeleteProvisionedConcurrencyConfig", name)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_state_other_than_ready_is_shown() {
        let with = |status: Status, reason: Option<&str>| {
            GetProvisionedConcurrencyConfigOutput::builder()
                .requested_provisioned_concurrent_executions(5)
                .status(status)
                .set_status_reason(reason.map(str::to_string))
                .build()
        };
        assert!(status(&with(Status::Ready, None)).is_empty());
        assert_eq!(
            status(&with(Status::InProgress, None)),
            vec![("status", "IN_PROGRESS".to_string())]
        );
        assert_eq!(
            status(&with(Status::Failed, Some("not enough concurrency"))),
            vec![("status", "FAILED: not enough concurrency".to_string())]
        );
    }
}
