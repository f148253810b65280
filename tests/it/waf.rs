//! `[waf]` against moto: the web ACL and its association with the load balancer are
//! created, drift-checked, updated and removed, checked through the AWS SDK; a web ACL
//! somebody else associated with the stack's load balancer is left alone.

use aws_sdk_wafv2::types::{
    AllowAction, DefaultAction, Rule, Scope as WafScope, VisibilityConfig, WebAcl,
};

use crate::support::inventory::{self, Kind, Roles, Scope};
use crate::support::{albkit, sdk_config, unique_stack_name, Moto, Project, ACCOUNT_ID};

const WAF: &str = "[waf]\nmanaged_rules = [\"common\"]\nblock_countries = [\"KP\"]\n\
                   rate_limit = { requests = 2000, per = \"5m\" }\n";

struct Waf {
    client: aws_sdk_wafv2::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    stack: String,
}

impl Waf {
    /// A stack of the hello template named after `prefix`, its config's text, an SDK
    /// config for `region`, and the clients the checks use.
    async fn setup(
        prefix: &str,
        moto: &Moto,
        region: &str,
    ) -> (String, Project, String, aws_config::SdkConfig, Waf) {
        let stack = unique_stack_name(prefix);
        let p = Project::from_template("hello", &stack);
        let toml = p.read("albkit.toml");
        let cfg = sdk_config(moto, region).await;
        let waf = Waf {
            client: aws_sdk_wafv2::Client::new(&cfg),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
            stack: stack.clone(),
        };
        (stack, p, toml, cfg, waf)
    }

    /// The stack's web ACL (`<stack>-waf`) with its id and lock token, if it exists.
    async fn acl(&self) -> Option<(WebAcl, String)> {
        let name = format!("{}-waf", self.stack);
        let list = self
            .client
            .list_web_acls()
            .scope(WafScope::Regional)
            .limit(100)
            .send()
            .await
            .expect("ListWebACLs");
        let summary = list.web_acls().iter().find(|a| a.name() == Some(&name))?;
        let out = self
            .client
            .get_web_acl()
            .name(&name)
            .scope(WafScope::Regional)
            .id(summary.id().expect("id"))
            .send()
            .await
            .expect("GetWebACL");
        Some((
            out.web_acl().expect("web ACL").clone(),
            out.lock_token().expect("lock token").to_string(),
        ))
    }

    /// `(name, priority)` of each rule of the stack's web ACL.
    async fn rules(&self) -> Vec<(String, i32)> {
        let (acl, _) = self.acl().await.expect("the stack's web ACL");
        let mut rules: Vec<(String, i32)> = acl
            .rules()
            .iter()
            .map(|r| (r.name().to_string(), r.priority()))
            .collect();
        rules.sort_by_key(|r| r.1);
        rules
    }

    async fn load_balancer_arn(&self) -> String {
        let out = self
            .elb
            .describe_load_balancers()
            .names(format!("{}-alb", self.stack))
            .send()
            .await
            .expect("DescribeLoadBalancers");
        out.load_balancers()[0]
            .load_balancer_arn()
            .expect("ARN")
            .to_string()
    }

    /// The ARN of the web ACL associated with the stack's load balancer.
    async fn associated(&self) -> Option<String> {
        let out = self
            .client
            .get_web_acl_for_resource()
            .resource_arn(self.load_balancer_arn().await)
            .send()
            .await
            .expect("GetWebACLForResource");
        out.web_acl().map(|a| a.arn().to_string())
    }
}

fn expected_rules() -> Vec<(String, i32)> {
    vec![
        ("albkit-block-countries".to_string(), 0),
        ("albkit-rate-limit".to_string(), 1),
        ("AWS-AWSManagedRulesCommonRuleSet".to_string(), 2),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_acl_is_created_associated_converged_and_removed() {
    let moto = Moto::shared();
    let region = "eu-north-1";
    let (stack, p, toml, cfg, waf) = Waf::setup("waf", moto, region).await;

    p.write("albkit.toml", &format!("{toml}\n{WAF}"));
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    let (acl, _) = waf.acl().await.expect("web ACL created");
    assert!(acl.default_action().is_some_and(|a| a.allow().is_some()));
    assert_eq!(waf.rules().await, expected_rules());
    assert_eq!(waf.associated().await.as_deref(), Some(acl.arn()));
    let tags = waf
        .client
        .list_tags_for_resource()
        .resource_arn(acl.arn())
        .send()
        .await
        .expect("ListTagsForResource");
    let tags = tags.tag_info_for_resource().expect("tags").tag_list();
    assert!(
        tags.iter()
            .any(|t| t.key() == "albkit:stack" && t.value() == stack),
        "{tags:?}"
    );
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);

    // Somebody edits the rules: the plan shows it, `up` puts them back.
    let (acl, token) = waf.acl().await.expect("web ACL");
    let managed: Vec<Rule> = acl
        .rules()
        .iter()
        .filter(|r| r.name().starts_with("AWS-"))
        .cloned()
        .collect();
    update_rules(&waf.client, &acl, &token, managed).await;
    assert_eq!(waf.rules().await.len(), 1);
    let plan = albkit(moto, &p, region, &["plan", "--detailed-exitcode"]);
    assert!(
        plan.code_is(2).stdout.contains("~ web-acl (web-acl)"),
        "{plan}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(waf.rules().await, expected_rules());

    // The config drops the rate limit: the rules are replaced in place.
    let without_rate = WAF.replace("rate_limit = { requests = 2000, per = \"5m\" }\n", "");
    p.write("albkit.toml", &format!("{toml}\n{without_rate}"));
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    let rules = waf.rules().await;
    assert_eq!(
        rules,
        vec![
            ("albkit-block-countries".to_string(), 0),
            ("AWS-AWSManagedRulesCommonRuleSet".to_string(), 1)
        ]
    );

    // No `[waf]` any more: disassociated and deleted.
    p.write("albkit.toml", &toml);
    let plan = albkit(moto, &p, region, &["plan"]);
    let text = plan.ok().stdout.clone();
    assert!(
        text.contains("- web-acl/association") && text.contains("- web-acl (web-acl)"),
        "{text}"
    );
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert!(waf.acl().await.is_none());
    assert_eq!(waf.associated().await, None);

    // Back with `[waf]`, then `down` leaves nothing of it.
    p.write("albkit.toml", &format!("{toml}\n{WAF}"));
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert!(waf.associated().await.is_some());
    albkit(moto, &p, region, &["down", "--yes", "--purge-logs"]).ok();
    let scope = Scope {
        stack: &stack,
        region,
        account: ACCOUNT_ID,
        roles: Roles::ThisRegion,
    };
    let left = inventory::leftovers(&cfg, &scope, &[Kind::WebAcl, Kind::LoadBalancer]).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_acl_somebody_else_associated_is_left_alone() {
    let moto = Moto::shared();
    let region = "eu-north-1";
    let (stack, p, toml, _, waf) = Waf::setup("wafx", moto, region).await;
    albkit(moto, &p, region, &["up", "--yes"]).ok();

    // A security team's web ACL on the stack's load balancer.
    let visibility = VisibilityConfig::builder()
        .sampled_requests_enabled(false)
        .cloud_watch_metrics_enabled(false)
        .metric_name("security-team")
        .build()
        .expect("visibility");
    let theirs = waf
        .client
        .create_web_acl()
        .name(format!("security-team-{stack}"))
        .scope(WafScope::Regional)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(visibility)
        .send()
        .await
        .expect("CreateWebACL");
    let arn = theirs.summary().and_then(|s| s.arn()).expect("ARN");
    waf.client
        .associate_web_acl()
        .web_acl_arn(arn)
        .resource_arn(waf.load_balancer_arn().await)
        .send()
        .await
        .expect("AssociateWebACL");

    // Without `[waf]`, it is none of albkit's business.
    albkit(moto, &p, region, &["plan", "--detailed-exitcode"]).code_is(0);
    albkit(moto, &p, region, &["up", "--yes"]).ok();
    assert_eq!(waf.associated().await.as_deref(), Some(arn));

    // With `[waf]`, albkit would replace it: it stops before any change.
    p.write("albkit.toml", &format!("{toml}\n{WAF}"));
    let refused = albkit(moto, &p, region, &["up", "--yes"]);
    assert!(
        refused.fails().stderr.contains("web ACL association"),
        "{refused}"
    );
    assert!(waf.acl().await.is_none(), "nothing was created");
    assert_eq!(waf.associated().await.as_deref(), Some(arn));

    p.write("albkit.toml", &toml);
    albkit(moto, &p, region, &["down", "--yes", "--purge-logs"]).ok();
}

async fn update_rules(client: &aws_sdk_wafv2::Client, acl: &WebAcl, token: &str, rules: Vec<Rule>) {
    client
        .update_web_acl()
        .name(acl.name())
        .id(acl.id())
        .scope(WafScope::Regional)
        .set_default_action(acl.default_action().cloned())
        .set_visibility_config(acl.visibility_config().cloned())
        .set_rules(Some(rules))
        .lock_token(token)
        .send()
        .await
        .expect("UpdateWebACL");
}
