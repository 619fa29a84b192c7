//! USER_SRP_AUTH checked against an independent client: every SRP number the client sends
//! (SRP_A, the password claim, its TIMESTAMP) comes from the `aws-cognito-srp` crate, never from
//! Tessera's own code.

use crate::common::*;
use crate::on_both_stores;
use crate::tokens::payload;
use aws_cognito_srp::{SrpClient, User as SrpUser};
use aws_sdk_cognitoidentityprovider as cip;
use base64::Engine;
use cip::types::{AuthFlowType, ChallengeNameType};
use std::collections::HashMap;

const WRONG: &str = "NotAuthorizedException: Incorrect username or password.";
const INVALID_SESSION: &str = "NotAuthorizedException: Invalid session for the user.";

/// The app client an SRP sign-in goes through.
#[derive(Clone, Copy)]
pub(crate) struct App<'a> {
    pub(crate) pool: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) secret: Option<&'a str>,
}

impl App<'_> {
    /// The crate's client for one sign-in by `username` (as typed) with `password`.
    pub(crate) fn srp(&self, username: &str, password: &str) -> SrpClient<SrpUser> {
        SrpClient::new(SrpUser::new(self.pool, username, password), self.client_id, self.secret)
    }

    /// SECRET_HASH over a name, computed by the crate (None without a secret).
    pub(crate) fn secret_hash(&self, name: &str) -> Option<String> {
        SrpClient::new(SrpUser::new(self.pool, name, ""), self.client_id, self.secret).get_secret_hash()
    }
}

/// Where InitiateAuth(USER_SRP_AUTH) left a sign-in: the PASSWORD_VERIFIER challenge.
pub(crate) struct Verifier {
    pub(crate) params: HashMap<String, String>,
    pub(crate) session: String,
}

impl Verifier {
    pub(crate) fn user_id(&self) -> &str {
        &self.params["USER_ID_FOR_SRP"]
    }
}

/// The challenge's parameters have Cognito's shape: hex SALT and SRP_B, a base64 SECRET_BLOCK.
fn check_shape(v: &Verifier) {
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    assert!(hex(&v.params["SALT"]), "SALT {:?}", v.params["SALT"]);
    assert!(hex(&v.params["SRP_B"]), "SRP_B {:?}", v.params["SRP_B"]);
    let block = base64::engine::general_purpose::STANDARD.decode(&v.params["SECRET_BLOCK"]);
    assert!(block.is_ok_and(|b| !b.is_empty()), "SECRET_BLOCK {:?}", v.params["SECRET_BLOCK"]);
    assert!(!v.session.is_empty());
}

/// InitiateAuth(USER_SRP_AUTH) with the crate's SRP_A (and SECRET_HASH over the name as typed).
pub(crate) async fn initiate(
    env: &TestEnv,
    app: App<'_>,
    srp: &SrpClient<SrpUser>,
    username: &str,
) -> Result<Verifier, String> {
    let mut params = HashMap::from([
        ("USERNAME".to_string(), username.to_string()),
        ("SRP_A".to_string(), srp.get_auth_parameters().a),
    ]);
    if let Some(hash) = srp.get_secret_hash() {
        params.insert("SECRET_HASH".into(), hash);
    }
    let out = env
        .client
        .initiate_auth()
        .client_id(app.client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .set_auth_parameters(Some(params))
        .send()
        .await
        .map_err(err_name)?;
    Ok(verifier_of(out.challenge_name(), out.challenge_parameters(), out.session()))
}

/// AdminInitiateAuth(USER_SRP_AUTH) with the crate's SRP_A.
async fn admin_initiate(
    env: &TestEnv,
    app: App<'_>,
    srp: &SrpClient<SrpUser>,
    username: &str,
) -> Result<Verifier, String> {
    let out = env
        .client
        .admin_initiate_auth()
        .user_pool_id(app.pool)
        .client_id(app.client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", srp.get_auth_parameters().a)
        .send()
        .await
        .map_err(err_name)?;
    Ok(verifier_of(out.challenge_name(), out.challenge_parameters(), out.session()))
}

fn verifier_of(
    name: Option<&ChallengeNameType>,
    params: Option<&HashMap<String, String>>,
    session: Option<&str>,
) -> Verifier {
    assert_eq!(name, Some(&ChallengeNameType::PasswordVerifier));
    let params = params.cloned().unwrap_or_default();
    for key in ["SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP"] {
        assert!(params.contains_key(key), "PASSWORD_VERIFIER without {key}: {params:?}");
    }
    Verifier { params, session: session.unwrap_or_default().to_string() }
}

/// The PASSWORD_VERIFIER answer the crate computes: USERNAME = USER_ID_FOR_SRP and SECRET_HASH
/// over it, as the SDKs send it.
pub(crate) fn claim(app: App<'_>, srp: &SrpClient<SrpUser>, v: &Verifier) -> HashMap<String, String> {
    let p = &v.params;
    let proof = srp
        .verify(&p["SECRET_BLOCK"], v.user_id(), &p["SALT"], &p["SRP_B"])
        .expect("the crate computes a claim");
    let mut answer = HashMap::from([
        ("USERNAME".to_string(), v.user_id().to_string()),
        ("PASSWORD_CLAIM_SECRET_BLOCK".to_string(), proof.password_claim_secret_block),
        ("PASSWORD_CLAIM_SIGNATURE".to_string(), proof.password_claim_signature),
        ("TIMESTAMP".to_string(), proof.timestamp),
    ]);
    if let Some(h) = app.secret_hash(v.user_id()) {
        answer.insert("SECRET_HASH".into(), h);
    }
    answer
}

/// RespondToAuthChallenge(PASSWORD_VERIFIER) with the given responses.
pub(crate) async fn respond(
    env: &TestEnv,
    app: App<'_>,
    session: &str,
    responses: HashMap<String, String>,
) -> Result<cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    env.client
        .respond_to_auth_challenge()
        .client_id(app.client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(session)
        .set_challenge_responses(Some(responses))
        .send()
        .await
        .map_err(err_name)
}

/// A whole SRP sign-in; the tokens, or the error of whichever step failed.
pub(crate) async fn srp_sign_in(
    env: &TestEnv,
    app: App<'_>,
    username: &str,
    password: &str,
) -> Result<cip::types::AuthenticationResultType, String> {
    let srp = app.srp(username, password);
    let v = initiate(env, app, &srp, username).await?;
    let out = respond(env, app, &v.session, claim(app, &srp, &v)).await?;
    assert_eq!(out.challenge_name(), None, "{out:?}");
    Ok(out.authentication_result().cloned().expect("tokens"))
}

/// A sign-in on a remembered device: PASSWORD_VERIFIER (with DEVICE_KEY), then DEVICE_SRP_AUTH
/// and DEVICE_PASSWORD_VERIFIER, the device's numbers from the crate.
pub(crate) async fn device_sign_in(
    env: &TestEnv,
    app: App<'_>,
    username: &str,
    password: &str,
    key: &str,
    device: aws_cognito_srp::TrackedDevice,
) -> Result<cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    let srp = app.srp(username, password);
    let v = initiate(env, app, &srp, username).await?;
    let mut answer = claim(app, &srp, &v);
    answer.insert("DEVICE_KEY".into(), key.to_string());
    let out = respond(env, app, &v.session, answer).await?;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::DeviceSrpAuth), "{out:?}");
    let device_srp = SrpClient::new(device, app.client_id, app.secret);
    let step = |name: ChallengeNameType, session: &str, extra: Vec<(&str, String)>| {
        let mut responses = HashMap::from([
            ("USERNAME".to_string(), v.user_id().to_string()),
            ("DEVICE_KEY".to_string(), key.to_string()),
        ]);
        if let Some(hash) = app.secret_hash(v.user_id()) {
            responses.insert("SECRET_HASH".into(), hash);
        }
        responses.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        env.client
            .respond_to_auth_challenge()
            .client_id(app.client_id)
            .challenge_name(name)
            .session(session)
            .set_challenge_responses(Some(responses))
            .send()
    };
    let out = step(
        ChallengeNameType::DeviceSrpAuth,
        out.session().unwrap(),
        vec![("SRP_A", device_srp.get_auth_parameters().a)],
    )
    .await
    .map_err(err_name)?;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::DevicePasswordVerifier), "{out:?}");
    let p = out.challenge_parameters().unwrap();
    let proof = device_srp.verify(&p["SECRET_BLOCK"], &p["SALT"], &p["SRP_B"]).unwrap();
    step(
        ChallengeNameType::DevicePasswordVerifier,
        out.session().unwrap(),
        vec![
            ("PASSWORD_CLAIM_SECRET_BLOCK", proof.password_claim_secret_block),
            ("PASSWORD_CLAIM_SIGNATURE", proof.password_claim_signature),
            ("TIMESTAMP", proof.timestamp),
        ],
    )
    .await
    .map_err(err_name)
}

fn id_claims(tokens: &cip::types::AuthenticationResultType) -> serde_json::Value {
    payload(tokens.id_token().expect("id token"))
}

on_both_stores!(srp_signs_in_by_username_and_by_alias, |env| {
    let pool = env
        .pool(|b| {
            b.alias_attributes(cip::types::AliasAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        })
        .await;
    // No ExplicitAuthFlows: the default list has ALLOW_USER_SRP_AUTH.
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("jane")
        .password(PASSWORD)
        .user_attributes(attr("email", "jane@example.com"))
        .send()
        .await
        .unwrap();
    env.confirm(&client_id, "jane", &env.last_code("jane@example.com")).await.unwrap();

    for typed in ["jane", "jane@example.com"] {
        let srp = app.srp(typed, PASSWORD);
        let v = initiate(env, app, &srp, typed).await.unwrap();
        check_shape(&v);
        assert_eq!(v.user_id(), "jane", "USER_ID_FOR_SRP is the username, never the alias");
        assert_eq!(v.params.get("USERNAME").map(String::as_str), Some("jane"));
        let out = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap();
        let tokens = out.authentication_result().unwrap();
        assert_eq!(tokens.token_type(), Some("Bearer"));
        assert!(tokens.refresh_token().is_some());
        assert_eq!(id_claims(tokens)["cognito:username"], "jane");
        let me = env.client.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
        assert_eq!(me.username(), "jane");
    }

    // Each InitiateAuth gets a fresh server ephemeral and secret block.
    let srp = app.srp("jane", PASSWORD);
    let one = initiate(env, app, &srp, "jane").await.unwrap();
    let two = initiate(env, app, &srp, "jane").await.unwrap();
    assert_ne!(one.params["SRP_B"], two.params["SRP_B"]);
    assert_ne!(one.params["SECRET_BLOCK"], two.params["SECRET_BLOCK"]);
    assert_eq!(one.params["SALT"], two.params["SALT"], "the salt is the user's verifier salt");

    // A wrong password is found only at the proof, with Cognito's message.
    let e = srp_sign_in(env, app, "jane", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, WRONG);
    let e = srp_sign_in(env, app, "jane@example.com", "correct-horse-9").await.unwrap_err();
    assert_eq!(e, WRONG, "passwords are case-sensitive");
    // An unknown user is refused at InitiateAuth.
    let e = initiate(env, app, &app.srp("nobody", PASSWORD), "nobody").await.err().unwrap();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
});

on_both_stores!(srp_in_an_email_as_username_pool_uses_the_uuid, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_SRP_AUTH"], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    let sub = env.confirmed_user(&client_id, "amy@example.com").await;

    let srp = app.srp("amy@example.com", PASSWORD);
    let v = initiate(env, app, &srp, "amy@example.com").await.unwrap();
    check_shape(&v);
    assert_eq!(v.user_id(), sub, "USER_ID_FOR_SRP is the internal (UUID) username");
    let out = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap();
    let claims = id_claims(out.authentication_result().unwrap());
    assert_eq!(claims["cognito:username"], sub.as_str());
    assert_eq!(claims["email"], "amy@example.com");

    let e = srp_sign_in(env, app, "amy@example.com", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, WRONG);
});

on_both_stores!(srp_with_a_client_secret_hashes_the_srp_user_id, |env| {
    let pool = env.email_pool().await;
    let (client_id, secret) = env.app_client(&pool, &["ALLOW_USER_SRP_AUTH"], true).await;
    let secret = secret.expect("secret");
    let app = App { pool: &pool, client_id: &client_id, secret: Some(&secret) };
    let sub = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("kim@example.com")
        .temporary_password("Temp-Horse-9")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap()
        .user()
        .and_then(|u| u.username())
        .unwrap()
        .to_string();
    env.client
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("kim@example.com")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();

    // InitiateAuth needs SECRET_HASH over the name as typed.
    let unhashed = App { secret: None, ..app };
    let e = initiate(env, unhashed, &unhashed.srp("kim@example.com", PASSWORD), "kim@example.com")
        .await
        .err()
        .unwrap();
    assert_eq!(
        e,
        format!(
            "NotAuthorizedException: Client {client_id} is configured for secret but secret was not received"
        )
    );
    let wrong = App { secret: Some("not-the-secret"), ..app };
    let e =
        initiate(env, wrong, &wrong.srp("kim@example.com", PASSWORD), "kim@example.com").await.err().unwrap();
    assert_eq!(e, format!("NotAuthorizedException: Unable to verify secret hash for client {client_id}"));

    let srp = app.srp("kim@example.com", PASSWORD);
    let v = initiate(env, app, &srp, "kim@example.com").await.unwrap();
    assert_eq!(v.user_id(), sub);
    // The answer's SECRET_HASH must be there, and over the right secret.
    let mut answer = claim(app, &srp, &v);
    answer.remove("SECRET_HASH");
    let e = respond(env, app, &v.session, answer.clone()).await.unwrap_err();
    assert_eq!(
        e,
        format!(
            "NotAuthorizedException: Client {client_id} is configured for secret but secret was not received"
        )
    );
    answer.insert("SECRET_HASH".into(), wrong.secret_hash(&sub).unwrap());
    let e = respond(env, app, &v.session, answer).await.unwrap_err();
    assert_eq!(e, format!("NotAuthorizedException: Unable to verify secret hash for client {client_id}"));
    // SECRET_HASH over USER_ID_FOR_SRP (here the UUID, not the email typed at InitiateAuth).
    let v = initiate(env, app, &srp, "kim@example.com").await.unwrap();
    let out = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap();
    assert_eq!(id_claims(out.authentication_result().unwrap())["cognito:username"], sub.as_str());
});

on_both_stores!(admin_srp_sign_in, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    env.sign_up(&client_id, "ada").await.unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("ada").send().await.unwrap();

    let srp = app.srp("ada", PASSWORD);
    let v = admin_initiate(env, app, &srp, "ada").await.unwrap();
    check_shape(&v);
    assert_eq!(v.user_id(), "ada");
    let out = env
        .client
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(&v.session)
        .set_challenge_responses(Some(claim(app, &srp, &v)))
        .send()
        .await
        .unwrap();
    assert_eq!(id_claims(out.authentication_result().unwrap())["cognito:username"], "ada");

    let bad = app.srp("ada", "Wrong-Horse-9");
    let v = admin_initiate(env, app, &bad, "ada").await.unwrap();
    let e = env
        .client
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(&v.session)
        .set_challenge_responses(Some(claim(app, &bad, &v)))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, WRONG);
});

on_both_stores!(srp_needs_the_flow_and_a_valid_srp_a, |env| {
    let pool = env.pool(|b| b).await;
    let (srp_client, _) = env.app_client(&pool, &[], false).await;
    let (password_only, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.sign_up(&srp_client, "bo").await.unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("bo").send().await.unwrap();

    let app = App { pool: &pool, client_id: &password_only, secret: None };
    let e = initiate(env, app, &app.srp("bo", PASSWORD), "bo").await.err().unwrap();
    assert_eq!(e, "InvalidParameterException: USER_SRP_AUTH flow not enabled for this client");
    let e = admin_initiate(env, app, &app.srp("bo", PASSWORD), "bo").await.err().unwrap();
    assert_eq!(e, "InvalidParameterException: USER_SRP_AUTH flow not enabled for this client");

    // A ≡ 0 (mod N) would let anyone compute the session key: refused before any challenge.
    const N: &str = concat!(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
        "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
        "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    );
    let zero_padded = format!("00{}", "0".repeat(N.len()));
    for a in ["0", "00", zero_padded.as_str(), N, &N.to_lowercase()] {
        let e = env
            .client
            .initiate_auth()
            .client_id(&srp_client)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", "bo")
            .auth_parameters("SRP_A", a)
            .send()
            .await
            .map_err(err_name)
            .unwrap_err();
        assert!(e.starts_with("InvalidParameterException: "), "SRP_A={a}: {e}");
    }
    let e = env
        .client
        .initiate_auth()
        .client_id(&srp_client)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "bo")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Missing required parameter SRP_A");
});

on_both_stores!(legacy_explicit_auth_flows_keep_srp_on, |env| {
    let pool = env.pool(|b| b).await;
    let (default_client, _) = env.app_client(&pool, &[], false).await;
    env.sign_up(&default_client, "lee").await.unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("lee").send().await.unwrap();

    // In the legacy scheme SRP and refresh are always on; the legacy values add flows.
    for legacy in ["USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"] {
        let (client_id, _) = env.app_client(&pool, &[legacy], false).await;
        let app = App { pool: &pool, client_id: &client_id, secret: None };
        let srp = app.srp("lee", PASSWORD);
        let v = initiate(env, app, &srp, "lee").await.unwrap_or_else(|e| panic!("{legacy}: {e}"));
        check_shape(&v);
        let out = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap();
        let tokens = out.authentication_result().expect("tokens");
        assert_eq!(id_claims(tokens)["cognito:username"], "lee", "{legacy}");
        env.refresh(&client_id, tokens.refresh_token().unwrap()).await.unwrap();
        // AdminInitiateAuth's SRP too.
        let v = admin_initiate(env, app, &srp, "lee").await.unwrap();
        assert_eq!(v.user_id(), "lee");

        let password = env.password_sign_in(&client_id, "lee", PASSWORD).await;
        let admin = env
            .client
            .admin_initiate_auth()
            .user_pool_id(&pool)
            .client_id(&client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "lee")
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await
            .map_err(err_name);
        if legacy == "USER_PASSWORD_AUTH" {
            password.unwrap();
            assert_eq!(
                admin.unwrap_err(),
                "InvalidParameterException: Auth flow not enabled for this client"
            );
        } else {
            assert_eq!(
                password.unwrap_err(),
                "InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client"
            );
            assert!(admin.unwrap().authentication_result().is_some());
        }
    }

    // An empty list is the default: SRP, refresh and custom auth.
    let empty = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("empty")
        .set_explicit_auth_flows(Some(vec![]))
        .send()
        .await
        .unwrap();
    let empty_id = empty.user_pool_client().and_then(|c| c.client_id()).unwrap().to_string();
    let app = App { pool: &pool, client_id: &empty_id, secret: None };
    srp_sign_in(env, app, "lee", PASSWORD).await.unwrap();
    assert_eq!(
        env.password_sign_in(&empty_id, "lee", PASSWORD).await.unwrap_err(),
        "InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client"
    );

    // CUSTOM_AUTH_FLOW_ONLY leaves only custom auth (and refresh).
    let (custom_only, _) = env.app_client(&pool, &["CUSTOM_AUTH_FLOW_ONLY"], false).await;
    let app = App { pool: &pool, client_id: &custom_only, secret: None };
    let e = initiate(env, app, &app.srp("lee", PASSWORD), "lee").await.err().unwrap();
    assert_eq!(e, "InvalidParameterException: USER_SRP_AUTH flow not enabled for this client");
    let e = admin_initiate(env, app, &app.srp("lee", PASSWORD), "lee").await.err().unwrap();
    assert_eq!(e, "InvalidParameterException: USER_SRP_AUTH flow not enabled for this client");
    assert_eq!(
        env.password_sign_in(&custom_only, "lee", PASSWORD).await.unwrap_err(),
        "InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client"
    );
    // Custom auth passes the flow check (and then needs the pool's triggers, which it has not).
    let e = env
        .client
        .initiate_auth()
        .client_id(&custom_only)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "lee")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(
        e,
        "InvalidParameterException: Custom auth lambda trigger is not configured for the user pool."
    );
});

on_both_stores!(srp_reports_unconfirmed_only_after_a_correct_proof, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    env.sign_up(&client_id, "cy").await.unwrap();

    // The challenge comes as for anyone: InitiateAuth does not reveal the status.
    let bad = app.srp("cy", "Wrong-Horse-9");
    let v = initiate(env, app, &bad, "cy").await.unwrap();
    assert_eq!(v.user_id(), "cy");
    let e = respond(env, app, &v.session, claim(app, &bad, &v)).await.unwrap_err();
    assert_eq!(e, WRONG);
    let e = srp_sign_in(env, app, "cy", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotConfirmedException: User is not confirmed.");
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("cy").send().await.unwrap();
    srp_sign_in(env, app, "cy", PASSWORD).await.unwrap();
});

on_both_stores!(srp_chains_into_new_password_required, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    let temp = "Temp-Horse-9";
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("ivy@example.com")
        .temporary_password(temp)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();

    let e = srp_sign_in(env, app, "ivy@example.com", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, WRONG);
    let srp = app.srp("ivy@example.com", temp);
    let v = initiate(env, app, &srp, "ivy@example.com").await.unwrap();
    let out = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    assert!(out.authentication_result().is_none());
    let params = out.challenge_parameters().unwrap();
    assert_eq!(params["USER_ID_FOR_SRP"], v.user_id());
    let tokens = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", v.user_id())
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(id_claims(tokens.authentication_result().unwrap())["cognito:username"], v.user_id());

    // The new password got a verifier; the temporary one is gone.
    srp_sign_in(env, app, "ivy@example.com", PASSWORD).await.unwrap();
    let e = srp_sign_in(env, app, "ivy@example.com", temp).await.unwrap_err();
    assert_eq!(e, WRONG);
});

on_both_stores!(every_way_of_setting_a_password_writes_the_verifier, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    let email = "max@example.com";
    env.confirmed_user(&client_id, email).await;
    let tokens = srp_sign_in(env, app, email, PASSWORD).await.unwrap();

    // ChangePassword.
    let changed = "Changed-Horse-9";
    env.client
        .change_password()
        .access_token(tokens.access_token().unwrap())
        .previous_password(PASSWORD)
        .proposed_password(changed)
        .send()
        .await
        .unwrap();
    assert_eq!(srp_sign_in(env, app, email, PASSWORD).await.unwrap_err(), WRONG);
    srp_sign_in(env, app, email, changed).await.unwrap();

    // AdminSetUserPassword, permanent.
    let set = "AdminSet-Horse-9";
    env.client
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username(email)
        .password(set)
        .permanent(true)
        .send()
        .await
        .unwrap();
    assert_eq!(srp_sign_in(env, app, email, changed).await.unwrap_err(), WRONG);
    srp_sign_in(env, app, email, set).await.unwrap();

    // ForgotPassword / ConfirmForgotPassword.
    env.client.forgot_password().client_id(&client_id).username(email).send().await.unwrap();
    let reset = "Reset-Horse-9";
    env.client
        .confirm_forgot_password()
        .client_id(&client_id)
        .username(email)
        .confirmation_code(env.last_code(email))
        .password(reset)
        .send()
        .await
        .unwrap();
    assert_eq!(srp_sign_in(env, app, email, set).await.unwrap_err(), WRONG);
    srp_sign_in(env, app, email, reset).await.unwrap();
});

on_both_stores!(srp_sessions_answer_once_and_expire, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let (other_client, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    env.sign_up(&client_id, "eve").await.unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("eve").send().await.unwrap();

    // A replayed answer: the session is spent.
    let srp = app.srp("eve", PASSWORD);
    let v = initiate(env, app, &srp, "eve").await.unwrap();
    let answer = claim(app, &srp, &v);
    respond(env, app, &v.session, answer.clone()).await.unwrap();
    let e = respond(env, app, &v.session, answer).await.unwrap_err();
    assert_eq!(e, INVALID_SESSION);

    // Another client's session, a made-up one, a proof for another sign-in's server values.
    let v = initiate(env, app, &srp, "eve").await.unwrap();
    let other = App { client_id: &other_client, ..app };
    let e = respond(env, other, &v.session, claim(app, &srp, &v)).await.unwrap_err();
    assert_eq!(e, INVALID_SESSION);
    let e = respond(env, app, &"x".repeat(64), claim(app, &srp, &v)).await.unwrap_err();
    assert_eq!(e, INVALID_SESSION);
    let w = initiate(env, app, &srp, "eve").await.unwrap();
    let mut crossed = claim(app, &srp, &v);
    crossed.insert("PASSWORD_CLAIM_SECRET_BLOCK".into(), w.params["SECRET_BLOCK"].clone());
    let e = respond(env, app, &w.session, crossed).await.unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: "), "{e}");

    // An old session (AuthSessionValidity, 3 minutes by default).
    let v = initiate(env, app, &srp, "eve").await.unwrap();
    env.clock.advance_secs(3 * 60 + 1);
    let e = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap_err();
    assert_eq!(e, INVALID_SESSION);
});

on_both_stores!(srp_with_a_remembered_device, |env| {
    use aws_cognito_srp::{TrackedDevice, UntrackedDevice};
    let pool = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .device_configuration(
                    cip::types::DeviceConfigurationType::builder()
                        .challenge_required_on_new_device(true)
                        .device_only_remembered_on_user_prompt(false)
                        .build(),
                )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let app = App { pool: &pool, client_id: &client_id, secret: None };
    let sub = env.confirmed_user(&client_id, "dot@example.com").await;

    // A new device: the tokens carry its key, and the crate makes its verifier for ConfirmDevice.
    let tokens = srp_sign_in(env, app, "dot@example.com", PASSWORD).await.unwrap();
    let meta = tokens.new_device_metadata().expect("NewDeviceMetadata").clone();
    let (key, group) = (meta.device_key().unwrap().to_string(), meta.device_group_key().unwrap().to_string());
    let untracked = SrpClient::new(UntrackedDevice::new(&pool, &group, &key), &client_id, None);
    let verifier = untracked.get_password_verifier();
    let confirmed = env
        .client
        .confirm_device()
        .access_token(tokens.access_token().unwrap())
        .device_key(&key)
        .device_secret_verifier_config(
            cip::types::DeviceSecretVerifierConfigType::builder()
                .password_verifier(&verifier.verifier)
                .salt(&verifier.salt)
                .build(),
        )
        .device_name("rust-test")
        .send()
        .await
        .unwrap();
    assert!(!confirmed.user_confirmation_necessary(), "devices are always remembered in this pool");
    let device = untracked.take_credentials().into_tracked(&verifier.password);

    // Signing in on it: PASSWORD_VERIFIER, then DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER.
    let key = key.as_str();
    let sign_in_on =
        |device: TrackedDevice| device_sign_in(env, app, "dot@example.com", PASSWORD, key, device);
    let out = sign_in_on(device.clone()).await.unwrap();
    let tokens = out.authentication_result().unwrap();
    assert!(tokens.new_device_metadata().is_none(), "a known device gets no new key");
    let access = payload(tokens.access_token().unwrap());
    assert_eq!(access["device_key"], key);
    assert_eq!(access["username"], sub.as_str());

    // The wrong device password fails the device proof.
    let impostor = TrackedDevice::new(&pool, &group, key, "not-the-device-password");
    let e = sign_in_on(impostor).await.unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: "), "{e}");
});
