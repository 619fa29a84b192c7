//! The hosted account pages over HTTP as a browser: sign up → confirm with the code from the
//! outbox → sign in → a code for the app; a new confirmation code; forgot password → reset with
//! the code → sign in; and SetUICustomization/GetUICustomization with the pages wearing it.

use crate::common::*;
use crate::oauth_code::{
    action, authorize_query, field, fields_of, hidden, sign_in, web_client, Browser, CALLBACK,
};
use crate::oauth_token::form;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;

/// An email pool (email is the username, verified by code) with a domain.
async fn email_pool_with_domain(env: &TestEnv) -> (String, String) {
    let pool = env.email_pool().await;
    let prefix = unique("a").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    (pool, prefix)
}

on_both_stores!(sign_up_confirm_and_sign_in, |env| {
    let (pool, prefix) = email_pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    let query = authorize_query(&client_id, &[]);
    let email = format!("{}@example.com", unique("new"));
    let mut browser = Browser::default();
    let page = browser.get(env, &format!("/_auth/{prefix}/signup?{query}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(">Email</label>"), "the username is the email: {}", page.body);
    // A weak password: Cognito's message on the page.
    let weak = form(&[("_csrf", &hidden(&page.body, "_csrf")), ("username", &email), ("password", "short")]);
    let refused = browser.post(env, &action(env, &page.body), &weak).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("errorMessage-customizable"), "{}", refused.body);
    let body =
        form(&[("_csrf", &hidden(&refused.body, "_csrf")), ("username", &email), ("password", PASSWORD)]);
    let confirm = browser.post(env, &action(env, &refused.body), &body).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Confirm your account"), "{}", confirm.body);
    // A new code, then the newest one confirms.
    let resend = form(&[("_csrf", &hidden(&confirm.body, "_csrf")), ("username", &email), ("resend", "1")]);
    let again = browser.post(env, &action(env, &confirm.body), &resend).await;
    assert_eq!(again.status, 200);
    assert_eq!(env.messages_to(&email).len(), 2, "two codes sent");
    let code = env.last_code(&email);
    let body = form(&[("_csrf", &hidden(&again.body, "_csrf")), ("username", &email), ("code", &code)]);
    let confirmed = browser.post(env, &action(env, &again.body), &body).await;
    assert_eq!(confirmed.status, 200);
    assert!(confirmed.body.contains("Your account is confirmed"), "{}", confirmed.body);
    // The sign-in page it shows signs in.
    let body =
        form(&[("_csrf", &hidden(&confirmed.body, "_csrf")), ("username", &email), ("password", PASSWORD)]);
    let done = browser.post(env, &action(env, &confirmed.body), &body).await;
    let location = done.location.unwrap_or_else(|| panic!("{}", done.body));
    assert!(location.starts_with(CALLBACK), "{location}");
    assert!(field(&fields_of(&location, false), "code").is_some());
    let user = env.client.admin_get_user().user_pool_id(&pool).username(&email).send().await.unwrap();
    assert_eq!(user.user_status(), Some(&cip::types::UserStatusType::Confirmed));
});

on_both_stores!(unconfirmed_sign_in_and_forgot_password, |env| {
    let (pool, prefix) = email_pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    let query = authorize_query(&client_id, &[]);
    // Signed up through the API, not confirmed: the sign-in page sends a code and asks for it.
    let email = format!("{}@example.com", unique("late"));
    env.sign_up(&client_id, &email).await.unwrap();
    let mut browser = Browser::default();
    let page = sign_in(env, &mut browser, &prefix, &query, &email, PASSWORD).await;
    assert!(page.body.contains("Confirm your account"), "{}", page.body);
    let code = env.last_code(&email);
    let body = form(&[
        ("_csrf", &hidden(&page.body, "_csrf")),
        ("username", &hidden(&page.body, "username")),
        ("code", &code),
    ]);
    let confirmed = browser.post(env, &action(env, &page.body), &body).await;
    assert!(confirmed.body.contains("Your account is confirmed"), "{}", confirmed.body);

    // Forgot password: the code by email, a new password, then signing in with it.
    let forgot = browser.get(env, &format!("/_auth/{prefix}/forgotPassword?{query}")).await;
    let body = form(&[("_csrf", &hidden(&forgot.body, "_csrf")), ("username", &email)]);
    let reset = browser.post(env, &action(env, &forgot.body), &body).await;
    assert!(reset.body.contains("Reset your password"), "{}", reset.body);
    let code = env.last_code(&email);
    let wrong = form(&[
        ("_csrf", &hidden(&reset.body, "_csrf")),
        ("username", &email),
        ("code", "000000"),
        ("password", "New-Password-77"),
    ]);
    let refused = browser.post(env, &action(env, &reset.body), &wrong).await;
    assert!(refused.body.contains("errorMessage-customizable"), "{}", refused.body);
    let right = form(&[
        ("_csrf", &hidden(&refused.body, "_csrf")),
        ("username", &email),
        ("code", &code),
        ("password", "New-Password-77"),
    ]);
    let changed = browser.post(env, &action(env, &refused.body), &right).await;
    assert!(changed.body.contains("Your password has been changed"), "{}", changed.body);
    let done = sign_in(env, &mut Browser::default(), &prefix, &query, &email, "New-Password-77").await;
    assert!(done.location.unwrap_or_default().starts_with(CALLBACK));
});

on_both_stores!(ui_customization, |env| {
    let pool = env.pool(|b| b).await;
    let client_id = web_client(env, &pool).await;
    // A domain first, as in Cognito.
    let e = env
        .client
        .set_ui_customization()
        .user_pool_id(&pool)
        .css(".banner-customizable { background-color: #123456 }")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.contains("There has to be an existing domain"), "{e}");
    let prefix = unique("u").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let set = env
        .client
        .set_ui_customization()
        .user_pool_id(&pool)
        .css(".banner-customizable { background-color: #123456 }\n.label-customizable { font-weight: 700 }")
        .image_file(aws_sdk_cognitoidentityprovider::primitives::Blob::new(png.to_vec()))
        .send()
        .await
        .unwrap();
    let ui = set.ui_customization().unwrap();
    assert_eq!(ui.client_id(), Some("ALL"));
    assert!(ui.image_url().unwrap().starts_with("data:image/png;base64,"));
    // Bad CSS names what is wrong.
    for (css, named) in [
        (".banner-customizable { color: red }", "color"),
        ("@import url(http://evil.example.com/x.css);", "@import"),
        (".evil { color: red }", "evil"),
    ] {
        let e = env
            .client
            .set_ui_customization()
            .user_pool_id(&pool)
            .css(css)
            .send()
            .await
            .map_err(err_name)
            .unwrap_err();
        assert!(e.starts_with("InvalidParameterException") && e.contains(named), "{css}: {e}");
    }
    let big = vec![0u8; 101 * 1024];
    let e = env
        .client
        .set_ui_customization()
        .user_pool_id(&pool)
        .image_file(aws_sdk_cognitoidentityprovider::primitives::Blob::new(big))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.contains("100 KB"), "{e}");
    // The client falls back to ALL until it has its own.
    let got =
        env.client.get_ui_customization().user_pool_id(&pool).client_id(&client_id).send().await.unwrap();
    assert_eq!(got.ui_customization().unwrap().client_id(), Some("ALL"));
    let query = authorize_query(&client_id, &[]);
    let page = Browser::default().get(env, &format!("/_auth/{prefix}/login?{query}")).await;
    assert!(page.body.contains(".banner-customizable{background-color:#123456}"), "{}", page.body);
    assert!(page.body.contains("class=\"logo-customizable\""));
    env.client
        .set_ui_customization()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .css(".background-customizable { background-color: #fafafa }")
        .send()
        .await
        .unwrap();
    let got =
        env.client.get_ui_customization().user_pool_id(&pool).client_id(&client_id).send().await.unwrap();
    assert_eq!(got.ui_customization().unwrap().client_id(), Some(client_id.as_str()));
    let page = Browser::default().get(env, &format!("/_auth/{prefix}/login?{query}")).await;
    assert!(page.body.contains("#fafafa") && !page.body.contains("#123456"), "its own, never ALL's");
});

on_both_stores!(hosted_pages_fire_the_pools_triggers, |env| {
    use crate::lambda_double::arn;
    let lambda = cip::types::LambdaConfigType::builder()
        .pre_sign_up(arn("pre"))
        .custom_message(arn("message"))
        .post_confirmation(arn("confirmed"))
        .pre_authentication(arn("preauth"))
        .post_authentication(arn("postauth"))
        .pre_token_generation(arn("pretoken"))
        .user_migration(arn("migrate"))
        .build();
    let pool = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .lambda_config(lambda)
        })
        .await;
    let prefix = unique("t").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    let client_id = web_client(env, &pool).await;
    let query = authorize_query(&client_id, &[]);
    let email = format!("{}@example.com", unique("trig"));
    let mut browser = Browser::default();
    let page = browser.get(env, &format!("/_auth/{prefix}/signup?{query}")).await;
    let body = form(&[("_csrf", &hidden(&page.body, "_csrf")), ("username", &email), ("password", PASSWORD)]);
    let confirm = browser.post(env, &action(env, &page.body), &body).await;
    let code = env.last_code(&email);
    let body = form(&[("_csrf", &hidden(&confirm.body, "_csrf")), ("username", &email), ("code", &code)]);
    let confirmed = browser.post(env, &action(env, &confirm.body), &body).await;
    let body =
        form(&[("_csrf", &hidden(&confirmed.body, "_csrf")), ("username", &email), ("password", PASSWORD)]);
    let done = browser.post(env, &action(env, &confirmed.body), &body).await;
    let code = field(&fields_of(&done.location.unwrap(), false), "code").unwrap();
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", crate::oauth_code::VERIFIER),
    ]);
    let (status, _, tokens) =
        crate::oauth_token::post_form(env, &prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    // A name the pool does not hold: the page asks UserMigration.
    sign_in(env, &mut Browser::default(), &prefix, &query, "legacy@example.com", PASSWORD).await;
    assert_eq!(
        env.lambda.sources(),
        [
            "PreSignUp_SignUp",
            "CustomMessage_SignUp",
            "PostConfirmation_ConfirmSignUp",
            "PreAuthentication_Authentication",
            "PostAuthentication_Authentication",
            "TokenGeneration_HostedAuth",
            "UserMigration_Authentication",
        ]
    );
});
