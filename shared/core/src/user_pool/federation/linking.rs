//! AdminLinkProviderForUser, AdminDisableProviderForUser.
//!
//! A link is an item keyed by (provider, the provider's subject) naming the pool user a sign-in
//! through that provider lands on. It is written with the user (its `identities` entry) in one
//! version-checked transaction. Only `Cognito_Subject` (the provider's subject: `sub` for OIDC)
//! is supported as ProviderAttributeName so far.

use super::records;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::keys;
use crate::model::{User, UserStatus};
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::{json, Value};

/// Identities one user may have linked (Cognito's limit).
pub const LINKS_PER_USER: usize = 5;

struct Identifier<'a> {
    provider: &'a str,
    attribute: &'a str,
    value: &'a str,
}

fn identifier<'a>(input: &'a Value, member: &str) -> Result<Identifier<'a>> {
    let v = input.get(member).ok_or_else(|| Error::invalid(format!("{member} is required.")))?;
    let field = |name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default();
    Ok(Identifier {
        provider: field("ProviderName"),
        attribute: field("ProviderAttributeName"),
        value: field("ProviderAttributeValue"),
    })
}

/// A source identity: a provider of the pool, by its subject.
async fn source(
    svc: &Service,
    pool_id: &str,
    id: &Identifier<'_>,
    member: &str,
) -> Result<records::IdentityProvider> {
    if id.provider.eq_ignore_ascii_case("cognito") {
        return Err(Error::invalid(format!(
            "Invalid {member}: Cognito users with a username/password may not be passed in as a {member}, only as a DestinationUser"
        )));
    }
    if id.attribute != "Cognito_Subject" {
        return Err(Error::invalid(format!(
            "{member}.ProviderAttributeName {} is not supported by Tessera: use Cognito_Subject (the provider's subject).",
            id.attribute
        )));
    }
    if id.value.is_empty() {
        return Err(Error::invalid(format!("{member}.ProviderAttributeValue is required.")));
    }
    match records::find(svc, pool_id, id.provider).await? {
        Some((p, _)) => Ok(p),
        None => Err(Error::invalid(format!(
            "The provider {} does not exist for User Pool {pool_id}.",
            id.provider
        ))),
    }
}

fn identities_of(user: &User) -> Vec<Value> {
    user.attributes
        .get("identities")
        .and_then(|v| serde_json::from_str::<Vec<Value>>(v).ok())
        .unwrap_or_default()
}

pub async fn admin_link_provider_for_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let destination = identifier(input, "DestinationUser")?;
    if destination.provider != "Cognito" {
        return Err(Error::invalid("DestinationUser.ProviderName must be Cognito."));
    }
    let src = identifier(input, "SourceUser")?;
    let provider = source(svc, &pool.id, &src, "SourceUser").await?;
    let (mut user, version) = svc.require_user(&pool, destination.value).await?;
    let federated = format!("{}_{}", provider.name, src.value);
    if svc.find_user(&pool, &federated).await?.is_some() {
        return Err(Error::invalid(
            "Merging is not currently supported, provide a SourceUser that has not been signed up in order to link",
        ));
    }
    let mut identities = identities_of(&user);
    if identities.iter().any(|i| i["providerName"] == provider.name.as_str() && i["userId"] == src.value) {
        return Err(Error::invalid("SourceUser is already linked to DestinationUser"));
    }
    if identities.len() >= LINKS_PER_USER {
        return Err(Error::LimitExceededException(format!(
            "A user can have at most {LINKS_PER_USER} linked identities."
        )));
    }
    let now = svc.clock.now_millis();
    identities.push(json!({
        "userId": src.value,
        "providerName": provider.name,
        "providerType": provider.provider_type.as_str(),
        "issuer": Value::Null,
        "primary": false,
        "dateCreated": now,
    }));
    user.attributes.insert("identities".into(), Value::Array(identities).to_string());
    user.modified = now;
    let link = Item::new(
        keys::provider_link(&pool.id, &provider.name, src.value),
        keys::PROVIDER_LINK_SK,
        json!({"username": user.username, "sub": user.sub}),
    );
    svc.save_user(&pool, &user, version, vec![Write::put(link, Cond::NotExists)]).await.map_err(
        |e| match e {
            // The link item was taken meanwhile (or earlier, for another user).
            Error::ConcurrentModificationException(_) => {
                Error::invalid("SourceUser is already linked to a user of this pool.")
            }
            e => e,
        },
    )?;
    Ok(json!({}))
}

/// Prevents sign-in through the provider as this identity: a link is removed (the next sign-in
/// makes a user of its own); a user made by the provider is disabled.
pub async fn admin_disable_provider_for_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let id = identifier(input, "User")?;
    let provider = source(svc, &pool.id, &id, "User").await?;
    let link_key = keys::provider_link(&pool.id, &provider.name, id.value);
    if let Some((link, _)) = svc.get_json::<Value>(&link_key, keys::PROVIDER_LINK_SK).await? {
        let username = link["username"].as_str().unwrap_or_default();
        let remove = Write::delete(link_key.clone(), keys::PROVIDER_LINK_SK, Cond::Exists);
        match svc.find_user(&pool, username).await? {
            Some((mut user, version)) => {
                let kept: Vec<Value> = identities_of(&user)
                    .into_iter()
                    .filter(|i| !(i["providerName"] == provider.name.as_str() && i["userId"] == id.value))
                    .collect();
                user.attributes.insert("identities".into(), Value::Array(kept).to_string());
                user.modified = svc.clock.now_millis();
                svc.save_user(&pool, &user, version, vec![remove]).await?;
            }
            None => svc.store.transact(vec![remove], svc.now_secs()).await.map_err(|e| match e {
                StoreError::ConditionFailed { .. } => {
                    Error::UserNotFoundException("User does not exist.".into())
                }
                e => e.into(),
            })?,
        }
        return Ok(json!({}));
    }
    let federated = format!("{}_{}", provider.name, id.value);
    let Some((mut user, version)) = svc.find_user(&pool, &federated).await? else {
        return Err(Error::UserNotFoundException("User does not exist.".into()));
    };
    if user.status == UserStatus::EXTERNAL_PROVIDER {
        user.enabled = false;
        user.modified = svc.clock.now_millis();
        svc.save_user(&pool, &user, version, vec![]).await?;
    }
    Ok(json!({}))
}

/// The pool user a sign-in through `provider` as `subject` lands on, when linked.
pub async fn linked_user(
    svc: &Service,
    pool_id: &str,
    provider: &str,
    subject: &str,
) -> Result<Option<String>> {
    let found = svc
        .get_json::<Value>(&keys::provider_link(pool_id, provider, subject), keys::PROVIDER_LINK_SK)
        .await?;
    Ok(found.and_then(|(link, _)| link["username"].as_str().map(str::to_string)))
}
