//! `tessera export` and `tessera restore` (docs/backup.md): a pool exported from one server
//! and restored into another, on the other store, where the same users sign in by every
//! method (password, SRP with the aws-cognito-srp crate, TOTP MFA, a remembered device), with
//! their groups, clients, keys, identity pool and Sync data; and the archives restore must
//! refuse.

use crate::common::*;
use crate::on_both_stores;
use crate::srp::{claim, initiate, respond, srp_sign_in, App};
use aws_cognito_srp::{SrpClient, TrackedDevice, UntrackedDevice};
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AuthFlowType, ChallengeNameType};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::backup::{Remap, RestoreOptions, Scope};
use tessera_core::ports::Clock as _;
use tessera_core::Service;
use tessera_local::backup::{export_file, new_identity, restore_file, Protection};

fn service(env: &TestEnv) -> Arc<Service> {
    env.server.state.frontend.service.clone()
}

/// An age key pair: (identity, recipient).
fn key_pair() -> (String, String) {
    let (text, recipient) = new_identity();
    let identity =
        text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).expect("identity line").to_string();
    (identity, recipient)
}

fn archive_path(env: &TestEnv, name: &str) -> PathBuf {
    env.data_dir().with_file_name(format!("{}-{name}.tessera", unique("archive")))
}

/// What the source pool holds, to be found again after the restore.
struct Source {
    pool: String,
    client: String,
    secret: String,
    totp_secret: String,
    device_key: String,
    device: TrackedDevice,
    identity_pool: String,
    identity: String,
    jwks: serde_json::Value,
}

async fn jwks(env: &TestEnv, pool: &str) -> serde_json::Value {
    let (status, _, body) =
        raw_http(&env.url, "GET", &format!("/{pool}/.well-known/jwks.json"), &[], b"").await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).expect("JWKS")
}

/// A pool with email usernames, TOTP MFA optional, devices always remembered, a group, a
/// client with a secret; ann (password), bob (TOTP), dot (a remembered device); an identity
/// pool with a Sync dataset.
async fn populate(env: &TestEnv) -> Source {
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
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(cip::types::UserPoolMfaType::Optional)
        .software_token_mfa_configuration(
            cip::types::SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .expect("mfa config");
    let (client, secret) = env
        .app_client(
            &pool,
            &["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            true,
        )
        .await;
    let secret = secret.expect("secret");
    let app = App { pool: &pool, client_id: &client, secret: Some(&secret) };
    for email in ["ann@example.com", "bob@example.com", "dot@example.com"] {
        env.client
            .admin_create_user()
            .user_pool_id(&pool)
            .username(email)
            .user_attributes(attr("email", email))
            .user_attributes(attr("email_verified", "true"))
            .message_action(cip::types::MessageActionType::Suppress)
            .send()
            .await
            .expect("create user");
        env.client
            .admin_set_user_password()
            .user_pool_id(&pool)
            .username(email)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .expect("set password");
    }
    env.client
        .create_group()
        .user_pool_id(&pool)
        .group_name("admins")
        .precedence(1)
        .send()
        .await
        .expect("group");
    env.client
        .admin_add_user_to_group()
        .user_pool_id(&pool)
        .username("ann@example.com")
        .group_name("admins")
        .send()
        .await
        .expect("add to group");

    // bob: TOTP MFA.
    let tokens = srp_sign_in(env, app, "bob@example.com", PASSWORD).await.expect("bob signs in");
    let access = tokens.access_token().unwrap();
    let totp_secret = env
        .client
        .associate_software_token()
        .access_token(access)
        .send()
        .await
        .expect("associate")
        .secret_code()
        .unwrap()
        .to_string();
    let code =
        tessera_core::user_pool::mfa::totp::software_token_code(&totp_secret, env.clock.now_secs()).unwrap();
    env.client.verify_software_token().access_token(access).user_code(code).send().await.expect("verify");
    env.client
        .set_user_mfa_preference()
        .access_token(access)
        .software_token_mfa_settings(
            cip::types::SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(true).build(),
        )
        .send()
        .await
        .expect("mfa preference");

    // dot: a remembered device, its verifier made by the crate.
    let tokens = srp_sign_in(env, app, "dot@example.com", PASSWORD).await.expect("dot signs in");
    let meta = tokens.new_device_metadata().expect("NewDeviceMetadata").clone();
    let (device_key, group) =
        (meta.device_key().unwrap().to_string(), meta.device_group_key().unwrap().to_string());
    let untracked = SrpClient::new(UntrackedDevice::new(&pool, &group, &device_key), &client, Some(&secret));
    let verifier = untracked.get_password_verifier();
    env.client
        .confirm_device()
        .access_token(tokens.access_token().unwrap())
        .device_key(&device_key)
        .device_secret_verifier_config(
            cip::types::DeviceSecretVerifierConfigType::builder()
                .password_verifier(&verifier.verifier)
                .salt(&verifier.salt)
                .build(),
        )
        .send()
        .await
        .expect("confirm device");
    let device = untracked.take_credentials().into_tracked(&verifier.password);

    // An identity pool trusting the user pool, an identity, a Sync dataset.
    let identity = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let identity_pool = identity
        .create_identity_pool()
        .identity_pool_name("backup")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(
            aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                .provider_name(format!("cognito-idp.us-east-1.amazonaws.com/{pool}"))
                .client_id(&client)
                .build(),
        )
        .send()
        .await
        .expect("identity pool")
        .identity_pool_id()
        .to_string();
    let identity_id = identity
        .get_id()
        .identity_pool_id(&identity_pool)
        .send()
        .await
        .expect("get id")
        .identity_id()
        .unwrap()
        .to_string();
    let sync = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
    let token = sync
        .list_records()
        .identity_pool_id(&identity_pool)
        .identity_id(&identity_id)
        .dataset_name("settings")
        .send()
        .await
        .expect("list records")
        .sync_session_token()
        .unwrap()
        .to_string();
    sync.update_records()
        .identity_pool_id(&identity_pool)
        .identity_id(&identity_id)
        .dataset_name("settings")
        .sync_session_token(token)
        .record_patches(
            aws_sdk_cognitosync::types::RecordPatch::builder()
                .op(aws_sdk_cognitosync::types::Operation::Replace)
                .key("theme")
                .value("dark")
                .sync_count(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("update records");
    // Rotated keys: active, retired and next pairs, all in the archive.
    for activate in [false, true, false] {
        let input = serde_json::json!({"UserPoolId": pool, "Activate": activate});
        tessera_core::tessera_service::rotate_signing_keys(&service(env), &input).await.expect("rotate");
    }
    let jwks = jwks(env, &pool).await;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(6), "{jwks}");
    Source {
        pool,
        client,
        secret,
        totp_secret,
        device_key,
        device,
        identity_pool,
        identity: identity_id,
        jwks,
    }
}

/// Signs dot in on the remembered device (no MFA): the access token.
async fn device_sign_in(
    env: &TestEnv,
    app: App<'_>,
    key: &str,
    device: TrackedDevice,
) -> Result<String, String> {
    let out = crate::srp::device_sign_in(env, app, "dot@example.com", PASSWORD, key, device).await?;
    Ok(out.authentication_result().and_then(|t| t.access_token()).expect("tokens").to_string())
}

fn secret_hash(client: &str, secret: &str, username: &str) -> String {
    App { pool: "", client_id: client, secret: Some(secret) }.secret_hash(username).unwrap()
}

/// Everything `populate` made, found on `env` under `pool` (which may be a new id).
async fn check_restored(env: &TestEnv, src: &Source, pool: &str, client: &str, srp_kept: bool) {
    let app = App { pool, client_id: client, secret: Some(&src.secret) };
    // The password, by USER_PASSWORD_AUTH, then SRP (a remapped pool's users need the first).
    let out = env
        .client
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ann@example.com")
        .auth_parameters("PASSWORD", PASSWORD)
        .auth_parameters("SECRET_HASH", secret_hash(client, &src.secret, "ann@example.com"))
        .send()
        .await
        .expect("ann signs in with her password");
    let ann = out.authentication_result().unwrap();
    let claims = crate::tokens::payload(ann.id_token().unwrap());
    assert_eq!(claims["cognito:groups"], serde_json::json!(["admins"]));
    assert_eq!(claims["email"], "ann@example.com");
    let wrong = env
        .client
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ann@example.com")
        .auth_parameters("PASSWORD", "Wrong-Horse-9")
        .auth_parameters("SECRET_HASH", secret_hash(client, &src.secret, "ann@example.com"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(wrong.starts_with("NotAuthorizedException"), "{wrong}");
    if srp_kept {
        srp_sign_in(env, app, "ann@example.com", PASSWORD).await.expect("ann signs in by SRP");
    } else {
        // Without their SRP verifiers, bob and dot sign in by password once (bob's MFA
        // challenge comes after the password check that makes the new verifier).
        for user in ["bob@example.com", "dot@example.com"] {
            env.client
                .initiate_auth()
                .client_id(client)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", user)
                .auth_parameters("PASSWORD", PASSWORD)
                .auth_parameters("SECRET_HASH", secret_hash(client, &src.secret, user))
                .send()
                .await
                .expect("a password sign-in");
        }
    }
    srp_sign_in(env, app, "ann@example.com", PASSWORD).await.expect("SRP after a password sign-in");

    // bob: SRP, then the TOTP challenge answered with his old authenticator.
    let srp = app.srp("bob@example.com", PASSWORD);
    let v = initiate(env, app, &srp, "bob@example.com").await.unwrap();
    let out = respond(env, app, &v.session, claim(app, &srp, &v)).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa), "{out:?}");
    env.clock.advance_secs(30);
    let code =
        tessera_core::user_pool::mfa::totp::software_token_code(&src.totp_secret, env.clock.now_secs())
            .unwrap();
    env.client
        .respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(ChallengeNameType::SoftwareTokenMfa)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", v.user_id())
        .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
        .challenge_responses("SECRET_HASH", secret_hash(client, &src.secret, v.user_id()))
        .send()
        .await
        .expect("bob's TOTP code");

    // dot: the remembered device stands in for MFA; a wrong device password does not.
    device_sign_in(env, app, &src.device_key, src.device.clone()).await.expect("dot on her device");
    let impostor = TrackedDevice::new(pool, "", &src.device_key, "not-the-device-password");
    assert!(device_sign_in(env, app, &src.device_key, impostor).await.is_err());

    // The index: ListUsers by email, and the users' count.
    let listed = env
        .client
        .list_users()
        .user_pool_id(pool)
        .filter("email = \"bob@example.com\"")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.users().len(), 1);
    assert_eq!(env.client.list_users().user_pool_id(pool).send().await.unwrap().users().len(), 3);
    // The client keeps its secret.
    let described =
        env.client.describe_user_pool_client().user_pool_id(pool).client_id(client).send().await.unwrap();
    assert_eq!(described.user_pool_client().unwrap().client_secret(), Some(src.secret.as_str()));
}

async fn check_identity_pool(env: &TestEnv, src: &Source) {
    let sync = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
    let out = sync
        .list_records()
        .identity_pool_id(&src.identity_pool)
        .identity_id(&src.identity)
        .dataset_name("settings")
        .send()
        .await
        .expect("list records");
    let records: Vec<_> = out.records().iter().map(|r| (r.key().unwrap(), r.value().unwrap())).collect();
    assert_eq!(records, vec![("theme", "dark")]);
    let identity = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let described = identity.describe_identity().identity_id(&src.identity).send().await.expect("identity");
    assert_eq!(described.identity_id(), Some(src.identity.as_str()));
}

async fn round_trip(from: Backend, to: Backend) {
    let (Some(source), Some(target)) = (TestEnv::start(from).await, TestEnv::start(to).await) else { return };
    let src = populate(&source).await;
    let (identity, recipient) = key_pair();
    let path = archive_path(&source, "round-trip");
    let scope = Scope { all: true, ..Scope::default() };
    export_file(&service(&source), &scope, &path, &Protection::Keys(vec![recipient])).await.expect("export");
    let report =
        restore_file(&service(&target), &path, &Protection::Keys(vec![identity]), RestoreOptions::default())
            .await
            .expect("restore");
    assert_eq!(report.user_pools, vec![src.pool.clone()]);
    assert_eq!(report.identity_pools, vec![src.identity_pool.clone()]);
    assert_eq!(report.users, 3);
    check_restored(&target, &src, &src.pool, &src.client, true).await;
    check_identity_pool(&target, &src).await;
    // The same keys: tokens the source signed verify against the target's JWKS.
    assert_eq!(jwks(&target, &src.pool).await, src.jwks);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_to_dynamodb() {
    round_trip(Backend::Embedded, Backend::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_to_embedded() {
    round_trip(Backend::DynamoDb, Backend::Embedded).await;
}

/// Gunzips an unencrypted archive into its lines, and back.
fn read_plain(path: &PathBuf) -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text.lines().map(str::to_string).collect()
}

fn write_plain(path: &PathBuf, lines: &[String]) {
    let mut gz =
        flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    for l in lines {
        gz.write_all(l.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap();
}

/// The end line an attacker who rewrites the items would also rewrite.
fn mend_end(lines: &mut [String]) {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let items = &lines[1..lines.len() - 1];
    for l in items {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    let last = lines.len() - 1;
    lines[last] =
        serde_json::json!({"end": {"items": items.len(), "sha256": hex::encode(h.finalize())}}).to_string();
}

async fn pool_count(env: &TestEnv) -> usize {
    env.client.list_user_pools().max_results(60).send().await.unwrap().user_pools().len()
}

on_both_stores!(damaged_or_altered_archives_are_refused_and_write_nothing, |env| {
    let pool = env.email_pool().await;
    let (client, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client, "ann@example.com").await;
    let svc = service(env);
    let scope = Scope { user_pools: vec![pool.clone()], ..Scope::default() };
    let Some(target) = TestEnv::start(Backend::Embedded).await else { return };
    let target_svc = service(&target);
    let (identity, recipient) = key_pair();
    let keys = Protection::Keys(vec![identity.clone()]);

    // Encrypted: one byte flipped in the body; cut short; the wrong key.
    let sealed = archive_path(env, "sealed");
    export_file(&svc, &scope, &sealed, &Protection::Keys(vec![recipient])).await.unwrap();
    let bytes = std::fs::read(&sealed).unwrap();
    let flipped = archive_path(env, "flipped");
    let mut altered = bytes.clone();
    let at = altered.len() - 40;
    altered[at] ^= 0x01;
    std::fs::write(&flipped, &altered).unwrap();
    let e = restore_file(&target_svc, &flipped, &keys, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("cannot read"), "{e}");
    let cut = archive_path(env, "cut");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(restore_file(&target_svc, &cut, &keys, RestoreOptions::default()).await.is_err());
    let (other, _) = key_pair();
    let e = restore_file(&target_svc, &sealed, &Protection::Keys(vec![other]), RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(e.contains("cannot decrypt"), "{e}");
    let e =
        restore_file(&target_svc, &sealed, &Protection::None, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("is encrypted"), "{e}");

    // Unencrypted: refused unless asked for by name; then an item altered, an item added with
    // the end line mended, and the end line dropped.
    let plain = archive_path(env, "plain");
    export_file(&svc, &scope, &plain, &Protection::None).await.unwrap();
    let e = restore_file(&target_svc, &plain, &keys, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("--unencrypted"), "{e}");
    let lines = read_plain(&plain);
    let user_line = lines.iter().position(|l| l.contains("\"kind\":\"user\"")).expect("a user item");

    let mut altered = lines.clone();
    altered[user_line] = altered[user_line].replace("ann@example.com", "eve@example.com");
    let path = archive_path(env, "altered");
    write_plain(&path, &altered);
    let e = restore_file(&target_svc, &path, &Protection::None, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("do not match its end line"), "{e}");

    // An item aimed elsewhere in the store (the deployment's data key), end line mended.
    let mut planted = lines.clone();
    planted.insert(
        user_line,
        serde_json::json!({"item": {"kind": "user_group", "pk": "CONFIG", "sk": "DATAKEY", "body": {}}})
            .to_string(),
    );
    mend_end(&mut planted);
    write_plain(&path, &planted);
    let e = restore_file(&target_svc, &path, &Protection::None, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("belongs to no pool"), "{e}");

    // A sealed value from another deployment in place of its secret.
    let mut foreign = lines.clone();
    let mut user: serde_json::Value = serde_json::from_str(&foreign[user_line]).unwrap();
    user["item"]["secrets"].as_object_mut().unwrap().remove("/srp/sealed_verifier");
    user["item"]["body"]["srp"]["sealed_verifier"] = serde_json::json!("pQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    foreign[user_line] = user.to_string();
    mend_end(&mut foreign);
    write_plain(&path, &foreign);
    let e = restore_file(&target_svc, &path, &Protection::None, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("instead of its secret"), "{e}");

    let mut endless = lines.clone();
    endless.pop();
    write_plain(&path, &endless);
    let e = restore_file(&target_svc, &path, &Protection::None, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("ends early"), "{e}");

    assert_eq!(pool_count(&target).await, 0, "nothing was restored");
    let e =
        target.client.describe_user_pool().user_pool_id(&pool).send().await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("ResourceNotFoundException"), "{e}");

    // The untouched archive restores.
    restore_file(&target_svc, &plain, &Protection::None, RestoreOptions::default()).await.expect("restore");
    target.password_sign_in(&client, "ann@example.com", PASSWORD).await.expect("ann signs in");
    for p in [sealed, flipped, cut, plain, path] {
        let _ = std::fs::remove_file(p);
    }
});

on_both_stores!(restoring_over_a_pool_is_refused_unless_asked, |env| {
    let src = populate(env).await;
    let svc = service(env);
    let (identity, recipient) = key_pair();
    let keys = Protection::Keys(vec![identity]);
    let path = archive_path(env, "over");
    let scope = Scope { user_pools: vec![src.pool.clone()], ..Scope::default() };
    export_file(&svc, &scope, &path, &Protection::Keys(vec![recipient])).await.unwrap();

    // ann changes her password after the export; a refused restore leaves it so.
    env.client
        .admin_set_user_password()
        .user_pool_id(&src.pool)
        .username("ann@example.com")
        .password("Changed-Horse-9")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let e = restore_file(&svc, &path, &keys, RestoreOptions::default()).await.unwrap_err();
    assert!(e.contains("already exists") && e.contains("--replace"), "{e}");
    assert!(env
        .client
        .initiate_auth()
        .client_id(&src.client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ann@example.com")
        .auth_parameters("PASSWORD", "Changed-Horse-9")
        .auth_parameters("SECRET_HASH", secret_hash(&src.client, &src.secret, "ann@example.com"))
        .send()
        .await
        .is_ok());

    // --replace: the archive's state again (ann's old password).
    let report = restore_file(&svc, &path, &keys, RestoreOptions { replace: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(report.replaced, vec![src.pool.clone()]);
    check_restored(env, &src, &src.pool, &src.client, true).await;

    // --new-ids: a copy beside it, with new pool and client ids; SRP after one password sign-in.
    let new_pool = tessera_core::ids::user_pool_id(svc.rng.as_ref(), "us-east-1");
    let remap = Remap { user_pools: [(src.pool.clone(), new_pool.clone())].into(), new_client_ids: true };
    let e = restore_file(
        &svc,
        &path,
        &keys,
        RestoreOptions { remap: Remap { new_client_ids: false, ..remap.clone() }, ..Default::default() },
    )
    .await
    .unwrap_err();
    assert!(e.contains("--new-ids"), "a copy cannot share the client ids: {e}");
    restore_file(&svc, &path, &keys, RestoreOptions { remap, ..Default::default() }).await.expect("copy");
    let clients = env.client.list_user_pool_clients().user_pool_id(&new_pool).send().await.unwrap();
    let copy_client = clients.user_pool_clients()[0].client_id().unwrap().to_string();
    assert_ne!(copy_client, src.client);
    let app = App { pool: &new_pool, client_id: &copy_client, secret: Some(&src.secret) };
    let e = srp_sign_in(env, app, "ann@example.com", PASSWORD).await.unwrap_err();
    assert!(
        e.starts_with("PasswordResetRequiredException"),
        "no SRP verifier before a password sign-in: {e}"
    );
    check_restored(env, &src, &new_pool, &copy_client, false).await;
    // The original is untouched.
    srp_sign_in(
        env,
        App { pool: &src.pool, client_id: &src.client, secret: Some(&src.secret) },
        "ann@example.com",
        PASSWORD,
    )
    .await
    .expect("the original pool");
    let _ = std::fs::remove_file(&path);
});

on_both_stores!(a_passphrase_archive_restores_with_the_passphrase_only, |env| {
    let pool = env.email_pool().await;
    let (client, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client, "ann@example.com").await;
    let path = archive_path(env, "passphrase");
    let scope = Scope { user_pools: vec![pool.clone()], ..Scope::default() };
    export_file(&service(env), &scope, &path, &Protection::Passphrase("correct horse battery".into()))
        .await
        .unwrap();
    let Some(target) = TestEnv::start(Backend::Embedded).await else { return };
    let wrong = Protection::Passphrase("wrong horse battery".into());
    assert!(restore_file(&service(&target), &path, &wrong, RestoreOptions::default()).await.is_err());
    let right = Protection::Passphrase("correct horse battery".into());
    restore_file(&service(&target), &path, &right, RestoreOptions::default()).await.expect("restore");
    target.password_sign_in(&client, "ann@example.com", PASSWORD).await.expect("ann signs in");
    let _ = std::fs::remove_file(&path);
});
