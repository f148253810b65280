//! The stack's CloudWatch dashboard (`[alarms] dashboard`): found by its name
//! (`ListDashboards`), read (`GetDashboard`), written whole (`PutDashboard`, an upsert)
//! and deleted (`DeleteDashboards`).
//!
//! Dashboards take no tags and are global to the account: the name holds the stack and
//! the region, and the body's text widget the stack's marker. One of the stack's name
//! without the marker is foreign.

use serde_json::Value;

use super::{read, teardown, Ctx, Foreign};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{
    arn_dimension, dashboard_body, read_dashboard_body, DashboardRow, DashboardSpec, Ref, Spec,
};
use crate::model::stack::Tags;

/// The stack's dashboard, its rows' and load balancer's dimensions as read
/// ([`link_dimensions`] makes them ARNs), or a foreign one of its name when the config
/// asks for the dashboard.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let name = ctx.names.dashboard();
    let list = read(ctx, logical::DASHBOARD, "list dashboards", || async {
        ctx.aws
            .cloudwatch
            .list_dashboards()
            .dashboard_name_prefix(&name)
            .send()
            .await
            .aws("ListDashboards", &name)
    })
    .await?;
    let exists = list
        .dashboard_entries()
        .iter()
        .any(|d| d.dashboard_name() == Some(name.as_str()));
    if !exists {
        return Ok((vec![], vec![]));
    }
    let out = read(ctx, logical::DASHBOARD, "read dashboard", || async {
        ctx.aws
            .cloudwatch
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .aws("GetDashboard", &name)
    })
    .await?;
    let text = out.dashboard_body().unwrap_or_default();
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let mut spec = DashboardSpec {
        name: name.clone(),
        stack: ctx.stack().to_string(),
        region: ctx.names.region().to_string(),
        rows: vec![],
        load_balancer: Ref::External(String::new()),
        edited: false,
    };
    let Some((rows, lb)) = read_dashboard_body(&body, &spec.marker()) else {
        let wanted = ctx.config.alarms.as_ref().is_some_and(|a| a.dashboard);
        if !wanted {
            // Somebody's dashboard under the name, which the config does not ask for.
            return Ok((vec![], vec![]));
        }
        let foreign = Foreign {
            kind: "CloudWatch dashboard",
            name,
            reason: format!(
                "its body does not hold {:?}, the mark of the stack's dashboard (dashboards \
                 take no tags); delete or rename it",
                spec.marker()
            ),
        };
        return Ok((vec![], vec![foreign]));
    };
    spec.rows = rows
        .iter()
        .map(|(function, tg)| DashboardRow {
            function: function.clone(),
            lambda_name: ctx.names.function(function),
            target_group: Ref::External(tg.clone()),
        })
        .collect();
    let dims: Vec<String> = rows.into_iter().map(|(_, tg)| tg).collect();
    spec.edited = dashboard_body(&spec, &dims, &lb) != body;
    spec.load_balancer = Ref::External(lb);
    let found = Found::new(name, logical::DASHBOARD, spec, Tags::new());
    Ok((vec![found], vec![]))
}

/// Makes the found dashboard's dimensions the ARNs they are the ends of, among `arns`
/// (what discovery found), so that resolving them gives logical ids.
pub(crate) fn link_dimensions(found: &mut [Found], arns: &[&str]) {
    let arn_of = |v: &mut Ref| {
        if let Ref::External(value) = v {
            if let Some(arn) = arns.iter().find(|a| arn_dimension(a) == value.as_str()) {
                *value = (*arn).to_string();
            }
        }
    };
    for f in found {
        if let Spec::Dashboard(spec) = &mut f.spec {
            for row in &mut spec.rows {
                arn_of(&mut row.target_group);
            }
            arn_of(&mut spec.load_balancer);
        }
    }
}

/// Writes the whole body (`PutDashboard`). Returns the dashboard's name.
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &DashboardSpec,
    _: Option<&Observed>,
) -> Result<String, ResourceError> {
    let mut target_groups = Vec::new();
    for row in &want.rows {
        target_groups.push(arn_dimension(&ctx.ids.of(&row.target_group)?).to_string());
    }
    let lb_arn = ctx.ids.of(&want.load_balancer)?;
    let body = dashboard_body(want, &target_groups, arn_dimension(&lb_arn)).to_string();
    retry(
        Policy::fresh(),
        "put dashboard",
        &ctx.notify(&change.logical),
        || async {
            ctx.aws
                .cloudwatch
                .put_dashboard()
                .dashboard_name(&want.name)
                .dashboard_body(&body)
                .send()
                .await
                .aws("PutDashboard", &want.name)
        },
    )
    .await?;
    Ok(want.name.clone())
}

/// Deletes the dashboard (its name); one already gone is deleted.
pub(crate) async fn delete(
    ctx: &Ctx<'_>,
    have: &Observed,
    _: super::Teardown,
) -> Result<(), AwsError> {
    let name = have.id.as_str();
    teardown(ctx, logical::DASHBOARD, "delete dashboard", || async {
        ctx.aws
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(name)
            .send()
            .await
            .aws("DeleteDashboards", name)
    })
    .await
}
