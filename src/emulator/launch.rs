//! One function of the stack, run on this machine: built for the host, with the Lambda
//! identity the deployed stack gives it (the `live` alias's ARN, its target group's
//! ARN, the `provided.al2023` environment). Shared by `albkit dev` and
//! `albkit invoke --local`, so both run a function exactly the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::process::{lambda_environment, Console, Function};
use super::runtime_api::FunctionInfo;
use crate::model::config::FunctionSettings;
use crate::model::names::Names;
use crate::package::{self, BuildError, Profile};

/// The account id in local ARNs (never a real one).
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// A target group ARN shaped like the deployed one (the hash part is derived from the
/// name, so it is stable across runs).
pub fn target_group_arn(names: &Names, region: &str, function: &str) -> String {
    let tg = names.target_group(function);
    let hash = package::sha256_base64(tg.as_bytes());
    let hex: String = hash
        .bytes()
        .take(16)
        .map(|b| format!("{:x}", b % 16))
        .collect();
    format!(
        "arn:{}:elasticloadbalancing:{region}:{LOCAL_ACCOUNT}:targetgroup/{tg}/{hex}",
        crate::model::stack::partition(region)
    )
}

/// Builds the function's crate for this machine and returns the executable.
pub async fn build(
    f: &FunctionSettings,
    profile: Profile,
    console: Console,
) -> Result<PathBuf, BuildError> {
    eprintln!(
        "{}: building {} ({})",
        console.prefix(),
        f.name,
        match profile {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    );
    package::build_for_host(f, profile).await
}

/// The function `f` of the stack named by `names`, ready to run `binary` with up to
/// `concurrency` instances. No instance is started yet ([`Function::start_instance`]).
pub fn function(
    f: &FunctionSettings,
    names: &Names,
    region: &str,
    binary: PathBuf,
    concurrency: usize,
    console: Console,
) -> Arc<Function> {
    let deployed = names.function(&f.name);
    let task_root = binary.parent().unwrap_or(Path::new(".")).to_path_buf();
    let info = FunctionInfo {
        name: f.name.clone(),
        arn: format!(
            "arn:{}:lambda:{region}:{LOCAL_ACCOUNT}:function:{deployed}:{}",
            crate::model::stack::partition(region),
            crate::model::names::LIVE_ALIAS
        ),
        timeout: Duration::from_secs(u64::from(f.timeout_seconds.max(1))),
    };
    let env = lambda_environment(f, &deployed, region, &task_root);
    Function::new(
        f.clone(),
        info,
        target_group_arn(names, region, &f.name),
        env,
        binary,
        concurrency,
        console,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_group_arn_is_shaped_like_the_deployed_one_and_stable() {
        let names = Names::new("shop", "eu-west-1");
        let arn = target_group_arn(&names, "eu-west-1", "api");
        let prefix = format!(
            "arn:aws:elasticloadbalancing:eu-west-1:{LOCAL_ACCOUNT}:targetgroup/{}/",
            names.target_group("api")
        );
        let hash = arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{arn}"));
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{arn}");
        assert_eq!(arn, target_group_arn(&names, "eu-west-1", "api"));
        assert_ne!(arn, target_group_arn(&names, "eu-west-1", "web"));
    }
}
