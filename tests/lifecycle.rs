//! The code lifecycle against moto: `deploy` with unchanged code uploads nothing (in at
//! most two AWS calls), changed code publishes version n+1 and moves `live`, `rollback`
//! moves it back, `versions` lists them, and `logs` reads what the function wrote.
//! Everything is checked through the AWS SDK.

mod support;

use support::{albkit, sdk_config, unique_stack_name, Moto, Project};

const REGION: &str = "us-east-1";

fn project(stack: &str) -> Project {
    let p = Project::from_example("hello");
    let toml = p.read("albkit.toml").replace(
        "name = \"hello\"\n\n[[functions]]",
        &format!("name = \"{stack}\"\n\n[[functions]]"),
    );
    assert!(toml.contains(stack), "stack name not replaced:\n{toml}");
    p.with_config(&toml);
    p
}

/// (version, CodeSha256) that `live` serves.
async fn live(lambda: &aws_sdk_lambda::Client, name: &str) -> (String, String) {
    let c = lambda
        .get_function_configuration()
        .function_name(name)
        .qualifier("live")
        .send()
        .await
        .expect("GetFunctionConfiguration(live)");
    let alias = lambda
        .get_alias()
        .function_name(name)
        .name("live")
        .send()
        .await
        .expect("GetAlias");
    (
        alias.function_version().unwrap_or_default().to_string(),
        c.code_sha256().unwrap_or_default().to_string(),
    )
}

async fn versions(lambda: &aws_sdk_lambda::Client, name: &str) -> Vec<(String, String)> {
    let out = lambda
        .list_versions_by_function()
        .function_name(name)
        .send()
        .await
        .expect("ListVersionsByFunction");
    out.versions()
        .iter()
        .map(|v| {
            (
                v.version().unwrap_or_default().to_string(),
                v.code_sha256().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// HTTP requests moto has logged so far.
fn requests_logged(moto: &Moto) -> usize {
    std::fs::read_to_string(moto.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\" 200 ") || l.contains(" HTTP/1.1\" "))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_ships_only_changed_code_and_rollback_moves_live_back() {
    // A private server: its request log counts exactly albkit's calls.
    let moto = Moto::start();
    let stack = unique_stack_name("life");
    let p = project(&stack);
    albkit(&moto, &p, REGION, &["up", "--yes"]).ok();

    let cfg = sdk_config(&moto, REGION).await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let name = format!("{stack}-hello");
    let (v1, sha1) = live(&lambda, &name).await;
    let before = versions(&lambda, &name).await;
    assert!(before.iter().any(|(v, _)| *v == v1), "{before:?}");

    // Unchanged code: nothing uploaded, at most two AWS calls, no confirmation needed.
    let calls_before = requests_logged(&moto);
    let out = albkit(&moto, &p, REGION, &["deploy"]);
    out.ok();
    let calls = requests_logged(&moto) - calls_before;
    eprintln!("unchanged deploy: {calls} AWS call(s)");
    assert!(out.stderr.contains("nothing uploaded"), "{out}");
    assert!(calls <= 2, "unchanged deploy made {calls} AWS calls\n{out}");
    assert!(
        calls >= 1,
        "moto's log shows no request at all: cannot count\n{out}"
    );
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    assert_eq!(versions(&lambda, &name).await, before);
    let json = albkit(&moto, &p, REGION, &["deploy", "-o", "json"])
        .ok()
        .json();
    assert_eq!(json["functions"][0]["result"], "unchanged");
    assert!(json["functions"][0]["zip_bytes"].as_u64().unwrap_or(0) > 1000);

    // Changed code: refuses without --yes (no terminal), then publishes n+1.
    let main = "functions/hello/src/main.rs";
    p.write(
        main,
        &p.read(main)
            .replace("hello from albkit", "hello from albkit, deployed again"),
    );
    albkit(&moto, &p, REGION, &["deploy"]).code_is(2);
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    let out = albkit(&moto, &p, REGION, &["deploy", "--yes"]);
    out.ok();
    // moto runs no code: the smoke check must say its result is unusable, not roll back.
    assert!(out.stderr.contains("inconclusive"), "{out}");
    let (v2, sha2) = live(&lambda, &name).await;
    let n1: u64 = v1.parse().expect("numeric version");
    assert_eq!(v2, (n1 + 1).to_string());
    assert_ne!(sha2, sha1);
    let after = versions(&lambda, &name).await;
    assert_eq!(after.len(), before.len() + 1, "{after:?}");

    // versions: lists both, marks live.
    let doc = albkit(&moto, &p, REGION, &["versions", "-o", "json"])
        .ok()
        .json();
    assert_eq!(doc["functions"][0]["live"], v2.as_str());
    let listed: Vec<&str> = doc["functions"][0]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert!(
        listed.contains(&v1.as_str()) && listed.contains(&v2.as_str()),
        "{doc}"
    );
    albkit(&moto, &p, REGION, &["versions"]).ok();

    // rollback: refuses without --yes, then back to the previous version, then --to.
    albkit(&moto, &p, REGION, &["rollback"]).code_is(2);
    assert_eq!(live(&lambda, &name).await.0, v2);
    albkit(&moto, &p, REGION, &["rollback", "--yes"]).ok();
    assert_eq!(live(&lambda, &name).await, (v1.clone(), sha1.clone()));
    albkit(&moto, &p, REGION, &["rollback", "--to", &v2, "--yes"]).ok();
    assert_eq!(live(&lambda, &name).await, (v2.clone(), sha2.clone()));
    albkit(&moto, &p, REGION, &["rollback", "--to", "999", "--yes"]).code_is(2);

    // Deploying the same code again changes nothing.
    albkit(&moto, &p, REGION, &["deploy", "--yes"]).ok();
    assert_eq!(versions(&lambda, &name).await, after);

    // `up` still agrees with what deploy did: no change.
    let plan = albkit(&moto, &p, REGION, &["plan", "--detailed-exitcode"]);
    plan.code_is(0);
}
