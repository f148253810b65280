//! Typed identifiers: a VPC id is never passed where a subnet id is expected, and an
//! ARN of one kind never where another is.

use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

id_type! {
    /// `vpc-0123…`
    VpcId;
    /// `subnet-0123…`
    SubnetId;
    /// `igw-0123…`
    InternetGatewayId;
    /// `rtb-0123…`
    RouteTableId;
    /// `sg-0123…`
    SecurityGroupId;
    /// ARN of an Application Load Balancer.
    LoadBalancerArn;
    /// ARN of a target group.
    TargetGroupArn;
    /// ARN of a listener.
    ListenerArn;
    /// ARN of a listener rule.
    RuleArn;
    /// ARN of an ACM certificate.
    CertificateArn;
    /// ARN of an IAM role.
    RoleArn;
    /// ARN of a Lambda function (unqualified).
    FunctionArn;
    /// Name of an S3 bucket.
    BucketName;
    /// Route 53 hosted zone id, without the `/hostedzone/` prefix.
    HostedZoneId;
    /// A 12-digit AWS account id.
    AccountId;
}

impl HostedZoneId {
    /// Accepts `Z123` as well as `/hostedzone/Z123`.
    pub fn parse(raw: &str) -> Self {
        Self::new(raw.trim_start_matches("/hostedzone/"))
    }
}

impl ListenerArn {
    /// The region part of the ARN (`arn:aws:elasticloadbalancing:<region>:…`).
    pub fn region(&self) -> Option<&str> {
        self.0.split(':').nth(3).filter(|r| !r.is_empty())
    }

    /// The load balancer's part of the resource: `app/<name>/<id>` of
    /// `listener/app/<name>/<id>/<listener id>`.
    pub fn load_balancer(&self) -> Option<&str> {
        let resource = self.0.splitn(6, ':').nth(5)?.strip_prefix("listener/")?;
        resource.rsplit_once('/').map(|(lb, _)| lb)
    }
}

impl CertificateArn {
    /// The region part of the ARN (`arn:aws:acm:<region>:…`).
    pub fn region(&self) -> Option<&str> {
        self.0.split(':').nth(3).filter(|r| !r.is_empty())
    }
}
