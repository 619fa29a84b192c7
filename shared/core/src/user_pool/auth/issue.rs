//! Issuing tokens: the access and ID tokens' claims, the pre token generation trigger, and the
//! session family a sign-in opens (or a refresh continues).

use super::refresh_family::{refresh_hash, rotate_family, Origin};
use super::sign_in::SignIn;
use crate::error::{Error, Result};
use crate::model::{keys, TokenKind, User};
use crate::store::{Cond, Item, Write};
use crate::user_pool::triggers::token_generation::{Claims, Occasion, TokenRequest, USER_API_SCOPE};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// The device a sign-in's tokens belong to: the access token's `device_key` claim, and the
/// `NewDeviceMetadata` of a device seen for the first time.
#[derive(Debug, Clone, Default)]
pub struct IssuedDevice {
    pub key: Option<String>,
    /// (DeviceKey, DeviceGroupKey).
    pub new_metadata: Option<(String, String)>,
}

/// What an OAuth 2.0 sign-in (the auth domain) adds to the tokens: the granted scopes (the
/// access token's `scope`; an ID token only with `openid`) and the authorize request's `nonce`.
#[derive(Debug, Clone, Default)]
pub(crate) struct OAuthGrant {
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// The new session family's id, when the caller recorded it first (an authorization code
    /// notes the family its exchange began, so that a replay can revoke it).
    pub family_id: Option<String>,
    /// When the user authenticated (a code is exchanged later, a hosted session signs in again
    /// without a password).
    pub auth_time: Option<i64>,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token (OIDC Core 3.1.3.6).
fn at_hash(access_token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// What becomes of the session family when tokens are issued.
pub(crate) enum Family<'a> {
    /// A sign-in: a new family and its first refresh token.
    New,
    /// A refresh without rotation: no new refresh token.
    Refresh { origin_jti: &'a str, origin: &'a Origin },
    /// A refresh with rotation: `token` is exchanged for the family's next refresh token.
    Rotate { origin_jti: &'a str, origin: &'a Origin, token: &'a str, grace_secs: i64 },
}

/// Issues tokens. A sign-in ([`Family::New`]) starts a session family with a refresh token; a
/// refresh reuses the family and its `auth_time`, and returns a new refresh token only when the
/// client rotates them.
///
/// The claims are built first and the pre token generation trigger (if any) changes them; only
/// then is the session family stored, so a failing trigger leaves no refresh token behind (and
/// rotates nothing).
pub(crate) async fn issue_family(
    s: &SignIn<'_>,
    user: &User,
    family: Family<'_>,
    occasion: Occasion<'_>,
    device: IssuedDevice,
    oauth: Option<&OAuthGrant>,
) -> Result<Value> {
    let (svc, ctx, pool, client) = (s.svc, s.ctx, &*s.pool, s.client);
    let now = svc.now_secs();
    crate::tessera_service::signing_keys::rotate_if_due(svc, pool).await;
    let keys = svc.open_keys(pool)?;
    let (origin_jti, auth_time) = match &family {
        Family::Refresh { origin_jti, origin } | Family::Rotate { origin_jti, origin, .. } => {
            (origin_jti.to_string(), origin.auth_time)
        }
        Family::New => (
            oauth.and_then(|g| g.family_id.clone()).unwrap_or_else(|| svc.rng.uuid().to_string()),
            oauth.and_then(|g| g.auth_time).unwrap_or(now),
        ),
    };
    // A refresh keeps the scopes of the sign-in that began its family.
    let scopes: Option<Vec<String>> = match &family {
        Family::Refresh { origin, .. } | Family::Rotate { origin, .. } => origin.scopes.clone(),
        Family::New => oauth.map(|g| g.scopes.clone()),
    };
    let scope_claim = scopes.as_ref().map_or_else(|| USER_API_SCOPE.to_string(), |s| s.join(" "));
    let with_id_token = scopes.as_ref().is_none_or(|s| s.iter().any(|s| s == "openid"));
    let access_secs = client.settings.validity_secs(TokenKind::Access);
    let id_secs = client.settings.validity_secs(TokenKind::Id);
    let iss = ctx.issuer(&pool.id);
    let mut claims = Claims::default();
    for (k, v) in [
        ("sub", json!(user.sub)),
        ("iss", json!(iss)),
        ("client_id", json!(client.client_id)),
        ("origin_jti", json!(origin_jti)),
        ("event_id", json!(svc.rng.uuid().to_string())),
        ("token_use", json!("access")),
        ("scope", json!(scope_claim)),
        ("auth_time", json!(auth_time)),
        ("exp", json!(now + access_secs)),
        ("iat", json!(now)),
        ("jti", json!(svc.rng.uuid().to_string())),
        ("username", json!(user.username)),
    ] {
        claims.access.insert(k.to_string(), v);
    }
    if let Some(key) = &device.key {
        claims.access.insert("device_key".into(), json!(key));
    }
    // Only the attributes the client may read become claims.
    let readable = user
        .attributes
        .iter()
        .filter(|(name, _)| name.as_str() != "identities" && crate::attribute_rules::can_read(client, name));
    for (name, value) in readable {
        let v = match name.as_str() {
            "email_verified" | "phone_number_verified" => json!(value == "true"),
            "updated_at" => value.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(value)),
            _ => json!(value),
        };
        claims.id.insert(name.clone(), v);
    }
    for (k, v) in [
        ("sub", json!(user.sub)),
        ("iss", json!(iss)),
        ("cognito:username", json!(user.username)),
        ("origin_jti", json!(origin_jti)),
        ("aud", json!(client.client_id)),
        ("event_id", json!(svc.rng.uuid().to_string())),
        ("token_use", json!("id")),
        ("auth_time", json!(auth_time)),
        ("exp", json!(now + id_secs)),
        ("iat", json!(now)),
        ("jti", json!(svc.rng.uuid().to_string())),
    ] {
        claims.id.insert(k.to_string(), v);
    }
    if let Some(identities) = user.attributes.get("identities").and_then(|v| identities_claim(v)) {
        claims.id.insert("identities".into(), identities);
    }
    if let Some(nonce) = oauth.and_then(|g| g.nonce.as_ref()) {
        claims.id.insert("nonce".into(), json!(nonce));
    }
    let groups = crate::user_pool::groups::claims::group_claims(svc, pool, user).await?;
    groups.apply(&mut claims.access, &mut claims.id);
    let request = TokenRequest { pool, client, user, occasion, groups: &groups };
    crate::user_pool::triggers::token_generation::customise(svc, &request, &mut claims).await?;
    let refresh_token = match family {
        Family::Refresh { .. } => None,
        Family::Rotate { token, grace_secs, .. } => {
            Some(rotate_family(svc, &origin_jti, token, grace_secs).await?)
        }
        Family::New => {
            let secret = URL_SAFE_NO_PAD.encode(svc.rng.bytes(32));
            let refresh_secs = client.settings.validity_secs(TokenKind::Refresh);
            let origin = Origin {
                pool_id: pool.id.clone(),
                client_id: client.client_id.clone(),
                username: user.username.clone(),
                sub: user.sub.clone(),
                refresh_hash: refresh_hash(&secret),
                auth_time,
                created_ms: svc.clock.now_millis().max(user.signed_out_at_ms + 1),
                device_key: device.key.clone(),
                scopes: scopes.clone(),
                also_live: vec![],
                spent: vec![],
            };
            let mut item = Item::new(
                keys::origin(&origin_jti),
                keys::ORIGIN_SK,
                serde_json::to_value(&origin).map_err(Error::internal)?,
            );
            item.expires_at = Some(now + refresh_secs);
            svc.store.transact(vec![Write::put(item, Cond::NotExists)], now).await?;
            Some(format!("{origin_jti}.{secret}"))
        }
    };
    let access_token = keys.access.sign(&Value::Object(claims.access))?;
    let mut result = json!({"AccessToken": access_token, "ExpiresIn": access_secs, "TokenType": "Bearer"});
    if with_id_token {
        if oauth.is_some() {
            claims.id.insert("at_hash".into(), json!(at_hash(&access_token)));
        }
        result["IdToken"] = json!(keys.id.sign(&Value::Object(claims.id))?);
    }
    if let Some(rt) = refresh_token {
        result["RefreshToken"] = json!(rt);
    }
    if let Some((key, group)) = device.new_metadata {
        result["NewDeviceMetadata"] = json!({"DeviceKey": key, "DeviceGroupKey": group});
    }
    Ok(json!({"ChallengeParameters": {}, "AuthenticationResult": result}))
}

/// A federated user's `identities` as its ID token carries them: the attribute's list, with
/// `primary` and `dateCreated` as strings (as Cognito's tokens have them).
fn identities_claim(attribute: &str) -> Option<Value> {
    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(attribute) else { return None };
    let list = list
        .into_iter()
        .map(|mut entry| {
            for key in ["primary", "dateCreated"] {
                if let Some(v) = entry.get_mut(key) {
                    if !v.is_string() && !v.is_null() {
                        *v = Value::String(v.to_string());
                    }
                }
            }
            entry
        })
        .collect();
    Some(Value::Array(list))
}
