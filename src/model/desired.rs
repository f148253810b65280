//! The desired stack: the spec of every resource albkit owns for a configuration.
//! Pure: the same config and context give the same stack.

use super::attach;
use super::config::{
    Config, FunctionSettings, HttpsSettings, MtlsSettings, Network, RouteAuth, StaticAnswer,
};
use super::config::{IpAddressType, Scheme};
use super::headers;
use super::names::TAG_REGION;
use super::names::{logical, Names};
use super::role_policy::execution_policy;
use super::sg_rule::Rule;
use super::spec::{
    CertificateSpec, DefaultAction, DnsRecordSpec, FixedResponse, FunctionConcurrencySpec,
    FunctionProvisionedSpec, FunctionSpec, HealthCheckSpec, InternetGatewaySpec,
    ListenerCertificatesSpec, ListenerSpec, ListenerTls, LoadBalancerSpec, LogBucketSpec,
    LogGroupSpec, LogicalId, OidcLogin, Ref, RoleSpec, RouteTableSpec, RuleAction, RuleAuth,
    RuleSpec, SecurityGroupSpec, Spec, SubnetSpec, TargetGroupSpec, TrustStoreSpec, VpcSpec,
    WebAclAssociationSpec, WebAclSpec,
};
use super::stack::{
    function_names, log_bucket_policy, partition, resource_tags, Context, Desired, Tags,
};

/// Specs in creation order, each with its logical id.
type Specs = Vec<(LogicalId, Spec)>;

fn push(out: &mut Specs, id: impl Into<LogicalId>, spec: impl Into<Spec>) {
    out.push((id.into(), spec.into()));
}

/// Builds the desired stack.
pub fn desired(config: &Config, ctx: &Context) -> Desired {
    let names = Names::new(&config.stack.name, &ctx.region);
    let mut out = Specs::new();
    if let Some(attach) = &config.load_balancer.attach {
        // The network, the load balancer and its listeners are someone else's.
        for f in &config.functions {
            function(config, ctx, &names, f, &mut out);
        }
        for (_, http, arn) in attach.listeners() {
            let listener = Ref::External(arn.as_str().to_owned());
            let place = |order: u32| {
                let id = attach::rule_id(order, http);
                let priority = ctx.rule_priorities.get(&id).copied().unwrap_or(order);
                (LogicalId::from(id), priority)
            };
            route_rules(config, &listener, &place, &mut out);
        }
        return Desired::new(names, out);
    }
    let subnets = network(config, ctx, &mut out);
    security_group(config, ctx, &names, &mut out);
    load_balancer(config, ctx, &names, subnets, &mut out);
    trust_store(config, &names, &mut out);
    listeners(config, &mut out);
    for f in &config.functions {
        function(config, ctx, &names, f, &mut out);
    }
    rules(config, &mut out);
    if let Some(https) = &config.https {
        dns_records(https, config.load_balancer.ip_address_type, &mut out);
    }
    web_acl(config, &names, &mut out);
    if let Some(topic) = super::alarms::topic(config, &names) {
        push(&mut out, logical::ALARM_TOPIC, topic);
    }
    for (id, alarm) in super::alarms::alarms(config, &names) {
        push(&mut out, id, alarm);
    }
    if let Some(board) = super::alarms::dashboard(config, &names, &ctx.region) {
        push(&mut out, logical::DASHBOARD, board);
    }
    Desired::new(names, out)
}

/// `[waf]`: the web ACL and its association with the load balancer.
fn web_acl(config: &Config, names: &Names, out: &mut Specs) {
    let Some(waf) = &config.waf else {
        return;
    };
    push(
        out,
        logical::WEB_ACL,
        WebAclSpec {
            name: names.web_acl(),
            rules: waf.rules(),
            tags: resource_tags(config, logical::WEB_ACL),
        },
    );
    push(
        out,
        logical::WEB_ACL_ASSOCIATION,
        WebAclAssociationSpec {
            web_acl: Ref::Stack(logical::WEB_ACL.into()),
            load_balancer: Ref::Stack(logical::LOAD_BALANCER.into()),
        },
    );
}

/// The VPC, internet gateway, subnets and route table of a managed network; returns
/// the load balancer's subnets (sorted as discovery reports a reused network's: their
/// order means nothing to AWS).
fn network(config: &Config, ctx: &Context, out: &mut Specs) -> Vec<Ref> {
    let (cidr, count) = match &config.network {
        Network::Managed {
            cidr,
            availability_zones,
        } => (cidr, usize::from(*availability_zones)),
        Network::Existing { subnet_ids, .. } => {
            let mut ids: Vec<String> = subnet_ids.iter().map(|s| s.as_str().to_string()).collect();
            ids.sort();
            return ids.into_iter().map(Ref::External).collect();
        }
    };
    let tags = |id: &str| resource_tags(config, id);
    let vpc = Ref::Stack(logical::VPC.into());
    let ipv6 = config.load_balancer.ip_address_type == IpAddressType::Dualstack;
    push(
        out,
        logical::VPC,
        VpcSpec {
            cidr: cidr.to_string(),
            ipv6,
            tags: tags(logical::VPC),
        },
    );
    push(
        out,
        logical::INTERNET_GATEWAY,
        InternetGatewaySpec {
            vpc: vpc.clone(),
            tags: tags(logical::INTERNET_GATEWAY),
        },
    );
    let mut subnets = Vec::new();
    for i in 0..count {
        let id = LogicalId::from(logical::subnet(i));
        let block = u32::try_from(i)
            .ok()
            .and_then(|i| cidr.subnet(cidr.prefix + 4, i))
            .map(|c| c.to_string())
            .unwrap_or_default();
        push(
            out,
            id.clone(),
            SubnetSpec {
                vpc: vpc.clone(),
                cidr: block,
                availability_zone: ctx.availability_zones.get(i).cloned().unwrap_or_default(),
                // /64 #n for subnet/n: at most 6 zones, far below the 256 of a /56.
                ipv6: ipv6.then(|| u8::try_from(i + 1).unwrap_or(u8::MAX)),
                tags: tags(id.as_str()),
            },
        );
        subnets.push(Ref::Stack(id));
    }
    push(
        out,
        logical::ROUTE_TABLE,
        RouteTableSpec {
            vpc,
            internet_gateway: Some(Ref::Stack(logical::INTERNET_GATEWAY.into())),
            ipv6_gateway: ipv6.then(|| Ref::Stack(logical::INTERNET_GATEWAY.into())),
            subnets: subnets.clone(),
            tags: tags(logical::ROUTE_TABLE),
        },
    );
    subnets
}

fn security_group(config: &Config, ctx: &Context, names: &Names, out: &mut Specs) {
    let vpc = match &config.network {
        Network::Managed { .. } => Ref::Stack(logical::VPC.into()),
        Network::Existing { vpc_id, .. } => Ref::External(vpc_id.as_str().to_string()),
    };
    let mut ports = vec![80u16];
    if config.https.is_some() {
        ports.push(443);
    }
    let cidrs = ingress_cidrs(config, ctx);
    let ingress = ports
        .iter()
        .flat_map(|port| cidrs.iter().map(|cidr| Rule::tcp_from(*port, cidr)))
        .collect();
    push(
        out,
        logical::SECURITY_GROUP,
        SecurityGroupSpec {
            name: names.security_group(),
            vpc,
            ingress,
            egress: egress_rules(ctx),
            tags: resource_tags(config, logical::SECURITY_GROUP),
        },
    );
}

/// The load balancer, and the bucket of its access logs when they are on.
fn load_balancer(
    config: &Config,
    ctx: &Context,
    names: &Names,
    subnets: Vec<Ref>,
    out: &mut Specs,
) {
    let lb = &config.load_balancer;
    let bucket = names.log_bucket(&ctx.account);
    // `[https.mtls]` keeps its CA bundle in the same bucket, logs or not.
    if lb.access_logs || mtls(config).is_some() {
        push(
            out,
            logical::LOG_BUCKET,
            LogBucketSpec {
                policy: log_bucket_policy(&bucket, &ctx.account, &ctx.region),
                name: bucket.clone(),
                retention_days: lb.access_log_retention_days,
                tags: resource_tags(config, logical::LOG_BUCKET),
            },
        );
    }
    let managed = matches!(config.network, Network::Managed { .. });
    push(
        out,
        logical::LOAD_BALANCER,
        LoadBalancerSpec {
            name: names.load_balancer(),
            scheme: lb.scheme,
            ip_address_type: lb.ip_address_type,
            subnets,
            security_groups: vec![Ref::Stack(logical::SECURITY_GROUP.into())],
            access_logs: lb
                .access_logs
                .then(|| (bucket, names.log_prefix().to_string())),
            log_bucket: lb
                .access_logs
                .then(|| Ref::Stack(logical::LOG_BUCKET.into())),
            route_table: managed.then(|| Ref::Stack(logical::ROUTE_TABLE.into())),
            idle_timeout_seconds: lb.idle_timeout_seconds,
            deletion_protection: lb.deletion_protection,
            tags: resource_tags(config, logical::LOAD_BALANCER),
        },
    );
}

/// HTTP:80 alone, or HTTP:80 redirecting to HTTPS:443 (with the certificate albkit
/// requests when none is given).
fn listeners(config: &Config, out: &mut Specs) {
    let listener = |id: &str, port, tls, default_action| ListenerSpec {
        load_balancer: Ref::Stack(logical::LOAD_BALANCER.into()),
        port,
        tls,
        default_action,
        tags: resource_tags(config, id),
    };
    let Some(https) = &config.https else {
        let spec = listener(logical::LISTENER_HTTP, 80, None, DefaultAction::NotFound);
        return push(out, logical::LISTENER_HTTP, spec);
    };
    let certificate = if let Some(arn) = &https.certificate_arn {
        Ref::External(arn.as_str().to_string())
    } else {
        push(
            out,
            logical::CERTIFICATE,
            CertificateSpec {
                domain: https.domain.clone(),
                tags: resource_tags(config, logical::CERTIFICATE),
            },
        );
        Ref::Stack(logical::CERTIFICATE.into())
    };
    let http = listener(
        logical::LISTENER_HTTP,
        80,
        None,
        DefaultAction::RedirectToHttps,
    );
    push(out, logical::LISTENER_HTTP, http);
    let tls = ListenerTls {
        certificate,
        ssl_policy: https.ssl_policy.clone(),
        headers: https.headers.clone(),
        trust_store: https
            .mtls
            .is_some()
            .then(|| Ref::Stack(logical::TRUST_STORE.into())),
    };
    let spec = listener(
        logical::LISTENER_HTTPS,
        443,
        Some(tls),
        DefaultAction::NotFound,
    );
    push(out, logical::LISTENER_HTTPS, spec);
    if let Some(extra) = &https.extra_certificate_arns {
        let listener = Ref::Stack(logical::LISTENER_HTTPS.into());
        let spec = ListenerCertificatesSpec::new(listener, extra);
        push(out, logical::LISTENER_CERTIFICATES, spec);
    }
}

/// `[https.mtls]`, when set.
fn mtls(config: &Config) -> Option<&MtlsSettings> {
    config.https.as_ref().and_then(|h| h.mtls.as_ref())
}

/// The trust store of `[https.mtls]`, made from the CA bundle in the stack's bucket.
fn trust_store(config: &Config, names: &Names, out: &mut Specs) {
    let Some(mtls) = mtls(config) else {
        return;
    };
    let spec = TrustStoreSpec {
        name: names.trust_store(),
        bucket: Ref::Stack(logical::LOG_BUCKET.into()),
        key: mtls.bundle.key(),
        pem: mtls.bundle.pem.clone(),
        tags: resource_tags(config, logical::TRUST_STORE),
    };
    push(out, logical::TRUST_STORE, spec);
}

/// A function's role, log group, function and target group.
fn function(config: &Config, ctx: &Context, names: &Names, f: &FunctionSettings, out: &mut Specs) {
    let in_use = function_names(names, &ctx.names_in_use, &f.name);
    let (role, log_group) = (logical::role(&f.name), logical::log_group(&f.name));
    let (function, tg) = (logical::function(&f.name), logical::target_group(&f.name));
    let policy = execution_policy(
        f,
        &in_use.log_group,
        partition(&ctx.region),
        &ctx.region,
        &ctx.account,
    );
    let role_spec = RoleSpec {
        name: in_use.role,
        execution_policy: policy,
        permissions_boundary: config.stack.permissions_boundary.clone(),
        tags: role_tags(config, &role, &ctx.region),
    };
    push(out, role.as_str(), role_spec);
    let log_group_spec = LogGroupSpec {
        name: in_use.log_group,
        retention_days: f.log_retention_days,
        tags: resource_tags(config, &log_group),
    };
    push(out, log_group.as_str(), log_group_spec);
    let function_spec = FunctionSpec {
        config_name: f.name.clone(),
        name: in_use.function,
        architecture: f.architecture,
        memory_mb: f.memory_mb,
        timeout_seconds: f.timeout_seconds,
        role: Ref::Stack(role.into()),
        log_group: Ref::Stack(log_group.into()),
        environment: f.lambda_environment(),
        kms_key_arn: f.kms_key_arn.clone(),
        code_sha256: ctx.code_sha256.get(&f.name).cloned().unwrap_or_default(),
        tags: resource_tags(config, &function),
    };
    push(out, function.as_str(), function_spec);
    if let Some(reserved) = f.reserved_concurrency {
        let spec = FunctionConcurrencySpec {
            function: Ref::Stack(function.as_str().into()),
            reserved,
        };
        push(out, logical::function_concurrency(&f.name), spec);
    }
    if let Some(provisioned) = f.provisioned_concurrency {
        let reservation = f
            .reserved_concurrency
            .map(|_| Ref::Stack(logical::function_concurrency(&f.name).into()));
        let spec = FunctionProvisionedSpec {
            function: Ref::Stack(function.as_str().into()),
            reservation,
            provisioned,
        };
        push(out, logical::function_provisioned(&f.name), spec);
    }
    let health_check = f.health_check.as_ref().map(|hc| HealthCheckSpec {
        path: hc.path.clone(),
        interval_seconds: hc.interval_seconds,
        timeout_seconds: hc.timeout_seconds,
        healthy_threshold: hc.healthy_threshold,
        unhealthy_threshold: hc.unhealthy_threshold,
        matcher: hc.matcher.to_string(),
    });
    let tg_spec = TargetGroupSpec {
        config_name: f.name.clone(),
        name: in_use.target_group,
        multi_value_headers: f.multi_value_headers,
        health_check,
        function: Ref::Stack(function.into()),
        account: ctx.account.clone(),
        tags: resource_tags(config, &tg),
    };
    push(out, tg, tg_spec);
}

/// One rule per route, a function's or a `[[routes]]` entry, by priority, on the
/// listener that serves.
fn rules(config: &Config, out: &mut Specs) {
    let listener = Ref::Stack(serving_listener(config).into());
    let place = |priority: u32| (LogicalId::from(logical::rule(priority)), priority);
    route_rules(config, &listener, &place, out);
}

/// The rules of the routes on `listener`: `place` gives a route's logical id and priority
/// from its configured priority.
fn route_rules(
    config: &Config,
    listener: &Ref,
    place: &dyn Fn(u32) -> (LogicalId, u32),
    out: &mut Specs,
) {
    let mut rules: Vec<(LogicalId, RuleSpec)> = config
        .functions
        .iter()
        .flat_map(|f| f.routes.iter().map(move |r| (f, r)))
        .map(|(f, r)| {
            let (id, priority) = place(r.priority);
            let spec = RuleSpec {
                listener: listener.clone(),
                priority,
                paths: r.paths.clone(),
                hosts: r.hosts.clone(),
                methods: r.methods.clone(),
                action: RuleAction::Forward(Ref::Stack(logical::target_group(&f.name).into())),
                auth: config.route_auth(r).map(rule_auth),
                tags: resource_tags(config, id.as_str()),
            };
            (id, spec)
        })
        .collect();
    rules.extend(config.routes.iter().map(|r| {
        let (id, priority) = place(r.priority);
        let action = match &r.answer {
            StaticAnswer::Redirect(redirect) => RuleAction::Redirect(redirect.clone()),
            StaticAnswer::Fixed(fixed) => RuleAction::FixedResponse(fixed.clone()),
        };
        let spec = RuleSpec {
            listener: listener.clone(),
            priority,
            paths: r.paths.clone(),
            hosts: r.hosts.clone(),
            methods: r.methods.clone(),
            action,
            auth: None,
            tags: resource_tags(config, id.as_str()),
        };
        (id, spec)
    }));
    rules.extend(preflight_rule(config, listener));
    rules.sort_by_key(|(_, r)| r.priority);
    out.extend(rules.into_iter().map(|(id, r)| (id, r.into())));
}

/// With `[https.headers.cors]`, the rule that answers every `OPTIONS` request (a CORS
/// preflight) with a fixed 204 before any route: the listener's attributes add the
/// Access-Control-* headers to it, and no function is invoked (docs/alb-lambda.md §11).
fn preflight_rule(config: &Config, listener: &Ref) -> Option<(LogicalId, RuleSpec)> {
    if !config.https.as_ref().is_some_and(|h| h.headers.cors()) {
        return None;
    }
    let priority = headers::PREFLIGHT_PRIORITY;
    let id = LogicalId::from(logical::rule(priority));
    let spec = RuleSpec {
        listener: listener.clone(),
        priority,
        paths: Vec::new(),
        hosts: Vec::new(),
        methods: vec![headers::PREFLIGHT_METHOD.to_string()],
        action: RuleAction::FixedResponse(FixedResponse {
            status: headers::PREFLIGHT_STATUS,
            content_type: headers::PREFLIGHT_CONTENT_TYPE.to_string(),
            body: String::new(),
        }),
        auth: None,
        tags: resource_tags(config, id.as_str()),
    };
    Some((id, spec))
}

/// A route's authentication as its rule's step before the forward.
fn rule_auth(auth: &RouteAuth) -> RuleAuth {
    match auth {
        RouteAuth::Jwt(j) => RuleAuth::Jwt {
            issuer: j.issuer.clone(),
            jwks_endpoint: j.jwks_endpoint.clone(),
            audiences: j.audiences.clone(),
        },
        RouteAuth::Cognito(c) => RuleAuth::Cognito {
            user_pool_arn: c.user_pool_arn.clone(),
            user_pool_client_id: c.user_pool_client_id.clone(),
            user_pool_domain: c.user_pool_domain.clone(),
        },
        RouteAuth::Oidc(o) => RuleAuth::Oidc(Box::new(OidcLogin {
            issuer: o.issuer.clone(),
            authorization_endpoint: o.authorization_endpoint.clone(),
            token_endpoint: o.token_endpoint.clone(),
            user_info_endpoint: o.user_info_endpoint.clone(),
            client_id: o.client_id.clone(),
            client_secret_arn: o.client_secret_arn.clone(),
            scope: o.scope.clone(),
        })),
    }
}

/// The alias A record of the domain, when a hosted zone is configured, and the AAAA
/// one beside it for a dualstack load balancer. An IPv4-only load balancer has no IPv6
/// address for an AAAA record to give: an AAAA alias there is removed as drift.
fn dns_records(https: &HttpsSettings, ip: IpAddressType, out: &mut Specs) {
    let Some(zone) = &https.hosted_zone_id else {
        return;
    };
    let spec = DnsRecordSpec {
        zone: zone.as_str().to_string(),
        name: https.domain.clone(),
        record_type: "A",
        alias: Ref::Stack(logical::LOAD_BALANCER.into()),
    };
    let aaaa = (ip == IpAddressType::Dualstack).then(|| DnsRecordSpec {
        record_type: "AAAA",
        ..spec.clone()
    });
    push(out, "dns/A", spec);
    if let Some(aaaa) = aaaa {
        push(out, "dns/AAAA", aaaa);
    }
}

/// Tags of a function's IAM role: IAM is global, so they also say which region's stack
/// the role belongs to.
fn role_tags(config: &Config, logical: &str, region: &str) -> Tags {
    let mut tags = resource_tags(config, logical);
    tags.insert(TAG_REGION.to_string(), region.to_string());
    tags
}

/// Ingress CIDRs of the ALB's security group, after defaults.
fn ingress_cidrs(config: &Config, ctx: &Context) -> Vec<String> {
    let lb = &config.load_balancer;
    if let Some(cidrs) = &lb.ingress_cidrs {
        return cidrs.iter().map(|c| c.as_str().to_string()).collect();
    }
    match (lb.scheme, &config.network) {
        // An IPv4-only load balancer: no IPv6 client can reach it, so no `::/0` rule.
        (Scheme::InternetFacing, _) if lb.ip_address_type == IpAddressType::Ipv4 => {
            vec!["0.0.0.0/0".into()]
        }
        (Scheme::InternetFacing, _) => vec!["0.0.0.0/0".into(), "::/0".into()],
        (Scheme::Internal, Network::Managed { cidr, .. }) => vec![cidr.to_string()],
        (Scheme::Internal, Network::Existing { .. }) => ctx
            .existing_vpc_cidr
            .clone()
            .map(|c| vec![c])
            .unwrap_or_default(),
    }
}

/// Outbound rules of the load balancer's security group.
///
/// Decision: exactly the outbound rules AWS gives a new security group, which albkit
/// has always left in place: all traffic to `0.0.0.0/0`, and to `::/0` as well in a
/// VPC with an IPv6 CIDR block (a reused one; albkit's own VPC has none). The load
/// balancer needs outbound access for what it may be asked to do beyond invoking
/// Lambda (which does not go through the group), such as an authentication action
/// reaching an identity provider; any other outbound rule is drift and is revoked.
fn egress_rules(ctx: &Context) -> Vec<Rule> {
    let mut rules = vec![Rule::all_to("0.0.0.0/0")];
    if ctx.existing_vpc_ipv6 {
        rules.push(Rule::all_to("::/0"));
    }
    rules
}

/// The listener that carries the routes: 443 with `[https]`, else 80.
fn serving_listener(config: &Config) -> &'static str {
    if config.https.is_some() {
        logical::LISTENER_HTTPS
    } else {
        logical::LISTENER_HTTP
    }
}
