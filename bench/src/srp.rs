//! `srp`: the server's cost of a USER_SRP_AUTH sign-in.
//!
//! 1. In this process, the SRP maths the server does per sign-in: B = k·v + g^b at
//!    InitiateAuth, then S = (A·v^u)^b, the key and the signature check at
//!    RespondToAuthChallenge (`tessera_core::srp::{server_public, claim_is_valid}`).
//! 2. Through the API: spawns `tessera serve`, signs N users up, then signs each in with
//!    InitiateAuth(USER_SRP_AUTH) + RespondToAuthChallenge(PASSWORD_VERIFIER), one client at a
//!    time, and divides the server's CPU time (/proc) by N. The client's SRP maths (num-bigint,
//!    a 1024-bit `a` as the SDKs use) runs here, outside the measured process.

use crate::{cpu_secs, err, loadavg, ms, percentile, sdk_client, spawn_server, PASSWORD};
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use num_bigint::BigUint;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessera_core::srp;

/// The client side of the exchange, as docs/sign-in.md ("USER_SRP_AUTH") describes it.
pub(crate) struct ClientProof {
    a: BigUint,
    pub(crate) big_a: BigUint,
}

impl ClientProof {
    pub(crate) fn new(seed: u64) -> ClientProof {
        // 128 bytes, like the SDKs; deterministic so runs compare.
        let mut bytes = Vec::with_capacity(128);
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        while bytes.len() < 128 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.extend_from_slice(&x.to_be_bytes());
        }
        let a = BigUint::from_bytes_be(&bytes);
        let big_a = srp::g().modpow(&a, &srp::n());
        ClientProof { a, big_a }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn signature(
        &self,
        pool_name: &str,
        user_id: &str,
        password: &str,
        salt: &BigUint,
        big_b: &BigUint,
        block: &[u8],
        timestamp: &str,
    ) -> String {
        use hmac::{Hmac, Mac};
        let n = srp::n();
        let u = srp::scrambler(&self.big_a, big_b);
        let x = srp::private_key_x(pool_name, user_id, password, salt);
        let kgx = (srp::k() * srp::g().modpow(&x, &n)) % &n;
        let base = (big_b + &n - kgx) % &n;
        let s = base.modpow(&(&self.a + &u * &x), &n);
        let key = srp::derive_key(&s, &u);
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&key) else { return String::new() };
        mac.update(pool_name.as_bytes());
        mac.update(user_id.as_bytes());
        mac.update(block);
        mac.update(timestamp.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// `EEE MMM d HH:mm:ss UTC yyyy` for now.
pub(crate) fn timestamp() -> String {
    use tessera_core::ports::Clock;
    srp::format_timestamp(tessera_core::ports::SystemClock.now_millis() / 1000)
}

fn median_us(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The SRP maths of one sign-in, in this process.
fn maths(samples: usize) -> Result<(f64, f64), String> {
    let (salt, v) = srp::verifier("BenchPool", "bench-user", PASSWORD, &[7u8; 16]);
    let client = ClientProof::new(1);
    let b = [0x5au8; srp::EPHEMERAL_BYTES];
    let big_b = srp::server_public(&v, &b).ok_or("B = 0")?;
    let ts = timestamp();
    let signature = client.signature("BenchPool", "bench-user", PASSWORD, &salt, &big_b, b"block", &ts);
    let claim = srp::Claim {
        pool_name: "BenchPool",
        user_id: "bench-user",
        verifier: &v,
        client_public: &client.big_a,
        server_secret: &b,
        server_public: &big_b,
        secret_block: b"block",
        timestamp: &ts,
        signature: &signature,
    };
    if !srp::claim_is_valid(&claim) {
        return Err("the bench client's proof does not verify".into());
    }
    let mut initiate = Vec::new();
    let mut respond = Vec::new();
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        std::hint::black_box(srp::server_public(&v, &b));
        initiate.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        std::hint::black_box(srp::claim_is_valid(&claim));
        respond.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok((median_us(initiate), median_us(respond)))
}

async fn srp_sign_in(
    client: &cip::Client,
    pool_id: &str,
    client_id: &str,
    username: &str,
    seed: u64,
) -> Result<(), String> {
    let proof = ClientProof::new(seed);
    let out = client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(cip::types::AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", proof.big_a.to_str_radix(16))
        .send()
        .await
        .map_err(err("InitiateAuth"))?;
    let params = out.challenge_parameters().ok_or("no challenge parameters")?;
    let get = |k: &str| params.get(k).cloned().ok_or_else(|| format!("no {k}"));
    let salt = BigUint::parse_bytes(get("SALT")?.as_bytes(), 16).ok_or("bad SALT")?;
    let big_b = BigUint::parse_bytes(get("SRP_B")?.as_bytes(), 16).ok_or("bad SRP_B")?;
    let block_b64 = get("SECRET_BLOCK")?;
    let user_id = get("USER_ID_FOR_SRP")?;
    let block = STANDARD.decode(&block_b64).map_err(err("SECRET_BLOCK"))?;
    let ts = timestamp();
    let pool_name = pool_id.split_once('_').map(|(_, s)| s).unwrap_or(pool_id);
    let signature = proof.signature(pool_name, &user_id, PASSWORD, &salt, &big_b, &block, &ts);
    let done = client
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(cip::types::ChallengeNameType::PasswordVerifier)
        .set_session(out.session().map(str::to_string))
        .challenge_responses("USERNAME", &user_id)
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &block_b64)
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", signature)
        .challenge_responses("TIMESTAMP", ts)
        .send()
        .await
        .map_err(err("RespondToAuthChallenge"))?;
    done.authentication_result().and_then(|r| r.access_token()).map(|_| ()).ok_or_else(|| "no tokens".into())
}

pub async fn run(users: usize, samples: usize, bin: PathBuf, port: u16) -> Result<(), String> {
    let (initiate_us, respond_us) =
        tokio::task::spawn_blocking(move || maths(samples)).await.map_err(err("maths"))??;
    println!(
        "SRP maths per sign-in (median of {samples}): B at InitiateAuth {:.2} ms + proof check at RespondToAuthChallenge {:.2} ms = {:.2} ms",
        initiate_us / 1000.0,
        respond_us / 1000.0,
        (initiate_us + respond_us) / 1000.0
    );
    let server = spawn_server(&bin, port).await?;
    let client = sdk_client(&server.url);
    let pool =
        client.create_user_pool().pool_name("bench-srp").send().await.map_err(err("CreateUserPool"))?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).ok_or("no pool id")?.to_string();
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("bench")
        .send()
        .await
        .map_err(err("CreateUserPoolClient"))?;
    let client_id = app.user_pool_client().and_then(|c| c.client_id()).ok_or("no client id")?.to_string();
    for i in 0..users {
        crate::sign_up(&client, &pool_id, &client_id, &format!("srp{i}")).await?;
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(users);
    let mut server_cpu = 0.0;
    for i in 0..users {
        // The client's maths happen between the two calls; only the calls are timed and counted.
        let cpu0 = cpu_secs(server.child.id())?;
        let t = Instant::now();
        srp_sign_in(&client, &pool_id, &client_id, &format!("srp{i}"), i as u64 + 2).await?;
        latencies.push(t.elapsed());
        server_cpu += cpu_secs(server.child.id())? - cpu0;
    }
    latencies.sort();
    println!(
        "USER_SRP_AUTH sign-ins through the API, {users} users one at a time: server CPU {:.2} ms per sign-in (InitiateAuth + RespondToAuthChallenge, incl. tokens); client-observed p50 {:.1} ms (includes the client's own SRP maths); load {}",
        server_cpu * 1000.0 / users as f64,
        ms(percentile(&latencies, 0.5)),
        loadavg()
    );
    Ok(())
}
