//! Scopes: the reserved ones every pool has, custom ones (`{resourceServerId}/{scopeName}`)
//! from resource servers, and what a request is granted (spec A §3.3 and §5.3):
//!
//! - a scope the client may not ask for, or one that does not exist at all: `invalid_scope`;
//! - a custom scope the client may ask for but whose server no longer has it: dropped;
//! - no scope asked for: everything the client may ask for (for client_credentials, its custom
//!   scopes only);
//! - `email`, `phone` and `profile` need `openid`; client_credentials takes custom scopes only.

use crate::error::{Error, Result};
use crate::model::{keys, AppClient};
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub use crate::user_pool::triggers::token_generation::USER_API_SCOPE;

/// Scopes every pool has.
pub const RESERVED_SCOPES: &[&str] = &["phone", "email", "openid", "profile", USER_API_SCOPE];

/// `ResourceServerScopeType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceServerScope {
    pub scope_name: String,
    pub scope_description: String,
}

/// A resource server as stored (`ResourceServerType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceServer {
    pub pool_id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ResourceServerScope>,
}

pub fn is_reserved(scope: &str) -> bool {
    RESERVED_SCOPES.contains(&scope)
}

/// Every custom scope the pool's resource servers define now.
pub async fn existing_custom_scopes(svc: &Service, pool_id: &str) -> Result<BTreeSet<String>> {
    let mut scopes = BTreeSet::new();
    let mut start: Option<String> = None;
    loop {
        let page = svc
            .store
            .query(&keys::resource_servers(pool_id), "", start.as_deref(), 100, svc.now_secs())
            .await?;
        for entry in page.items {
            let server: ResourceServer = serde_json::from_value(entry.body).map_err(Error::internal)?;
            scopes.extend(server.scopes.iter().map(|s| format!("{}/{}", server.identifier, s.scope_name)));
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(scopes),
        }
    }
}

/// Create/UpdateUserPoolClient: every allowed scope must exist when it is set.
pub async fn check_client_scopes(svc: &Service, pool_id: &str, scopes: &[String]) -> Result<()> {
    let custom: Vec<&String> = scopes.iter().filter(|s| !is_reserved(s)).collect();
    if custom.is_empty() {
        return Ok(());
    }
    let existing = existing_custom_scopes(svc, pool_id).await?;
    match custom.into_iter().find(|s| !existing.contains(*s)) {
        Some(scope) => Err(Error::ScopeDoesNotExistException(format!("Invalid scope requested: {scope}"))),
        None => Ok(()),
    }
}

/// What a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// A user's sign-in through `/oauth2/authorize` (code or implicit).
    User,
    /// `client_credentials`: custom scopes only.
    ClientCredentials,
}

/// Why the requested scopes cannot be granted: the OAuth `invalid_scope` error's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidScope(pub String);

/// The scopes granted for a request's space-separated `scope` (None or blank: all the client
/// may ask for), in the order asked (the client's order when none were asked).
pub async fn grant(
    svc: &Service,
    client: &AppClient,
    requested: Option<&str>,
    kind: GrantKind,
) -> Result<std::result::Result<Vec<String>, InvalidScope>> {
    let allowed: &[String] = client.settings.allowed_oauth_scopes.as_deref().unwrap_or_default();
    let asked: Vec<&str> = match requested.map(str::split_ascii_whitespace) {
        Some(words) => {
            let mut seen = Vec::new();
            for w in words {
                if !seen.contains(&w) {
                    seen.push(w);
                }
            }
            seen
        }
        None => vec![],
    };
    let asked: Vec<&str> = if asked.is_empty() {
        allowed.iter().map(String::as_str).filter(|s| kind == GrantKind::User || !is_reserved(s)).collect()
    } else {
        for scope in &asked {
            if !allowed.iter().any(|a| a == scope) {
                return Ok(Err(InvalidScope(format!("The scope {scope} is not allowed for this client."))));
            }
            if kind == GrantKind::ClientCredentials && is_reserved(scope) {
                return Ok(Err(InvalidScope(format!(
                    "The scope {scope} cannot be granted to client_credentials: only custom scopes can."
                ))));
            }
        }
        asked
    };
    if kind == GrantKind::User
        && !asked.contains(&"openid")
        && asked.iter().any(|s| matches!(*s, "email" | "phone" | "profile"))
    {
        return Ok(Err(InvalidScope("The scopes email, phone and profile need openid.".into())));
    }
    let existing = if asked.iter().any(|s| !is_reserved(s)) {
        existing_custom_scopes(svc, &client.pool_id).await?
    } else {
        BTreeSet::new()
    };
    let granted: Vec<String> =
        asked.into_iter().filter(|s| is_reserved(s) || existing.contains(*s)).map(str::to_string).collect();
    if granted.is_empty() {
        return Ok(Err(InvalidScope("None of the requested scopes exist.".into())));
    }
    Ok(Ok(granted))
}
