//! What a process remembers between calls: pools, app clients, their opened keys, and the
//! access tokens whose signatures were already checked.

use super::{CallContext, OpenKeys, Service, MAX_CACHED};
use crate::error::{Error, Result};
use crate::model::{keys, AppClient, UserPool};
use crate::tokens::SigningKey;
use serde_json::Value;
use sha2::Sha256;
use std::sync::Arc;

impl Service {
    pub async fn pool(&self, pool_id: &str) -> Result<Arc<UserPool>> {
        let now = self.clock.now_millis();
        if let Some((pool, at)) = self.pool_cache.lock().map_err(Error::internal)?.get(pool_id) {
            if now - at < self.config.pool_cache_ttl_ms && !pool.case_change_in_progress() {
                return Ok(pool.clone());
            }
        }
        let pool = self
            .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
            .await?
            .map(|(p, _)| Arc::new(p))
            .ok_or_else(|| {
                Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist."))
            })?;
        // While a CaseSensitive change moves users, every request reads the pool afresh: where
        // a user is stored depends on how far the change got.
        if pool.case_change_in_progress() {
            return Ok(pool);
        }
        let mut cache = self.pool_cache.lock().map_err(Error::internal)?;
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(pool_id.to_string(), (pool.clone(), now));
        Ok(pool)
    }

    /// Drops what this process remembers of a pool (after it changed or went away).
    pub fn forget_pool(&self, pool_id: &str) {
        if let Ok(mut cache) = self.pool_cache.lock() {
            cache.remove(pool_id);
        }
        if let Ok(mut cache) = self.key_cache.lock() {
            cache.remove(pool_id);
        }
        if let Ok(mut cache) = self.client_cache.lock() {
            cache.retain(|_, (c, _)| c.pool_id != pool_id);
        }
    }

    /// The pool and claims of an access token whose signature and issuer check out and which
    /// has not expired. Signatures are checked once per token and process, then remembered.
    pub async fn check_access_token(
        &self,
        ctx: &CallContext,
        token: &str,
    ) -> Result<(Arc<UserPool>, Arc<Value>)> {
        use sha2::Digest;
        let invalid = || Error::not_authorized("Invalid Access Token");
        let id: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.verified_tokens.lock().ok().and_then(|c| c.get(&id).cloned());
        let (pool, claims) = match cached {
            Some(claims) => {
                let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
                let pool_id = iss.rsplit('/').next().unwrap_or_default();
                let pool = self.pool(pool_id).await.map_err(|_| invalid())?;
                if iss != ctx.issuer(&pool.id) {
                    return Err(invalid());
                }
                (pool, claims)
            }
            None => {
                let pool_id = crate::tokens::unverified_pool_id(token).ok_or_else(invalid)?;
                if !crate::ids::is_pool_id(&pool_id) {
                    return Err(invalid());
                }
                let pool = self.pool(&pool_id).await.map_err(|_| invalid())?;
                let keys = self.open_keys(&pool)?;
                // Checked without the expiry, so an expired token can be told apart below.
                let claims = Arc::new(
                    keys.verify(crate::tokens::KeyUse::Access, token, &ctx.issuer(&pool.id), self.now_secs())
                        .ok_or_else(invalid)?,
                );
                if let Ok(mut cache) = self.verified_tokens.lock() {
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    cache.insert(id, claims.clone());
                }
                (pool, claims)
            }
        };
        let now = self.now_secs();
        if crate::tokens::not_yet_valid(&claims, now) {
            return Err(invalid());
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now => Ok((pool, claims)),
            _ => Err(Error::not_authorized("Access Token has expired")),
        }
    }

    /// An app client, served from memory like pools (see `pool_cache_ttl_ms`).
    pub async fn client(&self, client_id: &str) -> Result<Arc<AppClient>> {
        let now = self.clock.now_millis();
        if let Some((client, at)) = self.client_cache.lock().map_err(Error::internal)?.get(client_id) {
            if now - at < self.config.pool_cache_ttl_ms {
                return Ok(client.clone());
            }
        }
        let client = self
            .get_json::<AppClient>(&keys::client(client_id), keys::CLIENT_SK)
            .await?
            .map(|(c, _)| c)
            .ok_or_else(|| {
                Error::ResourceNotFoundException(format!("User pool client {client_id} does not exist."))
            })?;
        let mut cache = self.client_cache.lock().map_err(Error::internal)?;
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        let client = Arc::new(client);
        cache.insert(client_id.to_string(), (client.clone(), now));
        Ok(client)
    }

    /// Drops what this process remembers of a client (after it changed or went away).
    pub fn forget_client(&self, client_id: &str) {
        if let Ok(mut cache) = self.client_cache.lock() {
            cache.remove(client_id);
        }
    }

    /// A client that must belong to `pool_id`.
    pub async fn pool_client(&self, pool_id: &str, client_id: &str) -> Result<Arc<AppClient>> {
        let client = self.client(client_id).await?;
        if client.pool_id != pool_id {
            return Err(Error::ResourceNotFoundException(format!(
                "User pool client {client_id} does not exist."
            )));
        }
        Ok(client)
    }

    /// The pool's signing keys, opened once per process.
    pub fn open_keys(&self, pool: &UserPool) -> Result<Arc<OpenKeys>> {
        use crate::tokens::KeyUse;
        let keys = &pool.keys;
        let mut kids = format!("{} {}", keys.id.kid, keys.access.kid);
        if let Some(next) = &keys.next {
            kids.push_str(&format!(" next {} {}", next.id.kid, next.access.kid));
        }
        for r in &keys.retired {
            kids.push_str(&format!(" retired {}", r.key.kid));
        }
        // Keys rotated by another process are seen as soon as the pool is read again.
        if let Some(k) = self.key_cache.lock().map_err(Error::internal)?.get(&pool.id) {
            if k.kids == kids {
                return Ok(k.clone());
            }
        }
        let open = |k: &crate::tokens::StoredKey| SigningKey::open(k, self.cipher.as_ref());
        let mut accepted = Vec::new();
        if let Some(next) = &keys.next {
            accepted.push((KeyUse::Id, i64::MAX, open(&next.id)?));
            accepted.push((KeyUse::Access, i64::MAX, open(&next.access)?));
        }
        for r in &keys.retired {
            accepted.push((r.key_use, r.until, open(&r.key)?));
        }
        let opened = Arc::new(OpenKeys { id: open(&keys.id)?, access: open(&keys.access)?, accepted, kids });
        self.key_cache.lock().map_err(Error::internal)?.insert(pool.id.clone(), opened.clone());
        Ok(opened)
    }
}
