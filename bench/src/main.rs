//! `tessera-bench`: numbers for the README.
//!
//! * `signin`: spawns `tessera serve` as a separate process (so its CPU time can be read
//!   from `/proc/<pid>/stat`), signs N users up with 8 concurrent clients, then signs each
//!   one in with USER_PASSWORD_AUTH, and compares the server CPU per InitiateAuth with one
//!   argon2id verify at the server's parameters, timed in this process.
//! * `token`: against a running endpoint (Tessera or cognito-local), creates a pool, a
//!   client and a user, signs in and writes the access token for `bench/getuser.lua`.
//! * `micro`: times the pieces the profiles point at (RS256 sign and verify, argon2 memory).
//! * `argon2`: times one argon2id verify at `HashParams::default()`, alone and N at once.
//! * `listusers`: ListUsers latency with each kind of filter in a pool of 100,000 users.
//! * `srp`: the server's CPU for a USER_SRP_AUTH sign-in, its SRP maths alone and through the API.
//! * `sync`: Cognito Sync UpdateRecords/ListRecords throughput, signed with identity credentials.
//! * `archive`: `tessera export` and `tessera restore` of a pool of 100,000 users: users/s, peak memory.
//! * `enumeration`: known vs unknown users' answer times under PreventUserExistenceErrors.

mod archive;
mod codeflow;
mod enumeration;
mod listusers;
mod settings;
mod srp;
mod sync;
mod units;

use aws_sdk_cognitoidentityprovider as cip;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_core::password::HashParams;

const PASSWORD: &str = "Correct-Horse-9";

#[derive(Parser)]
#[command(name = "tessera-bench", about = "Benchmarks of the local Tessera server")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// SignUp + AdminConfirmSignUp, then InitiateAuth (USER_PASSWORD_AUTH), per user.
    Signin {
        /// How many users.
        #[arg(long, default_value_t = 300)]
        users: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The `tessera` binary to spawn.
        #[arg(long, default_value = "target/release/tessera")]
        server: PathBuf,
        /// Port to bind the server to (0: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// argon2id verifies to time (median reported).
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Also append the results as one JSON line to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Record the server with `perf record -g` during phase 2 into this file.
        #[arg(long)]
        perf: Option<PathBuf>,
    },
    /// Create a pool, a client and a user at an endpoint, sign in, write the access token.
    Token {
        /// A running Cognito-compatible endpoint, e.g. http://127.0.0.1:9229.
        #[arg(long)]
        endpoint: String,
        /// Where to write the access token.
        #[arg(long)]
        out: PathBuf,
        /// Create the user with AdminCreateUser + AdminSetUserPassword(Permanent) instead
        /// of SignUp + AdminConfirmSignUp.
        #[arg(long)]
        admin_create: bool,
    },
    /// Create a pool with a domain, a resource server and a client_credentials client at a
    /// Tessera endpoint; write the token endpoint's path and the client's Basic header.
    M2mClient {
        /// A running Tessera endpoint, e.g. http://127.0.0.1:9229.
        #[arg(long)]
        endpoint: String,
        /// Where to write two lines: the token path, then the Authorization header value.
        #[arg(long)]
        out: PathBuf,
    },
    /// Time the pieces of a sign-in and of a GetUser that the profiles point at, alone.
    Micro {
        /// Calls per batch (the best of 5 batches is reported).
        #[arg(long, default_value_t = 200)]
        iters: usize,
    },
    /// A CSV user import of N rows through the whole API: GetCSVHeader, CreateUserImportJob,
    /// the pre-signed PUT, StartUserImportJob, DescribeUserImportJob until the job ends.
    Import {
        /// Rows (users) in the file.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// The `tessera` binary to spawn.
        #[arg(long, default_value = "target/release/tessera")]
        server: PathBuf,
        /// Port to bind the server to (0: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// ListUsers latency by filter kind in a large pool (in-process local server).
    /// `tessera export` and `tessera restore` of a pool of N users, each under /usr/bin/time.
    Archive {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        /// The `tessera` binary to run.
        #[arg(long, default_value = "target/release/tessera")]
        tessera: PathBuf,
    },
    /// `tessera pool-settings` on a pool of N users: an alias change and a CaseSensitive change
    /// (every user moves), each under /usr/bin/time (docs/sign-in-settings.md).
    PoolSettings {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        /// The `tessera` binary to run.
        #[arg(long, default_value = "target/release/tessera")]
        tessera: PathBuf,
    },
    /// DynamoDB capacity units, store calls and server CPU per operation of a typical month, in
    /// process over a counting store: the inputs of `tessera cost` (docs/cost.md).
    Units {
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// Where to write the JSON (shared/local/src/cost-inputs.json is what `tessera cost` uses).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    Listusers {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        /// Calls per filter (p50 and p99 reported).
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// Server CPU of a USER_SRP_AUTH sign-in: the SRP maths alone, then whole sign-ins through
    /// the API of a spawned server.
    /// The authorization-code sign-in through the hosted page (authorize, the sign-in form,
    /// the token exchange), one after another: server CPU per sign-in against one argon2 verify.
    CodeFlow {
        /// Sign-ins measured.
        #[arg(long, default_value_t = 100)]
        samples: usize,
        /// The `tessera` binary to spawn.
        #[arg(long, default_value = "target/release/tessera")]
        server: PathBuf,
        /// Port to bind the server to (0: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    Srp {
        /// Users signed in through the API.
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// Timings of the maths alone (median reported).
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// The `tessera` binary to spawn.
        #[arg(long, default_value = "target/release/tessera")]
        server: PathBuf,
        /// Port to bind the server to (0: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Cognito Sync throughput with identity credentials: ListRecords + UpdateRecords of 1 and
    /// 10 records, one identity and N at once, and ListRecords of a 1024-record dataset
    /// (in-process local server).
    Sync {
        /// Syncs (ListRecords + UpdateRecords) per identity and case.
        #[arg(long, default_value_t = 500)]
        samples: usize,
        /// Identities syncing at once (each on its own dataset).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Full ListRecords of the 1024-record dataset per identity.
        #[arg(long, default_value_t = 100)]
        list_samples: usize,
    },
    /// Known vs unknown users' answer times (ForgotPassword, ResendConfirmationCode,
    /// InitiateAuth) under PreventUserExistenceErrors.
    Enumeration {
        /// Calls per operation for known users (and as many for unknown names).
        #[arg(long, default_value_t = 1000)]
        calls: usize,
        /// Run the server on DynamoDB at this endpoint (e.g. moto's http://127.0.0.1:5005).
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
        /// Concurrent clients while making the users.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Time one argon2id verify at the server's default parameters.
    Argon2 {
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Verifies at once for the parallel measurement.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Memory in KiB (default: the server's, HashParams::default()).
        #[arg(long)]
        m_kib: Option<u32>,
    },
}

fn admin_keys() -> (String, String) {
    let id = std::env::var("TESSERA_ADMIN_ACCESS_KEY_ID")
        .unwrap_or_else(|_| tessera_local::server::DEFAULT_ADMIN_ACCESS_KEY_ID.to_string());
    let secret = std::env::var("TESSERA_ADMIN_SECRET_ACCESS_KEY")
        .unwrap_or_else(|_| tessera_local::server::DEFAULT_ADMIN_SECRET_ACCESS_KEY.to_string());
    (id, secret)
}

fn sdk_client(url: &str) -> cip::Client {
    let (id, secret) = admin_keys();
    let creds = cip::config::Credentials::new(id, secret, None, None, "bench");
    let conf = cip::Config::builder()
        .behavior_version(cip::config::BehaviorVersion::latest())
        .region(cip::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(creds)
        .build();
    cip::Client::from_conf(conf)
}

fn err<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Phase {
    wall: Duration,
    latencies: Vec<Duration>,
    failures: usize,
}

impl Phase {
    fn p(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

// ---------------------------------------------------------------------------------------
// argon2id
// ---------------------------------------------------------------------------------------

/// One argon2id verify at `HashParams::default()`, timed in this process.
struct Argon2Timing {
    params: HashParams,
    /// Wall time of one verify, one thread: median and minimum.
    wall_median: Duration,
    wall_min: Duration,
    /// Process CPU time per verify, one thread at a time.
    cpu_1: f64,
    /// Process CPU time per verify with `threads` verifies running at once (as a loaded
    /// server runs them: memory bandwidth and the shared L3 are contended).
    cpu_parallel: f64,
    threads: usize,
}

fn time_argon2(samples: usize, threads: usize) -> Result<Argon2Timing, String> {
    time_argon2_with(HashParams::default(), samples, threads)
}

fn time_argon2_with(params: HashParams, samples: usize, threads: usize) -> Result<Argon2Timing, String> {
    let salt = [7u8; 16];
    let phc = params.hash(PASSWORD, &salt).map_err(err("argon2 hash"))?;
    if !params.verify(PASSWORD, &phc) {
        return Err("argon2 verify of a fresh hash failed".into());
    }
    let samples = samples.max(1);
    let me = std::process::id();
    let mut times = Vec::with_capacity(samples);
    let c0 = cpu_secs(me)?;
    for _ in 0..samples {
        let t = Instant::now();
        let ok = params.verify(PASSWORD, &phc);
        times.push(t.elapsed());
        if !ok {
            return Err("argon2 verify failed".into());
        }
    }
    let cpu_1 = (cpu_secs(me)? - c0) / samples as f64;
    times.sort();
    let threads = threads.max(1);
    let per_thread = samples.div_ceil(threads);
    let c0 = cpu_secs(me)?;
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    let _ = params.verify(PASSWORD, &phc);
                }
            });
        }
    });
    let cpu_parallel = (cpu_secs(me)? - c0) / (per_thread * threads) as f64;
    Ok(Argon2Timing {
        params,
        wall_median: percentile(&times, 50.0),
        wall_min: times[0],
        cpu_1,
        cpu_parallel,
        threads,
    })
}

impl Argon2Timing {
    fn describe(&self) -> String {
        format!(
            "argon2id m={} KiB t={} p={}: one verify = {:.2} ms median wall ({:.2} min), {:.2} ms CPU; \
             {:.2} ms CPU each with {} at once",
            self.params.m_kib,
            self.params.t,
            self.params.p,
            ms(self.wall_median),
            ms(self.wall_min),
            self.cpu_1 * 1000.0,
            self.cpu_parallel * 1000.0,
            self.threads
        )
    }
}

// ---------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------

struct ServerProc {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("key"));
        let _ = std::fs::remove_file(self.dir.with_extension("log"));
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(err("bind"))?;
    Ok(l.local_addr().map_err(err("local_addr"))?.port())
}

async fn spawn_server(bin: &Path, port: u16) -> Result<ServerProc, String> {
    let port = if port == 0 { free_port()? } else { port };
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}-{port}", std::process::id()));
    let (id, secret) = admin_keys();
    let log = std::fs::File::create(dir.with_extension("log")).map_err(err("server log"))?;
    let child = Command::new(bin)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .arg("--key-file")
        .arg(dir.with_extension("key"))
        .env("TESSERA_ADMIN_ACCESS_KEY_ID", id)
        .env("TESSERA_ADMIN_SECRET_ACCESS_KEY", secret)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    let server = ServerProc { child, url, dir };
    wait_ready(&server.url).await?;
    Ok(server)
}

async fn wait_ready(url: &str) -> Result<(), String> {
    let client = sdk_client(url);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.list_user_pools().max_results(1).send().await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("{url} does not answer: {e:?}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(err("read /proc stat"))?;
    // The command name may hold spaces; fields after the closing parenthesis start at 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: f64 = f.get(11).and_then(|s| s.parse().ok()).ok_or("no utime")?;
    let stime: f64 = f.get(12).and_then(|s| s.parse().ok()).ok_or("no stime")?;
    Ok((utime + stime) / clk_tck())
}

/// The 1, 5 and 15 minute load averages (others share this machine).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------------------------------
// Pools, clients, users
// ---------------------------------------------------------------------------------------

async fn pool_and_client(client: &cip::Client) -> Result<(String, String), String> {
    let pool = client
        .create_user_pool()
        .pool_name(format!("bench{}", std::process::id()))
        .send()
        .await
        .map_err(err("CreateUserPool"))?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).ok_or("no pool id")?.to_string();
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("bench")
        .generate_secret(false)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .map_err(err("CreateUserPoolClient"))?;
    let client_id = app.user_pool_client().and_then(|c| c.client_id()).ok_or("no client id")?.to_string();
    Ok((pool_id, client_id))
}

async fn sign_up(client: &cip::Client, pool_id: &str, client_id: &str, username: &str) -> Result<(), String> {
    client
        .sign_up()
        .client_id(client_id)
        .username(username)
        .password(PASSWORD)
        .send()
        .await
        .map_err(err("SignUp"))?;
    client
        .admin_confirm_sign_up()
        .user_pool_id(pool_id)
        .username(username)
        .send()
        .await
        .map_err(err("AdminConfirmSignUp"))?;
    Ok(())
}

async fn admin_create(client: &cip::Client, pool_id: &str, username: &str) -> Result<(), String> {
    client
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(username)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .map_err(err("AdminCreateUser"))?;
    client
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .map_err(err("AdminSetUserPassword"))?;
    Ok(())
}

async fn sign_in(client: &cip::Client, client_id: &str, username: &str) -> Result<String, String> {
    let out = client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(err("InitiateAuth"))?;
    out.authentication_result()
        .and_then(|r| r.access_token())
        .map(str::to_string)
        .ok_or_else(|| format!("InitiateAuth: no tokens (challenge {:?})", out.challenge_name()))
}

/// Runs `op(i)` for i in 0..n with `concurrency` workers; per-call latencies.
async fn run_phase<F, Fut>(n: usize, concurrency: usize, op: F) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        failures += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, failures, first_error)
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let mut failures = 0;
    for w in workers {
        if let Ok((lat, f, e)) = w.await {
            latencies.extend(lat);
            failures += f;
            if let Some(e) = e {
                eprintln!("error: {e}");
            }
        }
    }
    let wall = start.elapsed();
    latencies.sort();
    Phase { wall, latencies, failures }
}

// ---------------------------------------------------------------------------------------
// Subcommands
// ---------------------------------------------------------------------------------------

async fn signin(
    users: usize,
    concurrency: usize,
    server_bin: PathBuf,
    port: u16,
    samples: usize,
    json: Option<PathBuf>,
    perf: Option<PathBuf>,
) -> Result<(), String> {
    // Time argon2 first, on a quiet machine.
    let load_before = loadavg();
    println!("load average before: {load_before}");
    let a2 = time_argon2(samples, 2)?;
    println!("{}", a2.describe());

    let server = spawn_server(&server_bin, port).await?;
    let pid = server.child.id();
    let client = sdk_client(&server.url);
    let (pool_id, client_id) = pool_and_client(&client).await?;
    let run = format!("u{}x", std::process::id());
    println!(
        "server pid {pid} at {}; pool {pool_id}; {users} users, {concurrency} concurrent clients",
        server.url
    );

    let cpu0 = cpu_secs(pid)?;
    let p1 = {
        let (client, pool_id, client_id, run) =
            (client.clone(), pool_id.clone(), client_id.clone(), run.clone());
        run_phase(users, concurrency, move |i| {
            let (client, pool_id, client_id) = (client.clone(), pool_id.clone(), client_id.clone());
            let username = format!("{run}{i}");
            async move { sign_up(&client, &pool_id, &client_id, &username).await }
        })
        .await
    };
    let recorder = match &perf {
        Some(out) => Some(
            Command::new("perf")
                .args(["record", "-g", "-o"])
                .arg(out)
                .args(["-p", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(err("perf"))?,
        ),
        None => None,
    };
    if recorder.is_some() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cpu1 = cpu_secs(pid)?;
    let p2 = {
        let (client, client_id, run) = (client.clone(), client_id.clone(), run.clone());
        run_phase(users, concurrency, move |i| {
            let (client, client_id) = (client.clone(), client_id.clone());
            let username = format!("{run}{i}");
            async move { sign_in(&client, &client_id, &username).await.map(|_| ()) }
        })
        .await
    };
    let cpu2 = cpu_secs(pid)?;
    if let Some(mut r) = recorder {
        let _ = Command::new("kill").args(["-INT", &r.id().to_string()]).status();
        let _ = r.wait();
    }
    drop(server);

    let ok1 = p1.latencies.len().max(1) as f64;
    let ok2 = p2.latencies.len().max(1) as f64;
    let cpu_signup = (cpu1 - cpu0) / ok1;
    let cpu_auth = (cpu2 - cpu1) / ok2;
    // CPU against CPU: robust to the bench being preempted on a shared machine.
    let verify = a2.cpu_1;
    let ratio = cpu_auth / verify;
    let line = |name: &str, p: &Phase, cpu: f64| {
        println!(
            "{name:<34} {:>8.2} s {:>8.1} users/s  p50 {:>7.1} ms  p99 {:>7.1} ms  failures {}  server CPU {:>6.2} ms/user",
            p.wall.as_secs_f64(),
            p.latencies.len() as f64 / p.wall.as_secs_f64(),
            ms(p.p(50.0)),
            ms(p.p(99.0)),
            p.failures,
            cpu * 1000.0
        )
    };
    line("phase 1 SignUp+AdminConfirmSignUp", &p1, cpu_signup);
    line("phase 2 InitiateAuth", &p2, cpu_auth);
    println!(
        "server CPU per InitiateAuth {:.2} ms / one argon2id verify (CPU) {:.2} ms = {:.3}x (target <= 1.1x); \
         / verify CPU with 2 at once {:.2} ms = {:.3}x",
        cpu_auth * 1000.0,
        verify * 1000.0,
        ratio,
        a2.cpu_parallel * 1000.0,
        cpu_auth / a2.cpu_parallel
    );
    let result = serde_json::json!({
        "users": users,
        "concurrency": concurrency,
        "load_before": load_before,
        "load_after": loadavg(),
        "argon2": {"m_kib": a2.params.m_kib, "t": a2.params.t, "p": a2.params.p,
                    "verify_ms_median": ms(a2.wall_median), "verify_ms_min": ms(a2.wall_min),
                    "verify_cpu_ms": a2.cpu_1 * 1000.0, "verify_cpu_ms_2_parallel": a2.cpu_parallel * 1000.0},
        "signup": {"wall_s": p1.wall.as_secs_f64(), "ok": p1.latencies.len(), "failures": p1.failures,
                    "users_per_s": p1.latencies.len() as f64 / p1.wall.as_secs_f64(),
                    "p50_ms": ms(p1.p(50.0)), "p99_ms": ms(p1.p(99.0)), "server_cpu_ms": cpu_signup * 1000.0},
        "initiate_auth": {"wall_s": p2.wall.as_secs_f64(), "ok": p2.latencies.len(), "failures": p2.failures,
                    "users_per_s": p2.latencies.len() as f64 / p2.wall.as_secs_f64(),
                    "p50_ms": ms(p2.p(50.0)), "p99_ms": ms(p2.p(99.0)), "server_cpu_ms": cpu_auth * 1000.0},
        "ratio_cpu_per_auth_to_verify": ratio,
        "ratio_cpu_per_auth_to_parallel_verify_cpu": cpu_auth / a2.cpu_parallel,
    });
    println!("RESULT {result}");
    if let Some(path) = json {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(err("json"))?;
        writeln!(f, "{result}").map_err(err("json"))?;
    }
    if p1.failures + p2.failures > 0 {
        return Err(format!("{} calls failed", p1.failures + p2.failures));
    }
    Ok(())
}

async fn token(endpoint: String, out: PathBuf, admin_create_user: bool) -> Result<(), String> {
    wait_ready(&endpoint).await?;
    let client = sdk_client(&endpoint);
    let (pool_id, client_id) = pool_and_client(&client).await?;
    // An email address: cognito-local makes email the username attribute of new pools.
    let username = format!("wrk{}@example.com", std::process::id());
    if admin_create_user {
        admin_create(&client, &pool_id, &username).await?;
    } else {
        sign_up(&client, &pool_id, &client_id, &username).await?;
    }
    let access = sign_in(&client, &client_id, &username).await?;
    // One GetUser through the SDK, so a broken token fails here, not under load.
    client.get_user().access_token(&access).send().await.map_err(err("GetUser"))?;
    std::fs::write(&out, &access).map_err(err("write token"))?;
    println!("pool {pool_id}, client {client_id}, user {username}; access token in {}", out.display());
    println!("TOKEN_FILE={} wrk -t2 -c16 -d20s --latency -s bench/getuser.lua {endpoint}/", out.display());
    Ok(())
}

async fn m2m_client(endpoint: String, out: PathBuf) -> Result<(), String> {
    use base64::Engine;
    wait_ready(&endpoint).await?;
    let client = sdk_client(&endpoint);
    let pool = client
        .create_user_pool()
        .pool_name(format!("m2m{}", std::process::id()))
        .send()
        .await
        .map_err(err("CreateUserPool"))?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).ok_or("no pool id")?.to_string();
    let prefix = format!("bench{}", std::process::id());
    client
        .create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain(&prefix)
        .send()
        .await
        .map_err(err("Domain"))?;
    let scope = cip::types::ResourceServerScopeType::builder()
        .scope_name("read")
        .scope_description("read")
        .build()
        .map_err(err("scope"))?;
    client
        .create_resource_server()
        .user_pool_id(&pool_id)
        .identifier("https://api.example.com")
        .name("API")
        .scopes(scope)
        .send()
        .await
        .map_err(err("CreateResourceServer"))?;
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("m2m")
        .generate_secret(true)
        .allowed_o_auth_flows(cip::types::OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("https://api.example.com/read")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .map_err(err("CreateUserPoolClient"))?;
    let app = app.user_pool_client().ok_or("no client")?;
    let id = app.client_id().ok_or("no client id")?;
    let secret = app.client_secret().ok_or("no secret")?;
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")));
    std::fs::write(&out, format!("/_auth/{prefix}/oauth2/token\n{basic}\n")).map_err(err("write"))?;
    println!(
        "pool {pool_id}, domain {prefix}, client {id}; token path and Basic header in {}",
        out.display()
    );
    Ok(())
}

/// Per-call time of `f`: the best mean of 5 batches of `iters` calls, in microseconds.
fn per_call<T>(iters: usize, mut f: impl FnMut() -> T) -> f64 {
    let iters = iters.max(1);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(f());
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    best
}

fn micro(iters: usize) -> Result<(), String> {
    use aws_lc_rs::signature as sig;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    use tessera_core::ports::{AesGcmCipher, SecretCipher};
    use tessera_core::tokens::{PoolKeys, SigningKey};

    let cipher = AesGcmCipher::new(&[9u8; 32]).map_err(err("cipher"))?;
    let keys = PoolKeys::generate(&cipher).map_err(err("keys"))?;
    let key = SigningKey::open(&keys.access, &cipher).map_err(err("open key"))?;
    let iss = "http://127.0.0.1:9229/us-east-1_AbCdEfGhI";
    let claims = serde_json::json!({
        "sub": "8c1f4b7e-2d3a-4e5f-9a6b-7c8d9e0f1a2b", "iss": iss,
        "client_id": "6jixni0pkmoma40utgtbhs1hk6", "origin_jti": "0d2f5c1e-3b4a-4c6d-8e7f-9a0b1c2d3e4f",
        "event_id": "1e3a5c7b-9d2f-4a6c-8b0e-2d4f6a8c0e1b", "token_use": "access",
        "scope": "aws.cognito.signin.user.admin", "auth_time": 1_800_000_000i64,
        "exp": 4_000_000_000i64, "iat": 1_800_000_000i64,
        "jti": "2f4b6d8a-0c1e-4f3a-5b7c-9d1e3f5a7b9c", "username": "wrk1@example.com"
    });
    let token = key.sign(&claims).map_err(err("sign"))?;
    let (signing_input, sig_b64) = token.rsplit_once('.').ok_or("token")?;
    let signature = URL_SAFE_NO_PAD.decode(sig_b64).map_err(err("sig"))?;
    let der = cipher
        .open(
            tessera_core::ports::sealed::SIGNING_KEY,
            &STANDARD.decode(&keys.access.sealed_private).map_err(err("b64"))?,
        )
        .map_err(err("open"))?;
    let n = URL_SAFE_NO_PAD.decode(&keys.access.n).map_err(err("n"))?;
    let e = URL_SAFE_NO_PAD.decode(&keys.access.e).map_err(err("e"))?;
    let components = sig::RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() };
    let parsed =
        components.to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256).map_err(err("parsed key"))?;
    let pair = sig::RsaKeyPair::from_der(&der).map_err(err("key pair"))?;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut out = vec![0u8; pair.public_modulus_len()];
    if key.verify(&token, iss, 0).is_none()
        || parsed.verify_sig(signing_input.as_bytes(), &signature).is_err()
    {
        return Err("the token does not verify".into());
    }

    println!("RS256, 2048-bit key; best of 5 batches of {iters} calls, microseconds per call");
    let sign_server = per_call(iters / 10 + 1, || key.sign(&claims));
    println!("  sign, as the server does (jsonwebtoken, key parsed per call) {sign_server:>9.1}");
    let parse = per_call(iters / 10 + 1, || sig::RsaKeyPair::from_der(&der).is_ok());
    println!("    of which RsaKeyPair::from_der alone                        {parse:>9.1}");
    let sign_cached = per_call(iters / 10 + 1, || {
        pair.sign(&sig::RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut out).is_ok()
    });
    println!("  sign with a key pair parsed once (aws-lc-rs)                 {sign_cached:>9.1}");
    let verify_server = per_call(iters, || key.verify(&token, iss, 0).is_some());
    println!("  verify, as GetUser does (jsonwebtoken: parse, key per call)  {verify_server:>9.1}");
    let verify_components = per_call(iters, || {
        components.verify(&sig::RSA_PKCS1_2048_8192_SHA256, signing_input.as_bytes(), &signature).is_ok()
    });
    println!("    of which the RSA check alone, key built per call           {verify_components:>9.1}");
    let verify_parsed = per_call(iters, || parsed.verify_sig(signing_input.as_bytes(), &signature).is_ok());
    println!("  RSA check with a public key parsed once                      {verify_parsed:>9.1}");
    let hashed = per_call(iters, || aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()));
    println!("  SHA-256 of the token (a verified-token cache key)            {hashed:>9.1}");

    let params = HashParams::default();
    let a2 = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(err("params"))?,
    );
    let mut hash = [0u8; 32];
    let fresh =
        per_call(4, || a2.hash_password_into(PASSWORD.as_bytes(), b"saltsaltsaltsalt", &mut hash).is_ok());
    let block_count =
        argon2::Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(err("params"))?.block_count();
    let mut blocks = vec![argon2::Block::default(); block_count];
    let reused = per_call(4, || {
        a2.hash_password_into_with_memory(PASSWORD.as_bytes(), b"saltsaltsaltsalt", &mut hash, &mut blocks)
            .is_ok()
    });
    println!(
        "argon2id m={} KiB t={} p={}: fresh memory per call {:.2} ms, memory reused {:.2} ms",
        params.m_kib,
        params.t,
        params.p,
        fresh / 1000.0,
        reused / 1000.0
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------------------

/// One HTTP/1.1 PUT of `body` to a pre-signed URL, as `curl -T` sends it; returns the status.
async fn put(url: &str, body: &[u8]) -> Result<u16, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").ok_or("not an http URL")?;
    let (host, path) = rest.split_at(rest.find('/').ok_or("no path")?);
    let mut stream = tokio::net::TcpStream::connect(host).await.map_err(err("connect"))?;
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: text/csv\r\n\
         x-amz-server-side-encryption: aws:kms\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.map_err(err("write"))?;
    stream.write_all(body).await.map_err(err("write body"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.map_err(err("read"))?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| "no HTTP status".to_string())
}

async fn import(rows: usize, bin: PathBuf, port: u16) -> Result<(), String> {
    let server = spawn_server(&bin, port).await?;
    let client = sdk_client(&server.url);
    let pool = client
        .create_user_pool()
        .pool_name("bench-import")
        .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        .send()
        .await
        .map_err(err("create pool"))?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).ok_or("no pool id")?.to_string();
    let header = client.get_csv_header().user_pool_id(&pool_id).send().await.map_err(err("header"))?;
    let cols = header.csv_header().to_vec();
    let mut body = cols.join(",") + "\n";
    for i in 0..rows {
        let line: Vec<String> = cols
            .iter()
            .map(|c| match c.as_str() {
                "cognito:username" => format!("user{i}"),
                "cognito:mfa_enabled" => "false".into(),
                "email" => format!("user{i}@example.com"),
                "email_verified" => "true".into(),
                "name" => format!("User\\, Number {i}"),
                _ => String::new(),
            })
            .collect();
        body += &line.join(",");
        body += "\n";
    }
    let job = client
        .create_user_import_job()
        .user_pool_id(&pool_id)
        .job_name("bench")
        .cloud_watch_logs_role_arn("arn:aws:iam::123456789012:role/CognitoImportLogs")
        .send()
        .await
        .map_err(err("create job"))?;
    let job = job.user_import_job().ok_or("no job")?;
    let job_id = job.job_id().ok_or("no job id")?.to_string();
    let t_upload = Instant::now();
    let status = put(job.pre_signed_url().ok_or("no URL")?, body.as_bytes()).await?;
    if status != 200 {
        return Err(format!("upload answered {status}"));
    }
    let upload = t_upload.elapsed();
    let cpu0 = cpu_secs(server.child.id())?;
    let t0 = Instant::now();
    client
        .start_user_import_job()
        .user_pool_id(&pool_id)
        .job_id(&job_id)
        .send()
        .await
        .map_err(err("start"))?;
    let done = loop {
        let d = client
            .describe_user_import_job()
            .user_pool_id(&pool_id)
            .job_id(&job_id)
            .send()
            .await
            .map_err(err("describe"))?;
        let j = d.user_import_job().cloned().ok_or("no job")?;
        if matches!(
            j.status(),
            Some(
                cip::types::UserImportJobStatusType::Succeeded | cip::types::UserImportJobStatusType::Failed
            )
        ) {
            break j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wall = t0.elapsed();
    let cpu = cpu_secs(server.child.id())? - cpu0;
    println!(
        "import: {rows} rows ({:.1} MB), upload {:.2} s; job {:?} in {:.2} s = {:.0} rows/s; \
         imported {}, skipped {}, failed {}; server CPU {:.2} s ({:.1} µs/row); load {}",
        body.len() as f64 / 1e6,
        upload.as_secs_f64(),
        done.status(),
        wall.as_secs_f64(),
        rows as f64 / wall.as_secs_f64(),
        done.imported_users(),
        done.skipped_users(),
        done.failed_users(),
        cpu,
        cpu * 1e6 / rows as f64,
        loadavg(),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    match Cli::parse().command {
        Cmd::Signin { users, concurrency, server, port, samples, json, perf } => {
            signin(users, concurrency, server, port, samples, json, perf).await
        }
        Cmd::Token { endpoint, out, admin_create } => token(endpoint, out, admin_create).await,
        Cmd::M2mClient { endpoint, out } => m2m_client(endpoint, out).await,
        Cmd::Micro { iters } => micro(iters),
        Cmd::Import { rows, server, port } => import(rows, server, port).await,
        Cmd::Listusers { users, samples } => listusers::run(users, samples).await,
        Cmd::Archive { users, tessera } => archive::run(users, tessera).await,
        Cmd::Units { users, out } => units::run(users, out).await,
        Cmd::PoolSettings { users, tessera } => settings::run(users, tessera).await,
        Cmd::Srp { users, samples, server, port } => srp::run(users, samples, server, port).await,
        Cmd::CodeFlow { samples, server, port } => codeflow::run(samples, server, port).await,
        Cmd::Sync { samples, concurrency, list_samples } => {
            sync::run(sync::Options { samples, concurrency, list_samples }).await
        }
        Cmd::Enumeration { calls, dynamodb_endpoint, concurrency } => {
            enumeration::run(enumeration::Options { calls, dynamodb_endpoint, concurrency }).await
        }
        Cmd::Argon2 { samples, threads, m_kib } => {
            let mut params = HashParams::default();
            if let Some(m) = m_kib {
                params.m_kib = m;
            }
            println!("{}", time_argon2_with(params, samples, threads)?.describe());
            Ok(())
        }
    }
}
