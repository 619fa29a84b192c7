//! The identity pool record: the pool item (`IDPOOL#id`, the model's IdentityPool shape plus Roles
//! and RoleMappings) and its entry in the listing partition (`IDPOOLS`, sk = id, holding the name
//! so a page is one query), always written together.

use super::roles::RoleMapping;
use crate::error::{Error, Result};
use crate::model::keys;
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// An identity pool: the model's `IdentityPool` shape, its roles and role mappings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdentityPool {
    pub identity_pool_id: String,
    pub identity_pool_name: String,
    pub allow_unauthenticated_identities: bool,
    /// Unset means off (the basic flow needs an explicit true, as in Cognito); Describe echoes
    /// what was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_classic_flow: Option<bool>,
    #[serde(default)]
    pub supported_login_providers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_provider_name: Option<String>,
    #[serde(default, rename = "OpenIdConnectProviderARNs")]
    pub open_id_connect_provider_arns: Vec<String>,
    #[serde(default)]
    pub cognito_identity_providers: Vec<CognitoIdentityProvider>,
    #[serde(default, rename = "SamlProviderARNs")]
    pub saml_provider_arns: Vec<String>,
    #[serde(default)]
    pub identity_pool_tags: BTreeMap<String, String>,
    /// `authenticated` / `unauthenticated` → role ARN (SetIdentityPoolRoles).
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Provider key → mapping (SetIdentityPoolRoles).
    #[serde(default)]
    pub role_mappings: BTreeMap<String, RoleMapping>,
}

/// A user pool an identity pool trusts, and the app client whose ID tokens it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CognitoIdentityProvider {
    pub provider_name: String,
    pub client_id: String,
    #[serde(default)]
    pub server_side_token_check: bool,
}

impl IdentityPool {
    /// The model's `IdentityPool` output: the configuration without roles.
    pub(super) fn describe(&self) -> Value {
        let mut out = json!({
            "IdentityPoolId": self.identity_pool_id,
            "IdentityPoolName": self.identity_pool_name,
            "AllowUnauthenticatedIdentities": self.allow_unauthenticated_identities,
            "SupportedLoginProviders": self.supported_login_providers,
            "IdentityPoolTags": self.identity_pool_tags,
        });
        if let Some(classic) = self.allow_classic_flow {
            out["AllowClassicFlow"] = json!(classic);
        }
        if let Some(name) = &self.developer_provider_name {
            out["DeveloperProviderName"] = json!(name);
        }
        if !self.cognito_identity_providers.is_empty() {
            out["CognitoIdentityProviders"] = json!(self.cognito_identity_providers);
        }
        if !self.open_id_connect_provider_arns.is_empty() {
            out["OpenIdConnectProviderARNs"] = json!(self.open_id_connect_provider_arns);
        }
        if !self.saml_provider_arns.is_empty() {
            out["SamlProviderARNs"] = json!(self.saml_provider_arns);
        }
        out
    }

    /// Whether `key` names one of the pool's providers, as a RoleMappings key: a user pool as
    /// `{ProviderName}:{ClientId}`, a public provider by its SupportedLoginProviders key, an
    /// OpenID Connect provider by the URL its ARN names, a SAML provider by its ARN.
    pub(super) fn is_role_mapping_key(&self, key: &str) -> bool {
        self.cognito_identity_providers.iter().any(|p| format!("{}:{}", p.provider_name, p.client_id) == key)
            || self.supported_login_providers.contains_key(key)
            || self.open_id_connect_provider_arns.iter().any(|arn| oidc_provider_name(arn) == Some(key))
            || self.saml_provider_arns.iter().any(|arn| arn == key)
    }
}

/// `arn:aws:iam::123456789012:oidc-provider/login.example.com` → `login.example.com`.
pub(super) fn oidc_provider_name(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, name)| name)
}

pub(super) fn pool_not_found(identity_pool_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("IdentityPool '{identity_pool_id}' not found."))
}

/// The pool and its version, or Cognito's ResourceNotFoundException.
pub(super) async fn load_identity_pool(svc: &Service, identity_pool_id: &str) -> Result<(IdentityPool, u64)> {
    svc.get_json::<IdentityPool>(&keys::identity_pool(identity_pool_id), keys::IDENTITY_POOL_SK)
        .await?
        .ok_or_else(|| pool_not_found(identity_pool_id))
}

/// The pool item and its listing entry, the item conditional on `version` (`None`: new).
pub(super) fn pool_writes(pool: &IdentityPool, version: Option<u64>) -> Result<Vec<Write>> {
    let item = Item::new(
        keys::identity_pool(&pool.identity_pool_id),
        keys::IDENTITY_POOL_SK,
        serde_json::to_value(pool).map_err(Error::internal)?,
    );
    let listing = Item::new(
        keys::IDENTITY_POOLS,
        &pool.identity_pool_id,
        json!({"IdentityPoolName": pool.identity_pool_name}),
    );
    Ok(vec![Write::put_versioned(item, version), Write::put(listing, Cond::None)])
}

/// Writes a changed pool, conditional on the version read.
pub(super) async fn save_identity_pool(svc: &Service, pool: &IdentityPool, version: u64) -> Result<()> {
    match svc.store.transact(pool_writes(pool, Some(version))?, svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
            "The identity pool was modified by another request. Try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn role_mapping_keys_name_configured_providers() {
        let pool: IdentityPool = serde_json::from_value(json!({
            "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
            "IdentityPoolName": "p",
            "AllowUnauthenticatedIdentities": false,
            "SupportedLoginProviders": {"graph.facebook.com": "123"},
            "CognitoIdentityProviders": [{"ProviderName": "h:1/us-east-1_abc", "ClientId": "c1"}],
            "OpenIdConnectProviderARNs": ["arn:aws:iam::123456789012:oidc-provider/login.example.com"],
        }))
        .unwrap();
        assert!(pool.is_role_mapping_key("h:1/us-east-1_abc:c1"));
        assert!(!pool.is_role_mapping_key("h:1/us-east-1_abc"));
        assert!(!pool.is_role_mapping_key("h:1/us-east-1_abc:c2"));
        assert!(pool.is_role_mapping_key("graph.facebook.com"));
        assert!(pool.is_role_mapping_key("login.example.com"));
        assert!(!pool.is_role_mapping_key("accounts.google.com"));
        // Stored defaults: no classic-flow setting (the basic flow is off), no roles, server-side check off.
        assert_eq!(pool.allow_classic_flow, None);
        assert!(!pool.cognito_identity_providers[0].server_side_token_check);
        let out = pool.describe();
        assert!(out.get("Roles").is_none() && out.get("AllowClassicFlow").is_none());
        assert_eq!(out["CognitoIdentityProviders"][0]["ServerSideTokenCheck"], json!(false));
    }
}
