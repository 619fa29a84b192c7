//! Building AWS clients once, from the environment.

/// A DynamoDB client. With an explicit endpoint (moto, DynamoDB Local) and no credentials in
/// the environment, static local credentials are used so nothing probes instance metadata.
pub async fn dynamodb_client(endpoint: Option<&str>, region: &str) -> aws_sdk_dynamodb::Client {
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
    aws_sdk_dynamodb::Client::new(&loader.load().await)
}
