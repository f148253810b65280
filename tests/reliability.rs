//! albkit under the conditions real AWS produces, simulated by a proxy in front of moto:
//! transient faults on every call, IAM propagation, Lambda update conflicts, ALB
//! provisioning, network interfaces detaching, certificates in use, late log delivery,
//! and albkit killed after any mutating call.

mod support;

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use support::proxy::{operation_of, service_of, Fault, Proxy, ProxyConfig, Realism};
use support::{
    albkit_command, albkit_with_env, run, sdk_config, unique_stack_name, Moto, Output, Project,
    ALBKIT_TIMEOUT,
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

/// Counts, straight from moto, of every kind of resource the stack owns.
async fn census(moto: &Moto, region: &str, stack: &str) -> Vec<(&'static str, usize)> {
    let cfg = sdk_config(moto, region).await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let iam = aws_sdk_iam::Client::new(&cfg);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
    let s3 = support::s3_client(&cfg);
    let f = || {
        Filter::builder()
            .name("tag:albkit:stack")
            .values(stack)
            .build()
    };
    let bucket = format!("albkit-{stack}-logs-{}-{region}", support::ACCOUNT_ID);
    vec![
        (
            "vpc",
            ec2.describe_vpcs()
                .filters(f())
                .send()
                .await
                .map(|o| o.vpcs().len())
                .unwrap_or(99),
        ),
        (
            "subnet",
            ec2.describe_subnets()
                .filters(f())
                .send()
                .await
                .map(|o| o.subnets().len())
                .unwrap_or(99),
        ),
        (
            "internet-gateway",
            ec2.describe_internet_gateways()
                .filters(f())
                .send()
                .await
                .map(|o| o.internet_gateways().len())
                .unwrap_or(99),
        ),
        (
            "route-table",
            ec2.describe_route_tables()
                .filters(f())
                .send()
                .await
                .map(|o| o.route_tables().len())
                .unwrap_or(99),
        ),
        (
            "security-group",
            ec2.describe_security_groups()
                .filters(f())
                .send()
                .await
                .map(|o| o.security_groups().len())
                .unwrap_or(99),
        ),
        (
            "load-balancer",
            elb.describe_load_balancers()
                .send()
                .await
                .map(|o| {
                    o.load_balancers()
                        .iter()
                        .filter(|l| l.load_balancer_name().is_some_and(|n| n.starts_with(stack)))
                        .count()
                })
                .unwrap_or(99),
        ),
        (
            "target-group",
            elb.describe_target_groups()
                .send()
                .await
                .map(|o| {
                    o.target_groups()
                        .iter()
                        .filter(|t| t.target_group_name().is_some_and(|n| n.starts_with(stack)))
                        .count()
                })
                .unwrap_or(99),
        ),
        (
            "function",
            lambda
                .list_functions()
                .send()
                .await
                .map(|o| {
                    o.functions()
                        .iter()
                        .filter(|x| {
                            x.function_name()
                                .is_some_and(|n| n.starts_with(&format!("{stack}-")))
                        })
                        .count()
                })
                .unwrap_or(99),
        ),
        (
            "role",
            iam.list_roles()
                .path_prefix(format!("/albkit/{stack}/"))
                .send()
                .await
                .map(|o| o.roles().len())
                .unwrap_or(99),
        ),
        (
            "log-group",
            logs.describe_log_groups()
                .log_group_name_prefix(format!("/aws/lambda/{stack}-"))
                .send()
                .await
                .map(|o| o.log_groups().len())
                .unwrap_or(99),
        ),
        (
            "log-bucket",
            usize::from(s3.head_bucket().bucket(&bucket).send().await.is_ok()),
        ),
    ]
}

fn complete(counts: &[(&'static str, usize)]) -> bool {
    counts
        .iter()
        .all(|(kind, n)| *n == if *kind == "subnet" { 2 } else { 1 })
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
                // Long enough that the security group and subnets are reached while the
                // load balancer's interfaces still "detach", even after SDK backoff.
                eni_release: Duration::from_secs(10),
                ..Realism::all(Duration::from_secs(2))
            },
        },
    );
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));

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
                        _ => "lambda-update-in-progress",
                    }))
            })
            .count()
    };
    eprintln!(
        "calls: {}, faults injected: {faults}, iam: {}, eni: {}",
        records.len(),
        realism("iam"),
        realism("eni")
    );
    assert!(
        faults >= 10,
        "faults were injected: {faults} of {}",
        records.len()
    );
    assert!(realism("iam") >= 1, "CreateFunction met IAM propagation");
    assert!(
        realism("eni") >= 1,
        "teardown met detaching network interfaces"
    );
    // Not asserted: the imitated late log delivery. moto answers the proxy's injected PUT
    // with 403 (the bucket policy denies non-TLS requests), so it does not land yet.
}

/// Runs `up` and kills it right after its k-th successful mutating call.
fn up_killed_after(
    moto: &Moto,
    proxy: &Proxy,
    project: &Project,
    region: &str,
    k: usize,
) -> Output {
    let mut cmd = albkit_command(moto, project, region);
    cmd.args(["up", "--yes"]);
    for (key, value) in through(proxy) {
        cmd.env(key, value);
    }
    // The harness runs the command; the proxy learns the pid through a tiny shim: the
    // kill switch is armed for the next process that calls, identified by its pid file.
    let pid_file = project.path().join(".albkit.pid");
    let shim = format!("echo $$ > {}; exec \"$0\" \"$@\"", pid_file.display());
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = std::process::Command::new("sh");
    wrapped.arg("-c").arg(&shim).arg(program).args(args);
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
    let _ = std::fs::remove_file(&pid_file);
    let watcher_proxy_pid = std::sync::Arc::new(std::sync::Mutex::new(None::<u32>));
    let armed = watcher_proxy_pid.clone();
    let file = pid_file.clone();
    let arm = std::thread::spawn(move || {
        for _ in 0..2000 {
            if let Some(pid) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            {
                if let Ok(mut slot) = armed.lock() {
                    *slot = Some(pid);
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    // Armed as soon as the pid is known: albkit builds and discovers before it mutates.
    let handle = std::thread::spawn(move || run(wrapped, ALBKIT_TIMEOUT));
    let _ = arm.join();
    if let Some(pid) = watcher_proxy_pid.lock().ok().and_then(|p| *p) {
        proxy.kill_after(k, pid);
    }
    handle.join().expect("albkit runner")
}

#[tokio::test(flavor = "multi_thread")]
async fn up_killed_after_any_mutating_call_then_run_again_converges() {
    let moto = Moto::shared();
    let region = "ca-central-1";
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    // How many mutating calls a fresh up makes.
    let stack = unique_stack_name("crash");
    let project = Project::from_template("hello", &stack);
    project.with_config(&minimal_config(&stack));
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
        let out = up_killed_after(moto, &proxy, &project, region, k);
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
        converged += 1;
    }
    eprintln!("crash points tried and converged: {converged} of {total}");
    assert_eq!(converged, total);
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
    eprintln!("bad inputs rejected: {rejected}");
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
