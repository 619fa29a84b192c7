//! Which IAM role an identity gets (docs/identity-pools.md, "Identity pools"): the pool's default roles, and the role
//! mappings of Token and Rules type for authenticated logins. Pure: the caller brings the pool's
//! roles and mapping, the login's verified claims and the request's CustomRoleArn.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Keys of the pool's `Roles` map.
pub(super) const AUTHENTICATED: &str = "authenticated";
pub(super) const UNAUTHENTICATED: &str = "unauthenticated";

/// Most rules one provider's mapping may hold (Cognito's documented limit; the model allows 400).
pub(super) const MAX_RULES: usize = 25;

/// `RoleMapping`, as the model shapes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RoleMapping {
    #[serde(rename = "Type")]
    pub mapping_type: MappingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous_role_resolution: Option<AmbiguousRoleResolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_configuration: Option<RulesConfiguration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum MappingType {
    Token,
    Rules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum AmbiguousRoleResolution {
    AuthenticatedRole,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RulesConfiguration {
    pub rules: Vec<MappingRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MappingRule {
    pub claim: String,
    pub match_type: MatchType,
    pub value: String,
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum MatchType {
    Equals,
    Contains,
    StartsWith,
    NotEqual,
}

/// The error Cognito answers when a pool has no role for the identity.
fn no_role() -> Error {
    Error::InvalidIdentityPoolConfigurationException(
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.".into(),
    )
}

/// The unauthenticated role of the pool.
pub(super) fn unauthenticated_role(roles: &BTreeMap<String, String>) -> Result<String> {
    roles.get(UNAUTHENTICATED).cloned().ok_or_else(no_role)
}

/// The role of an authenticated identity. `mapping` is the pool's RoleMapping for the login's
/// provider key (`{ProviderName}:{ClientId}` for user pools), `mapping_key` that key (for the
/// denial message), `claims` the login token's verified claims.
pub(super) fn authenticated_role(
    roles: &BTreeMap<String, String>,
    mapping: Option<&RoleMapping>,
    mapping_key: &str,
    claims: &Value,
    custom_role_arn: Option<&str>,
) -> Result<String> {
    let default_role = || roles.get(AUTHENTICATED).cloned().ok_or_else(no_role);
    let Some(mapping) = mapping else { return default_role() };
    let decided = match mapping.mapping_type {
        MappingType::Token => token_role(claims, custom_role_arn)?,
        MappingType::Rules => rules_role(mapping, claims, custom_role_arn),
    };
    match decided {
        Some(role) => Ok(role),
        None => match mapping.ambiguous_role_resolution {
            Some(AmbiguousRoleResolution::AuthenticatedRole) => default_role(),
            // SetIdentityPoolRoles requires the resolution; a mapping without one decides nothing.
            Some(AmbiguousRoleResolution::Deny) | None => Err(Error::not_authorized(format!(
                "The ambiguous role mapping rules for: {mapping_key} denied this request."
            ))),
        },
    }
}

/// Token type: CustomRoleArn (must be one of `cognito:roles`), else `cognito:preferred_role`,
/// else undecided.
fn token_role(claims: &Value, custom_role_arn: Option<&str>) -> Result<Option<String>> {
    // A list in the ID token; the guide describes it as comma-separated text, read that too.
    let allowed: Vec<String> = match claims.get("cognito:roles") {
        Some(Value::String(s)) => s.split(',').map(|r| r.trim().to_string()).collect(),
        other => claim_values(other),
    };
    if let Some(custom) = custom_role_arn {
        if allowed.iter().any(|r| r == custom) {
            return Ok(Some(custom.to_string()));
        }
        return Err(Error::not_authorized(
            "The CustomRoleArn is not one of the roles the token allows (cognito:roles).",
        ));
    }
    Ok(claims.get("cognito:preferred_role").and_then(Value::as_str).map(str::to_string))
}

/// Rules type: the first matching rule in order, unless CustomRoleArn names the role of a
/// matching rule.
fn rules_role(mapping: &RoleMapping, claims: &Value, custom_role_arn: Option<&str>) -> Option<String> {
    let rules = mapping.rules_configuration.as_ref().map(|c| c.rules.as_slice()).unwrap_or_default();
    let mut matching = rules.iter().filter(|rule| rule_matches(rule, claims));
    if let Some(custom) = custom_role_arn {
        let all: Vec<&MappingRule> = matching.collect();
        return all.iter().find(|r| r.role_arn == custom).or_else(|| all.first()).map(|r| r.role_arn.clone());
    }
    matching.next().map(|r| r.role_arn.clone())
}

/// Case-sensitive comparison of a claim with a rule's value. A claim holding a list (such as
/// `cognito:groups`) matches when any element does, except NotEqual, which needs all to differ.
/// NotEqual on a missing claim is not evaluated (no match).
fn rule_matches(rule: &MappingRule, claims: &Value) -> bool {
    let Some(claim) = claims.get(&rule.claim).filter(|v| !v.is_null()) else { return false };
    let values = claim_values(Some(claim));
    let want = rule.value.as_str();
    match rule.match_type {
        MatchType::Equals => values.iter().any(|v| v == want),
        MatchType::Contains => values.iter().any(|v| v.contains(want)),
        MatchType::StartsWith => values.iter().any(|v| v.starts_with(want)),
        MatchType::NotEqual => values.iter().all(|v| v != want),
    }
}

/// A claim's values as strings: a list's elements, a string, or a scalar's JSON text
/// (`email_verified: true` compares as "true").
fn claim_values(claim: Option<&Value>) -> Vec<String> {
    match claim {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().flat_map(|v| claim_values(Some(v))).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(other) => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const AUTH: &str = "arn:aws:iam::123456789012:role/auth";
    const UNAUTH: &str = "arn:aws:iam::123456789012:role/unauth";
    const ADMIN: &str = "arn:aws:iam::123456789012:role/admin";
    const SALES: &str = "arn:aws:iam::123456789012:role/sales";
    const KEY: &str = "host/us-east-1_abc:client";

    fn roles() -> BTreeMap<String, String> {
        [(AUTHENTICATED.to_string(), AUTH.to_string()), (UNAUTHENTICATED.to_string(), UNAUTH.to_string())]
            .into()
    }

    fn token(ambiguous: AmbiguousRoleResolution) -> RoleMapping {
        RoleMapping {
            mapping_type: MappingType::Token,
            ambiguous_role_resolution: Some(ambiguous),
            rules_configuration: None,
        }
    }

    fn rules(ambiguous: AmbiguousRoleResolution, rules: Vec<(&str, MatchType, &str, &str)>) -> RoleMapping {
        RoleMapping {
            mapping_type: MappingType::Rules,
            ambiguous_role_resolution: Some(ambiguous),
            rules_configuration: Some(RulesConfiguration {
                rules: rules
                    .into_iter()
                    .map(|(c, m, v, r)| MappingRule {
                        claim: c.into(),
                        match_type: m,
                        value: v.into(),
                        role_arn: r.into(),
                    })
                    .collect(),
            }),
        }
    }

    fn name(r: Result<String>) -> String {
        match r {
            Ok(role) => role,
            Err(e) => e.name().to_string(),
        }
    }

    #[test]
    fn default_roles_or_the_configuration_error() {
        assert_eq!(unauthenticated_role(&roles()).unwrap(), UNAUTH);
        assert_eq!(name(authenticated_role(&roles(), None, KEY, &json!({}), None)), AUTH);
        let empty = BTreeMap::new();
        assert_eq!(name(unauthenticated_role(&empty)), "InvalidIdentityPoolConfigurationException");
        assert_eq!(
            name(authenticated_role(&empty, None, KEY, &json!({}), None)),
            "InvalidIdentityPoolConfigurationException"
        );
        // No mapping: CustomRoleArn does not choose among default roles.
        assert_eq!(name(authenticated_role(&roles(), None, KEY, &json!({}), Some(ADMIN))), AUTH);
    }

    #[test]
    fn token_mappings_follow_custom_then_preferred_then_ambiguous() {
        let m = token(AmbiguousRoleResolution::Deny);
        let claims = json!({"cognito:roles": [ADMIN, SALES], "cognito:preferred_role": ADMIN});
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &claims, None)), ADMIN);
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &claims, Some(SALES))), SALES);
        // A custom role the token does not allow is denied, whatever the ambiguity rule.
        let lenient = token(AmbiguousRoleResolution::AuthenticatedRole);
        assert_eq!(
            name(authenticated_role(&roles(), Some(&lenient), KEY, &claims, Some(AUTH))),
            "NotAuthorizedException"
        );
        // Roles but no preferred role: ambiguous.
        let ambiguous = json!({"cognito:roles": [ADMIN, SALES]});
        let denied = authenticated_role(&roles(), Some(&m), KEY, &ambiguous, None).unwrap_err();
        assert_eq!(
            denied.message(),
            format!("The ambiguous role mapping rules for: {KEY} denied this request.")
        );
        assert_eq!(name(authenticated_role(&roles(), Some(&lenient), KEY, &ambiguous, None)), AUTH);
        // No group roles at all: ambiguous too.
        assert_eq!(
            name(authenticated_role(&roles(), Some(&m), KEY, &json!({}), None)),
            "NotAuthorizedException"
        );
        assert_eq!(name(authenticated_role(&roles(), Some(&lenient), KEY, &json!({}), None)), AUTH);
        // A comma-separated cognito:roles string is read too.
        let csv = json!({"cognito:roles": format!("{ADMIN},{SALES}")});
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &csv, Some(SALES))), SALES);
    }

    #[test]
    fn ambiguous_authenticated_role_needs_a_default_role() {
        let lenient = token(AmbiguousRoleResolution::AuthenticatedRole);
        let only_unauth: BTreeMap<String, String> =
            [(UNAUTHENTICATED.to_string(), UNAUTH.to_string())].into();
        assert_eq!(
            name(authenticated_role(&only_unauth, Some(&lenient), KEY, &json!({}), None)),
            "InvalidIdentityPoolConfigurationException"
        );
        // A decided role needs no default.
        let claims = json!({"cognito:preferred_role": ADMIN});
        assert_eq!(name(authenticated_role(&BTreeMap::new(), Some(&lenient), KEY, &claims, None)), ADMIN);
    }

    #[test]
    fn rules_apply_in_order_first_match_wins() {
        let m = rules(
            AmbiguousRoleResolution::Deny,
            vec![
                ("custom:dept", MatchType::Equals, "Sales", SALES),
                ("email", MatchType::Contains, "@corp.", ADMIN),
            ],
        );
        let both = json!({"custom:dept": "Sales", "email": "a@corp.example"});
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &both, None)), SALES);
        let second = json!({"custom:dept": "Ops", "email": "a@corp.example"});
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &second, None)), ADMIN);
        let none = json!({"custom:dept": "sales", "email": "a@home.example"});
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &none, None)), "NotAuthorizedException");
        let lenient = rules(
            AmbiguousRoleResolution::AuthenticatedRole,
            vec![("custom:dept", MatchType::Equals, "Sales", SALES)],
        );
        assert_eq!(name(authenticated_role(&roles(), Some(&lenient), KEY, &none, None)), AUTH);
    }

    #[test]
    fn custom_role_picks_among_matching_rules_only() {
        let m = rules(
            AmbiguousRoleResolution::Deny,
            vec![
                ("custom:dept", MatchType::StartsWith, "Sa", SALES),
                ("custom:dept", MatchType::Equals, "Sales", ADMIN),
                ("custom:dept", MatchType::Equals, "Ops", AUTH),
            ],
        );
        let claims = json!({"custom:dept": "Sales"});
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &claims, Some(ADMIN))), ADMIN);
        // AUTH's rule does not match: the first matching rule decides.
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &claims, Some(AUTH))), SALES);
        assert_eq!(name(authenticated_role(&roles(), Some(&m), KEY, &claims, None)), SALES);
    }

    #[test]
    fn match_types() {
        let rule = |m: MatchType, v: &str| MappingRule {
            claim: "c".into(),
            match_type: m,
            value: v.into(),
            role_arn: ADMIN.into(),
        };
        let c = json!({"c": "abcdef"});
        assert!(rule_matches(&rule(MatchType::Equals, "abcdef"), &c));
        assert!(!rule_matches(&rule(MatchType::Equals, "ABCDEF"), &c), "case-sensitive");
        assert!(rule_matches(&rule(MatchType::Contains, "cde"), &c));
        assert!(!rule_matches(&rule(MatchType::Contains, "xyz"), &c));
        assert!(rule_matches(&rule(MatchType::StartsWith, "abc"), &c));
        assert!(!rule_matches(&rule(MatchType::StartsWith, "bcd"), &c));
        assert!(rule_matches(&rule(MatchType::NotEqual, "zzz"), &c));
        assert!(!rule_matches(&rule(MatchType::NotEqual, "abcdef"), &c));
        // NotEqual on a missing claim is skipped, not a match.
        assert!(!rule_matches(&rule(MatchType::NotEqual, "zzz"), &json!({})));
        assert!(!rule_matches(&rule(MatchType::NotEqual, "zzz"), &json!({"c": null})));
        // Lists: any element matches; NotEqual needs every element to differ.
        let groups = json!({"c": ["admins", "users"]});
        assert!(rule_matches(&rule(MatchType::Equals, "admins"), &groups));
        assert!(!rule_matches(&rule(MatchType::NotEqual, "admins"), &groups));
        assert!(rule_matches(&rule(MatchType::NotEqual, "guests"), &groups));
        // Scalars compare by their text.
        assert!(rule_matches(&rule(MatchType::Equals, "true"), &json!({"c": true})));
    }

    #[test]
    fn mappings_round_trip_in_the_model_shape() {
        let wire = json!({
            "Type": "Rules",
            "AmbiguousRoleResolution": "Deny",
            "RulesConfiguration": {"Rules": [
                {"Claim": "custom:dept", "MatchType": "NotEqual", "Value": "x", "RoleARN": ADMIN}
            ]}
        });
        let m: RoleMapping = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(m.mapping_type, MappingType::Rules);
        assert_eq!(serde_json::to_value(&m).unwrap(), wire);
        let t: RoleMapping = serde_json::from_value(json!({"Type": "Token"})).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), json!({"Type": "Token"}));
    }
}
