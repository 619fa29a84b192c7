//! Byte-level targets for the decoders, in `cargo fuzz`'s shape (`fn(&[u8])`, must not panic).
//! `tests/decoders.rs` runs each under bolero: random inputs on stable with `cargo test`, and
//! libFuzzer, AFL or honggfuzz with `cargo bolero test` (docs/security.md, "Fuzzing").

use serde_json::Value;
use std::sync::OnceLock;
use tessera_core::ports::{AesGcmCipher, SecretCipher};
use tessera_core::tokens::{PoolKeys, SigningKey};
use tessera_wire::model::ApiModel;

fn models() -> [&'static ApiModel; 3] {
    [ApiModel::cognito_idp(), ApiModel::cognito_identity(), ApiModel::cognito_sync()]
}

/// Fields of one input, split at 0xFF (which never occurs in UTF-8).
fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> =
        data.splitn(n, |&b| b == 0xFF).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    out.resize(n, String::new());
    out
}

/// A JSON 1.1 body against one operation's input shape (the first byte picks the operation).
pub fn json_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let ops: Vec<(&ApiModel, String)> =
        models().into_iter().flat_map(|m| m.operation_names().map(move |n| (m, n.to_string()))).collect();
    let Some((model, op)) = ops.get(pick as usize % ops.len().max(1)) else { return };
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let _ = model.validate_input(op, &v);
    }
}

/// A REST request (Cognito Sync): method, path, query, a header and a body.
pub fn rest_request(data: &[u8]) {
    let f = fields(data, 5);
    let model = ApiModel::cognito_sync();
    let Some((op, labels)) = model.match_rest(&f[0], &f[1]) else { return };
    let headers = vec![("x-amz-client-context".to_string(), f[3].clone())];
    let body = serde_json::from_str(&f[4]).unwrap_or(Value::Null);
    if let Ok(input) = model.rest_input(op, &labels, &f[2], &headers, body) {
        let _ = model.validate_input(&op.name, &input);
    }
}

/// A SigV4-signed request's authentication headers and date.
pub fn sigv4(data: &[u8]) {
    let f = fields(data, 6);
    let headers = vec![
        ("authorization".to_string(), f[0].clone()),
        ("x-amz-date".to_string(), f[1].clone()),
        ("host".to_string(), f[2].clone()),
        ("x-amz-content-sha256".to_string(), f[3].clone()),
    ];
    let req = tessera_wire::sigv4::SignedRequest {
        method: "POST",
        path: &f[4],
        query: &f[5],
        headers: &headers,
        body: data,
    };
    let secret = |id: &str| (id == "AKIAFUZZ").then(|| "secret".to_string());
    let _ = tessera_wire::sigv4::verify(&req, "cognito-idp", &secret, 1_765_000_000, 300);
}

/// ListUsers' `Filter` grammar.
pub fn list_users_filter(data: &[u8]) {
    let _ = tessera_core::user_pool::users::search::parse_filter(&String::from_utf8_lossy(data));
}

/// Sealed values handed back by callers (Sync's NextToken and SyncSessionToken) and the plain
/// pagination tokens.
pub fn sealed_token(data: &[u8]) {
    static CIPHER: OnceLock<Option<AesGcmCipher>> = OnceLock::new();
    let Some(cipher) = CIPHER.get_or_init(|| AesGcmCipher::new(&[7u8; 32]).ok()) else { return };
    for purpose in [tessera_core::ports::sealed::SYNC_TOKEN, tessera_core::ports::sealed::SRP_SESSION_SECRET]
    {
        let _ = cipher.open_untrusted(purpose, data);
    }
    let _ = tessera_core::input::decode_next_token(&String::from_utf8_lossy(data));
}

/// JSON Web Tokens: the unverified peek at the issuer, and full verification.
pub fn jwt(data: &[u8]) {
    static KEY: OnceLock<Option<SigningKey>> = OnceLock::new();
    let token = String::from_utf8_lossy(data);
    let _ = tessera_core::tokens::unverified_pool_id(&token);
    let key = KEY.get_or_init(|| {
        let cipher = AesGcmCipher::new(&[9u8; 32]).ok()?;
        let keys = PoolKeys::generate(&cipher).ok()?;
        SigningKey::open(&keys.id, &cipher).ok()
    });
    if let Some(key) = key {
        let _ = key.verify(&token, "http://localhost:9229/us-east-1_fuzz", 1_765_000_000);
    }
}

/// The user-import CSV: line splitting, value splitting and the header check.
pub fn import_csv(data: &[u8]) {
    use tessera_core::user_pool::import::csv;
    let expected: Vec<String> = ["cognito:username", "email", "email_verified", "cognito:mfa_enabled"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (i, line) in csv::complete_lines(data, true).enumerate() {
        let values = csv::split_line(&String::from_utf8_lossy(line));
        if i == 0 {
            let _ = csv::check_header(&expected, &values);
        }
    }
}

/// Sync's `RecordPatches`.
pub fn sync_patches(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let _ = tessera_core::sync::parse_patches(&serde_json::json!({ "RecordPatches": v }));
    }
}

/// Every target, by name (the stable driver in `tessera-fuzz decoders` walks them).
pub type Target = fn(&[u8]);

pub const ALL: &[(&str, Target)] = &[
    ("json_body", json_body),
    ("rest_request", rest_request),
    ("sigv4", sigv4),
    ("list_users_filter", list_users_filter),
    ("sealed_token", sealed_token),
    ("jwt", jwt),
    ("import_csv", import_csv),
    ("sync_patches", sync_patches),
];
