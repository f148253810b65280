//! Progressive delivery (docs/deploys.md): `deploy --strategy canary|linear` shifts the
//! `live` alias's weights step by step behind gate alarms, rolls back when one goes to
//! ALARM (`SetAlarmState`), is rolled back by `deploy --abort`, is left alone by `up`, and
//! a run killed after any of its mutating calls is ended (completed or reverted) by the
//! next `deploy` or `up`. Everything is checked through the AWS SDK.
//!
//! Against MiniStack, not moto: the AWS SDK for Rust speaks CloudWatch's Smithy RPC v2
//! CBOR protocol, which moto 5.2.1 does not; MiniStack does, and keeps the alias's routing
//! weights and runs the function (the smoke check before the first weight is real).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::ministack::{MiniStack, ROOT_KEY, ROOT_SECRET};
use crate::support::proxy::{Proxy, ProxyConfig, Target};
use crate::support::{albkit_command_at, run, unique_stack_name, Output, Project, ALBKIT_TIMEOUT};

const REGION: &str = "us-east-1";

/// albkit against `endpoint` (MiniStack, or a proxy in front of it) as the account's root.
fn command(endpoint: &str, project: &Project, args: &[&str]) -> std::process::Command {
    let mut cmd = albkit_command_at(endpoint, project, REGION);
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("ALBKIT_RETRY_BASE_MS", "20")
        .args(args);
    cmd
}

/// The `live` alias as the SDK reads it.
#[derive(Debug, Clone, PartialEq)]
struct Live {
    version: String,
    description: String,
    weights: BTreeMap<String, f64>,
}

async fn live(lambda: &aws_sdk_lambda::Client, name: &str) -> Live {
    let a = lambda
        .get_alias()
        .function_name(name)
        .name("live")
        .send()
        .await
        .expect("GetAlias");
    Live {
        version: a.function_version().unwrap_or_default().to_string(),
        description: a.description().unwrap_or_default().to_string(),
        weights: a
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default(),
    }
}

/// The gate alarms of the stack's `hello` function: (name, state).
async fn gate_alarms(cw: &aws_sdk_cloudwatch::Client, stack: &str) -> Vec<(String, String)> {
    let out = cw
        .describe_alarms()
        .alarm_name_prefix(format!("albkit-{stack}--hello-gate-"))
        .send()
        .await
        .expect("DescribeAlarms");
    out.metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_string(),
                a.state_value().map_or("", |s| s.as_str()).to_string(),
            )
        })
        .collect()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most [`ALBKIT_TIMEOUT`]:
/// the deploy it waits on builds the function first, which takes over a minute on a
/// loaded 2-core machine, and `check` itself fails as soon as that deploy has ended.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < ALBKIT_TIMEOUT,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Stack {
    /// The test's own MiniStack (see [`MiniStack::private`]).
    ministack: MiniStack,
    stack: String,
    name: String,
    project: Project,
    lambda: aws_sdk_lambda::Client,
    cw: aws_sdk_cloudwatch::Client,
}

impl Stack {
    /// The hello template, up, in `REGION`.
    async fn up(prefix: &str) -> Stack {
        let ministack = MiniStack::private();
        let stack = unique_stack_name(prefix);
        let project = Project::from_template("hello", &stack);
        let up = command(&ministack.endpoint(), &project, &["up", "--yes"]);
        run(up, ALBKIT_TIMEOUT).ok();
        let cfg = ministack.root_config(REGION).await;
        Stack {
            ministack,
            name: format!("{stack}--hello"),
            stack,
            project,
            lambda: aws_sdk_lambda::Client::new(&cfg),
            cw: aws_sdk_cloudwatch::Client::new(&cfg),
        }
    }

    /// New code for the function: the next deploy publishes a new version.
    fn change_code(&self, text: &str) {
        let main = "functions/hello/src/main.rs";
        let source = self.project.read(main);
        let at = source
            .find("hello from albkit")
            .expect("the template's greeting");
        let end = source[at..].find('"').map_or(source.len(), |e| at + e);
        self.project.write(
            main,
            &format!(
                "{}hello from albkit {text}{}",
                &source[..at],
                &source[end..]
            ),
        );
    }

    /// `albkit <args>` against the test's MiniStack.
    fn albkit(&self, args: &[&str]) -> Output {
        run(
            command(&self.ministack.endpoint(), &self.project, args),
            ALBKIT_TIMEOUT,
        )
    }

    /// `albkit <args>` on a thread of its own.
    fn spawn(&self, args: &[&str]) -> std::thread::JoinHandle<Output> {
        let cmd = command(&self.ministack.endpoint(), &self.project, args);
        std::thread::spawn(move || run(cmd, ALBKIT_TIMEOUT))
    }

    async fn target_group_has_load_balancer(&self) -> bool {
        let cfg = self.ministack.root_config(REGION).await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let out = elb
            .describe_target_groups()
            .names(format!("{}-hello-{}", self.stack, self.stack.len()))
            .send()
            .await
            .expect("DescribeTargetGroups");
        out.target_groups()
            .iter()
            .any(|t| !t.load_balancer_arns().is_empty())
    }

    async fn live(&self) -> Live {
        live(&self.lambda, &self.name).await
    }

    /// Waits until `live` gives `version` a weight; returns the alias then. Fails with
    /// the deploy's output if it ends first.
    async fn weighted(&self, version: &str, deploy: &std::thread::JoinHandle<Output>) -> Live {
        until("the canary weight", || async {
            let l = self.live().await;
            if !l.weights.contains_key(version) && deploy.is_finished() {
                panic!("the deploy ended before the weight was set: {l:?}");
            }
            l.weights.contains_key(version).then_some(l)
        })
        .await
    }
}

fn next(version: &str) -> String {
    (version.parse::<u64>().expect("numeric version") + 1).to_string()
}

fn idle(l: &Live) -> bool {
    l.weights.is_empty() && l.description.is_empty()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_whose_gate_alarm_goes_to_alarm_is_rolled_back() {
    let s = Stack::up("canary").await;
    let v1 = s.live().await.version;
    let v2 = next(&v1);
    s.change_code("canary that fails");
    let deploy = s.spawn(&[
        "deploy",
        "--yes",
        "--strategy",
        "canary:10%:30s",
        "-o",
        "json",
    ]);

    let during = s.weighted(&v2, &deploy).await;
    assert_eq!(during.version, v1, "live stays on the old version");
    assert!((during.weights[&v2] - 0.1).abs() < 1e-9, "{during:?}");
    assert!(
        during.description.starts_with("albkit-shift to="),
        "{during:?}"
    );
    let alarms = gate_alarms(&s.cw, &s.stack).await;
    let names: Vec<&str> = alarms.iter().map(|(n, _)| n.as_str()).collect();
    // Errors and Throttles; and the target group's three when it is behind a load
    // balancer (MiniStack's DescribeTargetGroups lists none).
    let behind_lb = s.target_group_has_load_balancer().await;
    let expected = if behind_lb { 5 } else { 2 };
    assert_eq!(names.len(), expected, "{names:?}");
    let errors = format!("albkit-{}--hello-gate-v{v2}-errors", s.stack);
    assert!(names.contains(&errors.as_str()), "{names:?}");
    // The gate's alarms carry the stack's tag and the function and version.
    let arn =
        s.cw.describe_alarms()
            .alarm_names(&errors)
            .send()
            .await
            .expect("DescribeAlarms")
            .metric_alarms()[0]
            .alarm_arn()
            .unwrap_or_default()
            .to_string();
    let tags =
        s.cw.list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .expect("ListTagsForResource");
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(tag("albkit:stack"), Some(s.stack.clone()));
    assert_eq!(tag("albkit:gate"), Some(format!("hello:{v2}")));

    s.cw.set_alarm_state()
        .alarm_name(&errors)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test: 3 errors in one minute")
        .send()
        .await
        .expect("SetAlarmState");
    let out = deploy.join().expect("deploy runner");
    out.code_is(1);
    assert!(out.stderr.contains("went to ALARM"), "{out}");
    let after = s.live().await;
    assert_eq!(after.version, v1, "live unchanged");
    assert!(idle(&after), "weights back to 0: {after:?}");
    assert!(
        gate_alarms(&s.cw, &s.stack).await.is_empty(),
        "gate alarms deleted"
    );
    let doc = out.json();
    let f = &doc["functions"][0];
    assert_eq!(f["result"], "rolled back");
    assert_eq!(f["live_version"], v1.as_str());
    assert_eq!(f["strategy"], "canary:10%:30s");
    let steps = f["shift"].as_array().expect("timeline");
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0]["percent"], 10);
    assert_eq!(steps[0]["gate"], format!("alarm {errors}").as_str());
    assert_eq!(steps[1]["percent"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_linear_deploy_completes_with_each_steps_weight() {
    let s = Stack::up("linear").await;
    let v1 = s.live().await.version;
    let v2 = next(&v1);
    s.change_code("linear");
    let started = Instant::now();
    let deploy = s.spawn(&[
        "deploy",
        "--yes",
        "--strategy",
        "linear:25%:2s",
        "-o",
        "json",
    ]);
    // Every weight `live` gives the new version, as the SDK sees them, in order.
    let mut seen: Vec<u8> = Vec::new();
    let end = loop {
        let l = s.live().await;
        if let Some(w) = l.weights.get(&v2) {
            assert_eq!(l.version, v1, "{l:?}");
            let p = (w * 100.0).round() as u8;
            if seen.last() != Some(&p) {
                seen.push(p);
            }
        }
        if l.version == v2 {
            break l;
        }
        if deploy.is_finished() && l.version != v2 {
            let out = deploy.join().expect("deploy runner");
            panic!("the deploy ended, live is {l:?}: {out}");
        }
        // The deploy builds first (over a minute on a loaded machine); it ending is
        // caught above, so this only bounds a deploy that hangs.
        assert!(
            started.elapsed() < ALBKIT_TIMEOUT,
            "the shift did not end: {l:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let out = deploy.join().expect("deploy runner");
    out.ok();
    eprintln!("linear:25%:2s took {:?}", started.elapsed());
    assert_eq!(seen, [25, 50, 75], "the weights of the steps");
    assert!(
        idle(&end),
        "live on the new version with no weights: {end:?}"
    );
    assert!(
        gate_alarms(&s.cw, &s.stack).await.is_empty(),
        "gate alarms deleted"
    );
    let doc = out.json();
    let f = &doc["functions"][0];
    assert_eq!(f["result"], "deployed");
    assert_eq!(f["live_version"], v2.as_str());
    let percents: Vec<u64> = f["shift"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|s| s["percent"].as_u64())
        .collect();
    assert_eq!(percents, [25, 50, 75, 100]);
    eprintln!(
        "timeline: {}",
        serde_json::to_string_pretty(&f["shift"]).unwrap_or_default()
    );
    // `up` agrees with what the shift did.
    s.albkit(&["plan", "--detailed-exitcode"]).code_is(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn up_during_a_shift_keeps_its_weights_and_abort_rolls_it_back() {
    let s = Stack::up("shiftup").await;
    let v1 = s.live().await.version;
    let v2 = next(&v1);
    s.change_code("while up runs");
    let deploy = s.spawn(&[
        "deploy",
        "--yes",
        "--strategy",
        // A bake no run of this test outlasts, however loaded the machine: the shift
        // must still be in flight when it is aborted.
        "canary:20%:10m",
        "-o",
        "json",
    ]);
    let during = s.weighted(&v2, &deploy).await;

    let up = s.albkit(&["up", "--yes"]);
    up.ok();
    assert!(up.stderr.contains("left alone"), "{up}");
    assert_eq!(s.live().await, during, "up kept the shift's weights");
    let status = s.albkit(&["status", "-o", "json"]).ok().json();
    assert!(
        status
            .to_string()
            .contains(&format!("in flight to version {v2} at 20%")),
        "{status}"
    );
    // A second deploy refuses while the shift is in flight.
    let second = s.albkit(&["deploy", "--yes"]);
    second.code_is(1);
    assert!(second.stderr.contains("in flight"), "{second}");

    let abort = s.albkit(&["deploy", "--abort", "-o", "json"]);
    abort.ok();
    assert_eq!(abort.json()["aborted"][0]["version"], v2.as_str());
    let out = deploy.join().expect("deploy runner");
    out.code_is(1);
    assert_eq!(out.json()["functions"][0]["result"], "aborted", "{out}");
    let after = s.live().await;
    assert_eq!(after.version, v1);
    assert!(idle(&after), "{after:?}");
    assert!(gate_alarms(&s.cw, &s.stack).await.is_empty());
    // Nothing left to abort.
    let again = s.albkit(&["deploy", "--abort"]);
    again.ok();
    assert!(again.stderr.contains("nothing to abort"), "{again}");
}

/// Runs albkit with `args` through `proxy`, SIGKILLed right after its k-th mutating call.
fn killed_after(
    proxy: &Proxy,
    project: &Project,
    args: &[&str],
    env: &[(&str, &str)],
    k: usize,
) -> Output {
    let cmd = command(&proxy.endpoint(), project, args);
    // A shim writes the pid of the process that then becomes albkit (exec keeps it).
    let pid_file = project.path().join(format!(".albkit-kill-{k}.pid"));
    let mut shim = std::process::Command::new("sh");
    shim.arg("-c")
        .arg(format!(
            "echo $$ > {}; exec \"$0\" \"$@\"",
            pid_file.display()
        ))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(project.path())
        .stdin(std::process::Stdio::null());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => shim.env(key, v),
            None => shim.env_remove(key),
        };
    }
    for (key, value) in env {
        shim.env(key, value);
    }
    proxy.kill_after(k, Target::PidFile(pid_file));
    run(shim, ALBKIT_TIMEOUT)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shift_killed_after_any_mutating_call_is_ended_by_the_next_deploy_or_up() {
    // The proxy keeps the Host header: MiniStack checks the SigV4 signature.
    let config = ProxyConfig {
        tls_front: true,
        ..ProxyConfig::default()
    };
    let s = Stack::up("shiftkill").await;
    let proxy = Proxy::start(&s.ministack.endpoint(), config);
    let deploy = ["deploy", "--yes", "--strategy", "canary:10%:1s"];
    let grace = [("ALBKIT_SHIFT_GRACE_SECONDS", "0")];
    // How many mutating calls a whole canary deploy makes.
    s.change_code("counted");
    let before = proxy.mutations();
    run(
        command(&proxy.endpoint(), &s.project, &deploy),
        ALBKIT_TIMEOUT,
    )
    .ok();
    let total = proxy.mutations() - before;
    // Upload, publish, the smoke check's invoke, 2 or 5 gate alarms, 2 alias updates,
    // the alarms' deletion.
    assert!(total >= 8, "a canary deploy makes {total} mutating calls");

    let mut ended = (0, 0);
    let mut mid_shift = Vec::new();
    // Each crash point once, ended by `deploy` (odd k) or `up` (even k); a crash point
    // that left weights on `live` also once more by the other. A shift first deletes the
    // gate alarms a killed run left (one more mutating call): the repeat's k counts it.
    let mut points: Vec<(usize, &str, bool)> = (1..=total)
        .map(|k| (k, if k % 2 == 1 { "deploy" } else { "up" }, false))
        .collect();
    let mut i = 0;
    while let Some(&(k0, by, repeat)) = points.get(i) {
        i += 1;
        let leftovers = !gate_alarms(&s.cw, &s.stack).await.is_empty();
        let k = if repeat {
            k0 + usize::from(leftovers)
        } else {
            k0
        };
        let v0 = s.live().await.version;
        s.change_code(&format!("k={k} {by}"));
        let killed = killed_after(&proxy, &s.project, &deploy, &grace, k);
        assert_ne!(
            killed.code,
            Some(0),
            "k = {k}: albkit should have been killed\n{killed}"
        );
        proxy.disarm();
        let left = s.live().await;
        if !left.weights.is_empty() {
            mid_shift.push(by);
            if mid_shift.len() == 1 {
                let other = if by == "deploy" { "up" } else { "deploy" };
                points.push((k - usize::from(leftovers), other, true));
            }
        }
        // Past the step's deadline (bake 1 s, grace 0): the shift, if any, is stranded.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let args: &[&str] = if by == "deploy" {
            &deploy
        } else {
            &["up", "--yes"]
        };
        let mut cmd = command(&s.ministack.endpoint(), &s.project, args);
        cmd.env("ALBKIT_SHIFT_GRACE_SECONDS", "0");
        let out = run(cmd, ALBKIT_TIMEOUT);
        out.ok();
        let after = s.live().await;
        assert!(
            idle(&after),
            "k = {k}, then {by}: no weights left: {after:?} (killed with {left:?})"
        );
        if !left.weights.is_empty() {
            let said = if by == "deploy" {
                "reverted a stranded"
            } else {
                "finished a stranded"
            };
            assert!(out.stderr.contains(said), "k = {k}, {by}: {out}");
        }
        let moved = after.version != v0;
        eprintln!(
            "k = {k}: killed with live {} weights {:?}; {by} ended it {}",
            left.version,
            left.weights,
            if moved { "complete" } else { "reverted" }
        );
        if moved {
            ended.0 += 1;
        } else {
            ended.1 += 1;
        }
        assert_eq!(
            s.albkit(&["plan", "--detailed-exitcode"]).code,
            Some(0),
            "k = {k}: {by} left the stack converged"
        );
    }
    eprintln!(
        "crash points: {total}; ended complete: {}, reverted: {}",
        ended.0, ended.1
    );
    eprintln!("killed with weights on live, then ended by: {mid_shift:?}");
    assert_eq!(
        mid_shift.len(),
        2,
        "a crash point inside the shift, ended by both"
    );
}
