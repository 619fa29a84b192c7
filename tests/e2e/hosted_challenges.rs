//! The hosted sign-in's challenge pages, driven over HTTP as a browser: NEW_PASSWORD_REQUIRED
//! (the policy's refusal shown on the page), MFA setup with an authenticator app (the QR code's secret), TOTP
//! and SMS codes, and the wrong-code and session rules they share with the API.

use crate::common::*;
use crate::oauth_code::{
    action, authorize_query, field, fields_of, hidden, sign_in, web_client, Browser, Page, CALLBACK,
};
use crate::oauth_token::{form, pool_with_domain};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{SmsConfigurationType, SoftwareTokenMfaConfigType, UserPoolMfaType};
use tessera_core::ports::Clock;
use tessera_core::user_pool::mfa::totp::software_token_code;

const PHONE: &str = "+15555550142";

/// Posts a challenge page's form with the given fields (besides its hidden ones).
async fn answer(env: &TestEnv, browser: &mut Browser, page: &Page, fields: &[(&str, &str)]) -> Page {
    let mut all: Vec<(&str, String)> =
        ["_csrf", "session", "username", "challenge"].iter().map(|n| (*n, hidden(&page.body, n))).collect();
    if page.body.contains("name=\"secret\"") {
        all.push(("secret", hidden(&page.body, "secret")));
    }
    for (k, v) in fields {
        all.push((k, v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(env, &action(env, &page.body), &form(&pairs)).await
}

fn code_in(page: &Page) -> String {
    let location = page.location.clone().unwrap_or_else(|| panic!("not signed in: {}", page.body));
    assert!(location.starts_with(CALLBACK), "{location}");
    field(&fields_of(&location, false), "code").unwrap()
}

on_both_stores!(new_password_required_page, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("dave")
        .temporary_password("Temp-Pass-123")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let mut browser = Browser::default();
    let query = authorize_query(&client_id, &[]);
    let page = sign_in(env, &mut browser, &prefix, &query, "dave", "Temp-Pass-123").await;
    assert_eq!(page.status, 200, "{:?}", page.location);
    assert!(page.body.contains("Change password"), "{}", page.body);
    assert_eq!(hidden(&page.body, "challenge"), "NEW_PASSWORD_REQUIRED");
    // A password the policy refuses: the page again, the same session.
    let weak = answer(env, &mut browser, &page, &[("password", "short")]).await;
    assert_eq!(weak.status, 200);
    assert!(weak.body.contains("errorMessage-customizable"), "{}", weak.body);
    let done = answer(env, &mut browser, &weak, &[("password", PASSWORD)]).await;
    code_in(&done);
    // The new password is the user's now (through the API too).
    let user = env.client.admin_get_user().user_pool_id(&pool).username("dave").send().await.unwrap();
    assert_eq!(user.user_status(), Some(&cip::types::UserStatusType::Confirmed));
});

on_both_stores!(authenticator_setup_and_sign_in, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::On)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    let client_id = web_client(env, &pool).await;
    crate::oauth_code::user(env, &pool, "erin").await;
    let query = authorize_query(&client_id, &[]);
    let mut browser = Browser::default();
    let setup = sign_in(env, &mut browser, &prefix, &query, "erin", PASSWORD).await;
    assert_eq!(setup.status, 200, "{:?}", setup.location);
    assert!(setup.body.contains("<svg role=\"img\""), "a QR code: {}", setup.body);
    let secret = hidden(&setup.body, "secret");
    assert!(setup.body.contains(&secret), "the key shown for typing");
    // A wrong code: the page again, with the same key.
    let wrong = answer(env, &mut browser, &setup, &[("code", "000000"), ("deviceName", "phone")]).await;
    assert_eq!(wrong.status, 200);
    assert_eq!(hidden(&wrong.body, "secret"), secret);
    let now = env.clock.now_secs();
    let code = software_token_code(&secret, now).unwrap();
    let done = answer(env, &mut browser, &wrong, &[("code", &code), ("deviceName", "phone")]).await;
    code_in(&done);

    // Next sign-in (a new browser): the TOTP page, a wrong code first.
    env.clock.advance_secs(31);
    let mut other = Browser::default();
    let mfa = sign_in(env, &mut other, &prefix, &query, "erin", PASSWORD).await;
    assert_eq!(hidden(&mfa.body, "challenge"), "SOFTWARE_TOKEN_MFA");
    let wrong = answer(env, &mut other, &mfa, &[("code", "123456")]).await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("errorMessage-customizable"));
    let code = software_token_code(&secret, env.clock.now_secs()).unwrap();
    let done = answer(env, &mut other, &wrong, &[("code", &code)]).await;
    code_in(&done);
    // The API cannot finish a page's challenge session.
    env.clock.advance_secs(31);
    let mfa = sign_in(env, &mut Browser::default(), &prefix, &query, "erin", PASSWORD).await;
    let code = software_token_code(&secret, env.clock.now_secs()).unwrap();
    let e = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(cip::types::ChallengeNameType::SoftwareTokenMfa)
        .session(hidden(&mfa.body, "session"))
        .challenge_responses("USERNAME", "erin")
        .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: Invalid session"), "{e}");
});

on_both_stores!(sms_mfa_page, |env| {
    let pool = env
        .pool(|b| {
            b.mfa_configuration(UserPoolMfaType::Optional).sms_configuration(
                SmsConfigurationType::builder()
                    .sns_caller_arn("arn:aws:iam::123456789012:role/tessera-sms")
                    .external_id("tessera")
                    .build(),
            )
        })
        .await;
    let prefix = unique("s").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .sms_mfa_configuration(
            cip::types::SmsMfaConfigType::builder()
                .sms_configuration(
                    SmsConfigurationType::builder()
                        .sns_caller_arn("arn:aws:iam::123456789012:role/tessera-sms")
                        .external_id("tessera")
                        .build(),
                )
                .build(),
        )
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    let client_id = web_client(env, &pool).await;
    crate::oauth_code::user(env, &pool, "frank").await;
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("frank")
        .user_attributes(attr("phone_number", PHONE))
        .user_attributes(attr("phone_number_verified", "true"))
        .send()
        .await
        .unwrap();
    env.client
        .admin_set_user_mfa_preference()
        .user_pool_id(&pool)
        .username("frank")
        .sms_mfa_settings(cip::types::SmsMfaSettingsType::builder().enabled(true).preferred_mfa(true).build())
        .send()
        .await
        .unwrap();
    let query = authorize_query(&client_id, &[]);
    let mut browser = Browser::default();
    let mfa = sign_in(env, &mut browser, &prefix, &query, "frank", PASSWORD).await;
    assert_eq!(hidden(&mfa.body, "challenge"), "SMS_MFA", "{}", mfa.body);
    let code = env.last_code(PHONE);
    assert_eq!(code.len(), 6);
    let done = answer(env, &mut browser, &mfa, &[("code", &code)]).await;
    code_in(&done);
});
