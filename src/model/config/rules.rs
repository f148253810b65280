//! The value rules of `albkit.toml`: pure functions from a value to its checked form or
//! to the reason it is wrong (and, where the rule knows one, the fix).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use super::{IngressCidr, Matcher, MatcherCodes, SecretRef, DEFAULT_HSTS, DEFAULT_OIDC_SCOPE};
use crate::model::spec::Redirect;

/// A value quoted for a message, shortened when long.
pub(super) fn q(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let short: String = s.chars().take(MAX - 1).collect();
        format!("\"{}…\"", short.escape_debug())
    } else {
        format!("{s:?}")
    }
}

/// Environment variables Lambda sets itself and refuses in a function's configuration.
pub(super) const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// A valid name close to `raw`: lower-case, `[a-z0-9-]`, starting with a letter.
pub(super) fn suggest_name(raw: &str, max: usize) -> String {
    let mut out = String::new();
    for c in raw.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if out.is_empty() && c.is_ascii_digit() {
                out.push_str("app-");
            }
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "my-app".to_owned()
    } else {
        out.to_owned()
    }
}

pub(super) fn is_lower_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$`
pub fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let country = |p: &str| p.len() == 2 && is_lower_word(p);
    let number = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [c, w, n] => country(c) && is_lower_word(w) && number(n),
        [c, qual, w, n] => {
            let qual_ok = *qual == "gov"
                || (qual.starts_with("iso") && qual.len() <= 4 && is_lower_word(qual));
            country(c) && qual_ok && is_lower_word(w) && number(n)
        }
        _ => false,
    }
}

/// `^<prefix>-[0-9a-f]{8}([0-9a-f]{9})?$`
pub(super) fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `^[A-Z0-9]{2,32}$`. Route 53 ids start with `Z`, but AWS does not promise that and
/// local emulators (moto) hand out ids that do not, so only the alphabet is checked.
pub(super) fn is_zone_id(s: &str) -> bool {
    (2..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The canonical crate directory of a function: relative to `base`, inside it, a directory
/// holding `Cargo.toml`. The error is the message and the help.
pub(super) fn resolve_function_path(
    raw: &str,
    base: &Result<PathBuf, String>,
) -> Result<PathBuf, (String, String)> {
    let p = relative_inside(raw)?;
    let base = base.as_ref().map_err(|why| {
        (
            format!("cannot check function path {}: {why}", q(raw)),
            "run albkit from a directory that exists, or pass `-c PATH`".to_owned(),
        )
    })?;
    let canon = base.join(p).canonicalize().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            (
                format!("function path {} does not exist", q(raw)),
                format!(
                    "create the crate with `cargo new {raw}` in {}, or correct `path`",
                    base.display()
                ),
            )
        } else {
            (
                format!("cannot read function path {}: {e}", q(raw)),
                "check that the directory exists and is readable".to_owned(),
            )
        }
    })?;
    if !canon.starts_with(base) {
        return Err(outside(raw));
    }
    if !canon.is_dir() {
        let help = if canon.file_name().is_some_and(|n| n == "Cargo.toml") {
            let dir = p
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            format!("point `path` at the crate directory instead: {dir:?}")
        } else {
            "point `path` at the function's crate directory (the one holding Cargo.toml)".to_owned()
        };
        return Err((format!("function path {} is not a directory", q(raw)), help));
    }
    if !canon.join("Cargo.toml").is_file() {
        return Err((
            format!("function path {} has no Cargo.toml", q(raw)),
            "point `path` at the function's crate directory, or run `cargo init` in it".to_owned(),
        ));
    }
    Ok(canon)
}

fn outside(raw: &str) -> (String, String) {
    (
        format!(
            "function path {} points outside the project directory",
            q(raw)
        ),
        "move the function crate into the directory holding albkit.toml (or below it) \
         and point `path` there"
            .to_owned(),
    )
}

/// `raw` as a relative path that stays inside the project, checked without the file
/// system.
fn relative_inside(raw: &str) -> Result<&Path, (String, String)> {
    if raw.trim().is_empty() {
        return Err((
            "function path is empty".to_owned(),
            "set `path` to the function's crate directory, relative to albkit.toml, e.g. \
             \"functions/api\""
                .to_owned(),
        ));
    }
    let p = Path::new(raw);
    if p.is_absolute() || p.has_root() {
        return Err((
            format!("function path {} is absolute", q(raw)),
            "write it relative to the directory of albkit.toml, e.g. \"functions/api\"".to_owned(),
        ));
    }
    let mut depth = 0usize;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir if depth == 0 => return Err(outside(raw)),
            Component::ParentDir => depth -= 1,
            _ => {}
        }
    }
    Ok(p)
}

/// `^[A-Za-z][A-Za-z0-9_]*$`
pub(super) fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn parse_prefix(p: &str, max: u8) -> Result<u8, String> {
    p.parse::<u8>()
        .ok()
        .filter(|n| *n <= max && !p.starts_with('+'))
        .ok_or_else(|| format!("has an invalid prefix length /{p} (0 to {max})"))
}

pub(super) fn parse_v4_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or("has no prefix length (such as /16)")?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("has an invalid IPv4 address {addr:?}"))?;
    Ok((addr, parse_prefix(prefix, 32)?))
}

pub(super) fn v4_network(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(addr) & mask)
}

pub(super) fn v6_network(addr: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(addr) & mask)
}

/// An IPv4 or IPv6 CIDR with host bits zero, in canonical text form. The error is the
/// message tail and the help.
pub(super) fn parse_ingress_cidr(s: &str) -> Result<IngressCidr, (String, String)> {
    let example = "write a CIDR such as \"203.0.113.0/24\" or \"2001:db8::/32\"".to_owned();
    let Some((addr, prefix)) = s.split_once('/') else {
        return Err(("has no prefix length (such as /24)".to_owned(), example));
    };
    if addr.contains(':') {
        let a: Ipv6Addr = addr.parse().map_err(|_| {
            (
                format!("has an invalid IPv6 address {addr:?}"),
                example.clone(),
            )
        })?;
        let p = parse_prefix(prefix, 128).map_err(|why| (why, example.clone()))?;
        let net = v6_network(a, p);
        if net != a {
            return Err(("has host bits set".to_owned(), format!("use \"{net}/{p}\"")));
        }
        Ok(IngressCidr::V6(format!("{net}/{p}")))
    } else {
        let a: Ipv4Addr = addr.parse().map_err(|_| {
            (
                format!("has an invalid IPv4 address {addr:?}"),
                example.clone(),
            )
        })?;
        let p = parse_prefix(prefix, 32).map_err(|why| (why, example.clone()))?;
        let net = v4_network(a, p);
        if net != a {
            return Err(("has host bits set".to_owned(), format!("use \"{net}/{p}\"")));
        }
        Ok(IngressCidr::V4(format!("{net}/{p}")))
    }
}

/// A DNS name (optionally `*.`-prefixed), returned in lower case. The error is the reason
/// and the help.
pub(super) fn check_domain(raw: &str) -> Result<String, (String, String)> {
    let example = "use a name such as \"api.example.com\" or \"*.example.com\"".to_owned();
    let d = raw.to_ascii_lowercase();
    if d.len() > 253 {
        return Err((
            format!("it is {} characters long; the limit is 253", d.len()),
            "use a shorter name".to_owned(),
        ));
    }
    if let Some(stripped) = d.strip_suffix('.') {
        return Err((
            "it ends with '.'".to_owned(),
            format!("remove the trailing dot: {stripped:?}"),
        ));
    }
    let name = d.strip_prefix("*.").unwrap_or(&d);
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err((
            "it needs at least two labels".to_owned(),
            format!("use a fully qualified name such as \"{name}.example.com\""),
        ));
    }
    for label in labels {
        let why = if label.is_empty() {
            "it has an empty label (\"..\")".to_owned()
        } else if label.len() > 63 {
            format!("label {} is longer than 63 characters", q(label))
        } else if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            let extra = if label.contains('*') {
                " (a wildcard is only allowed as a leading \"*.\")"
            } else {
                ""
            };
            format!(
                "label {} may contain only a-z, 0-9 and '-'{extra}",
                q(label)
            )
        } else if label.starts_with('-') || label.ends_with('-') {
            format!("label {} starts or ends with '-'", q(label))
        } else {
            continue;
        };
        return Err((why, example));
    }
    Ok(d)
}

/// Checks an ARN of `service` whose resource part passes `resource_ok`; the region may be
/// empty (IAM), the account is 12 digits (or `aws` for AWS managed IAM policies).
pub(super) fn check_arn(
    arn: &str,
    service: &str,
    resource_ok: impl Fn(&str) -> bool,
) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, svc, region, account, resource] = parts.as_slice() else {
        return Err("it does not have the six ':'-separated parts of an ARN".to_owned());
    };
    if *scheme != "arn" || !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err("it must start with \"arn:aws:\"".to_owned());
    }
    if *svc != service {
        return Err(format!("it belongs to service {svc:?}, not {service:?}"));
    }
    if !(region.is_empty() || is_aws_region(region)) {
        return Err(format!("{region:?} is not a region"));
    }
    let managed = service == "iam" && *account == "aws";
    if !managed && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("{account:?} is not a 12-digit account id"));
    }
    if !resource_ok(resource) || resource.chars().any(char::is_whitespace) {
        return Err(format!(
            "{resource:?} is not the resource part this ARN needs"
        ));
    }
    Ok(())
}

/// The longest issuer, JWKS URL or claim value the `jwt-validation` action takes.
pub(super) const MAX_JWT_VALUE: usize = 256;

/// An `https://` URL with a host, as ELB takes an issuer or a JWKS endpoint: at most 256
/// characters, no whitespace. The error is the message tail and the help.
pub(super) fn check_https_url(url: &str) -> Result<(), (String, String)> {
    let len = url.chars().count();
    if len > MAX_JWT_VALUE {
        return Err((
            format!("is {len} characters long; the load balancer takes at most {MAX_JWT_VALUE}"),
            "use a shorter URL".to_owned(),
        ));
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return Err((
            "is not an https URL".to_owned(),
            "the load balancer only reaches an identity provider over TLS: write the URL \
             with https://, e.g. \"https://issuer.example.com\""
                .to_owned(),
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err((
            "is not a URL with a host name".to_owned(),
            "write the full URL without spaces, e.g. \"https://issuer.example.com\"".to_owned(),
        ));
    }
    Ok(())
}

/// `arn:aws:cognito-idp:<region>:<account>:userpool/<id>`.
pub(super) fn check_user_pool_arn(arn: &str) -> Result<(), (String, String)> {
    let pool = |r: &str| r.strip_prefix("userpool/").is_some_and(|id| !id.is_empty());
    check_arn(arn, "cognito-idp", pool).map_err(|why| {
        (
            format!("is not a Cognito user pool ARN: {why}"),
            "copy the pool's ARN from the Cognito console or `aws cognito-idp \
             describe-user-pool`, e.g. \
             \"arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123\""
                .to_owned(),
        )
    })
}

/// A Cognito app client id: 1–128 of letters, digits, `_` and `+`.
pub(super) fn check_client_id(id: &str) -> Result<(), (String, String)> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'+');
    if ok {
        Ok(())
    } else {
        Err((
            "is not a Cognito app client id (1–128 of letters, digits, '_', '+')".to_owned(),
            "copy the id of the user pool's app client, e.g. \"1example23456789\"".to_owned(),
        ))
    }
}

/// A user pool domain: its prefix (`my-app-login`) or a custom domain name, without a
/// scheme or path.
pub(super) fn check_user_pool_domain(domain: &str) -> Result<(), (String, String)> {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() <= 253 && domain.split('.').all(label) {
        Ok(())
    } else {
        Err((
            "is not a user pool domain".to_owned(),
            "write the domain prefix (\"my-app-login\", for my-app-login.auth.<region>.\
             amazoncognito.com) or the custom domain name (\"login.example.com\"), without \
             https:// or a path"
                .to_owned(),
        ))
    }
}

/// An OAuth 2.0 client id: not empty, printable, without spaces.
pub(super) fn check_oidc_client_id(id: &str) -> Result<(), (String, String)> {
    if !id.is_empty() && !id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Ok(());
    }
    Err((
        "is not an OAuth 2.0 client id (not empty, without spaces)".to_owned(),
        "copy the client id of the application registered with your provider, e.g. \
         \"albkit-app\""
            .to_owned(),
    ))
}

/// Space-separated scopes, `openid` among them (an OIDC login requests it).
pub(super) fn check_scope(scope: &str) -> Result<(), (String, String)> {
    if scope.split(' ').any(|s| s == DEFAULT_OIDC_SCOPE)
        && !scope.split(' ').any(str::is_empty)
        && !scope.chars().any(char::is_control)
    {
        return Ok(());
    }
    Err((
        "is not a list of scopes with openid, separated by single spaces".to_owned(),
        "write the scopes your provider supports, openid first, e.g. \"openid email\"".to_owned(),
    ))
}

/// The longest tag value ELB takes: the rule carries its client secret's ARN as one.
pub(super) const MAX_SECRET_ARN: usize = 256;

/// The ARN of a Secrets Manager secret holding an OIDC client secret: in `region` when
/// the stack's region is known, and short enough to be a tag value. The error is the
/// message tail and the help.
pub(super) fn check_client_secret_arn(
    arn: &str,
    region: Option<&str>,
) -> Result<(), (String, String)> {
    let example = "copy the ARN from `aws secretsmanager describe-secret --secret-id <name>`,                    e.g. \"arn:aws:secretsmanager:us-east-1:123456789012:secret:albkit-oidc-AbCdEf\"";
    if let Err(why) = check_arn(arn, "secretsmanager", |r| {
        r.strip_prefix("secret:").is_some_and(|n| !n.is_empty())
    }) {
        return Err((
            format!("is not a Secrets Manager secret ARN: {why}"),
            example.to_owned(),
        ));
    }
    let len = arn.chars().count();
    if len > MAX_SECRET_ARN {
        return Err((
            format!("is {len} characters long; albkit keeps it in a rule tag of at most {MAX_SECRET_ARN}"),
            "store the client secret under a shorter secret name".to_owned(),
        ));
    }
    let secret_region = arn.split(':').nth(3).unwrap_or_default();
    match region {
        Some(region) if region != secret_region => Err((
            format!("is in {secret_region}, but the stack is in {region}"),
            format!(
                "the load balancer's rule is created in {region} and albkit reads the secret                  there: store the client secret in Secrets Manager in {region} and give                  that ARN"
            ),
        )),
        _ => Ok(()),
    }
}

/// A secret reference: a Secrets Manager ARN, or `ssm:` and a parameter name.
pub(super) fn parse_secret(value: &str) -> Result<SecretRef, String> {
    if let Some(name) = value.strip_prefix("ssm:") {
        let ok = !name.is_empty()
            && name.len() <= 2048
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
            && !name.ends_with('/');
        return if ok {
            Ok(SecretRef::Parameter(name.to_string()))
        } else {
            Err(format!(
                "{name:?} is not an SSM parameter name (letters, digits, _ . - /)"
            ))
        };
    }
    check_arn(value, "secretsmanager", |r| {
        r.strip_prefix("secret:").is_some_and(|n| !n.is_empty())
    })?;
    Ok(SecretRef::SecretsManager(value.to_string()))
}

/// A checked `Strict-Transport-Security` value.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Hsts {
    /// Canonical text: directives in the order given, names spelled as RFC 6797 does,
    /// separated by "; ".
    pub value: String,
    pub max_age: u64,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// Checks a `Strict-Transport-Security` value (RFC 6797 §6.1): `max-age=<seconds>`
/// exactly once, optionally `includeSubDomains` and `preload` (each at most once, names
/// case-insensitive), separated by `;`.
pub(super) fn check_hsts(raw: &str) -> Result<Hsts, (String, String)> {
    let example = format!("e.g. {DEFAULT_HSTS:?}, or `hsts = false` to send no such header");
    printable(raw, &example)?;
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    let mut parts = Vec::new();
    for directive in raw.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (directive, None),
        };
        let twice = || {
            (
                format!("`{name}` appears twice"),
                format!("give each directive once, {example}"),
            )
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("max-age", Some(v)) => {
                if max_age.is_some() {
                    return Err(twice());
                }
                let seconds = v
                    .parse::<u64>()
                    .ok()
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        let why = format!("max-age {v:?} is not a number of seconds");
                        (why, format!("write the seconds as digits, {example}"))
                    })?;
                max_age = Some(seconds);
                parts.push(format!("max-age={seconds}"));
            }
            ("includesubdomains", None) => {
                if include_subdomains {
                    return Err(twice());
                }
                include_subdomains = true;
                parts.push("includeSubDomains".to_owned());
            }
            ("preload", None) => {
                if preload {
                    return Err(twice());
                }
                preload = true;
                parts.push("preload".to_owned());
            }
            ("max-age", None) => {
                return Err((
                    "max-age has no value".to_owned(),
                    format!("write `max-age=<seconds>`, {example}"),
                ))
            }
            ("includesubdomains" | "preload", Some(_)) => {
                return Err((
                    format!("`{name}` takes no value"),
                    format!("write it alone, {example}"),
                ))
            }
            (other, _) => return Err(unknown_directive(name, other, &example)),
        }
    }
    let Some(max_age) = max_age else {
        return Err((
            "max-age is missing".to_owned(),
            format!("browsers ignore the header without it: {example}"),
        ));
    };
    Ok(Hsts {
        value: parts.join("; "),
        max_age,
        include_subdomains,
        preload,
    })
}

fn printable(raw: &str, example: &str) -> Result<(), (String, String)> {
    match raw.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        Some(c) => Err((
            format!("it contains {c:?}, which a header value cannot hold"),
            format!("use printable ASCII only, {example}"),
        )),
        None => Ok(()),
    }
}

fn unknown_directive(name: &str, lower: &str, example: &str) -> (String, String) {
    let known = ["max-age", "includeSubDomains", "preload"];
    let hint = known
        .iter()
        .find(|k| strsim::levenshtein(lower, &k.to_ascii_lowercase()) <= 3)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    (
        format!("unknown directive `{name}`"),
        format!("{hint}the directives are max-age, includeSubDomains and preload, {example}"),
    )
}

/// `arn:<partition>:elasticloadbalancing:<region>:<account>:listener/app/<load balancer
/// name>/<load balancer id>/<listener id>`: a listener of an Application Load Balancer,
/// returning the region.
pub(super) fn listener_arn_region(arn: &str) -> Result<&str, String> {
    let id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    check_arn(arn, "elasticloadbalancing", |r| {
        let parts: Vec<&str> = r.split('/').collect();
        matches!(parts.as_slice(), ["listener", "app", n, lb, l] if name(n) && id(lb) && id(l))
    })
    .map_err(|why| {
        if arn.contains(":listener/net/") || arn.contains(":listener/gwy/") {
            "it is a listener of a Network or Gateway Load Balancer; albkit attaches to an \
             Application Load Balancer's"
                .to_owned()
        } else if arn.contains(":listener-rule/") || arn.contains(":loadbalancer/") {
            "it is a rule's or a load balancer's ARN, not a listener's".to_owned()
        } else {
            why
        }
    })?;
    match arn.split(':').nth(3) {
        Some(region) if !region.is_empty() => Ok(region),
        _ => Err("it names no region".to_owned()),
    }
}

/// `^arn:aws(-cn|-us-gov)?:acm:<region>:\d{12}:certificate/[A-Za-z0-9-]+$`, returning the
/// region.
pub(super) fn cert_arn_region(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts.as_slice() else {
        return Err("it does not have the six ':'-separated parts of an ARN".to_owned());
    };
    if *scheme != "arn" || !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err("it must start with \"arn:aws:\"".to_owned());
    }
    if *service != "acm" {
        return Err(format!("it belongs to service {service:?}, not \"acm\""));
    }
    if !is_aws_region(region) {
        return Err(format!("{region:?} is not a region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{account:?} is not a 12-digit account id"));
    }
    let id_ok = resource.strip_prefix("certificate/").is_some_and(|id| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !id_ok {
        return Err(format!("{resource:?} is not \"certificate/<id>\""));
    }
    Ok(region)
}

/// An ELB matcher: `200`, `200-299` or `200,204`, codes 200 to 499.
impl FromStr for Matcher {
    type Err = String;

    fn from_str(m: &str) -> Result<Matcher, String> {
        let code = |c: &str| -> Result<u16, String> {
            match c.parse::<u16>() {
                Ok(n) if c.len() == 3 && (200..=499).contains(&n) => Ok(n),
                Ok(_) if c.bytes().all(|b| b.is_ascii_digit()) => {
                    Err(format!("{c} is outside 200–499"))
                }
                _ => Err(format!("{c:?} is not an HTTP status code")),
            }
        };
        if m.contains('-') && m.contains(',') {
            return Err("use either a range or a list, not both".to_owned());
        }
        let codes = if let Some((lo, hi)) = m.split_once('-') {
            let (lo, hi) = (code(lo)?, code(hi)?);
            if lo >= hi {
                return Err(format!("the range {lo}-{hi} is empty or reversed"));
            }
            MatcherCodes::Range(lo, hi)
        } else {
            MatcherCodes::List(m.split(',').map(code).collect::<Result<_, _>>()?)
        };
        Ok(Matcher {
            text: m.to_owned(),
            codes,
        })
    }
}

pub(super) fn check_route_path(p: &str) -> Result<(), (String, String)> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?".contains(c);
    let len = p.chars().count();
    if len == 0 || len > 128 {
        return Err((
            format!("is {len} characters long"),
            "path patterns must be 1 to 128 characters long".to_owned(),
        ));
    }
    if !p.starts_with(['/', '*']) {
        return Err((
            "must start with '/' or '*'".to_owned(),
            format!("use \"/{p}\""),
        ));
    }
    if let Some(c) = p.chars().find(|c| !allowed(*c)) {
        return Err((
            format!("contains {c:?}, which ALB path patterns do not allow"),
            "use only A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & and the wildcards * and ?".to_owned(),
        ));
    }
    Ok(())
}

pub(super) fn check_method(m: &str) -> Result<(), (String, String)> {
    let upper = m.to_ascii_uppercase();
    let valid = |s: &str| {
        (1..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    };
    if valid(m) {
        Ok(())
    } else if valid(&upper) {
        Err((
            "is not upper-case".to_owned(),
            format!("methods are case-sensitive on ALB: write {upper:?}"),
        ))
    } else {
        Err((
            "is not an HTTP method".to_owned(),
            "use 1 to 40 characters of A-Z, '_' and '-', e.g. \"GET\" or \"POST\"".to_owned(),
        ))
    }
}

pub(super) fn check_host(h: &str) -> Result<(), (String, String)> {
    let len = h.chars().count();
    if len == 0 || len > 128 {
        return Err((
            format!("is {len} characters long"),
            "host patterns must be 1 to 128 characters long".to_owned(),
        ));
    }
    if let Some(c) = h
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '?')))
    {
        return Err((
            format!("contains {c:?}, which ALB host patterns do not allow"),
            "use only A-Z a-z 0-9 - . and the wildcards * and ?, e.g. \"api.example.com\""
                .to_owned(),
        ));
    }
    Ok(())
}

/// Methods a CORS `Access-Control-Allow-Methods` of the ALB may list.
pub(super) const CORS_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// An origin for `Access-Control-Allow-Origin`: `*`, or `http(s)://host[:port]` with
/// nothing after it (browsers compare the origin exactly, without a path or a slash).
pub(super) fn check_origin(raw: &str) -> Result<(), (String, String)> {
    let example = "e.g. \"https://app.example.com\", or \"*\" for any origin";
    if raw == "*" {
        return Ok(());
    }
    let Some(rest) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    else {
        return Err((
            "is not an origin: it must start with https:// or http://".to_owned(),
            format!("write the scheme and host the browser page is served from, {example}"),
        ));
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return Err((
            "has an invalid port".to_owned(),
            format!("write the port as a number from 1 to 65535, {example}"),
        ));
    }
    if host.is_empty() || host.contains('/') || check_domain(host).is_err() {
        return Err((
            "is not an origin: scheme, host and optional port, nothing else".to_owned(),
            format!("remove any path or trailing '/', {example}"),
        ));
    }
    Ok(())
}

/// A header name (RFC 9110 token) for `Access-Control-Allow-Headers` or
/// `-Expose-Headers`; `*` alone is checked by the caller.
pub(super) fn check_header_name(raw: &str) -> Result<(), (String, String)> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if raw.is_empty() || !raw.chars().all(token) {
        return Err((
            "is not a header name".to_owned(),
            "use letters, digits and - (e.g. \"content-type\"), one name per entry".to_owned(),
        ));
    }
    Ok(())
}

/// An `X-Frame-Options` value: `DENY` or `SAMEORIGIN` (any case), or `ALLOW-FROM
/// <origin>`; returned in its canonical form.
pub(super) fn check_x_frame_options(raw: &str) -> Result<String, (String, String)> {
    let upper = raw.trim().to_ascii_uppercase();
    if upper == "DENY" || upper == "SAMEORIGIN" {
        return Ok(upper);
    }
    if let Some(origin) = upper.strip_prefix("ALLOW-FROM ") {
        let origin = &raw.trim()[raw.trim().len() - origin.len()..];
        if origin != "*" && check_origin(origin).is_ok() {
            return Ok(format!("ALLOW-FROM {origin}"));
        }
    }
    Err((
        "is not an X-Frame-Options value".to_owned(),
        "use \"DENY\", \"SAMEORIGIN\" or \"ALLOW-FROM https://…\" (browsers ignore \
         ALLOW-FROM today: prefer `content_security_policy = \"frame-ancestors …\"`)"
            .to_owned(),
    ))
}

/// A header value albkit passes on as given (`Content-Security-Policy`): printable
/// ASCII, not empty.
pub(super) fn check_header_value(raw: &str, example: &str) -> Result<(), (String, String)> {
    if raw.trim().is_empty() {
        return Err((
            "is empty".to_owned(),
            format!("give a value, {example}, or remove the key"),
        ));
    }
    printable(raw, example)
}

/// The placeholders a redirect may use (docs/alb-lambda.md §5).
const REDIRECT_PLACEHOLDERS: &[&str] =
    &["#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"];

/// A redirect's `to`: an absolute URL (`https://host[:port]/path?query`, any part may
/// be a placeholder) or a path (`/new?x=1`), split into the parts of ELB's redirect
/// action. A part left out keeps the request's (`#{host}`, `/#{path}`, `#{query}`); a
/// literal scheme without a port takes its default port.
pub(super) fn parse_redirect(raw: &str, status: u16) -> Result<Redirect, (String, String)> {
    let example = "e.g. \"https://new.example.com/#{path}\" or \"/new-path\"";
    if let Some(c) = raw.chars().find(|c| !c.is_ascii_graphic()) {
        return Err((
            format!("contains {c:?}"),
            format!("percent-encode it, {example}"),
        ));
    }
    let mut rest = raw;
    while let Some(at) = rest.find("#{") {
        let tail = &rest[at..];
        let Some(p) = REDIRECT_PLACEHOLDERS.iter().find(|p| tail.starts_with(**p)) else {
            return Err((
                format!(
                    "has an unknown placeholder at {:?}",
                    &tail[..tail.len().min(12)]
                ),
                format!("use only {}", REDIRECT_PLACEHOLDERS.join(", ")),
            ));
        };
        rest = &tail[p.len()..];
    }
    let (protocol, host, port, tail) = if raw.starts_with('/') {
        let keep = |p: &str| p.to_string();
        (keep("#{protocol}"), keep("#{host}"), keep("#{port}"), raw)
    } else {
        redirect_authority(raw, example)?
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q.to_string()),
        None => (tail, "#{query}".to_string()),
    };
    let path = if path.is_empty() { "/#{path}" } else { path }.to_string();
    for (part, value) in [("host", &host), ("path", &path), ("query", &query)] {
        if value.chars().count() > 128 {
            return Err((
                format!("has a {part} of {} characters", value.chars().count()),
                "ELB takes at most 128 characters for each of host, path and query".to_owned(),
            ));
        }
    }
    let r = Redirect {
        status,
        protocol,
        host,
        port,
        path,
        query,
    };
    let itself = r.protocol == "#{protocol}"
        && r.host == "#{host}"
        && r.port == "#{port}"
        && r.path == "/#{path}";
    if itself {
        return Err((
            "redirects every request to itself".to_owned(),
            format!("change at least one of protocol, host, port or path, {example}"),
        ));
    }
    Ok(r)
}

/// `scheme://host[:port]` of an absolute redirect target: (protocol, host, port, rest).
fn redirect_authority<'a>(
    raw: &'a str,
    example: &str,
) -> Result<(String, String, String, &'a str), (String, String)> {
    let Some((scheme, after)) = raw.split_once("://") else {
        return Err((
            "is neither a URL nor a path".to_owned(),
            format!("start it with https://, http:// or /, {example}"),
        ));
    };
    let (protocol, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "https" => ("HTTPS", "443"),
        "http" => ("HTTP", "80"),
        "#{protocol}" => ("#{protocol}", "#{port}"),
        _ => {
            return Err((
                format!("has the scheme {scheme:?}"),
                format!("a redirect goes to https, http or #{{protocol}}, {example}"),
            ))
        }
    };
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p == "#{port}" || p.parse::<u16>().is_ok_and(|n| n > 0) => (h, p),
        Some(_) => {
            return Err((
                "has an invalid port".to_owned(),
                format!("write the port as a number from 1 to 65535 or #{{port}}, {example}"),
            ))
        }
        None => (authority, default_port),
    };
    let literal_ok = host.contains("#{") || check_domain(host).is_ok();
    if host.is_empty() || !literal_ok {
        return Err((
            format!("has the host {host:?}, which is not a DNS name"),
            format!("write a host name or #{{host}}, {example}"),
        ));
    }
    Ok((protocol.to_owned(), host.to_owned(), port.to_owned(), tail))
}
