//! [`PushNotifier`] over SNS: platform endpoints (`CreatePlatformEndpoint`) and silent pushes
//! (`Publish`, `MessageStructure=json`, `TargetArn`) for Cognito Sync's push sync.
//!
//! Push tokens are never logged or echoed; errors carry SNS's error code only.

use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use tessera_core::ports::PushNotifier;
use tessera_core::{Error, Result};

/// Creates platform endpoints and publishes to them.
#[derive(Debug, Clone)]
pub struct SnsPushNotifier {
    sns: aws_sdk_sns::Client,
}

impl SnsPushNotifier {
    pub fn new(sns: aws_sdk_sns::Client) -> Self {
        SnsPushNotifier { sns }
    }

    /// A client for `endpoint` (None: the region's SNS, default credentials). With an
    /// endpoint (moto in tests) and no credentials in the environment, static local
    /// credentials are used so nothing probes instance metadata.
    pub async fn connect(endpoint: Option<&str>, region: &str) -> SnsPushNotifier {
        let loader = crate::config::loader(endpoint, region);
        SnsPushNotifier::new(aws_sdk_sns::Client::new(&loader.load().await))
    }

    /// From an already loaded SDK configuration (the Lambda functions' own), at `endpoint` when
    /// given (tests, emulators).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> SnsPushNotifier {
        let mut config = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(ep) = endpoint {
            config = config.endpoint_url(ep);
        }
        SnsPushNotifier::new(aws_sdk_sns::Client::from_conf(config.build()))
    }

    /// An endpoint SNS already holds for the token with other attributes: enabled again
    /// (SNS disables endpoints whose token the platform once refused) and answered.
    async fn reuse_endpoint(&self, endpoint_arn: &str, token: &str) -> Result<String> {
        let res = self
            .sns
            .set_endpoint_attributes()
            .endpoint_arn(endpoint_arn)
            .attributes("Token", token)
            .attributes("Enabled", "true")
            .send()
            .await;
        match res {
            Ok(_) => Ok(endpoint_arn.to_string()),
            Err(e) => {
                Err(sns_error("SetEndpointAttributes", e.code(), &DisplayErrorContext(&e), endpoint_arn))
            }
        }
    }
}

/// `Invalid parameter: Token Reason: Endpoint {arn} already exists with the same Token, but
/// different attributes.` → the ARN (how SNS tells of an existing endpoint).
fn existing_endpoint(message: &str) -> Option<&str> {
    let rest = message.split("Endpoint ").nth(1)?;
    let arn = rest.split(" already exists").next()?.trim();
    (arn.starts_with("arn:") && rest.contains(" already exists")).then_some(arn)
}

/// The Cognito error for an SNS failure. `resource` is the application or endpoint ARN.
fn sns_error(operation: &str, code: Option<&str>, detail: &dyn std::fmt::Display, resource: &str) -> Error {
    if matches!(code, Some("InvalidParameter" | "InvalidParameterException")) {
        // SNS's reason for a refused parameter may quote the push token.
        tracing::warn!(operation, code = code.unwrap_or("none"), "SNS call failed");
    } else {
        tracing::warn!(operation, code = code.unwrap_or("none"), error = %detail, "SNS call failed");
    }
    match code {
        Some("NotFound" | "NotFoundException") => {
            Error::InvalidConfigurationException(format!("The SNS resource {resource} does not exist."))
        }
        Some(
            "AuthorizationError" | "AuthorizationErrorException" | "AccessDenied" | "AccessDeniedException",
        ) => {
            Error::InvalidConfigurationException(format!("Tessera may not use the SNS resource {resource}."))
        }
        Some("InvalidParameter" | "InvalidParameterException") => {
            Error::invalid(format!("SNS refused the request for {resource} ({operation})."))
        }
        Some("EndpointDisabled" | "EndpointDisabledException") => {
            Error::InvalidConfigurationException(format!("The SNS endpoint {resource} is disabled."))
        }
        Some("Throttling" | "ThrottlingException" | "ThrottledException") => {
            Error::TooManyRequestsException("SNS is throttling requests. Try again.".into())
        }
        _ => Error::internal(format!("SNS {operation} failed ({})", code.unwrap_or("no error code"))),
    }
}

#[async_trait]
impl PushNotifier for SnsPushNotifier {
    async fn create_platform_endpoint(&self, application_arn: &str, token: &str) -> Result<String> {
        let res = self
            .sns
            .create_platform_endpoint()
            .platform_application_arn(application_arn)
            .token(token)
            .send()
            .await;
        match res {
            Ok(out) => out
                .endpoint_arn
                .ok_or_else(|| Error::internal("SNS CreatePlatformEndpoint answered no EndpointArn")),
            Err(e) => {
                if let Some(arn) = e.message().and_then(existing_endpoint) {
                    return self.reuse_endpoint(arn, token).await;
                }
                Err(sns_error("CreatePlatformEndpoint", e.code(), &DisplayErrorContext(&e), application_arn))
            }
        }
    }

    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<()> {
        let res = self
            .sns
            .publish()
            .target_arn(endpoint_arn)
            .message_structure("json")
            .message(message)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(sns_error("Publish", e.code(), &DisplayErrorContext(&e), endpoint_arn)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_existing_endpoint_in_snss_message() {
        let m =
            "Invalid parameter: Token Reason: Endpoint arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/\
                 0f1e2d3c already exists with the same Token, but different attributes.";
        assert_eq!(
            existing_endpoint(m),
            Some("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/0f1e2d3c")
        );
        assert_eq!(existing_endpoint("Invalid parameter: Token Reason: malformed"), None);
    }
}
