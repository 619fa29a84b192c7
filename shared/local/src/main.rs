//! `tessera`: the local Cognito. `tessera serve` runs it; `tessera create-table` prepares DynamoDB.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tessera_core::Limits;
use tessera_local::{LocalConfig, StoreKind};

mod store_cmd;

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera: a Cognito you own")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreArg {
    Embedded,
    Dynamodb,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every Cognito operation on one port.
    // Boxed: the options dwarf the other variant.
    Serve(Box<ServeArgs>),
    /// Create the DynamoDB table (TTL and point-in-time recovery on). Idempotent.
    CreateTable {
        #[arg(long, env = "TESSERA_DYNAMODB_ENDPOINT")]
        dynamodb_endpoint: Option<String>,
        #[arg(long, default_value = "tessera")]
        table: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// Write pools (settings, clients, users with their password hashes and MFA secrets,
    /// groups, identity pools, Sync data) to an encrypted archive (docs/backup.md).
    Export(Box<store_cmd::ExportArgs>),
    /// Write an archive into a store (embedded or DynamoDB): checked whole first, then written.
    Restore(Box<store_cmd::RestoreArgs>),
    /// Show a user pool's signing keys, rotate them, or schedule their rotation (docs/keys.md).
    SigningKeys(Box<store_cmd::SigningKeysArgs>),
    /// Copy a Cognito user pool (settings, clients, groups, users without passwords) into a
    /// Tessera deployment; resumable (docs/migrate-from-cognito.md).
    ImportFromCognito(Box<store_cmd::ImportFromCognitoArgs>),
    /// Estimate the monthly AWS bill of a deployment beside Cognito's price (docs/cost.md).
    Cost(Box<tessera_local::cost::CostArgs>),
    /// Change a pool's UsernameAttributes, AliasAttributes, CaseSensitive or required attributes:
    /// a dry run, then the change with the users re-indexed in resumable steps
    /// (docs/sign-in-settings.md).
    PoolSettings(Box<store_cmd::PoolSettingsArgs>),
    /// Rotate the master key of a key file and re-seal every secret with it (docs/keys.md).
    MasterKey(Box<store_cmd::MasterKeyArgs>),
    /// Make an age identity file for archives and print its recipient.
    ArchiveKeygen {
        /// Where to write the identity (never over an existing file).
        #[arg(long, short)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:9229")]
    bind: SocketAddr,
    #[arg(long, default_value = "./.tessera")]
    data_dir: PathBuf,
    /// The master key file. Default: `<data-dir>.key` when that file exists (the old default),
    /// else one key per data directory under $XDG_DATA_HOME/tessera/keys (or
    /// ~/.local/share/tessera/keys), outside the working tree.
    #[arg(long, env = "TESSERA_KEY_FILE")]
    key_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreArg,
    #[arg(long, env = "TESSERA_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    #[arg(long, default_value = "tessera")]
    table: String,
    /// Token issuer base (default: this server's own URL).
    #[arg(long)]
    issuer_base: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The AWS account id in the ARNs the server makes (user pools, devices) and in Sync's
    /// LastModifiedBy for developer calls: 12 digits, as the functions' TESSERA_ACCOUNT_ID.
    #[arg(long, env = "TESSERA_ACCOUNT_ID", default_value = "000000000000", value_parser = account_id)]
    account_id: String,
    /// Browser origins allowed by CORS besides loopback ones (http(s)://localhost,
    /// 127.0.0.0/8, [::1], any port), comma-separated exact origins; `*` allows any origin.
    #[arg(long, env = "TESSERA_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Host names answered besides loopback names and addresses, the bind address and the
    /// --issuer-base host, comma-separated: `name`, `.domain` (and its subdomains) or `*`
    /// (any: turns DNS rebinding protection off).
    #[arg(long, env = "TESSERA_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Seconds a connection has to send a complete request head.
    #[arg(long, env = "TESSERA_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a request body has to arrive, from the end of its head.
    #[arg(long, env = "TESSERA_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "TESSERA_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Connections served at once; more are answered 503 and closed.
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Allowed clock skew of signed requests, in seconds.
    #[arg(long, default_value_t = 300)]
    max_skew_secs: i64,
    /// Most groups a user pool may hold.
    #[arg(long, env = "TESSERA_MAX_GROUPS_PER_POOL", default_value_t = Limits::default().groups_per_pool)]
    max_groups_per_pool: u64,
    /// Most groups a user may belong to.
    #[arg(long, env = "TESSERA_MAX_GROUPS_PER_USER", default_value_t = Limits::default().groups_per_user)]
    max_groups_per_user: u64,
    /// Most custom attributes a user pool may define.
    #[arg(long, env = "TESSERA_MAX_CUSTOM_ATTRIBUTES", default_value_t = Limits::default().custom_attributes_per_pool)]
    max_custom_attributes: u64,
    /// Most Cognito Sync datasets an identity may hold.
    #[arg(long, env = "TESSERA_MAX_SYNC_DATASETS", default_value_t = Limits::default().sync_datasets_per_identity)]
    max_sync_datasets: u64,
    /// Most live records a Cognito Sync dataset may hold.
    #[arg(long, env = "TESSERA_MAX_SYNC_RECORDS", default_value_t = Limits::default().sync_records_per_dataset)]
    max_sync_records: u64,
    /// Most bytes (UTF-8 keys and values) a Cognito Sync dataset may hold.
    #[arg(long, env = "TESSERA_MAX_SYNC_DATASET_BYTES", default_value_t = Limits::default().sync_dataset_bytes)]
    max_sync_dataset_bytes: u64,
    /// Wrong verification codes a user may give per purpose (sign-up, reset, each attribute),
    /// across reissued codes, before lockouts begin.
    #[arg(long, env = "TESSERA_CODE_FREE_FAILURES", default_value_t = Limits::default().code_free_failures)]
    code_free_failures: u64,
    /// The longest lockout after wrong codes (they double from 1 s), in seconds.
    #[arg(long, env = "TESSERA_CODE_LOCKOUT_MAX_SECS", default_value_t = Limits::default().code_lockout_max_secs)]
    code_lockout_max_secs: u64,
    /// Codes a user may have sent per purpose within --code-send-window-secs.
    #[arg(long, env = "TESSERA_CODE_SENDS_PER_WINDOW", default_value_t = Limits::default().code_sends_per_window)]
    code_sends_per_window: u64,
    #[arg(long, env = "TESSERA_CODE_SEND_WINDOW_SECS", default_value_t = Limits::default().code_send_window_secs)]
    code_send_window_secs: u64,
    /// A password reset or an administrator's AdminSetUserPassword also signs the user out
    /// everywhere (off: Cognito keeps sessions).
    #[arg(long, env = "TESSERA_SIGN_OUT_ON_PASSWORD_RESET")]
    sign_out_on_password_reset: bool,
    /// Where the pools' Lambda triggers are invoked: a Lambda-Invoke-compatible endpoint
    /// such as `cargo lambda watch` (http://127.0.0.1:9001). Default: AWS Lambda in
    /// --region with the default AWS credentials.
    #[arg(long, env = "TESSERA_LAMBDA_ENDPOINT")]
    lambda_endpoint: Option<String>,
    /// Where GetCredentialsForIdentity calls STS AssumeRoleWithWebIdentity, e.g. moto's
    /// server (http://127.0.0.1:5005). Default: none, and the server hands out clearly
    /// marked local credentials instead (they sign Sync calls, nothing in AWS).
    #[arg(long, env = "TESSERA_STS_ENDPOINT")]
    sts_endpoint: Option<String>,
    /// Where Sync push goes through SNS (platform endpoints, silent pushes), e.g. moto's
    /// server. Default: none, and the pushes land in the local outbox.
    #[arg(long, env = "TESSERA_SNS_ENDPOINT")]
    sns_endpoint: Option<String>,
    /// Request-rate quotas: `off`, or `Category=rate[:burst],…` over Cognito's defaults
    /// (docs/security-throttle.md).
    #[arg(long, env = "TESSERA_THROTTLE", default_value = "", value_parser = tessera_wire::throttle::ThrottleSettings::parse)]
    throttle: tessera_wire::throttle::ThrottleSettings,
    /// The URLs the openid-configuration advertises for a pool's domain: `path`
    /// (`http://localhost:9229/_auth/{domain}/…`, which every HTTP client resolves) or `host`
    /// (`http://{prefix}.auth.localhost:9229/…`, which browsers and curl resolve). Both forms
    /// are always served.
    #[arg(long, env = "TESSERA_AUTH_DOMAIN_URLS", value_enum, default_value = "path")]
    auth_domain_urls: AuthDomainUrls,
    /// A client_credentials grant within this many milliseconds of an identical one (same
    /// client and scopes) gets the same token, its expires_in counting down (0: never).
    #[arg(long, env = "TESSERA_CLIENT_CREDENTIALS_REUSE_MS", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(0..=60_000))]
    client_credentials_reuse_ms: i64,
    /// Serve HTTPS on the same port as HTTP (a connection that opens with a TLS handshake
    /// gets TLS), for browser clients that build `https://{domain}/oauth2/…` themselves
    /// (Amplify's signInWithRedirect). The auth domains then advertise https URLs. The
    /// certificate is made for localhost and *.auth.localhost (<data-dir>/tls/localhost.pem)
    /// unless --tls-cert and --tls-key give one.
    #[arg(long, env = "TESSERA_TLS")]
    tls: bool,
    /// A PEM certificate chain to serve with --tls (e.g. from mkcert); needs --tls-key.
    #[arg(long, env = "TESSERA_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "TESSERA_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AuthDomainUrls {
    Path,
    Host,
}

/// `--account-id` / TESSERA_ACCOUNT_ID: 12 digits, refused otherwise before anything starts.
fn account_id(s: &str) -> Result<String, String> {
    if tessera_core::ids::is_account_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not an AWS account id (12 digits)"))
    }
}

/// A start-up failure is one plain line on stderr (`error: …`, as clap writes a bad flag) and
/// exit status 1; the logs before it say what was tried.
#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tessera_aws::lambda::log_filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => {
            let ServeArgs {
                bind,
                data_dir,
                key_file,
                store,
                dynamodb_endpoint,
                table,
                issuer_base,
                region,
                account_id,
                cors_origins,
                allowed_hosts,
                header_timeout_secs,
                body_timeout_secs,
                idle_timeout_secs,
                max_connections,
                max_skew_secs,
                max_groups_per_pool,
                max_groups_per_user,
                max_custom_attributes,
                max_sync_datasets,
                max_sync_records,
                max_sync_dataset_bytes,
                code_free_failures,
                code_lockout_max_secs,
                code_sends_per_window,
                code_send_window_secs,
                sign_out_on_password_reset,
                lambda_endpoint,
                sts_endpoint,
                sns_endpoint,
                throttle,
                auth_domain_urls,
                client_credentials_reuse_ms,
                tls,
                tls_cert,
                tls_key,
            } = *args;
            let mut cfg = LocalConfig::new(data_dir);
            cfg.bind = bind;
            cfg.key_file = key_file;
            cfg.store = match store {
                StoreArg::Embedded => StoreKind::Embedded,
                StoreArg::Dynamodb => {
                    create_table(dynamodb_endpoint.as_deref(), &table, &region).await?;
                    StoreKind::DynamoDb { endpoint: dynamodb_endpoint, table }
                }
            };
            cfg.issuer_base = issuer_base;
            cfg.region = region;
            cfg.service.account_id = account_id;
            cfg.cors_origins = cors_origins;
            cfg.allowed_hosts = allowed_hosts;
            cfg.http = tessera_local::HttpLimits {
                header_timeout: Duration::from_secs(header_timeout_secs),
                body_timeout: Duration::from_secs(body_timeout_secs),
                idle_timeout: Duration::from_secs(idle_timeout_secs),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            };
            cfg.max_skew_secs = max_skew_secs;
            cfg.lambda_endpoint = lambda_endpoint;
            cfg.sts_endpoint = sts_endpoint;
            cfg.sns_endpoint = sns_endpoint;
            cfg.service.sign_out_on_password_reset = sign_out_on_password_reset;
            cfg.throttle = throttle;
            cfg.service.auth_domains.path_scoped_urls = auth_domain_urls == AuthDomainUrls::Path;
            cfg.service.client_credentials_reuse_ms = client_credentials_reuse_ms;
            // A certificate given is a request for TLS.
            let cert_and_key = tls_cert.zip(tls_key);
            if tls || cert_and_key.is_some() {
                cfg.tls = Some(tessera_local::tls::TlsSettings { cert_and_key });
            }
            cfg.service.limits = Limits {
                groups_per_pool: max_groups_per_pool,
                groups_per_user: max_groups_per_user,
                custom_attributes_per_pool: max_custom_attributes,
                sync_datasets_per_identity: max_sync_datasets,
                sync_records_per_dataset: max_sync_records,
                sync_dataset_bytes: max_sync_dataset_bytes,
                code_free_failures,
                code_lockout_max_secs,
                code_sends_per_window,
                code_send_window_secs,
            };
            let keys = cfg.admin_keys.clone();
            let shown_dir = cfg.data_dir.clone();
            let region = cfg.region.clone();
            let running = tessera_local::start(cfg).await?;
            print!("{}", banner(&running, &shown_dir, &keys, &region));
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
            running.stop().await;
            Ok(())
        }
        Command::CreateTable { dynamodb_endpoint, table, region } => {
            create_table(dynamodb_endpoint.as_deref(), &table, &region).await?;
            println!("table {table} is ready");
            Ok(())
        }
        Command::Export(args) => store_cmd::export(*args).await,
        Command::Restore(args) => store_cmd::restore(*args).await,
        Command::ArchiveKeygen { out } => store_cmd::keygen(out),
        Command::SigningKeys(args) => store_cmd::signing_keys(*args).await,
        Command::ImportFromCognito(args) => store_cmd::import_from_cognito(*args).await,
        Command::MasterKey(args) => store_cmd::master_key(*args).await,
        Command::PoolSettings(args) => store_cmd::pool_settings(*args).await,
        Command::Cost(args) => tessera_local::cost::run(*args),
    }
}

/// Creates the DynamoDB table (or finds it), failing in one plain line that names the endpoint.
async fn create_table(endpoint: Option<&str>, table: &str, region: &str) -> Result<(), String> {
    let client = tessera_aws::config::dynamodb_client(endpoint, region).await;
    tessera_aws::dynamo::create_table(&client, table).await.map_err(|e| {
        let at = endpoint.map_or_else(|| format!("AWS in {region}"), str::to_string);
        format!(
            "cannot create or open the DynamoDB table {table} at {at}: {}. Check --dynamodb-endpoint \
             (is DynamoDB Local or moto running there?), --region and the AWS credentials",
            plain_sdk_reason(&e.to_string())
        )
    })
}

/// The AWS SDK's error text without the Rust Debug dump it appends in parentheses:
/// `dispatch failure: … Connection refused (os error 111) (DispatchFailure(DispatchFailure { … }))`
/// → `dispatch failure: … connection refused`.
fn plain_sdk_reason(text: &str) -> String {
    let text = text.strip_prefix("store unavailable: ").unwrap_or(text);
    // The Debug dump starts at the first " (" followed by a type name and "(" or " {".
    let mut cut = text.len();
    for (i, _) in text.match_indices(" (") {
        let rest = &text[i + 2..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':').collect();
        let after = &rest[name.len()..];
        if name.starts_with(|c: char| c.is_ascii_uppercase())
            && (after.starts_with('(') || after.starts_with(" {"))
        {
            cut = i;
            break;
        }
    }
    let text = &text[..cut];
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => text,
    };
    text.to_string()
}

/// What the server prints once it listens: where it is, its files, and the `export` line that
/// lets this shell's AWS CLI and SDKs call it (the credentials are the admin keys it accepts).
fn banner(
    running: &tessera_local::Running,
    data_dir: &std::path::Path,
    keys: &std::collections::HashMap<String, String>,
    region: &str,
) -> String {
    use std::fmt::Write as _;
    // An SDK reaches a wildcard bind through loopback.
    let mut addr = running.addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    let url = format!("http://{addr}");
    let mut out = String::new();
    let _ = writeln!(out, "Tessera is listening on {}", running.url());
    if let Some(cert) = &running.tls_cert {
        let _ = writeln!(
            out,
            "HTTPS on the same port:  https://{addr} (auth domains: https://<prefix>.auth.localhost:{})",
            addr.port()
        );
        let _ = writeln!(out, "TLS certificate:         {}", cert.display());
    }
    let _ = writeln!(out, "Data directory:          {}", data_dir.display());
    let _ = writeln!(out, "Master key file:         {}", running.key_file.display());
    // A secret of the operator's own is not echoed: the export line names its variable.
    let own_secret = std::env::var_os("TESSERA_ADMIN_SECRET_ACCESS_KEY").is_some();
    let mut export = None;
    for (id, secret) in keys {
        let (line, value) = if own_secret {
            ("(from TESSERA_ADMIN_SECRET_ACCESS_KEY)", "\"$TESSERA_ADMIN_SECRET_ACCESS_KEY\"")
        } else {
            (secret.as_str(), secret.as_str())
        };
        let _ = writeln!(out, "Admin access key id:     {id}");
        let _ = writeln!(out, "Admin secret access key: {line}");
        export = Some(format!("AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={value}"));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Call it from this shell (the AWS CLI, any AWS SDK; admin calls are signed with these keys):"
    );
    let _ = writeln!(
        out,
        "  export {} AWS_REGION={region} AWS_DEFAULT_REGION={region} AWS_ENDPOINT_URL={url}",
        export.unwrap_or_default()
    );
    let _ = writeln!(out, "  aws cognito-idp list-user-pools --max-results 10");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    fn serve(args: &[&str]) -> Result<ServeArgs, String> {
        let argv = ["tessera", "serve"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).map_err(|e| e.to_string())?.command {
            Command::Serve(args) => Ok(*args),
            _ => Err("not serve".into()),
        }
    }

    #[test]
    fn sdk_errors_lose_their_debug_dump() {
        let sdk = "store unavailable: DynamoDB CreateTable: dispatch failure: io error: client error \
                   (Connect): tcp connect error: Connection refused (os error 111) (DispatchFailure(\
                   DispatchFailure { source: ConnectorError { kind: Io } }))";
        assert_eq!(
            plain_sdk_reason(sdk),
            "DynamoDB CreateTable: dispatch failure: io error: client error (Connect): tcp connect \
             error: Connection refused"
        );
        assert_eq!(plain_sdk_reason("plain words"), "plain words");
    }

    /// One test, so that nothing else in this binary reads the environment meanwhile.
    #[test]
    fn account_id_flag_and_variable() {
        // The flag, validated.
        assert_eq!(serve(&["--account-id", "123456789012"]).unwrap().account_id, "123456789012");
        for bad in
            ["12345678901", "1234567890123", "12345678901a", "", "+23456789012", "１２３４５６７８９０１２"]
        {
            let flag = format!("--account-id={bad}");
            let e = serve(&[&flag]).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(e.contains("is not an AWS account id (12 digits)"), "{bad:?}: {e}");
        }
        // The variable the functions read, and the default.
        let cmd = Cli::command();
        let serve_cmd = cmd.find_subcommand("serve").unwrap();
        let arg = serve_cmd.get_arguments().find(|a| a.get_id() == "account_id").unwrap();
        assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some("TESSERA_ACCOUNT_ID"));
        if std::env::var_os("TESSERA_ACCOUNT_ID").is_none() {
            assert_eq!(serve(&[]).unwrap().account_id, "000000000000");
        }
    }
}
