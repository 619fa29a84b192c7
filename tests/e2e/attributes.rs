//! User attributes: the pool's schema (custom attributes, types, constraints, mutability,
//! required attributes), per-client read/write permissions, email/phone changes and their
//! verification, and preferred_username / email aliases.

use crate::common::*;
use crate::on_both_stores;
use crate::tokens::payload;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{
    AttributeDataType, NumberAttributeConstraintsType, SchemaAttributeType, StringAttributeConstraintsType,
};
use std::collections::BTreeMap;

const FLOWS: &[&str] = &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];

fn custom(name: &str, ty: AttributeDataType) -> cip::types::builders::SchemaAttributeTypeBuilder {
    SchemaAttributeType::builder().name(name).attribute_data_type(ty)
}

/// A client with explicit read and/or write lists.
async fn client_with(
    env: &TestEnv,
    pool: &str,
    read: Option<&[&str]>,
    write: Option<&[&str]>,
) -> Result<String, String> {
    let mut b = env.client.create_user_pool_client().user_pool_id(pool).client_name("limited");
    for f in FLOWS {
        b = b.explicit_auth_flows(cip::types::ExplicitAuthFlowsType::from(*f));
    }
    if let Some(read) = read {
        b = b.set_read_attributes(Some(read.iter().map(|s| s.to_string()).collect()));
    }
    if let Some(write) = write {
        b = b.set_write_attributes(Some(write.iter().map(|s| s.to_string()).collect()));
    }
    b.send()
        .await
        .map(|o| o.user_pool_client().and_then(|c| c.client_id()).unwrap_or_default().to_string())
        .map_err(err_name)
}

async fn attrs_of(env: &TestEnv, pool: &str, username: &str) -> BTreeMap<String, String> {
    let u = env.client.admin_get_user().user_pool_id(pool).username(username).send().await.unwrap();
    u.user_attributes()
        .iter()
        .map(|a| (a.name().to_string(), a.value().unwrap_or_default().to_string()))
        .collect()
}

async fn admin_update(
    env: &TestEnv,
    pool: &str,
    username: &str,
    attrs: &[(&str, &str)],
) -> Result<(), String> {
    let mut b = env.client.admin_update_user_attributes().user_pool_id(pool).username(username);
    for (n, v) in attrs {
        b = b.user_attributes(attr(n, v));
    }
    b.send().await.map(|_| ()).map_err(err_name)
}

async fn update(
    env: &TestEnv,
    token: &str,
    attrs: &[(&str, &str)],
) -> Result<cip::operation::update_user_attributes::UpdateUserAttributesOutput, String> {
    let mut b = env.client.update_user_attributes().access_token(token);
    for (n, v) in attrs {
        b = b.user_attributes(attr(n, v));
    }
    b.send().await.map_err(err_name)
}

async fn delete(env: &TestEnv, token: &str, names: &[&str]) -> Result<(), String> {
    let mut b = env.client.delete_user_attributes().access_token(token);
    for n in names {
        b = b.user_attribute_names(*n);
    }
    b.send().await.map(|_| ()).map_err(err_name)
}

async fn verify(env: &TestEnv, token: &str, name: &str, code: &str) -> Result<(), String> {
    env.client
        .verify_user_attribute()
        .access_token(token)
        .attribute_name(name)
        .code(code)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

fn other_code(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// An email-as-username pool (auto-verified) with a client, and a confirmed, signed-in user.
async fn email_user(env: &TestEnv, email: &str) -> (String, String, String) {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.confirmed_user(&client_id, email).await;
    let t = env.password_sign_in(&client_id, email, PASSWORD).await.unwrap();
    (pool, client_id, t.access_token().unwrap().to_string())
}

/// Signs up `username` with attributes through `client_id`, confirms by admin, signs in.
async fn user_in(
    env: &TestEnv,
    pool: &str,
    client_id: &str,
    username: &str,
    attrs: &[(&str, &str)],
) -> String {
    let mut b = env.client.sign_up().client_id(client_id).username(username).password(PASSWORD);
    for (n, v) in attrs {
        b = b.user_attributes(attr(n, v));
    }
    b.send().await.map_err(err_name).unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(pool).username(username).send().await.unwrap();
    env.password_sign_in(client_id, username, PASSWORD).await.unwrap().access_token().unwrap().to_string()
}

on_both_stores!(custom_attribute_types_and_constraints, |env| {
    let pool = env
        .pool(|b| {
            b.schema(
                custom("age", AttributeDataType::Number)
                    .number_attribute_constraints(
                        NumberAttributeConstraintsType::builder().min_value("18").max_value("120").build(),
                    )
                    .build(),
            )
            .schema(
                custom("team", AttributeDataType::String)
                    .string_attribute_constraints(
                        StringAttributeConstraintsType::builder().min_length("2").max_length("5").build(),
                    )
                    .build(),
            )
            .schema(custom("vip", AttributeDataType::Boolean).build())
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.sign_up(&client_id, "ann").await.unwrap();
    let bad = [
        ("custom:age", "17", "custom:age: Number must be no less than 18"),
        ("custom:age", "121", "custom:age: Number must be no greater than 120"),
        ("custom:age", "old", "custom:age: Number expected"),
        ("custom:team", "a", "custom:team: String must be no shorter than 2 characters"),
        ("custom:team", "abcdef", "custom:team: String must be no longer than 5 characters"),
        ("custom:vip", "yes", "custom:vip: Boolean expected (true or false)"),
        ("custom:unknown", "x", "Type for attribute {custom:unknown} could not be determined"),
    ];
    for (name, value, why) in bad {
        let e = admin_update(env, &pool, "ann", &[(name, value)]).await.unwrap_err();
        assert_eq!(e, format!("InvalidParameterException: Attributes did not conform to the schema: {why}"));
    }
    admin_update(env, &pool, "ann", &[("custom:age", "42"), ("custom:team", "ops"), ("custom:vip", "true")])
        .await
        .unwrap();
    let a = attrs_of(env, &pool, "ann").await;
    assert_eq!(a["custom:age"], "42");
    assert_eq!(a["custom:team"], "ops");
    assert_eq!(a["custom:vip"], "true");
    // Nothing of a refused call is written.
    let e =
        admin_update(env, &pool, "ann", &[("custom:team", "sec"), ("custom:age", "7")]).await.unwrap_err();
    assert!(e.starts_with("InvalidParameterException"), "{e}");
    assert_eq!(attrs_of(env, &pool, "ann").await["custom:team"], "ops");
});

on_both_stores!(immutable_custom_attributes_only_at_creation, |env| {
    let pool =
        env.pool(|b| b.schema(custom("badge", AttributeDataType::String).mutable(false).build())).await;
    let client_id = client_with(env, &pool, None, Some(&["email", "custom:badge"])).await.unwrap();
    let token = user_in(env, &pool, &client_id, "bob", &[("custom:badge", "b-1")]).await;
    assert_eq!(attrs_of(env, &pool, "bob").await["custom:badge"], "b-1", "set at sign-up");
    let immutable = "InvalidParameterException: Attributes did not conform to the schema: custom:badge: Attribute cannot be updated. (changing an immutable attribute)";
    assert_eq!(update(env, &token, &[("custom:badge", "b-2")]).await.unwrap_err(), immutable);
    assert_eq!(admin_update(env, &pool, "bob", &[("custom:badge", "b-2")]).await.unwrap_err(), immutable);
    let e = env
        .client
        .admin_delete_user_attributes()
        .user_pool_id(&pool)
        .username("bob")
        .user_attribute_names("custom:badge")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, immutable);
    assert_eq!(attrs_of(env, &pool, "bob").await["custom:badge"], "b-1");
    let e = admin_update(env, &pool, "bob", &[("sub", "mine")]).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Attributes did not conform to the schema: sub: Attribute cannot be updated. (changing an immutable attribute)");
});

on_both_stores!(
    add_custom_attributes_prefix_duplicates_and_limit,
    config = |c| {
        c.limits.custom_attributes_per_pool = 25;
    },
    |env| {
        let pool = env.pool(|b| b.schema(custom("team", AttributeDataType::String).build())).await;
        let add = |attrs: Vec<SchemaAttributeType>| {
            env.client.add_custom_attributes().user_pool_id(&pool).set_custom_attributes(Some(attrs)).send()
        };
        add(vec![custom("level", AttributeDataType::Number)
            .number_attribute_constraints(
                NumberAttributeConstraintsType::builder().min_value("1").max_value("9").build(),
            )
            .build()])
        .await
        .unwrap();
        let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
        let schema = described.user_pool().unwrap().schema_attributes();
        let level = schema.iter().find(|a| a.name() == Some("custom:level")).expect("custom: prefix added");
        assert_eq!(level.attribute_data_type(), Some(&AttributeDataType::Number));
        assert_eq!(level.mutable(), Some(true));
        assert_eq!(level.number_attribute_constraints().and_then(|c| c.max_value()), Some("9"));

        // The new attribute is usable at once (the pool cache was refreshed).
        let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
        env.sign_up(&client_id, "cat").await.unwrap();
        admin_update(env, &pool, "cat", &[("custom:level", "3")]).await.unwrap();
        let e = admin_update(env, &pool, "cat", &[("custom:level", "10")]).await.unwrap_err();
        assert!(e.ends_with("custom:level: Number must be no greater than 9"), "{e}");

        let e =
            add(vec![custom("team", AttributeDataType::String).build()]).await.map_err(err_name).unwrap_err();
        assert_eq!(e, "InvalidParameterException: Existing attribute already has name custom:team.");
        let e = add(vec![
            custom("dup", AttributeDataType::String).build(),
            custom("dup", AttributeDataType::String).build(),
        ])
        .await
        .map_err(err_name)
        .unwrap_err();
        assert_eq!(e, "InvalidParameterException: Existing attribute already has name custom:dup.");
        let e = add(vec![custom("must", AttributeDataType::String).required(true).build()])
            .await
            .map_err(err_name)
            .unwrap_err();
        assert_eq!(
        e,
        "InvalidParameterException: Required custom attributes are not supported currently. Attribute: must"
    );
        let e = add(vec![custom("long", AttributeDataType::String)
            .string_attribute_constraints(
                StringAttributeConstraintsType::builder().max_length("2049").build(),
            )
            .build()])
        .await
        .map_err(err_name)
        .unwrap_err();
        assert!(e.starts_with("InvalidParameterException: Invalid StringAttributeConstraints"), "{e}");

        // 2 exist; 23 more reach the configured limit of 25 (the 2019 guide's); one more is refused.
        let more: Vec<SchemaAttributeType> =
            (0..23).map(|i| custom(&format!("a{i}"), AttributeDataType::String).build()).collect();
        add(more).await.unwrap();
        let e =
            add(vec![custom("over", AttributeDataType::String).build()]).await.map_err(err_name).unwrap_err();
        assert_eq!(e, "InvalidParameterException: A user pool can have at most 25 custom attributes.");
        let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
        let customs = described
            .user_pool()
            .unwrap()
            .schema_attributes()
            .iter()
            .filter(|a| a.name().is_some_and(|n| n.starts_with("custom:")))
            .count();
        assert_eq!(customs, 25);
    }
);

on_both_stores!(clients_read_only_their_readable_attributes, |env| {
    let pool = env.pool(|b| b.schema(custom("tier", AttributeDataType::String).build())).await;
    let (default_client, _) = env.app_client(&pool, FLOWS, false).await;
    let listed = client_with(env, &pool, Some(&["email", "custom:tier"]), None).await.unwrap();
    user_in(env, &pool, &default_client, "dee", &[("email", "dee@example.com"), ("name", "Dee")]).await;
    admin_update(env, &pool, "dee", &[("custom:tier", "gold"), ("email_verified", "true")]).await.unwrap();

    let t = env.password_sign_in(&default_client, "dee", PASSWORD).await.unwrap();
    let me = env.client.get_user().access_token(t.access_token().unwrap()).send().await.unwrap();
    let names: Vec<&str> = me.user_attributes().iter().map(|a| a.name()).collect();
    for n in ["sub", "email", "email_verified", "name"] {
        assert!(names.contains(&n), "{n} readable by default: {names:?}");
    }
    assert!(!names.contains(&"custom:tier"), "custom attributes only when listed");
    let id = payload(t.id_token().unwrap());
    assert_eq!(id["email"], "dee@example.com");
    assert_eq!(id["email_verified"], true);
    assert!(id.get("custom:tier").is_none(), "{id}");

    let t = env.password_sign_in(&listed, "dee", PASSWORD).await.unwrap();
    let me = env.client.get_user().access_token(t.access_token().unwrap()).send().await.unwrap();
    let mut names: Vec<&str> = me.user_attributes().iter().map(|a| a.name()).collect();
    names.sort();
    assert_eq!(names, ["custom:tier", "email", "sub"]);
    let id = payload(t.id_token().unwrap());
    assert_eq!(id["custom:tier"], "gold");
    assert!(id.get("name").is_none() && id.get("email_verified").is_none(), "{id}");
    assert!(id.get("sub").is_some() && id.get("cognito:username").is_some());
    // Admin reads are not limited by any client.
    assert_eq!(attrs_of(env, &pool, "dee").await["name"], "Dee");
});

on_both_stores!(describe_user_pool_client_shows_lists_only_when_set, |env| {
    let pool = env.pool(|b| b.schema(custom("tier", AttributeDataType::String).build())).await;
    let (plain, _) = env.app_client(&pool, FLOWS, false).await;
    let d =
        env.client.describe_user_pool_client().user_pool_id(&pool).client_id(&plain).send().await.unwrap();
    let c = d.user_pool_client().unwrap();
    assert!(c.read_attributes().is_empty() && c.write_attributes().is_empty());
    let listed =
        client_with(env, &pool, Some(&["email", "custom:tier"]), Some(&["custom:tier"])).await.unwrap();
    let d =
        env.client.describe_user_pool_client().user_pool_id(&pool).client_id(&listed).send().await.unwrap();
    let c = d.user_pool_client().unwrap();
    assert_eq!(c.read_attributes(), ["email", "custom:tier"]);
    assert_eq!(c.write_attributes(), ["custom:tier"]);
    // UpdateUserPoolClient without the lists returns the client to the defaults.
    env.client.update_user_pool_client().user_pool_id(&pool).client_id(&listed).send().await.unwrap();
    let d =
        env.client.describe_user_pool_client().user_pool_id(&pool).client_id(&listed).send().await.unwrap();
    assert!(d.user_pool_client().unwrap().read_attributes().is_empty());
});

on_both_stores!(client_lists_are_checked_against_the_pool, |env| {
    let pool = env
        .pool(|b| {
            b.schema(
                SchemaAttributeType::builder()
                    .name("email")
                    .attribute_data_type(AttributeDataType::String)
                    .required(true)
                    .build(),
            )
            .schema(custom("tier", AttributeDataType::String).build())
        })
        .await;
    let e = client_with(env, &pool, Some(&["email", "custom:nope"]), None).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid read attributes specified while creating a client");
    let e = client_with(env, &pool, None, Some(&["custom:nope", "email"])).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid write attributes specified while creating a client");
    let e = client_with(env, &pool, None, Some(&["name"])).await.unwrap_err();
    assert!(
        e.starts_with(
            "InvalidParameterException: Invalid write attributes specified while creating a client"
        ),
        "{e}"
    );
    assert!(e.contains("required") && e.contains("email"), "{e}");
    let ok =
        client_with(env, &pool, Some(&["email_verified", "custom:tier"]), Some(&["email", "custom:tier"]))
            .await
            .unwrap();
    let e = env
        .client
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&ok)
        .write_attributes("custom:tier")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(
        e.starts_with(
            "InvalidParameterException: Invalid write attributes specified while updating a client"
        ),
        "{e}"
    );
});

on_both_stores!(writing_unwritable_attributes_is_not_authorized, |env| {
    let pool = env.pool(|b| b.schema(custom("tier", AttributeDataType::String).build())).await;
    let (default_client, _) = env.app_client(&pool, FLOWS, false).await;
    let unauthorized = "NotAuthorizedException: A client attempted to write unauthorized attribute";
    // SignUp through a client that cannot write the attribute.
    let e = env
        .client
        .sign_up()
        .client_id(&default_client)
        .username("eve")
        .password(PASSWORD)
        .user_attributes(attr("custom:tier", "gold"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, unauthorized);
    let token = user_in(env, &pool, &default_client, "eve", &[("name", "Eve")]).await;
    assert_eq!(update(env, &token, &[("custom:tier", "gold")]).await.unwrap_err(), unauthorized);
    assert_eq!(delete(env, &token, &["custom:tier"]).await.unwrap_err(), unauthorized);
    update(env, &token, &[("name", "Eve Adams"), ("locale", "en")]).await.unwrap();

    let tier_only = client_with(env, &pool, None, Some(&["custom:tier"])).await.unwrap();
    let t = env.password_sign_in(&tier_only, "eve", PASSWORD).await.unwrap();
    let token = t.access_token().unwrap();
    assert_eq!(update(env, token, &[("name", "E")]).await.unwrap_err(), unauthorized);
    assert_eq!(
        update(env, token, &[("custom:tier", "gold"), ("name", "E")]).await.unwrap_err(),
        unauthorized,
        "all or nothing"
    );
    update(env, token, &[("custom:tier", "gold")]).await.unwrap();
    let a = attrs_of(env, &pool, "eve").await;
    assert_eq!(
        (a["custom:tier"].as_str(), a["name"].as_str(), a["locale"].as_str()),
        ("gold", "Eve Adams", "en")
    );
    delete(env, token, &["custom:tier"]).await.unwrap();
    assert!(!attrs_of(env, &pool, "eve").await.contains_key("custom:tier"));
});

on_both_stores!(only_admins_set_verified_flags, |env| {
    let pool = env.pool(|b| b.auto_verified_attributes(cip::types::VerifiedAttributeType::Email)).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    let unauthorized = "NotAuthorizedException: A client attempted to write unauthorized attribute";
    let e = env
        .client
        .sign_up()
        .client_id(&client_id)
        .username("fay")
        .password(PASSWORD)
        .user_attributes(attr("email", "fay@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, unauthorized);
    let token = user_in(env, &pool, &client_id, "fay", &[("email", "fay@example.com")]).await;
    assert_eq!(attrs_of(env, &pool, "fay").await.get("email_verified"), None);
    for flag in ["email_verified", "phone_number_verified"] {
        assert_eq!(update(env, &token, &[(flag, "true")]).await.unwrap_err(), unauthorized);
    }
    admin_update(env, &pool, "fay", &[("email_verified", "true")]).await.unwrap();
    assert_eq!(attrs_of(env, &pool, "fay").await["email_verified"], "true");
    let e = admin_update(env, &pool, "fay", &[("email_verified", "yes")]).await.unwrap_err();
    assert!(e.ends_with("email_verified: Boolean expected (true or false)"), "{e}");
    // An admin changing the email with the flag in the same call keeps it verified, no code.
    let before = env.messages_to("fay2@example.com").len();
    admin_update(env, &pool, "fay", &[("email", "fay2@example.com"), ("email_verified", "true")])
        .await
        .unwrap();
    assert_eq!(attrs_of(env, &pool, "fay").await["email_verified"], "true");
    assert_eq!(env.messages_to("fay2@example.com").len(), before);
    // Without the flag the new email is unverified and, auto-verified, gets a code.
    admin_update(env, &pool, "fay", &[("email", "fay3@example.com")]).await.unwrap();
    let a = attrs_of(env, &pool, "fay").await;
    assert_eq!((a["email"].as_str(), a["email_verified"].as_str()), ("fay3@example.com", "false"));
    assert_eq!(env.messages_to("fay3@example.com").len(), 1);
});

on_both_stores!(changing_email_unverifies_and_sends_a_code, |env| {
    let (pool, client_id, token) = email_user(env, "gil@example.com").await;
    let out = update(env, &token, &[("email", "gil.new@example.com")]).await.unwrap();
    let d = out.code_delivery_details_list();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].destination(), Some("g***@e***"));
    assert_eq!(d[0].delivery_medium(), Some(&cip::types::DeliveryMediumType::Email));
    assert_eq!(d[0].attribute_name(), Some("email"));
    let a = attrs_of(env, &pool, "gil.new@example.com").await;
    assert_eq!(a["email_verified"], "false");
    let code = env.last_code("gil.new@example.com");
    assert_eq!(code.len(), 6);

    // The new email is the sign-in name at once (email is the username); the old one is gone.
    let e = env.password_sign_in(&client_id, "gil@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    let e = verify(env, &token, "email", other_code(&code)).await.unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid verification code provided, please try again.");
    verify(env, &token, "email", &code).await.unwrap();
    assert_eq!(attrs_of(env, &pool, "gil.new@example.com").await["email_verified"], "true");
    let e = verify(env, &token, "email", &code).await.unwrap_err();
    assert!(e.starts_with("CodeMismatchException"), "single use: {e}");
    let t = env.password_sign_in(&client_id, "gil.new@example.com", PASSWORD).await.unwrap();
    assert_eq!(payload(t.id_token().unwrap())["email"], "gil.new@example.com");

    // Setting the same value again changes nothing and sends nothing.
    let out = update(env, &token, &[("email", "gil.new@example.com")]).await.unwrap();
    assert!(out.code_delivery_details_list().is_empty());
    assert_eq!(attrs_of(env, &pool, "gil.new@example.com").await["email_verified"], "true");
});

on_both_stores!(verification_codes_expire_and_lock, |env| {
    let (pool, client_id, token) = email_user(env, "hal@example.com").await;
    let out = env
        .client
        .get_user_attribute_verification_code()
        .access_token(&token)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    assert_eq!(out.code_delivery_details().and_then(|d| d.attribute_name()), Some("email"));
    let code = env.last_code("hal@example.com");
    env.clock.advance_secs(24 * 3600 + 1);
    let token = env.password_sign_in(&client_id, "hal@example.com", PASSWORD).await.unwrap();
    let token = token.access_token().unwrap();
    let e = verify(env, token, "email", &code).await.unwrap_err();
    assert_eq!(e, "ExpiredCodeException: Invalid code provided, please request a code again.");

    env.client
        .get_user_attribute_verification_code()
        .access_token(token)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    let code = env.last_code("hal@example.com");
    for _ in 0..5 {
        let e = verify(env, token, "email", other_code(&code)).await.unwrap_err();
        assert!(e.starts_with("CodeMismatchException"), "{e}");
    }
    let e = verify(env, token, "email", &code).await.unwrap_err();
    assert_eq!(e, "LimitExceededException: Attempt limit exceeded, please try after some time.");

    let e = env
        .client
        .get_user_attribute_verification_code()
        .access_token(token)
        .attribute_name("phone_number")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: The user has no phone_number to verify.");
    let e = verify(env, token, "name", "123456").await.unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Invalid attribute name: name"), "{e}");
    assert_eq!(attrs_of(env, &pool, "hal@example.com").await["email_verified"], "true");
});

on_both_stores!(phone_numbers_verify_by_sms, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    let token = user_in(env, &pool, &client_id, "ivy", &[]).await;
    let e = update(env, &token, &[("phone_number", "555 0100")]).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid phone number format.");
    let out = update(env, &token, &[("phone_number", "+15555550100")]).await.unwrap();
    assert!(out.code_delivery_details_list().is_empty(), "the pool does not auto-verify phones");
    assert_eq!(attrs_of(env, &pool, "ivy").await["phone_number_verified"], "false");
    let out = env
        .client
        .get_user_attribute_verification_code()
        .access_token(&token)
        .attribute_name("phone_number")
        .send()
        .await
        .unwrap();
    let d = out.code_delivery_details().unwrap();
    assert_eq!(d.delivery_medium(), Some(&cip::types::DeliveryMediumType::Sms));
    assert_eq!(d.destination(), Some("+*******0100"));
    verify(env, &token, "phone_number", &env.last_code("+15555550100")).await.unwrap();
    assert_eq!(attrs_of(env, &pool, "ivy").await["phone_number_verified"], "true");
    // Changing the number again drops the verification, and any code sent for the old one.
    update(env, &token, &[("phone_number", "+15555550101")]).await.unwrap();
    assert_eq!(attrs_of(env, &pool, "ivy").await["phone_number_verified"], "false");
});

on_both_stores!(required_attributes_cannot_be_removed, |env| {
    let pool = env
        .pool(|b| {
            b.schema(
                SchemaAttributeType::builder()
                    .name("name")
                    .attribute_data_type(AttributeDataType::String)
                    .required(true)
                    .build(),
            )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    let e = env.sign_up(&client_id, "jo").await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Attributes did not conform to the schema: name: The attribute is required");
    let token = user_in(env, &pool, &client_id, "jo", &[("name", "Jo"), ("locale", "fr")]).await;
    let required = "InvalidParameterException: Attributes did not conform to the schema: name: The attribute is required";
    assert_eq!(delete(env, &token, &["name"]).await.unwrap_err(), required);
    assert_eq!(update(env, &token, &[("name", "")]).await.unwrap_err(), required);
    let e = env
        .client
        .admin_delete_user_attributes()
        .user_pool_id(&pool)
        .username("jo")
        .user_attribute_names("name")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, required);
    // Optional ones go, by DeleteUserAttributes or an empty value.
    delete(env, &token, &["locale"]).await.unwrap();
    update(env, &token, &[("website", "https://jo.example"), ("nickname", "j")]).await.unwrap();
    update(env, &token, &[("nickname", "")]).await.unwrap();
    env.client
        .admin_delete_user_attributes()
        .user_pool_id(&pool)
        .username("jo")
        .user_attribute_names("website")
        .send()
        .await
        .unwrap();
    let a = attrs_of(env, &pool, "jo").await;
    assert_eq!(a.keys().map(String::as_str).collect::<Vec<_>>(), ["name", "sub"]);
});

on_both_stores!(values_are_limited_to_2048_bytes, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    let token = user_in(env, &pool, &client_id, "kit", &[]).await;
    update(env, &token, &[("name", &"é".repeat(1024))]).await.unwrap();
    let e = update(env, &token, &[("name", &"é".repeat(1025))]).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Attributes did not conform to the schema: name: String must be no longer than 2048 characters");
    let e = update(env, &token, &[("email", "not an email")]).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid email address format.");
});

on_both_stores!(email_username_changes_stay_unique, |env| {
    let (pool, client_id, token) = email_user(env, "lee@example.com").await;
    env.confirmed_user(&client_id, "max@example.com").await;
    let e = update(env, &token, &[("email", "max@example.com")]).await.unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given email already exists.");
    let e = admin_update(env, &pool, "lee@example.com", &[("email", "max@example.com")]).await.unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given email already exists.");
    assert_eq!(attrs_of(env, &pool, "lee@example.com").await["email"], "lee@example.com", "nothing changed");
    let e = delete(env, &token, &["email"]).await.unwrap_err();
    assert!(e.starts_with("InvalidParameterException") && e.contains("sign-in name"), "{e}");
    // A free address becomes the new sign-in name.
    update(env, &token, &[("email", "lee2@example.com")]).await.unwrap();
    env.password_sign_in(&client_id, "lee2@example.com", PASSWORD).await.unwrap();
    // The old address is free again.
    env.confirmed_user(&client_id, "lee@example.com").await;
});

async fn alias_pool(env: &TestEnv) -> (String, String) {
    let pool = env
        .pool(|b| {
            b.alias_attributes(cip::types::AliasAttributeType::Email)
                .alias_attributes(cip::types::AliasAttributeType::PreferredUsername)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    (pool, client_id)
}

on_both_stores!(preferred_username_alias_rules, |env| {
    let (pool, client_id) = alias_pool(env).await;
    let e = env
        .client
        .sign_up()
        .client_id(&client_id)
        .username("nia")
        .password(PASSWORD)
        .user_attributes(attr("preferred_username", "nini"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(
        e.starts_with(
            "InvalidParameterException: Attributes did not conform to the schema: preferred_username:"
        ),
        "{e}"
    );
    let nia = user_in(env, &pool, &client_id, "nia", &[]).await;
    let oz = user_in(env, &pool, &client_id, "oz", &[]).await;
    update(env, &nia, &[("preferred_username", "nini")]).await.unwrap();
    let t = env.password_sign_in(&client_id, "nini", PASSWORD).await.unwrap();
    assert_eq!(payload(t.id_token().unwrap())["cognito:username"], "nia");
    let e = update(env, &oz, &[("preferred_username", "nini")]).await.unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given preferred_username already exists.");
    let e = update(env, &oz, &[("preferred_username", "nia")]).await.unwrap_err();
    assert_eq!(
        e, "AliasExistsException: An account with the given preferred_username already exists.",
        "another user's username"
    );
    // Changing it frees the old value.
    update(env, &nia, &[("preferred_username", "nina")]).await.unwrap();
    update(env, &oz, &[("preferred_username", "nini")]).await.unwrap();
    let t = env.password_sign_in(&client_id, "nini", PASSWORD).await.unwrap();
    assert_eq!(payload(t.id_token().unwrap())["cognito:username"], "oz");
});

on_both_stores!(verifying_an_email_another_user_holds_fails, |env| {
    let (pool, client_id) = alias_pool(env).await;
    let shared = "pat@example.com";
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("pat")
        .password(PASSWORD)
        .user_attributes(attr("email", shared))
        .send()
        .await
        .unwrap();
    env.confirm(&client_id, "pat", &env.last_code(shared)).await.unwrap();
    let quinn = user_in(env, &pool, &client_id, "quinn", &[("email", "quinn@example.com")]).await;
    // Taking the address as an unverified email is allowed…
    let out = update(env, &quinn, &[("email", shared)]).await.unwrap();
    assert_eq!(out.code_delivery_details_list().len(), 1);
    // …verifying it is not.
    let e = verify(env, &quinn, "email", &env.last_code(shared)).await.unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given email already exists.");
    assert_eq!(attrs_of(env, &pool, "quinn").await["email_verified"], "false");
    let who = env.client.admin_get_user().user_pool_id(&pool).username(shared).send().await.unwrap();
    assert_eq!(who.username(), "pat");
    // An admin cannot mark it verified either.
    let e = admin_update(env, &pool, "quinn", &[("email_verified", "true")]).await.unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given email already exists.");
});

on_both_stores!(verification_before_update_keeps_the_old_value, |env| {
    let pool = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .user_attribute_update_settings(
                    cip::types::UserAttributeUpdateSettingsType::builder()
                        .attributes_require_verification_before_update(
                            cip::types::VerifiedAttributeType::Email,
                        )
                        .build(),
                )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.confirmed_user(&client_id, "ray@example.com").await;
    env.confirmed_user(&client_id, "sam@example.com").await;
    let t = env.password_sign_in(&client_id, "ray@example.com", PASSWORD).await.unwrap();
    let token = t.access_token().unwrap();
    let e = update(env, token, &[("email", "sam@example.com")]).await.unwrap_err();
    assert_eq!(
        e, "AliasExistsException: An account with the given email already exists.",
        "checked before the code"
    );
    assert_eq!(env.messages_to("sam@example.com").len(), 1, "only sam's own sign-up code");
    let out = update(env, token, &[("email", "ray.new@example.com"), ("name", "Ray")]).await.unwrap();
    assert_eq!(out.code_delivery_details_list().len(), 1);
    // The old, verified address stays until the new one is verified; other attributes change.
    let a = attrs_of(env, &pool, "ray@example.com").await;
    assert_eq!(
        (a["email"].as_str(), a["email_verified"].as_str(), a["name"].as_str()),
        ("ray@example.com", "true", "Ray")
    );
    env.password_sign_in(&client_id, "ray@example.com", PASSWORD).await.unwrap();
    let e = env.password_sign_in(&client_id, "ray.new@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    // Setting the current address again withdraws the change; its code no longer works.
    let withdrawn = env.last_code("ray.new@example.com");
    update(env, token, &[("email", "ray@example.com")]).await.unwrap();
    let e = verify(env, token, "email", &withdrawn).await.unwrap_err();
    assert!(e.starts_with("CodeMismatchException"), "{e}");
    update(env, token, &[("email", "ray.new@example.com")]).await.unwrap();
    // A resent code goes to the pending address too.
    env.client
        .get_user_attribute_verification_code()
        .access_token(token)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    assert_eq!(env.messages_to("ray.new@example.com").len(), 3);
    verify(env, token, "email", &env.last_code("ray.new@example.com")).await.unwrap();
    let a = attrs_of(env, &pool, "ray.new@example.com").await;
    assert_eq!((a["email"].as_str(), a["email_verified"].as_str()), ("ray.new@example.com", "true"));
    let e = env.password_sign_in(&client_id, "ray@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    // An admin setting the flag in the same call skips the wait.
    admin_update(
        env,
        &pool,
        "ray.new@example.com",
        &[("email", "ray3@example.com"), ("email_verified", "true")],
    )
    .await
    .unwrap();
    env.password_sign_in(&client_id, "ray3@example.com", PASSWORD).await.unwrap();
});

on_both_stores!(verification_before_update_needs_auto_verification, |env| {
    let settings = cip::types::UserAttributeUpdateSettingsType::builder()
        .attributes_require_verification_before_update(cip::types::VerifiedAttributeType::Email)
        .build();
    let e = env
        .client
        .create_user_pool()
        .pool_name(unique("pool"))
        .user_attribute_update_settings(settings.clone())
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: AttributesRequireVerificationBeforeUpdate"), "{e}");
    let pool = env.pool(|b| b).await;
    let e = env
        .client
        .update_user_pool()
        .user_pool_id(&pool)
        .user_attribute_update_settings(settings.clone())
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.contains("email is not in AutoVerifiedAttributes"), "{e}");
    env.client
        .update_user_pool()
        .user_pool_id(&pool)
        .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        .user_attribute_update_settings(settings)
        .send()
        .await
        .unwrap();
});

on_both_stores!(boolean_values_are_case_insensitive_and_stored_lowercase, |env| {
    let pool = env
        .pool(|b| {
            b.schema(custom("vip", AttributeDataType::Boolean).build()).account_recovery_setting(
                cip::types::AccountRecoverySettingType::builder()
                    .recovery_mechanisms(
                        cip::types::RecoveryOptionType::builder()
                            .name(cip::types::RecoveryOptionNameType::VerifiedEmail)
                            .priority(1)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;

    // AdminCreateUser with Python's str(True): the email counts as verified, so a reset code
    // goes to it.
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("tia")
        .user_attributes(attr("email", "tia@example.com"))
        .user_attributes(attr("email_verified", "True"))
        .user_attributes(attr("custom:vip", "TRUE"))
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .map_err(err_name)
        .unwrap();
    let a = attrs_of(env, &pool, "tia").await;
    assert_eq!((a["email_verified"].as_str(), a["custom:vip"].as_str()), ("true", "true"));
    env.client
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("tia")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let out = env.client.forgot_password().client_id(&client_id).username("tia").send().await.unwrap();
    let delivery = out.code_delivery_details().unwrap();
    assert_eq!(delivery.delivery_medium(), Some(&cip::types::DeliveryMediumType::Email));
    assert_eq!(delivery.attribute_name(), Some("email"));
    assert_eq!(env.messages_to("tia@example.com").len(), 1);
    assert_eq!(env.last_code("tia@example.com").len(), 6);

    // AdminUpdateUserAttributes, both flags and the custom Boolean.
    admin_update(env, &pool, "tia", &[("email_verified", "FALSE"), ("custom:vip", "False")]).await.unwrap();
    let a = attrs_of(env, &pool, "tia").await;
    assert_eq!((a["email_verified"].as_str(), a["custom:vip"].as_str()), ("false", "false"));
    admin_update(env, &pool, "tia", &[("phone_number", "+15555550100"), ("phone_number_verified", "tRUE")])
        .await
        .unwrap();
    assert_eq!(attrs_of(env, &pool, "tia").await["phone_number_verified"], "true");
    // A new email with its flag set in the same call stays verified and sends no code.
    admin_update(env, &pool, "tia", &[("email", "tia2@example.com"), ("email_verified", "True")])
        .await
        .unwrap();
    let a = attrs_of(env, &pool, "tia").await;
    assert_eq!((a["email"].as_str(), a["email_verified"].as_str()), ("tia2@example.com", "true"));
    assert!(env.messages_to("tia2@example.com").is_empty());

    // SignUp and UpdateUserAttributes, for a custom Boolean the client may write.
    let writer = client_with(env, &pool, None, Some(&["email", "custom:vip"])).await.unwrap();
    let token = user_in(env, &pool, &writer, "uma", &[("custom:vip", "False")]).await;
    assert_eq!(attrs_of(env, &pool, "uma").await["custom:vip"], "false");
    update(env, &token, &[("custom:vip", "TRUE")]).await.unwrap();
    assert_eq!(attrs_of(env, &pool, "uma").await["custom:vip"], "true");

    // Anything but true/false in some case is still refused.
    for bad in ["yes", "1", "truee", " true"] {
        let e = admin_update(env, &pool, "tia", &[("custom:vip", bad)]).await.unwrap_err();
        assert_eq!(
            e,
            "InvalidParameterException: Attributes did not conform to the schema: custom:vip: Boolean expected (true or false)"
        );
        let e = admin_update(env, &pool, "tia", &[("email_verified", bad)]).await.unwrap_err();
        assert!(e.ends_with("email_verified: Boolean expected (true or false)"), "{e}");
    }
});
