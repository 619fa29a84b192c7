//! `units`: what each operation of a typical month costs the store, in DynamoDB's capacity
//! units, and the server's CPU per operation: the measured inputs of `tessera cost`
//! (docs/cost.md). The service runs in this process over the embedded store behind a counting
//! wrapper that charges every call as DynamoDB charges the table Tessera makes (strongly
//! consistent reads: 1 RRU per 4 KB read, a miss 1; a single write 1 WRU per KB; a transaction
//! 2 WRU per KB of each item; a delete the deleted item's size, counted here as 1 KB).

use crate::srp::{timestamp, ClientProof};
use crate::PASSWORD;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use num_bigint::BigUint;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tessera_core::store::{Item, Page, RawBody, RawItem, Store, StoreError, Write};
use tessera_core::CallContext;

#[derive(Default, Clone, Copy)]
struct Tally {
    rru: f64,
    wru: f64,
    calls: u64,
    store_secs: f64,
}

struct Counting {
    inner: Arc<dyn Store>,
    tally: Mutex<Tally>,
    /// Every item's current size, for the bytes a user keeps.
    sizes: Mutex<HashMap<(String, String), usize>>,
}

fn size_of(item: &Item) -> usize {
    tessera_aws::dynamo::item_size(&item.pk, &item.sk, item.body.to_string().len())
}

fn units(bytes: usize, per: usize) -> f64 {
    bytes.div_ceil(per).max(1) as f64
}

impl Counting {
    fn charge(&self, rru: f64, wru: f64, started: Instant) {
        if let Ok(mut t) = self.tally.lock() {
            t.rru += rru;
            t.wru += wru;
            t.calls += 1;
            t.store_secs += started.elapsed().as_secs_f64();
        }
    }
    fn take(&self) -> Tally {
        self.tally.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default()
    }
}

#[async_trait]
impl Store for Counting {
    async fn get(&self, pk: &str, sk: &str, now: i64) -> Result<Option<Item>, StoreError> {
        let t = Instant::now();
        let out = self.inner.get(pk, sk, now).await?;
        self.charge(units(out.as_ref().map_or(0, size_of), 4096), 0.0, t);
        Ok(out)
    }
    async fn get_raw(&self, pk: &str, sk: &str, now: i64) -> Result<Option<RawItem>, StoreError> {
        let t = Instant::now();
        let out = self.inner.get_raw(pk, sk, now).await?;
        let len = match out.as_ref().map(|r| &r.body) {
            None => 0,
            Some(RawBody::Value(v)) => v.to_string().len(),
            Some(RawBody::Json(j)) => j.get().len(),
        };
        let size = if out.is_some() { tessera_aws::dynamo::item_size(pk, sk, len) } else { 0 };
        self.charge(units(size, 4096), 0.0, t);
        Ok(out)
    }
    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Page, StoreError> {
        let t = Instant::now();
        let out = self.inner.query(pk, prefix, after, limit, now).await?;
        let bytes: usize = out.items.iter().map(size_of).sum();
        self.charge(units(bytes, 4096), 0.0, t);
        Ok(out)
    }
    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
        let t = Instant::now();
        let factor = if writes.len() > 1 { 2.0 } else { 1.0 };
        let mut wru = 0.0;
        let mut sizes = Vec::new();
        for w in &writes {
            match w {
                Write::Put { item, .. } => {
                    let s = size_of(item);
                    wru += factor * units(s, 1024);
                    sizes.push(((item.pk.clone(), item.sk.clone()), Some(s)));
                }
                Write::Delete { pk, sk, .. } => {
                    wru += factor;
                    sizes.push(((pk.clone(), sk.clone()), None));
                }
            }
        }
        let out = self.inner.transact(writes, now).await;
        if out.is_ok() {
            if let Ok(mut m) = self.sizes.lock() {
                for (k, s) in sizes {
                    match s {
                        Some(s) => m.insert(k, s),
                        None => m.remove(&k),
                    };
                }
            }
        }
        self.charge(0.0, wru, t);
        out
    }
}

#[derive(Default)]
struct OpStats {
    count: u64,
    rru: f64,
    wru: f64,
    calls: u64,
    cpu_secs: f64,
}

struct Bench {
    svc: Arc<tessera_core::Service>,
    store: Arc<Counting>,
    ctx: CallContext,
    stats: BTreeMap<&'static str, OpStats>,
}

fn thread_cpu_secs() -> f64 {
    // CLOCK_PROCESS_CPUTIME_ID through /proc: the process is single-threaded at work here
    // (a current-thread runtime; argon2 runs on the blocking pool, counted as process time).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

impl Bench {
    /// Runs one operation and charges it to `name`.
    async fn call(&mut self, name: &'static str, op: &str, input: Value) -> Result<Value, String> {
        self.store.take();
        let cpu = thread_cpu_secs();
        let wall = Instant::now();
        let out = tessera_wire::dispatch::call(&self.svc, &self.ctx, op, &input)
            .await
            .ok_or_else(|| format!("{op} is not served"))?
            .map_err(|e| format!("{op}: {}: {}", e.name(), e.message()))?;
        let elapsed = wall.elapsed().as_secs_f64();
        let cpu_used = thread_cpu_secs() - cpu;
        let tally = self.store.take();
        let s = self.stats.entry(name).or_default();
        s.count += 1;
        s.rru += tally.rru;
        s.wru += tally.wru;
        s.calls += tally.calls;
        // The handler's own time: the process's CPU when the clock ticks are fine enough,
        // else the wall time; the store's time is the embedded store's, not DynamoDB's.
        s.cpu_secs += (cpu_used.max(elapsed) - tally.store_secs).max(0.0);
        Ok(out)
    }
}

/// Messages are SES's or SNS's to send, priced alike with Cognito: delivered, not counted.
struct Delivered;

#[async_trait]
impl tessera_core::ports::Messenger for Delivered {
    async fn send(
        &self,
        _from: Option<&str>,
        _msg: &tessera_core::ports::OutgoingMessage,
    ) -> tessera_core::Result<()> {
        Ok(())
    }
}

pub async fn run(users: usize, out: Option<std::path::PathBuf>) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tessera-units-{}", std::process::id()));
    let inner = Arc::new(tessera_local::embedded::EmbeddedStore::open(&dir).map_err(|e| e.to_string())?);
    let store = Arc::new(Counting { inner, tally: Mutex::default(), sizes: Mutex::default() });
    use tessera_core::ports::{AesGcmCipher, SystemClock, SystemRng};
    let cipher = AesGcmCipher::new(&[9u8; 32]).map_err(|e| e.message().to_string())?;
    let svc = Arc::new(tessera_core::Service::new(
        store.clone(),
        Arc::new(Delivered),
        Arc::new(SystemClock),
        Arc::new(SystemRng),
        Arc::new(cipher),
        tessera_core::ServiceConfig::default(),
    ));
    let mut b =
        Bench { svc, store, ctx: CallContext::new("https://tessera.example"), stats: BTreeMap::new() };
    b.ctx.principal = tessera_core::Principal::Admin;
    // A pool as the Amplify getting-started guide makes one: email as the username, verified.
    let pool = b
        .call(
            "setup",
            "CreateUserPool",
            json!({"PoolName": "units", "UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"]}),
        )
        .await?;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap_or_default().to_string();
    let client = b
        .call(
            "setup",
            "CreateUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientName": "app",
                   "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
        )
        .await?;
    let client_id = client["UserPoolClient"]["ClientId"].as_str().unwrap_or_default().to_string();
    let bytes_before: usize = b.store.sizes.lock().map(|m| m.values().sum()).unwrap_or(0);
    let pool_name = pool_id.split_once('_').map(|(_, s)| s.to_string()).unwrap_or_default();
    for i in 0..users {
        let email = format!("user{i}@example.com");
        b.call(
            "SignUp",
            "SignUp",
            json!({"ClientId": client_id, "Username": email, "Password": PASSWORD,
                   "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "name", "Value": format!("User {i}")}]}),
        )
        .await?;
        b.call("ConfirmSignUp", "AdminConfirmSignUp", json!({"UserPoolId": pool_id, "Username": email}))
            .await?;
        // USER_SRP_AUTH, as Amplify signs in.
        let proof = ClientProof::new(i as u64 + 1);
        let challenge = b
            .call(
                "InitiateAuth (USER_SRP_AUTH)",
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_SRP_AUTH",
                       "AuthParameters": {"USERNAME": email, "SRP_A": proof.big_a.to_str_radix(16)}}),
            )
            .await?;
        let p = &challenge["ChallengeParameters"];
        let get = |k: &str| p[k].as_str().map(str::to_string).ok_or_else(|| format!("no {k}"));
        let salt = BigUint::parse_bytes(get("SALT")?.as_bytes(), 16).ok_or("bad SALT")?;
        let big_b = BigUint::parse_bytes(get("SRP_B")?.as_bytes(), 16).ok_or("bad SRP_B")?;
        let block_b64 = get("SECRET_BLOCK")?;
        let user_id = get("USER_ID_FOR_SRP")?;
        let block = STANDARD.decode(&block_b64).map_err(|e| e.to_string())?;
        let ts = timestamp();
        let signature = proof.signature(&pool_name, &user_id, PASSWORD, &salt, &big_b, &block, &ts);
        let tokens = b
            .call(
                "RespondToAuthChallenge (PASSWORD_VERIFIER)",
                "RespondToAuthChallenge",
                json!({"ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER", "Session": challenge["Session"],
                       "ChallengeResponses": {"USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": block_b64,
                                              "PASSWORD_CLAIM_SIGNATURE": signature, "TIMESTAMP": ts}}),
            )
            .await?;
        let access = tokens["AuthenticationResult"]["AccessToken"].clone();
        let refresh = tokens["AuthenticationResult"]["RefreshToken"].clone();
        b.call("GetUser", "GetUser", json!({"AccessToken": access})).await?;
        b.call(
            "InitiateAuth (REFRESH_TOKEN_AUTH)",
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh}}),
        )
        .await?;
        b.call(
            "InitiateAuth (USER_PASSWORD_AUTH)",
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": email, "PASSWORD": PASSWORD}}),
        )
        .await?;
    }
    let bytes_after: usize = b.store.sizes.lock().map(|m| m.values().sum()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    b.stats.remove("setup");
    let operations: serde_json::Map<String, Value> = b
        .stats
        .iter()
        .map(|(name, s)| {
            let n = s.count.max(1) as f64;
            let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
            (
                name.to_string(),
                json!({
                    "rru": round(s.rru / n, 2),
                    "wru": round(s.wru / n, 2),
                    "store_calls": round(s.calls as f64 / n, 2),
                    "cpu_ms": round(s.cpu_secs * 1000.0 / n, 3),
                }),
            )
        })
        .collect();
    // Sessions, origins and other expiring items are part of what a user keeps here; the
    // figure errs high.
    let bytes_per_user = (bytes_after.saturating_sub(bytes_before)) / users.max(1);
    let report = json!({
        "measured_with": format!("tessera-bench units --users {users}"),
        "tessera": env!("CARGO_PKG_VERSION"),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "users": users,
        "bytes_per_user": bytes_per_user,
        "operations": operations,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n";
    match out {
        Some(path) => std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
