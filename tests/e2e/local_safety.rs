//! The local server's own safety (docs/security.md): CORS and Host allow-lists, the admin
//! keys off loopback, the loopback-only dev endpoints, where the master key lives, and the
//! connection limits — each written as the attack it stops, over real sockets.

use crate::common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tessera_local::{HttpLimits, LocalConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 response as read from the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The Cognito-style error: `__type` in the body and the same in `x-amzn-errortype`.
    fn error_type(&self) -> String {
        let body = self.json()["__type"].as_str().unwrap_or_default().to_string();
        let header = self.header("x-amzn-errortype").unwrap_or_default().trim_end_matches(':').to_string();
        assert_eq!(body, header, "body and x-amzn-errortype agree: {self:?}");
        assert!(self.json()["message"].is_string(), "a message: {self:?}");
        body
    }
}

/// The first complete response in `buf` and the bytes it used.
fn parse_answer(buf: &[u8]) -> Option<(Answer, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let body = buf.get(end + 4..end + 4 + length)?.to_vec();
    Some((Answer { status, headers, body }, end + 4 + length))
}

/// Reads until the server closes (or `limit` passes): everything received.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (buf, closed)
}

/// Sends raw bytes on a new connection and reads the one answer until the server closes.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let (buf, _) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    parse_answer(&buf)
        .map(|(a, _)| a)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&buf)))
}

fn get(path: &str, host: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

fn addr(env: &TestEnv) -> SocketAddr {
    env.server.addr
}

// ---------------------------------------------------------------------------------------
// CORS and Host
// ---------------------------------------------------------------------------------------

async fn preflight(env: &TestEnv, origin: &str) -> Option<String> {
    let host = addr(env).to_string();
    let req = format!(
        "OPTIONS / HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
         Connection: close\r\n\r\n"
    );
    let a = exchange(addr(env), req.as_bytes()).await;
    a.header("access-control-allow-origin").map(str::to_string)
}

/// A page on any web site could otherwise read the answers of a developer's local server.
#[tokio::test]
async fn cors_allows_only_loopback_origins_by_default() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    for ok in [
        "http://localhost:3000",
        "https://localhost",
        "http://127.0.0.1:8080",
        "http://127.9.8.7",
        "http://[::1]:5173",
        "http://app.localhost:3000",
    ] {
        assert_eq!(preflight(&env, ok).await.as_deref(), Some(ok), "{ok} is loopback");
    }
    for bad in [
        "http://evil.example",
        "https://localhost.evil.example",
        "http://127.0.0.1.evil.example",
        "null",
        "file://",
        "http://192.0.2.9:9229",
    ] {
        assert_eq!(preflight(&env, bad).await, None, "{bad} is not allowed by default");
    }

    // --cors-origins widens the default, exactly.
    let env = TestEnv::start_local(Backend::Embedded, |cfg| {
        cfg.cors_origins = vec!["https://app.example.com".into()]
    })
    .await
    .unwrap();
    assert_eq!(preflight(&env, "https://app.example.com").await.as_deref(), Some("https://app.example.com"));
    assert_eq!(preflight(&env, "http://localhost:3000").await.as_deref(), Some("http://localhost:3000"));
    assert_eq!(preflight(&env, "https://app.example.com.evil.example").await, None);
    // `*`: any origin.
    let env =
        TestEnv::start_local(Backend::Embedded, |cfg| cfg.cors_origins = vec!["*".into()]).await.unwrap();
    assert_eq!(preflight(&env, "http://evil.example").await.as_deref(), Some("http://evil.example"));
}

/// DNS rebinding: `evil.example` re-pointed at 127.0.0.1 makes the browser send
/// `Host: evil.example:<port>` to this server, same-origin for the attacker's page.
#[tokio::test]
async fn host_must_be_loopback_or_configured() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let port = addr(&env).port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".into(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let a = exchange(addr(&env), &get("/_dev/messages", &host, "")).await;
        assert_eq!((a.status, a.error_type().as_str()), (403, "AccessDeniedException"), "Host {host}");
        assert!(a.header("access-control-allow-origin").is_none());
    }
    // The same through a pool's OpenID document and an operation.
    let evil = format!("evil.example:{port}");
    let sign_up = format!(
        "POST / HTTP/1.1\r\nHost: {evil}\r\nX-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    assert_eq!(exchange(addr(&env), sign_up.as_bytes()).await.status, 403);
    // No Host at all, and an absolute-form target naming another host.
    let a = exchange(addr(&env), b"GET /_dev/messages HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(a.status, 403);
    let absolute = format!("GET http://evil.example:{port}/_dev/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    assert_eq!(exchange(addr(&env), absolute.as_bytes()).await.status, 403);

    // Loopback names and addresses, with or without a port, as the SDKs send them.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "LOCALHOST".into(),
        format!("localhost.:{port}"),
    ] {
        assert_eq!(exchange(addr(&env), &get("/_dev/messages", &host, "")).await.status, 200, "Host {host}");
    }
    let client = sdk_client(&format!("http://localhost:{port}"), ADMIN_KEY, ADMIN_SECRET).await;
    client.list_user_pools().max_results(1).send().await.expect("the SDK through http://localhost:<port>");

    // --allowed-hosts: a name, or a domain with its subdomains.
    let env = TestEnv::start_local(Backend::Embedded, |cfg| {
        cfg.allowed_hosts = vec!["tessera.test".into(), ".corp.test".into()]
    })
    .await
    .unwrap();
    let port = addr(&env).port();
    for (host, status) in [
        (format!("tessera.test:{port}"), 200),
        (format!("TESSERA.test:{port}"), 200),
        (format!("x.tessera.test:{port}"), 403),
        (format!("corp.test:{port}"), 200),
        (format!("auth.corp.test:{port}"), 200),
        (format!("evilcorp.test:{port}"), 403),
    ] {
        assert_eq!(
            exchange(addr(&env), &get("/_dev/messages", &host, "")).await.status,
            status,
            "Host {host}"
        );
    }
    // The --issuer-base host is this server's public name.
    let env = TestEnv::start_local(Backend::Embedded, |cfg| {
        cfg.issuer_base = Some("https://auth.example.com".into())
    })
    .await
    .unwrap();
    assert_eq!(exchange(addr(&env), &get("/_dev/messages", "auth.example.com", "")).await.status, 200);
}

// ---------------------------------------------------------------------------------------
// Admin keys, dev endpoints
// ---------------------------------------------------------------------------------------

fn temp_config(name: &str) -> (LocalConfig, TempDir) {
    let dir = std::env::temp_dir().join(unique(name));
    let mut cfg = LocalConfig::new(dir.clone());
    cfg.key_file = Some(dir.with_extension("key"));
    cfg.service.hash_params = tessera_core::password::HashParams { m_kib: 1024, t: 1, p: 1 };
    (cfg, TempDir(dir))
}

/// Everyone can read the default admin secret in the README: on a reachable address it would
/// hand every pool to the network.
#[tokio::test]
async fn default_admin_keys_are_refused_off_loopback() {
    let defaults = tessera_local::server::admin_keys_from_env();
    if !defaults.values().any(|s| s == tessera_local::server::DEFAULT_ADMIN_SECRET_ACCESS_KEY) {
        eprintln!("skipped: TESSERA_ADMIN_* are set in this environment");
        return;
    }
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let (mut cfg, _dir) = temp_config("tessera-keys-");
        cfg.bind = bind.parse().unwrap();
        cfg.admin_keys = defaults.clone();
        let err = tessera_local::start(cfg).await.err().expect("refused");
        assert!(err.contains("TESSERA_ADMIN_SECRET_ACCESS_KEY") && err.contains("refusing"), "{err}");
    }
    // Own keys on 0.0.0.0, or the defaults on loopback: served.
    let (mut cfg, _dir) = temp_config("tessera-keys-");
    cfg.bind = "0.0.0.0:0".parse().unwrap();
    cfg.admin_keys = [(ADMIN_KEY.to_string(), ADMIN_SECRET.to_string())].into();
    tessera_local::start(cfg).await.expect("own keys").stop().await;
    let (mut cfg, _dir) = temp_config("tessera-keys-");
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.admin_keys = defaults;
    tessera_local::start(cfg).await.expect("defaults on loopback").stop().await;
}

/// This machine's address on a non-loopback interface, if it has one.
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("203.0.113.1:9").ok()?; // no packet is sent; only a route is looked up
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The outbox lists every code sent: a neighbour on the network must not read it.
#[tokio::test]
async fn dev_endpoints_answer_only_loopback_peers() {
    let Some(ip) = non_loopback_address() else {
        eprintln!("skipped: this machine has no non-loopback address to call from");
        return;
    };
    let env =
        TestEnv::start_local(Backend::Embedded, |cfg| cfg.bind = "0.0.0.0:0".parse().unwrap()).await.unwrap();
    let port = addr(&env).port();
    let remote = SocketAddr::new(ip, port);
    // The peer address decides, whatever the headers claim.
    let spoof = "X-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\nForwarded: for=127.0.0.1\r\n";
    let a = exchange(remote, &get("/_dev/messages", &format!("localhost:{port}"), spoof)).await;
    assert_eq!((a.status, a.error_type().as_str()), (403, "AccessDeniedException"));
    let a = exchange(remote, &get("/_dev/anything", &format!("localhost:{port}"), "")).await;
    assert_eq!(a.status, 403);
    let local = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(exchange(local, &get("/_dev/messages", &format!("localhost:{port}"), "")).await.status, 200);
    // Operations stay reachable from the network (with --allowed-hosts for the name used).
    let a = exchange(remote, &get("/nothing-here", &format!("localhost:{port}"), "")).await;
    assert_eq!(a.status, 404);
}

// ---------------------------------------------------------------------------------------
// The master key file
// ---------------------------------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// A fresh clone with `git init` done, or None without git.
fn temp_repo(name: &str) -> Option<TempDir> {
    let dir = std::env::temp_dir().join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let repo = TempDir(dir);
    git(&repo.0, &["init", "-q"])?;
    Some(repo)
}

fn write_key(path: &Path) {
    std::fs::write(path, "11".repeat(32)).unwrap();
}

/// Found by a new user: `serve` in a fresh clone wrote `.tessera.key` into the repository,
/// one `git add .` from being committed.
#[tokio::test]
async fn master_key_is_kept_outside_the_working_tree() {
    let Some(repo) = temp_repo("tessera-clone-") else {
        eprintln!("skipped: git is not installed");
        return;
    };
    let home = TempDir(std::env::temp_dir().join(unique("tessera-xdg-")));
    let start = |data_dir: PathBuf| {
        let mut cfg = LocalConfig::new(data_dir);
        cfg.bind = "127.0.0.1:0".parse().unwrap();
        cfg.key_home = Some(home.0.join("tessera"));
        tessera_local::start(cfg)
    };
    let data = repo.0.join(".tessera");
    let server = start(data.clone()).await.expect("starts");
    let key_file = server.key_file.clone();
    server.stop().await;
    assert!(key_file.starts_with(home.0.join("tessera").join("keys")), "{}", key_file.display());
    assert!(key_file.exists());
    assert!(!repo.0.join(".tessera.key").exists(), "no key in the working tree");
    let status = git(&repo.0, &["status", "--porcelain", "--untracked-files=all"]).unwrap();
    assert!(!status.contains(".key"), "git status shows no key: {status}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(key_file.parent().unwrap()).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    // The same directory finds its key again, also after being moved; another gets its own.
    let again = start(data.clone()).await.expect("restarts");
    assert_eq!(again.key_file, key_file);
    again.stop().await;
    let moved = repo.0.join("moved");
    std::fs::rename(&data, &moved).unwrap();
    let server = start(moved.clone()).await.expect("a moved data directory opens");
    assert_eq!(server.key_file, key_file);
    server.stop().await;
    let other = start(repo.0.join("other")).await.expect("another directory");
    assert_ne!(other.key_file, key_file);
    other.stop().await;

    // A data directory whose key is gone is not given a new one that cannot open its data.
    std::fs::remove_file(&key_file).unwrap();
    let err = start(moved).await.err().expect("refused");
    assert!(err.contains("master key was not found"), "{err}");
}

/// Existing users: `./.tessera.key` beside `./.tessera` keeps opening their data.
#[tokio::test]
async fn an_existing_key_beside_the_data_directory_is_still_used() {
    let dir = TempDir(std::env::temp_dir().join(unique("tessera-legacy-")));
    let home = TempDir(std::env::temp_dir().join(unique("tessera-xdg-")));
    let legacy = dir.0.with_extension("key");
    write_key(&legacy);
    let mut cfg = LocalConfig::new(dir.0.clone());
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.key_home = Some(home.0.clone());
    let server = tessera_local::start(cfg).await.expect("starts");
    assert_eq!(server.key_file, legacy);
    server.stop().await;
    assert!(!home.0.exists(), "no new key was made");
}

/// A key file in git's index would be published with the next push.
#[tokio::test]
async fn a_key_file_tracked_by_git_is_refused() {
    let Some(repo) = temp_repo("tessera-tracked-") else {
        eprintln!("skipped: git is not installed");
        return;
    };
    let home = TempDir(std::env::temp_dir().join(unique("tessera-xdg-")));
    // Given explicitly…
    let key = repo.0.join("secrets").join("master.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    write_key(&key);
    git(&repo.0, &["add", "-f", "secrets/master.key"]).expect("git add");
    let mut cfg = LocalConfig::new(repo.0.join("data"));
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.key_file = Some(key.clone());
    cfg.key_home = Some(home.0.clone());
    let err = tessera_local::start(cfg).await.err().expect("refused");
    assert!(err.contains("tracked by git"), "{err}");
    // …or the old default beside the data directory.
    let legacy = repo.0.join(".tessera.key");
    write_key(&legacy);
    git(&repo.0, &["add", "-f", ".tessera.key"]).expect("git add");
    let mut cfg = LocalConfig::new(repo.0.join(".tessera"));
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.key_home = Some(home.0.clone());
    let err = tessera_local::start(cfg).await.err().expect("refused");
    assert!(err.contains("tracked by git"), "{err}");
    // Untracked, it is used.
    git(&repo.0, &["rm", "-q", "--cached", ".tessera.key"]).expect("git rm");
    let mut cfg = LocalConfig::new(repo.0.join(".tessera"));
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.key_home = Some(home.0.clone());
    tessera_local::start(cfg).await.expect("untracked key").stop().await;
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

fn short_limits(max_connections: usize) -> HttpLimits {
    HttpLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(3),
        max_connections,
    }
}

/// One client must not hold connections (and file descriptors) open forever.
#[tokio::test]
async fn stalled_and_idle_connections_are_closed() {
    let env = TestEnv::start_local(Backend::Embedded, |cfg| cfg.http = short_limits(64)).await.unwrap();
    let host = addr(&env).to_string();
    let limit = Duration::from_secs(8);

    // Nothing sent: closed after the header timeout, without an answer.
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    let t = Instant::now();
    let (buf, closed) = read_until_closed(&mut s, limit).await;
    assert!(closed && buf.is_empty(), "silent connection closed");
    assert!(t.elapsed() >= Duration::from_millis(900), "{:?}", t.elapsed());

    // Half a head: 408 with a JSON error, then closed.
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    s.write_all(format!("POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Tar").as_bytes()).await.unwrap();
    let (buf, closed) = read_until_closed(&mut s, limit).await;
    assert!(closed);
    let (a, _) = parse_answer(&buf).expect("an answer");
    assert_eq!((a.status, a.error_type().as_str()), (408, "RequestTimeoutException"));

    // A head whose body never arrives: 408, closed.
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: AWSCognitoIdentityProviderService.SignUp\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{{\"ClientId\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (buf, closed) = read_until_closed(&mut s, limit).await;
    assert!(closed);
    let (a, _) = parse_answer(&buf).expect("an answer");
    assert_eq!((a.status, a.error_type().as_str()), (408, "RequestTimeoutException"));

    // Kept alive: longer than the header timeout between requests, closed after the idle one.
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    let keep = format!("GET /_dev/messages HTTP/1.1\r\nHost: {host}\r\n\r\n");
    s.write_all(keep.as_bytes()).await.unwrap();
    let first = read_one(&mut s).await;
    assert_eq!(first.status, 200);
    tokio::time::sleep(Duration::from_millis(1600)).await; // past the 1 s header timeout
    s.write_all(keep.as_bytes()).await.unwrap();
    assert_eq!(read_one(&mut s).await.status, 200, "an idle connection lives for the idle timeout");
    let t = Instant::now();
    let (buf, closed) = read_until_closed(&mut s, limit).await;
    assert!(closed && buf.is_empty(), "idle connection closed");
    assert!(t.elapsed() >= Duration::from_millis(2500), "{:?}", t.elapsed());
}

/// Reads exactly one response from a kept-alive connection.
async fn read_one(s: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some((a, _)) = parse_answer(&buf) {
            return a;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "closed before a full answer: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Past the cap, a connection gets a 503 the SDKs retry; a freed slot serves again.
#[tokio::test]
async fn connections_are_capped() {
    let env = TestEnv::start_local(Backend::Embedded, |cfg| {
        cfg.http = HttpLimits { header_timeout: Duration::from_secs(30), ..short_limits(4) }
    })
    .await
    .unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr(&env)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr(&env)).await.unwrap();
    let (buf, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(closed, "the connection over the cap is closed");
    let (a, _) = parse_answer(&buf).expect("an answer");
    assert_eq!((a.status, a.error_type().as_str()), (503, "ServiceUnavailableException"));
    drop(held.pop());
    let host = addr(&env).to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let a = exchange(addr(&env), &get("/_dev/messages", &host, "")).await;
        if a.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot serves again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Found by fuzzing: a SignUp followed by shutdown(SHUT_WR) ran, but its answer was dropped.
#[tokio::test]
async fn a_half_closed_request_gets_its_answer() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let body = format!(r#"{{"ClientId":"{client_id}","Username":"halfclosed","Password":"{PASSWORD}"}}"#);
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSCognitoIdentityProviderService.SignUp\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        addr(&env),
        body.len()
    );
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap(); // SHUT_WR: the request is complete, nothing more comes
    let (buf, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(closed);
    let (a, _) =
        parse_answer(&buf).unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&buf)));
    assert_eq!(a.status, 200);
    assert!(a.json()["UserSub"].is_string(), "{:?}", a.json());
}

/// Found by fuzzing: hyper's own answers (bad framing, long URI, many headers) had an empty
/// body, and 404s had no error type.
#[tokio::test]
async fn http_level_errors_are_cognito_style() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let host = addr(&env).to_string();
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (
            "101 headers".into(),
            format!("GET / HTTP/1.1\r\nHost: {host}\r\n{}\r\n", (0..101).map(|i| format!("X-H{i}: v\r\n")).collect::<String>())
                .into_bytes(),
            431,
            "RequestHeaderFieldsTooLargeException",
        ),
        (
            "URI over 64 KB".into(),
            format!("GET /{} HTTP/1.1\r\nHost: {host}\r\n\r\n", "a".repeat(70_000)).into_bytes(),
            414,
            "UriTooLongException",
        ),
        ("bad request line".into(), b"GARBAGE\r\n\r\n".to_vec(), 400, "SerializationException"),
        (
            "bad Content-Length".into(),
            format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: abc\r\n\r\n").into_bytes(),
            400,
            "SerializationException",
        ),
        (
            "two Content-Lengths".into(),
            format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").into_bytes(),
            400,
            "SerializationException",
        ),
        (
            "bad chunk".into(),
            format!("POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: AWSCognitoIdentityProviderService.SignUp\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").into_bytes(),
            400,
            "SerializationException",
        ),
        ("unknown path".into(), get("/nothing/here", &host, ""), 404, "UnknownOperationException"),
        (
            "unknown pool".into(),
            get("/us-east-1_nopool000/.well-known/jwks.json", &host, ""),
            404,
            "ResourceNotFoundException",
        ),
        ("unknown document".into(), get("/us-east-1_nopool000/.well-known/x", &host, ""), 404, "UnknownOperationException"),
    ];
    for (what, request, status, name) in cases {
        let a = exchange(addr(&env), &request).await;
        assert_eq!((a.status, a.error_type().as_str()), (status, name), "{what}: {a:?}");
    }

    // On a kept-alive connection: a good request answered normally, then a bad one as JSON.
    let mut s = TcpStream::connect(addr(&env)).await.unwrap();
    let mut both = get("/_dev/messages", &host, "").into_iter().collect::<Vec<u8>>();
    both = String::from_utf8(both).unwrap().replace("Connection: close\r\n", "").into_bytes();
    both.extend_from_slice(b"BAD REQUEST\r\n\r\n");
    s.write_all(&both).await.unwrap();
    let (buf, _) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    let (first, used) = parse_answer(&buf).expect("first answer");
    assert_eq!(first.status, 200);
    let (second, _) = parse_answer(&buf[used..]).expect("second answer");
    assert_eq!((second.status, second.error_type().as_str()), (400, "SerializationException"));
}

/// The measurement of docs/security.md: 2,000 idle connections against the default cap.
/// `cargo test -p tessera-tests --test e2e flood -- --ignored --nocapture` (needs ~5,000 file
/// descriptors: `ulimit -n`).
#[tokio::test]
#[ignore]
async fn flood_of_idle_connections() {
    let env = TestEnv::start_local(Backend::Embedded, |cfg| {
        cfg.http = HttpLimits { header_timeout: Duration::from_secs(10), ..HttpLimits::default() }
    })
    .await
    .unwrap();
    let t = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..2000 {
        streams.push(TcpStream::connect(addr(&env)).await.unwrap());
    }
    println!("2000 connections opened in {:?}", t.elapsed());
    let results = futures_join(streams, Duration::from_secs(30)).await;
    let refused =
        results.iter().filter(|(buf, _, _)| parse_answer(buf).is_some_and(|(a, _)| a.status == 503)).count();
    let closed_silently: Vec<Duration> =
        results.iter().filter(|(buf, closed, _)| *closed && buf.is_empty()).map(|(_, _, d)| *d).collect();
    let still_open = results.iter().filter(|(_, closed, _)| !closed).count();
    let max_close = closed_silently.iter().max().copied().unwrap_or_default();
    println!(
        "refused with 503 at once: {refused}; closed by the header timeout: {} (last after {max_close:?}); \
         still open after 30 s: {still_open}",
        closed_silently.len()
    );
    assert_eq!(refused, 2000 - 1024);
    assert_eq!(closed_silently.len(), 1024);
    assert_eq!(still_open, 0);
}

async fn futures_join(streams: Vec<TcpStream>, limit: Duration) -> Vec<(Vec<u8>, bool, Duration)> {
    let start = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let (buf, closed) = read_until_closed(&mut s, limit).await;
                (buf, closed, start.elapsed())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
