//! Settings honoured or refused (issue 15): every request member of CreateUserPool,
//! UpdateUserPool, CreateUserPoolClient, UpdateUserPoolClient, CreateIdentityPool and
//! UpdateIdentityPool is either honoured (a test proves it) or refused with
//! InvalidParameterException naming it. `every_model_member_is_honoured_or_refused` walks the
//! API models so that a member added to them later cannot slip through.

use crate::common::*;
use crate::on_both_stores;
use serde_json::{json, Value};

/// A SigV4-signed JSON call with the admin keys: the output, or "ErrorType: message".
async fn call(env: &TestEnv, service: &str, op: &str, body: &Value) -> Result<Value, String> {
    let target = match service {
        "cognito-idp" => format!("AWSCognitoIdentityProviderService.{op}"),
        _ => format!("AWSCognitoIdentityService.{op}"),
    };
    let (status, answer) =
        admin_signed_request(env, service, "POST", "/", Some(&target), &body.to_string()).await;
    if status == 200 {
        return Ok(answer);
    }
    let (kind, message) = error_parts(&answer);
    Err(format!("{kind}: {message}"))
}

async fn idp(env: &TestEnv, op: &str, body: Value) -> Result<Value, String> {
    call(env, "cognito-idp", op, &body).await
}

async fn new_pool(env: &TestEnv, extra: Value) -> Result<Value, String> {
    let mut body = json!({"PoolName": unique("settings")});
    merge(&mut body, &extra);
    idp(env, "CreateUserPool", body).await.map(|o| o["UserPool"].clone())
}

async fn describe_pool(env: &TestEnv, id: &str) -> Value {
    idp(env, "DescribeUserPool", json!({"UserPoolId": id})).await.unwrap()["UserPool"].clone()
}

fn merge(into: &mut Value, extra: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), extra.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}

#[track_caller]
fn refused(r: Result<Value, String>, kind: &str, contains: &str) {
    match r {
        Ok(v) => panic!("expected {kind} naming {contains}, got {v}"),
        Err(e) => {
            assert!(e.starts_with(kind) && e.contains(contains), "expected {kind} naming {contains}, got {e}")
        }
    }
}

fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{username}{client_id}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

on_both_stores!(a_client_secret_can_be_supplied_but_not_with_generate_secret, |env| {
    let pool = env.pool(|b| b).await;
    let secret = "my0wn+Client_Secret0123456789abcdef";
    let client = idp(
        env,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": "own", "ClientSecret": secret,
               "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH"]}),
    )
    .await
    .unwrap();
    let client_id = client["UserPoolClient"]["ClientId"].as_str().unwrap().to_string();
    assert_eq!(client["UserPoolClient"]["ClientSecret"], secret);
    let described =
        idp(env, "DescribeUserPoolClient", json!({"UserPoolId": pool, "ClientId": client_id})).await.unwrap();
    assert_eq!(described["UserPoolClient"]["ClientSecret"], secret);

    // The secret is the client's: calls without its SECRET_HASH are refused, with it they work.
    idp(env, "AdminCreateUser", json!({"UserPoolId": pool, "Username": "ann", "MessageAction": "SUPPRESS"}))
        .await
        .unwrap();
    idp(
        env,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool, "Username": "ann", "Password": PASSWORD, "Permanent": true}),
    )
    .await
    .unwrap();
    let sign_in = |hash: Option<String>| {
        let mut params = json!({"USERNAME": "ann", "PASSWORD": PASSWORD});
        if let Some(h) = hash {
            params["SECRET_HASH"] = json!(h);
        }
        json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": params})
    };
    refused(idp(env, "InitiateAuth", sign_in(None)).await, "NotAuthorizedException", "configured for secret");
    let tokens =
        idp(env, "InitiateAuth", sign_in(Some(secret_hash(secret, "ann", &client_id)))).await.unwrap();
    assert!(tokens["AuthenticationResult"]["AccessToken"].is_string());

    refused(
        idp(
            env,
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "both", "ClientSecret": secret, "GenerateSecret": true}),
        )
        .await,
        "InvalidParameterException",
        "ClientSecret",
    );
    // GenerateSecret false with a secret of one's own is what Cognito accepts.
    let own = idp(
        env,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": "own2", "ClientSecret": secret, "GenerateSecret": false}),
    )
    .await
    .unwrap();
    assert_eq!(own["UserPoolClient"]["ClientSecret"], secret);
});

/// Sets a password as an administrator (permanent).
async fn admin_set(env: &TestEnv, pool: &str, user: &str, password: &str) -> Result<Value, String> {
    idp(
        env,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool, "Username": user, "Password": password, "Permanent": true}),
    )
    .await
}

on_both_stores!(password_history_refuses_the_last_n_passwords, |env| {
    let created = new_pool(
        env,
        json!({"Policies": {"PasswordPolicy": {"MinimumLength": 8, "PasswordHistorySize": 3}}}),
    )
    .await
    .unwrap();
    let pool = created["Id"].as_str().unwrap().to_string();
    assert_eq!(describe_pool(env, &pool).await["Policies"]["PasswordPolicy"]["PasswordHistorySize"], 3);
    let (client, _) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH"], false).await;
    // Invited with a temporary password, which counts as one of the user's passwords.
    idp(
        env,
        "AdminCreateUser",
        json!({"UserPoolId": pool, "Username": "bea", "TemporaryPassword": "Temporary-1", "MessageAction": "SUPPRESS"}),
    )
    .await
    .unwrap();
    let challenge = idp(
        env,
        "AdminInitiateAuth",
        json!({"UserPoolId": pool, "ClientId": client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": "bea", "PASSWORD": "Temporary-1"}}),
    )
    .await
    .unwrap();
    assert_eq!(challenge["ChallengeName"], "NEW_PASSWORD_REQUIRED");
    let answer = |password: &str, session: &Value| {
        json!({"ClientId": client, "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session,
               "ChallengeResponses": {"USERNAME": "bea", "NEW_PASSWORD": password}})
    };
    refused(
        idp(env, "RespondToAuthChallenge", answer("Temporary-1", &challenge["Session"])).await,
        "PasswordHistoryPolicyViolationException",
        "",
    );
    let done = idp(env, "RespondToAuthChallenge", answer(PASSWORD, &challenge["Session"])).await.unwrap();
    let access = done["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_string();

    // ChangePassword: the current password and the ones before it are refused.
    let change = |prev: &str, new: &str| json!({"AccessToken": access, "PreviousPassword": prev, "ProposedPassword": new});
    refused(
        idp(env, "ChangePassword", change(PASSWORD, PASSWORD)).await,
        "PasswordHistoryPolicyViolationException",
        "",
    );
    refused(
        idp(env, "ChangePassword", change(PASSWORD, "Temporary-1")).await,
        "PasswordHistoryPolicyViolationException",
        "",
    );
    idp(env, "ChangePassword", change(PASSWORD, "Second-pass-2")).await.unwrap();
    // History now: Second-pass-2 (current), PASSWORD, Temporary-1.
    refused(admin_set(env, &pool, "bea", PASSWORD).await, "PasswordHistoryPolicyViolationException", "");
    refused(admin_set(env, &pool, "bea", "Temporary-1").await, "PasswordHistoryPolicyViolationException", "");
    admin_set(env, &pool, "bea", "Third-pass-3").await.unwrap();
    // Temporary-1 is now the fourth password back: allowed again; PASSWORD is still the third.
    refused(admin_set(env, &pool, "bea", PASSWORD).await, "PasswordHistoryPolicyViolationException", "");
    admin_set(env, &pool, "bea", "Temporary-1").await.unwrap();

    // ConfirmForgotPassword: the code is not spent by a refused password.
    idp(
        env,
        "AdminUpdateUserAttributes",
        json!({"UserPoolId": pool, "Username": "bea", "UserAttributes": [
            {"Name": "email", "Value": "bea@example.com"}, {"Name": "email_verified", "Value": "true"}]}),
    )
    .await
    .unwrap();
    idp(env, "ForgotPassword", json!({"ClientId": client, "Username": "bea"})).await.unwrap();
    let code = env.last_code("bea@example.com");
    let confirm = |password: &str| json!({"ClientId": client, "Username": "bea", "ConfirmationCode": code, "Password": password});
    refused(
        idp(env, "ConfirmForgotPassword", confirm("Third-pass-3")).await,
        "PasswordHistoryPolicyViolationException",
        "",
    );
    idp(env, "ConfirmForgotPassword", confirm("Fourth-pass-4")).await.unwrap();
    env.password_sign_in(&client, "bea", "Fourth-pass-4").await.unwrap();

    // Without a history size, a password may be set again.
    let plain = env.pool(|b| b).await;
    idp(env, "AdminCreateUser", json!({"UserPoolId": plain, "Username": "cy", "MessageAction": "SUPPRESS"}))
        .await
        .unwrap();
    admin_set(env, &plain, "cy", PASSWORD).await.unwrap();
    admin_set(env, &plain, "cy", PASSWORD).await.unwrap();
});

on_both_stores!(the_lite_tier_gates_password_history_and_access_token_customisation, |env| {
    let history = json!({"Policies": {"PasswordPolicy": {"PasswordHistorySize": 2}}});
    let mut lite = json!({"UserPoolTier": "LITE"});
    merge(&mut lite, &history);
    refused(new_pool(env, lite).await, "FeatureUnavailableInTierException", "PasswordHistorySize");
    let v2 = json!({"UserPoolTier": "LITE", "LambdaConfig": {"PreTokenGenerationConfig": {
        "LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:pre-token", "LambdaVersion": "V2_0"}}});
    refused(new_pool(env, v2).await, "FeatureUnavailableInTierException", "V2_0");
    let plain_lite = new_pool(env, json!({"UserPoolTier": "LITE"})).await.unwrap();
    assert_eq!(plain_lite["UserPoolTier"], "LITE");
    let id = plain_lite["Id"].as_str().unwrap();
    let mut update = json!({"UserPoolId": id, "UserPoolTier": "LITE"});
    merge(&mut update, &history);
    refused(
        idp(env, "UpdateUserPool", update).await,
        "FeatureUnavailableInTierException",
        "PasswordHistorySize",
    );
    let mut essentials = json!({"UserPoolId": id, "UserPoolTier": "ESSENTIALS"});
    merge(&mut essentials, &history);
    idp(env, "UpdateUserPool", essentials).await.unwrap();
    let d = describe_pool(env, id).await;
    assert_eq!(d["UserPoolTier"], "ESSENTIALS");
    assert_eq!(d["Policies"]["PasswordPolicy"]["PasswordHistorySize"], 2);
});

fn schema_attr<'a>(pool: &'a Value, name: &str) -> &'a Value {
    pool["SchemaAttributes"].as_array().unwrap().iter().find(|a| a["Name"] == name).unwrap()
}

on_both_stores!(standard_attributes_follow_the_pools_schema, |env| {
    let created = new_pool(
        env,
        json!({"Schema": [
            {"Name": "email", "AttributeDataType": "String", "Mutable": false, "Required": true},
            {"Name": "name", "Mutable": true, "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "5"}},
            {"Name": "updated_at", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "10", "MaxValue": "99"}},
            {"Name": "tier", "AttributeDataType": "String", "Mutable": false}
        ]}),
    )
    .await
    .unwrap();
    let pool = created["Id"].as_str().unwrap().to_string();
    let d = describe_pool(env, &pool).await;
    assert_eq!(schema_attr(&d, "email")["Mutable"], false);
    assert_eq!(schema_attr(&d, "email")["Required"], true);
    assert_eq!(
        schema_attr(&d, "name")["StringAttributeConstraints"],
        json!({"MinLength": "2", "MaxLength": "5"})
    );
    assert_eq!(
        schema_attr(&d, "updated_at")["NumberAttributeConstraints"],
        json!({"MinValue": "10", "MaxValue": "99"})
    );
    assert_eq!(
        schema_attr(&d, "given_name")["Mutable"],
        true,
        "the others keep Cognito's standard definition"
    );
    assert_eq!(schema_attr(&d, "custom:tier")["Mutable"], false);
    assert!(d.get("TesseraStandardSchema").is_none(), "Tessera's record is not a UserPoolType member");

    idp(
        env,
        "AdminCreateUser",
        json!({"UserPoolId": pool, "Username": "dee", "MessageAction": "SUPPRESS", "UserAttributes": [
            {"Name": "email", "Value": "dee@example.com"}, {"Name": "name", "Value": "Dee"}]}),
    )
    .await
    .unwrap();
    let update = |name: &str, value: &str| json!({"UserPoolId": pool, "Username": "dee", "UserAttributes": [{"Name": name, "Value": value}]});
    refused(
        idp(env, "AdminUpdateUserAttributes", update("email", "other@example.com")).await,
        "InvalidParameterException",
        "email: Attribute cannot be updated",
    );
    refused(
        idp(env, "AdminUpdateUserAttributes", update("name", "D")).await,
        "InvalidParameterException",
        "no shorter than 2",
    );
    refused(
        idp(env, "AdminUpdateUserAttributes", update("name", "Deirdre")).await,
        "InvalidParameterException",
        "no longer than 5",
    );
    refused(
        idp(env, "AdminUpdateUserAttributes", update("updated_at", "100")).await,
        "InvalidParameterException",
        "99",
    );
    idp(env, "AdminUpdateUserAttributes", update("name", "Deb")).await.unwrap();
    idp(env, "AdminUpdateUserAttributes", update("updated_at", "42")).await.unwrap();
    let user = idp(env, "AdminGetUser", json!({"UserPoolId": pool, "Username": "dee"})).await.unwrap();
    let email = user["UserAttributes"].as_array().unwrap().iter().find(|a| a["Name"] == "email").unwrap();
    assert_eq!(email["Value"], "dee@example.com");

    // The user, signed in, cannot change it either.
    let (client, _) = env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    admin_set(env, &pool, "dee", PASSWORD).await.unwrap();
    let tokens = env.admin_sign_in(&pool, &client, "dee").await;
    refused(
        idp(
            env,
            "UpdateUserAttributes",
            json!({"AccessToken": tokens.access_token().unwrap(), "UserAttributes": [{"Name": "email", "Value": "x@example.com"}]}),
        )
        .await,
        "InvalidParameterException",
        "email: Attribute cannot be updated",
    );

    // What Cognito refuses in a Schema.
    let bad = |attr: Value| json!({"Schema": [attr]});
    refused(
        new_pool(env, bad(json!({"Name": "email", "AttributeDataType": "Number"}))).await,
        "InvalidParameterException",
        "AttributeDataType",
    );
    refused(
        new_pool(env, bad(json!({"Name": "email", "DeveloperOnlyAttribute": true}))).await,
        "InvalidParameterException",
        "DeveloperOnlyAttribute",
    );
    refused(
        new_pool(env, bad(json!({"Name": "name", "StringAttributeConstraints": {"MinLength": "two"}}))).await,
        "InvalidParameterException",
        "MinLength",
    );
    refused(
        new_pool(
            env,
            bad(json!({"Name": "name", "StringAttributeConstraints": {"MinLength": "9", "MaxLength": "3"}})),
        )
        .await,
        "InvalidParameterException",
        "MinLength is greater than MaxLength",
    );
    refused(
        new_pool(
            env,
            bad(json!({"Name": "updated_at", "NumberAttributeConstraints": {"MinValue": "9", "MaxValue": "3"}})),
        )
        .await,
        "InvalidParameterException",
        "MinValue is greater than MaxValue",
    );
    refused(
        new_pool(env, bad(json!({"Name": "team"}))).await,
        "InvalidParameterException",
        "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
    );
    refused(
        idp(env, "AddCustomAttributes", json!({"UserPoolId": pool, "CustomAttributes": [{"Name": "team"}]}))
            .await,
        "InvalidParameterException",
        "Invalid AttributeDataType input",
    );
});

on_both_stores!(verification_messages_are_one_setting, |env| {
    // The legacy members: the template shows them too.
    let created = new_pool(
        env,
        json!({"SmsVerificationMessage": "SMS code {####}", "EmailVerificationMessage": "Mail code {####}",
               "EmailVerificationSubject": "Your code"}),
    )
    .await
    .unwrap();
    let id = created["Id"].as_str().unwrap().to_string();
    let d = describe_pool(env, &id).await;
    assert_eq!(
        d["VerificationMessageTemplate"],
        json!({"SmsMessage": "SMS code {####}", "EmailMessage": "Mail code {####}", "EmailSubject": "Your code",
               "DefaultEmailOption": "CONFIRM_WITH_CODE"})
    );
    assert_eq!(d["EmailVerificationMessage"], "Mail code {####}");

    // The template: the legacy members show it.
    idp(
        env,
        "UpdateUserPool",
        json!({"UserPoolId": id, "AutoVerifiedAttributes": ["email"], "VerificationMessageTemplate": {
            "SmsMessage": "New SMS {####}", "EmailMessage": "New mail {####}", "EmailSubject": "New subject",
            "EmailMessageByLink": "Click {##here##}", "EmailSubjectByLink": "Link"}}),
    )
    .await
    .unwrap();
    let d = describe_pool(env, &id).await;
    assert_eq!(d["SmsVerificationMessage"], "New SMS {####}");
    assert_eq!(d["EmailVerificationMessage"], "New mail {####}");
    assert_eq!(d["EmailVerificationSubject"], "New subject");
    assert_eq!(d["VerificationMessageTemplate"]["DefaultEmailOption"], "CONFIRM_WITH_CODE");
    assert_eq!(d["VerificationMessageTemplate"]["EmailMessageByLink"], "Click {##here##}");

    // And the message sent is the one set.
    let (client, _) = env.app_client(&id, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    idp(
        env,
        "SignUp",
        json!({"ClientId": client, "Username": "eve", "Password": PASSWORD,
               "UserAttributes": [{"Name": "email", "Value": "eve@example.com"}]}),
    )
    .await
    .unwrap();
    let sent = env.messages_to("eve@example.com");
    let last = sent.last().unwrap();
    assert_eq!(last.subject.as_deref(), Some("New subject"));
    assert!(last.body.starts_with("New mail "), "{}", last.body);

    refused(
        new_pool(env, json!({"VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_LINK"}}))
            .await,
        "InvalidParameterException",
        "DefaultEmailOption",
    );
});

async fn client_with(env: &TestEnv, pool: &str, extra: Value) -> Result<Value, String> {
    let mut body = json!({"UserPoolId": pool, "ClientName": "oauth"});
    merge(&mut body, &extra);
    idp(env, "CreateUserPoolClient", body).await
}

on_both_stores!(oauth_members_are_checked_as_cognito_checks_them, |env| {
    let pool = env.pool(|b| b).await;
    let good = json!({
        "AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["code", "implicit"],
        "AllowedOAuthScopes": ["openid", "email", "aws.cognito.signin.user.admin"],
        "CallbackURLs": ["https://app.example.com/cb", "http://localhost:3000/cb", "myapp://callback"],
        "LogoutURLs": ["https://app.example.com/bye"], "DefaultRedirectURI": "https://app.example.com/cb",
        "SupportedIdentityProviders": ["COGNITO"]});
    let created = client_with(env, &pool, good.clone()).await.unwrap();
    assert_eq!(created["UserPoolClient"]["CallbackURLs"], good["CallbackURLs"]);
    let client_id = created["UserPoolClient"]["ClientId"].as_str().unwrap().to_string();

    let with = |change: Value| {
        let mut b = good.clone();
        merge(&mut b, &change);
        b
    };
    refused(
        client_with(
            env,
            &pool,
            with(json!({"CallbackURLs": ["http://app.example.com/cb"], "DefaultRedirectURI": null})),
        )
        .await,
        "InvalidParameterException",
        "CallbackURLs",
    );
    refused(
        client_with(env, &pool, with(json!({"LogoutURLs": ["https://app.example.com/#frag"]}))).await,
        "InvalidParameterException",
        "LogoutURLs",
    );
    refused(
        client_with(env, &pool, with(json!({"DefaultRedirectURI": "https://elsewhere.example.com/"}))).await,
        "InvalidParameterException",
        "DefaultRedirectURI",
    );
    let many: Vec<String> = (0..101).map(|i| format!("https://app.example.com/{i}")).collect();
    refused(
        client_with(env, &pool, with(json!({"CallbackURLs": many, "DefaultRedirectURI": null}))).await,
        "InvalidParameterException",
        "Member must have length less than or equal to 100",
    );
    refused(
        client_with(env, &pool, with(json!({"SupportedIdentityProviders": ["Google"]}))).await,
        "InvalidParameterException",
        "Google",
    );
    refused(
        client_with(env, &pool, with(json!({"AllowedOAuthScopes": ["photos/read"]}))).await,
        "ScopeDoesNotExistException",
        "photos/read",
    );
    refused(
        client_with(env, &pool, with(json!({"AllowedOAuthFlows": ["code", "client_credentials"]}))).await,
        "InvalidOAuthFlowException",
        "client_credentials",
    );
    refused(
        client_with(env, &pool, json!({"AllowedOAuthFlows": ["client_credentials"]})).await,
        "InvalidOAuthFlowException",
        "client secret",
    );
    refused(
        client_with(
            env,
            &pool,
            json!({"AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthScopes": ["openid"]}),
        )
        .await,
        "InvalidParameterException",
        "AllowedOAuthFlows",
    );
    refused(
        client_with(
            env,
            &pool,
            json!({"AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["implicit"]}),
        )
        .await,
        "InvalidParameterException",
        "AllowedOAuthScopes",
    );
    // UpdateUserPoolClient checks the same.
    let mut update = with(json!({"CallbackURLs": ["ftp//nope"], "DefaultRedirectURI": null}));
    merge(&mut update, &json!({"UserPoolId": pool, "ClientId": client_id}));
    refused(idp(env, "UpdateUserPoolClient", update).await, "InvalidParameterException", "CallbackURLs");

    // EnablePropagateAdditionalUserContextData needs a client secret, as Cognito says.
    refused(
        client_with(env, &pool, json!({"EnablePropagateAdditionalUserContextData": true})).await,
        "InvalidParameterException",
        "EnablePropagateAdditionalUserContextData",
    );
    let with_secret = client_with(
        env,
        &pool,
        json!({"EnablePropagateAdditionalUserContextData": true, "GenerateSecret": true}),
    )
    .await
    .unwrap();
    assert_eq!(with_secret["UserPoolClient"]["EnablePropagateAdditionalUserContextData"], true);
});

on_both_stores!(identity_pools_refuse_providers_they_cannot_verify, |env| {
    for (member, value) in [
        ("SupportedLoginProviders", json!({"graph.facebook.com": "123"})),
        ("OpenIdConnectProviderARNs", json!(["arn:aws:iam::123456789012:oidc-provider/login.example.com"])),
        ("SamlProviderARNs", json!(["arn:aws:iam::123456789012:saml-provider/corp"])),
    ] {
        let mut body = json!({"IdentityPoolName": "p", "AllowUnauthenticatedIdentities": false});
        body[member] = value;
        refused(
            call(env, "cognito-identity", "CreateIdentityPool", &body).await,
            "InvalidParameterException",
            member,
        );
    }
    // Empty lists and maps are the defaults, and accepted.
    let created = call(
        env,
        "cognito-identity",
        "CreateIdentityPool",
        &json!({"IdentityPoolName": "p", "AllowUnauthenticatedIdentities": false, "SupportedLoginProviders": {},
                "OpenIdConnectProviderARNs": [], "SamlProviderARNs": []}),
    )
    .await
    .unwrap();
    assert!(created["IdentityPoolId"].is_string());
});

on_both_stores!(pool_settings_tessera_cannot_honour_are_refused_by_name, |env| {
    // Each is refused at creation; a pool with the default (off) form is accepted.
    let ok = new_pool(
        env,
        json!({"UserPoolAddOns": {"AdvancedSecurityMode": "OFF"}, "SmsConfiguration": {
            "SnsCallerArn": "arn:aws:iam::000000000000:role/sms", "SnsRegion": "us-east-1"},
            "Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}},
            "UserPoolTags": {"team": "identity"}}),
    )
    .await
    .unwrap();
    assert_eq!(ok["UserPoolAddOns"]["AdvancedSecurityMode"], "OFF");
    assert_eq!(ok["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"], json!(["PASSWORD"]));
    assert_eq!(ok["UserPoolTags"]["team"], "identity");
    refused(
        new_pool(env, json!({"UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}})).await,
        "InvalidParameterException",
        "AdvancedSecurityMode",
    );
    refused(
        new_pool(env, json!({"Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["EMAIL_OTP"]}}}))
            .await,
        "InvalidParameterException",
        "PASSWORD",
    );
    // The same on UpdateUserPool, and nothing changes.
    let id = ok["Id"].as_str().unwrap();
    refused(
        idp(
            env,
            "UpdateUserPool",
            json!({"UserPoolId": id, "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}}),
        )
        .await,
        "InvalidParameterException",
        "AdvancedSecurityMode",
    );
    assert_eq!(describe_pool(env, id).await["UserPoolAddOns"]["AdvancedSecurityMode"], "OFF");
});

on_both_stores!(recovery_sign_up_and_revocation_settings_take_effect, |env| {
    // AccountRecoverySetting: admin_only leaves users no way to reset by themselves.
    let admin_only = new_pool(
        env,
        json!({"AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]},
               "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": true}}),
    )
    .await
    .unwrap();
    let pool = admin_only["Id"].as_str().unwrap().to_string();
    let (client, _) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    idp(
        env,
        "AdminCreateUser",
        json!({"UserPoolId": pool, "Username": "fay", "MessageAction": "SUPPRESS", "UserAttributes": [
            {"Name": "email", "Value": "fay@example.com"}, {"Name": "email_verified", "Value": "true"}]}),
    )
    .await
    .unwrap();
    admin_set(env, &pool, "fay", PASSWORD).await.unwrap();
    refused(
        idp(env, "ForgotPassword", json!({"ClientId": client, "Username": "fay"})).await,
        "InvalidParameterException",
        "no registered/verified email or phone_number",
    );
    // AllowAdminCreateUserOnly: nobody signs up by themselves.
    refused(
        idp(env, "SignUp", json!({"ClientId": client, "Username": "gus", "Password": PASSWORD})).await,
        "NotAuthorizedException",
        "SignUp is not permitted",
    );
    // With verified_email first, the code goes to the email.
    let by_email = new_pool(
        env,
        json!({"AccountRecoverySetting": {"RecoveryMechanisms": [
            {"Name": "verified_email", "Priority": 1}, {"Name": "verified_phone_number", "Priority": 2}]}}),
    )
    .await
    .unwrap();
    let pool2 = by_email["Id"].as_str().unwrap().to_string();
    let (client2, _) = env.app_client(&pool2, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    idp(
        env,
        "AdminCreateUser",
        json!({"UserPoolId": pool2, "Username": "hal", "MessageAction": "SUPPRESS", "UserAttributes": [
            {"Name": "email", "Value": "hal@example.com"}, {"Name": "email_verified", "Value": "true"},
            {"Name": "phone_number", "Value": "+15555550100"}, {"Name": "phone_number_verified", "Value": "true"}]}),
    )
    .await
    .unwrap();
    admin_set(env, &pool2, "hal", PASSWORD).await.unwrap();
    let sent = idp(env, "ForgotPassword", json!({"ClientId": client2, "Username": "hal"})).await.unwrap();
    assert_eq!(sent["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL");

    // EnableTokenRevocation false: refresh tokens of the client cannot be revoked.
    let no_revocation = idp(
        env,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": "norevoke", "EnableTokenRevocation": false,
               "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await
    .unwrap();
    let nr = no_revocation["UserPoolClient"]["ClientId"].as_str().unwrap().to_string();
    assert_eq!(no_revocation["UserPoolClient"]["EnableTokenRevocation"], false);
    let tokens = env.admin_sign_in(&pool, &nr, "fay").await;
    refused(
        idp(env, "RevokeToken", json!({"ClientId": nr, "Token": tokens.refresh_token().unwrap()})).await,
        "UnsupportedOperationException",
        "not enabled",
    );
    let tokens = env.admin_sign_in(&pool, &client, "fay").await;
    idp(env, "RevokeToken", json!({"ClientId": client, "Token": tokens.refresh_token().unwrap()}))
        .await
        .unwrap();
    assert!(env.refresh(&client, tokens.refresh_token().unwrap()).await.is_err(), "revoked");
});

/// How Tessera treats a request member.
enum Treatment {
    /// Honoured as Cognito honours it; the test (`file::name`) proves it.
    Honoured(&'static str),
    /// Refused with InvalidParameterException naming the member: the fragment (merged into a
    /// valid request) must be refused by every operation of the walk that has the member.
    /// Members inside a refused one need no entry.
    Refused(&'static str),
    /// Honoured in the accepted forms (the test proves it) and refused in the others (the
    /// fragment must be refused, naming the member).
    Partly(&'static str, &'static str),
    /// Accepted with a documented difference from Cognito (docs/settings.md lists each).
    /// Kept to the very few members where a refusal would break common deployments.
    Deviation(&'static str),
}

use Treatment::{Deviation, Honoured, Partly, Refused};

/// Every request member (dotted path; `[]` for list items) of the walked operations.
const TABLE: &[(&str, Treatment)] = &[
    // CreateUserPool / UpdateUserPool
    ("PoolName", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("UserPoolId", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("AccountRecoverySetting", Honoured("tests/e2e/settings.rs::recovery_sign_up_and_revocation_settings_take_effect")),
    ("AccountRecoverySetting.RecoveryMechanisms", Honoured("tests/e2e/settings.rs::recovery_sign_up_and_revocation_settings_take_effect")),
    ("AccountRecoverySetting.RecoveryMechanisms[].Name", Honoured("tests/e2e/settings.rs::recovery_sign_up_and_revocation_settings_take_effect")),
    ("AccountRecoverySetting.RecoveryMechanisms[].Priority", Honoured("tests/e2e/settings.rs::recovery_sign_up_and_revocation_settings_take_effect")),
    ("AcrConfiguration", Refused(r#"{"AcrConfiguration": {}}"#)),
    ("AdminCreateUserConfig", Honoured("tests/e2e/admin_users.rs::invitation_follows_the_template_and_suppress_sends_nothing")),
    ("AdminCreateUserConfig.AllowAdminCreateUserOnly", Honoured("tests/e2e/settings.rs::recovery_sign_up_and_revocation_settings_take_effect")),
    ("AdminCreateUserConfig.InviteMessageTemplate", Honoured("tests/e2e/admin_users.rs::invitation_follows_the_template_and_suppress_sends_nothing")),
    ("AdminCreateUserConfig.InviteMessageTemplate.EmailMessage", Honoured("tests/e2e/admin_users.rs::invitation_follows_the_template_and_suppress_sends_nothing")),
    ("AdminCreateUserConfig.InviteMessageTemplate.EmailSubject", Honoured("tests/e2e/admin_users.rs::invitation_follows_the_template_and_suppress_sends_nothing")),
    ("AdminCreateUserConfig.InviteMessageTemplate.SMSMessage", Honoured("tests/e2e/admin_users.rs::invitation_follows_the_template_and_suppress_sends_nothing")),
    ("AdminCreateUserConfig.UnusedAccountValidityDays", Honoured("tests/e2e/admin_users.rs::temporary_passwords_expire")),
    ("AliasAttributes", Honoured("tests/e2e/aliases.rs::email_alias_signs_in_only_once_verified")),
    ("AutoVerifiedAttributes", Honoured("tests/e2e/attributes.rs::changing_email_unverifies_and_sends_a_code")),
    ("DcrConfiguration", Refused(r#"{"DcrConfiguration": {"EnableStatus": "Enabled"}}"#)),
    ("DeletionProtection", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("DeviceConfiguration", Honoured("tests/e2e/devices.rs::an_opt_in_pool_remembers_a_device_once_the_user_says_so")),
    ("DeviceConfiguration.ChallengeRequiredOnNewDevice", Honoured("tests/e2e/devices.rs::an_always_pool_remembers_every_confirmed_device")),
    ("DeviceConfiguration.DeviceOnlyRememberedOnUserPrompt", Honoured("tests/e2e/devices.rs::an_opt_in_pool_remembers_a_device_once_the_user_says_so")),
    // The deployment's SES sends as the pool's From / SourceArn address.
    ("EmailConfiguration", Honoured("shared/aws/tests/messaging.rs::sends_email_and_sms")),
    ("EmailConfiguration.From", Honoured("shared/aws/tests/messaging.rs::sends_email_and_sms")),
    ("EmailConfiguration.SourceArn", Honoured("shared/aws/tests/messaging.rs::sends_email_and_sms")),
    // Both values send through the deployment's own SES: there is no Cognito-owned sender.
    ("EmailConfiguration.EmailSendingAccount", Honoured("shared/aws/tests/messaging.rs::sends_email_and_sms")),
    ("EmailConfiguration.ReplyToEmailAddress", Refused(r#"{"EmailConfiguration": {"ReplyToEmailAddress": "help@example.com"}}"#)),
    ("EmailConfiguration.ConfigurationSet", Refused(r#"{"EmailConfiguration": {"ConfigurationSet": "tracking"}}"#)),
    ("EmailVerificationMessage", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("EmailVerificationSubject", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("SmsVerificationMessage", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("VerificationMessageTemplate", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("VerificationMessageTemplate.SmsMessage", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("VerificationMessageTemplate.EmailMessage", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("VerificationMessageTemplate.EmailSubject", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    // Kept and shown, as Cognito does: they are used only with CONFIRM_WITH_LINK.
    ("VerificationMessageTemplate.EmailMessageByLink", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("VerificationMessageTemplate.EmailSubjectByLink", Honoured("tests/e2e/settings.rs::verification_messages_are_one_setting")),
    ("VerificationMessageTemplate.DefaultEmailOption", Partly(
        "tests/e2e/settings.rs::verification_messages_are_one_setting",
        r#"{"VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_LINK"}}"#,
    )),
    ("IssuerConfiguration", Refused(r#"{"IssuerConfiguration": {"Type": "ORIGINAL"}}"#)),
    ("KeyConfiguration", Refused(r#"{"KeyConfiguration": {"KeyType": "AWS_OWNED_KEY"}}"#)),
    ("LambdaConfig", Honoured("tests/e2e/pools.rs::lambda_config_never_stores_a_trigger_that_cannot_fire")),
    ("LambdaConfig.CreateAuthChallenge", Honoured("tests/e2e/triggers_auth.rs::custom_auth_captcha_loop_to_tokens")),
    ("LambdaConfig.DefineAuthChallenge", Honoured("tests/e2e/triggers_auth.rs::custom_auth_captcha_loop_to_tokens")),
    ("LambdaConfig.VerifyAuthChallengeResponse", Honoured("tests/e2e/triggers_auth.rs::custom_auth_captcha_loop_to_tokens")),
    ("LambdaConfig.CustomMessage", Honoured("tests/e2e/triggers_lifecycle.rs::custom_message_for_every_code_source")),
    ("LambdaConfig.PostAuthentication", Honoured("tests/e2e/triggers_auth.rs::pre_and_post_authentication_on_password_sign_in_not_on_refresh")),
    ("LambdaConfig.PreAuthentication", Honoured("tests/e2e/triggers_auth.rs::pre_and_post_authentication_on_password_sign_in_not_on_refresh")),
    ("LambdaConfig.PostConfirmation", Honoured("tests/e2e/triggers_lifecycle.rs::post_confirmation_sources_and_failure")),
    ("LambdaConfig.PreSignUp", Honoured("tests/e2e/triggers_lifecycle.rs::pre_sign_up_event_and_auto_confirm")),
    ("LambdaConfig.PreTokenGeneration", Honoured("tests/e2e/triggers_tokens.rs::v1_response_changes_the_id_token_only")),
    ("LambdaConfig.PreTokenGenerationConfig", Honoured("tests/e2e/triggers_tokens.rs::v2_response_changes_both_tokens_and_the_scopes")),
    ("LambdaConfig.PreTokenGenerationConfig.LambdaArn", Honoured("tests/e2e/triggers_tokens.rs::v2_response_changes_both_tokens_and_the_scopes")),
    ("LambdaConfig.PreTokenGenerationConfig.LambdaVersion", Partly(
        "tests/e2e/triggers_tokens.rs::v2_event_has_version_2_and_the_scopes",
        r#"{"LambdaConfig": {"PreTokenGenerationConfig": {"LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:f", "LambdaVersion": "V3_0"}}}"#,
    )),
    ("LambdaConfig.UserMigration", Honoured("tests/e2e/triggers_lifecycle.rs::user_migration_on_sign_in_and_forgot_password")),
    ("LambdaConfig.CustomEmailSender", Refused(r#"{"LambdaConfig": {"CustomEmailSender": {"LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:f", "LambdaVersion": "V1_0"}}}"#)),
    ("LambdaConfig.CustomSMSSender", Refused(r#"{"LambdaConfig": {"CustomSMSSender": {"LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:f", "LambdaVersion": "V1_0"}}}"#)),
    ("LambdaConfig.InboundFederation", Refused(r#"{"LambdaConfig": {"InboundFederation": {"LambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:f", "LambdaVersion": "V1_0"}}}"#)),
    ("LambdaConfig.KMSKeyID", Refused(r#"{"LambdaConfig": {"KMSKeyID": "arn:aws:kms:us-east-1:000000000000:key/k"}}"#)),
    ("MfaConfiguration", Honoured("tests/e2e/mfa.rs::create_and_update_pool_mfa")),
    ("Policies", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("Policies.PasswordPolicy", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("Policies.PasswordPolicy.MinimumLength", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("Policies.PasswordPolicy.RequireLowercase", Honoured("shared/core/src/password.rs::policy_names_the_failing_rule")),
    ("Policies.PasswordPolicy.RequireNumbers", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("Policies.PasswordPolicy.RequireSymbols", Honoured("shared/core/src/password.rs::policy_names_the_failing_rule")),
    ("Policies.PasswordPolicy.RequireUppercase", Honoured("shared/core/src/password.rs::policy_names_the_failing_rule")),
    ("Policies.PasswordPolicy.TemporaryPasswordValidityDays", Honoured("tests/e2e/admin_users.rs::temporary_passwords_expire")),
    ("Policies.PasswordPolicy.PasswordHistorySize", Honoured("tests/e2e/settings.rs::password_history_refuses_the_last_n_passwords")),
    ("Policies.SignInPolicy", Honoured("tests/e2e/settings.rs::pool_settings_tessera_cannot_honour_are_refused_by_name")),
    ("Policies.SignInPolicy.AllowedFirstAuthFactors", Partly(
        "tests/e2e/settings.rs::pool_settings_tessera_cannot_honour_are_refused_by_name",
        r#"{"Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}}}"#,
    )),
    ("Schema", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].Name", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].AttributeDataType", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].DeveloperOnlyAttribute", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].Mutable", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].Required", Honoured("tests/e2e/attributes.rs::required_attributes_cannot_be_removed")),
    ("Schema[].NumberAttributeConstraints", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].NumberAttributeConstraints.MaxValue", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].NumberAttributeConstraints.MinValue", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].StringAttributeConstraints", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].StringAttributeConstraints.MaxLength", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("Schema[].StringAttributeConstraints.MinLength", Honoured("tests/e2e/settings.rs::standard_attributes_follow_the_pools_schema")),
    ("SmsAuthenticationMessage", Honoured("tests/e2e/mfa.rs::sms_mfa_code_for_sign_in")),
    // SMS goes through the deployment's own SNS access; the role is the pool's SMS switch.
    ("SmsConfiguration", Honoured("tests/e2e/mfa.rs::sms_mfa_code_for_sign_in")),
    ("SmsConfiguration.SnsCallerArn", Deviation("turns SMS on as in Cognito, but the role is not assumed: SMS goes out with the deployment's own SNS access")),
    ("SmsConfiguration.SnsRegion", Partly(
        "tests/e2e/settings.rs::pool_settings_tessera_cannot_honour_are_refused_by_name",
        r#"{"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::000000000000:role/sms", "SnsRegion": "eu-west-1"}}"#,
    )),
    ("SmsConfiguration.ExternalId", Deviation("the role is not assumed: SMS goes out with the deployment's own SNS access")),
    ("SmsConfiguration.EumsSms", Refused(r#"{"SmsConfiguration": {"EumsSms": {"CallerArn": "arn:aws:iam::000000000000:role/sms"}}}"#)),
    ("UserAttributeUpdateSettings", Honoured("tests/e2e/attributes.rs::verification_before_update_keeps_the_old_value")),
    ("UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate", Honoured("tests/e2e/attributes.rs::verification_before_update_keeps_the_old_value")),
    ("UserPoolAddOns", Honoured("tests/e2e/settings.rs::pool_settings_tessera_cannot_honour_are_refused_by_name")),
    ("UserPoolAddOns.AdvancedSecurityMode", Partly(
        "tests/e2e/settings.rs::pool_settings_tessera_cannot_honour_are_refused_by_name",
        r#"{"UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}}"#,
    )),
    ("UserPoolAddOns.AdvancedSecurityAdditionalFlows", Refused(r#"{"UserPoolAddOns": {"AdvancedSecurityMode": "OFF", "AdvancedSecurityAdditionalFlows": {"CustomAuthMode": "AUDIT"}}}"#)),
    // Tags are kept and shown by Describe; Tessera has no IAM or billing for them to affect.
    ("UserPoolTags", Honoured("tests/e2e/settings.rs::pool_settings_tessera_cannot_honour_are_refused_by_name")),
    ("UserPoolTier", Honoured("tests/e2e/settings.rs::the_lite_tier_gates_password_history_and_access_token_customisation")),
    ("UsernameAttributes", Honoured("tests/e2e/pools.rs::pool_lifecycle")),
    ("UsernameConfiguration", Honoured("tests/e2e/aliases.rs::case_insensitive_pools_fold_usernames")),
    ("UsernameConfiguration.CaseSensitive", Honoured("tests/e2e/aliases.rs::case_insensitive_pools_fold_usernames")),
    // CreateUserPoolClient / UpdateUserPoolClient
    ("ClientId", Honoured("tests/e2e/pools.rs::client_lifecycle")),
    ("ClientName", Honoured("tests/e2e/pools.rs::client_lifecycle")),
    ("ClientSecret", Honoured("tests/e2e/settings.rs::a_client_secret_can_be_supplied_but_not_with_generate_secret")),
    ("GenerateSecret", Honoured("tests/e2e/settings.rs::a_client_secret_can_be_supplied_but_not_with_generate_secret")),
    ("AccessTokenValidity", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("IdTokenValidity", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("RefreshTokenValidity", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("TokenValidityUnits", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("TokenValidityUnits.AccessToken", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("TokenValidityUnits.IdToken", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("TokenValidityUnits.RefreshToken", Honoured("tests/e2e/auth.rs::revoke_token_and_validity")),
    ("AuthSessionValidity", Honoured("tests/e2e/admin_users.rs::challenge_sessions_are_single_use_and_expire")),
    ("ExplicitAuthFlows", Honoured("tests/e2e/auth.rs::password_auth_errors")),
    ("PreventUserExistenceErrors", Honoured("tests/e2e/passwords.rs::prevent_user_existence_errors_hides_unknown_users")),
    ("EnableTokenRevocation", Honoured("tests/e2e/settings.rs::recovery_sign_up_and_revocation_settings_take_effect")),
    ("ReadAttributes", Honoured("tests/e2e/attributes.rs::clients_read_only_their_readable_attributes")),
    ("WriteAttributes", Honoured("tests/e2e/attributes.rs::writing_unwritable_attributes_is_not_authorized")),
    // The lead's (GetTokensFromRefreshToken and rotation, issue 15 item 1).
    ("RefreshTokenRotation", Honoured("lead")),
    ("RefreshTokenRotation.Feature", Honoured("lead")),
    ("RefreshTokenRotation.RetryGracePeriodSeconds", Honoured("lead")),
    // Without threat protection the extra context has nothing to feed; the secret rule holds.
    ("EnablePropagateAdditionalUserContextData", Partly(
        "tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them",
        r#"{"EnablePropagateAdditionalUserContextData": true}"#,
    )),
    ("PublishSecretsInAWSSecretsManager", Refused(r#"{"PublishSecretsInAWSSecretsManager": true}"#)),
    ("AnalyticsConfiguration", Refused(r#"{"AnalyticsConfiguration": {"ApplicationId": "a", "RoleArn": "arn:aws:iam::000000000000:role/r", "ExternalId": "x"}}"#)),
    // Validated as Cognito validates them; Tessera has no OAuth endpoints yet to use them.
    ("AllowedOAuthFlows", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    ("AllowedOAuthFlowsUserPoolClient", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    ("AllowedOAuthScopes", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    ("CallbackURLs", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    ("LogoutURLs", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    ("DefaultRedirectURI", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    ("SupportedIdentityProviders", Honoured("tests/e2e/settings.rs::oauth_members_are_checked_as_cognito_checks_them")),
    // CreateIdentityPool / UpdateIdentityPool
    ("IdentityPoolId", Honoured("tests/e2e/identity_pools.rs::identity_pool_configuration")),
    ("IdentityPoolName", Honoured("tests/e2e/identity_pools.rs::identity_pool_configuration")),
    ("AllowUnauthenticatedIdentities", Honoured("tests/e2e/identity_pools.rs::unauthenticated_identities")),
    ("AllowClassicFlow", Honoured("tests/e2e/identity_pools.rs::basic_flow_tokens_are_no_developer_logins")),
    ("CognitoIdentityProviders", Honoured("tests/e2e/identity_pools.rs::user_pool_login_to_identity_token_and_credentials")),
    ("CognitoIdentityProviders[].ClientId", Honoured("tests/e2e/identity_pools.rs::invalid_logins_fail_the_whole_call")),
    ("CognitoIdentityProviders[].ProviderName", Honoured("tests/e2e/identity_pools.rs::user_pool_login_to_identity_token_and_credentials")),
    ("CognitoIdentityProviders[].ServerSideTokenCheck", Honoured("tests/e2e/identity_pools.rs::invalid_logins_fail_the_whole_call")),
    ("DeveloperProviderName", Honoured("tests/e2e/identity_pools.rs::developer_identities")),
    ("IdentityPoolTags", Honoured("tests/e2e/identity_pools.rs::identity_pool_configuration")),
    ("SupportedLoginProviders", Refused(r#"{"SupportedLoginProviders": {"graph.facebook.com": "123"}}"#)),
    ("OpenIdConnectProviderARNs", Refused(r#"{"OpenIdConnectProviderARNs": ["arn:aws:iam::123456789012:oidc-provider/login.example.com"]}"#)),
    ("SamlProviderARNs", Refused(r#"{"SamlProviderARNs": ["arn:aws:iam::123456789012:saml-provider/corp"]}"#)),
];

/// The walked operations: (service, model file, operation).
const WALKED: &[(&str, &str, &str)] = &[
    ("cognito-idp", "cognito-idp", "CreateUserPool"),
    ("cognito-idp", "cognito-idp", "UpdateUserPool"),
    ("cognito-idp", "cognito-idp", "CreateUserPoolClient"),
    ("cognito-idp", "cognito-idp", "UpdateUserPoolClient"),
    ("cognito-identity", "cognito-identity", "CreateIdentityPool"),
    ("cognito-identity", "cognito-identity", "UpdateIdentityPool"),
];

/// Request member paths of a shape: members, members of structures, members of list items.
fn member_paths(model: &Value, shape: &str, prefix: &str, out: &mut Vec<String>) {
    let shapes = &model["shapes"];
    for (member, target) in shapes[shape]["members"].as_object().into_iter().flatten() {
        let target = target.as_str().or(target["shape"].as_str()).unwrap();
        let path = format!("{prefix}{member}");
        out.push(path.clone());
        match shapes[target]["type"].as_str() {
            Some("structure") => member_paths(model, target, &format!("{path}."), out),
            Some("list") => {
                let item =
                    shapes[target]["member"].as_str().or(shapes[target]["member"]["shape"].as_str()).unwrap();
                if shapes[item]["type"] == "structure" {
                    member_paths(model, item, &format!("{path}[]."), out);
                }
            }
            _ => {}
        }
    }
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_default()
}

/// Whether `file::name` is a test there (a function or an `on_both_stores!` module).
fn test_exists(proof: &str) -> bool {
    if proof == "lead" {
        return true;
    }
    let Some((file, name)) = proof.split_once("::") else { return false };
    let source = repo_file(file);
    source.contains(&format!("fn {name}(")) || source.contains(&format!("!({name},"))
}

on_both_stores!(every_model_member_is_honoured_or_refused, |env| {
    // The fixtures the Update operations need.
    let pool = env.pool(|b| b).await;
    let (client, _) = env.app_client(&pool, &["ALLOW_USER_SRP_AUTH"], false).await;
    let identity_pool = call(
        env,
        "cognito-identity",
        "CreateIdentityPool",
        &json!({"IdentityPoolName": "walk", "AllowUnauthenticatedIdentities": false}),
    )
    .await
    .unwrap()["IdentityPoolId"]
        .as_str()
        .unwrap()
        .to_string();
    let base = |op: &str| match op {
        "CreateUserPool" => json!({"PoolName": unique("walk")}),
        "UpdateUserPool" => json!({"UserPoolId": pool}),
        "CreateUserPoolClient" => json!({"UserPoolId": pool, "ClientName": "walk"}),
        "UpdateUserPoolClient" => json!({"UserPoolId": pool, "ClientId": client}),
        "CreateIdentityPool" => json!({"IdentityPoolName": "walk", "AllowUnauthenticatedIdentities": false}),
        _ => {
            json!({"IdentityPoolId": identity_pool, "IdentityPoolName": "walk", "AllowUnauthenticatedIdentities": false})
        }
    };

    let mut problems = Vec::new();
    let mut walked = std::collections::BTreeSet::new();
    for (service, file, op) in WALKED {
        let model: Value =
            serde_json::from_str(&repo_file(&format!("shared/wire/model/{file}.json"))).unwrap();
        let input = model["operations"][op]["input"]
            .as_str()
            .or(model["operations"][op]["input"]["shape"].as_str())
            .unwrap();
        let mut paths = Vec::new();
        member_paths(&model, input, "", &mut paths);
        for path in paths {
            // Members inside a refused member are refused with it.
            let inside_refused = TABLE.iter().any(|(p, t)| {
                matches!(t, Refused(_))
                    && (path.starts_with(&format!("{p}.")) || path.starts_with(&format!("{p}[].")))
            });
            if inside_refused {
                continue;
            }
            walked.insert(path.clone());
            let Some((_, treatment)) = TABLE.iter().find(|(p, _)| *p == path) else {
                problems.push(format!("{op}: {path} is neither honoured nor refused (add it to TABLE)"));
                continue;
            };
            if let Honoured(proof) | Partly(proof, _) = treatment {
                if !test_exists(proof) {
                    problems.push(format!("{path}: the test {proof} does not exist"));
                }
            }
            if let Refused(fragment) | Partly(_, fragment) = treatment {
                let mut body = base(op);
                merge(&mut body, &serde_json::from_str(fragment).unwrap());
                let member = path.rsplit(['.', ']']).next().unwrap_or(&path);
                match call(env, service, op, &body).await {
                    Err(e) if e.starts_with("InvalidParameterException") && e.contains(member) => {}
                    other => problems.push(format!("{op}: {path} was not refused by name: {other:?}")),
                }
            }
        }
    }
    // The escape hatch stays closed: deviations are these, and the doc lists each.
    let deviations: Vec<(&str, &str)> = TABLE
        .iter()
        .filter_map(|(p, t)| if let Deviation(why) = t { Some((*p, *why)) } else { None })
        .collect();
    let names: Vec<&str> = deviations.iter().map(|(p, _)| *p).collect();
    assert_eq!(names, ["SmsConfiguration.SnsCallerArn", "SmsConfiguration.ExternalId"]);
    let doc = repo_file("docs/settings.md");
    for (path, why) in &deviations {
        if !doc.contains(path) {
            problems.push(format!("docs/settings.md does not describe the deviation {path} ({why})"));
        }
    }
    for (path, _) in TABLE {
        if !walked.contains(*path) {
            problems.push(format!("TABLE names {path}, which no walked operation has"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
});
