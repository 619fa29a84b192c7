//! Signing in through a SAML 2.0 identity provider, SP-initiated (spec A §9.3).
//!
//! `/oauth2/authorize` sends the browser to the IdP's HTTP-Redirect SingleSignOnService with an
//! AuthnRequest (signed when the provider has `RequestSigningAlgorithm`) whose RelayState is a
//! fresh state, kept server-side with the request's ID and bound to the browser by a cookie.
//! The IdP posts its Response to `/saml2/idpresponse`; saml-rs checks it against the stored
//! request and the IdP's metadata (signature by a metadata certificate on the Response or the
//! Assertion, issuer, audience `urn:amazon:cognito:sp:<poolId>`, destination and recipient,
//! InResponseTo, time conditions with 60 s of skew, decryption when `EncryptedResponses`), and
//! the Response and Assertion IDs are recorded so none is accepted twice. The NameID is the
//! user (`<ProviderName>_<NameID>`); the attributes are the claims AttributeMapping reads.

use super::flow::{self, random, STATE_TTL_SECS};
use super::records::{IdentityProvider, ProviderType};
use super::sp_keys::{self, SpKeys};
use super::users::Subject;
use crate::error::{Error, Result};
use crate::keys;
use crate::ports::WebRequest;
use crate::service::{CallContext, Service};
use crate::store::{Cond, Item, StoreError, Write};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::authorize::{error_redirect, ValidAuthorize};
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse, SetCookie};
use saml_rs::constants::{Binding, CertUse};
use saml_rs::{
    AcsEndpoint, AssertionSignaturePolicy, AudienceValidationPolicy, AuthnRequest, AuthnRequestSigningPolicy,
    AuthnRequestValidationPolicy, BrowserInput, CertificatePem, ClockSkew, Credentials, EntityId, FormField,
    IdpConfig, IdpDescriptor, IdpValidationPolicy, MetadataTrustPolicy, NameIdCreationPolicy,
    PendingAuthnRequest, PendingSnapshot, PrivateKeyPem, RelayStateParam, ReplayCache, ReplayKey,
    ReplayPolicy, ResponseSignaturePolicy, Saml, SamlError, SamlValidationContext, Sp, SpConfig,
    SpValidationPolicy, SsoEndpoint, SsoResponse, SsoSession, StartSso, XmlEncryptionPolicy, XmlPolicy,
    XmlSignatureProfile,
};
use saml_rs::{
    LogoutBinding, LogoutRequest, LogoutResponse, LogoutSubject, NameId, NameIdFormat, PendingLogoutRequest,
    SessionIndex, SloEndpoint, StartSlo,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The cookie that ties the IdP's POST to the browser that was sent (no login CSRF). SameSite
/// None: the IdP posts from its own site, and a Lax cookie would not come with that POST.
pub const STATE_COOKIE: &str = "cognito-saml";
/// Metadata given by URL is read again after this (spec A §9.3: every 6 hours).
pub const METADATA_REFRESH_SECS: i64 = 6 * 3600;
/// Clock skew allowed on the assertion's conditions.
const SKEW_MS: i64 = 60_000;
/// What the app hears when a Response is refused, in Cognito's words (the reason is logged).
const REFUSED: &str = "Invalid samlResponse or relayState from identity provider";

/// A SAML provider's IdP as its metadata describes it, and the pool's encryption certificate
/// it was given (DescribeIdentityProvider's `ActiveEncryptionCertificate`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlIdp {
    pub metadata: String,
    pub entity_id: String,
    pub sso_redirect: String,
    pub slo_redirect: Option<String>,
    /// When the metadata was read (seconds since the epoch).
    pub read_at: i64,
    /// The metadata's `validUntil` (seconds since the epoch), when it has one.
    #[serde(default)]
    pub valid_until: Option<i64>,
    pub encryption_certificate: String,
}

/// The SP entity ID (the audience of every assertion): Cognito's.
pub fn sp_entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

/// The Assertion Consumer Service on this domain (what is registered at the IdP).
pub fn acs_url(req: &DomainRequest) -> String {
    format!("{}/saml2/idpresponse", req.base_url)
}

/// Reads IdP metadata: its entity ID, an HTTP-Redirect SingleSignOnService (where the
/// AuthnRequest goes) and at least one signing certificate.
fn read_metadata(xml: &str) -> std::result::Result<SamlIdp, String> {
    let descriptor = IdpDescriptor::from_metadata_xml(xml, MetadataTrustPolicy::UnsignedForCompatibility)
        .map_err(|e| e.to_string())?;
    let metadata = descriptor.metadata();
    let sso_redirect = metadata
        .get_single_sign_on_service(Binding::Redirect)
        .ok_or("it has no SingleSignOnService with the HTTP-Redirect binding")?;
    if metadata.x509_certificates(CertUse::Signing).is_empty() {
        return Err("it has no signing certificate (KeyDescriptor use=\"signing\")".into());
    }
    Ok(SamlIdp {
        metadata: xml.to_string(),
        entity_id: descriptor.entity_id().as_str().to_string(),
        sso_redirect,
        slo_redirect: metadata.get_single_logout_service(Binding::Redirect),
        read_at: 0,
        valid_until: valid_until(xml),
        encryption_certificate: String::new(),
    })
}

/// The `validUntil` of the metadata's root element (RFC 3339), in seconds.
fn valid_until(xml: &str) -> Option<i64> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(root) | Event::Empty(root) => {
                let attribute =
                    root.attributes().flatten().find(|a| a.key.local_name().as_ref() == "validUntil")?;
                let text = attribute.value.trim().to_string();
                let format = time::format_description::well_known::Rfc3339;
                return time::OffsetDateTime::parse(&text, &format).ok().map(|t| t.unix_timestamp());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether metadata read at `read_at` (valid until `valid_until`) is read again now: every 6
/// hours, or in the 10 minutes before it expires, whichever comes first (spec A §9.3).
fn stale(idp: &SamlIdp, now: i64) -> bool {
    now - idp.read_at >= METADATA_REFRESH_SECS || idp.valid_until.is_some_and(|until| now >= until - 600)
}

async fn fetch_metadata(svc: &Service, url: &str) -> std::result::Result<String, String> {
    let answer = svc
        .web(WebRequest { method: "GET", url: url.to_string(), ..Default::default() })
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("HTTP {}", answer.status));
    }
    String::from_utf8(answer.body).map_err(|_| "the document is not UTF-8".to_string())
}

/// A SAML provider's IdP, from its MetadataFile or MetadataURL (fetched now, as Cognito does at
/// create and update). `None` for the other types.
pub async fn idp_of(
    svc: &Service,
    pool_id: &str,
    provider_type: ProviderType,
    details: &BTreeMap<String, String>,
) -> Result<Option<SamlIdp>> {
    if provider_type != ProviderType::Saml {
        return Ok(None);
    }
    let xml = match (details.get("MetadataFile"), details.get("MetadataURL")) {
        (Some(file), _) => file.clone(),
        (None, Some(url)) => fetch_metadata(svc, url).await.map_err(|why| {
            tracing::info!(url, why, "SAML metadata fetch failed");
            Error::invalid(format!("Error retrieving metadata from {url}: {why}"))
        })?,
        (None, None) => return Err(Error::invalid("A SAML provider needs MetadataFile or MetadataURL.")),
    };
    let mut idp = read_metadata(&xml)
        .map_err(|why| Error::invalid(format!("The SAML metadata is not valid: {why}.")))?;
    if let Some(until) = idp.valid_until.filter(|until| *until <= svc.now_secs()) {
        return Err(Error::invalid(format!(
            "The SAML metadata expired (validUntil {until}, seconds since the epoch): give the IdP's current metadata."
        )));
    }
    if details.get("IDPSignout").map(String::as_str) == Some("true") && idp.slo_redirect.is_none() {
        return Err(Error::invalid(
            "IDPSignout is true, but the SAML metadata has no SingleLogoutService with the HTTP-Redirect binding.",
        ));
    }
    let keys = sp_keys::pool_keys(svc, pool_id).await?;
    idp.encryption_certificate = sp_keys::bare(&keys.encryption_certificate);
    idp.read_at = svc.now_secs();
    Ok(Some(idp))
}

/// The provider's IdP, its metadata read again from its URL when [`stale`] (and kept; a failed
/// refresh keeps the metadata held).
async fn current_idp(svc: &Service, provider: &IdentityProvider) -> Result<SamlIdp> {
    let idp = provider.saml.clone().ok_or_else(|| Error::internal("a SAML provider without its metadata"))?;
    let Some(url) = provider.details.get("MetadataURL") else { return Ok(idp) };
    if !stale(&idp, svc.now_secs()) {
        return Ok(idp);
    }
    let fresh = match fetch_metadata(svc, url).await.and_then(|xml| read_metadata(&xml)) {
        Ok(fresh) => fresh,
        Err(why) => {
            tracing::warn!(provider = %provider.name, url = %url, why, "SAML metadata refresh failed; the metadata held is used");
            return Ok(idp);
        }
    };
    let idp =
        SamlIdp { read_at: svc.now_secs(), encryption_certificate: idp.encryption_certificate, ..fresh };
    if let Some((mut stored, version)) = super::records::find(svc, &provider.pool_id, &provider.name).await? {
        stored.saml = Some(idp.clone());
        let mut item = Item::new(
            keys::identity_providers(&provider.pool_id),
            provider.name.clone(),
            serde_json::to_value(&stored).map_err(Error::internal)?,
        );
        item.version = version + 1;
        // Another request may have refreshed it first: either copy serves.
        let _ = svc.store.transact(vec![Write::put(item, Cond::Version(version))], svc.now_secs()).await;
    }
    Ok(idp)
}

/// This pool's SP for one provider: its entity ID and ACS, its keys (the signing key signs
/// AuthnRequests when the provider asks for it; the decryption key is configured, and
/// encryption then required, when the provider has `EncryptedResponses`), and Tessera's checks.
fn service_provider(
    provider: &IdentityProvider,
    keys: &SpKeys,
    acs: &str,
) -> std::result::Result<Saml<Sp>, SamlError> {
    // The logout endpoint beside the ACS (both on the domain the browser came to).
    let slo = acs.strip_suffix("/saml2/idpresponse").map(|base| format!("{base}/saml2/logout"));
    let sign = provider.details.contains_key("RequestSigningAlgorithm");
    let encrypted = provider.details.get("EncryptedResponses").map(String::as_str) == Some("true");
    let credentials = Credentials {
        signing_key: Some(PrivateKeyPem::new(keys.signing_key.clone())),
        signing_certificate: Some(CertificatePem::new(keys.signing_certificate.clone())),
        encryption_certificate: encrypted.then(|| CertificatePem::new(keys.encryption_certificate.clone())),
        decryption_key: encrypted.then(|| PrivateKeyPem::new(keys.encryption_key.clone())),
        ..Credentials::default()
    };
    let validation = SpValidationPolicy {
        // A signature by a metadata certificate on the Response or on the Assertion is required
        // (the POST binding never accepts neither); an unsigned Response carrying a
        // CBC-encrypted assertion is refused.
        assertions: AssertionSignaturePolicy::AllowUnsignedForCompatibility,
        responses: ResponseSignaturePolicy::RequireForEncryptedCbc,
        // RSA-SHA2 signatures over one `#id` reference, exclusive C14N: what IdPs send today.
        xml_signatures: XmlSignatureProfile::StrictRsaSha2,
        authn_requests: if sign {
            AuthnRequestSigningPolicy::Sign
        } else {
            AuthnRequestSigningPolicy::DoNotSignForCompatibility
        },
        // The assertion must name this pool's SP as its audience (spec A §9.3).
        audience: AudienceValidationPolicy::Validate,
        name_id_creation: NameIdCreationPolicy::AllowCreate,
        ..SpValidationPolicy::recommended()
    };
    let xml = if encrypted {
        XmlPolicy { encryption: XmlEncryptionPolicy::encrypt_assertions(), ..XmlPolicy::default() }
    } else {
        XmlPolicy::default()
    };
    let mut config = SpConfig::builder(EntityId::try_new(sp_entity_id(&provider.pool_id))?)
        .acs_endpoint(AcsEndpoint::post(acs)?)
        .credentials(credentials)
        .validation(validation)
        .xml(xml);
    if let Some(slo) = slo {
        config = config.slo_endpoint(SloEndpoint::post(slo)?);
    }
    Saml::sp(config.build()?)
}

/// The IdP as the AuthnRequest sees it: its entity ID and SingleSignOnService, and whether the
/// request is signed (saml-rs signs exactly when the IdP's descriptor asks for it, so the
/// provider's `RequestSigningAlgorithm` decides, not the metadata's WantAuthnRequestsSigned).
fn request_target(idp: &SamlIdp, sign: bool) -> std::result::Result<IdpDescriptor, SamlError> {
    let validation = IdpValidationPolicy {
        authn_requests: if sign {
            AuthnRequestValidationPolicy::RequireSigned
        } else {
            AuthnRequestValidationPolicy::AllowUnsignedForCompatibility
        },
        ..IdpValidationPolicy::recommended()
    };
    let config = IdpConfig::builder(EntityId::try_new(idp.entity_id.clone())?)
        .sso_endpoint(SsoEndpoint::redirect(idp.sso_redirect.clone())?)
        .validation(validation)
        .build()?;
    let target = Saml::idp(config)?;
    IdpDescriptor::from_metadata_xml(target.metadata_xml(), MetadataTrustPolicy::UnsignedForCompatibility)
}

/// What `/saml2/idpresponse` needs to finish, stored under the SHA-256 of the RelayState.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SamlState {
    pool_id: String,
    provider: String,
    /// The app's authorize request, as its query.
    authorize: String,
    /// The AuthnRequest's ID (what InResponseTo must be) and the IdP it went to.
    request_id: String,
    idp_entity_id: String,
    acs_url: String,
}

impl flow::SignInState for SamlState {
    fn pool_id(&self) -> &str {
        &self.pool_id
    }
    fn authorize(&self) -> &str {
        &self.authorize
    }
}

fn server_error(valid: &ValidAuthorize, provider: &IdentityProvider, e: &SamlError) -> DomainResponse {
    tracing::error!(provider = %provider.name, error = %e, "SAML AuthnRequest failed");
    error_redirect(&valid.params, "server_error", "The request to the identity provider could not be made.")
}

/// Sends the browser to the IdP with an AuthnRequest.
pub async fn start(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    provider: &IdentityProvider,
) -> Result<DomainResponse> {
    let idp = current_idp(svc, provider).await?;
    let keys = sp_keys::pool_keys(svc, &provider.pool_id).await?;
    let acs = acs_url(req);
    let state = random(svc);
    let sign = provider.details.contains_key("RequestSigningAlgorithm");
    let started = service_provider(provider, &keys, &acs).and_then(|sp| {
        let relay = RelayStateParam::try_from_option(Some(state.clone()))?;
        sp.start_sso(&request_target(&idp, sign)?, StartSso::redirect().relay_state(relay))
    });
    let started = match started {
        Ok(s) => s,
        Err(e) => return Ok(server_error(valid, provider, &e)),
    };
    let location = match started.outbound.redirect_url() {
        Ok(url) => url.to_string(),
        Err(e) => return Ok(server_error(valid, provider, &e)),
    };
    let record = SamlState {
        pool_id: provider.pool_id.clone(),
        provider: provider.name.clone(),
        authorize: valid.params.query(),
        request_id: started.pending.request_id().as_str().to_string(),
        idp_entity_id: idp.entity_id.clone(),
        acs_url: acs,
    };
    flow::save_state(svc, &state, keys::SAML_STATE_SK, &record).await?;
    Ok(DomainResponse::redirect(location).with_cookie(SetCookie {
        name: STATE_COOKIE.into(),
        value: state,
        max_age_secs: Some(STATE_TTL_SECS),
        cross_site: true,
    }))
}

/// The Response and Assertion IDs saml-rs hands over once a Response is valid, written to the
/// store afterwards (its cache is synchronous): a taken ID refuses the Response.
#[derive(Default)]
struct SeenIds(Vec<(String, i64)>);

impl ReplayCache for SeenIds {
    fn check_and_store(
        &mut self,
        key: ReplayKey,
        expires_at: SystemTime,
    ) -> std::result::Result<(), SamlError> {
        let secs = expires_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        self.0.push((key.cache_key(), secs));
        Ok(())
    }
}

/// `POST /saml2/idpresponse`: the IdP's Response.
pub async fn idp_response(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let fields = req.form.as_deref().unwrap_or_default();
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // No RelayState: an unsolicited (IdP-initiated) Response, not accepted (IDPInit is refused).
    let resumed =
        flow::resume::<SamlState>(svc, domain, req, get("RelayState"), keys::SAML_STATE_SK, STATE_COOKIE)
            .await?;
    let (record, valid) = match resumed {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let clear = flow::cleared(STATE_COOKIE);
    let refused = |why: &str| {
        tracing::info!(provider = %record.provider, reason = why, "SAML response refused");
        error_redirect(&valid.params, "invalid_request", REFUSED).with_cookie(flow::cleared(STATE_COOKIE))
    };
    let Some((provider, _)) = super::records::find(svc, &record.pool_id, &record.provider).await? else {
        return Ok(refused("the identity provider no longer exists"));
    };
    let Some(idp) = provider.saml.clone() else { return Ok(refused("the provider is not a SAML provider")) };
    let keys = sp_keys::pool_keys(svc, &provider.pool_id).await?;
    let mut seen = SeenIds::default();
    let session = check_response(&provider, &keys, &idp, &record, fields, svc.clock.now_millis(), &mut seen);
    let session = match session {
        Ok(s) => s,
        Err(e) => return Ok(refused(&e.to_string())),
    };
    if let Err(why) = record_ids(svc, &session, seen).await? {
        return Ok(refused(&why));
    }
    let subject = Subject { id: session.name_id().value().to_string(), issuer: Some(idp.entity_id.clone()) };
    if subject.id.is_empty() {
        return Ok(refused("the assertion has no NameID"));
    }
    let claims = claims_of(&session);
    let saml = SamlSession {
        provider: provider.name.clone(),
        name_id: subject.id.clone(),
        name_id_format: session.name_id().format().map(|f| f.as_uri().to_string()),
        session_indexes: session
            .authn_sessions()
            .iter()
            .filter_map(|s| s.session_index())
            .map(|i| i.as_str().to_string())
            .collect(),
    };
    flow::finish(svc, ctx, domain, &valid, &provider, &subject, &claims, clear, Some(saml)).await
}

/// What a SAML sign-in leaves on the hosted session: who the IdP signed in, to sign them out
/// there too when the provider has `IDPSignout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSession {
    pub provider: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_indexes: Vec<String>,
}

/// A sign-out sent to an IdP, stored under the SHA-256 of its RelayState.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutState {
    pool_id: String,
    provider: String,
    request_id: String,
    idp_entity_id: String,
    /// Where the browser goes once the IdP has answered (the client's logout_uri), or None
    /// for the signed-out page.
    then: Option<String>,
}

/// `/logout` of a session a SAML provider with `IDPSignout` signed in: the redirect that
/// takes a signed LogoutRequest to the IdP's SingleLogoutService (HTTP-Redirect). None when
/// there is nothing to sign out of there. The caller has ended the hosted session.
pub async fn start_logout(
    svc: &Service,
    req: &DomainRequest,
    pool_id: &str,
    session: &SamlSession,
    then: Option<String>,
) -> Result<Option<DomainResponse>> {
    let Some((provider, _)) = super::records::find(svc, pool_id, &session.provider).await? else {
        return Ok(None);
    };
    if provider.details.get("IDPSignout").map(String::as_str) != Some("true") {
        return Ok(None);
    }
    let Some(idp) = provider.saml.clone() else { return Ok(None) };
    let keys = sp_keys::pool_keys(svc, pool_id).await?;
    let state = random(svc);
    let started = service_provider(&provider, &keys, &acs_url(req)).and_then(|sp| {
        let descriptor =
            IdpDescriptor::from_metadata_xml(&idp.metadata, MetadataTrustPolicy::UnsignedForCompatibility)?;
        let format = session.name_id_format.clone().map(NameIdFormat::Custom);
        let indexes = session
            .session_indexes
            .iter()
            .map(SessionIndex::try_new)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let subject = LogoutSubject::new(NameId::new(session.name_id.clone(), format), indexes);
        let relay = RelayStateParam::try_from_option(Some(state.clone()))?;
        let started = sp.start_slo(&descriptor, subject, StartSlo::redirect().relay_state(relay))?;
        let location = started.outbound.redirect_url()?.to_string();
        Ok((started.pending.snapshot().id, location))
    });
    let (request_id, location) = match started {
        Ok(s) => s,
        Err(e) => {
            // The local sign-out stands; the IdP's session is left to the IdP.
            tracing::error!(provider = %provider.name, error = %e, "SAML LogoutRequest failed");
            return Ok(None);
        }
    };
    let record = LogoutState {
        pool_id: pool_id.to_string(),
        provider: provider.name.clone(),
        request_id,
        idp_entity_id: idp.entity_id.clone(),
        then,
    };
    flow::save_state(svc, &state, keys::SAML_LOGOUT_SK, &record).await?;
    Ok(Some(DomainResponse::redirect(location)))
}

/// `POST /saml2/logout`: the IdP's LogoutResponse, checked (signed by a metadata certificate,
/// InResponseTo our request, this destination); then the browser goes where `/logout` was
/// asked to send it. A response that fails the checks is logged: the user is signed out here
/// either way, and only the IdP's own session is in doubt.
pub async fn logout_response(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let fields = req.form.as_deref().unwrap_or_default();
    let state = fields.iter().find(|(k, _)| k == "RelayState").map(|(_, v)| v.as_str()).unwrap_or_default();
    let record = match flow::spend_state::<LogoutState>(svc, state, keys::SAML_LOGOUT_SK).await? {
        Some(r) if r.pool_id == domain.pool_id && !state.is_empty() => r,
        _ => {
            return Ok(DomainResponse::html(
                400,
                crate::user_pool::hosted::pages::error_page(
                    crate::user_pool::hosted::text::EN.federation_expired,
                ),
            ))
        }
    };
    if let Some((provider, _)) = super::records::find(svc, &record.pool_id, &record.provider).await? {
        let keys = sp_keys::pool_keys(svc, &record.pool_id).await?;
        let checked = check_logout_response(
            &provider,
            &keys,
            &acs_url(req),
            &record,
            state,
            fields,
            svc.clock.now_millis(),
        );
        match checked {
            Ok(()) => tracing::info!(provider = %provider.name, "signed out at the SAML IdP"),
            Err(e) => tracing::warn!(provider = %provider.name, error = %e, "SAML LogoutResponse refused"),
        }
    }
    Ok(match record.then {
        Some(uri) => DomainResponse::redirect(uri),
        None => DomainResponse::html(
            200,
            crate::user_pool::hosted::pages::error_page(crate::user_pool::hosted::text::EN.signed_out),
        ),
    })
}

fn check_logout_response(
    provider: &IdentityProvider,
    keys: &SpKeys,
    acs: &str,
    record: &LogoutState,
    state: &str,
    fields: &[(String, String)],
    now_ms: i64,
) -> std::result::Result<(), SamlError> {
    let idp = provider.saml.as_ref().ok_or_else(|| SamlError::Invalid("not a SAML provider".into()))?;
    let sp = service_provider(provider, keys, acs)?;
    let descriptor =
        IdpDescriptor::from_metadata_xml(&idp.metadata, MetadataTrustPolicy::UnsignedForCompatibility)?;
    let pending = PendingLogoutRequest::from_snapshot(PendingSnapshot::<LogoutRequest>::logout_request(
        record.request_id.clone(),
        RelayStateParam::try_from_option(Some(state.to_string()))?,
        record.idp_entity_id.clone(),
        LogoutBinding::Post,
    ))?;
    let input = BrowserInput::<LogoutResponse>::post(
        fields.iter().map(|(k, v)| FormField::new(k.clone(), v.clone())).collect(),
    );
    let now = UNIX_EPOCH + Duration::from_millis(now_ms.max(0) as u64);
    let validation = SamlValidationContext::new(now, ReplayPolicy::DisabledForCompatibility)
        .with_clock_skew(ClockSkew::from_millis(-SKEW_MS, SKEW_MS));
    sp.finish_slo(&descriptor, &pending, input, validation).map(|_| ())
}

/// saml-rs's checks of the Response against the stored AuthnRequest and the IdP's metadata.
fn check_response(
    provider: &IdentityProvider,
    keys: &SpKeys,
    idp: &SamlIdp,
    record: &SamlState,
    fields: &[(String, String)],
    now_ms: i64,
    seen: &mut SeenIds,
) -> std::result::Result<SsoSession, SamlError> {
    let sp = service_provider(provider, keys, &record.acs_url)?;
    let descriptor =
        IdpDescriptor::from_metadata_xml(&idp.metadata, MetadataTrustPolicy::UnsignedForCompatibility)?;
    let pending = PendingAuthnRequest::from_snapshot(PendingSnapshot::<AuthnRequest>::authn_request(
        record.request_id.clone(),
        RelayStateParam::try_from_option(Some(state_of(fields)))?,
        record.idp_entity_id.clone(),
        "post",
        record.acs_url.clone(),
        "post",
    ))?;
    let input = BrowserInput::<SsoResponse>::post(
        fields.iter().map(|(k, v)| FormField::new(k.clone(), v.clone())).collect(),
    );
    let now = UNIX_EPOCH + Duration::from_millis(now_ms.max(0) as u64);
    let validation = SamlValidationContext::new(now, ReplayPolicy::RequireCache(seen))
        .with_clock_skew(ClockSkew::from_millis(-SKEW_MS, SKEW_MS))
        .with_replay_retention(Duration::from_secs(STATE_TTL_SECS as u64));
    sp.finish_sso(&descriptor, &pending, input, validation)
}

fn state_of(fields: &[(String, String)]) -> String {
    fields.iter().find(|(k, _)| k == "RelayState").map(|(_, v)| v.clone()).unwrap_or_default()
}

/// Records the accepted Response's and Assertion's IDs (per issuer), each until the assertion
/// expires: `Err` when one was accepted before (a replay).
async fn record_ids(
    svc: &Service,
    session: &SsoSession,
    seen: SeenIds,
) -> Result<std::result::Result<(), String>> {
    let now = svc.now_secs();
    let issuer = session.issuer().as_str();
    let writes: Vec<Write> = seen
        .0
        .iter()
        .map(|(id, expires)| {
            let hash = hex::encode(Sha256::digest(format!("{issuer}\n{id}").as_bytes()));
            let mut item = Item::new(keys::saml_replay(&hash), keys::SAML_REPLAY_SK, serde_json::json!({}));
            // Kept at least as long as a state lives, at most a day.
            item.expires_at = Some((*expires).clamp(now + STATE_TTL_SECS, now + 86_400));
            Write::put(item, Cond::NotExists)
        })
        .collect();
    if writes.is_empty() {
        return Ok(Err("the response has no ID to record".into()));
    }
    match svc.store.transact(writes, now).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::ConditionFailed { .. }) => {
            Ok(Err("a Response or Assertion ID was used before (replay)".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The assertion's attributes as claims for AttributeMapping: a single value as it is, several
/// as `[a, b]` (as Cognito writes multi-valued SAML attributes).
fn claims_of(session: &SsoSession) -> Map<String, Value> {
    let mut claims = Map::new();
    for attribute in session.attributes().as_slice() {
        let values: Vec<&str> = attribute.values().iter().map(|v| v.as_str()).collect();
        let text = match values.as_slice() {
            [] => continue,
            [one] => one.to_string(),
            many => format!("[{}]", many.join(", ")),
        };
        claims.insert(attribute.name().to_string(), Value::String(text));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_again_every_6_hours_or_before_it_expires() {
        let xml = r#"<?xml version="1.0"?><!-- x --><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e" validUntil="2026-12-07T12:00:00Z"/>"#;
        let until = valid_until(xml);
        assert_eq!(until, Some(1_796_644_800));
        assert_eq!(valid_until(r#"<EntityDescriptor entityID="e"/>"#), None);
        let idp = SamlIdp { read_at: 1_796_500_000, valid_until: until, ..SamlIdp::default() };
        assert!(!stale(&idp, 1_796_500_000 + 3600));
        assert!(stale(&idp, 1_796_500_000 + METADATA_REFRESH_SECS));
        let soon = SamlIdp { read_at: 1_796_644_000, valid_until: until, ..SamlIdp::default() };
        assert!(!stale(&soon, 1_796_644_100), "more than 10 minutes left");
        assert!(stale(&soon, 1_796_644_300), "in the last 10 minutes");
    }
}
