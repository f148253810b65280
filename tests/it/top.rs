//! `albkit top` (docs/operations.md) against MiniStack: the hello template deployed,
//! metrics put with `PutMetricData` under the dimensions CloudWatch gives the stack's
//! function, target group and load balancer, and `top -o json` reading them back in one
//! `GetMetricData` call. Against MiniStack, not moto: the AWS SDK for Rust speaks
//! CloudWatch's Smithy RPC v2 CBOR protocol, which moto 5.2.1 does not.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

use crate::json_output::assert_matches;
use crate::support::ministack::{MiniStack, ROOT_KEY, ROOT_SECRET};
use crate::support::{albkit_command_at, run, unique_stack_name, Output, Project, ALBKIT_TIMEOUT};

const REGION: &str = "us-east-1";

fn albkit(project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&MiniStack::shared().endpoint(), project, REGION);
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("ALBKIT_RETRY_BASE_MS", "20")
        .args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// One point of `metric` at `at` (Unix seconds) with `dims`.
fn datum(metric: &str, dims: &[Dimension], at: i64, value: f64, unit: StandardUnit) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .set_dimensions(Some(dims.to_vec()))
        .timestamp(DateTime::from_secs(at))
        .value(value)
        .unit(unit)
        .build()
}

/// The target group's and load balancer's dimension values (`targetgroup/…`, `app/…`):
/// the tails of the ARNs of the stack's target group and load balancer, by name.
async fn target_dims(cfg: &aws_config::SdkConfig, stack: &str) -> (String, String) {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(cfg);
    let tgs = elb
        .describe_target_groups()
        .names(format!("{stack}-hello-{}", stack.len()))
        .send()
        .await
        .expect("DescribeTargetGroups");
    let lbs = elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let tg = tgs.target_groups()[0]
        .target_group_arn()
        .expect("target group ARN");
    let lb = lbs.load_balancers()[0]
        .load_balancer_arn()
        .expect("load balancer ARN");
    let tail = |arn: &str, marker: &str| {
        let (_, t) = arn
            .split_once(marker)
            .unwrap_or_else(|| panic!("{arn} has no {marker}"));
        t.to_string()
    };
    (
        format!("targetgroup/{}", tail(tg, ":targetgroup/")),
        tail(lb, ":loadbalancer/"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn top_reads_the_functions_and_target_groups_metrics_back() {
    let stack = unique_stack_name("top");
    let project = Project::from_template("hello", &stack);
    albkit(&project, &["up", "--yes"]).ok();
    let cfg = MiniStack::shared().root_config(REGION).await;
    let cw = aws_sdk_cloudwatch::Client::new(&cfg);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    // Two minutes ago and one minute ago, on the minute: inside a 10-minute window.
    let (a, b) = (now - now % 60 - 120, now - now % 60 - 60);
    let function = [dim("FunctionName", &format!("{stack}--hello"))];
    let lambda = vec![
        datum("Errors", &function, a, 2.0, StandardUnit::Count),
        datum("Errors", &function, b, 1.0, StandardUnit::Count),
        datum("Throttles", &function, b, 4.0, StandardUnit::Count),
        datum(
            "ConcurrentExecutions",
            &function,
            a,
            3.0,
            StandardUnit::Count,
        ),
        datum(
            "ConcurrentExecutions",
            &function,
            b,
            7.0,
            StandardUnit::Count,
        ),
    ];
    cw.put_metric_data()
        .namespace("AWS/Lambda")
        .set_metric_data(Some(lambda))
        .send()
        .await
        .expect("PutMetricData AWS/Lambda");
    let (tg, lb) = target_dims(&cfg, &stack).await;
    {
        let both = [dim("TargetGroup", &tg), dim("LoadBalancer", &lb)];
        let elb = vec![
            datum("RequestCount", &both, a, 40.0, StandardUnit::Count),
            datum("RequestCount", &both, b, 60.0, StandardUnit::Count),
            datum(
                "HTTPCode_Target_5XX_Count",
                &both,
                b,
                5.0,
                StandardUnit::Count,
            ),
            datum("TargetResponseTime", &both, b, 0.02, StandardUnit::Seconds),
        ];
        cw.put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(elb))
            .send()
            .await
            .expect("PutMetricData AWS/ApplicationELB");
    }

    let out = albkit(&project, &["top", "-o", "json", "--minutes", "10"]);
    let doc = out.ok().json();
    assert_matches("top", &doc, &out);
    assert_eq!(doc["minutes"], 10, "{out}");
    let f = &doc["functions"][0];
    assert_eq!(f["function"], "hello", "{out}");
    assert_eq!(f["errors"], 3, "{out}");
    assert_eq!(f["throttles"], 4, "{out}");
    assert_eq!(f["max_concurrency"], 7, "{out}");
    assert_eq!(f["per_minute"]["errors"].as_array().map(Vec::len), Some(10));
    assert_eq!(f["traffic_shift"], serde_json::Value::Null, "{out}");
    assert_eq!(f["requests"], 100, "{out}");
    assert_eq!(f["target_4xx"], 0, "{out}");
    assert_eq!(f["target_5xx"], 5, "{out}");
    assert_eq!(f["percent_5xx"], 5.0, "{out}");
    assert_eq!(f["p50_ms"], 20.0, "{out}");
    assert_eq!(f["p99_ms"], 20.0, "{out}");
    assert_eq!(doc["load_balancer_5xx"], 0, "{out}");
    // Oldest first, minutes without data as null (the minute may turn during the test).
    let requests: Vec<f64> = f["per_minute"]["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    assert_eq!(requests, [40.0, 60.0], "{out}");

    // Without a terminal the human view prints once and exits 0.
    let text = albkit(&project, &["top", "--minutes", "5"]);
    let screen = &text.ok().stdout;
    assert!(screen.contains("albkit top"), "{text}");
    assert!(screen.contains("hello"), "{text}");
    assert!(screen.contains("throttles"), "{text}");

    albkit(&project, &["down", "--yes"]).ok();
}
