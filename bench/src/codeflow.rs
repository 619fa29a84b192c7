//! `tessera-bench code-flow`: the full authorization-code sign-in through the hosted page,
//! as a browser and an app make it: GET /oauth2/authorize (302) → GET /login → POST /login
//! (302 with a code) → POST /oauth2/token. Reports the server's CPU per sign-in against one
//! argon2id verify (the target: ≤ 1.1 × the verify + 2 ms).

use super::{admin_keys, cpu_secs, err, ms, sdk_client, spawn_server, time_argon2, PASSWORD};
use aws_sdk_cognitoidentityprovider as cip;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CALLBACK: &str = "https://app.example.com/callback";

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (as a browser's first request to a host).
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Answer, String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(err("connect"))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.map_err(err("write"))?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.map_err(err("read"))?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no header end")?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())))
        .collect();
    Ok(Answer { status, headers, body: String::from_utf8_lossy(&buf[split + 4..]).into_owned() })
}

fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

fn between<'a>(text: &'a str, start: &str, end: char) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// One sign-in, start to tokens.
async fn sign_in(addr: &str, base: &str, client_id: &str, username: &str) -> Result<(), String> {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "s"),
    ]);
    let first = request(addr, "GET", &format!("{base}/oauth2/authorize?{query}"), &[], "").await?;
    let login = first.header("location").ok_or("authorize did not redirect")?;
    let login_path = login.split_once(addr).map(|(_, p)| p).ok_or("unexpected login URL")?;
    let page = request(addr, "GET", login_path, &[], "").await?;
    let cookie = page.header("set-cookie").and_then(|c| c.split(';').next()).ok_or("no XSRF cookie")?;
    let csrf = between(&page.body, "name=\"_csrf\" value=\"", '"').ok_or("no _csrf")?;
    let action = between(&page.body, "action=\"", '"').ok_or("no action")?.replace("&amp;", "&");
    let action = action.split_once(addr).map(|(_, p)| p.to_string()).unwrap_or(action);
    let body = form(&[("_csrf", csrf), ("username", username), ("password", PASSWORD)]);
    let headers = [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")];
    let done = request(addr, "POST", &action, &headers, &body).await?;
    let location =
        done.header("location").ok_or_else(|| format!("sign-in failed ({}): {}", done.status, done.body))?;
    let code = location.split("code=").nth(1).and_then(|c| c.split('&').next()).ok_or("no code")?;
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", CALLBACK),
    ]);
    let tokens = request(
        addr,
        "POST",
        &format!("{base}/oauth2/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &exchange,
    )
    .await?;
    if tokens.status != 200 || !tokens.body.contains("id_token") {
        return Err(format!("token exchange failed ({}): {}", tokens.status, tokens.body));
    }
    Ok(())
}

pub async fn run(samples: usize, server_bin: PathBuf, port: u16) -> Result<(), String> {
    let a2 = time_argon2(20, 2)?;
    println!("{}", a2.describe());
    let server = spawn_server(&server_bin, port).await?;
    let pid = server.child.id();
    let client = sdk_client(&server.url);
    let pool = client.create_user_pool().pool_name("codeflow").send().await.map_err(err("CreateUserPool"))?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).ok_or("no pool id")?.to_string();
    let prefix = format!("bench{}", std::process::id());
    client
        .create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain(&prefix)
        .send()
        .await
        .map_err(err("Domain"))?;
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .allowed_o_auth_flows(cip::types::OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .callback_urls(CALLBACK)
        .supported_identity_providers("COGNITO")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .map_err(err("CreateUserPoolClient"))?;
    let client_id = app.user_pool_client().and_then(|c| c.client_id()).ok_or("no client id")?.to_string();
    let username = "codeflow-user";
    client
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username(username)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .map_err(err("AdminCreateUser"))?;
    client
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .map_err(err("AdminSetUserPassword"))?;
    let addr = server.url.trim_start_matches("http://").to_string();
    let base = format!("/_auth/{prefix}");
    let _ = admin_keys();
    // Warm-up: the pool's keys opened, caches filled.
    for _ in 0..3 {
        sign_in(&addr, &base, &client_id, username).await?;
    }
    let samples = samples.max(1);
    let cpu0 = cpu_secs(pid)?;
    let mut walls: Vec<Duration> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        sign_in(&addr, &base, &client_id, username).await?;
        walls.push(t.elapsed());
    }
    let cpu = (cpu_secs(pid)? - cpu0) / samples as f64;
    walls.sort();
    let verify = a2.cpu_1;
    let target = 1.1 * verify + 0.002;
    println!(
        "CODE_FLOW sign_ins={samples} server_cpu_ms={:.2} argon2_verify_cpu_ms={:.2} ratio={:.2} \
         target_ms={:.2} met={} wall_p50_ms={:.2} wall_p99_ms={:.2}",
        cpu * 1000.0,
        verify * 1000.0,
        cpu / verify,
        target * 1000.0,
        cpu <= target,
        ms(walls[walls.len() / 2]),
        ms(walls[(walls.len() * 99 / 100).min(walls.len() - 1)])
    );
    Ok(())
}
