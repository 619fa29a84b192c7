//! `sync`: Cognito Sync throughput of the local server, through the official SDK clients.
//!
//! Starts a local server in-process on the embedded store, creates an identity pool that allows
//! unauthenticated identities, and gives N identities credentials the way apps get them (GetId +
//! GetCredentialsForIdentity). Every Sync call is then signed with an identity's credentials
//! (aws-sdk-cognitosync), as a device signs it:
//!
//! * a "sync" of 1 and of 10 records: ListRecords from the device's last sync count (for the
//!   SyncSessionToken, as the clients do before every write), then UpdateRecords with the
//!   records at their current sync counts. The pair and each call are timed. First one identity
//!   at a time, then `concurrency` identities at once, each on its own dataset.
//! * ListRecords of a whole 1024-record dataset (lastSyncCount 0, MaxResults 1024, following
//!   NextToken), alone and `concurrency` at once.

use crate::{err, loadavg, ms, percentile};
use aws_sdk_cognitoidentity as ci;
use aws_sdk_cognitosync as cs;
use std::time::{Duration, Instant};

const UNAUTH_ROLE: &str = "arn:aws:iam::000000000000:role/tessera-bench-unauthenticated";
/// Record values of this many bytes (ASCII), keys `k0000`…
const VALUE_BYTES: usize = 64;
/// The records one UpdateRecords carries when seeding the 1024-record dataset.
const SEED_BATCH: usize = 128;

pub struct Options {
    pub samples: usize,
    pub concurrency: usize,
    pub list_samples: usize,
}

fn identity_client(url: &str) -> ci::Client {
    let (id, secret) = crate::admin_keys();
    let conf = ci::Config::builder()
        .behavior_version(ci::config::BehaviorVersion::latest())
        .region(ci::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(ci::config::Credentials::new(id, secret, None, None, "bench"))
        .build();
    ci::Client::from_conf(conf)
}

/// One device: an identity and a Sync client signing with its credentials.
struct Device {
    pool: String,
    identity: String,
    sync: cs::Client,
}

async fn device(url: &str, identity: &ci::Client, pool: &str) -> Result<Device, String> {
    let id = identity.get_id().identity_pool_id(pool).send().await.map_err(err("GetId"))?;
    let identity_id = id.identity_id().ok_or("GetId: no IdentityId")?.to_string();
    let out = identity
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .send()
        .await
        .map_err(err("GetCredentialsForIdentity"))?;
    let c = out.credentials().ok_or("GetCredentialsForIdentity: no Credentials")?;
    let creds = cs::config::Credentials::new(
        c.access_key_id().ok_or("no AccessKeyId")?,
        c.secret_key().ok_or("no SecretKey")?,
        c.session_token().map(str::to_string),
        None,
        "identity",
    );
    let conf = cs::Config::builder()
        .behavior_version(cs::config::BehaviorVersion::latest())
        .region(cs::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(creds)
        .build();
    Ok(Device { pool: pool.to_string(), identity: identity_id, sync: cs::Client::from_conf(conf) })
}

fn key(i: usize) -> String {
    format!("k{i:04}")
}

fn value(round: usize, i: usize) -> String {
    let head = format!("{round}:{i}:");
    format!("{head}{}", "v".repeat(VALUE_BYTES.saturating_sub(head.len())))
}

/// The calls of one sync and how long they took.
#[derive(Default)]
struct Timings {
    pair: Vec<Duration>,
    list: Vec<Duration>,
    update: Vec<Duration>,
}

impl Timings {
    fn extend(&mut self, other: Timings) {
        self.pair.extend(other.pair);
        self.list.extend(other.list);
        self.update.extend(other.update);
    }
}

/// `rounds` syncs of `records` records on `dataset`: ListRecords from the last known count,
/// then UpdateRecords of records 0..records at the count they were last written with.
async fn sync_rounds(d: &Device, dataset: &str, records: usize, rounds: usize) -> Result<Timings, String> {
    let mut t = Timings::default();
    for round in 0..rounds {
        // The device's last sync count: one write per round, every record takes the new count.
        let last = round as i64;
        let start = Instant::now();
        let listed = d
            .sync
            .list_records()
            .identity_pool_id(&d.pool)
            .identity_id(&d.identity)
            .dataset_name(dataset)
            .last_sync_count(last)
            .send()
            .await
            .map_err(err("ListRecords"))?;
        let listed_at = Instant::now();
        let token = listed.sync_session_token().ok_or("ListRecords: no SyncSessionToken")?;
        let patches = (0..records)
            .map(|i| {
                cs::types::RecordPatch::builder()
                    .op(cs::types::Operation::Replace)
                    .key(key(i))
                    .value(value(round, i))
                    .sync_count(last)
                    .build()
                    .map_err(err("RecordPatch"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let written = d
            .sync
            .update_records()
            .identity_pool_id(&d.pool)
            .identity_id(&d.identity)
            .dataset_name(dataset)
            .sync_session_token(token)
            .set_record_patches(Some(patches))
            .send()
            .await
            .map_err(err("UpdateRecords"))?;
        let done = Instant::now();
        let counts: Vec<i64> = written.records().iter().filter_map(|r| r.sync_count()).collect();
        if counts.len() != records || counts.iter().any(|&c| c != last + 1) {
            return Err(format!(
                "UpdateRecords of {records} records at count {last} answered sync counts {counts:?}"
            ));
        }
        t.list.push(listed_at - start);
        t.update.push(done - listed_at);
        t.pair.push(done - start);
    }
    Ok(t)
}

fn p50_p99(calls: &mut [Duration]) -> String {
    calls.sort();
    format!("{:.2} / {:.2}", ms(percentile(calls, 50.0)), ms(percentile(calls, 99.0)))
}

/// One row of the sync table: syncs per second of `wall`, and p50 / p99 of the pair and of
/// each call.
fn sync_row(label: &str, records: usize, mut t: Timings, wall: Duration) {
    let syncs = t.pair.len();
    println!(
        "| {label} | {records} | {syncs} | {:.0} | {:.0} | {} | {} | {} |",
        syncs as f64 / wall.as_secs_f64(),
        (syncs * records) as f64 / wall.as_secs_f64(),
        p50_p99(&mut t.pair),
        p50_p99(&mut t.list),
        p50_p99(&mut t.update),
    );
}

/// One row of the ListRecords table.
fn list_row(label: &str, calls: &mut [Duration], pages: usize, wall: Duration) {
    println!(
        "| {label} | {} | {pages} | {:.0} | {:.0} | {} |",
        calls.len(),
        calls.len() as f64 / wall.as_secs_f64(),
        (calls.len() * 1024) as f64 / wall.as_secs_f64(),
        p50_p99(calls),
    );
}

async fn concurrent_syncs(
    devices: &[std::sync::Arc<Device>],
    dataset: &str,
    records: usize,
    rounds: usize,
) -> Result<(Timings, Duration), String> {
    let start = Instant::now();
    let tasks: Vec<_> = devices
        .iter()
        .map(|d| {
            let d = d.clone();
            let dataset = dataset.to_string();
            tokio::spawn(async move { sync_rounds(&d, &dataset, records, rounds).await })
        })
        .collect();
    let mut all = Timings::default();
    for task in tasks {
        all.extend(task.await.map_err(err("join"))??);
    }
    Ok((all, start.elapsed()))
}

/// Writes `n` records into `dataset` in UpdateRecords of SEED_BATCH records.
async fn seed(d: &Device, dataset: &str, n: usize) -> Result<(), String> {
    for (last, chunk) in (0..n).collect::<Vec<_>>().chunks(SEED_BATCH).enumerate() {
        let listed = d
            .sync
            .list_records()
            .identity_pool_id(&d.pool)
            .identity_id(&d.identity)
            .dataset_name(dataset)
            .last_sync_count(last as i64)
            .send()
            .await
            .map_err(err("ListRecords"))?;
        let patches = chunk
            .iter()
            .map(|&i| {
                cs::types::RecordPatch::builder()
                    .op(cs::types::Operation::Replace)
                    .key(key(i))
                    .value(value(0, i))
                    .sync_count(0)
                    .build()
                    .map_err(err("RecordPatch"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        d.sync
            .update_records()
            .identity_pool_id(&d.pool)
            .identity_id(&d.identity)
            .dataset_name(dataset)
            .sync_session_token(listed.sync_session_token().ok_or("no SyncSessionToken")?)
            .set_record_patches(Some(patches))
            .send()
            .await
            .map_err(err("UpdateRecords"))?;
    }
    Ok(())
}

/// ListRecords of the whole dataset, as a device that has never synced it does; returns the
/// records read and the pages (calls) it took.
async fn list_all(d: &Device, dataset: &str) -> Result<(usize, usize), String> {
    let mut next: Option<String> = None;
    let (mut n, mut pages) = (0, 0);
    loop {
        let out = d
            .sync
            .list_records()
            .identity_pool_id(&d.pool)
            .identity_id(&d.identity)
            .dataset_name(dataset)
            .last_sync_count(0)
            .max_results(1024)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(err("ListRecords"))?;
        n += out.records().len();
        pages += 1;
        match out.next_token() {
            Some(t) => next = Some(t.to_string()),
            None => return Ok((n, pages)),
        }
    }
}

/// `rounds` full reads of the dataset: their latencies and the pages of the last one.
async fn list_rounds(
    d: &Device,
    dataset: &str,
    rounds: usize,
    expect: usize,
) -> Result<(Vec<Duration>, usize), String> {
    let mut lat = Vec::with_capacity(rounds);
    let mut pages = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let (n, p) = list_all(d, dataset).await?;
        lat.push(t.elapsed());
        pages = p;
        if n != expect {
            return Err(format!("ListRecords returned {n} records, not {expect}"));
        }
    }
    Ok((lat, pages))
}

pub async fn run(opts: Options) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-sync-{}", std::process::id()));
    let mut cfg = tessera_local::LocalConfig::new(dir.clone());
    cfg.key_file = Some(dir.with_extension("key"));
    cfg.bind = "127.0.0.1:0".parse().map_err(err("bind"))?;
    let server = tessera_local::start(cfg).await?;
    let result = measure(&server.url(), &opts).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("key"));
    result
}

async fn measure(url: &str, opts: &Options) -> Result<(), String> {
    let identity = identity_client(url);
    let pool = identity
        .create_identity_pool()
        .identity_pool_name("sync_bench")
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .map_err(err("CreateIdentityPool"))?
        .identity_pool_id()
        .to_string();
    identity
        .set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("unauthenticated", UNAUTH_ROLE)
        .send()
        .await
        .map_err(err("SetIdentityPoolRoles"))?;
    let n = opts.concurrency.max(1);
    let t = Instant::now();
    let mut devices = Vec::with_capacity(n);
    for _ in 0..n {
        devices.push(std::sync::Arc::new(device(url, &identity, &pool).await?));
    }
    println!(
        "{n} identities with credentials (GetId + GetCredentialsForIdentity) in {:.1} ms; record values {VALUE_BYTES} bytes; load {}",
        ms(t.elapsed()),
        loadavg()
    );
    let first = devices.first().ok_or("no identity")?.clone();

    println!(
        "| syncs (ListRecords + UpdateRecords) | records per UpdateRecords | syncs | syncs/s | records written/s | sync p50 / p99 ms | ListRecords p50 / p99 ms | UpdateRecords p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for records in [1, 10] {
        // A few unmeasured rounds first: connections, caches.
        sync_rounds(&first, &format!("warm{records}"), records, 20).await?;
        let start = Instant::now();
        let timings = sync_rounds(&first, &format!("seq{records}"), records, opts.samples).await?;
        sync_row("1 identity", records, timings, start.elapsed());
    }
    for records in [1, 10] {
        let (timings, wall) =
            concurrent_syncs(&devices, &format!("par{records}"), records, opts.samples).await?;
        sync_row(&format!("{n} identities at once"), records, timings, wall);
    }

    let big = "big";
    let t = Instant::now();
    seed(&first, big, 1024).await?;
    let seeded = t.elapsed();
    list_rounds(&first, big, 5, 1024).await?;
    println!();
    println!("| ListRecords of a 1024-record dataset (lastSyncCount 0, MaxResults 1024) | reads | pages per read | reads/s | records/s | p50 / p99 ms per read |");
    println!("|---|---|---|---|---|---|");
    let start = Instant::now();
    let (mut lat, pages) = list_rounds(&first, big, opts.list_samples, 1024).await?;
    list_row("1 identity", &mut lat, pages, start.elapsed());
    // Every identity reads its own 1024-record dataset, all at once.
    for d in &devices[1..] {
        seed(d, big, 1024).await?;
    }
    let start = Instant::now();
    let tasks: Vec<_> = devices
        .iter()
        .map(|d| {
            let d = d.clone();
            let rounds = opts.list_samples;
            tokio::spawn(async move { list_rounds(&d, big, rounds, 1024).await })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(err("join"))??.0);
    }
    list_row(&format!("{n} identities at once"), &mut all, pages, start.elapsed());
    println!(
        "seeding 1024 records in UpdateRecords of {SEED_BATCH}: {:.1} ms; load after {}",
        ms(seeded),
        loadavg()
    );
    Ok(())
}
