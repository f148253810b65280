//! Time to URL, against a model of real AWS (a benchmark: figures are printed, never
//! asserted).
//!
//! albkit runs against moto behind the reliability tests' proxy, which adds a latency to
//! every call and imitates, scaled down, the waits real AWS imposes: the load balancer
//! active 20 s after creation, the certificate issued 15 s after the request, the role
//! assumable 8 s after creation, a function active 3 s after creation or an update,
//! network interfaces released 10 s after the load balancer is deleted, the certificate
//! in use 5 s after its last listener. For each scenario it prints albkit's wall time,
//! the lower bound for that model computed from albkit's dependency graph
//! (`albkit::model::bound`), their ratio, the AWS calls made, and the longest chain of
//! calls that ran one after another. The same stack built by a tutorial-style script of
//! sequential AWS CLI calls (`benches/tutorial/up.sh`) runs against the same model.
//!
//!   cargo bench --bench time_to_url --profile dev     (or scripts/bench)
//!
//! `ALBKIT_BENCH_LATENCY_MS` (default 50) sets the per-call latency.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use albkit::model::bound::{create_bound, delete_bound, Model};
use albkit::model::stack::{desired, Context};
use support::proxy::{Proxy, ProxyConfig, Realism, Record};
use support::{albkit_command, run, sdk_config, Moto, Project, ALBKIT_TIMEOUT};

const REGION: &str = "eu-central-1";

fn model() -> Model {
    let latency = std::env::var("ALBKIT_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    Model {
        call: Duration::from_millis(latency),
        alb_active: Duration::from_secs(20),
        certificate_issued: Duration::from_secs(15),
        role_assumable: Duration::from_secs(8),
        function_active: Duration::from_secs(3),
        eni_release: Duration::from_secs(10),
        certificate_release: Duration::from_secs(5),
    }
}

fn proxy_for(moto: &Moto, m: &Model) -> Proxy {
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

struct Figures {
    name: &'static str,
    wall: Duration,
    bound: Option<Duration>,
    calls: usize,
    chain: usize,
    note: String,
}

/// Runs albkit through the proxy and measures it.
fn measure(
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
    let started = Instant::now();
    let out = run(cmd, ALBKIT_TIMEOUT);
    let wall = started.elapsed();
    if out.code != Some(0) {
        panic!("albkit {} failed\n{out}", args.join(" "));
    }
    let records = proxy.records();
    if std::env::var_os("ALBKIT_BENCH_VERBOSE").is_some() {
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
    }
}

fn print(rows: &[Figures], m: &Model) {
    println!(
        "\nalbkit time to URL — model: {} ms per call, ALB active {} s, certificate {} s, role {} s, function {} s, ENIs {} s",
        m.call.as_millis(),
        m.alb_active.as_secs(),
        m.certificate_issued.as_secs(),
        m.role_assumable.as_secs(),
        m.function_active.as_secs(),
        m.eni_release.as_secs()
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
    let m = model();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let moto = Moto::start();
    let stack = "bench";
    let domain = "api.bench.example.com";
    let zone = rt.block_on(hosted_zone(&moto, "bench.example.com"));
    let project = Project::from_template("hello", stack);
    project.with_config(&config(stack, domain, &zone));

    // Build the function first (and check the config) straight against moto: the figures
    // are about AWS, not the compiler.
    let mut warm = albkit_command(&moto, &project, REGION);
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
    // The zip as `up` ships it (also used by the tutorial script).
    let artifact = rt
        .block_on(albkit::package::build(&config.functions[0]))
        .expect("function build");
    let proxy = proxy_for(&moto, &m);
    let mut rows = Vec::new();

    rows.push(measure(
        "up (fresh, HTTPS stack)",
        &moto,
        &proxy,
        &project,
        &["up", "--yes"],
        Some(create_bound(&d, &m)),
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
    let reads = records.iter().filter(|r| !r.mutating).collect::<Vec<_>>();
    let read_chain = Proxy::longest_chain(&reads.iter().map(|r| (*r).clone()).collect::<Vec<_>>());
    noop.note = format!(
        "{read_chain} sequential round trips of reads; writes: {}",
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
        Some(delete_bound(&d, &m)),
    ));

    // The tutorial way, on a fresh emulator with the same model.
    let script = Path::new(support::REPO).join("benches/tutorial/up.sh");
    let aws_cli = std::process::Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if script.exists() && aws_cli {
        let moto2 = Moto::start();
        let zone2 = rt.block_on(hosted_zone(&moto2, "bench.example.com"));
        let proxy2 = proxy_for(&moto2, &m);
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
            bound: Some(create_bound(&d, &m)),
            calls: records.len(),
            chain: Proxy::longest_chain(&records),
            note: String::new(),
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

    print(&rows, &m);
    println!(
        "\nhello function as deployed: zip {} bytes ({:.2} MB, target < 1.5 MB), bootstrap {} bytes ({:.2} MB)",
        artifact.zip.len(),
        artifact.zip.len() as f64 / 1e6,
        artifact.bootstrap_size,
        artifact.bootstrap_size as f64 / 1e6
    );
}
