//! A pool's identity providers as stored, and the rules of each provider type: the
//! ProviderDetails keys it takes and requires, the endpoints Cognito fills in, and where the
//! username comes from.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Cognito's provider types (`IdentityProviderTypeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderType {
    #[serde(rename = "SAML")]
    Saml,
    Facebook,
    Google,
    LoginWithAmazon,
    SignInWithApple,
    #[serde(rename = "OIDC")]
    Oidc,
}

impl ProviderType {
    pub fn parse(s: &str) -> Option<ProviderType> {
        Some(match s {
            "SAML" => ProviderType::Saml,
            "Facebook" => ProviderType::Facebook,
            "Google" => ProviderType::Google,
            "LoginWithAmazon" => ProviderType::LoginWithAmazon,
            "SignInWithApple" => ProviderType::SignInWithApple,
            "OIDC" => ProviderType::Oidc,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Saml => "SAML",
            ProviderType::Facebook => "Facebook",
            ProviderType::Google => "Google",
            ProviderType::LoginWithAmazon => "LoginWithAmazon",
            ProviderType::SignInWithApple => "SignInWithApple",
            ProviderType::Oidc => "OIDC",
        }
    }

    /// The social types, which must be named as their type (`Provider X cannot be of type
    /// Google.`).
    pub fn is_social(self) -> bool {
        !matches!(self, ProviderType::Saml | ProviderType::Oidc)
    }

    /// Whether the provider's ID token (OpenID Connect) says who signed in; the others answer
    /// a profile call.
    pub fn has_id_token(self) -> bool {
        matches!(self, ProviderType::Oidc | ProviderType::Google | ProviderType::SignInWithApple)
    }

    /// The IdP claim `username` may be mapped from (spec A §9.4), and the default mapping.
    pub fn username_source(self) -> Option<&'static str> {
        match self {
            ProviderType::Facebook => Some("id"),
            ProviderType::LoginWithAmazon => Some("user_id"),
            ProviderType::Google | ProviderType::SignInWithApple | ProviderType::Oidc => Some("sub"),
            ProviderType::Saml => None,
        }
    }

    /// ProviderDetails keys a request may set.
    fn settable(self) -> &'static [&'static str] {
        match self {
            ProviderType::Oidc => &[
                "client_id",
                "client_secret",
                "authorize_scopes",
                "attributes_request_method",
                "oidc_issuer",
                "authorize_url",
                "token_url",
                "attributes_url",
                "jwks_uri",
            ],
            ProviderType::Google | ProviderType::LoginWithAmazon => {
                &["client_id", "client_secret", "authorize_scopes"]
            }
            ProviderType::Facebook => &["client_id", "client_secret", "authorize_scopes", "api_version"],
            ProviderType::SignInWithApple => {
                &["client_id", "team_id", "key_id", "private_key", "authorize_scopes"]
            }
            ProviderType::Saml => &[
                "MetadataFile",
                "MetadataURL",
                "IDPSignout",
                "IDPInit",
                "EncryptedResponses",
                "RequestSigningAlgorithm",
            ],
        }
    }

    /// The keys Cognito requires, and its message when one is missing.
    fn required(self) -> (&'static [&'static str], &'static str) {
        match self {
            ProviderType::Oidc => (
                &["client_id", "authorize_scopes", "oidc_issuer", "attributes_request_method"],
                "client_id, authorize_scopes, oidc_issuer and attributes_request_method are all required idp details",
            ),
            ProviderType::Google | ProviderType::Facebook | ProviderType::LoginWithAmazon => (
                &["client_id", "client_secret", "authorize_scopes"],
                "client_id, client_secret and authorize_scopes are all required idp details",
            ),
            ProviderType::SignInWithApple => (
                &["client_id", "private_key", "team_id", "key_id", "authorize_scopes"],
                "client_id, private_key, team_id, key_id and authorize_scopes are all required idp details",
            ),
            ProviderType::Saml => (&[], ""),
        }
    }
}

/// Keys whose values are secrets: stored sealed by the master key.
pub const SECRET_KEYS: &[&str] = &["client_secret", "private_key"];
/// Keys never shown again once set (Cognito does not echo Apple's private key).
const HIDDEN_KEYS: &[&str] = &["private_key"];
/// The purpose label of sealed provider secrets.
pub const SEAL_PURPOSE: &str = "identity-provider-secret";

/// An identity provider of a pool, as stored. `details` holds what the request set (secrets
/// sealed, base64) and the endpoints found by discovery; what Describe shows adds the keys
/// Cognito fills in ([`IdentityProvider::shown_details`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub pool_id: String,
    pub name: String,
    pub provider_type: ProviderType,
    pub details: BTreeMap<String, String>,
    /// The endpoints sign-in uses: discovered from `oidc_issuer`, or as given.
    #[serde(default)]
    pub endpoints: super::discovery::Endpoints,
    pub attribute_mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub idp_identifiers: Vec<String>,
    /// A SAML provider's IdP, read from its metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<super::saml::SamlIdp>,
    pub created: i64,
    pub modified: i64,
}

/// Provider names Tessera keeps for itself: `COGNITO` (the pool's own sign-in, in
/// SupportedIdentityProviders) and `Cognito` (AdminLinkProviderForUser's destination).
pub fn is_reserved_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("cognito")
}

/// Checks a provider's type against its name, and its details as given (creation, or the
/// merged details of an update). `loopback_http` lets an OIDC issuer on a loopback address
/// use http (the local server; never a deployment).
pub fn check_details(
    provider_type: ProviderType,
    name: &str,
    details: &BTreeMap<String, String>,
    loopback_http: bool,
) -> Result<()> {
    if is_reserved_name(name) {
        return Err(Error::invalid(format!("The provider name {name} is reserved.")));
    }
    if provider_type.is_social() && name != provider_type.as_str() {
        return Err(Error::invalid(format!("Provider {name} cannot be of type {}.", provider_type.as_str())));
    }
    let settable = provider_type.settable();
    if let Some(key) =
        details.keys().find(|k| !settable.contains(&k.as_str()) && !is_filled_in(provider_type, k))
    {
        return Err(Error::invalid(format!(
            "ProviderDetails key {key} is not valid for a {} provider (valid: {}).",
            provider_type.as_str(),
            settable.join(", ")
        )));
    }
    let (required, message) = provider_type.required();
    if required.iter().any(|k| details.get(*k).is_none_or(|v| v.trim().is_empty())) {
        return Err(Error::invalid(message));
    }
    match provider_type {
        ProviderType::Oidc => check_oidc(details, loopback_http),
        ProviderType::Saml => check_saml(details, loopback_http),
        social => super::social::check(social, details),
    }
}

/// Keys Describe shows that a request may send back unchanged (tools that round-trip the
/// described provider, like Terraform, do); they are not stored.
pub fn is_filled_in(provider_type: ProviderType, key: &str) -> bool {
    match provider_type {
        ProviderType::Oidc => key == "attributes_url_add_attributes",
        ProviderType::Saml => SAML_FILLED_IN.contains(&key),
        social => super::social::is_shown_key(social, key),
    }
}

const SAML_FILLED_IN: [&str; 3] =
    ["ActiveEncryptionCertificate", "SSORedirectBindingURI", "SLORedirectBindingURI"];

fn check_saml(details: &BTreeMap<String, String>, loopback_http: bool) -> Result<()> {
    match (details.get("MetadataFile"), details.get("MetadataURL")) {
        (None, None) => return Err(Error::invalid("A SAML provider needs MetadataFile or MetadataURL.")),
        (Some(_), Some(_)) => return Err(Error::invalid("Give MetadataFile or MetadataURL, not both.")),
        (None, Some(url)) => check_url("MetadataURL", url, loopback_http)?,
        (Some(_), None) => {}
    }
    for key in ["IDPSignout", "IDPInit", "EncryptedResponses"] {
        if let Some(v) = details.get(key).filter(|v| v.as_str() != "true" && v.as_str() != "false") {
            return Err(Error::invalid(format!("{key} must be true or false, not {v}.")));
        }
    }
    // Settings Tessera does not act on yet are refused, never stored and ignored.
    if details.get("IDPInit").map(String::as_str) == Some("true") {
        return Err(Error::invalid(
            "IDPInit true (IdP-initiated sign-in) is not supported by Tessera yet: leave it out or false.",
        ));
    }
    if let Some(alg) = details.get("RequestSigningAlgorithm").filter(|a| a.as_str() != "rsa-sha256") {
        return Err(Error::invalid(format!("RequestSigningAlgorithm must be rsa-sha256, not {alg}.")));
    }
    Ok(())
}

fn check_oidc(details: &BTreeMap<String, String>, loopback_http: bool) -> Result<()> {
    let method = details.get("attributes_request_method").map(String::as_str).unwrap_or_default();
    if method != "GET" && method != "POST" {
        return Err(Error::invalid(format!("attributes_request_method must be GET or POST, not {method}.")));
    }
    if let Some(v) = details.get("attributes_url_add_attributes").filter(|v| v.as_str() != "false") {
        return Err(Error::invalid(format!(
            "attributes_url_add_attributes is false for OIDC providers and cannot be set to {v}."
        )));
    }
    let issuer = details.get("oidc_issuer").map(String::as_str).unwrap_or_default();
    check_url("oidc_issuer", issuer, loopback_http)?;
    if issuer.ends_with('/') {
        return Err(Error::invalid("oidc_issuer must not end with /."));
    }
    for key in ["authorize_url", "token_url", "attributes_url", "jwks_uri"] {
        if let Some(url) = details.get(key) {
            check_url(key, url, loopback_http)?;
        }
    }
    let scopes = details.get("authorize_scopes").map(String::as_str).unwrap_or_default();
    if !scopes.split(' ').any(|s| s == "openid") {
        return Err(Error::invalid("authorize_scopes of an OIDC provider must include openid."));
    }
    Ok(())
}

/// An https URL, or an http one on a loopback host when `loopback_http`.
pub fn check_url(key: &str, url: &str, loopback_http: bool) -> Result<()> {
    let bad = || {
        let also = if loopback_http { " (or http on a loopback address)" } else { "" };
        Error::invalid(format!("{key} must be an https URL{also}: {url}"))
    };
    let Some((scheme, rest)) = url.split_once("://") else { return Err(bad()) };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    match scheme {
        "https" => Ok(()),
        "http" if loopback_http && is_loopback_authority(host) => Ok(()),
        _ => Err(bad()),
    }
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 or [::1], with or without a port.
pub fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                authority
            }
        }),
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl IdentityProvider {
    /// ProviderDetails as DescribeIdentityProvider shows them: secrets opened (client_secret
    /// is echoed, as Cognito does; Apple's private key is not), plus what Cognito fills in.
    pub fn shown_details(&self, cipher: &dyn crate::ports::SecretCipher) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.details {
            if HIDDEN_KEYS.contains(&k.as_str()) {
                continue;
            }
            let v = if SECRET_KEYS.contains(&k.as_str()) { open_secret(cipher, v)? } else { v.clone() };
            out.insert(k.clone(), v);
        }
        if self.provider_type == ProviderType::Oidc {
            out.insert("attributes_url_add_attributes".into(), "false".into());
        }
        for (k, v) in super::social::shown(self.provider_type, &self.details) {
            out.insert(k.into(), v);
        }
        if let Some(idp) = &self.saml {
            out.insert("ActiveEncryptionCertificate".into(), idp.encryption_certificate.clone());
            out.insert("SSORedirectBindingURI".into(), idp.sso_redirect.clone());
            if let Some(slo) = &idp.slo_redirect {
                out.insert("SLORedirectBindingURI".into(), slo.clone());
            }
        }
        Ok(out)
    }

    /// A detail's plain value (secrets opened).
    pub fn detail(&self, cipher: &dyn crate::ports::SecretCipher, key: &str) -> Result<Option<String>> {
        match self.details.get(key) {
            Some(v) if SECRET_KEYS.contains(&key) => Ok(Some(open_secret(cipher, v)?)),
            Some(v) => Ok(Some(v.clone())),
            None => Ok(None),
        }
    }

    pub fn shown(&self, cipher: &dyn crate::ports::SecretCipher) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "UserPoolId": self.pool_id,
            "ProviderName": self.name,
            "ProviderType": self.provider_type.as_str(),
            "ProviderDetails": self.shown_details(cipher)?,
            "AttributeMapping": self.attribute_mapping,
            "IdpIdentifiers": self.idp_identifiers,
            "LastModifiedDate": self.modified as f64 / 1000.0,
            "CreationDate": self.created as f64 / 1000.0,
        }))
    }
}

/// A pool's provider by name, with its version.
pub async fn find(
    svc: &crate::service::Service,
    pool_id: &str,
    name: &str,
) -> Result<Option<(IdentityProvider, u64)>> {
    svc.get_json::<IdentityProvider>(&crate::keys::identity_providers(pool_id), name).await
}

/// The provider an identifier belongs to (case-insensitive: identifiers are mostly email
/// domains).
pub async fn provider_of_identifier(
    svc: &crate::service::Service,
    pool_id: &str,
    identifier: &str,
) -> Result<Option<IdentityProvider>> {
    let key = crate::keys::idp_identifiers(pool_id);
    let Some((entry, _)) = svc.get_json::<serde_json::Value>(&key, &identifier.to_lowercase()).await? else {
        return Ok(None);
    };
    let name = entry["ProviderName"].as_str().unwrap_or_default();
    Ok(find(svc, pool_id, name).await?.map(|(p, _)| p))
}

/// Whether one of `providers` has an IdpIdentifier (the pool's first page of them is looked at:
/// the sign-in page's email box is for pools that route by identifier at all).
pub async fn has_identifiers(
    svc: &crate::service::Service,
    pool_id: &str,
    providers: &[String],
) -> Result<bool> {
    let key = crate::keys::idp_identifiers(pool_id);
    let page = svc.store.query(&key, "", None, 100, svc.now_secs()).await?;
    Ok(page
        .items
        .iter()
        .any(|i| i.body["ProviderName"].as_str().is_some_and(|name| providers.iter().any(|p| p == name))))
}

/// A client's SupportedIdentityProviders: `COGNITO` or providers of the pool; and the client
/// must be able to write what they map, since mapped attributes are written at every sign-in.
pub async fn check_client_providers(
    svc: &crate::service::Service,
    pool_id: &str,
    providers: &[String],
    write_attributes: Option<&[String]>,
) -> Result<()> {
    for name in providers.iter().filter(|p| p.as_str() != "COGNITO") {
        let Some((provider, _)) = find(svc, pool_id, name).await? else {
            return Err(Error::invalid(format!(
                "The provider {name} does not exist for User Pool {pool_id}."
            )));
        };
        let Some(writable) = write_attributes else { continue };
        if let Some(attribute) =
            provider.attribute_mapping.keys().find(|a| a.as_str() != "username" && !writable.contains(a))
        {
            return Err(Error::invalid(format!(
                "The client cannot write {attribute}, which the identity provider {name} maps: add it to WriteAttributes."
            )));
        }
    }
    Ok(())
}

pub fn seal_secret(cipher: &dyn crate::ports::SecretCipher, plain: &str) -> Result<String> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.encode(cipher.seal(SEAL_PURPOSE, plain.as_bytes())?))
}

fn open_secret(cipher: &dyn crate::ports::SecretCipher, sealed: &str) -> Result<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(Error::internal)?;
    String::from_utf8(cipher.open(SEAL_PURPOSE, &bytes)?).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut d: BTreeMap<String, String> = [
            ("client_id", "c"),
            ("authorize_scopes", "openid email"),
            ("oidc_issuer", "https://idp.example.com"),
            ("attributes_request_method", "GET"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            d.insert(k.to_string(), v.to_string());
        }
        d
    }

    fn refused(details: &BTreeMap<String, String>, loopback: bool) -> String {
        match check_details(ProviderType::Oidc, "Corp", details, loopback) {
            Err(e) => e.message().to_string(),
            Ok(()) => String::new(),
        }
    }

    #[test]
    fn oidc_details_follow_cognitos_rules() {
        assert_eq!(refused(&oidc(&[]), false), "");
        let mut missing = oidc(&[]);
        missing.remove("oidc_issuer");
        assert!(refused(&missing, false).contains("are all required idp details"));
        assert!(refused(&oidc(&[("oidc_issuer", "http://idp.example.com")]), false).contains("https URL"));
        assert!(refused(&oidc(&[("oidc_issuer", "https://idp.example.com/")]), false).contains("end with /"));
        assert!(refused(&oidc(&[("attributes_request_method", "PUT")]), false).contains("GET or POST"));
        assert!(refused(&oidc(&[("authorize_scopes", "email")]), false).contains("openid"));
        assert!(refused(&oidc(&[("unknown", "x")]), false).contains("ProviderDetails key unknown"));
        // A loopback issuer over http: only where the server allows it (the local one).
        let local = oidc(&[("oidc_issuer", "http://127.0.0.1:4000")]);
        assert!(refused(&local, false).contains("https URL"));
        assert_eq!(refused(&local, true), "");
        assert_eq!(refused(&oidc(&[("oidc_issuer", "http://localhost:4000/oidc")]), true), "");
        assert!(refused(&oidc(&[("oidc_issuer", "http://127.0.0.1.evil.com")]), true).contains("https URL"));
        assert!(refused(&oidc(&[("oidc_issuer", "http://user@127.0.0.1")]), true).contains("https URL"));
    }

    #[test]
    fn saml_details_follow_cognitos_rules() {
        let saml = |pairs: &[(&str, &str)]| -> String {
            let d = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            match check_details(ProviderType::Saml, "Corp", &d, false) {
                Err(e) => e.message().to_string(),
                Ok(()) => String::new(),
            }
        };
        assert_eq!(saml(&[("MetadataFile", "<x/>")]), "");
        assert_eq!(
            saml(&[("MetadataURL", "https://idp.example.com/md"), ("EncryptedResponses", "true")]),
            ""
        );
        assert!(saml(&[]).contains("needs MetadataFile or MetadataURL"));
        assert!(saml(&[("MetadataFile", "<x/>"), ("MetadataURL", "https://i/m")]).contains("not both"));
        assert!(saml(&[("MetadataURL", "http://idp.example.com/md")]).contains("https URL"));
        assert!(saml(&[("MetadataFile", "<x/>"), ("EncryptedResponses", "yes")]).contains("true or false"));
        assert!(saml(&[("MetadataFile", "<x/>"), ("IDPInit", "true")]).contains("IDPInit true"));
        assert_eq!(saml(&[("MetadataFile", "<x/>"), ("IDPSignout", "true")]), "");
        assert!(
            saml(&[("MetadataFile", "<x/>"), ("RequestSigningAlgorithm", "rsa-sha1")]).contains("rsa-sha256")
        );
        assert!(
            saml(&[("MetadataFile", "<x/>"), ("client_id", "c")]).contains("ProviderDetails key client_id")
        );
        // What Describe shows may be sent back unchanged.
        assert_eq!(saml(&[("MetadataFile", "<x/>"), ("SSORedirectBindingURI", "https://i/sso")]), "");
    }

    #[test]
    fn social_types_are_named_as_their_type() {
        let d = BTreeMap::new();
        let e =
            check_details(ProviderType::Google, "MyGoogle", &d, false).err().map(|e| e.message().to_string());
        assert_eq!(e.as_deref(), Some("Provider MyGoogle cannot be of type Google."));
        let e =
            check_details(ProviderType::Google, "Google", &d, false).err().map(|e| e.message().to_string());
        assert_eq!(
            e.as_deref(),
            Some("client_id, client_secret and authorize_scopes are all required idp details")
        );
        let social = |t: ProviderType, pairs: &[(&str, &str)]| -> String {
            let d = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            match check_details(t, t.as_str(), &d, false) {
                Err(e) => e.message().to_string(),
                Ok(()) => String::new(),
            }
        };
        let keys = [("client_id", "c"), ("client_secret", "s")];
        let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
            keys.iter().chain(extra).copied().collect()
        };
        assert_eq!(social(ProviderType::Google, &with(&[("authorize_scopes", "openid email")])), "");
        assert!(social(ProviderType::Google, &with(&[("authorize_scopes", "email")])).contains("openid"));
        assert_eq!(
            social(ProviderType::Facebook, &with(&[("authorize_scopes", "public_profile, email")])),
            ""
        );
        let fb = with(&[("authorize_scopes", "email"), ("api_version", "17")]);
        assert!(social(ProviderType::Facebook, &fb).contains("api_version"));
        // Describe's keys may come back; others may not.
        assert_eq!(
            social(
                ProviderType::LoginWithAmazon,
                &with(&[("authorize_scopes", "profile"), ("token_request_method", "POST")])
            ),
            ""
        );
        assert!(social(
            ProviderType::LoginWithAmazon,
            &with(&[("authorize_scopes", "profile"), ("jwks_uri", "x")])
        )
        .contains("jwks_uri"));
        let apple = [
            ("client_id", "c"),
            ("team_id", "T"),
            ("key_id", "K"),
            ("authorize_scopes", "email"),
            ("private_key", "nope"),
        ];
        assert!(social(ProviderType::SignInWithApple, &apple).contains("ES256 private key"));
        let e =
            check_details(ProviderType::Oidc, "COGNITO", &d, false).err().map(|e| e.message().to_string());
        assert_eq!(e.as_deref(), Some("The provider name COGNITO is reserved."));
    }
}
