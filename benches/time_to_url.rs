//! Time to URL, against a model of real AWS (a benchmark: figures are printed, never
//! asserted).
//!
//! albkit runs against moto behind the reliability tests' proxy, which makes every call
//! take a latency (moto's own work inside it) and imitates, scaled down, the waits real
//! AWS imposes: the load balancer active 20 s after creation, the certificate issued
//! 15 s after the request, the role assumable 8 s after creation, a function active 3 s
//! after creation or an update, network interfaces released 10 s after the load
//! balancer is deleted, the certificate in use 5 s after its last listener; then again
//! with a second model of half those waits (ALB 10 s, certificate 6 s, role 4 s,
//! function 1.5 s, interfaces 5 s), where albkit's fixed overheads weigh more. For each
//! scenario it prints albkit's wall time, the lower bound for that model computed from
//! albkit's dependency graph (`albkit::model::bound`), their ratio, the AWS calls made,
//! and the longest chain of calls that ran one after another; and below it where the
//! time beyond the bound went: start-up before the first AWS call, discovery and lock
//! before the first change, each modelled wait noticed late (how long after it ended
//! albkit's next successful call saw it), calls AWS refused and albkit retried, the
//! time moto itself took beyond the model's latency on the longest chain (each call
//! takes the latency, moto's work inside it, unless moto alone takes longer), and the
//! time after the last call. The same stack built by a tutorial-style script of
//! sequential AWS CLI calls (`benches/tutorial/up.sh`) runs against the same model.
//!
//!   cargo bench --bench time_to_url --profile dev     (or scripts/bench)
//!
//! Then the scale curves of [`scale`]: 1, 10 and 50 functions under the second model;
//! and [`builds`]: the first build of 1, 5 and 10 function crates in one shared target
//! directory.
//!
//! `ALBKIT_BENCH_LATENCY_MS` (default 50) sets the per-call latency;
//! `ALBKIT_BENCH_MODEL=full` or `short` runs one model only (`none`: neither, only the
//! scale curves); `ALBKIT_BENCH_VERBOSE=1`
//! prints every call and the longest chain of each scenario.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "parts/scale.rs"]
mod scale;

#[path = "parts/builds.rs"]
mod builds;

use std::path::Path;
use std::time::{Duration, Instant};

use albkit::model::bound::{create_bound, delete_bound, Model};
use albkit::model::config::Config;
use albkit::model::stack::{desired, Context, Desired};
use support::proxy::{Proxy, ProxyConfig, Realism, Record};
use support::{albkit_command, run, sdk_config, Moto, Project, ALBKIT_TIMEOUT};

pub(crate) const REGION: &str = "eu-central-1";

fn latency() -> Duration {
    let ms = std::env::var("ALBKIT_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    Duration::from_millis(ms)
}

/// The first model: real AWS's waits scaled down.
fn model() -> Model {
    Model {
        call: latency(),
        alb_active: Duration::from_secs(20),
        certificate_issued: Duration::from_secs(15),
        role_assumable: Duration::from_secs(8),
        function_active: Duration::from_secs(3),
        eni_release: Duration::from_secs(10),
        certificate_release: Duration::from_secs(5),
    }
}

/// The second model: about half the waits, so that albkit's own overheads (start-up,
/// discovery, waits noticed late) weigh twice as much against the bound.
fn short_model() -> Model {
    Model {
        call: latency(),
        alb_active: Duration::from_secs(10),
        certificate_issued: Duration::from_secs(6),
        role_assumable: Duration::from_secs(4),
        function_active: Duration::from_millis(1500),
        eni_release: Duration::from_secs(5),
        certificate_release: Duration::from_millis(2500),
    }
}

pub(crate) fn proxy_for(moto: &Moto, m: &Model) -> Proxy {
    Proxy::start(
        &moto.endpoint(),
        ProxyConfig {
            latency: m.call,
            realism: Realism {
                iam_propagation: m.role_assumable,
                lambda_update: m.function_active,
                function_activation: m.function_active,
                alb_provisioning: m.alb_active,
                certificate_issue: m.certificate_issued,
                eni_release: m.eni_release,
                certificate_release: m.certificate_release,
                late_log_delivery: true,
                // The model's windows, nothing forced beyond them.
                timed_only: true,
                // The bench's stack has no provisioned concurrency to wait for.
                ..Realism::default()
            },
            ..ProxyConfig::default()
        },
    )
}

fn config(stack: &str, domain: &str, zone: &str) -> String {
    format!(
        "[stack]\nname = \"{stack}\"\n\n[https]\ndomain = \"{domain}\"\nhosted_zone_id = \"{zone}\"\n\n[[functions]]\nname = \"hello\"\npath = \"functions/hello\"\n\n[[functions.routes]]\npriority = 10\npaths = [\"/hello\", \"/hello/*\"]\n"
    )
}

async fn hosted_zone(moto: &Moto, domain: &str) -> String {
    let cfg = sdk_config(moto, REGION).await;
    aws_sdk_route53::Client::new(&cfg)
        .create_hosted_zone()
        .name(domain)
        .caller_reference(format!("albkit-bench-{domain}"))
        .send()
        .await
        .expect("hosted zone")
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .expect("zone id")
}

pub(crate) struct Figures {
    name: &'static str,
    wall: Duration,
    bound: Option<Duration>,
    calls: usize,
    chain: usize,
    note: String,
    /// Where the time beyond the bound went (see [`account`]).
    lost: String,
}

/// Where a run's time went besides the work the bound counts, from the proxy's records
/// (all times on the proxy's clock; `spawned` and `exited` bracket the albkit process).
fn account(proxy: &Proxy, records: &[Record], spawned: Duration, exited: Duration) -> String {
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let mut parts = Vec::new();
    let Some(first) = records.iter().map(|r| r.start).min() else {
        return "no AWS call".into();
    };
    parts.push(format!("start-up {}", secs(first.saturating_sub(spawned))));
    // The lock bucket and lock object are albkit's own (S3); the stack's first change is
    // its first write elsewhere (its log bucket is never the first).
    let change = records
        .iter()
        .filter(|r| r.mutating && r.service != "s3")
        .map(|r| r.start)
        .min();
    let lock_writes = records
        .iter()
        .filter(|r| r.mutating && r.service == "s3" && change.is_none_or(|c| r.start < c))
        .count();
    if let Some(change) = change {
        parts.push(format!(
            "discovery and lock before the first change {} ({lock_writes} lock writes)",
            secs(change - first)
        ));
    }
    let mut late = Vec::new();
    for (what, operations, ready) in proxy.readiness() {
        if ready < spawned || ready > exited {
            continue;
        }
        let seen = records
            .iter()
            .filter(|r| operations.contains(&r.operation.as_str()))
            .filter(|r| (200..300).contains(&r.status) && r.start >= ready)
            .map(|r| r.start)
            .min();
        if let Some(seen) = seen {
            late.push(format!("{what} {}", secs(seen - ready)));
        }
    }
    if !late.is_empty() {
        parts.push(format!("noticed late: {}", late.join(", ")));
    }
    let mut refused: std::collections::BTreeMap<&str, usize> = Default::default();
    // Not found (404) is what discovery expects of what does not exist yet.
    for r in records
        .iter()
        .filter(|r| (r.status >= 400 && r.status != 404) || r.status == 0)
    {
        *refused.entry(r.operation.as_str()).or_default() += 1;
    }
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|(op, n)| format!("{op} ×{n}")).collect();
        parts.push(format!(
            "{} refused and retried ({})",
            refused.values().sum::<usize>(),
            list.join(", ")
        ));
    }
    // Calls on the longest chain that moto itself took longer over than the model's
    // latency (an upload it unpacks, an invoke): the emulator's time, not albkit's.
    let over: Duration = Proxy::chain_path(records)
        .iter()
        .map(|r| r.at.saturating_sub(r.start).saturating_sub(proxy.latency()))
        .sum();
    if over >= Duration::from_millis(10) {
        parts.push(format!(
            "moto slower than the model on the chain {}",
            secs(over)
        ));
    }
    if let Some(last) = records.iter().map(|r| r.at).max() {
        parts.push(format!(
            "after the last call {}",
            secs(exited.saturating_sub(last))
        ));
    }
    parts.join(" · ")
}

/// Runs albkit through the proxy and measures it.
pub(crate) fn measure(
    name: &'static str,
    moto: &Moto,
    proxy: &Proxy,
    project: &Project,
    args: &[&str],
    bound: Option<Duration>,
) -> Figures {
    proxy.clear_records();
    let mut cmd = albkit_command(moto, project, REGION);
    cmd.args(args).env("AWS_ENDPOINT_URL", proxy.endpoint());
    let spawned = proxy.now();
    let started = Instant::now();
    let out = run(cmd, ALBKIT_TIMEOUT);
    let wall = started.elapsed();
    let exited = proxy.now();
    if out.code != Some(0) {
        panic!("albkit {} failed\n{out}", args.join(" "));
    }
    let records = proxy.records();
    if std::env::var_os("ALBKIT_BENCH_VERBOSE").is_some() {
        println!("{name}: every call, from albkit's start:");
        for r in &records {
            println!(
                "  {:>8.3} s → {:>8.3} s  {} {} {}",
                r.start.saturating_sub(spawned).as_secs_f64(),
                r.at.saturating_sub(spawned).as_secs_f64(),
                r.service,
                r.operation,
                r.status
            );
        }
        println!("{name}: longest chain of sequential calls:");
        for r in Proxy::chain_path(&records) {
            println!(
                "  {:>8.3} s → {:>8.3} s  {} {} {}",
                r.start.as_secs_f64(),
                r.at.as_secs_f64(),
                r.service,
                r.operation,
                r.status
            );
        }
    }
    Figures {
        name,
        wall,
        bound,
        calls: records.len(),
        chain: Proxy::longest_chain(&records),
        note: String::new(),
        lost: account(proxy, &records, spawned, exited),
    }
}

fn print(rows: &[Figures], m: &Model) {
    println!(
        "\nalbkit time to URL — model: {} ms per call, ALB active {} s, certificate {} s, role {} s, function {} s, ENIs {} s",
        m.call.as_millis(),
        m.alb_active.as_secs_f64(),
        m.certificate_issued.as_secs_f64(),
        m.role_assumable.as_secs_f64(),
        m.function_active.as_secs_f64(),
        m.eni_release.as_secs_f64()
    );
    println!(
        "{:<28} {:>9} {:>9} {:>7} {:>7} {:>14}  note",
        "scenario", "wall s", "bound s", "ratio", "calls", "longest chain"
    );
    for r in rows {
        let (bound, ratio) = match r.bound {
            Some(b) if !b.is_zero() => (
                format!("{:.2}", b.as_secs_f64()),
                format!("{:.2}×", r.wall.as_secs_f64() / b.as_secs_f64()),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "{:<28} {:>9.2} {:>9} {:>7} {:>7} {:>14}  {}",
            r.name,
            r.wall.as_secs_f64(),
            bound,
            ratio,
            r.calls,
            r.chain,
            r.note
        );
        if !r.lost.is_empty() {
            println!("{:<28} where the time went: {}", "", r.lost);
        }
    }
}

fn reads_only(records: &[Record]) -> bool {
    records.iter().all(|r| !r.mutating)
}

fn main() {
    // `cargo test --all-targets` runs bench targets too; only `cargo bench` (which
    // passes `--bench`) runs this one.
    if !std::env::args().any(|a| a == "--bench") {
        println!("time_to_url: a benchmark; run it with `cargo bench --bench time_to_url` or scripts/bench");
        return;
    }
    // ALBKIT_BENCH_MODEL=full or short runs one model only, none neither.
    let only = std::env::var("ALBKIT_BENCH_MODEL").unwrap_or_default();
    if only != "short" && only != "none" {
        scenarios(&model(), true);
    }
    if only != "full" && only != "none" {
        scenarios(&short_model(), false);
    }
    scale::curves(&short_model());
    builds::shared_builds();
}

/// The sizes a part of the bench measures: the comma-separated list in the environment
/// variable `var` (default `default`; `none`: none), those in `1..=max`.
pub(crate) fn sizes_from_env(var: &str, default: &str, max: usize) -> Vec<usize> {
    let raw = std::env::var(var).unwrap_or_else(|_| default.into());
    if raw.trim() == "none" {
        return Vec::new();
    }
    raw.split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| (1..=max).contains(n))
        .collect()
}

/// Builds the project's functions and checks its config straight against moto (the
/// figures are about AWS, not the compiler); returns the config and its desired stack,
/// which the bounds are computed from.
pub(crate) fn warmed(moto: &Moto, project: &Project) -> (Config, Desired) {
    let mut warm = albkit_command(moto, project, REGION);
    warm.args(["plan"]);
    let out = run(warm, ALBKIT_TIMEOUT);
    assert_eq!(out.code, Some(0), "{out}");
    let config =
        albkit::model::validate::load(&project.path().join("albkit.toml")).expect("config");
    let d = desired(
        &config,
        &Context {
            account: support::ACCOUNT_ID.into(),
            region: REGION.into(),
            availability_zones: vec![format!("{REGION}a"), format!("{REGION}b")],
            code_sha256: Default::default(),
            existing_vpc_cidr: None,
            existing_vpc_ipv6: false,
            names_in_use: Default::default(),
            rule_priorities: Default::default(),
        },
    );
    (config, d)
}

/// The longest chain of reads among `records` that ran one after another: the
/// sequential round trips of a run that only reads.
pub(crate) fn read_round_trips(records: &[Record]) -> usize {
    let reads: Vec<Record> = records.iter().filter(|r| !r.mutating).cloned().collect();
    Proxy::longest_chain(&reads)
}

/// Every scenario under the model `m` on a fresh moto and project; the tutorial script
/// too when `tutorial`.
fn scenarios(m: &Model, tutorial: bool) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let moto = Moto::start();
    let stack = "bench";
    let domain = "api.bench.example.com";
    let zone = rt.block_on(hosted_zone(&moto, "bench.example.com"));
    let project = Project::from_template("hello", stack);
    project.with_config(&config(stack, domain, &zone));

    let (config, d) = warmed(&moto, &project);
    // The zip as `up` ships it (also used by the tutorial script).
    let artifact = rt
        .block_on(albkit::package::build(&config.functions[0]))
        .expect("function build");
    let proxy = proxy_for(&moto, m);
    let mut rows = Vec::new();

    rows.push(measure(
        "up (fresh, HTTPS stack)",
        &moto,
        &proxy,
        &project,
        &["up", "--yes"],
        Some(create_bound(&d, m)),
    ));
    let mut noop = measure(
        "up (no changes)",
        &moto,
        &proxy,
        &project,
        &["up", "--yes"],
        Some(m.call),
    );
    let records = proxy.records();
    noop.note = format!(
        "{} sequential round trips of reads; writes: {}",
        read_round_trips(&records),
        records
            .iter()
            .filter(|r| r.mutating)
            .map(|r| format!("{} {}", r.service, r.operation))
            .collect::<Vec<_>>()
            .join(", ")
    );
    rows.push(noop);
    let mut unchanged = measure(
        "deploy (code unchanged)",
        &moto,
        &proxy,
        &project,
        &["deploy", "--yes", "--no-rollback"],
        Some(m.call),
    );
    unchanged.note = if reads_only(&proxy.records()) {
        "reads only".into()
    } else {
        "wrote something".into()
    };
    rows.push(unchanged);

    // A one-line change of the function; the build is timed apart.
    let main_rs = "functions/hello/src/main.rs";
    let source = project.read(main_rs);
    project.write(
        main_rs,
        &source.replace("hello from albkit", "hello again from albkit"),
    );
    let build_started = Instant::now();
    let mut build = albkit_command(&moto, &project, REGION);
    build.args(["plan"]);
    let _ = run(build, ALBKIT_TIMEOUT);
    let build_time = build_started.elapsed();
    // Upload, wait for the update, publish, move the alias.
    let changed_bound = m.call * 4 + m.function_active;
    let mut changed = measure(
        "deploy (code changed)",
        &moto,
        &proxy,
        &project,
        &["deploy", "--yes", "--no-rollback"],
        Some(changed_bound),
    );
    changed.note = format!(
        "rebuild before it: {:.1} s (not counted)",
        build_time.as_secs_f64()
    );
    rows.push(changed);

    rows.push(measure(
        "down --purge-logs",
        &moto,
        &proxy,
        &project,
        &["down", "--yes", "--purge-logs"],
        Some(delete_bound(&d, m)),
    ));

    // The tutorial way, on a fresh emulator with the same model.
    let script = Path::new(support::REPO).join("benches/tutorial/up.sh");
    let aws_cli = std::process::Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !tutorial {
        // Run once, under the first model.
    } else if script.exists() && aws_cli {
        let moto2 = Moto::start();
        let zone2 = rt.block_on(hosted_zone(&moto2, "bench.example.com"));
        let proxy2 = proxy_for(&moto2, m);
        let zip = project.path().join("function.zip");
        std::fs::write(&zip, &artifact.zip).expect("zip");
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(&script)
            .env("STACK", "tutorial")
            .env("DOMAIN", domain)
            .env("ZONE_ID", &zone2)
            .env("ZIP", &zip)
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ENDPOINT_URL", proxy2.endpoint())
            .env("AWS_ACCESS_KEY_ID", support::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", support::SECRET_ACCESS_KEY)
            .env("AWS_CONFIG_FILE", project.path().join(".no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                project.path().join(".no-aws-credentials"),
            );
        let started = Instant::now();
        let out = run(cmd, Duration::from_secs(30 * 60));
        let wall = started.elapsed();
        let records = proxy2.records();
        let mut row = Figures {
            name: "tutorial script (AWS CLI)",
            wall,
            bound: Some(create_bound(&d, m)),
            calls: records.len(),
            chain: Proxy::longest_chain(&records),
            note: String::new(),
            lost: String::new(),
        };
        row.note = if out.code == Some(0) {
            format!(
                "{:.2}× albkit's fresh up",
                wall.as_secs_f64() / rows[0].wall.as_secs_f64()
            )
        } else {
            format!(
                "FAILED (exit {:?}): {}",
                out.code,
                out.stderr.lines().last().unwrap_or("")
            )
        };
        rows.push(row);
    } else {
        println!("(tutorial script skipped: needs benches/tutorial/up.sh and the AWS CLI on PATH, which scripts/bench installs into target/tools/awscli)");
    }

    print(&rows, m);
    println!(
        "\nhello function as deployed: zip {} bytes ({:.2} MB, target < 1.5 MB), bootstrap {} bytes ({:.2} MB)",
        artifact.zip.len(),
        artifact.zip.len() as f64 / 1e6,
        artifact.bootstrap_size,
        artifact.bootstrap_size as f64 / 1e6
    );
}
