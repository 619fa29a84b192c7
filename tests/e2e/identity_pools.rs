//! Identity pools through aws-sdk-cognitoidentity: pool configuration and roles, user-pool
//! logins becoming identities, tokens and credentials, developer identities, linking and
//! merging, role mappings as a user sees them, and the identity listing.

use crate::common::*;
use crate::on_both_stores;
use crate::tokens::payload;
use aws_sdk_cognitoidentity as ci;
use ci::types::{
    AmbiguousRoleResolutionType, MappingRule, MappingRuleMatchType, RoleMapping, RoleMappingType,
};
use serde_json::json;
use tessera_core::ports::Clock;

const AUTH_ROLE: &str = "arn:aws:iam::123456789012:role/tessera-auth";
const UNAUTH_ROLE: &str = "arn:aws:iam::123456789012:role/tessera-unauth";
const ADMIN_ROLE: &str = "arn:aws:iam::123456789012:role/tessera-admins";
const SALES_ROLE: &str = "arn:aws:iam::123456789012:role/tessera-sales";
const DEV: &str = "login.tessera.example";

/// A user pool with an app client, named as an identity pool's provider.
struct UserPool {
    id: String,
    client: String,
    /// The ID tokens' `iss` without the scheme, as Amplify builds the Logins key.
    provider: String,
}

async fn user_pool(env: &TestEnv) -> UserPool {
    let id = env.email_pool().await;
    let (client, _) =
        env.app_client(&id, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    let provider = format!("{}/{id}", env.url.trim_start_matches("http://"));
    UserPool { id, client, provider }
}

/// A confirmed user's email and a fresh ID token.
async fn new_user(env: &TestEnv, up: &UserPool) -> (String, String) {
    let email = format!("{}@example.com", unique("u"));
    env.confirmed_user(&up.client, &email).await;
    let token = id_token(env, up, &email).await;
    (email, token)
}

async fn id_token(env: &TestEnv, up: &UserPool, email: &str) -> String {
    env.admin_sign_in(&up.id, &up.client, email).await.id_token().unwrap().to_string()
}

fn admin(env: &TestEnv) -> impl std::future::Future<Output = ci::Client> + '_ {
    identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET)
}

fn provider(up: &UserPool, server_side_check: bool) -> ci::types::CognitoIdentityProvider {
    ci::types::CognitoIdentityProvider::builder()
        .provider_name(&up.provider)
        .client_id(&up.client)
        .server_side_token_check(server_side_check)
        .build()
}

/// An identity pool trusting `up` (when given), with the developer provider `DEV` and the basic
/// flow allowed (it is off unless set, and these tests use GetOpenIdToken).
async fn identity_pool(c: &ci::Client, up: Option<&UserPool>, unauthenticated: bool) -> String {
    let mut b = c
        .create_identity_pool()
        .identity_pool_name(unique("pool"))
        .allow_unauthenticated_identities(unauthenticated)
        .allow_classic_flow(true)
        .developer_provider_name(DEV);
    if let Some(up) = up {
        b = b.cognito_identity_providers(provider(up, false));
    }
    b.send().await.expect("create identity pool").identity_pool_id().to_string()
}

async fn set_roles(c: &ci::Client, pool: &str, mappings: Vec<(String, RoleMapping)>) {
    let mut b = c
        .set_identity_pool_roles()
        .identity_pool_id(pool)
        .roles("authenticated", AUTH_ROLE)
        .roles("unauthenticated", UNAUTH_ROLE);
    for (k, m) in mappings {
        b = b.role_mappings(k, m);
    }
    b.send().await.expect("set roles");
}

async fn get_id(c: &ci::Client, pool: &str, logins: &[(&str, &str)]) -> Result<String, String> {
    let mut b = c.get_id().identity_pool_id(pool);
    for (k, v) in logins {
        b = b.logins(*k, *v);
    }
    b.send().await.map(|o| o.identity_id().unwrap_or_default().to_string()).map_err(err_name)
}

async fn open_id_token(
    c: &ci::Client,
    id: &str,
    logins: &[(&str, &str)],
) -> Result<(String, String), String> {
    let mut b = c.get_open_id_token().identity_id(id);
    for (k, v) in logins {
        b = b.logins(*k, *v);
    }
    b.send()
        .await
        .map(|o| (o.identity_id().unwrap_or_default().to_string(), o.token().unwrap_or_default().to_string()))
        .map_err(err_name)
}

/// GetCredentialsForIdentity: the identity id answered and the access key id.
async fn credentials(
    c: &ci::Client,
    id: &str,
    logins: &[(&str, &str)],
    custom_role: Option<&str>,
) -> Result<(String, ci::types::Credentials), String> {
    let mut b =
        c.get_credentials_for_identity().identity_id(id).set_custom_role_arn(custom_role.map(str::to_string));
    for (k, v) in logins {
        b = b.logins(*k, *v);
    }
    b.send()
        .await
        .map(|o| (o.identity_id().unwrap_or_default().to_string(), o.credentials().cloned().unwrap()))
        .map_err(err_name)
}

async fn developer_token(
    c: &ci::Client,
    pool: &str,
    identity: Option<&str>,
    logins: &[(&str, &str)],
) -> Result<(String, String), String> {
    let mut b = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(pool)
        .set_identity_id(identity.map(str::to_string));
    for (k, v) in logins {
        b = b.logins(*k, *v);
    }
    b.send()
        .await
        .map(|o| (o.identity_id().unwrap_or_default().to_string(), o.token().unwrap_or_default().to_string()))
        .map_err(err_name)
}

/// Every identity id of a pool, following NextToken with the given page size.
async fn identity_ids(c: &ci::Client, pool: &str, page: i32, hide_disabled: bool) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_identities()
            .identity_pool_id(pool)
            .max_results(page)
            .hide_disabled(hide_disabled)
            .set_next_token(token)
            .send()
            .await
            .expect("list identities");
        assert!(out.identities().len() <= page as usize);
        ids.extend(out.identities().iter().filter_map(|i| i.identity_id().map(str::to_string)));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return ids;
        }
    }
}

async fn describe_logins(c: &ci::Client, id: &str) -> Result<Vec<String>, String> {
    c.describe_identity().identity_id(id).send().await.map(|o| o.logins().to_vec()).map_err(err_name)
}

fn token_mapping(resolution: AmbiguousRoleResolutionType) -> RoleMapping {
    RoleMapping::builder()
        .r#type(RoleMappingType::Token)
        .ambiguous_role_resolution(resolution)
        .build()
        .unwrap()
}

fn rules_mapping(
    resolution: AmbiguousRoleResolutionType,
    rules: Vec<(&str, MappingRuleMatchType, &str, &str)>,
) -> RoleMapping {
    let mut config = ci::types::RulesConfigurationType::builder();
    for (claim, match_type, value, role) in rules {
        config = config.rules(
            MappingRule::builder()
                .claim(claim)
                .match_type(match_type)
                .value(value)
                .role_arn(role)
                .build()
                .unwrap(),
        );
    }
    RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(resolution)
        .rules_configuration(config.build().unwrap())
        .build()
        .unwrap()
}

fn assert_err(result: Result<impl std::fmt::Debug, String>, expected: &str) {
    match result {
        Ok(v) => panic!("expected {expected}, got {v:?}"),
        Err(e) => assert!(e.starts_with(expected), "expected {expected}, got {e}"),
    }
}

on_both_stores!(identity_pool_configuration, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let created = c
        .create_identity_pool()
        .identity_pool_name("Tessera app_pool 1")
        .allow_unauthenticated_identities(true)
        .developer_provider_name(DEV)
        .cognito_identity_providers(provider(&up, true))
        .identity_pool_tags("team", "mobile")
        .send()
        .await
        .unwrap();
    let id = created.identity_pool_id().to_string();
    let (region, uuid) = id.split_once(':').unwrap();
    assert_eq!(region, "us-east-1");
    // A lowercase, hyphenated UUID v4.
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
    assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)), "{uuid}");
    assert_eq!(&uuid[14..15], "4");
    assert!("89ab".contains(&uuid[19..20]));

    let described = c.describe_identity_pool().identity_pool_id(&id).send().await.unwrap();
    assert_eq!(described.identity_pool_name(), "Tessera app_pool 1");
    assert!(described.allow_unauthenticated_identities());
    assert_eq!(described.allow_classic_flow(), None);
    assert_eq!(described.developer_provider_name(), Some(DEV));
    assert!(described.supported_login_providers().is_none_or(|m| m.is_empty()));
    let providers = described.cognito_identity_providers();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].provider_name(), Some(up.provider.as_str()));
    assert_eq!(providers[0].client_id(), Some(up.client.as_str()));
    assert_eq!(providers[0].server_side_token_check(), Some(true));
    assert_eq!(described.identity_pool_tags().unwrap().get("team").unwrap(), "mobile");

    // Update replaces the configuration; the developer provider name stays and cannot change.
    let updated = c
        .update_identity_pool()
        .identity_pool_id(&id)
        .identity_pool_name("renamed")
        .allow_unauthenticated_identities(false)
        .allow_classic_flow(true)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.identity_pool_name(), "renamed");
    assert!(!updated.allow_unauthenticated_identities());
    assert_eq!(updated.allow_classic_flow(), Some(true));
    assert!(updated.supported_login_providers().is_none_or(|m| m.is_empty()));
    assert!(updated.cognito_identity_providers().is_empty());
    assert_eq!(updated.developer_provider_name(), Some(DEV));
    let again = c.describe_identity_pool().identity_pool_id(&id).send().await.unwrap();
    assert_eq!(again.identity_pool_name(), "renamed");
    let change = c
        .update_identity_pool()
        .identity_pool_id(&id)
        .identity_pool_name("renamed")
        .allow_unauthenticated_identities(false)
        .developer_provider_name("other.provider")
        .send()
        .await;
    assert_err(change.map_err(err_name), "InvalidParameterException");

    // Listing, one page at a time.
    let second = identity_pool(&c, None, true).await;
    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let out = c.list_identity_pools().max_results(1).set_next_token(token).send().await.unwrap();
        assert!(out.identity_pools().len() <= 1);
        for p in out.identity_pools() {
            listed.push((
                p.identity_pool_id().unwrap().to_string(),
                p.identity_pool_name().unwrap().to_string(),
            ));
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(listed.contains(&(id.clone(), "renamed".to_string())), "{listed:?}");
    assert!(listed.iter().any(|(p, _)| *p == second));
    assert_err(c.list_identity_pools().max_results(61).send().await.map_err(err_name), "ValidationException");

    // Invalid configurations.
    let create = |name: &str| {
        c.create_identity_pool().identity_pool_name(name).allow_unauthenticated_identities(false)
    };
    assert_err(create("bad/name").send().await.map_err(err_name), "ValidationException");
    let unknown_pool = ci::types::CognitoIdentityProvider::builder()
        .provider_name(format!("{}/us-east-1_doesnotexist", env.url.trim_start_matches("http://")))
        .client_id(&up.client)
        .build();
    assert_err(
        create("p").cognito_identity_providers(unknown_pool).send().await.map_err(err_name),
        "InvalidParameterException: Invalid Cognito Identity Provider",
    );
    let wrong_client = ci::types::CognitoIdentityProvider::builder()
        .provider_name(&up.provider)
        .client_id("nosuchclient")
        .build();
    assert_err(
        create("p").cognito_identity_providers(wrong_client).send().await.map_err(err_name),
        "InvalidParameterException: Invalid Cognito Identity Provider",
    );
    assert_err(
        create("p")
            .cognito_identity_providers(provider(&up, false))
            .cognito_identity_providers(provider(&up, true))
            .send()
            .await
            .map_err(err_name),
        "ResourceConflictException",
    );
    let mut many = create("p");
    for _ in 0..6 {
        let (client, _) = env.app_client(&up.id, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
        let (other, _) = env.app_client(&up.id, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
        for cl in [client, other] {
            many = many.cognito_identity_providers(
                ci::types::CognitoIdentityProvider::builder()
                    .provider_name(&up.provider)
                    .client_id(cl)
                    .build(),
            );
        }
    }
    assert_err(many.send().await.map_err(err_name), "LimitExceededException");

    // Roles and role mappings.
    let pool = c
        .create_identity_pool()
        .identity_pool_name("roles")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(provider(&up, false))
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let key = format!("{}:{}", up.provider, up.client);
    let set = |roles: Vec<(&str, &str)>, mappings: Vec<(String, RoleMapping)>| {
        let mut b = c.set_identity_pool_roles().identity_pool_id(&pool);
        for (k, v) in roles {
            b = b.roles(k, v);
        }
        for (k, m) in mappings {
            b = b.role_mappings(k, m);
        }
        b
    };
    assert_err(
        set(vec![("authenticated", "not-an-arn-but-long-enough")], vec![]).send().await.map_err(err_name),
        "InvalidParameterException",
    );
    let unconfigured = set(
        vec![("authenticated", AUTH_ROLE)],
        vec![("accounts.google.com".into(), token_mapping(AmbiguousRoleResolutionType::Deny))],
    );
    assert_err(
        unconfigured.send().await.map_err(err_name),
        "InvalidParameterException: accounts.google.com is not a valid RoleMapping ProviderName or is not a configured provider.",
    );
    // The user pool's key is `{ProviderName}:{ClientId}`.
    let bare = set(
        vec![("authenticated", AUTH_ROLE)],
        vec![(up.provider.clone(), token_mapping(AmbiguousRoleResolutionType::Deny))],
    );
    assert_err(bare.send().await.map_err(err_name), "InvalidParameterException");
    let no_resolution = RoleMapping::builder().r#type(RoleMappingType::Token).build().unwrap();
    assert_err(
        set(vec![("authenticated", AUTH_ROLE)], vec![(key.clone(), no_resolution)])
            .send()
            .await
            .map_err(err_name),
        "InvalidParameterException",
    );
    let no_rules = RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(AmbiguousRoleResolutionType::Deny)
        .build()
        .unwrap();
    assert_err(
        set(vec![("authenticated", AUTH_ROLE)], vec![(key.clone(), no_rules)]).send().await.map_err(err_name),
        "InvalidParameterException",
    );
    let too_many: Vec<(&str, MappingRuleMatchType, &str, &str)> =
        (0..26).map(|_| ("email", MappingRuleMatchType::Contains, "@", SALES_ROLE)).collect();
    let rules26 = rules_mapping(AmbiguousRoleResolutionType::Deny, too_many);
    assert_err(
        set(vec![("authenticated", AUTH_ROLE)], vec![(key.clone(), rules26)]).send().await.map_err(err_name),
        "InvalidParameterException",
    );

    let rules = rules_mapping(
        AmbiguousRoleResolutionType::AuthenticatedRole,
        vec![("custom:dept", MappingRuleMatchType::Equals, "Sales", SALES_ROLE)],
    );
    set(vec![("authenticated", AUTH_ROLE), ("unauthenticated", UNAUTH_ROLE)], vec![(key.clone(), rules)])
        .send()
        .await
        .unwrap();
    let roles = c.get_identity_pool_roles().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(roles.identity_pool_id(), Some(pool.as_str()));
    assert_eq!(roles.roles().unwrap().get("authenticated").unwrap(), AUTH_ROLE);
    assert_eq!(roles.roles().unwrap().get("unauthenticated").unwrap(), UNAUTH_ROLE);
    let mapping = roles.role_mappings().unwrap().get(&key).unwrap();
    assert_eq!(mapping.r#type(), &RoleMappingType::Rules);
    let rule = &mapping.rules_configuration().unwrap().rules()[0];
    assert_eq!((rule.claim(), rule.value(), rule.role_arn()), ("custom:dept", "Sales", SALES_ROLE));
    // Roles survive an update of the configuration.
    c.update_identity_pool()
        .identity_pool_id(&pool)
        .identity_pool_name("roles2")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(provider(&up, false))
        .send()
        .await
        .unwrap();
    let kept = c.get_identity_pool_roles().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(kept.roles().unwrap().len(), 2);

    // Deleting a pool deletes its identities.
    let guest = get_id(&c, &pool, &[]).await.unwrap();
    c.delete_identity_pool().identity_pool_id(&pool).send().await.unwrap();
    assert_err(
        c.describe_identity_pool().identity_pool_id(&pool).send().await.map_err(err_name),
        &format!("ResourceNotFoundException: IdentityPool '{pool}' not found."),
    );
    assert_err(describe_logins(&c, &guest).await, "ResourceNotFoundException");
    assert_err(get_id(&c, &pool, &[]).await, "ResourceNotFoundException");
    assert_err(
        c.delete_identity_pool().identity_pool_id(&pool).send().await.map_err(err_name),
        "ResourceNotFoundException",
    );
});

on_both_stores!(constraint_violations_answer_validation_exception, |env| {
    // Cognito Identity's front end answers the model's constraints with ValidationException
    // (cognito-idp and Cognito Sync with InvalidParameterException). The model does not
    // declare it, so the SDK sees an unmodelled error with that code.
    let c = admin(env).await;
    let create = |name: &str| {
        c.create_identity_pool().identity_pool_name(name).allow_unauthenticated_identities(false)
    };
    for name in ["pool#name", "with!excl", "with?quest"] {
        let e = create(name).send().await.unwrap_err();
        assert!(e.as_service_error().is_some_and(|s| !s.is_invalid_parameter_exception()), "{e:?}");
        assert_eq!(
            err_name(e),
            format!(
                "ValidationException: 1 validation error detected: Value '{name}' at 'identityPoolName' \
                 failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+"
            )
        );
    }
    let e = create("a#b").developer_provider_name("bad name!").send().await.map_err(err_name).unwrap_err();
    let errors = e
        .strip_prefix("ValidationException: 2 validation errors detected: ")
        .unwrap_or_else(|| panic!("{e}"));
    let mut errors: Vec<&str> = errors.split("; ").collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            "Value 'a#b' at 'identityPoolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
            "Value 'bad name!' at 'developerProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w._-]+",
        ]
    );
    let e = c.list_identity_pools().max_results(61).send().await.map_err(err_name).unwrap_err();
    assert_eq!(
        e,
        "ValidationException: 1 validation error detected: Value '61' at 'maxResults' failed to satisfy \
         constraint: Member must have value less than or equal to 60"
    );
    let e = c.describe_identity_pool().identity_pool_id("nopool").send().await.map_err(err_name).unwrap_err();
    assert!(
        e.starts_with("ValidationException: 1 validation error detected: Value 'nopool' at 'identityPoolId'"),
        "{e}"
    );
    // Nothing was created; names the pattern allows are fine.
    let listed = c.list_identity_pools().max_results(60).send().await.unwrap();
    assert!(listed.identity_pools().is_empty(), "{listed:?}");
    for name in ["x", "pool-", "pool_name", "with space"] {
        create(name).send().await.unwrap();
    }
    // A rule of the service itself, not of the model, stays InvalidParameterException.
    let e = create("p")
        .cognito_identity_providers(
            ci::types::CognitoIdentityProvider::builder()
                .provider_name(format!("{}/us-east-1_doesnotexist", env.url.trim_start_matches("http://")))
                .client_id("nosuchclient")
                .build(),
        )
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid Cognito Identity Provider");
    // The user-pool service keeps InvalidParameterException for the same kind of violation.
    let e = env.client.list_user_pools().max_results(61).send().await.map_err(err_name).unwrap_err();
    assert!(
        e.starts_with("InvalidParameterException: 1 validation error detected: Value '61' at 'maxResults'"),
        "{e}"
    );
});

on_both_stores!(signed_and_unsigned_operations, |env| {
    let c = admin(env).await;
    let pool = identity_pool(&c, None, true).await;
    // The public operations need no signature at all.
    let (status, _, body) = raw_http(
        &env.url,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AWSCognitoIdentityService.GetId"),
        ],
        json!({"IdentityPoolId": pool}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["IdentityId"]
        .as_str()
        .unwrap()
        .to_string();
    // Clients with unknown keys still reach them (the SDK does not sign them).
    let stranger = identity_client(&env.url, "AKIAUNKNOWN000000000", "wrong").await;
    assert_eq!(open_id_token(&stranger, &id, &[]).await.unwrap().0, id);
    // The developer operations refuse unsigned and badly signed requests.
    let (status, _, body) = raw_http(
        &env.url,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AWSCognitoIdentityService.DescribeIdentityPool"),
        ],
        json!({"IdentityPoolId": pool}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    let error = serde_json::from_slice::<serde_json::Value>(&body).unwrap();
    assert!(error["__type"].as_str().unwrap().contains("MissingAuthenticationToken"), "{error}");
    assert_err(
        stranger.describe_identity_pool().identity_pool_id(&pool).send().await.map_err(err_name),
        "UnrecognizedClientException",
    );
    let wrong_secret = identity_client(&env.url, ADMIN_KEY, "not-the-secret").await;
    assert_err(
        wrong_secret.list_identity_pools().max_results(5).send().await.map_err(err_name),
        "InvalidSignatureException",
    );
    assert_err(
        developer_token(&wrong_secret, &pool, None, &[(DEV, "alice")]).await,
        "InvalidSignatureException",
    );
});

on_both_stores!(user_pool_login_to_identity_token_and_credentials, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = identity_pool(&c, Some(&up), false).await;
    let (_, token) = new_user(env, &up).await;
    let logins = [(up.provider.as_str(), token.as_str())];

    let id = get_id(&c, &pool, &logins).await.unwrap();
    assert!(id.starts_with("us-east-1:"), "{id}");
    // The same login always maps to the same identity, also with a new token.
    assert_eq!(get_id(&c, &pool, &logins).await.unwrap(), id);
    assert_eq!(describe_logins(&c, &id).await.unwrap(), vec![up.provider.clone()]);

    let (same, oidc) = open_id_token(&c, &id, &logins).await.unwrap();
    assert_eq!(same, id);
    let claims = payload(&oidc);
    assert_eq!(claims["iss"], format!("{}/cognito-identity", env.url));
    assert_eq!(claims["aud"], pool);
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["amr"], json!(["authenticated", up.provider]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);

    // Without roles there is nothing to assume.
    assert_err(credentials(&c, &id, &logins, None).await, "InvalidIdentityPoolConfigurationException");
    set_roles(&c, &pool, vec![]).await;
    let (same, creds) = credentials(&c, &id, &logins, None).await.unwrap();
    assert_eq!(same, id);
    assert!(creds.access_key_id().unwrap().starts_with("ASIALOCAL"), "local credentials");
    assert!(!creds.secret_key().unwrap().is_empty());
    assert!(creds.session_token().unwrap().starts_with("tessera-local:"));
    let expires = creds.expiration().unwrap().secs();
    let now = env.clock.now_secs();
    assert!((now + 3500..=now + 3700).contains(&expires), "{expires} vs {now}");

    // An authenticated identity needs one of its logins.
    assert_err(
        credentials(&c, &id, &[], None).await,
        &format!("NotAuthorizedException: Access to Identity '{id}' is forbidden."),
    );
    assert_err(open_id_token(&c, &id, &[]).await, "NotAuthorizedException");
    // Another user's login does not open this identity.
    let (_, other) = new_user(env, &up).await;
    assert_err(
        open_id_token(&c, &id, &[(up.provider.as_str(), other.as_str())]).await,
        "NotAuthorizedException: Logins don't match.",
    );

    // The basic flow is refused where the pool says so.
    c.update_identity_pool()
        .identity_pool_id(&pool)
        .identity_pool_name("no-classic")
        .allow_unauthenticated_identities(false)
        .allow_classic_flow(false)
        .developer_provider_name(DEV)
        .cognito_identity_providers(provider(&up, false))
        .send()
        .await
        .unwrap();
    assert_err(
        open_id_token(&c, &id, &logins).await,
        "InvalidParameterException: Basic (classic) flow is not enabled, please use enhanced flow.",
    );
    credentials(&c, &id, &logins, None).await.unwrap();

    assert_err(
        get_id(&c, "us-east-1:00000000-0000-4000-8000-000000000000", &logins).await,
        "ResourceNotFoundException",
    );
    assert_err(
        open_id_token(&c, "us-east-1:00000000-0000-4000-8000-000000000000", &[]).await,
        "ResourceNotFoundException: Identity 'us-east-1:00000000-0000-4000-8000-000000000000' not found.",
    );
});

// The basic flow is off unless the pool turns it on, and a token GetOpenIdToken handed out is no
// login: only GetOpenIdTokenForDeveloperIdentity's tokens go under cognito-identity.amazonaws.com.
on_both_stores!(basic_flow_tokens_are_no_developer_logins, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = c
        .create_identity_pool()
        .identity_pool_name(unique("enhanced-only"))
        .allow_unauthenticated_identities(false)
        .cognito_identity_providers(provider(&up, false))
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    set_roles(&c, &pool, vec![]).await;
    let described = c.describe_identity_pool().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(described.allow_classic_flow(), None, "what was stored: nothing");
    let (_, token) = new_user(env, &up).await;
    let logins = [(up.provider.as_str(), token.as_str())];
    let id = get_id(&c, &pool, &logins).await.unwrap();
    // AllowClassicFlow absent: no GetOpenIdToken.
    let basic_off =
        "InvalidParameterException: Basic (classic) flow is not enabled, please use enhanced flow.";
    assert_err(open_id_token(&c, &id, &logins).await, basic_off);
    // The enhanced flow with the user pool's login works.
    credentials(&c, &id, &logins, None).await.unwrap();

    // With the basic flow on, GetOpenIdToken's token still opens nothing by itself, under the
    // AWS key or this issuer's: the pool has no developer provider.
    let update = |classic: bool, developer: Option<&'static str>| {
        c.update_identity_pool()
            .identity_pool_id(&pool)
            .identity_pool_name("enhanced-only")
            .allow_unauthenticated_identities(false)
            .allow_classic_flow(classic)
            .set_developer_provider_name(developer.map(str::to_string))
            .cognito_identity_providers(provider(&up, false))
            .send()
    };
    update(true, None).await.unwrap();
    let (_, basic) = open_id_token(&c, &id, &logins).await.unwrap();
    assert_eq!(payload(&basic)["amr"], json!(["authenticated", up.provider]));
    let not_supported =
        "NotAuthorizedException: Token is not from a supported provider of this identity pool.";
    let issuer_key = format!("{}/cognito-identity", env.url.trim_start_matches("http://"));
    for key in ["cognito-identity.amazonaws.com", issuer_key.as_str()] {
        assert_err(credentials(&c, &id, &[(key, basic.as_str())], None).await, not_supported);
    }
    update(false, None).await.unwrap();
    assert_err(open_id_token(&c, &id, &logins).await, basic_off);
    assert_err(
        credentials(&c, &id, &[("cognito-identity.amazonaws.com", basic.as_str())], None).await,
        not_supported,
    );

    // A pool with a developer provider: its developer tokens count, a basic-flow token does not.
    update(true, Some(DEV)).await.unwrap();
    let (_, basic) = open_id_token(&c, &id, &logins).await.unwrap();
    assert_err(
        credentials(&c, &id, &[("cognito-identity.amazonaws.com", basic.as_str())], None).await,
        not_supported,
    );
    let (dev_id, dev_token) = developer_token(&c, &pool, None, &[(DEV, "dora")]).await.unwrap();
    assert_eq!(payload(&dev_token)["developer_provider"], DEV);
    let (same, _) = credentials(&c, &dev_id, &[("cognito-identity.amazonaws.com", dev_token.as_str())], None)
        .await
        .unwrap();
    assert_eq!(same, dev_id);
    // Still so with the basic flow off: the developer flow is not the basic flow.
    update(false, Some(DEV)).await.unwrap();
    credentials(&c, &dev_id, &[(issuer_key.as_str(), dev_token.as_str())], None).await.unwrap();
});

on_both_stores!(invalid_logins_fail_the_whole_call, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = c
        .create_identity_pool()
        .identity_pool_name("strict")
        .allow_unauthenticated_identities(true)
        .allow_classic_flow(true)
        .developer_provider_name(DEV)
        .cognito_identity_providers(provider(&up, true))
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let (email, token) = new_user(env, &up).await;
    let key = up.provider.as_str();
    let id = get_id(&c, &pool, &[(key, &token)]).await.unwrap();

    // A token of another app client of the same user pool.
    let (other_client, _) = env.app_client(&up.id, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    let other_client_token =
        env.admin_sign_in(&up.id, &other_client, &email).await.id_token().unwrap().to_string();
    assert_err(
        get_id(&c, &pool, &[(key, &other_client_token)]).await,
        "NotAuthorizedException: Token is not from a supported provider of this identity pool.",
    );
    // A token of another user pool, under this pool's key or its own.
    let elsewhere = user_pool(env).await;
    let (_, foreign) = new_user(env, &elsewhere).await;
    assert_err(
        get_id(&c, &pool, &[(key, &foreign)]).await,
        "NotAuthorizedException: Invalid login token. Issuer doesn't match providerName",
    );
    assert_err(
        get_id(&c, &pool, &[(elsewhere.provider.as_str(), &foreign)]).await,
        "NotAuthorizedException: Token is not from a supported provider of this identity pool.",
    );
    // An access token, a forged one, garbage.
    let access = env.admin_sign_in(&up.id, &up.client, &email).await.access_token().unwrap().to_string();
    assert_err(
        get_id(&c, &pool, &[(key, &access)]).await,
        "NotAuthorizedException: Invalid login token. Missing a required claim: aud",
    );
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_payload = {
        use base64::Engine;
        let mut claims = payload(&token);
        claims["sub"] = json!("someone-else");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
    };
    parts[1] = &forged_payload;
    assert_err(
        get_id(&c, &pool, &[(key, &parts.join("."))]).await,
        "NotAuthorizedException: Invalid login token. Couldn't verify signed token.",
    );
    assert_err(get_id(&c, &pool, &[(key, "garbage")]).await, "NotAuthorizedException: Invalid login token.");
    // Providers the pool does not name, and the developer provider, are refused.
    assert_err(
        get_id(&c, &pool, &[("graph.facebook.com", "EAAB-token")]).await,
        "NotAuthorizedException: Token is not from a supported provider of this identity pool.",
    );
    assert_err(get_id(&c, &pool, &[(DEV, "alice")]).await, "NotAuthorizedException");
    assert_err(open_id_token(&c, &id, &[(key, &token), (DEV, "alice")]).await, "NotAuthorizedException");

    // One bad login fails the call, and nothing is linked or created.
    let before = identity_ids(&c, &pool, 60, false).await;
    let (_, fresh) = new_user(env, &up).await;
    assert_err(
        get_id(&c, &pool, &[(key, &fresh), ("graph.facebook.com", "x")]).await,
        "NotAuthorizedException",
    );
    assert_eq!(identity_ids(&c, &pool, 60, false).await, before);

    // ServerSideTokenCheck: a global sign-out, a disabled or deleted user ends the token.
    env.client.admin_user_global_sign_out().user_pool_id(&up.id).username(&email).send().await.unwrap();
    assert_err(
        get_id(&c, &pool, &[(key, &token)]).await,
        "NotAuthorizedException: Invalid login token. Token has been revoked.",
    );
    let signed_in_again = id_token(env, &up, &email).await;
    assert_eq!(get_id(&c, &pool, &[(key, &signed_in_again)]).await.unwrap(), id);
    env.client.admin_disable_user().user_pool_id(&up.id).username(&email).send().await.unwrap();
    assert_err(
        get_id(&c, &pool, &[(key, &signed_in_again)]).await,
        "NotAuthorizedException: Invalid login token. User is disabled.",
    );
    env.client.admin_delete_user().user_pool_id(&up.id).username(&email).send().await.unwrap();
    assert_err(
        get_id(&c, &pool, &[(key, &signed_in_again)]).await,
        "NotAuthorizedException: Invalid login token. User does not exist.",
    );
    // Without the check, a signed-out user's token still works until it expires.
    let lenient = identity_pool(&c, Some(&up), false).await;
    let (other_email, other_token) = new_user(env, &up).await;
    env.client.admin_user_global_sign_out().user_pool_id(&up.id).username(&other_email).send().await.unwrap();
    get_id(&c, &lenient, &[(key, &other_token)]).await.unwrap();
    // Expired tokens never do.
    env.clock.advance_secs(3601);
    let result = get_id(&c, &lenient, &[(key, &other_token)]).await;
    assert_err(result, "NotAuthorizedException: Invalid login token. Token expired:");
});

on_both_stores!(unauthenticated_identities, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = identity_pool(&c, Some(&up), true).await;
    let guest = get_id(&c, &pool, &[]).await.unwrap();
    let other = get_id(&c, &pool, &[]).await.unwrap();
    assert_ne!(guest, other, "every unauthenticated GetId makes a new identity");
    assert!(describe_logins(&c, &guest).await.unwrap().is_empty());

    let (same, token) = open_id_token(&c, &guest, &[]).await.unwrap();
    assert_eq!(same, guest);
    assert_eq!(payload(&token)["amr"], json!(["unauthenticated"]));
    assert_err(credentials(&c, &guest, &[], None).await, "InvalidIdentityPoolConfigurationException");
    set_roles(&c, &pool, vec![]).await;
    let (same, creds) = credentials(&c, &guest, &[], None).await.unwrap();
    assert_eq!(same, guest);
    assert!(creds.access_key_id().unwrap().starts_with("ASIALOCAL"));
    // Only the unauthenticated role is needed for guests.
    c.set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("authenticated", AUTH_ROLE)
        .send()
        .await
        .unwrap();
    assert_err(credentials(&c, &guest, &[], None).await, "InvalidIdentityPoolConfigurationException");

    // A guest that signs in keeps its id (linking).
    let (_, token) = new_user(env, &up).await;
    let logins = [(up.provider.as_str(), token.as_str())];
    assert_eq!(open_id_token(&c, &guest, &logins).await.unwrap().0, guest);
    assert_eq!(describe_logins(&c, &guest).await.unwrap(), vec![up.provider.clone()]);
    assert_eq!(get_id(&c, &pool, &logins).await.unwrap(), guest);
    // Now authenticated, the id alone no longer gets a token.
    assert_err(open_id_token(&c, &guest, &[]).await, "NotAuthorizedException");

    // Pools that refuse guests.
    c.update_identity_pool()
        .identity_pool_id(&pool)
        .identity_pool_name("members-only")
        .allow_unauthenticated_identities(false)
        .allow_classic_flow(true)
        .developer_provider_name(DEV)
        .cognito_identity_providers(provider(&up, false))
        .send()
        .await
        .unwrap();
    let refused = "NotAuthorizedException: Unauthenticated access is not supported for this identity pool.";
    assert_err(get_id(&c, &pool, &[]).await, refused);
    assert_err(open_id_token(&c, &other, &[]).await, refused);
    assert_err(credentials(&c, &other, &[], None).await, refused);
    // Logins still work.
    assert_eq!(get_id(&c, &pool, &logins).await.unwrap(), guest);
});

on_both_stores!(linking_and_implicit_merges, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = identity_pool(&c, Some(&up), true).await;
    set_roles(&c, &pool, vec![]).await;
    let key = up.provider.as_str();
    let (email, token) = new_user(env, &up).await;
    let owner = get_id(&c, &pool, &[(key, &token)]).await.unwrap();

    // A guest presenting a login another identity holds: that identity survives, the guest is
    // disabled, and the caller learns the surviving id.
    let guest = get_id(&c, &pool, &[]).await.unwrap();
    let (survivor, _) = credentials(&c, &guest, &[(key, &token)], None).await.unwrap();
    assert_eq!(survivor, owner);
    assert!(identity_ids(&c, &pool, 60, false).await.contains(&guest));
    assert!(!identity_ids(&c, &pool, 60, true).await.contains(&guest), "disabled identities can be hidden");
    assert!(identity_ids(&c, &pool, 60, true).await.contains(&owner));
    assert_err(credentials(&c, &guest, &[], None).await, "NotAuthorizedException");
    assert_err(open_id_token(&c, &guest, &[]).await, "NotAuthorizedException");
    // With a valid login the merged id resolves to the survivor.
    let again = id_token(env, &up, &email).await;
    assert_eq!(open_id_token(&c, &guest, &[(key, &again)]).await.unwrap().0, owner);
    assert_eq!(get_id(&c, &pool, &[(key, &again)]).await.unwrap(), owner);

    // A developer user and a user-pool user held by two identities: the signed developer call
    // that names both merges them into the identity it names.
    let (dev_id, _) = developer_token(&c, &pool, None, &[(DEV, "dana")]).await.unwrap();
    let (merged, _) =
        developer_token(&c, &pool, Some(&dev_id), &[(DEV, "dana"), (key, &again)]).await.unwrap();
    assert_eq!(merged, dev_id);
    let mut logins = describe_logins(&c, &dev_id).await.unwrap();
    logins.sort();
    let mut expected = vec![DEV.to_string(), up.provider.clone()];
    expected.sort();
    assert_eq!(logins, expected);
    assert_eq!(get_id(&c, &pool, &[(key, &again)]).await.unwrap(), dev_id);
    assert!(!identity_ids(&c, &pool, 60, true).await.contains(&owner));

    // One login per provider: a second user of the same user pool cannot join.
    let (_, second) = new_user(env, &up).await;
    assert_err(
        developer_token(&c, &pool, Some(&dev_id), &[(DEV, "dana"), (key, &second)]).await,
        "ResourceConflictException",
    );
    // Nor can merging bring two users of one provider together.
    let second_id = get_id(&c, &pool, &[(key, &second)]).await.unwrap();
    developer_token(&c, &pool, Some(&second_id), &[(DEV, "erin")]).await.unwrap();
    assert_err(
        c.merge_developer_identities()
            .identity_pool_id(&pool)
            .developer_provider_name(DEV)
            .source_user_identifier("erin")
            .destination_user_identifier("dana")
            .send()
            .await
            .map_err(err_name),
        "ResourceConflictException",
    );

    // UnlinkIdentity: the user removes its user-pool login; it links anew next time.
    let second_again = id_token(env, &up, &email).await;
    c.unlink_identity()
        .identity_id(&dev_id)
        .logins(key, &second_again)
        .logins_to_remove(key)
        .send()
        .await
        .unwrap();
    assert_eq!(describe_logins(&c, &dev_id).await.unwrap(), vec![DEV.to_string()]);
    let fresh = get_id(&c, &pool, &[(key, &second_again)]).await.unwrap();
    assert_ne!(fresh, dev_id);
    // Only with a login of the identity itself.
    let (_, stranger) = new_user(env, &up).await;
    assert_err(
        c.unlink_identity()
            .identity_id(&fresh)
            .logins(key, &stranger)
            .logins_to_remove(key)
            .send()
            .await
            .map_err(err_name),
        "NotAuthorizedException",
    );
});

on_both_stores!(developer_identities, |env| {
    let c = admin(env).await;
    let pool = identity_pool(&c, None, false).await;
    set_roles(&c, &pool, vec![]).await;

    let (alice, token) = developer_token(&c, &pool, None, &[(DEV, "alice")]).await.unwrap();
    let claims = payload(&token);
    assert_eq!((claims["aud"].as_str(), claims["sub"].as_str()), (Some(pool.as_str()), Some(alice.as_str())));
    assert_eq!(claims["amr"], json!(["authenticated", DEV]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900,
        "15 minutes by default"
    );
    assert_eq!(developer_token(&c, &pool, None, &[(DEV, "alice")]).await.unwrap().0, alice);
    let day = c
        .get_open_id_token_for_developer_identity()
        .identity_pool_id(&pool)
        .logins(DEV, "alice")
        .token_duration(86_400)
        .send()
        .await
        .unwrap();
    let claims = payload(day.token().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 86_400);
    assert_err(
        c.get_open_id_token_for_developer_identity()
            .identity_pool_id(&pool)
            .logins(DEV, "alice")
            .token_duration(86_401)
            .send()
            .await
            .map_err(err_name),
        "ValidationException",
    );
    assert_err(
        developer_token(&c, &pool, None, &[("other.developer", "alice")]).await,
        "NotAuthorizedException",
    );

    // The enhanced flow's second step: the token stands for the identity.
    let (same, creds) =
        credentials(&c, &alice, &[("cognito-identity.amazonaws.com", &token)], None).await.unwrap();
    assert_eq!(same, alice);
    assert!(creds.access_key_id().unwrap().starts_with("ASIALOCAL"));
    let (bob, bob_token) = developer_token(&c, &pool, None, &[(DEV, "bob")]).await.unwrap();
    assert_ne!(bob, alice);
    assert_err(
        credentials(&c, &alice, &[("cognito-identity.amazonaws.com", &bob_token)], None).await,
        "NotAuthorizedException",
    );
    // The developer's users never log in through the public operations.
    assert_err(get_id(&c, &pool, &[(DEV, "alice")]).await, "NotAuthorizedException");
    assert_err(credentials(&c, &alice, &[(DEV, "alice")], None).await, "NotAuthorizedException");

    // A user registered with one identity cannot be linked to another.
    assert_err(
        developer_token(&c, &pool, Some(&alice), &[(DEV, "bob")]).await,
        "DeveloperUserAlreadyRegisteredException",
    );
    // Other users join the named identity.
    assert_eq!(developer_token(&c, &pool, Some(&alice), &[(DEV, "carol")]).await.unwrap().0, alice);

    let lookup = |id: Option<&str>, user: Option<&str>, max: Option<i32>, next: Option<String>| {
        c.lookup_developer_identity()
            .identity_pool_id(&pool)
            .set_identity_id(id.map(str::to_string))
            .set_developer_user_identifier(user.map(str::to_string))
            .set_max_results(max)
            .set_next_token(next)
            .send()
    };
    let by_user = lookup(None, Some("carol"), None, None).await.unwrap();
    assert_eq!(by_user.identity_id(), Some(alice.as_str()));
    assert_eq!(by_user.developer_user_identifier_list(), ["carol"]);
    let first = lookup(Some(&alice), None, Some(1), None).await.unwrap();
    assert_eq!(first.developer_user_identifier_list(), ["alice"]);
    let next = first.next_token().map(str::to_string);
    assert!(next.is_some());
    let second = lookup(Some(&alice), None, Some(1), next).await.unwrap();
    assert_eq!(second.developer_user_identifier_list(), ["carol"]);
    assert!(second.next_token().is_none());
    assert_err(
        lookup(Some(&bob), Some("alice"), None, None).await.map_err(err_name),
        "ResourceConflictException",
    );
    assert_eq!(
        lookup(Some(&alice), Some("alice"), None, None).await.unwrap().identity_id(),
        Some(alice.as_str())
    );
    assert_err(lookup(None, Some("nobody"), None, None).await.map_err(err_name), "ResourceNotFoundException");
    assert_err(lookup(None, None, None, None).await.map_err(err_name), "InvalidParameterException");

    // Merging bob into alice: bob's user now resolves to alice, bob's identity is disabled.
    let merged = c
        .merge_developer_identities()
        .identity_pool_id(&pool)
        .developer_provider_name(DEV)
        .source_user_identifier("bob")
        .destination_user_identifier("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(merged.identity_id(), Some(alice.as_str()));
    assert_eq!(developer_token(&c, &pool, None, &[(DEV, "bob")]).await.unwrap().0, alice);
    assert_eq!(lookup(None, Some("bob"), None, None).await.unwrap().identity_id(), Some(alice.as_str()));
    assert!(!identity_ids(&c, &pool, 60, true).await.contains(&bob));
    assert!(identity_ids(&c, &pool, 60, false).await.contains(&bob));
    assert_err(
        c.merge_developer_identities()
            .identity_pool_id(&pool)
            .developer_provider_name("other.developer")
            .source_user_identifier("bob")
            .destination_user_identifier("alice")
            .send()
            .await
            .map_err(err_name),
        "NotAuthorizedException",
    );

    // Unlinking carol: she is a new identity the next time she is seen.
    c.unlink_developer_identity()
        .identity_pool_id(&pool)
        .identity_id(&alice)
        .developer_provider_name(DEV)
        .developer_user_identifier("carol")
        .send()
        .await
        .unwrap();
    assert_err(lookup(None, Some("carol"), None, None).await.map_err(err_name), "ResourceNotFoundException");
    let (carol, _) = developer_token(&c, &pool, None, &[(DEV, "carol")]).await.unwrap();
    assert_ne!(carol, alice);
    assert_err(
        c.unlink_developer_identity()
            .identity_pool_id(&pool)
            .identity_id(&alice)
            .developer_provider_name(DEV)
            .developer_user_identifier("carol")
            .send()
            .await
            .map_err(err_name),
        "ResourceConflictException",
    );
    // Removing the last login leaves the identity inaccessible.
    c.unlink_developer_identity()
        .identity_pool_id(&pool)
        .identity_id(&carol)
        .developer_provider_name(DEV)
        .developer_user_identifier("carol")
        .send()
        .await
        .unwrap();
    assert_err(open_id_token(&c, &carol, &[]).await, "NotAuthorizedException");
    assert!(!identity_ids(&c, &pool, 60, true).await.contains(&carol));
});

/// A group with a role, the user in it, and a fresh ID token carrying the group claims.
async fn user_in_groups(env: &TestEnv, up: &UserPool, groups: &[(&str, i32, &str)]) -> String {
    let email = format!("{}@corp.example", unique("g"));
    env.confirmed_user(&up.client, &email).await;
    for (name, precedence, role) in groups {
        let _ = env
            .client
            .create_group()
            .user_pool_id(&up.id)
            .group_name(*name)
            .precedence(*precedence)
            .role_arn(*role)
            .send()
            .await;
        env.client
            .admin_add_user_to_group()
            .user_pool_id(&up.id)
            .username(&email)
            .group_name(*name)
            .send()
            .await
            .unwrap();
    }
    id_token(env, up, &email).await
}

on_both_stores!(role_mappings_decide_who_gets_credentials, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = identity_pool(&c, Some(&up), false).await;
    let key = up.provider.as_str();
    let mapping_key = format!("{}:{}", up.provider, up.client);

    // Token mapping, ambiguous → deny.
    set_roles(&c, &pool, vec![(mapping_key.clone(), token_mapping(AmbiguousRoleResolutionType::Deny))]).await;
    let (_, plain) = new_user(env, &up).await;
    let plain_id = get_id(&c, &pool, &[(key, &plain)]).await.unwrap();
    assert_err(
        credentials(&c, &plain_id, &[(key, &plain)], None).await,
        &format!("NotAuthorizedException: The ambiguous role mapping rules for: {mapping_key} denied this request."),
    );
    let admin_token = user_in_groups(env, &up, &[("admins", 1, ADMIN_ROLE), ("sales", 2, SALES_ROLE)]).await;
    assert_eq!(payload(&admin_token)["cognito:preferred_role"], ADMIN_ROLE);
    let admin_id = get_id(&c, &pool, &[(key, &admin_token)]).await.unwrap();
    credentials(&c, &admin_id, &[(key, &admin_token)], None).await.unwrap();
    credentials(&c, &admin_id, &[(key, &admin_token)], Some(SALES_ROLE)).await.unwrap();
    assert_err(
        credentials(&c, &admin_id, &[(key, &admin_token)], Some(AUTH_ROLE)).await,
        "NotAuthorizedException",
    );

    // Ambiguous → the authenticated role, which must exist.
    set_roles(
        &c,
        &pool,
        vec![(mapping_key.clone(), token_mapping(AmbiguousRoleResolutionType::AuthenticatedRole))],
    )
    .await;
    credentials(&c, &plain_id, &[(key, &plain)], None).await.unwrap();
    c.set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("unauthenticated", UNAUTH_ROLE)
        .role_mappings(&mapping_key, token_mapping(AmbiguousRoleResolutionType::AuthenticatedRole))
        .send()
        .await
        .unwrap();
    assert_err(
        credentials(&c, &plain_id, &[(key, &plain)], None).await,
        "InvalidIdentityPoolConfigurationException",
    );
    // The group's role still decides for a user that has one.
    credentials(&c, &admin_id, &[(key, &admin_token)], None).await.unwrap();

    // Rules mapping: the first matching rule, else deny.
    let rules = rules_mapping(
        AmbiguousRoleResolutionType::Deny,
        vec![
            ("cognito:groups", MappingRuleMatchType::Contains, "admin", ADMIN_ROLE),
            ("email", MappingRuleMatchType::NotEqual, "nobody@corp.example", SALES_ROLE),
        ],
    );
    set_roles(&c, &pool, vec![(mapping_key.clone(), rules)]).await;
    credentials(&c, &admin_id, &[(key, &admin_token)], None).await.unwrap();
    // plain's email is not nobody@…: NotEqual matches.
    credentials(&c, &plain_id, &[(key, &plain)], None).await.unwrap();
    let strict = rules_mapping(
        AmbiguousRoleResolutionType::Deny,
        vec![("custom:dept", MappingRuleMatchType::NotEqual, "Sales", SALES_ROLE)],
    );
    set_roles(&c, &pool, vec![(mapping_key.clone(), strict)]).await;
    // No custom:dept claim: NotEqual is not evaluated, nothing matches.
    assert_err(
        credentials(&c, &plain_id, &[(key, &plain)], None).await,
        "NotAuthorizedException: The ambiguous role mapping rules",
    );
});

on_both_stores!(describe_list_and_delete_identities, |env| {
    let c = admin(env).await;
    let up = user_pool(env).await;
    let pool = identity_pool(&c, Some(&up), true).await;
    let mut guests = Vec::new();
    for _ in 0..3 {
        guests.push(get_id(&c, &pool, &[]).await.unwrap());
    }
    let (_, token) = new_user(env, &up).await;
    let key = up.provider.as_str();
    let member = get_id(&c, &pool, &[(key, &token)]).await.unwrap();
    let mut all = identity_ids(&c, &pool, 2, false).await;
    all.sort();
    let mut expected = guests.clone();
    expected.push(member.clone());
    expected.sort();
    assert_eq!(all, expected);
    let out = c.list_identities().identity_pool_id(&pool).max_results(60).send().await.unwrap();
    assert_eq!(out.identity_pool_id(), Some(pool.as_str()));
    let described = out.identities().iter().find(|i| i.identity_id() == Some(member.as_str())).unwrap();
    assert_eq!(described.logins(), std::slice::from_ref(&up.provider));
    let now = env.clock.now_secs();
    let created = described.creation_date().unwrap().secs();
    assert!((now - 60..=now + 1).contains(&created), "{created} vs {now}");
    assert!(described.last_modified_date().unwrap().secs() >= created);
    assert_err(
        c.list_identities()
            .identity_pool_id("us-east-1:00000000-0000-4000-8000-000000000000")
            .max_results(5)
            .send()
            .await
            .map_err(err_name),
        "ResourceNotFoundException",
    );

    let single = c.describe_identity().identity_id(&guests[0]).send().await.unwrap();
    assert_eq!(single.identity_id(), Some(guests[0].as_str()));
    assert!(single.logins().is_empty());

    // Deleting identities (a missing one is not an error) frees their logins.
    let deleted = c
        .delete_identities()
        .identity_ids_to_delete(&guests[0])
        .identity_ids_to_delete(&member)
        .identity_ids_to_delete("us-east-1:00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap();
    assert!(deleted.unprocessed_identity_ids().is_empty());
    assert_err(
        describe_logins(&c, &guests[0]).await,
        &format!("ResourceNotFoundException: Identity '{}' not found.", guests[0]),
    );
    assert_eq!(identity_ids(&c, &pool, 60, false).await.len(), 2);
    let reborn = get_id(&c, &pool, &[(key, &token)]).await.unwrap();
    assert_ne!(reborn, member);
    assert_err(c.delete_identities().send().await.map_err(err_name), "ValidationException");
});
