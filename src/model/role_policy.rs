//! The execution role's policies, as albkit writes them and as `plan` compares them.
//!
//! A function's role holds one inline policy, [`EXECUTION_POLICY_NAME`]: its log
//! streams in its own log group, and read access to exactly the secrets and parameters
//! it names (with `kms:Decrypt` on its key). No managed policy is attached: AWS's
//! `AWSLambdaBasicExecutionRole` allows writing to every log group of the account.
//!
//! Policies and trust policies are compared through [`describe_policy`] and
//! [`describe_trust`], a canonical text (statements and lists sorted), so that any
//! statement or principal someone added shows up in `plan` as drift. Pure.

use serde_json::{json, Value};

use super::config::FunctionSettings;

/// The name of the inline policy albkit puts on each execution role.
pub const EXECUTION_POLICY_NAME: &str = "albkit-execution";

/// The trust policy: Lambda, and only Lambda, may assume the role.
pub fn trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The execution policy of function `f`, whose logs go to `log_group`.
pub fn execution_policy(
    f: &FunctionSettings,
    log_group: &str,
    partition: &str,
    region: &str,
    account: &str,
) -> Value {
    let mut statements = vec![json!({
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!("arn:{partition}:logs:{region}:{account}:log-group:{log_group}:*"),
    })];
    let mut secrets: Vec<String> = Vec::new();
    let mut parameters: Vec<String> = Vec::new();
    for r in f.secrets.values() {
        match r {
            super::config::SecretRef::SecretsManager(_) => {
                secrets.push(r.arn(partition, region, account));
            }
            super::config::SecretRef::Parameter(_) => {
                parameters.push(r.arn(partition, region, account));
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    parameters.sort();
    parameters.dedup();
    if !secrets.is_empty() {
        statements.push(json!({
            "Sid": "ReadOwnSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secrets,
        }));
    }
    if !parameters.is_empty() {
        statements.push(json!({
            "Sid": "ReadOwnParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": parameters,
        }));
    }
    if let Some(key) = &f.kms_key_arn {
        statements.push(json!({
            "Sid": "DecryptWithOwnKey",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// A policy document as IAM returns it (URL-encoded JSON) or as written.
pub fn parse_document(text: &str) -> Option<Value> {
    let decoded =
        urlencoding::decode(text).map_or_else(|_| text.to_string(), std::borrow::Cow::into_owned);
    serde_json::from_str(&decoded).ok()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    };
    out.sort();
    out
}

fn statements(doc: &Value) -> Vec<Value> {
    match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// One statement in canonical text: `Allow a, b on r1, r2 [if {…}]`; `Not…` members and
/// conditions are shown as they are.
fn describe_statement(s: &Value) -> String {
    let effect = s["Effect"].as_str().unwrap_or("?");
    let mut text = effect.to_string();
    for (key, label) in [("Action", ""), ("NotAction", "all but ")] {
        if !s[key].is_null() {
            text.push_str(&format!(" {label}{}", strings(&s[key]).join(", ")));
        }
    }
    for (key, label) in [("Resource", "on"), ("NotResource", "on all but")] {
        if !s[key].is_null() {
            text.push_str(&format!(" {label} {}", strings(&s[key]).join(", ")));
        }
    }
    for (key, label) in [("Principal", "by"), ("NotPrincipal", "by all but")] {
        match &s[key] {
            Value::Null => {}
            Value::Object(m) => {
                let mut who: Vec<String> = m
                    .iter()
                    .flat_map(|(kind, v)| {
                        strings(v).into_iter().map(move |p| format!("{kind} {p}"))
                    })
                    .collect();
                who.sort();
                text.push_str(&format!(" {label} {}", who.join(", ")));
            }
            other => text.push_str(&format!(" {label} {}", strings(other).join(", "))),
        }
    }
    if !s["Condition"].is_null() {
        text.push_str(&format!(" if {}", s["Condition"]));
    }
    text
}

/// A permissions policy in canonical text: its statements, sorted, joined by `; `.
pub fn describe_policy(doc: &Value) -> String {
    let mut parts: Vec<String> = statements(doc).iter().map(describe_statement).collect();
    parts.sort();
    parts.join("; ")
}

/// Who may assume the role: `lambda.amazonaws.com` for albkit's own trust policy, else
/// every statement in canonical text (an added principal, action or condition shows).
pub fn describe_trust(doc: &Value) -> String {
    if describe_policy(doc) == describe_policy(&trust_policy()) {
        return "lambda.amazonaws.com".to_string();
    }
    describe_policy(doc)
}

/// The inline policies of a role as one property: `name: policy` for each, by name.
pub fn inline_prop(policies: &[(String, Value)]) -> String {
    let mut parts: Vec<String> = policies
        .iter()
        .map(|(name, doc)| format!("{name}: {}", describe_policy(doc)))
        .collect();
    parts.sort();
    if parts.is_empty() {
        "(none)".to_string()
    } else {
        parts.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Architecture, SecretRef};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn function() -> FunctionSettings {
        FunctionSettings {
            name: "api".into(),
            path: PathBuf::from("/tmp/api"),
            target_dir: PathBuf::from("/tmp/target"),
            memory_mb: 128,
            timeout_seconds: 10,
            reserved_concurrency: None,
            provisioned_concurrency: None,
            architecture: Architecture::X86_64,
            environment: BTreeMap::new(),
            secrets: BTreeMap::new(),
            kms_key_arn: None,
            log_retention_days: 14,
            multi_value_headers: false,
            health_check: None,
            deploy_strategy: Default::default(),
            deploy_gate: Default::default(),
            routes: Vec::new(),
        }
    }

    #[test]
    fn the_execution_policy_writes_only_to_the_functions_own_log_group() {
        let doc = execution_policy(
            &function(),
            "/aws/lambda/shop--api",
            "aws",
            "eu-west-1",
            "123456789012",
        );
        assert_eq!(
            describe_policy(&doc),
            "Allow logs:CreateLogStream, logs:PutLogEvents on \
             arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/shop--api:*"
        );
    }

    #[test]
    fn secrets_grant_read_access_to_exactly_those_arns() {
        let mut f = function();
        f.secrets.insert(
            "DB_URL".into(),
            SecretRef::SecretsManager(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf".into(),
            ),
        );
        f.secrets.insert(
            "API_KEY".into(),
            SecretRef::Parameter("/shop/api-key".into()),
        );
        f.kms_key_arn = Some("arn:aws:kms:eu-west-1:123456789012:key/k-1".into());
        let text = describe_policy(&execution_policy(
            &f,
            "/aws/lambda/shop--api",
            "aws",
            "eu-west-1",
            "123456789012",
        ));
        assert!(text.contains(
            "Allow secretsmanager:GetSecretValue on \
             arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf"
        ));
        assert!(text.contains(
            "Allow ssm:GetParameter, ssm:GetParameters on \
             arn:aws:ssm:eu-west-1:123456789012:parameter/shop/api-key"
        ));
        assert!(text.contains("Allow kms:Decrypt on arn:aws:kms:eu-west-1:123456789012:key/k-1"));
        assert!(
            !text.contains('*') || text.matches('*').count() == 1,
            "{text}"
        );
    }

    #[test]
    fn the_trust_policy_reads_as_lambda_and_anything_added_shows() {
        assert_eq!(describe_trust(&trust_policy()), "lambda.amazonaws.com");
        let encoded = urlencoding::encode(&trust_policy().to_string()).into_owned();
        let parsed = parse_document(&encoded).expect("parse");
        assert_eq!(describe_trust(&parsed), "lambda.amazonaws.com");
        let widened = json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" },
                { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::999999999999:root" }, "Action": "sts:AssumeRole" }
            ]
        });
        let text = describe_trust(&widened);
        assert!(
            text.contains("by AWS arn:aws:iam::999999999999:root"),
            "{text}"
        );
        assert!(text.contains("by Service lambda.amazonaws.com"), "{text}");
        // Another principal beside Lambda in the same statement shows too.
        let shared = json!({ "Statement": { "Effect": "Allow", "Principal": { "Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"] }, "Action": "sts:AssumeRole" } });
        assert!(describe_trust(&shared).contains("Service ec2.amazonaws.com"));
    }

    #[test]
    fn an_added_statement_changes_the_inline_property() {
        let own = execution_policy(&function(), "/aws/lambda/a", "aws", "us-east-1", "1");
        let mut more = own.clone();
        if let Some(list) = more["Statement"].as_array_mut() {
            list.push(json!({ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }));
        }
        let want = inline_prop(&[(EXECUTION_POLICY_NAME.into(), own.clone())]);
        assert_ne!(want, inline_prop(&[(EXECUTION_POLICY_NAME.into(), more)]));
        assert_ne!(
            want,
            inline_prop(&[
                (EXECUTION_POLICY_NAME.into(), own.clone()),
                ("extra".into(), json!({ "Statement": [] }))
            ])
        );
        // Order of statements and of list members does not matter.
        let mut reordered = own.clone();
        if let Some(list) = reordered["Statement"][0]["Action"].as_array_mut() {
            list.reverse();
        }
        assert_eq!(
            want,
            inline_prop(&[(EXECUTION_POLICY_NAME.into(), reordered)])
        );
        assert_eq!(inline_prop(&[]), "(none)");
    }
}
