//! The device operations: ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus,
//! ForgetDevice, and AdminGetDevice, AdminListDevices, AdminUpdateDeviceStatus,
//! AdminForgetDevice. The records they read and write are in `records.rs`.

use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, page_limit, Input};
use crate::model::{User, UserPool};
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::{CallContext, Service};
use crate::store::{Cond, Write};
use crate::user_pool::devices::records::device_changed;
use crate::user_pool::devices::records::device_not_found;
use crate::user_pool::devices::records::device_tracking;
use crate::user_pool::devices::records::device_type;
use crate::user_pool::devices::records::devices_pk;
use crate::user_pool::devices::records::find_device;
use crate::user_pool::devices::records::shown_as_remembered;
use crate::user_pool::devices::records::update_device;
use crate::user_pool::devices::records::Device;
use crate::user_pool::devices::records::ATTEMPTS;
use crate::user_pool::devices::records::NOT_REMEMBERED;
use crate::user_pool::devices::records::REMEMBERED;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use num_bigint::BigUint;
use serde_json::{json, Value};

/// ConfirmDevice's verifier config: `PasswordVerifier` and `Salt`, base64 of the bytes (the
/// JS SDK encodes the padHex'd hex of each). The verifier must be an element of the SRP group.
fn verifier_config(input: &Value) -> Result<(Vec<u8>, Vec<u8>)> {
    let config = input.get("DeviceSecretVerifierConfig");
    let field = |name: &str| config.and_then(|c| c.get(name)).and_then(Value::as_str);
    let decode = |s: &str| {
        STANDARD
            .decode(s)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s))
            .ok()
            .filter(|b| !b.is_empty())
    };
    let (Some(verifier), Some(salt)) = (field("PasswordVerifier"), field("Salt")) else {
        return Err(Error::invalid("DeviceSecretVerifierConfig must contain a PasswordVerifier and a Salt."));
    };
    let (Some(verifier), Some(salt)) = (decode(verifier), decode(salt)) else {
        return Err(Error::invalid("Invalid DeviceSecretVerifierConfig."));
    };
    let v = BigUint::from_bytes_be(&verifier);
    if v <= BigUint::from(1u32) || v >= crate::srp::n() {
        return Err(Error::invalid("Invalid DeviceSecretVerifierConfig."));
    }
    Ok((salt, verifier))
}

/// ConfirmDevice: stores the device's SRP verifier. The device must be one a sign-in of the
/// token's user created; a device is confirmed once (again: DeviceKeyExistsException). In an
/// "Always" pool it is remembered from here on; in an opt-in pool the answer asks the app to
/// prompt the user (`UserConfirmationNecessary`), whose choice UpdateDeviceStatus records.
pub async fn confirm_device(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session =
        crate::user_pool::access::authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let device_key = input.req_str("DeviceKey")?;
    let Some(tracking) = device_tracking(&session.pool) else {
        return Err(Error::invalid("Device tracking is not enabled for this user pool."));
    };
    let (salt, verifier) = verifier_config(input)?;
    let salt = STANDARD.encode(salt);
    let sealed = STANDARD.encode(svc.cipher.seal(crate::ports::sealed::DEVICE_VERIFIER, &verifier)?);
    let name = input.str_of("DeviceName").map(str::to_string);
    let status = if tracking.only_remembered_on_user_prompt { NOT_REMEMBERED } else { REMEMBERED };
    let now = svc.clock.now_millis();
    let invalid_key = || Error::invalid("Invalid device key given.");
    update_device(svc, &session.pool, &session.user, device_key, invalid_key, |d| {
        if d.confirmed {
            return Err(Error::DeviceKeyExistsException("Device key already exists.".into()));
        }
        d.confirmed = true;
        d.salt = Some(salt.clone());
        d.sealed_verifier = Some(sealed.clone());
        d.name = name.clone();
        d.remembered_status = status.into();
        d.modified = now;
        Ok(())
    })
    .await?;
    Ok(json!({"UserConfirmationNecessary": tracking.only_remembered_on_user_prompt}))
}

/// The user of an access-token device operation.
async fn token_user(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<(std::sync::Arc<UserPool>, User)> {
    let session =
        crate::user_pool::access::authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    Ok((session.pool, session.user))
}

/// The user of an admin device operation (any sign-in identifier).
async fn admin_user(svc: &Service, input: &Value) -> Result<(std::sync::Arc<UserPool>, User)> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, _) = svc.require_user(&pool, input.req_str("Username")?).await?;
    Ok((pool, user))
}

/// A confirmed device of the user that `visible` lets the caller see.
async fn shown_device(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    device_key: &str,
    visible: fn(&UserPool, &Device) -> bool,
) -> Result<Device> {
    find_device(svc, pool, user, device_key)
        .await?
        .map(|(d, _)| d)
        .filter(|d| visible(pool, d))
        .ok_or_else(device_not_found)
}

/// What the user's own operations show: remembered devices only (a device the user chose not
/// to remember is "not found" to GetDevice and absent from ListDevices, as in Cognito).
fn user_visible(pool: &UserPool, device: &Device) -> bool {
    shown_as_remembered(pool, device)
}

/// What the admin operations show: every confirmed device, remembered or not.
fn admin_visible(_: &UserPool, device: &Device) -> bool {
    device.confirmed
}

/// One page of a user's devices that `visible` shows, in device-key order.
async fn list(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    input: &Value,
    visible: fn(&UserPool, &Device) -> bool,
) -> Result<Value> {
    let limit = page_limit(input);
    let mut start = input.str_of("PaginationToken").map(decode_next_token).transpose()?;
    let pk = devices_pk(pool, &user.username);
    let mut devices = Vec::new();
    let mut next = None;
    loop {
        let page = svc.store.query(&pk, "", start.as_deref(), limit - devices.len(), svc.now_secs()).await?;
        for item in page.items {
            let device: Device = serde_json::from_value(item.body).map_err(Error::internal)?;
            if device.sub == user.sub && visible(pool, &device) {
                devices.push(device_type(svc, pool, &device));
            }
        }
        match page.next {
            Some(after) if devices.len() >= limit => {
                next = Some(after);
                break;
            }
            Some(after) => start = Some(after),
            None => break,
        }
    }
    let mut out = json!({"Devices": devices});
    if let Some(after) = next {
        out["PaginationToken"] = json!(encode_next_token(&after));
    }
    Ok(out)
}

async fn set_status(svc: &Service, pool: &UserPool, user: &User, input: &Value) -> Result<Value> {
    let device_key = input.req_str("DeviceKey")?;
    let status = match input.req_str("DeviceRememberedStatus")? {
        REMEMBERED => REMEMBERED,
        _ => NOT_REMEMBERED,
    };
    let now = svc.clock.now_millis();
    update_device(svc, pool, user, device_key, device_not_found, |d| {
        if !d.confirmed {
            return Err(device_not_found());
        }
        d.remembered_status = status.into();
        d.modified = now;
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

/// Deletes one device of the user, confirmed or not.
async fn forget(svc: &Service, pool: &UserPool, user: &User, device_key: &str) -> Result<Value> {
    let forgotten = retry_on_conflict(ATTEMPTS, || async move {
        let (device, version) =
            find_device(svc, pool, user, device_key).await?.ok_or_else(device_not_found)?;
        let delete =
            Write::delete(devices_pk(pool, &device.username), &device.device_key, Cond::Version(version));
        Attempt::of_write(svc.store.transact(vec![delete], svc.now_secs()).await, json!({}))
    });
    forgotten.await?.ok_or_else(device_changed)
}

pub async fn get_device(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, user) = token_user(svc, ctx, input).await?;
    let device = shown_device(svc, &pool, &user, input.req_str("DeviceKey")?, user_visible).await?;
    Ok(json!({"Device": device_type(svc, &pool, &device)}))
}

pub async fn admin_get_device(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, user) = admin_user(svc, input).await?;
    let device = shown_device(svc, &pool, &user, input.req_str("DeviceKey")?, admin_visible).await?;
    Ok(json!({"Device": device_type(svc, &pool, &device)}))
}

pub async fn list_devices(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, user) = token_user(svc, ctx, input).await?;
    list(svc, &pool, &user, input, user_visible).await
}

pub async fn admin_list_devices(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, user) = admin_user(svc, input).await?;
    list(svc, &pool, &user, input, admin_visible).await
}

pub async fn update_device_status(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, user) = token_user(svc, ctx, input).await?;
    set_status(svc, &pool, &user, input).await
}

pub async fn admin_update_device_status(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, user) = admin_user(svc, input).await?;
    set_status(svc, &pool, &user, input).await
}

pub async fn forget_device(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, user) = token_user(svc, ctx, input).await?;
    forget(svc, &pool, &user, input.req_str("DeviceKey")?).await
}

pub async fn admin_forget_device(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, user) = admin_user(svc, input).await?;
    forget(svc, &pool, &user, input.req_str("DeviceKey")?).await
}
