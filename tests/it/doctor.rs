//! `albkit doctor` against moto: every check is there with a status, the document
//! matches its schema, the exit code follows the statuses, and the hosted zone's
//! delegation is asked of a stub DNS server on loopback (`--resolver`) that delegates
//! the zone's name to its own name servers, elsewhere, or not at all. `doctor --fix`
//! installs cargo-zigbuild and zig into albkit's tool directory under a temporary
//! XDG_CACHE_HOME, from the wheels scripts/test downloads into target/tools/wheels, and
//! the next `albkit build` uses them.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::NS;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::json_output::assert_matches;
use crate::support::{
    albkit, albkit_command, functions_target_dir, run, sdk_config, unique_stack_name, Moto, Output,
    Project, ALBKIT_TIMEOUT, REPO,
};

const REGION: &str = "us-east-1";

/// A DNS server on 127.0.0.1 that answers NS queries from a fixed table (name without
/// the final dot → name servers) and NXDOMAIN for any other name.
struct StubDns {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StubDns {
    fn start(table: BTreeMap<String, Vec<String>>) -> StubDns {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind stub DNS");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("stub address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let reply = answer(&query, &table);
                let bytes = reply.to_vec().expect("encode answer");
                let _ = socket.send_to(&bytes, from);
            }
        });
        StubDns {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn resolver(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for StubDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(query: &Message, table: &BTreeMap<String, Vec<String>>) -> Message {
    let id = query.metadata.id;
    let Some(q) = query.queries.first() else {
        return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
    };
    let name = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let Some(servers) = table.get(&name) else {
        let mut m = Message::error_msg(id, OpCode::Query, ResponseCode::NXDomain);
        m.add_query(q.clone());
        return m;
    };
    let mut m = Message::response(id, OpCode::Query);
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_query(q.clone());
    if q.query_type() == RecordType::NS {
        for ns in servers {
            let target = Name::from_ascii(format!("{}.", ns.trim_end_matches('.'))).expect("ns");
            m.add_answer(Record::from_rdata(
                q.name().clone(),
                300,
                RData::NS(NS(target)),
            ));
        }
    }
    m
}

/// A hosted zone in moto: its id and its delegation set's name servers.
async fn hosted_zone(moto: &Moto, name: &str) -> (String, Vec<String>) {
    let cfg = sdk_config(moto, REGION).await;
    let out = aws_sdk_route53::Client::new(&cfg)
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("albkit-doctor-{name}"))
        .send()
        .await
        .expect("CreateHostedZone");
    let id = out
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .expect("zone id");
    let servers = out
        .delegation_set()
        .map(|d| d.name_servers().to_vec())
        .expect("delegation set");
    assert!(!servers.is_empty(), "moto gave the zone no name servers");
    (id, servers)
}

/// The checks of a doctor document, by name: (status, detail, fix).
fn checks(doc: &serde_json::Value) -> BTreeMap<String, (String, String, Option<String>)> {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (
                s("name"),
                (
                    s("status"),
                    s("detail"),
                    c["fix"].as_str().map(String::from),
                ),
            )
        })
        .collect()
}

/// `doctor -o json` through `resolver`: the document, checked against its schema, with
/// an exit code of 1 exactly when a check fails.
fn doctor(moto: &Moto, p: &Project, resolver: &str) -> serde_json::Value {
    let out = albkit(
        moto,
        p,
        REGION,
        &["doctor", "-o", "json", "--resolver", resolver],
    );
    let doc = out.json();
    assert_matches("doctor", &doc, &out);
    let failed = checks(&doc).values().any(|(s, _, _)| s == "fail");
    out.code_is(i32::from(failed));
    doc
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_checks_the_account_the_delegation_and_the_machine() {
    let moto = Moto::shared();
    let stack = unique_stack_name("doctor");
    let zone_name = format!("{stack}.example.com");
    let (zone, servers) = hosted_zone(moto, &zone_name).await;
    let p = Project::from_template("hello", &stack);
    p.with_config(&format!(
        "{}\n[https]\ndomain = \"api.{zone_name}\"\nhosted_zone_id = \"{zone}\"\n",
        p.read("albkit.toml")
    ));

    // Delegated to the zone's own name servers (given in another case, with final dots).
    let upper: Vec<String> = servers
        .iter()
        .map(|s| format!("{}.", s.to_uppercase()))
        .collect();
    let dns = StubDns::start(BTreeMap::from([(zone_name.clone(), upper)]));
    let doc = doctor(moto, &p, &dns.resolver());
    assert_eq!(doc["stack"], stack.as_str());
    assert_eq!(doc["region"], REGION);
    let all = checks(&doc);
    let names: Vec<&str> = all.keys().map(String::as_str).collect();
    for name in [
        "credentials",
        "hosted-zone",
        "quota:load-balancers",
        "quota:target-groups",
        "quota:listener-rules",
        "quota:lambda-concurrency",
        "log-delivery",
        "build:hello",
        "dev:cargo",
        "dev:port",
    ] {
        assert!(all.contains_key(name), "no check {name}: {names:?}");
    }
    assert_eq!(all.len(), 10, "{names:?}");
    let (status, detail, _) = &all["credentials"];
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.contains("us-east-1"), "{detail}");
    let (status, detail, fix) = &all["hosted-zone"];
    assert_eq!(status, "ok", "{detail}");
    assert!(fix.is_none());
    for (name, (status, detail, _)) in all.iter().filter(|(n, _)| n.starts_with("quota:")) {
        // moto may not implement the call (skip, saying so); never a failure here.
        assert!(
            status == "ok" || status == "skip",
            "{name}: {status}: {detail}"
        );
        if status == "skip" {
            assert!(detail.contains("does not implement"), "{name}: {detail}");
        }
    }
    assert_eq!(all["log-delivery"].0, "ok");
    assert!(all["log-delivery"].1.contains("127311923021"));
    drop(dns);

    // Delegated elsewhere: fail, exit 1, and the fix names the zone's servers.
    let dns = StubDns::start(BTreeMap::from([(
        zone_name.clone(),
        vec!["ns1.registrar.example".to_string()],
    )]));
    let (status, detail, fix) = checks(&doctor(moto, &p, &dns.resolver()))["hosted-zone"].clone();
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("delegated elsewhere") && detail.contains("PENDING_VALIDATION"));
    let fix = fix.expect("fix");
    assert!(fix.contains(&servers[0].to_lowercase()), "{fix}");
    // The human report says the same, with the fix, and exits 1.
    let human = albkit(moto, &p, REGION, &["doctor", "--resolver", &dns.resolver()]);
    human.code_is(1);
    assert!(human.stdout.contains("fail  hosted-zone"), "{human}");
    assert!(
        human.stdout.contains("fix: set the name servers"),
        "{human}"
    );
    drop(dns);

    // Not delegated at all (NXDOMAIN).
    let dns = StubDns::start(BTreeMap::new());
    let (status, detail, _) = checks(&doctor(moto, &p, &dns.resolver()))["hosted-zone"].clone();
    assert_eq!(status, "fail", "{detail}");
    assert!(
        detail.contains("not delegated at all") && detail.contains("NXDOMAIN"),
        "{detail}"
    );
}

/// `albkit doctor -o json` on a hello project with the environment variables `unset`
/// removed: it exits 1, and its document matches the schema.
fn doctor_without(prefix: &str, unset: &[&str]) -> serde_json::Value {
    let p = Project::from_template("hello", &unique_stack_name(prefix));
    let mut cmd = albkit_command(Moto::shared(), &p, REGION);
    for var in unset {
        cmd.env_remove(var);
    }
    cmd.args(["doctor", "-o", "json"]);
    let out: Output = run(cmd, ALBKIT_TIMEOUT);
    out.code_is(1);
    let doc = out.json();
    assert_matches("doctor", &doc, &out);
    doc
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_without_credentials_fails_and_skips_what_needs_them() {
    let doc = doctor_without(
        "doctor-nocred",
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    );
    let all = checks(&doc);
    let (status, _, fix) = &all["credentials"];
    assert_eq!(status, "fail");
    assert!(fix.as_deref().is_some_and(|f| f.contains("--profile")));
    for name in ["quota:load-balancers", "quota:lambda-concurrency"] {
        assert_eq!(all[name].0, "skip", "{name}");
        assert!(all[name].1.contains("credentials"), "{name}");
    }
    // The machine checks do not need AWS.
    assert!(all.contains_key("build:hello") && all.contains_key("dev:port"));
}

/// Without a region the AWS checks cannot run: the first fails with how to set one, the
/// others are skipped, and the machine checks still run.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_without_a_region_says_how_to_set_one_and_still_checks_the_machine() {
    let doc = doctor_without("doctor-noregion", &["AWS_REGION", "AWS_DEFAULT_REGION"]);
    assert_eq!(doc["region"], "(none)");
    let all = checks(&doc);
    let (status, detail, fix) = &all["credentials"];
    assert_eq!(
        (status.as_str(), detail.as_str()),
        ("fail", "no AWS region is set")
    );
    assert!(fix.as_deref().is_some_and(|f| f.contains("--region")));
    for name in [
        "quota:load-balancers",
        "quota:lambda-concurrency",
        "log-delivery",
    ] {
        assert_eq!(all[name].0, "skip", "{name}");
        assert!(all[name].1.contains("region"), "{name}");
    }
    assert!(all.contains_key("build:hello") && all.contains_key("dev:cargo"));
}

/// The pinned wheels `doctor --fix` installs, downloaded once by scripts/test.
fn wheelhouse() -> PathBuf {
    let wheels = Path::new(REPO).join("target/tools/wheels");
    assert!(
        wheels.join(".pins").is_file(),
        "no wheelhouse at {}: run scripts/test once, or `repo=$PWD; . scripts/lib.sh; \
         ensure_builders` in the repository, to download the wheels doctor --fix installs",
        wheels.display()
    );
    wheels
}

/// The hello template's albkit.toml with its function's architecture set.
fn with_architecture(p: &Project, toml: &str, arch: &str) {
    p.with_config(&toml.replace(
        "path = \"functions/hello\"\n",
        &format!("path = \"functions/hello\"\narchitecture = \"{arch}\"\n"),
    ));
}

/// Whether the Rust standard library for `target` is installed.
fn has_std(target: &str) -> bool {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// `(major, minor)` of a glibc version such as `2.17`.
fn glibc(version: &str) -> (u32, u32) {
    let mut parts = version
        .split('.')
        .map(|n| n.parse().expect("a glibc number"));
    (parts.next().expect("major"), parts.next().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_fix_installs_the_builders_into_albkits_tool_dir_and_builds_use_them() {
    let wheels = wheelhouse();
    let home = tempfile::tempdir().expect("temp home");
    let cache = home.path().join("cache");
    let tools = cache.join("albkit/tools");
    let real_home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let rustup_home =
        std::env::var_os("RUSTUP_HOME").map_or_else(|| real_home.join(".rustup"), PathBuf::from);
    let cargo_home =
        std::env::var_os("CARGO_HOME").map_or_else(|| real_home.join(".cargo"), PathBuf::from);
    let p = Project::from_template("hello", &unique_stack_name("doctor-fix"));
    let x86 = p.read("albkit.toml");
    with_architecture(&p, &x86, "arm64");
    let command = |args: &[&str]| {
        let mut cmd = albkit_command(Moto::shared(), &p, REGION);
        cmd.env_remove("ALBKIT_BUILDER")
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", &cache)
            .env("RUSTUP_HOME", &rustup_home)
            .env("CARGO_HOME", &cargo_home)
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", &wheels)
            // rustup's downloads go to a closed loopback port: the shared toolchain is
            // left as it is, and the target fix fails the way it does offline.
            .env("RUSTUP_DIST_SERVER", "http://127.0.0.1:1")
            // zig's cache with the function builds', kept from run to run.
            .env(
                "ZIG_GLOBAL_CACHE_DIR",
                functions_target_dir().join("zig-cache"),
            )
            .args(args);
        run(cmd, ALBKIT_TIMEOUT)
    };

    // Without a terminal and without --yes: refused, nothing installed.
    let out = command(&["doctor", "--fix"]);
    out.code_is(2);
    assert!(out.stderr.contains("--yes"), "{out}");
    assert!(!tools.exists(), "{out}");

    let out = command(&["doctor", "--fix", "--yes", "-o", "json"]);
    let doc = out.json();
    assert_matches("doctor", &doc, &out);
    let fixes = checks(&serde_json::json!({ "checks": doc["fixes"] }));
    let all = checks(&doc);
    let failed = fixes
        .values()
        .chain(all.values())
        .any(|(s, _, _)| s == "fail");
    out.code_is(i32::from(failed));
    let (status, detail, _) = &fixes["fix:builders"];
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.contains("cargo-zigbuild"), "{detail}");
    let target = "aarch64-unknown-linux-gnu";
    match fixes.get(&format!("fix:target:{target}")) {
        None => assert!(
            has_std(target),
            "no target fix, yet {target} is missing: {out}"
        ),
        // rustup cannot download it: reported with the reason.
        Some((status, detail, fix)) => {
            assert_eq!(status, "fail", "{detail}");
            let reason = detail
                .strip_prefix(&format!(
                    "the Rust target {target} could not be added: `rustup target add {target}` \
                     exited with "
                ))
                .unwrap_or_else(|| panic!("{detail}"));
            assert!(!reason.trim().is_empty(), "{detail}");
            assert!(fix
                .as_deref()
                .is_some_and(|f| f.contains("architecture = \"x86_64\"")));
        }
    }
    // The check that follows sees the tool directory's cargo-zigbuild.
    let (_, detail, _) = &all["build:hello"];
    assert!(detail.starts_with("cargo zigbuild for arm64"), "{detail}");

    // The virtualenv is there and its cargo-zigbuild runs.
    let bin = tools.join("venv/bin");
    for program in ["python3", "cargo-zigbuild"] {
        assert!(
            bin.join(program).is_file(),
            "no {program} in {}",
            bin.display()
        );
    }
    let version = Command::new(bin.join("cargo-zigbuild"))
        .arg("--version")
        .output()
        .expect("cargo-zigbuild --version");
    assert!(version.status.success(), "{version:?}");
    let pins = include_str!("../../scripts/tools/builders-requirements.txt");
    let pinned = pins
        .lines()
        .find_map(|l| l.strip_prefix("cargo-zigbuild=="))
        .expect("cargo-zigbuild pin");
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(pinned),
        "{version:?}"
    );

    // The next build (x86_64, no ALBKIT_BUILDER) picks cargo-zigbuild from there.
    with_architecture(&p, &x86, "x86_64");
    let out = command(&["build", "-o", "json"]);
    let doc = out.ok().json();
    assert_matches("build", &doc, &out);
    let built = &doc["functions"][0];
    assert_eq!(built["builder"], "cargo zigbuild", "{out}");
    let needed = built["glibc"].as_str().expect("a glibc executable");
    assert!(glibc(needed) <= (2, 17), "needs glibc {needed}: {out}");
}
