//! The stored user-pool domain, and how a request's host finds its pool.

use crate::error::{Error, Result};
use crate::model::keys;
use crate::service::Service;
use serde::{Deserialize, Serialize};

/// A user-pool domain: a prefix (`myapp`, served at `myapp.{prefix_base}`) or a custom domain
/// (`auth.example.com`, with the certificate it is served with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPoolDomain {
    pub domain: String,
    pub pool_id: String,
    /// Set for a custom domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_policy: Option<String>,
    /// 1: the classic hosted UI, which is what Tessera serves.
    pub managed_login_version: i64,
    /// Epoch ms.
    pub created: i64,
    pub modified: i64,
}

impl UserPoolDomain {
    pub fn is_custom(&self) -> bool {
        self.certificate_arn.is_some()
    }
}

pub async fn get(svc: &Service, domain: &str) -> Result<Option<(UserPoolDomain, u64)>> {
    svc.get_json::<UserPoolDomain>(&keys::user_pool_domain(domain), keys::USER_POOL_DOMAIN_SK).await
}

/// Which of a deployment's auth domains a request's host names: a prefix domain
/// (`p.{prefix_base}`) or a custom domain (any other host). None: neither (e.g. the API host).
pub fn domain_of_host(svc: &Service, host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let base = &svc.config.auth_domains.prefix_base;
    if let Some(prefix) = host.strip_suffix(base.as_str()).and_then(|p| p.strip_suffix('.')) {
        return (!prefix.is_empty() && !prefix.contains('.')).then(|| prefix.to_string());
    }
    host.contains('.').then_some(host)
}

/// The domain record a host or a path-scoped name (`/_auth/{domain}`) names, if it is live.
pub async fn resolve(svc: &Service, domain: &str) -> Result<UserPoolDomain> {
    let unknown = || Error::ResourceNotFoundException(format!("No user pool domain {domain}."));
    let (record, _) = get(svc, domain).await?.ok_or_else(unknown)?;
    Ok(record)
}

/// The host a domain is served at: the prefix under the deployment's base, or the custom
/// domain itself.
pub fn host_of(svc: &Service, domain: &UserPoolDomain) -> String {
    if domain.is_custom() {
        domain.domain.clone()
    } else {
        format!("{}.{}", domain.domain, svc.config.auth_domains.prefix_base)
    }
}

/// The URL a pool's domain is advertised at (the openid-configuration's endpoints): its custom
/// domain if it has one, else its prefix domain; None without a domain.
pub fn advertised_url(svc: &Service, pool: &crate::model::UserPool, issuer_base: &str) -> Option<String> {
    let custom = pool.settings.custom_domain.as_deref();
    let name = custom.or(pool.settings.domain.as_deref())?;
    let config = &svc.config.auth_domains;
    let base = issuer_base.trim_end_matches('/');
    let base = match base.strip_prefix("http://") {
        Some(rest) if config.https => format!("https://{rest}"),
        _ => base.to_string(),
    };
    if config.path_scoped_urls {
        return Some(format!("{base}/_auth/{name}"));
    }
    let scheme = if base.starts_with("http://") { "http" } else { "https" };
    let host = if custom.is_some() { name.to_string() } else { format!("{name}.{}", config.prefix_base) };
    let port = config.port.map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{scheme}://{host}{port}"))
}
