//! albkit under the conditions real AWS produces, simulated by a proxy in front of moto:
//! transient faults on every call, IAM propagation, Lambda update conflicts, ALB
//! provisioning, network interfaces detaching, certificates in use, late log delivery,
//! and albkit killed after any mutating call.

use std::time::Duration;

use crate::support::inventory::{self, Kind, Roles, Scope, RESOURCES};
use crate::support::proxy::{operation_of, service_of, Fault, Proxy, ProxyConfig, Realism, Target};
use crate::support::{
    albkit_command, albkit_with_env, create_hosted_zone, run, sdk_config, unique_stack_name, Moto,
    Output, Project, ACCOUNT_ID, ALBKIT_TIMEOUT,
};

fn minimal_config(stack: &str) -> String {
    format!("[stack]\nname = \"{stack}\"\n\n[[functions]]\nname = \"hello\"\npath = \"functions/hello\"\n\n[[functions.routes]]\npriority = 10\npaths = [\"/hello\"]\n")
}

fn through(proxy: &Proxy) -> [(&'static str, String); 2] {
    [
        ("AWS_ENDPOINT_URL", proxy.endpoint()),
        ("ALBKIT_RETRY_BASE_MS", "20".to_string()),
    ]
}

fn via(moto: &Moto, proxy: &Proxy, project: &Project, region: &str, args: &[&str]) -> Output {
    let env = through(proxy);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    albkit_with_env(moto, project, region, args, &env)
}

/// Counts, straight from moto, of every kind of resource the stack owns in `region`
/// (its lock included); a kind that could not be listed counts 99.
async fn census(moto: &Moto, region: &str, stack: &str) -> Vec<(&'static str, usize)> {
    let scope = Scope {
        stack,
        region,
        account: ACCOUNT_ID,
        roles: Roles::ThisRegion,
    };
    let mut kinds = RESOURCES.to_vec();
    kinds.push(Kind::Lock);
    inventory::census(&sdk_config(moto, region).await, &scope, &kinds).await
}

/// The same stack, brought up once in another region of the same account and then
/// watched while the sweeps crash, lose responses and tear down the stack under test:
/// IAM is global, so a loose ownership rule would reach the twin's roles. What is
/// compared: the twin's census, its role ARNs with their creation dates, and each
/// function's code, last modification and live version.
struct Twin {
    region: &'static str,
    stack: String,
    before: TwinState,
}

type TwinState = (Vec<String>, Vec<String>);

impl Twin {
    /// Brings the twin up straight against moto (no proxy, no faults).
    async fn up(moto: &Moto, project: &Project, region: &'static str, stack: &str) -> Twin {
        crate::support::albkit(moto, project, region, &["up", "--yes"]).ok();
        let before = Twin::state(moto, region, stack).await;
        assert!(
            !before.0.is_empty() && !before.1.is_empty(),
            "the twin has roles and functions: {before:?}"
        );
        Twin {
            region,
            stack: stack.to_string(),
            before,
        }
    }

    async fn state(moto: &Moto, region: &str, stack: &str) -> TwinState {
        let cfg = sdk_config(moto, region).await;
        let iam = aws_sdk_iam::Client::new(&cfg);
        let lambda = aws_sdk_lambda::Client::new(&cfg);
        let mut roles: Vec<String> = iam
            .list_roles()
            .path_prefix(format!("/albkit/{stack}/{region}/"))
            .send()
            .await
            .expect("ListRoles")
            .roles()
            .iter()
            .map(|r| format!("{} {:?}", r.arn(), r.create_date()))
            .collect();
        roles.sort();
        let mut functions = Vec::new();
        for f in lambda
            .list_functions()
            .send()
            .await
            .expect("ListFunctions")
            .functions()
        {
            let Some(name) = f.function_name().filter(|n| n.starts_with(stack)) else {
                continue;
            };
            let live = lambda
                .get_alias()
                .function_name(name)
                .name("live")
                .send()
                .await
                .map(|a| a.function_version().unwrap_or_default().to_string())
                .unwrap_or_default();
            functions.push(format!(
                "{name} {} {} live={live}",
                f.code_sha256().unwrap_or_default(),
                f.last_modified().unwrap_or_default()
            ));
        }
        functions.sort();
        (roles, functions)
    }

    /// Panics unless the twin is exactly as it was brought up.
    async fn assert_untouched(&self, moto: &Moto, when: &str) {
        let counts = census(moto, self.region, &self.stack).await;
        assert!(
            complete(&counts),
            "{when}: the same-named stack in {} lost something: {counts:?}",
            self.region
        );
        let now = Twin::state(moto, self.region, &self.stack).await;
        assert_eq!(
            now, self.before,
            "{when}: the same-named stack in {} was changed",
            self.region
        );
    }
}

/// One figure for `scripts/reliability`, which collects these lines into its table.
fn report(what: &str, value: usize) {
    eprintln!("RELIABILITY|{what}|{value}");
}

/// How many resources a census still finds.
fn leftover(counts: &[(&'static str, usize)]) -> usize {
    counts.iter().map(|(_, n)| n).sum()
}

/// Exactly one of each resource. A lock may remain: one left by a killed run stays
/// until it expires or the next run that needs it (an `up` with changes, a `down`)
/// takes it over; an `up` with nothing to change does not look. `empty` requires none.
fn complete(counts: &[(&'static str, usize)]) -> bool {
    counts.iter().all(|(kind, n)| match *kind {
        "subnet" => *n == 2,
        "lock" => *n <= 1,
        _ => *n == 1,
    })
}

fn empty(counts: &[(&'static str, usize)]) -> bool {
    counts.iter().all(|(_, n)| *n == 0)
}

#[tokio::test(flavor = "multi_thread")]
async fn up_and_down_converge_with_20_percent_faults_and_aws_realism() {
    let moto = Moto::shared();
    let region = "eu-central-1";
    let stack = unique_stack_name("faults");
    let proxy = Proxy::start(
        &moto.endpoint(),
        ProxyConfig {
            fault_rate: 0.2,
            seed: 20,
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            realism: Realism {
                // The load balancer's interfaces "detach" for 10 s; the first deletion
                // that needs them gone is refused however late it comes.
                eni_release: Duration::from_secs(10),
                // Long enough that CreateFunction, however delayed by faults on the
                // role's own calls, comes while the role is still "propagating".
                iam_propagation: Duration::from_secs(8),
                ..Realism::all(Duration::from_secs(2))
            },
            ..ProxyConfig::default()
        },
    );
    // The HTTPS stack: certificate issuance, DNS validation and the redirect listener
    // are part of the run.
    let (project, _) = https_project(moto, region, &stack).await;
    let domain = format!("{stack}.example.com");
    let cfg = sdk_config(moto, region).await;

    via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
    let counts = census(moto, region, &stack).await;
    assert!(
        complete(&counts),
        "exactly one of each resource: {counts:?}"
    );
    // The second run sees what the first built, through the same faults.
    via(
        moto,
        &proxy,
        &project,
        region,
        &["plan", "--detailed-exitcode"],
    )
    .code_is(0);
    via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "--purge-logs"],
    )
    .ok();
    assert!(
        empty(&census(moto, region, &stack).await),
        "nothing left: {:?}",
        census(moto, region, &stack).await
    );

    let acm = aws_sdk_acm::Client::new(&cfg);
    let certificates = acm
        .list_certificates()
        .send()
        .await
        .expect("certificates")
        .certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name().is_some_and(|d| d.ends_with(&domain)))
        .count();
    assert_eq!(certificates, 0, "the certificate was deleted");

    let records = proxy.records();
    let faults = records
        .iter()
        .filter(|r| matches!(r.fault, Some(f) if f != Fault::Realism("")))
        .filter(|r| !matches!(r.fault, Some(Fault::Realism(_))))
        .count();
    let realism = |name: &str| {
        records
            .iter()
            .filter(|r| {
                r.fault
                    == Some(Fault::Realism(match name {
                        "iam" => "iam-propagation",
                        "eni" => "eni-release",
                        "certificate-in-use" => "certificate-in-use",
                        "certificate-pending" => "certificate-pending",
                        _ => "lambda-update-in-progress",
                    }))
            })
            .count()
    };
    let retried = records.iter().filter(|r| r.fault.is_some()).count();
    report("calls made (up + plan + down, HTTPS stack)", records.len());
    report(
        "transient faults injected (500, 503, throttling, resets)",
        faults,
    );
    report(
        "AWS behaviours imitated and absorbed (IAM, ENI, certificate, Lambda, late log)",
        retried - faults,
    );
    report("calls retried after a fault or refusal", retried);
    report(
        "resources left over after faults",
        leftover(&census(moto, region, &stack).await),
    );
    assert!(
        faults >= 10,
        "faults were injected: {faults} of {}",
        records.len()
    );
    assert!(realism("iam") >= 1, "CreateFunction met IAM propagation");
    assert!(
        realism("eni") >= 1,
        "teardown met detaching network interfaces; the calls after DeleteLoadBalancer: {:?}",
        records
            .iter()
            .skip_while(|r| r.operation != "DeleteLoadBalancer")
            .filter(|r| r.service == "ec2" || r.operation == "DeleteLoadBalancer")
            .map(|r| format!(
                "{:.1}s {} {} {:?}",
                r.start.as_secs_f64(),
                r.operation,
                r.status,
                r.fault
            ))
            .collect::<Vec<_>>()
    );
    // The late access log landed after albkit emptied the bucket, its DeleteBucket met
    // BucketNotEmpty, and the teardown retry emptied it again.
    let late = records
        .iter()
        .find(|r| r.operation == "late log delivery")
        .map(|r| r.status);
    assert_eq!(
        late,
        Some(200),
        "the late log object was written; S3 calls: {:?}",
        records
            .iter()
            .filter(|r| r.service == "s3")
            .map(|r| format!("{} {}", r.operation, r.status))
            .collect::<Vec<_>>()
    );
    assert!(
        records
            .iter()
            .any(|r| r.service == "s3" && r.operation.starts_with("DELETE") && r.status == 409),
        "DeleteBucket met BucketNotEmpty once"
    );
}

/// The HTTPS stack's config (`api.<stack>.example.com`) with a fresh hosted zone for it;
/// and the zone's id.
async fn https_project(moto: &Moto, region: &str, stack: &str) -> (Project, String) {
    let domain = format!("{stack}.example.com");
    let zone = create_hosted_zone(&sdk_config(moto, region).await, &domain).await;
    let project = Project::from_template("hello", stack);
    project.with_config(&format!(
        "{}\n[https]\ndomain = \"api.{domain}\"\nhosted_zone_id = \"{zone}\"\n",
        minimal_config(stack)
    ));
    (project, zone)
}

/// Every mutating operation of `up` and `down` loses the response of its first
/// successful call: AWS did the work, albkit never heard of it. Deterministic, unlike
/// the random faults above, so each creation's idempotency is checked on every run.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_response_to_each_mutating_call_creates_nothing_twice() {
    let moto = Moto::shared();
    let region = "eu-west-3";
    let stack = unique_stack_name("lost");
    let proxy = Proxy::start(
        &moto.endpoint(),
        ProxyConfig {
            lose_first_responses: true,
            ..ProxyConfig::default()
        },
    );
    let (project, zone) = https_project(moto, region, &stack).await;
    // What must come through untouched: the same stack name in another region (its
    // roles live in the same global IAM), and a record of someone else's in the zone.
    let twin_project = Project::from_template("hello", &stack);
    twin_project.with_config(&minimal_config(&stack));
    let twin = Twin::up(moto, &twin_project, "sa-east-1", &stack).await;
    let neighbour = format!("www.{stack}.example.com");
    let route53 = aws_sdk_route53::Client::new(&sdk_config(moto, region).await);
    let neighbour_record = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name(&neighbour)
        .r#type(aws_sdk_route53::types::RrType::A)
        .alias_target(
            aws_sdk_route53::types::AliasTarget::builder()
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .dns_name("d111111abcdef8.cloudfront.net.")
                .evaluate_target_health(false)
                .build()
                .expect("alias target"),
        )
        .build()
        .expect("record");
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Create)
                        .resource_record_set(neighbour_record)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("a neighbour's record");
    let neighbour_is_there = || async {
        route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .send()
            .await
            .expect("records")
            .resource_record_sets()
            .iter()
            .any(|r| {
                r.name().trim_end_matches('.') == neighbour
                    && r.alias_target()
                        .map(aws_sdk_route53::types::AliasTarget::dns_name)
                        == Some("d111111abcdef8.cloudfront.net.")
            })
    };

    via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
    twin.assert_untouched(moto, "after up").await;
    assert!(
        neighbour_is_there().await,
        "the neighbour's record after up"
    );
    let lost: Vec<String> = proxy
        .records()
        .iter()
        .filter(|r| r.fault == Some(Fault::ResetAfter))
        .map(|r| format!("{} {}", r.service, r.operation))
        .collect();
    let counts = census(moto, region, &stack).await;
    assert!(
        complete(&counts),
        "exactly one of each resource after losing the responses of {lost:?}: {counts:?}"
    );
    let cfg = sdk_config(moto, region).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let lb = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers")
        .load_balancers()
        .iter()
        .find(|l| {
            l.load_balancer_name()
                .is_some_and(|n| n.starts_with(&stack))
        })
        .and_then(|l| l.load_balancer_arn().map(str::to_string))
        .expect("the stack's load balancer");
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb)
        .send()
        .await
        .expect("listeners")
        .listeners()
        .to_vec();
    assert_eq!(listeners.len(), 2, "HTTP and HTTPS listeners, once each");
    for listener in &listeners {
        let rules = elb
            .describe_rules()
            .listener_arn(listener.listener_arn().unwrap_or_default())
            .send()
            .await
            .expect("rules")
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .count();
        let expected = if listener.port() == Some(443) { 1 } else { 0 };
        assert_eq!(rules, expected, "rules on port {:?}", listener.port());
    }
    let acm = aws_sdk_acm::Client::new(&cfg);
    let certificates = acm
        .list_certificates()
        .send()
        .await
        .expect("certificates")
        .certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name().is_some_and(|d| d.contains(stack.as_str())))
        .count();
    assert_eq!(certificates, 1, "one certificate");
    // The validation CNAME goes missing (removed by hand; or never written, when the
    // certificate was issued before albkit asked): `down` must not stumble on it.
    let route53 = aws_sdk_route53::Client::new(&cfg);
    let cnames: Vec<_> = route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .expect("records")
        .resource_record_sets()
        .iter()
        .filter(|r| r.r#type() == &aws_sdk_route53::types::RrType::Cname)
        .cloned()
        .collect();
    for record in cnames {
        route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(
                aws_sdk_route53::types::ChangeBatch::builder()
                    .changes(
                        aws_sdk_route53::types::Change::builder()
                            .action(aws_sdk_route53::types::ChangeAction::Delete)
                            .resource_record_set(record)
                            .build()
                            .expect("change"),
                    )
                    .build()
                    .expect("batch"),
            )
            .send()
            .await
            .expect("remove the validation record");
    }

    via(
        moto,
        &proxy,
        &project,
        region,
        &["plan", "--detailed-exitcode"],
    )
    .code_is(0);
    via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "--purge-logs"],
    )
    .ok();
    let lost = proxy
        .records()
        .iter()
        .filter(|r| r.fault == Some(Fault::ResetAfter))
        .count();
    report("mutating operations whose first response was lost", lost);
    assert!(lost >= 30, "responses lost: {lost}");
    let counts = census(moto, region, &stack).await;
    assert!(empty(&counts), "nothing left: {counts:?}");
    twin.assert_untouched(moto, "after down").await;
    assert!(
        neighbour_is_there().await,
        "the neighbour's record after down"
    );
    report(
        "checks that the same-named stack of another region was untouched",
        2,
    );
}

/// An albkit process started in the background, with its pid known.
struct Running {
    pid: u32,
    handle: std::thread::JoinHandle<Output>,
}

impl Running {
    fn wait(self) -> Output {
        self.handle.join().expect("albkit runner")
    }

    fn signal(&self, name: &str) {
        let _ = std::process::Command::new("kill")
            .args([format!("-{name}"), self.pid.to_string()])
            .status();
    }
}

/// Starts albkit through the proxy and returns once its pid is known. `arm` runs before
/// the process starts, with the file its pid will be in: a trigger armed there sees
/// every call the process makes.
fn start_armed(
    moto: &Moto,
    proxy: &Proxy,
    project: &Project,
    region: &str,
    args: &[&str],
    env: &[(&str, &str)],
    arm: impl FnOnce(Target),
) -> Running {
    let mut cmd = albkit_command(moto, project, region);
    cmd.args(args);
    for (key, value) in through(proxy) {
        cmd.env(key, value);
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    // A shim writes the pid of the process that then becomes albkit (exec keeps the pid).
    let pid_file = project.path().join(format!(
        ".albkit-{}.pid",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let shim = format!("echo $$ > {}; exec \"$0\" \"$@\"", pid_file.display());
    let program = cmd.get_program().to_owned();
    let cmd_args: Vec<_> = cmd.get_args().map(std::borrow::ToOwned::to_owned).collect();
    let mut wrapped = std::process::Command::new("sh");
    wrapped.arg("-c").arg(&shim).arg(program).args(cmd_args);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped.stdin(std::process::Stdio::null());
    arm(Target::PidFile(pid_file.clone()));
    let handle = std::thread::spawn(move || run(wrapped, ALBKIT_TIMEOUT));
    for _ in 0..4000 {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            return Running { pid, handle };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("albkit did not start: {}", handle.join().expect("runner"));
}

fn start(
    moto: &Moto,
    proxy: &Proxy,
    project: &Project,
    region: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Running {
    start_armed(moto, proxy, project, region, args, env, |_| {})
}

/// Runs albkit with `args` and kills it right after its k-th successful mutating call.
fn killed_after(
    moto: &Moto,
    proxy: &Proxy,
    project: &Project,
    region: &str,
    args: &[&str],
    k: usize,
) -> Output {
    start_armed(moto, proxy, project, region, args, &[], |target| {
        proxy.kill_after(k, target);
    })
    .wait()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_killed_after_any_mutating_call_then_run_again_converges() {
    let moto = Moto::shared();
    // A region no other test uses: the count of mutating calls measured first must hold
    // for every later run, and another test's `down --purge-logs` there would remove the
    // region's lock bucket at any moment (its creation then adds writes to a run).
    let region = "ap-southeast-3";
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    // How many mutating calls a fresh up makes.
    let stack = unique_stack_name("crash");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let twin = Twin::up(moto, &project, "us-west-1", &stack).await;
    proxy.disarm();
    let before = proxy.mutations();
    via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
    let total = proxy.mutations() - before;
    via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "--purge-logs"],
    )
    .ok();
    assert!(total >= 20, "a fresh up makes {total} mutating calls");

    let mut converged = 0;
    for k in 1..=total {
        let out = killed_after(moto, &proxy, &project, region, &["up", "--yes"], k);
        assert_ne!(
            out.code,
            Some(0),
            "k = {k}: albkit should have been killed\n{out}"
        );
        proxy.disarm();
        via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
        let counts = census(moto, region, &stack).await;
        assert!(
            complete(&counts),
            "k = {k}: exactly one of each resource after resuming: {counts:?}"
        );
        twin.assert_untouched(moto, &format!("k = {k}, after up"))
            .await;
        via(
            moto,
            &proxy,
            &project,
            region,
            &["down", "--yes", "--purge-logs"],
        )
        .ok();
        assert!(
            empty(&census(moto, region, &stack).await),
            "k = {k}: down left something"
        );
        twin.assert_untouched(moto, &format!("k = {k}, after down"))
            .await;
        converged += 1;
    }
    report(
        "checks that the same-named stack of another region was untouched",
        2 * converged,
    );
    report("up crash points tried", total);
    report("up crash points converged", converged);
    assert_eq!(converged, total);
}

#[tokio::test(flavor = "multi_thread")]
async fn down_killed_after_any_mutating_call_then_run_again_removes_everything() {
    let moto = Moto::shared();
    // A region no other test uses: whether `down --purge-logs` removes the region's lock
    // bucket (more mutating calls) depends on whether another stack holds a lock there,
    // and the count measured first must hold for every later run.
    let region = "ap-northeast-1";
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("crashdown");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let twin = Twin::up(moto, &project, "us-east-2", &stack).await;
    let down = ["down", "--yes", "--purge-logs"];
    // How many mutating calls a down of a complete stack makes.
    via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
    let before = proxy.mutations();
    via(moto, &proxy, &project, region, &down).ok();
    let total = proxy.mutations() - before;
    assert!(total >= 15, "a down makes {total} mutating calls");

    let mut converged = 0;
    for k in 1..=total {
        via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
        let out = killed_after(moto, &proxy, &project, region, &down, k);
        assert_ne!(
            out.code,
            Some(0),
            "k = {k}: albkit should have been killed\n{out}"
        );
        proxy.disarm();
        via(moto, &proxy, &project, region, &down).ok();
        let counts = census(moto, region, &stack).await;
        assert!(
            empty(&counts),
            "k = {k}: the second down left something: {counts:?}"
        );
        twin.assert_untouched(moto, &format!("k = {k}")).await;
        converged += 1;
    }
    report(
        "checks that the same-named stack of another region was untouched",
        converged,
    );
    report("down crash points tried", total);
    report("down crash points converged", converged);
    assert_eq!(converged, total);
}

/// Two runs on one stack at once: the stack lock (an S3 object written with conditional
/// requests) lets one in; the other refuses with who holds it, or waits when told to.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_are_serialised_by_the_stack_lock() {
    let moto = Moto::shared();
    let region = "sa-east-1";
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("lock");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));

    // The first up is frozen right after it took the lock.
    let first = start_armed(moto, &proxy, &project, region, &["up", "--yes"], &[], |t| {
        proxy.stop_when("/lock.json", t);
    });
    let mut waited = 0;
    while census(moto, region, &stack)
        .await
        .iter()
        .all(|(k, n)| *k != "lock" || *n == 0)
    {
        waited += 1;
        assert!(waited < 600, "the first up never took the lock");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.clear_records();

    // A second up refuses at once, saying who holds the lock and what to do.
    let second = via(moto, &proxy, &project, region, &["up", "--yes"]);
    second.code_is(1);
    // miette wraps long lines; compare on the words.
    let words = second
        .stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "is locked by another run",
        "`albkit up`",
        &format!("pid {}", first.pid),
        "albkit unlock",
        "--lock-timeout",
    ] {
        assert!(
            words.contains(needle),
            "the refusal names `{needle}`\n{second}"
        );
    }
    let mutated: Vec<_> = proxy
        .records()
        .into_iter()
        .filter(|r| r.mutating && r.status < 300)
        .collect();
    assert!(
        mutated.is_empty(),
        "the refused run changed nothing: {mutated:?}"
    );

    // A third one waits for the lock; the first is let go, finishes, and the third then
    // finds nothing to do.
    let third = start(
        moto,
        &proxy,
        &project,
        region,
        &["up", "--yes", "--lock-timeout", "2m", "-o", "json"],
        &[],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.signal("CONT");
    first.wait().ok();
    let third = third.wait();
    third.ok();
    let doc: serde_json::Value = serde_json::from_str(&third.stdout).expect("json");
    assert_eq!(doc["counts"]["created"], 0, "{third}");
    let counts = census(moto, region, &stack).await;
    assert!(
        complete(&counts),
        "exactly one of each resource: {counts:?}"
    );

    // Two downs at once, both willing to wait: one removes, the other finds nothing.
    let down = ["down", "--yes", "--purge-logs", "--lock-timeout", "2m"];
    let a = start(moto, &proxy, &project, region, &down, &[]);
    let b = start(moto, &proxy, &project, region, &down, &[]);
    a.wait().ok();
    b.wait().ok();
    assert!(empty(&census(moto, region, &stack).await));
}

/// A run frozen past the lock's lifetime (a laptop put to sleep) loses the lock to the
/// next run once it expires; `albkit unlock` removes a lock by hand.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lock_is_taken_over_and_unlock_removes_one() {
    let moto = Moto::shared();
    let region = "ap-northeast-2";
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("expiry");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let lock_is_held = || async {
        census(moto, region, &stack)
            .await
            .iter()
            .any(|(k, n)| *k == "lock" && *n == 1)
    };

    // Frozen holder with a 2 s lifetime: the next up waits for the expiry, then takes over.
    let frozen = start_armed(
        moto,
        &proxy,
        &project,
        region,
        &["up", "--yes"],
        &[("ALBKIT_LOCK_TTL_SECS", "2")],
        |t| proxy.stop_when("/lock.json", t),
    );
    for _ in 0..600 {
        if lock_is_held().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = via(
        moto,
        &proxy,
        &project,
        region,
        &["up", "--yes", "--lock-timeout", "1m"],
    );
    out.ok();
    assert!(out.stderr.contains("taking over an expired lock"), "{out}");
    assert!(complete(&census(moto, region, &stack).await));
    frozen.signal("KILL");
    let _ = frozen.wait();

    // A lock left by a run on another machine is removed by hand.
    let held = start_armed(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes"],
        &[],
        |t| proxy.stop_when("/lock.json", t),
    );
    for _ in 0..600 {
        if lock_is_held().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An up with nothing to change reads without the lock; a down needs it.
    via(moto, &proxy, &project, region, &["up", "--yes"]).ok();
    via(moto, &proxy, &project, region, &["down", "--yes"]).code_is(1);
    let unlocked = via(
        moto,
        &proxy,
        &project,
        region,
        &["unlock", "--yes", "-o", "json"],
    );
    unlocked.ok();
    let doc: serde_json::Value = serde_json::from_str(&unlocked.stdout).expect("json");
    assert_eq!(doc["removed"]["pid"], held.pid, "{unlocked}");
    assert!(!lock_is_held().await);
    held.signal("KILL");
    let _ = held.wait();
    via(moto, &proxy, &project, region, &["unlock", "--yes"]).ok();
    via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "--purge-logs"],
    )
    .ok();
    assert!(empty(&census(moto, region, &stack).await));
}

/// Stacks of a region share the lock bucket, and `down --purge-logs` of one removes it
/// once no stack holds a lock. A run that found the bucket a moment before (here: stopped
/// right after its first fix of the bucket's settings, while the bucket is deleted) meets
/// `NoSuchBucket`, creates the bucket again and goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_lock_bucket_removed_by_another_stack_mid_run_is_created_again() {
    let moto = Moto::shared();
    let region = "eu-south-2";
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("vanish");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
    let s3 = crate::support::s3_client(&sdk_config(moto, region).await);
    let bucket = crate::support::lock_bucket(region);
    // albkit's tag, none of the other settings: the run has several calls to make.
    crate::support::create_bucket(&s3, &bucket, region).await;
    crate::support::tag_bucket(&s3, &bucket, "albkit:purpose", "stack-locks").await;

    let running = start_armed(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes"],
        &[],
        |t| proxy.stop_when("?publicAccessBlock", t),
    );
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{}/stat", running.pid))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(") ")?.1.chars().next()?;
                Some(state == 'T')
            })
            .unwrap_or(false)
    };
    let mut waited = 0;
    while !stopped() {
        waited += 1;
        assert!(
            waited < 1200,
            "albkit never set the bucket's public access block"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s3.delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("another stack's down removes the bucket");
    running.signal("CONT");
    running.wait().ok();
    crate::support::assert_lock_bucket_secured(&s3, &bucket).await;
}

/// A corpus of broken configurations: each is rejected with exit code 2, a message that
/// names the key, and not a single AWS call.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_and_broken_configs_are_rejected_without_any_aws_call() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let project = Project::from_template("hello", "ok");
    let ok_fn = "[[functions]]\nname = \"api\"\npath = \"functions/hello\"\n";
    let stack = "[stack]\nname = \"ok\"\n";
    let with = |extra: &str| format!("{stack}{extra}\n{ok_fn}");
    let route = |r: &str| format!("{stack}{ok_fn}\n[[functions.routes]]\n{r}\n");
    let huge = format!("{stack}{ok_fn}# {}\n", "x".repeat(1_100_000));
    let corpus: Vec<(&str, String, &str)> = vec![
        ("syntax error", "[stack\nname = \"x\"".into(), "expected"),
        ("unterminated string", "[stack]\nname = \"x\n".into(), ""),
        ("duplicate key", "[stack]\nname = \"a\"\nname = \"b\"\n".into(), ""),
        ("empty file", "".into(), "stack"),
        ("no functions", stack.into(), "functions"),
        ("name wrong type", format!("[stack]\nname = 5\n{ok_fn}"), "stack.name"),
        ("name too long", format!("[stack]\nname = \"{}\"\n{ok_fn}", "a".repeat(25)), "stack.name"),
        ("name bad chars", format!("[stack]\nname = \"Hello_World\"\n{ok_fn}"), "stack.name"),
        ("name starts with digit", format!("[stack]\nname = \"1abc\"\n{ok_fn}"), "stack.name"),
        ("unknown top-level key", format!("{stack}colour = \"red\"\n{ok_fn}"), "colour"),
        ("unknown stack key", format!("[stack]\nname = \"ok\"\nnmae = \"x\"\n{ok_fn}"), "nmae"),
        ("bad region", format!("[stack]\nname = \"ok\"\nregion = \"mars-north-1x\"\n{ok_fn}"), "stack.region"),
        ("reserved tag", format!("[stack]\nname = \"ok\"\ntags = {{ \"aws:owner\" = \"me\" }}\n{ok_fn}"), "tags"),
        ("cidr not a cidr", with("[network]\ncidr = \"10.0.0.0\"\n"), "network.cidr"),
        ("cidr host bits", with("[network]\ncidr = \"10.0.0.1/16\"\n"), "network.cidr"),
        ("cidr too small", with("[network]\ncidr = \"10.0.0.0/28\"\n"), "network.cidr"),
        ("one az", with("[network]\navailability_zones = 1\n"), "availability_zones"),
        ("seven azs", with("[network]\navailability_zones = 7\n"), "availability_zones"),
        ("vpc without subnets", with("[network]\nvpc_id = \"vpc-0123456789abcdef0\"\n"), "subnet_ids"),
        ("subnets without vpc", with("[network]\nsubnet_ids = [\"subnet-01234567\", \"subnet-89abcdef\"]\n"), "vpc_id"),
        ("bad vpc id", with("[network]\nvpc_id = \"vpc-zzz\"\nsubnet_ids = [\"subnet-01234567\", \"subnet-89abcdef\"]\n"), "vpc_id"),
        ("bad scheme", with("[load_balancer]\nscheme = \"public\"\n"), "scheme"),
        ("bad ingress", with("[load_balancer]\ningress_cidrs = [\"everyone\"]\n"), "ingress_cidrs"),
        ("idle timeout zero", with("[load_balancer]\nidle_timeout_seconds = 0\n"), "idle_timeout_seconds"),
        ("https without domain", with("[https]\nhosted_zone_id = \"Z123\"\n"), "domain"),
        ("hosted zone outside https", format!("[stack]\nname = \"ok\"\nhosted_zone_id = \"Z123\"\n{ok_fn}"), "hosted_zone_id"),
        ("bad domain", with("[https]\ndomain = \"not a domain\"\n"), "domain"),
        ("bad certificate arn", with("[https]\ndomain = \"a.example.com\"\ncertificate_arn = \"arn:aws:iam::1:role/x\"\n"), "certificate_arn"),
        (
            "certificate in another region",
            format!("[stack]\nname = \"ok\"\nregion = \"us-east-1\"\n[https]\ndomain = \"a.example.com\"\ncertificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\"\n{ok_fn}"),
            "certificate_arn",
        ),
        ("bad ssl policy", with("[https]\ndomain = \"a.example.com\"\nssl_policy = \"TLS1.3\"\n"), "ssl_policy"),
        ("ssl policy allowing TLS 1.0", with("[https]\ndomain = \"a.example.com\"\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n"), "https.ssl_policy"),
        ("function name bad", format!("{stack}[[functions]]\nname = \"API\"\npath = \"functions/hello\"\n"), "functions[0].name"),
        ("duplicate function", format!("{stack}{ok_fn}{ok_fn}"), "functions[1].name"),
        ("missing path", format!("{stack}[[functions]]\nname = \"api\"\n"), "path"),
        ("path missing on disk", format!("{stack}[[functions]]\nname = \"api\"\npath = \"functions/nope\"\n"), "path"),
        ("path outside project", format!("{stack}[[functions]]\nname = \"api\"\npath = \"../../..\"\n"), "path"),
        ("absolute path", format!("{stack}[[functions]]\nname = \"api\"\npath = \"/etc\"\n"), "path"),
        ("memory too low", format!("{stack}{ok_fn}memory_mb = 64\n"), "memory_mb"),
        ("memory as string", format!("{stack}{ok_fn}memory_mb = \"256\"\n"), "memory_mb"),
        ("timeout too long", format!("{stack}{ok_fn}timeout_seconds = 901\n"), "timeout_seconds"),
        ("bad architecture", format!("{stack}{ok_fn}architecture = \"sparc\"\n"), "architecture"),
        ("reserved environment", format!("{stack}{ok_fn}environment = {{ AWS_REGION = \"x\" }}\n"), "environment"),
        ("bad retention", format!("{stack}{ok_fn}log_retention_days = 10\n"), "log_retention_days"),
        ("health check path", format!("{stack}{ok_fn}health_check = {{ path = \"health\" }}\n"), "health_check"),
        ("priority zero", route("priority = 0\npaths = [\"/a\"]"), "priority"),
        ("priority too high", route("priority = 50001\npaths = [\"/a\"]"), "priority"),
        ("duplicate priority", format!("{stack}{ok_fn}\n[[functions.routes]]\npriority = 1\npaths = [\"/a\"]\n[[functions.routes]]\npriority = 1\npaths = [\"/b\"]\n"), "priority"),
        ("path too long", route(&format!("priority = 1\npaths = [\"/{}\"]", "a".repeat(200))), "paths"),
        ("path bad chars", route("priority = 1\npaths = [\"/a b\"]"), "paths"),
        ("too many values", route("priority = 1\npaths = [\"/a\", \"/b\", \"/c\", \"/d\", \"/e\", \"/f\"]"), "functions[0].routes[0]"),
        ("lowercase method", route("priority = 1\nmethods = [\"get\"]"), "methods"),
        ("route without condition", route("priority = 1"), "functions[0].routes[0]"),
        ("huge file", huge, ""),
    ];
    assert!(corpus.len() >= 40);
    let mut rejected = 0;
    for (name, toml, key) in &corpus {
        project.with_config(toml);
        proxy.clear_records();
        let out = via(moto, &proxy, &project, "us-east-1", &["up", "--yes"]);
        assert_eq!(out.code, Some(2), "{name}: expected exit code 2\n{out}");
        assert!(
            out.stderr.contains(key),
            "{name}: the message should name `{key}`\n{out}"
        );
        assert!(
            proxy.records().is_empty(),
            "{name}: AWS was called: {:?}",
            proxy.records()
        );
        rejected += 1;
    }
    // Non-UTF-8 bytes.
    std::fs::write(
        project.path().join("albkit.toml"),
        b"[stack]\nname = \"\xff\xfe\"\n",
    )
    .expect("write");
    let out = via(moto, &proxy, &project, "us-east-1", &["up", "--yes"]);
    assert_eq!(out.code, Some(2), "non-UTF-8\n{out}");
    assert!(proxy.records().is_empty());
    rejected += 1;
    report("bad inputs rejected with no AWS call", rejected);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_are_a_clear_usage_error_with_no_mutating_call() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let project = Project::from_template("hello", "nocreds");
    project.with_config(&minimal_config("nocreds"));
    let mut cmd = albkit_command(moto, &project, "us-east-1");
    cmd.args(["up", "--yes"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ENDPOINT_URL", proxy.endpoint());
    let out = run(cmd, ALBKIT_TIMEOUT);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("credentials"), "{out}");
    assert!(proxy.records().iter().all(|r| !r.mutating));
}

#[test]
fn the_proxy_classifies_each_protocol() {
    assert_eq!(service_of("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=x"), "elasticloadbalancing");
    assert_eq!(
        operation_of(
            "ec2",
            "POST",
            "/",
            None,
            "Action=CreateVpc&Version=2016-11-15"
        ),
        ("CreateVpc".into(), true)
    );
    assert_eq!(
        operation_of("ec2", "POST", "/", None, "Action=DescribeVpcs"),
        ("DescribeVpcs".into(), false)
    );
    assert_eq!(
        operation_of(
            "logs",
            "POST",
            "/",
            Some("Logs_20140328.CreateLogGroup"),
            "{}"
        ),
        ("CreateLogGroup".into(), true)
    );
    assert_eq!(
        operation_of(
            "lambda",
            "PUT",
            "/2015-03-31/functions/s-api/code",
            None,
            ""
        ),
        ("UpdateFunctionCode".into(), true)
    );
    assert_eq!(
        operation_of(
            "lambda",
            "GET",
            "/2015-03-31/functions/s-api/aliases/live",
            None,
            ""
        ),
        ("GetAlias".into(), false)
    );
    assert_eq!(
        operation_of("s3", "GET", "/bucket?versions", None, ""),
        ("GET versions".into(), false)
    );
    assert_eq!(
        operation_of("s3", "POST", "/bucket?delete", None, ""),
        ("POST delete".into(), true)
    );
}
