//! ListUsers: the filter grammar, sorting, AttributesToGet, pagination.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;

/// Signs up `username` with attributes in a plain-username pool; confirms when asked.
async fn user(
    env: &TestEnv,
    pool: &str,
    client_id: &str,
    username: &str,
    attrs: &[(&str, &str)],
    confirm: bool,
) {
    let mut b = env.client.sign_up().client_id(client_id).username(username).password(PASSWORD);
    for (n, v) in attrs {
        b = b.user_attributes(attr(n, v));
    }
    b.send().await.unwrap();
    if confirm {
        env.client.admin_confirm_sign_up().user_pool_id(pool).username(username).send().await.unwrap();
    }
}

async fn list(env: &TestEnv, pool: &str, filter: &str) -> Result<Vec<String>, String> {
    env.client
        .list_users()
        .user_pool_id(pool)
        .filter(filter)
        .send()
        .await
        .map(|o| o.users().iter().map(|u| u.username().unwrap_or_default().to_string()).collect())
        .map_err(err_name)
}

on_both_stores!(list_users_filters_by_each_searchable_attribute, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    user(
        env,
        &pool,
        &client_id,
        "zed",
        &[("family_name", "Reddy"), ("given_name", "Zed"), ("phone_number", "+13125550100")],
        true,
    )
    .await;
    user(
        env,
        &pool,
        &client_id,
        "amy",
        &[("family_name", "Reddy"), ("given_name", "Amy"), ("phone_number", "+14155550100")],
        true,
    )
    .await;
    user(
        env,
        &pool,
        &client_id,
        "bob",
        &[("family_name", "Reddyson"), ("name", "Bob B"), ("email", "bob@example.com")],
        false,
    )
    .await;
    user(
        env,
        &pool,
        &client_id,
        "Carl",
        &[("family_name", "reddy"), ("preferred_username", "carlito")],
        true,
    )
    .await;

    // Exact match is case-sensitive; results sort by the attribute, then username.
    assert_eq!(list(env, &pool, r#"family_name = "Reddy""#).await.unwrap(), ["amy", "zed"]);
    assert_eq!(list(env, &pool, r#"family_name ^= "Reddy""#).await.unwrap(), ["amy", "zed", "bob"]);
    assert_eq!(list(env, &pool, r#"given_name ^= "Z""#).await.unwrap(), ["zed"]);
    assert_eq!(list(env, &pool, r#"phone_number ^= "+1312""#).await.unwrap(), ["zed"]);
    assert_eq!(list(env, &pool, r#"email = "bob@example.com""#).await.unwrap(), ["bob"]);
    assert_eq!(list(env, &pool, r#"name = "Bob B""#).await.unwrap(), ["bob"]);
    assert_eq!(list(env, &pool, r#"preferred_username = "carlito""#).await.unwrap(), ["Carl"]);
    assert_eq!(list(env, &pool, r#"username = "Carl""#).await.unwrap(), ["Carl"]);
    assert!(list(env, &pool, r#"username = "carl""#).await.unwrap().is_empty(), "username is case-sensitive");
    // cognito:user_status is case-insensitive; status (Enabled/Disabled) is not.
    assert_eq!(list(env, &pool, r#"cognito:user_status = "unconfirmed""#).await.unwrap(), ["bob"]);
    assert_eq!(
        list(env, &pool, r#"cognito:user_status = "CONFIRMED""#).await.unwrap(),
        ["Carl", "amy", "zed"]
    );
    assert_eq!(list(env, &pool, r#"status = "Enabled""#).await.unwrap().len(), 4);
    assert!(list(env, &pool, r#"status = "enabled""#).await.unwrap().is_empty());
    let bob = env.client.admin_get_user().user_pool_id(&pool).username("bob").send().await.unwrap();
    let sub =
        bob.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).unwrap().to_string();
    assert_eq!(list(env, &pool, &format!("sub = \"{sub}\"")).await.unwrap(), ["bob"]);
    // Escaped quotes in the value, and the empty filter listing everyone by username.
    assert!(list(env, &pool, r#"name = "Bob \"B\"""#).await.unwrap().is_empty());
    assert_eq!(list(env, &pool, "").await.unwrap(), ["Carl", "amy", "bob", "zed"]);

    for bad in
        [r#"custom:tier = "gold""#, r#"locale = "en""#, r#"family_name ~ "R""#, r#"family_name = Reddy"#]
    {
        let e = list(env, &pool, bad).await.unwrap_err();
        assert!(e.starts_with("InvalidParameterException: "), "{bad}: {e}");
    }
});

on_both_stores!(list_users_follows_attribute_changes_and_deletions, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    user(env, &pool, &client_id, "ann", &[("given_name", "Ann")], false).await;
    assert_eq!(list(env, &pool, r#"cognito:user_status = "UNCONFIRMED""#).await.unwrap(), ["ann"]);
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("ann").send().await.unwrap();
    assert!(list(env, &pool, r#"cognito:user_status = "UNCONFIRMED""#).await.unwrap().is_empty());
    assert_eq!(list(env, &pool, r#"cognito:user_status = "CONFIRMED""#).await.unwrap(), ["ann"]);
    env.client.admin_delete_user().user_pool_id(&pool).username("ann").send().await.unwrap();
    assert!(list(env, &pool, r#"given_name = "Ann""#).await.unwrap().is_empty());
    assert!(list(env, &pool, "").await.unwrap().is_empty());
});

on_both_stores!(list_users_attributes_to_get_and_user_type, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    user(env, &pool, &client_id, "ann", &[("given_name", "Ann"), ("email", "ann@example.com")], true).await;
    let out = env.client.list_users().user_pool_id(&pool).attributes_to_get("email").send().await.unwrap();
    let u = &out.users()[0];
    let names: Vec<&str> = u.attributes().iter().map(|a| a.name()).collect();
    assert_eq!(names, ["email"]);
    assert_eq!(u.user_status(), Some(&cip::types::UserStatusType::Confirmed));
    assert!(u.enabled());
    assert!(u.user_create_date().is_some() && u.user_last_modified_date().is_some());
    assert!(out.pagination_token().is_none());
    let all = env.client.list_users().user_pool_id(&pool).send().await.unwrap();
    let names: Vec<&str> = all.users()[0].attributes().iter().map(|a| a.name()).collect();
    assert!(names.contains(&"given_name") && names.contains(&"sub") && names.contains(&"email"));
    let e = env.client.list_users().user_pool_id("us-east-1_Nope12345").send().await.map_err(err_name);
    assert!(e.unwrap_err().starts_with("ResourceNotFoundException: "));
});

on_both_stores!(list_users_pages_stably_while_users_are_added, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    for name in ["u1", "u3", "u5", "u7", "u9"] {
        user(env, &pool, &client_id, name, &[("family_name", "Lee")], false).await;
    }
    let page = |token: Option<String>| {
        let b = env.client.list_users().user_pool_id(&pool).filter(r#"family_name = "Lee""#).limit(2);
        async move {
            let out = b.set_pagination_token(token).send().await.unwrap();
            let names: Vec<String> = out.users().iter().map(|u| u.username().unwrap().to_string()).collect();
            (names, out.pagination_token().map(str::to_string))
        }
    };
    let (first, token) = page(None).await;
    assert_eq!(first, ["u1", "u3"]);
    // Users added before and after the cursor: earlier ones are not repeated, later ones appear.
    user(env, &pool, &client_id, "u0", &[("family_name", "Lee")], false).await;
    user(env, &pool, &client_id, "u4", &[("family_name", "Lee")], false).await;
    let (second, token) = page(token).await;
    assert_eq!(second, ["u4", "u5"]);
    let (third, token) = page(token).await;
    assert_eq!(third, ["u7", "u9"]);
    if let Some(t) = token {
        let (rest, end) = page(Some(t)).await;
        assert!(rest.is_empty() && end.is_none());
    }
    // A token only goes with the same filter attribute.
    let (_, token) = page(None).await;
    let e = env
        .client
        .list_users()
        .user_pool_id(&pool)
        .filter(r#"given_name = "Lee""#)
        .set_pagination_token(token)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid pagination token.");
});
