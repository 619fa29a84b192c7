//! The service: the ports wired together, and the lookups every operation shares.

use crate::error::{Error, Result};
use crate::model::{keys, AppClient, User, UserPool};
use crate::password::HashParams;
use crate::ports::{Clock, Messenger, Rng, SecretCipher};
use crate::store::{Cond, Item, Store, StoreError, Write};
use crate::tokens::SigningKey;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Entries a process cache holds before it starts over.
const MAX_CACHED: usize = 50_000;

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
    pub limits: Limits,
    /// A password reset (ConfirmForgotPassword, AdminResetUserPassword) or an administrator's
    /// AdminSetUserPassword also signs the user out everywhere, as GlobalSignOut does. Off by
    /// default, as in Cognito, where sessions outlive a password change.
    pub sign_out_on_password_reset: bool,
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
            limits: Limits::default(),
            sign_out_on_password_reset: false,
        }
    }
}

/// What ForceAliasCreation changes on the users who held the aliases (see `take_aliases`).
#[derive(Default)]
pub struct AliasTakeover {
    writes: Vec<Write>,
    kinds: BTreeSet<String>,
}

/// What one call knows about where it arrived.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// `{issuer_base}/{poolId}` is the token issuer.
    pub issuer_base: String,
    /// Who signed the request (checked by the wire before the domain runs).
    pub caller: Caller,
}

/// Who a request comes from, as its signature proved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Caller {
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
        CallContext { issuer_base: issuer_base.into(), caller: Caller::Unsigned }
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
    /// Bounds concurrent password hashing (each argon2 call holds ~19 MiB).
    hash_permits: tokio::sync::Semaphore,
    /// User-import files, runner and log, for the processes that serve import jobs.
    imports: std::sync::OnceLock<crate::ports::Imports>,
    /// Invokes the pools' Lambda triggers.
    invoker: std::sync::OnceLock<Arc<dyn crate::ports::FunctionInvoker>>,
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
            hash_permits: tokio::sync::Semaphore::new(cores),
            imports: std::sync::OnceLock::new(),
            invoker: std::sync::OnceLock::new(),
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
        match self.store.get(pk, sk, self.now_secs()).await? {
            Some(item) => {
                Ok(Some((serde_json::from_value(item.body).map_err(Error::internal)?, item.version)))
            }
            None => Ok(None),
        }
    }

    pub async fn pool(&self, pool_id: &str) -> Result<Arc<UserPool>> {
        let now = self.clock.now_millis();
        if let Some((pool, at)) = self.pool_cache.lock().map_err(Error::internal)?.get(pool_id) {
            if now - at < self.config.pool_cache_ttl_ms {
                return Ok(pool.clone());
            }
        }
        let pool = self
            .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
            .await?
            .map(|(p, _)| Arc::new(p))
            .ok_or_else(|| {
                Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist."))
            })?;
        let mut cache = self.pool_cache.lock().map_err(Error::internal)?;
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(pool_id.to_string(), (pool.clone(), now));
        Ok(pool)
    }

    /// Drops what this process remembers of a pool (after it changed or went away).
    pub fn forget_pool(&self, pool_id: &str) {
        if let Ok(mut cache) = self.pool_cache.lock() {
            cache.remove(pool_id);
        }
        if let Ok(mut cache) = self.key_cache.lock() {
            cache.remove(pool_id);
        }
        if let Ok(mut cache) = self.client_cache.lock() {
            cache.retain(|_, (c, _)| c.pool_id != pool_id);
        }
    }

    /// The pool and claims of an access token whose signature and issuer check out and which
    /// has not expired. Signatures are checked once per token and process, then remembered.
    pub async fn check_access_token(
        &self,
        ctx: &CallContext,
        token: &str,
    ) -> Result<(Arc<UserPool>, Arc<Value>)> {
        use sha2::Digest;
        let invalid = || Error::not_authorized("Invalid Access Token");
        let id: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.verified_tokens.lock().ok().and_then(|c| c.get(&id).cloned());
        let (pool, claims) = match cached {
            Some(claims) => {
                let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
                let pool_id = iss.rsplit('/').next().unwrap_or_default();
                let pool = self.pool(pool_id).await.map_err(|_| invalid())?;
                if iss != ctx.issuer(&pool.id) {
                    return Err(invalid());
                }
                (pool, claims)
            }
            None => {
                let pool_id = crate::tokens::unverified_pool_id(token).ok_or_else(invalid)?;
                if !crate::ids::is_pool_id(&pool_id) {
                    return Err(invalid());
                }
                let pool = self.pool(&pool_id).await.map_err(|_| invalid())?;
                let keys = self.open_keys(&pool)?;
                // Checked without the expiry, so an expired token can be told apart below.
                let claims =
                    Arc::new(keys.access.verify(token, &ctx.issuer(&pool.id), i64::MIN).ok_or_else(invalid)?);
                if let Ok(mut cache) = self.verified_tokens.lock() {
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    cache.insert(id, claims.clone());
                }
                (pool, claims)
            }
        };
        let now = self.now_secs();
        if crate::tokens::not_yet_valid(&claims, now) {
            return Err(invalid());
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now => Ok((pool, claims)),
            _ => Err(Error::not_authorized("Access Token has expired")),
        }
    }

    /// An app client, served from memory like pools (see `pool_cache_ttl_ms`).
    pub async fn client(&self, client_id: &str) -> Result<AppClient> {
        let now = self.clock.now_millis();
        if let Some((client, at)) = self.client_cache.lock().map_err(Error::internal)?.get(client_id) {
            if now - at < self.config.pool_cache_ttl_ms {
                return Ok(client.as_ref().clone());
            }
        }
        let client = self
            .get_json::<AppClient>(&keys::client(client_id), keys::CLIENT_SK)
            .await?
            .map(|(c, _)| c)
            .ok_or_else(|| {
                Error::ResourceNotFoundException(format!("User pool client {client_id} does not exist."))
            })?;
        let mut cache = self.client_cache.lock().map_err(Error::internal)?;
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(client_id.to_string(), (Arc::new(client.clone()), now));
        Ok(client)
    }

    /// Drops what this process remembers of a client (after it changed or went away).
    pub fn forget_client(&self, client_id: &str) {
        if let Ok(mut cache) = self.client_cache.lock() {
            cache.remove(client_id);
        }
    }

    /// A client that must belong to `pool_id`.
    pub async fn pool_client(&self, pool_id: &str, client_id: &str) -> Result<AppClient> {
        let client = self.client(client_id).await?;
        if client.pool_id != pool_id {
            return Err(Error::ResourceNotFoundException(format!(
                "User pool client {client_id} does not exist."
            )));
        }
        Ok(client)
    }

    /// The user a sign-in identifier names: the username, or a sign-in alias the pool uses
    /// (email/phone username attributes, verified email/phone or preferred_username aliases),
    /// or the `sub`.
    pub async fn find_user(&self, pool: &UserPool, identifier: &str) -> Result<Option<(User, u64)>> {
        let key = pool.username_key(identifier);
        if let Some(found) = self.get_json::<User>(&keys::user(&pool.id, &key), keys::USER_SK).await? {
            return Ok(Some(found));
        }
        let kinds = pool.username_attributes.iter().chain(&pool.alias_attributes).map(String::as_str);
        // A `sub` is a UUID: any other identifier cannot be one, and skipping that read keeps an
        // unknown name's lookup as short as a known alias's (timing, PreventUserExistenceErrors).
        let sub = uuid::Uuid::parse_str(identifier).is_ok().then_some("sub");
        for kind in kinds.chain(sub) {
            let value = crate::user_index::alias_value(pool, kind, identifier);
            if let Some(username) = self.alias_holder(pool, kind, &value).await? {
                let found = self
                    .get_json::<User>(&keys::user(&pool.id, &pool.username_key(&username)), keys::USER_SK)
                    .await?;
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }

    /// The username an alias item points at.
    pub async fn alias_holder(&self, pool: &UserPool, kind: &str, value: &str) -> Result<Option<String>> {
        Ok(self
            .get_json::<Value>(&keys::alias(&pool.id, kind, value), keys::ALIAS_SK)
            .await?
            .and_then(|(a, _)| a.get("username").and_then(Value::as_str).map(str::to_string)))
    }

    pub async fn require_user(&self, pool: &UserPool, identifier: &str) -> Result<(User, u64)> {
        self.find_user(pool, identifier)
            .await?
            .ok_or_else(|| Error::UserNotFoundException("User does not exist.".into()))
    }

    /// The user item and its index changes, for one transaction. `version` None = a new user.
    /// Aliases of the `taken` kinds are written over their current holder's (ForceAliasCreation).
    fn user_writes(
        &self,
        pool: &UserPool,
        user: &User,
        version: Option<u64>,
        taken: &BTreeSet<String>,
    ) -> Result<(Vec<Write>, Vec<Option<String>>)> {
        let mut user = user.clone();
        let desired = crate::user_index::desired(pool, &user);
        let mut index = crate::user_index::diff(pool, &user, &user.owned, &desired);
        for (write, claim) in index.writes.iter_mut().zip(index.claims.iter_mut()) {
            if let (Write::Put { cond, .. }, Some(kind)) = (write, claim.as_ref()) {
                if taken.contains(kind) {
                    *cond = Cond::None;
                    *claim = None;
                }
            }
        }
        user.owned = desired;
        let item = Item::new(
            keys::user(&pool.id, &pool.username_key(&user.username)),
            keys::USER_SK,
            serde_json::to_value(&user).map_err(Error::internal)?,
        );
        let mut writes = vec![Write::put_versioned(item, version)];
        let mut claims = vec![None];
        writes.extend(index.writes);
        claims.extend(index.claims);
        Ok((writes, claims))
    }

    /// Writes a changed user with its index changes, conditional on the version read (no lost
    /// updates). A sign-in alias another user holds → AliasExistsException.
    pub async fn save_user(
        &self,
        pool: &UserPool,
        user: &User,
        version: u64,
        extra: Vec<Write>,
    ) -> Result<()> {
        self.save_user_taking(pool, user, version, AliasTakeover::default(), extra).await
    }

    /// Writes a new user with its listing entry and index items. A taken username or
    /// username attribute → UsernameExistsException; a taken alias → AliasExistsException.
    pub async fn insert_user(&self, pool: &UserPool, user: &User, extra: Vec<Write>) -> Result<()> {
        self.insert_user_taking(pool, user, AliasTakeover::default(), extra).await
    }

    /// The writes that create a user (for callers that batch several users, like imports),
    /// and the alias kind each write claims.
    pub fn new_user_writes(&self, pool: &UserPool, user: &User) -> Result<(Vec<Write>, Vec<Option<String>>)> {
        self.new_user_writes_with(pool, user, &Default::default())
    }

    fn new_user_writes_with(
        &self,
        pool: &UserPool,
        user: &User,
        taken: &BTreeSet<String>,
    ) -> Result<(Vec<Write>, Vec<Option<String>>)> {
        let (mut writes, mut claims) = self.user_writes(pool, user, None, taken)?;
        let listing =
            Item::new(keys::pool_users(&pool.id), pool.username_key(&user.username), serde_json::json!({}));
        writes.insert(1, Write::put(listing, Cond::NotExists));
        claims.insert(1, None);
        Ok((writes, claims))
    }

    /// ForceAliasCreation: for each verified email/phone alias `user` is about to claim that
    /// another user holds, that user saved with the attribute unverified. Pass the result to
    /// [`Service::save_user_taking`] / [`Service::insert_user_taking`], which move the aliases
    /// in the claimant's own transaction, so a failed claim changes nobody.
    pub async fn take_aliases(&self, pool: &UserPool, user: &User) -> Result<AliasTakeover> {
        let mut out = AliasTakeover::default();
        let desired = crate::user_index::desired(pool, user);
        for (kind, value) in &desired.aliases {
            if kind == "sub" || user.owned.aliases.get(kind) == Some(value) {
                continue;
            }
            let Some(holder) = self.alias_holder(pool, kind, value).await? else { continue };
            if holder == user.username {
                continue;
            }
            let Some((mut other, version)) = self
                .get_json::<User>(&keys::user(&pool.id, &pool.username_key(&holder)), keys::USER_SK)
                .await?
            else {
                continue;
            };
            if kind == "preferred_username" || pool.username_attributes.contains(kind) {
                // Only verified email/phone aliases move; the others stay unique.
                return Err(alias_exists(kind));
            }
            other.attributes.insert(format!("{kind}_verified"), "false".into());
            other.modified = self.clock.now_millis();
            let moved = keys::alias(&pool.id, kind, value);
            let (writes, _) = self.user_writes(pool, &other, Some(version), &Default::default())?;
            // The claimant overwrites the alias item; deleting it too would touch it twice.
            out.writes.extend(writes.into_iter().filter(|w| w.key() != (moved.as_str(), keys::ALIAS_SK)));
            out.kinds.insert(kind.clone());
        }
        Ok(out)
    }

    /// [`Service::save_user`], moving the aliases [`Service::take_aliases`] found.
    pub async fn save_user_taking(
        &self,
        pool: &UserPool,
        user: &User,
        version: u64,
        takeover: AliasTakeover,
        extra: Vec<Write>,
    ) -> Result<()> {
        let (mut writes, claims) = self.user_writes(pool, user, Some(version), &takeover.kinds)?;
        writes.extend(takeover.writes);
        writes.extend(extra);
        self.commit_user(pool, writes, claims, false).await
    }

    /// [`Service::insert_user`], moving the aliases [`Service::take_aliases`] found.
    pub async fn insert_user_taking(
        &self,
        pool: &UserPool,
        user: &User,
        takeover: AliasTakeover,
        extra: Vec<Write>,
    ) -> Result<()> {
        let (mut writes, claims) = self.new_user_writes_with(pool, user, &takeover.kinds)?;
        writes.extend(takeover.writes);
        writes.extend(extra);
        self.commit_user(pool, writes, claims, true).await
    }

    /// Runs a user's transaction and names what a failed condition means: a taken alias, a
    /// taken username (new users), or a concurrent change.
    async fn commit_user(
        &self,
        pool: &UserPool,
        writes: Vec<Write>,
        claims: Vec<Option<String>>,
        new_user: bool,
    ) -> Result<()> {
        match self.store.transact(writes, self.now_secs()).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { index }) => match claims.get(index).cloned().flatten() {
                Some(kind) if !new_user || (!pool.username_attributes.contains(&kind) && kind != "sub") => {
                    Err(alias_exists(&kind))
                }
                _ if new_user && index < claims.len() => Err(username_exists(pool)),
                _ => Err(Error::ConcurrentModificationException(
                    "The user was modified by another request. Try again.".into(),
                )),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The writes that remove a user with its listing entry and every index item.
    pub fn delete_user_writes(&self, pool: &UserPool, user: &User, version: Option<u64>) -> Vec<Write> {
        let key = pool.username_key(&user.username);
        let cond = version.map(Cond::Version).unwrap_or(Cond::None);
        let mut writes = vec![
            Write::delete(keys::user(&pool.id, &key), keys::USER_SK, cond),
            Write::delete(keys::pool_users(&pool.id), key.clone(), Cond::None),
        ];
        writes.extend(crate::user_index::diff(pool, user, &user.owned, &Default::default()).writes);
        writes
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

    /// The pool's signing keys, opened once per process.
    pub fn open_keys(&self, pool: &UserPool) -> Result<Arc<OpenKeys>> {
        if let Some(k) = self.key_cache.lock().map_err(Error::internal)?.get(&pool.id) {
            return Ok(k.clone());
        }
        let opened = Arc::new(OpenKeys {
            id: SigningKey::open(&pool.keys.id, self.cipher.as_ref())?,
            access: SigningKey::open(&pool.keys.access, self.cipher.as_ref())?,
        });
        self.key_cache.lock().map_err(Error::internal)?.insert(pool.id.clone(), opened.clone());
        Ok(opened)
    }
}

pub fn username_exists(pool: &UserPool) -> Error {
    let only = |kind: &str| pool.username_attributes.len() == 1 && pool.username_attributes[0] == kind;
    if only("email") {
        Error::UsernameExistsException("An account with the given email already exists.".into())
    } else if only("phone_number") {
        Error::UsernameExistsException("An account with the given phone_number already exists.".into())
    } else {
        Error::UsernameExistsException("User already exists".into())
    }
}

pub fn alias_exists(kind: &str) -> Error {
    Error::AliasExistsException(format!("An account with the given {kind} already exists."))
}

/// `Base64(HMAC-SHA256(key = secret, message = username + clientId))`.
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks SECRET_HASH when the client has a secret, over any of the accepted usernames.
pub fn check_secret_hash(client: &AppClient, given: Option<&str>, usernames: &[&str]) -> Result<()> {
    let Some(secret) = client.secret.as_deref() else { return Ok(()) };
    let Some(given) = given else {
        return Err(Error::NotAuthorizedException(format!(
            "Client {} is configured for secret but secret was not received",
            client.client_id
        )));
    };
    let ok = usernames.iter().any(|u| {
        let want = secret_hash(secret, u, &client.client_id);
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), given.as_bytes()).into()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::NotAuthorizedException(format!(
            "Unable to verify secret hash for client {}",
            client.client_id
        )))
    }
}

/// A list operation's `Limit`: 1–60, 60 when omitted or 0 (Cognito's page size).
pub fn page_limit(input: &Value) -> usize {
    match input.i64_of("Limit") {
        Some(n) if n > 0 => n.min(60) as usize,
        _ => 60,
    }
}

/// Opaque pagination tokens: the last sort key, base64url.
pub fn encode_next_token(sk: &str) -> String {
    URL_SAFE_NO_PAD.encode(sk.as_bytes())
}

pub fn decode_next_token(token: &str) -> Result<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::invalid("Invalid pagination token."))
}

/// Accessors over a validated JSON input.
pub trait Input {
    fn str_of(&self, name: &str) -> Option<&str>;
    fn req_str(&self, name: &str) -> Result<&str>;
    fn bool_of(&self, name: &str) -> Option<bool>;
    fn i64_of(&self, name: &str) -> Option<i64>;
}

impl Input for Value {
    fn str_of(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
    fn req_str(&self, name: &str) -> Result<&str> {
        self.str_of(name).ok_or_else(|| {
            Error::invalid(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_camel(name)
            ))
        })
    }
    fn bool_of(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }
    fn i64_of(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }
}

pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `{"Name": .., "Value": ..}` lists into pairs.
pub fn attribute_list(input: &Value, member: &str) -> Vec<(String, String)> {
    input
        .get(member)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some((
                        a.get("Name")?.as_str()?.to_string(),
                        a.get("Value").and_then(Value::as_str).unwrap_or_default().to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}
