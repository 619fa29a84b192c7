//! CreateUserPool, DescribeUserPool, UpdateUserPool, DeleteUserPool, ListUserPools,
//! AddCustomAttributes.

use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::model::{keys, PoolSettings, UserPool};
use crate::password::PasswordPolicy;
use crate::schema::STANDARD_SCHEMA_SETTING;
use crate::service::Service;
use crate::store::{Cond, Item, Write, MAX_TRANSACTION_WRITES};
use crate::tokens::PoolKeys;
use serde_json::{json, Map, Value};

/// Members of CreateUserPool kept typed on the record; everything else goes to `settings`.
const TYPED: &[&str] = &[
    "PoolName",
    "Policies",
    "UsernameAttributes",
    "AliasAttributes",
    "AutoVerifiedAttributes",
    "UsernameConfiguration",
    "Schema",
];

/// Members UpdateUserPool may change (Cognito resets the ones a call leaves out).
const UPDATABLE: &[&str] = &[
    "DeletionProtection",
    "LambdaConfig",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "UserAttributeUpdateSettings",
    "MfaConfiguration",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "AdminCreateUserConfig",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "PoolName",
    "UserPoolTier",
];

/// `UserPoolType` members that CreateUserPoolDomain sets; a CreateUserPool naming them is not
/// taken at its word.
const DOMAIN_MEMBERS: &[&str] = &["Domain", "CustomDomain"];

const SIGN_IN_ATTRIBUTES: &[&str] = &["email", "phone_number"];

fn string_list(input: &Value, name: &str) -> Vec<String> {
    input
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn password_policy(input: &Value) -> Result<PasswordPolicy> {
    let mut policy = PasswordPolicy::default();
    if let Some(p) = input.get("Policies").and_then(|p| p.get("PasswordPolicy")) {
        let b = |n: &str, d: bool| p.get(n).and_then(Value::as_bool).unwrap_or(d);
        policy.minimum_length = p.get("MinimumLength").and_then(Value::as_u64).unwrap_or(8) as u32;
        policy.require_uppercase = b("RequireUppercase", false);
        policy.require_lowercase = b("RequireLowercase", false);
        policy.require_numbers = b("RequireNumbers", false);
        policy.require_symbols = b("RequireSymbols", false);
        let days = p.get("TemporaryPasswordValidityDays").and_then(Value::as_u64).unwrap_or(0) as u32;
        policy.temporary_password_validity_days = if days == 0 { 7 } else { days };
        policy.password_history_size = p.get("PasswordHistorySize").and_then(Value::as_u64).map(|n| n as u32);
    }
    Ok(policy)
}

pub(crate) fn check_sign_in_settings(
    username_attrs: &[String],
    alias_attrs: &[String],
    auto_verified: &[String],
) -> Result<()> {
    if !username_attrs.is_empty() && !alias_attrs.is_empty() {
        return Err(Error::invalid(
            "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool",
        ));
    }
    for a in username_attrs {
        if !SIGN_IN_ATTRIBUTES.contains(&a.as_str()) {
            return Err(Error::invalid(format!("Invalid username attribute: {a}")));
        }
    }
    for a in auto_verified {
        if !SIGN_IN_ATTRIBUTES.contains(&a.as_str()) {
            return Err(Error::invalid(format!("Invalid auto verified attribute: {a}")));
        }
    }
    Ok(())
}

/// What `Schema` declares: required standard attributes, changes to standard attributes
/// (`Mutable`, constraints) and custom attributes.
struct Schema {
    required: Vec<String>,
    standard: Vec<Value>,
    custom: Vec<Value>,
}

fn schema(input: &Value, max_custom: u64) -> Result<Schema> {
    let mut out = Schema { required: Vec::new(), standard: Vec::new(), custom: Vec::new() };
    let mut custom_requested = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for attr in input.get("Schema").and_then(Value::as_array).into_iter().flatten() {
        let name = attr.req_str("Name")?;
        if crate::schema::is_standard(name) {
            if seen.contains(&name) {
                return Err(Error::invalid(format!("Existing attribute already has name {name}.")));
            }
            seen.push(name);
            if attr.bool_of("Required") == Some(true) && name != "sub" {
                out.required.push(name.to_string());
            }
            if let Some(changed) = crate::attribute_rules::standard_attribute(attr)? {
                out.standard.push(changed);
            }
            continue;
        }
        custom_requested.push(attr.clone());
    }
    crate::attribute_rules::add_custom_attributes(&mut out.custom, &custom_requested, max_custom)?;
    Ok(out)
}

/// A member Tessera does not honour yet, refused by name (never stored and ignored).
fn not_supported(member: &str, detail: &str) -> Error {
    crate::user_pool::settings::not_supported(member, detail)
}

fn present(v: Option<&Value>) -> bool {
    v.is_some_and(|v| !v.is_null())
}

/// Members of CreateUserPool / UpdateUserPool that Tessera cannot honour yet. Each is refused
/// with InvalidParameterException naming it, so no pool claims a setting that does nothing.
fn refuse_unsupported(svc: &Service, input: &Value) -> Result<()> {
    for member in ["KeyConfiguration", "IssuerConfiguration", "DcrConfiguration", "AcrConfiguration"] {
        if present(input.get(member)) {
            return Err(not_supported(member, ""));
        }
    }
    if let Some(addons) = input.get("UserPoolAddOns") {
        if let Some(mode @ ("ENFORCED" | "AUDIT")) = addons.str_of("AdvancedSecurityMode") {
            return Err(not_supported(
                &format!("UserPoolAddOns.AdvancedSecurityMode {mode}"),
                " (threat protection); OFF is accepted",
            ));
        }
        if present(addons.get("AdvancedSecurityAdditionalFlows")) {
            return Err(not_supported(
                "UserPoolAddOns.AdvancedSecurityAdditionalFlows",
                " (threat protection)",
            ));
        }
    }
    if let Some(email) = input.get("EmailConfiguration") {
        for member in ["ReplyToEmailAddress", "ConfigurationSet"] {
            if present(email.get(member)) {
                return Err(not_supported(&format!("EmailConfiguration.{member}"), ""));
            }
        }
    }
    if let Some(sms) = input.get("SmsConfiguration") {
        // SnsCallerArn and ExternalId are accepted: they turn SMS on (as in Cognito), but the
        // role is not assumed; SMS goes out with the deployment's own SNS access (see
        // docs/settings.md).
        if present(sms.get("EumsSms")) {
            return Err(not_supported(
                "SmsConfiguration.EumsSms",
                "; SMS goes through the deployment's own Amazon SNS access",
            ));
        }
        if let Some(region) = sms.str_of("SnsRegion").filter(|r| *r != svc.config.region) {
            return Err(not_supported(
                &format!("SmsConfiguration.SnsRegion {region}"),
                &format!("; SMS is sent through Amazon SNS in {}", svc.config.region),
            ));
        }
    }
    if input.get("VerificationMessageTemplate").and_then(|t| t.str_of("DefaultEmailOption"))
        == Some("CONFIRM_WITH_LINK")
    {
        return Err(not_supported(
            "VerificationMessageTemplate.DefaultEmailOption CONFIRM_WITH_LINK",
            " (confirmation links need the hosted UI); use CONFIRM_WITH_CODE",
        ));
    }
    let factors = input
        .get("Policies")
        .and_then(|p| p.get("SignInPolicy"))
        .and_then(|p| p.get("AllowedFirstAuthFactors"))
        .and_then(Value::as_array);
    if let Some(factors) = factors {
        if !factors.iter().any(|f| f == "PASSWORD") {
            return Err(Error::invalid(
                "The SignInPolicy must include PASSWORD as an allowed first auth factor.",
            ));
        }
        if let Some(other) = factors.iter().filter_map(Value::as_str).find(|f| *f != "PASSWORD") {
            return Err(not_supported(
                &format!("Policies.SignInPolicy.AllowedFirstAuthFactors {other}"),
                " (passwordless sign-in); PASSWORD is accepted",
            ));
        }
    }
    Ok(())
}

/// VerificationMessageTemplate and the legacy SmsVerificationMessage, EmailVerificationMessage
/// and EmailVerificationSubject are one setting in Cognito: whichever form a call sets, the pool
/// keeps (and Describe shows) both. A template member wins over its legacy twin.
fn merge_verification_messages(settings: &mut PoolSettings) {
    let template = settings.verification_message_template.get_or_insert_with(Default::default);
    let pairs = [
        (&mut settings.sms_verification_message, &mut template.sms_message),
        (&mut settings.email_verification_message, &mut template.email_message),
        (&mut settings.email_verification_subject, &mut template.email_subject),
    ];
    for (legacy, member) in pairs {
        if member.is_none() {
            member.clone_from(legacy);
        }
        if member.is_some() {
            legacy.clone_from(member);
        }
    }
    template.default_email_option.get_or_insert_with(|| "CONFIRM_WITH_CODE".into());
}

/// The feature plan's gates (Cognito's feature plans): the Lite plan has no access-token
/// customisation (PreTokenGeneration V2_0) and no password-history policy; Essentials and Plus
/// have both. (Threat protection, Plus only, is refused for every plan: Tessera has none.)
fn check_tier(settings: &PoolSettings, policy: &PasswordPolicy) -> Result<()> {
    if settings.user_pool_tier.as_deref() != Some("LITE") {
        return Ok(());
    }
    let unavailable = |feature: &str| {
        Error::FeatureUnavailableInTierException(format!(
            "{feature} is not available in the LITE feature plan. Choose ESSENTIALS or PLUS for UserPoolTier."
        ))
    };
    if settings.pre_token_generation_version().is_some_and(|v| v != "V1_0") {
        return Err(unavailable("Access token customization (PreTokenGenerationConfig LambdaVersion V2_0)"));
    }
    if policy.password_history_size.is_some_and(|n| n > 0) {
        return Err(unavailable("Password history (PasswordPolicy.PasswordHistorySize)"));
    }
    Ok(())
}

/// The settings members of a CreateUserPool / UpdateUserPool input (`members` picks them). The
/// front end has checked each member's type against the API model; a null typed member counts
/// as not set, other members are kept as given.
fn settings_from(input: &Value, members: impl Fn(&str) -> bool) -> Result<PoolSettings> {
    let picked: Map<String, Value> = input
        .as_object()
        .map(|o| o.iter().filter(|(k, _)| members(k)).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    serde_json::from_value(Value::Object(picked))
        .map_err(|e| Error::invalid(format!("Invalid user pool settings: {e}")))
}

/// MFA ON/OPTIONAL needs a factor: an SmsConfiguration (or software tokens already on).
fn check_mfa(settings: &PoolSettings, software_token: bool) -> Result<()> {
    if let Some(message) = &settings.sms_authentication_message {
        crate::user_pool::mfa::factors::check_sms_authentication_message(message)?;
    }
    crate::user_pool::mfa::factors::check_pool_mfa(settings, software_token)
}

/// Triggers outside Tessera's scope: refused for good, with the reason.
const UNSUPPORTED_TRIGGERS: &[(&str, &str)] = &[
    ("CustomSMSSender", "custom SMS sender triggers are not supported by Tessera"),
    ("CustomEmailSender", "custom email sender triggers are not supported by Tessera"),
    ("KMSKeyID", "KMSKeyID only serves the custom sender triggers, which Tessera does not support"),
    ("InboundFederation", "inbound federation triggers are not supported by Tessera"),
];

/// Checks `LambdaConfig`. A pool never stores a trigger that would not fire: the triggers
/// outside Tessera's scope are refused.
fn check_lambda_config(settings: &PoolSettings) -> Result<()> {
    let Some(config) = &settings.lambda_config else { return Ok(()) };
    for (name, why) in UNSUPPORTED_TRIGGERS {
        if config.other.contains_key(*name) {
            return Err(Error::invalid(format!("LambdaConfig.{name}: {why}.")));
        }
    }
    if let Some(v) = &config.pre_token_generation_config {
        if v.lambda_version == "V3_0" {
            return Err(Error::invalid(
                "LambdaConfig.PreTokenGenerationConfig: LambdaVersion V3_0 is not supported by Tessera; use V1_0 or V2_0.",
            ));
        }
        if let Some(legacy) = config.pre_token_generation.as_deref() {
            if v.lambda_arn != legacy {
                return Err(Error::invalid(
                    "LambdaConfig.PreTokenGeneration and PreTokenGenerationConfig.LambdaArn must be the same function.",
                ));
            }
        }
    }
    Ok(())
}

pub async fn create_user_pool(svc: &Service, input: &Value) -> Result<Value> {
    let name = input.req_str("PoolName")?.to_string();
    let username_attributes = string_list(input, "UsernameAttributes");
    let alias_attributes = string_list(input, "AliasAttributes");
    let auto_verified = string_list(input, "AutoVerifiedAttributes");
    check_sign_in_settings(&username_attributes, &alias_attributes, &auto_verified)?;
    refuse_unsupported(svc, input)?;
    let declared = schema(input, svc.config.limits.custom_attributes_per_pool)?;
    let mut settings = settings_from(input, |k| {
        !TYPED.contains(&k)
            && !DOMAIN_MEMBERS.contains(&k)
            && k != crate::user_pool::mfa::factors::MFA_FACTORS_SETTING
            && k != STANDARD_SCHEMA_SETTING
    })?;
    if !declared.standard.is_empty() {
        settings.standard_schema = Some(declared.standard);
    }
    merge_verification_messages(&mut settings);
    check_mfa(&settings, false)?;
    check_lambda_config(&settings)?;
    crate::attribute_rules::check_update_settings(&settings, &auto_verified)?;
    let password_policy = password_policy(input)?;
    check_tier(&settings, &password_policy)?;
    let now = svc.clock.now_millis();
    let cipher = svc.cipher.clone();
    let keys = svc.cpu(move || PoolKeys::generate(cipher.as_ref())).await??;
    let pool = UserPool {
        id: crate::ids::user_pool_id(svc.rng.as_ref(), &svc.config.region),
        name,
        created: now,
        modified: now,
        password_policy,
        username_attributes,
        alias_attributes,
        auto_verified_attributes: auto_verified,
        case_sensitive: input
            .get("UsernameConfiguration")
            .and_then(|u| u.get("CaseSensitive"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        required_attributes: declared.required,
        custom_schema: declared.custom,
        settings,
        keys,
        settings_change: None,
    };
    let body = serde_json::to_value(&pool).map_err(Error::internal)?;
    let listing = json!({"Id": pool.id, "Name": pool.name});
    svc.store
        .transact(
            vec![
                Write::put(Item::new(keys::pool(&pool.id), keys::POOL_SK, body), Cond::NotExists),
                Write::put(Item::new(keys::POOLS, &pool.id, listing), Cond::NotExists),
            ],
            svc.now_secs(),
        )
        .await?;
    Ok(json!({"UserPool": describe(svc, &pool, None)?}))
}

/// The settings as DescribeUserPool shows them, before the record's own fields and the defaults.
fn shown_settings(settings: &PoolSettings) -> serde_json::Result<Map<String, Value>> {
    let mut shown = settings.clone();
    // Tessera's own records (MFA factors, standard-attribute changes) are not UserPoolType members.
    shown.mfa_factors = None;
    shown.standard_schema = None;
    // Pools stored before both forms were kept show both too.
    merge_verification_messages(&mut shown);
    shown.to_map()
}

/// `UserPoolType` as DescribeUserPool returns it.
fn describe(svc: &Service, pool: &UserPool, estimated_users: Option<u64>) -> Result<Value> {
    let mut out = shown_settings(&pool.settings).map_err(Error::internal)?;
    let p = &pool.password_policy;
    out.insert("Id".into(), json!(pool.id));
    out.insert("Name".into(), json!(pool.name));
    out.insert("Arn".into(), json!(svc.pool_arn(&pool.id)));
    out.insert("CreationDate".into(), json!(pool.created as f64 / 1000.0));
    out.insert("LastModifiedDate".into(), json!(pool.modified as f64 / 1000.0));
    out.insert(
        "Policies".into(),
        json!({"PasswordPolicy": {
            "MinimumLength": p.minimum_length,
            "RequireUppercase": p.require_uppercase,
            "RequireLowercase": p.require_lowercase,
            "RequireNumbers": p.require_numbers,
            "RequireSymbols": p.require_symbols,
            "TemporaryPasswordValidityDays": p.temporary_password_validity_days,
        },
        // Passwordless factors are refused, so PASSWORD is the only first factor a pool has.
        "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}}),
    );
    if let (Some(h), Some(pp)) = (p.password_history_size, out.get_mut("Policies")) {
        pp["PasswordPolicy"]["PasswordHistorySize"] = json!(h);
    }
    out.insert(
        "SchemaAttributes".into(),
        json!(crate::schema::schema_attributes(
            &pool.required_attributes,
            pool.settings.standard_schema.as_deref().unwrap_or_default(),
            &pool.custom_schema
        )),
    );
    if !pool.username_attributes.is_empty() {
        out.insert("UsernameAttributes".into(), json!(pool.username_attributes));
    }
    if !pool.alias_attributes.is_empty() {
        out.insert("AliasAttributes".into(), json!(pool.alias_attributes));
    }
    if !pool.auto_verified_attributes.is_empty() {
        out.insert("AutoVerifiedAttributes".into(), json!(pool.auto_verified_attributes));
    }
    out.insert("UsernameConfiguration".into(), json!({"CaseSensitive": pool.case_sensitive}));
    out.entry("LambdaConfig").or_insert(json!({}));
    out.entry("MfaConfiguration").or_insert(json!("OFF"));
    out.entry("DeletionProtection").or_insert(json!("INACTIVE"));
    out.entry("VerificationMessageTemplate").or_insert(json!({"DefaultEmailOption": "CONFIRM_WITH_CODE"}));
    out.entry("EmailConfiguration").or_insert(json!({"EmailSendingAccount": "COGNITO_DEFAULT"}));
    out.entry("AdminCreateUserConfig").or_insert(json!({"AllowAdminCreateUserOnly": false, "UnusedAccountValidityDays": p.temporary_password_validity_days}));
    out.entry("UserPoolTags").or_insert(json!({}));
    out.entry("UserPoolTier").or_insert(json!("ESSENTIALS"));
    if let Some(n) = estimated_users {
        out.insert("EstimatedNumberOfUsers".into(), json!(n));
    }
    Ok(Value::Object(out))
}

pub async fn describe_user_pool(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let users = count_users(svc, &pool.id).await?;
    Ok(json!({"UserPool": describe(svc, &pool, Some(users))?}))
}

async fn count_users(svc: &Service, pool_id: &str) -> Result<u64> {
    let mut n = 0u64;
    let mut start: Option<String> = None;
    loop {
        let page =
            svc.store.query(&keys::pool_users(pool_id), "", start.as_deref(), 1000, svc.now_secs()).await?;
        n += page.items.len() as u64;
        match page.next {
            Some(s) => start = Some(s),
            None => return Ok(n),
        }
    }
}

pub async fn update_user_pool(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let (mut pool, version) = svc
        .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))?;
    crate::user_pool::import::runner::refuse_while_importing(svc, pool_id).await?;
    let auto_verified = string_list(input, "AutoVerifiedAttributes");
    check_sign_in_settings(&pool.username_attributes, &pool.alias_attributes, &auto_verified)?;
    refuse_unsupported(svc, input)?;
    let mut settings = settings_from(input, |k| UPDATABLE.contains(&k) && k != "PoolName")?;
    merge_verification_messages(&mut settings);
    check_mfa(&settings, crate::user_pool::mfa::factors::pool_software_token_mfa(&pool))?;
    check_lambda_config(&settings)?;
    crate::attribute_rules::check_update_settings(&settings, &auto_verified)?;
    if input.get("Policies").is_some() {
        pool.password_policy = password_policy(input)?;
    }
    check_tier(&settings, &pool.password_policy)?;
    if let Some(name) = input.str_of("PoolName") {
        pool.name = name.to_string();
    }
    // Settings that UpdateUserPool cannot change stay as they were: Tessera's own two records
    // (every other typed member is in UPDATABLE) and the untyped members not in UPDATABLE.
    settings.mfa_factors = pool.settings.mfa_factors.take();
    settings.domain = pool.settings.domain.take();
    settings.custom_domain = pool.settings.custom_domain.take();
    settings.standard_schema = pool.settings.standard_schema.take();
    for (k, v) in std::mem::take(&mut pool.settings.other) {
        if !UPDATABLE.contains(&k.as_str()) {
            settings.other.insert(k, v);
        }
    }
    pool.settings = settings;
    crate::user_pool::mfa::factors::after_pool_update(&mut pool);
    pool.auto_verified_attributes = auto_verified;
    pool.modified = svc.clock.now_millis();
    let listing = json!({"Id": pool.id, "Name": pool.name});
    svc.save_pool(&pool, version, vec![Write::put(Item::new(keys::POOLS, &pool.id, listing), Cond::None)])
        .await?;
    Ok(json!({}))
}

pub async fn delete_user_pool(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    crate::user_pool::import::runner::refuse_while_importing(svc, &pool.id).await?;
    if pool.settings.deletion_protection.as_deref() == Some("ACTIVE") {
        return Err(Error::invalid(
            "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
        ));
    }
    if pool.settings.domain.is_some() || pool.settings.custom_domain.is_some() {
        return Err(Error::invalid(
            "User pool cannot be deleted. It has a domain configured that should be deleted first.",
        ));
    }
    purge_user_pool(svc, &pool).await?;
    Ok(json!({}))
}

/// Deletes a pool and everything it holds (restore's `--replace`): its domains, resource
/// servers, identity providers and customisations too, which DeleteUserPool refuses to
/// delete implicitly.
pub(crate) async fn purge_user_pool(svc: &Service, pool: &UserPool) -> Result<()> {
    crate::user_pool::import::runner::refuse_while_importing(svc, &pool.id).await?;
    let now = svc.now_secs();
    for domain in [&pool.settings.domain, &pool.settings.custom_domain].into_iter().flatten() {
        svc.store
            .transact(
                vec![Write::delete(keys::user_pool_domain(domain), keys::USER_POOL_DOMAIN_SK, Cond::None)],
                now,
            )
            .await?;
    }
    for pk in [
        keys::resource_servers(&pool.id),
        keys::identity_providers(&pool.id),
        keys::idp_identifiers(&pool.id),
        keys::saml_sp_keys(&pool.id),
        keys::ui_customizations(&pool.id),
    ] {
        loop {
            let page = svc.store.query(&pk, "", None, MAX_TRANSACTION_WRITES, now).await?;
            if page.items.is_empty() {
                break;
            }
            let writes =
                page.items.iter().map(|i| Write::delete(pk.clone(), i.sk.clone(), Cond::None)).collect();
            svc.store.transact(writes, now).await?;
        }
    }
    delete_pool_contents(svc, pool).await
}

async fn delete_pool_contents(svc: &Service, pool: &UserPool) -> Result<()> {
    let pool = pool.clone();
    let now = svc.now_secs();
    // The pool disappears first, so nothing can reach its users or clients while they go.
    svc.store
        .transact(
            vec![
                Write::delete(keys::pool(&pool.id), keys::POOL_SK, Cond::None),
                Write::delete(keys::POOLS, &pool.id, Cond::None),
            ],
            now,
        )
        .await?;
    svc.forget_pool(&pool.id);
    let pool_pk = keys::pool(&pool.id);
    loop {
        let page = svc.store.query(&pool_pk, crate::keys::POOL_CLIENT_PREFIX, None, 40, now).await?;
        if page.items.is_empty() {
            break;
        }
        let mut writes = Vec::new();
        for entry in &page.items {
            if let Some(cid) = entry.sk.strip_prefix(crate::keys::POOL_CLIENT_PREFIX) {
                writes.push(Write::delete(keys::client(cid), keys::CLIENT_SK, Cond::None));
            }
            writes.push(Write::delete(pool_pk.clone(), entry.sk.clone(), Cond::None));
        }
        svc.store.transact(writes, now).await?;
    }
    crate::user_pool::groups::records::delete_pool_groups(svc, &pool.id).await?;
    let users_pk = keys::pool_users(&pool.id);
    loop {
        let page = svc.store.query(&users_pk, "", None, 5, now).await?;
        if page.items.is_empty() {
            break;
        }
        let mut writes = Vec::new();
        for entry in &page.items {
            match svc.get_json::<crate::model::User>(&keys::user(&pool.id, &entry.sk), keys::USER_SK).await? {
                Some((user, _)) => {
                    // Devices first: once the user is gone nothing lists them any more.
                    crate::user_pool::groups::records::apply_batches(
                        svc,
                        crate::user_pool::devices::records::device_delete_batches(svc, &pool, &user.username)
                            .await?,
                    )
                    .await?;
                    writes.extend(svc.delete_user_writes(&pool, &user, None));
                }
                None => writes.push(Write::delete(users_pk.clone(), entry.sk.clone(), Cond::None)),
            }
        }
        writes.truncate(MAX_TRANSACTION_WRITES);
        svc.store.transact(writes, now).await?;
    }
    Ok(())
}

pub async fn list_user_pools(svc: &Service, input: &Value) -> Result<Value> {
    let max = input.i64_of("MaxResults").unwrap_or(60).clamp(1, 60) as usize;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let page = svc.store.query(keys::POOLS, "", start.as_deref(), max, svc.now_secs()).await?;
    let mut pools = Vec::new();
    for entry in &page.items {
        if let Ok(pool) = svc.pool(&entry.sk).await {
            pools.push(json!({
                "Id": pool.id,
                "Name": pool.name,
                "LambdaConfig": pool.settings.lambda_config.clone().unwrap_or_default(),
                "CreationDate": pool.created as f64 / 1000.0,
                "LastModifiedDate": pool.modified as f64 / 1000.0,
            }));
        }
    }
    let mut out = json!({"UserPools": pools});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}

pub async fn add_custom_attributes(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let (mut pool, version) = svc
        .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))?;
    let requested = input.get("CustomAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    if requested.is_empty() {
        return Err(Error::invalid("CustomAttributes must name at least one attribute."));
    }
    crate::attribute_rules::add_custom_attributes(
        &mut pool.custom_schema,
        &requested,
        svc.config.limits.custom_attributes_per_pool,
    )?;
    pool.modified = svc.clock.now_millis();
    svc.save_pool(&pool, version, vec![]).await?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DescribeUserPool's settings part as it was computed on the untyped map.
    fn shown_the_untyped_way(settings: &Map<String, Value>) -> Map<String, Value> {
        let mut out: Map<String, Value> = settings
            .iter()
            .filter(|(k, _)| {
                *k != crate::user_pool::mfa::factors::MFA_FACTORS_SETTING && *k != STANDARD_SCHEMA_SETTING
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let pairs = [
            ("SmsVerificationMessage", "SmsMessage"),
            ("EmailVerificationMessage", "EmailMessage"),
            ("EmailVerificationSubject", "EmailSubject"),
        ];
        let mut template =
            out.get("VerificationMessageTemplate").and_then(Value::as_object).cloned().unwrap_or_default();
        for (legacy, member) in pairs {
            if let (None, Some(v)) = (template.get(member), out.get(legacy)) {
                template.insert(member.into(), v.clone());
            }
        }
        template.entry("DefaultEmailOption").or_insert(json!("CONFIRM_WITH_CODE"));
        for (legacy, member) in pairs {
            if let Some(v) = template.get(member) {
                out.insert(legacy.into(), v.clone());
            }
        }
        out.insert("VerificationMessageTemplate".into(), Value::Object(template));
        out
    }

    #[test]
    fn describe_shows_the_settings_byte_for_byte_as_before() {
        let every = crate::model::every_pool_settings_member();
        let mut legacy_only = every.clone();
        legacy_only.as_object_mut().unwrap().remove("VerificationMessageTemplate");
        let mut template_only = every.clone();
        for legacy in ["SmsVerificationMessage", "EmailVerificationMessage", "EmailVerificationSubject"] {
            template_only.as_object_mut().unwrap().remove(legacy);
        }
        let partial = json!({"EmailVerificationSubject": "s", "VerificationMessageTemplate": {"SmsMessage": "m {####}"},
                             "UserPoolTags": {"a": "b"}});
        for blob in [every, legacy_only, template_only, partial, json!({})] {
            let old = shown_the_untyped_way(blob.as_object().unwrap());
            let typed: PoolSettings = serde_json::from_value(blob.clone()).unwrap();
            let new = shown_settings(&typed).unwrap();
            assert_eq!(
                serde_json::to_string(&Value::Object(new)).unwrap(),
                serde_json::to_string(&Value::Object(old)).unwrap(),
                "{blob}"
            );
        }
    }
}
