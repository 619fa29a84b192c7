//! What CreateIdentityPool, UpdateIdentityPool and SetIdentityPoolRoles accept: the pool's
//! configuration, checked member by member, and its role mappings.

use super::pool::{oidc_provider_name, CognitoIdentityProvider, IdentityPool};
use super::roles::{MappingType, RoleMapping, MAX_RULES};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::service::Service;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Cognito user-pool providers one identity pool may name (Cognito's default quota).
const MAX_USER_POOL_PROVIDERS: usize = 10;

/// Public-provider app ids one pool may hold (the model's limit).
const MAX_SUPPORTED_LOGIN_PROVIDERS: usize = 10;

/// RoleMappings one pool may hold (the model's limit).
pub(super) const MAX_ROLE_MAPPINGS: usize = 10;

/// One RoleMappings entry of SetIdentityPoolRoles.
pub(super) fn check_role_mapping(key: &str, mapping: &RoleMapping) -> Result<()> {
    if mapping.ambiguous_role_resolution.is_none() {
        return Err(Error::invalid(format!(
            "AmbiguousRoleResolution must be specified for the role mapping of {key}."
        )));
    }
    if mapping.mapping_type == MappingType::Rules {
        let rules = mapping.rules_configuration.as_ref().map(|c| c.rules.as_slice()).unwrap_or_default();
        if rules.is_empty() {
            return Err(Error::invalid(format!(
                "RulesConfiguration with at least one rule is required for the Rules role mapping of {key}."
            )));
        }
        if rules.len() > MAX_RULES {
            return Err(Error::invalid(format!(
                "A role mapping can hold at most {MAX_RULES} rules; {key} has {}.",
                rules.len()
            )));
        }
        for rule in rules {
            check_role_arn(&rule.role_arn)?;
        }
    }
    Ok(())
}

/// `arn:{partition}:iam::{12-digit account}:role/{path and name}`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else { return false };
    *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
        })
}

pub(super) fn check_role_arn(arn: &str) -> Result<()> {
    if is_role_arn(arn) {
        Ok(())
    } else {
        Err(Error::invalid(format!("'{arn}' is not a valid IAM role ARN.")))
    }
}

/// `arn:{partition}:iam::{account}:{kind}/{name}` for OpenID Connect and SAML providers.
fn is_iam_provider_arn(arn: &str, kind: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, _region, account, resource] = parts.as_slice() else { return false };
    *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && !account.is_empty()
        && account.chars().all(|c| c.is_ascii_digit())
        && resource
            .strip_prefix(kind)
            .is_some_and(|rest| rest.strip_prefix('/').is_some_and(|n| !n.is_empty()))
}

/// `[\w\s+=,.@-]+`, 1–128 characters.
fn check_pool_name(name: &str) -> Result<()> {
    let ok_char = |c: char| {
        c.is_ascii_alphanumeric()
            || c == '_'
            || c.is_ascii_whitespace()
            || c == '\x0B'
            || "+=,.@-".contains(c)
    };
    if name.is_empty() || name.chars().count() > 128 || !name.chars().all(ok_char) {
        return Err(Error::invalid(crate::input::validation_message(
            "IdentityPoolName",
            Some(name),
            "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
        )));
    }
    Ok(())
}

fn check_developer_provider_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if name.is_empty() || name.len() > 128 || !name.chars().all(ok_char) {
        return Err(Error::invalid(crate::input::validation_message(
            "DeveloperProviderName",
            Some(name),
            "Member must satisfy regular expression pattern: [\\w._-]+",
        )));
    }
    Ok(())
}

fn strings(input: &Value, member: &str) -> Vec<String> {
    input
        .get(member)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn string_map(input: &Value, member: &str) -> BTreeMap<String, String> {
    input
        .get(member)
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// The configuration CreateIdentityPool / UpdateIdentityPool describe, checked.
pub(super) async fn configuration(
    svc: &Service,
    input: &Value,
    id: String,
    current: Option<&IdentityPool>,
) -> Result<IdentityPool> {
    let name = input.req_str("IdentityPoolName")?;
    check_pool_name(name)?;
    let allow_unauthenticated = input.bool_of("AllowUnauthenticatedIdentities").ok_or_else(|| {
        Error::invalid(crate::input::validation_message(
            "AllowUnauthenticatedIdentities",
            None,
            crate::input::MUST_NOT_BE_NULL,
        ))
    })?;
    refuse_unverifiable_providers(input)?;
    let supported = string_map(input, "SupportedLoginProviders");
    if supported.len() > MAX_SUPPORTED_LOGIN_PROVIDERS {
        return Err(Error::invalid(format!(
            "An identity pool can hold at most {MAX_SUPPORTED_LOGIN_PROVIDERS} supported login providers."
        )));
    }
    let developer = developer_provider_name(&id, current, input.str_of("DeveloperProviderName"))?;
    let user_pools = user_pool_providers(svc, input).await?;
    let oidc = strings(input, "OpenIdConnectProviderARNs");
    let saml = strings(input, "SamlProviderARNs");
    check_provider_arns(&oidc, &saml)?;
    check_provider_names(&supported, &oidc, &saml, &user_pools, developer.as_deref())?;
    let tags = match (input.get("IdentityPoolTags"), current) {
        (None | Some(Value::Null), Some(c)) => c.identity_pool_tags.clone(),
        _ => string_map(input, "IdentityPoolTags"),
    };
    Ok(IdentityPool {
        identity_pool_id: id,
        identity_pool_name: name.to_string(),
        allow_unauthenticated_identities: allow_unauthenticated,
        allow_classic_flow: input.bool_of("AllowClassicFlow"),
        supported_login_providers: supported,
        developer_provider_name: developer,
        open_id_connect_provider_arns: oidc,
        cognito_identity_providers: user_pools,
        saml_provider_arns: saml,
        identity_pool_tags: tags,
        roles: BTreeMap::new(),
        role_mappings: BTreeMap::new(),
    })
}

/// Tessera verifies tokens of its own user pools and developer-authenticated identities only: a
/// pool that names another kind of provider would accept logins it cannot check.
fn refuse_unverifiable_providers(input: &Value) -> Result<()> {
    for member in ["SupportedLoginProviders", "OpenIdConnectProviderARNs", "SamlProviderARNs"] {
        let given = match input.get(member) {
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        if given {
            return Err(Error::invalid(format!(
                "{member} is not supported yet by Tessera, which verifies logins of Tessera user pools (CognitoIdentityProviders) and developer-authenticated identities (DeveloperProviderName) only."
            )));
        }
    }
    Ok(())
}

/// The pool's developer provider name once the request applies: it can be set once and never
/// changes after, also when an update leaves it out.
fn developer_provider_name(
    id: &str,
    current: Option<&IdentityPool>,
    given: Option<&str>,
) -> Result<Option<String>> {
    match (current.and_then(|c| c.developer_provider_name.as_deref()), given) {
        (Some(old), Some(new)) if old != new => Err(Error::invalid(format!(
            "The developer provider name of identity pool '{id}' is '{old}' and cannot be changed once set."
        ))),
        (Some(old), _) => Ok(Some(old.to_string())),
        (None, Some(new)) => {
            check_developer_provider_name(new)?;
            Ok(Some(new.to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// `CognitoIdentityProviders`: each names an existing user pool and app client, once.
async fn user_pool_providers(svc: &Service, input: &Value) -> Result<Vec<CognitoIdentityProvider>> {
    let mut user_pools = Vec::new();
    let Some(list) = input.get("CognitoIdentityProviders").and_then(Value::as_array) else {
        return Ok(user_pools);
    };
    if list.len() > MAX_USER_POOL_PROVIDERS {
        return Err(Error::LimitExceededException(format!(
            "An identity pool can name at most {MAX_USER_POOL_PROVIDERS} Cognito user-pool providers."
        )));
    }
    for entry in list {
        let provider: CognitoIdentityProvider = match (
            entry.get("ProviderName").and_then(Value::as_str),
            entry.get("ClientId").and_then(Value::as_str),
        ) {
            (Some(p), Some(c)) => CognitoIdentityProvider {
                provider_name: p.to_string(),
                client_id: c.to_string(),
                server_side_token_check: entry
                    .get("ServerSideTokenCheck")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            },
            _ => return Err(Error::invalid("Invalid Cognito Identity Provider")),
        };
        check_user_pool_provider(svc, &provider).await?;
        if user_pools.iter().any(|p: &CognitoIdentityProvider| {
            p.provider_name == provider.provider_name && p.client_id == provider.client_id
        }) {
            return Err(Error::ResourceConflictException(format!(
                "Cognito identity provider {} with client {} is listed twice.",
                provider.provider_name, provider.client_id
            )));
        }
        user_pools.push(provider);
    }
    Ok(user_pools)
}

/// OpenID Connect and SAML provider ARNs: IAM provider ARNs of their kind, each once.
fn check_provider_arns(oidc: &[String], saml: &[String]) -> Result<()> {
    for (arns, kind) in [(oidc, "oidc-provider"), (saml, "saml-provider")] {
        let mut seen = BTreeSet::new();
        for arn in arns {
            if !is_iam_provider_arn(arn, kind) {
                return Err(Error::invalid(format!("'{arn}' is not a valid IAM {kind} ARN.")));
            }
            if !seen.insert(arn) {
                return Err(Error::ResourceConflictException(format!("Provider {arn} is listed twice.")));
            }
        }
    }
    Ok(())
}

/// One name, one provider: a login key must tell which provider validates it. (A user pool
/// named with several app clients is one provider.)
fn check_provider_names(
    supported: &BTreeMap<String, String>,
    oidc: &[String],
    saml: &[String],
    user_pools: &[CognitoIdentityProvider],
    developer: Option<&str>,
) -> Result<()> {
    let mut names: Vec<&str> = supported.keys().map(String::as_str).collect();
    names.extend(oidc.iter().filter_map(|a| oidc_provider_name(a)));
    names.extend(saml.iter().map(String::as_str));
    names.extend(user_pools.iter().map(|p| p.provider_name.as_str()).collect::<BTreeSet<_>>());
    names.extend(developer);
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(Error::ResourceConflictException(format!(
                "Provider name {n} is used by more than one provider of the identity pool."
            )));
        }
    }
    Ok(())
}

/// A user-pool provider is `{issuer without scheme}` = `host[:port][/path]/{userPoolId}`, naming
/// an existing user pool and one of its app clients.
async fn check_user_pool_provider(svc: &Service, provider: &CognitoIdentityProvider) -> Result<()> {
    let invalid = || Error::invalid("Invalid Cognito Identity Provider");
    let name = &provider.provider_name;
    if name.contains("://") {
        return Err(Error::invalid(format!(
            "Invalid Cognito Identity Provider {name}: the provider name is the token issuer without its scheme."
        )));
    }
    let Some((_, user_pool_id)) = name.rsplit_once('/') else { return Err(invalid()) };
    if !crate::ids::is_pool_id(user_pool_id) {
        return Err(invalid());
    }
    let pool = svc.pool(user_pool_id).await.map_err(|_| invalid())?;
    svc.pool_client(&pool.id, &provider.client_id).await.map_err(|_| invalid())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/a"));
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/path/x+y=z,a.b@c_d-e"));
        for bad in [
            "role/a",
            "arn:aws:iam::123456789012:user/a",
            "arn:aws:iam::12345:role/a",
            "arn:aws:iam:us-east-1:123456789012:role/a",
            "arn:aws:s3::123456789012:role/a",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }

    #[test]
    fn provider_arns_and_names() {
        let oidc = "arn:aws:iam::123456789012:oidc-provider/login.example.com";
        assert!(is_iam_provider_arn(oidc, "oidc-provider"));
        assert!(!is_iam_provider_arn(oidc, "saml-provider"));
        assert!(is_iam_provider_arn("arn:aws:iam::123456789012:saml-provider/corp", "saml-provider"));
        assert!(!is_iam_provider_arn("arn:aws:iam::123456789012:oidc-provider/", "oidc-provider"));
        assert_eq!(oidc_provider_name(oidc), Some("login.example.com"));
    }

    fn pool(developer: Option<&str>) -> IdentityPool {
        let pool = serde_json::json!({
            "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
            "IdentityPoolName": "p",
            "AllowUnauthenticatedIdentities": false,
            "DeveloperProviderName": developer,
        });
        serde_json::from_value(pool).unwrap()
    }

    #[test]
    fn the_developer_provider_name_is_set_once() {
        assert_eq!(developer_provider_name("p", None, None).unwrap(), None);
        assert_eq!(
            developer_provider_name("p", None, Some("login.dev")).unwrap().as_deref(),
            Some("login.dev")
        );
        let e = developer_provider_name("p", None, Some("login dev")).unwrap_err();
        assert_eq!(e.name(), "InvalidParameterException");
        let set = pool(Some("login.dev"));
        for given in [None, Some("login.dev")] {
            let kept = developer_provider_name("p", Some(&set), given).unwrap();
            assert_eq!(kept.as_deref(), Some("login.dev"), "{given:?}");
        }
        let e = developer_provider_name("p", Some(&set), Some("other.dev")).unwrap_err();
        assert_eq!(
            e.message(),
            "The developer provider name of identity pool 'p' is 'login.dev' and cannot be changed once set."
        );
        // A pool without one gets one on update.
        let added = developer_provider_name("p", Some(&pool(None)), Some("new.dev")).unwrap();
        assert_eq!(added.as_deref(), Some("new.dev"));
    }

    #[test]
    fn one_name_one_provider() {
        let user_pool = |name: &str, client: &str| CognitoIdentityProvider {
            provider_name: name.into(),
            client_id: client.into(),
            server_side_token_check: false,
        };
        let none = BTreeMap::new();
        let two_clients = [user_pool("h/us-east-1_a", "c1"), user_pool("h/us-east-1_a", "c2")];
        assert!(check_provider_names(&none, &[], &[], &two_clients, Some("login.dev")).is_ok());
        let clash = [user_pool("login.dev", "c1")];
        let e = check_provider_names(&none, &[], &[], &clash, Some("login.dev")).unwrap_err();
        assert_eq!(
            e.message(),
            "Provider name login.dev is used by more than one provider of the identity pool."
        );
        let supported: BTreeMap<String, String> =
            [("login.example.com".to_string(), "app".to_string())].into();
        let oidc = ["arn:aws:iam::123456789012:oidc-provider/login.example.com".to_string()];
        let e = check_provider_names(&supported, &oidc, &[], &[], None).unwrap_err();
        assert_eq!(e.name(), "ResourceConflictException");
    }

    #[test]
    fn provider_arns_are_of_their_kind_and_listed_once() {
        let oidc = "arn:aws:iam::123456789012:oidc-provider/login.example.com".to_string();
        let saml = "arn:aws:iam::123456789012:saml-provider/corp".to_string();
        assert!(check_provider_arns(std::slice::from_ref(&oidc), std::slice::from_ref(&saml)).is_ok());
        let e = check_provider_arns(std::slice::from_ref(&saml), &[]).unwrap_err();
        assert_eq!(e.message(), format!("'{saml}' is not a valid IAM oidc-provider ARN."));
        let e = check_provider_arns(&[oidc.clone(), oidc], &[]).unwrap_err();
        assert_eq!(e.name(), "ResourceConflictException");
    }
}
