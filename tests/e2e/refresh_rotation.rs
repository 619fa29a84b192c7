//! GetTokensFromRefreshToken, and the app client's refresh-token rotation (what Amplify v6 uses
//! to keep a session): new tokens, the grace period, reuse detection, the family's lifetime.

use crate::common::*;
use crate::on_both_stores;
use crate::tokens::payload;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{FeatureType, RefreshTokenRotationType};

async fn rotating_client(env: &TestEnv, pool: &str, grace: Option<i32>) -> String {
    let rotation = RefreshTokenRotationType::builder()
        .feature(FeatureType::Enabled)
        .set_retry_grace_period_seconds(grace)
        .build()
        .unwrap();
    let out = env
        .client
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("rotating")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .refresh_token_rotation(rotation)
        .send()
        .await
        .unwrap();
    out.user_pool_client().unwrap().client_id().unwrap().to_string()
}

async fn get_tokens(
    env: &TestEnv,
    client_id: &str,
    refresh_token: &str,
) -> Result<cip::types::AuthenticationResultType, String> {
    env.client
        .get_tokens_from_refresh_token()
        .client_id(client_id)
        .refresh_token(refresh_token)
        .send()
        .await
        .map_err(err_name)
        .map(|o| o.authentication_result().cloned().expect("tokens"))
}

async fn get_user(env: &TestEnv, access_token: &str) -> Result<String, String> {
    env.client
        .get_user()
        .access_token(access_token)
        .send()
        .await
        .map(|o| o.username().to_string())
        .map_err(err_name)
}

on_both_stores!(get_tokens_from_refresh_token_without_rotation, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.confirmed_user(&client_id, "ada@example.com").await;
    let t = env.password_sign_in(&client_id, "ada@example.com", PASSWORD).await.unwrap();
    let rt = t.refresh_token().unwrap();

    let fresh = get_tokens(env, &client_id, rt).await.unwrap();
    assert_eq!(fresh.refresh_token(), None, "no rotation: no new refresh token");
    assert_eq!(fresh.token_type(), Some("Bearer"));
    assert_eq!(fresh.expires_in(), 3600);
    assert!(get_user(env, fresh.access_token().unwrap()).await.is_ok());
    let claims = payload(fresh.access_token().unwrap());
    assert_eq!(claims["origin_jti"], payload(t.access_token().unwrap())["origin_jti"], "same session");
    assert_eq!(claims["auth_time"], payload(t.access_token().unwrap())["auth_time"]);
    // The same token again, and through InitiateAuth too.
    assert!(get_tokens(env, &client_id, rt).await.is_ok());
    assert!(env.refresh(&client_id, rt).await.is_ok());

    // Wrong inputs.
    let forged = format!("{}.forged", rt.split('.').next().unwrap());
    assert_eq!(
        get_tokens(env, &client_id, &forged).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    assert_eq!(
        get_tokens(env, &client_id, "nope").await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    let e = get_tokens(env, "1example23456789example0ab", rt).await.unwrap_err();
    assert!(e.starts_with("ResourceNotFoundException"), "{e}");
    let (other, _) = env.app_client(&pool, &["ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    assert_eq!(
        get_tokens(env, &other, rt).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    // A client without the refresh flow, and rotation off: refused as REFRESH_TOKEN_AUTH is.
    let (no_refresh, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let e = get_tokens(env, &no_refresh, rt).await.unwrap_err();
    assert!(e.starts_with("InvalidParameterException: REFRESH_TOKEN_AUTH flow not enabled"), "{e}");

    // Revoked: the refresh token and the access tokens of its session.
    env.client.revoke_token().client_id(&client_id).token(rt).send().await.unwrap();
    assert_eq!(
        get_tokens(env, &client_id, rt).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    assert_eq!(
        get_user(env, fresh.access_token().unwrap()).await.unwrap_err(),
        "NotAuthorizedException: Access Token has been revoked"
    );
    // Signed out everywhere.
    let t = env.password_sign_in(&client_id, "ada@example.com", PASSWORD).await.unwrap();
    env.client
        .admin_user_global_sign_out()
        .user_pool_id(&pool)
        .username("ada@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_tokens(env, &client_id, t.refresh_token().unwrap()).await.unwrap_err(),
        "NotAuthorizedException: Refresh Token has been revoked"
    );
});

on_both_stores!(get_tokens_from_refresh_token_checks_the_client_secret, |env| {
    let pool = env.email_pool().await;
    let (client_id, secret) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], true).await;
    let secret = secret.unwrap();
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("bo@example.com")
        .temporary_password(PASSWORD)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    env.client
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("bo@example.com")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let hash = tessera_core::user_pool::access::secret_hash(&secret, "bo@example.com", &client_id);
    let t = env
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(cip::types::AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "bo@example.com")
        .auth_parameters("PASSWORD", PASSWORD)
        .auth_parameters("SECRET_HASH", hash)
        .send()
        .await
        .unwrap();
    let rt = t.authentication_result().unwrap().refresh_token().unwrap();
    let call = |s: Option<&str>| {
        env.client
            .get_tokens_from_refresh_token()
            .client_id(&client_id)
            .refresh_token(rt)
            .set_client_secret(s.map(str::to_string))
            .send()
    };
    let e = call(None).await.map_err(err_name).unwrap_err();
    assert_eq!(
        e,
        format!(
            "NotAuthorizedException: Client {client_id} is configured for secret but secret was not received"
        )
    );
    let e = call(Some("wrongsecretwrongsecretwrongsecret0000000000")).await.map_err(err_name).unwrap_err();
    assert_eq!(e, format!("NotAuthorizedException: Unable to verify client secret for client {client_id}"));
    let out = call(Some(&secret)).await.unwrap();
    assert!(out.authentication_result().unwrap().id_token().is_some());
});

on_both_stores!(rotation_issues_a_new_refresh_token_and_reuse_revokes_the_family, |env| {
    let pool = env.email_pool().await;
    let client_id = rotating_client(env, &pool, None).await;
    let described = env
        .client
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    let rotation = described.user_pool_client().unwrap().refresh_token_rotation().unwrap();
    assert_eq!(rotation.feature(), &FeatureType::Enabled);
    env.confirmed_user(&client_id, "cy@example.com").await;
    let t = env.password_sign_in(&client_id, "cy@example.com", PASSWORD).await.unwrap();
    let rt0 = t.refresh_token().unwrap().to_string();

    // REFRESH_TOKEN_AUTH is not how a rotating client refreshes.
    let e = env.refresh(&client_id, &rt0).await.unwrap_err();
    assert!(
        e.starts_with("InvalidParameterException: REFRESH_TOKEN_AUTH flow not enabled for this client"),
        "{e}"
    );

    let t1 = get_tokens(env, &client_id, &rt0).await.unwrap();
    let rt1 = t1.refresh_token().expect("rotation returns a new refresh token").to_string();
    assert_ne!(rt1, rt0);
    assert!(get_user(env, t1.access_token().unwrap()).await.is_ok());
    assert_eq!(
        payload(t1.access_token().unwrap())["origin_jti"],
        payload(t.access_token().unwrap())["origin_jti"]
    );
    let t2 = get_tokens(env, &client_id, &rt1).await.unwrap();
    let rt2 = t2.refresh_token().unwrap().to_string();

    // No grace period: rt0 is spent. Presenting it is reuse, and the whole family ends.
    let e = get_tokens(env, &client_id, &rt0).await.unwrap_err();
    assert!(e.starts_with("RefreshTokenReuseException"), "{e}");
    assert_eq!(
        get_tokens(env, &client_id, &rt2).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    assert_eq!(
        get_user(env, t2.access_token().unwrap()).await.unwrap_err(),
        "NotAuthorizedException: Access Token has been revoked"
    );
    // A forged secret under the family's id (the id is in every access token) is only invalid:
    // it must not let a token holder end someone's session.
    let t = env.password_sign_in(&client_id, "cy@example.com", PASSWORD).await.unwrap();
    let rt = t.refresh_token().unwrap();
    let forged = format!("{}.forged", rt.split('.').next().unwrap());
    assert_eq!(
        get_tokens(env, &client_id, &forged).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
    assert!(get_tokens(env, &client_id, rt).await.is_ok());

    // Turning rotation off: the family's current token refreshes as before, without a new one.
    let t = env.password_sign_in(&client_id, "cy@example.com", PASSWORD).await.unwrap();
    let rt = get_tokens(env, &client_id, t.refresh_token().unwrap())
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .to_string();
    env.client
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let plain = get_tokens(env, &client_id, &rt).await.unwrap();
    assert_eq!(plain.refresh_token(), None);
    assert!(env.refresh(&client_id, &rt).await.is_ok());
});

on_both_stores!(rotation_grace_period_lets_retries_and_races_through, |env| {
    let pool = env.email_pool().await;
    let client_id = rotating_client(env, &pool, Some(10)).await;
    env.confirmed_user(&client_id, "di@example.com").await;
    let t = env.password_sign_in(&client_id, "di@example.com", PASSWORD).await.unwrap();
    let rt0 = t.refresh_token().unwrap().to_string();
    let rt1 = get_tokens(env, &client_id, &rt0).await.unwrap().refresh_token().unwrap().to_string();
    // A retry of a lost answer, within the grace period: served, with its own new token.
    let rt2 = get_tokens(env, &client_id, &rt0).await.unwrap().refresh_token().unwrap().to_string();
    assert_ne!(rt2, rt1);
    // Two tabs refreshing with the same token at once: both keep a working session.
    let racers = futures_util::future::join_all((0..4).map(|_| get_tokens(env, &client_id, &rt2))).await;
    let mut next = Vec::new();
    for r in racers {
        let r = r.unwrap_or_else(|e| panic!("a concurrent refresh in the grace period failed: {e}"));
        next.push(r.refresh_token().unwrap().to_string());
    }
    next.sort();
    next.dedup();
    assert_eq!(next.len(), 4, "each racer got its own token");
    // The token the first retry replaced (rt1) still works: its holder got its answer.
    let rt1b = get_tokens(env, &client_id, &rt1).await.unwrap().refresh_token().unwrap().to_string();

    // After the grace period rt0 is spent: reuse ends the family, every branch included.
    env.clock.advance_secs(11);
    let e = get_tokens(env, &client_id, &rt0).await.unwrap_err();
    assert!(e.starts_with("RefreshTokenReuseException"), "{e}");
    for rt in next.iter().chain([&rt1b]) {
        assert_eq!(
            get_tokens(env, &client_id, rt).await.unwrap_err(),
            "NotAuthorizedException: Invalid Refresh Token"
        );
    }
});

on_both_stores!(rotation_keeps_the_sessions_lifetime, |env| {
    let pool = env.email_pool().await;
    let out = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("short")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .refresh_token_validity(60)
        .token_validity_units(
            cip::types::TokenValidityUnitsType::builder()
                .refresh_token(cip::types::TimeUnitsType::Minutes)
                .build(),
        )
        .refresh_token_rotation(
            RefreshTokenRotationType::builder().feature(FeatureType::Enabled).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let client_id = out.user_pool_client().unwrap().client_id().unwrap().to_string();
    env.confirmed_user(&client_id, "ed@example.com").await;
    let t = env.password_sign_in(&client_id, "ed@example.com", PASSWORD).await.unwrap();
    env.clock.advance_secs(50 * 60);
    let rt1 = get_tokens(env, &client_id, t.refresh_token().unwrap())
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .to_string();
    // A rotated token does not extend the session: it ends an hour after the sign-in.
    env.clock.advance_secs(11 * 60);
    assert_eq!(
        get_tokens(env, &client_id, &rt1).await.unwrap_err(),
        "NotAuthorizedException: Invalid Refresh Token"
    );
});

on_both_stores!(rotation_settings_are_validated, |env| {
    let pool = env.email_pool().await;
    let e = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("bad")
        .refresh_token_rotation(
            RefreshTokenRotationType::builder()
                .feature(FeatureType::Enabled)
                .retry_grace_period_seconds(61)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException"), "{e}");
});
