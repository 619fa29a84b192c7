//! Federated users: `<ProviderName>_<id>` with status EXTERNAL_PROVIDER, made at their first
//! sign-in (PreSignUp_ExternalProvider, then PostConfirmation) and rewritten from the
//! provider's claims at every sign-in (spec A §9.4), with the `identities` attribute.

use super::records::IdentityProvider;
use crate::attribute_rules::MAX_VALUE_BYTES;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{User, UserPool, UserStatus};
use crate::service::Service;
use crate::triggers::Caller;
use crate::user_pool::triggers::lifecycle;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A claim as an attribute value: strings as they are, booleans and numbers as text, anything
/// else as its JSON.
fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The attributes the provider's claims give, by the provider's AttributeMapping.
pub fn mapped_attributes(
    provider: &IdentityProvider,
    claims: &Map<String, Value>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (attribute, claim) in provider.attribute_mapping.iter().filter(|(a, _)| a.as_str() != "username") {
        let Some(value) = claims.get(claim).and_then(claim_text) else { continue };
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::invalid(format!(
                "The identity provider's {claim} is longer than {MAX_VALUE_BYTES} bytes, the most {attribute} can hold."
            )));
        }
        out.insert(attribute.clone(), value);
    }
    Ok(out)
}

/// The `identities` attribute: Cognito's JSON list (as text), one entry per linked provider.
fn identities(provider: &IdentityProvider, user_id: &str, since_ms: i64) -> String {
    json!([{
        "userId": user_id,
        "providerName": provider.name,
        "providerType": provider.provider_type.as_str(),
        "issuer": Value::Null,
        "primary": true,
        "dateCreated": since_ms,
    }])
    .to_string()
}

/// Signs a provider's user in: made at the first sign-in, its mapped attributes rewritten at
/// every one. A required attribute the provider did not give refuses the sign-in.
pub async fn sign_in(
    svc: &Service,
    pool: &UserPool,
    provider: &IdentityProvider,
    claims: &Map<String, Value>,
    client_id: &str,
) -> Result<User> {
    let source = provider.provider_type.username_source().unwrap_or("sub");
    let id = claims
        .get(source)
        .and_then(claim_text)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid(format!("The identity provider gave no {source} for the user.")))?;
    let username = format!("{}_{id}", provider.name);
    let mut attributes = mapped_attributes(provider, claims)?;
    crate::attribute_rules::canonicalize(pool, attributes.iter_mut());
    let missing: Vec<&str> = pool
        .required_attributes
        .iter()
        .map(String::as_str)
        .filter(|r| attributes.get(*r).is_none_or(|v| v.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "The identity provider did not give the required attributes [{}].",
            missing.join(", ")
        )));
    }
    let key = keys::user(&pool.id, &pool.username_key(&username));
    let now = svc.clock.now_millis();
    match svc.get_json::<User>(&key, keys::USER_SK).await? {
        Some((mut user, version)) => {
            if !user.enabled {
                return Err(Error::NotAuthorizedException("User is disabled.".into()));
            }
            for (k, v) in attributes {
                user.attributes.insert(k, v);
            }
            user.modified = now;
            svc.save_user(pool, &user, version, vec![]).await?;
            Ok(user)
        }
        None => {
            lifecycle::pre_sign_up_external(svc, pool, &username, &attributes, client_id).await?;
            let sub = svc.rng.uuid().to_string();
            attributes.insert("sub".into(), sub.clone());
            attributes.insert("identities".into(), identities(provider, &id, now));
            let user = User::new(username, sub, attributes, UserStatus::EXTERNAL_PROVIDER, now);
            svc.insert_user(pool, &user, vec![]).await?;
            lifecycle::post_confirmation(svc, pool, false, &user, Caller::without_metadata(Some(client_id)))
                .await?;
            Ok(user)
        }
    }
}
