//! Stored records: UserPool, AppClient, User, and the keys they live under. A pool's and a
//! client's settings are typed in `model/pool_settings.rs` and `model/client_settings.rs`.

use crate::password::PasswordPolicy;
use crate::tokens::PoolKeys;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::keys;
pub(crate) use client_settings::TokenKind;
pub use client_settings::{
    ClientSettings, Feature, PreventUserExistenceErrors, RefreshTokenRotation, TimeUnit, TokenValidityUnits,
};
pub use pool_settings::{
    AccountRecoverySetting, AdminCreateUserConfig, DeviceConfiguration, EmailConfiguration, LambdaConfig,
    MessageTemplate, MfaConfiguration, MfaFactors, PoolSettings, PreTokenGenerationConfig, RecoveryOption,
    UserAttributeUpdateSettings, VerificationMessageTemplate,
};

mod client_settings;
mod pool_settings;

#[cfg(test)]
pub(crate) use client_settings::tests::every_member as every_client_settings_member;
#[cfg(test)]
pub(crate) use pool_settings::tests::every_member as every_pool_settings_member;

/// A user-pool group (`GroupType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub pool_id: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    /// Epoch ms.
    pub created: i64,
    pub modified: i64,
    /// Set by DeleteGroup before it removes the memberships: no member can be added any more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
}

/// A user pool: the settings Cognito returns in `UserPoolType`, plus what the domain needs typed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserPool {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub modified: i64,
    pub password_policy: PasswordPolicy,
    /// "email" / "phone_number" when they are the sign-in name (internal username = UUID).
    pub username_attributes: Vec<String>,
    pub alias_attributes: Vec<String>,
    pub auto_verified_attributes: Vec<String>,
    pub case_sensitive: bool,
    pub required_attributes: Vec<String>,
    pub custom_schema: Vec<Value>,
    /// Every other UserPoolType member as the caller set it (templates, tags, MFA, …).
    pub settings: PoolSettings,
    pub keys: PoolKeys,
    /// A change of the settings Cognito freezes at creation, while its rebuild runs
    /// (`user_pool::pools::sign_in_settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_change: Option<Box<SignInSettingsChange>>,
}

impl UserPool {
    /// The key a user is stored under: the username, case-folded when the pool is
    /// case-insensitive (and, while a case change runs, by the rule of the user's side of it).
    pub fn username_key(&self, username: &str) -> String {
        fold_username(username, self.case_sensitive_for(username))
    }

    /// Whether `username` is compared case-sensitively. While a CaseSensitive change moves the
    /// users, the ones up to its cursor (by their old key) follow the new rule.
    pub fn case_sensitive_for(&self, username: &str) -> bool {
        match self.settings_change.as_deref() {
            Some(c) if c.from.case_sensitive != c.to.case_sensitive => {
                let old = fold_username(username, c.from.case_sensitive);
                if c.moving_all || c.moving_through.as_deref().is_some_and(|m| old.as_str() <= m) {
                    c.to.case_sensitive
                } else {
                    c.from.case_sensitive
                }
            }
            _ => self.case_sensitive,
        }
    }

    pub fn case_change_in_progress(&self) -> bool {
        self.settings_change.as_deref().is_some_and(|c| c.from.case_sensitive != c.to.case_sensitive)
    }

    /// The case rules a lookup of a typed name tries: one, or both while a case change runs.
    pub fn lookup_case_rules(&self) -> Vec<bool> {
        match self.settings_change.as_deref() {
            Some(c) if c.from.case_sensitive != c.to.case_sensitive => {
                vec![c.to.case_sensitive, c.from.case_sensitive]
            }
            _ => vec![self.case_sensitive],
        }
    }

    /// The alias kinds a sign-in name may be: the pool's, and while a change runs the ones it
    /// had before (users not yet re-indexed still hold those).
    pub fn sign_in_kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> =
            self.username_attributes.iter().chain(&self.alias_attributes).map(String::as_str).collect();
        if let Some(c) = self.settings_change.as_deref() {
            for k in c.from.username_attributes.iter().chain(&c.from.alias_attributes) {
                if !kinds.contains(&k.as_str()) {
                    kinds.push(k);
                }
            }
        }
        kinds
    }

    /// The sign-in settings as they are now.
    pub fn sign_in_settings(&self) -> SignInSettings {
        SignInSettings {
            username_attributes: self.username_attributes.clone(),
            alias_attributes: self.alias_attributes.clone(),
            case_sensitive: self.case_sensitive,
            required_attributes: self.required_attributes.clone(),
        }
    }
}

pub fn fold_username(username: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        username.to_string()
    } else {
        username.to_lowercase()
    }
}

/// The settings Cognito fixes when a pool is made, which Tessera lets an operator change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInSettings {
    pub username_attributes: Vec<String>,
    pub alias_attributes: Vec<String>,
    pub case_sensitive: bool,
    pub required_attributes: Vec<String>,
}

/// A sign-in settings change in progress: the pool already has the new settings (except
/// `case_sensitive`, which flips when every user has moved); users are re-indexed in the
/// order of their stored keys, `done_through` being the last one done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInSettingsChange {
    pub from: SignInSettings,
    pub to: SignInSettings,
    /// Users who give up a sign-in alias (the resolution of an alias held twice): username →
    /// attribute names.
    #[serde(default)]
    pub yielding: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub allow_missing_required: bool,
    #[serde(default)]
    pub done_through: Option<String>,
    /// Case changes: users whose old key is up to here use the new rule (a step publishes it
    /// before it moves them), or every user once `moving_all`.
    #[serde(default)]
    pub moving_through: Option<String>,
    #[serde(default)]
    pub moving_all: bool,
    #[serde(default)]
    pub users_done: u64,
    /// Epoch ms.
    pub started: i64,
    /// Epoch ms before which the next step must not run (processes' caches, requests in flight).
    #[serde(default)]
    pub not_before: i64,
}

/// The `ALLOW_` values of `ExplicitAuthFlowsType`.
pub const ALLOW_FLOWS: &[&str] = &[
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
    "ALLOW_TOKEN_EXCHANGE_DELEGATION",
    "ALLOW_TOKEN_EXCHANGE_IMPERSONATION",
];

/// An app client (`UserPoolClientType`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppClient {
    pub pool_id: String,
    pub client_id: String,
    pub client_name: String,
    pub secret: Option<String>,
    pub created: i64,
    pub modified: i64,
    /// Every other UserPoolClientType member as the caller set it.
    pub settings: ClientSettings,
}

impl AppClient {
    /// The flows the client enables, as `ALLOW_` names, whichever scheme it was configured in.
    ///
    /// - Absent or empty `ExplicitAuthFlows`: Cognito's default, SRP, refresh and custom auth.
    /// - Any `ALLOW_` value: exactly the listed flows (Cognito refuses a list that mixes both
    ///   schemes, see `user_pool::pools::clients`).
    /// - Only legacy values (clients from before the `ALLOW_` names, still common in older
    ///   CloudFormation, Terraform and CLI setups): SRP, refresh and custom auth are always on,
    ///   `USER_PASSWORD_AUTH` adds the user password flow and `ADMIN_NO_SRP_AUTH` the admin one;
    ///   `CUSTOM_AUTH_FLOW_ONLY` leaves custom auth (and refresh) alone.
    pub fn enabled_auth_flows(&self) -> Vec<&'static str> {
        const DEFAULT: [&str; 3] = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_CUSTOM_AUTH"];
        let listed: &[String] = self.settings.explicit_auth_flows.as_deref().unwrap_or_default();
        let lists = |flow: &str| listed.iter().any(|f| f == flow);
        if listed.is_empty() {
            return DEFAULT.to_vec();
        }
        if listed.iter().any(|f| f.starts_with("ALLOW_")) {
            return ALLOW_FLOWS.iter().copied().filter(|a| lists(a)).collect();
        }
        if lists("CUSTOM_AUTH_FLOW_ONLY") {
            return vec!["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_CUSTOM_AUTH"];
        }
        let mut flows = DEFAULT.to_vec();
        if lists("USER_PASSWORD_AUTH") {
            flows.push("ALLOW_USER_PASSWORD_AUTH");
        }
        if lists("ADMIN_NO_SRP_AUTH") {
            flows.push("ALLOW_ADMIN_USER_PASSWORD_AUTH");
        }
        flows
    }

    /// Whether the client enables a flow, named by its `ALLOW_` setting.
    pub fn allows_flow(&self, allow_name: &str) -> bool {
        self.enabled_auth_flows().contains(&allow_name)
    }

    /// `RefreshTokenRotation`: the grace period in seconds when the client rotates refresh tokens.
    pub fn refresh_rotation(&self) -> Option<i64> {
        let rotation = self.settings.refresh_token_rotation.as_ref()?;
        (rotation.feature == Feature::Enabled)
            .then(|| rotation.retry_grace_period_seconds.unwrap_or(0).clamp(0, 60))
    }

    /// `PreventUserExistenceErrors` is `ENABLED` (absent means `LEGACY`).
    pub fn prevent_user_existence_errors(&self) -> bool {
        self.settings.prevent_user_existence_errors == Some(PreventUserExistenceErrors::Enabled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_camel_case_types)]
pub enum UserStatus {
    UNCONFIRMED,
    CONFIRMED,
    FORCE_CHANGE_PASSWORD,
    RESET_REQUIRED,
    ARCHIVED,
    COMPROMISED,
    UNKNOWN,
    EXTERNAL_PROVIDER,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::UNCONFIRMED => "UNCONFIRMED",
            UserStatus::CONFIRMED => "CONFIRMED",
            UserStatus::FORCE_CHANGE_PASSWORD => "FORCE_CHANGE_PASSWORD",
            UserStatus::RESET_REQUIRED => "RESET_REQUIRED",
            UserStatus::ARCHIVED => "ARCHIVED",
            UserStatus::COMPROMISED => "COMPROMISED",
            UserStatus::UNKNOWN => "UNKNOWN",
            UserStatus::EXTERNAL_PROVIDER => "EXTERNAL_PROVIDER",
        }
    }
}

/// A one-time code: stored as a hash, single use, expiring, with a wrong-guess counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    pub hash: String,
    pub expires_at: i64,
    pub failed_attempts: u32,
    /// The new value this code confirms, when the pool changes the attribute only once it is
    /// verified (`UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_value: Option<String>,
}

/// Wrong guesses and sends of one code purpose, kept across reissues: a new code neither
/// resets the count nor the backoff (see `user_pool::codes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGuard {
    /// Wrong codes since the last right one (or the last quiet day).
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub last_failed_ms: i64,
    /// Codes for this purpose are refused unchecked before this instant (epoch ms).
    #[serde(default)]
    pub locked_until_ms: i64,
    /// When the codes still inside the send window were sent (epoch ms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent_ms: Vec<i64>,
}

/// The SRP verifier: salt in hex, verifier sealed by the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrpVerifier {
    pub salt_hex: String,
    pub sealed_verifier: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub sub: String,
    pub attributes: BTreeMap<String, String>,
    pub status: UserStatus,
    pub enabled: bool,
    pub created: i64,
    pub modified: i64,
    pub password_hash: Option<String>,
    /// Hashes of the passwords before the current one, newest first, as many as the pool's
    /// PasswordHistorySize needs (the current password counts as one of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub password_history: Vec<String>,
    pub srp: Option<SrpVerifier>,
    /// Tokens from sign-ins that began before this instant (epoch ms) are revoked.
    #[serde(default)]
    pub signed_out_at_ms: i64,
    /// Pending codes by purpose ("signup", "forgot", …).
    #[serde(default)]
    pub codes: BTreeMap<String, PendingCode>,
    /// Guess and send counters by code purpose, outliving the codes themselves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub code_guards: BTreeMap<String, CodeGuard>,
    /// Temporary-password clock and failed sign-in counters.
    #[serde(default)]
    pub password_state: PasswordState,
    /// The index items this user owns, as last written. Only `Service::save_user` and
    /// `Service::insert_user` change it.
    #[serde(default)]
    pub owned: Owned,
    /// MFA methods, software tokens and the preference (see `user_pool::mfa`).
    #[serde(default)]
    pub mfa: UserMfa,
}

/// An MFA method a user can use at sign-in, named as Cognito's challenges are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MfaMethod {
    #[serde(rename = "SMS_MFA")]
    Sms,
    #[serde(rename = "SOFTWARE_TOKEN_MFA")]
    SoftwareToken,
}

impl MfaMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Sms => "SMS_MFA",
            MfaMethod::SoftwareToken => "SOFTWARE_TOKEN_MFA",
        }
    }
}

/// A user's MFA state. TOTP secrets are sealed by the master key (`svc.cipher`), base64.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMfa {
    /// SMS MFA turned on (SetUserMFAPreference, or the legacy MFAOptions of SetUserSettings).
    #[serde(default)]
    pub sms_enabled: bool,
    /// Software-token MFA turned on; needs a verified token.
    #[serde(default)]
    pub software_token_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<MfaMethod>,
    /// The verified TOTP secret (raw bytes, sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_token: Option<String>,
    /// A secret AssociateSoftwareToken handed out and VerifySoftwareToken has not yet
    /// accepted (sealed). The verified one stays in use until this one is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_software_token: Option<String>,
    /// Wrong codes given for the pending secret; at the limit it is discarded.
    #[serde(default)]
    pub pending_failed_attempts: u32,
    /// The last TOTP time step accepted for the verified secret: a code is good once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_totp_step: Option<u64>,
    /// VerifySoftwareToken's FriendlyDeviceName, for display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_device_name: Option<String>,
}

/// What the password lifecycle remembers about a user beyond the hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordState {
    /// While FORCE_CHANGE_PASSWORD: when the temporary password stops working (epoch secs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_expires_at: Option<i64>,
    /// Consecutive failed password sign-ins, and when the last one happened (epoch ms).
    #[serde(default)]
    pub failed_sign_ins: u32,
    #[serde(default)]
    pub last_failed_ms: i64,
    /// Sign-in attempts before this instant (epoch ms) are refused without a password check.
    #[serde(default)]
    pub locked_until_ms: i64,
}

impl User {
    /// A user as it is created: enabled, no password yet, nothing pending.
    pub fn new(
        username: String,
        sub: String,
        attributes: BTreeMap<String, String>,
        status: UserStatus,
        now_ms: i64,
    ) -> User {
        User {
            username,
            sub,
            attributes,
            status,
            enabled: true,
            created: now_ms,
            modified: now_ms,
            password_hash: None,
            password_history: Vec::new(),
            srp: None,
            signed_out_at_ms: 0,
            codes: BTreeMap::new(),
            code_guards: BTreeMap::new(),
            owned: Default::default(),
            password_state: Default::default(),
            mfa: UserMfa::default(),
        }
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    pub fn attributes_json(&self) -> Vec<Value> {
        self.attributes.iter().map(|(k, v)| serde_json::json!({"Name": k, "Value": v})).collect()
    }

    /// `UserType`, as ListUsers and the group listings return it. `only` limits the attributes
    /// (None or empty = all).
    pub fn user_type(&self, only: Option<&[String]>) -> Value {
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .filter(|(k, _)| only.is_none_or(|o| o.is_empty() || o.iter().any(|n| n == *k)))
            .map(|(k, v)| serde_json::json!({"Name": k, "Value": v}))
            .collect();
        serde_json::json!({
            "Username": self.username,
            "Attributes": attributes,
            "UserCreateDate": self.created as f64 / 1000.0,
            "UserLastModifiedDate": self.modified as f64 / 1000.0,
            "Enabled": self.enabled,
            "UserStatus": self.status.as_str(),
        })
    }
}

/// An identity pool's Sync settings (Get/SetIdentityPoolConfiguration, Get/SetCognitoEvents),
/// stored under [`keys::identity_pool_sync_config`]. Absent item = all defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityPoolSyncConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_sync: Option<PushSync>,
    /// Cognito Events: event name (only `SyncTrigger`) → Lambda function ARN.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub events: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    /// Epoch milliseconds.
    pub last_modified: i64,
}

/// Push sync settings, as the Sync API names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PushSync {
    #[serde(default)]
    pub application_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stored_client_record_of_the_untyped_shape_still_reads() {
        let record = json!({
            "pool_id": "us-east-1_x", "client_id": "c", "client_name": "app", "secret": null,
            "created": 1, "modified": 2,
            "settings": {"ExplicitAuthFlows": ["USER_PASSWORD_AUTH"], "SomeLaterMember": {"A": 1}},
        });
        let client: AppClient = serde_json::from_value(record.clone()).unwrap();
        assert_eq!(client.settings.explicit_auth_flows, Some(vec!["USER_PASSWORD_AUTH".to_string()]));
        // A member no code reads is kept where it was.
        assert_eq!(client.settings.other.get("SomeLaterMember"), Some(&json!({"A": 1})));
        assert_eq!(serde_json::to_value(&client).unwrap(), record);
    }

    #[test]
    fn a_stored_pool_record_of_the_untyped_shape_still_reads() {
        let record = json!({
            "id": "us-east-1_Test", "name": "t", "created": 0, "modified": 0,
            "password_policy": serde_json::to_value(crate::password::PasswordPolicy::default()).unwrap(),
            "username_attributes": [], "alias_attributes": [], "auto_verified_attributes": [],
            "case_sensitive": true, "required_attributes": [], "custom_schema": [],
            "settings": every_pool_settings_member(),
            "keys": {"id": {"kid": "a", "n": "", "e": "", "sealed_private": ""},
                     "access": {"kid": "b", "n": "", "e": "", "sealed_private": ""}}
        });
        let pool: UserPool = serde_json::from_value(record.clone()).unwrap();
        assert_eq!(pool.settings.mfa_mode(), MfaConfiguration::Optional);
        assert_eq!(serde_json::to_value(&pool).unwrap(), record);
    }

    fn client(flows: Option<Value>) -> AppClient {
        let settings = ClientSettings {
            explicit_auth_flows: flows.map(|f| serde_json::from_value(f).unwrap()),
            ..Default::default()
        };
        AppClient {
            pool_id: "us-east-1_x".into(),
            client_id: "c".into(),
            client_name: "app".into(),
            secret: None,
            created: 0,
            modified: 0,
            settings,
        }
    }

    fn sorted(mut v: Vec<&'static str>) -> Vec<&'static str> {
        v.sort_unstable();
        v
    }

    #[test]
    fn legacy_flows_keep_srp_refresh_and_custom_on() {
        let default = vec!["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"];
        let cases: Vec<(Option<Value>, Vec<&str>)> = vec![
            (None, default.clone()),
            (Some(json!([])), default.clone()),
            (
                Some(json!(["USER_PASSWORD_AUTH"])),
                vec![
                    "ALLOW_CUSTOM_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                ],
            ),
            (
                Some(json!(["ADMIN_NO_SRP_AUTH"])),
                vec![
                    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                    "ALLOW_CUSTOM_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                ],
            ),
            (
                Some(json!(["ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH"])),
                vec![
                    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                    "ALLOW_CUSTOM_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                ],
            ),
            (Some(json!(["CUSTOM_AUTH_FLOW_ONLY"])), vec!["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
            (
                Some(json!(["CUSTOM_AUTH_FLOW_ONLY", "USER_PASSWORD_AUTH"])),
                vec!["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ),
            // The ALLOW_ scheme: exactly what is listed, refresh included.
            (Some(json!(["ALLOW_USER_PASSWORD_AUTH"])), vec!["ALLOW_USER_PASSWORD_AUTH"]),
            (
                Some(json!(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])),
                vec!["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
            ),
        ];
        for (flows, want) in cases {
            let c = client(flows.clone());
            assert_eq!(sorted(c.enabled_auth_flows()), want, "{flows:?}");
            for allow in ALLOW_FLOWS {
                assert_eq!(c.allows_flow(allow), want.contains(allow), "{flows:?} {allow}");
            }
        }
    }
}

/// The index items a user record owns: its sign-in aliases and its ListUsers entries
/// (`crate::user_index` computes and writes them with every save).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// Alias kind (`email`, `phone_number`, `preferred_username`, `sub`) → lookup value.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Searchable attribute → indexed value.
    #[serde(default)]
    pub search: BTreeMap<String, String>,
}
