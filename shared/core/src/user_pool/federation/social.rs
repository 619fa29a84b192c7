//! The social providers (Google, Facebook, Login with Amazon, Sign in with Apple): their fixed
//! endpoints, what DescribeIdentityProvider shows for them (Cognito's values, from the API
//! model's ProviderDetails documentation), and Apple's client secret.
//!
//! Google and Apple are OpenID Connect: their ID token is checked as any OIDC provider's (and
//! Google's userinfo read). Facebook and Login with Amazon are OAuth 2.0 with a profile call
//! (Facebook's Graph API `me` with the mapped fields, Amazon's `user/profile`).

use super::discovery::Endpoints;
use super::records::ProviderType;
use crate::error::{Error, Result};
use crate::service::Service;
use std::collections::BTreeMap;

/// Facebook's Graph API version when `api_version` is not given.
pub const FACEBOOK_DEFAULT_VERSION: &str = "v17.0";

fn facebook_version(details: &BTreeMap<String, String>) -> &str {
    details.get("api_version").map_or(FACEBOOK_DEFAULT_VERSION, String::as_str)
}

/// The keys Describe adds for a social type, with Cognito's values.
pub fn shown(provider_type: ProviderType, details: &BTreeMap<String, String>) -> Vec<(&'static str, String)> {
    let v = facebook_version(details);
    let pairs: Vec<(&'static str, String)> = match provider_type {
        ProviderType::Google => vec![
            ("attributes_url", "https://people.googleapis.com/v1/people/me?personFields=".into()),
            ("attributes_url_add_attributes", "true".into()),
            ("authorize_url", "https://accounts.google.com/o/oauth2/v2/auth".into()),
            ("oidc_issuer", "https://accounts.google.com".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://www.googleapis.com/oauth2/v4/token".into()),
        ],
        ProviderType::Facebook => vec![
            ("attributes_url", format!("https://graph.facebook.com/{v}/me?fields=")),
            ("attributes_url_add_attributes", "true".into()),
            ("authorize_url", format!("https://www.facebook.com/{v}/dialog/oauth")),
            ("token_request_method", "GET".into()),
            ("token_url", format!("https://graph.facebook.com/{v}/oauth/access_token")),
        ],
        ProviderType::LoginWithAmazon => vec![
            ("attributes_url", "https://api.amazon.com/user/profile".into()),
            ("attributes_url_add_attributes", "false".into()),
            ("authorize_url", "https://www.amazon.com/ap/oa".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://api.amazon.com/auth/o2/token".into()),
        ],
        ProviderType::SignInWithApple => vec![
            ("attributes_url_add_attributes", "false".into()),
            ("authorize_url", "https://appleid.apple.com/auth/authorize".into()),
            ("oidc_issuer", "https://appleid.apple.com".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://appleid.apple.com/auth/token".into()),
        ],
        ProviderType::Oidc | ProviderType::Saml => vec![],
    };
    pairs
}

/// Whether `key` is one Describe adds for this social type (sent back, it is not stored).
pub fn is_shown_key(provider_type: ProviderType, key: &str) -> bool {
    shown(provider_type, &BTreeMap::new()).iter().any(|(k, _)| *k == key)
}

/// The endpoints sign-in uses: the provider's own, or the stand-in the local server was given.
pub fn endpoints(
    svc: &Service,
    provider_type: ProviderType,
    details: &BTreeMap<String, String>,
) -> Endpoints {
    if let Some(stand_in) = svc.config.social_endpoints.get(provider_type.as_str()) {
        return stand_in.clone();
    }
    let v = facebook_version(details);
    match provider_type {
        ProviderType::Google => Endpoints {
            issuer: "https://accounts.google.com".into(),
            authorize: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token: "https://www.googleapis.com/oauth2/v4/token".into(),
            // Google's OpenID Connect userinfo: its claims are the OIDC names the mapping uses.
            userinfo: Some("https://openidconnect.googleapis.com/v1/userinfo".into()),
            jwks: "https://www.googleapis.com/oauth2/v3/certs".into(),
            pkce: true,
        },
        ProviderType::Facebook => Endpoints {
            issuer: String::new(),
            authorize: format!("https://www.facebook.com/{v}/dialog/oauth"),
            token: format!("https://graph.facebook.com/{v}/oauth/access_token"),
            userinfo: Some(format!("https://graph.facebook.com/{v}/me")),
            jwks: String::new(),
            pkce: false,
        },
        ProviderType::LoginWithAmazon => Endpoints {
            issuer: String::new(),
            authorize: "https://www.amazon.com/ap/oa".into(),
            token: "https://api.amazon.com/auth/o2/token".into(),
            userinfo: Some("https://api.amazon.com/user/profile".into()),
            jwks: String::new(),
            pkce: false,
        },
        ProviderType::SignInWithApple => Endpoints {
            issuer: "https://appleid.apple.com".into(),
            authorize: "https://appleid.apple.com/auth/authorize".into(),
            token: "https://appleid.apple.com/auth/token".into(),
            userinfo: None,
            jwks: "https://appleid.apple.com/auth/keys".into(),
            pkce: false,
        },
        ProviderType::Oidc | ProviderType::Saml => Endpoints::default(),
    }
}

/// The rules of a social type's details beyond the required keys.
pub fn check(provider_type: ProviderType, details: &BTreeMap<String, String>) -> Result<()> {
    match provider_type {
        ProviderType::Google => {
            let scopes = details.get("authorize_scopes").map(String::as_str).unwrap_or_default();
            if !scopes.split(' ').any(|s| s == "openid") {
                return Err(Error::invalid(
                    "authorize_scopes of a Google provider must include openid (Tessera reads the user from Google's ID token).",
                ));
            }
        }
        ProviderType::Facebook => {
            if let Some(v) = details.get("api_version") {
                let ok = v.strip_prefix('v').and_then(|n| n.split_once('.')).is_some_and(|(a, b)| {
                    !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
                });
                if !ok {
                    return Err(Error::invalid(format!("api_version must look like v17.0, not {v}.")));
                }
            }
        }
        ProviderType::SignInWithApple => {
            let key = details.get("private_key").map(String::as_str).unwrap_or_default();
            // "(kept)": an update that leaves the stored key as it is.
            // The key is tried: a secret that cannot sign is refused now, not at a user's sign-in.
            if key != "(kept)"
                && apple_client_secret(key, "k", "t", "c", "https://appleid.apple.com", 0).is_err()
            {
                return Err(Error::invalid(
                    "private_key must be the ES256 private key Apple gave (the .p8 file's contents, PEM).",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Apple's client secret: a JWT signed with the team's key (ES256, `kid` = key_id), from the
/// team (`iss`) for the Services ID (`sub`), to Apple (`aud`), valid five minutes.
pub fn apple_client_secret(
    private_key: &str,
    key_id: &str,
    team_id: &str,
    client_id: &str,
    audience: &str,
    now: i64,
) -> std::result::Result<String, String> {
    use base64::Engine as _;
    let body: String = private_key.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "The provider's private_key cannot be read.".to_string())?;
    let key = jsonwebtoken::EncodingKey::from_ec_der(&der);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key_id.to_string());
    let claims = serde_json::json!({
        "iss": team_id,
        "iat": now,
        "exp": now + 300,
        "aud": audience,
        "sub": client_id,
    });
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| format!("Apple's client secret cannot be made: {e}"))
}
