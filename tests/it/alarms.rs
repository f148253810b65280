//! `[alarms]` against moto (through `scripts/tools/moto-server`, which speaks
//! CloudWatch's CBOR protocol to the SDK): the alarms, the SNS topic with its email
//! subscriptions and the dashboard are created, drift-checked, repaired, changed and
//! removed, checked through the AWS SDK.

use aws_sdk_cloudwatch::types::MetricAlarm;

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project};

const ALARMS: &str = "[alarms]\nlatency_p99_ms = 1500\nnotify = [\"ops@example.com\"]\n";

/// What each of the hello template's alarms watches: `(name suffix, metric, statistic)`;
/// the 5xx rate is metric math, checked apart.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("hello-target-5xx-rate", "", ""),
    ("hello-lambda-user-error", "LambdaUserError", "Sum"),
    ("hello-lambda-internal-error", "LambdaInternalError", "Sum"),
    ("hello-latency-p99", "TargetResponseTime", "p99"),
    ("hello-unhealthy-targets", "UnHealthyHostCount", "Maximum"),
    ("hello-throttles", "Throttles", "Sum"),
    ("load-balancer-elb-5xx", "HTTPCode_ELB_5XX_Count", "Sum"),
];

struct Clients {
    cloudwatch: aws_sdk_cloudwatch::Client,
    sns: aws_sdk_sns::Client,
    stack: String,
}

impl Clients {
    /// The stack's alarms (by their names' prefix), sorted by name.
    async fn alarms(&self) -> Vec<MetricAlarm> {
        let out = self
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(format!("albkit-{}-alarm-", self.stack))
            .send()
            .await
            .expect("DescribeAlarms");
        let mut alarms = out.metric_alarms().to_vec();
        alarms.sort_by(|a, b| a.alarm_name().cmp(&b.alarm_name()));
        alarms
    }

    async fn alarm(&self, suffix: &str) -> MetricAlarm {
        let name = format!("albkit-{}-alarm-{suffix}", self.stack);
        self.alarms()
            .await
            .into_iter()
            .find(|a| a.alarm_name() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("alarm {name}"))
    }

    /// The body of the dashboard `albkit-<stack>-<region>`, if it exists.
    async fn dashboard(&self, region: &str) -> Option<serde_json::Value> {
        let name = format!("albkit-{}-{region}", self.stack);
        let list = self
            .cloudwatch
            .list_dashboards()
            .dashboard_name_prefix(&name)
            .send()
            .await
            .expect("ListDashboards");
        if !list
            .dashboard_entries()
            .iter()
            .any(|d| d.dashboard_name() == Some(name.as_str()))
        {
            return None;
        }
        let out = self
            .cloudwatch
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .expect("GetDashboard");
        Some(serde_json::from_str(out.dashboard_body().expect("body")).expect("JSON body"))
    }

    /// The ARN of the topic `albkit-<stack>-alarms`, if it exists.
    async fn topic(&self) -> Option<String> {
        let suffix = format!(":albkit-{}-alarms", self.stack);
        let out = self.sns.list_topics().send().await.expect("ListTopics");
        out.topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|a| a.ends_with(&suffix))
            .map(str::to_string)
    }

    /// The topic's email subscriptions, sorted.
    async fn emails(&self, topic: &str) -> Vec<String> {
        let out = self
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .send()
            .await
            .expect("ListSubscriptionsByTopic");
        let mut emails: Vec<String> = out
            .subscriptions()
            .iter()
            .filter(|s| s.protocol() == Some("email"))
            .filter_map(|s| s.endpoint().map(str::to_string))
            .collect();
        emails.sort();
        emails
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_topic_and_dashboard_are_created_repaired_changed_and_removed() {
    let moto = Moto::shared();
    let region = "ap-south-1";
    let stack = unique_stack_name("alarms");
    let p = Project::from_template("hello", &stack);
    let toml = p.read("albkit.toml");
    let cfg = sdk_config(moto, region).await;
    let c = Clients {
        cloudwatch: aws_sdk_cloudwatch::Client::new(&cfg),
        sns: aws_sdk_sns::Client::new(&cfg),
        stack: stack.clone(),
    };

    p.write("albkit.toml", &format!("{toml}\n{ALARMS}"));
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    let topic = c.topic().await.expect("the alarms' topic");
    assert_eq!(c.emails(&topic).await, ["ops@example.com"]);
    let tags = c
        .sns
        .list_tags_for_resource()
        .resource_arn(&topic)
        .send()
        .await
        .expect("ListTagsForResource (SNS)");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "albkit:stack" && t.value() == stack),
        "{tags:?}"
    );
    let alarms = c.alarms().await;
    assert_eq!(alarms.len(), EXPECTED.len(), "{alarms:?}");
    for (suffix, metric, statistic) in EXPECTED.iter().filter(|e| !e.1.is_empty()) {
        let a = c.alarm(suffix).await;
        assert_eq!(a.metric_name(), Some(*metric), "{suffix}");
        let stat = a
            .statistic()
            .map(|s| s.as_str().to_string())
            .or_else(|| a.extended_statistic().map(str::to_string));
        assert_eq!(stat.as_deref(), Some(*statistic), "{suffix}");
        assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic), "{suffix}");
        assert_eq!(a.period(), Some(300), "{suffix}");
        let tags = c
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(a.alarm_arn().expect("ARN"))
            .send()
            .await
            .expect("ListTagsForResource");
        let resource = tags
            .tags()
            .iter()
            .find(|t| t.key() == Some("albkit:resource"))
            .and_then(|t| t.value());
        assert!(
            resource.is_some_and(|r| r.starts_with("alarm/")),
            "{tags:?}"
        );
    }
    // The 5xx rate: metric math over the target group's 5xx and requests.
    let rate = c.alarm("hello-target-5xx-rate").await;
    assert_eq!(rate.threshold(), Some(5.0));
    assert_eq!(rate.alarm_actions(), std::slice::from_ref(&topic));
    let queries: Vec<(Option<&str>, Option<&str>, Option<&str>)> = rate
        .metrics()
        .iter()
        .map(|q| {
            let metric = q.metric_stat().and_then(|s| s.metric());
            (q.id(), q.expression(), metric.and_then(|m| m.metric_name()))
        })
        .collect();
    assert_eq!(
        queries,
        [
            (Some("e"), Some("100 * FILL(m, 0) / r"), None),
            (Some("m"), None, Some("HTTPCode_Target_5XX_Count")),
            (Some("r"), None, Some("RequestCount"))
        ],
        "{rate:?}"
    );
    let p99 = c.alarm("hello-latency-p99").await;
    assert_eq!(p99.threshold(), Some(1.5));
    let dims: Vec<&str> = p99.dimensions().iter().filter_map(|d| d.name()).collect();
    assert_eq!(dims, ["TargetGroup", "LoadBalancer"]);
    assert!(p99.dimensions()[0]
        .value()
        .is_some_and(|v| v.starts_with("targetgroup/")));
    assert!(p99.dimensions()[1]
        .value()
        .is_some_and(|v| v.starts_with("app/")));
    let board = c.dashboard(region).await.expect("the stack's dashboard");
    let widgets = board["widgets"].as_array().expect("widgets").clone();
    assert_eq!(widgets.len(), 1 + 3 + 1, "{board}");
    let marker = format!("albkit:stack={stack} albkit:region={region}");
    assert!(
        widgets[0]["properties"]["markdown"]
            .as_str()
            .is_some_and(|m| m.contains(&marker)),
        "{board}"
    );
    let requests = &widgets[1]["properties"]["metrics"][0];
    assert_eq!(requests[1], "RequestCount");
    assert!(requests[3]
        .as_str()
        .is_some_and(|v| v.starts_with("targetgroup/")));
    assert!(requests[5].as_str().is_some_and(|v| v.starts_with("app/")));
    assert_eq!(
        widgets[4]["properties"]["metrics"][1][1],
        "HTTPCode_ELB_5XX_Count"
    );
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Somebody edits a graph of the dashboard: shown, then put back.
    let mut edited = board.clone();
    edited["widgets"][2]["properties"]["title"] = "my own title".into();
    c.cloudwatch
        .put_dashboard()
        .dashboard_name(format!("albkit-{stack}-{region}"))
        .dashboard_body(edited.to_string())
        .send()
        .await
        .expect("PutDashboard");
    let plan = albkit(moto, &p, region, &["plan", "--detailed-exitcode"]);
    let text = plan.code_is(2).stdout.clone();
    assert!(
        text.contains("~ dashboard (dashboard)") && text.contains("changed outside albkit"),
        "{text}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(c.dashboard(region).await, Some(board));
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Somebody raises a threshold: `plan` shows it, `up` puts it back, then nothing.
    let throttles = c.alarm("hello-throttles").await;
    c.cloudwatch
        .put_metric_alarm()
        .alarm_name(throttles.alarm_name().expect("name"))
        .namespace("AWS/Lambda")
        .metric_name("Throttles")
        .set_dimensions(Some(throttles.dimensions().to_vec()))
        .set_statistic(throttles.statistic().cloned())
        .period(300)
        .evaluation_periods(1)
        .threshold(50.0)
        .set_comparison_operator(throttles.comparison_operator().cloned())
        .treat_missing_data("notBreaching")
        .set_alarm_actions(Some(throttles.alarm_actions().to_vec()))
        .send()
        .await
        .expect("PutMetricAlarm");
    let plan = albkit(moto, &p, region, &["plan", "--detailed-exitcode"]);
    let text = plan.code_is(2).stdout.clone();
    assert!(
        text.contains("~ alarm/hello/throttles (alarm)") && text.contains("threshold"),
        "{text}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(c.alarm("hello-throttles").await.threshold(), Some(1.0));
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Another address: subscribed, the old one unsubscribed; a new threshold.
    let changed = ALARMS
        .replace("ops@example.com", "oncall@example.com")
        .replace("1500", "800");
    p.write("albkit.toml", &format!("{toml}\n{changed}"));
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(c.emails(&topic).await, ["oncall@example.com"]);
    assert_eq!(c.alarm("hello-latency-p99").await.threshold(), Some(0.8));
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // No `[alarms]` any more: the alarms and the dashboard go, then the topic.
    p.write("albkit.toml", &toml);
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert!(c.alarms().await.is_empty());
    assert_eq!(c.topic().await, None);
    assert_eq!(c.dashboard(region).await, None);

    // Back with them; `down` leaves none.
    p.write("albkit.toml", &format!("{toml}\n{ALARMS}"));
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(c.alarms().await.len(), EXPECTED.len());
    assert!(c.dashboard(region).await.is_some());
    albkit(moto, &p, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(c.alarms().await.is_empty());
    assert_eq!(c.topic().await, None);
    assert_eq!(c.dashboard(region).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_or_dashboard_under_the_stacks_name_without_its_proof_stops_up() {
    let moto = Moto::shared();
    let region = "ap-south-1";
    let stack = unique_stack_name("alarmx");
    let p = Project::from_template("hello", &stack);
    let toml = p.read("albkit.toml");
    let cfg = sdk_config(moto, region).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&cfg);
    let name = format!("albkit-{stack}-alarm-hello-throttles");
    cloudwatch
        .put_metric_alarm()
        .alarm_name(&name)
        .namespace("AWS/Lambda")
        .metric_name("Throttles")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(7.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");

    // Without `[alarms]` it is none of albkit's business.
    albkit(moto, &p, region, &["plan"]).ok();
    p.write("albkit.toml", &format!("{toml}\n[alarms]\n"));
    let refused = albkit(moto, &p, region, &["up", "--yes"]);
    assert!(
        refused.fails().stderr.contains("CloudWatch alarm"),
        "{refused}"
    );
    let out = cloudwatch
        .describe_alarms()
        .alarm_names(&name)
        .send()
        .await
        .expect("DescribeAlarms");
    assert_eq!(out.metric_alarms()[0].threshold(), Some(7.0), "untouched");
    cloudwatch
        .delete_alarms()
        .alarm_names(&name)
        .send()
        .await
        .expect("DeleteAlarms");

    // A dashboard of the stack's name without its mark: refused, left as it was.
    let board = format!("albkit-{stack}-{region}");
    cloudwatch
        .put_dashboard()
        .dashboard_name(&board)
        .dashboard_body("{\"widgets\":[]}")
        .send()
        .await
        .expect("PutDashboard");
    p.write("albkit.toml", &toml);
    albkit(moto, &p, region, &["plan"]).ok();
    p.write("albkit.toml", &format!("{toml}\n[alarms]\n"));
    let refused = albkit(moto, &p, region, &["up", "--yes"]);
    assert!(
        refused.fails().stderr.contains("CloudWatch dashboard"),
        "{refused}"
    );
    let out = cloudwatch
        .get_dashboard()
        .dashboard_name(&board)
        .send()
        .await
        .expect("GetDashboard");
    assert_eq!(out.dashboard_body(), Some("{\"widgets\":[]}"));
    cloudwatch
        .delete_dashboards()
        .dashboard_names(&board)
        .send()
        .await
        .expect("DeleteDashboards");
}
