//! The IAM policies a caller needs to run albkit, scoped to one stack (`albkit iam-policy`).
//!
//! Two audiences: [`Audience::Deploy`] (`up`, `deploy`, `rollback`, `down`) and
//! [`Audience::Plan`] (`plan`, `status`, `versions`, `logs`, `doctor`), which is read-only. Every
//! statement names the stack's own resources wherever the service authorizes the action
//! on a resource ARN, and adds the `albkit:stack` tag as a condition wherever the service
//! evaluates `aws:RequestTag` (on create) or `aws:ResourceTag` (on existing resources).
//! A `*` resource is written only for actions that AWS authorizes on no resource (the
//! `Describe*`/`List*` calls); each such statement says so in [`Statement::star_because`].
//! docs/permissions.md explains every statement, with the AWS references.
//!
//! Pure: built from the validated configuration, the region and the account.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::config::{Attach, Config, IpAddressType, Network};
use super::mtls::KEY_PREFIX;
use super::names::{Names, TAG_STACK};
use super::stack::partition;

/// Which commands the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `up`, `deploy`, `rollback`, `down`.
    Deploy,
    /// `plan`, `status`, `versions`, `logs`, `doctor`: read-only.
    Plan,
}

impl Audience {
    pub fn as_str(&self) -> &'static str {
        match self {
            Audience::Deploy => "deploy",
            Audience::Plan => "plan",
        }
    }
}

/// One statement of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<String>,
    /// operator → key → values (AND across keys, OR across values).
    pub conditions: BTreeMap<&'static str, BTreeMap<String, Vec<String>>>,
    /// Why the resource is `*`: AWS authorizes these actions on no resource ARN.
    pub star_because: Option<&'static str>,
    /// Set by [`merge`] when another statement has the same Sid.
    pub numbered: Option<usize>,
}

impl Statement {
    fn new(sid: &'static str, actions: &[&'static str], resources: Vec<String>) -> Self {
        Self {
            sid,
            actions: actions.to_vec(),
            resources,
            conditions: BTreeMap::new(),
            star_because: None,
            numbered: None,
        }
    }

    /// A statement on `*`, with the reason no narrower resource exists.
    fn star(sid: &'static str, actions: &[&'static str], because: &'static str) -> Self {
        Self {
            star_because: Some(because),
            ..Self::new(sid, actions, vec!["*".into()])
        }
    }

    fn when(mut self, operator: &'static str, key: impl Into<String>, values: &[&str]) -> Self {
        self.conditions.entry(operator).or_default().insert(
            key.into(),
            values
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        );
        self
    }

    fn to_json(&self) -> Value {
        let mut s = Map::new();
        let sid = match self.numbered {
            Some(n) => format!("{}{n}", self.sid),
            None => self.sid.to_string(),
        };
        s.insert("Sid".into(), json!(sid));
        s.insert("Effect".into(), json!("Allow"));
        s.insert("Action".into(), json!(self.actions));
        let resource = match self.resources.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        s.insert("Resource".into(), resource);
        if !self.conditions.is_empty() {
            let mut c = Map::new();
            for (op, keys) in &self.conditions {
                let mut k = Map::new();
                for (key, values) in keys {
                    let v = match values.as_slice() {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    k.insert(key.clone(), v);
                }
                c.insert((*op).into(), Value::Object(k));
            }
            s.insert("Condition".into(), Value::Object(c));
        }
        Value::Object(s)
    }
}

/// What the policy is scoped to.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub config: &'a Config,
    pub region: &'a str,
    pub account: &'a str,
}

/// The policy's statements for `audience`.
pub fn statements(scope: &Scope<'_>, audience: Audience) -> Vec<Statement> {
    let s = Arns::new(scope);
    let mut out = vec![read_everywhere(audience)];
    out.extend(read_stack(&s, scope, audience));
    if audience == Audience::Deploy {
        if let Some(attach) = &scope.config.load_balancer.attach {
            out.extend(attached(&s, attach));
        } else {
            out.extend(network(&s, scope));
            out.extend(load_balancer(&s, scope));
        }
        out.extend(functions(&s, scope));
        out.extend(roles(&s, scope));
        out.extend(buckets(&s, scope));
        out.extend(https(&s, scope));
        out.extend(mtls(&s, scope));
        out.extend(waf(&s, scope));
        out.extend(alarms(&s, scope));
        out.extend(oidc_client_secrets(scope));
        if scope.config.uses_progressive_deploys() {
            out.extend(deploy_gate(&s));
        }
    }
    merge(out)
}

/// The service of an action (`ec2` of `ec2:CreateVpc`) or of an ARN (`arn:aws:ec2:…`).
fn service_of_action(action: &str) -> &str {
    action.split(':').next().unwrap_or(action)
}

fn service_of_resource(arn: &str) -> &str {
    arn.split(':').nth(2).unwrap_or(arn)
}

fn services(st: &Statement) -> Vec<&str> {
    let mut out: Vec<&str> = st.actions.iter().map(|a| service_of_action(a)).collect();
    out.extend(st.resources.iter().map(|r| service_of_resource(r)));
    out.sort_unstable();
    out.dedup();
    out
}

/// Merges the statements that share a Sid: same conditions, and no service in common
/// (so that no action meets a resource it did not have before). A part that cannot
/// merge stays a statement of its own, its Sid numbered.
pub fn merge(list: Vec<Statement>) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    for st in list {
        let into = out.iter_mut().find(|o| {
            o.sid == st.sid
                && o.conditions == st.conditions
                && o.star_because == st.star_because
                && services(o).iter().all(|svc| !services(&st).contains(svc))
        });
        match into {
            Some(o) => {
                o.actions.extend(st.actions);
                o.resources.extend(st.resources);
            }
            None => out.push(st),
        }
    }
    // Sids must be unique in a policy.
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    for st in &mut out {
        let n = seen.entry(st.sid).or_insert(0);
        *n += 1;
        if *n > 1 {
            st.numbered = Some(*n);
        }
    }
    out
}

/// The most characters, white space not counted, a customer managed policy holds.
pub const MANAGED_POLICY_MAX: usize = 6_144;
/// The most characters the inline policies of one IAM role hold together.
pub const INLINE_ROLE_POLICY_MAX: usize = 10_240;

/// A policy document's size as IAM counts it: its JSON without white space.
pub fn size(doc: &Value) -> usize {
    doc.to_string().len()
}

/// The policy document (IAM JSON) for `audience`.
pub fn document(scope: &Scope<'_>, audience: Audience) -> Value {
    let statements: Vec<Value> = statements(scope, audience)
        .iter()
        .map(Statement::to_json)
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The ARNs and names every statement is built from.
struct Arns {
    partition: &'static str,
    region: String,
    account: String,
    stack: String,
    names: Names,
}

impl Arns {
    fn new(scope: &Scope<'_>) -> Self {
        let stack = scope.config.stack.name.clone();
        let names = Names::new(&stack, scope.region);
        Self {
            partition: partition(scope.region),
            region: scope.region.to_string(),
            account: scope.account.to_string(),
            stack,
            names,
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }

    /// Every function of the stack, with its versions and aliases: `<stack>-*` holds the
    /// current names (`<stack>--<function>`) and those of earlier versions
    /// (`<stack>-<function>`). The prefix also matches another stack whose name starts
    /// with `<stack>-`: that is why every statement that changes a function also asks
    /// for the stack's tag.
    fn functions(&self) -> Vec<String> {
        vec![self.arn("lambda", &format!("function:{}-*", self.stack))]
    }

    /// The functions albkit creates: `<stack>--*`, which no other stack's names can match
    /// (neither stack nor function names may contain `--`).
    fn new_functions(&self) -> Vec<String> {
        vec![self.arn("lambda", &format!("function:{}--*", self.stack))]
    }

    /// The log groups albkit creates, named after [`Self::new_functions`].
    fn new_log_groups(&self) -> Vec<String> {
        vec![self.arn("logs", &format!("log-group:/aws/lambda/{}--*", self.stack))]
    }

    /// The functions' log groups (`/aws/lambda/<function>`) and their streams.
    fn log_groups(&self) -> Vec<String> {
        vec![self.arn("logs", &format!("log-group:/aws/lambda/{}-*", self.stack))]
    }

    /// The stack's roles, in every region: under `/albkit/<stack>/`.
    fn roles(&self) -> Vec<String> {
        vec![format!(
            "arn:{}:iam::{}:role{}*",
            self.partition,
            self.account,
            self.names.role_path_prefix()
        )]
    }

    /// A role looked up by name before albkit knows whether it exists (discovery's
    /// `GetRole` of each configured name): IAM then authorizes the ARN without a path.
    fn roles_by_name(&self) -> Vec<String> {
        vec![format!(
            "arn:{}:iam::{}:role/albkit-{}-*",
            self.partition, self.account, self.stack
        )]
    }

    /// The load balancer, its listeners and their rules: the three ELB resource types
    /// whose ARN holds `app/<load balancer name>/`.
    fn load_balancer(&self) -> Vec<String> {
        let lb = self.names.load_balancer();
        vec![self.arn("elasticloadbalancing", &format!("*/app/{lb}/*"))]
    }

    /// Every EC2 resource of the region: the actions name the kinds (VPC, subnet, …) and
    /// the stack's tag (`aws:RequestTag` on create, `aws:ResourceTag` after) names the
    /// resources, so listing resource types beside them would narrow nothing.
    fn ec2(&self) -> Vec<String> {
        vec![self.arn("ec2", "*")]
    }

    /// Target group names start with `<stack>-` (32 characters at most, hence the tag
    /// condition beside this prefix).
    fn target_groups(&self) -> Vec<String> {
        vec![self.arn(
            "elasticloadbalancing",
            &format!("targetgroup/{}-*", self.stack),
        )]
    }

    /// The stack's alarms (`[alarms]`): `alarm:albkit-<stack>-alarm-*`. The prefix also
    /// matches stack `<stack>-alarm…`'s alarms: every change but `PutMetricAlarm` (whose
    /// request carries the stack's tag) asks for the stack's tag too.
    fn alarms(&self) -> Vec<String> {
        vec![self.arn(
            "cloudwatch",
            &format!("alarm:{}*", self.names.alarm_prefix()),
        )]
    }

    /// The stack's dashboard: `dashboard/albkit-<stack>-<region>` (dashboards are global
    /// to the account: their ARNs have no region).
    fn dashboard(&self) -> Vec<String> {
        vec![format!(
            "arn:{}:cloudwatch::{}:dashboard/{}",
            self.partition,
            self.account,
            self.names.dashboard()
        )]
    }

    /// The alarms' SNS topic: `albkit-<stack>-alarms`, no other stack's name.
    fn alarm_topic(&self) -> Vec<String> {
        vec![self.arn("sns", &self.names.alarm_topic())]
    }

    /// The stack's web ACL: `regional/webacl/<stack>-waf/<id>`.
    fn web_acl(&self) -> Vec<String> {
        vec![self.arn(
            "wafv2",
            &format!("regional/webacl/{}/*", self.names.web_acl()),
        )]
    }

    fn log_bucket(&self) -> String {
        self.names.log_bucket(&self.account)
    }

    fn lock_bucket(&self) -> String {
        self.names.lock_bucket(&self.account)
    }

    fn bucket(&self, name: &str) -> String {
        format!("arn:{}:s3:::{name}", self.partition)
    }

    /// This stack's lock: one object of the region's lock bucket.
    fn lock_object(&self) -> String {
        format!(
            "arn:{}:s3:::{}/{}",
            self.partition,
            self.lock_bucket(),
            self.names.lock_key()
        )
    }

    fn tag_key(&self) -> String {
        format!("aws:ResourceTag/{TAG_STACK}")
    }

    fn request_tag_key(&self) -> String {
        format!("aws:RequestTag/{TAG_STACK}")
    }
}

/// The statements are grouped by what proves a resource is the stack's: its name, the
/// stack's tag on the request that creates it, or the stack's tag on the resource. Parts of
/// one group from different services merge into one statement without widening anything,
/// since an action only ever applies to resources of its own service ([`merge`]).
const READ_BY_NAME: &str = "ReadStackByName";
const CREATE_TAGGED: &str = "CreateWithStackTag";
const CHANGE_TAGGED: &str = "ChangeStackTagged";
const CHANGE_BY_NAME: &str = "ChangeStackByName";

const NO_RESOURCE: &str = "AWS authorizes these List/Describe actions (and \
     lambda:GetAccountSettings, a read of the account, and cloudwatch:GetMetricData, a \
     read of metrics) on no resource ARN (Service Authorization Reference: no resource \
     type for the action)";

/// The listing and describing calls that discovery makes, which AWS authorizes on `*`
/// only. Read-only; the plan audience also reads the account's Lambda settings (`doctor`'s
/// concurrency check; ELB's account limits are one of the `Describe*`).
fn read_everywhere(audience: Audience) -> Statement {
    let mut actions = vec![
        "acm:ListCertificates",
        // Discovery reads the stack's alarms (and their tags) and its dashboard on every
        // run, to find them and to remove them when the config dropped `[alarms]`.
        "cloudwatch:DescribeAlarms",
        // GetDashboard, and `albkit top`'s one read of the stack's metrics,
        // GetMetricData (and CloudWatch's other Get calls, all reads).
        "cloudwatch:Get*",
        // ListDashboards and ListTagsForResource (the alarms' tags), and CloudWatch's
        // other List calls.
        "cloudwatch:List*",
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeInternetGateways",
        "ec2:DescribeRouteTables",
        // DescribeSecurityGroupRules and DescribeSecurityGroups (and the groups'
        // references and VPC associations).
        "ec2:DescribeSecurityGroup*",
        "ec2:DescribeSubnets",
        "ec2:DescribeTags",
        // DescribeVpcAttribute and DescribeVpcs (and the VPCs' endpoints, peerings and
        // the like): reads of network configuration.
        "ec2:DescribeVpc*",
        // Every ELB Describe action is a read of load balancing configuration.
        "elasticloadbalancing:Describe*",
        "iam:ListRoles",
        "lambda:ListFunctions",
        "logs:DescribeLogGroups",
        // ListTopics, ListTagsForResource, ListSubscriptionsByTopic: discovery looks
        // for the alarms' topic by name among the region's, then reads its tags and
        // subscriptions (and the other SNS List calls, all reads).
        "sns:List*",
        "wafv2:ListWebACLs",
    ];
    if audience == Audience::Plan {
        actions.push("lambda:GetAccountSettings");
        actions.sort_unstable();
    }
    Statement::star("ListAndDescribe", &actions, NO_RESOURCE)
}

/// Reads of the stack's own resources, by name: both audiences (the plan audience also
/// reads the hosted zone's name servers, for `doctor`).
fn read_stack(s: &Arns, scope: &Scope<'_>, audience: Audience) -> Vec<Statement> {
    let mut out = vec![
        Statement::new(
            READ_BY_NAME,
            // Reads of the stack's own functions only (name); `Get*` is GetFunction,
            // GetFunctionConfiguration, GetAlias, GetPolicy and their kind.
            &[
                "lambda:Get*",
                "lambda:ListTags",
                "lambda:ListVersionsByFunction",
            ],
            s.functions(),
        ),
        Statement::new(
            READ_BY_NAME,
            &["logs:FilterLogEvents", "logs:ListTagsForResource"],
            s.log_groups(),
        ),
        Statement::new(
            READ_BY_NAME,
            // GetRole and GetRolePolicy; ListAttachedRolePolicies and ListRolePolicies.
            &["iam:GetRole*", "iam:List*RolePolicies"],
            [s.roles(), s.roles_by_name()].concat(),
        ),
    ];
    let mut buckets = Vec::new();
    if has_bucket(scope) {
        buckets.push(s.bucket(&s.log_bucket()));
    }
    buckets.push(s.bucket(&s.lock_bucket()));
    // `status` reads who holds the stack's lock.
    buckets.push(s.lock_object());
    out.push(Statement::new(
        READ_BY_NAME,
        // Reads of the stack's two buckets and its lock object only (name).
        &[
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetObject",
            "s3:ListBucket",
        ],
        buckets,
    ));
    out.extend(read_waf(s, scope, audience));
    if let Some(https) = &scope.config.https {
        out.push(Statement::new(
            READ_BY_NAME,
            &["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
            vec![s.arn("acm", "certificate/*")],
        ));
        if let Some(zone) = &https.hosted_zone_id {
            let actions: &[&'static str] = match audience {
                Audience::Plan => &["route53:GetHostedZone", "route53:ListResourceRecordSets"],
                Audience::Deploy => &["route53:ListResourceRecordSets"],
            };
            out.push(Statement::new(
                READ_BY_NAME,
                actions,
                vec![format!(
                    "arn:{}:route53:::hostedzone/{}",
                    s.partition,
                    zone.as_str()
                )],
            ));
        }
    }
    out
}

/// With `[waf]`, for the plan audience: the stack's web ACL (by name) and which web ACL
/// its load balancer has. The deploy audience has them among [`waf`]'s.
fn read_waf(s: &Arns, scope: &Scope<'_>, audience: Audience) -> Option<Statement> {
    (scope.config.waf.is_some() && audience == Audience::Plan).then(|| {
        Statement::new(
            READ_BY_NAME,
            &[
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:ListTagsForResource",
            ],
            [s.web_acl(), s.load_balancer()].concat(),
        )
    })
}

/// The VPC, subnets, internet gateway, route table and security group: created only
/// with the stack's tag, changed and deleted only when they carry it.
fn network(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut create = vec!["ec2:CreateSecurityGroup"];
    if matches!(scope.config.network, Network::Managed { .. }) {
        create.extend([
            "ec2:CreateInternetGateway",
            "ec2:CreateRouteTable",
            "ec2:CreateSubnet",
            "ec2:CreateVpc",
        ]);
    }
    create.sort_unstable();
    out.push(Statement::new(CREATE_TAGGED, &create, s.ec2()).when(
        "StringEquals",
        s.request_tag_key(),
        &[&s.stack],
    ));
    // Tags set by the create call itself (TagSpecifications).
    out.push(
        Statement::new("TagEc2OnCreate", &["ec2:CreateTags"], s.ec2()).when(
            "StringEquals",
            "ec2:CreateAction",
            &[
                "CreateInternetGateway",
                "CreateRouteTable",
                "CreateSecurityGroup",
                "CreateSubnet",
                "CreateVpc",
            ],
        ),
    );
    // Wildcards that name exactly the calls albkit makes (and their siblings on the same
    // kind of resource): `AuthorizeSecurityGroup*` is Ingress and Egress, `*RouteTable`
    // Associate, Disassociate, Create and Delete, `*Route` Create, Replace and Delete,
    // `*InternetGateway` Attach, Detach, Create and Delete. All on resources that carry
    // the stack's tag only.
    let mut change = vec![
        "ec2:AuthorizeSecurityGroup*",
        "ec2:CreateTags",
        "ec2:DeleteSecurityGroup",
        "ec2:DeleteTags",
        "ec2:RevokeSecurityGroup*",
    ];
    if matches!(scope.config.network, Network::Managed { .. }) {
        change.extend([
            "ec2:*InternetGateway",
            "ec2:*Route",
            "ec2:*RouteTable",
            "ec2:DeleteSubnet",
            "ec2:DeleteVpc",
            "ec2:ModifyVpcAttribute",
        ]);
        // A dualstack load balancer: an Amazon-provided /56 for the VPC, a /64 of it
        // for each subnet (docs/dualstack.md).
        if scope.config.load_balancer.ip_address_type == IpAddressType::Dualstack {
            change.extend(["ec2:AssociateSubnetCidrBlock", "ec2:AssociateVpcCidrBlock"]);
        }
    }
    change.sort_unstable();
    out.push(Statement::new(CHANGE_TAGGED, &change, s.ec2()).when(
        "StringEquals",
        s.tag_key(),
        &[&s.stack],
    ));
    out
}

/// The load balancer, its listeners and rules, and the target groups.
fn load_balancer(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    let created = [s.load_balancer(), s.target_groups()].concat();
    let mut change = vec![
        "elasticloadbalancing:*Tags",
        "elasticloadbalancing:*Targets",
        "elasticloadbalancing:Delete*",
        "elasticloadbalancing:Modify*",
        "elasticloadbalancing:Set*",
    ];
    // `extra_certificate_arns`: Add/RemoveListenerCertificates on the HTTPS listener.
    if scope
        .config
        .https
        .as_ref()
        .is_some_and(|h| h.extra_certificate_arns.is_some())
    {
        change.insert(0, "elasticloadbalancing:*ListenerCertificates");
    }
    vec![
        Statement::new(
            CREATE_TAGGED,
            &[
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:CreateTargetGroup",
            ],
            created.clone(),
        )
        .when("StringEquals", s.request_tag_key(), &[&s.stack]),
        // ELB asks for AddTags on the resource a create call tags.
        Statement::new(
            "TagElbOnCreate",
            &["elasticloadbalancing:AddTags"],
            created.clone(),
        )
        .when(
            "StringEquals",
            "elasticloadbalancing:CreateAction",
            &[
                "CreateListener",
                "CreateLoadBalancer",
                "CreateRule",
                "CreateTargetGroup",
            ],
        ),
        Statement::new(
            CHANGE_TAGGED,
            // Every Delete/Modify/Set action and the tag and target calls, on the stack's
            // own load balancer, listeners, rules and target groups only (name and tag).
            &change,
            created,
        )
        .when("StringEquals", s.tag_key(), &[&s.stack]),
    ]
}

/// Attach mode (docs/attach.md): rules on the configured listeners and the stack's
/// target groups, nothing else of ELB. `CreateRule` is authorized on the listener (ELB
/// asks for `AddTags` on the new rule, `listener-rule/…/<listener id>/<rule id>`); a
/// rule is then changed, moved (`SetRulePriorities`) and deleted only when it carries the
/// stack's tag, so another team's rules on the same listener stay out of reach, and no
/// action on the listener or the load balancer itself is allowed.
fn attached(s: &Arns, attach: &Attach) -> Vec<Statement> {
    let listeners: Vec<String> = attach
        .listeners()
        .into_iter()
        .map(|(_, _, arn)| arn.to_string())
        .collect();
    let rules: Vec<String> = listeners
        .iter()
        .map(|l| format!("{}/*", l.replacen(":listener/", ":listener-rule/", 1)))
        .collect();
    let created = [rules, s.target_groups()].concat();
    let tagged = |st: Statement| st.when("StringEquals", s.request_tag_key(), &[&s.stack]);
    vec![
        tagged(Statement::new(
            CREATE_TAGGED,
            &["elasticloadbalancing:CreateRule"],
            listeners,
        )),
        tagged(Statement::new(
            CREATE_TAGGED,
            &["elasticloadbalancing:CreateTargetGroup"],
            s.target_groups(),
        )),
        Statement::new(
            "TagElbOnCreate",
            &["elasticloadbalancing:AddTags"],
            created.clone(),
        )
        .when(
            "StringEquals",
            "elasticloadbalancing:CreateAction",
            &["CreateRule", "CreateTargetGroup"],
        ),
        Statement::new(
            CHANGE_TAGGED,
            &[
                "elasticloadbalancing:*Tags",
                "elasticloadbalancing:*Targets",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:ModifyTargetGroup*",
                "elasticloadbalancing:SetRulePriorities",
            ],
            created,
        )
        .when("StringEquals", s.tag_key(), &[&s.stack]),
    ]
}

/// `[waf]`: the web ACL, by its name (`regional/webacl/<stack>-waf/*`), and its
/// association with the stack's load balancer. `*WebACL` is Create, Get, Update, Delete,
/// Associate and Disassociate WebACL (and ListResourcesForWebACL); `*Resource` is Tag,
/// Untag and ListTagsFor Resource and GetWebACLForResource. The rules name AWS's managed
/// rule groups (`managedruleset`), which `CreateWebACL` and `UpdateWebACL` are also
/// authorized on; `AssociateWebACL` and `GetWebACLForResource` on the load balancer too,
/// which also needs `elasticloadbalancing:SetWebAcl` (the `Set*` of [`load_balancer`]).
fn waf(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    if scope.config.waf.is_none() {
        return Vec::new();
    }
    let managed = s.arn("wafv2", "regional/managedruleset/*/*");
    vec![Statement::new(
        CHANGE_BY_NAME,
        &["wafv2:*Resource", "wafv2:*WebACL"],
        [s.web_acl(), vec![managed], s.load_balancer()].concat(),
    )]
}

/// `[alarms]`: the alarms, created with the stack's tag and deleted or untagged only
/// when they carry it; the SNS topic, by its name (no other stack's), created with the
/// stack's tag. `Subscribe` and `Unsubscribe` are authorized on the topic. The
/// dashboard, which takes no tags, by its name (stack and region).
fn alarms(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    if scope.config.alarms.is_none() {
        return Vec::new();
    }
    vec![
        Statement::new(
            CREATE_TAGGED,
            &["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
            s.alarms(),
        )
        .when("StringEquals", s.request_tag_key(), &[&s.stack]),
        Statement::new(
            CHANGE_TAGGED,
            &["cloudwatch:DeleteAlarms", "cloudwatch:UntagResource"],
            s.alarms(),
        )
        .when("StringEquals", s.tag_key(), &[&s.stack]),
        Statement::new(
            CHANGE_BY_NAME,
            &["cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"],
            s.dashboard(),
        ),
        Statement::new(
            CHANGE_BY_NAME,
            &[
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:Unsubscribe",
                "sns:UntagResource",
            ],
            s.alarm_topic(),
        ),
    ]
}

/// The OIDC logins' client secrets, read by `up` right before it creates or changes a
/// rule with the `authenticate-oidc` action: exactly the configured secrets' ARNs.
fn oidc_client_secrets(scope: &Scope<'_>) -> Vec<Statement> {
    let arns: Vec<String> = scope
        .config
        .oidc_client_secrets()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if arns.is_empty() {
        return Vec::new();
    }
    vec![Statement::new(
        "ReadOidcClientSecrets",
        &["secretsmanager:GetSecretValue"],
        arns,
    )]
}

/// The functions and their log groups.
fn functions(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    let mut keys: Vec<String> = scope
        .config
        .functions
        .iter()
        .filter_map(|f| f.kms_key_arn.clone())
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    if !keys.is_empty() {
        // Lambda encrypts the environment with the caller's rights on the key, and
        // creates a grant for the function (AWS Lambda Developer Guide, "Securing
        // environment variables").
        out.push(Statement::new(
            "UseFunctionKeys",
            &[
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
            ],
            keys,
        ));
    }
    out.extend([
        Statement::new(
            CREATE_TAGGED,
            &["lambda:CreateFunction", "lambda:TagResource"],
            s.new_functions(),
        )
        .when("StringEquals", s.request_tag_key(), &[&s.stack]),
        Statement::new(CHANGE_TAGGED, &change_functions(scope), s.functions()).when(
            "StringEquals",
            s.tag_key(),
            &[&s.stack],
        ),
        Statement::new(
            CREATE_TAGGED,
            &["logs:CreateLogGroup", "logs:TagResource"],
            s.new_log_groups(),
        )
        .when("StringEquals", s.request_tag_key(), &[&s.stack]),
        Statement::new(
            CHANGE_TAGGED,
            &[
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            s.log_groups(),
        )
        .when("StringEquals", s.tag_key(), &[&s.stack]),
    ]);
    out
}

/// What may be done to the stack's functions. `*Alias`: Create, Update (and Get,
/// Delete) Alias; `*Permission`: Add and Remove Permission; `*Resource`: Tag and Untag
/// Resource; `*FunctionConcurrency`: Put and Delete (and Get) the reserved concurrency;
/// `*ProvisionedConcurrencyConfig`: Put and Delete (and Get) the provisioned concurrency
/// of the `live` alias, when the config sets some. Without it only its removal: `up`
/// removes one that was set by hand or whose key was dropped.
fn change_functions(scope: &Scope<'_>) -> Vec<&'static str> {
    let provisioned = scope
        .config
        .functions
        .iter()
        .any(|f| f.provisioned_concurrency.is_some());
    let mut actions = vec![
        "lambda:*Alias",
        "lambda:*FunctionConcurrency",
        "lambda:*Permission",
        "lambda:*Resource",
        "lambda:DeleteFunction",
        "lambda:InvokeFunction",
        "lambda:PublishVersion",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        if provisioned {
            "lambda:*ProvisionedConcurrencyConfig"
        } else {
            "lambda:DeleteProvisionedConcurrencyConfig"
        },
    ];
    actions.sort_unstable();
    actions
}

/// A canary or linear deploy's gate alarms (`deploy_strategy`), all named
/// `albkit-<stack>--<function>-gate-…`: created with the stack's tag (`TagResource` is
/// what tagging on creation needs), deleted only when tagged; read as every discovery
/// reads alarms.
/// The alias's weights are `lambda:UpdateAlias`, already in [`functions`].
fn deploy_gate(s: &Arns) -> Vec<Statement> {
    let alarms = vec![s.arn(
        "cloudwatch",
        &format!("alarm:{}*", s.names.gate_alarm_stack_prefix()),
    )];
    // Their reads (`DescribeAlarms`, `List*`) are every discovery's, in
    // [`read_everywhere`].
    vec![
        Statement::new(
            CREATE_TAGGED,
            &["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
            alarms.clone(),
        )
        .when("StringEquals", s.request_tag_key(), &[&s.stack]),
        Statement::new(CHANGE_TAGGED, &["cloudwatch:DeleteAlarms"], alarms).when(
            "StringEquals",
            s.tag_key(),
            &[&s.stack],
        ),
    ]
}

/// The execution roles: created under the stack's path with its tag (and the
/// permissions boundary, when one is configured), passed to Lambda only.
fn roles(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    // The actions whose requests carry `iam:PermissionsBoundary` (the role's boundary).
    let policies = [
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePolicy",
    ];
    let mut other = vec![
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:UpdateAssumeRolePolicy",
    ];
    let mut out = Vec::new();
    if let Some(boundary) = &scope.config.stack.permissions_boundary {
        // A role is created, and its policies changed, only with the boundary on it; the
        // path `/albkit/<stack>/` is the proof of the stack's.
        let mut with = vec!["iam:CreateRole", "iam:PutRolePermissionsBoundary"];
        with.extend(policies);
        with.sort_unstable();
        out.push(Statement::new("RolesWithBoundary", &with, s.roles()).when(
            "StringEquals",
            "iam:PermissionsBoundary",
            &[boundary],
        ));
    } else {
        out.push(
            Statement::new(CREATE_TAGGED, &["iam:CreateRole"], s.roles()).when(
                "StringEquals",
                s.request_tag_key(),
                &[&s.stack],
            ),
        );
        // No boundary is configured: a boundary left on a role from before goes.
        other.extend(policies);
        other.push("iam:DeleteRolePermissionsBoundary");
        other.sort_unstable();
    }
    out.push(Statement::new(CHANGE_BY_NAME, &other, s.roles()));
    out.push(
        Statement::new("PassRolesToLambda", &["iam:PassRole"], s.roles()).when(
            "StringEquals",
            "iam:PassedToService",
            &["lambda.amazonaws.com"],
        ),
    );
    out
}

/// The access-log bucket and the region's lock bucket.
fn buckets(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    let mut resources = vec![s.bucket(&s.lock_bucket()), s.lock_object()];
    if has_bucket(scope) {
        resources.push(s.bucket(&s.log_bucket()));
        // `down --purge-logs` deletes the access logs (every version of them).
        resources.push(format!("{}/*", s.bucket(&s.log_bucket())));
    }
    vec![
        Statement::new(
            CHANGE_BY_NAME,
            &[
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:ListBucketVersions",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
            ],
            resources,
        ),
        Statement::new("WriteLock", &["s3:PutObject"], vec![s.lock_object()]),
    ]
}

/// Whether the stack has its bucket: for access logs, or for `[https.mtls]`'s CA bundle.
fn has_bucket(scope: &Scope<'_>) -> bool {
    let mtls = scope
        .config
        .https
        .as_ref()
        .is_some_and(|h| h.mtls.is_some());
    scope.config.load_balancer.access_logs || mtls
}

/// `[https.mtls]`: the stack's trust store (by name) and its CA bundle's objects in the
/// stack's bucket (`mtls/*`). ELB reads the bundle with the caller's `s3:GetObject`.
/// `ModifyListener` (verify mode) is among [`load_balancer`]'s; `DescribeTrustStores`
/// among the `Describe*` of [`read_everywhere`].
fn mtls(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    if scope
        .config
        .https
        .as_ref()
        .and_then(|h| h.mtls.as_ref())
        .is_none()
    {
        return Vec::new();
    }
    let store = s.arn(
        "elasticloadbalancing",
        &format!("truststore/{}/*", s.names.trust_store()),
    );
    vec![
        Statement::new(
            CHANGE_BY_NAME,
            &[
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:CreateTrustStore",
                "elasticloadbalancing:DeleteTrustStore",
                "elasticloadbalancing:ModifyTrustStore",
                "elasticloadbalancing:RemoveTags",
            ],
            vec![store],
        ),
        Statement::new(
            CHANGE_BY_NAME,
            &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            vec![format!("{}/{}*", s.bucket(&s.log_bucket()), KEY_PREFIX)],
        ),
    ]
}

/// The certificate and its DNS validation records.
fn https(s: &Arns, scope: &Scope<'_>) -> Vec<Statement> {
    let Some(https) = &scope.config.https else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if https.certificate_arn.is_none() {
        out.push(
            Statement::new(
                CREATE_TAGGED,
                &["acm:AddTagsToCertificate", "acm:RequestCertificate"],
                vec![s.arn("acm", "certificate/*")],
            )
            .when("StringEquals", s.request_tag_key(), &[&s.stack]),
        );
        out.push(
            Statement::new(
                CHANGE_TAGGED,
                &[
                    "acm:AddTagsToCertificate",
                    "acm:DeleteCertificate",
                    "acm:RemoveTagsFromCertificate",
                ],
                vec![s.arn("acm", "certificate/*")],
            )
            .when("StringEquals", s.tag_key(), &[&s.stack]),
        );
    }
    if let Some(zone) = &https.hosted_zone_id {
        // Route 53 scopes record changes to the zone; the record names are limited to
        // the domain and its validation records by the condition.
        out.push(
            Statement::new(
                "ChangeDnsRecords",
                &["route53:ChangeResourceRecordSets"],
                vec![format!(
                    "arn:{}:route53:::hostedzone/{}",
                    s.partition,
                    zone.as_str()
                )],
            )
            .when(
                "ForAllValues:StringLike",
                "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                &[
                    https.domain.trim_start_matches("*."),
                    &format!("*.{}", https.domain.trim_start_matches("*.")),
                ],
            ),
        );
    }
    out
}

/// How many statements, and how many of them are on `*`.
pub fn summary(statements: &[Statement]) -> (usize, usize) {
    let star = statements
        .iter()
        .filter(|s| s.resources.iter().any(|r| r == "*"))
        .count();
    (statements.len(), star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate::parse_str;

    /// A config of `functions` functions, with the optional parts turned on or off.
    fn config(functions: usize, full: bool, sections: &str) -> Config {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = String::from("[stack]\nname = \"shop\"\n");
        if full {
            text.push_str(
                "permissions_boundary = \"arn:aws:iam::123456789012:policy/albkit-boundary\"\n\n\
                 [https]\ndomain = \"api.example.com\"\nhosted_zone_id = \"Z0123456789ABCDEFGHIJ\"\n",
            );
        }
        text.push_str(sections);
        for i in 0..functions {
            let path = dir.path().join(format!("functions/f{i}"));
            std::fs::create_dir_all(&path).expect("mkdir");
            std::fs::write(path.join("Cargo.toml"), "[package]\nname = \"f\"\n").expect("write");
            text.push_str(&format!(
                "\n[[functions]]\nname = \"function-number-{i}\"\npath = \"functions/f{i}\"\n"
            ));
            if full {
                text.push_str(&format!(
                    "kms_key_arn = \"arn:aws:kms:eu-west-1:123456789012:key/shop-key\"\n\
                     secrets = {{ DB_URL = \"ssm:/shop/db-{i}\" }}\n"
                ));
            }
        }
        parse_str(&text, dir.path()).expect("valid config")
    }

    fn policy(config: &Config, audience: Audience) -> Vec<Statement> {
        statements(
            &Scope {
                config,
                region: "eu-west-1",
                account: "123456789012",
            },
            audience,
        )
    }

    fn actions(list: &[Statement]) -> Vec<&'static str> {
        list.iter()
            .flat_map(|s| s.actions.iter().copied())
            .collect()
    }

    #[test]
    fn only_list_and_describe_calls_are_on_every_resource() {
        for c in [config(1, false, ""), config(3, true, "")] {
            for audience in [Audience::Deploy, Audience::Plan] {
                for s in policy(&c, audience) {
                    let star = s.resources.iter().any(|r| r == "*");
                    assert_eq!(star, s.star_because.is_some(), "{s:?}");
                    if star {
                        assert_eq!(s.resources, ["*"]);
                        assert!(
                            s.actions.iter().all(|a| {
                                let verb = a.split(':').nth(1).unwrap_or_default();
                                verb.starts_with("Describe")
                                    || verb.starts_with("List")
                                    || *a == "lambda:GetAccountSettings"
                                    || *a == "cloudwatch:Get*"
                            }),
                            "{s:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn listener_certificates_may_change_only_when_the_config_lists_them() {
        let action = "elasticloadbalancing:*ListenerCertificates";
        let mut c = config(1, true, "");
        assert!(!actions(&policy(&c, Audience::Deploy)).contains(&action));
        if let Some(h) = c.https.as_mut() {
            h.extra_certificate_arns = Some(vec![]);
        }
        let deploy = policy(&c, Audience::Deploy);
        let statement = deploy
            .iter()
            .find(|s| s.actions.contains(&action))
            .expect("listed");
        assert_eq!(statement.sid, CHANGE_TAGGED);
        assert!(statement.resources.iter().any(|r| r.contains("/app/")));
        assert!(!actions(&policy(&c, Audience::Plan)).contains(&action));
    }

    #[test]
    fn the_trust_store_and_its_bundle_may_change_only_with_mtls() {
        let create = "elasticloadbalancing:CreateTrustStore";
        let mut c = config(1, true, "");
        let without = actions(&policy(&c, Audience::Deploy));
        assert!(!without.contains(&create));
        let pem = include_bytes!("../../tests/fixtures/mtls/ca-one.pem");
        let bundle = crate::model::mtls::check_bundle(pem).expect("valid");
        if let Some(h) = c.https.as_mut() {
            h.mtls = Some(crate::model::config::MtlsSettings {
                path: "ca.pem".into(),
                bundle,
            });
        }
        c.load_balancer.access_logs = false;
        let deploy = policy(&c, Audience::Deploy);
        let store = deploy
            .iter()
            .find(|s| s.actions.contains(&create))
            .expect("listed");
        // Merged with other services' by-name statements: its ELB resource is the one.
        let elb: Vec<&String> = store
            .resources
            .iter()
            .filter(|r| service_of_resource(r) == "elasticloadbalancing")
            .collect();
        assert_eq!(
            elb,
            ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/shop-mtls/*"]
        );
        let bucket = "arn:aws:s3:::albkit-shop-logs-123456789012-eu-west-1";
        let objects = deploy
            .iter()
            .find(|s| s.actions.contains(&"s3:PutObject") && s.actions.contains(&"s3:GetObject"))
            .expect("listed");
        assert_eq!(objects.resources, [format!("{bucket}/mtls/*")]);
        // Without access logs the bucket is still the stack's, for the bundle.
        assert!(deploy
            .iter()
            .any(|s| s.actions.contains(&"s3:CreateBucket")
                && s.resources.contains(&bucket.to_string())));
        assert!(!actions(&policy(&c, Audience::Plan)).contains(&create));
        // Like `[waf]`: beside everything else (a permissions boundary, a hosted zone, a
        // KMS key, secrets) it is an inline policy's; beside plain HTTPS, a managed one's.
        let chars = |config: &Config| {
            size(&document(
                &Scope {
                    config,
                    region: "eu-west-1",
                    account: "123456789012",
                },
                Audience::Deploy,
            ))
        };
        assert!(chars(&c) <= INLINE_ROLE_POLICY_MAX, "{}", chars(&c));
        let mut plain = config(1, false, "[https]\ndomain = \"api.example.com\"\n");
        if let Some(h) = plain.https.as_mut() {
            h.mtls = c.https.as_ref().and_then(|h| h.mtls.clone());
        }
        assert!(chars(&plain) <= MANAGED_POLICY_MAX, "{}", chars(&plain));
    }

    #[test]
    fn provisioned_concurrency_may_be_set_only_when_the_config_sets_it() {
        let (all, delete) = (
            "lambda:*ProvisionedConcurrencyConfig",
            "lambda:DeleteProvisionedConcurrencyConfig",
        );
        let mut c = config(1, false, "");
        let without = actions(&policy(&c, Audience::Deploy));
        assert!(without.contains(&delete) && !without.contains(&all));
        c.functions[0].provisioned_concurrency = Some(2);
        let deploy = policy(&c, Audience::Deploy);
        let statement = deploy
            .iter()
            .find(|s| s.actions.contains(&all))
            .expect("listed");
        assert_eq!(statement.sid, CHANGE_TAGGED);
        assert!(!statement.actions.contains(&delete));
        let plan = actions(&policy(&c, Audience::Plan));
        assert!(!plan.contains(&all) && !plan.contains(&delete));
    }

    #[test]
    fn gate_alarms_are_allowed_only_when_a_function_deploys_by_steps() {
        let mut c = config(1, false, "");
        let gate = "cloudwatch:PutMetricAlarm";
        assert!(!actions(&policy(&c, Audience::Deploy)).contains(&gate));
        c.functions[0].deploy_strategy = "canary:10%:5m".parse().expect("strategy");
        let deploy = policy(&c, Audience::Deploy);
        for action in [gate, "cloudwatch:TagResource", "cloudwatch:DeleteAlarms"] {
            let st = deploy
                .iter()
                .find(|s| s.actions.contains(&action))
                .expect(action);
            assert_eq!(
                st.resources
                    .iter()
                    .filter(|r| r.contains(":cloudwatch:"))
                    .collect::<Vec<_>>(),
                ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:albkit-shop--*"],
                "{action}"
            );
        }
        let create = deploy.iter().find(|s| s.actions.contains(&gate));
        assert_eq!(create.map(|s| s.sid), Some(CREATE_TAGGED));
        assert!(!actions(&policy(&c, Audience::Plan)).contains(&gate));
        // Reading them is every discovery's (the stack's own alarms).
        for read in ["cloudwatch:DescribeAlarms", "cloudwatch:List*"] {
            let st = deploy.iter().find(|s| s.actions.contains(&read));
            assert_eq!(st.map(|s| s.resources.clone()), Some(vec!["*".to_string()]));
        }
    }

    #[test]
    fn alarms_may_change_only_with_the_section_and_are_always_read() {
        let put = "cloudwatch:PutMetricAlarm";
        let c = config(1, false, "");
        for audience in [Audience::Deploy, Audience::Plan] {
            let p = policy(&c, audience);
            assert!(!actions(&p).contains(&put));
            assert!(!actions(&p).contains(&"sns:CreateTopic"));
            let read = p
                .iter()
                .find(|s| s.actions.contains(&"cloudwatch:DescribeAlarms"))
                .expect("read alarms");
            assert_eq!(read.resources, ["*"]);
            assert!(read.actions.contains(&"cloudwatch:List*"));
            assert!(read.actions.contains(&"cloudwatch:Get*"));
            assert!(read.actions.contains(&"sns:List*"));
        }
        let c = config(1, false, "[alarms]\nnotify = [\"ops@example.com\"]\n");
        let deploy = policy(&c, Audience::Deploy);
        let create = deploy.iter().find(|s| s.actions.contains(&put)).expect(put);
        assert_eq!(create.sid, CREATE_TAGGED);
        assert!(create.resources.contains(
            &"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:albkit-shop-alarm-*".to_string()
        ));
        let delete = deploy
            .iter()
            .find(|s| s.actions.contains(&"cloudwatch:DeleteAlarms"))
            .expect("delete");
        assert_eq!(delete.sid, CHANGE_TAGGED);
        let topic = deploy
            .iter()
            .find(|s| s.actions.contains(&"sns:Subscribe"))
            .expect("subscribe");
        assert!(topic
            .resources
            .contains(&"arn:aws:sns:eu-west-1:123456789012:albkit-shop-alarms".to_string()));
        let board = deploy
            .iter()
            .find(|s| s.actions.contains(&"cloudwatch:PutDashboard"))
            .expect("dashboard");
        assert!(board.resources.contains(
            &"arn:aws:cloudwatch::123456789012:dashboard/albkit-shop-eu-west-1".to_string()
        ));
        assert!(!actions(&policy(&c, Audience::Plan)).contains(&put));
    }

    #[test]
    fn attach_mode_writes_rules_on_the_listener_and_target_groups_only() {
        let listener = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/0123456789abcdef/aaaa1111bbbb2222";
        let sections = format!("[load_balancer]\nlistener_arn = \"{listener}\"\n");
        let list = policy(&config(2, false, &sections), Audience::Deploy);
        let all = actions(&list);
        for never in [
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:Modify*",
            "elasticloadbalancing:Delete*",
            "elasticloadbalancing:Set*",
            "ec2:CreateSecurityGroup",
            "ec2:CreateVpc",
        ] {
            assert!(!all.contains(&never), "{never} in attach mode: {all:?}");
        }
        // S3: the lock only; the load balancer's access logs are not the stack's.
        let s3: Vec<&String> = list
            .iter()
            .filter(|st| st.actions.iter().any(|a| a.starts_with("s3:")))
            .flat_map(|st| &st.resources)
            .filter(|r| r.starts_with("arn:aws:s3:"))
            .collect();
        assert!(s3.iter().all(|r| r.contains("albkit-locks-")), "{s3:?}");
        let with = |action: &str| -> Vec<&Statement> {
            list.iter()
                .filter(|st| st.actions.contains(&action))
                .collect()
        };
        // Merged statements hold other services' resources too, which ELB actions never meet.
        let elb = |st: &Statement| -> Vec<String> {
            st.resources
                .iter()
                .filter(|r| r.starts_with("arn:aws:elasticloadbalancing:"))
                .cloned()
                .collect()
        };
        let create = with("elasticloadbalancing:CreateRule");
        assert_eq!(create.len(), 1);
        assert_eq!(elb(create[0]), vec![listener.to_owned()]);
        assert!(create[0].conditions["StringEquals"].contains_key("aws:RequestTag/albkit:stack"));
        let rules = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shared/0123456789abcdef/aaaa1111bbbb2222/*";
        for action in [
            "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:SetRulePriorities",
        ] {
            let st = with(action);
            assert_eq!(st.len(), 1, "{action}");
            let resources = elb(st[0]);
            assert!(resources.contains(&rules.to_owned()), "{action}");
            assert!(
                resources
                    .iter()
                    .all(|r| !r.contains(":listener/") && !r.contains(":loadbalancer/")),
                "{action} reaches the listener or the load balancer: {resources:?}"
            );
            let tag = &st[0].conditions["StringEquals"]["aws:ResourceTag/albkit:stack"];
            assert_eq!(tag, &vec!["shop".to_owned()], "{action}");
        }
    }

    #[test]
    fn the_plan_policy_only_reads() {
        let c = config(2, true, "");
        for a in actions(&policy(&c, Audience::Plan)) {
            let verb = a.split(':').nth(1).unwrap_or_default();
            assert!(
                ["Describe", "List", "Get", "Filter"]
                    .iter()
                    .any(|v| verb.starts_with(v)),
                "{a} is not a read"
            );
        }
    }

    #[test]
    fn both_policies_read_metrics_on_every_resource_for_top() {
        let c = config(2, true, "");
        for audience in [Audience::Deploy, Audience::Plan] {
            let list = policy(&c, audience);
            let reads: Vec<&Statement> = list
                .iter()
                .filter(|s| s.actions.contains(&"cloudwatch:Get*"))
                .collect();
            assert_eq!(reads.len(), 1, "{audience:?}");
            assert_eq!(reads[0].resources, ["*"]);
        }
    }

    #[test]
    fn doctors_reads_are_in_the_plan_policy_only() {
        let c = config(1, true, "");
        let plan = policy(&c, Audience::Plan);
        let all = actions(&plan);
        for a in [
            "lambda:GetAccountSettings",
            "route53:GetHostedZone",
            // DescribeAccountLimits, DescribeLoadBalancers, DescribeTargetGroups.
            "elasticloadbalancing:Describe*",
        ] {
            assert!(all.contains(&a), "{a}");
        }
        let zone = plan
            .iter()
            .find(|s| s.actions.contains(&"route53:GetHostedZone"))
            .expect("zone read");
        let route53: Vec<&String> = zone
            .resources
            .iter()
            .filter(|r| service_of_resource(r) == "route53")
            .collect();
        assert_eq!(
            route53,
            ["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]
        );
        let deploy = actions(&policy(&c, Audience::Deploy));
        assert!(!deploy.contains(&"lambda:GetAccountSettings"));
        assert!(!deploy.contains(&"route53:GetHostedZone"));
        assert!(!actions(&policy(&config(1, false, ""), Audience::Plan))
            .contains(&"route53:GetHostedZone"));
    }

    #[test]
    fn oidc_client_secrets_are_readable_only_when_a_route_logs_in_with_oidc() {
        let read = "secretsmanager:GetSecretValue";
        let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-oidc-AbC";
        let oidc = format!(
            "[https.auth.oidc]\nissuer = \"https://login.example.com\"\n\
             authorization_endpoint = \"https://login.example.com/a\"\n\
             token_endpoint = \"https://login.example.com/t\"\n\
             user_info_endpoint = \"https://login.example.com/u\"\n\
             client_id = \"shop\"\nclient_secret = {{ secretsmanager = \"{secret}\" }}\n"
        );
        let mut c = config(2, true, &oidc);
        // The default login applies to routes only: none yet, nothing to read.
        assert!(!actions(&policy(&c, Audience::Deploy)).contains(&read));
        let route = crate::model::config::Route {
            priority: 1,
            paths: vec!["/".into()],
            methods: vec![],
            hosts: vec![],
            auth: None,
        };
        c.functions[0].routes.push(route.clone());
        c.functions[1].routes.push(crate::model::config::Route {
            priority: 2,
            auth: c.https.as_ref().and_then(|h| h.auth.clone()),
            ..route
        });
        let deploy = policy(&c, Audience::Deploy);
        let st: Vec<&Statement> = deploy
            .iter()
            .filter(|s| s.actions.contains(&read))
            .collect();
        assert_eq!(st.len(), 1, "{deploy:?}");
        assert_eq!(
            (st[0].actions.len(), st[0].resources.clone()),
            (1, vec![secret.to_owned()])
        );
        assert!(!actions(&policy(&c, Audience::Plan)).contains(&read));
    }

    #[test]
    fn waf_changes_only_with_a_waf_section_on_the_stacks_web_acl() {
        let plain = policy(&config(1, false, ""), Audience::Deploy);
        assert!(!actions(&plain).contains(&"wafv2:*WebACL"));
        assert!(actions(&plain).contains(&"wafv2:ListWebACLs"));
        let c = config(1, false, "[waf]\n");
        let deploy = policy(&c, Audience::Deploy);
        let st = deploy
            .iter()
            .find(|s| s.actions.contains(&"wafv2:*WebACL"))
            .expect("web ACL statement");
        let web_acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop-waf/*";
        assert!(
            st.resources.iter().any(|r| r == web_acl),
            "{:?}",
            st.resources
        );
        assert!(st
            .resources
            .iter()
            .filter(|r| r.contains(":wafv2:"))
            .all(|r| r == web_acl || r.contains("regional/managedruleset/")));
        let plan = policy(&c, Audience::Plan);
        assert!(actions(&plan).contains(&"wafv2:GetWebACLForResource"));
        assert!(!actions(&plan).contains(&"wafv2:*WebACL"));
    }

    #[test]
    fn the_deploy_policy_fits_a_managed_policy_whatever_the_number_of_functions() {
        for n in [1, 5, 30] {
            let c = config(n, true, "");
            let doc = document(
                &Scope {
                    config: &c,
                    region: "eu-west-1",
                    account: "123456789012",
                },
                Audience::Deploy,
            );
            let chars = size(&doc);
            // KMS keys are listed one by one: 30 keys is an upper bound in practice.
            assert!(
                chars <= MANAGED_POLICY_MAX,
                "{n} functions: {chars} characters"
            );
            // With `[waf]` too, it is an inline policy's.
            let mut with_waf = c.clone();
            with_waf.waf = config(1, false, "[waf]\nrate_limit = { requests = 100 }\n").waf;
            assert!(with_waf.waf.is_some());
            let scope = Scope {
                config: &with_waf,
                region: "eu-west-1",
                account: "123456789012",
            };
            let chars = size(&document(&scope, Audience::Deploy));
            assert!(
                chars <= INLINE_ROLE_POLICY_MAX,
                "{n} functions: {chars} characters"
            );
        }
    }

    #[test]
    fn no_managed_policy_can_be_attached_and_roles_go_to_lambda_only() {
        let deploy = policy(&config(1, false, ""), Audience::Deploy);
        let all = actions(&deploy);
        assert!(!all.contains(&"iam:AttachRolePolicy"));
        // The only IAM wildcards are reads.
        let wild: Vec<&&str> = all
            .iter()
            .filter(|a| a.starts_with("iam:") && a.contains('*'))
            .collect();
        assert_eq!(wild, [&"iam:GetRole*", &"iam:List*RolePolicies"]);
        let pass = deploy
            .iter()
            .find(|s| s.actions.contains(&"iam:PassRole"))
            .expect("PassRole");
        assert_eq!(pass.actions, ["iam:PassRole"]);
        assert_eq!(
            pass.conditions["StringEquals"]["iam:PassedToService"],
            ["lambda.amazonaws.com"]
        );
        assert_eq!(
            pass.resources,
            ["arn:aws:iam::123456789012:role/albkit/shop/*"]
        );
    }

    #[test]
    fn a_permissions_boundary_is_required_to_create_a_role_or_change_its_policy() {
        let deploy = policy(&config(1, true, ""), Audience::Deploy);
        let boundary = "arn:aws:iam::123456789012:policy/albkit-boundary";
        for action in [
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:PutRolePermissionsBoundary",
        ] {
            let s = deploy
                .iter()
                .find(|s| s.actions.contains(&action))
                .unwrap_or_else(|| panic!("{action}"));
            assert_eq!(
                s.conditions["StringEquals"]["iam:PermissionsBoundary"],
                [boundary],
                "{action}"
            );
        }
        assert!(!actions(&deploy).contains(&"iam:DeleteRolePermissionsBoundary"));
        let plain = policy(&config(1, false, ""), Audience::Deploy);
        assert!(actions(&plain).contains(&"iam:DeleteRolePermissionsBoundary"));
        assert!(!actions(&plain).contains(&"iam:PutRolePermissionsBoundary"));
    }

    #[test]
    fn only_a_dualstack_stack_in_its_own_vpc_may_add_ipv6_blocks() {
        let ipv6 = ["ec2:AssociateSubnetCidrBlock", "ec2:AssociateVpcCidrBlock"];
        let dualstack = "[load_balancer]\nip_address_type = \"dualstack\"\n";
        let own = policy(&config(1, false, dualstack), Audience::Deploy);
        let change = own
            .iter()
            .find(|s| s.sid == CHANGE_TAGGED)
            .expect("changes");
        assert!(ipv6.iter().all(|a| change.actions.contains(a)));
        assert_eq!(
            change.conditions["StringEquals"]["aws:ResourceTag/albkit:stack"],
            ["shop"]
        );
        let reused = format!(
            "[network]\nvpc_id = \"vpc-0123abcd\"\n\
             subnet_ids = [\"subnet-0123abcd\", \"subnet-4567abcd\"]\n{dualstack}"
        );
        for config in [config(1, false, ""), config(1, false, &reused)] {
            let p = policy(&config, Audience::Deploy);
            assert!(ipv6.iter().all(|a| !actions(&p).contains(a)));
        }
    }

    #[test]
    fn creates_need_the_stacks_tag_and_changes_a_resource_that_has_it() {
        let deploy = policy(&config(1, true, ""), Audience::Deploy);
        let create = deploy
            .iter()
            .find(|s| s.sid == CREATE_TAGGED)
            .expect("creates");
        assert_eq!(
            create.conditions["StringEquals"]["aws:RequestTag/albkit:stack"],
            ["shop"]
        );
        for a in [
            "ec2:CreateVpc",
            "elasticloadbalancing:CreateLoadBalancer",
            "lambda:CreateFunction",
            "logs:CreateLogGroup",
            "acm:RequestCertificate",
        ] {
            assert!(create.actions.contains(&a), "{a}");
        }
        // Functions are created under the stack's exact `<stack>--` prefix only.
        assert!(create
            .resources
            .contains(&"arn:aws:lambda:eu-west-1:123456789012:function:shop--*".to_string()));
        let change = deploy
            .iter()
            .find(|s| s.sid == CHANGE_TAGGED)
            .expect("changes");
        assert_eq!(
            change.conditions["StringEquals"]["aws:ResourceTag/albkit:stack"],
            ["shop"]
        );
        for a in [
            "ec2:DeleteVpc",
            "ec2:AuthorizeSecurityGroup*",
            "lambda:UpdateFunctionCode",
            "logs:DeleteLogGroup",
            "acm:DeleteCertificate",
        ] {
            assert!(change.actions.contains(&a), "{a}");
        }
        // Tags on create only, never on an existing resource of someone else.
        let tag = deploy
            .iter()
            .find(|s| s.actions == ["ec2:CreateTags"])
            .expect("tag on create");
        assert!(tag.conditions["StringEquals"].contains_key("ec2:CreateAction"));
    }

    #[test]
    fn merged_statements_never_mix_two_parts_of_one_service() {
        for c in [config(1, false, ""), config(2, true, "")] {
            for audience in [Audience::Deploy, Audience::Plan] {
                let list = policy(&c, audience);
                let mut sids: Vec<String> = list
                    .iter()
                    .map(|s| format!("{}{:?}", s.sid, s.numbered))
                    .collect();
                sids.sort();
                let before = sids.len();
                sids.dedup();
                assert_eq!(before, sids.len(), "unique Sids");
                for s in &list {
                    // Every action's service has a resource of its own (or `*`).
                    for a in &s.actions {
                        let svc = service_of_action(a);
                        assert!(
                            s.resources
                                .iter()
                                .any(|r| r == "*" || service_of_resource(r) == svc),
                            "{a} in {} has no resource of its service",
                            s.sid
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn https_adds_certificate_and_record_permissions_scoped_to_the_domain() {
        let deploy = policy(&config(1, true, ""), Audience::Deploy);
        let all = actions(&deploy);
        for a in [
            "acm:RequestCertificate",
            "acm:AddTagsToCertificate",
            "acm:DeleteCertificate",
            "acm:DescribeCertificate",
            "acm:ListTagsForCertificate",
            "route53:ChangeResourceRecordSets",
            "route53:ListResourceRecordSets",
        ] {
            assert!(all.contains(&a), "{a}");
        }
        let dns = deploy
            .iter()
            .find(|s| s.actions.contains(&"route53:ChangeResourceRecordSets"))
            .expect("dns");
        assert_eq!(
            dns.resources,
            ["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]
        );
        assert_eq!(
            dns.conditions["ForAllValues:StringLike"]
                ["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
            ["api.example.com", "*.api.example.com"]
        );
        let plain = policy(&config(1, false, ""), Audience::Deploy);
        assert!(!actions(&plain).iter().any(|a| a.starts_with("acm:Request")));
    }
}
