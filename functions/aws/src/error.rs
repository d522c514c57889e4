//! Reducing SDK errors to what the domain decides on: retry or not.

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use bluegreen_core::ports::{PortError, PortErrorKind};

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

pub(crate) fn port_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let kind = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortErrorKind::Transient
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if THROTTLING_CODES.contains(&code) {
                PortErrorKind::Throttled
            } else if code == "InternalFailure"
                || code == "ServiceUnavailable"
                || code == "InternalError"
                || code.ends_with("InternalServerError")
            {
                PortErrorKind::Transient
            } else {
                PortErrorKind::Failed
            }
        }
        _ => PortErrorKind::Failed,
    };
    PortError {
        operation,
        kind,
        message: DisplayErrorContext(&err).to_string(),
    }
}
