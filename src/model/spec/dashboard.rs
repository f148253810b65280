//! The stack's CloudWatch dashboard (`[alarms] dashboard`, docs/alarms.md): a text
//! widget that names the stack, one row of three graphs per function (requests and
//! 5xx; p99 response time; Lambda errors and throttles) and a last row of the load
//! balancer's requests and errors. Its body names the target groups and the load
//! balancer by the ends of their ARNs, known once they exist, so the spec holds typed
//! references and [`body`] writes the JSON from the values AWS gave them.
//!
//! Dashboards take no tags: the stack's is the one of its name whose text widget holds
//! [`DashboardSpec::marker`].

use serde_json::{json, Value};

use super::{Describe, KindFacts, LogicalId, Props, Ref};

/// One function's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardRow {
    /// The function's name in the config.
    pub function: String,
    /// Its Lambda function's name (`<stack>--<function>`).
    pub lambda_name: String,
    pub target_group: Ref,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSpec {
    /// `albkit-<stack>-<region>`: dashboards are global to the account.
    pub name: String,
    pub stack: String,
    pub region: String,
    pub rows: Vec<DashboardRow>,
    pub load_balancer: Ref,
    /// What discovery found changed in the body beyond the rows and the load balancer
    /// (a widget edited by hand): never desired, so it is drift.
    pub edited: bool,
}

/// The property the plan shows for the body.
const AS_WRITTEN: &str = "as albkit writes it";

/// The title of a function's first graph, which discovery reads the row back from.
const REQUESTS: &str = ": requests and 5xx";
/// The title of the load balancer's graph.
const LOAD_BALANCER: &str = "load balancer: requests and errors";

impl DashboardSpec {
    /// The proof that the dashboard is the stack's, in its first (text) widget.
    pub fn marker(&self) -> String {
        format!("albkit:stack={} albkit:region={}", self.stack, self.region)
    }
}

impl KindFacts for DashboardSpec {
    const NAME: &'static str = "dashboard";
    const RANK: u8 = 4;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for DashboardSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("{}: {}", r.function, r.target_group))
            .collect();
        let body = if self.edited {
            "changed outside albkit"
        } else {
            AS_WRITTEN
        };
        vec![
            ("name", self.name.clone()),
            ("marker", self.marker()),
            ("rows", rows.join(", ")),
            ("load_balancer", self.load_balancer.to_string()),
            ("body", body.to_string()),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        let mut refs: Vec<&mut Ref> = self.rows.iter_mut().map(|r| &mut r.target_group).collect();
        refs.push(&mut self.load_balancer);
        refs
    }
}

/// A graph of `metrics` (each `[namespace, metric, dimension, value, …]`).
fn graph(
    x: u32,
    y: u32,
    width: u32,
    title: &str,
    region: &str,
    stat: &str,
    metrics: Value,
) -> Value {
    json!({
        "type": "metric", "x": x, "y": y, "width": width, "height": 6,
        "properties": {
            "title": title, "region": region, "stat": stat, "period": 300,
            "view": "timeSeries", "metrics": metrics
        }
    })
}

/// The dashboard's body: `target_groups[i]` is row `i`'s `TargetGroup` dimension
/// (`targetgroup/<name>/<id>`), `load_balancer` the `LoadBalancer` one (`app/…`).
pub fn body(spec: &DashboardSpec, target_groups: &[String], load_balancer: &str) -> Value {
    let (lb, region) = (load_balancer, spec.region.as_str());
    let elb = "AWS/ApplicationELB";
    let mut widgets = vec![json!({
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
        "properties": {"markdown": format!(
            "## albkit stack {} ({})\nMade by albkit ({}); `albkit up` undoes changes made here.",
            spec.stack, region, spec.marker()
        )}
    })];
    let mut y = 2;
    for (row, tg) in spec.rows.iter().zip(target_groups) {
        let target = |metric: &str| json!([elb, metric, "TargetGroup", tg, "LoadBalancer", lb]);
        let f = &row.function;
        widgets.push(graph(
            0,
            y,
            8,
            &format!("{f}{REQUESTS}"),
            region,
            "Sum",
            json!([target("RequestCount"), target("HTTPCode_Target_5XX_Count")]),
        ));
        widgets.push(graph(
            8,
            y,
            8,
            &format!("{f}: p99 response time (s)"),
            region,
            "p99",
            json!([target("TargetResponseTime")]),
        ));
        widgets.push(graph(
            16,
            y,
            8,
            &format!("{f}: Lambda errors and throttles"),
            region,
            "Sum",
            json!([
                target("LambdaUserError"),
                target("LambdaInternalError"),
                ["AWS/Lambda", "Throttles", "FunctionName", row.lambda_name]
            ]),
        ));
        y += 6;
    }
    let balancer = |metric: &str| json!([elb, metric, "LoadBalancer", lb]);
    widgets.push(graph(
        0,
        y,
        24,
        LOAD_BALANCER,
        region,
        "Sum",
        json!([
            balancer("RequestCount"),
            balancer("HTTPCode_ELB_5XX_Count"),
            balancer("HTTPCode_Target_5XX_Count")
        ]),
    ));
    json!({ "widgets": widgets })
}

/// What [`body`] wrote, read back: the stack's marker, then each row's function and
/// `TargetGroup` value, in order, and the `LoadBalancer` value. `None` when the body
/// does not hold the marker (not the stack's).
pub fn read_body(body: &Value, marker: &str) -> Option<(Vec<(String, String)>, String)> {
    let widgets = body.get("widgets")?.as_array()?;
    let text = widgets.first()?.pointer("/properties/markdown")?.as_str()?;
    if !text.contains(marker) {
        return None;
    }
    let mut rows = Vec::new();
    let mut lb = String::new();
    for w in widgets {
        let title = w.pointer("/properties/title").and_then(Value::as_str);
        let first = w.pointer("/properties/metrics/0").and_then(Value::as_array);
        let (Some(title), Some(first)) = (title, first) else {
            continue;
        };
        let at = |i: usize| first.get(i).and_then(Value::as_str).unwrap_or_default();
        if let Some(function) = title.strip_suffix(REQUESTS) {
            rows.push((function.to_string(), at(3).to_string()));
        } else if title == LOAD_BALANCER {
            lb = at(3).to_string();
        }
    }
    Some((rows, lb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DashboardSpec {
        DashboardSpec {
            name: "albkit-shop-us-east-1".into(),
            stack: "shop".into(),
            region: "us-east-1".into(),
            rows: ["api", "web"]
                .iter()
                .map(|f| DashboardRow {
                    function: f.to_string(),
                    lambda_name: format!("shop--{f}"),
                    target_group: Ref::Stack(format!("target-group/{f}").into()),
                })
                .collect(),
            load_balancer: Ref::Stack("load-balancer".into()),
            edited: false,
        }
    }

    #[test]
    fn one_row_per_function_and_the_load_balancer_last_read_back_as_written() {
        let s = spec();
        let tgs = vec!["targetgroup/a/1".to_string(), "targetgroup/b/2".to_string()];
        let b = body(&s, &tgs, "app/shop-alb/9");
        let widgets = b["widgets"].as_array().expect("widgets");
        assert_eq!(widgets.len(), 1 + 3 * 2 + 1);
        assert_eq!(widgets[4]["y"], 8);
        assert_eq!(widgets[7]["properties"]["title"], LOAD_BALANCER);
        assert_eq!(widgets[3]["properties"]["metrics"][2][3], "shop--api");
        let (rows, lb) = read_body(&b, &s.marker()).expect("the stack's");
        assert_eq!(
            rows,
            vec![
                ("api".to_string(), tgs[0].clone()),
                ("web".to_string(), tgs[1].clone())
            ]
        );
        assert_eq!(lb, "app/shop-alb/9");
        assert!(read_body(&b, "albkit:stack=other albkit:region=us-east-1").is_none());
    }

    #[test]
    fn renders_its_rows_and_needs_the_target_groups_and_load_balancer() {
        let props = spec().render(&LogicalId::from("dashboard"));
        assert!(props.contains(&(
            "rows",
            "api: target-group/api, web: target-group/web".to_string()
        )));
        assert!(props.contains(&("body", AS_WRITTEN.to_string())));
        let needs = crate::model::spec::Spec::from(spec()).needs();
        assert_eq!(needs.len(), 3);
    }
}
