//! One SDK configuration, one client per service.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

/// How to reach AWS, from the command line and the config.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub profile: Option<String>,
    /// `--region`: wins over everything.
    pub cli_region: Option<String>,
    /// `[stack].region`: wins over the environment and profile.
    pub config_region: Option<String>,
    /// `--endpoint-url`; `AWS_ENDPOINT_URL` is read by the SDK itself.
    pub endpoint_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Aws {
    pub region: String,
    pub custom_endpoint: bool,
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub acm: aws_sdk_acm::Client,
    pub s3: aws_sdk_s3::Client,
    pub route53: aws_sdk_route53::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Alarms, metrics and the dashboard.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The stack's alarm topic.
    pub sns: aws_sdk_sns::Client,
    /// The web ACL in front of the load balancer.
    pub wafv2: aws_sdk_wafv2::Client,
    /// Secrets the load balancer needs at configuration time (an OIDC client secret).
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Configuration override for one EC2 call that must not be repeated by the SDK (a
/// creation without client token): `retry::create_once` repeats it, after looking.
pub(crate) fn no_sdk_retries() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// The same for a Route 53 record deletion, which cannot be repeated blindly either.
pub(crate) fn no_route53_retries() -> aws_sdk_route53::config::Builder {
    aws_sdk_route53::config::Builder::default().retry_config(RetryConfig::disabled())
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no AWS region is set")]
    NoRegion,
}

impl Aws {
    pub async fn connect(opts: &ConnectOptions) -> Result<Self, ConnectError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Real AWS throttles under bursts of concurrent calls: adaptive client-side
            // rate limiting and more attempts than the SDK's default three.
            .retry_config(RetryConfig::adaptive().with_max_attempts(6));
        if let Some(profile) = &opts.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = opts
            .cli_region
            .clone()
            .or_else(|| opts.config_region.clone())
        {
            loader = loader.region(Region::new(region));
        }
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(std::string::ToString::to_string)
            .ok_or(ConnectError::NoRegion)?;
        let custom_endpoint = opts.endpoint_url.is_some()
            || std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty());
        // With a custom endpoint (a local emulator), bucket names cannot be host names.
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(custom_endpoint)
            .build();
        Ok(Self {
            region,
            custom_endpoint,
            ec2: aws_sdk_ec2::Client::new(&sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            acm: aws_sdk_acm::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            route53: aws_sdk_route53::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            wafv2: aws_sdk_wafv2::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
        })
    }
}
