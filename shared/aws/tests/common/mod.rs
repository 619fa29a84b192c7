//! Shared helpers for the tests that run against a DynamoDB-compatible endpoint (moto's server
//! in CI). Every client gets static test credentials, us-east-1 and the endpoint explicitly:
//! nothing here consults the default credential chain or reaches AWS.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};

use tessera_aws::dynamo::{create_table, DynamoStore};

pub const ENDPOINT_VAR: &str = "TESSERA_TEST_DYNAMODB_ENDPOINT";

/// The test endpoint, or `None` (after saying the test is skipped) when it is not configured.
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_owned()),
        _ => {
            println!("skipped {test}: {ENDPOINT_VAR} is not set");
            None
        }
    }
}

fn creds() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static")
}

fn region() -> aws_sdk_dynamodb::config::Region {
    aws_sdk_dynamodb::config::Region::new("us-east-1")
}

pub fn dynamodb(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .credentials_provider(creds())
        .region(region())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

pub fn ses(endpoint: &str) -> aws_sdk_ses::Client {
    let conf = aws_sdk_ses::Config::builder()
        .behavior_version(aws_sdk_ses::config::BehaviorVersion::latest())
        .credentials_provider(creds())
        .region(region())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_ses::Client::from_conf(conf)
}

pub fn sns(endpoint: &str) -> aws_sdk_sns::Client {
    let conf = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .credentials_provider(creds())
        .region(region())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sns::Client::from_conf(conf)
}

pub fn kms(endpoint: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .credentials_provider(creds())
        .region(region())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// A name no other test (in this process, a parallel one, or an earlier run against the same
/// server) has used.
#[allow(clippy::disallowed_methods)]
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// A store over a new, empty table of its own, or `None` when the endpoint is not configured.
pub async fn fresh_store(test: &str) -> Option<DynamoStore> {
    let ep = endpoint(test)?;
    let client = dynamodb(&ep);
    let table = unique_name("tessera-test");
    create_table(&client, &table).await.expect("create the test table");
    Some(DynamoStore::new(client, table))
}

/// A tiny HTTP/1.0 GET (no reqwest here): returns the response body.
pub async fn http_get(endpoint: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.trim_start_matches("http://").split('/').next().expect("endpoint host").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&host).await.expect("connect to the endpoint");
    let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n");
    conn.write_all(req.as_bytes()).await.expect("send the request");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.expect("read the response");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.") && head.contains(" 200 "), "GET {path}: {head}");
    body.to_owned()
}
