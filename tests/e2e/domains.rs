//! User-pool domains and resource servers: the nine operations, their errors, and what they
//! change in DescribeUserPool and in app clients' scopes.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{CustomDomainConfigType, ResourceServerScopeType};

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e";

fn scope(name: &str) -> ResourceServerScopeType {
    ResourceServerScopeType::builder()
        .scope_name(name)
        .scope_description(format!("{name} things"))
        .build()
        .unwrap()
}

async fn create_domain(env: &TestEnv, pool: &str, domain: &str) -> Result<(), String> {
    env.client
        .create_user_pool_domain()
        .user_pool_id(pool)
        .domain(domain)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

on_both_stores!(prefix_and_custom_domains, |env| {
    let pool = env.pool(|b| b).await;
    let other = env.pool(|b| b).await;
    let prefix = unique("app-").to_lowercase();
    create_domain(env, &pool, &prefix).await.unwrap();
    // A prefix belongs to one pool, and a pool has one prefix.
    let taken = create_domain(env, &other, &prefix).await.unwrap_err();
    assert_eq!(taken, "InvalidParameterException: Domain already associated with another user pool.");
    let second = create_domain(env, &pool, &unique("two-")).await.unwrap_err();
    assert_eq!(second, "InvalidParameterException: User pool already has a domain configured.");
    for reserved in ["my-aws-app", "amazonish", "cognito1"] {
        let e = create_domain(env, &other, reserved).await.unwrap_err();
        assert!(e.starts_with("InvalidParameterException: Domain cannot contain reserved word"), "{e}");
    }
    // The model's pattern: upper case and leading hyphens are not domain names.
    assert!(create_domain(env, &other, "Bad").await.unwrap_err().starts_with("InvalidParameterException"));
    assert!(create_domain(env, &other, "-bad").await.unwrap_err().starts_with("InvalidParameterException"));

    let described = env.client.describe_user_pool_domain().domain(&prefix).send().await.unwrap();
    let d = described.domain_description().unwrap();
    assert_eq!(d.user_pool_id(), Some(pool.as_str()));
    assert_eq!(d.domain(), Some(prefix.as_str()));
    assert_eq!(d.status(), Some(&cip::types::DomainStatusType::Active));
    assert_eq!(d.cloud_front_distribution(), Some(format!("{prefix}.auth.localhost").as_str()));
    assert_eq!(d.managed_login_version(), Some(1));
    assert!(d.custom_domain_config().is_none());
    // A name no pool holds is described as nothing, not as an error (as Cognito does).
    let none = env.client.describe_user_pool_domain().domain("nobody-has-this").send().await.unwrap();
    assert!(none.domain_description().unwrap().user_pool_id().is_none());

    // A custom domain beside the prefix.
    let custom = format!("{}.example.com", unique("auth").to_lowercase());
    let created = env
        .client
        .create_user_pool_domain()
        .user_pool_id(&pool)
        .domain(&custom)
        .custom_domain_config(CustomDomainConfigType::builder().certificate_arn(CERT).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(created.cloud_front_domain(), Some("localhost"));
    let wrong_region = env
        .client
        .create_user_pool_domain()
        .user_pool_id(&other)
        .domain("login.example.org")
        .custom_domain_config(
            CustomDomainConfigType::builder()
                .certificate_arn("arn:aws:acm:eu-west-1:123456789012:certificate/x")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(wrong_region.contains("us-east-1"), "{wrong_region}");

    let shown = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let shown = shown.user_pool().unwrap();
    assert_eq!(shown.domain(), Some(prefix.as_str()));
    assert_eq!(shown.custom_domain(), Some(custom.as_str()));

    // Update: a custom domain's certificate; managed login (version 2) is refused, not stored.
    let new_cert = "arn:aws:acm:us-east-1:123456789012:certificate/ffff";
    env.client
        .update_user_pool_domain()
        .user_pool_id(&pool)
        .domain(&custom)
        .custom_domain_config(CustomDomainConfigType::builder().certificate_arn(new_cert).build().unwrap())
        .send()
        .await
        .unwrap();
    let d = env.client.describe_user_pool_domain().domain(&custom).send().await.unwrap();
    assert_eq!(
        d.domain_description().unwrap().custom_domain_config().map(|c| c.certificate_arn()),
        Some(new_cert)
    );
    let v2 = env
        .client
        .update_user_pool_domain()
        .user_pool_id(&pool)
        .domain(&prefix)
        .managed_login_version(2)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(v2.contains("ManagedLoginVersion"), "{v2}");
    let to_prefix = env
        .client
        .update_user_pool_domain()
        .user_pool_id(&pool)
        .domain(&custom)
        .send()
        .await
        .map_err(err_name);
    assert_eq!(
        to_prefix.unwrap_err(),
        "InvalidParameterException: Cannot convert custom domain to prefix domain."
    );

    // A pool with a domain cannot be deleted; deleting the domains frees the names.
    let e = env.client.delete_user_pool().user_pool_id(&pool).send().await.map_err(err_name).unwrap_err();
    assert!(e.contains("It has a domain configured that should be deleted first"), "{e}");
    let wrong_pool = env
        .client
        .delete_user_pool_domain()
        .user_pool_id(&other)
        .domain(&prefix)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(wrong_pool, "InvalidParameterException: No such domain or user pool exists.");
    for d in [&prefix, &custom] {
        env.client.delete_user_pool_domain().user_pool_id(&pool).domain(d).send().await.unwrap();
    }
    let shown = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    assert!(shown.user_pool().unwrap().domain().is_none());
    create_domain(env, &other, &prefix).await.unwrap();
    env.client.delete_user_pool().user_pool_id(&pool).send().await.unwrap();
});

on_both_stores!(resource_servers_and_client_scopes, |env| {
    let pool = env.pool(|b| b).await;
    let api = "https://api.example.com/v1";
    let out = env
        .client
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier(api)
        .name("Photos API")
        .scopes(scope("read"))
        .scopes(scope("write"))
        .send()
        .await
        .unwrap();
    let server = out.resource_server().unwrap();
    assert_eq!(server.identifier(), Some(api));
    assert_eq!(server.scopes().len(), 2);
    let dup = env
        .client
        .create_resource_server()
        .user_pool_id(&pool)
        .identifier(api)
        .name("again")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(dup, format!("InvalidParameterException: {api} already exists in user pool {pool}."));

    // A client may list only scopes that exist; client_credentials takes custom scopes only.
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("m2m")
        .generate_secret(true)
        .allowed_o_auth_flows(cip::types::OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes(format!("{api}/read"))
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    let unknown = env
        .client
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .allowed_o_auth_flows(cip::types::OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes(format!("{api}/delete"))
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(unknown, format!("ScopeDoesNotExistException: Invalid scope requested: {api}/delete"));
    let reserved = env
        .client
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .allowed_o_auth_flows(cip::types::OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(reserved.starts_with("InvalidOAuthFlowException"), "{reserved}");

    // Update replaces the scopes; the client keeps the scopes it listed.
    env.client
        .update_resource_server()
        .user_pool_id(&pool)
        .identifier(api)
        .name("Photos API v1")
        .scopes(scope("write"))
        .send()
        .await
        .unwrap();
    let d = env.client.describe_resource_server().user_pool_id(&pool).identifier(api).send().await.unwrap();
    let names: Vec<_> = d.resource_server().unwrap().scopes().iter().map(|s| s.scope_name()).collect();
    assert_eq!(names, ["write"]);
    let c = env
        .client
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    assert_eq!(c.user_pool_client().unwrap().allowed_o_auth_scopes(), [format!("{api}/read")]);

    // List pages through every server.
    for i in 0..4 {
        env.client
            .create_resource_server()
            .user_pool_id(&pool)
            .identifier(format!("svc-{i}"))
            .name(format!("Service {i}"))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = env
            .client
            .list_resource_servers()
            .user_pool_id(&pool)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.resource_servers().len() <= 2);
        seen.extend(page.resource_servers().iter().filter_map(|s| s.identifier().map(str::to_string)));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.contains(&api.to_string()));

    env.client.delete_resource_server().user_pool_id(&pool).identifier(api).send().await.unwrap();
    let gone = env
        .client
        .describe_resource_server()
        .user_pool_id(&pool)
        .identifier(api)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(gone.starts_with("ResourceNotFoundException"), "{gone}");
});
