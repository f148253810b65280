//! The code lifecycle against moto: `deploy` with unchanged code uploads nothing (in at
//! most two AWS calls), changed code publishes version n+1 and moves `live`, `rollback`
//! moves it back, `versions` lists them, and `logs` reads what the function wrote.
//! Everything is checked through the AWS SDK.

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project, ACCOUNT_ID};

const REGION: &str = "us-east-1";

/// The hello template as `albkit init --name <stack>` writes it: the function crate is
/// named after the stack, so that tests of this binary, which run at once and share the
/// functions' target directory, never package each other's binary.
fn project(stack: &str) -> Project {
    let p = Project::from_template("hello", stack);
    assert!(p
        .read("albkit.toml")
        .contains(&format!("name = \"{stack}\"")));
    p
}

/// (version, CodeSha256) that `live` serves.
async fn live(lambda: &aws_sdk_lambda::Client, name: &str) -> (String, String) {
    let c = lambda
        .get_function_configuration()
        .function_name(name)
        .qualifier("live")
        .send()
        .await
        .expect("GetFunctionConfiguration(live)");
    let alias = lambda
        .get_alias()
        .function_name(name)
        .name("live")
        .send()
        .await
        .expect("GetAlias");
    (
        alias.function_version().unwrap_or_default().to_string(),
        c.code_sha256().unwrap_or_default().to_string(),
    )
}

async fn versions(lambda: &aws_sdk_lambda::Client, name: &str) -> Vec<(String, String)> {
    let out = lambda
        .list_versions_by_function()
        .function_name(name)
        .send()
        .await
        .expect("ListVersionsByFunction");
    out.versions()
        .iter()
        .map(|v| {
            (
                v.version().unwrap_or_default().to_string(),
                v.code_sha256().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// HTTP requests moto has logged so far.
fn requests_logged(moto: &Moto) -> usize {
    std::fs::read_to_string(moto.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\" 200 ") || l.contains(" HTTP/1.1\" "))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_ships_only_changed_code_and_rollback_moves_live_back() {
    // A private server: its request log counts exactly albkit's calls.
    let moto = Moto::start();
    let stack = unique_stack_name("life");
    let p = project(&stack);
    albkit(&moto, &p, REGION, &["up", "--yes"]).ok();

    let cfg = sdk_config(&moto, REGION).await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let name = format!("{stack}--hello");
    let (v1, sha1) = live(&lambda, &name).await;
    let before = versions(&lambda, &name).await;
    assert!(before.iter().any(|(v, _)| *v == v1), "{before:?}");

    // Unchanged code: nothing uploaded, at most two AWS calls, no confirmation needed.
    let calls_before = requests_logged(&moto);
    let out = albkit(&moto, &p, REGION, &["deploy"]);
    out.ok();
    let calls = requests_logged(&moto) - calls_before;
    eprintln!("unchanged deploy: {calls} AWS call(s)");
    assert!(out.stderr.contains("nothing uploaded"), "{out}");
    assert!(calls <= 2, "unchanged deploy made {calls} AWS calls\n{out}");
    assert!(
        calls >= 1,
        "moto's log shows no request at all: cannot count\n{out}"
    );
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    assert_eq!(versions(&lambda, &name).await, before);
    let json = albkit(&moto, &p, REGION, &["deploy", "-o", "json"])
        .ok()
        .json();
    assert_eq!(json["functions"][0]["result"], "unchanged");
    assert!(json["functions"][0]["zip_bytes"].as_u64().unwrap_or(0) > 1000);

    // Changed code: refuses without --yes (no terminal), then publishes n+1.
    let main = "functions/hello/src/main.rs";
    p.write(
        main,
        &p.read(main)
            .replace("hello from albkit", "hello from albkit, deployed again"),
    );
    albkit(&moto, &p, REGION, &["deploy"]).code_is(2);
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    let calls_before = requests_logged(&moto);
    let out = albkit(&moto, &p, REGION, &["deploy", "--yes"]);
    out.ok();
    let calls = requests_logged(&moto) - calls_before;
    eprintln!("changed deploy: {calls} AWS call(s)");
    // Read live, upload, wait (>= 1 read), publish, move the alias, smoke invoke.
    assert!(calls <= 8, "changed deploy made {calls} AWS calls\n{out}");
    // moto runs no code: the smoke check must say its result is unusable, not roll back.
    assert!(out.stderr.contains("inconclusive"), "{out}");
    let (v2, sha2) = live(&lambda, &name).await;
    let n1: u64 = v1.parse().expect("numeric version");
    assert_eq!(v2, (n1 + 1).to_string());
    assert_ne!(sha2, sha1);
    let after = versions(&lambda, &name).await;
    assert_eq!(after.len(), before.len() + 1, "{after:?}");

    // versions: lists both, marks live.
    let doc = albkit(&moto, &p, REGION, &["versions", "-o", "json"])
        .ok()
        .json();
    assert_eq!(doc["functions"][0]["live"], v2.as_str());
    let listed: Vec<&str> = doc["functions"][0]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert!(
        listed.contains(&v1.as_str()) && listed.contains(&v2.as_str()),
        "{doc}"
    );
    albkit(&moto, &p, REGION, &["versions"]).ok();

    // rollback: refuses without --yes, then back to the previous version, then --to.
    albkit(&moto, &p, REGION, &["rollback"]).code_is(2);
    assert_eq!(live(&lambda, &name).await.0, v2);
    albkit(&moto, &p, REGION, &["rollback", "--yes"]).ok();
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    albkit(&moto, &p, REGION, &["rollback", "--to", &v2, "--yes"]).ok();
    assert_eq!(live(&lambda, &name).await, (v2.clone(), sha2.clone()));
    albkit(&moto, &p, REGION, &["rollback", "--to", "999", "--yes"]).code_is(2);

    // Deploying the same code again changes nothing.
    albkit(&moto, &p, REGION, &["deploy", "--yes"]).ok();
    assert_eq!(versions(&lambda, &name).await, after);

    // invoke against moto: it runs no code, and albkit says so instead of printing junk.
    let out = albkit(&moto, &p, REGION, &["invoke", "--path", "/hello?x=1"]);
    out.code_is(2);
    assert!(out.stderr.contains("does not run function code"), "{out}");

    // `up` still agrees with what deploy did: no change.
    let plan = albkit(&moto, &p, REGION, &["plan", "--detailed-exitcode"]);
    plan.code_is(0);
}

fn two_functions(stack: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[[functions]]
name = "api"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = ["/api/*"]

[[functions]]
name = "web"
path = "functions/hello"

[[functions.routes]]
priority = 20
paths = ["/*"]
"#
    )
}

async fn put(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, &str)],
) {
    let mut req = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (t, m) in events {
        req = req.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*t)
                .message(*m)
                .build()
                .expect("event"),
        );
    }
    req.send().await.expect("PutLogEvents");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_merge_functions_in_time_order_filter_and_follow() {
    let moto = Moto::shared();
    let stack = unique_stack_name("logs");
    let p = Project::from_template("hello", &stack);
    p.with_config(&two_functions(&stack));
    let cfg = sdk_config(moto, REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
    let t = now_ms() - 60_000;
    // Tagged as albkit tags them: `logs` reads only the stack's log groups (here, with
    // no function deployed, those tagged as the stack's).
    for f in ["api", "web"] {
        let group = format!("/aws/lambda/{stack}--{f}");
        logs.create_log_group()
            .log_group_name(&group)
            .tags("albkit:stack", &stack)
            .tags("albkit:resource", format!("log-group/{f}"))
            .send()
            .await
            .expect("group");
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name("s1")
            .send()
            .await
            .expect("stream");
    }
    let api = format!("/aws/lambda/{stack}--api");
    let web = format!("/aws/lambda/{stack}--web");
    // Too old for --since 10m.
    put(&logs, &api, "s1", &[(t - 3_600_000, "ancient")]).await;
    put(
        &logs,
        &api,
        "s1",
        &[(t + 1, "api one"), (t + 30, "api three ERROR")],
    )
    .await;
    put(
        &logs,
        &web,
        "s1",
        &[(t + 20, "web two"), (t + 40, "web four")],
    )
    .await;

    let out = albkit(moto, &p, REGION, &["logs", "--since", "10m"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, want) in lines
        .iter()
        .zip(["api one", "web two", "api three ERROR", "web four"])
    {
        assert!(
            line.ends_with(want),
            "{line:?} should end with {want:?}\n{out}"
        );
    }
    assert!(lines[1].contains(" web "), "{out}");

    let out = albkit(
        moto,
        &p,
        REGION,
        &["logs", "--since", "1h", "--filter", "ERROR"],
    );
    assert_eq!(out.ok().stdout.lines().count(), 1, "{out}");
    let out = albkit(
        moto,
        &p,
        REGION,
        &["logs", "--function", "web", "-o", "json"],
    );
    let events: Vec<serde_json::Value> = out
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(events.len(), 2, "{out}");
    assert!(events.iter().all(|e| e["function"] == "web"));
    albkit(moto, &p, REGION, &["logs", "--since", "yesterday"]).code_is(2);

    // --follow: new events show up once, in order, while it runs.
    let mut cmd = crate::support::albkit_command(moto, &p, REGION);
    cmd.args(["logs", "--since", "10m", "--follow", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("albkit logs --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let next = |seen: &mut Vec<String>| {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a log line from --follow");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        seen.push(v["message"].as_str().unwrap_or_default().to_string());
    };
    for _ in 0..4 {
        next(&mut seen);
    }
    let now = now_ms();
    put(&logs, &web, "s1", &[(now, "web five")]).await;
    put(&logs, &api, "s1", &[(now + 1, "api six")]).await;
    next(&mut seen);
    next(&mut seen);
    // Give it a few more polls: nothing may be printed twice.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let _ = child.kill();
    let _ = child.wait();
    seen.extend(rx.try_iter().map(|l| {
        let v: serde_json::Value = serde_json::from_str(&l).expect("JSON line");
        v["message"].as_str().unwrap_or_default().to_string()
    }));
    assert_eq!(
        seen,
        [
            "api one",
            "web two",
            "api three ERROR",
            "web four",
            "web five",
            "api six"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bootstrap_needing_a_newer_glibc_than_al2023_is_refused_before_any_change() {
    let moto = Moto::shared();
    let region = "eu-west-1";
    let p = Project::from_fixture("new-glibc");
    let out = albkit(moto, &p, region, &["deploy", "--yes"]);
    if out.stderr.contains("cargo build failed") {
        eprintln!("this host's glibc cannot link open_tree@GLIBC_2.36: skipped\n{out}");
        return;
    }
    out.code_is(1);
    for text in [
        "glibc 2.36",
        "2.34",
        "cargo-zigbuild",
        "cargo-lambda",
        "musl",
    ] {
        assert!(out.stderr.contains(text), "{text:?} missing\n{out}");
    }
    let out = albkit(moto, &p, region, &["up", "--yes"]);
    out.code_is(1);
    assert!(out.stderr.contains("glibc 2.36"), "{out}");
    let cfg = sdk_config(moto, region).await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let got = lambda
        .get_function()
        .function_name("new-glibc--app")
        .send()
        .await;
    assert!(got.is_err(), "a function was created: {got:?}");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let lbs = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("describe");
    assert!(
        !lbs.load_balancers()
            .iter()
            .any(|l| l.load_balancer_name() == Some("new-glibc-alb")),
        "a load balancer was created"
    );
}

/// A proxy in front of moto that forwards every call, except `Invoke`, which it answers
/// as a function whose health check fails would: HTTP 503 in an ALB response. moto runs
/// no code, so this is how the automatic rollback is exercised end to end.
fn failing_invoke_proxy(moto: &Moto) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let addr = listener.local_addr().expect("proxy address");
    let upstream = format!("127.0.0.1:{}", moto.port());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut out = client.try_clone()?;
                let mut reader = BufReader::new(client);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let mut headers = Vec::new();
                    let mut length = 0usize;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h)?;
                        if h.trim_end().is_empty() {
                            break;
                        }
                        let lower = h.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if !lower.starts_with("connection:") {
                            headers.push(h);
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body)?;
                    if line.starts_with("POST ") && line.contains("/invocations") {
                        let payload = br#"{"statusCode":503,"body":"down"}"#;
                        write!(
                            out,
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            payload.len()
                        )?;
                        out.write_all(payload)?;
                        continue;
                    }
                    let mut up = std::net::TcpStream::connect(&upstream)?;
                    up.write_all(line.as_bytes())?;
                    for h in &headers {
                        up.write_all(h.as_bytes())?;
                    }
                    up.write_all(b"connection: close\r\n\r\n")?;
                    up.write_all(&body)?;
                    let mut response = Vec::new();
                    up.read_to_end(&mut response)?;
                    // Tell the client this connection ends here, then end it.
                    let split = response
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .unwrap_or(response.len());
                    let head = String::from_utf8_lossy(&response[..split])
                        .lines()
                        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                        .collect::<Vec<_>>()
                        .join("\r\n");
                    out.write_all(head.as_bytes())?;
                    out.write_all(b"\r\nconnection: close")?;
                    out.write_all(&response[split..])?;
                    return Ok(());
                }
            });
        }
    });
    format!("http://{addr}")
}

fn albkit_via(moto: &Moto, endpoint: &str, p: &Project, args: &[&str]) -> crate::support::Output {
    let mut cmd = crate::support::albkit_command(moto, p, REGION);
    cmd.env("AWS_ENDPOINT_URL", endpoint).args(args);
    crate::support::run(cmd, crate::support::ALBKIT_TIMEOUT)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_whose_smoke_check_fails_is_rolled_back_unless_no_rollback() {
    let moto = Moto::shared();
    let stack = unique_stack_name("smoke");
    let p = project(&stack);
    albkit(moto, &p, REGION, &["up", "--yes"]).ok();
    let cfg = sdk_config(moto, REGION).await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let name = format!("{stack}--hello");
    let (v1, sha1) = live(&lambda, &name).await;
    let n1: u64 = v1.parse().expect("numeric version");
    let proxy = failing_invoke_proxy(moto);

    let main = "functions/hello/src/main.rs";
    let original = p.read(main);
    p.write(
        main,
        &original.replace("hello from albkit", "broken release"),
    );
    let out = albkit_via(moto, &proxy, &p, &["deploy", "--yes"]);
    out.code_is(1);
    assert!(out.stderr.contains("503"), "{out}");
    assert!(out.stderr.contains("moved back"), "{out}");
    // Version n+1 was published, but `live` serves version n again.
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    let published = versions(&lambda, &name).await;
    assert!(
        published.iter().any(|(v, _)| *v == (n1 + 1).to_string()),
        "{published:?}"
    );

    p.write(main, &original.replace("hello from albkit", "broken again"));
    let out = albkit_via(moto, &proxy, &p, &["deploy", "--yes", "--no-rollback"]);
    out.code_is(1);
    assert!(out.stderr.contains("--no-rollback"), "{out}");
    assert_eq!(live(&lambda, &name).await.0, (n1 + 2).to_string());
    albkit(moto, &p, REGION, &["rollback", "--to", &v1, "--yes"]).ok();
    assert_eq!(live(&lambda, &name).await, (v1, sha1));
}

#[test]
fn arm64_without_an_aarch64_toolchain_is_refused_clearly() {
    let has_toolchain = ["cargo-lambda", "cargo-zigbuild", "aarch64-linux-gnu-gcc"]
        .iter()
        .any(|tool| {
            std::process::Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if has_toolchain || std::env::consts::ARCH == "aarch64" {
        eprintln!("an aarch64 toolchain is installed: nothing to refuse");
        return;
    }
    let moto = Moto::shared();
    let p = project("arm-refused");
    let toml = p.read("albkit.toml");
    let arm = toml.replace("# architecture = \"x86_64\"", "architecture = \"arm64\" #");
    assert_ne!(arm, toml, "the template has no architecture line to change");
    p.with_config(&arm);
    let out = albkit(moto, &p, "eu-west-2", &["deploy", "--yes"]);
    out.code_is(1);
    assert!(out.stderr.contains("aarch64-unknown-linux-gnu"), "{out}");
    assert!(
        out.stderr.contains("cargo-lambda") || out.stderr.contains("cargo-zigbuild"),
        "{out}"
    );
}

/// `albkit graph` draws the stack without AWS; with `--plan`, it reads the stack and
/// colours what `up` would change: after `up`, a memory change updates the function
/// only, and a removed route deletes its rule.
#[tokio::test(flavor = "multi_thread")]
async fn graph_draws_the_stack_and_colours_what_a_plan_changes() {
    let moto = Moto::shared();
    let stack = unique_stack_name("graph");
    let p = project(&stack);
    let offline = albkit(moto, &p, REGION, &["graph"]);
    let dot = offline.ok().stdout.clone();
    assert!(
        dot.starts_with(&format!("digraph \"albkit {stack}\" {{\n")),
        "{dot}"
    );
    assert!(
        dot.contains("  \"target-group/hello\" -> \"function/hello\";"),
        "{dot}"
    );
    assert!(
        !dot.contains("color="),
        "nothing read, nothing coloured:\n{dot}"
    );

    let fresh = albkit(
        moto,
        &p,
        REGION,
        &["graph", "--plan", "--format", "mermaid"],
    );
    let mermaid = fresh.ok().stdout.clone();
    assert!(
        mermaid.contains("[\"function/hello<br/>lambda-function (create)\"]"),
        "{mermaid}"
    );

    albkit(moto, &p, REGION, &["up", "--yes"]).ok();
    let toml = p.read("albkit.toml");
    p.write(
        "albkit.toml",
        &toml.replacen("[[functions]]\n", "[[functions]]\nmemory_mb = 256\n", 1),
    );
    let changed = albkit(moto, &p, REGION, &["graph", "--plan"]);
    let dot = changed.ok().stdout.clone();
    assert!(
        dot.contains("  \"function/hello\" [label=\"function/hello\\nlambda-function (update)\", color=\"#bf8700\""),
        "{dot}"
    );
    assert_eq!(
        dot.matches(", color=").count(),
        1,
        "only the function changes:\n{dot}"
    );

    let json = albkit(moto, &p, REGION, &["graph", "-o", "json"]);
    json.code_is(2);
    albkit(moto, &p, REGION, &["down", "--yes"]).ok();
}

/// An access-log file as ELB writes it (gzipped, at its documented key) holding `lines`,
/// for the interval that ended at `end` (`yyyymmddThhmmZ`) on `day` (`yyyy/mm/dd`).
async fn put_access_log(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    day: &str,
    end: &str,
    lines: &[String],
) {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for line in lines {
        gz.write_all(line.as_bytes()).expect("gzip");
        gz.write_all(b"\n").expect("gzip");
    }
    let body = gz.finish().expect("gzip");
    let key = format!(
        "alb/AWSLogs/{ACCOUNT_ID}/elasticloadbalancing/{REGION}/{day}/{ACCOUNT_ID}_elasticloadbalancing_{REGION}_app.lb.0123456789abcdef_{end}_10.0.0.1_abcd1234.log.gz"
    );
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .expect("PutObject");
}

/// One access-log entry of a Lambda target, in AWS's documented format.
fn access_entry(
    at_ms: i64,
    status: &str,
    path: &str,
    tg_arn: &str,
    root: &str,
    reason: &str,
) -> String {
    let time = albkit::model::lifecycle::format_rfc3339;
    let target_status = if status == "502" { "-" } else { status };
    format!(
        "https {} app/lb/0123456789abcdef 203.0.113.9:51234 - 0.001 0.020 0.000 {status} {target_status} 120 340 \"GET https://api.example.com:443{path} HTTP/1.1\" \"curl/8.5.0\" TLS_AES_128_GCM_SHA256 TLSv1.3 {tg_arn} \"Root={root}\" \"api.example.com\" \"arn:aws:acm:us-east-1:123456789012:certificate/x\" 10 {} \"forward\" \"-\" \"{reason}\" \"-\" \"-\" \"-\" \"-\" TID_1",
        time(at_ms),
        time(at_ms - 21),
    )
}

/// `logs --access` reads the gzipped files ELB delivers to the stack's bucket, shows
/// the requests since `--since` in time order, filters by status and path, and joins
/// each request to the function's log lines that carry its trace id.
#[tokio::test(flavor = "multi_thread")]
async fn logs_access_reads_filters_and_joins_the_access_log() {
    let moto = Moto::shared();
    let stack = unique_stack_name("access");
    let p = project(&stack);
    albkit(moto, &p, REGION, &["up", "--yes"]).ok();
    let cfg = sdk_config(moto, REGION).await;
    let tg = aws_sdk_elasticloadbalancingv2::Client::new(&cfg)
        .describe_target_groups()
        .send()
        .await
        .expect("DescribeTargetGroups")
        .target_groups()
        .iter()
        .filter_map(|t| t.target_group_arn())
        .find(|a| a.contains(&format!(":targetgroup/{stack}-hello")))
        .expect("the stack's target group")
        .to_string();
    let now = now_ms();
    let day = |ms: i64| {
        let d = time::OffsetDateTime::from_unix_timestamp(ms / 1000)
            .expect("time")
            .date();
        (
            format!("{:04}/{:02}/{:02}", d.year(), u8::from(d.month()), d.day()),
            format!(
                "{:04}{:02}{:02}T2359Z",
                d.year(),
                u8::from(d.month()),
                d.day()
            ),
        )
    };
    let (today, end) = day(now);
    let ok_root = "1-6b0e0001-aaaaaaaaaaaaaaaaaaaaaaaa";
    let bad_root = "1-6b0e0002-bbbbbbbbbbbbbbbbbbbbbbbb";
    let lines = vec![
        access_entry(now - 7_200_000, "200", "/hello/old", &tg, "1-0-old", "-"),
        access_entry(
            now - 50_000,
            "502",
            "/hello/b",
            &tg,
            bad_root,
            "LambdaInvalidResponse",
        ),
        access_entry(now - 60_000, "200", "/hello/a?x=1", &tg, ok_root, "-"),
        access_entry(now - 40_000, "404", "/nothing", "-", "1-6b0e0003-c", "-"),
        "not an access-log entry".to_string(),
    ];
    let bucket = format!("albkit-{stack}-logs-{ACCOUNT_ID}-{REGION}");
    // moto evaluates a bucket policy without its conditions, so the log bucket's
    // TLS-only deny refuses every object call; AWS applies it to plain HTTP only. The
    // test removes it so that the bucket behaves as on AWS over TLS.
    aws_sdk_s3::Client::new(&cfg)
        .delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .expect("DeleteBucketPolicy");
    put_access_log(
        &aws_sdk_s3::Client::new(&cfg),
        &bucket,
        &today,
        &end,
        &lines,
    )
    .await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
    let group = format!("/aws/lambda/{stack}--hello");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("s1")
        .send()
        .await
        .expect("stream");
    let failed = format!("request {bad_root}: the handler returned an invalid response");
    put(
        &logs,
        &group,
        "s1",
        &[(now - 50_010, failed.as_str()), (now - 49_000, "unrelated")],
    )
    .await;

    let out = albkit(moto, &p, REGION, &["logs", "--access", "--since", "30m"]);
    out.ok();
    let shown: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(shown.len(), 4, "three requests and one joined line:\n{out}");
    assert!(shown[0].contains(" 200 GET /hello/a 20ms hello"), "{out}");
    assert!(
        shown[1].contains(" 502 GET /hello/b 20ms hello LambdaInvalidResponse"),
        "{out}"
    );
    assert!(
        shown[2].starts_with("    ") && shown[2].ends_with(&failed),
        "{out}"
    );
    assert!(
        shown[3].contains(" 404 GET /nothing ") && shown[3].ends_with(" -"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("1 access-log line(s) could not be read"),
        "{out}"
    );

    // How many lines `logs --access ARGS` prints.
    let lines = |args: &[&str]| {
        let out = albkit(moto, &p, REGION, &[&["logs", "--access"], args].concat());
        let n = out.ok().stdout.lines().count();
        (n, out)
    };
    let (n, out) = lines(&["--since", "30m", "--status", "5xx"]);
    assert_eq!(n, 2, "{out}");
    let (n, out) = lines(&["--since", "30m", "--path", "/hel*"]);
    assert_eq!(n, 3, "{out}");
    let (n, out) = lines(&["--since", "3h", "--status", "200"]);
    assert_eq!(n, 2, "the old one too:\n{out}");

    let out = albkit(
        moto,
        &p,
        REGION,
        &["logs", "--access", "--status", "502", "-o", "json"],
    );
    let line: serde_json::Value =
        serde_json::from_str(out.ok().stdout.trim()).expect("one JSON line");
    crate::json_output::assert_matches("logs", &line, &out);
    assert_eq!(line["function"], "hello");
    assert_eq!(line["error_reason"], "LambdaInvalidResponse");
    assert_eq!(line["lambda"][0]["message"], failed.as_str());

    albkit(moto, &p, REGION, &["logs", "--access", "--follow"]).code_is(2);
    albkit(moto, &p, REGION, &["logs", "--access", "--status", "7xx"]).code_is(2);
    albkit(moto, &p, REGION, &["down", "--yes", "--purge-logs"]).ok();
}
