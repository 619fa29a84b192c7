//! SigV4 attack suite (issue 14): signed admin calls that were tampered with, signed with the
//! wrong key, too old, too new, or replayed as another operation are refused with the error the
//! README documents, and none of them takes effect. Requests are signed here by hand with
//! aws-sigv4 (the SDKs' signer) and sent raw, so they can be changed after signing.

use crate::common::*;
use crate::on_both_stores;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MISMATCH: &str = "InvalidSignatureException: The request signature we calculated does not match \
                        the signature you provided. Check your AWS Secret Access Key and signing method. \
                        Consult the service documentation for details.";
const UNRECOGNIZED: &str =
    "UnrecognizedClientException: The security token included in the request is invalid.";
const IDP: &str = "AWSCognitoIdentityProviderService.";

/// A request before signing.
#[derive(Clone)]
struct Req {
    method: &'static str,
    /// Path and query as sent (already percent-encoded).
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Signer<'a> {
    service: &'a str,
    key: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
    at: SystemTime,
    /// Sign `UNSIGNED-PAYLOAD` (declared in x-amz-content-sha256) instead of the body's hash.
    unsigned_payload: bool,
}

impl Signer<'_> {
    fn admin(service: &str, at: SystemTime) -> Signer<'_> {
        Signer { service, key: ADMIN_KEY, secret: ADMIN_SECRET, token: None, at, unsigned_payload: false }
    }
}

/// `req` with the headers the SDKs' signer adds (Authorization, X-Amz-Date, …).
fn signed(url: &str, req: &Req, s: Signer<'_>) -> Req {
    let identity = Credentials::new(s.key, s.secret, s.token.map(str::to_string), None, "test").into();
    let mut settings = SigningSettings::default();
    if s.unsigned_payload {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(s.service)
        .time(s.at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body =
        if s.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(&req.body) };
    let request = SignableRequest::new(
        req.method,
        format!("{url}{}", req.path),
        req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut out = req.clone();
    out.headers.extend(instructions.headers().map(|(n, v)| (n.to_string(), v.to_string())));
    out
}

/// Sends `req` as is (raw_http adds Host, Content-Length and Connection); "OK" or
/// "Name: message" and the status.
async fn send(url: &str, req: &Req) -> (u16, String, Value) {
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let (status, resp_headers, body) = raw_http(url, req.method, &req.path, &headers, &req.body).await;
    let out: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status == 200 {
        return (status, "OK".into(), out);
    }
    let name = out["__type"].as_str().map(str::to_string).unwrap_or_else(|| {
        let h = resp_headers.iter().find(|(k, _)| k == "x-amzn-errortype").map(|(_, v)| v.as_str());
        h.unwrap_or("?").trim_end_matches(':').to_string()
    });
    (status, format!("{name}: {}", out["message"].as_str().unwrap_or("")), out)
}

fn idp_call(target: &str, body: &Value) -> Req {
    Req {
        method: "POST",
        path: "/".into(),
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("X-Amz-Target".into(), format!("{IDP}{target}")),
        ],
        body: body.to_string().into_bytes(),
    }
}

fn create_user(pool: &str, name: &str) -> Req {
    idp_call("AdminCreateUser", &json!({"UserPoolId": pool, "Username": name, "MessageAction": "SUPPRESS"}))
}

fn set_header(req: &mut Req, name: &str, value: &str) {
    let h = req.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)).expect("header present");
    h.1 = value.to_string();
}

fn header<'a>(req: &'a Req, name: &str) -> &'a str {
    req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap()
}

async fn user_exists(env: &TestEnv, pool: &str, name: &str) -> bool {
    match env.client.admin_get_user().user_pool_id(pool).username(name).send().await {
        Ok(_) => true,
        Err(e) => {
            let e = err_name(e);
            assert_eq!(e, "UserNotFoundException: User does not exist.");
            false
        }
    }
}

/// The server's clock (the harness's TestClock), as the signer's time.
fn server_now(env: &TestEnv) -> SystemTime {
    use tessera_core::ports::Clock;
    UNIX_EPOCH + Duration::from_millis(u64::try_from(env.clock.now_millis()).unwrap())
}

fn amz_date(req: &Req) -> String {
    header(req, "x-amz-date").to_string()
}

on_both_stores!(tampered_admin_calls_are_refused_and_take_no_effect, |env| {
    let url = &env.url;
    let pool = env.pool(|b| b).await;
    let idp = Signer::admin("cognito-idp", server_now(env));
    let mut refused = 0;

    // Control: the hand-signed request is accepted, so every refusal below is the tampering's.
    let (status, answer, _) = send(url, &signed(url, &create_user(&pool, "control"), idp)).await;
    assert_eq!((status, answer.as_str()), (200, "OK"));
    assert!(user_exists(env, &pool, "control").await);

    // (case, request as sent, expected answer); each would create `victim-<n>`.
    let mut cases: Vec<(&str, Req, String)> = Vec::new();
    let wrong_secret = Signer { secret: "not-the-admin-secret", ..idp };
    cases.push(("wrong secret", signed(url, &create_user(&pool, "victim-1"), wrong_secret), MISMATCH.into()));
    let unknown = Signer { key: "AKIAUNKNOWNKEY000000", ..idp };
    cases.push(("unknown key", signed(url, &create_user(&pool, "victim-2"), unknown), UNRECOGNIZED.into()));

    // More than five minutes old, and more than five minutes ahead.
    let stale = signed(
        url,
        &create_user(&pool, "victim-3"),
        Signer { at: server_now(env) - Duration::from_secs(330), ..idp },
    );
    let stale_msg =
        format!("InvalidSignatureException: Signature expired: {} is now earlier than", amz_date(&stale));
    cases.push(("stale date", stale, stale_msg));
    let future = signed(
        url,
        &create_user(&pool, "victim-4"),
        Signer { at: server_now(env) + Duration::from_secs(330), ..idp },
    );
    let future_msg = format!(
        "InvalidSignatureException: Signature not yet current: {} is still later than",
        amz_date(&future)
    );
    cases.push(("future date", future, future_msg));

    // Changed after signing: the body, a signed header, the date header.
    let mut body = signed(url, &create_user(&pool, "victim-5"), idp);
    body.body = json!({"UserPoolId": pool, "Username": "victim-6", "MessageAction": "SUPPRESS"})
        .to_string()
        .into_bytes();
    cases.push(("altered body", body, MISMATCH.into()));
    let mut content_type = signed(url, &create_user(&pool, "victim-7"), idp);
    set_header(&mut content_type, "Content-Type", "application/x-amz-json-1.0");
    cases.push(("altered signed Content-Type", content_type, MISMATCH.into()));
    let mut date = signed(url, &create_user(&pool, "victim-8"), idp);
    let later = date.headers.iter().find(|(n, _)| n == "x-amz-date").unwrap().1.replace('Z', "");
    let bumped =
        format!("{}{}Z", &later[..later.len() - 1], (later.as_bytes()[later.len() - 1] - b'0' + 1) % 10);
    set_header(&mut date, "x-amz-date", &bumped);
    cases.push(("altered signed X-Amz-Date", date, MISMATCH.into()));

    // UNSIGNED-PAYLOAD declared and signed: the body is always bound, so the signature cannot
    // match, with the body as signed or another one.
    let unsigned = Signer { unsigned_payload: true, ..idp };
    let as_is = signed(url, &create_user(&pool, "victim-9"), unsigned);
    assert_eq!(header(&as_is, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    cases.push(("UNSIGNED-PAYLOAD", as_is, MISMATCH.into()));
    let mut swapped = signed(url, &create_user(&pool, "victim-10"), unsigned);
    swapped.body = json!({"UserPoolId": pool, "Username": "victim-11", "MessageAction": "SUPPRESS"})
        .to_string()
        .into_bytes();
    cases.push(("UNSIGNED-PAYLOAD, body swapped", swapped, MISMATCH.into()));

    for (case, req, expected) in &cases {
        let (status, answer, _) = send(url, req).await;
        assert!(answer.starts_with(expected.as_str()), "{case}: {answer}");
        assert_eq!(status, 400, "{case}: {answer}");
        refused += 1;
    }
    for n in 1..=11 {
        assert!(!user_exists(env, &pool, &format!("victim-{n}")).await, "victim-{n} was created");
    }

    // A replay of a signed AdminGetUser as AdminDeleteUser (same body, which both accept): the
    // target header is signed, so the signature no longer matches and the user stays.
    let get =
        signed(url, &idp_call("AdminGetUser", &json!({"UserPoolId": pool, "Username": "control"})), idp);
    assert_eq!(send(url, &get).await.1, "OK");
    let mut as_delete = get.clone();
    set_header(&mut as_delete, "X-Amz-Target", &format!("{IDP}AdminDeleteUser"));
    assert_eq!(send(url, &as_delete).await.1, MISMATCH, "replayed as AdminDeleteUser");
    // A second X-Amz-Target in front of the signed one.
    let mut doubled = get.clone();
    doubled.headers.insert(0, ("X-Amz-Target".into(), format!("{IDP}AdminDeleteUser")));
    assert_eq!(send(url, &doubled).await.1, MISMATCH, "a second target header");
    // Routed by path and signed without any target header (as curl --aws-sigv4 may sign it):
    // an X-Amz-Target added afterwards would pick the operation, so an unsigned target is
    // refused outright.
    let mut by_path = idp_call("AdminGetUser", &json!({"UserPoolId": pool, "Username": "control"}));
    by_path.path = "/cognito-idp/AdminGetUser".into();
    by_path.headers.retain(|(n, _)| n != "X-Amz-Target");
    let by_path = signed(url, &by_path, idp);
    assert_eq!(send(url, &by_path).await.1, "OK", "path routing, signed");
    let mut injected = by_path.clone();
    injected.headers.push(("X-Amz-Target".into(), format!("{IDP}AdminDeleteUser")));
    let (status, answer, _) = send(url, &injected).await;
    assert_eq!(
        (status, answer.as_str()),
        (400, "InvalidSignatureException: 'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."),
        "unsigned target injected"
    );
    refused += 3;
    assert!(user_exists(env, &pool, "control").await, "the replays deleted nobody");
    assert_eq!(refused, cases.len() + 3);
});

on_both_stores!(tampered_identity_calls_are_refused_and_take_no_effect, |env| {
    let url = &env.url;
    let ci = Signer::admin("cognito-identity", server_now(env));
    let create = |name: &str| Req {
        method: "POST",
        path: "/".into(),
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("X-Amz-Target".into(), "AWSCognitoIdentityService.CreateIdentityPool".into()),
        ],
        body: json!({"IdentityPoolName": name, "AllowUnauthenticatedIdentities": false})
            .to_string()
            .into_bytes(),
    };
    let (_, answer, _) = send(url, &signed(url, &create("control"), ci)).await;
    assert_eq!(answer, "OK");

    let wrong = signed(url, &create("victim1"), Signer { secret: "not-the-admin-secret", ..ci });
    assert_eq!(send(url, &wrong).await.1, MISMATCH, "wrong secret");
    let mut altered = signed(url, &create("victim2"), ci);
    altered.body = json!({"IdentityPoolName": "victim3", "AllowUnauthenticatedIdentities": true})
        .to_string()
        .into_bytes();
    assert_eq!(send(url, &altered).await.1, MISMATCH, "altered body");
    let unknown = signed(url, &create("victim4"), Signer { key: "AKIAUNKNOWNKEY000000", ..ci });
    assert_eq!(send(url, &unknown).await.1, UNRECOGNIZED, "unknown key");
    // Signed for cognito-idp, sent to cognito-identity.
    let idp_scoped = signed(url, &create("victim5"), Signer::admin("cognito-idp", server_now(env)));
    assert_eq!(
        send(url, &idp_scoped).await.1,
        "InvalidSignatureException: Credential should be scoped to correct service: 'cognito-identity'. "
    );

    let identity = identity_client(url, ADMIN_KEY, ADMIN_SECRET).await;
    let pools = identity.list_identity_pools().max_results(60).send().await.unwrap();
    let names: Vec<&str> = pools.identity_pools().iter().filter_map(|p| p.identity_pool_name()).collect();
    assert_eq!(names, ["control"], "only the genuine call created a pool");
});

/// Sync's UpdateRecords as the REST call the SDK makes, ':' escaped in the path as it escapes it.
fn update_records(pool: &str, identity: &str, session: &str, key: &str) -> Req {
    let esc = |s: &str| s.replace(':', "%3A");
    Req {
        method: "POST",
        path: format!("/identitypools/{}/identities/{}/datasets/notes", esc(pool), esc(identity)),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: json!({
            "SyncSessionToken": session,
            "RecordPatches": [{"Op": "replace", "Key": key, "Value": "v", "SyncCount": 0}],
        })
        .to_string()
        .into_bytes(),
    }
}

on_both_stores!(tampered_sync_calls_are_refused_and_take_no_effect, |env| {
    let url = &env.url;
    let identity_admin = identity_client(url, ADMIN_KEY, ADMIN_SECRET).await;
    let pool = identity_admin
        .create_identity_pool()
        .identity_pool_name("sync")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    // Guests need a role for GetCredentialsForIdentity.
    identity_admin
        .set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("unauthenticated", "arn:aws:iam::123456789012:role/guest")
        .send()
        .await
        .unwrap();
    let id = identity_admin
        .get_id()
        .identity_pool_id(&pool)
        .send()
        .await
        .unwrap()
        .identity_id()
        .unwrap()
        .to_string();
    let creds = identity_admin.get_credentials_for_identity().identity_id(&id).send().await.unwrap();
    let creds = creds.credentials().unwrap();
    let (akid, secret, token) =
        (creds.access_key_id().unwrap(), creds.secret_key().unwrap(), creds.session_token().unwrap());

    let sync_admin = sync_client(url, ADMIN_KEY, ADMIN_SECRET, None).await;
    let session = || async {
        let listed = sync_admin.list_records().identity_pool_id(&pool).identity_id(&id).dataset_name("notes");
        listed.send().await.unwrap().sync_session_token().unwrap().to_string()
    };
    let admin = Signer::admin("cognito-sync", server_now(env));
    let guest = Signer { key: akid, secret, token: Some(token), ..admin };

    // Controls: both signers' genuine calls write.
    for (who, signer) in [("admin", admin), ("identity", guest)] {
        let req =
            signed(url, &update_records(&pool, &id, &session().await, &format!("control-{who}")), signer);
        let (status, answer, _) = send(url, &req).await;
        assert_eq!((status, answer.as_str()), (200, "OK"), "{who}");
    }

    for (who, signer) in [("admin", admin), ("identity", guest)] {
        let wrong = Signer { secret: "not-the-secret", ..signer };
        let req = signed(url, &update_records(&pool, &id, &session().await, &format!("{who}-wrong")), wrong);
        let (status, answer, _) = send(url, &req).await;
        assert_eq!((status, answer.as_str()), (403, MISMATCH), "{who}: wrong secret");

        let mut altered =
            signed(url, &update_records(&pool, &id, &session().await, &format!("{who}-signed")), signer);
        altered.body = update_records(&pool, &id, &session().await, &format!("{who}-altered")).body;
        let (status, answer, _) = send(url, &altered).await;
        assert_eq!((status, answer.as_str()), (403, MISMATCH), "{who}: altered body");

        // The signed path names the dataset: another dataset is another request.
        let mut moved =
            signed(url, &update_records(&pool, &id, &session().await, &format!("{who}-moved")), signer);
        moved.path = moved.path.replace("/datasets/notes", "/datasets/other");
        let (status, answer, _) = send(url, &moved).await;
        assert_eq!((status, answer.as_str()), (403, MISMATCH), "{who}: altered path");
    }

    let records = sync_admin.list_records().identity_pool_id(&pool).identity_id(&id).dataset_name("notes");
    let records = records.send().await.unwrap();
    let mut keys: Vec<&str> = records.records().iter().filter_map(|r| r.key()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["control-admin", "control-identity"], "only the genuine calls wrote");
    let other = sync_admin.list_records().identity_pool_id(&pool).identity_id(&id).dataset_name("other");
    assert_eq!(other.send().await.unwrap().records().len(), 0);
});
