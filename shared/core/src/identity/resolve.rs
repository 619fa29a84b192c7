//! Which identity a token or credentials are for (GetOpenIdToken, GetCredentialsForIdentity): the
//! identity the caller names, after the call's logins were verified and linked, or, in the
//! developer flow's second step, the identity its own token vouches for.

use super::errors::{forbidden, identity_not_found, logins_dont_match, unauthenticated_not_supported};
use super::input::logins_of;
use super::linking::{link, Mode};
use super::logins::{verify_identity_token, verify_public_logins, VerifiedLogin};
use super::pool::{load_identity_pool, IdentityPool};
use super::records::{find_identity, load_live, Identity};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::service::Service;
use crate::CallContext;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// `["authenticated", provider…]` of the logins a call presented.
pub(super) fn authenticated_amr(logins: &[VerifiedLogin]) -> Vec<String> {
    let providers: BTreeSet<&str> = logins.iter().map(|l| l.provider.as_str()).collect();
    std::iter::once("authenticated").chain(providers).map(str::to_string).collect()
}

/// The identity a token or credentials are for, after the call's logins were checked and
/// linked, with what the token will say about it.
pub(super) struct Resolved {
    pub(super) pool: IdentityPool,
    pub(super) identity: Identity,
    /// None: unauthenticated.
    pub(super) logins: Option<Vec<VerifiedLogin>>,
    pub(super) amr: Vec<String>,
}

pub(super) async fn resolve(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
    basic_flow: bool,
) -> Result<Resolved> {
    let identity_id = input.req_str("IdentityId")?;
    let (named, _) = find_identity(svc, identity_id).await?;
    let (pool, _) = load_identity_pool(svc, &named.identity_pool_id)
        .await
        .map_err(|_| identity_not_found(identity_id))?;
    // Absent means off, as in Cognito: the basic flow hands the OpenID token to the caller.
    if basic_flow && pool.allow_classic_flow != Some(true) {
        return Err(Error::invalid("Basic (classic) flow is not enabled, please use enhanced flow."));
    }
    let logins = logins_of(input);
    if logins.is_empty() {
        // Only a guest's id alone is enough: an identity with logins must show one.
        if named.disabled || named.is_authenticated() {
            return Err(forbidden(identity_id));
        }
        if !pool.allow_unauthenticated_identities {
            return Err(unauthenticated_not_supported());
        }
        return Ok(Resolved { pool, identity: named, logins: None, amr: vec!["unauthenticated".into()] });
    }
    let verified = verify_public_logins(svc, ctx, &pool, &logins).await?;
    let identity = link(svc, &pool, Some(identity_id), &verified, Mode::Public).await?;
    let amr = authenticated_amr(&verified);
    Ok(Resolved { pool, identity, logins: Some(verified), amr })
}

/// The developer flow's second step: the token GetOpenIdTokenForDeveloperIdentity returned,
/// under the `cognito-identity.amazonaws.com` key, vouches for its identity by itself.
pub(super) async fn resolve_developer_token(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
    logins: &Map<String, Value>,
    key: &str,
) -> Result<Resolved> {
    let identity_id = input.req_str("IdentityId")?;
    let (named, _) = find_identity(svc, identity_id).await?;
    let (pool, _) = load_identity_pool(svc, &named.identity_pool_id)
        .await
        .map_err(|_| identity_not_found(identity_id))?;
    if logins.len() > 1 {
        return Err(Error::invalid(format!(
            "The {key} login carries the identity's own token and cannot be combined with other logins."
        )));
    }
    let token = logins.get(key).and_then(Value::as_str).unwrap_or_default();
    let claims = verify_identity_token(svc, ctx, &pool, token).await?;
    let (identity, _) = load_live(svc, &pool.identity_pool_id, identity_id)
        .await?
        .filter(|(i, _)| !i.disabled)
        .ok_or_else(|| forbidden(identity_id))?;
    if claims.get("sub").and_then(Value::as_str) != Some(identity.identity_id.as_str()) {
        return Err(logins_dont_match());
    }
    let amr: Vec<String> = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if amr.first().map(String::as_str) != Some("authenticated") {
        // An unauthenticated identity's token vouches for nothing a guest cannot do without it.
        return Err(Error::not_authorized("Invalid login token. Not an authenticated identity's token."));
    }
    let login = VerifiedLogin {
        provider: key.to_string(),
        user_id: identity.identity_id.clone(),
        mapping_key: key.to_string(),
        claims,
    };
    Ok(Resolved { pool, identity, logins: Some(vec![login]), amr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amr_lists_the_presented_providers() {
        let v = |p: &str| VerifiedLogin {
            provider: p.into(),
            user_id: "u".into(),
            mapping_key: p.into(),
            claims: json!({}),
        };
        assert_eq!(authenticated_amr(&[v("b"), v("a"), v("b")]), vec!["authenticated", "a", "b"]);
    }
}
