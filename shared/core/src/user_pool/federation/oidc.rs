//! Signing in through an OIDC provider: `/oauth2/authorize` sends the browser to the provider
//! with a fresh `state`, `nonce` and PKCE verifier (kept server-side, bound to the browser by a
//! cookie), and `/oauth2/idpresponse` takes the provider's code back, exchanges it, checks the
//! ID token (signature against the provider's JWKS, iss, aud, exp, nonce), reads userinfo, and
//! signs the federated user in as the hosted pages do.

use super::flow::{self, random, STATE_TTL_SECS};
use super::records::{IdentityProvider, ProviderType};
use super::users::Subject;
use crate::error::{Error, Result};
use crate::keys;
use crate::ports::WebRequest;
use crate::service::{CallContext, Service};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::authorize::{error_redirect, ValidAuthorize};
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse, SetCookie};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
/// The cookie that ties the provider's answer to the browser that was sent there (no login
/// CSRF: an attacker's own `state` is useless in a victim's browser).
pub const STATE_COOKIE: &str = "cognito-fed";
/// Clock skew allowed on the provider's ID token.
const LEEWAY_SECS: u64 = 60;

/// What `/oauth2/idpresponse` needs to finish, stored under the SHA-256 of `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FederationState {
    pool_id: String,
    provider: String,
    /// The app's authorize request, as its query.
    authorize: String,
    nonce: String,
    verifier: Option<String>,
    redirect_uri: String,
}

impl flow::SignInState for FederationState {
    fn pool_id(&self) -> &str {
        &self.pool_id
    }
    fn authorize(&self) -> &str {
        &self.authorize
    }
}

/// The provider's callback on this domain (what is registered at the provider).
pub fn callback_url(req: &DomainRequest) -> String {
    format!("{}/oauth2/idpresponse", req.base_url)
}

/// Sends the browser to the provider's authorization endpoint.
pub async fn start(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    provider: &IdentityProvider,
) -> Result<DomainResponse> {
    let endpoints = &provider.endpoints;
    let state = random(svc);
    let nonce = random(svc);
    let verifier = endpoints.pkce.then(|| random(svc));
    let redirect_uri = callback_url(req);
    let record = FederationState {
        pool_id: provider.pool_id.clone(),
        provider: provider.name.clone(),
        authorize: valid.params.query(),
        nonce: nonce.clone(),
        verifier: verifier.clone(),
        redirect_uri: redirect_uri.clone(),
    };
    flow::save_state(svc, &state, keys::FEDERATION_STATE_SK, &record).await?;
    let client_id = provider.detail(svc.cipher.as_ref(), "client_id")?.unwrap_or_default();
    let scopes = provider.detail(svc.cipher.as_ref(), "authorize_scopes")?.unwrap_or_default();
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &scopes)
        .append_pair("state", &state);
    if provider.provider_type.has_id_token() {
        q.append_pair("nonce", &nonce);
    }
    // Apple answers by form_post when scopes are asked for (it requires it then): a POST from
    // its site, so the state cookie must come with cross-site POSTs.
    let form_post = provider.provider_type == ProviderType::SignInWithApple && !scopes.trim().is_empty();
    if form_post {
        q.append_pair("response_mode", "form_post");
    }
    if let Some(verifier) = &verifier {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        q.append_pair("code_challenge", &challenge).append_pair("code_challenge_method", "S256");
    }
    let separator = if endpoints.authorize.contains('?') { '&' } else { '?' };
    let location = format!("{}{separator}{}", endpoints.authorize, q.finish());
    Ok(DomainResponse::redirect(location).with_cookie(SetCookie {
        name: STATE_COOKIE.into(),
        value: state,
        max_age_secs: Some(STATE_TTL_SECS),
        cross_site: form_post,
    }))
}

/// `GET /oauth2/idpresponse`: the provider's answer.
pub async fn idp_response(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let fields = req.form.as_deref().unwrap_or(&req.query);
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let resumed = flow::resume::<FederationState>(
        svc,
        domain,
        req,
        get("state"),
        keys::FEDERATION_STATE_SK,
        STATE_COOKIE,
    )
    .await?;
    let (record, valid) = match resumed {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let clear = flow::cleared(STATE_COOKIE);
    if let Some(error) = get("error") {
        // The provider refused (the user cancelled, …): the app hears it, as from Cognito.
        let description = get("error_description").unwrap_or(error);
        return Ok(error_redirect(&valid.params, "invalid_request", description).with_cookie(clear));
    }
    let Some(code) = get("code").filter(|c| !c.is_empty()) else {
        return Ok(error_redirect(
            &valid.params,
            "invalid_request",
            "The identity provider answered without a code.",
        )
        .with_cookie(clear));
    };
    let Some((provider, _)) = super::records::find(svc, &record.pool_id, &record.provider).await? else {
        return Ok(error_redirect(
            &valid.params,
            "invalid_request",
            "The identity provider no longer exists.",
        )
        .with_cookie(clear));
    };
    let claims = match provider_claims(svc, &provider, &record, code, get("user")).await {
        Ok(c) => c,
        Err(failure) => {
            tracing::info!(provider = %provider.name, reason = %failure, "federated sign-in refused");
            return Ok(error_redirect(&valid.params, "invalid_request", &failure).with_cookie(clear));
        }
    };
    let subject = match Subject::of_claims(&provider, &claims) {
        Ok(s) => s,
        Err(e) => return Ok(error_redirect(&valid.params, "invalid_request", e.message()).with_cookie(clear)),
    };
    flow::finish(svc, ctx, domain, &valid, &provider, &subject, &claims, clear, None).await
}

/// The provider's claims about the user: its ID token's (checked), then its userinfo answer's;
/// for Facebook and Login with Amazon, their profile answer's. `user` is what Apple posts with
/// a user's first sign-in (the name, which its ID token never carries). `Err` is why the
/// sign-in is refused, fit to show the app.
async fn provider_claims(
    svc: &Service,
    provider: &IdentityProvider,
    record: &FederationState,
    code: &str,
    user: Option<&str>,
) -> std::result::Result<Map<String, Value>, String> {
    let internal = |e: Error| e.message().to_string();
    let cipher = svc.cipher.as_ref();
    let client_id = provider.detail(cipher, "client_id").map_err(internal)?.unwrap_or_default();
    let secret = match provider.provider_type {
        ProviderType::SignInWithApple => Some(super::social::apple_client_secret(
            &provider.detail(cipher, "private_key").map_err(internal)?.unwrap_or_default(),
            provider.details.get("key_id").map(String::as_str).unwrap_or_default(),
            provider.details.get("team_id").map(String::as_str).unwrap_or_default(),
            &client_id,
            &provider.endpoints.issuer,
            svc.now_secs(),
        )?),
        _ => provider.detail(cipher, "client_secret").map_err(internal)?,
    };
    // (A block: the serializer must not live across an await.)
    let fields = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &record.redirect_uri)
            .append_pair("client_id", &client_id);
        // client_secret_post, as Cognito sends it.
        if let Some(secret) = &secret {
            form.append_pair("client_secret", secret);
        }
        if let Some(verifier) = &record.verifier {
            form.append_pair("code_verifier", verifier);
        }
        form.finish()
    };
    // Facebook's token endpoint takes GET (its token_request_method), the others POST.
    let request = if provider.provider_type == ProviderType::Facebook {
        WebRequest {
            method: "GET",
            url: format!("{}?{fields}", provider.endpoints.token),
            headers: vec![("accept".into(), "application/json".into())],
            body: vec![],
        }
    } else {
        WebRequest {
            method: "POST",
            url: provider.endpoints.token.clone(),
            headers: vec![
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: fields.into_bytes(),
        }
    };
    let answer = svc
        .web(request)
        .await
        .map_err(|e| format!("The identity provider's token endpoint could not be reached: {e}"))?;
    let tokens: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status != 200 {
        let error = tokens.get("error").and_then(Value::as_str).unwrap_or("no error code");
        return Err(format!("The identity provider refused the code (HTTP {}, {error}).", answer.status));
    }
    if !provider.provider_type.has_id_token() {
        let access_token = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or("The identity provider answered without an access_token.")?;
        return profile(svc, provider, access_token).await;
    }
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or("The identity provider answered without an id_token.")?;
    let mut claims = check_id_token(svc, provider, &client_id, &record.nonce, id_token).await?;
    let access_token = tokens.get("access_token").and_then(Value::as_str);
    if let (Some(url), Some(access_token)) = (&provider.endpoints.userinfo, access_token) {
        let info = userinfo(svc, provider, url, access_token).await?;
        // OpenID Connect Core §5.3.2: the userinfo answer is about the ID token's subject.
        if info.get("sub") != claims.get("sub") {
            return Err("The identity provider's userinfo answer is about another user.".into());
        }
        claims.extend(info);
    }
    if let Some(user) = user.filter(|_| provider.provider_type == ProviderType::SignInWithApple) {
        claims.extend(apple_user(user));
    }
    Ok(claims)
}

/// What Apple posts about a user at the first sign-in (`{"name":{"firstName","lastName"},
/// "email"}`), as claims: `firstName`, `lastName`, and `name` (both). Unreadable: nothing.
fn apple_user(user: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    let Ok(Value::Object(user)) = serde_json::from_str::<Value>(user) else { return claims };
    let part = |k: &str| user.get("name").and_then(|n| n.get(k)).and_then(Value::as_str).map(str::to_string);
    let (first, last) = (part("firstName"), part("lastName"));
    if let Some(first) = &first {
        claims.insert("firstName".into(), Value::String(first.clone()));
    }
    if let Some(last) = &last {
        claims.insert("lastName".into(), Value::String(last.clone()));
    }
    let name: Vec<String> = [first, last].into_iter().flatten().collect();
    if !name.is_empty() {
        claims.insert("name".into(), Value::String(name.join(" ")));
    }
    claims
}

/// Facebook's and Login with Amazon's account of the user: Facebook's Graph API `me` with the
/// fields the mapping reads (and `id`), Amazon's `user/profile`; the access token as a Bearer.
async fn profile(
    svc: &Service,
    provider: &IdentityProvider,
    access_token: &str,
) -> std::result::Result<Map<String, Value>, String> {
    let base = provider.endpoints.userinfo.clone().unwrap_or_default();
    let url = if provider.provider_type == ProviderType::Facebook {
        let mut fields = vec!["id".to_string()];
        for claim in provider.attribute_mapping.values() {
            if !fields.contains(claim) {
                fields.push(claim.clone());
            }
        }
        let fields: String = form_urlencoded::byte_serialize(fields.join(",").as_bytes()).collect();
        format!("{base}{}fields={fields}", if base.contains('?') { '&' } else { '?' })
    } else {
        base
    };
    let answer = svc
        .web(WebRequest {
            method: "GET",
            url,
            headers: vec![
                ("authorization".into(), format!("Bearer {access_token}")),
                ("accept".into(), "application/json".into()),
            ],
            body: vec![],
        })
        .await
        .map_err(|e| format!("The identity provider's profile endpoint could not be reached: {e}"))?;
    if answer.status != 200 {
        return Err(format!("The identity provider's profile endpoint answered HTTP {}.", answer.status));
    }
    match serde_json::from_slice(&answer.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("The identity provider's profile answer is not a JSON object.".into()),
    }
}

/// Algorithms an ID token may be signed with: asymmetric only (an HMAC "signature" keyed with
/// a public key is the classic confusion attack).
const ALGORITHMS: &[jsonwebtoken::Algorithm] = &[
    jsonwebtoken::Algorithm::RS256,
    jsonwebtoken::Algorithm::RS384,
    jsonwebtoken::Algorithm::RS512,
    jsonwebtoken::Algorithm::PS256,
    jsonwebtoken::Algorithm::PS384,
    jsonwebtoken::Algorithm::PS512,
    jsonwebtoken::Algorithm::ES256,
    jsonwebtoken::Algorithm::ES384,
    jsonwebtoken::Algorithm::EdDSA,
];

async fn check_id_token(
    svc: &Service,
    provider: &IdentityProvider,
    client_id: &str,
    nonce: &str,
    id_token: &str,
) -> std::result::Result<Map<String, Value>, String> {
    let bad = |why: &str| format!("The identity provider's id_token is not valid: {why}.");
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| bad("malformed"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(bad(&format!("it is signed with {:?}, not a public-key algorithm", header.alg)));
    }
    let answer = svc
        .web(WebRequest { method: "GET", url: provider.endpoints.jwks.clone(), ..Default::default() })
        .await
        .map_err(|e| format!("The identity provider's keys could not be fetched: {e}"))?;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&answer.body)
        .map_err(|_| "The identity provider's JWKS is not valid.".to_string())?;
    let jwk = match header.kid.as_deref() {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| bad("signed with a key the provider does not publish"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| bad("its key cannot be read"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[provider.endpoints.issuer.as_str()]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Times against the service's clock (checked below), as every other expiry here.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
        .map_err(|e| bad(&e.to_string()))?;
    let claims = data.claims;
    let now = svc.now_secs();
    let leeway = LEEWAY_SECS as i64;
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp + leeway < now) {
        return Err(bad("it has expired"));
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf - leeway > now) {
        return Err(bad("it is not valid yet"));
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(bad("its nonce is not this sign-in's"));
    }
    if claims.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(bad("it has no sub"));
    }
    Ok(claims)
}

async fn userinfo(
    svc: &Service,
    provider: &IdentityProvider,
    url: &str,
    access_token: &str,
) -> std::result::Result<Map<String, Value>, String> {
    let method = if provider.details.get("attributes_request_method").map(String::as_str) == Some("POST") {
        "POST"
    } else {
        "GET"
    };
    let answer = svc
        .web(WebRequest {
            method,
            url: url.to_string(),
            headers: vec![
                ("authorization".into(), format!("Bearer {access_token}")),
                ("accept".into(), "application/json".into()),
            ],
            body: vec![],
        })
        .await
        .map_err(|e| format!("The identity provider's userinfo endpoint could not be reached: {e}"))?;
    if answer.status != 200 {
        return Err(format!("The identity provider's userinfo endpoint answered HTTP {}.", answer.status));
    }
    match serde_json::from_slice(&answer.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("The identity provider's userinfo answer is not a JSON object.".into()),
    }
}
