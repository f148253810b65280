//! `albkit top` (docs/operations.md) against MiniStack: the hello template deployed,
//! metrics put with `PutMetricData` under the dimensions CloudWatch gives the stack's
//! function, target group and load balancer, and `top -o json` reading them back in one
//! `GetMetricData` call. Against MiniStack, not moto: the AWS SDK for Rust speaks
//! CloudWatch's Smithy RPC v2 CBOR protocol, which moto 5.2.1 does not.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

use crate::json_output::assert_matches;
use crate::support::ministack::{MiniStack, ROOT_KEY, ROOT_SECRET};
use crate::support::screenshot::{cells, draw, png, FONT};
use crate::support::{
    albkit_command_at, run, unique_stack_name, Output, Project, ALBKIT_TIMEOUT, REPO,
};

const REGION: &str = "us-east-1";

fn albkit(project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&MiniStack::shared().endpoint(), project, REGION);
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("ALBKIT_RETRY_BASE_MS", "20")
        .args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

/// `albkit <args>` in a pseudo-terminal that `script` (util-linux) opens, with colours
/// (no `NO_COLOR`): what a terminal shows, escape sequences included. What `script`
/// reads on its stdin is typed into the terminal.
fn in_terminal(project: &Project, args: &[&str]) -> std::process::Command {
    let albkit = albkit_command_at(&MiniStack::shared().endpoint(), project, REGION);
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let line: Vec<String> = std::iter::once(albkit.get_program().to_string_lossy().to_string())
        .chain(args.iter().map(ToString::to_string))
        .map(|a| quote(&a))
        .collect();
    // The screen only: stderr (the SDK's warnings about the test's AWS config files)
    // stays out of the picture.
    let mut cmd = std::process::Command::new("script");
    cmd.args([
        "-qec",
        // `exec`: albkit alone in the terminal's session, so Ctrl-C reaches only it
        // (a shell waiting in between may die of the SIGINT itself, exit 130).
        &format!("exec {} 2>/dev/null", line.join(" ")),
        "/dev/null",
    ])
    .current_dir(project.path());
    for (key, value) in albkit.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env_remove("NO_COLOR");
    cmd
}

fn terminal_capture(project: &Project, args: &[&str]) -> Output {
    let mut cmd = in_terminal(project, args);
    cmd.stdin(Stdio::null());
    run(cmd, ALBKIT_TIMEOUT)
}

/// The live view in a terminal, redrawn every second: Ctrl-C (typed into the terminal)
/// once it has drawn `redraws` screens. Returns what it showed and its exit code.
fn live_until_ctrl_c(project: &Project, redraws: usize) -> (String, Option<i32>) {
    let mut child = in_terminal(project, &["top", "--interval", "1", "--minutes", "5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut shown = Vec::new();
    let clear = |b: &[u8]| b.windows(7).filter(|w| w == b"\x1b[H\x1b[2J").count();
    while clear(&shown) < redraws && Instant::now() < deadline {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
            shown.extend(chunk);
        }
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"\x03").expect("type Ctrl-C");
    stdin.flush().expect("flush");
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(stdin);
    (String::from_utf8_lossy(&shown).to_string(), code)
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

/// Traffic in the 7 minutes before `first` (Unix seconds, on a minute): requests, a few
/// 4xx and 5xx, latencies (several points a minute, for p50 and p99), errors and
/// concurrency.
async fn put_history(
    cw: &aws_sdk_cloudwatch::Client,
    function: &[Dimension],
    tg: &str,
    lb: &str,
    first: i64,
) {
    let both = [dim("TargetGroup", tg), dim("LoadBalancer", lb)];
    let requests = [52.0, 61.0, 58.0, 73.0, 88.0, 66.0, 49.0];
    let (mut elb, mut lambda) = (Vec::new(), Vec::new());
    for (i, r) in requests.iter().enumerate() {
        let at = first - 60 * (7 - i as i64);
        let count = StandardUnit::Count;
        elb.push(datum("RequestCount", &both, at, *r, count.clone()));
        elb.push(datum(
            "HTTPCode_Target_4XX_Count",
            &both,
            at,
            (i % 3) as f64,
            count.clone(),
        ));
        if i == 4 {
            elb.push(datum(
                "HTTPCode_Target_5XX_Count",
                &both,
                at,
                3.0,
                count.clone(),
            ));
            lambda.push(datum("Errors", function, at, 3.0, count.clone()));
        }
        for ms in [12.0, 14.0, 15.0, 19.0, 40.0 + 10.0 * i as f64] {
            elb.push(datum(
                "TargetResponseTime",
                &both,
                at,
                ms / 1000.0,
                StandardUnit::Seconds,
            ));
        }
        lambda.push(datum(
            "ConcurrentExecutions",
            function,
            at,
            (r / 15.0).ceil(),
            count.clone(),
        ));
        lambda.push(datum("Throttles", function, at, 0.0, count));
    }
    for (namespace, data) in [("AWS/ApplicationELB", elb), ("AWS/Lambda", lambda)] {
        cw.put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("PutMetricData");
    }
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
    assert!(
        !screen.contains('\x1b'),
        "no colours without a terminal: {text}"
    );

    // Seven more minutes of traffic before those two, for a fuller screen.
    put_history(&cw, &function, &tg, &lb, a).await;
    // On a terminal: the colours, and the README's picture drawn from this very screen.
    let tty = terminal_capture(&project, &["top", "--once", "--minutes", "10"]);
    let capture = &tty.ok().stdout;
    assert!(capture.contains("\x1b[1malbkit top"), "{tty}");
    assert!(capture.contains("\x1b[31m    5xx"), "{tty}");
    let picture = format!("{REPO}/docs/images/top.png");
    if std::env::var_os("ALBKIT_UPDATE_DOCS").is_some() {
        let font = std::fs::read(FONT)
            .unwrap_or_else(|e| panic!("{FONT}: {e} (install Debian's fonts-dejavu-core)"));
        let (w, h, pixels) = draw(&cells(capture), &font, 18.0);
        std::fs::create_dir_all(format!("{REPO}/docs/images")).expect("docs/images");
        std::fs::write(&picture, png(w, h, &pixels)).expect("write the picture");
    }
    assert!(
        std::path::Path::new(&picture).exists(),
        "{picture} is missing: run this test with ALBKIT_UPDATE_DOCS=1"
    );

    // Live: redrawn in place every second, and Ctrl-C ends it with exit 0.
    let (shown, code) = live_until_ctrl_c(&project, 3);
    assert!(
        shown.matches("\x1b[H\x1b[2J\x1b[1malbkit top").count() >= 3,
        "three screens drawn in place:\n{shown}"
    );
    assert_eq!(code, Some(0), "exit code after Ctrl-C:\n{shown}");

    albkit(&project, &["down", "--yes"]).ok();
}
