//! Tokens verify against the pool's JWKS, with Cognito's claims.

use crate::common::*;
use crate::on_both_stores;
use base64::Engine;
use serde_json::Value;

pub fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn verify(token: &str, jwks: &Value) -> Value {
    let kid = header(token)["kid"].as_str().unwrap().to_string();
    let jwk =
        jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("kid in JWKS");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &v).expect("signature verifies").claims
}

on_both_stores!(tokens_verify_against_jwks, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let sub = env.confirmed_user(&client_id, "tok@example.com").await;
    let t = env.password_sign_in(&client_id, "tok@example.com", PASSWORD).await.unwrap();
    let issuer = format!("{}/{pool}", env.url);

    let (status, headers, body) =
        raw_http(&env.url, "GET", &format!("/{pool}/.well-known/jwks.json"), &[], b"").await;
    assert_eq!(status, 200);
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("application/json")));
    let jwks: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    for k in jwks["keys"].as_array().unwrap() {
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["e"], "AQAB");
        assert!(k.get("d").is_none(), "no private parts");
    }
    let (status, _, body) =
        raw_http(&env.url, "GET", &format!("/{pool}/.well-known/openid-configuration"), &[], b"").await;
    assert_eq!(status, 200);
    let oidc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(oidc["issuer"], issuer.as_str());
    assert_eq!(oidc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    let (status, _, _) =
        raw_http(&env.url, "GET", "/us-east-1_nopool000/.well-known/jwks.json", &[], b"").await;
    assert_eq!(status, 404);

    let id_token = t.id_token().unwrap();
    let access_token = t.access_token().unwrap();
    assert_eq!(header(id_token).as_object().unwrap().len(), 2, "header holds only kid and alg");
    assert_ne!(header(id_token)["kid"], header(access_token)["kid"], "different keys per token type");

    let id = verify(id_token, &jwks);
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], client_id.as_str());
    assert_eq!(id["iss"], issuer.as_str());
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["cognito:username"], sub.as_str());
    assert_eq!(id["email"], "tok@example.com");
    assert_eq!(id["email_verified"], true, "a JSON boolean");
    assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 3600);
    assert!(id["auth_time"].is_i64());

    let access = verify(access_token, &jwks);
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], client_id.as_str());
    assert!(access.get("aud").is_none(), "access tokens carry no aud");
    assert_eq!(access["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(access["username"], sub.as_str());
    assert_eq!(access["iss"], issuer.as_str());
    assert!(access["jti"].is_string() && access["origin_jti"].is_string() && access["event_id"].is_string());
    assert_eq!(access["origin_jti"], id["origin_jti"]);

    // A token re-signed by anyone else is refused.
    let mut forged: Vec<&str> = access_token.split('.').collect();
    let mut claims = payload(access_token);
    claims["username"] = Value::from("someone-else");
    let tampered =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    forged[1] = &tampered;
    let e = env.client.get_user().access_token(forged.join(".")).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid Access Token");
    // An ID token is not an access token.
    let e = env.client.get_user().access_token(id_token).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid Access Token");
});
