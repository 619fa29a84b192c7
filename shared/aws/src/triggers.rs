//! Invokes the pools' Lambda triggers through the Lambda Invoke API: AWS Lambda in AWS, or
//! any Invoke-compatible endpoint (`cargo lambda watch`, a test double) locally.

use async_trait::async_trait;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use tessera_core::ports::{FunctionInvoker, Invocation, InvokeFailure};

pub struct LambdaInvoker {
    pub client: aws_sdk_lambda::Client,
    /// Emulators (`cargo lambda watch`) know functions by name, not by ARN: with an endpoint
    /// override only the ARN's function name is sent.
    by_name: bool,
}

/// `arn:aws:lambda:us-east-1:123456789012:function:pre-signup[:qualifier]` → `pre-signup`.
fn function_name(arn: &str) -> &str {
    arn.split_once(":function:").map(|(_, rest)| rest.split(':').next().unwrap_or(rest)).unwrap_or(arn)
}

impl LambdaInvoker {
    /// A client for `endpoint` (None: the region's Lambda). The SDK's own retries are off:
    /// Cognito's rule (3 attempts of 5 seconds within the request's budget) is applied by
    /// `tessera_core::triggers`.
    pub async fn new(endpoint: Option<&str>, region: &str) -> LambdaInvoker {
        let loader =
            crate::config::loader(endpoint, region).retry_config(aws_config::retry::RetryConfig::disabled());
        LambdaInvoker {
            client: aws_sdk_lambda::Client::new(&loader.load().await),
            by_name: endpoint.is_some(),
        }
    }

    /// A client from an already loaded SDK configuration (the functions' own), retries off.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> LambdaInvoker {
        let mut config = aws_sdk_lambda::config::Builder::from(sdk)
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(ep) = endpoint {
            config = config.endpoint_url(ep);
        }
        LambdaInvoker {
            client: aws_sdk_lambda::Client::from_conf(config.build()),
            by_name: endpoint.is_some(),
        }
    }
}

/// Errors worth another attempt: throttling and Lambda's own faults.
fn retryable(status: u16, code: &str) -> bool {
    status == 429
        || status >= 500
        || matches!(code, "TooManyRequestsException" | "ServiceException" | "ResourceNotReadyException")
}

#[async_trait]
impl FunctionInvoker for LambdaInvoker {
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<Invocation, InvokeFailure> {
        let sent = self
            .client
            .invoke()
            .function_name(if self.by_name { function_name(function_arn) } else { function_arn })
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await;
        match sent {
            Ok(out) => {
                let body = out.payload.map(Blob::into_inner).unwrap_or_default();
                Ok(if out.function_error.is_some() {
                    Invocation::FunctionError(body)
                } else {
                    Invocation::Response(body)
                })
            }
            Err(SdkError::ServiceError(ctx)) => {
                let status = ctx.raw().status().as_u16();
                let body = ctx.raw().body().bytes().unwrap_or_default().to_vec();
                // `cargo lambda watch` answers a handler error with 500 and the error payload
                // (AWS: 200 and X-Amz-Function-Error).
                let is_function_error = status == 500
                    && serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .is_some_and(|v| v.get("errorMessage").is_some() || v.get("errorType").is_some());
                if is_function_error {
                    return Ok(Invocation::FunctionError(body));
                }
                let code = ctx.err().code().unwrap_or("ServiceException").to_string();
                Err(InvokeFailure { retryable: retryable(status, &code), code })
            }
            Err(e) => {
                tracing::warn!(error = %aws_sdk_lambda::error::DisplayErrorContext(&e), "Lambda invoke did not complete");
                Err(InvokeFailure { code: "ServiceException".into(), retryable: true })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulators_get_the_function_name() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:123456789012:function:pre-signup"), "pre-signup");
        assert_eq!(function_name("arn:aws:lambda:us-east-1:123456789012:function:hook:live"), "hook");
        assert_eq!(function_name("pre-signup"), "pre-signup");
    }
}
