//! The checks of `[stack]`, `[network]`, `[load_balancer]` and `[https]`.

use super::*;
use crate::model::config::fields::{https as h, load_balancer as lb, network as net, stack, top};
use crate::model::config::rules::*;
use crate::model::config::{
    HttpsSettings, IngressCidr, IpAddressType, Ipv4Cidr, LoadBalancerSettings, Network, Scheme,
    StackSettings, DEFAULT_HSTS, DEFAULT_SSL_POLICY, DEFAULT_VPC_CIDR,
};
use crate::model::ids::{CertificateArn, HostedZoneId, SubnetId, VpcId};
use crate::model::tls;
use std::collections::BTreeMap;

/// Certificates an Application Load Balancer serves beside its default one (the
/// default quota; docs/tls-policies.md, "Extra certificates").
const MAX_EXTRA_CERTIFICATES: usize = 25;

impl Checker<'_> {
    // -----------------------------------------------------------------------------------
    // [stack]

    pub(super) fn stack(&mut self, top: &Tbl) -> StackSettings {
        let mut out = StackSettings {
            name: String::new(),
            region: None,
            tags: BTreeMap::new(),
            permissions_boundary: None,
        };
        let t = match self.sub_table(top, &top::STACK) {
            Got::Val(t) => t,
            Got::Bad => return out,
            Got::Missing => {
                self.missing(
                    top,
                    top::STACK.key,
                    "required table [stack]",
                    format!(
                        "add a [stack] table with at least `name = {}`",
                        stack::NAME.example_toml()
                    ),
                );
                return out;
            }
        };
        self.check_unknown_keys(&t, &fields::STACK);
        if let Got::Val(b) = self.get_str(&t, &stack::PERMISSIONS_BOUNDARY) {
            match check_arn(&b.value, "iam", |r| r.starts_with("policy/") && r.len() > 7) {
                Ok(()) => out.permissions_boundary = Some(b.value),
                Err(why) => self.bad(
                    &b,
                    format!("permissions_boundary {} is not an IAM policy ARN: {why}", q(&b.value)),
                    "use the ARN of a managed policy, e.g. \"arn:aws:iam::123456789012:policy/albkit-boundary\", \
                     or remove `permissions_boundary`",
                ),
            }
        }
        if let Got::Val(name) = self.get_str(&t, &stack::NAME) {
            if self.check_name("stack name", &name, 24) {
                out.name = name.value;
            }
        }
        if let Got::Val(region) = self.get_str(&t, &stack::REGION) {
            if is_aws_region(&region.value) {
                out.region = Some(region.value);
            } else {
                let lower = region.value.trim().to_ascii_lowercase();
                let help = if is_aws_region(&lower) {
                    format!("use {lower:?} (region codes are lower-case)")
                } else {
                    "use a region code such as \"us-east-1\" or \"eu-west-1\", or remove \
                     `region` to use the region of your AWS profile"
                        .to_owned()
                };
                self.bad(
                    &region,
                    format!("region {} is not an AWS region code", q(&region.value)),
                    help,
                );
            }
        }
        if let Got::Val((table, entries)) = self.get_str_map(&t, &stack::TAGS) {
            if entries.len() > 45 {
                self.push(
                    &table.path,
                    table.header.clone(),
                    format!("stack has {} tags; at most 45 are allowed", entries.len()),
                    format!(
                        "remove {} tags (AWS allows 50 per resource and albkit adds its own)",
                        entries.len() - 45
                    ),
                );
            }
            for e in entries {
                if self.check_tag(&e) {
                    out.tags.insert(e.key, e.value);
                }
            }
        }
        out
    }

    fn check_tag(&mut self, e: &Entry) -> bool {
        let lower = e.key.to_ascii_lowercase();
        let key_len = e.key.chars().count();
        if key_len == 0 || key_len > 128 {
            self.push(
                &e.path,
                e.key_span.clone(),
                format!("tag key {} is {key_len} characters long", q(&e.key)),
                "tag keys must be 1 to 128 characters long",
            );
            return false;
        }
        if lower.starts_with("aws:") || lower.starts_with("albkit:") {
            self.push(
                &e.path,
                e.key_span.clone(),
                format!("tag key {} uses a reserved prefix", q(&e.key)),
                "keys starting with \"aws:\" are reserved by AWS and keys starting with \
                 \"albkit:\" by albkit; choose another key",
            );
            return false;
        }
        let value_len = e.value.chars().count();
        if value_len > 256 {
            self.push(
                &e.path,
                e.value_span.clone(),
                format!(
                    "tag {} has a value of {value_len} characters; the limit is 256",
                    q(&e.key)
                ),
                "shorten the tag value to at most 256 characters",
            );
            return false;
        }
        true
    }

    /// Names of stacks and functions: `[a-z0-9-]`, starting with a letter, no `--` (a
    /// function's target group is `<stack>-<function>-<n>`, and ELB refuses `--`).
    pub(super) fn check_name(&mut self, what: &str, s: &Str, max: usize) -> bool {
        let value = &s.value;
        let fix = suggest_name(value, max);
        let len = value.chars().count();
        let (message, help) = if value.is_empty() {
            (
                format!("{what} is empty"),
                format!("use 1 to {max} characters of a-z, 0-9 and '-', e.g. \"my-app\""),
            )
        } else if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            (
                format!("{what} {} may contain only a-z, 0-9 and '-'", q(value)),
                format!("use {fix:?}"),
            )
        } else if len > max {
            (
                format!(
                    "{what} {} is {len} characters long; the limit is {max}",
                    q(value)
                ),
                format!("shorten it, e.g. to {fix:?}"),
            )
        } else if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            (
                format!("{what} {} must start with a letter", q(value)),
                format!("use {fix:?}"),
            )
        } else if value.ends_with('-') {
            (
                format!("{what} {} must not end with '-'", q(value)),
                format!("use {fix:?}"),
            )
        } else if value.contains("--") {
            (
                format!("{what} {} must not contain \"--\"", q(value)),
                format!("use {fix:?}"),
            )
        } else {
            return true;
        };
        self.bad(s, message, help);
        false
    }

    // -----------------------------------------------------------------------------------
    // [network]

    pub(super) fn network(&mut self, top: &Tbl) -> Option<Network> {
        let t = self.table_or_empty(top, &top::NETWORK);
        self.check_unknown_keys(&t, &fields::NETWORK);
        if t.t.contains_key(net::VPC_ID.key) {
            return self.existing_network(&t);
        }
        if let Some((_, path, span)) = Self::lookup(&t, net::SUBNET_IDS.key) {
            self.push(
                &path,
                span,
                "`subnet_ids` needs `vpc_id`: subnets can only be reused together with their VPC",
                "add `vpc_id = \"vpc-...\"` for the VPC these subnets belong to, or remove \
                 `subnet_ids` to let albkit create a VPC",
            );
        }
        let cidr = self
            .get_str(&t, &net::CIDR)
            .check(DEFAULT_VPC_CIDR, |s| self.check_vpc_cidr(&s));
        let azs = self.get_int_in_range(&t, &net::AVAILABILITY_ZONES);
        Some(Network::Managed {
            cidr: cidr?,
            availability_zones: u8::try_from(azs?).ok()?,
        })
    }

    fn existing_network(&mut self, t: &Tbl) -> Option<Network> {
        for key in [net::CIDR.key, net::AVAILABILITY_ZONES.key] {
            if let Some((_, path, span)) = Self::lookup(t, key) {
                self.push(
                    &path,
                    span,
                    format!("`{key}` cannot be combined with `vpc_id`"),
                    format!(
                        "remove `{key}` (albkit does not create a VPC when reusing one), or \
                         remove `vpc_id` and `subnet_ids` to let albkit create the VPC"
                    ),
                );
            }
        }
        let vpc = self.get_str(t, &net::VPC_ID).val().and_then(|s| {
            if is_aws_id(&s.value, "vpc") {
                Some(VpcId::new(s.value))
            } else {
                self.bad(
                    &s,
                    format!("vpc_id {} is not a VPC id", q(&s.value)),
                    "use the id shown by `aws ec2 describe-vpcs`: \"vpc-\" followed by 8 or 17 \
                     lower-case hex digits, e.g. \"vpc-0123456789abcdef0\"",
                );
                None
            }
        });
        let subnets = match self.get_str_array(t, &net::SUBNET_IDS) {
            Got::Missing => {
                self.missing(
                    t,
                    net::SUBNET_IDS.key,
                    "`subnet_ids` (required with `vpc_id`)",
                    "add `subnet_ids = [\"subnet-...\", \"subnet-...\"]`: at least two subnets \
                     of the VPC, in different availability zones",
                );
                None
            }
            Got::Bad => None,
            Got::Val(list) => self.check_subnets(t, list),
        };
        Some(Network::Existing {
            vpc_id: vpc?,
            subnet_ids: subnets?,
        })
    }

    fn check_subnets(&mut self, t: &Tbl, list: Vec<Str>) -> Option<Vec<SubnetId>> {
        let mut ok = true;
        if list.len() < 2 {
            let span = Self::lookup(t, net::SUBNET_IDS.key).and_then(|(_, _, s)| s);
            self.push(
                &join(&t.path, net::SUBNET_IDS.key),
                span,
                format!(
                    "subnet_ids lists {} subnet{}; an ALB needs at least 2",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                ),
                "list at least two subnets of the VPC, in different availability zones",
            );
            ok = false;
        }
        for s in &list {
            if !is_aws_id(&s.value, "subnet") {
                self.bad(
                    s,
                    format!("subnet id {} is not a subnet id", q(&s.value)),
                    "use ids shown by `aws ec2 describe-subnets`: \"subnet-\" followed by 8 or \
                     17 lower-case hex digits",
                );
                ok = false;
            }
        }
        let before = self.problems.len();
        self.check_duplicates("subnet", &list, str::to_owned);
        ok &= self.problems.len() == before;
        ok.then(|| list.into_iter().map(|s| SubnetId::new(s.value)).collect())
    }

    fn check_vpc_cidr(&mut self, s: &Str) -> Option<Ipv4Cidr> {
        let (addr, prefix) = match parse_v4_cidr(&s.value) {
            Ok(v) => v,
            Err(why) => {
                self.bad(
                    s,
                    format!("network cidr {} {why}", q(&s.value)),
                    "write an IPv4 block such as \"10.0.0.0/16\"",
                );
                return None;
            }
        };
        let net = v4_network(addr, prefix);
        if !(16..=23).contains(&prefix) {
            let (why, fix) = if prefix < 16 {
                ("too large: AWS VPCs are at most /16", 16)
            } else {
                (
                    "too small: albkit cuts it into /(prefix+4) subnets and an ALB needs \
                     subnets of at least /27",
                    23,
                )
            };
            self.bad(
                s,
                format!("network cidr {} is {why}", q(&s.value)),
                format!(
                    "use a prefix from /16 to /23, e.g. \"{}/{fix}\"",
                    v4_network(addr, fix)
                ),
            );
            return None;
        }
        if net != addr {
            self.bad(
                s,
                format!("network cidr {} has host bits set", q(&s.value)),
                format!("use \"{net}/{prefix}\""),
            );
            return None;
        }
        Some(Ipv4Cidr { addr, prefix })
    }

    // -----------------------------------------------------------------------------------
    // [load_balancer]

    /// `[load_balancer]`.
    pub(super) fn load_balancer(&mut self, top: &Tbl) -> Option<LoadBalancerSettings> {
        let t = self.table_or_empty(top, &top::LOAD_BALANCER);
        self.check_unknown_keys(&t, &fields::LOAD_BALANCER);
        let schemes = [Scheme::InternetFacing, Scheme::Internal];
        let scheme = self.get_enum(&t, &lb::SCHEME, &schemes);
        let types = [IpAddressType::Ipv4, IpAddressType::Dualstack];
        let ip_address_type = self
            .get_enum(&t, &lb::IP_ADDRESS_TYPE, &types)
            .and_then(|ip| self.check_dualstack(&t, ip, scheme));
        let ingress_cidrs = self
            .get_str_array(&t, &lb::INGRESS_CIDRS)
            .check(None, |list| self.check_ingress(&t, list).map(Some));
        let idle_timeout_seconds = self.get_int_in_range(&t, &lb::IDLE_TIMEOUT_SECONDS);
        let deletion_protection = self.get_bool(&t, &lb::DELETION_PROTECTION);
        let access_logs = self.get_bool(&t, &lb::ACCESS_LOGS);
        let retention = self.get_int_in_range(&t, &lb::ACCESS_LOG_RETENTION_DAYS);
        let attach = self.attach(top, &t);
        // Attach mode: the load balancer is not albkit's, nor are its access logs.
        let access_logs = access_logs.map(|on| on && !self.attach);
        Some(LoadBalancerSettings {
            scheme: scheme?,
            ip_address_type: ip_address_type?,
            ingress_cidrs: ingress_cidrs?,
            idle_timeout_seconds: idle_timeout_seconds?,
            deletion_protection: deletion_protection?,
            access_logs: access_logs?,
            access_log_retention_days: retention?,
            attach: attach?,
        })
    }

    /// A dualstack load balancer must be internet-facing (AWS: "internal load balancers
    /// must use ipv4"). In the VPC albkit creates it adds the IPv6 blocks itself; a
    /// reused VPC's subnets are checked for theirs once discovered.
    fn check_dualstack(
        &mut self,
        t: &Tbl,
        ip: IpAddressType,
        scheme: Option<Scheme>,
    ) -> Option<IpAddressType> {
        if ip == IpAddressType::Ipv4 {
            return Some(ip);
        }
        let span = Self::lookup(t, lb::IP_ADDRESS_TYPE.key).and_then(|(_, _, s)| s);
        let path = join(&t.path, lb::IP_ADDRESS_TYPE.key);
        if scheme == Some(Scheme::Internal) {
            self.push(
                &path,
                span,
                "ip_address_type = \"dualstack\" with scheme = \"internal\": AWS gives \
                 internal load balancers IPv4 addresses only",
                "remove ip_address_type, or set load_balancer.scheme = \"internet-facing\"",
            );
            return None;
        }
        Some(ip)
    }

    fn check_ingress(&mut self, t: &Tbl, list: Vec<Str>) -> Option<Vec<IngressCidr>> {
        let span = Self::lookup(t, lb::INGRESS_CIDRS.key).and_then(|(_, _, s)| s);
        let path = join(&t.path, lb::INGRESS_CIDRS.key);
        if list.is_empty() {
            self.push(
                &path,
                span,
                "ingress_cidrs is empty: nothing could reach the load balancer",
                "list at least one CIDR such as \"0.0.0.0/0\", or remove `ingress_cidrs` to use \
                 the default",
            );
            return None;
        }
        if list.len() > 50 {
            self.push(
                &path,
                span,
                format!(
                    "ingress_cidrs lists {} CIDRs; at most 50 are allowed",
                    list.len()
                ),
                "merge neighbouring blocks into larger ones (a security group holds at most 60 \
                 rules)",
            );
            return None;
        }
        let before = self.problems.len();
        let mut out = Vec::new();
        let mut canon = Vec::new();
        for s in list {
            match parse_ingress_cidr(&s.value) {
                Ok(c) => {
                    canon.push(Str {
                        value: c.as_str().to_owned(),
                        span: s.span.clone(),
                        path: s.path.clone(),
                    });
                    out.push(c);
                }
                Err((why, help)) => {
                    self.bad(&s, format!("ingress CIDR {} {why}", q(&s.value)), help);
                }
            }
        }
        self.check_duplicates("ingress CIDR", &canon, str::to_owned);
        (self.problems.len() == before).then_some(out)
    }

    // -----------------------------------------------------------------------------------
    // [https]

    pub(super) fn https(
        &mut self,
        top: &Tbl,
        region: Option<&str>,
        root: &Path,
    ) -> Option<HttpsSettings> {
        let Got::Val(t) = self.sub_table(top, &top::HTTPS) else {
            return None;
        };
        self.check_unknown_keys(&t, &fields::HTTPS);
        let domain =
            self.get_str(&t, &h::DOMAIN)
                .val()
                .and_then(|s| match check_domain(&s.value) {
                    Ok(d) => Some(d),
                    Err((why, help)) => {
                        self.bad(
                            &s,
                            format!("domain {} is not a valid DNS name: {why}", q(&s.value)),
                            help,
                        );
                        None
                    }
                });
        let certificate = self
            .get_str(&t, &h::CERTIFICATE_ARN)
            .check(None, |s| self.check_certificate(&s, region).map(Some));
        let extra = match self.get_str_array(&t, &h::EXTRA_CERTIFICATE_ARNS) {
            Got::Val(list) => self
                .check_extra_certificates(
                    &t,
                    list,
                    region,
                    certificate.as_ref().and_then(Option::as_ref),
                )
                .map(Some),
            Got::Missing => Some(None),
            Got::Bad => None,
        };
        let zone = self.hosted_zone(&t);
        let policy = match self.get_str(&t, &h::SSL_POLICY) {
            Got::Val(s) => self.check_ssl_policy(s),
            Got::Missing => h::SSL_POLICY.default.map(str::to_owned),
            Got::Bad => None,
        };
        let headers = self.response_headers(&t);
        let auth = self.auth(&t, &h::AUTH, true);
        let mtls = self.mtls(&t, root);
        Some(HttpsSettings {
            domain: domain?,
            certificate_arn: certificate?,
            extra_certificate_arns: extra?,
            hosted_zone_id: zone?,
            ssl_policy: policy?,
            headers: headers?,
            auth: auth?,
            mtls: mtls?,
        })
    }

    /// `[https] hosted_zone_id`: `Some(None)` when absent, `None` when wrong (reported).
    fn hosted_zone(&mut self, t: &Tbl) -> Option<Option<HostedZoneId>> {
        match self.get_str(t, &h::HOSTED_ZONE_ID) {
            Got::Val(s) => {
                let id = HostedZoneId::parse(&s.value);
                if is_zone_id(id.as_str()) {
                    Some(Some(id))
                } else {
                    let upper = id.as_str().to_ascii_uppercase();
                    let help = if is_zone_id(&upper) {
                        format!("use {upper:?} (hosted zone ids are upper-case)")
                    } else {
                        "copy the id from `aws route53 list-hosted-zones`: 2 to 32 upper-case \
                         letters and digits, e.g. \"Z0123456789ABCDEFGHIJ\""
                            .to_owned()
                    };
                    self.bad(
                        &s,
                        format!("hosted zone id {} is not valid", q(&s.value)),
                        help,
                    );
                    None
                }
            }
            Got::Missing => Some(None),
            Got::Bad => None,
        }
    }

    /// `hsts`: a `Strict-Transport-Security` value, `true` for the default, `false` for
    /// no header. `None` when wrong (reported).
    pub(super) fn hsts(&mut self, t: &Tbl) -> Option<Option<String>> {
        let Some((item, path, span)) = Self::lookup(t, h::HSTS.key) else {
            return Some(Some(DEFAULT_HSTS.to_owned()));
        };
        if let Some(on) = item.as_bool() {
            return Some(on.then(|| DEFAULT_HSTS.to_owned()));
        }
        let Some(raw) = item.as_str() else {
            self.push(
                &path,
                span,
                format!("expected a string or a boolean, found {}", describe(item)),
                format!(
                    "write a Strict-Transport-Security value, e.g. `hsts = {DEFAULT_HSTS:?}` \
                     (the default), or `hsts = false` to send no such header"
                ),
            );
            return None;
        };
        match check_hsts(raw) {
            Ok(hsts) => {
                if hsts.preload && !(hsts.include_subdomains && hsts.max_age >= 31_536_000) {
                    self.warn(
                        &path,
                        span,
                        format!(
                            "hsts {} asks for preload without includeSubDomains and a max-age \
                             of at least 31536000: browsers' preload lists refuse such a domain",
                            q(raw)
                        ),
                        format!(
                            "use {:?}, or drop `preload`",
                            "max-age=31536000; includeSubDomains; preload"
                        ),
                    );
                }
                Some(Some(hsts.value))
            }
            Err((why, help)) => {
                self.push(
                    &path,
                    span,
                    format!(
                        "hsts {} is not a Strict-Transport-Security value: {why}",
                        q(raw)
                    ),
                    help,
                );
                None
            }
        }
    }

    /// An ELB security policy allowing TLS below 1.2 is refused; one without TLS 1.3, or
    /// one albkit's table does not know, is accepted with a warning (see `tls.rs`).
    fn check_ssl_policy(&mut self, s: Str) -> Option<String> {
        let use_default = format!(
            "remove `ssl_policy` to use the default {DEFAULT_SSL_POLICY:?} (TLS 1.2 and TLS 1.3), \
             or choose a policy that starts at TLS 1.2 (see docs/tls-policies.md)"
        );
        let ok = s
            .value
            .strip_prefix("ELBSecurityPolicy-")
            .is_some_and(|rest| !rest.is_empty());
        if !ok {
            self.bad(
                &s,
                format!("ssl_policy {} is not an ELB security policy", q(&s.value)),
                format!(
                    "use a name starting with \"ELBSecurityPolicy-\", e.g. the default \
                     {DEFAULT_SSL_POLICY:?}, or remove `ssl_policy`"
                ),
            );
            return None;
        }
        match tls::judge(&s.value) {
            tls::Verdict::Good => {}
            tls::Verdict::Weak(versions) => {
                self.bad(
                    &s,
                    format!(
                        "{} {} allows {}, which RFC 8996 deprecates: clients could be served \
                         over a protocol with known weaknesses",
                        s.path,
                        q(&s.value),
                        tls::list(&versions)
                    ),
                    use_default,
                );
                return None;
            }
            tls::Verdict::NoTls13 => {
                self.warn(
                    &s.path,
                    s.span,
                    format!("{} {} allows TLS 1.2 but not TLS 1.3", s.path, q(&s.value)),
                    format!(
                        "clients that could use TLS 1.3 will be served over TLS 1.2; {use_default}"
                    ),
                );
            }
            tls::Verdict::Unknown => {
                let names: Vec<&str> = tls::POLICIES.iter().map(|p| p.name).collect();
                let close = names
                    .iter()
                    .map(|n| (strsim::levenshtein(&s.value, n), *n))
                    .filter(|(d, _)| *d <= 3)
                    .min_by_key(|(d, _)| *d)
                    .map(|(_, n)| n);
                let help = match close {
                    Some(n) => format!("did you mean {n:?}? Otherwise {use_default}"),
                    None => format!(
                        "if AWS added this policy after albkit's table, check on AWS's page \
                         that it does not allow TLS 1.0 or 1.1; otherwise {use_default}"
                    ),
                };
                self.warn(
                    &s.path,
                    s.span,
                    format!(
                        "{} {} is not one of the ELB security policies albkit knows, so its TLS \
                         versions were not checked (ELB refuses an unknown name when the \
                         listener is created)",
                        s.path,
                        q(&s.value)
                    ),
                    help,
                );
            }
        }
        Some(s.value)
    }

    /// `extra_certificate_arns`: ACM certificates of the stack's region, each once, none
    /// of them the default one, at most [`MAX_EXTRA_CERTIFICATES`].
    fn check_extra_certificates(
        &mut self,
        t: &Tbl,
        list: Vec<Str>,
        region: Option<&str>,
        default: Option<&CertificateArn>,
    ) -> Option<Vec<CertificateArn>> {
        let before = self.problems.len();
        if list.len() > MAX_EXTRA_CERTIFICATES {
            let span = Self::lookup(t, h::EXTRA_CERTIFICATE_ARNS.key).and_then(|(_, _, s)| s);
            self.push(
                &join(&t.path, h::EXTRA_CERTIFICATE_ARNS.key),
                span,
                format!(
                    "extra_certificate_arns lists {} certificates; a load balancer serves at \
                     most {MAX_EXTRA_CERTIFICATES} beside its default one",
                    list.len()
                ),
                "list at most 25, or ask AWS for a higher \"Certificates per Application Load \
                 Balancer\" quota and split the rest onto a wildcard certificate",
            );
        }
        let arns: Vec<Option<CertificateArn>> = list
            .iter()
            .map(|s| self.check_certificate(s, region))
            .collect();
        for (s, arn) in list.iter().zip(&arns) {
            if arn.is_some() && arn.as_ref() == default {
                self.bad(
                    s,
                    format!(
                        "certificate {} is the listener's default certificate",
                        q(&s.value)
                    ),
                    "remove it from extra_certificate_arns; the default certificate is served \
                     already (`certificate_arn`)",
                );
            }
        }
        self.check_duplicates("certificate", &list, str::to_owned);
        (self.problems.len() == before).then(|| arns.into_iter().flatten().collect())
    }

    fn check_certificate(&mut self, s: &Str, region: Option<&str>) -> Option<CertificateArn> {
        let cert_region = match cert_arn_region(&s.value) {
            Ok(r) => r,
            Err(why) => {
                self.bad(
                    s,
                    format!(
                        "{} {} is not an ACM certificate ARN: {why}",
                        s.path,
                        q(&s.value)
                    ),
                    "copy the ARN from `aws acm list-certificates`; it looks like \
                     \"arn:aws:acm:us-east-1:123456789012:certificate/…\"",
                );
                return None;
            }
        };
        if let Some(region) = region {
            if region != cert_region {
                self.bad(
                    s,
                    format!(
                        "certificate {} is in {cert_region}, but the stack is in {region}",
                        q(&s.value)
                    ),
                    if s.path.ends_with(h::CERTIFICATE_ARN.key) {
                        format!(
                            "an ALB can only use certificates of its own region: use a \
                             certificate from {region}, or remove `certificate_arn` to let \
                             albkit request one"
                        )
                    } else {
                        format!(
                            "an ALB can only use certificates of its own region: use a \
                             certificate from {region}"
                        )
                    },
                );
                return None;
            }
        }
        Some(CertificateArn::new(s.value.clone()))
    }

    // -----------------------------------------------------------------------------------
}
