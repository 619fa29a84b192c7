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

/// Counts the reads a store serves.
struct CountingStore {
    inner: tessera_local::embedded::EmbeddedStore,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl tessera_core::store::Store for CountingStore {
    async fn get(
        &self,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<tessera_core::store::Item>, tessera_core::store::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(pk, sk, now).await
    }
    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<tessera_core::store::Page, tessera_core::store::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.query(pk, prefix, start, limit, now).await
    }
    async fn transact(
        &self,
        writes: Vec<tessera_core::store::Write>,
        now: i64,
    ) -> Result<(), tessera_core::store::StoreError> {
        self.inner.transact(writes, now).await
    }
}

/// Store reads of one filtered ListUsers in a pool of `n` users (every 10th named "Lee").
async fn reads_for_pool_of(n: usize) -> usize {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use tessera_core::ports::{AesGcmCipher, SystemClock, SystemRng};
    use tessera_core::user_pool;
    let dir = std::env::temp_dir().join(unique("tessera-reads-"));
    let _cleanup = TempDir(dir.clone());
    let store = Arc::new(CountingStore {
        inner: tessera_local::embedded::EmbeddedStore::open(&dir).unwrap(),
        reads: Default::default(),
    });
    let svc = tessera_core::Service::new(
        store.clone(),
        Arc::new(tessera_local::outbox::Outbox::new(&dir)),
        Arc::new(SystemClock),
        Arc::new(SystemRng),
        Arc::new(AesGcmCipher::new(&[7u8; 32]).unwrap()),
        // No pool cache, so every call reads the pool once: the count is deterministic.
        tessera_core::ServiceConfig { pool_cache_ttl_ms: 0, ..Default::default() },
    );
    let made = user_pool::create_user_pool(&svc, &serde_json::json!({"PoolName": "p"})).await.unwrap();
    let pool = svc.pool(made["UserPool"]["Id"].as_str().unwrap()).await.unwrap();
    for i in 0..n {
        let family = if i.is_multiple_of(10) { "Lee" } else { "Other" };
        let user: tessera_core::model::User = serde_json::from_value(serde_json::json!({
            "username": format!("user{i:05}"), "sub": format!("sub-{i}"),
            "attributes": {"family_name": family, "sub": format!("sub-{i}")},
            "status": "CONFIRMED", "enabled": true, "created": 0, "modified": 0,
            "password_hash": null, "srp": null,
        }))
        .unwrap();
        svc.insert_user(&pool, &user, vec![]).await.unwrap();
    }
    let before = store.reads.load(Ordering::SeqCst);
    let input = serde_json::json!({"UserPoolId": pool.id, "Filter": "family_name = \"Lee\"", "Limit": 5});
    let out = user_pool::list_users(&svc, &input).await.unwrap();
    assert_eq!(out["Users"].as_array().unwrap().len(), 5);
    store.reads.load(Ordering::SeqCst) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_reads_do_not_grow_with_the_pool() {
    let small = reads_for_pool_of(60).await;
    let large = reads_for_pool_of(1500).await;
    // The pool, one index query and one read per returned user, whatever the pool's size.
    assert_eq!(small, 1 + 1 + 5);
    assert_eq!(large, small);
}
