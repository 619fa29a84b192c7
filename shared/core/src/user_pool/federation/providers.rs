//! CreateIdentityProvider, DescribeIdentityProvider, UpdateIdentityProvider,
//! DeleteIdentityProvider, ListIdentityProviders, GetIdentityProviderByIdentifier.
//!
//! A provider is one item of its pool's provider partition (sk = name). Each IdpIdentifier is an
//! item of its own (sk = the identifier in lower case, since they are mostly email domains), put
//! with `NotExists` in the provider's transaction: an identifier is one provider's in the pool.
//! Secrets (`client_secret`) are stored sealed by the master key.

use super::records::{self, IdentityProvider, ProviderType, SECRET_KEYS};
use super::{discovery, saml};
use crate::attribute_rules;
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::keys;
use crate::model::UserPool;
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Identity providers one pool may hold (Cognito's quota).
pub const PROVIDERS_PER_POOL: usize = 300;

fn not_found(name: &str, pool_id: &str) -> Error {
    Error::ResourceNotFoundException(format!(
        "Identity provider {name} does not exist in user pool {pool_id}."
    ))
}

fn string_map(input: &Value, member: &str) -> Result<Option<BTreeMap<String, String>>> {
    match input.get(member).filter(|v| !v.is_null()) {
        Some(v) => crate::input::typed(v, member).map(Some),
        None => Ok(None),
    }
}

fn identifiers_of(input: &Value) -> Result<Option<Vec<String>>> {
    let Some(list) = input.get("IdpIdentifiers").filter(|v| !v.is_null()) else { return Ok(None) };
    let list: Vec<String> = crate::input::typed(list, "IdpIdentifiers")?;
    for (i, id) in list.iter().enumerate() {
        if list[..i].iter().any(|other| other.eq_ignore_ascii_case(id)) {
            return Err(Error::invalid(format!("Duplicate identifier in IdpIdentifiers: {id}")));
        }
    }
    Ok(Some(list))
}

/// AttributeMapping by spec A §9.4: `username` only from the type's fixed claim; every other
/// key a pool attribute that can be written at each sign-in (mutable); every required
/// attribute mapped.
fn check_mapping(
    pool: &UserPool,
    provider_type: ProviderType,
    mapping: &BTreeMap<String, String>,
) -> Result<()> {
    let invalid = |name: &str| Error::invalid(format!("AttributeMapping contains invalid mapping: [{name}]"));
    for (attribute, source) in mapping {
        if source.is_empty() {
            return Err(invalid(attribute));
        }
        if attribute == "username" {
            if provider_type.username_source() != Some(source.as_str()) {
                return Err(Error::invalid(format!(
                    "AttributeMapping contains invalid mapping: [username]: a {} provider's username comes from {}.",
                    provider_type.as_str(),
                    provider_type.username_source().unwrap_or("the NameID")
                )));
            }
            continue;
        }
        if !attribute_rules::is_known(pool, attribute) || attribute == "sub" || attribute == "identities" {
            return Err(invalid(attribute));
        }
        let definition = attribute_rules::standard_definition(pool, attribute)
            .or_else(|| attribute_rules::custom_definition(pool, attribute));
        if definition.and_then(|d| d.get("Mutable")).and_then(Value::as_bool) == Some(false) {
            return Err(Error::invalid(format!(
                "AttributeMapping contains invalid mapping: [{attribute}]: the attribute is immutable, and a mapped attribute is written at every sign-in."
            )));
        }
    }
    let missing: Vec<&str> =
        pool.required_attributes.iter().map(String::as_str).filter(|r| !mapping.contains_key(*r)).collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "The attribute mapping is missing required attributes [{}]",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// The stored details: the request's, secrets sealed (those not given kept from `kept`).
fn stored_details(
    svc: &Service,
    provider_type: ProviderType,
    given: &BTreeMap<String, String>,
    kept_secrets: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut details = BTreeMap::new();
    for (k, v) in given {
        if records::is_filled_in(provider_type, k) {
            continue;
        }
        let v = if SECRET_KEYS.contains(&k.as_str()) {
            records::seal_secret(svc.cipher.as_ref(), v)?
        } else {
            v.clone()
        };
        details.insert(k.clone(), v);
    }
    for (k, sealed) in kept_secrets {
        details.entry(k.clone()).or_insert_with(|| sealed.clone());
    }
    Ok(details)
}

fn provider_item(provider: &IdentityProvider) -> Result<Item> {
    Ok(Item::new(
        keys::identity_providers(&provider.pool_id),
        provider.name.clone(),
        serde_json::to_value(provider).map_err(Error::internal)?,
    ))
}

fn identifier_item(pool_id: &str, identifier: &str, provider: &str) -> Item {
    Item::new(keys::idp_identifiers(pool_id), identifier.to_lowercase(), json!({"ProviderName": provider}))
}

/// What a failed write means: the provider name taken, or write `index`'s identifier taken.
fn conflict(e: StoreError, provider: &IdentityProvider, identifier_writes: &[(usize, String)]) -> Error {
    match e {
        StoreError::ConditionFailed { index } => match identifier_writes.iter().find(|(i, _)| *i == index) {
            Some((_, identifier)) => Error::DuplicateProviderException(format!(
                "The identifier {identifier} is already used by another identity provider in user pool {}.",
                provider.pool_id
            )),
            None => Error::DuplicateProviderException(format!(
                "{} already exists in user pool {}",
                provider.name, provider.pool_id
            )),
        },
        e => e.into(),
    }
}

async fn read(svc: &Service, pool_id: &str, name: &str) -> Result<(IdentityProvider, u64)> {
    records::find(svc, pool_id, name).await?.ok_or_else(|| not_found(name, pool_id))
}

pub async fn create_identity_provider(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("ProviderName")?;
    let type_name = input.req_str("ProviderType")?;
    let provider_type = ProviderType::parse(type_name)
        .ok_or_else(|| Error::invalid(format!("Unknown ProviderType {type_name}.")))?;
    if input.get("AcrMapping").is_some_and(|v| !v.is_null()) {
        return Err(Error::invalid("AcrMapping is not supported by Tessera."));
    }
    let given = string_map(input, "ProviderDetails")?.unwrap_or_default();
    records::check_details(provider_type, name, &given, svc.config.loopback_http_providers)?;
    let mut mapping = string_map(input, "AttributeMapping")?.unwrap_or_default();
    if let Some(source) = provider_type.username_source() {
        mapping.entry("username".into()).or_insert_with(|| source.into());
    }
    check_mapping(&pool, provider_type, &mapping)?;
    let identifiers = identifiers_of(input)?.unwrap_or_default();
    let now_secs = svc.now_secs();
    let held =
        svc.store.query(&keys::identity_providers(&pool.id), "", None, PROVIDERS_PER_POOL, now_secs).await?;
    if held.items.iter().any(|i| i.sk == name) {
        return Err(Error::DuplicateProviderException(format!(
            "{name} already exists in user pool {}",
            pool.id
        )));
    }
    if held.items.len() >= PROVIDERS_PER_POOL {
        return Err(Error::LimitExceededException(format!(
            "A user pool can have at most {PROVIDERS_PER_POOL} identity providers."
        )));
    }
    let now = svc.clock.now_millis();
    let provider = IdentityProvider {
        pool_id: pool.id.clone(),
        name: name.to_string(),
        provider_type,
        details: stored_details(svc, provider_type, &given, &BTreeMap::new())?,
        endpoints: discovery::endpoints(svc, provider_type, &given).await?,
        saml: saml::idp_of(svc, &pool.id, provider_type, &given).await?,
        attribute_mapping: mapping,
        idp_identifiers: identifiers.clone(),
        created: now,
        modified: now,
    };
    let mut writes = vec![Write::put(provider_item(&provider)?, Cond::NotExists)];
    let mut identifier_writes = vec![];
    for id in &identifiers {
        identifier_writes.push((writes.len(), id.clone()));
        writes.push(Write::put(identifier_item(&pool.id, id, name), Cond::NotExists));
    }
    svc.store.transact(writes, now_secs).await.map_err(|e| conflict(e, &provider, &identifier_writes))?;
    Ok(json!({"IdentityProvider": provider.shown(svc.cipher.as_ref())?}))
}

pub async fn describe_identity_provider(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (provider, _) = read(svc, &pool.id, input.req_str("ProviderName")?).await?;
    Ok(json!({"IdentityProvider": provider.shown(svc.cipher.as_ref())?}))
}

fn reserved(name: &str) -> Result<()> {
    if records::is_reserved_name(name) {
        return Err(Error::UnsupportedIdentityProviderException(format!(
            "{name} is the user pool's own sign-in, not an identity provider that can be changed."
        )));
    }
    Ok(())
}

/// Replaces what the request gives: ProviderDetails as a whole (secrets not given are kept, so a
/// details map read back without them does not erase them), AttributeMapping, IdpIdentifiers.
pub async fn update_identity_provider(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("ProviderName")?;
    reserved(name)?;
    if input.get("AcrMapping").is_some_and(|v| !v.is_null()) {
        return Err(Error::invalid("AcrMapping is not supported by Tessera."));
    }
    let (mut provider, version) = read(svc, &pool.id, name).await?;
    if let Some(given) = string_map(input, "ProviderDetails")? {
        let kept: BTreeMap<String, String> = provider
            .details
            .iter()
            .filter(|(k, _)| SECRET_KEYS.contains(&k.as_str()) && !given.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut check = given.clone();
        for k in kept.keys() {
            check.insert(k.clone(), "(kept)".into());
        }
        records::check_details(provider.provider_type, name, &check, svc.config.loopback_http_providers)?;
        provider.endpoints = discovery::endpoints(svc, provider.provider_type, &given).await?;
        provider.saml = saml::idp_of(svc, &pool.id, provider.provider_type, &given).await?;
        provider.details = stored_details(svc, provider.provider_type, &given, &kept)?;
    }
    if let Some(mut mapping) = string_map(input, "AttributeMapping")? {
        if let Some(source) = provider.provider_type.username_source() {
            mapping.entry("username".into()).or_insert_with(|| source.into());
        }
        check_mapping(&pool, provider.provider_type, &mapping)?;
        provider.attribute_mapping = mapping;
    }
    let old_identifiers = provider.idp_identifiers.clone();
    let mut identifier_writes = vec![];
    let mut writes = vec![];
    if let Some(identifiers) = identifiers_of(input)? {
        let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        let (old, new) = (lower(&old_identifiers), lower(&identifiers));
        for gone in old.iter().filter(|o| !new.contains(o)) {
            writes.push(Write::delete(keys::idp_identifiers(&pool.id), gone.clone(), Cond::None));
        }
        for (id, key) in identifiers.iter().zip(&new) {
            if !old.contains(key) {
                identifier_writes.push((writes.len() + 1, id.clone()));
                writes.push(Write::put(identifier_item(&pool.id, id, name), Cond::NotExists));
            }
        }
        provider.idp_identifiers = identifiers;
    }
    provider.modified = svc.clock.now_millis();
    let mut item = provider_item(&provider)?;
    item.version = version + 1;
    writes.insert(0, Write::put(item, Cond::Version(version)));
    if writes.len() > 100 {
        return Err(Error::invalid("Replace at most 49 IdpIdentifiers in one update."));
    }
    svc.store.transact(writes, svc.now_secs()).await.map_err(|e| match e {
        StoreError::ConditionFailed { index: 0 } => Error::ConcurrentModificationException(
            "The identity provider was modified by another request. Try again.".into(),
        ),
        e => conflict(e, &provider, &identifier_writes),
    })?;
    Ok(json!({"IdentityProvider": provider.shown(svc.cipher.as_ref())?}))
}

pub async fn delete_identity_provider(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("ProviderName")?;
    reserved(name)?;
    let (provider, version) = read(svc, &pool.id, name).await?;
    let mut writes = vec![Write::delete(keys::identity_providers(&pool.id), name, Cond::Version(version))];
    for id in &provider.idp_identifiers {
        writes.push(Write::delete(keys::idp_identifiers(&pool.id), id.to_lowercase(), Cond::None));
    }
    svc.store.transact(writes, svc.now_secs()).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => Error::ConcurrentModificationException(
            "The identity provider was modified by another request. Try again.".into(),
        ),
        e => e.into(),
    })?;
    Ok(json!({}))
}

pub async fn list_identity_providers(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let limit = input.i64_of("MaxResults").filter(|n| *n > 0).unwrap_or(60).clamp(1, 60) as usize;
    let page = svc
        .store
        .query(&keys::identity_providers(&pool.id), "", start.as_deref(), limit, svc.now_secs())
        .await?;
    let mut providers = Vec::new();
    for entry in page.items {
        let p: IdentityProvider = serde_json::from_value(entry.body).map_err(Error::internal)?;
        providers.push(json!({
            "ProviderName": p.name,
            "ProviderType": p.provider_type.as_str(),
            "LastModifiedDate": p.modified as f64 / 1000.0,
            "CreationDate": p.created as f64 / 1000.0,
        }));
    }
    let mut out = json!({"Providers": providers});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}

pub async fn get_identity_provider_by_identifier(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let identifier = input.req_str("IdpIdentifier")?;
    let provider = records::provider_of_identifier(svc, &pool.id, identifier).await?.ok_or_else(|| {
        Error::ResourceNotFoundException(format!(
            "No identity provider has the identifier {identifier} in user pool {}.",
            pool.id
        ))
    })?;
    Ok(json!({"IdentityProvider": provider.shown(svc.cipher.as_ref())?}))
}
