//! The commands an operator runs on a store (the server stopped, or a deployed stack's table
//! and KMS key): `export`, `restore`, `archive-keygen` (docs/backup.md) and `signing-keys`
//! (docs/keys.md).

use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::backup::{Remap, RestoreOptions, Scope};
use tessera_core::store::Store;
use tessera_local::backup::{self, Protection};

/// Where the store and its master key are.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// `embedded` (the data directory's store; no server may have it open) or `dynamodb`.
    #[arg(long, value_enum, default_value = "embedded")]
    store: crate::StoreArg,
    #[arg(long, default_value = "./.tessera")]
    data_dir: PathBuf,
    /// The master key file (as `tessera serve` resolves it when not given).
    #[arg(long, env = "TESSERA_KEY_FILE")]
    key_file: Option<PathBuf>,
    #[arg(long, env = "TESSERA_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    #[arg(long, default_value = "tessera")]
    table: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// A deployed stack's KMS key (id, ARN or alias): the master key is the table's KMS data
    /// key, as the functions read it, instead of a key file.
    #[arg(long, env = "TESSERA_KMS_KEY_ID")]
    kms_key_id: Option<String>,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The archive to write.
    #[arg(long, short)]
    out: PathBuf,
    /// A user pool to export (repeat for more).
    #[arg(long = "user-pool")]
    user_pools: Vec<String>,
    /// An identity pool to export, with its identities and Sync data (repeat for more).
    #[arg(long = "identity-pool")]
    identity_pools: Vec<String>,
    /// Every pool of the store, and the deployment's identity-token key.
    #[arg(long)]
    all: bool,
    /// Encrypt to this age recipient (`age1…`; repeat for more). Without one, the passphrase
    /// in TESSERA_ARCHIVE_PASSPHRASE is used.
    #[arg(long = "recipient")]
    recipients: Vec<String>,
    /// Write the archive unencrypted (it holds password hashes, MFA secrets, signing keys).
    #[arg(long)]
    unencrypted: bool,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The archive to read.
    archive: PathBuf,
    /// An age identity file to decrypt with (as age-keygen or `tessera archive-keygen` write
    /// them). Without one, the passphrase in TESSERA_ARCHIVE_PASSPHRASE is used.
    #[arg(long = "identity")]
    identities: Vec<PathBuf>,
    /// Read an unencrypted archive.
    #[arg(long)]
    unencrypted: bool,
    /// Replace pools that exist here (deleted first, with everything they hold).
    #[arg(long)]
    replace: bool,
    /// Restore beside the originals: new user pool ids (in --region) and new app client ids.
    /// SRP verifiers are dropped (each user's next password sign-in makes a new one).
    #[arg(long, conflicts_with = "pool_region")]
    new_ids: bool,
    /// Move the user pools to this region's ids, keeping the rest of each id (and so the SRP
    /// verifiers): e.g. us-east-1_AbC → eu-west-1_AbC.
    #[arg(long)]
    pool_region: Option<String>,
}

const PASSPHRASE_VAR: &str = "TESSERA_ARCHIVE_PASSPHRASE";

fn passphrase() -> Option<String> {
    std::env::var(PASSPHRASE_VAR).ok().filter(|p| !p.is_empty())
}

pub async fn export(args: ExportArgs) -> Result<(), String> {
    let protection = if args.unencrypted {
        if !args.recipients.is_empty() {
            return Err("--unencrypted and --recipient contradict each other".into());
        }
        Protection::None
    } else if !args.recipients.is_empty() {
        Protection::Keys(args.recipients)
    } else if let Some(p) = passphrase() {
        Protection::Passphrase(p)
    } else {
        return Err(format!(
            "the archive holds password hashes and keys: name an age recipient (--recipient age1…; \
             `tessera archive-keygen` makes one), set {PASSPHRASE_VAR}, or pass --unencrypted"
        ));
    };
    if !args.all && args.user_pools.is_empty() && args.identity_pools.is_empty() {
        return Err("name what to export: --user-pool ID, --identity-pool ID, or --all".into());
    }
    let svc = open(&args.store, false).await?;
    let scope = Scope { user_pools: args.user_pools, identity_pools: args.identity_pools, all: args.all };
    let items = backup::export_file(&svc, &scope, &args.out, &protection).await?;
    println!("exported {items} items to {}", args.out.display());
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> Result<(), String> {
    let protection = if args.unencrypted {
        Protection::None
    } else if !args.identities.is_empty() {
        let mut keys = Vec::new();
        for path in &args.identities {
            keys.extend(backup::read_identities(path)?);
        }
        Protection::Keys(keys)
    } else if let Some(p) = passphrase() {
        Protection::Passphrase(p)
    } else {
        return Err(format!(
            "pass --identity with the archive's key, set {PASSPHRASE_VAR}, or pass --unencrypted"
        ));
    };
    let svc = open(&args.store, true).await?;
    let remap = remap(&args, &svc)?;
    let report = backup::restore_file(
        &svc,
        &args.archive,
        &protection,
        RestoreOptions { replace: args.replace, remap },
    )
    .await?;
    for id in &report.replaced {
        println!("replaced {id}");
    }
    println!(
        "restored user pools [{}], identity pools [{}]: {} users, {} items",
        report.user_pools.join(", "),
        report.identity_pools.join(", "),
        report.users,
        report.items
    );
    if report.kept_deployment_key {
        println!("kept this deployment's identity-token key (the archive's was not restored over it)");
    }
    Ok(())
}

/// The pool ids a remap gives, read from the archive's header.
fn remap(args: &RestoreArgs, svc: &tessera_core::Service) -> Result<Remap, String> {
    if !args.new_ids && args.pool_region.is_none() {
        return Ok(Remap::default());
    }
    let protection = if args.unencrypted {
        Protection::None
    } else if !args.identities.is_empty() {
        let mut keys = Vec::new();
        for path in &args.identities {
            keys.extend(backup::read_identities(path)?);
        }
        Protection::Keys(keys)
    } else {
        Protection::Passphrase(passphrase().unwrap_or_default())
    };
    let header = backup::read_header(&args.archive, &protection)?;
    let mut remap = Remap { new_client_ids: args.new_ids, ..Remap::default() };
    for old in header.user_pools {
        let new = match &args.pool_region {
            Some(region) => format!("{region}_{}", tessera_core::ids::pool_suffix(&old)),
            None => tessera_core::ids::user_pool_id(svc.rng.as_ref(), &args.store.region),
        };
        remap.user_pools.insert(old, new);
    }
    Ok(remap)
}

pub fn keygen(out: PathBuf) -> Result<(), String> {
    let recipient = backup::write_new_identity(&out)?;
    println!("wrote the identity to {} (keep it secret; it decrypts the archives)", out.display());
    println!("recipient (for --recipient): {recipient}");
    Ok(())
}

/// The store and the service over it; `create` makes a missing key (restore into a new store).
async fn open(args: &StoreArgs, create: bool) -> Result<Arc<tessera_core::Service>, String> {
    let store: Arc<dyn Store> = match args.store {
        crate::StoreArg::Embedded => {
            if create {
                tessera_local::startup::prepare_data_dir(&args.data_dir)?;
            } else if !args.data_dir.is_dir() {
                return Err(format!("{} is not a data directory", args.data_dir.display()));
            }
            // One pass over the data: a small page cache keeps the memory flat.
            Arc::new(tessera_local::embedded::EmbeddedStore::open_with_cache(&args.data_dir, Some(32 << 20))?)
        }
        crate::StoreArg::Dynamodb => {
            let client =
                tessera_aws::config::dynamodb_client(args.dynamodb_endpoint.as_deref(), &args.region).await;
            if create {
                tessera_aws::dynamo::create_table(&client, &args.table)
                    .await
                    .map_err(|e| format!("cannot create or open the DynamoDB table {}: {e}", args.table))?;
            }
            Arc::new(tessera_aws::dynamo::DynamoStore::new(client, args.table.clone()))
        }
    };
    match &args.kms_key_id {
        Some(kms_key_id) => {
            let config = tessera_aws::config::loader(None, &args.region).load().await;
            let kms = aws_sdk_kms::Client::new(&config);
            let now = tessera_core::ports::Clock::now_secs(&tessera_core::ports::SystemClock);
            // Every data key the table lists opens; the sealing one seals (docs/keys.md).
            let keys = tessera_aws::kms::load_data_keys(&kms, store.as_ref(), kms_key_id, now)
                .await
                .map_err(|e| e.message().to_string())?;
            backup::service_with(store, keys.cipher().map_err(|e| e.message().to_string())?)
        }
        None => {
            let (path, _) = tessera_local::keyfile::resolve(&args.data_dir, args.key_file.as_deref(), None)?;
            tessera_local::keyfile::refuse_if_tracked(&path)?;
            if !create && !path.exists() {
                return Err(format!(
                    "no master key at {}: pass --key-file with the key of this store (tessera serve \
                     prints where it is)",
                    path.display()
                ));
            }
            tessera_local::server::load_or_create_key(&path)?;
            // Every version of the key file opens; the newest seals.
            let ring = tessera_local::server::load_key_ring(&path)?;
            backup::service_with(store, tessera_local::server::ring_cipher(&ring)?)
        }
    }
}

#[derive(clap::Args)]
pub struct SigningKeysArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long = "user-pool")]
    user_pool: String,
    /// Take the next rotation step: publish new keys (they sign after a day in the JWKS), or
    /// switch to keys published a day ago.
    #[arg(long)]
    rotate: bool,
    /// With --rotate: switch to the published next keys now, without waiting for the day.
    #[arg(long, requires = "rotate")]
    activate: bool,
    /// Rotate by itself every N days (0: only on demand).
    #[arg(long)]
    rotation_days: Option<i64>,
}

pub async fn signing_keys(args: SigningKeysArgs) -> Result<(), String> {
    let svc = open(&args.store, false).await?;
    let fail = |e: tessera_core::Error| format!("{}: {}", e.name(), e.message());
    let pool = serde_json::json!({"UserPoolId": args.user_pool, "Activate": args.activate});
    use tessera_core::tessera_service as keys;
    if let Some(days) = args.rotation_days {
        let mut input = pool.clone();
        input["RotationDays"] = serde_json::json!(days);
        keys::set_signing_key_rotation(&svc, &input).await.map_err(fail)?;
    }
    let out = if args.rotate {
        keys::rotate_signing_keys(&svc, &pool).await.map_err(fail)?
    } else {
        keys::describe_signing_keys(&svc, &pool).await.map_err(fail)?
    };
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    Ok(())
}

#[derive(clap::Args)]
pub struct PoolSettingsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long = "user-pool")]
    user_pool: String,
    /// The new UsernameAttributes (email, phone_number), comma-separated; "none" for none.
    #[arg(long)]
    username_attributes: Option<String>,
    /// The new AliasAttributes (email, phone_number, preferred_username); "none" for none.
    #[arg(long)]
    alias_attributes: Option<String>,
    /// The new UsernameConfiguration.CaseSensitive.
    #[arg(long)]
    case_sensitive: Option<bool>,
    /// The standard attributes to require; "none" for none.
    #[arg(long)]
    required_attributes: Option<String>,
    /// How an alias several users would hold is resolved: keep-newest (the user changed last
    /// keeps it, the others have it unverified) or unverify-all.
    #[arg(long, value_parser = ["keep-newest", "unverify-all"])]
    alias_conflicts: Option<String>,
    /// Users without a newly required attribute keep signing in (they are asked for nothing).
    #[arg(long)]
    allow_missing_required: bool,
    /// Report the conflicts and what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Users re-indexed per step (each step is one call of ContinueUserPoolSettingsChange).
    #[arg(long, default_value_t = 500)]
    step: u32,
}

/// `tessera pool-settings`: plans, starts and runs a sign-in settings change
/// (docs/sign-in-settings.md); run again without changes to resume one that stopped.
pub async fn pool_settings(args: PoolSettingsArgs) -> Result<(), String> {
    use tessera_core::tessera_service as change;
    let mut svc = open(&args.store, false).await?;
    if matches!(args.store.store, crate::StoreArg::Embedded) {
        // This process holds the embedded store alone: no other process caches the pool or
        // has a request in flight, so a case change need not wait for them.
        if let Some(s) = Arc::get_mut(&mut svc) {
            s.config.pool_cache_ttl_ms = 0;
            s.config.request_time_bound_ms = 0;
        }
    }
    let fail = |e: tessera_core::Error| format!("{}: {}", e.name(), e.message());
    let list = |v: &Option<String>| {
        v.as_deref().map(|v| {
            let items: Vec<&str> =
                v.split(',').map(str::trim).filter(|s| !s.is_empty() && *s != "none").collect();
            serde_json::json!(items)
        })
    };
    let mut input = serde_json::json!({"UserPoolId": args.user_pool});
    let mut changes = false;
    for (name, value) in [
        ("UsernameAttributes", list(&args.username_attributes)),
        ("AliasAttributes", list(&args.alias_attributes)),
        ("RequiredAttributes", list(&args.required_attributes)),
        ("CaseSensitive", args.case_sensitive.map(serde_json::Value::from)),
    ] {
        if let Some(v) = value {
            input[name] = v;
            changes = true;
        }
    }
    if let Some(r) = &args.alias_conflicts {
        input["AliasConflicts"] = serde_json::json!(r.replace('-', "_").to_uppercase());
    }
    if args.allow_missing_required {
        input["MissingRequiredAttributes"] = serde_json::json!("ALLOW");
    }
    let print = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    if args.dry_run {
        println!("{}", print(&change::plan_user_pool_settings_change(&svc, &input).await.map_err(fail)?));
        return Ok(());
    }
    if changes {
        let started = change::start_user_pool_settings_change(&svc, &input).await.map_err(fail)?;
        eprintln!("{}", print(&started));
    }
    let step = serde_json::json!({"UserPoolId": args.user_pool, "MaxUsers": args.step});
    loop {
        let out = change::continue_user_pool_settings_change(&svc, &step).await.map_err(fail)?;
        eprintln!("users done: {}", out["UsersDone"]);
        if let Some(ms) = out["RetryAfterMs"].as_i64() {
            eprintln!(
                "waiting {:.1} s for requests that read the pool before this point",
                ms as f64 / 1000.0
            );
            tokio::time::sleep(std::time::Duration::from_millis(ms.max(0) as u64)).await;
        }
        if out["Status"] == "COMPLETE" {
            println!("{}", print(&out));
            return Ok(());
        }
    }
}

#[derive(clap::Args)]
pub struct ImportFromCognitoArgs {
    /// The Cognito user pool to copy. Its credentials are the AWS ones of this shell (the
    /// default chain); they need cognito-idp Describe*/List* on it.
    #[arg(long)]
    from_user_pool: String,
    /// Default: the pool id's region.
    #[arg(long)]
    from_region: Option<String>,
    /// Another endpoint than Cognito's (tests point it at a Tessera server).
    #[arg(long)]
    from_endpoint: Option<String>,
    /// The Tessera endpoint to copy into (the local server's URL, or the stack's API URL);
    /// signed with TESSERA_ADMIN_ACCESS_KEY_ID / TESSERA_ADMIN_SECRET_ACCESS_KEY.
    #[arg(long)]
    to_endpoint: String,
    #[arg(long, default_value = "us-east-1")]
    to_region: String,
    /// Where the progress is kept (to resume). Default: import-from-cognito-<pool id>.json.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The new pool's UserMigration function: the bundled hook in cognito mode.
    #[arg(long)]
    migration_function: Option<String>,
    /// Users per import job.
    #[arg(long, default_value_t = 1000)]
    batch_users: usize,
    /// Users per ListUsers page (Cognito allows 60).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i32).range(1..=60))]
    page_size: i32,
}

pub async fn import_from_cognito(args: ImportFromCognitoArgs) -> Result<(), String> {
    let from_region = args
        .from_region
        .clone()
        .or_else(|| args.from_user_pool.split_once('_').map(|(r, _)| r.to_string()))
        .ok_or_else(|| format!("{} is not a user pool id", args.from_user_pool))?;
    let mut old = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(from_region));
    if let Some(endpoint) = &args.from_endpoint {
        old = old.endpoint_url(endpoint);
    }
    let old = aws_sdk_cognitoidentityprovider::Client::new(&old.load().await);
    let key = std::env::var("TESSERA_ADMIN_ACCESS_KEY_ID").map_err(|_| {
        "set TESSERA_ADMIN_ACCESS_KEY_ID and TESSERA_ADMIN_SECRET_ACCESS_KEY to the Tessera admin keys"
    })?;
    let secret = std::env::var("TESSERA_ADMIN_SECRET_ACCESS_KEY")
        .map_err(|_| "set TESSERA_ADMIN_SECRET_ACCESS_KEY to the Tessera admin secret key")?;
    let new_config = aws_sdk_cognitoidentityprovider::Config::builder()
        .behavior_version(aws_sdk_cognitoidentityprovider::config::BehaviorVersion::latest())
        .region(aws_sdk_cognitoidentityprovider::config::Region::new(args.to_region.clone()))
        .endpoint_url(&args.to_endpoint)
        .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
            key,
            secret,
            None,
            None,
            "tessera-admin",
        ))
        .build();
    let new = aws_sdk_cognitoidentityprovider::Client::from_conf(new_config);
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("import-from-cognito-{}.json", args.from_user_pool)));
    let opts = tessera_local::import_cognito::ImportOptions {
        old,
        old_pool: args.from_user_pool,
        new,
        state,
        migration_function: args.migration_function,
        page_size: args.page_size,
        batch_users: args.batch_users,
    };
    tessera_local::import_cognito::run(&opts).await.map(|_| ())
}

#[derive(clap::Args)]
pub struct MasterKeyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Add a new key version to the key file, then re-seal every sealed value with it.
    #[arg(long)]
    rotate: bool,
    /// With --kms-key-id: stage a new data key (new instances load it; nothing seals with it).
    #[arg(long)]
    stage: bool,
    /// With --kms-key-id: make the staged data key seal (a day after staging, or with --force
    /// after redeploying the functions), then re-seal.
    #[arg(long)]
    activate: bool,
    #[arg(long, requires = "activate")]
    force: bool,
    /// Re-seal with the newest key version (resumes a stopped re-seal).
    #[arg(long)]
    reseal: bool,
    /// Remove the older versions from the key file (only after a finished re-seal).
    #[arg(long)]
    drop_old: bool,
}

pub async fn master_key(args: MasterKeyArgs) -> Result<(), String> {
    if let Some(kms_key_id) = args.store.kms_key_id.clone() {
        return kms_master_key(args, &kms_key_id).await;
    }
    if args.stage || args.activate {
        return Err(
            "--stage and --activate rotate a KMS data key (--kms-key-id); a key file rotates with --rotate"
                .into(),
        );
    }
    let (path, _) =
        tessera_local::keyfile::resolve(&args.store.data_dir, args.store.key_file.as_deref(), None)?;
    let mut ring = tessera_local::server::load_key_ring(&path)?;
    if args.rotate {
        let version = ring
            .last()
            .map(|(v, _)| *v)
            .unwrap_or(0)
            .checked_add(1)
            .ok_or("the key file has 255 versions")?;
        let mut key = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        ring.push((version, key));
        tessera_local::server::write_key_ring(&path, &ring)?;
        println!("key file {}: version {version} added; it seals from now on", path.display());
    }
    let svc = open(&args.store, false).await?;
    let current = ring.last().map(|(v, _)| *v).unwrap_or(1);
    if args.rotate || args.reseal {
        let report = tessera_core::backup::reseal(&svc, current, &mut |pool, r| {
            println!(
                "re-seal: pool {pool} done ({} items read, {} re-sealed)",
                r.items_read, r.items_resealed
            );
        })
        .await
        .map_err(|e| format!("{}: {}", e.name(), e.message()))?;
        println!(
            "re-sealed {} of {} items with version {current}{}",
            report.items_resealed,
            report.items_read,
            if report.resumed { " (resumed)" } else { "" }
        );
    }
    if args.drop_old {
        let unfinished = svc.store.get("CONFIG", "RESEAL", 0).await.map_err(|e| e.to_string())?;
        if unfinished.is_some() {
            return Err("a re-seal has not finished: run with --reseal first".into());
        }
        let kept: Vec<(u8, Vec<u8>)> = ring.last().cloned().into_iter().collect();
        tessera_local::server::write_key_ring(&path, &kept)?;
        println!("key file {}: only version {current} kept", path.display());
    }
    Ok(())
}

/// The KMS data key: stage, activate (then re-seal), re-seal, drop the previous keys.
async fn kms_master_key(args: MasterKeyArgs, kms_key_id: &str) -> Result<(), String> {
    if args.rotate {
        return Err("a KMS data key rotates in two steps: --stage, then --activate a day later".into());
    }
    let fail = |e: tessera_core::Error| format!("{}: {}", e.name(), e.message());
    let config = tessera_aws::config::loader(None, &args.store.region).load().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let now = || tessera_core::ports::Clock::now_secs(&tessera_core::ports::SystemClock);
    let svc = open(&args.store, false).await?;
    if args.stage {
        let v = tessera_aws::kms::stage_data_key(&kms, svc.store.as_ref(), kms_key_id, now())
            .await
            .map_err(fail)?;
        println!("data key version {v} staged: instances that start from now load it; activate it in a day (or after a redeploy, with --force)");
    }
    let mut reseal = args.reseal;
    if args.activate {
        let v =
            tessera_aws::kms::activate_data_key(svc.store.as_ref(), now(), args.force).await.map_err(fail)?;
        println!("data key version {v} seals from now on");
        reseal = true;
    }
    if reseal {
        // Opened again: the ring as the table now lists it.
        let svc = open(&args.store, false).await?;
        let keys = tessera_aws::kms::load_data_keys(&kms, svc.store.as_ref(), kms_key_id, now())
            .await
            .map_err(fail)?;
        let report = tessera_core::backup::reseal(&svc, keys.sealing, &mut |pool, r| {
            println!(
                "re-seal: pool {pool} done ({} items read, {} re-sealed)",
                r.items_read, r.items_resealed
            );
        })
        .await
        .map_err(fail)?;
        println!(
            "re-sealed {} of {} items with version {}{}",
            report.items_resealed,
            report.items_read,
            keys.sealing,
            if report.resumed { " (resumed)" } else { "" }
        );
    }
    if args.drop_old {
        if svc.store.get("CONFIG", "RESEAL", 0).await.map_err(|e| e.to_string())?.is_some() {
            return Err("a re-seal has not finished: run with --reseal first".into());
        }
        tessera_aws::kms::drop_previous_data_keys(svc.store.as_ref(), now()).await.map_err(fail)?;
        println!("previous data keys dropped");
    }
    Ok(())
}
