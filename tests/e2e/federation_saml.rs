//! Federation with a SAML 2.0 IdP: a real one, pysaml2 (PyPI) signing with Debian's xmlsec1
//! (tests/py/saml-idp.py). The provider from its metadata URL, GetSigningCertificate (the IdP
//! checks the signed AuthnRequest with it), the sign-in by the HTTP-Redirect and HTTP-POST
//! bindings (the test carries the IdP's form, as a browser does), the user `<Provider>_<NameID>`
//! and its mapped attributes, encrypted assertions; and every Response a bad or hostile IdP can
//! send is refused with nothing written.

use crate::common::*;
use crate::oauth_code::{hidden, Browser, Page};
use crate::oauth_token::{claims, form, post_form};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{IdentityProviderTypeType, OAuthFlowType};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The IdP, a child process killed when dropped.
struct SamlIdp {
    _server: ChildServer,
    port: u16,
    metadata_url: String,
    entity_id: String,
    sso_url: String,
}

/// The Python with pysaml2: `TESSERA_TEST_PYTHON` (CI sets it), else `.venv/bin/python`.
fn python() -> String {
    std::env::var("TESSERA_TEST_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").into())
}

impl SamlIdp {
    fn start() -> SamlIdp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/saml-idp.py");
        let mut command = std::process::Command::new(python());
        command.arg(script).arg(r#"{"port": 0}"#);
        let server = ChildServer::start(
            command,
            "the SAML IdP (bash scripts/test.sh installs pysaml2 into .venv; xmlsec1 is Debian's package)",
        );
        let sso_url = server.text("sso_url");
        let port = sso_url.rsplit(':').next().unwrap().split('/').next().unwrap().parse().unwrap();
        SamlIdp {
            port,
            metadata_url: server.text("metadata_url"),
            entity_id: server.text("entity_id"),
            sso_url,
            _server: server,
        }
    }

    async fn put(&self, path: &str, body: Value) {
        let (status, _, answer) = raw_http(
            &format!("http://127.0.0.1:{}", self.port),
            "PUT",
            path,
            &[],
            body.to_string().as_bytes(),
        )
        .await;
        assert_eq!(status, 204, "{}", String::from_utf8_lossy(&answer));
    }

    /// What the next sign-in answers.
    async fn next(&self, name_id: &str, attributes: Value, mode: &str, encrypt: bool) {
        self.put(
            "/_test/next",
            json!({"name_id": name_id, "attributes": attributes, "mode": mode, "encrypt": encrypt}),
        )
        .await;
    }

    /// The IdP's answer to the AuthnRequest at `location`: (status, page).
    async fn answer(&self, location: &str) -> (u16, String) {
        let path = location.strip_prefix(&format!("http://127.0.0.1:{}", self.port)).expect("the IdP's URL");
        let (status, _, body) =
            raw_http(&format!("http://127.0.0.1:{}", self.port), "GET", path, &[], b"").await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

struct Setup {
    pool: String,
    prefix: String,
    client_id: String,
    idp: SamlIdp,
}

/// A browser app's callback, for the Chromium test (the domain reached by host name there).
fn browser_callback(app_port: u16) -> String {
    format!("http://localhost:{app_port}/callback")
}

const CALLBACK: &str = "https://app.example.com/callback";
const SIGNED_OUT: &str = "https://app.example.com/signed-out";
/// An attribute named by URI, as Entra ID names them.
const EMAIL_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

fn details(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A pool with a domain, a SAML provider `Corp` from the IdP's metadata URL (signed
/// AuthnRequests), registered at the IdP with the pool's certificates (and both ways this server
/// serves the domain's ACS), and a client that signs in only through it (`app_port`: also with a
/// browser app's callback).
async fn setup(env: &TestEnv, app_port: Option<u16>) -> Setup {
    let pool = env
        .pool(|b| {
            b.schema(
                cip::types::SchemaAttributeType::builder()
                    .name("department")
                    .attribute_data_type(cip::types::AttributeDataType::String)
                    .mutable(true)
                    .build(),
            )
        })
        .await;
    let prefix = unique("saml").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    let idp = SamlIdp::start();
    let created = env
        .client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Saml)
        .set_provider_details(Some(details(&[
            ("MetadataURL", &idp.metadata_url),
            ("RequestSigningAlgorithm", "rsa-sha256"),
        ])))
        .attribute_mapping("email", EMAIL_CLAIM)
        .attribute_mapping("name", "displayName")
        .attribute_mapping("custom:department", "groups")
        .send()
        .await
        .unwrap();
    let shown = created.identity_provider().unwrap().provider_details().unwrap();
    assert_eq!(shown.get("SSORedirectBindingURI"), Some(&idp.sso_url));
    assert_eq!(shown.get("MetadataURL"), Some(&idp.metadata_url));
    let encryption = shown.get("ActiveEncryptionCertificate").cloned().unwrap();
    let signing = env.client.get_signing_certificate().user_pool_id(&pool).send().await.unwrap();
    let signing = signing.certificate().unwrap().to_string();
    assert!(!signing.contains("BEGIN") && signing.len() > 600, "bare base64 DER: {signing}");
    assert_ne!(signing, encryption, "one key signs, another decrypts");
    let again = env.client.get_signing_certificate().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(again.certificate(), Some(signing.as_str()), "made once");
    idp.put(
        "/_test/sp",
        json!({
            "entity_id": format!("urn:amazon:cognito:sp:{pool}"),
            "acs_urls": [
                format!("{}/_auth/{prefix}/saml2/idpresponse", env.url),
                format!("http://{prefix}.auth.localhost:{}/saml2/idpresponse", env.server.addr.port()),
            ],
            "signing_certificate": signing,
            "encryption_certificate": encryption,
            "want_signed_requests": true,
        }),
    )
    .await;
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .set_callback_urls(Some(
            std::iter::once(CALLBACK.to_string()).chain(app_port.map(browser_callback)).collect(),
        ))
        .supported_identity_providers("Corp")
        .logout_urls(SIGNED_OUT)
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    Setup { pool, prefix, client_id, idp }
}

/// The form the IdP answered with: (its action as a path of this server, its fields).
fn idp_form(env: &TestEnv, page: &str) -> (String, Vec<(String, String)>) {
    let start = page.find("action=\"").expect("a form") + 8;
    let action = &page[start..start + page[start..].find('"').unwrap()];
    let path = action.strip_prefix(&env.url).unwrap_or_else(|| panic!("posts to this server: {action}"));
    let mut fields = vec![("SAMLResponse".to_string(), hidden(page, "SAMLResponse"))];
    if page.contains("name=\"RelayState\"") {
        fields.push(("RelayState".into(), hidden(page, "RelayState")));
    }
    (path.to_string(), fields)
}

fn encoded(fields: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    form(&pairs)
}

/// The app's authorize request goes to the IdP; its form comes back: (ACS path, fields).
async fn to_idp(env: &TestEnv, s: &Setup, browser: &mut Browser) -> (String, Vec<(String, String)>) {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &s.client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "app-state"),
    ]);
    let page = browser.get(env, &format!("/_auth/{}/oauth2/authorize?{query}", s.prefix)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location.unwrap();
    assert!(location.starts_with(&format!("{}?SAMLRequest=", s.idp.sso_url)), "{location}");
    assert!(location.contains("&SigAlg=") && location.contains("&Signature="), "signed: {location}");
    assert!(browser.cookie("cognito-saml").is_some());
    let (status, page) = s.idp.answer(&location).await;
    assert_eq!(status, 200, "the IdP took the AuthnRequest: {page}");
    idp_form(env, &page)
}

/// The code the app got, or panics with where the browser went.
fn code_of(page: &Page) -> String {
    let location = page.location.clone().unwrap_or_else(|| panic!("{} {}", page.status, page.body));
    let query: HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    assert_eq!(query.get("state").map(String::as_str), Some("app-state"));
    query.get("code").cloned().unwrap_or_else(|| panic!("no code: {location}"))
}

async fn tokens(env: &TestEnv, s: &Setup, code: &str) -> Value {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &s.client_id),
        ("code", code),
        ("redirect_uri", CALLBACK),
    ]);
    let (status, _, tokens) = post_form(env, &s.prefix, "/oauth2/token", None, &body).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn sign_in(env: &TestEnv, s: &Setup, browser: &mut Browser) -> Value {
    let (acs, fields) = to_idp(env, s, browser).await;
    let page = browser.post(env, &acs, &encoded(&fields)).await;
    let code = code_of(&page);
    tokens(env, s, &code).await
}

fn attribute(user: &cip::operation::admin_get_user::AdminGetUserOutput, name: &str) -> Option<String> {
    user.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value()).map(str::to_string)
}

on_both_stores!(sign_in_through_a_saml_idp, |env| {
    let s = setup(env, None).await;
    let mut browser = Browser::default();
    s.idp
        .next(
            "ada-7",
            json!({EMAIL_CLAIM: ["ada@corp.example"], "displayName": ["Ada"], "groups": ["eng", "ops"]}),
            "ok",
            false,
        )
        .await;
    let tokens = sign_in(env, &s, &mut browser).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["cognito:username"], "Corp_ada-7");
    assert_eq!(id["email"], "ada@corp.example");
    assert_eq!(id["name"], "Ada");
    let groups: Vec<&str> =
        id["cognito:groups"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(groups, [format!("{}_Corp", s.pool).as_str()]);
    let identities = &id["identities"][0];
    assert_eq!(identities["providerType"], "SAML");
    assert_eq!(identities["userId"], "ada-7");
    assert_eq!(identities["issuer"], s.idp.entity_id.as_str(), "a SAML identity names its IdP");
    let user = env.client.admin_get_user().user_pool_id(&s.pool).username("Corp_ada-7").send().await.unwrap();
    assert_eq!(user.user_status(), Some(&cip::types::UserStatusType::ExternalProvider));
    assert_eq!(attribute(&user, "custom:department").as_deref(), Some("[eng, ops]"), "multi-valued");

    // The IdP's attributes change; the next sign-in (the hosted session aside: a new browser)
    // rewrites them on the same user.
    s.idp
        .next("ada-7", json!({EMAIL_CLAIM: ["ada@corp.example"], "displayName": ["Ada L."]}), "ok", false)
        .await;
    let tokens = sign_in(env, &s, &mut Browser::default()).await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["name"], "Ada L.");
    let users = env.client.list_users().user_pool_id(&s.pool).send().await.unwrap();
    assert_eq!(users.users().len(), 1);

    // A client that also signs in with the pool: its sign-in page asks for a corporate email
    // when a provider has IdpIdentifiers, and the email's domain picks the provider.
    env.client
        .update_identity_provider()
        .user_pool_id(&s.pool)
        .provider_name("Corp")
        .idp_identifiers("corp.example")
        .send()
        .await
        .unwrap();
    let both = env
        .client
        .create_user_pool_client()
        .user_pool_id(&s.pool)
        .client_name("both")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(CALLBACK)
        .supported_identity_providers("COGNITO")
        .supported_identity_providers("Corp")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let both = both.user_pool_client().unwrap().client_id().unwrap().to_string();
    let query = form(&[("response_type", "code"), ("client_id", &both), ("redirect_uri", CALLBACK)]);
    let page = Browser::default().get(env, &format!("/_auth/{}/login?{query}", s.prefix)).await;
    assert!(page.body.contains("name=\"idp_identifier\" type=\"email\""), "{}", page.body);
    assert!(page.body.contains("name=\"password\""), "and the pool's own form");
    let routed = form(&[
        ("response_type", "code"),
        ("client_id", &both),
        ("redirect_uri", CALLBACK),
        ("idp_identifier", "ada@CORP.example"),
    ]);
    let page = Browser::default().get(env, &format!("/_auth/{}/oauth2/authorize?{routed}", s.prefix)).await;
    assert!(page.location.unwrap_or_default().starts_with(&s.idp.sso_url), "routed by the email's domain");

    // Encrypted assertions: the provider asks for them, the IdP encrypts to the
    // ActiveEncryptionCertificate; an unencrypted assertion is then refused.
    env.client
        .update_identity_provider()
        .user_pool_id(&s.pool)
        .provider_name("Corp")
        .set_provider_details(Some(details(&[
            ("MetadataURL", &s.idp.metadata_url),
            ("RequestSigningAlgorithm", "rsa-sha256"),
            ("EncryptedResponses", "true"),
        ])))
        .send()
        .await
        .unwrap();
    s.idp
        .next("ada-7", json!({EMAIL_CLAIM: ["ada@corp.example"], "displayName": ["Ada E."]}), "ok", true)
        .await;
    let tokens = sign_in(env, &s, &mut Browser::default()).await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["name"], "Ada E.");
    s.idp
        .next("ada-7", json!({EMAIL_CLAIM: ["ada@corp.example"], "displayName": ["Plain"]}), "ok", false)
        .await;
    let mut browser = Browser::default();
    let (acs, fields) = to_idp(env, &s, &mut browser).await;
    let page = browser.post(env, &acs, &encoded(&fields)).await;
    assert!(page.location.unwrap_or_default().contains("error=invalid_request"));

    // The metadata URL is read at create and update, and again when a sign-in starts 6 hours
    // after the last read (last: the clock moves on, so this sign-in is not finished).
    let reads = || async {
        let (_, _, n) =
            raw_http(&format!("http://127.0.0.1:{}", s.idp.port), "GET", "/_test/metadata_reads", &[], b"")
                .await;
        String::from_utf8(n).unwrap().parse::<u32>().unwrap()
    };
    let before = reads().await;
    to_idp(env, &s, &mut Browser::default()).await;
    assert_eq!(reads().await, before, "fresh metadata is not read again");
    env.clock.advance_secs(6 * 3600);
    to_idp(env, &s, &mut Browser::default()).await;
    assert_eq!(reads().await, before + 1, "read again after 6 hours");
    to_idp(env, &s, &mut Browser::default()).await;
    assert_eq!(reads().await, before + 1, "and kept");
});

/// The app was told the Response was refused, in Cognito's words.
fn refused(page: &Page) -> bool {
    page.location.as_deref().is_some_and(|l| {
        l.starts_with(&format!("{CALLBACK}?error=invalid_request"))
            && l.contains("Invalid+samlResponse+or+relayState+from+identity+provider")
            && l.contains("state=app-state")
    })
}

on_both_stores!(saml_responses_that_sign_no_one_in, |env| {
    let s = setup(env, None).await;
    let attributes = json!({EMAIL_CLAIM: ["eve@corp.example"]});
    // Each a Response the IdP signs (but one), refused: no signature, another SP's audience,
    // another site's ACS, expired, an answer to a request never made, a key not in the metadata.
    for mode in ["unsigned", "audience", "recipient", "expired", "unsolicited_id", "other_key"] {
        s.idp.next("eve", attributes.clone(), mode, false).await;
        let mut browser = Browser::default();
        let (acs, fields) = to_idp(env, &s, &mut browser).await;
        let page = browser.post(env, &acs, &encoded(&fields)).await;
        assert!(refused(&page), "{mode}: {:?} {}", page.location, page.body);
    }
    // Signature wrapping: SAML Raider's XSW1-8 on a genuine Response for eve, an evil copy
    // naming admin placed where a naive reader looks.
    for n in 1..=8 {
        let mode = format!("xsw{n}");
        s.idp.next("eve", attributes.clone(), &mode, false).await;
        let mut browser = Browser::default();
        let (acs, fields) = to_idp(env, &s, &mut browser).await;
        let page = browser.post(env, &acs, &encoded(&fields)).await;
        assert!(refused(&page), "{mode}: {:?} {}", page.location, page.body);
    }
    // A signed Response changed after signing (the NameID, an attribute).
    s.idp.next("eve", attributes.clone(), "ok", false).await;
    let mut browser = Browser::default();
    let (acs, mut fields) = to_idp(env, &s, &mut browser).await;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(b64.decode(&fields[0].1).unwrap()).unwrap();
    assert!(xml.contains(">eve<"), "{xml}");
    fields[0].1 = b64.encode(xml.replace(">eve<", ">admin<"));
    let page = browser.post(env, &acs, &encoded(&fields)).await;
    assert!(refused(&page), "tampered: {:?}", page.location);

    // A good Response, posted in another browser (no cookie): refused, and its state is spent.
    let mut browser = Browser::default();
    let (acs, fields) = to_idp(env, &s, &mut browser).await;
    let page = Browser::default().post(env, &acs, &encoded(&fields)).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("started in another browser"), "{}", page.body);
    let page = browser.post(env, &acs, &encoded(&fields)).await;
    assert!(page.body.contains("expired or was already used"), "{}", page.body);
    // No RelayState (an IdP-initiated Response): not accepted.
    let page = browser.post(env, &acs, &encoded(&fields[..1])).await;
    assert_eq!(page.status, 400);
    assert!(env.client.list_users().user_pool_id(&s.pool).send().await.unwrap().users().is_empty());

    // Replay: the same Response and Assertion IDs in a second sign-in (a Response captured and
    // answered to a new request cannot be, InResponseTo differs: this IdP reuses its IDs).
    s.idp.next("eve", attributes.clone(), "fixed_ids", false).await;
    let mut browser = Browser::default();
    let tokens = {
        let (acs, fields) = to_idp(env, &s, &mut browser).await;
        let page = browser.post(env, &acs, &encoded(&fields)).await;
        code_of(&page)
    };
    assert!(!tokens.is_empty());
    let mut browser = Browser::default();
    let (acs, fields) = to_idp(env, &s, &mut browser).await;
    let page = browser.post(env, &acs, &encoded(&fields)).await;
    assert!(refused(&page), "replayed IDs: {:?}", page.location);
    let users = env.client.list_users().user_pool_id(&s.pool).send().await.unwrap();
    assert_eq!(users.users().len(), 1, "only the one good sign-in made a user");
});

on_both_stores!(saml_provider_operations, |env| {
    let pool = env.pool(|b| b).await;
    let idp = SamlIdp::start();
    let create = |d: HashMap<String, String>| {
        env.client
            .create_identity_provider()
            .user_pool_id(&pool)
            .provider_name("Corp")
            .provider_type(IdentityProviderTypeType::Saml)
            .set_provider_details(Some(d))
    };
    type Created = Result<
        cip::operation::create_identity_provider::CreateIdentityProviderOutput,
        cip::error::SdkError<
            cip::operation::create_identity_provider::CreateIdentityProviderError,
            cip::config::http::HttpResponse,
        >,
    >;
    let fails = |r: Created| {
        let e = r.unwrap_err();
        let text = format!("{:?}", e.as_service_error().map(|s| s.to_string()));
        (err_name(e), text)
    };
    let (name, text) = fails(create(details(&[("MetadataURL", "http://127.0.0.1:1/metadata")])).send().await);
    assert!(name.starts_with("InvalidParameterException"), "{name}");
    assert!(text.contains("Error retrieving metadata from http://127.0.0.1:1/metadata"), "{text}");
    let (_, text) = fails(create(details(&[("MetadataFile", "<not-metadata/>")])).send().await);
    assert!(text.contains("The SAML metadata is not valid"), "{text}");
    let (_, text) =
        fails(create(details(&[("MetadataURL", &idp.metadata_url), ("IDPInit", "true")])).send().await);
    assert!(text.contains("IDPInit true"), "{text}");
    let (_, text) = fails(
        create(details(&[("MetadataURL", &idp.metadata_url)]))
            .attribute_mapping("username", "x")
            .send()
            .await,
    );
    assert!(text.contains("username"), "{text}");
    // The metadata as a file: the same IdP.
    let (_, _, metadata) =
        raw_http(&format!("http://127.0.0.1:{}", idp.port), "GET", "/metadata", &[], b"").await;
    let created = create(details(&[("MetadataFile", &String::from_utf8(metadata).unwrap())]))
        .idp_identifiers("corp.example")
        .send()
        .await
        .unwrap();
    let p = created.identity_provider().unwrap();
    assert_eq!(p.provider_type(), Some(&IdentityProviderTypeType::Saml));
    let shown = p.provider_details().unwrap();
    assert_eq!(shown.get("SSORedirectBindingURI"), Some(&idp.sso_url));
    assert!(shown.contains_key("ActiveEncryptionCertificate") && shown.contains_key("MetadataFile"));
    assert!(p.attribute_mapping().unwrap_or(&HashMap::new()).is_empty(), "no default mapping for SAML");
    let found = env
        .client
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("CORP.example")
        .send()
        .await
        .unwrap();
    assert_eq!(found.identity_provider().unwrap().provider_name(), Some("Corp"));
    // Describe's filled-in keys may be sent back as they are (Terraform does).
    let mut round_trip = shown.clone();
    round_trip.insert("EncryptedResponses".into(), "true".into());
    env.client
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .set_provider_details(Some(round_trip))
        .send()
        .await
        .unwrap();
    let described = env
        .client
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .send()
        .await
        .unwrap();
    let shown = described.identity_provider().unwrap().provider_details().unwrap();
    assert_eq!(shown.get("EncryptedResponses").map(String::as_str), Some("true"));
});

/// The whole round trip in a real browser: pysaml2's page posts the Response to the domain
/// cross-site, so the `cognito-saml` cookie must be SameSite=None to come with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_through_a_saml_idp_in_chromium() {
    let Some(chromium) = crate::browser::chromium() else { return };
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let app_port = crate::browser::free_port();
    let s = setup(&env, Some(app_port)).await;
    s.idp
        .next("grace", json!({EMAIL_CLAIM: ["grace@corp.example"], "displayName": ["Grace"]}), "ok", false)
        .await;
    let callback = browser_callback(app_port);
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &s.client_id),
        ("redirect_uri", &callback),
        ("scope", "openid email"),
        ("state", "app-state"),
        ("identity_provider", "Corp"),
    ]);
    let input = json!({
        "authorizeUrl": format!("http://{}.auth.localhost:{}/oauth2/authorize?{query}", s.prefix, env.server.addr.port()),
        "viaButton": null,
        "login": null,
        "appPort": app_port,
        "chromium": chromium,
    });
    let out = run_node("federation-flow.mjs", &["playwright-core", "axe-core"], input).await;
    assert_eq!(out["ok"], true, "{out:#}");
    let back = out["callback"].as_str().unwrap();
    let fields: HashMap<String, String> =
        form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    let code = fields.get("code").unwrap_or_else(|| panic!("no code: {back}"));
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &s.client_id),
        ("code", code),
        ("redirect_uri", &callback),
    ]);
    let (status, _, tokens) = post_form(&env, &s.prefix, "/oauth2/token", None, &body).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["cognito:username"], "Corp_grace");
    assert_eq!(id["email"], "grace@corp.example");
}

// IDPSignout: /logout ends the hosted session and sends a signed LogoutRequest (the NameID
// and SessionIndex of the sign-in) to the IdP, whose signed LogoutResponse comes back to
// /saml2/logout and sends the browser on to the app's sign-out URL.
on_both_stores!(sign_out_at_the_saml_idp, |env| {
    let s = setup(env, None).await;
    env.client
        .update_identity_provider()
        .user_pool_id(&s.pool)
        .provider_name("Corp")
        .set_provider_details(Some(details(&[
            ("MetadataURL", &s.idp.metadata_url),
            ("RequestSigningAlgorithm", "rsa-sha256"),
            ("IDPSignout", "true"),
        ])))
        .send()
        .await
        .unwrap();
    s.idp.next("ada-7", json!({EMAIL_CLAIM: ["ada@corp.example"]}), "ok", false).await;
    let mut browser = Browser::default();
    sign_in(env, &s, &mut browser).await;
    assert!(browser.cookie("cognito").is_some(), "a hosted session");
    let query = form(&[("client_id", &s.client_id), ("logout_uri", SIGNED_OUT)]);
    let page = browser.get(env, &format!("/_auth/{}/logout?{query}", s.prefix)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(browser.cookie("cognito").is_none(), "the hosted session ended at once");
    let location = page.location.unwrap();
    assert!(
        location.contains("/slo/redirect?SAMLRequest=") && location.contains("&Signature="),
        "{location}"
    );
    let (status, idp_page) = s.idp.answer(&location).await;
    assert_eq!(status, 200, "the IdP took the signed LogoutRequest: {idp_page}");
    let (_, _, last) =
        raw_http(&format!("http://127.0.0.1:{}", s.idp.port), "GET", "/_test/last_logout", &[], b"").await;
    let last: Value = serde_json::from_slice(&last).unwrap();
    assert_eq!(last["name_id"], "ada-7");
    assert_eq!(last["issuer"], format!("urn:amazon:cognito:sp:{}", s.pool));
    assert!(!last["session_indexes"].as_array().unwrap().is_empty(), "{last}");
    let start = idp_page.find("action=\"").unwrap() + 8;
    let action = &idp_page[start..start + idp_page[start..].find('"').unwrap()];
    let path = action.strip_prefix(&env.url).unwrap().to_string();
    let mut fields = vec![("SAMLResponse".to_string(), hidden(&idp_page, "SAMLResponse"))];
    fields.push(("RelayState".into(), hidden(&idp_page, "RelayState")));
    assert!(path.ends_with("/saml2/logout"), "{path}");
    let page = browser.post(env, &path, &encoded(&fields)).await;
    assert_eq!(page.location.as_deref(), Some(SIGNED_OUT), "{}", page.body);
    // Its state is spent: the same answer again is refused.
    let page = browser.post(env, &path, &encoded(&fields)).await;
    assert_eq!(page.status, 400);
});
