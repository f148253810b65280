//! Authentication at the load balancer against moto, through the test proxy (moto 5.2.1
//! refuses the `jwt-validation` action type, returns an `authenticate-cognito` or
//! `authenticate-oidc` action without the defaults AWS fills in, and an OIDC action with
//! its client secret, which AWS never returns; the proxy imitates AWS, see
//! docs/testing.md): the
//! rule's authentication step is created, found converged, its drift repaired, updated,
//! taken from `[https].auth`, changed from one kind to another and removed. Checked
//! through the SDK.

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};

use crate::support::proxy::{Proxy, ProxyConfig};
use crate::support::{
    albkit_command_at, create_hosted_zone, run, sdk_config, sdk_config_at, unique_stack_name, Moto,
    Output, Project, ACCESS_KEY_ID, ALBKIT_TIMEOUT, SECRET_ACCESS_KEY,
};

const REGION: &str = "eu-north-1";
const ISSUER: &str = "https://issuer.example.com";
const JWKS: &str = "https://issuer.example.com/.well-known/jwks.json";

fn via(proxy: &Proxy, project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&proxy.endpoint(), project, REGION);
    cmd.args(args).env("ALBKIT_RETRY_BASE_MS", "20");
    run(cmd, ALBKIT_TIMEOUT)
}

/// The HTTPS stack with one route; `route_auth` and `https_auth` are TOML lines added to
/// the route and to `[https]`.
fn config(stack: &str, zone: &str, https_auth: &str, route_auth: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[https]
domain = "api.{stack}.example.com"
hosted_zone_id = "{zone}"
{https_auth}

[[functions]]
name = "api"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = ["/orders/*"]
{route_auth}
"#
    )
}

fn jwt(issuer: &str, audiences: &[&str]) -> String {
    let list: Vec<String> = audiences.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "auth = {{ jwt = {{ issuer = {issuer:?}, jwks_endpoint = {JWKS:?}, audiences = [{}] }} }}",
        list.join(", ")
    )
}

/// The actions of the stack's rule at priority 10, in their order.
async fn rule_actions(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    stack: &str,
) -> (String, Vec<Action>) {
    let lbs = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let lb = lbs
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name().is_some_and(|n| n.starts_with(stack)))
        .and_then(|l| l.load_balancer_arn())
        .expect("the stack's load balancer")
        .to_string();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb)
        .send()
        .await
        .expect("DescribeListeners");
    let https = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .and_then(|l| l.listener_arn())
        .expect("the HTTPS listener")
        .to_string();
    let rules = elb
        .describe_rules()
        .listener_arn(&https)
        .send()
        .await
        .expect("DescribeRules");
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("10"))
        .expect("rule 10");
    let mut actions = rule.actions().to_vec();
    actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    (rule.rule_arn().unwrap_or_default().to_string(), actions)
}

/// The validation step's issuer and `aud` values, and the type of the action after it.
fn jwt_step(actions: &[Action]) -> (String, Vec<String>, Option<ActionTypeEnum>) {
    assert_eq!(actions.len(), 2, "{actions:#?}");
    assert_eq!(
        actions[0].r#type(),
        Some(&ActionTypeEnum::JwtValidation),
        "{actions:#?}"
    );
    assert_eq!(actions[0].order(), Some(1));
    let c = actions[0]
        .jwt_validation_config()
        .expect("JwtValidationConfig");
    assert_eq!(c.jwks_endpoint(), Some(JWKS));
    let aud = c
        .additional_claims()
        .iter()
        .find(|a| a.name() == Some("aud"))
        .map(|a| a.values().to_vec())
        .unwrap_or_default();
    (
        c.issuer().unwrap_or_default().to_string(),
        aud,
        actions[1].r#type().cloned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_validation_is_created_converged_repaired_updated_and_removed() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("jwt");
    let cfg = sdk_config_at(&proxy.endpoint(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let zone = create_hosted_zone(&cfg, &format!("{stack}.example.com")).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let project = Project::from_template("hello", &stack);
    let forward = Some(ActionTypeEnum::Forward);

    // Created: validation first, then the forward.
    project.with_config(&config(&stack, &zone, "", &jwt(ISSUER, &["orders"])));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (rule, actions) = rule_actions(&elb, &stack).await;
    let want = (
        ISSUER.to_string(),
        vec!["orders".to_string()],
        forward.clone(),
    );
    assert_eq!(jwt_step(&actions), want);
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Drift: another issuer set by hand is planned and put back.
    let mut changed = actions.clone();
    let mut by_hand = actions[0].jwt_validation_config().cloned().expect("config");
    by_hand.issuer = Some("https://elsewhere.example.com".into());
    changed[0].jwt_validation_config = Some(by_hand);
    elb.modify_rule()
        .rule_arn(&rule)
        .set_actions(Some(changed))
        .send()
        .await
        .expect("ModifyRule by hand");
    let plan = via(&proxy, &project, &["plan", "--detailed-exitcode"]);
    plan.code_is(2);
    assert!(plan.stdout.contains("~ rule/10"), "{plan}");
    via(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(jwt_step(&rule_actions(&elb, &stack).await.1), want);

    // Updated in place: other audiences, the same rule.
    project.with_config(&config(
        &stack,
        &zone,
        "",
        &jwt(ISSUER, &["orders", "cart"]),
    ));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (same, actions) = rule_actions(&elb, &stack).await;
    assert_eq!(same, rule);
    let aud = vec!["orders".to_string(), "cart".to_string()];
    assert_eq!(
        jwt_step(&actions),
        (ISSUER.to_string(), aud, forward.clone())
    );

    // The same authentication as the listener's default is the same rule: nothing to do.
    let default = jwt(ISSUER, &["orders", "cart"]);
    project.with_config(&config(&stack, &zone, &default, ""));
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Removed: the forward alone.
    project.with_config(&config(&stack, &zone, "", ""));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (same, actions) = rule_actions(&elb, &stack).await;
    assert_eq!(same, rule);
    let types: Vec<_> = actions.iter().map(|a| a.r#type().cloned()).collect();
    assert_eq!(types, vec![forward]);
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);
    via(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
}

fn cognito(client: &str) -> String {
    format!(
        "auth = {{ cognito = {{ user_pool_arn = {POOL:?}, user_pool_client_id = {client:?}, \
         user_pool_domain = \"login\" }} }}"
    )
}

const POOL: &str = "arn:aws:cognito-idp:eu-north-1:123456789012:userpool/eu-north-1_AbC";

/// The Cognito step's user pool, client and what it does with an unauthenticated request.
fn cognito_step(actions: &[Action]) -> (String, String, Option<String>) {
    assert_eq!(actions.len(), 2, "{actions:#?}");
    let step = &actions[0];
    assert_eq!(
        step.r#type(),
        Some(&ActionTypeEnum::AuthenticateCognito),
        "{actions:#?}"
    );
    assert_eq!(actions[1].r#type(), Some(&ActionTypeEnum::Forward));
    let c = step
        .authenticate_cognito_config()
        .expect("AuthenticateCognitoConfig");
    assert_eq!(c.user_pool_domain(), Some("login"));
    (
        c.user_pool_arn().unwrap_or_default().to_string(),
        c.user_pool_client_id().unwrap_or_default().to_string(),
        c.on_unauthenticated_request()
            .map(|b| b.as_str().to_string()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn cognito_login_is_created_converged_repaired_updated_and_replaced_by_jwt() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("cognito");
    let cfg = sdk_config_at(&proxy.endpoint(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let zone = create_hosted_zone(&cfg, &format!("{stack}.example.com")).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let project = Project::from_template("hello", &stack);

    // Created before the forward; the defaults AWS fills in are not drift.
    project.with_config(&config(&stack, &zone, "", &cognito("client1")));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (rule, actions) = rule_actions(&elb, &stack).await;
    let authenticate = Some("authenticate".to_string());
    let want = (
        POOL.to_string(),
        "client1".to_string(),
        authenticate.clone(),
    );
    assert_eq!(cognito_step(&actions), want);
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Drift: unauthenticated requests allowed by hand is planned and put back.
    let mut changed = actions.clone();
    let mut by_hand = actions[0]
        .authenticate_cognito_config()
        .cloned()
        .expect("config");
    by_hand.on_unauthenticated_request =
        Some(aws_sdk_elasticloadbalancingv2::types::AuthenticateCognitoActionConditionalBehaviorEnum::Allow);
    changed[0].authenticate_cognito_config = Some(by_hand);
    elb.modify_rule()
        .rule_arn(&rule)
        .set_actions(Some(changed))
        .send()
        .await
        .expect("ModifyRule by hand");
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(2);
    via(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(cognito_step(&rule_actions(&elb, &stack).await.1), want);

    // Another app client: the same rule, updated.
    project.with_config(&config(&stack, &zone, "", &cognito("client2")));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (same, actions) = rule_actions(&elb, &stack).await;
    assert_eq!(same, rule);
    assert_eq!(cognito_step(&actions).1, "client2");

    // From a login to JWT validation, in place.
    project.with_config(&config(&stack, &zone, "", &jwt(ISSUER, &["orders"])));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (same, actions) = rule_actions(&elb, &stack).await;
    assert_eq!(same, rule);
    assert_eq!(jwt_step(&actions).0, ISSUER);
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);
    via(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
}

fn oidc(secret_arn: &str) -> String {
    format!(
        "auth = {{ oidc = {{ issuer = \"https://login.example.com\", \
         authorization_endpoint = \"https://login.example.com/authorize\", \
         token_endpoint = \"https://login.example.com/token\", \
         user_info_endpoint = \"https://login.example.com/userinfo\", client_id = \"app\", \
         client_secret = {{ secretsmanager = {secret_arn:?} }} }} }}"
    )
}

/// A Secrets Manager secret `name` holding `value`; its ARN.
async fn create_secret(cfg: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(cfg)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("secret ARN")
        .to_string()
}

/// The OIDC step's client id and its `ClientSecret` as returned (through the proxy, as
/// AWS: none).
fn oidc_step(actions: &[Action]) -> (String, Option<String>) {
    assert_eq!(actions.len(), 2, "{actions:#?}");
    assert_eq!(
        actions[0].r#type(),
        Some(&ActionTypeEnum::AuthenticateOidc),
        "{actions:#?}"
    );
    assert_eq!(actions[1].r#type(), Some(&ActionTypeEnum::Forward));
    let c = actions[0]
        .authenticate_oidc_config()
        .expect("AuthenticateOidcConfig");
    assert_eq!(c.issuer(), Some("https://login.example.com"));
    assert_eq!(c.token_endpoint(), Some("https://login.example.com/token"));
    (
        c.client_id().unwrap_or_default().to_string(),
        c.client_secret().map(str::to_string),
    )
}

/// What moto itself stored (not through the proxy, which hides it as AWS does): the
/// client secret the rule's OIDC step was given, and the rule's secret-ARN tag.
async fn stored_secret(
    direct: &aws_sdk_elasticloadbalancingv2::Client,
    stack: &str,
) -> (Option<String>, Option<String>) {
    let (rule, actions) = rule_actions(direct, stack).await;
    let secret = actions
        .first()
        .and_then(|a| a.authenticate_oidc_config())
        .and_then(|c| c.client_secret())
        .map(str::to_string);
    let tags = direct
        .describe_tags()
        .resource_arns(&rule)
        .send()
        .await
        .expect("DescribeTags");
    let tag = tags
        .tag_descriptions()
        .iter()
        .flat_map(aws_sdk_elasticloadbalancingv2::types::TagDescription::tags)
        .find(|t| t.key() == Some("albkit:oidc-client-secret"))
        .and_then(|t| t.value())
        .map(str::to_string);
    (secret, tag)
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_login_reads_its_client_secret_from_secrets_manager_and_is_repaired() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let stack = unique_stack_name("oidc");
    let cfg = sdk_config_at(&proxy.endpoint(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let zone = create_hosted_zone(&cfg, &format!("{stack}.example.com")).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let direct = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(moto, REGION).await);
    let first = create_secret(&cfg, &format!("{stack}-oidc-1"), "first-client-secret").await;
    let project = Project::from_template("hello", &stack);

    // Created with the secret's value, which AWS does not return; the ARN is the tag.
    project.with_config(&config(&stack, &zone, "", &oidc(&first)));
    let up = via(&proxy, &project, &["up", "--yes"]);
    up.ok();
    let (rule, actions) = rule_actions(&elb, &stack).await;
    assert_eq!(oidc_step(&actions), ("app".to_string(), None));
    let want = (Some("first-client-secret".to_string()), Some(first.clone()));
    assert_eq!(stored_secret(&direct, &stack).await, want);
    let plan = via(&proxy, &project, &["plan", "--detailed-exitcode"]);
    plan.code_is(0);
    for out in [&up, &plan] {
        assert!(!out.stdout.contains("first-client-secret"), "{out}");
        assert!(!out.stderr.contains("first-client-secret"), "{out}");
    }

    // Drift: another client id set by hand (the secret kept) is planned and put back,
    // with the secret read again.
    let mut changed = actions.clone();
    let mut by_hand = actions[0]
        .authenticate_oidc_config()
        .cloned()
        .expect("config");
    by_hand.client_id = Some("someone-else".into());
    by_hand.use_existing_client_secret = Some(true);
    changed[0].authenticate_oidc_config = Some(by_hand);
    elb.modify_rule()
        .rule_arn(&rule)
        .set_actions(Some(changed))
        .send()
        .await
        .expect("ModifyRule by hand");
    assert_eq!(
        oidc_step(&rule_actions(&elb, &stack).await.1).0,
        "someone-else"
    );
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(2);
    via(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(oidc_step(&rule_actions(&elb, &stack).await.1).0, "app");
    assert_eq!(stored_secret(&direct, &stack).await, want);

    // Another secret: a change of the same rule, which sends the new value.
    let second = create_secret(&cfg, &format!("{stack}-oidc-2"), "second-client-secret").await;
    project.with_config(&config(&stack, &zone, "", &oidc(&second)));
    let plan = via(&proxy, &project, &["plan", "--detailed-exitcode"]);
    plan.code_is(2);
    assert!(!plan.stdout.contains("second-client-secret"), "{plan}");
    via(&proxy, &project, &["up", "--yes"]).ok();
    let (same, actions) = rule_actions(&elb, &stack).await;
    assert_eq!(same, rule);
    assert_eq!(oidc_step(&actions), ("app".to_string(), None));
    assert_eq!(
        stored_secret(&direct, &stack).await,
        (Some("second-client-secret".to_string()), Some(second))
    );
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Removed: the forward alone.
    project.with_config(&config(&stack, &zone, "", ""));
    via(&proxy, &project, &["up", "--yes"]).ok();
    let types: Vec<_> = rule_actions(&elb, &stack)
        .await
        .1
        .iter()
        .map(|a| a.r#type().cloned())
        .collect();
    assert_eq!(types, vec![Some(ActionTypeEnum::Forward)]);
    via(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);
    via(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
}
