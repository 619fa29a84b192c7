//! CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient, DeleteUserPoolClient,
//! ListUserPoolClients.

use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::model::{keys, AppClient, ClientSettings, TokenKind};
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use crate::user_pool::federation;
use crate::user_pool::oauth::scopes::{check_client_scopes, is_reserved};
use crate::user_pool::settings::not_supported;
use serde_json::{json, Map, Value};

/// Members that are the client's settings (everything but identifiers and GenerateSecret).
const SETTINGS: &[&str] = &[
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
];

const LEGACY_FLOWS: &[&str] = &["ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY", "USER_PASSWORD_AUTH"];

fn validate(settings: &ClientSettings) -> Result<()> {
    if let Some(names) = &settings.explicit_auth_flows {
        let legacy = names.iter().any(|f| LEGACY_FLOWS.contains(&f.as_str()));
        let allow = names.iter().any(|f| f.starts_with("ALLOW_"));
        if legacy && allow {
            return Err(Error::invalid(
                "ExplicitAuthFlow values cannot mix legacy values (ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) with ALLOW_ values.",
            ));
        }
    }
    for kind in TokenKind::ALL {
        let (min, max) = match kind {
            TokenKind::Access | TokenKind::Id => (300, 86400),
            TokenKind::Refresh => (3600, 315_360_000),
        };
        if let Some(v) = settings.validity(kind) {
            let secs = v * settings.unit(kind).secs();
            if secs < min || secs > max {
                return Err(Error::invalid(format!(
                    "Invalid range for token validity: {}TokenValidity must be between {} and {} seconds.",
                    kind.name(),
                    min,
                    max
                )));
            }
        }
    }
    if let Some(v) = settings.auth_session_validity {
        if !(3..=15).contains(&v) {
            return Err(Error::invalid("AuthSessionValidity must be between 3 and 15 minutes."));
        }
    }
    Ok(())
}

/// The most callback or sign-out URLs a client may list.
const MAX_URLS: usize = 100;

/// Members that are accepted only in their default (off) form.
fn refuse_unsupported(input: &Value) -> Result<()> {
    if input.get("AnalyticsConfiguration").is_some_and(|v| !v.is_null()) {
        return Err(not_supported("AnalyticsConfiguration", " (there is no Amazon Pinpoint behind it)"));
    }
    if input.bool_of("PublishSecretsInAWSSecretsManager") == Some(true) {
        return Err(not_supported(
            "PublishSecretsInAWSSecretsManager",
            "; the client secret is returned as ClientSecret",
        ));
    }
    Ok(())
}

/// A callback or sign-out URL as Cognito accepts it: absolute, no fragment, HTTPS except
/// `http://localhost`, or an app's custom scheme.
fn check_redirect_url(member: &str, url: &str) -> Result<()> {
    let bad = || Error::invalid(format!("{member} has an invalid URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if rest.is_empty()
        || url.contains('#')
        || scheme.is_empty()
        || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(bad());
    }
    if scheme.eq_ignore_ascii_case("http") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        if !host.eq_ignore_ascii_case("localhost") {
            return Err(Error::invalid(format!(
                "{member} has an invalid URL: {url}. HTTPS is required, except for http://localhost."
            )));
        }
    }
    Ok(())
}

fn strings(list: &Option<Vec<String>>) -> &[String] {
    list.as_deref().unwrap_or_default()
}

/// The OAuth members, checked as Cognito checks them (the custom scopes' existence is checked
/// against the resource servers by `check_scopes_exist`).
fn check_oauth(settings: &ClientSettings, has_secret: bool) -> Result<()> {
    let callbacks = strings(&settings.callback_urls);
    let logouts = strings(&settings.logout_urls);
    for (member, list) in [("CallbackURLs", callbacks), ("LogoutURLs", logouts)] {
        if list.len() > MAX_URLS {
            return Err(Error::invalid(format!("{member} can have at most {MAX_URLS} URLs.")));
        }
        for url in list {
            check_redirect_url(member, url)?;
        }
    }
    if let Some(default) = settings.default_redirect_uri.as_deref() {
        check_redirect_url("DefaultRedirectURI", default)?;
        if !callbacks.iter().any(|c| c == default) {
            return Err(Error::invalid("DefaultRedirectURI must be one of the CallbackURLs."));
        }
    }
    let flows = strings(&settings.allowed_oauth_flows);
    let scopes = strings(&settings.allowed_oauth_scopes);
    if let Some(scope) = scopes.iter().find(|s| !is_reserved(s) && !s.contains('/')) {
        return Err(Error::ScopeDoesNotExistException(format!("Invalid scope requested: {scope}")));
    }
    let credentials = flows.iter().any(|f| f == "client_credentials");
    if credentials && flows.iter().any(|f| f == "code" || f == "implicit") {
        return Err(Error::InvalidOAuthFlowException(
            "client_credentials flow can not be selected along with code flow or implicit flow.".into(),
        ));
    }
    if credentials && !has_secret {
        return Err(Error::InvalidOAuthFlowException(
            "client_credentials flow can not be selected if client does not have a client secret.".into(),
        ));
    }
    if credentials && scopes.iter().any(|s| is_reserved(s)) {
        // Only custom scopes (from resource servers) may be granted to client_credentials.
        return Err(Error::InvalidOAuthFlowException(
            "client_credentials flow can only be used with custom scopes.".into(),
        ));
    }
    if settings.allowed_oauth_flows_user_pool_client == Some(true) {
        if flows.is_empty() {
            return Err(Error::invalid(
                "AllowedOAuthFlows must be set when AllowedOAuthFlowsUserPoolClient is true.",
            ));
        }
        if scopes.is_empty() {
            return Err(Error::invalid(
                "AllowedOAuthScopes must be set when AllowedOAuthFlowsUserPoolClient is true.",
            ));
        }
        if flows.iter().any(|f| f == "code" || f == "implicit") && callbacks.is_empty() {
            return Err(Error::invalid("CallbackURLs must be set for the code and implicit flows."));
        }
    }
    Ok(())
}

/// Checks what depends on the client's secret.
fn check_with_secret(settings: &ClientSettings, has_secret: bool) -> Result<()> {
    if settings.enable_propagate_additional_user_context_data == Some(true) && !has_secret {
        return Err(Error::invalid(
            "EnablePropagateAdditionalUserContextData can only be enabled for an app client with a client secret.",
        ));
    }
    check_oauth(settings, has_secret)
}

/// The secret a new client gets: its own (`ClientSecret`), a generated one (`GenerateSecret`),
/// or none. Cognito refuses both together.
fn new_secret(svc: &Service, input: &Value) -> Result<Option<String>> {
    match (input.str_of("ClientSecret"), input.bool_of("GenerateSecret") == Some(true)) {
        (Some(_), true) => Err(Error::invalid(
            "You cannot specify both GenerateSecret as true and provide a ClientSecret value.",
        )),
        (Some(s), false) => Ok(Some(s.to_string())),
        (None, true) => Ok(Some(crate::ids::client_secret(svc.rng.as_ref()))),
        (None, false) => Ok(None),
    }
}

/// The settings members of a Create/UpdateUserPoolClient input. The front end has checked
/// each member's type against the API model; a null member counts as not set.
fn settings_from(input: &Value) -> Result<ClientSettings> {
    let members: Map<String, Value> = input
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| SETTINGS.contains(&k.as_str()) && !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    serde_json::from_value(Value::Object(members))
        .map_err(|e| Error::invalid(format!("Invalid client settings: {e}")))
}

/// `UserPoolClientType`: the lists appear only when set, the defaults as Cognito shows them.
fn describe(client: &AppClient) -> Result<Value> {
    let mut out = client.settings.to_map().map_err(Error::internal)?;
    out.insert("UserPoolId".into(), json!(client.pool_id));
    out.insert("ClientName".into(), json!(client.client_name));
    out.insert("ClientId".into(), json!(client.client_id));
    if let Some(s) = &client.secret {
        out.insert("ClientSecret".into(), json!(s));
    }
    out.insert("CreationDate".into(), json!(client.created as f64 / 1000.0));
    out.insert("LastModifiedDate".into(), json!(client.modified as f64 / 1000.0));
    out.entry("RefreshTokenValidity").or_insert(json!(30));
    out.entry("AllowedOAuthFlowsUserPoolClient").or_insert(json!(false));
    out.entry("EnableTokenRevocation").or_insert(json!(true));
    out.entry("EnablePropagateAdditionalUserContextData").or_insert(json!(false));
    out.entry("AuthSessionValidity").or_insert(json!(3));
    out.entry("PreventUserExistenceErrors").or_insert(json!("LEGACY"));
    Ok(Value::Object(out))
}

pub async fn create_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let settings = settings_from(input)?;
    validate(&settings)?;
    refuse_unsupported(input)?;
    let secret = new_secret(svc, input)?;
    check_with_secret(&settings, secret.is_some())?;
    check_client_scopes(svc, &pool.id, strings(&settings.allowed_oauth_scopes)).await?;
    crate::attribute_rules::check_client_lists(&pool, &settings, true)?;
    federation::records::check_client_providers(
        svc,
        &pool.id,
        strings(&settings.supported_identity_providers),
        settings.write_attributes.as_deref(),
    )
    .await?;
    let now = svc.clock.now_millis();
    let client = AppClient {
        pool_id: pool.id.clone(),
        client_id: crate::ids::client_id(svc.rng.as_ref()),
        client_name: input.req_str("ClientName")?.to_string(),
        secret,
        created: now,
        modified: now,
        settings,
    };
    let body = serde_json::to_value(&client).map_err(Error::internal)?;
    svc.store
        .transact(
            vec![
                Write::put(
                    Item::new(keys::client(&client.client_id), keys::CLIENT_SK, body),
                    Cond::NotExists,
                ),
                Write::put(client_listing(&client), Cond::NotExists),
                // The pool must still exist when the client lands.
                Write::put(pool_item(svc, &pool.id).await?, Cond::Exists),
            ],
            svc.now_secs(),
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { index: 2 } => {
                Error::ResourceNotFoundException(format!("User pool {} does not exist.", pool.id))
            }
            e => e.into(),
        })?;
    Ok(json!({"UserPoolClient": describe(&client)?}))
}

/// The pool record as stored, rewritten unchanged: lets a transaction require the pool.
async fn pool_item(svc: &Service, pool_id: &str) -> Result<Item> {
    svc.store
        .get(&keys::pool(pool_id), keys::POOL_SK, svc.now_secs())
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))
}

pub async fn describe_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    let client = svc.pool_client(pool_id, input.req_str("ClientId")?).await?;
    Ok(json!({"UserPoolClient": describe(&client)?}))
}

pub async fn update_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let pool = svc.pool(pool_id).await?;
    let client_id = input.req_str("ClientId")?;
    let (mut client, version) = svc
        .get_json::<AppClient>(&keys::client(client_id), keys::CLIENT_SK)
        .await?
        .filter(|(c, _)| c.pool_id == pool_id)
        .ok_or_else(|| {
            Error::ResourceNotFoundException(format!("User pool client {client_id} does not exist."))
        })?;
    let settings = settings_from(input)?;
    validate(&settings)?;
    refuse_unsupported(input)?;
    check_with_secret(&settings, client.secret.is_some())?;
    check_client_scopes(svc, &pool.id, strings(&settings.allowed_oauth_scopes)).await?;
    crate::attribute_rules::check_client_lists(&pool, &settings, false)?;
    federation::records::check_client_providers(
        svc,
        &pool.id,
        strings(&settings.supported_identity_providers),
        settings.write_attributes.as_deref(),
    )
    .await?;
    // Like Cognito, members left out return to their defaults.
    client.settings = settings;
    if let Some(name) = input.str_of("ClientName") {
        client.client_name = name.to_string();
    }
    client.modified = svc.clock.now_millis();
    let mut item = Item::new(
        keys::client(client_id),
        keys::CLIENT_SK,
        serde_json::to_value(&client).map_err(Error::internal)?,
    );
    item.version = version + 1;
    let result = svc
        .store
        .transact(
            vec![Write::put(item, Cond::Version(version)), Write::put(client_listing(&client), Cond::None)],
            svc.now_secs(),
        )
        .await;
    svc.forget_client(&client.client_id);
    match result {
        Ok(()) => Ok(json!({"UserPoolClient": describe(&client)?})),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
            "The client was modified by another request. Try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    let client = svc.pool_client(pool_id, input.req_str("ClientId")?).await?;
    svc.store
        .transact(
            vec![
                Write::delete(keys::client(&client.client_id), keys::CLIENT_SK, Cond::None),
                Write::delete(keys::pool(pool_id), keys::pool_client_sk(&client.client_id), Cond::None),
            ],
            svc.now_secs(),
        )
        .await?;
    svc.forget_client(&client.client_id);
    Ok(json!({}))
}

pub async fn list_user_pool_clients(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    let max = input.i64_of("MaxResults").unwrap_or(60).clamp(1, 60) as usize;
    let start =
        input.str_of("NextToken").map(decode_next_token).transpose()?.map(|cid| keys::pool_client_sk(&cid));
    let page = svc
        .store
        .query(&keys::pool(pool_id), crate::keys::POOL_CLIENT_PREFIX, start.as_deref(), max, svc.now_secs())
        .await?;
    let clients: Vec<Value> = page.items.iter().map(|i| i.body.clone()).collect();
    let mut out = json!({"UserPoolClients": clients});
    if let Some(next) = page.next.as_deref().and_then(|sk| sk.strip_prefix(crate::keys::POOL_CLIENT_PREFIX)) {
        out["NextToken"] = json!(encode_next_token(next));
    }
    Ok(out)
}

/// Keeps clients reachable from their pool's listing partition.
fn client_listing(client: &AppClient) -> Item {
    Item::new(
        keys::pool(&client.pool_id),
        keys::pool_client_sk(&client.client_id),
        json!({"ClientId": client.client_id, "ClientName": client.client_name, "UserPoolId": client.pool_id}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_shows_the_settings_byte_for_byte_as_before() {
        let every = crate::model::every_client_settings_member();
        for blob in [every, json!({"ExplicitAuthFlows": ["USER_PASSWORD_AUTH"]}), json!({})] {
            let client = AppClient {
                pool_id: "us-east-1_x".into(),
                client_id: "c".into(),
                client_name: "app".into(),
                secret: Some("s".into()),
                created: 1500,
                modified: 2500,
                settings: serde_json::from_value(blob.clone()).unwrap(),
            };
            // DescribeUserPoolClient as it was computed on the untyped map.
            let mut old = blob.as_object().cloned().unwrap();
            for (k, v) in [
                ("UserPoolId", json!("us-east-1_x")),
                ("ClientName", json!("app")),
                ("ClientId", json!("c")),
                ("ClientSecret", json!("s")),
                ("CreationDate", json!(1.5)),
                ("LastModifiedDate", json!(2.5)),
            ] {
                old.insert(k.into(), v);
            }
            for (k, v) in [
                ("RefreshTokenValidity", json!(30)),
                ("AllowedOAuthFlowsUserPoolClient", json!(false)),
                ("EnableTokenRevocation", json!(true)),
                ("EnablePropagateAdditionalUserContextData", json!(false)),
                ("AuthSessionValidity", json!(3)),
                ("PreventUserExistenceErrors", json!("LEGACY")),
            ] {
                old.entry(k).or_insert(v);
            }
            assert_eq!(
                serde_json::to_string(&describe(&client).unwrap()).unwrap(),
                serde_json::to_string(&Value::Object(old)).unwrap(),
                "{blob}"
            );
        }
    }
}
