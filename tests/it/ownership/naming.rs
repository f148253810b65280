//! Names and regions: the same stack name in two regions of one account, stacks whose
//! function names collided under the previous naming scheme, a function under the
//! stack's name that is not the stack's, and a stack made under the previous scheme.
//! Every check reads AWS through the SDK.

use std::collections::BTreeMap;

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project, ACCOUNT_ID};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

struct Clients {
    lambda: aws_sdk_lambda::Client,
    iam: aws_sdk_iam::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    s3: aws_sdk_s3::Client,
}

async fn clients(moto: &Moto, region: &str) -> Clients {
    let cfg = sdk_config(moto, region).await;
    Clients {
        lambda: aws_sdk_lambda::Client::new(&cfg),
        iam: aws_sdk_iam::Client::new(&cfg),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
        logs: aws_sdk_cloudwatchlogs::Client::new(&cfg),
        s3: crate::support::s3_client(&cfg),
    }
}

/// The hello template as stack `stack`, its function renamed `function`.
fn project(stack: &str, function: &str) -> Project {
    let p = Project::from_template("hello", stack);
    let toml = p.read("albkit.toml");
    assert!(toml.contains("name = \"hello\""), "{toml}");
    p.with_config(&toml.replace("name = \"hello\"", &format!("name = \"{function}\"")));
    p
}

/// Everything about a function that a change would show: its configuration (at
/// `$LATEST` and at `live`), its tags, its published versions and its alias.
async fn function_state(lambda: &aws_sdk_lambda::Client, name: &str) -> String {
    let latest = lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunction {name}: {e:?}"));
    let live = lambda
        .get_function_configuration()
        .function_name(name)
        .qualifier("live")
        .send()
        .await
        .map_or_else(
            |e| format!("no live: {e:?}"),
            |c| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    c.function_arn(),
                    c.version(),
                    c.code_sha256(),
                    c.last_modified(),
                    c.memory_size(),
                    c.timeout(),
                    c.environment()
                )
            },
        );
    let versions = lambda
        .list_versions_by_function()
        .function_name(name)
        .send()
        .await
        .expect("ListVersionsByFunction");
    let versions: Vec<String> = versions
        .versions()
        .iter()
        .map(|v| {
            format!(
                "{} {} {}",
                v.version().unwrap_or_default(),
                v.code_sha256().unwrap_or_default(),
                v.last_modified().unwrap_or_default()
            )
        })
        .collect();
    format!(
        "configuration: {:?}\ntags: {:?}\nlive: {live}\nversions: {versions:?}",
        latest.configuration(),
        latest.tags().map(|t| t.iter().collect::<BTreeMap<_, _>>())
    )
}

/// Every role under `/albkit/<stack>/`: name → (ARN, role id, path, tags).
async fn roles(iam: &aws_sdk_iam::Client, stack: &str) -> BTreeMap<String, String> {
    let listed = iam
        .list_roles()
        .path_prefix(format!("/albkit/{stack}/"))
        .send()
        .await
        .expect("ListRoles");
    let mut out = BTreeMap::new();
    for r in listed.roles() {
        let full = iam
            .get_role()
            .role_name(r.role_name())
            .send()
            .await
            .expect("GetRole");
        let role = full.role().expect("role");
        let tags: BTreeMap<&str, Option<&str>> = role
            .tags()
            .iter()
            .map(|t| (t.key(), Some(t.value())))
            .collect();
        out.insert(
            role.role_name().to_string(),
            format!("{} {} {} {tags:?}", role.arn(), role.role_id(), role.path()),
        );
    }
    out
}

/// Target groups whose names start with `prefix`: name → (ARN, type, health check).
async fn target_groups(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    prefix: &str,
) -> BTreeMap<String, String> {
    let all = elb
        .describe_target_groups()
        .send()
        .await
        .expect("DescribeTargetGroups");
    all.target_groups()
        .iter()
        .filter(|t| {
            t.target_group_name()
                .unwrap_or_default()
                .starts_with(prefix)
        })
        .map(|t| {
            (
                t.target_group_name().unwrap_or_default().to_string(),
                format!("{t:?}"),
            )
        })
        .collect()
}

async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

fn log_bucket(stack: &str, region: &str) -> String {
    format!("albkit-{stack}-logs-{ACCOUNT_ID}-{region}")
}

/// `plan --detailed-exitcode` says there is nothing to do.
#[track_caller]
fn plan_is_clean(moto: &Moto, p: &Project, region: &str) {
    albkit(moto, p, region, &["plan", "--detailed-exitcode"]).ok();
}

/// Lines of moto's log that invoked the function `name`.
fn invocations(moto: &Moto, name: &str) -> usize {
    std::fs::read_to_string(moto.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("/functions/{name}/invocations")))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn same_stack_name_in_two_regions_never_touch_each_other() {
    let moto = Moto::shared();
    let stack = unique_stack_name("tworeg");
    let p = project(&stack, "hello");
    albkit(moto, &p, EAST, &["up", "--yes"]).ok();

    let east = clients(moto, EAST).await;
    let west = clients(moto, WEST).await;
    let function = format!("{stack}--hello");
    let east_function = function_state(&east.lambda, &function).await;
    let east_roles = roles(&east.iam, &stack).await;
    assert_eq!(east_roles.len(), 1, "{east_roles:?}");
    let east_role = format!("albkit-{stack}--hello-{EAST}");
    let described = &east_roles[&east_role];
    assert!(
        described.contains(&format!("/albkit/{stack}/{EAST}/"))
            && described.contains(&format!("\"albkit:region\": Some(\"{EAST}\")")),
        "{described}"
    );
    let east_groups = target_groups(&east.elb, &stack).await;
    assert_eq!(east_groups.len(), 1, "{east_groups:?}");
    assert!(bucket_exists(&east.s3, &log_bucket(&stack, EAST)).await);

    // The same albkit.toml in a second region: up, then down.
    albkit(moto, &p, WEST, &["up", "--yes"]).ok();
    let both = roles(&east.iam, &stack).await;
    assert_eq!(both.len(), 2, "one role per region: {both:?}");
    assert_eq!(
        both[&east_role], east_roles[&east_role],
        "east role unchanged"
    );
    let west_role = &both[&format!("albkit-{stack}--hello-{WEST}")];
    assert!(
        west_role.contains(&format!("/albkit/{stack}/{WEST}/"))
            && west_role.contains(&format!("\"albkit:region\": Some(\"{WEST}\")")),
        "{west_role}"
    );
    assert_eq!(function_state(&east.lambda, &function).await, east_function);
    plan_is_clean(moto, &p, EAST);
    plan_is_clean(moto, &p, WEST);

    albkit(moto, &p, WEST, &["down", "--yes", "--purge-logs"]).ok();
    assert!(west
        .lambda
        .get_function()
        .function_name(&function)
        .send()
        .await
        .is_err());
    assert!(target_groups(&west.elb, &stack).await.is_empty());
    assert!(!bucket_exists(&west.s3, &log_bucket(&stack, WEST)).await);
    // us-east-1 is exactly as it was.
    assert_eq!(roles(&east.iam, &stack).await, east_roles);
    assert_eq!(function_state(&east.lambda, &function).await, east_function);
    assert_eq!(target_groups(&east.elb, &stack).await, east_groups);
    assert!(bucket_exists(&east.s3, &log_bucket(&stack, EAST)).await);
    plan_is_clean(moto, &p, EAST);

    albkit(moto, &p, EAST, &["down", "--yes", "--purge-logs"]).ok();
    assert!(roles(&east.iam, &stack).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn stacks_whose_names_used_to_collide_stay_apart() {
    let moto = Moto::shared();
    // `shop` + `api-v2` and `shop-api` + `v2`: one name, `shop-api-v2`, before.
    let shop = unique_stack_name("shop");
    let shop_api = format!("{shop}-api");
    let a = project(&shop, "api-v2");
    let b = project(&shop_api, "v2");
    albkit(moto, &a, EAST, &["up", "--yes"]).ok();
    albkit(moto, &b, EAST, &["up", "--yes"]).ok();

    let c = clients(moto, EAST).await;
    let a_function = format!("{shop}--api-v2");
    let b_function = format!("{shop_api}--v2");
    let b_before = function_state(&c.lambda, &b_function).await;
    let b_roles = roles(&c.iam, &shop_api).await;
    // `shop-…-api-v2-<length of shop's name>` against `…-<length of shop-api's>`.
    let b_group = format!("{shop_api}-v2-{}", shop_api.len());
    let b_groups = target_groups(&c.elb, &b_group).await;
    assert_eq!(b_roles.len(), 1, "{b_roles:?}");
    assert_eq!(b_groups.len(), 1, "{b_groups:?}");
    let a_before = function_state(&c.lambda, &a_function).await;
    assert!(
        a_before.contains(&format!("\"albkit:stack\": \"{shop}\"")),
        "{a_before}"
    );
    assert!(
        b_before.contains(&format!("\"albkit:stack\": \"{shop_api}\"")),
        "{b_before}"
    );
    plan_is_clean(moto, &a, EAST);
    plan_is_clean(moto, &b, EAST);

    // deploy of new code to `shop` changes only its function.
    let main = "functions/hello/src/main.rs";
    a.write(
        main,
        &a.read(main).replace("hello from albkit", "hello from shop"),
    );
    albkit(moto, &a, EAST, &["deploy", "--yes"]).ok();
    assert_ne!(function_state(&c.lambda, &a_function).await, a_before);
    assert_eq!(function_state(&c.lambda, &b_function).await, b_before);

    // versions and invoke name and call only their own function.
    let doc = albkit(moto, &a, EAST, &["versions", "-o", "json"])
        .ok()
        .json();
    assert_eq!(doc["functions"][0]["name"], a_function.as_str());
    let b_invoked = invocations(moto, &b_function);
    let a_invoked = invocations(moto, &a_function);
    // moto runs no code: the answer is reported as unusable, after the call.
    albkit(moto, &a, EAST, &["invoke", "--path", "/hello"]);
    assert!(invocations(moto, &a_function) > a_invoked);
    assert_eq!(invocations(moto, &b_function), b_invoked);

    // down of `shop` leaves `shop-api` whole.
    albkit(moto, &a, EAST, &["down", "--yes", "--purge-logs"]).ok();
    assert!(c
        .lambda
        .get_function()
        .function_name(&a_function)
        .send()
        .await
        .is_err());
    assert!(roles(&c.iam, &shop).await.is_empty());
    assert_eq!(function_state(&c.lambda, &b_function).await, b_before);
    assert_eq!(roles(&c.iam, &shop_api).await, b_roles);
    assert_eq!(target_groups(&c.elb, &b_group).await, b_groups);
    let groups = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{b_function}"))
        .send()
        .await
        .expect("DescribeLogGroups");
    assert_eq!(groups.log_groups().len(), 1, "{groups:?}");
    plan_is_clean(moto, &b, EAST);
    albkit(moto, &b, EAST, &["down", "--yes", "--purge-logs"]).ok();
}

/// A function made through the SDK, not tagged: two published versions, `live` on the
/// second. Returns its ARN.
async fn untagged_function(c: &Clients, name: &str) -> String {
    let role = c
        .iam
        .create_role()
        .role_name(format!("{name}-someone"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("CreateRole");
    let zip = |text: &str| {
        aws_sdk_lambda::primitives::Blob::new(
            albkit::package::zip_bootstrap(text.as_bytes()).expect("zip"),
        )
    };
    let created = c
        .lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().expect("role").arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip("someone else's v1"))
                .build(),
        )
        .send()
        .await
        .expect("CreateFunction");
    c.lambda
        .publish_version()
        .function_name(name)
        .send()
        .await
        .expect("PublishVersion 1");
    c.lambda
        .update_function_code()
        .function_name(name)
        .zip_file(zip("someone else's v2"))
        .send()
        .await
        .expect("UpdateFunctionCode");
    let v2 = c
        .lambda
        .publish_version()
        .function_name(name)
        .send()
        .await
        .expect("PublishVersion 2");
    c.lambda
        .create_alias()
        .function_name(name)
        .name("live")
        .function_version(v2.version().expect("version"))
        .send()
        .await
        .expect("CreateAlias");
    c.logs
        .create_log_group()
        .log_group_name(format!("/aws/lambda/{name}"))
        .send()
        .await
        .expect("CreateLogGroup");
    created.function_arn().expect("arn").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn function_commands_refuse_a_function_they_do_not_own() {
    let moto = Moto::shared();
    let stack = unique_stack_name("notmine");
    let p = project(&stack, "hello");
    let c = clients(moto, EAST).await;
    let name = format!("{stack}--hello");
    untagged_function(&c, &name).await;
    let before = function_state(&c.lambda, &name).await;
    let invoked = invocations(moto, &name);

    for args in [
        &["deploy", "--yes"][..],
        &["rollback", "--yes"],
        &["versions"],
        &["invoke", "--path", "/hello"],
        &["logs", "--since", "1h"],
    ] {
        let out = albkit(moto, &p, EAST, args);
        out.code_is(1);
        assert!(
            out.stderr.contains(&name) && out.stderr.contains("no albkit:stack tag"),
            "{args:?} must name the function and why:\n{out}"
        );
        assert_eq!(
            function_state(&c.lambda, &name).await,
            before,
            "{args:?} changed the function"
        );
    }
    assert_eq!(invocations(moto, &name), invoked, "invoked anyway");
    // plan and up refuse it as well, before any change.
    let out = albkit(moto, &p, EAST, &["plan"]);
    out.code_is(1);
    assert!(out.stderr.contains(&name), "{out}");
    assert_eq!(function_state(&c.lambda, &name).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_of_the_previous_naming_scheme_keeps_its_names() {
    let moto = Moto::shared();
    let stack = unique_stack_name("oldnames");
    let p = project(&stack, "hello");
    let c = clients(moto, EAST).await;

    // What an earlier albkit made for function `hello`: `<stack>-hello` names, the role
    // directly under /albkit/<stack>/ without a region tag, the log group as Lambda
    // creates it (untagged).
    let tag = |logical: &str| {
        [
            ("albkit:stack".to_string(), stack.clone()),
            ("albkit:resource".to_string(), logical.to_string()),
        ]
    };
    let role_name = format!("albkit-{stack}-hello-{EAST}");
    let role = c
        .iam
        .create_role()
        .role_name(&role_name)
        .path(format!("/albkit/{stack}/"))
        .assume_role_policy_document(albkit::aws::resources::role::trust_policy())
        .set_tags(Some(
            tag("role/hello")
                .into_iter()
                .map(|(k, v)| {
                    aws_sdk_iam::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .expect("tag")
                })
                .collect(),
        ))
        .send()
        .await
        .expect("CreateRole");
    let role_arn = role.role().expect("role").arn().to_string();
    c.iam
        .attach_role_policy()
        .role_name(&role_name)
        .policy_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        .send()
        .await
        .expect("AttachRolePolicy");
    let function = format!("{stack}-hello");
    let created = c
        .lambda
        .create_function()
        .function_name(&function)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&role_arn)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    albkit::package::zip_bootstrap(b"an earlier build").expect("zip"),
                ))
                .build(),
        )
        .set_tags(Some(tag("function/hello").into_iter().collect()))
        .send()
        .await
        .expect("CreateFunction");
    let function_arn = created.function_arn().expect("arn").to_string();
    let v1 = c
        .lambda
        .publish_version()
        .function_name(&function)
        .send()
        .await
        .expect("PublishVersion");
    c.lambda
        .create_alias()
        .function_name(&function)
        .name("live")
        .function_version(v1.version().expect("version"))
        .send()
        .await
        .expect("CreateAlias");
    let tg = c
        .elb
        .create_target_group()
        .name(&function)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Lambda)
        .set_tags(Some(
            tag("target-group/hello")
                .into_iter()
                .map(|(k, v)| {
                    aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .expect("CreateTargetGroup");
    let tg_arn = tg.target_groups()[0]
        .target_group_arn()
        .expect("arn")
        .to_string();
    let log_group = format!("/aws/lambda/{function}");
    c.logs
        .create_log_group()
        .log_group_name(&log_group)
        .send()
        .await
        .expect("CreateLogGroup");

    // The plan creates the rest of the stack around them and replaces none of them.
    let doc = albkit(moto, &p, EAST, &["plan", "-o", "json"]).ok().json();
    let changes = doc["changes"].as_array().expect("changes");
    for logical in [
        "function/hello",
        "role/hello",
        "target-group/hello",
        "log-group/hello",
    ] {
        let change = changes.iter().find(|c| c["logical"] == logical);
        if let Some(change) = change {
            assert_eq!(change["action"], "update", "{logical}: {change:#}");
        }
    }
    let role_change = changes
        .iter()
        .find(|c| c["logical"] == "role/hello")
        .expect("the role gets its region tag");
    let fields: Vec<&str> = role_change["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    // The region tag, and the move from AWSLambdaBasicExecutionRole (which the roles of
    // that time carry) to the inline policy scoped to the function's log group.
    assert_eq!(
        fields,
        ["policies", "inline_policies", "tags"],
        "{role_change:#}"
    );
    assert!(
        role_change["fields"][2]["new"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("\"albkit:region\":\"{EAST}\""))),
        "{role_change:#}"
    );

    albkit(moto, &p, EAST, &["up", "--yes"]).ok();
    plan_is_clean(moto, &p, EAST);
    // The same resources, under their names, the role tagged with its region.
    let got = c
        .lambda
        .get_function()
        .function_name(&function)
        .send()
        .await
        .expect("the function is kept");
    assert_eq!(
        got.configuration().and_then(|f| f.function_arn()),
        Some(function_arn.as_str())
    );
    assert!(c
        .lambda
        .get_function()
        .function_name(format!("{stack}--hello"))
        .send()
        .await
        .is_err());
    let roles_now = roles(&c.iam, &stack).await;
    assert_eq!(roles_now.len(), 1, "{roles_now:?}");
    let kept = &roles_now[&role_name];
    assert!(
        kept.starts_with(&format!("{role_arn} "))
            && kept.contains(&format!("\"albkit:region\": Some(\"{EAST}\")")),
        "{kept}"
    );
    let groups = target_groups(&c.elb, &stack).await;
    assert_eq!(groups.keys().collect::<Vec<_>>(), [&function], "{groups:?}");
    assert!(groups[&function].contains(&tg_arn));
    let lg = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{stack}"))
        .send()
        .await
        .expect("DescribeLogGroups");
    let names: Vec<&str> = lg
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name())
        .collect();
    assert_eq!(names, [log_group.as_str()]);

    // The function commands find it under its name.
    let out = albkit(moto, &p, EAST, &["deploy"]);
    out.ok();
    assert!(out.stderr.contains("nothing uploaded"), "{out}");
    let doc = albkit(moto, &p, EAST, &["versions", "-o", "json"])
        .ok()
        .json();
    assert_eq!(doc["functions"][0]["name"], function.as_str());

    albkit(moto, &p, EAST, &["down", "--yes", "--purge-logs"]).ok();
    assert!(roles(&c.iam, &stack).await.is_empty());
    assert!(c
        .lambda
        .get_function()
        .function_name(&function)
        .send()
        .await
        .is_err());
}
