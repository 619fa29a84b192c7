//! Uniqueness is enforced by the store, atomically: many racing sign-ups, one winner.

use crate::common::*;
use crate::on_both_stores;
use std::sync::Arc;

on_both_stores!(two_hundred_racing_sign_ups_one_winner, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let client = Arc::new(env.client.clone());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = client.clone();
        let client_id = client_id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .sign_up()
                .client_id(client_id)
                .username("race@example.com")
                .password(format!("Correct-Horse-{i}"))
                .send()
                .await
                .map_err(err_name)
        }));
    }
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(out) => winners.push((i, out.user_sub().to_string())),
            Err(e) => {
                assert_eq!(e, "UsernameExistsException: An account with the given email already exists.")
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one sign-up wins");
    let (i, sub) = &winners[0];
    let user =
        env.client.admin_get_user().user_pool_id(&pool).username("race@example.com").send().await.unwrap();
    assert_eq!(user.username(), sub);
    // The stored password is the winner's.
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("race@example.com").send().await.unwrap();
    env.password_sign_in(&client_id, "race@example.com", &format!("Correct-Horse-{i}")).await.unwrap();
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(described.user_pool().unwrap().estimated_number_of_users(), 1, "one user listed");
});
