//! An app client's settings: the `UserPoolClientType` members the caller set, typed, under
//! Cognito's member names (the API model's `UserPoolClientType`). The stored record keeps the
//! same JSON object the earlier untyped map held, so records written before still read.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The settings of an app client: every `UserPoolClientType` member but its identifiers,
/// secret and dates. Absent members (`None`) take Cognito's defaults where they are read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ClientSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_validity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_validity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_validity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_validity_units: Option<TokenValidityUnits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_attributes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_attributes: Option<Vec<String>>,
    /// `ExplicitAuthFlowsType` values, legacy or `ALLOW_` (see [`super::AppClient::enabled_auth_flows`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explicit_auth_flows: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_identity_providers: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs", skip_serializing_if = "Option::is_none")]
    pub callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs", skip_serializing_if = "Option::is_none")]
    pub logout_urls: Option<Vec<String>>,
    #[serde(rename = "DefaultRedirectURI", skip_serializing_if = "Option::is_none")]
    pub default_redirect_uri: Option<String>,
    #[serde(rename = "AllowedOAuthFlows", skip_serializing_if = "Option::is_none")]
    pub allowed_oauth_flows: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthScopes", skip_serializing_if = "Option::is_none")]
    pub allowed_oauth_scopes: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthFlowsUserPoolClient", skip_serializing_if = "Option::is_none")]
    pub allowed_oauth_flows_user_pool_client: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prevent_user_existence_errors: Option<PreventUserExistenceErrors>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_token_revocation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_propagate_additional_user_context_data: Option<bool>,
    /// Minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_session_validity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_rotation: Option<RefreshTokenRotation>,
    /// Members no code reads, kept as the caller set them (none today: every member the
    /// client operations store is typed above). Keeps unknown stored members on rewrite.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `TokenValidityUnitsType`: the unit of each `<Kind>TokenValidity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TokenValidityUnits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<TimeUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<TimeUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<TimeUnit>,
}

/// `TimeUnitsType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    pub(crate) fn secs(self) -> i64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3600,
            TimeUnit::Days => 86400,
        }
    }
}

/// `PreventUserExistenceErrorTypes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PreventUserExistenceErrors {
    Legacy,
    Enabled,
}

/// `FeatureType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Feature {
    Enabled,
    Disabled,
}

/// `RefreshTokenRotationType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefreshTokenRotation {
    pub feature: Feature,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_grace_period_seconds: Option<i64>,
}

/// The token kinds whose validity a client sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Access,
    Id,
    Refresh,
}

impl TokenKind {
    pub(crate) const ALL: [TokenKind; 3] = [TokenKind::Access, TokenKind::Id, TokenKind::Refresh];

    /// The prefix of its members' names (`AccessTokenValidity`, `TokenValidityUnits.AccessToken`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            TokenKind::Access => "Access",
            TokenKind::Id => "Id",
            TokenKind::Refresh => "Refresh",
        }
    }
}

impl ClientSettings {
    /// `<Kind>TokenValidity` as set, in its unit, without Cognito's default.
    pub(crate) fn validity(&self, kind: TokenKind) -> Option<i64> {
        match kind {
            TokenKind::Access => self.access_token_validity,
            TokenKind::Id => self.id_token_validity,
            TokenKind::Refresh => self.refresh_token_validity,
        }
    }

    /// The unit of `<Kind>TokenValidity`: `TokenValidityUnits.<Kind>Token`, else Cognito's
    /// default (hours for access and ID tokens, days for refresh tokens).
    pub(crate) fn unit(&self, kind: TokenKind) -> TimeUnit {
        let units = self.token_validity_units.as_ref();
        let set = match kind {
            TokenKind::Access => units.and_then(|u| u.access_token),
            TokenKind::Id => units.and_then(|u| u.id_token),
            TokenKind::Refresh => units.and_then(|u| u.refresh_token),
        };
        set.unwrap_or(match kind {
            TokenKind::Access | TokenKind::Id => TimeUnit::Hours,
            TokenKind::Refresh => TimeUnit::Days,
        })
    }

    /// A token's validity in seconds; unset, Cognito's defaults: 1 hour, 1 hour, 30 days.
    pub(crate) fn validity_secs(&self, kind: TokenKind) -> i64 {
        let default = match kind {
            TokenKind::Access | TokenKind::Id => 1,
            TokenKind::Refresh => 30,
        };
        self.validity(kind).unwrap_or(default) * self.unit(kind).secs()
    }

    /// The settings as the JSON object they are stored and described as.
    pub(crate) fn to_map(&self) -> serde_json::Result<Map<String, Value>> {
        match serde_json::to_value(self)? {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Every member CreateUserPoolClient stores, as a record written by the untyped map holds it.
    pub(crate) fn every_member() -> Value {
        json!({
            "RefreshTokenValidity": 10, "AccessTokenValidity": 30, "IdTokenValidity": 45,
            "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
            "ReadAttributes": ["email", "name"], "WriteAttributes": ["name"],
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "SupportedIdentityProviders": ["COGNITO"],
            "CallbackURLs": ["https://app.example.com/cb"], "LogoutURLs": ["https://app.example.com/bye"],
            "DefaultRedirectURI": "https://app.example.com/cb",
            "AllowedOAuthFlows": ["code"], "AllowedOAuthScopes": ["openid"],
            "AllowedOAuthFlowsUserPoolClient": true, "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": false, "EnablePropagateAdditionalUserContextData": false,
            "AuthSessionValidity": 7,
            "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 20},
        })
    }

    #[test]
    fn a_record_of_the_untyped_shape_reads_and_writes_back_the_same() {
        let old = every_member();
        let typed: ClientSettings = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(typed.access_token_validity, Some(30));
        assert_eq!(typed.unit(TokenKind::Access), TimeUnit::Minutes);
        assert_eq!(typed.prevent_user_existence_errors, Some(PreventUserExistenceErrors::Enabled));
        assert_eq!(typed.refresh_token_rotation.as_ref().map(|r| r.feature), Some(Feature::Enabled));
        assert_eq!(typed.auth_session_validity, Some(7));
        assert_eq!(typed.enable_token_revocation, Some(false));
        assert!(typed.other.is_empty());
        // Byte for byte: what DescribeUserPoolClient starts from (and what the store is given,
        // both through a sorted `Value`) is what the map held.
        let echo = serde_json::to_string(&Value::Object(typed.to_map().unwrap())).unwrap();
        assert_eq!(echo, serde_json::to_string(&old).unwrap());
    }

    #[test]
    fn validity_takes_cognito_defaults_and_units() {
        let none = ClientSettings::default();
        assert_eq!(none.validity_secs(TokenKind::Access), 3600);
        assert_eq!(none.validity_secs(TokenKind::Id), 3600);
        assert_eq!(none.validity_secs(TokenKind::Refresh), 30 * 86400);
        let set: ClientSettings = serde_json::from_value(every_member()).unwrap();
        assert_eq!(set.validity_secs(TokenKind::Access), 30 * 60);
        assert_eq!(set.validity_secs(TokenKind::Id), 45 * 60);
        assert_eq!(set.validity_secs(TokenKind::Refresh), 10 * 86400);
    }
}
