//! The user migration hook (`UserMigration_Authentication`, `UserMigration_ForgotPassword`):
//! lazy migration from a legacy user store, one user at a time, the first time they sign in (or
//! ask to reset their password) and Cognito does not know them yet.
//!
//! Two legacy stores, chosen by `TESSERA_MIGRATION_SOURCE`:
//! - `dynamodb`: a DynamoDB table keyed by user name, holding a password hash (bcrypt, argon2,
//!   scrypt or PBKDF2-SHA256 in PHC form), verified with `tessera_core::password::legacy`, which
//!   also bounds the hash cost so a stored hash cannot make a sign-in arbitrarily slow;
//! - `http`: a legacy login endpoint. The hook POSTs `{"username", "password"}` (sign-in) or
//!   `{"username"}` (forgot password, no password key) as JSON; 200 with a JSON object of
//!   attributes means found (and, with a password, authenticated), 401/403/404 means not.
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
}

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
                LegacySource::Http {
                    url,
                    bearer_token: vars.get("TESSERA_MIGRATION_BEARER_TOKEN"),
                    timeout: Duration::from_millis(
                        vars.number("TESSERA_MIGRATION_TIMEOUT_MS")?.unwrap_or(3000),
                    ),
                }
            }
            other => {
                return Err(ConfigError(format!(
                    "TESSERA_MIGRATION_SOURCE must be dynamodb or http, not {other:?}"
                )))
            }
        };
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
) -> Result<CognitoEventUserPoolsMigrateUserResponse, Rejection> {
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
            response.user_attributes = map_attributes(cfg, &legacy);
            response.final_user_status = Some(cfg.final_status.as_str().to_string());
        }
        Source::ForgotPassword => {
            let legacy = directory.find(&username).await.map_err(unavailable)?;
            let legacy = legacy.ok_or_else(|| Rejection::new(REFUSED, "User not found"))?;
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
    tracing::info!(trigger_source = ?source, "user migrated");
    Ok(response)
}

/// The Lambda handler body: the event with `response` filled in. Never log `event`.
pub async fn handle(
    cfg: &MigrationConfig,
    directory: &dyn LegacyDirectory,
    mut event: CognitoEventUserPoolsMigrateUser,
) -> Result<CognitoEventUserPoolsMigrateUser, Rejection> {
    let response = migrate(cfg, directory, &event).await?;
    // The password is not part of the answer Cognito reads; do not send it back either.
    event.cognito_event_user_pools_migrate_user_request.password = None;
    event.cognito_event_user_pools_migrate_user_response = response;
    Ok(event)
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

#[async_trait]
impl LegacyDirectory for DynamoDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<LegacyAttributes>, LegacyError> {
        let Some(item) = self.item(username).await? else { return Ok(None) };
        let Some(aws_sdk_dynamodb::types::AttributeValue::S(hash)) = item.get(&self.hash_attribute) else {
            tracing::warn!(attribute = %self.hash_attribute, "the legacy user has no string password hash");
            return Ok(None);
        };
        if let Err(why) = tessera_core::password::legacy::check(hash) {
            tracing::warn!(why, "the legacy password hash cannot be verified");
            return Ok(None);
        }
        let (password, hash) = (password.to_string(), hash.clone());
        let ok = tessera_core::password::off_executor(move || {
            tessera_core::password::legacy::verify(&password, &hash)
        })
        .await
        .map_err(|e| LegacyError(format!("password verification: {e}")))?;
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
