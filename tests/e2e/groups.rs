//! User-pool groups: the nine operations, their errors, limits, clean-up with users and groups,
//! and the group claims of tokens.

use crate::common::*;
use crate::on_both_stores;
use crate::tokens::payload;
use aws_sdk_cognitoidentityprovider as cip;
use serde_json::{json, Value};
use tessera_core::ports::Clock;

const ROLE_A: &str = "arn:aws:iam::123456789012:role/tessera-a";
const ROLE_B: &str = "arn:aws:iam::123456789012:role/tessera-b";

async fn group(env: &TestEnv, pool: &str, name: &str, precedence: Option<i32>, role: Option<&str>) {
    env.client
        .create_group()
        .user_pool_id(pool)
        .group_name(name)
        .set_precedence(precedence)
        .set_role_arn(role.map(str::to_string))
        .send()
        .await
        .expect("create group");
}

async fn add(env: &TestEnv, pool: &str, username: &str, group: &str) -> Result<(), String> {
    env.client
        .admin_add_user_to_group()
        .user_pool_id(pool)
        .username(username)
        .group_name(group)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn remove(env: &TestEnv, pool: &str, username: &str, group: &str) -> Result<(), String> {
    env.client
        .admin_remove_user_from_group()
        .user_pool_id(pool)
        .username(username)
        .group_name(group)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

/// Every group of a user, following NextToken with the given page size.
async fn groups_of(env: &TestEnv, pool: &str, username: &str, limit: i32) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = env
            .client
            .admin_list_groups_for_user()
            .user_pool_id(pool)
            .username(username)
            .limit(limit)
            .set_next_token(token)
            .send()
            .await
            .map_err(err_name)?;
        assert!(out.groups().len() <= limit as usize);
        names.extend(out.groups().iter().filter_map(|g| g.group_name().map(str::to_string)));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// Every member of a group (usernames), following NextToken with the given page size.
async fn members_of(
    env: &TestEnv,
    pool: &str,
    group: &str,
    limit: i32,
) -> Result<Vec<cip::types::UserType>, String> {
    let mut users = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = env
            .client
            .list_users_in_group()
            .user_pool_id(pool)
            .group_name(group)
            .limit(limit)
            .set_next_token(token)
            .send()
            .await
            .map_err(err_name)?;
        assert!(out.users().len() <= limit as usize);
        users.extend(out.users().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(users);
        }
    }
}

fn usernames(users: &[cip::types::UserType]) -> Vec<String> {
    let mut names: Vec<String> = users.iter().filter_map(|u| u.username().map(str::to_string)).collect();
    names.sort();
    names
}

/// A pool and client for admin sign-in and refresh.
async fn pool_and_client(env: &TestEnv) -> (String, String) {
    let pool = env.email_pool().await;
    let (client, _) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    (pool, client)
}

on_both_stores!(groups_are_created_read_and_updated, |env| {
    let pool = env.pool(|b| b).await;
    let created = env
        .client
        .create_group()
        .user_pool_id(&pool)
        .group_name("Editors")
        .description("People who edit")
        .role_arn(ROLE_A)
        .precedence(3)
        .send()
        .await
        .unwrap();
    let g = created.group().unwrap();
    assert_eq!(g.group_name(), Some("Editors"));
    assert_eq!(g.user_pool_id(), Some(pool.as_str()));
    assert_eq!(g.description(), Some("People who edit"));
    assert_eq!(g.role_arn(), Some(ROLE_A));
    assert_eq!(g.precedence(), Some(3));
    let created_at = g.creation_date().unwrap().as_secs_f64();
    assert!((created_at - env.clock.now_secs() as f64).abs() < 60.0, "epoch seconds");
    assert_eq!(g.last_modified_date(), g.creation_date());

    let got = env.client.get_group().user_pool_id(&pool).group_name("Editors").send().await.unwrap();
    assert_eq!(got.group(), Some(g));

    // Only the members given change.
    env.clock.advance_secs(5);
    let updated = env
        .client
        .update_group()
        .user_pool_id(&pool)
        .group_name("Editors")
        .description("Editors and reviewers")
        .send()
        .await
        .unwrap();
    let u = updated.group().unwrap();
    assert_eq!(u.description(), Some("Editors and reviewers"));
    assert_eq!(u.role_arn(), Some(ROLE_A));
    assert_eq!(u.precedence(), Some(3));
    assert_eq!(u.creation_date(), g.creation_date());
    assert!(u.last_modified_date().unwrap().as_secs_f64() >= created_at + 5.0);

    env.client
        .update_group()
        .user_pool_id(&pool)
        .group_name("Editors")
        .precedence(0)
        .role_arn(ROLE_B)
        .send()
        .await
        .unwrap();
    let got = env.client.get_group().user_pool_id(&pool).group_name("Editors").send().await.unwrap();
    let g = got.group().unwrap();
    assert_eq!(
        (g.precedence(), g.role_arn(), g.description()),
        (Some(0), Some(ROLE_B), Some("Editors and reviewers"))
    );

    // A group without the optional members has none of them.
    group(env, &pool, "plain", None, None).await;
    let got = env.client.get_group().user_pool_id(&pool).group_name("plain").send().await.unwrap();
    let g = got.group().unwrap();
    assert_eq!((g.precedence(), g.role_arn(), g.description()), (None, None, None));
});

on_both_stores!(group_names_are_case_sensitive_and_unique, |env| {
    let pool = env.pool(|b| b).await;
    group(env, &pool, "admins", None, None).await;
    group(env, &pool, "Admins", None, None).await;
    let e = env
        .client
        .create_group()
        .user_pool_id(&pool)
        .group_name("admins")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "GroupExistsException: A group with the name admins already exists.");
    let e = env.client.get_group().user_pool_id(&pool).group_name("ADMINS").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), "ResourceNotFoundException: Group not found.");
});

on_both_stores!(list_groups_pages_in_name_order, |env| {
    let pool = env.pool(|b| b).await;
    let other = env.pool(|b| b).await;
    for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
        group(env, &pool, name, None, None).await;
    }
    group(env, &other, "zulu", None, None).await;
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out =
            env.client.list_groups().user_pool_id(&pool).limit(2).set_next_token(token).send().await.unwrap();
        pages += 1;
        assert!(out.groups().len() <= 2);
        names.extend(out.groups().iter().map(|g| g.group_name().unwrap().to_string()));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(pages, 3);
    let all = env.client.list_groups().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(all.groups().len(), 5);
    assert!(all.next_token().is_none());
    let e = env.client.list_groups().user_pool_id(&pool).next_token("not-a-token!").send().await;
    assert!(e.map_err(err_name).unwrap_err().starts_with("InvalidParameterException"));
});

on_both_stores!(unknown_groups_and_pools_are_not_found, |env| {
    let (pool, client) = pool_and_client(env).await;
    env.confirmed_user(&client, "nf@example.com").await;
    let not_found = "ResourceNotFoundException: Group not found.";
    let c = &env.client;
    let e = c.get_group().user_pool_id(&pool).group_name("nope").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), not_found);
    let e =
        c.update_group().user_pool_id(&pool).group_name("nope").precedence(1).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), not_found);
    let e = c.delete_group().user_pool_id(&pool).group_name("nope").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), not_found);
    let e = c.list_users_in_group().user_pool_id(&pool).group_name("nope").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), not_found);
    assert_eq!(add(env, &pool, "nf@example.com", "nope").await.unwrap_err(), not_found);
    assert_eq!(remove(env, &pool, "nf@example.com", "nope").await.unwrap_err(), not_found);

    let e =
        c.create_group().user_pool_id("us-east-1_nopool000").group_name("g").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), "ResourceNotFoundException: User pool us-east-1_nopool000 does not exist.");
    let e = c.list_groups().user_pool_id("us-east-1_nopool000").send().await.map_err(err_name);
    assert!(e.unwrap_err().starts_with("ResourceNotFoundException"));
});

on_both_stores!(unknown_users_are_refused, |env| {
    let pool = env.pool(|b| b).await;
    group(env, &pool, "g", None, None).await;
    let not_found = "UserNotFoundException: User does not exist.";
    assert_eq!(add(env, &pool, "ghost", "g").await.unwrap_err(), not_found);
    assert_eq!(remove(env, &pool, "ghost", "g").await.unwrap_err(), not_found);
    assert_eq!(groups_of(env, &pool, "ghost", 10).await.unwrap_err(), not_found);
    assert!(members_of(env, &pool, "g", 10).await.unwrap().is_empty());
});

on_both_stores!(members_are_listed_both_ways, |env| {
    let (pool, client) = pool_and_client(env).await;
    let ann = env.confirmed_user(&client, "ann@example.com").await;
    let bob = env.confirmed_user(&client, "bob@example.com").await;
    let cy = env.confirmed_user(&client, "cy@example.com").await;
    for g in ["readers", "writers", "admins"] {
        group(env, &pool, g, None, None).await;
    }
    // Any sign-in identifier names the user: the email here, the sub (= username) below.
    add(env, &pool, "ann@example.com", "readers").await.unwrap();
    add(env, &pool, "ann@example.com", "writers").await.unwrap();
    add(env, &pool, "ann@example.com", "admins").await.unwrap();
    add(env, &pool, &bob, "readers").await.unwrap();
    add(env, &pool, "cy@example.com", "readers").await.unwrap();

    assert_eq!(groups_of(env, &pool, "ann@example.com", 2).await.unwrap(), ["admins", "readers", "writers"]);
    assert_eq!(groups_of(env, &pool, &ann, 60).await.unwrap(), ["admins", "readers", "writers"]);
    assert_eq!(groups_of(env, &pool, "bob@example.com", 60).await.unwrap(), ["readers"]);
    let full =
        env.client.admin_list_groups_for_user().user_pool_id(&pool).username(&bob).send().await.unwrap();
    assert_eq!(full.groups()[0].user_pool_id(), Some(pool.as_str()));

    let readers = members_of(env, &pool, "readers", 1).await.unwrap();
    let mut want = vec![ann.clone(), bob.clone(), cy.clone()];
    want.sort();
    assert_eq!(usernames(&readers), want);
    let a = readers.iter().find(|u| u.username() == Some(ann.as_str())).unwrap();
    assert_eq!(a.user_status(), Some(&cip::types::UserStatusType::Confirmed));
    assert!(a.enabled());
    assert!(a.user_create_date().is_some() && a.user_last_modified_date().is_some());
    let email = a.attributes().iter().find(|x| x.name() == "email").and_then(|x| x.value());
    assert_eq!(email, Some("ann@example.com"));
    assert_eq!(usernames(&members_of(env, &pool, "writers", 60).await.unwrap()), [ann.as_str()]);

    remove(env, &pool, "ann@example.com", "readers").await.unwrap();
    assert_eq!(groups_of(env, &pool, &ann, 60).await.unwrap(), ["admins", "writers"]);
    let mut want = vec![bob.clone(), cy.clone()];
    want.sort();
    assert_eq!(usernames(&members_of(env, &pool, "readers", 60).await.unwrap()), want);
    // Removing someone who is not a member changes nothing.
    remove(env, &pool, &bob, "writers").await.unwrap();
    assert_eq!(groups_of(env, &pool, &bob, 60).await.unwrap(), ["readers"]);
});

on_both_stores!(adding_a_member_again_succeeds, |env| {
    let (pool, client) = pool_and_client(env).await;
    env.confirmed_user(&client, "twice@example.com").await;
    group(env, &pool, "g", None, None).await;
    add(env, &pool, "twice@example.com", "g").await.unwrap();
    add(env, &pool, "twice@example.com", "g").await.unwrap();
    assert_eq!(groups_of(env, &pool, "twice@example.com", 60).await.unwrap(), ["g"]);
    assert_eq!(members_of(env, &pool, "g", 60).await.unwrap().len(), 1);
});

on_both_stores!(deleting_a_group_removes_its_memberships, |env| {
    let (pool, client) = pool_and_client(env).await;
    let mut subs = Vec::new();
    for i in 0..3 {
        subs.push(env.confirmed_user(&client, &format!("dg{i}@example.com")).await);
    }
    group(env, &pool, "doomed", Some(1), Some(ROLE_A)).await;
    group(env, &pool, "kept", None, None).await;
    for s in &subs {
        add(env, &pool, s, "doomed").await.unwrap();
        add(env, &pool, s, "kept").await.unwrap();
    }
    env.client.delete_group().user_pool_id(&pool).group_name("doomed").send().await.unwrap();
    let e = env.client.get_group().user_pool_id(&pool).group_name("doomed").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), "ResourceNotFoundException: Group not found.");
    let listed = env.client.list_groups().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(listed.groups().iter().filter_map(|g| g.group_name()).collect::<Vec<_>>(), ["kept"]);
    for s in &subs {
        assert_eq!(groups_of(env, &pool, s, 60).await.unwrap(), ["kept"]);
    }
    let t = env.admin_sign_in(&pool, &client, "dg0@example.com").await;
    assert_eq!(payload(t.id_token().unwrap())["cognito:groups"], json!(["kept"]));
    assert!(payload(t.id_token().unwrap()).get("cognito:roles").is_none());
    // A new group of the same name starts empty.
    group(env, &pool, "doomed", None, None).await;
    assert!(members_of(env, &pool, "doomed", 60).await.unwrap().is_empty());
});

on_both_stores!(deleting_a_user_removes_their_memberships, |env| {
    let (pool, client) = pool_and_client(env).await;
    let gone = env.confirmed_user(&client, "gone@example.com").await;
    let stay = env.confirmed_user(&client, "stay@example.com").await;
    group(env, &pool, "g1", None, None).await;
    group(env, &pool, "g2", None, None).await;
    for g in ["g1", "g2"] {
        add(env, &pool, &gone, g).await.unwrap();
        add(env, &pool, &stay, g).await.unwrap();
    }
    env.client.admin_delete_user().user_pool_id(&pool).username("gone@example.com").send().await.unwrap();
    for g in ["g1", "g2"] {
        assert_eq!(usernames(&members_of(env, &pool, g, 60).await.unwrap()), [stay.as_str()]);
    }
    // Signing up again with the same email makes a new user in no group.
    let again = env.confirmed_user(&client, "gone@example.com").await;
    assert!(groups_of(env, &pool, &again, 60).await.unwrap().is_empty());
    assert!(groups_of(env, &pool, "gone@example.com", 60).await.unwrap().is_empty());
});

on_both_stores!(deleting_a_pool_deletes_its_groups, |env| {
    let (pool, client) = pool_and_client(env).await;
    let sub = env.confirmed_user(&client, "pd@example.com").await;
    group(env, &pool, "g", Some(1), None).await;
    add(env, &pool, &sub, "g").await.unwrap();
    env.client.delete_user_pool().user_pool_id(&pool).send().await.unwrap();
    let e = env.client.list_groups().user_pool_id(&pool).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), format!("ResourceNotFoundException: User pool {pool} does not exist."));
});

on_both_stores!(tokens_carry_current_groups_and_roles, |env| {
    let (pool, client) = pool_and_client(env).await;
    env.confirmed_user(&client, "tg@example.com").await;
    // No group: no group claims.
    let t = env.admin_sign_in(&pool, &client, "tg@example.com").await;
    let id = payload(t.id_token().unwrap());
    for claim in ["cognito:groups", "cognito:roles", "cognito:preferred_role"] {
        assert!(id.get(claim).is_none(), "{claim}");
    }
    assert!(payload(t.access_token().unwrap()).get("cognito:groups").is_none());

    group(env, &pool, "viewers", None, Some(ROLE_B)).await;
    group(env, &pool, "staff", Some(10), Some(ROLE_A)).await;
    group(env, &pool, "all", Some(20), None).await;
    group(env, &pool, "also-a", Some(30), Some(ROLE_A)).await;
    for g in ["viewers", "staff", "all", "also-a"] {
        add(env, &pool, "tg@example.com", g).await.unwrap();
    }
    let t = env.admin_sign_in(&pool, &client, "tg@example.com").await;
    let id = payload(t.id_token().unwrap());
    let access = payload(t.access_token().unwrap());
    let mut groups: Vec<String> = serde_json::from_value(id["cognito:groups"].clone()).unwrap();
    groups.sort();
    assert_eq!(groups, ["all", "also-a", "staff", "viewers"]);
    assert_eq!(access["cognito:groups"], id["cognito:groups"]);
    let mut roles: Vec<String> = serde_json::from_value(id["cognito:roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, [ROLE_A, ROLE_B], "each role once");
    assert_eq!(id["cognito:preferred_role"], ROLE_A, "precedence 10 beats none");
    assert!(access.get("cognito:roles").is_none() && access.get("cognito:preferred_role").is_none());

    // A refresh shows the groups as they are now.
    remove(env, &pool, "tg@example.com", "staff").await.unwrap();
    remove(env, &pool, "tg@example.com", "also-a").await.unwrap();
    let r = env.refresh(&client, t.refresh_token().unwrap()).await.unwrap();
    let id = payload(r.id_token().unwrap());
    let mut groups: Vec<String> = serde_json::from_value(id["cognito:groups"].clone()).unwrap();
    groups.sort();
    assert_eq!(groups, ["all", "viewers"]);
    assert_eq!(id["cognito:roles"], json!([ROLE_B]));
    assert_eq!(id["cognito:preferred_role"], ROLE_B, "only a group without precedence has a role");
    env.client
        .update_group()
        .user_pool_id(&pool)
        .group_name("viewers")
        .role_arn(ROLE_A)
        .send()
        .await
        .unwrap();
    let r = env.refresh(&client, t.refresh_token().unwrap()).await.unwrap();
    assert_eq!(payload(r.id_token().unwrap())["cognito:preferred_role"], ROLE_A, "after UpdateGroup");
    remove(env, &pool, "tg@example.com", "viewers").await.unwrap();
    remove(env, &pool, "tg@example.com", "all").await.unwrap();
    let r = env.refresh(&client, t.refresh_token().unwrap()).await.unwrap();
    assert!(payload(r.id_token().unwrap()).get("cognito:groups").is_none());
    assert!(payload(r.access_token().unwrap()).get("cognito:groups").is_none());
});

on_both_stores!(preferred_role_ties_follow_cognito, |env| {
    let (pool, client) = pool_and_client(env).await;
    env.confirmed_user(&client, "tie@example.com").await;
    let claims = |t: cip::types::AuthenticationResultType| -> Value { payload(t.id_token().unwrap()) };

    // Two groups at the same precedence with the same role: that role.
    group(env, &pool, "same-1", Some(5), Some(ROLE_A)).await;
    group(env, &pool, "same-2", Some(5), Some(ROLE_A)).await;
    group(env, &pool, "later", Some(6), Some(ROLE_B)).await;
    for g in ["same-1", "same-2", "later"] {
        add(env, &pool, "tie@example.com", g).await.unwrap();
    }
    let id = claims(env.admin_sign_in(&pool, &client, "tie@example.com").await);
    assert_eq!(id["cognito:preferred_role"], ROLE_A);

    // The same tie with different roles: no preferred role, but both roles listed.
    env.client.update_group().user_pool_id(&pool).group_name("same-2").role_arn(ROLE_B).send().await.unwrap();
    let id = claims(env.admin_sign_in(&pool, &client, "tie@example.com").await);
    assert!(id.get("cognito:preferred_role").is_none(), "{id}");
    assert_eq!(id["cognito:roles"].as_array().map(Vec::len), Some(2));

    // A lower precedence settles it.
    env.client.update_group().user_pool_id(&pool).group_name("later").precedence(0).send().await.unwrap();
    let id = claims(env.admin_sign_in(&pool, &client, "tie@example.com").await);
    assert_eq!(id["cognito:preferred_role"], ROLE_B);
});

on_both_stores!(
    group_limits_are_enforced,
    config = |c| {
        c.limits.groups_per_pool = 3;
        c.limits.groups_per_user = 2;
    },
    |env| {
        let (pool, client) = pool_and_client(env).await;
        env.confirmed_user(&client, "lim@example.com").await;
        for g in ["a", "b", "c"] {
            group(env, &pool, g, None, None).await;
        }
        let e = env.client.create_group().user_pool_id(&pool).group_name("d").send().await.map_err(err_name);
        assert!(e.unwrap_err().starts_with("LimitExceededException"));
        // Deleting a group makes room again; other pools have their own count.
        env.client.delete_group().user_pool_id(&pool).group_name("c").send().await.unwrap();
        group(env, &pool, "d", None, None).await;
        let other = env.pool(|b| b).await;
        for g in ["a", "b", "c"] {
            group(env, &other, g, None, None).await;
        }

        add(env, &pool, "lim@example.com", "a").await.unwrap();
        add(env, &pool, "lim@example.com", "b").await.unwrap();
        let e = add(env, &pool, "lim@example.com", "d").await.unwrap_err();
        assert!(e.starts_with("LimitExceededException"), "{e}");
        add(env, &pool, "lim@example.com", "b").await.expect("re-adding a current group is not a new one");
        remove(env, &pool, "lim@example.com", "a").await.unwrap();
        add(env, &pool, "lim@example.com", "d").await.unwrap();
        assert_eq!(groups_of(env, &pool, "lim@example.com", 60).await.unwrap(), ["b", "d"]);
    }
);

on_both_stores!(members_added_at_once_all_join, |env| {
    let (pool, client) = pool_and_client(env).await;
    group(env, &pool, "crowd", None, None).await;
    let mut subs = Vec::new();
    for i in 0..12 {
        subs.push(env.confirmed_user(&client, &format!("crowd{i}@example.com")).await);
    }
    let mut tasks = Vec::new();
    for sub in &subs {
        let (c, pool, sub) = (env.client.clone(), pool.clone(), sub.clone());
        tasks.push(tokio::spawn(async move {
            c.admin_add_user_to_group().user_pool_id(pool).username(sub).group_name("crowd").send().await
        }));
    }
    for t in tasks {
        t.await.unwrap().map_err(err_name).expect("every add succeeds");
    }
    subs.sort();
    assert_eq!(usernames(&members_of(env, &pool, "crowd", 5).await.unwrap()), subs);
    // Deleting the group while members are added leaves no member behind in the end.
    let mut tasks = Vec::new();
    group(env, &pool, "brief", None, None).await;
    for sub in &subs {
        let (c, pool, sub) = (env.client.clone(), pool.clone(), sub.clone());
        tasks.push(tokio::spawn(async move {
            c.admin_add_user_to_group().user_pool_id(pool).username(sub).group_name("brief").send().await
        }));
    }
    env.client.delete_group().user_pool_id(&pool).group_name("brief").send().await.unwrap();
    for t in tasks {
        if let Err(e) = t.await.unwrap().map_err(err_name) {
            assert_eq!(e, "ResourceNotFoundException: Group not found.");
        }
    }
    for sub in &subs {
        assert_eq!(groups_of(env, &pool, sub, 60).await.unwrap(), ["crowd"]);
    }
});
