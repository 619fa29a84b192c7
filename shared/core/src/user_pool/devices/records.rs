//! Remembered devices as stored: the pool's device tracking, a device's record and SRP verifier,
//! and the writes that keep them (the device operations and sign-in share these).

use crate::error::{Error, Result};
use crate::model::keys;
use crate::model::User;
use crate::model::UserPool;
use crate::retry::{retry_on_conflict, Attempt};
use crate::store::Cond;
use crate::store::Item;
use crate::store::Write;
use crate::store::MAX_TRANSACTION_WRITES;
use crate::Service;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An unconfirmed device (a sign-in's NewDeviceMetadata nobody confirmed) lives one day.
pub const UNCONFIRMED_TTL_SECS: i64 = 24 * 3600;

/// Tries of a device write that lost a race on its version.
pub(crate) const ATTEMPTS: usize = 5;

pub const REMEMBERED: &str = "remembered";

pub const NOT_REMEMBERED: &str = "not_remembered";

/// One device of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// `{region}_{uuid}`, as Cognito forms them.
    pub device_key: String,
    /// The SRP "pool name" of the device's verifier.
    pub device_group_key: String,
    /// The owner's internal username and `sub`.
    pub username: String,
    pub sub: String,
    /// ConfirmDevice stored a verifier.
    pub confirmed: bool,
    /// The SRP salt ConfirmDevice gave (base64 of its bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The SRP verifier ConfirmDevice gave, sealed by the master key (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_verifier: Option<String>,
    /// "remembered" or "not_remembered".
    pub remembered_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ip: Option<String>,
    /// Epoch ms.
    pub created: i64,
    pub modified: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_authenticated: Option<i64>,
}

/// The pool's `DeviceConfiguration`, when devices are tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTracking {
    /// Remembered devices may stand in for the MFA factor.
    pub challenge_required_on_new_device: bool,
    /// "User opt-in": a confirmed device is remembered only once the user says so. When
    /// false ("Always"), every confirmed device is remembered.
    pub only_remembered_on_user_prompt: bool,
}

/// The pool's device tracking; None = devices are not tracked. Any member set in
/// `DeviceConfiguration` turns tracking on (the API model: "When you provide a value for any
/// property of DeviceConfiguration, you activate the device remembering").
pub fn device_tracking(pool: &UserPool) -> Option<DeviceTracking> {
    let config = pool.settings.device_configuration.as_ref()?;
    let challenge = config.challenge_required_on_new_device;
    let prompt = config.device_only_remembered_on_user_prompt;
    if challenge.is_none() && prompt.is_none() {
        return None;
    }
    Some(DeviceTracking {
        challenge_required_on_new_device: challenge.unwrap_or(false),
        only_remembered_on_user_prompt: prompt.unwrap_or(false),
    })
}

/// A device the user sees as remembered: confirmed, and remembered by the user or by a pool
/// that remembers every device.
pub(crate) fn shown_as_remembered(pool: &UserPool, device: &Device) -> bool {
    device.confirmed
        && (device.remembered_status == REMEMBERED
            || device_tracking(pool).is_some_and(|t| !t.only_remembered_on_user_prompt))
}

/// Whether a device may sign in as remembered (DEVICE_SRP_AUTH, MFA suppression): the pool
/// tracks devices, and the device is confirmed and remembered (by the user, or by an "Always"
/// pool).
pub fn is_remembered(pool: &UserPool, device: &Device) -> bool {
    device_tracking(pool).is_some() && shown_as_remembered(pool, device)
}

/// The answer for a device key that names no device of this user.
pub fn device_not_found() -> Error {
    Error::ResourceNotFoundException("Device does not exist.".into())
}

pub(crate) fn device_changed() -> Error {
    Error::ConcurrentModificationException("The device was modified by another request. Try again.".into())
}

/// A new device key: `{region}_{uuid}`, the region being the pool id's.
pub(crate) fn new_device_key(svc: &Service, pool: &UserPool) -> String {
    format!("{}_{}", crate::ids::pool_region(&pool.id), svc.rng.uuid())
}

/// A device group key shaped like Cognito's: `-` and nine base64url characters.
pub(crate) fn new_device_group_key(svc: &Service) -> String {
    let mut key = String::from("-");
    key.push_str(&URL_SAFE_NO_PAD.encode(svc.rng.bytes(9)).chars().take(9).collect::<String>());
    key
}

pub(crate) fn devices_pk(pool: &UserPool, username: &str) -> String {
    keys::user_devices(&pool.id, &pool.username_key(username))
}

/// The stored item of a device, at `version`; unconfirmed devices expire.
pub(crate) fn device_item(pool: &UserPool, device: &Device, version: u64) -> Result<Item> {
    let mut item = Item::new(
        devices_pk(pool, &device.username),
        &device.device_key,
        serde_json::to_value(device).map_err(Error::internal)?,
    );
    item.version = version;
    if !device.confirmed {
        item.expires_at = Some(device.created.div_euclid(1000) + UNCONFIRMED_TTL_SECS);
    }
    Ok(item)
}

/// Creates the unconfirmed device a sign-in returns as `NewDeviceMetadata{DeviceKey,
/// DeviceGroupKey}`. It expires after a day unless ConfirmDevice confirms it.
pub async fn new_device(svc: &Service, pool: &UserPool, user: &User) -> Result<Device> {
    let now = svc.clock.now_millis();
    let device = Device {
        device_key: new_device_key(svc, pool),
        device_group_key: new_device_group_key(svc),
        username: user.username.clone(),
        sub: user.sub.clone(),
        confirmed: false,
        salt: None,
        sealed_verifier: None,
        remembered_status: NOT_REMEMBERED.into(),
        name: None,
        last_ip: None,
        created: now,
        modified: now,
        // The sign-in that creates a device authenticates on it.
        last_authenticated: Some(now),
    };
    let item = device_item(pool, &device, 1)?;
    svc.store.transact(vec![Write::put(item, Cond::NotExists)], svc.now_secs()).await?;
    Ok(device)
}

/// The user's device under `device_key`, with its stored version; None when the user has no
/// such device (or the entry is a leftover of a deleted user of the same name).
pub async fn find_device(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    device_key: &str,
) -> Result<Option<(Device, u64)>> {
    let found = svc.get_json::<Device>(&devices_pk(pool, &user.username), device_key).await?;
    Ok(found.filter(|(d, _)| d.sub == user.sub && d.username == user.username))
}

/// The device's SRP salt and verifier (bytes, as the client computed them), once confirmed.
pub async fn open_device_verifier(svc: &Service, device: &Device) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let (Some(salt), Some(sealed)) = (&device.salt, &device.sealed_verifier) else {
        return Ok(None);
    };
    if !device.confirmed {
        return Ok(None);
    }
    let salt = STANDARD.decode(salt).map_err(Error::internal)?;
    let sealed = STANDARD.decode(sealed).map_err(Error::internal)?;
    let verifier = svc.cipher.open(crate::ports::sealed::DEVICE_VERIFIER, &sealed)?;
    Ok(Some((salt, verifier)))
}

/// Re-reads a device and writes `change` of it, retrying when another request changed it in
/// between. The closure may refuse the change with an error.
pub(crate) async fn update_device(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    device_key: &str,
    missing: fn() -> Error,
    change: impl Fn(&mut Device) -> Result<()>,
) -> Result<Device> {
    let change = &change;
    let changed = retry_on_conflict(ATTEMPTS, || async move {
        let (mut device, version) = find_device(svc, pool, user, device_key).await?.ok_or_else(missing)?;
        change(&mut device)?;
        let item = device_item(pool, &device, version + 1)?;
        let write = svc.store.transact(vec![Write::put(item, Cond::Version(version))], svc.now_secs()).await;
        Attempt::of_write(write, device)
    });
    changed.await?.ok_or_else(device_changed)
}

/// Records a sign-in with the device (`DeviceLastAuthenticatedDate`).
pub async fn record_device_sign_in(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    device_key: &str,
) -> Result<()> {
    let now = svc.clock.now_millis();
    update_device(svc, pool, user, device_key, device_not_found, |d| {
        d.last_authenticated = Some(now);
        Ok(())
    })
    .await
    .map(|_| ())
}

/// The writes that delete every device of a user, in transactions of at most
/// [`MAX_TRANSACTION_WRITES`] (DeleteUser, AdminDeleteUser, DeleteUserPool).
pub async fn device_delete_batches(
    svc: &Service,
    pool: &UserPool,
    username: &str,
) -> Result<Vec<Vec<Write>>> {
    let pk = devices_pk(pool, username);
    let mut batches: Vec<Vec<Write>> = Vec::new();
    let mut start: Option<String> = None;
    loop {
        // Expired (unconfirmed) devices are skipped by the query; the store's TTL removes them.
        let page = svc.store.query(&pk, "", start.as_deref(), MAX_TRANSACTION_WRITES, svc.now_secs()).await?;
        let batch: Vec<Write> = page.items.iter().map(|i| Write::delete(&pk, &i.sk, Cond::None)).collect();
        if !batch.is_empty() {
            batches.push(batch);
        }
        match page.next {
            Some(s) => start = Some(s),
            None => return Ok(batches),
        }
    }
}

/// `DeviceType`. Cognito's attribute names; `last_ip_used` only when the address is known
/// (requests reach the domain without their source address).
pub fn device_type(svc: &Service, pool: &UserPool, device: &Device) -> Value {
    let mut attributes = vec![json!({"Name": "device_status", "Value": "valid"})];
    if let Some(name) = &device.name {
        attributes.push(json!({"Name": "device_name", "Value": name}));
    }
    let owner = format!("{}.{}", device.username, pool.id);
    attributes.push(json!({
        "Name": "dev:device_arn",
        "Value": format!(
            "arn:aws:cognito-idp:{}:{}:owner/{owner}/device/{}",
            crate::ids::pool_region(&pool.id),
            svc.config.account_id,
            device.device_key
        ),
    }));
    attributes.push(json!({"Name": "dev:device_owner", "Value": owner}));
    if let Some(ip) = &device.last_ip {
        attributes.push(json!({"Name": "last_ip_used", "Value": ip}));
    }
    attributes.push(json!({"Name": "dev:device_remembered_status", "Value": device.remembered_status}));
    let mut out = json!({
        "DeviceKey": device.device_key,
        "DeviceAttributes": attributes,
        "DeviceCreateDate": device.created as f64 / 1000.0,
        "DeviceLastModifiedDate": device.modified as f64 / 1000.0,
    });
    if let Some(t) = device.last_authenticated {
        out["DeviceLastAuthenticatedDate"] = json!(t as f64 / 1000.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PoolSettings;
    use crate::password::PasswordPolicy;

    fn pool(config: Option<Value>) -> UserPool {
        let settings = PoolSettings {
            device_configuration: config.map(|c| serde_json::from_value(c).unwrap()),
            ..Default::default()
        };
        UserPool {
            id: "eu-west-1_Abc123".into(),
            name: "p".into(),
            created: 0,
            modified: 0,
            password_policy: PasswordPolicy::default(),
            username_attributes: vec![],
            alias_attributes: vec![],
            auto_verified_attributes: vec![],
            case_sensitive: false,
            required_attributes: vec![],
            custom_schema: vec![],
            settings,
            keys: crate::tokens::PoolKeys {
                id: key(),
                access: key(),
                next: None,
                retired: Vec::new(),
                since: 0,
                rotation_days: None,
                stand_in_seed: None,
            },
            settings_change: None,
        }
    }

    fn key() -> crate::tokens::StoredKey {
        crate::tokens::StoredKey {
            kid: String::new(),
            n: String::new(),
            e: String::new(),
            sealed_private: String::new(),
        }
    }

    fn device(confirmed: bool, status: &str) -> Device {
        Device {
            device_key: "eu-west-1_0f9c1e8a-1b2c-4d5e-8f90-123456789abc".into(),
            device_group_key: "-AbCdEfGh".into(),
            username: "jane".into(),
            sub: "s".into(),
            confirmed,
            salt: None,
            sealed_verifier: None,
            remembered_status: status.into(),
            name: None,
            last_ip: None,
            created: 0,
            modified: 0,
            last_authenticated: None,
        }
    }

    #[test]
    fn tracking_follows_device_configuration() {
        assert_eq!(device_tracking(&pool(None)), None);
        assert_eq!(device_tracking(&pool(Some(json!({})))), None, "no member set: not tracked");
        let opt_in = pool(Some(
            json!({"ChallengeRequiredOnNewDevice": true, "DeviceOnlyRememberedOnUserPrompt": true}),
        ));
        assert_eq!(
            device_tracking(&opt_in),
            Some(DeviceTracking {
                challenge_required_on_new_device: true,
                only_remembered_on_user_prompt: true
            })
        );
        let always = pool(Some(
            json!({"ChallengeRequiredOnNewDevice": false, "DeviceOnlyRememberedOnUserPrompt": false}),
        ));
        assert_eq!(
            device_tracking(&always),
            Some(DeviceTracking {
                challenge_required_on_new_device: false,
                only_remembered_on_user_prompt: false
            })
        );
        let one = pool(Some(json!({"DeviceOnlyRememberedOnUserPrompt": true})));
        assert!(device_tracking(&one).is_some_and(|t| !t.challenge_required_on_new_device));
    }

    #[test]
    fn remembered_needs_tracking_confirmation_and_a_remembered_status_or_always() {
        let opt_in = pool(Some(json!({"DeviceOnlyRememberedOnUserPrompt": true})));
        let always = pool(Some(json!({"DeviceOnlyRememberedOnUserPrompt": false})));
        let off = pool(None);
        assert!(is_remembered(&opt_in, &device(true, REMEMBERED)));
        assert!(!is_remembered(&opt_in, &device(true, NOT_REMEMBERED)));
        assert!(!is_remembered(&opt_in, &device(false, REMEMBERED)), "unconfirmed devices never are");
        assert!(
            is_remembered(&always, &device(true, NOT_REMEMBERED)),
            "Always remembers every confirmed device"
        );
        assert!(!is_remembered(&always, &device(false, NOT_REMEMBERED)));
        assert!(!is_remembered(&off, &device(true, REMEMBERED)), "tracking off: no device is remembered");
    }

    #[test]
    fn stored_devices_round_trip_and_unconfirmed_ones_expire() {
        let p = pool(None);
        let mut d = device(false, NOT_REMEMBERED);
        d.created = 5_000;
        let item = device_item(&p, &d, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(item.pk, "DEVICES#eu-west-1_Abc123#jane");
        assert_eq!(item.sk, d.device_key);
        assert_eq!(item.expires_at, Some(5 + UNCONFIRMED_TTL_SECS));
        assert_eq!(serde_json::from_value::<Device>(item.body).ok(), Some(d.clone()));
        d.confirmed = true;
        assert_eq!(device_item(&p, &d, 2).map(|i| i.expires_at).ok(), Some(None));
    }
}
