//! Remembered devices: ConfirmDevice, the user's Get/List/Update/Forget operations and their
//! Admin variants, their errors, and clean-up with users and pools. Sign-in does not hand out
//! devices yet, so each test creates them as a sign-in would (`user_pool::devices::records::new_device`).

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::Arc;
use tessera_core::model::keys;
use tessera_core::user_pool::devices::records as devices;
use tessera_core::user_pool::devices::records::Device;
use tessera_core::Service;

fn service(env: &TestEnv) -> Arc<Service> {
    env.server.state.frontend.service.clone()
}

/// A pool with email usernames and the given device tracking (None: not tracked), and a client
/// that signs in with passwords.
async fn device_pool(env: &TestEnv, opt_in: Option<bool>) -> (String, String) {
    let pool = env
        .pool(|b| {
            let b = b
                .username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email);
            match opt_in {
                Some(prompt) => b.device_configuration(
                    cip::types::DeviceConfigurationType::builder()
                        .challenge_required_on_new_device(true)
                        .device_only_remembered_on_user_prompt(prompt)
                        .build(),
                ),
                None => b,
            }
        })
        .await;
    let (client, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    (pool, client)
}

/// A confirmed user, signed in: their access token.
async fn signed_in(env: &TestEnv, client: &str, email: &str) -> String {
    env.confirmed_user(client, email).await;
    let tokens = env.password_sign_in(client, email, PASSWORD).await.expect("sign in");
    tokens.access_token().unwrap_or_default().to_string()
}

/// A device of the user, unconfirmed, as a sign-in creates it.
async fn new_device(env: &TestEnv, pool_id: &str, username: &str) -> Device {
    let svc = service(env);
    let pool = svc.pool(pool_id).await.expect("pool");
    let (user, _) = svc.require_user(&pool, username).await.expect("user");
    devices::new_device(&svc, &pool, &user).await.expect("new device")
}

/// The SDK's padHex, on bytes: a leading zero byte when the top bit is set.
fn pad(bytes: Vec<u8>) -> Vec<u8> {
    match bytes.first() {
        Some(b) if *b >= 0x80 => [vec![0], bytes].concat(),
        _ => bytes,
    }
}

/// The salt and verifier amazon-cognito-identity-js computes for a device (x over
/// `DeviceGroupKey || DeviceKey || ":" || password`), as the bytes it base64-encodes.
fn device_secrets(device: &Device, password: &str) -> (Vec<u8>, Vec<u8>) {
    let salt = [0xa7u8; 16];
    let (salt, verifier) =
        tessera_core::srp::verifier(&device.device_group_key, &device.device_key, password, &salt);
    (pad(salt.to_bytes_be()), pad(verifier.to_bytes_be()))
}

async fn confirm(env: &TestEnv, token: &str, device: &Device, name: &str) -> Result<bool, String> {
    let (salt, verifier) = device_secrets(device, "device-password");
    confirm_with(env, token, &device.device_key, &STANDARD.encode(verifier), &STANDARD.encode(salt), name)
        .await
}

async fn confirm_with(
    env: &TestEnv,
    token: &str,
    device_key: &str,
    verifier: &str,
    salt: &str,
    name: &str,
) -> Result<bool, String> {
    env.client
        .confirm_device()
        .access_token(token)
        .device_key(device_key)
        .device_secret_verifier_config(
            cip::types::DeviceSecretVerifierConfigType::builder()
                .password_verifier(verifier)
                .salt(salt)
                .build(),
        )
        .device_name(name)
        .send()
        .await
        .map(|o| o.user_confirmation_necessary())
        .map_err(err_name)
}

async fn get(env: &TestEnv, token: &str, key: &str) -> Result<cip::types::DeviceType, String> {
    env.client
        .get_device()
        .access_token(token)
        .device_key(key)
        .send()
        .await
        .map(|o| o.device().cloned().expect("device"))
        .map_err(err_name)
}

async fn admin_get(
    env: &TestEnv,
    pool: &str,
    username: &str,
    key: &str,
) -> Result<cip::types::DeviceType, String> {
    env.client
        .admin_get_device()
        .user_pool_id(pool)
        .username(username)
        .device_key(key)
        .send()
        .await
        .map(|o| o.device().cloned().expect("device"))
        .map_err(err_name)
}

async fn set_status(env: &TestEnv, token: &str, key: &str, remembered: bool) -> Result<(), String> {
    let status = if remembered {
        cip::types::DeviceRememberedStatusType::Remembered
    } else {
        cip::types::DeviceRememberedStatusType::NotRemembered
    };
    env.client
        .update_device_status()
        .access_token(token)
        .device_key(key)
        .device_remembered_status(status)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn forget(env: &TestEnv, token: &str, key: &str) -> Result<(), String> {
    env.client.forget_device().access_token(token).device_key(key).send().await.map(|_| ()).map_err(err_name)
}

/// Every device key ListDevices shows, following PaginationToken with the given page size.
async fn list_keys(env: &TestEnv, token: &str, limit: i32) -> Vec<String> {
    let mut keys = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..50 {
        let out = env
            .client
            .list_devices()
            .access_token(token)
            .limit(limit)
            .set_pagination_token(next.clone())
            .send()
            .await
            .expect("list devices");
        assert!(out.devices().len() <= limit as usize);
        keys.extend(out.devices().iter().filter_map(|d| d.device_key().map(str::to_string)));
        next = out.pagination_token().map(str::to_string);
        if next.is_none() {
            return keys;
        }
    }
    panic!("ListDevices never ended");
}

/// Every device key AdminListDevices shows, following PaginationToken with the given page size.
async fn admin_list_keys(
    env: &TestEnv,
    pool: &str,
    username: &str,
    limit: i32,
) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..50 {
        let out = env
            .client
            .admin_list_devices()
            .user_pool_id(pool)
            .username(username)
            .limit(limit)
            .set_pagination_token(next.clone())
            .send()
            .await
            .map_err(err_name)?;
        keys.extend(out.devices().iter().filter_map(|d| d.device_key().map(str::to_string)));
        next = out.pagination_token().map(str::to_string);
        if next.is_none() {
            return Ok(keys);
        }
    }
    panic!("AdminListDevices never ended");
}

fn attribute(device: &cip::types::DeviceType, name: &str) -> Option<String> {
    device.device_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value().map(str::to_string))
}

const NOT_FOUND: &str = "ResourceNotFoundException: Device does not exist.";

on_both_stores!(an_opt_in_pool_remembers_a_device_once_the_user_says_so, |env| {
    let (pool, client) = device_pool(env, Some(true)).await;
    let token = signed_in(env, &client, "jane@example.com").await;
    let device = new_device(env, &pool, "jane@example.com").await;
    let region = pool.split('_').next().unwrap();
    assert!(device.device_key.starts_with(&format!("{region}_")), "{}", device.device_key);
    assert_eq!(device.device_key.len(), region.len() + 1 + 36);
    assert!(device.device_group_key.starts_with('-'));

    assert_eq!(confirm(env, &token, &device, "Jane's laptop").await, Ok(true), "the app must ask the user");
    // Not remembered yet: the user's own operations do not show it; the admin ones do.
    assert_eq!(get(env, &token, &device.device_key).await.err().as_deref(), Some(NOT_FOUND));
    assert!(list_keys(env, &token, 10).await.is_empty());
    let seen = admin_get(env, &pool, "jane@example.com", &device.device_key).await.expect("admin get");
    assert_eq!(attribute(&seen, "dev:device_remembered_status").as_deref(), Some("not_remembered"));
    let svc = service(env);
    let p = svc.pool(&pool).await.unwrap();
    let (user, _) = svc.require_user(&p, "jane@example.com").await.unwrap();
    let (stored, _) = devices::find_device(&svc, &p, &user, &device.device_key).await.unwrap().unwrap();
    assert!(!devices::is_remembered(&p, &stored));

    set_status(env, &token, &device.device_key, true).await.expect("remember");
    let shown = get(env, &token, &device.device_key).await.expect("get device");
    assert_eq!(shown.device_key(), Some(device.device_key.as_str()));
    assert_eq!(attribute(&shown, "device_status").as_deref(), Some("valid"));
    assert_eq!(attribute(&shown, "device_name").as_deref(), Some("Jane's laptop"));
    assert_eq!(attribute(&shown, "dev:device_remembered_status").as_deref(), Some("remembered"));
    assert_eq!(attribute(&shown, "last_ip_used"), None, "no address is known");
    assert!(shown.device_create_date().is_some() && shown.device_last_modified_date().is_some());
    assert!(shown.device_last_authenticated_date().is_some());
    assert_eq!(list_keys(env, &token, 10).await, vec![device.device_key.clone()]);
    let (stored, _) = devices::find_device(&svc, &p, &user, &device.device_key).await.unwrap().unwrap();
    assert!(devices::is_remembered(&p, &stored));

    // The verifier is kept as the SDK sent it, and only sealed.
    let (salt, verifier) = device_secrets(&device, "device-password");
    assert_eq!(devices::open_device_verifier(&svc, &stored).await.unwrap(), Some((salt, verifier.clone())));
    let raw = svc
        .store
        .get(&keys::user_devices(&pool, &p.username_key(&user.username)), &device.device_key, svc.now_secs())
        .await
        .unwrap()
        .unwrap();
    assert!(!raw.body.to_string().contains(&STANDARD.encode(&verifier)));

    // A device is confirmed once.
    assert_eq!(
        confirm(env, &token, &device, "again").await,
        Err("DeviceKeyExistsException: Device key already exists.".into())
    );
    set_status(env, &token, &device.device_key, false).await.expect("forget choice");
    assert_eq!(get(env, &token, &device.device_key).await.err().as_deref(), Some(NOT_FOUND));
});

on_both_stores!(an_always_pool_remembers_every_confirmed_device, |env| {
    let (pool, client) = device_pool(env, Some(false)).await;
    let token = signed_in(env, &client, "sam@example.com").await;
    let device = new_device(env, &pool, "sam@example.com").await;
    assert_eq!(confirm(env, &token, &device, "phone").await, Ok(false));
    let shown = get(env, &token, &device.device_key).await.expect("get");
    assert_eq!(attribute(&shown, "dev:device_remembered_status").as_deref(), Some("remembered"));
    let first = shown.device_last_authenticated_date().unwrap().secs();

    // A device sign-in moves DeviceLastAuthenticatedDate.
    env.clock.advance_secs(120);
    let svc = service(env);
    let p = svc.pool(&pool).await.unwrap();
    let (user, _) = svc.require_user(&p, "sam@example.com").await.unwrap();
    devices::record_device_sign_in(&svc, &p, &user, &device.device_key).await.expect("recorded");
    let shown = get(env, &token, &device.device_key).await.expect("get");
    assert!(shown.device_last_authenticated_date().unwrap().secs() >= first + 120);
    assert_eq!(
        devices::record_device_sign_in(&svc, &p, &user, "us-east-1_00000000-0000-4000-8000-000000000000")
            .await,
        Err(devices::device_not_found())
    );
});

on_both_stores!(confirm_device_refuses_what_it_cannot_confirm, |env| {
    let (pool, client) = device_pool(env, Some(true)).await;
    let token = signed_in(env, &client, "ann@example.com").await;
    let other_token = signed_in(env, &client, "bob@example.com").await;
    let device = new_device(env, &pool, "ann@example.com").await;
    let invalid_key = "InvalidParameterException: Invalid device key given.";
    assert_eq!(
        confirm(env, &other_token, &device, "x").await.err().as_deref(),
        Some(invalid_key),
        "not Bob's"
    );
    let mut unknown = device.clone();
    unknown.device_key = "us-east-1_00000000-0000-4000-8000-000000000000".into();
    assert_eq!(confirm(env, &token, &unknown, "x").await.err().as_deref(), Some(invalid_key));
    let (salt, _) = device_secrets(&device, "pw");
    let salt = STANDARD.encode(salt);
    for verifier in ["", "not base64!", "AA==", &STANDARD.encode([0xffu8; 400])] {
        let err = confirm_with(env, &token, &device.device_key, verifier, &salt, "x").await.unwrap_err();
        assert!(err.starts_with("InvalidParameterException"), "{verifier}: {err}");
    }
    assert_eq!(
        confirm(env, "not-a-token", &device, "x").await.err().as_deref(),
        Some("NotAuthorizedException: Invalid Access Token")
    );
    // Nothing above confirmed it.
    assert_eq!(confirm(env, &token, &device, "x").await, Ok(true));

    // A pool that does not track devices.
    let (plain, plain_client) = device_pool(env, None).await;
    let token = signed_in(env, &plain_client, "cy@example.com").await;
    let device = new_device(env, &plain, "cy@example.com").await;
    assert_eq!(
        confirm(env, &token, &device, "x").await.err().as_deref(),
        Some("InvalidParameterException: Device tracking is not enabled for this user pool.")
    );
});

on_both_stores!(listing_pages_through_the_devices_each_caller_may_see, |env| {
    let (pool, client) = device_pool(env, Some(true)).await;
    let token = signed_in(env, &client, "lia@example.com").await;
    let mut remembered = Vec::new();
    let mut confirmed = Vec::new();
    for i in 0..5 {
        let device = new_device(env, &pool, "lia@example.com").await;
        confirm(env, &token, &device, &format!("device {i}")).await.expect("confirm");
        if i % 2 == 0 {
            set_status(env, &token, &device.device_key, true).await.expect("remember");
            remembered.push(device.device_key.clone());
        }
        confirmed.push(device.device_key);
    }
    let unconfirmed = new_device(env, &pool, "lia@example.com").await;
    remembered.sort();
    confirmed.sort();
    for limit in [1, 2, 60] {
        assert_eq!(list_keys(env, &token, limit).await, remembered, "limit {limit}");
        assert_eq!(admin_list_keys(env, &pool, "lia@example.com", limit).await, Ok(confirmed.clone()));
    }
    assert!(!confirmed.contains(&unconfirmed.device_key));
    // Limit 0 is Cognito's default page.
    let out = env.client.list_devices().access_token(&token).limit(0).send().await.expect("list");
    assert_eq!(out.devices().len(), remembered.len());
    let bad = env.client.list_devices().access_token(&token).pagination_token("%%%").send().await;
    assert!(bad.map_err(err_name).unwrap_err().starts_with("InvalidParameterException"));
    // An unconfirmed device is not shown or changed; another user's devices are not theirs.
    assert_eq!(get(env, &token, &unconfirmed.device_key).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(
        set_status(env, &token, &unconfirmed.device_key, true).await.err().as_deref(),
        Some(NOT_FOUND)
    );
    let other = signed_in(env, &client, "max@example.com").await;
    assert!(list_keys(env, &other, 10).await.is_empty());
    assert_eq!(get(env, &other, &remembered[0]).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(set_status(env, &other, &remembered[0], false).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(
        admin_list_keys(env, &pool, "nobody@example.com", 10).await,
        Err("UserNotFoundException: User does not exist.".into())
    );
});

on_both_stores!(admin_operations_reach_any_users_devices, |env| {
    let (pool, client) = device_pool(env, Some(true)).await;
    let token = signed_in(env, &client, "eve@example.com").await;
    signed_in(env, &client, "fay@example.com").await;
    let device = new_device(env, &pool, "eve@example.com").await;
    confirm(env, &token, &device, "tablet").await.expect("confirm");
    let key = device.device_key.clone();

    let status = |remembered: bool| {
        let c = env
            .client
            .admin_update_device_status()
            .user_pool_id(&pool)
            .username("eve@example.com")
            .device_key(&key);
        if remembered {
            c.device_remembered_status(cip::types::DeviceRememberedStatusType::Remembered)
        } else {
            c.device_remembered_status(cip::types::DeviceRememberedStatusType::NotRemembered)
        }
    };
    status(true).send().await.expect("admin remember");
    assert!(get(env, &token, &key).await.is_ok());
    let shown = admin_get(env, &pool, "eve@example.com", &key).await.expect("admin get");
    assert_eq!(attribute(&shown, "dev:device_remembered_status").as_deref(), Some("remembered"));
    assert_eq!(attribute(&shown, "dev:device_owner"), Some(format!("{}.{pool}", device.username)));
    status(false).send().await.expect("admin forget choice");
    assert_eq!(get(env, &token, &key).await.err().as_deref(), Some(NOT_FOUND));

    // Errors: another user's device, an unknown key, an unknown user or pool.
    assert_eq!(admin_get(env, &pool, "fay@example.com", &key).await.err().as_deref(), Some(NOT_FOUND));
    let unknown = "us-east-1_00000000-0000-4000-8000-000000000000";
    assert_eq!(admin_get(env, &pool, "eve@example.com", unknown).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(
        admin_get(env, &pool, "nobody@example.com", &key).await.err().as_deref(),
        Some("UserNotFoundException: User does not exist.")
    );
    assert!(admin_get(env, "us-east-1_Missing00", "eve@example.com", &key)
        .await
        .unwrap_err()
        .starts_with("ResourceNotFoundException: User pool"));
    let forget_as = |user: &str, k: &str| {
        env.client.admin_forget_device().user_pool_id(&pool).username(user).device_key(k).send()
    };
    assert_eq!(forget_as("fay@example.com", &key).await.map_err(err_name).err().as_deref(), Some(NOT_FOUND));
    forget_as("eve@example.com", &key).await.expect("admin forget");
    assert_eq!(forget_as("eve@example.com", &key).await.map_err(err_name).err().as_deref(), Some(NOT_FOUND));
    assert_eq!(admin_get(env, &pool, "eve@example.com", &key).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(
        status(true).send().await.map_err(err_name).err().as_deref(),
        Some(NOT_FOUND),
        "a forgotten device has no status"
    );
});

on_both_stores!(forgetting_a_device_ends_its_tracking, |env| {
    let (pool, client) = device_pool(env, Some(false)).await;
    let token = signed_in(env, &client, "gil@example.com").await;
    let other = signed_in(env, &client, "hal@example.com").await;
    let device = new_device(env, &pool, "gil@example.com").await;
    confirm(env, &token, &device, "desk").await.expect("confirm");
    assert_eq!(forget(env, &other, &device.device_key).await.err().as_deref(), Some(NOT_FOUND), "not Hal's");
    forget(env, &token, &device.device_key).await.expect("forget");
    assert_eq!(get(env, &token, &device.device_key).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(set_status(env, &token, &device.device_key, true).await.err().as_deref(), Some(NOT_FOUND));
    assert_eq!(forget(env, &token, &device.device_key).await.err().as_deref(), Some(NOT_FOUND));
    assert!(list_keys(env, &token, 10).await.is_empty());
    // An unconfirmed device can be forgotten too; a forgotten one cannot be confirmed.
    let pending = new_device(env, &pool, "gil@example.com").await;
    forget(env, &token, &pending.device_key).await.expect("forget unconfirmed");
    assert_eq!(
        confirm(env, &token, &pending, "late").await.err().as_deref(),
        Some("InvalidParameterException: Invalid device key given.")
    );
});

on_both_stores!(unconfirmed_devices_expire_after_a_day, |env| {
    let (pool, client) = device_pool(env, Some(false)).await;
    let token = signed_in(env, &client, "ivy@example.com").await;
    let kept = new_device(env, &pool, "ivy@example.com").await;
    let dropped = new_device(env, &pool, "ivy@example.com").await;
    confirm(env, &token, &kept, "kept").await.expect("confirm");
    env.clock.advance_secs(devices::UNCONFIRMED_TTL_SECS + 60);
    let token = env.password_sign_in(&client, "ivy@example.com", PASSWORD).await.unwrap();
    let token = token.access_token().unwrap();
    assert_eq!(
        confirm(env, token, &dropped, "late").await.err().as_deref(),
        Some("InvalidParameterException: Invalid device key given.")
    );
    assert_eq!(list_keys(env, token, 10).await, vec![kept.device_key.clone()], "confirmed devices stay");
});

/// The raw items under a user's device partition.
async fn stored_devices(env: &TestEnv, pool: &str, username: &str) -> usize {
    let svc = service(env);
    let pk = keys::user_devices(pool, &username.to_lowercase());
    svc.store.query(&pk, "", None, 100, svc.now_secs()).await.unwrap().items.len()
}

on_both_stores!(deleting_a_user_or_pool_deletes_their_devices, |env| {
    let (pool, client) = device_pool(env, Some(false)).await;
    // AdminDeleteUser: a later user of the same email does not inherit the devices.
    let token = signed_in(env, &client, "kai@example.com").await;
    let device = new_device(env, &pool, "kai@example.com").await;
    confirm(env, &token, &device, "old").await.expect("confirm");
    new_device(env, &pool, "kai@example.com").await;
    let username = device.username.clone();
    // The sign-in's own new device, and these two.
    assert_eq!(stored_devices(env, &pool, &username).await, 3);
    env.client
        .admin_delete_user()
        .user_pool_id(&pool)
        .username("kai@example.com")
        .send()
        .await
        .expect("delete");
    assert_eq!(stored_devices(env, &pool, &username).await, 0);
    let token = signed_in(env, &client, "kai@example.com").await;
    assert!(list_keys(env, &token, 10).await.is_empty());

    // DeleteUser.
    let device = new_device(env, &pool, "kai@example.com").await;
    confirm(env, &token, &device, "new").await.expect("confirm");
    env.client.delete_user().access_token(&token).send().await.expect("delete user");
    assert_eq!(stored_devices(env, &pool, &device.username).await, 0);

    // DeleteUserPool.
    let token = signed_in(env, &client, "lou@example.com").await;
    let device = new_device(env, &pool, "lou@example.com").await;
    confirm(env, &token, &device, "last").await.expect("confirm");
    env.client.delete_user_pool().user_pool_id(&pool).send().await.expect("delete pool");
    assert_eq!(stored_devices(env, &pool, &device.username).await, 0);
});
