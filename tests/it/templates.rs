//! `albkit init` and its templates: each template is written, refuses to be overwritten
//! without --force, builds, starts under a local Lambda Runtime API and answers ALB
//! events (`albkit invoke --local`), and goes up against moto.

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project};

const REGION: &str = "us-west-2";

/// `albkit init` into a fresh project directory; returns the project.
fn init(moto: &Moto, template: &str, stack: &str) -> Project {
    let p = Project::empty();
    albkit(
        moto,
        &p,
        REGION,
        &["init", "--template", template, "--name", stack],
    )
    .ok();
    p
}

fn invoke(moto: &Moto, p: &Project, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["invoke", "--local", "-o", "json"];
    all.extend_from_slice(args);
    albkit(moto, p, REGION, &all).ok().json()
}

#[test]
fn init_lists_templates_and_refuses_to_overwrite() {
    let moto = Moto::shared();
    let p = Project::empty();
    let list = albkit(moto, &p, REGION, &["init", "--list"])
        .ok()
        .stdout
        .clone();
    for t in ["hello", "echo", "internal-api"] {
        assert!(list.contains(t), "{list}");
    }
    albkit(moto, &p, REGION, &["init", "--name", "first"]).ok();
    let toml = p.read("albkit.toml");
    assert!(toml.contains("name = \"first\""), "{toml}");
    let again = albkit(moto, &p, REGION, &["init", "--name", "second"]);
    again.code_is(2);
    assert!(again.stderr.contains("--force"), "{again}");
    assert_eq!(p.read("albkit.toml"), toml);
    albkit(moto, &p, REGION, &["init", "--name", "second", "--force"]).ok();
    assert!(p.read("albkit.toml").contains("name = \"second\""));
    albkit(moto, &p, REGION, &["init", "--template", "nope"]).code_is(2);
    albkit(moto, &p, REGION, &["init", "sub", "--name", "Bad_Name"]).code_is(2);
}

/// `albkit init` writes nothing when a path it would write through is a symbolic link out
/// of the project: not through a linked directory, not through a dangling link (which
/// would create its target), not even with --force.
#[test]
fn init_never_writes_through_a_link_out_of_the_project() {
    let moto = Moto::shared();
    let p = Project::empty();
    let outside = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path(), p.path().join("functions")).expect("symlink");
    std::os::unix::fs::symlink(
        outside.path().join("created-through-a-link.toml"),
        p.path().join("albkit.toml"),
    )
    .expect("symlink");
    for args in [
        &["init", "--name", "linked"][..],
        &["init", "--name", "linked", "--force"],
    ] {
        let out = albkit(moto, &p, REGION, args);
        out.code_is(2);
        assert!(
            out.stderr
                .contains("refusing to write outside the project directory"),
            "{out}"
        );
        assert!(out.stderr.contains("functions leads to"), "{out}");
        assert!(out.stderr.contains("which does not exist"), "{out}");
    }
    let written: Vec<_> = std::fs::read_dir(outside.path())
        .expect("read outside")
        .collect();
    assert!(written.is_empty(), "written outside: {written:?}");
    // The project directory given as a link is refused too.
    let link = tempfile::tempdir().expect("tempdir");
    let linked_dir = link.path().join("project");
    std::os::unix::fs::symlink(outside.path(), &linked_dir).expect("symlink");
    let target = linked_dir.display().to_string();
    let out = albkit(moto, &p, REGION, &["init", &target, "--name", "linked"]);
    out.code_is(2);
    assert!(out.stderr.contains("is a symbolic link to"), "{out}");
    assert_eq!(std::fs::read_dir(outside.path()).expect("read").count(), 0);
}

async fn up_and_check(moto: &Moto, p: &Project, stack: &str, function: &str, scheme: &str) {
    albkit(moto, p, REGION, &["up", "--yes"]).ok();
    let cfg = sdk_config(moto, REGION).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let lbs = elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("load balancer");
    assert_eq!(
        lbs.load_balancers()[0]
            .scheme()
            .map(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::as_str),
        Some(scheme)
    );
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let alias = lambda
        .get_alias()
        .function_name(format!("{stack}--{function}"))
        .name("live")
        .send()
        .await
        .expect("live alias");
    assert!(alias.function_version().is_some());
    let out = albkit(moto, p, REGION, &["deploy", "--yes"]);
    out.ok();
    assert!(out.stderr.contains("nothing uploaded"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_template_builds_answers_and_goes_up() {
    let moto = Moto::shared();
    let stack = unique_stack_name("tpl-hello");
    let p = init(moto, "hello", &stack);
    let r = invoke(moto, &p, &["--path", "/hello?name=world"]);
    assert_eq!(r["status"], 200, "{r}");
    let body: serde_json::Value =
        serde_json::from_str(r["body"].as_str().unwrap_or_default()).expect("JSON body");
    assert_eq!(body["query"]["name"], "world");
    assert_eq!(invoke(moto, &p, &["--path", "/health"])["status"], 200);
    assert_eq!(invoke(moto, &p, &["--path", "/nope"])["status"], 404);
    up_and_check(moto, &p, &stack, "hello", "internet-facing").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_template_returns_the_request_with_cors() {
    let moto = Moto::shared();
    let stack = unique_stack_name("tpl-echo");
    let p = init(moto, "echo", &stack);
    let r = invoke(
        moto,
        &p,
        &[
            "--method",
            "POST",
            "--path",
            "/things/1?x=foo%3Dbar",
            "--header",
            "Content-Type: application/json",
            "--header",
            "X-Custom: yes",
            "--body",
            "{\"a\":1}",
        ],
    );
    assert_eq!(r["status"], 200, "{r}");
    let headers = r["headers"].as_array().expect("headers");
    assert!(
        headers.contains(&serde_json::json!(["access-control-allow-origin", "*"])),
        "{r}"
    );
    let echo: serde_json::Value =
        serde_json::from_str(r["body"].as_str().unwrap_or_default()).expect("JSON body");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/things/1");
    assert_eq!(echo["headers"]["x-custom"], "yes");
    assert_eq!(echo["headers"]["x-forwarded-proto"], "http");
    assert_eq!(echo["body"], "{\"a\":1}");
    assert!(echo["query"]["x"].is_string(), "{echo}");
    up_and_check(moto, &p, &stack, "echo", "internet-facing").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_api_template_routes_path_parameters_and_is_internal() {
    let moto = Moto::shared();
    let stack = unique_stack_name("tpl-int");
    let p = init(moto, "internal-api", &stack);
    let health = invoke(moto, &p, &["--path", "/internal/health"]);
    assert_eq!(health["status"], 200, "{health}");
    let r = invoke(moto, &p, &["--path", "/internal/users/ann/items/2"]);
    assert_eq!(r["status"], 200, "{r}");
    let body: serde_json::Value =
        serde_json::from_str(r["body"].as_str().unwrap_or_default()).expect("JSON body");
    assert_eq!(body["user"], "ann");
    assert_eq!(body["item"]["id"], "2");
    assert_eq!(
        invoke(moto, &p, &["--path", "/internal/items/9"])["status"],
        404
    );
    up_and_check(moto, &p, &stack, "api", "internal").await;
}
