//! AWS errors, converted once from the SDK into one typed error that names the
//! operation and the resource, and classified for the retry module.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Why a call failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, connection reset, timeout: try again after a pause.
    Transient,
    /// AWS has not caught up with a change yet (a new role not yet assumable by Lambda,
    /// a new subnet not yet visible, a function update still in progress).
    EventualConsistency,
    /// Something still depends on the resource (network interfaces detaching, a
    /// certificate still attached, log objects still landing).
    Dependency,
    /// The resource does not exist.
    NotFound,
    /// Anything else: retrying will not help.
    Permanent,
}

#[derive(Debug, Clone)]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: String,
    pub code: Option<String>,
    pub message: String,
    pub status: Option<u16>,
    pub class: ErrorClass,
}

/// Lambda cannot assume a role created seconds ago (IAM propagation). Pure.
fn role_propagating(code: &str, message: &str) -> bool {
    code == "InvalidParameterValueException"
        && (message.contains("cannot be assumed by Lambda")
            || message.contains("The role defined for the function"))
}

impl AwsError {
    /// Whether Lambda refused the call because it cannot assume the role yet.
    pub(crate) fn role_propagating(&self) -> bool {
        role_propagating(self.code.as_deref().unwrap_or_default(), &self.message)
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {} failed", self.operation, self.resource)?;
        match &self.code {
            Some(code) => write!(f, ": {code}: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

impl std::error::Error for AwsError {}

/// A broken invariant of albkit itself: a resource started before one it needs, or
/// resources that wait on each other. Never an answer from AWS, never retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bug {
    /// The resource (logical id) or resources it concerns.
    pub resource: String,
    pub what: String,
}

impl Bug {
    pub fn new(resource: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            what: what.into(),
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (a bug in albkit)", self.resource, self.what)
    }
}

impl std::error::Error for Bug {}

/// Why a resource could not be created or updated: AWS said no, or albkit broke one of
/// its own invariants.
#[derive(Debug, Clone)]
pub enum ResourceError {
    Aws(AwsError),
    Bug(Bug),
}

impl From<AwsError> for ResourceError {
    fn from(e: AwsError) -> Self {
        ResourceError::Aws(e)
    }
}

impl From<Bug> for ResourceError {
    fn from(e: Bug) -> Self {
        ResourceError::Bug(e)
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceError::Aws(e) => e.fmt(f),
            ResourceError::Bug(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ResourceError {}

impl ResourceError {
    /// The diagnostic code: `aws::<AWS error code>`, or `albkit::bug`.
    pub fn code(&self) -> Option<String> {
        match self {
            ResourceError::Aws(e) => e.diagnostic_code(),
            ResourceError::Bug(_) => Some("albkit::bug".to_string()),
        }
    }

    /// What the user can do about it.
    pub fn help(&self) -> String {
        match self {
            ResourceError::Aws(e) => e.help(),
            ResourceError::Bug(_) => "this is a bug in albkit, not in the configuration or \
                 in AWS: please report it with the output of the same command run with `-v`"
                .to_string(),
        }
    }
}

impl AwsError {
    /// A successful answer that lacks what the call exists to return (the id or ARN of
    /// what it created). Carrying an empty id forward would fail later, far from the
    /// cause; this names the call instead.
    pub fn incomplete(operation: &'static str, resource: &str, field: &str) -> Self {
        AwsError {
            operation,
            resource: resource.to_string(),
            code: Some("IncompleteResponse".to_string()),
            message: format!("the response has no {field}"),
            status: None,
            class: ErrorClass::Permanent,
        }
    }

    /// The diagnostic code shown with the error: `aws::<AWS error code>`.
    pub fn diagnostic_code(&self) -> Option<String> {
        self.code.as_ref().map(|c| format!("aws::{c}"))
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    pub fn not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }

    /// What the user can do about it.
    pub fn help(&self) -> String {
        let code = self.code.as_deref().unwrap_or("");
        if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
            return format!(
                "the credentials in use may not call {}; check the IAM policy of the caller (`aws sts get-caller-identity` shows who that is)",
                self.operation
            );
        }
        if matches!(
            code,
            "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "SignatureDoesNotMatch"
        ) {
            return "refresh your AWS credentials (e.g. `aws sso login`), or pick another profile with --profile".to_string();
        }
        match self.class {
            ErrorClass::Transient => "AWS was unavailable or throttling for longer than albkit retries; run the same command again: it resumes where it stopped".to_string(),
            ErrorClass::Dependency => format!("something still uses {}; run the command again in a minute, or remove what uses it", self.resource),
            _ => "run the command again with -v for the full request trace; albkit resumes where it stopped".to_string(),
        }
    }
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "RequestThrottled",
    "ProvisionedThroughputExceededException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "InternalFailure",
    "InternalServiceError",
    "InternalServerError",
    "ServiceException",
    "RequestTimeout",
    "RequestTimeoutException",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
    "WAFInternalErrorException",
];

const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    // CloudWatch: a dashboard (GetDashboard, DeleteDashboards) or alarm that is gone.
    "ResourceNotFound",
    // GetProvisionedConcurrencyConfig on an alias that has none.
    "ProvisionedConcurrencyConfigNotFoundException",
    "NoSuchEntity",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "NotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RuleNotFound",
    "TrustStoreNotFound",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidAssociationID.NotFound",
    "InvalidPermission.NotFound",
    "NoSuchHostedZone",
    "WAFNonexistentItemException",
];

const DEPENDENCY: &[&str] = &[
    "DependencyViolation",
    "ResourceInUse",
    "ResourceInUseException",
    "ResourceInUseByAnotherResource",
    "BucketNotEmpty",
    "DeleteConflict",
    // WAF: a web ACL still associated with a resource.
    "WAFAssociatedItemException",
    // ELB: a trust store a listener still verifies clients against.
    "TrustStoreInUse",
];

/// Classifies an error from its code, message and HTTP status. Pure.
pub(crate) fn classify(code: Option<&str>, message: &str, status: Option<u16>) -> ErrorClass {
    let code_str = code.unwrap_or("");
    if THROTTLING.contains(&code_str) {
        return ErrorClass::Transient;
    }
    if NOT_FOUND.contains(&code_str) {
        return ErrorClass::NotFound;
    }
    if DEPENDENCY.contains(&code_str) {
        return ErrorClass::Dependency;
    }
    if role_propagating(code_str, message) {
        return ErrorClass::EventualConsistency;
    }
    // Lambda: "The operation cannot be performed at this time. An update is in progress".
    if code_str == "ResourceConflictException"
        && (message.contains("in progress") || message.contains("cannot be performed at this time"))
    {
        return ErrorClass::EventualConsistency;
    }
    // ELB: a new target group or function not yet visible to the load balancer service
    // (ELB's own principal not yet allowed to invoke it). The caller's own permissions
    // ("… is not authorized to perform: elasticloadbalancing:…") will not change by
    // waiting.
    if code_str == "InvalidTarget"
        || code_str == "AccessDenied"
            && message.contains("elasticloadbalancing")
            && !message.contains("not authorized to perform")
    {
        return ErrorClass::EventualConsistency;
    }
    // ELB: an HTTPS listener with a certificate that is still being issued or replicated.
    if code_str == "CertificateNotFound" || code_str == "UnsupportedCertificate" {
        return ErrorClass::EventualConsistency;
    }
    // WAF: a web ACL created seconds ago is not yet usable everywhere; a change raced
    // another (the caller reads the lock token again).
    if code_str == "WAFUnavailableEntityException" || code_str == "WAFOptimisticLockException" {
        return ErrorClass::EventualConsistency;
    }
    if matches!(status, Some(s) if s >= 500) {
        return ErrorClass::Transient;
    }
    if status == Some(404) && code.is_none() {
        return ErrorClass::NotFound;
    }
    ErrorClass::Permanent
}

/// Converts SDK results, naming the operation and the resource.
pub(crate) trait AwsResultExt<T> {
    fn aws(self, operation: &'static str, resource: &str) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, operation: &'static str, resource: &str) -> Result<T, AwsError> {
        self.map_err(|err| from_sdk(err, operation, resource))
    }
}

fn from_sdk<E>(err: SdkError<E, HttpResponse>, operation: &'static str, resource: &str) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (code, message, class) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().map(str::to_string);
            let message = e
                .message()
                .map_or_else(|| DisplayErrorContext(e).to_string(), str::to_string);
            let class = classify(code.as_deref(), &message, status);
            (code, message, class)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (
            None,
            DisplayErrorContext(&err).to_string(),
            ErrorClass::Transient,
        ),
        _ => (
            None,
            DisplayErrorContext(&err).to_string(),
            ErrorClass::Permanent,
        ),
    };
    AwsError {
        operation,
        resource: resource.to_string(),
        code,
        message,
        status,
        class,
    }
}

/// An SDK builder refused a value (a required field was missing): a bug in albkit.
pub(crate) fn build_error<'a>(
    operation: &'static str,
    resource: &'a str,
) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> AwsError + 'a {
    move |e| AwsError {
        operation,
        resource: resource.to_string(),
        code: Some("InvalidRequest".to_string()),
        message: format!("albkit built an invalid request: {e}"),
        status: None,
        class: ErrorClass::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bug_is_told_apart_from_an_aws_error() {
        let bug: ResourceError = Bug::new("listener/https", "has no id yet").into();
        assert_eq!(bug.code().as_deref(), Some("albkit::bug"));
        assert!(bug.to_string().starts_with("listener/https: has no id yet"));
        assert!(bug.help().contains("bug in albkit"), "{}", bug.help());
        let aws: ResourceError = AwsError {
            operation: "CreateListener",
            resource: "listener/https".into(),
            code: Some("TooManyListeners".into()),
            message: "limit".into(),
            status: Some(400),
            class: ErrorClass::Permanent,
        }
        .into();
        assert_eq!(aws.code().as_deref(), Some("aws::TooManyListeners"));
        assert!(!aws.help().contains("bug in albkit"));
    }

    #[test]
    fn throttling_and_5xx_are_transient() {
        assert_eq!(
            classify(Some("Throttling"), "", Some(400)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(Some("SlowDown"), "", Some(503)),
            ErrorClass::Transient
        );
        assert_eq!(classify(None, "boom", Some(500)), ErrorClass::Transient);
        assert_eq!(
            classify(Some("Weird"), "boom", Some(502)),
            ErrorClass::Transient
        );
    }

    #[test]
    fn the_callers_own_access_denied_is_never_waited_out() {
        let denied = "User: arn:aws:iam::1:user/ci is not authorized to perform: \
                      elasticloadbalancing:CreateLoadBalancer on resource: *";
        assert_eq!(
            classify(Some("AccessDenied"), denied, Some(400)),
            ErrorClass::Permanent
        );
        // ELB's own principal, not yet allowed to invoke a new function, is.
        let elb = "elasticloadbalancing principal does not have permission to invoke \
                   arn:aws:lambda:us-east-1:1:function:f from target group";
        assert_eq!(
            classify(Some("AccessDenied"), elb, Some(400)),
            ErrorClass::EventualConsistency
        );
    }

    #[test]
    fn waf_errors_are_classified() {
        let class = |code| classify(Some(code), "", Some(400));
        assert_eq!(
            class("WAFUnavailableEntityException"),
            ErrorClass::EventualConsistency
        );
        assert_eq!(
            class("WAFOptimisticLockException"),
            ErrorClass::EventualConsistency
        );
        assert_eq!(class("WAFAssociatedItemException"), ErrorClass::Dependency);
        assert_eq!(class("WAFNonexistentItemException"), ErrorClass::NotFound);
        assert_eq!(class("WAFLimitsExceededException"), ErrorClass::Permanent);
    }

    #[test]
    fn iam_propagation_is_eventual_consistency() {
        let msg = "The role defined for the function cannot be assumed by Lambda.";
        assert_eq!(
            classify(Some("InvalidParameterValueException"), msg, Some(400)),
            ErrorClass::EventualConsistency
        );
        assert_eq!(
            classify(
                Some("InvalidParameterValueException"),
                "bad memory",
                Some(400)
            ),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn lambda_update_in_progress_is_eventual_consistency() {
        let msg = "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:...";
        assert_eq!(
            classify(Some("ResourceConflictException"), msg, Some(409)),
            ErrorClass::EventualConsistency
        );
    }

    #[test]
    fn teardown_dependencies_are_dependency() {
        for code in [
            "DependencyViolation",
            "ResourceInUseException",
            "BucketNotEmpty",
        ] {
            assert_eq!(
                classify(Some(code), "", Some(400)),
                ErrorClass::Dependency,
                "{code}"
            );
        }
    }

    #[test]
    fn missing_things_are_not_found() {
        for code in [
            "NoSuchEntity",
            "LoadBalancerNotFound",
            "ResourceNotFoundException",
            "ProvisionedConcurrencyConfigNotFoundException",
            "InvalidVpcID.NotFound",
        ] {
            assert_eq!(
                classify(Some(code), "", Some(400)),
                ErrorClass::NotFound,
                "{code}"
            );
        }
    }

    #[test]
    fn validation_errors_are_permanent() {
        assert_eq!(
            classify(Some("ValidationError"), "bad", Some(400)),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn display_names_operation_and_resource() {
        let e = AwsError {
            operation: "CreateVpc",
            resource: "vpc".into(),
            code: Some("VpcLimitExceeded".into()),
            message: "too many".into(),
            status: Some(400),
            class: ErrorClass::Permanent,
        };
        assert_eq!(
            e.to_string(),
            "CreateVpc for vpc failed: VpcLimitExceeded: too many"
        );
    }
}
