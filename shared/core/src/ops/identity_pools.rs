//! CreateIdentityPool, DescribeIdentityPool, UpdateIdentityPool, DeleteIdentityPool,
//! ListIdentityPools, SetIdentityPoolRoles, GetIdentityPoolRoles (spec D §1).
//!
//! Layout: the pool record (`IDPOOL#id`, the model's IdentityPool shape plus Roles and
//! RoleMappings) and its entry in the listing partition (`IDPOOLS`, sk = id, holding the name so
//! a page is one query), always written together.

use super::identity_roles::{MappingType, RoleMapping, MAX_RULES};
use crate::error::{Error, Result};
use crate::model::keys;
use crate::service::{decode_next_token, encode_next_token, Input, Service};
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Cognito user-pool providers one identity pool may name (Cognito's default quota).
pub const MAX_USER_POOL_PROVIDERS: usize = 10;

/// Public-provider app ids one pool may hold (the model's limit).
pub const MAX_SUPPORTED_LOGIN_PROVIDERS: usize = 10;

/// RoleMappings one pool may hold (the model's limit).
pub const MAX_ROLE_MAPPINGS: usize = 10;

/// An identity pool: the model's `IdentityPool` shape, its roles and role mappings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityPool {
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
pub struct CognitoIdentityProvider {
    pub provider_name: String,
    pub client_id: String,
    #[serde(default)]
    pub server_side_token_check: bool,
}

impl IdentityPool {
    /// The model's `IdentityPool` output: the configuration without roles.
    pub fn describe(&self) -> Value {
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
    pub fn is_role_mapping_key(&self, key: &str) -> bool {
        self.cognito_identity_providers.iter().any(|p| format!("{}:{}", p.provider_name, p.client_id) == key)
            || self.supported_login_providers.contains_key(key)
            || self.open_id_connect_provider_arns.iter().any(|arn| oidc_provider_name(arn) == Some(key))
            || self.saml_provider_arns.iter().any(|arn| arn == key)
    }
}

/// `arn:aws:iam::123456789012:oidc-provider/login.example.com` → `login.example.com`.
pub fn oidc_provider_name(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, name)| name)
}

pub fn pool_not_found(identity_pool_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("IdentityPool '{identity_pool_id}' not found."))
}

/// The pool and its version, or Cognito's ResourceNotFoundException.
pub async fn load_identity_pool(svc: &Service, identity_pool_id: &str) -> Result<(IdentityPool, u64)> {
    svc.get_json::<IdentityPool>(&keys::identity_pool(identity_pool_id), keys::IDENTITY_POOL_SK)
        .await?
        .ok_or_else(|| pool_not_found(identity_pool_id))
}

fn pool_writes(pool: &IdentityPool, version: Option<u64>) -> Result<Vec<Write>> {
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
async fn save_identity_pool(svc: &Service, pool: &IdentityPool, version: u64) -> Result<()> {
    match svc.store.transact(pool_writes(pool, Some(version))?, svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
            "The identity pool was modified by another request. Try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn create_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let id = format!("{}:{}", svc.config.region, svc.rng.uuid());
    let pool = configuration(svc, input, id, None).await?;
    match svc.store.transact(pool_writes(&pool, None)?, svc.now_secs()).await {
        Ok(()) => Ok(pool.describe()),
        // A fresh random id already taken: not a caller's fault, and never expected.
        Err(StoreError::ConditionFailed { .. }) => Err(Error::internal("identity pool id collision")),
        Err(e) => Err(e.into()),
    }
}

pub async fn describe_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    Ok(pool.describe())
}

/// Replaces the whole configuration, as Cognito does: members left out go back to their
/// defaults. The roles, role mappings and (when not given) tags stay; the developer provider
/// name can never change once set.
pub async fn update_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let id = input.req_str("IdentityPoolId")?;
    let (current, version) = load_identity_pool(svc, id).await?;
    let mut pool = configuration(svc, input, id.to_string(), Some(&current)).await?;
    pool.roles = current.roles.clone();
    pool.role_mappings = current.role_mappings.clone();
    save_identity_pool(svc, &pool, version).await?;
    Ok(pool.describe())
}

/// Deletes the pool, then every identity with its linked logins, and the pool's Sync data.
pub async fn delete_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let id = input.req_str("IdentityPoolId")?;
    let (pool, _) = load_identity_pool(svc, id).await?;
    // The pool goes first, so nothing can reach or add identities while they go. A change made
    // meanwhile does not stop the deletion (DeleteIdentityPool has no concurrency error); a
    // deletion that came first makes this one not find the pool.
    let gone = svc
        .store
        .transact(
            vec![
                Write::delete(keys::identity_pool(id), keys::IDENTITY_POOL_SK, Cond::Exists),
                Write::delete(keys::IDENTITY_POOLS, id, Cond::None),
            ],
            svc.now_secs(),
        )
        .await;
    match gone {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(pool_not_found(id)),
        Err(e) => return Err(e.into()),
    }
    let listing = keys::pool_identities(&pool.identity_pool_id);
    loop {
        let page = svc.store.query(&listing, "", None, 20, svc.now_secs()).await?;
        if page.items.is_empty() {
            break;
        }
        let mut writes = Vec::new();
        for entry in &page.items {
            super::sync_push::delete_identity_devices(svc, id, &entry.sk).await?;
            let identity = super::identities::load_identity(svc, id, &entry.sk).await?;
            let more = match identity {
                Some((identity, _)) => super::identities::delete_identity_writes(&identity, None),
                // A listing entry whose identity is already gone.
                None => vec![Write::delete(listing.clone(), entry.sk.clone(), Cond::None)],
            };
            if writes.len() + more.len() > MAX_TRANSACTION_WRITES {
                svc.store.transact(std::mem::take(&mut writes), svc.now_secs()).await?;
            }
            writes.extend(more);
        }
        svc.store.transact(writes, svc.now_secs()).await?;
    }
    super::sync_records::delete_pool_data(svc, id).await?;
    Ok(json!({}))
}

pub async fn list_identity_pools(svc: &Service, input: &Value) -> Result<Value> {
    let max = max_results(input)?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let page = svc.store.query(keys::IDENTITY_POOLS, "", start.as_deref(), max, svc.now_secs()).await?;
    let pools: Vec<Value> = page
        .items
        .iter()
        .map(|entry| {
            json!({
                "IdentityPoolId": entry.sk,
                "IdentityPoolName": entry.body.get("IdentityPoolName").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut out = json!({"IdentityPools": pools});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}

/// `MaxResults` (required, 1–60) of the list operations.
pub fn max_results(input: &Value) -> Result<usize> {
    match input.get("MaxResults") {
        None | Some(Value::Null) => Err(Error::invalid(
            "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null",
        )),
        Some(v) => match v.as_i64() {
            Some(n @ 1..=60) => usize::try_from(n).map_err(Error::internal),
            _ => Err(Error::invalid(format!(
                "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 60"
            ))),
        },
    }
}

pub async fn set_identity_pool_roles(svc: &Service, input: &Value) -> Result<Value> {
    let id = input.req_str("IdentityPoolId")?;
    let (mut pool, version) = load_identity_pool(svc, id).await?;
    let roles = input.get("Roles").and_then(Value::as_object).ok_or_else(|| {
        Error::invalid(
            "1 validation error detected: Value null at 'roles' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let mut new_roles = BTreeMap::new();
    for (kind, arn) in roles {
        if kind != super::identity_roles::AUTHENTICATED && kind != super::identity_roles::UNAUTHENTICATED {
            return Err(Error::invalid(format!(
                "Invalid role type '{kind}': use authenticated or unauthenticated."
            )));
        }
        let arn = arn.as_str().unwrap_or_default();
        check_role_arn(arn)?;
        new_roles.insert(kind.clone(), arn.to_string());
    }
    let mut mappings = BTreeMap::new();
    if let Some(given) = input.get("RoleMappings").and_then(Value::as_object) {
        if given.len() > MAX_ROLE_MAPPINGS {
            return Err(Error::invalid(format!(
                "An identity pool can hold at most {MAX_ROLE_MAPPINGS} role mappings."
            )));
        }
        for (key, value) in given {
            if !pool.is_role_mapping_key(key) {
                return Err(Error::invalid(format!(
                    "{key} is not a valid RoleMapping ProviderName or is not a configured provider."
                )));
            }
            let mapping: RoleMapping = serde_json::from_value(value.clone())
                .map_err(|_| Error::invalid(format!("Invalid role mapping for {key}.")))?;
            check_role_mapping(key, &mapping)?;
            mappings.insert(key.clone(), mapping);
        }
    }
    pool.roles = new_roles;
    pool.role_mappings = mappings;
    save_identity_pool(svc, &pool, version).await?;
    Ok(json!({}))
}

pub async fn get_identity_pool_roles(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let mut out = json!({"IdentityPoolId": pool.identity_pool_id, "Roles": pool.roles});
    if !pool.role_mappings.is_empty() {
        out["RoleMappings"] = json!(pool.role_mappings);
    }
    Ok(out)
}

fn check_role_mapping(key: &str, mapping: &RoleMapping) -> Result<()> {
    if mapping.ambiguous_role_resolution.is_none() {
        return Err(Error::invalid(format!(
            "AmbiguousRoleResolution must be specified for the role mapping of {key}."
        )));
    }
    if mapping.mapping_type == MappingType::Rules {
        let rules = mapping.rules_configuration.as_ref().map(|c| c.rules.as_slice()).unwrap_or_default();
        if rules.is_empty() {
            return Err(Error::invalid(format!(
                "RulesConfiguration with at least one rule is required for the Rules role mapping of {key}."
            )));
        }
        if rules.len() > MAX_RULES {
            return Err(Error::invalid(format!(
                "A role mapping can hold at most {MAX_RULES} rules; {key} has {}.",
                rules.len()
            )));
        }
        for rule in rules {
            check_role_arn(&rule.role_arn)?;
        }
    }
    Ok(())
}

/// `arn:{partition}:iam::{12-digit account}:role/{path and name}`.
pub fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else { return false };
    *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
        })
}

fn check_role_arn(arn: &str) -> Result<()> {
    if is_role_arn(arn) {
        Ok(())
    } else {
        Err(Error::invalid(format!("'{arn}' is not a valid IAM role ARN.")))
    }
}

/// `arn:{partition}:iam::{account}:{kind}/{name}` for OpenID Connect and SAML providers.
fn is_iam_provider_arn(arn: &str, kind: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, _region, account, resource] = parts.as_slice() else { return false };
    *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && !account.is_empty()
        && account.chars().all(|c| c.is_ascii_digit())
        && resource
            .strip_prefix(kind)
            .is_some_and(|rest| rest.strip_prefix('/').is_some_and(|n| !n.is_empty()))
}

/// `[\w\s+=,.@-]+`, 1–128 characters.
fn check_pool_name(name: &str) -> Result<()> {
    let ok_char = |c: char| {
        c.is_ascii_alphanumeric()
            || c == '_'
            || c.is_ascii_whitespace()
            || c == '\x0B'
            || "+=,.@-".contains(c)
    };
    if name.is_empty() || name.chars().count() > 128 || !name.chars().all(ok_char) {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{name}' at 'identityPoolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+"
        )));
    }
    Ok(())
}

fn check_developer_provider_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if name.is_empty() || name.len() > 128 || !name.chars().all(ok_char) {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{name}' at 'developerProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w._-]+"
        )));
    }
    Ok(())
}

fn strings(input: &Value, member: &str) -> Vec<String> {
    input
        .get(member)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn string_map(input: &Value, member: &str) -> BTreeMap<String, String> {
    input
        .get(member)
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// The configuration CreateIdentityPool / UpdateIdentityPool describe, checked.
async fn configuration(
    svc: &Service,
    input: &Value,
    id: String,
    current: Option<&IdentityPool>,
) -> Result<IdentityPool> {
    let name = input.req_str("IdentityPoolName")?;
    check_pool_name(name)?;
    let allow_unauthenticated = input.bool_of("AllowUnauthenticatedIdentities").ok_or_else(|| {
        Error::invalid(
            "1 validation error detected: Value null at 'allowUnauthenticatedIdentities' failed to satisfy constraint: Member must not be null",
        )
    })?;

    // Tessera verifies tokens of its own user pools and developer-authenticated identities
    // only: a pool that names another kind of provider would accept logins it cannot check.
    for member in ["SupportedLoginProviders", "OpenIdConnectProviderARNs", "SamlProviderARNs"] {
        let given = match input.get(member) {
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        if given {
            return Err(Error::invalid(format!(
                "{member} is not supported yet by Tessera, which verifies logins of Tessera user pools (CognitoIdentityProviders) and developer-authenticated identities (DeveloperProviderName) only."
            )));
        }
    }
    let supported = string_map(input, "SupportedLoginProviders");
    if supported.len() > MAX_SUPPORTED_LOGIN_PROVIDERS {
        return Err(Error::invalid(format!(
            "An identity pool can hold at most {MAX_SUPPORTED_LOGIN_PROVIDERS} supported login providers."
        )));
    }

    let given_developer = input.str_of("DeveloperProviderName");
    let developer = match (current.and_then(|c| c.developer_provider_name.as_deref()), given_developer) {
        (Some(old), Some(new)) if old != new => {
            return Err(Error::invalid(format!(
            "The developer provider name of identity pool '{id}' is '{old}' and cannot be changed once set."
        )))
        }
        // Once set it stays, also when an update leaves it out.
        (Some(old), _) => Some(old.to_string()),
        (None, Some(new)) => {
            check_developer_provider_name(new)?;
            Some(new.to_string())
        }
        (None, None) => None,
    };

    let mut user_pools = Vec::new();
    if let Some(list) = input.get("CognitoIdentityProviders").and_then(Value::as_array) {
        if list.len() > MAX_USER_POOL_PROVIDERS {
            return Err(Error::LimitExceededException(format!(
                "An identity pool can name at most {MAX_USER_POOL_PROVIDERS} Cognito user-pool providers."
            )));
        }
        for entry in list {
            let provider: CognitoIdentityProvider = match (
                entry.get("ProviderName").and_then(Value::as_str),
                entry.get("ClientId").and_then(Value::as_str),
            ) {
                (Some(p), Some(c)) => CognitoIdentityProvider {
                    provider_name: p.to_string(),
                    client_id: c.to_string(),
                    server_side_token_check: entry
                        .get("ServerSideTokenCheck")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                },
                _ => return Err(Error::invalid("Invalid Cognito Identity Provider")),
            };
            check_user_pool_provider(svc, &provider).await?;
            if user_pools.iter().any(|p: &CognitoIdentityProvider| {
                p.provider_name == provider.provider_name && p.client_id == provider.client_id
            }) {
                return Err(Error::ResourceConflictException(format!(
                    "Cognito identity provider {} with client {} is listed twice.",
                    provider.provider_name, provider.client_id
                )));
            }
            user_pools.push(provider);
        }
    }

    let oidc = strings(input, "OpenIdConnectProviderARNs");
    let saml = strings(input, "SamlProviderARNs");
    for (arns, kind) in [(&oidc, "oidc-provider"), (&saml, "saml-provider")] {
        let mut seen = BTreeSet::new();
        for arn in arns {
            if !is_iam_provider_arn(arn, kind) {
                return Err(Error::invalid(format!("'{arn}' is not a valid IAM {kind} ARN.")));
            }
            if !seen.insert(arn) {
                return Err(Error::ResourceConflictException(format!("Provider {arn} is listed twice.")));
            }
        }
    }

    // One name, one provider: a login key must tell which provider validates it.
    let mut names: Vec<&str> = supported.keys().map(String::as_str).collect();
    names.extend(oidc.iter().filter_map(|a| oidc_provider_name(a)));
    names.extend(saml.iter().map(String::as_str));
    names.extend(user_pools.iter().map(|p| p.provider_name.as_str()).collect::<BTreeSet<_>>());
    if let Some(dev) = &developer {
        names.push(dev);
    }
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(Error::ResourceConflictException(format!(
                "Provider name {n} is used by more than one provider of the identity pool."
            )));
        }
    }

    let tags = match (input.get("IdentityPoolTags"), current) {
        (None | Some(Value::Null), Some(c)) => c.identity_pool_tags.clone(),
        _ => string_map(input, "IdentityPoolTags"),
    };

    Ok(IdentityPool {
        identity_pool_id: id,
        identity_pool_name: name.to_string(),
        allow_unauthenticated_identities: allow_unauthenticated,
        allow_classic_flow: input.bool_of("AllowClassicFlow"),
        supported_login_providers: supported,
        developer_provider_name: developer,
        open_id_connect_provider_arns: oidc,
        cognito_identity_providers: user_pools,
        saml_provider_arns: saml,
        identity_pool_tags: tags,
        roles: BTreeMap::new(),
        role_mappings: BTreeMap::new(),
    })
}

/// A user-pool provider is `{issuer without scheme}` = `host[:port][/path]/{userPoolId}`, naming
/// an existing user pool and one of its app clients.
async fn check_user_pool_provider(svc: &Service, provider: &CognitoIdentityProvider) -> Result<()> {
    let invalid = || Error::invalid("Invalid Cognito Identity Provider");
    let name = &provider.provider_name;
    if name.contains("://") {
        return Err(Error::invalid(format!(
            "Invalid Cognito Identity Provider {name}: the provider name is the token issuer without its scheme."
        )));
    }
    let Some((_, user_pool_id)) = name.rsplit_once('/') else { return Err(invalid()) };
    if !crate::ids::is_pool_id(user_pool_id) {
        return Err(invalid());
    }
    let pool = svc.pool(user_pool_id).await.map_err(|_| invalid())?;
    svc.pool_client(&pool.id, &provider.client_id).await.map_err(|_| invalid())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/a"));
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/path/x+y=z,a.b@c_d-e"));
        for bad in [
            "role/a",
            "arn:aws:iam::123456789012:user/a",
            "arn:aws:iam::12345:role/a",
            "arn:aws:iam:us-east-1:123456789012:role/a",
            "arn:aws:s3::123456789012:role/a",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn provider_arns_and_names() {
        let oidc = "arn:aws:iam::123456789012:oidc-provider/login.example.com";
        assert!(is_iam_provider_arn(oidc, "oidc-provider"));
        assert!(!is_iam_provider_arn(oidc, "saml-provider"));
        assert!(is_iam_provider_arn("arn:aws:iam::123456789012:saml-provider/corp", "saml-provider"));
        assert!(!is_iam_provider_arn("arn:aws:iam::123456789012:oidc-provider/", "oidc-provider"));
        assert_eq!(oidc_provider_name(oidc), Some("login.example.com"));
    }

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

    #[test]
    fn max_results_is_required_and_bounded() {
        assert_eq!(max_results(&json!({"MaxResults": 60})).unwrap(), 60);
        for bad in [json!({}), json!({"MaxResults": 0}), json!({"MaxResults": 61})] {
            assert_eq!(max_results(&bad).unwrap_err().name(), "InvalidParameterException");
        }
    }
}
