//! The policies `albkit iam-policy` prints, proved under an emulator that enforces IAM
//! (MiniStack with `AUTH=true`): albkit runs as an IAM user that holds only the printed
//! policy. The deploy policy is enough for a whole lifecycle; the plan policy reads but is
//! refused at the first change; the deploy policy without its IAM actions fails.
//!
//! MiniStack evaluates policies as IAM does but does not name every request's resource
//! as AWS does; [`ministack_view`] adapts the printed policy to those differences, each
//! written down there and in docs/permissions.md. Requests go through the test proxy,
//! which stands for AWS's TLS endpoint (`ProxyConfig::tls_front`): the stack's buckets
//! deny requests that did not arrive over TLS, as they must.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::inventory::{self, Kind, Roles, Scope};
use crate::support::ministack::{MiniStack, ACCOUNT, ROOT_KEY, ROOT_SECRET};
use crate::support::proxy::{Proxy, ProxyConfig};
use crate::support::{albkit_command_at, run, unique_stack_name, Output, Project, ALBKIT_TIMEOUT};

const REGION: &str = "us-east-1";
/// The most a customer managed policy may hold (IAM quotas: 6,144 characters, white
/// space not counted).
const MANAGED_POLICY_LIMIT: usize = 6144;

fn proxy() -> Proxy {
    Proxy::start(
        &MiniStack::shared().endpoint(),
        ProxyConfig {
            tls_front: true,
            ..ProxyConfig::default()
        },
    )
}

/// Runs albkit in `project` through `proxy` with the given credentials.
fn albkit_as(proxy: &Proxy, project: &Project, keys: &(String, String), args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&proxy.endpoint(), project, REGION);
    cmd.env("AWS_ACCESS_KEY_ID", &keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &keys.1)
        .args(args);
    let out = run(cmd, ALBKIT_TIMEOUT);
    // What MiniStack refused, for the failure message of a test that expected success.
    for r in proxy.records().iter().filter(|r| r.status == 403) {
        eprintln!("refused: {} {}", r.service, r.operation);
    }
    out
}

fn root() -> (String, String) {
    (ROOT_KEY.to_string(), ROOT_SECRET.to_string())
}

async fn root_config() -> aws_config::SdkConfig {
    MiniStack::shared().root_config(REGION).await
}

/// The policy albkit prints for `audience`, asked as the account's root.
fn printed_policy(proxy: &Proxy, project: &Project, audience: &str) -> Value {
    let out = albkit_as(proxy, project, &root(), &["iam-policy", "--for", audience]);
    out.ok();
    let policy: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("iam-policy printed no JSON ({e}):\n{}", out.stdout));
    let compact = serde_json::to_string(&policy).expect("serialize");
    assert!(
        compact.len() <= MANAGED_POLICY_LIMIT,
        "the {audience} policy is {} characters; a managed policy holds {MANAGED_POLICY_LIMIT}",
        compact.len()
    );
    policy
}

/// The printed policy as MiniStack must read it to mean what it means on AWS. Each
/// rule stands for one way MiniStack names a request's resource differently from AWS
/// (docs/permissions.md, "Proved locally"):
///
/// 1. IAM: AWS authorizes a role by its ARN with the path
///    (`role/albkit/<stack>/<region>/<name>`); MiniStack by `role/<name>`. Each role
///    pattern under the stack's path is also given by name (`role/albkit-<stack>-*`).
/// 2. EC2 and ELB: MiniStack knows neither service's resource tags (its tag lookup for
///    conditions covers other services) and authorizes the calls that name no resource
///    id (`CreateVpc`, `CreateLoadBalancer`, `DeleteRule`, …) on `*`. Their actions are
///    moved to statements of their own on `*`, without the `aws:ResourceTag` condition.
///    MiniStack reads request tags from `Tags` members only, not from EC2's
///    `TagSpecifications`, and looks ELB's operations up in the model of the classic
///    load balancer: their `aws:RequestTag` condition goes too.
/// 3. Lambda: MiniStack authorizes every call on a function's aliases (`GetAlias`,
///    `UpdateAlias`) as `lambda:ListAliases`, which is granted where they are.
/// 4. Lambda: AWS authorizes `CreateFunction` on the function's ARN (its name is in the
///    request body); MiniStack reads the name from the path, where `CreateFunction` has
///    none, and authorizes it on `*`. It moves like rule 2, keeping `aws:RequestTag`.
/// 5. Lambda: MiniStack authorizes every call on a function's reserved concurrency
///    (`GetFunctionConcurrency`, `DeleteFunctionConcurrency`) as
///    `lambda:PutFunctionConcurrency`, which is granted where they are.
fn ministack_view(policy: &Value, stack: &str) -> Value {
    let by_path = format!("arn:aws:iam::{ACCOUNT}:role/albkit/{stack}/*");
    let by_name = format!("arn:aws:iam::{ACCOUNT}:role/albkit-{stack}-*");
    let mut out = Vec::new();
    for st in policy["Statement"].as_array().expect("statements") {
        let actions: Vec<String> = match &st["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            other => panic!("unexpected Action {other}"),
        };
        let mut resources: Vec<String> = match &st["Resource"] {
            Value::String(r) => vec![r.clone()],
            Value::Array(r) => r
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            other => panic!("unexpected Resource {other}"),
        };
        if resources.contains(&by_path) {
            resources.push(by_name.clone());
        }
        let mut actions = actions;
        if actions
            .iter()
            .any(|a| glob(a, "lambda:GetAlias") || glob(a, "lambda:UpdateAlias"))
        {
            actions.push("lambda:ListAliases".into());
        }
        if actions.iter().any(|a| {
            glob(a, "lambda:GetFunctionConcurrency") || glob(a, "lambda:DeleteFunctionConcurrency")
        }) && !actions
            .iter()
            .any(|a| glob(a, "lambda:PutFunctionConcurrency"))
        {
            actions.push("lambda:PutFunctionConcurrency".into());
        }
        let (moved, kept): (Vec<String>, Vec<String>) = actions
            .into_iter()
            .partition(|a| ON_STAR.iter().any(|(p, _, _)| matches(a, p)));
        if !kept.is_empty() {
            let mut s = st.clone();
            s["Action"] = json!(kept);
            s["Resource"] = json!(resources);
            out.push(s);
        }
        if resources == ["*"] {
            if !moved.is_empty() {
                let mut s = st.clone();
                s["Action"] = json!(moved);
                out.push(s);
            }
            continue;
        }
        for (prefix, tail, unknown_tags) in ON_STAR {
            let part: Vec<&String> = moved.iter().filter(|a| matches(a, prefix)).collect();
            if part.is_empty() {
                continue;
            }
            let mut s = st.clone();
            let sid = st["Sid"].as_str().unwrap_or_default();
            s["Sid"] = json!(format!("{sid}{tail}OnMiniStack"));
            s["Action"] = json!(part);
            s["Resource"] = json!("*");
            if let Some(cond) = s.get_mut("Condition").and_then(Value::as_object_mut) {
                for keys in cond.values_mut() {
                    if let Some(keys) = keys.as_object_mut() {
                        keys.retain(|k, _| !unknown_tags.iter().any(|t| k.starts_with(t)));
                    }
                }
                cond.retain(|_, keys| keys.as_object().is_some_and(|k| !k.is_empty()));
                if cond.is_empty() {
                    s.as_object_mut().expect("statement").remove("Condition");
                }
            }
            out.push(s);
        }
    }
    json!({ "Version": "2012-10-17", "Statement": out })
}

/// The actions MiniStack authorizes on `*` (rules 2 and 4 of [`ministack_view`]), with
/// the Sid suffix of their statement and the condition keys MiniStack cannot evaluate
/// for them.
const ON_STAR: [(&str, &str, &[&str]); 3] = [
    ("ec2:", "Ec2", &["aws:ResourceTag/", "aws:RequestTag/"]),
    (
        "elasticloadbalancing:",
        "Elb",
        &["aws:ResourceTag/", "aws:RequestTag/"],
    ),
    ("lambda:CreateFunction", "CreateFunction", &[]),
];

/// Whether the IAM action pattern `pattern` (`*` wildcards) matches `action`.
fn glob(pattern: &str, action: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == action;
    }
    if !action.starts_with(first) || !action[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &action[first.len()..action.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `action` is `pattern`, or of the service `pattern` (`ec2:`) names.
fn matches(action: &str, pattern: &str) -> bool {
    action == pattern || (pattern.ends_with(':') && action.starts_with(pattern))
}

/// Creates IAM user `name` holding only `policy` (a customer managed policy), and its
/// access key. The policy is kept in target/tmp/ministack/<name>.json for failures.
async fn user_with(name: &str, policy: &Value) -> (String, String) {
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ministack")
        .join(format!("{name}.json"));
    let _ = std::fs::write(
        &kept,
        serde_json::to_string_pretty(policy).unwrap_or_default(),
    );
    let iam = aws_sdk_iam::Client::new(&root_config().await);
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    let created = iam
        .create_policy()
        .policy_name(format!("{name}-policy"))
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("CreatePolicy");
    let arn = created.policy().and_then(|p| p.arn()).expect("policy ARN");
    iam.attach_user_policy()
        .user_name(name)
        .policy_arn(arn)
        .send()
        .await
        .expect("AttachUserPolicy");
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key = key.access_key().expect("access key");
    (
        key.access_key_id().to_string(),
        key.secret_access_key().to_string(),
    )
}

/// What of the stack is left in MiniStack, read as root: its functions, load
/// balancer, roles and VPC, as `kind id`.
async fn leftovers(stack: &str) -> Vec<String> {
    let scope = Scope {
        stack,
        region: REGION,
        account: ACCOUNT,
        roles: Roles::AllRegions,
    };
    let kinds = [Kind::Function, Kind::LoadBalancer, Kind::Role, Kind::Vpc];
    inventory::leftovers(&root_config().await, &scope, &kinds).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_policy_is_enough_for_a_whole_lifecycle() {
    let stack = unique_stack_name("perm-deploy");
    let project = Project::from_template("hello", &stack);
    let proxy = proxy();
    let policy = printed_policy(&proxy, &project, "deploy");
    let keys = user_with(
        &format!("{stack}-deployer"),
        &ministack_view(&policy, &stack),
    )
    .await;

    albkit_as(&proxy, &project, &keys, &["up", "--yes"]).ok();
    // New code: `deploy` builds, uploads, publishes and smoke-checks it.
    let main = "functions/hello/src/main.rs";
    project.write(
        main,
        &project
            .read(main)
            .replace("hello from albkit", "hello again from albkit"),
    );
    albkit_as(&proxy, &project, &keys, &["deploy", "--yes"]).ok();
    albkit_as(&proxy, &project, &keys, &["rollback", "--yes"]).ok();
    // A configuration change: `up` updates the function in place.
    let toml = project.read("albkit.toml");
    project.write(
        "albkit.toml",
        &toml.replacen("[[functions]]\n", "[[functions]]\nmemory_mb = 256\n", 1),
    );
    albkit_as(&proxy, &project, &keys, &["up", "--yes"]).ok();
    albkit_as(&proxy, &project, &keys, &["status"]).ok();
    albkit_as(&proxy, &project, &keys, &["down", "--purge-logs", "--yes"]).ok();
    assert_eq!(leftovers(&stack).await, Vec::<String>::new());
}

/// Attach mode (docs/attach.md): the deploy policy, which grants nothing on the load
/// balancer, its listeners or EC2, is enough for `up`, a second `up` and `down` of a
/// stack attached to a load balancer the account's root built.
#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_policy_is_enough_for_an_attached_stack() {
    let stack = unique_stack_name("perm-attach");
    let project = Project::from_template("hello", &stack);
    let shared = crate::attach::shared_load_balancer_at(&root_config().await).await;
    project.with_config(&crate::attach::config(&stack, &shared, r#"["/hello"]"#));
    let proxy = proxy();
    let policy = printed_policy(&proxy, &project, "deploy");
    let text = policy.to_string();
    assert!(
        !text.contains("CreateLoadBalancer") && !text.contains("ec2:Create"),
        "{text}"
    );
    let keys = user_with(
        &format!("{stack}-attacher"),
        &ministack_view(&policy, &stack),
    )
    .await;
    albkit_as(&proxy, &project, &keys, &["up", "--yes"]).ok();
    assert_eq!(shared.rules(&shared.listener).await.len(), 3);
    albkit_as(&proxy, &project, &keys, &["plan", "--detailed-exitcode"]).code_is(0);
    albkit_as(&proxy, &project, &keys, &["down", "--yes"]).ok();
    assert!(shared.intact().await);
    assert_eq!(shared.rules(&shared.listener).await.len(), 2);
    assert_eq!(leftovers(&stack).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_policy_reads_and_is_refused_at_the_first_change() {
    let stack = unique_stack_name("perm-plan");
    let project = Project::from_template("hello", &stack);
    let proxy = proxy();
    albkit_as(&proxy, &project, &root(), &["up", "--yes"]).ok();
    let policy = printed_policy(&proxy, &project, "plan");
    let keys = user_with(&format!("{stack}-reader"), &ministack_view(&policy, &stack)).await;

    albkit_as(&proxy, &project, &keys, &["plan"]).ok();
    albkit_as(&proxy, &project, &keys, &["status"]).ok();
    albkit_as(&proxy, &project, &keys, &["versions"]).ok();
    // `top`: discovery and the `live` alias reads under the plan policy. MiniStack does
    // not evaluate CloudWatch actions (a policy without cloudwatch:GetMetricData passes
    // too), so GetMetricData's place in the policy rests on the unit test and the
    // Service Authorization Reference (docs/permissions.md).
    albkit_as(
        &proxy,
        &project,
        &keys,
        &["top", "-o", "json", "--minutes", "5"],
    )
    .ok();

    let toml = project.read("albkit.toml");
    project.write(
        "albkit.toml",
        &toml.replacen("[[functions]]\n", "[[functions]]\nmemory_mb = 512\n", 1),
    );
    proxy.clear_records();
    let refused = albkit_as(&proxy, &project, &keys, &["up", "--yes"]);
    refused.code_is(1);
    assert!(
        refused.stderr.contains("AccessDenied") && refused.stderr.contains("not authorized"),
        "up with the plan policy should fail with AWS's AccessDenied:\n{}",
        refused.stderr
    );
    let mutations: Vec<_> = proxy.records().into_iter().filter(|r| r.mutating).collect();
    assert!(
        !mutations.is_empty() && mutations.iter().all(|r| r.status == 403),
        "every change up attempted must have been refused: {mutations:#?}"
    );
    assert_eq!(
        mutations.len(),
        1,
        "up must stop at its first refused change: {mutations:#?}"
    );

    albkit_as(
        &proxy,
        &project,
        &root(),
        &["down", "--purge-logs", "--yes"],
    )
    .ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_policy_without_its_iam_actions_is_not_enough() {
    let stack = unique_stack_name("perm-noiam");
    let project = Project::from_template("hello", &stack);
    let proxy = proxy();
    let policy = ministack_view(&printed_policy(&proxy, &project, "deploy"), &stack);
    let mut statements = Vec::new();
    for st in policy["Statement"].as_array().expect("statements") {
        let actions: Vec<Value> = st["Action"]
            .as_array()
            .expect("actions")
            .iter()
            .filter(|a| !a.as_str().unwrap_or_default().starts_with("iam:"))
            .cloned()
            .collect();
        if !actions.is_empty() {
            let mut s = st.clone();
            s["Action"] = json!(actions);
            statements.push(s);
        }
    }
    let removed: BTreeSet<&str> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .filter(|a| a.starts_with("iam:"))
        .collect();
    assert!(removed.contains("iam:CreateRole") && removed.contains("iam:PassRole"));
    let keys = user_with(
        &format!("{stack}-noiam"),
        &json!({ "Version": "2012-10-17", "Statement": statements }),
    )
    .await;

    let failed = albkit_as(&proxy, &project, &keys, &["up", "--yes"]);
    failed.code_is(1);
    assert!(
        failed.stderr.contains("iam:"),
        "up without IAM permissions should fail on an IAM action:\n{}",
        failed.stderr
    );
    assert_eq!(
        leftovers(&stack).await,
        Vec::<String>::new(),
        "nothing of the stack may be left"
    );
}
