//! Self-test of the integration-test harness (`tests/it/support`): moto starts, the SDK
//! reaches it, reset clears it, servers stop, projects copy.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{s3_client, sdk_config, Moto, Project};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

async fn create_tagged_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str, tag: &str) -> String {
    let vpc = ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(Tag::builder().key("harness").value(tag).build())
                .build(),
        )
        .send()
        .await
        .expect("create_vpc")
        .vpc
        .expect("vpc in response");
    vpc.vpc_id.expect("vpc id")
}

async fn vpcs_tagged(ec2: &aws_sdk_ec2::Client, tag: &str) -> Vec<String> {
    ec2.describe_vpcs()
        .filters(Filter::builder().name("tag:harness").values(tag).build())
        .send()
        .await
        .expect("describe_vpcs")
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id.clone())
        .collect()
}

#[tokio::test]
async fn shared_moto_serves_the_sdk() {
    let moto = Moto::shared();
    assert!(
        std::ptr::eq(moto, Moto::shared()),
        "one server per test binary"
    );
    let cfg = sdk_config(moto, "eu-west-3").await;

    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let id = create_tagged_vpc(&ec2, "10.42.0.0/16", "shared").await;
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(&id)
        .send()
        .await
        .expect("describe_vpcs");
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.42.0.0/16"));
    assert_eq!(vpcs_tagged(&ec2, "shared").await, vec![id]);

    let who = aws_sdk_sts::Client::new(&cfg)
        .get_caller_identity()
        .send()
        .await
        .expect("get_caller_identity");
    assert_eq!(who.account(), Some(crate::support::ACCOUNT_ID));

    // Path-style S3 against the local endpoint.
    let s3 = s3_client(&cfg);
    s3.create_bucket()
        .bucket("albkit-harness-bucket")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest3)
                .build(),
        )
        .send()
        .await
        .expect("create_bucket");
    let buckets = s3.list_buckets().send().await.expect("list_buckets");
    assert!(buckets
        .buckets()
        .iter()
        .any(|b| b.name() == Some("albkit-harness-bucket")));
}

#[tokio::test]
async fn reset_clears_state_and_drop_stops_the_server() {
    // A private server: resetting the shared one would disturb other tests.
    let moto = Moto::start();
    assert_ne!(moto.port(), Moto::shared().port());
    let cfg = sdk_config(&moto, "us-west-2").await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);

    let id = create_tagged_vpc(&ec2, "10.7.0.0/16", "reset").await;
    assert_eq!(vpcs_tagged(&ec2, "reset").await, vec![id.clone()]);

    moto.reset();
    assert!(vpcs_tagged(&ec2, "reset").await.is_empty());
    let gone = ec2.describe_vpcs().vpc_ids(&id).send().await;
    assert!(gone.is_err(), "VPC {id} still there after reset");

    let port = moto.port();
    let log = moto.log_path().to_path_buf();
    drop(moto);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(45);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < deadline, "moto still listening on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !log.exists(),
        "log of a cleanly stopped private server is removed"
    );
}

#[test]
fn project_renders_a_template_and_rewrites_config() {
    let project = Project::from_template("hello", "harness");
    let root = project.path();
    assert!(root.join("albkit.toml").is_file());
    assert!(root.join("functions/hello/Cargo.toml").is_file());
    assert!(root.join("functions/hello/src/main.rs").is_file());
    assert!(!root.join("target").exists());
    assert!(!root.join("functions/hello/target").exists());
    assert!(project.read("albkit.toml").contains("name = \"harness\""));
    assert!(project
        .read("functions/hello/Cargo.toml")
        .contains("name = \"harness-hello\""));

    project.with_config("[stack]\nname = \"other\"\n");
    assert_eq!(project.read("albkit.toml"), "[stack]\nname = \"other\"\n");

    let copy = root.to_path_buf();
    drop(project);
    assert!(!copy.exists(), "project directory removed on drop");
}

#[test]
fn stack_names_are_unique_and_valid() {
    let a = crate::support::unique_stack_name("harness-with-a-very-long-prefix");
    let b = crate::support::unique_stack_name("harness-with-a-very-long-prefix");
    assert_ne!(a, b);
    for name in [a, b] {
        assert!(name.len() <= 24, "{name}");
        assert!(name.starts_with(|c: char| c.is_ascii_lowercase()));
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }
}

#[test]
fn albkit_binary_is_built_and_runs_with_a_timeout() {
    assert!(crate::support::albkit_bin().is_file());
    // The timeout path kills the whole process group and still returns the output.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "echo started; sleep 30 & sleep 30"]);
    let started = Instant::now();
    let out = crate::support::run(cmd, Duration::from_secs(1));
    assert!(out.timed_out && out.code.is_none(), "{out}");
    assert_eq!(out.stdout, "started\n");
    assert!(started.elapsed() < Duration::from_secs(10));
}
