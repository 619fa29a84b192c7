//! Building AWS clients once, from the environment.

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
