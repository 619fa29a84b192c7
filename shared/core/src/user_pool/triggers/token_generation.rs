//! The pre token generation trigger: Cognito's `TokenGeneration_*` event (V1_0 or V2_0, as the
//! pool's `PreTokenGenerationConfig.LambdaVersion` says; the legacy `PreTokenGeneration` key alone
//! is V1_0) and the changes its response makes to the claims before they are signed.
//!
//! - V1_0 (`claimsOverrideDetails`): `claimsToAddOrOverride` (string values) and
//!   `claimsToSuppress` change the ID token only.
//! - V2_0 (`claimsAndScopeOverrideDetails`): `idTokenGeneration` and `accessTokenGeneration` each
//!   add or override claims (any JSON value) and suppress claims; `accessTokenGeneration` also
//!   adds and suppresses scopes of the access token's `scope` claim.
//! - Both: `groupOverrideDetails` absent leaves the groups as they are; present but null, `{}` or
//!   empty removes `cognito:groups` (both tokens), `cognito:roles` and `cognito:preferred_role`
//!   (ID token); otherwise it replaces them.
//! - A claim both overridden and suppressed is suppressed.
//! - Protected claims ([`protected`]) are never changed: an attempt to add, override or suppress
//!   one is ignored (and logged as a warning). The developer guide lists them as claims that
//!   "cannot be modified" and defines no error for the attempt, so a function written against
//!   Cognito keeps working here.
//! - Output Cognito cannot use is `InvalidLambdaResponseException`: a member of the wrong JSON
//!   type (V1_0 claim values that are not strings, lists that are not string lists, …), a V2_0
//!   object or array for `email_verified`, `phone_number_verified`, `updated_at` or `address` in
//!   the ID token (the docs exclude complex values there), and scopes that are not single
//!   RFC 6749 scope tokens. A null member is the same as an absent one; a null V2_0 claim value
//!   is no change.
//!
//! A pool without the trigger costs nothing: no event is built.

use crate::error::Result;
use crate::model::{AppClient, User, UserPool};
use crate::service::Service;
use crate::triggers::{self, invalid_response, Caller, Trigger};
use crate::user_pool::groups::claims::GroupClaims;
use aws_lambda_events::event::cognito as ev;
use serde_json::{Map, Value};

/// The scope of access tokens from the user API (InitiateAuth, RespondToAuthChallenge).
pub const USER_API_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Why tokens are being issued; the event's `triggerSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `TokenGeneration_Authentication`: a sign-in that ended in tokens.
    Authentication,
    /// `TokenGeneration_NewPasswordChallenge`: after NEW_PASSWORD_REQUIRED.
    NewPasswordChallenge,
    /// `TokenGeneration_RefreshTokens`: REFRESH_TOKEN_AUTH.
    RefreshTokens,
    /// `TokenGeneration_AuthenticateDevice`: a sign-in that ended with DEVICE_PASSWORD_VERIFIER.
    AuthenticateDevice,
    /// `TokenGeneration_HostedAuth`: a sign-in through the auth domain (its pages, or a
    /// session they opened).
    HostedAuth,
}

impl TokenSource {
    fn trigger_source(self) -> ev::CognitoEventUserPoolsPreTokenGenTriggerSource {
        use ev::CognitoEventUserPoolsPreTokenGenTriggerSource as S;
        match self {
            TokenSource::Authentication => S::Authentication,
            TokenSource::NewPasswordChallenge => S::NewPasswordChallenge,
            TokenSource::RefreshTokens => S::RefreshTokens,
            TokenSource::AuthenticateDevice => S::AuthenticateDevice,
            TokenSource::HostedAuth => S::HostedAuth,
        }
    }
}

/// Why tokens are issued and the `ClientMetadata` the trigger receives with it.
#[derive(Debug, Clone, Copy)]
pub struct Occasion<'a> {
    pub source: TokenSource,
    /// RespondToAuthChallenge's `ClientMetadata`; `Value::Null` for InitiateAuth, whose metadata
    /// Cognito does not pass to this trigger.
    pub metadata: &'a Value,
}

impl<'a> Occasion<'a> {
    pub fn new(source: TokenSource, metadata: &'a Value) -> Occasion<'a> {
        Occasion { source, metadata }
    }

    /// A call whose metadata is not passed on (InitiateAuth, AdminInitiateAuth).
    pub fn without_metadata(source: TokenSource) -> Occasion<'static> {
        Occasion { source, metadata: &Value::Null }
    }
}

/// The event version the pool asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventVersion {
    V1,
    V2,
}

/// `PreTokenGenerationConfig.LambdaVersion`; V1_0 when only the legacy key is set. (V3_0 is refused
/// when the pool is saved.)
pub fn event_version(pool: &UserPool) -> EventVersion {
    if pool.settings.pre_token_generation_version() == Some("V2_0") {
        EventVersion::V2
    } else {
        EventVersion::V1
    }
}

/// The claims of one token about to be signed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    pub access: Map<String, Value>,
    pub id: Map<String, Value>,
}

/// Changes the function asked for in one token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenChanges {
    pub add_or_override: Map<String, Value>,
    pub suppress: Vec<String>,
}

/// Everything a response asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub id: TokenChanges,
    /// V2_0 only.
    pub access: TokenChanges,
    /// V2_0 only.
    pub scopes_to_add: Vec<String>,
    pub scopes_to_suppress: Vec<String>,
    /// `None`: the groups stay as they are.
    pub groups: Option<GroupClaims>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Id,
    Access,
}

/// Claims the trigger cannot add, override or suppress. `cognito:*` claims change only through
/// `groupOverrideDetails`; `dev:*` claims are Cognito's developer claims.
pub fn protected(token: Token, claim: &str) -> bool {
    const BOTH: &[&str] = &[
        "acr",
        "amr",
        "aud",
        "at_hash",
        "auth_time",
        "azp",
        "event_id",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "sub",
        "token_use",
    ];
    const ACCESS: &[&str] = &["client_id", "scope", "username", "version", "device_key"];
    claim.starts_with("cognito:")
        || claim.starts_with("dev:")
        || BOTH.contains(&claim)
        || (token == Token::Access && ACCESS.contains(&claim))
}

/// ID-token claims Cognito keeps simple: V2_0 may not give them an object or array.
const SIMPLE_ID_CLAIMS: &[&str] = &["email_verified", "phone_number_verified", "updated_at", "address"];

/// Applies a response's changes: per token, overrides, then suppressions (so suppress beats
/// override), skipping protected claims; then the group override; then the scopes (suppressed
/// scopes win over added ones). Pure.
pub fn apply(claims: &mut Claims, overrides: &Overrides) {
    for (token, map, changes) in
        [(Token::Id, &mut claims.id, &overrides.id), (Token::Access, &mut claims.access, &overrides.access)]
    {
        for (name, value) in &changes.add_or_override {
            if protected(token, name) {
                tracing::warn!(claim = %name, ?token, "pre token generation cannot change a protected claim; ignored");
            } else {
                map.insert(name.clone(), value.clone());
            }
        }
        for name in &changes.suppress {
            if protected(token, name) {
                tracing::warn!(claim = %name, ?token, "pre token generation cannot suppress a protected claim; ignored");
            } else {
                map.remove(name);
            }
        }
    }
    if let Some(groups) = &overrides.groups {
        groups.apply(&mut claims.access, &mut claims.id);
    }
    if overrides.scopes_to_add.is_empty() && overrides.scopes_to_suppress.is_empty() {
        return;
    }
    let current = claims.access.get("scope").and_then(Value::as_str).unwrap_or_default();
    let mut scopes: Vec<&str> = Vec::new();
    for scope in current.split(' ').chain(overrides.scopes_to_add.iter().map(String::as_str)) {
        if !scope.is_empty()
            && !scopes.contains(&scope)
            && !overrides.scopes_to_suppress.iter().any(|s| s == scope)
        {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        claims.access.remove("scope");
    } else {
        let joined = scopes.join(" ");
        claims.access.insert("scope".into(), Value::String(joined));
    }
}

/// An object member: null or absent is `None`; another non-object is unusable output.
fn object<'a>(parent: Option<&'a Map<String, Value>>, name: &str) -> Result<Option<&'a Map<String, Value>>> {
    match parent.and_then(|p| p.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(invalid_response()),
    }
}

/// `groupOverrideDetails`: absent is "unchanged"; null or `{}` is "no groups".
fn group_override(details: &Map<String, Value>) -> Result<Option<GroupClaims>> {
    let Some(value) = details.get("groupOverrideDetails") else { return Ok(None) };
    let g = match value {
        Value::Null => return Ok(Some(GroupClaims::default())),
        Value::Object(m) => Some(m),
        _ => return Err(invalid_response()),
    };
    Ok(Some(GroupClaims {
        groups: triggers::text_list(g, "groupsToOverride")?.unwrap_or_default(),
        roles: triggers::text_list(g, "iamRolesToOverride")?.unwrap_or_default(),
        preferred_role: triggers::text(g, "preferredRole")?,
    }))
}

/// A V1_0 result: `response.claimsOverrideDetails`.
pub fn parse_v1(result: &Value) -> Result<Overrides> {
    let Some(details) = object(triggers::response(result), "claimsOverrideDetails")? else {
        return Ok(Overrides::default());
    };
    let details = Some(details);
    let add_or_override = triggers::text_map(details, "claimsToAddOrOverride")?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(Overrides {
        id: TokenChanges {
            add_or_override,
            suppress: triggers::text_list(details, "claimsToSuppress")?.unwrap_or_default(),
        },
        groups: details.map(group_override).transpose()?.flatten(),
        ..Overrides::default()
    })
}

/// Claims of any JSON type; a null value is no change.
fn any_claims(parent: Option<&Map<String, Value>>) -> Result<Map<String, Value>> {
    Ok(object(parent, "claimsToAddOrOverride")?
        .map(|m| m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

/// Scope names: single tokens of printable ASCII without spaces or quotes (RFC 6749 §3.3).
fn scopes(parent: Option<&Map<String, Value>>, name: &str) -> Result<Vec<String>> {
    let list = triggers::text_list(parent, name)?.unwrap_or_default();
    let valid = |s: &String| {
        !s.is_empty()
            && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    if list.iter().all(valid) {
        Ok(list)
    } else {
        Err(invalid_response())
    }
}

/// A V2_0 result: `response.claimsAndScopeOverrideDetails`.
pub fn parse_v2(result: &Value) -> Result<Overrides> {
    let Some(details) = object(triggers::response(result), "claimsAndScopeOverrideDetails")? else {
        return Ok(Overrides::default());
    };
    let id = object(Some(details), "idTokenGeneration")?;
    let access = object(Some(details), "accessTokenGeneration")?;
    let id_claims = any_claims(id)?;
    for name in SIMPLE_ID_CLAIMS {
        if id_claims.get(*name).is_some_and(|v| v.is_object() || v.is_array()) {
            return Err(invalid_response());
        }
    }
    Ok(Overrides {
        id: TokenChanges {
            add_or_override: id_claims,
            suppress: triggers::text_list(id, "claimsToSuppress")?.unwrap_or_default(),
        },
        access: TokenChanges {
            add_or_override: any_claims(access)?,
            suppress: triggers::text_list(access, "claimsToSuppress")?.unwrap_or_default(),
        },
        scopes_to_add: scopes(access, "scopesToAdd")?,
        scopes_to_suppress: scopes(access, "scopesToSuppress")?,
        groups: group_override(details)?,
    })
}

/// What the event tells the function about the user and the call.
pub struct TokenRequest<'a> {
    pub pool: &'a UserPool,
    pub client: &'a AppClient,
    pub user: &'a User,
    pub occasion: Occasion<'a>,
    pub groups: &'a GroupClaims,
}

/// Runs the pool's pre token generation trigger, if any, and applies its answer to `claims`.
/// Errors (the function's, or output that cannot be used) mean no tokens.
pub async fn customise(svc: &Service, req: &TokenRequest<'_>, claims: &mut Claims) -> Result<()> {
    if !Trigger::PreTokenGeneration.configured(req.pool) {
        return Ok(());
    }
    let version = event_version(req.pool);
    let scopes: Vec<String> = claims
        .access
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let event = event(svc, req, version, scopes)?;
    let Some(result) = triggers::invoke(svc, req.pool, Trigger::PreTokenGeneration, event).await? else {
        return Ok(());
    };
    let overrides = match version {
        EventVersion::V1 => parse_v1(&result)?,
        EventVersion::V2 => parse_v2(&result)?,
    };
    apply(claims, &overrides);
    Ok(())
}

fn group_configuration(groups: &GroupClaims) -> ev::GroupConfiguration {
    let mut g = ev::GroupConfiguration::default();
    g.groups_to_override = groups.groups.clone();
    g.iam_roles_to_override = groups.roles.clone();
    g.preferred_role = groups.preferred_role.clone();
    g
}

/// The event, as Cognito sends it (built with the `aws_lambda_events` types).
fn event(svc: &Service, req: &TokenRequest<'_>, version: EventVersion, scopes: Vec<String>) -> Result<Value> {
    let caller = Caller { client_id: Some(&req.client.client_id), metadata: req.occasion.metadata };
    let mut header =
        triggers::header(svc, req.pool, &req.user.username, &caller, req.occasion.source.trigger_source());
    let user_attributes = triggers::user_attributes(req.pool, req.user);
    match version {
        EventVersion::V1 => {
            let mut request = ev::CognitoEventUserPoolsPreTokenGenRequest::default();
            request.user_attributes = user_attributes;
            request.group_configuration = group_configuration(req.groups);
            request.client_metadata = caller.metadata_map();
            let mut e = ev::CognitoEventUserPoolsPreTokenGen::default();
            e.cognito_event_user_pools_header = header;
            e.request = request;
            triggers::to_event(&e, &[])
        }
        EventVersion::V2 => {
            header.version = Some("2".into());
            let mut request = ev::CognitoEventUserPoolsPreTokenGenRequestV2::default();
            request.user_attributes = user_attributes;
            request.group_configuration = group_configuration(req.groups);
            request.client_metadata = caller.metadata_map();
            request.scopes = scopes;
            let mut e = ev::CognitoEventUserPoolsPreTokenGenV2::default();
            e.cognito_event_user_pools_header = header;
            e.request = request;
            triggers::to_event(&e, &[])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> Claims {
        let m = |v: Value| v.as_object().cloned().unwrap();
        Claims {
            access: m(json!({
                "sub": "s", "iss": "i", "client_id": "c", "origin_jti": "o", "event_id": "e",
                "token_use": "access", "scope": "aws.cognito.signin.user.admin", "auth_time": 1,
                "exp": 2, "iat": 1, "jti": "j", "username": "u", "cognito:groups": ["g1"],
            })),
            id: m(json!({
                "sub": "s", "iss": "i", "aud": "c", "cognito:username": "u", "origin_jti": "o",
                "event_id": "e", "token_use": "id", "auth_time": 1, "exp": 2, "iat": 1, "jti": "j",
                "email": "a@b.c", "email_verified": true, "name": "Ann",
                "cognito:groups": ["g1"], "cognito:roles": ["r1"], "cognito:preferred_role": "r1",
            })),
        }
    }

    fn result(response: Value) -> Value {
        json!({"version": "1", "request": {}, "response": response})
    }

    #[test]
    fn v1_overrides_and_suppresses_the_id_token_only() {
        let o = parse_v1(&result(json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"name": "Bob", "tier": "gold", "email": "x@y.z"},
            "claimsToSuppress": ["email"],
        }})))
        .unwrap();
        let mut c = claims();
        let before = c.clone();
        apply(&mut c, &o);
        assert_eq!(c.id["name"], "Bob");
        assert_eq!(c.id["tier"], "gold");
        assert!(!c.id.contains_key("email"), "suppress beats override");
        assert_eq!(c.access, before.access, "V1 leaves the access token alone");
        assert_eq!(c.id["cognito:groups"], json!(["g1"]), "no groupOverrideDetails: groups unchanged");
    }

    #[test]
    fn protected_claims_never_change() {
        let mut add = Map::new();
        let mut suppress = Vec::new();
        for name in [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "token_use",
            "cognito:username",
            "identities",
            "acr",
            "amr",
            "azp",
            "event_id",
            "origin_jti",
            "jti",
            "nonce",
            "at_hash",
            "cognito:groups",
            "cognito:roles",
            "cognito:anything",
            "dev:x",
            "client_id",
            "scope",
            "username",
        ] {
            add.insert(name.to_string(), json!("forged"));
            suppress.push(name.to_string());
        }
        let o = Overrides {
            id: TokenChanges { add_or_override: add.clone(), suppress: suppress.clone() },
            access: TokenChanges { add_or_override: add, suppress },
            ..Overrides::default()
        };
        let mut c = claims();
        let before = c.clone();
        apply(&mut c, &o);
        // client_id, scope and username are plain claims in the ID token: added, then
        // suppressed (suppress wins), so absent as before.
        assert_eq!(c, before);
    }

    #[test]
    fn group_override_absent_null_empty_and_replaced() {
        let run = |details: Value| {
            let o = parse_v1(&result(json!({"claimsOverrideDetails": details}))).unwrap();
            let mut c = claims();
            apply(&mut c, &o);
            c
        };
        let c = run(json!({"claimsToSuppress": []}));
        assert_eq!(c.id["cognito:roles"], json!(["r1"]));
        for removed in [
            json!({"groupOverrideDetails": null}),
            json!({"groupOverrideDetails": {}}),
            json!({"groupOverrideDetails": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null}}),
        ] {
            let c = run(removed);
            for claim in ["cognito:groups", "cognito:roles", "cognito:preferred_role"] {
                assert!(!c.id.contains_key(claim) && !c.access.contains_key(claim), "{claim}");
            }
        }
        let c = run(json!({"groupOverrideDetails": {
            "groupsToOverride": ["a", "b"], "iamRolesToOverride": ["r2"], "preferredRole": "r2"}}));
        assert_eq!(c.id["cognito:groups"], json!(["a", "b"]));
        assert_eq!(c.access["cognito:groups"], json!(["a", "b"]));
        assert_eq!(c.id["cognito:roles"], json!(["r2"]));
        assert_eq!(c.id["cognito:preferred_role"], json!("r2"));
        assert!(!c.access.contains_key("cognito:roles"));
        // Groups without roles: the old roles go.
        let c = run(json!({"groupOverrideDetails": {"groupsToOverride": ["a"]}}));
        assert_eq!(c.id["cognito:groups"], json!(["a"]));
        assert!(!c.id.contains_key("cognito:roles") && !c.id.contains_key("cognito:preferred_role"));
    }

    #[test]
    fn absent_or_null_details_change_nothing() {
        for r in [json!({}), json!({"claimsOverrideDetails": null}), Value::Null] {
            assert_eq!(parse_v1(&result(r.clone())).unwrap(), Overrides::default());
        }
        assert_eq!(parse_v1(&json!({"version": "1"})).unwrap(), Overrides::default());
        for r in [json!({}), json!({"claimsAndScopeOverrideDetails": null})] {
            assert_eq!(parse_v2(&result(r)).unwrap(), Overrides::default());
        }
    }

    #[test]
    fn wrongly_typed_output_is_invalid() {
        for r in [
            json!({"claimsOverrideDetails": "x"}),
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"n": 1}}}),
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": ["n"]}}),
            json!({"claimsOverrideDetails": {"claimsToSuppress": "email"}}),
            json!({"claimsOverrideDetails": {"claimsToSuppress": [1]}}),
            json!({"claimsOverrideDetails": {"groupOverrideDetails": []}}),
            json!({"claimsOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": "a"}}}),
            json!({"claimsOverrideDetails": {"groupOverrideDetails": {"preferredRole": 3}}}),
        ] {
            assert_eq!(parse_v1(&result(r.clone())), Err(invalid_response()), "{r}");
        }
        for r in [
            json!({"claimsAndScopeOverrideDetails": []}),
            json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": "x"}}),
            json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"claimsToAddOrOverride": []}}}),
            json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": ["a b"]}}}),
            json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": [""]}}}),
            json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToSuppress": "x"}}}),
            json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {"email_verified": {"a": 1}}}}}),
            json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {"address": [1]}}}}),
        ] {
            assert_eq!(parse_v2(&result(r.clone())), Err(invalid_response()), "{r}");
        }
    }

    #[test]
    fn v2_changes_both_tokens_and_the_scopes() {
        let o = parse_v2(&result(json!({"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {
                "claimsToAddOrOverride": {"tags": {"team": ["a", "b"]}, "level": 3, "name": null},
                "claimsToSuppress": ["email"],
            },
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {"tenant": "t1", "admin": true, "gone": "x"},
                "claimsToSuppress": ["gone"],
                "scopesToAdd": ["photos/read", "photos/write", "photos/read"],
                "scopesToSuppress": ["photos/write"],
            },
        }})))
        .unwrap();
        let mut c = claims();
        apply(&mut c, &o);
        assert_eq!(c.id["tags"], json!({"team": ["a", "b"]}));
        assert_eq!(c.id["level"], json!(3));
        assert_eq!(c.id["name"], json!("Ann"), "a null value is no change");
        assert!(!c.id.contains_key("email"));
        assert!(!c.id.contains_key("tenant"));
        assert_eq!(c.access["tenant"], json!("t1"));
        assert_eq!(c.access["admin"], json!(true));
        assert!(!c.access.contains_key("gone"));
        assert_eq!(c.access["scope"], json!("aws.cognito.signin.user.admin photos/read"));
        assert_eq!(c.access["cognito:groups"], json!(["g1"]));

        let o = Overrides { scopes_to_suppress: vec![USER_API_SCOPE.into()], ..Overrides::default() };
        let mut c = claims();
        apply(&mut c, &o);
        assert!(!c.access.contains_key("scope"), "no scope left: no scope claim");
    }

    #[test]
    fn v2_allows_simple_values_for_the_simple_id_claims() {
        let o = parse_v2(&result(json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {
            "claimsToAddOrOverride": {"email_verified": false, "updated_at": 5, "address": "1 Main St"}}}})))
        .unwrap();
        let mut c = claims();
        apply(&mut c, &o);
        assert_eq!(c.id["email_verified"], json!(false));
        assert_eq!(c.id["updated_at"], json!(5));
        assert_eq!(c.id["address"], json!("1 Main St"));
    }
}
