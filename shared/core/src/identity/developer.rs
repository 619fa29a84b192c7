//! GetOpenIdTokenForDeveloperIdentity, LookupDeveloperIdentity, MergeDeveloperIdentities,
//! UnlinkDeveloperIdentity: developer-authenticated identities, whose users the developer vouches
//! for with its own credentials. The developer operations keep the identity they name when logins
//! merge.

use super::errors::identity_not_found;
use super::input::{logins_of, max_results};
use super::linking::{link, remove_logins, Mode};
use super::logins::{verify_public_logins, VerifiedLogin};
use super::pool::{load_identity_pool, IdentityPool};
use super::records::{find_identity, load_identity, load_live, login_owner, Identity, LinkedLogin};
use super::resolve::authenticated_amr;
use super::tokens;
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::service::Service;
use crate::CallContext;
use serde_json::{json, Value};

/// GetOpenIdTokenForDeveloperIdentity's default TokenDuration: 15 minutes (at most 24 hours).
const DEVELOPER_TOKEN_SECS: i64 = 900;
const MAX_DEVELOPER_TOKEN_SECS: i64 = 86_400;

fn developer_provider_not_supported() -> Error {
    Error::not_authorized("This identity pool does not support the specified developer provider.")
}

pub async fn get_open_id_token_for_developer_identity(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let mut logins = logins_of(input);
    let developer = pool.developer_provider_name.clone().ok_or_else(developer_provider_not_supported)?;
    let user = match logins.remove(&developer) {
        Some(Value::String(u)) => u,
        _ => return Err(developer_provider_not_supported()),
    };
    check_developer_user(&user)?;
    let duration = match input.get("TokenDuration") {
        None | Some(Value::Null) => DEVELOPER_TOKEN_SECS,
        Some(v) => match v.as_i64() {
            Some(n @ 1..=MAX_DEVELOPER_TOKEN_SECS) => n,
            _ => {
                return Err(Error::invalid(crate::input::validation_message(
                    "TokenDuration",
                    Some(&v.to_string()),
                    &format!("Member must have value between 1 and {MAX_DEVELOPER_TOKEN_SECS}"),
                )))
            }
        },
    };
    let named = match input.str_of("IdentityId") {
        Some(id) => {
            let (identity, _) = find_identity(svc, id).await?;
            if identity.identity_pool_id != pool.identity_pool_id {
                return Err(identity_not_found(id));
            }
            Some(id)
        }
        None => None,
    };
    let mut verified = vec![VerifiedLogin {
        provider: developer.clone(),
        user_id: user,
        mapping_key: developer.clone(),
        claims: json!({}),
    }];
    verified.extend(verify_public_logins(svc, ctx, &pool, &logins).await?);
    let identity = link(svc, &pool, named, &verified, Mode::Developer).await?;
    let amr = authenticated_amr(&verified);
    let token = tokens::developer_open_id_token(
        svc,
        ctx,
        &pool.identity_pool_id,
        &identity.identity_id,
        &amr,
        &developer,
        duration,
    )
    .await?;
    Ok(json!({"IdentityId": identity.identity_id, "Token": token}))
}

fn check_developer_user(user: &str) -> Result<()> {
    if user.is_empty() || user.chars().count() > 1024 {
        return Err(Error::invalid("A developer user identifier has 1 to 1024 characters."));
    }
    Ok(())
}

/// The pool's developer provider, which the request must name.
fn developer_provider<'a>(pool: &'a IdentityPool, named: &str) -> Result<&'a str> {
    match pool.developer_provider_name.as_deref() {
        Some(d) if d == named => Ok(d),
        _ => Err(developer_provider_not_supported()),
    }
}

/// The live identity a developer user is linked to.
async fn developer_user_identity(
    svc: &Service,
    pool: &IdentityPool,
    developer: &str,
    user: &str,
) -> Result<Option<(Identity, u64)>> {
    let login = LinkedLogin { provider: developer.to_string(), user_id: user.to_string() };
    match login_owner(svc, &pool.identity_pool_id, &login).await? {
        Some((id, _)) => Ok(load_live(svc, &pool.identity_pool_id, &id).await?.filter(|(i, _)| !i.disabled)),
        None => Ok(None),
    }
}

pub async fn lookup_developer_identity(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let developer = pool.developer_provider_name.clone().ok_or_else(developer_provider_not_supported)?;
    let max = match input.get("MaxResults") {
        None | Some(Value::Null) => 60,
        Some(_) => max_results(input)?,
    };
    let identity_id = input.str_of("IdentityId");
    let (identity, users) = match (identity_id, input.str_of("DeveloperUserIdentifier")) {
        (None, None) => {
            return Err(Error::invalid("Either IdentityId or DeveloperUserIdentifier must be provided."))
        }
        (_, Some(user)) => {
            let (identity, _) =
                developer_user_identity(svc, &pool, &developer, user).await?.ok_or_else(|| {
                    Error::ResourceNotFoundException("DeveloperUserIdentifier not found.".into())
                })?;
            if identity_id.is_some_and(|id| id != identity.identity_id) {
                return Err(Error::ResourceConflictException(
                    "The DeveloperUserIdentifier is not linked to the IdentityId.".into(),
                ));
            }
            (identity, vec![user.to_string()])
        }
        (Some(id), None) => {
            let (identity, _) = load_identity(svc, &pool.identity_pool_id, id)
                .await?
                .ok_or_else(|| identity_not_found(id))?;
            let mut users: Vec<String> = identity
                .logins
                .iter()
                .filter(|l| l.provider == developer)
                .map(|l| l.user_id.clone())
                .collect();
            users.sort();
            (identity, users)
        }
    };
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let rest: Vec<String> =
        users.into_iter().filter(|u| start.as_ref().is_none_or(|s| u.as_str() > s.as_str())).collect();
    let page: Vec<String> = rest.iter().take(max).cloned().collect();
    let mut out = json!({"IdentityId": identity.identity_id, "DeveloperUserIdentifierList": page});
    if rest.len() > max {
        if let Some(last) = page.last() {
            out["NextToken"] = json!(encode_next_token(last));
        }
    }
    Ok(out)
}

pub async fn merge_developer_identities(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool, input.req_str("DeveloperProviderName")?)?.to_string();
    let source = input.req_str("SourceUserIdentifier")?;
    let destination = input.req_str("DestinationUserIdentifier")?;
    let (target, _) = developer_user_identity(svc, &pool, &developer, destination)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException("DestinationUserIdentifier not found.".into()))?;
    if developer_user_identity(svc, &pool, &developer, source).await?.is_none() {
        return Err(Error::ResourceNotFoundException("SourceUserIdentifier not found.".into()));
    }
    let login = VerifiedLogin {
        provider: developer.clone(),
        user_id: source.to_string(),
        mapping_key: developer,
        claims: json!({}),
    };
    let merged = link(svc, &pool, Some(&target.identity_id), &[login], Mode::Merge).await?;
    Ok(json!({"IdentityId": merged.identity_id}))
}

pub async fn unlink_developer_identity(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool, input.req_str("DeveloperProviderName")?)?.to_string();
    let identity_id = input.req_str("IdentityId")?;
    let user = input.req_str("DeveloperUserIdentifier")?;
    let (identity, version) = load_identity(svc, &pool.identity_pool_id, identity_id)
        .await?
        .ok_or_else(|| identity_not_found(identity_id))?;
    let login = LinkedLogin { provider: developer, user_id: user.to_string() };
    if !identity.logins.contains(&login) {
        return Err(Error::ResourceConflictException(
            "The DeveloperUserIdentifier is not linked to the IdentityId.".into(),
        ));
    }
    remove_logins(svc, identity, version, |l| *l == login).await?;
    Ok(json!({}))
}
