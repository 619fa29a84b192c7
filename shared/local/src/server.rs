//! `tessera serve`: one process, one port, every operation.

use crate::conn::HttpLimits;
use crate::embedded::EmbeddedStore;
use crate::keyfile::{GitStatus, KeyOrigin};
use crate::outbox::Outbox;
use axum::extract::Request;
use axum::response::Response;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::ports::{AesGcmCipher, Clock, Messenger, SystemClock, SystemRng};
use tessera_core::store::Store;
use tessera_core::{Service, ServiceConfig};
use tessera_wire::http::{host_name, is_loopback_host, Cors, Frontend, WireRequest, CORS_LOOPBACK};
use tessera_wire::WireError;

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
    /// does not reveal SRP verifiers or signing keys. None: chosen as `keyfile::resolve` says
    /// (outside any working tree by default).
    pub key_file: Option<PathBuf>,
    /// Where new default key files go (`$XDG_DATA_HOME/tessera`, `~/.local/share/tessera`).
    pub key_home: Option<PathBuf>,
    pub store: StoreKind,
    pub issuer_base: Option<String>,
    pub region: String,
    pub admin_keys: HashMap<String, String>,
    pub max_skew_secs: i64,
    /// Browser origins allowed besides loopback ones (`*`: any).
    pub cors_origins: Vec<String>,
    /// Host names answered besides loopback names and addresses, the bind address and the
    /// issuer base's host (DNS rebinding protection): `name`, `.suffix` or `*`.
    pub allowed_hosts: Vec<String>,
    /// Connection timeouts and cap.
    pub http: HttpLimits,
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
    /// HTTPS on the same port as HTTP (`--tls`); the auth domains then advertise https URLs.
    pub tls: Option<crate::tls::TlsSettings>,
}

impl LocalConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        LocalConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 9229)),
            data_dir,
            key_file: None,
            key_home: crate::keyfile::default_key_home(),
            store: StoreKind::Embedded,
            issuer_base: None,
            region: "us-east-1".into(),
            admin_keys: admin_keys_from_env(),
            max_skew_secs: 300,
            cors_origins: vec![],
            allowed_hosts: vec![],
            http: HttpLimits::default(),
            service: ServiceConfig {
                auth_domains: tessera_core::AuthDomains { path_scoped_urls: true, ..Default::default() },
                // Local identity providers (oidc-provider, pysaml2) on http://127.0.0.1.
                loopback_http_providers: true,
                ..ServiceConfig::default()
            },
            lambda_endpoint: None,
            sts_endpoint: None,
            sns_endpoint: None,
            clock: Arc::new(SystemClock),
            throttle: Default::default(),
            tls: None,
        }
    }
}

pub fn admin_keys_from_env() -> HashMap<String, String> {
    let id =
        std::env::var("TESSERA_ADMIN_ACCESS_KEY_ID").unwrap_or_else(|_| DEFAULT_ADMIN_ACCESS_KEY_ID.into());
    let secret = std::env::var("TESSERA_ADMIN_SECRET_ACCESS_KEY")
        .unwrap_or_else(|_| DEFAULT_ADMIN_SECRET_ACCESS_KEY.into());
    HashMap::from([(id, secret)])
}

/// Reads the 32-byte master key, creating it (mode 0600) on first start. Errors are one plain
/// line naming the file and what to do (`tessera serve` prints them as they are).
pub fn load_or_create_key(path: &std::path::Path) -> Result<Vec<u8>, String> {
    match std::fs::read(path) {
        Ok(bytes) => return parse_key(path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "cannot read the master key file {}: {}. It must be a file this user can read: fix it, \
                 or pass --key-file with the key file that created this data directory",
                path.display(),
                crate::startup::io_reason(&e)
            ))
        }
    }
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let cannot_create = |at: &std::path::Path, e: std::io::Error| {
        format!(
            "cannot create the master key file {}: {} ({}). Pass --key-file with a path you can write to",
            path.display(),
            crate::startup::io_reason(&e),
            at.display()
        )
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(parent).map_err(|e| cannot_create(parent, e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| cannot_create(path, e))?;
    tracing::info!(key_file = %path.display(), "created a new master key");
    std::io::Write::write_all(&mut f, hex::encode(&key).as_bytes()).map_err(|e| cannot_create(path, e))?;
    Ok(key)
}

/// A key file holds 64 hex digits (32 bytes), surrounding whitespace allowed.
/// The current (newest) key of a key file.
fn parse_key(path: &std::path::Path, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut ring = parse_key_ring(path, bytes)?;
    ring.pop().map(|(_, key)| key).ok_or_else(|| not_a_key(path))
}

fn not_a_key(path: &std::path::Path) -> String {
    format!(
        "the master key file {} does not hold a master key (64 hex digits). Pass --key-file with \
         the key file that created this data directory, or with a new path to make a new key",
        path.display()
    )
}

/// A key file's keys by version, oldest first. One line of 64 hex digits is version 1 (every
/// key file before master-key rotation); after a rotation each line is `v<N> <64 hex digits>`.
pub fn parse_key_ring(path: &std::path::Path, bytes: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| not_a_key(path))?;
    let mut ring = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (version, hex_key) = match line.split_once(' ') {
            Some((v, k)) => (
                v.strip_prefix('v').and_then(|n| n.parse::<u8>().ok()).ok_or_else(|| not_a_key(path))?,
                k.trim(),
            ),
            None => (1, line),
        };
        let key = hex::decode(hex_key).ok().filter(|k| k.len() == 32).ok_or_else(|| not_a_key(path))?;
        if version == 0 || ring.iter().any(|(v, _)| *v == version) {
            return Err(not_a_key(path));
        }
        ring.push((version, key));
    }
    ring.sort_by_key(|(v, _)| *v);
    if ring.is_empty() {
        return Err(not_a_key(path));
    }
    Ok(ring)
}

/// Reads a key file's ring (it must exist).
pub fn load_key_ring(path: &std::path::Path) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!("cannot read the master key file {}: {}", path.display(), crate::startup::io_reason(&e))
    })?;
    parse_key_ring(path, &bytes)
}

/// Writes a ring as a key file: through a temporary file (mode 0600) renamed over it.
pub fn write_key_ring(path: &std::path::Path, ring: &[(u8, Vec<u8>)]) -> Result<(), String> {
    let text: String = ring.iter().map(|(v, k)| format!("v{v} {}\n", hex::encode(k))).collect();
    let tmp = path.with_extension("rotating");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write as _;
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            format!("cannot write the master key file {}: {}", path.display(), crate::startup::io_reason(&e))
        })
}

/// The cipher of a key ring.
pub fn ring_cipher(ring: &[(u8, Vec<u8>)]) -> Result<AesGcmCipher, String> {
    let keys: Vec<(u8, &[u8])> = ring.iter().map(|(v, k)| (*v, k.as_slice())).collect();
    AesGcmCipher::ring(&keys).map_err(|e| e.message().to_string())
}

pub struct AppState {
    pub frontend: Frontend,
    /// Host names answered besides loopback ones.
    pub hosts: AllowedHosts,
    pub outbox: Option<Arc<Outbox>>,
    /// Import uploads (`PUT /_import/…`).
    pub imports: Option<Arc<crate::import::LocalImportFiles>>,
}

/// A running server: its address and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// The master key file in use.
    pub key_file: PathBuf,
    /// With TLS on, the certificate it serves (a client can trust this file).
    pub tls_cert: Option<PathBuf>,
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
        StoreKind::Embedded => Arc::new(EmbeddedStore::open_for_server(&cfg.data_dir)?),
        StoreKind::DynamoDb { endpoint, table } => {
            let client = tessera_aws::config::dynamodb_client(endpoint.as_deref(), &cfg.region).await;
            Arc::new(tessera_aws::dynamo::DynamoStore::new(client, table.clone()))
        }
    })
}

/// Binds and serves in the background (port 0 picks a free port). A start that fails leaves
/// nothing behind: the port is taken first, and a data directory or key file this start
/// created is removed again.
pub async fn start(cfg: LocalConfig) -> Result<Running, String> {
    refuse_default_keys_off_loopback(&cfg)?;
    if !tessera_core::ids::is_account_id(&cfg.service.account_id) {
        return Err(format!("{:?} is not an AWS account id (12 digits)", cfg.service.account_id));
    }
    let listener = crate::startup::bind(cfg.bind).await?;
    let mut made = crate::startup::Made::default();
    let started = start_on(&cfg, listener, &mut made).await;
    if started.is_err() {
        made.undo();
    }
    started
}

async fn start_on(
    cfg: &LocalConfig,
    listener: tokio::net::TcpListener,
    made: &mut crate::startup::Made,
) -> Result<Running, String> {
    made.data_dir = crate::startup::prepare_data_dir(&cfg.data_dir)?;
    let (key_file, key, created_key) = open_master_key(cfg)?;
    made.key_file = created_key.then(|| key_file.clone());
    let store = build_store(cfg).await?;
    let outbox = Arc::new(Outbox::new(&cfg.data_dir));
    // Every version of the key file opens; the newest seals (docs/keys.md, "The master key").
    let cipher = Arc::new(ring_cipher(&load_key_ring(&key_file)?)?);
    let tls = match &cfg.tls {
        Some(settings) => {
            Some(crate::tls::prepare(settings, &cfg.data_dir, cipher.as_ref(), cfg.clock.now_secs())?)
        }
        None => None,
    };
    let mut service_cfg = cfg.service.clone();
    service_cfg.region = cfg.region.clone();
    service_cfg.auth_domains.https = tls.is_some();
    // Prefix domains are served at `{prefix}.auth.localhost` on this server's port.
    if service_cfg.auth_domains.port.is_none() {
        service_cfg.auth_domains.port = listener.local_addr().ok().map(|a| a.port());
    }
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
    // Identity providers' discovery, keys, token and userinfo endpoints.
    service.set_web_client(Arc::new(tessera_aws::web::HttpsClient::new(std::time::Duration::from_secs(10))?));
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
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let issuer_base = cfg.issuer_base.clone().unwrap_or_else(|| format!("http://{addr}"));
    let imports = crate::import::enable(&service, &cfg.data_dir, &issuer_base, &key, cfg.clock.clone())
        .map_err(|e| e.to_string())?;
    let hosts = AllowedHosts::new(&cfg.allowed_hosts, addr, cfg.issuer_base.as_deref());
    // Loopback origins always; --cors-origins adds to them (`*`: any origin).
    let mut allowed_origins = vec![CORS_LOOPBACK.to_string()];
    allowed_origins.extend(cfg.cors_origins.iter().filter(|o| !o.is_empty()).cloned());
    let state = Arc::new(AppState {
        frontend: Frontend {
            service,
            admin_keys: cfg.admin_keys.clone(),
            max_skew_secs: cfg.max_skew_secs,
            issuer_base: Some(issuer_base),
            cors: Cors { allowed_origins },
            throttle: tessera_wire::throttle::Throttle::new(cfg.throttle.clone()),
        },
        hosts,
        outbox: Some(outbox),
        imports: Some(imports),
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tls_cert = tls.as_ref().map(|t| t.cert_file.clone());
    let acceptor = tls.map(|t| t.acceptor);
    let task = tokio::spawn(crate::conn::serve(listener, state.clone(), cfg.http, rx, acceptor));
    Ok(Running { addr, key_file, tls_cert, state, shutdown: Some(tx), task })
}

/// The documented default admin secret is in the README: fine on loopback, where only this
/// machine can call, and refused anywhere else.
fn refuse_default_keys_off_loopback(cfg: &LocalConfig) -> Result<(), String> {
    if cfg.bind.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    let weak = cfg.admin_keys.values().any(|s| s == DEFAULT_ADMIN_SECRET_ACCESS_KEY || s.is_empty());
    if weak {
        return Err(format!(
            "refusing to serve on {}: the admin keys are the documented defaults (or an empty secret), \
             which anyone can read in the README. Set TESSERA_ADMIN_ACCESS_KEY_ID and \
             TESSERA_ADMIN_SECRET_ACCESS_KEY to keys of your own, or bind to 127.0.0.1.",
            cfg.bind
        ));
    }
    Ok(())
}

/// Chooses, checks and reads (or creates) the master key; true when it was created now.
fn open_master_key(cfg: &LocalConfig) -> Result<(PathBuf, Vec<u8>, bool), String> {
    let (path, origin) =
        crate::keyfile::resolve(&cfg.data_dir, cfg.key_file.as_deref(), cfg.key_home.as_deref())?;
    let git = crate::keyfile::refuse_if_tracked(&path)?;
    if git == GitStatus::Unignored {
        tracing::warn!(
            key_file = %path.display(),
            "the master key file is inside a git working tree and not ignored: add it to .gitignore"
        );
    }
    match origin {
        KeyOrigin::Legacy => tracing::warn!(
            key_file = %path.display(),
            "using the master key beside the data directory (the old default), so existing data opens; \
             new data directories keep their key outside the working tree"
        ),
        KeyOrigin::UserData if !path.exists() && cfg.data_dir.join(crate::embedded::DB_FILE).exists() => {
            // A new key cannot open existing data: say where the key was looked for instead.
            return Err(format!(
                "{} holds data but its master key was not found (looked beside it at {} and at {}); \
                 pass --key-file with the key that created it",
                cfg.data_dir.display(),
                crate::keyfile::legacy_key_file(&cfg.data_dir).display(),
                path.display()
            ));
        }
        _ => {}
    }
    let created = !path.exists();
    let key = load_or_create_key(&path)?;
    if origin != KeyOrigin::Explicit {
        // A moved or copied data directory still finds its key.
        if let Err(e) = crate::keyfile::write_pointer(&cfg.data_dir, &path) {
            if created {
                let _ = std::fs::remove_file(&path);
            }
            return Err(e);
        }
    }
    tracing::info!(key_file = %path.display(), "master key");
    Ok((path, key, created))
}

/// Host names the server answers to (DNS rebinding protection): a page on `evil.example`
/// whose name the attacker re-points at 127.0.0.1 reaches this port with `Host: evil.example`.
/// Loopback names and addresses are always answered (an attacker cannot own them).
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    any: bool,
    /// Lower-case host names or addresses (`[v6]`), or `.suffix` for a domain and its subdomains.
    names: Vec<String>,
}

impl AllowedHosts {
    /// The configured names, the bound address when it is a specific one, and the issuer
    /// base's host.
    pub fn new(configured: &[String], bound: SocketAddr, issuer_base: Option<&str>) -> Self {
        let mut hosts = AllowedHosts::default();
        for entry in configured.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if entry == "*" {
                hosts.any = true;
            } else if let Some(name) = host_name(entry) {
                hosts.names.push(name);
            }
        }
        if !bound.ip().is_unspecified() {
            hosts.names.extend(host_name(&bound.to_string()));
        }
        let issuer_host = issuer_base
            .and_then(|b| b.split_once("://"))
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest));
        hosts.names.extend(issuer_host.and_then(host_name));
        hosts
    }

    pub fn allows(&self, authority: &str) -> bool {
        if self.any || is_loopback_host(authority) {
            return true;
        }
        let Some(host) = host_name(authority) else { return false };
        self.names.iter().any(|n| {
            *n == host
                || n.strip_prefix('.').is_some_and(|domain| host == domain || host.ends_with(n.as_str()))
        })
    }
}

/// Largest request body accepted (Cognito's own limit is far below this).
const MAX_BODY: usize = 1024 * 1024;

/// One request: the Host and `/_dev/` checks, then the import uploads, then every operation.
pub(crate) async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    limits: HttpLimits,
    req: Request,
    tls: bool,
) -> Response {
    let (mut parts, body) = req.into_parts();
    if tls {
        // What the auth domain builds its own URLs with (the front door sets it in AWS).
        parts.headers.insert("x-forwarded-proto", http::HeaderValue::from_static("https"));
    }
    let host = parts.headers.get(http::header::HOST).map(|h| h.to_str().unwrap_or("\u{fffd}"));
    // An absolute-form target (`POST http://name/ HTTP/1.1`) names the host too.
    let named = [host, parts.uri.authority().map(|a| a.as_str())];
    if host.is_none() || named.into_iter().flatten().any(|h| !state.hosts.allows(h)) {
        let shown = host.unwrap_or_default().chars().take(100).collect::<String>();
        return wire_error(&WireError::new(
            "AccessDeniedException",
            403,
            format!(
                "Host '{shown}' is not served here: this server answers loopback names and the names \
                 given with --allowed-hosts (DNS rebinding protection)."
            ),
        ));
    }
    if parts.uri.path().starts_with("/_dev/") && !peer.ip().to_canonical().is_loopback() {
        // The outbox holds every code sent: only this machine may read it.
        return wire_error(&WireError::new(
            "AccessDeniedException",
            403,
            "The development endpoints answer only to this machine (loopback).",
        ));
    }
    if parts.method == http::Method::GET && parts.uri.path() == "/_dev/messages" {
        let messages = state.outbox.as_ref().map(|o| o.messages()).unwrap_or_default();
        return json_response(200, serde_json::to_vec(&messages).unwrap_or_default());
    }
    if parts.method == http::Method::PUT && parts.uri.path().starts_with("/_import/") {
        let Some(imports) = state.imports.as_ref() else { return upload_response(404, "NoSuchKey") };
        let upload =
            imports.accept_upload(parts.uri.path(), parts.uri.query().unwrap_or(""), &parts.headers, body);
        let Ok((status, code)) = tokio::time::timeout(limits.body_timeout, upload).await else {
            return upload_response(400, "RequestTimeout");
        };
        return upload_response(status, code);
    }
    let body = match tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(b)) => b.to_vec(),
        Ok(Err(_)) => {
            let e = WireError::serialization("Request body too large or unreadable.");
            return wire_error(&e);
        }
        Err(_) => {
            let mut response = wire_error(&WireError::http_level(408));
            response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            return response;
        }
    };
    let wire = WireRequest::from_parts(&parts, body);
    into_response(state.frontend.handle(&wire, None).await)
}

fn wire_error(e: &WireError) -> Response {
    into_response(tessera_wire::http::error_response(e))
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
