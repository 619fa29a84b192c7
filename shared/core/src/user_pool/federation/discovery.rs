//! An OIDC provider's endpoints: from its discovery document
//! (`{oidc_issuer}/.well-known/openid-configuration`, fetched when the provider is created or
//! changed, as Cognito does), each overridden by the URL given in ProviderDetails. Without a
//! reachable discovery document, all four URLs must be given.

use super::records::{check_url, ProviderType};
use crate::error::{Error, Result};
use crate::ports::WebRequest;
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    pub issuer: String,
    pub authorize: String,
    pub token: String,
    /// The userinfo endpoint (`attributes_url`), when the provider has one.
    pub userinfo: Option<String>,
    pub jwks: String,
    /// The provider takes PKCE S256 (`code_challenge_methods_supported`).
    #[serde(default)]
    pub pkce: bool,
}

const GIVEN: [(&str, &str); 4] = [
    ("authorize_url", "authorization_endpoint"),
    ("token_url", "token_endpoint"),
    ("attributes_url", "userinfo_endpoint"),
    ("jwks_uri", "jwks_uri"),
];

fn unreachable_discovery(issuer: &str, why: &str) -> Error {
    tracing::info!(issuer, why, "OIDC discovery failed");
    Error::invalid(format!(
        "Unable to contact well-known endpoint ({issuer}/.well-known/openid-configuration: {why}). Give authorize_url, token_url, attributes_url and jwks_uri instead."
    ))
}

/// The endpoints of a provider of `provider_type` with these (already checked) details.
pub async fn endpoints(
    svc: &Service,
    provider_type: ProviderType,
    details: &BTreeMap<String, String>,
) -> Result<Endpoints> {
    match provider_type {
        ProviderType::Oidc => {}
        ProviderType::Saml => return Ok(Endpoints::default()),
        social => return Ok(super::social::endpoints(svc, social, details)),
    }
    let issuer = details.get("oidc_issuer").cloned().unwrap_or_default();
    let all_given = GIVEN.iter().all(|(k, _)| details.contains_key(*k));
    let document = if all_given { None } else { Some(discover(svc, &issuer).await?) };
    let loopback = svc.config.loopback_http_providers;
    let pick = |key: &str, member: &str| -> Result<Option<String>> {
        let url = details.get(key).cloned().or_else(|| {
            document.as_ref().and_then(|d| d.get(member)).and_then(|v| v.as_str()).map(str::to_string)
        });
        if let Some(url) = &url {
            check_url(&format!("The discovery document's {member}"), url, loopback)?;
        }
        Ok(url)
    };
    let required = |key: &str, member: &str| -> Result<String> {
        pick(key, member)?.ok_or_else(|| {
            Error::invalid(format!("The discovery document of {issuer} has no {member}; give {key}."))
        })
    };
    let pkce = document
        .as_ref()
        .and_then(|d| d.get("code_challenge_methods_supported"))
        .and_then(|v| v.as_array())
        .is_some_and(|methods| methods.iter().any(|m| m == "S256"));
    Ok(Endpoints {
        issuer: issuer.clone(),
        authorize: required("authorize_url", "authorization_endpoint")?,
        token: required("token_url", "token_endpoint")?,
        userinfo: pick("attributes_url", "userinfo_endpoint")?,
        jwks: required("jwks_uri", "jwks_uri")?,
        pkce,
    })
}

async fn discover(svc: &Service, issuer: &str) -> Result<serde_json::Value> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let request = WebRequest {
        method: "GET",
        url,
        headers: vec![("accept".into(), "application/json".into())],
        body: vec![],
    };
    let answer = svc.web(request).await.map_err(|e| unreachable_discovery(issuer, &e))?;
    if answer.status != 200 {
        return Err(unreachable_discovery(issuer, &format!("HTTP {}", answer.status)));
    }
    let document: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| unreachable_discovery(issuer, "the answer is not JSON"))?;
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    let named = document.get("issuer").and_then(|v| v.as_str()).unwrap_or_default();
    if named != issuer {
        return Err(Error::invalid(format!(
            "The discovery document of {issuer} names another issuer ({named}); oidc_issuer must be the provider's issuer exactly."
        )));
    }
    Ok(document)
}
