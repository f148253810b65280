//! The caller's account, asked of STS once, when something first needs it.
//!
//! Reading the stack needs the account only for the log bucket's name, so `plan` and
//! `up` ask STS at the same time as they read everything else instead of before: one
//! round trip less on every run.

use tokio::sync::OnceCell;

use super::error::{AwsError, AwsResultExt};

pub struct Identity {
    sts: aws_sdk_sts::Client,
    account: OnceCell<String>,
}

impl Identity {
    pub fn new(sts: aws_sdk_sts::Client) -> Self {
        Identity {
            sts,
            account: OnceCell::new(),
        }
    }

    /// The account id; the first caller asks STS, callers at the same time wait for
    /// that answer, later ones get it at once. A failed call is not remembered.
    pub async fn account(&self) -> Result<&str, AwsError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .aws("GetCallerIdentity", "credentials")?;
                out.account().map(str::to_string).ok_or_else(|| {
                    AwsError::incomplete("GetCallerIdentity", "credentials", "account id")
                })
            })
            .await
            .map(String::as_str)
    }
}
