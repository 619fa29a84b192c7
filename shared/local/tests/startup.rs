//! The `tessera` binary's start: the banner, and each start-up failure as one plain line that
//! names what is wrong, the path and what to do, with a non-zero exit and nothing left behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A scratch directory (data directories, key files, the key home), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tessera-startup-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `tessera serve` with this scratch directory as its working directory and key home, and
    /// none of the caller's Tessera or AWS settings.
    fn serve(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.arg("serve").args(args).current_dir(&self.0);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("TESSERA_") || name.starts_with("AWS_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("XDG_DATA_HOME", self.path("xdg"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server this test started, killed when dropped.
struct Server {
    child: Child,
    banner: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` and reads its banner up to the suggested `aws` command.
fn start(mut cmd: Command) -> Server {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server { child, banner: vec![] };
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        let last = line.contains("aws cognito-idp");
        server.banner.push(line);
        if last {
            return server;
        }
    }
    panic!("the server printed no complete banner: {:?}", server.banner);
}

/// Runs a start that must fail: its exit code and the last line it wrote to stderr.
fn fails(mut cmd: Command) -> (i32, String) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started (or hung) where it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().to_string();
    (status.code().unwrap_or(-1), last)
}

/// The shape every start-up error shares: one line, plain words, no Rust Debug string.
fn assert_plain(line: &str, must_contain: &[&str]) {
    assert!(line.starts_with("error: "), "not an error line: {line}");
    for debug in ["Error: \"", "Os {", "(os error", "Custom {", "DispatchFailure"] {
        assert!(!line.contains(debug), "a Debug string in: {line}");
    }
    for part in must_contain {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}

fn keys_in(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home.join("tessera/keys"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn the_banner_prints_the_export_line_the_aws_cli_needs() {
    let scratch = Scratch::new("banner");
    let data = scratch.path("data");
    let server = start(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &show(&data)]));
    let banner = server.banner.join("\n");
    let url = server.banner[0].rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{banner}");
    let export = server.banner.iter().find(|l| l.trim_start().starts_with("export ")).expect(&banner);
    for part in [
        "AWS_ACCESS_KEY_ID=AKIATESSERALOCAL0000",
        "AWS_SECRET_ACCESS_KEY=tessera-local-secret-key-not-for-production",
        "AWS_REGION=us-east-1",
        "AWS_DEFAULT_REGION=us-east-1",
        &format!("AWS_ENDPOINT_URL={url}"),
    ] {
        assert!(export.contains(part), "{part} missing from {export}");
    }
    assert!(banner.contains(&show(&data)), "the data directory is not shown: {banner}");
    assert!(
        server.banner.last().unwrap().trim() == "aws cognito-idp list-user-pools --max-results 10",
        "{banner}"
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_says_it_is_in_use() {
    let scratch = Scratch::new("locked");
    let data = show(&scratch.path("data"));
    let _first = start(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &data]));
    let (code, line) = fails(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &data]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&data, "in use by another tessera server", "--data-dir"]);
}

#[test]
fn a_data_dir_that_is_a_file_is_refused_plainly() {
    let scratch = Scratch::new("file");
    let file = scratch.path("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (code, line) = fails(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &show(&file)]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&show(&file), "is a file", "--data-dir"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    assert!(keys_in(&scratch.path("xdg")).is_empty(), "a key was made for a refused start");
}

#[test]
fn a_busy_port_is_refused_and_leaves_nothing_behind() {
    let scratch = Scratch::new("port");
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let data = scratch.path("new-data");
    let (code, line) = fails(scratch.serve(&["--bind", &addr, "--data-dir", &show(&data)]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&addr, "already in use", "--bind"]);
    assert!(!data.exists(), "a new data directory was left behind");
    assert!(keys_in(&scratch.path("xdg")).is_empty(), "a new master key was left behind");
    // An explicit key file is not made either.
    let key = scratch.path("new.key");
    let (code, _) =
        fails(scratch.serve(&["--bind", &addr, "--data-dir", &show(&data), "--key-file", &show(&key)]));
    assert_ne!(code, 0);
    assert!(!data.exists() && !key.exists(), "a data directory or key file was left behind");
}

#[test]
fn an_unreadable_or_malformed_key_file_is_refused_plainly() {
    let scratch = Scratch::new("key");
    // A directory where the key file should be: unreadable as a key.
    let dir = scratch.path("key-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let data = show(&scratch.path("data"));
    let (code, line) =
        fails(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &data, "--key-file", &show(&dir)]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&show(&dir), "cannot read the master key file", "--key-file"]);
    // A file that is not a hex key.
    let bad = scratch.path("bad.key");
    std::fs::write(&bad, "not a key\n").unwrap();
    let (code, line) =
        fails(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &data, "--key-file", &show(&bad)]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&show(&bad), "64 hex digits", "--key-file"]);
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "not a key\n", "the bad key was overwritten");
}

#[test]
fn data_without_its_key_is_refused_plainly() {
    let scratch = Scratch::new("lost-key");
    let data = scratch.path("data");
    let key = scratch.path("first.key");
    let args = |key: &Path| {
        ["--bind", "127.0.0.1:0", "--data-dir", &show(&data), "--key-file", &show(key)].map(String::from)
    };
    let first = args(&key);
    drop(start(scratch.serve(&first.iter().map(String::as_str).collect::<Vec<_>>())));
    // Started again without --key-file: the data's key is nowhere it is looked for.
    let (code, line) = fails(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &show(&data)]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&show(&data), "master key was not found", "--key-file"]);
}

#[test]
fn a_bad_flag_value_is_refused_before_anything_is_made() {
    let scratch = Scratch::new("flag");
    let (code, line) = fails(scratch.serve(&["--bind", "nonsense"]));
    assert_eq!(code, 2, "{line}");
    let (code, _) = fails(scratch.serve(&["--account-id", "123"]));
    assert_eq!(code, 2);
    assert!(!scratch.path(".tessera").exists(), "the default data directory was made");
    assert!(keys_in(&scratch.path("xdg")).is_empty());
}

#[test]
fn an_unreachable_dynamodb_is_named_with_its_endpoint() {
    let scratch = Scratch::new("dynamodb");
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let data = show(&scratch.path("data"));
    let (code, line) = fails(scratch.serve(&[
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        &data,
        "--store",
        "dynamodb",
        "--dynamodb-endpoint",
        &endpoint,
    ]));
    assert_ne!(code, 0);
    assert_plain(&line, &[&endpoint, "--dynamodb-endpoint"]);
}

#[test]
fn tls_serves_a_generated_certificate_and_a_missing_one_is_named() {
    let scratch = Scratch::new("tls");
    let data = scratch.path("data");
    let server = start(scratch.serve(&["--bind", "127.0.0.1:0", "--data-dir", &show(&data), "--tls"]));
    let banner = server.banner.join("\n");
    let cert = data.join("tls").join("localhost.pem");
    assert!(banner.contains("HTTPS on the same port:  https://127.0.0.1:"), "{banner}");
    assert!(banner.contains(&format!("TLS certificate:         {}", show(&cert))), "{banner}");
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    drop(server);

    // The operator's certificate that is not there: named, with nothing started.
    let missing = scratch.path("nope.pem");
    let (code, line) = fails(scratch.serve(&[
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        &show(&scratch.path("data2")),
        "--tls-cert",
        &show(&missing),
        "--tls-key",
        &show(&missing),
    ]));
    assert_eq!(code, 1);
    assert_plain(&line, &["cannot read the certificate", &show(&missing)]);
}
