//! Every command's `-o json` output, produced for real (against moto where AWS is
//! involved) and validated against its schema in schemas/. A field added, renamed,
//! retyped or dropped in the output, or a schema that no longer describes it, fails here.

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Output, Project};

const REGION: &str = "us-east-1";

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/schemas/{name}.schema.json", crate::support::REPO);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    jsonschema::draft202012::new(&value).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Panics, listing every violation, unless `doc` matches `schemas/<name>.schema.json`.
#[track_caller]
pub(crate) fn assert_matches(name: &str, doc: &serde_json::Value, context: &dyn std::fmt::Display) {
    let errors: Vec<String> = schema(name)
        .iter_errors(doc)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match schemas/{name}.schema.json:\n{}\ndocument:\n{doc:#}\n{context}",
        errors.join("\n")
    );
}

/// stdout as one JSON document matching `schemas/<name>.schema.json`.
#[track_caller]
fn document(name: &str, out: &Output) -> serde_json::Value {
    let doc = out.json();
    assert_matches(name, &doc, out);
    doc
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_commands_json_output_matches_the_schemas() {
    let moto = Moto::shared();
    let stack = unique_stack_name("schema");
    let p = Project::from_template("hello", &stack);
    let run = |args: &[&str]| albkit(moto, &p, REGION, args);

    let plan = document("plan", run(&["plan", "-o", "json"]).ok());
    assert_eq!(plan["has_changes"], true);
    assert!(!plan["changes"].as_array().expect("changes").is_empty());

    let up = document("up", run(&["up", "--yes", "-o", "json"]).ok());
    assert!(up["url"].as_str().is_some_and(|u| u.starts_with("http://")));
    assert!(up["counts"]["created"].as_u64().unwrap_or(0) > 0);
    let again = document("up", run(&["up", "--yes", "-o", "json"]).ok());
    assert_eq!(again["counts"]["created"], 0);
    let plan = document(
        "plan",
        run(&["plan", "--detailed-exitcode", "-o", "json"]).code_is(0),
    );
    assert_eq!(plan["has_changes"], false);

    let status = document("status", run(&["status", "-o", "json"]).ok());
    assert_eq!(status["exists"], true);

    let deploy = document("deploy", run(&["deploy", "-o", "json"]).ok());
    assert_eq!(deploy["functions"][0]["result"], "unchanged");

    let versions = document("versions", run(&["versions", "-o", "json"]).ok());
    let live = versions["functions"][0]["live"]
        .as_str()
        .expect("live version")
        .to_string();
    let rollback = document(
        "rollback",
        run(&["rollback", "--to", &live, "--yes", "-o", "json"]).ok(),
    );
    assert_eq!(rollback["functions"][0]["changed"], false);

    let invoke = document(
        "invoke",
        run(&[
            "invoke",
            "--local",
            "--path",
            "/hello?name=schema",
            "-o",
            "json",
        ])
        .ok(),
    );
    assert_eq!(invoke["status"], 200);
    assert_eq!(invoke["local"], true);

    // logs prints one object per event and per line.
    let cfg = sdk_config(moto, REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
    let group = format!("/aws/lambda/{stack}--hello");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("schema")
        .send()
        .await
        .expect("CreateLogStream");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let mut put = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("schema");
    for (i, message) in ["START", "hello \"quoted\"", "END"].iter().enumerate() {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 5_000 + i as i64)
                .message(*message)
                .build()
                .expect("event"),
        );
    }
    put.send().await.expect("PutLogEvents");
    let out = run(&["logs", "--since", "10m", "-o", "json"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for line in lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}\n{out}"));
        assert_matches("logs", &event, &out);
    }

    // A failure: the error document instead, on one line.
    let out = run(&["rollback", "--to", "999", "--yes", "-o", "json"]);
    out.code_is(2);
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    let error = document("error", &out);
    assert_eq!(error["error"]["kind"], "usage");
    assert_eq!(error["error"]["exit_code"], 2);

    let down = document("down", run(&["down", "--yes", "-o", "json"]).ok());
    assert_eq!(down["existed"], true);
    assert!(!down["kept"].as_array().expect("kept").is_empty());
    let down = document(
        "down",
        run(&["down", "--yes", "--purge-logs", "-o", "json"]).ok(),
    );
    assert_eq!(down["existed"], true);
    let down = document("down", run(&["down", "--yes", "-o", "json"]).ok());
    assert_eq!(down["existed"], false);
    let status = document("status", run(&["status", "-o", "json"]).ok());
    assert_eq!(status["exists"], false);

    // unlock: a lock left by a run killed on another machine, then none.
    let s3 = crate::support::s3_client(&cfg);
    let bucket = crate::support::lock_bucket(REGION);
    let _ = s3.create_bucket().bucket(&bucket).send().await;
    // Tagged as albkit tags its lock bucket: albkit removes nothing from one it did not create.
    crate::support::tag_bucket(&s3, &bucket, "albkit:purpose", "stack-locks").await;
    let record = serde_json::json!({
        "id": "0123456789abcdef", "command": "up", "holder": "ci@elsewhere", "pid": 4242,
        "host_id": "feedface", "acquired_at": 1, "expires_at": 4_000_000_000u64,
        "albkit_version": "0.1.0"
    });
    s3.put_object()
        .bucket(&bucket)
        .key(format!("{stack}/lock.json"))
        .body(record.to_string().into_bytes().into())
        .send()
        .await
        .expect("PutObject lock");
    let unlock = document("unlock", run(&["unlock", "--yes", "-o", "json"]).ok());
    assert_eq!(unlock["was_locked"], true);
    assert_eq!(unlock["removed"]["pid"], 4242);
    let unlock = document("unlock", run(&["unlock", "--yes", "-o", "json"]).ok());
    assert_eq!(unlock["was_locked"], false);
    assert!(unlock["removed"].is_null());
}

/// A TLS policy without TLS 1.3 is a warning: on stderr in human output, in the
/// document with `-o json`; one that allows TLS 1.0 or 1.1 is refused before any AWS call.
#[test]
fn tls_policy_warnings_and_refusals() {
    let moto = Moto::shared();
    let stack = unique_stack_name("tlspol");
    let p = Project::from_template("hello", &stack);
    let https = |policy: &str| {
        format!(
            "[stack]\nname = \"{stack}\"\n\n[https]\ndomain = \"{stack}.example.com\"\nssl_policy = \"{policy}\"\n\n\
             [[functions]]\nname = \"hello\"\npath = \"functions/hello\"\n"
        )
    };

    p.with_config(&https("ELBSecurityPolicy-TLS-1-2-2017-01"));
    let plan = document(
        "plan",
        albkit(moto, &p, REGION, &["plan", "-o", "json"]).ok(),
    );
    let warnings = plan["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{plan:#}");
    assert_eq!(warnings[0]["key"], "https.ssl_policy");
    assert_eq!(warnings[0]["line"], 6);
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("allows TLS 1.2 but not TLS 1.3")),
        "{plan:#}"
    );
    let human = albkit(moto, &p, REGION, &["plan"]);
    human.ok();
    assert!(
        human
            .stderr
            .contains("warning: https.ssl_policy (line 6, column 14)"),
        "{human}"
    );
    assert!(!human.stdout.contains("warning"), "{human}");

    p.with_config(&https("ELBSecurityPolicy-TLS-1-1-2017-01"));
    let out = albkit(moto, &p, REGION, &["plan", "-o", "json"]);
    out.code_is(2);
    let error = document("error", &out);
    let problem = &error["error"]["problems"][0];
    assert_eq!(problem["key"], "https.ssl_policy", "{out}");
    assert!(
        problem["help"]
            .as_str()
            .is_some_and(|h| h.contains("ELBSecurityPolicy-TLS13-1-2-2021-06")),
        "{out}"
    );

    // The default policy warns about nothing.
    p.with_config(&https("ELBSecurityPolicy-TLS13-1-2-2021-06"));
    let plan = document(
        "plan",
        albkit(moto, &p, REGION, &["plan", "-o", "json"]).ok(),
    );
    assert_eq!(plan["warnings"], serde_json::json!([]));
}

/// Runs albkit with no AWS credentials at all and every AWS call sent to a closed
/// loopback port: the commands below must not need AWS.
fn offline(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = crate::support::albkit_process();
    cmd.current_dir(dir).args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join(".no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join(".no-aws-credentials"),
        )
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    crate::support::run(cmd, crate::support::ALBKIT_TIMEOUT)
}

#[test]
fn the_local_commands_json_output_matches_the_schemas() {
    let empty = Project::empty();
    let cost = document("cost", offline(empty.path(), &["cost", "-o", "json"]).ok());
    assert_eq!(cost["stack"], serde_json::Value::Null);
    assert_eq!(cost["prices"]["region"], "us-east-1");

    let hello = Project::from_template("hello", "hello");
    let cost = document(
        "cost",
        offline(
            hello.path(),
            &[
                "cost",
                "--requests-per-second",
                "50",
                "--architecture",
                "arm64",
                "--region",
                "eu-west-1",
                "-o",
                "json",
            ],
        )
        .ok(),
    );
    assert_eq!(cost["stack"], "hello");
    assert_eq!(cost["workload"]["functions"][0]["architecture"], "arm64");
    assert_eq!(cost["notes"].as_array().map(Vec::len), Some(1), "{cost:#}");

    let list = document(
        "init",
        offline(empty.path(), &["init", "--list", "-o", "json"]).ok(),
    );
    assert!(list.as_array().is_some_and(|l| l.len() >= 3));
    let init = document(
        "init",
        offline(
            empty.path(),
            &["init", "app", "--name", "app", "-o", "json"],
        )
        .ok(),
    );
    assert_eq!(init["stack"], "app");

    // The policy is the document; --account names the account, so no AWS call is made.
    for audience in ["deploy", "plan"] {
        let policy = document(
            "iam-policy",
            offline(
                hello.path(),
                &[
                    "iam-policy",
                    "--for",
                    audience,
                    "--account",
                    "123456789012",
                    "--region",
                    "eu-west-1",
                    "-o",
                    "json",
                ],
            )
            .ok(),
        );
        assert_eq!(
            policy["Statement"][0]["Sid"], "ListAndDescribe",
            "{policy:#}"
        );
    }

    let man = document(
        "man",
        offline(empty.path(), &["man", "--out-dir", "man", "-o", "json"]).ok(),
    );
    let pages = man["pages"].as_array().expect("pages");
    assert!(pages.iter().any(|p| p == "albkit-cost.1"), "{man:#}");
    assert!(empty.path().join("man/albkit.1").is_file());

    // An invalid albkit.toml: every problem with its key and line, before any AWS call.
    let bad = Project::from_template("hello", "hello");
    let toml = bad
        .read("albkit.toml")
        .replace("# memory_mb = 128", "memory_mb = 64");
    bad.with_config(&toml);
    for command in [&["plan", "-o", "json"][..], &["cost", "-o", "json"][..]] {
        let out = offline(bad.path(), command);
        out.code_is(2);
        let error = document("error", &out);
        assert_eq!(error["error"]["kind"], "config", "{out}");
        let problem = &error["error"]["problems"][0];
        assert_eq!(problem["key"], "functions[0].memory_mb", "{out}");
        assert!(problem["line"].as_u64().is_some_and(|l| l > 1), "{out}");
    }
}
