//! `[https] mtls = { ca_bundle = "…" }`: the CA bundle object in the stack's bucket, the
//! trust store (`ACTIVE`, tagged) and the HTTPS listener's verify mode are created,
//! drift-checked, repaired, updated when the bundle changes and removed with the key and
//! with the stack. Through the test proxy, which emulates trust stores and mutual
//! authentication (moto 5.2.1 has neither, docs/testing.md); checked through the SDK.
//! The CA certificates are tests/fixtures/mtls/ (made by its make.sh with openssl).

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{MutualAuthenticationAttributes, TrustStoreStatus};

use crate::support::inventory::{self, Kind, Roles, Scope, RESOURCES};
use crate::support::proxy::{Proxy, ProxyConfig};
use crate::support::{
    albkit_command_at, create_hosted_zone, run, sdk_config_at, unique_stack_name, Moto, Output,
    Project, ACCESS_KEY_ID, ACCOUNT_ID, ALBKIT_TIMEOUT, SECRET_ACCESS_KEY,
};

const REGION: &str = "eu-north-1";
const CA_ONE: &str = include_str!("../fixtures/mtls/ca-one.pem");
const CA_TWO: &str = include_str!("../fixtures/mtls/ca-two.pem");

struct Clients {
    cfg: aws_config::SdkConfig,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    s3: aws_sdk_s3::Client,
}

fn albkit(proxy: &Proxy, project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&proxy.endpoint(), project, REGION);
    cmd.args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

async fn clients(proxy: &Proxy) -> Clients {
    let cfg = sdk_config_at(&proxy.endpoint(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    Clients {
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
        s3: crate::support::s3_client(&cfg),
        cfg,
    }
}

/// An HTTPS stack without access logs (the bucket is still made, for the bundle); with
/// `mtls`, verifying clients against `certs/clients.pem`.
fn config(stack: &str, zone: &str, mtls: bool) -> String {
    let mtls = if mtls {
        "mtls = { ca_bundle = \"certs/clients.pem\" }\n"
    } else {
        ""
    };
    format!(
        r#"[stack]
name = "{stack}"

[load_balancer]
access_logs = false

[https]
domain = "api.{stack}.example.com"
hosted_zone_id = "{zone}"
{mtls}
[[functions]]
name = "hello"
path = "functions/hello"

[[functions.routes]]
priority = 10
paths = ["/hello"]
"#
    )
}

fn bucket(stack: &str) -> String {
    format!("albkit-{stack}-logs-{ACCOUNT_ID}-{REGION}")
}

/// The object keys under `mtls/` in the stack's bucket (none when it is gone).
async fn bundles(c: &Clients, stack: &str) -> Vec<String> {
    let out =
        c.s3.list_objects_v2()
            .bucket(bucket(stack))
            .prefix("mtls/")
            .send()
            .await;
    out.map(|o| {
        o.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    })
    .unwrap_or_default()
}

/// The stack's trust store: `(ARN, status, tags)`; `None` when there is none.
async fn trust_store(
    c: &Clients,
    stack: &str,
) -> Option<(String, TrustStoreStatus, Vec<(String, String)>)> {
    let out = c
        .elb
        .describe_trust_stores()
        .names(format!("{stack}-mtls"))
        .send()
        .await;
    let store = match out {
        Ok(o) => o.trust_stores().first().cloned().expect("a trust store"),
        Err(e) => {
            let code = e.code();
            assert_eq!(code, Some("TrustStoreNotFound"), "{e:?}");
            return None;
        }
    };
    let arn = store.trust_store_arn().expect("arn").to_string();
    let tags = c
        .elb
        .describe_tags()
        .resource_arns(&arn)
        .send()
        .await
        .expect("DescribeTags");
    let tags = tags
        .tag_descriptions()
        .iter()
        .flat_map(aws_sdk_elasticloadbalancingv2::types::TagDescription::tags)
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Some((arn, store.status().cloned().expect("status"), tags))
}

/// The HTTPS listener's ARN and its mutual authentication `(mode, trust store ARN)`.
async fn https_listener(c: &Clients, stack: &str) -> (String, (String, Option<String>)) {
    let lb = c
        .elb
        .describe_load_balancers()
        .names(format!("{stack}-alb"))
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let lb = lb.load_balancers()[0].load_balancer_arn().expect("arn");
    let out = c
        .elb
        .describe_listeners()
        .load_balancer_arn(lb)
        .send()
        .await
        .expect("DescribeListeners");
    let l = out
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("443");
    let m = l.mutual_authentication();
    let mode = m
        .and_then(MutualAuthenticationAttributes::mode)
        .unwrap_or("off")
        .to_string();
    let store = m
        .and_then(MutualAuthenticationAttributes::trust_store_arn)
        .map(str::to_string);
    (l.listener_arn().expect("arn").to_string(), (mode, store))
}

fn key_of(pem: &str) -> String {
    use sha2::Digest;
    format!(
        "mtls/{}.pem",
        hex::encode(sha2::Sha256::digest(pem.as_bytes()))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_trust_store_is_created_repaired_changed_and_removed() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let c = clients(&proxy).await;
    let stack = unique_stack_name("mtls");
    let zone = create_hosted_zone(&c.cfg, &format!("{stack}.example.com")).await;
    let project = Project::from_template("hello", &stack);
    project.write("certs/clients.pem", CA_ONE);
    project.with_config(&config(&stack, &zone, true));

    // Created: the bundle object, the trust store (ACTIVE, tagged), verify mode.
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(bundles(&c, &stack).await, vec![key_of(CA_ONE)]);
    let (store, status, tags) = trust_store(&c, &stack).await.expect("trust store");
    assert_eq!(status, TrustStoreStatus::Active);
    assert!(
        tags.contains(&("albkit:stack".into(), stack.clone())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("albkit:ca-bundle".into(), key_of(CA_ONE))),
        "{tags:?}"
    );
    let (listener, auth) = https_listener(&c, &stack).await;
    assert_eq!(auth, ("verify".to_string(), Some(store.clone())));
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Turned off by hand: plan shows it, up repairs it.
    c.elb
        .modify_listener()
        .listener_arn(&listener)
        .mutual_authentication(
            MutualAuthenticationAttributes::builder()
                .mode("off")
                .build(),
        )
        .send()
        .await
        .expect("ModifyListener");
    let plan = albkit(&proxy, &project, &["plan", "--detailed-exitcode"]);
    plan.code_is(2);
    assert!(plan.stdout.contains("mutual_authentication"), "{plan}");
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(https_listener(&c, &stack).await.1 .0, "verify");
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // A changed bundle: a new object, the same trust store modified, the old object gone.
    project.write("certs/clients.pem", &format!("{CA_ONE}{CA_TWO}"));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    let both = key_of(&format!("{CA_ONE}{CA_TWO}"));
    assert_eq!(bundles(&c, &stack).await, vec![both.clone()]);
    let (again, status, tags) = trust_store(&c, &stack).await.expect("trust store");
    assert_eq!(
        (again.as_str(), status),
        (store.as_str(), TrustStoreStatus::Active)
    );
    assert!(
        tags.contains(&("albkit:ca-bundle".into(), both)),
        "{tags:?}"
    );
    assert!(proxy
        .records()
        .iter()
        .any(|r| r.operation == "ModifyTrustStore" && r.status == 200));
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Without the key: mode off, trust store and object gone.
    project.with_config(&config(&stack, &zone, false));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(
        https_listener(&c, &stack).await.1,
        ("off".to_string(), None)
    );
    assert!(trust_store(&c, &stack).await.is_none());
    assert!(bundles(&c, &stack).await.is_empty());
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    // Back on, then down: nothing left.
    project.with_config(&config(&stack, &zone, true));
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert!(trust_store(&c, &stack).await.is_some());
    albkit(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
    assert!(trust_store(&c, &stack).await.is_none());
    let scope = Scope {
        stack: &stack,
        region: REGION,
        account: ACCOUNT_ID,
        roles: Roles::AllRegions,
    };
    let mut kinds = RESOURCES.to_vec();
    kinds.push(Kind::Certificate);
    let left = inventory::leftovers(&c.cfg, &scope, &kinds).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bundle_object_fails_like_aws() {
    // The emulation reads the bundle from S3, as AWS does: a trust store made from an
    // object that is not there is refused with CaCertificatesBundleNotFound.
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let c = clients(&proxy).await;
    let err = c
        .elb
        .create_trust_store()
        .name("no-bundle")
        .ca_certificates_bundle_s3_bucket("no-such-bucket-for-mtls")
        .ca_certificates_bundle_s3_key("mtls/none.pem")
        .send()
        .await
        .expect_err("refused");
    let code = err.code();
    assert_eq!(code, Some("CaCertificatesBundleNotFound"), "{err:?}");
}
