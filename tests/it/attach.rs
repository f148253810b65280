//! Attach mode against moto (docs/attach.md): the test builds a shared load balancer of
//! its own through the SDK (VPC, subnets, ALB, two HTTP listeners and rules of another
//! team), then albkit attaches a stack to it. A route that collides with the other
//! team's rule is refused before any change; a valid stack gets its rules in the
//! priority range, its target group and permission; `down` removes those and leaves the
//! listener, the load balancer and the other team's rules. Checked through the SDK.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, PathPatternConditionConfig, ProtocolEnum,
    Rule, RuleCondition,
};

use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project};

const REGION: &str = "us-west-1";

pub(crate) struct Shared {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    lambda: aws_sdk_lambda::Client,
    load_balancer: String,
    /// The listener albkit's rules go on (port 80), and a second one (port 8080).
    pub listener: String,
    pub second: String,
    /// The other team's rules on `listener`: `/orders` at 1, `/cart` at 2.
    pub foreign: Vec<String>,
}

fn fixed_404() -> Action {
    let config = FixedResponseActionConfig::builder()
        .status_code("404")
        .content_type("text/plain")
        .build();
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(config)
        .build()
}

/// The shared load balancer, built as its owner would, with the other team's rules.
async fn shared_load_balancer(moto: &Moto) -> Shared {
    shared_load_balancer_at(&sdk_config(moto, REGION).await).await
}

/// [`shared_load_balancer`] through `cfg` (an emulator, its region and credentials).
pub(crate) async fn shared_load_balancer_at(cfg: &aws_config::SdkConfig) -> Shared {
    let region = cfg.region().map(ToString::to_string).expect("a region");
    let ec2 = aws_sdk_ec2::Client::new(cfg);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(cfg);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let mut subnets = Vec::new();
    for (i, zone) in ["a", "b"].into_iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(format!("10.77.{i}.0/24"))
            .availability_zone(format!("{region}{zone}"))
            .send()
            .await
            .expect("CreateSubnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_owned(),
        );
    }
    let lb = elb
        .create_load_balancer()
        .name(unique_stack_name("shared"))
        .set_subnets(Some(subnets))
        .send()
        .await
        .expect("CreateLoadBalancer");
    let lb = lb.load_balancers()[0].load_balancer_arn().expect("ARN");
    let mut listeners = Vec::new();
    for port in [80, 8080] {
        let l = elb
            .create_listener()
            .load_balancer_arn(lb)
            .protocol(ProtocolEnum::Http)
            .port(port)
            .default_actions(fixed_404())
            .send()
            .await
            .expect("CreateListener");
        listeners.push(l.listeners()[0].listener_arn().expect("ARN").to_owned());
    }
    let mut foreign = Vec::new();
    for (priority, path) in [(1, "/orders"), (2, "/cart")] {
        let paths = PathPatternConditionConfig::builder().values(path).build();
        let condition = RuleCondition::builder()
            .field("path-pattern")
            .path_pattern_config(paths)
            .build();
        let r = elb
            .create_rule()
            .listener_arn(&listeners[0])
            .priority(priority)
            .conditions(condition)
            .actions(fixed_404())
            .send()
            .await
            .expect("CreateRule");
        foreign.push(r.rules()[0].rule_arn().expect("ARN").to_owned());
    }
    Shared {
        elb,
        lambda: aws_sdk_lambda::Client::new(cfg),
        load_balancer: lb.to_owned(),
        second: listeners.pop().expect("second listener"),
        listener: listeners.pop().expect("listener"),
        foreign,
    }
}

impl Shared {
    /// The rules of a listener besides its default one.
    pub(crate) async fn rules(&self, listener: &str) -> Vec<Rule> {
        let out = self
            .elb
            .describe_rules()
            .listener_arn(listener)
            .send()
            .await
            .expect("DescribeRules");
        out.rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .cloned()
            .collect()
    }

    /// The stack's target groups (by name).
    async fn target_groups(&self, stack: &str) -> Vec<String> {
        let out = self
            .elb
            .describe_target_groups()
            .send()
            .await
            .expect("DescribeTargetGroups");
        out.target_groups()
            .iter()
            .filter_map(|t| t.target_group_name())
            .filter(|n| n.starts_with(&format!("{stack}-")))
            .map(str::to_owned)
            .collect()
    }

    /// Whether the listener and the load balancer still exist.
    pub(crate) async fn intact(&self) -> bool {
        let lbs = self
            .elb
            .describe_load_balancers()
            .load_balancer_arns(&self.load_balancer)
            .send()
            .await;
        let listeners = self
            .elb
            .describe_listeners()
            .listener_arns(&self.listener)
            .listener_arns(&self.second)
            .send()
            .await;
        lbs.is_ok_and(|o| o.load_balancers().len() == 1)
            && listeners.is_ok_and(|o| o.listeners().len() == 2)
    }
}

/// A stack of the hello template's function attached to both listeners, its route at
/// `paths`.
pub(crate) fn config(stack: &str, s: &Shared, paths: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[load_balancer]
listener_arn = "{}"
http_listener_arn = "{}"
priority_range = [1, 10]

[[functions]]
name = "hello"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = {paths}
methods = ["GET"]
"#,
        s.listener, s.second
    )
}

/// The priorities of the rules tagged for `stack` on `listener`.
async fn own_priorities(s: &Shared, listener: &str, stack: &str) -> Vec<String> {
    let rules = s.rules(listener).await;
    let arns: Vec<String> = rules
        .iter()
        .filter_map(|r| r.rule_arn().map(str::to_owned))
        .collect();
    let tags = s
        .elb
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .expect("DescribeTags");
    let own: Vec<&str> = tags
        .tag_descriptions()
        .iter()
        .filter(|d| {
            d.tags()
                .iter()
                .any(|t| t.key() == Some("albkit:stack") && t.value() == Some(stack))
        })
        .filter_map(|d| d.resource_arn())
        .collect();
    let mut priorities: Vec<String> = rules
        .iter()
        .filter(|r| r.rule_arn().is_some_and(|a| own.contains(&a)))
        .filter_map(|r| r.priority().map(str::to_owned))
        .collect();
    priorities.sort_by_key(|p| p.parse::<u32>().unwrap_or(u32::MAX));
    priorities
}

/// The ARN of the rule at `priority` on `listener`.
async fn rule_at(s: &Shared, listener: &str, priority: &str) -> String {
    let rules = s.rules(listener).await;
    let rule = rules.iter().find(|r| r.priority() == Some(priority));
    rule.and_then(|r| r.rule_arn())
        .unwrap_or_else(|| panic!("a rule at {priority}: {rules:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_refuses_a_collision_creates_its_rules_and_leaves_the_shared_listener() {
    let moto = Moto::shared();
    let s = shared_load_balancer(moto).await;
    let stack = unique_stack_name("attach");
    let p = Project::from_template("hello", &stack);

    // (1) A route with the other team's conditions: refused before any change.
    p.with_config(&config(&stack, &s, r#"["/orders"]"#));
    for args in [&["plan"][..], &["up", "--yes"]] {
        let out = albkit(moto, &p, REGION, args);
        out.code_is(1);
        // miette wraps long lines, ARNs too: compare without them.
        let flat: String = out.stderr.replace('│', "").split_whitespace().collect();
        assert!(
            flat.contains(&s.foreign[0]) && flat.contains("(priority1,path-patternin[/orders])"),
            "names the foreign rule, its priority and conditions: {out}"
        );
    }
    assert_eq!(s.rules(&s.listener).await.len(), 2);
    assert!(s.rules(&s.second).await.is_empty());
    assert!(s.target_groups(&stack).await.is_empty());
    let function = s
        .lambda
        .get_function()
        .function_name(format!("{stack}--hello"))
        .send()
        .await;
    assert!(function.is_err(), "no function was created");

    // (2) A route of its own: its rules in the range, the lowest free priorities.
    p.with_config(&config(&stack, &s, r#"["/hello", "/hello/*"]"#));
    let up = albkit(moto, &p, REGION, &["up", "--yes"]);
    up.ok();
    assert_eq!(own_priorities(&s, &s.listener, &stack).await, ["3"]);
    assert_eq!(own_priorities(&s, &s.second, &stack).await, ["1"]);
    let groups = s.target_groups(&stack).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    let forwards_to_it = s.rules(&s.listener).await.iter().any(|r| {
        r.priority() == Some("3")
            && r.actions().iter().any(|a| {
                a.target_group_arn()
                    .is_some_and(|t| t.contains(&format!("targetgroup/{}/", groups[0])))
            })
    });
    assert!(
        forwards_to_it,
        "the rule forwards to the stack's target group"
    );
    let policy = s
        .lambda
        .get_policy()
        .function_name(format!("{stack}--hello"))
        .qualifier("live")
        .send()
        .await
        .expect("GetPolicy: the load balancer may invoke the function");
    assert!(
        policy
            .policy()
            .is_some_and(|p| p.contains("elasticloadbalancing.amazonaws.com")),
        "{policy:?}"
    );
    let again = albkit(moto, &p, REGION, &["plan", "--detailed-exitcode"]);
    again.code_is(0);
    assert!(
        again
            .stderr
            .contains("Attached to load_balancer.listener_arn"),
        "{again}"
    );

    // A new route ordered before the placed one: it takes the lowest free priority and
    // the placed rule moves after it, the same rule (SetRulePriorities).
    let placed = rule_at(&s, &s.listener, "3").await;
    let before = config(&stack, &s, r#"["/hello", "/hello/*"]"#);
    let first = "[[functions.routes]]\npriority = 5\npaths = [\"/hi\"]\n";
    p.with_config(&format!("{before}\n{first}"));
    albkit(moto, &p, REGION, &["up", "--yes"]).ok();
    assert_eq!(own_priorities(&s, &s.listener, &stack).await, ["4", "5"]);
    assert_eq!(
        rule_at(&s, &s.listener, "5").await,
        placed,
        "moved, not recreated"
    );
    assert_eq!(own_priorities(&s, &s.second, &stack).await, ["2", "3"]);
    albkit(moto, &p, REGION, &["plan", "--detailed-exitcode"]).code_is(0);

    // (3) `down`: albkit's rules, target group and function go; the rest stays.
    albkit(moto, &p, REGION, &["down", "--yes"]).ok();
    assert!(
        s.intact().await,
        "the listeners and the load balancer are left"
    );
    let left: Vec<String> = s
        .rules(&s.listener)
        .await
        .iter()
        .filter_map(|r| r.rule_arn().map(str::to_owned))
        .collect();
    assert_eq!(left, s.foreign, "the other team's rules, and only those");
    assert!(s.rules(&s.second).await.is_empty());
    assert!(s.target_groups(&stack).await.is_empty());
}
