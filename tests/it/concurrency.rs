//! A function's provisioned concurrency (`function/<fn>/provisioned`), which moto does
//! not implement: against MiniStack, through the test proxy, which makes a new
//! configuration report `IN_PROGRESS` for a while, as Lambda does while it starts the
//! environments (MiniStack reports `READY` at once). Verified through the AWS SDK.

use std::time::Duration;

use aws_sdk_lambda::operation::get_provisioned_concurrency_config::GetProvisionedConcurrencyConfigError;
use aws_sdk_lambda::Client as Lambda;

use crate::json_output::assert_matches;
use crate::support::inventory::{self, Kind, Roles, Scope};
use crate::support::ministack::{MiniStack, ACCOUNT, ROOT_KEY, ROOT_SECRET};
use crate::support::proxy::{Proxy, ProxyConfig, Realism};
use crate::support::{albkit_command_at, run, unique_stack_name, Output, Project, ALBKIT_TIMEOUT};

const REGION: &str = "us-east-1";

/// Runs albkit in `project` through `proxy`, as MiniStack's root.
fn albkit(proxy: &Proxy, project: &Project, args: &[&str]) -> Output {
    let mut cmd = albkit_command_at(&proxy.endpoint(), project, REGION);
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
        .args(args);
    run(cmd, ALBKIT_TIMEOUT)
}

/// The `live` alias's provisioned concurrency: the count requested and the status.
async fn provisioned(lambda: &Lambda, function: &str) -> Option<(i32, String)> {
    match lambda
        .get_provisioned_concurrency_config()
        .function_name(function)
        .qualifier("live")
        .send()
        .await
    {
        Ok(c) => Some((
            c.requested_provisioned_concurrent_executions()
                .unwrap_or_default(),
            c.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        )),
        Err(e)
            if e.as_service_error().is_some_and(
                GetProvisionedConcurrencyConfigError::is_provisioned_concurrency_config_not_found_exception,
            ) =>
        {
            None
        }
        Err(e) => panic!("GetProvisionedConcurrencyConfig: {e:?}"),
    }
}

/// Sets the `live` alias's provisioned concurrency by hand.
async fn provision_by_hand(lambda: &Lambda, function: &str, n: i32) {
    lambda
        .put_provisioned_concurrency_config()
        .function_name(function)
        .qualifier("live")
        .provisioned_concurrent_executions(n)
        .send()
        .await
        .expect("PutProvisionedConcurrencyConfig");
}

/// `provisioned_concurrency` is planned as `function/<name>/provisioned`, set on the
/// `live` alias and waited for until `READY`; a changed count updates it alone, a count
/// changed by hand is drift that `up` puts back, dropping the key removes it (and one
/// set by hand then), and `down` leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn provisioned_concurrency_is_waited_for_changed_and_removed() {
    let stack = unique_stack_name("pc");
    let project = Project::from_template("hello", &stack);
    let proxy = Proxy::start(
        &MiniStack::shared().endpoint(),
        ProxyConfig {
            tls_front: true,
            realism: Realism {
                provisioned_allocation: Duration::from_secs(2),
                ..Realism::default()
            },
            ..ProxyConfig::default()
        },
    );
    let cfg = MiniStack::shared().root_config(REGION).await;
    let lambda = Lambda::new(&cfg);
    let function = format!("{stack}--hello");
    let toml = project.read("albkit.toml");
    let with = |n: u32| {
        toml.replacen(
            "[[functions]]\n",
            &format!("[[functions]]\nprovisioned_concurrency = {n}\n"),
            1,
        )
    };

    project.write("albkit.toml", &with(2));
    let plan = albkit(&proxy, &project, &["plan"]);
    assert!(
        plan.ok()
            .stdout
            .contains("+ function/hello/provisioned (provisioned-concurrency)"),
        "{plan}"
    );
    // The kind is one the plan document's schema knows.
    let json = albkit(&proxy, &project, &["plan", "-o", "json"]);
    assert_matches("plan", &json.ok().json(), &json);
    proxy.clear_records();
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(
        provisioned(&lambda, &function).await,
        Some((2, "READY".into()))
    );
    // `up` waited: after the put it read the configuration until it was ready.
    let records = proxy.records();
    let put = records
        .iter()
        .position(|r| r.operation == "PutProvisionedConcurrencyConfig")
        .expect("PutProvisionedConcurrencyConfig was called");
    let polls = records[put..]
        .iter()
        .filter(|r| r.operation == "GetProvisionedConcurrencyConfig")
        .count();
    assert!(
        polls >= 2,
        "one poll saw IN_PROGRESS, a later one READY: {polls}"
    );
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(0);

    project.write("albkit.toml", &with(3));
    let plan = albkit(&proxy, &project, &["plan"]);
    let text = plan.ok().stdout.clone();
    assert!(
        text.contains("~ function/hello/provisioned") && text.contains("provisioned: 2 -> 3"),
        "{text}"
    );
    assert!(
        !text.contains("~ function/hello (lambda-function)"),
        "the function itself is unchanged:\n{text}"
    );
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(
        provisioned(&lambda, &function).await,
        Some((3, "READY".into()))
    );

    // Changed by hand: drift, put back by `up`.
    provision_by_hand(&lambda, &function, 1).await;
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(2);
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(
        provisioned(&lambda, &function).await,
        Some((3, "READY".into()))
    );

    project.write("albkit.toml", &toml);
    let plan = albkit(&proxy, &project, &["plan"]);
    assert!(
        plan.ok().stdout.contains("- function/hello/provisioned"),
        "{plan}"
    );
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(provisioned(&lambda, &function).await, None);

    // Set by hand while the config sets none: drift, removed by `up`.
    provision_by_hand(&lambda, &function, 1).await;
    albkit(&proxy, &project, &["plan", "--detailed-exitcode"]).code_is(2);
    albkit(&proxy, &project, &["up", "--yes"]).ok();
    assert_eq!(provisioned(&lambda, &function).await, None);

    albkit(&proxy, &project, &["down", "--yes", "--purge-logs"]).ok();
    let scope = Scope {
        stack: &stack,
        region: REGION,
        account: ACCOUNT,
        roles: Roles::AllRegions,
    };
    let kinds = [Kind::Function, Kind::LoadBalancer, Kind::Role, Kind::Vpc];
    assert_eq!(
        inventory::leftovers(&cfg, &scope, &kinds).await,
        Vec::<String>::new()
    );
}
