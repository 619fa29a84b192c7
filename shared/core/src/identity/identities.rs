//! GetId, GetOpenIdToken, GetCredentialsForIdentity, UnlinkIdentity, DescribeIdentity,
//! ListIdentities, DeleteIdentities: the operations on identities that name no developer provider.

use super::errors::{forbidden, identity_not_found, logins_dont_match, raced, unauthenticated_not_supported};
use super::input::{logins_of, max_results};
use super::linking::{link, remove_logins, Mode};
use super::logins::{is_identity_token_key, verify_public_logins, VerifiedLogin};
use super::pool::{load_identity_pool, IdentityPool};
use super::records::{
    delete_identity_writes, find_identity, load_identity, new_identity, new_identity_writes, Identity,
    ATTEMPTS,
};
use super::resolve::{resolve, resolve_developer_token};
use super::{roles, tokens};
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::model::keys;
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::Service;
use crate::store::StoreError;
use crate::sync::cleanup::{delete_identity_data, delete_identity_devices};
use crate::CallContext;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// GetOpenIdToken's tokens last 10 minutes.
const OPEN_ID_TOKEN_SECS: i64 = 600;

/// A new identity without logins (a guest), written.
async fn create_unauthenticated(svc: &Service, pool: &IdentityPool) -> Result<Identity> {
    let identity = new_identity(svc, pool);
    match svc.store.transact(new_identity_writes(&identity)?, svc.now_secs()).await {
        Ok(()) => Ok(identity),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::internal("identity id collision")),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_id(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let logins = logins_of(input);
    let identity = if logins.is_empty() {
        if !pool.allow_unauthenticated_identities {
            return Err(unauthenticated_not_supported());
        }
        // Every unauthenticated GetId makes a new identity: the app keeps the id it gets.
        create_unauthenticated(svc, &pool).await?
    } else {
        let verified = verify_public_logins(svc, ctx, &pool, &logins).await?;
        link(svc, &pool, None, &verified, Mode::Public).await?
    };
    Ok(json!({"IdentityId": identity.identity_id}))
}

pub async fn get_open_id_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let r = resolve(svc, ctx, input, true).await?;
    let token = tokens::open_id_token(
        svc,
        ctx,
        &r.pool.identity_pool_id,
        &r.identity.identity_id,
        &r.amr,
        OPEN_ID_TOKEN_SECS,
    )
    .await?;
    Ok(json!({"IdentityId": r.identity.identity_id, "Token": token}))
}

pub async fn get_credentials_for_identity(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let custom_role = input.str_of("CustomRoleArn");
    let logins = logins_of(input);
    let r = match logins.keys().find(|k| is_identity_token_key(ctx, k)) {
        Some(key) => resolve_developer_token(svc, ctx, input, &logins, key).await?,
        None => resolve(svc, ctx, input, false).await?,
    };
    let role = match &r.logins {
        None => roles::unauthenticated_role(&r.pool.roles)?,
        Some(logins) => {
            // Several logins: the first (by provider name) that has a role mapping decides.
            let mut sorted: Vec<&VerifiedLogin> = logins.iter().collect();
            sorted.sort_by(|a, b| a.provider.cmp(&b.provider));
            let mapped = sorted.iter().find_map(|l| r.pool.role_mappings.get(&l.mapping_key).map(|m| (l, m)));
            match mapped {
                Some((login, mapping)) => roles::authenticated_role(
                    &r.pool.roles,
                    Some(mapping),
                    &login.mapping_key,
                    &login.claims,
                    custom_role,
                )?,
                None => roles::authenticated_role(&r.pool.roles, None, "", &Value::Null, custom_role)?,
            }
        }
    };
    let credentials = tokens::credentials_for_role(
        svc,
        ctx,
        &r.pool.identity_pool_id,
        &r.identity.identity_id,
        &role,
        &r.amr,
    )
    .await?;
    Ok(json!({
        "IdentityId": r.identity.identity_id,
        "Credentials": {
            "AccessKeyId": credentials.access_key_id,
            "SecretKey": credentials.secret_key,
            "SessionToken": credentials.session_token,
            "Expiration": credentials.expiration,
        }
    }))
}

pub async fn unlink_identity(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let identity_id = input.req_str("IdentityId")?;
    let (identity, version) = find_identity(svc, identity_id).await?;
    if identity.disabled {
        return Err(forbidden(identity_id));
    }
    let (pool, _) = load_identity_pool(svc, &identity.identity_pool_id)
        .await
        .map_err(|_| identity_not_found(identity_id))?;
    let logins = logins_of(input);
    if logins.is_empty() {
        return Err(logins_dont_match());
    }
    let verified = verify_public_logins(svc, ctx, &pool, &logins).await?;
    // Only the identity's own user may change it.
    let proven = verified
        .iter()
        .any(|v| identity.logins.iter().any(|l| l.provider == v.provider && l.user_id == v.user_id));
    if !proven {
        return Err(logins_dont_match());
    }
    let to_remove: BTreeSet<String> = input
        .get("LoginsToRemove")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(developer) = pool.developer_provider_name.as_deref() {
        if to_remove.contains(developer) {
            return Err(Error::invalid(format!(
                "Logins of the developer provider {developer} are removed with UnlinkDeveloperIdentity."
            )));
        }
    }
    remove_logins(svc, identity, version, |l| to_remove.contains(&l.provider)).await?;
    Ok(json!({}))
}

pub async fn describe_identity(svc: &Service, input: &Value) -> Result<Value> {
    let (identity, _) = find_identity(svc, input.req_str("IdentityId")?).await?;
    Ok(identity.describe())
}

pub async fn list_identities(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let max = max_results(input)?;
    let hide_disabled = input.bool_of("HideDisabled").unwrap_or(false);
    let listing = keys::pool_identities(&pool.identity_pool_id);
    let mut after = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let mut found = Vec::new();
    // Hidden identities leave a page short: read on until it is full or the listing ends.
    let next = loop {
        let page = svc.store.query(&listing, "", after.as_deref(), max - found.len(), svc.now_secs()).await?;
        for entry in &page.items {
            if let Some((identity, _)) = load_identity(svc, &pool.identity_pool_id, &entry.sk).await? {
                if !(hide_disabled && identity.disabled) {
                    found.push(identity.describe());
                }
            }
        }
        after = page.next;
        if after.is_none() || found.len() >= max {
            break after;
        }
    };
    let mut out = json!({"IdentityPoolId": pool.identity_pool_id, "Identities": found});
    if let Some(n) = next {
        out["NextToken"] = json!(encode_next_token(&n));
    }
    Ok(out)
}

pub async fn delete_identities(svc: &Service, input: &Value) -> Result<Value> {
    let ids: Vec<String> = input
        .get("IdentityIdsToDelete")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 60 {
        return Err(Error::invalid("IdentityIdsToDelete holds 1 to 60 identity ids."));
    }
    let mut unprocessed = Vec::new();
    for id in &ids {
        if let Err(e) = delete_identity(svc, id).await {
            tracing::warn!(identity = %id, error = %e, "identity not deleted");
            unprocessed.push(json!({"IdentityId": id, "ErrorCode": "InternalServerError"}));
        }
    }
    Ok(json!({"UnprocessedIdentityIds": unprocessed}))
}

/// Deletes one identity with its logins; an identity that does not exist is already deleted.
async fn delete_identity(svc: &Service, identity_id: &str) -> Result<()> {
    let deleted = retry_on_conflict(ATTEMPTS, || async move {
        let (identity, version) = match find_identity(svc, identity_id).await {
            Ok(found) => found,
            Err(Error::ResourceNotFoundException(_)) => return Ok(Attempt::Done(None)),
            Err(e) => return Err(e),
        };
        let write =
            svc.store.transact(delete_identity_writes(&identity, Some(version)), svc.now_secs()).await;
        Attempt::of_write(write, Some(identity))
    });
    // Its Sync data goes once the identity is gone (an identity already gone has none left).
    if let Some(identity) = deleted.await?.ok_or_else(raced)? {
        let pool_id = &identity.identity_pool_id;
        delete_identity_data(svc, pool_id, identity_id).await?;
        delete_identity_devices(svc, pool_id, identity_id).await?;
    }
    Ok(())
}
