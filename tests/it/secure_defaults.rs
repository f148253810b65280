//! albkit's secure defaults, one test each, verified through the AWS SDK on a stack that
//! albkit built in moto: what a stack allows is exactly what its config asks for.
//!
//! One HTTPS stack is deployed once (with `-vv`, a secret environment value and a
//! recognisable AWS secret key) and shared by the tests of this file.

use std::sync::OnceLock;

use crate::support::{
    albkit_with_env, create_hosted_zone, sdk_config, unique_stack_name, Moto, Output, Project,
    ACCOUNT_ID,
};

const REGION: &str = "eu-north-1";
const ENV_SECRET: &str = "do-not-print-3c1f9a7e";
const AWS_SECRET: &str = "albkitTestSecretKey/do+not+print/7b2e";
/// A value under a key that does not look secret: never printed either.
const ENV_PLAIN: &str = "plain-value-5d2c81";
/// The value API_TOKEN is changed to before the last `plan`s.
const ENV_CHANGED: &str = "changed-secret-e40b17";
const INGRESS: &str = "203.0.113.0/24";

struct Deployed {
    stack: String,
    project: Project,
    /// Every output of the runs below, stdout and stderr, at every verbosity.
    outputs: Vec<(String, Output)>,
}

fn config(stack: &str, domain: &str, zone: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[load_balancer]
ingress_cidrs = ["{INGRESS}"]

[https]
domain = "{domain}"
hosted_zone_id = "{zone}"

[[functions]]
name = "api"
path = "functions/hello"
environment = {{ API_TOKEN = "{ENV_SECRET}", GREETING = "{ENV_PLAIN}" }}

[[functions.routes]]
priority = 10
paths = ["/api/*"]
"#
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

fn deployed() -> &'static Deployed {
    static DEPLOYED: OnceLock<Deployed> = OnceLock::new();
    DEPLOYED.get_or_init(|| {
        let moto = Moto::shared();
        let stack = unique_stack_name("secure");
        let domain = format!("{stack}.example.com");
        let zone = rt()
            .block_on(async { create_hosted_zone(&sdk_config(moto, REGION).await, &domain).await });
        let project = Project::from_template("hello", &stack);
        project.with_config(&config(&stack, &format!("api.{domain}"), &zone));
        let env = [("AWS_SECRET_ACCESS_KEY", AWS_SECRET)];
        let mut outputs = Vec::new();
        for args in [
            &["plan", "-vv"][..],
            &["plan", "-o", "json"],
            &["up", "--yes", "-vv"],
            &["status", "-vv"],
            &["status", "-o", "json"],
            &["up", "--yes", "-o", "json"],
            &["plan", "-v"],
            &["versions"],
            &["versions", "-o", "json"],
            &["logs"],
            &["deploy", "--yes", "-vv"],
            &["iam-policy", "--for", "deploy"],
        ] {
            let out = albkit_with_env(moto, &project, REGION, args, &env);
            out.ok();
            outputs.push((args.join(" "), out));
        }
        // A changed value: `plan` says which variable changed, not to what.
        let toml = project.read("albkit.toml").replace(ENV_SECRET, ENV_CHANGED);
        project.with_config(&toml);
        for args in [&["plan", "-vv"][..], &["plan", "-o", "json"]] {
            let out = albkit_with_env(moto, &project, REGION, args, &env);
            out.ok();
            outputs.push((args.join(" "), out));
        }
        Deployed {
            stack,
            project,
            outputs,
        }
    })
}

async fn clients() -> aws_config::SdkConfig {
    sdk_config(Moto::shared(), REGION).await
}

async fn lb_arn(elb: &aws_sdk_elasticloadbalancingv2::Client, stack: &str) -> String {
    elb.describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("load balancer")
        .load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_string()
}

#[test]
fn lambda_permission_is_scoped_to_the_target_group_and_the_account() {
    let d = deployed();
    rt().block_on(async {
        let cfg = clients().await;
        let lambda = aws_sdk_lambda::Client::new(&cfg);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let tg = elb
            .describe_target_groups()
            .names(format!("{}-api-{}", d.stack, d.stack.len()))
            .send()
            .await
            .expect("target group");
        let tg_arn = tg.target_groups()[0].target_group_arn().expect("arn");
        let policy = lambda
            .get_policy()
            .function_name(format!("{}--api", d.stack))
            .qualifier("live")
            .send()
            .await
            .expect("policy");
        let doc: serde_json::Value =
            serde_json::from_str(policy.policy().expect("policy text")).expect("json");
        let statements = doc["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 1, "exactly one grant: {doc}");
        let s = &statements[0];
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(
            s["Principal"]["Service"], "elasticloadbalancing.amazonaws.com",
            "{s}"
        );
        assert_eq!(s["Action"], "lambda:InvokeFunction");
        assert!(
            s["Resource"].as_str().is_some_and(|r| r.ends_with(":live")),
            "only the live alias: {s}"
        );
        assert_eq!(s["Condition"]["ArnLike"]["AWS:SourceArn"], tg_arn, "{s}");
        assert_eq!(
            s["Condition"]["StringEquals"]["AWS:SourceAccount"], ACCOUNT_ID,
            "{s}"
        );
    });
}

#[test]
fn security_group_opens_only_the_listener_ports_to_the_configured_cidrs() {
    let d = deployed();
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&clients().await);
        let groups = ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:albkit:stack")
                    .values(&d.stack)
                    .build(),
            )
            .send()
            .await
            .expect("security groups");
        assert_eq!(groups.security_groups().len(), 1);
        let mut rules: Vec<(String, i32, i32, Vec<String>, usize)> = groups.security_groups()[0]
            .ip_permissions()
            .iter()
            .map(|p| {
                (
                    p.ip_protocol().unwrap_or_default().to_string(),
                    p.from_port().unwrap_or(-1),
                    p.to_port().unwrap_or(-1),
                    p.ip_ranges()
                        .iter()
                        .filter_map(|r| r.cidr_ip().map(str::to_string))
                        .collect(),
                    p.ipv6_ranges().len()
                        + p.user_id_group_pairs().len()
                        + p.prefix_list_ids().len(),
                )
            })
            .collect();
        rules.sort();
        assert_eq!(
            rules,
            vec![
                ("tcp".into(), 80, 80, vec![INGRESS.to_string()], 0),
                ("tcp".into(), 443, 443, vec![INGRESS.to_string()], 0),
            ],
            "ingress: only 80 and 443, only from ingress_cidrs"
        );
    });
}

#[test]
fn https_uses_a_tls13_policy_and_http_only_redirects() {
    let d = deployed();
    rt().block_on(async {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&clients().await);
        let arn = lb_arn(&elb, &d.stack).await;
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
            .expect("listeners");
        assert_eq!(listeners.listeners().len(), 2);
        for l in listeners.listeners() {
            match l.port() {
                Some(443) => {
                    assert_eq!(l.protocol().map(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::as_str), Some("HTTPS"));
                    assert_eq!(l.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
                    let attrs = elb
                        .describe_listener_attributes()
                        .listener_arn(l.listener_arn().expect("arn"))
                        .send()
                        .await
                        .expect("listener attributes");
                    let hsts = attrs.attributes().iter().find(|a| {
                        a.key()
                            == Some("routing.http.response.strict_transport_security.header_value")
                    });
                    assert_eq!(
                        hsts.and_then(|a| a.value()),
                        Some("max-age=31536000; includeSubDomains"),
                        "HTTPS responses carry Strict-Transport-Security"
                    );
                }
                Some(80) => {
                    let actions = l.default_actions();
                    assert_eq!(actions.len(), 1);
                    let redirect = actions[0]
                        .redirect_config()
                        .expect("port 80 only redirects");
                    assert_eq!(redirect.protocol(), Some("HTTPS"));
                    assert_eq!(redirect.port(), Some("443"));
                    assert_eq!(redirect.status_code().map(aws_sdk_elasticloadbalancingv2::types::RedirectActionStatusCodeEnum::as_str), Some("HTTP_301"));
                    let rules = elb
                        .describe_rules()
                        .listener_arn(l.listener_arn().expect("arn"))
                        .send()
                        .await
                        .expect("rules");
                    assert!(
                        rules.rules().iter().all(|r| r.is_default() == Some(true)),
                        "no route is served over plain HTTP"
                    );
                }
                other => panic!("unexpected listener port {other:?}"),
            }
        }
    });
}

#[test]
fn the_load_balancer_drops_invalid_header_fields() {
    let d = deployed();
    rt().block_on(async {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&clients().await);
        let arn = lb_arn(&elb, &d.stack).await;
        let attrs = elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .send()
            .await
            .expect("attributes");
        let value = |key: &str| {
            attrs
                .attributes()
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value())
                .map(str::to_string)
        };
        assert_eq!(
            value("routing.http.drop_invalid_header_fields.enabled").as_deref(),
            Some("true")
        );
        assert_eq!(value("access_logs.s3.enabled").as_deref(), Some("true"));
    });
}

#[test]
fn the_log_bucket_is_private_encrypted_and_refuses_plain_http() {
    let d = deployed();
    rt().block_on(async {
        let s3 = crate::support::s3_client(&clients().await);
        let bucket = format!("albkit-{}-logs-{ACCOUNT_ID}-{REGION}", d.stack);
        crate::support::assert_bucket_private_and_encrypted(&s3, &bucket).await;
        let ownership = s3
            .get_bucket_ownership_controls()
            .bucket(&bucket)
            .send()
            .await
            .expect("ownership");
        let rule = ownership
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string());
        assert_eq!(rule.as_deref(), Some("BucketOwnerEnforced"), "no ACLs");
        let policy = s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .expect("policy");
        let doc: serde_json::Value =
            serde_json::from_str(policy.policy().expect("text")).expect("json");
        let statements = doc["Statement"].as_array().expect("statements");
        let deny_plain = statements.iter().any(|s| {
            s["Effect"] == "Deny"
                && s["Principal"] == "*"
                && s["Action"] == "s3:*"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        });
        assert!(deny_plain, "denies every non-TLS request: {doc}");
        for s in statements.iter().filter(|s| s["Effect"] == "Allow") {
            assert_ne!(s["Principal"], "*", "no public grant: {s}");
            assert_eq!(s["Action"], "s3:PutObject", "log delivery only writes: {s}");
        }
    });
}

#[test]
fn the_function_role_may_only_write_its_own_logs() {
    let d = deployed();
    rt().block_on(async {
        let iam = aws_sdk_iam::Client::new(&clients().await);
        let roles = iam
            .list_roles()
            .path_prefix(format!("/albkit/{}/", d.stack))
            .send()
            .await
            .expect("roles");
        assert_eq!(roles.roles().len(), 1);
        let role = &roles.roles()[0];
        let attached = iam
            .list_attached_role_policies()
            .role_name(role.role_name())
            .send()
            .await
            .expect("attached");
        assert!(
            attached.attached_policies().is_empty(),
            "no managed policy: {:?}",
            attached.attached_policies()
        );
        let inline = iam
            .list_role_policies()
            .role_name(role.role_name())
            .send()
            .await
            .expect("inline");
        assert_eq!(inline.policy_names(), ["albkit-execution"]);
        let doc = iam
            .get_role_policy()
            .role_name(role.role_name())
            .policy_name("albkit-execution")
            .send()
            .await
            .expect("GetRolePolicy");
        let doc = urlencoding::decode(doc.policy_document())
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&doc).expect("policy json");
        let log_group = format!(
            "arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/{}--api:*",
            d.stack
        );
        assert_eq!(
            doc["Statement"],
            serde_json::json!([{
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_group,
            }])
        );
        let trust = urlencoding::decode(role.assume_role_policy_document().unwrap_or_default())
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        let trust: serde_json::Value = serde_json::from_str(&trust).expect("trust json");
        let principals: Vec<&serde_json::Value> = trust["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .map(|s| &s["Principal"])
            .collect();
        assert_eq!(
            principals,
            [&serde_json::json!({"Service": "lambda.amazonaws.com"})],
            "only Lambda may assume it"
        );
    });
}

#[test]
fn no_secret_is_printed_in_any_output_at_any_verbosity() {
    let d = deployed();
    // The secret did reach AWS: the search below looks for something that exists.
    rt().block_on(async {
        let lambda = aws_sdk_lambda::Client::new(&clients().await);
        let f = lambda
            .get_function_configuration()
            .function_name(format!("{}--api", d.stack))
            .send()
            .await
            .expect("function");
        let env = f
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        assert_eq!(env.get("API_TOKEN").map(String::as_str), Some(ENV_SECRET));
    });
    assert!(d.outputs.len() >= 7);
    for (args, out) in &d.outputs {
        for secret in [ENV_SECRET, ENV_PLAIN, ENV_CHANGED, AWS_SECRET] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "`albkit {args}` printed a secret\n{out}"
            );
        }
    }
    // The variables are named, so a change stays visible.
    let plan = &d.outputs[0].1;
    assert!(
        plan.stdout.contains("environment = API_TOKEN, GREETING"),
        "{plan}"
    );
    let changed = &d.outputs[d.outputs.len() - 2].1;
    assert!(
        changed.stdout.contains(
            "environment: API_TOKEN, GREETING -> API_TOKEN, GREETING (changed API_TOKEN)"
        ),
        "the changed variable is named: {changed}"
    );
    let json = &d.outputs[d.outputs.len() - 1].1;
    assert!(json.stdout.contains("(changed API_TOKEN)"), "{json}");
    assert!(d.project.path().exists());
}

/// `ALBKIT_LOG=trace`, with the SDK's own switches for printing bodies on as well: the
/// AWS secret key and a secret that travels in request and response bodies (a function's
/// environment, in `CreateFunction` and every `ListFunctions`/`GetFunction`) appear
/// nowhere on stderr, in text or as the byte list the signer prints bodies as.
#[test]
fn trace_logging_never_prints_credentials_or_bodies() {
    const REGION: &str = "ca-central-1";
    const BODY_SECRET: &str = "wire-body-marker-5d0c2a91";
    const KEY_SECRET: &str = "albkitTraceSecretKey/never+logged/19c4";
    let moto = Moto::shared();
    let stack = unique_stack_name("wirelog");
    let project = Project::from_template("hello", &stack);
    project.with_config(&format!(
        "[stack]\nname = \"{stack}\"\n\n[[functions]]\nname = \"api\"\npath = \"functions/hello\"\n\
         environment = {{ API_TOKEN = \"{BODY_SECRET}\" }}\n"
    ));
    let env = [
        ("AWS_SECRET_ACCESS_KEY", KEY_SECRET),
        ("ALBKIT_LOG", "trace"),
        ("LOG_SENSITIVE_BODIES", "true"),
        ("LOG_SIGNABLE_BODY", "true"),
    ];
    let up = albkit_with_env(moto, &project, REGION, &["up", "--yes"], &env);
    up.ok();
    let plan = albkit_with_env(moto, &project, REGION, &["plan"], &env);
    plan.ok();
    // The secret did travel in bodies: the search below looks for something that exists.
    rt().block_on(async {
        let cfg = sdk_config(moto, REGION).await;
        let f = aws_sdk_lambda::Client::new(&cfg)
            .get_function_configuration()
            .function_name(format!("{stack}--api"))
            .send()
            .await
            .expect("function");
        let value = f
            .environment()
            .and_then(|e| e.variables())
            .and_then(|v| v.get("API_TOKEN"))
            .cloned();
        assert_eq!(value.as_deref(), Some(BODY_SECRET));
    });
    let as_bytes = |s: &str| {
        s.bytes()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (what, out) in [("up", &up), ("plan", &plan)] {
        // The log is on, the SDK's included (at the cap: DEBUG).
        assert!(
            out.stderr.contains(" DEBUG ")
                && out
                    .stderr
                    .contains("aws_smithy_runtime::client::orchestrator"),
            "`albkit {what}` wrote no SDK log\n{out}"
        );
        for secret in [BODY_SECRET, KEY_SECRET] {
            assert!(
                !out.stderr.contains(secret) && !out.stderr.contains(&as_bytes(secret)),
                "`albkit {what}` with ALBKIT_LOG=trace printed {secret:?}"
            );
        }
        for line in out.stderr.lines().filter(|l| l.contains(" TRACE ")) {
            for target in albkit::logging::WIRE_TARGETS {
                assert!(
                    !line.contains(&format!(" {target}::"))
                        && !line.contains(&format!(" {target}: ")),
                    "`albkit {what}`: a TRACE event of {target} got through: {}",
                    line.chars().take(300).collect::<String>()
                );
            }
        }
    }
    albkit_with_env(
        moto,
        &project,
        REGION,
        &["down", "--yes", "--purge-logs"],
        &[],
    )
    .ok();
}

#[test]
fn albkit_dev_listens_on_loopback_unless_told_otherwise() {
    use clap::Parser;
    let cli = albkit::cli::Cli::try_parse_from(["albkit", "dev"]).expect("parse");
    match cli.command {
        albkit::cli::Command::Dev(args) => assert!(args.bind.is_loopback(), "{}", args.bind),
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn a_build_script_of_the_function_cannot_see_credentials_or_ci_tokens() {
    let moto = Moto::shared();
    let stack = unique_stack_name("buildenv");
    let project = Project::empty();
    project
        .with_config(&format!(
            "[stack]\nname = \"{stack}\"\n\n[[functions]]\nname = \"spy\"\npath = \"functions/spy\"\n"
        ))
        .write(
            "functions/spy/Cargo.toml",
            &format!(
                "[package]\nname = \"{stack}-spy\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                 publish = false\n\n[workspace]\n"
            ),
        )
        .write("functions/spy/src/main.rs", "fn main() {}\n")
        .write(
            "functions/spy/build.rs",
            r#"fn main() {
    for name in ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "ALBKIT_SPY_CI_TOKEN"] {
        if std::env::var_os(name).is_some() {
            panic!("the build script can see {name}");
        }
    }
    // Not an empty environment: what cargo and the toolchain need is there.
    for name in ["PATH", "HOME", "CARGO_PKG_NAME"] {
        if std::env::var_os(name).is_none() {
            panic!("the build script cannot see {name}");
        }
    }
}
"#,
        );
    let out = albkit_with_env(
        moto,
        &project,
        REGION,
        &["plan"],
        &[
            ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
            ("AWS_SESSION_TOKEN", "session-token-for-the-spy"),
            ("ALBKIT_SPY_CI_TOKEN", "ci-token-for-the-spy"),
        ],
    );
    out.ok();
    assert!(out.stderr.contains("Built function spy"), "{out}");
}
