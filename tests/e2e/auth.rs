//! InitiateAuth / AdminInitiateAuth, refresh, sign-out, revocation and the errors around them.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::AuthFlowType;

on_both_stores!(password_auth_errors, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "amy@example.com").await;
    let e = env.password_sign_in(&client_id, "amy@example.com", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    let e = env.password_sign_in(&client_id, "nobody@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");

    let prevent = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("prevent")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .prevent_user_existence_errors(cip::types::PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap();
    let prevent_id = prevent.user_pool_client().unwrap().client_id().unwrap().to_string();
    let e = env.password_sign_in(&prevent_id, "nobody@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");

    // Default flows (refresh, SRP, custom) do not include USER_PASSWORD_AUTH.
    let (default_client, _) = env.app_client(&pool, &[], false).await;
    let e = env.password_sign_in(&default_client, "amy@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client");
    let e = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminNoSrpAuth)
        .auth_parameters("USERNAME", "amy@example.com")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Initiate Auth method not supported.");
    // The default flows include SRP; a client listing only USER_PASSWORD_AUTH does not.
    let srp = |client: String| {
        c.initiate_auth()
            .client_id(client)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", "amy@example.com")
            .auth_parameters("SRP_A", "abcd")
            .send()
    };
    let out = srp(default_client.clone()).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&cip::types::ChallengeNameType::PasswordVerifier));
    let e = srp(prevent_id.clone()).await.map_err(err_name).unwrap_err();
    assert_eq!(e, "InvalidParameterException: USER_SRP_AUTH flow not enabled for this client");
    let e = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "amy@example.com")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Missing required parameter PASSWORD");
});

on_both_stores!(admin_auth_refresh_and_sign_out, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.confirmed_user(&client_id, "ann@example.com").await;
    let e = env.password_sign_in(&client_id, "ann@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client");

    for flow in [AuthFlowType::AdminUserPasswordAuth, AuthFlowType::AdminNoSrpAuth] {
        let out = c
            .admin_initiate_auth()
            .user_pool_id(&pool)
            .client_id(&client_id)
            .auth_flow(flow)
            .auth_parameters("USERNAME", "ann@example.com")
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await
            .unwrap();
        let r = out.authentication_result().unwrap();
        assert_eq!(r.token_type(), Some("Bearer"));
        assert_eq!(r.expires_in(), 3600);
        assert!(r.refresh_token().is_some());
    }
    let first = env.admin_sign_in(&pool, &client_id, "ann@example.com").await;
    let refresh_token = first.refresh_token().unwrap().to_string();

    for flow in [AuthFlowType::RefreshTokenAuth, AuthFlowType::RefreshToken] {
        let out = c
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(flow)
            .auth_parameters("REFRESH_TOKEN", &refresh_token)
            .send()
            .await
            .unwrap();
        let r = out.authentication_result().unwrap();
        assert!(r.refresh_token().is_none(), "refresh returns no new refresh token");
        c.get_user().access_token(r.access_token().unwrap()).send().await.unwrap();
    }
    let out = c
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh_token)
        .send()
        .await
        .unwrap();
    let refreshed_access = out.authentication_result().unwrap().access_token().unwrap().to_string();

    let e = env.refresh(&client_id, "garbage").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid Refresh Token");

    // GlobalSignOut revokes every token of the user against the service.
    c.global_sign_out().access_token(first.access_token().unwrap()).send().await.unwrap();
    for access in [first.access_token().unwrap(), refreshed_access.as_str()] {
        let e = c.get_user().access_token(access).send().await.map_err(err_name).unwrap_err();
        assert_eq!(e, "NotAuthorizedException: Access Token has been revoked");
    }
    let e = env.refresh(&client_id, &refresh_token).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Refresh Token has been revoked");

    // A new sign-in works again, right away.
    let again = env.admin_sign_in(&pool, &client_id, "ann@example.com").await;
    let again_access = again.access_token().unwrap().to_string();
    c.get_user().access_token(&again_access).send().await.unwrap();

    c.admin_user_global_sign_out().user_pool_id(&pool).username("ann@example.com").send().await.unwrap();
    let e = c.get_user().access_token(&again_access).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Access Token has been revoked");

    // Deleted users' tokens stop working.
    let last = env.admin_sign_in(&pool, &client_id, "ann@example.com").await;
    c.admin_delete_user().user_pool_id(&pool).username("ann@example.com").send().await.unwrap();
    let e =
        c.get_user().access_token(last.access_token().unwrap()).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    let e = env.refresh(&client_id, last.refresh_token().unwrap()).await.unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");

    let e = c.get_user().access_token("not.a.token").send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid Access Token");
});

on_both_stores!(revoke_token_and_validity, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let created = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("short")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .access_token_validity(5)
        .id_token_validity(10)
        .refresh_token_validity(60)
        .token_validity_units(
            cip::types::TokenValidityUnitsType::builder()
                .access_token(cip::types::TimeUnitsType::Minutes)
                .id_token(cip::types::TimeUnitsType::Minutes)
                .refresh_token(cip::types::TimeUnitsType::Minutes)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let client_id = created.user_pool_client().unwrap().client_id().unwrap().to_string();
    env.confirmed_user(&client_id, "val@example.com").await;
    let t = env.password_sign_in(&client_id, "val@example.com", PASSWORD).await.unwrap();
    assert_eq!(t.expires_in(), 300);
    let claims = crate::tokens::payload(t.id_token().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    let access = crate::tokens::payload(t.access_token().unwrap());
    assert_eq!(access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(), 300);

    // Past the access token's life, the service refuses it.
    env.clock.advance_secs(301);
    let e = c.get_user().access_token(t.access_token().unwrap()).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Access Token has expired");
    let r = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", t.refresh_token().unwrap())
        .send()
        .await
        .unwrap();
    let fresh = r.authentication_result().unwrap().access_token().unwrap().to_string();
    let fresh_claims = crate::tokens::payload(&fresh);
    assert_eq!(fresh_claims["auth_time"], access["auth_time"], "auth_time is the original sign-in");

    // RevokeToken kills the refresh token and the access tokens it issued.
    let e = c.revoke_token().client_id(&client_id).token(&fresh).send().await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("UnsupportedTokenTypeException"), "{e}");
    c.revoke_token().client_id(&client_id).token(t.refresh_token().unwrap()).send().await.unwrap();
    let e = c.get_user().access_token(&fresh).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Access Token has been revoked");
    let e = env.refresh(&client_id, t.refresh_token().unwrap()).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid Refresh Token");

    // Refresh tokens expire with their validity (60 minutes here).
    let t2 = env.password_sign_in(&client_id, "val@example.com", PASSWORD).await.unwrap();
    env.clock.advance_secs(3601);
    let e = env.refresh(&client_id, t2.refresh_token().unwrap()).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid Refresh Token");
});
