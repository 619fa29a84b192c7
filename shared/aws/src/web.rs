//! The outbound HTTP client ([`tessera_core::ports::WebClient`]): hyper with rustls and the
//! system's root certificates, the client the AWS SDK already links. Used for identity
//! providers' discovery, JWKS, token and userinfo endpoints.

use async_trait::async_trait;
use std::time::Duration;
use tessera_core::ports::{WebClient, WebRequest, WebResponse};

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// Largest answer read (a JWKS or a userinfo answer is a few kilobytes).
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

pub struct HttpsClient {
    client: Client,
    timeout: Duration,
}

impl HttpsClient {
    /// Plain http is allowed by the connector; whether a URL may use it is the domain's rule
    /// (loopback providers locally, https everywhere in a deployment).
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("TLS root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(HttpsClient { client, timeout })
    }
}

#[async_trait]
impl WebClient for HttpsClient {
    async fn send(&self, request: WebRequest) -> Result<WebResponse, String> {
        use http_body_util::BodyExt as _;
        let uri: http::Uri = request.url.parse().map_err(|_| format!("{} is not a URL", request.url))?;
        let mut builder = http::Request::builder().method(request.method).uri(uri);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(http_body_util::Full::new(bytes::Bytes::from(request.body)))
            .map_err(|e| format!("{} {}: {e}", request.method, request.url))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("{} {}: {e}", request.method, request.url))?;
            let status = resp.status().as_u16();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer of {}: {e}", request.url))?
                .to_bytes()
                .to_vec();
            Ok::<_, String>(WebResponse { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("{} {}: no answer within {:?}", request.method, request.url, self.timeout))?
    }
}
