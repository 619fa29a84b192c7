//! `tessera serve`: one process, one port, every operation.

use crate::embedded::EmbeddedStore;
use crate::outbox::Outbox;
use axum::extract::{Request, State};
use axum::response::Response;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::ports::{AesGcmCipher, Clock, Messenger, SystemClock, SystemRng};
use tessera_core::store::Store;
use tessera_core::{Service, ServiceConfig};
use tessera_wire::http::{Cors, Frontend, WireRequest};

/// The admin keys the local server uses when none are configured. Printed at start.
pub const DEFAULT_ADMIN_ACCESS_KEY_ID: &str = "AKIATESSERALOCAL0000";
pub const DEFAULT_ADMIN_SECRET_ACCESS_KEY: &str = "tessera-local-secret-key-not-for-production";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    DynamoDb { endpoint: Option<String>, table: String },
}

#[derive(Clone)]
pub struct LocalConfig {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the master key lives; outside the data directory so a copy of the data alone
    /// does not reveal SRP verifiers or signing keys.
    pub key_file: PathBuf,
    pub store: StoreKind,
    pub issuer_base: Option<String>,
    pub region: String,
    pub admin_keys: HashMap<String, String>,
    pub max_skew_secs: i64,
    pub cors_origins: Vec<String>,
    pub service: ServiceConfig,
    /// Where the pools' Lambda triggers are invoked: any Lambda-Invoke-compatible endpoint
    /// (`cargo lambda watch`); None: AWS Lambda in `region`, with the default credentials.
    pub lambda_endpoint: Option<String>,
    /// Where GetCredentialsForIdentity calls STS AssumeRoleWithWebIdentity (moto's server in
    /// tests); None: Tessera makes clearly marked local credentials itself.
    pub sts_endpoint: Option<String>,
    /// Where Sync's push notifications go through SNS (platform endpoints); None: the local
    /// outbox records them.
    pub sns_endpoint: Option<String>,
    /// The clock (tests pass one they can move).
    pub clock: Arc<dyn Clock>,
    /// Request-rate quotas (`--throttle`); Cognito's by default.
    pub throttle: tessera_wire::throttle::ThrottleSettings,
}

impl LocalConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        let key_file = default_key_file(&data_dir);
        LocalConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 9229)),
            data_dir,
            key_file,
            store: StoreKind::Embedded,
            issuer_base: None,
            region: "us-east-1".into(),
            admin_keys: admin_keys_from_env(),
            max_skew_secs: 300,
            cors_origins: vec![],
            service: ServiceConfig::default(),
            lambda_endpoint: None,
            sts_endpoint: None,
            sns_endpoint: None,
            clock: Arc::new(SystemClock),
            throttle: Default::default(),
        }
    }
}

/// `./.tessera` → `./.tessera.key`.
pub fn default_key_file(data_dir: &std::path::Path) -> PathBuf {
    let mut name = data_dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| ".tessera".into());
    name.push(".key");
    data_dir.with_file_name(name)
}

pub fn admin_keys_from_env() -> HashMap<String, String> {
    let id =
        std::env::var("TESSERA_ADMIN_ACCESS_KEY_ID").unwrap_or_else(|_| DEFAULT_ADMIN_ACCESS_KEY_ID.into());
    let secret = std::env::var("TESSERA_ADMIN_SECRET_ACCESS_KEY")
        .unwrap_or_else(|_| DEFAULT_ADMIN_SECRET_ACCESS_KEY.into());
    HashMap::from([(id, secret)])
}

/// Reads the 32-byte master key, creating it (mode 0600) on first start.
pub fn load_or_create_key(path: &std::path::Path) -> Result<Vec<u8>, String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let key = hex::decode(text.trim()).map_err(|e| format!("{}: not a hex key: {e}", path.display()))?;
        if key.len() != 32 {
            return Err(format!("{}: the master key must be 32 bytes", path.display()));
        }
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, hex::encode(&key).as_bytes()).map_err(|e| e.to_string())?;
    Ok(key)
}

pub struct AppState {
    pub frontend: Frontend,
    pub outbox: Option<Arc<Outbox>>,
    /// Import uploads (`PUT /_import/…`).
    pub imports: Option<Arc<crate::import::LocalImportFiles>>,
}

/// A running server: its address and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

async fn build_store(cfg: &LocalConfig) -> Result<Arc<dyn Store>, String> {
    Ok(match &cfg.store {
        StoreKind::Embedded => Arc::new(EmbeddedStore::open(&cfg.data_dir).map_err(|e| e.to_string())?),
        StoreKind::DynamoDb { endpoint, table } => {
            let client = tessera_aws::config::dynamodb_client(endpoint.as_deref(), &cfg.region).await;
            Arc::new(tessera_aws::dynamo::DynamoStore::new(client, table.clone()))
        }
    })
}

/// Binds and serves in the background (port 0 picks a free port).
pub async fn start(cfg: LocalConfig) -> Result<Running, String> {
    let store = build_store(&cfg).await?;
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| format!("{}: {e}", cfg.data_dir.display()))?;
    let outbox = Arc::new(Outbox::new(&cfg.data_dir));
    let key = load_or_create_key(&cfg.key_file)?;
    let cipher = Arc::new(AesGcmCipher::new(&key).map_err(|e| e.to_string())?);
    let mut service_cfg = cfg.service.clone();
    service_cfg.region = cfg.region.clone();
    let service = Arc::new(Service::new(
        store,
        outbox.clone() as Arc<dyn Messenger>,
        cfg.clock.clone(),
        Arc::new(SystemRng),
        cipher,
        service_cfg,
    ));
    let invoker =
        tessera_aws::triggers::LambdaInvoker::new(cfg.lambda_endpoint.as_deref(), &cfg.region).await;
    service.set_invoker(Arc::new(invoker));
    match cfg.sts_endpoint.as_deref() {
        Some(endpoint) => service.set_credential_vendor(Arc::new(
            tessera_aws::sts::StsVendor::new(Some(endpoint), &cfg.region).await,
        )),
        None => service.set_credential_vendor(Arc::new(crate::credentials::LocalCredentialVendor {
            clock: cfg.clock.clone(),
            rng: Arc::new(SystemRng),
        })),
    }
    // Sync's pushes: SNS platform endpoints when an SNS endpoint is set, the outbox otherwise.
    let push: Arc<dyn tessera_core::ports::PushNotifier> = match cfg.sns_endpoint.as_deref() {
        Some(endpoint) => {
            Arc::new(tessera_aws::push::SnsPushNotifier::connect(Some(endpoint), &cfg.region).await)
        }
        None => Arc::new(crate::push::OutboxPushNotifier::new(outbox.clone(), cfg.clock.clone())),
    };
    service.set_push(push);
    let listener = tokio::net::TcpListener::bind(cfg.bind).await.map_err(|e| format!("{}: {e}", cfg.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let issuer_base = cfg.issuer_base.clone().unwrap_or_else(|| format!("http://{addr}"));
    let imports = crate::import::enable(&service, &cfg.data_dir, &issuer_base, &key, cfg.clock.clone())
        .map_err(|e| e.to_string())?;
    let state = Arc::new(AppState {
        frontend: Frontend {
            service,
            admin_keys: cfg.admin_keys.clone(),
            max_skew_secs: cfg.max_skew_secs,
            issuer_base: Some(issuer_base),
            cors: Cors { allowed_origins: cfg.cors_origins.clone() },
            throttle: tessera_wire::throttle::Throttle::new(cfg.throttle.clone()),
        },
        outbox: Some(outbox),
        imports: Some(imports),
    });
    let app = axum::Router::new().fallback(handle).with_state(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running { addr, state, shutdown: Some(tx), task })
}

/// Largest request body accepted (Cognito's own limit is far below this).
const MAX_BODY: usize = 1024 * 1024;

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method == http::Method::GET && parts.uri.path() == "/_dev/messages" {
        let messages = state.outbox.as_ref().map(|o| o.messages()).unwrap_or_default();
        return json_response(200, serde_json::to_vec(&messages).unwrap_or_default());
    }
    if parts.method == http::Method::PUT && parts.uri.path().starts_with("/_import/") {
        let Some(imports) = state.imports.as_ref() else { return upload_response(404, "NoSuchKey") };
        let (status, code) = imports
            .accept_upload(parts.uri.path(), parts.uri.query().unwrap_or(""), &parts.headers, body)
            .await;
        return upload_response(status, code);
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            let e = tessera_wire::WireError::serialization("Request body too large or unreadable.");
            return into_response(tessera_wire::http::error_response(&e));
        }
    };
    let wire = WireRequest::from_parts(&parts, body);
    into_response(state.frontend.handle(&wire, None).await)
}

/// S3's answer to a PUT: empty on success, an XML error otherwise.
fn upload_response(status: u16, code: &str) -> Response {
    let body = if status == 200 {
        vec![]
    } else {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code></Error>").into_bytes()
    };
    into_response(tessera_wire::http::WireResponse {
        status,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body,
    })
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    into_response(tessera_wire::http::WireResponse {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body,
    })
}

fn into_response(w: tessera_wire::http::WireResponse) -> Response {
    w.into_http()
}
