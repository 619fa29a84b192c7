//! Building AWS clients once, from the environment.

use crate::BoxError;

/// The SDK configuration of a Lambda function, from what Lambda sets: the region (`AWS_REGION`)
/// and the role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
/// plus `AWS_ENDPOINT_URL` where tests or an emulator set it. Not aws-config's default chain:
/// profile files, SSO, web identity (an STS client), ECS and instance metadata never apply in
/// Lambda, and the chain is part of every binary and of every cold start (docs/deploy.md,
/// "Build"). Timeouts, retries and the identity cache are the SDK's defaults for the latest
/// behavior version, as with the chain.
pub fn function_sdk_config() -> Result<aws_config::SdkConfig, BoxError> {
    function_sdk_config_from(|name| std::env::var(name).ok())
}

/// [`function_sdk_config`] with `AWS_REGION` and `AWS_ENDPOINT_URL` read through `lookup` (the
/// credentials always come from the process environment, as Lambda gives them).
pub fn function_sdk_config_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<aws_config::SdkConfig, BoxError> {
    let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let region = var("AWS_REGION").ok_or("AWS_REGION is not set (Lambda sets it for every function)")?;
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials));
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    Ok(config.build())
}

/// The SDK configuration loader for `region` and, when given, an explicit `endpoint` (moto,
/// DynamoDB Local, an emulator). With an endpoint and no credentials in the environment,
/// static local credentials are used so nothing probes instance metadata.
pub fn loader(endpoint: Option<&str>, region: &str) -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()));
    if let Some(ep) = endpoint {
        loader = loader.endpoint_url(ep);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "tessera-local",
            ));
        }
    }
    loader
}

/// A DynamoDB client for `endpoint` (None: the region's DynamoDB).
pub async fn dynamodb_client(endpoint: Option<&str>, region: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&loader(endpoint, region).load().await)
}
