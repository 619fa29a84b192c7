//! The user migration hook (`UserMigration_Authentication`, `UserMigration_ForgotPassword`):
//! lazy migration from a legacy user store, one user at a time, the first time they sign in (or
//! ask to reset their password) and Cognito does not know them yet.
//!
//! Three legacy stores, chosen by `TESSERA_MIGRATION_SOURCE`:
//! - `dynamodb`: a DynamoDB table keyed by user name, holding a password hash (bcrypt, argon2,
//!   scrypt or PBKDF2-SHA256 in PHC form), verified with `tessera_core::password::legacy`, which
//!   also bounds the hash cost so a stored hash cannot make a sign-in arbitrarily slow;
//! - `http`: a legacy login endpoint. The hook POSTs `{"username", "password"}` (sign-in) or
//!   `{"username"}` (forgot password, no password key) as JSON; 200 with a JSON object of
//!   attributes means found (and, with a password, authenticated), 401/403/404 means not.
//! - `cognito`: the Cognito user pool being left (docs/migrate-from-cognito.md). The hook
//!   signs the user in there (AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH with the function's
//!   IAM role, or InitiateAuth USER_PASSWORD_AUTH), copies every attribute (verified flags
//!   included) and the user's groups. Groups go back as `response.groups`, a member Tessera
//!   reads (Cognito has none such and ignores it).
//!
//! The legacy attributes are renamed by the attribute map; the answer has `userAttributes`
//! (strings, `email_verified: "true"` when configured), `finalUserStatus` (`CONFIRMED` or
//! `RESET_REQUIRED`, sign-in only) and `messageAction: SUPPRESS`. A wrong password or unknown
//! user is a function error. The event (it holds the plaintext password) is never logged.

use crate::config::{ConfigError, Vars};
use crate::Rejection;
use async_trait::async_trait;
use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsMigrateUser, CognitoEventUserPoolsMigrateUserResponse,
    CognitoEventUserPoolsMigrateUserTriggerSource as Source,
};
use std::collections::HashMap;
use std::time::Duration;

/// The `errorType` of a refused migration (wrong password, unknown user).
pub const REFUSED: &str = "MigrationRefused";
/// The `errorType` when the legacy store cannot answer.
pub const UNAVAILABLE: &str = "LegacyStoreUnavailable";

/// Attributes copied under their own name when no map is configured.
pub const DEFAULT_ATTRIBUTES: &[&str] = &[
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "locale",
    "zoneinfo",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    Confirmed,
    ResetRequired,
}

impl FinalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Confirmed => "CONFIRMED",
            FinalStatus::ResetRequired => "RESET_REQUIRED",
        }
    }
}

/// Where the legacy users are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacySource {
    DynamoDb { table: String, key_attribute: String, hash_attribute: String },
    Http { url: String, bearer_token: Option<String>, timeout: Duration },
    Cognito(CognitoSource),
}

/// The old Cognito pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoSource {
    pub user_pool_id: String,
    pub client_id: String,
    /// The app client's secret, when it has one (SECRET_HASH is computed from it).
    pub client_secret: Option<String>,
    /// AdminInitiateAuth (true; needs cognito-idp:AdminInitiateAuth, AdminGetUser and
    /// AdminListGroupsForUser on the old pool) or InitiateAuth (false; no IAM, but no
    /// forgot-password migration and no user whose old sign-in asks for MFA).
    pub admin: bool,
    pub region: String,
    /// Another endpoint than Cognito's (tests point it at a second Tessera).
    pub endpoint: Option<String>,
}

/// Where the Cognito directory puts a user's groups among the legacy attributes (a JSON list);
/// `migrate` takes them out again.
pub const GROUPS_ATTRIBUTE: &str = "cognito:groups";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationConfig {
    pub source: LegacySource,
    /// (legacy name, Cognito name) pairs; only these are migrated.
    pub attribute_map: Vec<(String, String)>,
    pub final_status: FinalStatus,
    /// Answer `email_verified: "true"` when the user has an email (needed for a reset code).
    pub email_verified: bool,
    pub phone_verified: bool,
    /// Look the legacy user up by the lower-cased user name.
    pub lowercase_username: bool,
    pub force_alias_creation: bool,
    /// Copy every legacy attribute under its own name, verified flags included (the cognito
    /// source without TESSERA_MIGRATION_ATTRIBUTES: the names already are Cognito's).
    pub copy_all: bool,
}

/// Cognito names a migration may set: standard and `custom:` attributes, `username`, and
/// `cognito:mfa_enabled`; never `sub` or other `cognito:` pseudo-attributes.
fn settable(name: &str) -> bool {
    !name.is_empty()
        && name != "sub"
        && (!name.starts_with("cognito:") || name == "cognito:mfa_enabled")
        && name.chars().all(|c| c.is_alphanumeric() || "_:-.".contains(c))
}

impl MigrationConfig {
    /// `TESSERA_MIGRATION_SOURCE` (`dynamodb` or `http`);
    /// for `dynamodb`: `TESSERA_MIGRATION_TABLE`, `TESSERA_MIGRATION_KEY_ATTRIBUTE` (default
    /// `username`), `TESSERA_MIGRATION_HASH_ATTRIBUTE` (default `password_hash`);
    /// for `http`: `TESSERA_MIGRATION_URL`, `TESSERA_MIGRATION_BEARER_TOKEN` (optional),
    /// `TESSERA_MIGRATION_TIMEOUT_MS` (default 3000; Cognito waits 5 s);
    /// and `TESSERA_MIGRATION_ATTRIBUTES` (`legacy=cognito,…`; default: the standard attributes
    /// under their own names), `TESSERA_MIGRATION_FINAL_STATUS` (`CONFIRMED` or
    /// `RESET_REQUIRED`, default `CONFIRMED`), `TESSERA_MIGRATION_EMAIL_VERIFIED` (default true),
    /// `TESSERA_MIGRATION_PHONE_VERIFIED` (default false), `TESSERA_MIGRATION_LOWERCASE_USERNAME`
    /// (default false), `TESSERA_MIGRATION_FORCE_ALIAS_CREATION` (default false).
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let source = match vars.required("TESSERA_MIGRATION_SOURCE")?.to_ascii_lowercase().as_str() {
            "dynamodb" => LegacySource::DynamoDb {
                table: vars.required("TESSERA_MIGRATION_TABLE")?,
                key_attribute: vars
                    .get("TESSERA_MIGRATION_KEY_ATTRIBUTE")
                    .unwrap_or_else(|| "username".into()),
                hash_attribute: vars
                    .get("TESSERA_MIGRATION_HASH_ATTRIBUTE")
                    .unwrap_or_else(|| "password_hash".into()),
            },
            "http" => {
                let url = vars.required("TESSERA_MIGRATION_URL")?;
                let uri: http::Uri = url
                    .parse()
                    .map_err(|_| ConfigError(format!("TESSERA_MIGRATION_URL: {url:?} is not a URL")))?;
                if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                    return Err(ConfigError("TESSERA_MIGRATION_URL must be an http(s) URL".into()));
                }
                let loopback = matches!(uri.host(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if uri.scheme_str() == Some("http") && !loopback {
                    tracing::warn!(
                        "TESSERA_MIGRATION_URL is plain http: passwords cross the network unencrypted"
                    );
                }
                LegacySource::Http {
                    url,
                    bearer_token: vars.get("TESSERA_MIGRATION_BEARER_TOKEN"),
                    timeout: Duration::from_millis(
                        vars.number("TESSERA_MIGRATION_TIMEOUT_MS")?.unwrap_or(3000),
                    ),
                }
            }
            "cognito" => {
                let user_pool_id = vars.required("TESSERA_MIGRATION_COGNITO_USER_POOL_ID")?;
                let Some((pool_region, _)) = user_pool_id.split_once('_') else {
                    return Err(ConfigError(format!(
                        "TESSERA_MIGRATION_COGNITO_USER_POOL_ID: {user_pool_id:?} is not a user pool id"
                    )));
                };
                let admin = match vars.get("TESSERA_MIGRATION_COGNITO_FLOW").as_deref() {
                    None | Some("admin") => true,
                    Some("user") => false,
                    Some(other) => {
                        return Err(ConfigError(format!(
                            "TESSERA_MIGRATION_COGNITO_FLOW must be admin or user, not {other:?}"
                        )))
                    }
                };
                LegacySource::Cognito(CognitoSource {
                    region: vars
                        .get("TESSERA_MIGRATION_COGNITO_REGION")
                        .unwrap_or_else(|| pool_region.to_string()),
                    user_pool_id,
                    client_id: vars.required("TESSERA_MIGRATION_COGNITO_CLIENT_ID")?,
                    client_secret: vars.get("TESSERA_MIGRATION_COGNITO_CLIENT_SECRET"),
                    admin,
                    endpoint: vars.get("TESSERA_MIGRATION_COGNITO_ENDPOINT"),
                })
            }
            other => {
                return Err(ConfigError(format!(
                    "TESSERA_MIGRATION_SOURCE must be dynamodb, http or cognito, not {other:?}"
                )))
            }
        };
        let copy_all =
            matches!(source, LegacySource::Cognito(_)) && vars.get("TESSERA_MIGRATION_ATTRIBUTES").is_none();
        let attribute_map = match vars.get("TESSERA_MIGRATION_ATTRIBUTES") {
            None => DEFAULT_ATTRIBUTES.iter().map(|a| (a.to_string(), a.to_string())).collect(),
            Some(_) => vars
                .list("TESSERA_MIGRATION_ATTRIBUTES")
                .into_iter()
                .map(|pair| {
                    let (legacy, cognito) = pair.split_once('=').unwrap_or((&pair, &pair));
                    let (legacy, cognito) = (legacy.trim(), cognito.trim());
                    if legacy.is_empty() || !settable(cognito) {
                        return Err(ConfigError(format!(
                            "TESSERA_MIGRATION_ATTRIBUTES: {pair:?} must be legacy=cognito with a settable Cognito attribute"
                        )));
                    }
                    Ok((legacy.to_string(), cognito.to_string()))
                })
                .collect::<Result<_, _>>()?,
        };
        let final_status = match vars.get("TESSERA_MIGRATION_FINAL_STATUS").as_deref() {
            None | Some("CONFIRMED") => FinalStatus::Confirmed,
            Some("RESET_REQUIRED") => FinalStatus::ResetRequired,
            Some(other) => {
                return Err(ConfigError(format!(
                    "TESSERA_MIGRATION_FINAL_STATUS must be CONFIRMED or RESET_REQUIRED, not {other:?}"
                )))
            }
        };
        Ok(MigrationConfig {
            source,
            attribute_map,
            final_status,
            email_verified: vars.bool("TESSERA_MIGRATION_EMAIL_VERIFIED", true)?,
            phone_verified: vars.bool("TESSERA_MIGRATION_PHONE_VERIFIED", false)?,
            lowercase_username: vars.bool("TESSERA_MIGRATION_LOWERCASE_USERNAME", false)?,
            force_alias_creation: vars.bool("TESSERA_MIGRATION_FORCE_ALIAS_CREATION", false)?,
            copy_all,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }
}

/// The legacy store could not answer. The text is logged, never returned to Cognito.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyError(pub String);

/// A legacy user's attributes, under their legacy names.
pub type LegacyAttributes = HashMap<String, String>;

/// The legacy user store.
#[async_trait]
pub trait LegacyDirectory: Send + Sync {
    /// The user's attributes when `password` is theirs; None for a wrong password or an unknown
    /// user (the two are not told apart).
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<LegacyAttributes>, LegacyError>;
    /// The user's attributes, without a password (forgot-password flow).
    async fn find(&self, username: &str) -> Result<Option<LegacyAttributes>, LegacyError>;
}

/// Renames the legacy attributes and adds the verified flags.
pub fn map_attributes(cfg: &MigrationConfig, legacy: &LegacyAttributes) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if cfg.copy_all {
        // The old pool's own names and verified flags; `sub` is the new pool's to make.
        for (name, value) in legacy {
            if settable(name) && name != "identities" && !value.is_empty() {
                out.insert(name.clone(), value.clone());
            }
        }
        return out;
    }
    for (from, to) in &cfg.attribute_map {
        if let Some(v) = legacy.get(from).filter(|v| !v.is_empty()) {
            out.insert(to.clone(), v.clone());
        }
    }
    if cfg.email_verified && out.contains_key("email") {
        out.insert("email_verified".into(), "true".into());
    }
    if cfg.phone_verified && out.contains_key("phone_number") {
        out.insert("phone_number_verified".into(), "true".into());
    }
    out
}

fn wrong_credentials() -> Rejection {
    Rejection::new(REFUSED, "Incorrect username or password")
}

/// The hook: the response for the event, or the refusal.
pub async fn migrate(
    cfg: &MigrationConfig,
    directory: &dyn LegacyDirectory,
    event: &CognitoEventUserPoolsMigrateUser,
) -> Result<(CognitoEventUserPoolsMigrateUserResponse, Vec<String>), Rejection> {
    let header = &event.cognito_event_user_pools_header;
    let username =
        header.user_name.as_deref().map(str::trim).filter(|u| !u.is_empty()).ok_or_else(wrong_credentials)?;
    let username = if cfg.lowercase_username { username.to_lowercase() } else { username.to_string() };
    let unavailable = |e: LegacyError| {
        tracing::error!(error = %e.0, "legacy user store failed");
        Rejection::new(UNAVAILABLE, "The legacy user store is unavailable; please try again later")
    };
    let source =
        header.trigger_source.clone().ok_or_else(|| Rejection::new(REFUSED, "Missing triggerSource"))?;
    let mut response = CognitoEventUserPoolsMigrateUserResponse::default();
    let groups_of = |legacy: &LegacyAttributes| -> Vec<String> {
        legacy.get(GROUPS_ATTRIBUTE).and_then(|g| serde_json::from_str(g).ok()).unwrap_or_default()
    };
    let groups;
    match source {
        Source::Authentication => {
            let password = event
                .cognito_event_user_pools_migrate_user_request
                .password
                .as_deref()
                .filter(|p| !p.is_empty())
                .ok_or_else(wrong_credentials)?;
            let legacy = directory.authenticate(&username, password).await.map_err(unavailable)?;
            let legacy = legacy.ok_or_else(|| {
                tracing::info!("legacy sign-in refused");
                wrong_credentials()
            })?;
            groups = groups_of(&legacy);
            response.user_attributes = map_attributes(cfg, &legacy);
            response.final_user_status = Some(cfg.final_status.as_str().to_string());
        }
        Source::ForgotPassword => {
            let legacy = directory.find(&username).await.map_err(unavailable)?;
            let legacy = legacy.ok_or_else(|| Rejection::new(REFUSED, "User not found"))?;
            groups = groups_of(&legacy);
            let attributes = map_attributes(cfg, &legacy);
            if !attributes.contains_key("email") && !attributes.contains_key("phone_number") {
                return Err(Rejection::new(
                    REFUSED,
                    "The account has no email address or phone number to send a reset code to",
                ));
            }
            response.user_attributes = attributes;
        }
        other => return Err(Rejection::new(REFUSED, format!("Unexpected triggerSource {other:?}"))),
    }
    response.message_action = Some("SUPPRESS".into());
    response.force_alias_creation = cfg.force_alias_creation;
    tracing::info!(trigger_source = ?source, groups = groups.len(), "user migrated");
    Ok((response, groups))
}

/// The Lambda handler body: the event with `response` filled in. Never log `event`.
pub async fn handle(
    cfg: &MigrationConfig,
    directory: &dyn LegacyDirectory,
    mut event: CognitoEventUserPoolsMigrateUser,
) -> Result<serde_json::Value, Rejection> {
    let (response, groups) = migrate(cfg, directory, &event).await?;
    // The password is not part of the answer Cognito reads; do not send it back either.
    event.cognito_event_user_pools_migrate_user_request.password = None;
    event.cognito_event_user_pools_migrate_user_response = response;
    let mut out = serde_json::to_value(event)
        .map_err(|e| Rejection::new(UNAVAILABLE, format!("the answer does not serialize: {e}")))?;
    if !groups.is_empty() {
        out["response"]["groups"] = serde_json::json!(groups);
    }
    Ok(out)
}

// ---- DynamoDB -------------------------------------------------------------------------------

/// A legacy DynamoDB table: one item per user, keyed by a string attribute.
pub struct DynamoDirectory {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    pub key_attribute: String,
    pub hash_attribute: String,
}

impl DynamoDirectory {
    async fn item(
        &self,
        username: &str,
    ) -> Result<Option<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>, LegacyError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(&self.key_attribute, AttributeValue::S(username.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                LegacyError(format!(
                    "GetItem on {}: {}",
                    self.table,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ))
            })?;
        Ok(out.item)
    }

    /// Scalar attributes as strings; the hash and non-scalar values are left out.
    fn attributes(
        &self,
        item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    ) -> LegacyAttributes {
        use aws_sdk_dynamodb::types::AttributeValue;
        item.iter()
            .filter(|(k, _)| **k != self.hash_attribute)
            .filter_map(|(k, v)| {
                let v = match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
                    AttributeValue::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((k.clone(), v))
            })
            .collect()
    }
}

/// A bcrypt hash (cost 10) checked instead when there is no user or no usable hash, so that an
/// unknown user costs about as much time as a wrong password (no user enumeration by timing).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        bcrypt::hash_with_salt("tessera-decoy", 10, [0x5a; 16])
            .map(|h| h.format_for_version(bcrypt::Version::TwoB))
            .unwrap_or_default()
    })
}

/// Verifies off the async executor.
async fn verify_off_executor(password: &str, hash: &str) -> Result<bool, LegacyError> {
    let (password, hash) = (password.to_string(), hash.to_string());
    tessera_core::password::off_executor(move || tessera_core::password::legacy::verify(&password, &hash))
        .await
        .map_err(|e| LegacyError(format!("password verification: {e}")))
}

#[async_trait]
impl LegacyDirectory for DynamoDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<LegacyAttributes>, LegacyError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let item = self.item(username).await?;
        let hash = match item.as_ref().map(|i| i.get(&self.hash_attribute)) {
            None => None,
            Some(Some(AttributeValue::S(hash))) => match tessera_core::password::legacy::check(hash) {
                Ok(_) => Some(hash.clone()),
                Err(why) => {
                    tracing::warn!(why, "the legacy password hash cannot be verified");
                    None
                }
            },
            Some(_) => {
                tracing::warn!(attribute = %self.hash_attribute, "the legacy user has no string password hash");
                None
            }
        };
        let (Some(item), Some(hash)) = (item, hash) else {
            verify_off_executor(password, decoy_hash()).await?;
            return Ok(None);
        };
        let ok = verify_off_executor(password, &hash).await?;
        Ok(ok.then(|| self.attributes(&item)))
    }

    async fn find(&self, username: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
        Ok(self.item(username).await?.map(|item| self.attributes(&item)))
    }
}

// ---- HTTP -----------------------------------------------------------------------------------

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// A legacy login endpoint (see the module documentation for the protocol).
pub struct HttpDirectory {
    client: HttpClient,
    url: http::Uri,
    bearer_token: Option<String>,
    timeout: Duration,
}

/// Longest response body read from the legacy endpoint.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

impl HttpDirectory {
    pub fn new(url: &str, bearer_token: Option<String>, timeout: Duration) -> Result<Self, ConfigError> {
        let url: http::Uri = url.parse().map_err(|_| ConfigError(format!("{url:?} is not a URL")))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| ConfigError(format!("TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(HttpDirectory { client, url, bearer_token, timeout })
    }

    async fn post(&self, body: serde_json::Value) -> Result<Option<LegacyAttributes>, LegacyError> {
        use http_body_util::BodyExt as _;
        let mut req = http::Request::post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json");
        if let Some(token) = &self.bearer_token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))
            .map_err(|e| LegacyError(format!("request: {e}")))?;
        let exchange = async {
            let resp =
                self.client.request(req).await.map_err(|e| LegacyError(format!("POST {}: {e}", self.url)))?;
            let status = resp.status();
            let limited = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| LegacyError(format!("reading the response of {}: {e}", self.url)))?
                .to_bytes();
            Ok::<_, LegacyError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| LegacyError(format!("POST {}: no answer within {:?}", self.url, self.timeout)))??;
        match status.as_u16() {
            200 => {}
            401 | 403 | 404 => return Ok(None),
            other => return Err(LegacyError(format!("POST {} answered HTTP {other}", self.url))),
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| LegacyError(format!("POST {} answered invalid JSON: {e}", self.url)))?;
        let serde_json::Value::Object(map) = value else {
            return Err(LegacyError(format!("POST {} answered JSON that is not an object", self.url)));
        };
        Ok(Some(
            map.into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    serde_json::Value::Number(n) => Some((k, n.to_string())),
                    serde_json::Value::Bool(b) => Some((k, b.to_string())),
                    _ => None,
                })
                .collect(),
        ))
    }
}

#[async_trait]
impl LegacyDirectory for HttpDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<LegacyAttributes>, LegacyError> {
        self.post(serde_json::json!({"username": username, "password": password})).await
    }

    async fn find(&self, username: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
        self.post(serde_json::json!({"username": username})).await
    }
}

// ---- Cognito --------------------------------------------------------------------------------

/// The old Cognito user pool, through the AWS SDK.
pub struct CognitoDirectory {
    pub client: aws_sdk_cognitoidentityprovider::Client,
    pub source: CognitoSource,
}

impl CognitoDirectory {
    pub async fn connect(source: &CognitoSource) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(source.region.clone()));
        if let Some(endpoint) = &source.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        CognitoDirectory {
            client: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
            source: source.clone(),
        }
    }

    fn secret_hash(&self, username: &str) -> Option<String> {
        use base64::Engine as _;
        use hmac::Mac as _;
        let secret = self.source.client_secret.as_deref()?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
        mac.update(username.as_bytes());
        mac.update(self.source.client_id.as_bytes());
        Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// The user's attributes and groups (AdminGetUser, AdminListGroupsForUser).
    async fn admin_lookup(&self, username: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
        use aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserError;
        let got = match self
            .client
            .admin_get_user()
            .user_pool_id(&self.source.user_pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(got) => got,
            Err(e) if matches!(e.as_service_error(), Some(AdminGetUserError::UserNotFoundException(_))) => {
                return Ok(None)
            }
            Err(e) => return Err(sdk_error("AdminGetUser", e)),
        };
        let mut attributes: LegacyAttributes = got
            .user_attributes()
            .iter()
            .map(|a| (a.name().to_string(), a.value().unwrap_or_default().to_string()))
            .collect();
        let mut groups = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.source.user_pool_id)
                .username(got.username())
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| sdk_error("AdminListGroupsForUser", e))?;
            groups.extend(page.groups().iter().filter_map(|g| g.group_name().map(str::to_string)));
            match page.next_token() {
                Some(t) => next = Some(t.to_string()),
                None => break,
            }
        }
        attributes.insert(GROUPS_ATTRIBUTE.into(), serde_json::json!(groups).to_string());
        Ok(Some(attributes))
    }
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug + Send + Sync + 'static>(
    what: &str,
    e: aws_sdk_cognitoidentityprovider::error::SdkError<E, R>,
) -> LegacyError {
    LegacyError(format!(
        "{what} on the old pool: {}",
        aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e)
    ))
}

/// Errors of a sign-in at the old pool that mean "not this user with this password".
fn refused_by_old_pool(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "NotAuthorizedException"
                | "UserNotFoundException"
                | "PasswordResetRequiredException"
                | "UserNotConfirmedException"
                | "InvalidParameterException"
        )
    )
}

#[async_trait]
impl LegacyDirectory for CognitoDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<LegacyAttributes>, LegacyError> {
        use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata as _;
        use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
        let mut params = HashMap::from([
            ("USERNAME".to_string(), username.to_string()),
            ("PASSWORD".to_string(), password.to_string()),
        ]);
        if let Some(hash) = self.secret_hash(username) {
            params.insert("SECRET_HASH".into(), hash);
        }
        if self.source.admin {
            let out = self
                .client
                .admin_initiate_auth()
                .user_pool_id(&self.source.user_pool_id)
                .client_id(&self.source.client_id)
                .auth_flow(AuthFlowType::AdminUserPasswordAuth)
                .set_auth_parameters(Some(params))
                .send()
                .await;
            match out {
                // Tokens, or a challenge after the password (MFA, a new password): the password
                // was right either way.
                Ok(_) => self.admin_lookup(username).await,
                Err(e) if refused_by_old_pool(e.code()) => Ok(None),
                Err(e) => Err(sdk_error("AdminInitiateAuth", e)),
            }
        } else {
            let out = self
                .client
                .initiate_auth()
                .client_id(&self.source.client_id)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .set_auth_parameters(Some(params))
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e) if refused_by_old_pool(e.code()) => return Ok(None),
                Err(e) => return Err(sdk_error("InitiateAuth", e)),
            };
            let Some(access) = out.authentication_result().and_then(|r| r.access_token()) else {
                tracing::warn!(
                    challenge = ?out.challenge_name(),
                    "the old pool asked for a challenge: its attributes cannot be read with the user flow (use TESSERA_MIGRATION_COGNITO_FLOW=admin)"
                );
                return Ok(None);
            };
            let got = self
                .client
                .get_user()
                .access_token(access)
                .send()
                .await
                .map_err(|e| sdk_error("GetUser", e))?;
            let mut attributes: LegacyAttributes = got
                .user_attributes()
                .iter()
                .map(|a| (a.name().to_string(), a.value().unwrap_or_default().to_string()))
                .collect();
            // The access token names the user's groups (it came straight from the old pool).
            let groups = access
                .split('.')
                .nth(1)
                .and_then(|p| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok()
                })
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|c| c.get("cognito:groups").cloned())
                .unwrap_or_else(|| serde_json::json!([]));
            attributes.insert(GROUPS_ATTRIBUTE.into(), groups.to_string());
            Ok(Some(attributes))
        }
    }

    async fn find(&self, username: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
        if !self.source.admin {
            return Err(LegacyError(
                "forgot-password migration reads the user with AdminGetUser: set TESSERA_MIGRATION_COGNITO_FLOW=admin".into(),
            ));
        }
        self.admin_lookup(username).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::vars_map;

    /// The handler's answer, read back as the event type (these tests look at its members).
    async fn user_migration_event(
        cfg: &MigrationConfig,
        directory: &dyn LegacyDirectory,
        payload: Value,
    ) -> Result<CognitoEventUserPoolsMigrateUser, Rejection> {
        let out = crate::lambda::user_migration_event(cfg, directory, payload).await?;
        Ok(serde_json::from_value(out).unwrap())
    }
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const USER: &str = "legacy.jane@example.com";
    const PASSWORD: &str = "Old-Password-1";

    fn sample(name: &str) -> Value {
        let text = match name {
            "authentication" => include_str!("../../../events/user-migration/authentication.json"),
            "authentication-wrong-password" => {
                include_str!("../../../events/user-migration/authentication-wrong-password.json")
            }
            "forgot-password" => include_str!("../../../events/user-migration/forgot-password.json"),
            _ => panic!("no sample {name}"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn cfg(source: LegacySource) -> MigrationConfig {
        MigrationConfig {
            source,
            attribute_map: vec![
                ("mail".into(), "email".into()),
                ("fullName".into(), "name".into()),
                ("dept".into(), "custom:department".into()),
                ("login".into(), "username".into()),
            ],
            final_status: FinalStatus::Confirmed,
            email_verified: true,
            phone_verified: false,
            lowercase_username: false,
            force_alias_creation: false,
            copy_all: false,
        }
    }

    fn legacy_attributes() -> LegacyAttributes {
        [("mail", USER), ("fullName", "Jane Legacy"), ("dept", "42"), ("login", "jane"), ("shoeSize", "38")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// An in-memory legacy store: one user, one password.
    struct Memory;

    #[async_trait]
    impl LegacyDirectory for Memory {
        async fn authenticate(&self, u: &str, p: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
            Ok((u == USER && p == PASSWORD).then(legacy_attributes))
        }
        async fn find(&self, u: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
            Ok((u == USER).then(legacy_attributes))
        }
    }

    struct Broken;

    #[async_trait]
    impl LegacyDirectory for Broken {
        async fn authenticate(&self, _: &str, _: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
            Err(LegacyError("connection refused".into()))
        }
        async fn find(&self, _: &str) -> Result<Option<LegacyAttributes>, LegacyError> {
            Err(LegacyError("connection refused".into()))
        }
    }

    fn memory_cfg() -> MigrationConfig {
        cfg(LegacySource::Http {
            url: "http://legacy.invalid/login".into(),
            bearer_token: None,
            timeout: Duration::from_secs(1),
        })
    }

    fn expected_attributes() -> Value {
        json!({"email": USER, "email_verified": "true", "name": "Jane Legacy", "custom:department": "42", "username": "jane"})
    }

    #[tokio::test]
    async fn authentication_sample_migrates_with_mapped_attributes() {
        let out = user_migration_event(&memory_cfg(), &Memory, sample("authentication")).await.unwrap();
        let out = serde_json::to_value(out).unwrap();
        let expected: Value =
            serde_json::from_str(include_str!("../../../events/user-migration/authentication.expected.json"))
                .unwrap();
        assert_eq!(out, expected);
        assert_eq!(out["response"]["userAttributes"], expected_attributes());
        assert!(out["request"].get("password").is_none_or(Value::is_null), "the password is not echoed back");
    }

    #[tokio::test]
    async fn wrong_password_unknown_user_and_missing_password_are_refused() {
        let cfg = memory_cfg();
        let err =
            user_migration_event(&cfg, &Memory, sample("authentication-wrong-password")).await.unwrap_err();
        assert_eq!((err.kind, err.message.as_str()), (REFUSED, "Incorrect username or password"));
        let mut e = sample("authentication");
        e["userName"] = json!("nobody@example.com");
        assert_eq!(
            user_migration_event(&cfg, &Memory, e).await.unwrap_err().message,
            "Incorrect username or password"
        );
        let mut e = sample("authentication");
        e["request"].as_object_mut().unwrap().remove("password");
        assert!(user_migration_event(&cfg, &Memory, e).await.is_err());
        let mut e = sample("forgot-password");
        e["userName"] = json!("nobody@example.com");
        assert_eq!(user_migration_event(&cfg, &Memory, e).await.unwrap_err().message, "User not found");
    }

    #[tokio::test]
    async fn forgot_password_sample_migrates_without_a_password() {
        let out = user_migration_event(&memory_cfg(), &Memory, sample("forgot-password")).await.unwrap();
        let r = &out.cognito_event_user_pools_migrate_user_response;
        assert_eq!(serde_json::to_value(&r.user_attributes).unwrap(), expected_attributes());
        assert_eq!(r.message_action.as_deref(), Some("SUPPRESS"));
        assert_eq!(r.final_user_status, None);
        // Nowhere to send a reset code: refused with the reason.
        let mut c = memory_cfg();
        c.attribute_map.retain(|(_, to)| to != "email");
        let err = user_migration_event(&c, &Memory, sample("forgot-password")).await.unwrap_err();
        assert!(err.message.starts_with("The account has no email address"));
    }

    #[tokio::test]
    async fn options_reset_required_verified_flags_lowercase_and_alias() {
        let mut c = memory_cfg();
        c.final_status = FinalStatus::ResetRequired;
        c.email_verified = false;
        c.force_alias_creation = true;
        c.lowercase_username = true;
        let mut e = sample("authentication");
        e["userName"] = json!("Legacy.Jane@Example.COM");
        let out = user_migration_event(&c, &Memory, e).await.unwrap();
        let r = out.cognito_event_user_pools_migrate_user_response;
        assert_eq!(r.final_user_status.as_deref(), Some("RESET_REQUIRED"));
        assert!(!r.user_attributes.contains_key("email_verified"));
        assert!(r.force_alias_creation);
    }

    #[tokio::test]
    async fn a_failing_store_is_reported_without_details() {
        let err = user_migration_event(&memory_cfg(), &Broken, sample("authentication")).await.unwrap_err();
        assert_eq!(err.kind, UNAVAILABLE);
        assert!(!err.message.contains("connection refused"));
    }

    #[test]
    fn config_from_vars() {
        let vars = vars_map(&[
            ("TESSERA_MIGRATION_SOURCE", "dynamodb"),
            ("TESSERA_MIGRATION_TABLE", "legacy-users"),
            ("TESSERA_MIGRATION_ATTRIBUTES", "mail=email, fullName=name,phone_number"),
            ("TESSERA_MIGRATION_FINAL_STATUS", "RESET_REQUIRED"),
        ]);
        let c = MigrationConfig::from_vars(&Vars::map(&vars)).unwrap();
        assert_eq!(
            c.source,
            LegacySource::DynamoDb {
                table: "legacy-users".into(),
                key_attribute: "username".into(),
                hash_attribute: "password_hash".into()
            }
        );
        assert_eq!(c.attribute_map[2], ("phone_number".to_string(), "phone_number".to_string()));
        assert_eq!(c.final_status, FinalStatus::ResetRequired);
        let defaults = vars_map(&[
            ("TESSERA_MIGRATION_SOURCE", "http"),
            ("TESSERA_MIGRATION_URL", "https://legacy.example.com/login"),
        ]);
        let c = MigrationConfig::from_vars(&Vars::map(&defaults)).unwrap();
        assert_eq!(c.attribute_map.len(), DEFAULT_ATTRIBUTES.len());
        assert!(c.email_verified && !c.phone_verified && c.final_status == FinalStatus::Confirmed);
        for bad in [
            vec![("TESSERA_MIGRATION_SOURCE", "ldap")],
            vec![("TESSERA_MIGRATION_SOURCE", "dynamodb")],
            vec![("TESSERA_MIGRATION_SOURCE", "http"), ("TESSERA_MIGRATION_URL", "ftp://x/y")],
            vec![
                ("TESSERA_MIGRATION_SOURCE", "http"),
                ("TESSERA_MIGRATION_URL", "https://x/"),
                ("TESSERA_MIGRATION_ATTRIBUTES", "id=sub"),
            ],
            vec![
                ("TESSERA_MIGRATION_SOURCE", "http"),
                ("TESSERA_MIGRATION_URL", "https://x/"),
                ("TESSERA_MIGRATION_FINAL_STATUS", "ACTIVE"),
            ],
        ] {
            assert!(MigrationConfig::from_vars(&Vars::map(&vars_map(&bad))).is_err(), "{bad:?}");
        }
    }

    // ---- DynamoDB, against a DynamoDB-compatible endpoint ------------------------------------

    #[test]
    fn cognito_source_from_vars() {
        let vars: HashMap<String, String> = [
            ("TESSERA_MIGRATION_SOURCE", "cognito"),
            ("TESSERA_MIGRATION_COGNITO_USER_POOL_ID", "eu-west-1_AbC123"),
            ("TESSERA_MIGRATION_COGNITO_CLIENT_ID", "client"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = MigrationConfig::from_vars(&Vars::map(&vars)).unwrap();
        let LegacySource::Cognito(source) = &cfg.source else { panic!("{:?}", cfg.source) };
        assert_eq!(
            (source.region.as_str(), source.admin, source.client_secret.as_deref()),
            ("eu-west-1", true, None)
        );
        assert!(cfg.copy_all, "the old pool's names are Cognito's");
        let mut bad = vars.clone();
        bad.insert("TESSERA_MIGRATION_COGNITO_FLOW".into(), "sideways".into());
        assert!(MigrationConfig::from_vars(&Vars::map(&bad)).unwrap_err().0.contains("admin or user"));
        bad.remove("TESSERA_MIGRATION_COGNITO_FLOW");
        bad.insert("TESSERA_MIGRATION_COGNITO_USER_POOL_ID".into(), "nope".into());
        assert!(MigrationConfig::from_vars(&Vars::map(&bad)).is_err());
        let mut renamed = vars;
        renamed.insert("TESSERA_MIGRATION_ATTRIBUTES".into(), "email=email".into());
        assert!(!MigrationConfig::from_vars(&Vars::map(&renamed)).unwrap().copy_all);
    }

    #[test]
    fn the_decoy_hash_is_a_bounded_bcrypt_hash_nothing_matches() {
        use tessera_core::password::legacy;
        assert_eq!(legacy::check(decoy_hash()), Ok(legacy::Scheme::Bcrypt));
        assert!(!legacy::verify(PASSWORD, decoy_hash()));
    }

    fn dynamodb_endpoint(test: &str) -> Option<String> {
        match std::env::var("TESSERA_TEST_DYNAMODB_ENDPOINT") {
            Ok(e) if !e.trim().is_empty() => Some(e.trim().trim_end_matches('/').to_string()),
            _ => {
                println!("skipped {test}: TESSERA_TEST_DYNAMODB_ENDPOINT is not set");
                None
            }
        }
    }

    fn salt() -> SaltString {
        SaltString::encode_b64(&[5u8; 16]).unwrap()
    }

    fn hashes() -> Vec<(&'static str, String)> {
        let bcrypt =
            bcrypt::hash_with_salt(PASSWORD, 4, [1u8; 16]).unwrap().format_for_version(bcrypt::Version::TwoB);
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(PASSWORD.as_bytes(), &salt())
        .unwrap()
        .to_string();
        let pbkdf2 = pbkdf2::Pbkdf2
            .hash_password_customized(
                PASSWORD.as_bytes(),
                Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
                None,
                pbkdf2::Params { rounds: 1000, output_length: 32 },
                &salt(),
            )
            .unwrap()
            .to_string();
        vec![("bcrypt", bcrypt), ("argon2", argon), ("pbkdf2", pbkdf2)]
    }

    #[tokio::test]
    async fn dynamodb_table_verifies_bcrypt_argon2_and_pbkdf2() {
        let Some(endpoint) = dynamodb_endpoint("dynamodb_table_verifies_bcrypt_argon2_and_pbkdf2") else {
            return;
        };
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos();
        let table = format!("legacy-users-{}-{nanos}", std::process::id());
        client
            .create_table()
            .table_name(&table)
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("login")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                aws_sdk_dynamodb::types::KeySchemaElement::builder()
                    .attribute_name("login")
                    .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap();
        for (scheme, hash) in hashes() {
            client
                .put_item()
                .table_name(&table)
                .item("login", AttributeValue::S(format!("{scheme}-user")))
                .item("pw", AttributeValue::S(hash))
                .item("mail", AttributeValue::S(format!("{scheme}@example.com")))
                .item("fullName", AttributeValue::S(format!("{scheme} user")))
                .item("dept", AttributeValue::N("42".into()))
                .item("tags", AttributeValue::Ss(vec!["a".into()]))
                .send()
                .await
                .unwrap();
        }
        // A user whose stored hash is too costly to verify, and one with no hash at all.
        let costly = bcrypt::hash_with_salt(PASSWORD, 4, [1u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB)
            .replacen("$04$", "$31$", 1);
        client
            .put_item()
            .table_name(&table)
            .item("login", AttributeValue::S("costly-user".into()))
            .item("pw", AttributeValue::S(costly))
            .send()
            .await
            .unwrap();
        client
            .put_item()
            .table_name(&table)
            .item("login", AttributeValue::S("hashless-user".into()))
            .item("mail", AttributeValue::S("hashless@example.com".into()))
            .send()
            .await
            .unwrap();

        let directory = DynamoDirectory {
            client: client.clone(),
            table: table.clone(),
            key_attribute: "login".into(),
            hash_attribute: "pw".into(),
        };
        let mut c = cfg(LegacySource::DynamoDb {
            table: table.clone(),
            key_attribute: "login".into(),
            hash_attribute: "pw".into(),
        });
        c.attribute_map.retain(|(from, _)| from != "login");
        for (scheme, _) in hashes() {
            let mut e = sample("authentication");
            e["userName"] = json!(format!("{scheme}-user"));
            let out = user_migration_event(&c, &directory, e.clone()).await.unwrap();
            let r = out.cognito_event_user_pools_migrate_user_response;
            assert_eq!(
                serde_json::to_value(&r.user_attributes).unwrap(),
                json!({"email": format!("{scheme}@example.com"), "email_verified": "true", "name": format!("{scheme} user"), "custom:department": "42"}),
                "{scheme}"
            );
            assert_eq!(r.final_user_status.as_deref(), Some("CONFIRMED"));
            assert_eq!(r.message_action.as_deref(), Some("SUPPRESS"));
            e["request"]["password"] = json!("Old-Password-2");
            let err = user_migration_event(&c, &directory, e).await.unwrap_err();
            assert_eq!(err.message, "Incorrect username or password", "{scheme}");
            // Forgot password: found without a password; the hash never leaves.
            let mut e = sample("forgot-password");
            e["userName"] = json!(format!("{scheme}-user"));
            let out = user_migration_event(&c, &directory, e).await.unwrap();
            let attrs = out.cognito_event_user_pools_migrate_user_response.user_attributes;
            assert_eq!(
                attrs.get("email").map(String::as_str),
                Some(format!("{scheme}@example.com").as_str())
            );
            assert!(attrs.values().all(|v| !v.starts_with('$')));
        }
        for user in ["costly-user", "hashless-user", "nobody"] {
            let mut e = sample("authentication");
            e["userName"] = json!(user);
            assert_eq!(user_migration_event(&c, &directory, e).await.unwrap_err().kind, REFUSED, "{user}");
        }
        // The raw directory also hides the hash attribute from find().
        let found = directory.find("bcrypt-user").await.unwrap().unwrap();
        assert!(!found.contains_key("pw") && found.get("dept").map(String::as_str) == Some("42"));
        assert!(!found.contains_key("tags"), "non-scalar attributes are left out");
        // A table that does not exist: unavailable, not refused.
        let missing = DynamoDirectory { table: format!("{table}-missing"), ..directory };
        let err = user_migration_event(&c, &missing, sample("authentication")).await.unwrap_err();
        assert_eq!(err.kind, UNAVAILABLE);
        client.delete_table().table_name(&table).send().await.unwrap();
    }

    // ---- HTTP, against a loopback legacy endpoint ----------------------------------------------

    /// What the loopback endpoint saw: (authorization header, JSON body) per request.
    type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

    /// A tiny legacy login endpoint: `{USER, PASSWORD}` → 200 with attributes, `{USER}` alone →
    /// 200, `boom` → 500, `slow` → never answers, anything else → 401.
    async fn legacy_endpoint() -> (String, Seen) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/login", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head, body) = loop {
                        let n = sock.read(&mut chunk).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap())
                                })
                                .unwrap_or(0);
                            if body.len() >= len {
                                break (head.to_string(), body.to_string());
                            }
                        }
                    };
                    let auth = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("authorization: ").or_else(|| l.strip_prefix("Authorization: "))
                        })
                        .map(str::to_string);
                    let body: Value = serde_json::from_str(&body).unwrap();
                    log.lock().unwrap().push((auth, body.clone()));
                    let user = body["username"].as_str().unwrap_or_default();
                    let (status, reply) = match (user, body.get("password").and_then(Value::as_str)) {
                        ("slow", _) => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        ("boom", _) => ("500 Internal Server Error", json!({"error": "database down"})),
                        (USER, Some(PASSWORD)) | (USER, None) => (
                            "200 OK",
                            json!({"mail": USER, "fullName": "Jane Legacy", "dept": 42, "login": "jane", "active": true, "roles": ["x"]}),
                        ),
                        _ => ("401 Unauthorized", json!({"error": "bad credentials"})),
                    };
                    let reply = reply.to_string();
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn http_endpoint_authenticates_and_looks_up() {
        let (url, seen) = legacy_endpoint().await;
        let timeout = Duration::from_millis(500);
        let directory = HttpDirectory::new(&url, Some("s3cret-token".into()), timeout).unwrap();
        let c =
            cfg(LegacySource::Http { url: url.clone(), bearer_token: Some("s3cret-token".into()), timeout });

        let out = user_migration_event(&c, &directory, sample("authentication")).await.unwrap();
        let r = &out.cognito_event_user_pools_migrate_user_response;
        assert_eq!(serde_json::to_value(&r.user_attributes).unwrap(), expected_attributes());
        assert_eq!(r.final_user_status.as_deref(), Some("CONFIRMED"));

        let err =
            user_migration_event(&c, &directory, sample("authentication-wrong-password")).await.unwrap_err();
        assert_eq!((err.kind, err.message.as_str()), (REFUSED, "Incorrect username or password"));

        let out = user_migration_event(&c, &directory, sample("forgot-password")).await.unwrap();
        assert_eq!(
            serde_json::to_value(&out.cognito_event_user_pools_migrate_user_response.user_attributes)
                .unwrap(),
            expected_attributes()
        );

        let requests = seen.lock().unwrap().clone();
        assert_eq!(requests.len(), 3);
        assert!(requests.iter().all(|(auth, _)| auth.as_deref() == Some("Bearer s3cret-token")));
        assert_eq!(requests[0].1, json!({"username": USER, "password": PASSWORD}));
        assert_eq!(requests[2].1, json!({"username": USER}), "forgot password sends no password key");

        for user in ["boom", "slow"] {
            let mut e = sample("authentication");
            e["userName"] = json!(user);
            let started = std::time::Instant::now();
            let err = user_migration_event(&c, &directory, e).await.unwrap_err();
            assert_eq!(err.kind, UNAVAILABLE, "{user}");
            assert!(started.elapsed() < Duration::from_secs(5), "{user}: the timeout applies");
        }
        // Nothing listening: unavailable too.
        let closed = HttpDirectory::new("http://127.0.0.1:9/login", None, timeout).unwrap();
        assert_eq!(
            user_migration_event(&c, &closed, sample("authentication")).await.unwrap_err().kind,
            UNAVAILABLE
        );
    }
}
