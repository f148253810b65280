//! Reading a secret at start-up. With `secrets = { DB_URL = "arn:aws:secretsmanager:…" }`
//! (or `"ssm:/shop/db-url"`) in albkit.toml, the function's `DB_URL` variable holds the
//! secret's ARN or the parameter's name, never the value: the value is read here, once
//! per execution environment, with the execution role, which albkit grants read access
//! to exactly the secrets the function names.
//!
//! Built with the `secrets` feature (see Cargo.toml).

use aws_config::BehaviorVersion;
use lambda_http::Error;

/// The value behind environment variable `name`: a Secrets Manager secret (an ARN), an
/// SSM parameter (a name starting with `/`, decrypted if it is a SecureString), or the
/// variable's own value. `None` when the variable is not set.
pub async fn read(name: &str) -> Result<Option<String>, Error> {
    let Ok(reference) = std::env::var(name) else {
        return Ok(None);
    };
    if reference.starts_with("arn:aws:secretsmanager:") {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let out = aws_sdk_secretsmanager::Client::new(&config)
            .get_secret_value()
            .secret_id(&reference)
            .send()
            .await
            .map_err(|e| format!("reading secret {name} ({reference}): {e}"))?;
        return Ok(out.secret_string().map(str::to_string));
    }
    if reference.starts_with('/') {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let out = aws_sdk_ssm::Client::new(&config)
            .get_parameter()
            .name(&reference)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| format!("reading parameter {name} ({reference}): {e}"))?;
        return Ok(out.parameter().and_then(|p| p.value()).map(str::to_string));
    }
    Ok(Some(reference))
}
