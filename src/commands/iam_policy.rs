//! `albkit iam-policy --for deploy|plan`: the IAM policy a caller needs for this stack,
//! as JSON on stdout. The statements are built in [`crate::model::iam_policy`]; this
//! command only finds the region and the account (STS, unless `--account` names it).

use super::session::load_and_connect;
use super::{Document, Outcome};
use crate::cli::{Cli, IamPolicyArgs, Output, PolicyFor};
use crate::error::{Error, Result};
use crate::model::iam_policy::{
    document, size, statements, summary, Audience, Scope, INLINE_ROLE_POLICY_MAX,
    MANAGED_POLICY_MAX,
};

pub(crate) async fn run(cli: &Cli, args: &IamPolicyArgs) -> Result<Outcome> {
    let (config, aws) = load_and_connect(cli).await?;
    let audience = match args.audience {
        PolicyFor::Deploy => Audience::Deploy,
        PolicyFor::Plan => Audience::Plan,
    };
    let account = match args.account.as_deref() {
        Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => a.to_string(),
        Some(a) => {
            return Err(Error::usage(
                format!("--account {a:?} is not a 12-digit AWS account id"),
                "pass the account id as `aws sts get-caller-identity` prints it, or leave \
                 --account out to use the caller's",
            ))
        }
        None => crate::aws::identity::Identity::new(aws.sts.clone())
            .account()
            .await?
            .to_string(),
    };
    let scope = Scope {
        config: &config,
        region: &aws.region,
        account: &account,
    };
    let doc = document(&scope, audience);
    if cli.output == Output::Human && !cli.quiet {
        let list = statements(&scope, audience);
        let (count, star) = summary(&list);
        eprintln!(
            "albkit iam-policy: the {} policy of stack {} in {} (account {account}): {count} \
             statements, {star} of them on resource \"*\" (List/Describe actions and account \
             reads, which AWS authorizes on no resource). docs/permissions.md explains each statement.",
            audience.as_str(),
            config.stack.name,
            aws.region
        );
    }
    let size = size(&doc);
    if size > MANAGED_POLICY_MAX && !cli.quiet {
        eprintln!(
            "albkit iam-policy: note: this policy has {size} characters, over the \
             {MANAGED_POLICY_MAX} a customer managed policy holds: put it on the role as an \
             inline policy (a role's inline policies hold {INLINE_ROLE_POLICY_MAX} characters \
             together; `aws iam put-role-policy`); docs/permissions.md."
        );
    }
    // The policy is the output, whatever -o says.
    Ok(Outcome::with(0, Some(Document::of(&doc))))
}
