//! A function's reserved concurrency: read with `GetFunctionConcurrency`, set with
//! `PutFunctionConcurrency`, removed with `DeleteFunctionConcurrency`. It has no id or
//! tags of its own; it is the stack's because the function is, and its id is the
//! function's name.

use super::{per_function, read, teardown, Ctx, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{FunctionConcurrencySpec, Ref};
use crate::model::stack::Tags;

/// The reservation of the function `name`, if it has one.
async fn reserved(ctx: &Ctx<'_>, name: &str) -> Result<Option<u32>, AwsError> {
    let out = ctx
        .aws
        .lambda
        .get_function_concurrency()
        .function_name(name)
        .send()
        .await
        .aws("GetFunctionConcurrency", name)?;
    Ok(out
        .reserved_concurrent_executions()
        .and_then(|n| u32::try_from(n).ok()))
}

/// The reservations of the stack's functions among `functions` (found by discovery):
/// one found `function/<name>/concurrency` per function that has one. A function
/// without one has nothing here, so a config without `reserved_concurrency` plans
/// nothing for it, and one that drops the key plans the reservation's removal.
pub(crate) async fn discover(ctx: &Ctx<'_>, functions: &[Found]) -> Result<Vec<Found>, AwsError> {
    per_function(functions, "concurrency", |f, name, logical_id| async move {
        let what = "read reserved concurrency";
        let n = read(ctx, &logical_id, what, || reserved(ctx, name)).await?;
        Ok(n.map(|reserved| {
            let spec = FunctionConcurrencySpec {
                function: Ref::External(f.id.clone()),
                reserved,
            };
            Found::new(name, logical_id, spec, Tags::new())
        }))
    })
    .await
}

/// Sets the reservation on the function (by its ARN). Returns the function's name.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &FunctionConcurrencySpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let function = ctx.ids.of(&want.function)?;
    let reserved = i32::try_from(want.reserved).unwrap_or(i32::MAX);
    retry(
        Policy::fresh(),
        "reserve concurrency",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .lambda
                .put_function_concurrency()
                .function_name(&function)
                .reserved_concurrent_executions(reserved)
                .send()
                .await
                .aws("PutFunctionConcurrency", &function)
        },
    )
    .await?;
    Ok(function
        .rsplit(':')
        .next()
        .unwrap_or(function.as_str())
        .to_string())
}

/// Removes the reservation (`down` too: it goes before its function); one whose
/// function is gone is gone with it.
pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let name = have.id.as_str();
    let logical_id = have.resource.logical.as_str();
    teardown(ctx, logical_id, "remove reserved concurrency", || async {
        ctx.aws
            .lambda
            .delete_function_concurrency()
            .function_name(name)
            .send()
            .await
            .aws("DeleteFunctionConcurrency", name)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::found::resolve;
    use crate::model::spec::FunctionSpec;

    #[test]
    fn a_reservation_refers_to_its_function_by_logical_id() {
        let spec = FunctionConcurrencySpec {
            function: Ref::External("arn:aws:lambda:us-east-1:1:function:shop--api".into()),
            reserved: 7,
        };
        let concurrency = Found::new("shop--api", "function/api/concurrency", spec, Tags::new());
        let function = Found::new(
            "arn:aws:lambda:us-east-1:1:function:shop--api",
            "function/api",
            FunctionSpec {
                config_name: "api".into(),
                name: "shop--api".into(),
                architecture: crate::model::config::Architecture::X86_64,
                memory_mb: 128,
                timeout_seconds: 3,
                role: Ref::External("arn:role".into()),
                log_group: Ref::External("/aws/lambda/shop--api".into()),
                environment: std::collections::BTreeMap::new(),
                kms_key_arn: None,
                code_sha256: String::new(),
                tags: Tags::new(),
            },
            Tags::new(),
        );
        let observed = resolve(vec![function, concurrency], &[]);
        let c = observed
            .iter()
            .find(|o| o.resource.logical == "function/api/concurrency")
            .expect("found");
        assert_eq!(c.id, "shop--api");
        assert_eq!(c.resource.get("function"), Some("function/api"));
        assert_eq!(c.resource.get("reserved"), Some("7"));
    }
}
