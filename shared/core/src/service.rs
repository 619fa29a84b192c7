//! The service: the ports wired together, the deployment's settings, and what one call knows
//! about where it arrived. What a process caches (`service/cache.rs`) and the user records
//! (`service/users.rs`) are the other two parts of `Service`.

mod cache;
pub mod users;

use crate::error::{Error, Result};
use crate::model::{keys, AppClient, UserPool};
use crate::password::HashParams;
use crate::ports::{Clock, Messenger, Rng, SecretCipher};
use crate::store::{Cond, Item, Store, StoreError, Write};
use crate::tokens::SigningKey;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries a process cache holds before it starts over.
pub(crate) const MAX_CACHED: usize = 50_000;

/// Deployment-wide settings.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub region: String,
    /// The AWS account id shown in ARNs.
    pub account_id: String,
    pub hash_params: HashParams,
    /// Sender address for email when a pool sets none.
    pub default_email_from: Option<String>,
    /// How long a process may serve a pool's settings from memory. Changes made through this
    /// process apply at once; other processes (other Lambda instances) see them within this.
    pub pool_cache_ttl_ms: i64,
    /// The longest a request can take (API Gateway's limit is 29 s). A CaseSensitive change
    /// waits this long before its last pass, for requests that read the pool before it.
    pub request_time_bound_ms: i64,
    /// How long one request may spend reading a whole pool (PlanUserPoolSettingsChange,
    /// StartUserPoolSettingsChange) before it gives up with LimitExceededException, so a large
    /// pool gets a clear answer and not a function timeout. The deployment sets it below its
    /// functions' timeout; the local server and the `tessera` command read to the end (`None`).
    pub whole_pool_read_budget_ms: Option<u64>,
    pub limits: Limits,
    /// A password reset (ConfirmForgotPassword, AdminResetUserPassword) or an administrator's
    /// AdminSetUserPassword also signs the user out everywhere, as GlobalSignOut does. Off by
    /// default, as in Cognito, where sessions outlive a password change.
    pub sign_out_on_password_reset: bool,
    /// Where the pools' auth domains (the OAuth 2.0 endpoints and hosted pages) are served.
    pub auth_domains: AuthDomains,
    /// A client_credentials grant within this many milliseconds of an identical one (same
    /// client, same granted scopes, same signing key) gets the token that one got, with its
    /// `expires_in` counting down: one RS256 signature (~0.25 ms) per client and window,
    /// however many grants. 0: a new token every time.
    pub client_credentials_reuse_ms: i64,
    /// Identity providers on a loopback address (`localhost`, 127.0.0.0/8, ::1) may be reached
    /// over plain http: the local server's setting, for tests and development against a local
    /// provider. A deployment never has it: there, every provider URL is https.
    pub loopback_http_providers: bool,
    /// The social providers' endpoints by type name (`Google`, `Facebook`, `LoginWithAmazon`,
    /// `SignInWithApple`), in place of the real ones: for tests and development against a
    /// stand-in provider on the local server. Empty in a deployment.
    pub social_endpoints:
        std::collections::BTreeMap<String, crate::user_pool::federation::discovery::Endpoints>,
}

/// How this deployment serves user-pool domains (CreateUserPoolDomain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDomains {
    /// A prefix domain `p` is served at `p.{prefix_base}`: `auth.localhost` on the local
    /// server, the stack's `AuthDomainBase` (e.g. `auth.example.com`) in AWS.
    pub prefix_base: String,
    /// The custom domains this deployment serves, each with the ARN of the certificate it
    /// serves them with. None: any domain, any certificate ARN (the local server, which serves
    /// every domain with its own certificate).
    pub custom_domains: Option<Vec<(String, String)>>,
    /// The host a custom domain's DNS alias points at (CreateUserPoolDomain's CloudFrontDomain).
    pub alias_target: String,
    /// The port the domains are served on when it is not the scheme's (the local server's).
    pub port: Option<u16>,
    /// The URLs documents advertise (the openid-configuration's endpoints) are path-scoped,
    /// `{issuer base}/_auth/{domain}`, instead of the domain's own host: the local server's
    /// default, since most HTTP clients cannot resolve `*.localhost`.
    pub path_scoped_urls: bool,
    /// The local server serves the domains over HTTPS too (`--tls`): the URLs it advertises
    /// are https ones.
    pub https: bool,
}

impl Default for AuthDomains {
    fn default() -> Self {
        AuthDomains {
            prefix_base: "auth.localhost".into(),
            custom_domains: None,
            alias_target: "localhost".into(),
            port: None,
            path_scoped_urls: false,
            https: false,
        }
    }
}

/// Quotas Cognito enforces, configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Groups one pool may hold (Cognito: 10,000).
    pub groups_per_pool: u64,
    /// Groups one user may belong to (Cognito: 100).
    pub groups_per_user: u64,
    /// Custom attributes one pool may define (Cognito: 50; the 2019 guide says 25).
    pub custom_attributes_per_pool: u64,
    /// Cognito Sync datasets one identity may hold, merged ones included (20).
    pub sync_datasets_per_identity: u64,
    /// Live records one Sync dataset may hold (1024).
    pub sync_records_per_dataset: u64,
    /// UTF-8 bytes of the keys and values of a Sync dataset's live records (1 MB).
    pub sync_dataset_bytes: u64,
    /// Wrong verification codes (per user and purpose: sign-up, password reset, each attribute)
    /// allowed before lockouts begin; counted across reissued codes.
    pub code_free_failures: u64,
    /// The longest of those lockouts (they double from 1 s), in seconds.
    pub code_lockout_max_secs: u64,
    /// Codes one user may be sent per purpose within `code_send_window_secs`.
    pub code_sends_per_window: u64,
    pub code_send_window_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            groups_per_pool: 10_000,
            groups_per_user: 100,
            custom_attributes_per_pool: 50,
            sync_datasets_per_identity: 20,
            sync_records_per_dataset: 1024,
            sync_dataset_bytes: 1024 * 1024,
            code_free_failures: 5,
            code_lockout_max_secs: 3600,
            code_sends_per_window: 5,
            code_send_window_secs: 3600,
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            hash_params: HashParams::default(),
            default_email_from: None,
            pool_cache_ttl_ms: 1000,
            request_time_bound_ms: 30_000,
            whole_pool_read_budget_ms: None,
            limits: Limits::default(),
            sign_out_on_password_reset: false,
            auth_domains: AuthDomains::default(),
            client_credentials_reuse_ms: 1000,
            loopback_http_providers: false,
            social_endpoints: Default::default(),
        }
    }
}

/// What one call knows about where it arrived.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// `{issuer_base}/{poolId}` is the token issuer.
    pub issuer_base: String,
    /// Who signed the request (checked by the wire before the domain runs).
    pub principal: Principal,
}

/// Who a request comes from, as its signature proved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Principal {
    /// Unsigned: the operation authorises itself by what it carries (tokens, sessions).
    #[default]
    Unsigned,
    /// Signed with one of the deployment's admin (developer) keys.
    Admin,
    /// Signed with credentials GetCredentialsForIdentity gave this identity (Sync only).
    Identity { identity_pool_id: String, identity_id: String },
}

impl CallContext {
    pub fn new(issuer_base: impl Into<String>) -> Self {
        CallContext { issuer_base: issuer_base.into(), principal: Principal::Unsigned }
    }

    /// `{issuer_base}/cognito-identity`: the issuer of identity-pool OpenID tokens, with its
    /// JWKS and openid-configuration below it.
    pub fn identity_issuer(&self) -> String {
        format!("{}/cognito-identity", self.issuer_base.trim_end_matches('/'))
    }

    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{}", self.issuer_base.trim_end_matches('/'), pool_id)
    }
}

/// A pool's opened signing keys, cached: keys never change once a pool exists.
pub struct OpenKeys {
    pub id: SigningKey,
    pub access: SigningKey,
    /// Keys accepted besides the signing ones, with the instant they stop being accepted:
    /// retired keys, until the tokens they signed have expired, and next keys (another
    /// process may have activated them already).
    pub accepted: Vec<(crate::tokens::KeyUse, i64, SigningKey)>,
    /// The kids these were opened for: the pool's keys changed when its kids differ.
    pub kids: String,
}

impl OpenKeys {
    /// A token's claims when a current or retired key of `key_use` signed it (expiry not
    /// checked here, as [`SigningKey::verify`] with `i64::MIN`).
    pub fn verify(
        &self,
        key_use: crate::tokens::KeyUse,
        token: &str,
        issuer: &str,
        now_secs: i64,
    ) -> Option<Value> {
        let current = match key_use {
            crate::tokens::KeyUse::Id => &self.id,
            crate::tokens::KeyUse::Access => &self.access,
        };
        current.verify(token, issuer, i64::MIN).or_else(|| {
            self.accepted
                .iter()
                .filter(|(u, until, _)| *u == key_use && *until > now_secs)
                .find_map(|(_, _, k)| k.verify(token, issuer, i64::MIN))
        })
    }
}

pub struct Service {
    pub store: Arc<dyn Store>,
    pub messenger: Arc<dyn Messenger>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
    pub cipher: Arc<dyn SecretCipher>,
    pub config: ServiceConfig,
    key_cache: Mutex<HashMap<String, Arc<OpenKeys>>>,
    pool_cache: Mutex<HashMap<String, (Arc<UserPool>, i64)>>,
    /// App clients, for as long as pools are cached.
    client_cache: Mutex<HashMap<String, (Arc<AppClient>, i64)>>,
    /// Claims of access tokens whose signature was already checked, by SHA-256 of the token.
    verified_tokens: Mutex<HashMap<[u8; 32], Arc<Value>>>,
    /// client_credentials tokens recently issued, for reuse (see
    /// `ServiceConfig::client_credentials_reuse_ms`).
    pub(crate) machine_tokens: Mutex<HashMap<String, crate::user_pool::oauth::MachineToken>>,
    /// Bounds concurrent password hashing (each argon2 call holds ~19 MiB).
    hash_permits: tokio::sync::Semaphore,
    /// User-import files, runner and log, for the processes that serve import jobs.
    imports: std::sync::OnceLock<crate::ports::Imports>,
    /// Invokes the pools' Lambda triggers.
    invoker: std::sync::OnceLock<Arc<dyn crate::ports::FunctionInvoker>>,
    web: std::sync::OnceLock<Arc<dyn crate::ports::WebClient>>,
    /// Exchanges identity-pool OpenID tokens for AWS credentials.
    credential_vendor: std::sync::OnceLock<Arc<dyn crate::ports::CredentialVendor>>,
    /// Sync's push notifications.
    push: std::sync::OnceLock<Arc<dyn crate::ports::PushNotifier>>,
    /// The identity service's token key, opened (crate::identity_tokens).
    pub(crate) identity_signing_key: std::sync::OnceLock<Arc<SigningKey>>,
    /// How long sending a message takes lately (microseconds, moving average): what a
    /// simulated delivery waits, so that it takes as long as a real one.
    delivery_micros: std::sync::atomic::AtomicU64,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        messenger: Arc<dyn Messenger>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        cipher: Arc<dyn SecretCipher>,
        config: ServiceConfig,
    ) -> Self {
        // Hashing is CPU- and memory-bound: more at once than cores only adds memory.
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Service {
            store,
            messenger,
            clock,
            rng,
            cipher,
            config,
            key_cache: Mutex::new(HashMap::new()),
            pool_cache: Mutex::new(HashMap::new()),
            client_cache: Mutex::new(HashMap::new()),
            verified_tokens: Mutex::new(HashMap::new()),
            machine_tokens: Mutex::new(HashMap::new()),
            hash_permits: tokio::sync::Semaphore::new(cores),
            imports: std::sync::OnceLock::new(),
            invoker: std::sync::OnceLock::new(),
            web: std::sync::OnceLock::new(),
            credential_vendor: std::sync::OnceLock::new(),
            push: std::sync::OnceLock::new(),
            identity_signing_key: std::sync::OnceLock::new(),
            delivery_micros: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records how long a message took to send.
    pub(crate) fn note_delivery(&self, took: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let _ = self.delivery_micros.fetch_update(Relaxed, Relaxed, |avg| {
            Some(if avg == 0 { sample } else { (avg * 7 + sample) / 8 })
        });
    }

    /// Waits about as long as sending a message takes lately (a simulated delivery).
    pub(crate) async fn pad_like_delivery(&self) {
        let micros = self.delivery_micros.load(std::sync::atomic::Ordering::Relaxed).min(5_000_000);
        let wait = std::time::Duration::from_micros(micros);
        if micros >= 2_000 {
            tokio::time::sleep(wait).await;
        } else if micros > 0 {
            // The timer wheel counts whole milliseconds: a local outbox's 0.1 ms would become
            // 1 ms and tell unknown names apart the other way. A short precise sleep off the
            // executor instead.
            let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
        }
    }

    /// Enables the user-import operations (set once, after the service is shared, so a
    /// runner may hold a weak reference back to it).
    pub fn set_imports(&self, imports: crate::ports::Imports) {
        let _ = self.imports.set(imports);
    }

    /// Sets how Lambda triggers are invoked (once, at start-up).
    pub fn set_invoker(&self, invoker: Arc<dyn crate::ports::FunctionInvoker>) {
        let _ = self.invoker.set(invoker);
    }

    pub(crate) fn invoker(&self) -> Option<&Arc<dyn crate::ports::FunctionInvoker>> {
        self.invoker.get()
    }

    /// Sets the client for calls to other servers (identity providers), once, at start-up.
    pub fn set_web_client(&self, web: Arc<dyn crate::ports::WebClient>) {
        let _ = self.web.set(web);
    }

    /// Sends a request to another server; without a client (a deployment that never calls
    /// out), a plain failure.
    pub(crate) async fn web(
        &self,
        request: crate::ports::WebRequest,
    ) -> std::result::Result<crate::ports::WebResponse, String> {
        match self.web.get() {
            Some(web) => web.send(request).await,
            None => Err("this server makes no outbound HTTP calls (no web client configured)".into()),
        }
    }

    /// Sets how GetCredentialsForIdentity obtains credentials (once, at start-up).
    pub fn set_credential_vendor(&self, vendor: Arc<dyn crate::ports::CredentialVendor>) {
        let _ = self.credential_vendor.set(vendor);
    }

    /// The credential vendor, or the error GetCredentialsForIdentity answers without one.
    pub fn credential_vendor(&self) -> Result<&Arc<dyn crate::ports::CredentialVendor>> {
        self.credential_vendor.get().ok_or_else(|| {
            Error::InvalidIdentityPoolConfigurationException(
                "This deployment has no STS endpoint to vend credentials.".into(),
            )
        })
    }

    /// Sets how Sync push notifications are delivered (once, at start-up).
    pub fn set_push(&self, push: Arc<dyn crate::ports::PushNotifier>) {
        let _ = self.push.set(push);
    }

    /// The push notifier, or the error RegisterDevice answers without one.
    pub fn push(&self) -> Result<&Arc<dyn crate::ports::PushNotifier>> {
        self.push.get().ok_or_else(|| {
            Error::InvalidConfigurationException("Push sync is not available in this deployment.".into())
        })
    }

    /// The import ports, or the error an import operation answers where none are configured.
    pub fn imports(&self) -> Result<&crate::ports::Imports> {
        self.imports.get().ok_or_else(|| {
            Error::OperationNotEnabledException("User import is not enabled in this deployment.".into())
        })
    }

    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/{}",
            crate::ids::pool_region(pool_id),
            self.config.account_id,
            pool_id
        )
    }

    /// Runs CPU-heavy work (hashing) off the executor, with bounded concurrency.
    pub async fn cpu<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self.hash_permits.acquire().await.map_err(Error::internal)?;
        crate::password::off_executor(f).await
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<(T, u64)>> {
        match self.store.get_raw(pk, sk, self.now_secs()).await? {
            Some(item) => {
                let version = item.version;
                Ok(Some((item.decode().map_err(Error::internal)?, version)))
            }
            None => Ok(None),
        }
    }

    /// Every live item of partition `pk`, a page at a time (for partitions that stay small, or
    /// walks that need them whole: listings of pools, a user's groups or devices).
    pub async fn query_all(&self, pk: &str) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.query(pk, "", after.as_deref(), 1000, self.now_secs()).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// The write that replaces a pool read at `version`, for a caller's own transaction.
    pub fn pool_write(&self, pool: &UserPool, version: u64) -> Result<Write> {
        let mut item = Item::new(
            keys::pool(&pool.id),
            keys::POOL_SK,
            serde_json::to_value(pool).map_err(Error::internal)?,
        );
        item.version = version + 1;
        Ok(Write::put(item, Cond::Version(version)))
    }

    /// Writes a changed pool (with `extra` writes in the same transaction), conditional on the
    /// version read, and drops this process's cached copy.
    pub async fn save_pool(&self, pool: &UserPool, version: u64, extra: Vec<Write>) -> Result<()> {
        let mut item = Item::new(
            keys::pool(&pool.id),
            keys::POOL_SK,
            serde_json::to_value(pool).map_err(Error::internal)?,
        );
        item.version = version + 1;
        let mut writes = vec![Write::put(item, Cond::Version(version))];
        writes.extend(extra);
        let result = self.store.transact(writes, self.now_secs()).await;
        self.forget_pool(&pool.id);
        match result {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
                "The user pool was modified by another request. Try again.".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
