//! S3: the access-log bucket and the lock bucket. Bucket names are global and
//! predictable, so a bucket under one of albkit's names may be someone else's: another
//! account's (moto ignores `ExpectedBucketOwner`, so the proxy imitates S3's 403), or one
//! of this account that albkit did not create. albkit must never write into, empty or
//! delete such a bucket. Its own lock bucket is TLS-only, private, encrypted and tagged,
//! and outlives `down` unless `--purge-logs`.
//!
//! Each test has a region that no other test of tests/it uses: the lock bucket is shared
//! by the stacks of a region, and these tests put foreign buckets under its name.

use aws_sdk_s3::primitives::ByteStream;

use crate::support::proxy::{Proxy, ProxyConfig};
use crate::support::{
    albkit, albkit_with_env, assert_lock_bucket_secured, create_bucket, lock_bucket, s3_client,
    sdk_config, tag_bucket, unique_stack_name, Moto, Output, Project, ACCOUNT_ID,
};

/// The account the proxy says the foreign buckets belong to.
const OTHER_ACCOUNT: &str = "210987654321";

fn config(stack: &str) -> String {
    format!("[stack]\nname = \"{stack}\"\n\n[[functions]]\nname = \"hello\"\npath = \"functions/hello\"\n\n[[functions.routes]]\npriority = 10\npaths = [\"/hello\"]\n")
}

fn project(stack: &str) -> Project {
    let project = Project::from_template("hello", stack);
    project.with_config(&config(stack));
    project
}

fn log_bucket(stack: &str, region: &str) -> String {
    format!("albkit-{stack}-logs-{ACCOUNT_ID}-{region}")
}

fn via(moto: &Moto, proxy: &Proxy, project: &Project, region: &str, args: &[&str]) -> Output {
    let endpoint = proxy.endpoint();
    albkit_with_env(
        moto,
        project,
        region,
        args,
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("ALBKIT_RETRY_BASE_MS", "20"),
        ],
    )
}

/// The error a failed run printed with `-o json`: its message and help, unwrapped.
fn error_text(out: &Output) -> String {
    let doc = out.json();
    format!(
        "{} {}",
        doc["error"]["message"].as_str().unwrap_or_default(),
        doc["error"]["help"].as_str().unwrap_or_default()
    )
}

/// The mutating calls the proxy saw ("service operation").
fn mutating(proxy: &Proxy) -> Vec<String> {
    proxy
        .records()
        .iter()
        .filter(|r| r.mutating)
        .map(|r| format!("{} {}", r.service, r.operation))
        .collect()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &'static [u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .expect("put object");
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    s3.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list objects")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_untagged_bucket_with_the_stack_bucket_name_is_never_emptied() {
    let moto = Moto::shared();
    let region = "ap-northeast-3";
    let stack = unique_stack_name("s3-foreign");
    let s3 = s3_client(&sdk_config(moto, region).await);
    let bucket = log_bucket(&stack, region);
    // Someone's bucket, untagged, that happens to have the stack's log-bucket name.
    create_bucket(&s3, &bucket, region).await;
    put(&s3, &bucket, "theirs/report.csv", b"not albkit's").await;

    let project = project(&stack);
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    for args in [
        &["plan", "-o", "json"][..],
        &["up", "--yes", "-o", "json"][..],
    ] {
        let out = via(moto, &proxy, &project, region, args);
        out.code_is(1);
        let error = error_text(&out);
        assert!(error.contains(&bucket), "{args:?} names the bucket\n{out}");
        assert!(
            error.contains("holds objects"),
            "{args:?} says why it is foreign\n{out}"
        );
    }
    assert_eq!(
        mutating(&proxy),
        Vec::<String>::new(),
        "plan and up stopped before any mutating call"
    );
    // Whatever down does with the rest, the bucket is neither emptied nor deleted.
    via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "--purge-logs"],
    );
    assert_eq!(keys(&s3, &bucket).await, ["theirs/report.csv"]);
    let tags = s3.get_bucket_tagging().bucket(&bucket).send().await;
    assert!(
        tags.map_or(true, |t| t.tag_set().is_empty()),
        "not tagged by albkit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_of_another_account_under_albkit_names_are_refused_by_their_owner() {
    let moto = Moto::shared();
    let region = "eu-south-1";
    let stack = unique_stack_name("s3-account");
    let s3 = s3_client(&sdk_config(moto, region).await);
    let bucket = log_bucket(&stack, region);
    let locks = lock_bucket(region);
    // Without the expected owner these would pass for albkit's own: the log bucket is
    // even tagged for the stack, the lock bucket as albkit's.
    create_bucket(&s3, &bucket, region).await;
    tag_bucket(&s3, &bucket, "albkit:stack", &stack).await;
    put(&s3, &bucket, "alb/their-log.gz", b"their logs").await;
    create_bucket(&s3, &locks, region).await;
    tag_bucket(&s3, &locks, "albkit:purpose", "stack-locks").await;

    let project = project(&stack);
    let proxy = Proxy::start(
        &moto.endpoint(),
        ProxyConfig {
            other_account_buckets: vec![
                (bucket.clone(), OTHER_ACCOUNT.to_string()),
                (locks.clone(), OTHER_ACCOUNT.to_string()),
            ],
            ..ProxyConfig::default()
        },
    );
    let out = via(moto, &proxy, &project, region, &["plan", "-o", "json"]);
    out.code_is(1);
    let error = error_text(&out);
    assert!(
        error.contains(&bucket) && error.contains(&locks),
        "names both buckets\n{out}"
    );
    assert!(error.contains("belongs to another AWS account"), "{out}");
    assert!(
        proxy.records().iter().any(|r| r.fault
            == Some(crate::support::proxy::Fault::Realism(
                "expected-bucket-owner"
            ))),
        "albkit named the expected owner"
    );
    // down locks before it reads the stack: the lock fails, naming the bucket.
    let down = via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "--purge-logs", "-o", "json"],
    );
    down.code_is(1);
    let error = error_text(&down);
    assert!(error.contains(&locks), "{down}");
    assert!(error.contains("another AWS account"), "{down}");
    assert_eq!(
        mutating(&proxy),
        Vec::<String>::new(),
        "nothing written, emptied or deleted"
    );
    assert_eq!(keys(&s3, &bucket).await, ["alb/their-log.gz"]);
    assert!(keys(&s3, &locks).await.is_empty(), "no lock written");
}

#[tokio::test(flavor = "multi_thread")]
async fn down_keeps_the_lock_bucket_unless_purge_logs() {
    let moto = Moto::shared();
    let region = "ap-southeast-1";
    let stack = unique_stack_name("s3-keep");
    let s3 = s3_client(&sdk_config(moto, region).await);
    let locks = lock_bucket(region);
    let project = project(&stack);

    albkit(moto, &project, region, &["up", "--yes"]).ok();
    // Created by the lock, with every setting.
    assert_lock_bucket_secured(&s3, &locks).await;
    albkit(moto, &project, region, &["down", "--yes"]).ok();
    assert!(exists(&s3, &locks).await, "kept by down");
    assert!(keys(&s3, &locks).await.is_empty(), "the lock was released");

    // Another stack's lock in it: --purge-logs keeps the bucket and that lock.
    let other = format!("{stack}-other/lock.json");
    put(&s3, &locks, &other, b"{}").await;
    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(exists(&s3, &locks).await, "kept while a lock is in it");
    assert_eq!(keys(&s3, &locks).await, [other.as_str()]);

    s3.delete_object()
        .bucket(&locks)
        .key(&other)
        .send()
        .await
        .expect("remove the other lock");
    albkit(moto, &project, region, &["down", "--yes", "--purge-logs"]).ok();
    assert!(
        !exists(&s3, &locks).await,
        "down --purge-logs removes the unused lock bucket"
    );
    assert!(!exists(&s3, &log_bucket(&stack, region)).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_bucket_denies_plain_http() {
    let moto = Moto::shared();
    let region = "me-south-1";
    let stack = unique_stack_name("s3-tls");
    let s3 = s3_client(&sdk_config(moto, region).await);
    let locks = lock_bucket(region);
    // What an albkit that did not secure its lock bucket left: untagged, empty, no
    // policy, no public access block, no encryption. albkit adopts it (it is empty) and
    // secures it before writing the lock.
    create_bucket(&s3, &locks, region).await;
    let project = project(&stack);
    let out = albkit(moto, &project, region, &["down", "--yes"]);
    out.ok();
    assert!(out.stderr.contains(&locks), "says what it set\n{out}");
    assert_lock_bucket_secured(&s3, &locks).await;
    assert!(keys(&s3, &locks).await.is_empty(), "the lock was released");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untagged_lock_bucket_holding_objects_is_not_written_to() {
    let moto = Moto::shared();
    let region = "af-south-1";
    let stack = unique_stack_name("s3-lockfg");
    let s3 = s3_client(&sdk_config(moto, region).await);
    let locks = lock_bucket(region);
    create_bucket(&s3, &locks, region).await;
    put(&s3, &locks, "data/theirs.bin", b"someone's data").await;

    let project = project(&stack);
    let proxy = Proxy::start(&moto.endpoint(), ProxyConfig::default());
    let plan = via(moto, &proxy, &project, region, &["plan", "-o", "json"]);
    plan.code_is(1);
    assert!(error_text(&plan).contains(&locks), "{plan}");
    let down = via(
        moto,
        &proxy,
        &project,
        region,
        &["down", "--yes", "-o", "json"],
    );
    down.code_is(1);
    let error = error_text(&down);
    assert!(error.contains(&locks), "{down}");
    assert!(error.contains("holds objects"), "says why\n{down}");
    assert!(
        error.contains("albkit:purpose"),
        "says how to fix it\n{down}"
    );
    assert_eq!(mutating(&proxy), Vec::<String>::new(), "nothing written");
    assert_eq!(keys(&s3, &locks).await, ["data/theirs.bin"]);
}
