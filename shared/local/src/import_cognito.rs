//! `tessera import-from-cognito`: copies a Cognito user pool's settings, app clients, groups,
//! users (without passwords, which Cognito never gives) and memberships into a Tessera
//! deployment, through both sides' public APIs (the AWS SDK). Users land RESET_REQUIRED and
//! move their password over on their first sign-in through the bundled migration hook
//! (docs/migrate-from-cognito.md).
//!
//! Resumable and idempotent: every step finds what an earlier run made before making it. The
//! new pool carries the tag `tessera:imported-from` = the old pool's id, a client is matched by
//! name, a group by name, a user by the import job's "already exists", a membership by
//! AdminAddUserToGroup's idempotence; the state file only remembers where the user listing was.

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AttributeDataType, SchemaAttributeType};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tessera_core::ports::{WebClient as _, WebRequest};

pub const TAG: &str = "tessera:imported-from";

pub struct ImportOptions {
    pub old: cip::Client,
    pub old_pool: String,
    pub new: cip::Client,
    pub state: PathBuf,
    /// The new pool's UserMigration trigger (the bundled hook in cognito mode).
    pub migration_function: Option<String>,
    /// Users per ListUsers page and per import job batch.
    pub page_size: i32,
    pub batch_users: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    new_pool: Option<String>,
    /// The last ListUsers pagination token whose page was imported.
    users_after: Option<String>,
    users_done: bool,
    imported: u64,
    existing: u64,
}

impl State {
    fn load(path: &PathBuf) -> Result<State, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Written through a temporary file: a kill leaves the old state or the new one.
    fn save(&self, path: &PathBuf) -> Result<(), String> {
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

fn sdk<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug + Send + Sync + 'static>(
    what: &str,
    e: cip::error::SdkError<E, R>,
) -> String {
    format!("{what}: {}", cip::error::DisplayErrorContext(e))
}

/// Runs (or resumes) the import; prints its progress. Returns the new pool's id.
pub async fn run(opts: &ImportOptions) -> Result<String, String> {
    let mut state = State::load(&opts.state)?;
    let old = opts
        .old
        .describe_user_pool()
        .user_pool_id(&opts.old_pool)
        .send()
        .await
        .map_err(|e| sdk("DescribeUserPool (old)", e))?
        .user_pool
        .ok_or("DescribeUserPool (old) answered no pool")?;
    let new_pool = match &state.new_pool {
        Some(id) => id.clone(),
        None => {
            let id = match find_pool(opts).await? {
                Some(id) => id,
                None => create_pool(opts, &old).await?,
            };
            state.new_pool = Some(id.clone());
            state.save(&opts.state)?;
            id
        }
    };
    println!("pool: {} -> {new_pool}", opts.old_pool);
    clients(opts, &new_pool).await?;
    let groups = groups(opts, &new_pool).await?;
    if !state.users_done {
        users(opts, &new_pool, &old, &mut state).await?;
    }
    for group in &groups {
        memberships(opts, &new_pool, group).await?;
    }
    println!(
        "done: {} users imported, {} already there; {} groups",
        state.imported,
        state.existing,
        groups.len()
    );
    Ok(new_pool)
}

/// A pool an earlier run made (it carries the tag).
async fn find_pool(opts: &ImportOptions) -> Result<Option<String>, String> {
    let mut next: Option<String> = None;
    loop {
        let page = opts
            .new
            .list_user_pools()
            .max_results(60)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| sdk("ListUserPools (new)", e))?;
        for p in page.user_pools() {
            let Some(id) = p.id() else { continue };
            let described = opts
                .new
                .describe_user_pool()
                .user_pool_id(id)
                .send()
                .await
                .map_err(|e| sdk("DescribeUserPool (new)", e))?;
            let tagged = described
                .user_pool()
                .and_then(|u| u.user_pool_tags())
                .and_then(|t| t.get(TAG))
                .is_some_and(|v| v == &opts.old_pool);
            if tagged {
                return Ok(Some(id.to_string()));
            }
        }
        match page.next_token() {
            Some(t) => next = Some(t.to_string()),
            None => return Ok(None),
        }
    }
}

/// CreateUserPool from the old pool's settings (what the public API can set and Tessera
/// honours); what is left behind is printed.
async fn create_pool(opts: &ImportOptions, old: &cip::types::UserPoolType) -> Result<String, String> {
    let mut b = opts
        .new
        .create_user_pool()
        .pool_name(old.name().unwrap_or("imported"))
        .set_policies(old.policies().cloned().map(|p| {
            // Password policy only (sign-in policies are Tessera's defaults).
            cip::types::UserPoolPolicyType::builder()
                .set_password_policy(p.password_policy().cloned())
                .build()
        }))
        .set_username_attributes(Some(old.username_attributes().to_vec()).filter(|v| !v.is_empty()))
        .set_alias_attributes(Some(old.alias_attributes().to_vec()).filter(|v| !v.is_empty()))
        .set_auto_verified_attributes(Some(old.auto_verified_attributes().to_vec()).filter(|v| !v.is_empty()))
        .set_username_configuration(old.username_configuration().cloned())
        .set_account_recovery_setting(old.account_recovery_setting().cloned())
        .set_device_configuration(old.device_configuration().cloned())
        .user_pool_tags(TAG, &opts.old_pool);
    if let Some(admin) = old.admin_create_user_config() {
        b = b.admin_create_user_config(
            cip::types::AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(admin.allow_admin_create_user_only())
                .build(),
        );
    }
    if let Some(f) = &opts.migration_function {
        b = b.lambda_config(cip::types::LambdaConfigType::builder().user_migration(f).build());
    }
    // Custom attributes, and the standard ones the old pool requires.
    for attr in old.schema_attributes() {
        let name = attr.name().unwrap_or_default();
        if let Some(custom) = name.strip_prefix("custom:") {
            b = b.schema(
                SchemaAttributeType::builder()
                    .name(custom)
                    .attribute_data_type(
                        attr.attribute_data_type().cloned().unwrap_or(AttributeDataType::String),
                    )
                    .mutable(attr.mutable().unwrap_or(true))
                    .set_string_attribute_constraints(attr.string_attribute_constraints().cloned())
                    .set_number_attribute_constraints(attr.number_attribute_constraints().cloned())
                    .build(),
            );
        } else if attr.required() == Some(true) {
            b = b.schema(
                SchemaAttributeType::builder()
                    .name(name)
                    .set_attribute_data_type(attr.attribute_data_type().cloned())
                    .required(true)
                    .mutable(attr.mutable().unwrap_or(true))
                    .build(),
            );
        }
    }
    let created = b.send().await.map_err(|e| sdk("CreateUserPool (new)", e))?;
    let id = created.user_pool().and_then(|p| p.id()).ok_or("CreateUserPool answered no id")?.to_string();
    let mut left = Vec::new();
    if old.mfa_configuration().is_some_and(|m| m.as_str() != "OFF") {
        left.push("MFA configuration (SetUserPoolMfaConfig)");
    }
    if old.email_configuration().is_some_and(|e| e.source_arn().is_some()) {
        left.push("EmailConfiguration (SES sender)");
    }
    if old.sms_configuration().is_some() {
        left.push("SmsConfiguration");
    }
    if old.lambda_config().is_some_and(|l| {
        l.pre_sign_up().is_some()
            || l.post_confirmation().is_some()
            || l.pre_token_generation().is_some()
            || l.custom_message().is_some()
    }) {
        left.push("Lambda triggers");
    }
    if old.domain().is_some() || old.custom_domain().is_some() {
        left.push("the domain (CreateUserPoolDomain)");
    }
    if !left.is_empty() {
        println!("pool: not copied, set by hand: {}", left.join(", "));
    }
    Ok(id)
}

async fn clients(opts: &ImportOptions, new_pool: &str) -> Result<(), String> {
    let existing = list_clients(&opts.new, new_pool).await?;
    for (old_id, name) in list_clients(&opts.old, &opts.old_pool).await? {
        if existing.iter().any(|(_, n)| n == &name) {
            continue;
        }
        let c = opts
            .old
            .describe_user_pool_client()
            .user_pool_id(&opts.old_pool)
            .client_id(&old_id)
            .send()
            .await
            .map_err(|e| sdk("DescribeUserPoolClient (old)", e))?
            .user_pool_client
            .ok_or("no client")?;
        let providers: Vec<String> =
            c.supported_identity_providers().iter().filter(|p| p.as_str() == "COGNITO").cloned().collect();
        let created = opts
            .new
            .create_user_pool_client()
            .user_pool_id(new_pool)
            .client_name(&name)
            .set_client_secret(c.client_secret().map(str::to_string))
            .set_explicit_auth_flows(Some(c.explicit_auth_flows().to_vec()).filter(|v| !v.is_empty()))
            .set_refresh_token_validity(Some(c.refresh_token_validity()).filter(|v| *v > 0))
            .set_access_token_validity(c.access_token_validity())
            .set_id_token_validity(c.id_token_validity())
            .set_token_validity_units(c.token_validity_units().cloned())
            .set_read_attributes(Some(c.read_attributes().to_vec()).filter(|v| !v.is_empty()))
            .set_write_attributes(Some(c.write_attributes().to_vec()).filter(|v| !v.is_empty()))
            .set_supported_identity_providers(Some(providers).filter(|v| !v.is_empty()))
            .set_callback_urls(Some(c.callback_urls().to_vec()).filter(|v| !v.is_empty()))
            .set_logout_urls(Some(c.logout_urls().to_vec()).filter(|v| !v.is_empty()))
            .set_default_redirect_uri(c.default_redirect_uri().map(str::to_string))
            .set_allowed_o_auth_flows(Some(c.allowed_o_auth_flows().to_vec()).filter(|v| !v.is_empty()))
            .set_allowed_o_auth_scopes(Some(c.allowed_o_auth_scopes().to_vec()).filter(|v| !v.is_empty()))
            .set_allowed_o_auth_flows_user_pool_client(c.allowed_o_auth_flows_user_pool_client())
            .set_prevent_user_existence_errors(c.prevent_user_existence_errors().cloned())
            .set_enable_token_revocation(c.enable_token_revocation())
            .set_auth_session_validity(c.auth_session_validity())
            .send()
            .await
            .map_err(|e| sdk("CreateUserPoolClient (new)", e))?;
        let new_id = created.user_pool_client().and_then(|c| c.client_id()).unwrap_or_default();
        let secret = if c.client_secret().is_some() { " (same secret)" } else { "" };
        println!("client: {name}: {old_id} -> {new_id}{secret}");
    }
    Ok(())
}

async fn list_clients(client: &cip::Client, pool: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_user_pool_clients()
            .user_pool_id(pool)
            .max_results(60)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| sdk("ListUserPoolClients", e))?;
        for c in page.user_pool_clients() {
            out.push((
                c.client_id().unwrap_or_default().to_string(),
                c.client_name().unwrap_or_default().to_string(),
            ));
        }
        match page.next_token() {
            Some(t) => next = Some(t.to_string()),
            None => return Ok(out),
        }
    }
}

async fn groups(opts: &ImportOptions, new_pool: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = opts
            .old
            .list_groups()
            .user_pool_id(&opts.old_pool)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| sdk("ListGroups (old)", e))?;
        for g in page.groups() {
            let name = g.group_name().unwrap_or_default().to_string();
            let made = opts
                .new
                .create_group()
                .user_pool_id(new_pool)
                .group_name(&name)
                .set_description(g.description().map(str::to_string))
                .set_precedence(g.precedence())
                .set_role_arn(g.role_arn().map(str::to_string))
                .send()
                .await;
            match made {
                Ok(_) => println!("group: {name}"),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_group_exists_exception()) => {}
                Err(e) => return Err(sdk("CreateGroup (new)", e)),
            }
            names.push(name);
        }
        match page.next_token() {
            Some(t) => next = Some(t.to_string()),
            None => return Ok(names),
        }
    }
}

async fn memberships(opts: &ImportOptions, new_pool: &str, group: &str) -> Result<(), String> {
    let mut next: Option<String> = None;
    let mut n = 0;
    loop {
        let page = opts
            .old
            .list_users_in_group()
            .user_pool_id(&opts.old_pool)
            .group_name(group)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| sdk("ListUsersInGroup (old)", e))?;
        for u in page.users() {
            let name = sign_in_name(u);
            opts.new
                .admin_add_user_to_group()
                .user_pool_id(new_pool)
                .username(&name)
                .group_name(group)
                .send()
                .await
                .map_err(|e| sdk("AdminAddUserToGroup (new)", e))?;
            n += 1;
        }
        match page.next_token() {
            Some(t) => next = Some(t.to_string()),
            None => break,
        }
    }
    println!("group {group}: {n} members");
    Ok(())
}

/// The name a user signs in with: the email or phone where that is the username (the old
/// pool's username is then a UUID), else the username.
fn sign_in_name(u: &cip::types::UserType) -> String {
    let attr =
        |n: &str| u.attributes().iter().find(|a| a.name() == n).and_then(|a| a.value()).map(str::to_string);
    u.username()
        .filter(|n| !looks_like_uuid(n))
        .map(str::to_string)
        .or_else(|| attr("email"))
        .or_else(|| attr("phone_number"))
        .unwrap_or_default()
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().filter(|c| *c == '-').count() == 4
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Pages of the old pool's users, imported a batch at a time by CSV import jobs.
async fn users(
    opts: &ImportOptions,
    new_pool: &str,
    old: &cip::types::UserPoolType,
    state: &mut State,
) -> Result<(), String> {
    let header: Vec<String> = opts
        .new
        .get_csv_header()
        .user_pool_id(new_pool)
        .send()
        .await
        .map_err(|e| sdk("GetCSVHeader (new)", e))?
        .csv_header()
        .to_vec();
    let email_usernames = !old.username_attributes().is_empty();
    let web = tessera_aws::web::HttpsClient::new(std::time::Duration::from_secs(60))?;
    let mut rows: Vec<String> = Vec::new();
    let mut next = state.users_after.clone();
    loop {
        let page = opts
            .old
            .list_users()
            .user_pool_id(&opts.old_pool)
            .limit(opts.page_size)
            .set_pagination_token(next.clone())
            .send()
            .await
            .map_err(|e| sdk("ListUsers (old)", e))?;
        for u in page.users() {
            if u.user_status().is_some_and(|s| s.as_str() == "EXTERNAL_PROVIDER") {
                continue; // federated users come back through their provider
            }
            rows.push(csv_row(&header, u, email_usernames));
        }
        let after = page.pagination_token().map(str::to_string);
        if rows.len() >= opts.batch_users || after.is_none() {
            if !rows.is_empty() {
                let (imported, existing) = import_batch(opts, &web, new_pool, &header, &rows).await?;
                state.imported += imported;
                state.existing += existing;
                rows.clear();
            }
            // Only once the batch is in: a kill before re-reads these pages.
            state.users_after = after.clone();
            state.users_done = after.is_none();
            state.save(&opts.state)?;
            println!("users: {} imported, {} already there", state.imported, state.existing);
        }
        match after {
            Some(t) => next = Some(t),
            None => return Ok(()),
        }
    }
}

fn csv_row(header: &[String], u: &cip::types::UserType, email_usernames: bool) -> String {
    let attr = |n: &str| {
        u.attributes().iter().find(|a| a.name() == n).and_then(|a| a.value()).unwrap_or_default().to_string()
    };
    header
        .iter()
        .map(|column| {
            let value = match column.as_str() {
                "cognito:username" if email_usernames => sign_in_name(u),
                "cognito:username" => u.username().unwrap_or_default().to_string(),
                "cognito:mfa_enabled" => "false".to_string(),
                "email_verified" | "phone_number_verified" => {
                    let v = attr(column);
                    if v.is_empty() {
                        "false".into()
                    } else {
                        v
                    }
                }
                other => attr(other),
            };
            value.replace(',', "\\,")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One CSV import job at the new pool: (imported, already there).
async fn import_batch(
    opts: &ImportOptions,
    web: &tessera_aws::web::HttpsClient,
    new_pool: &str,
    header: &[String],
    rows: &[String],
) -> Result<(u64, u64), String> {
    wait_for_running_jobs(opts, new_pool).await?;
    let job = opts
        .new
        .create_user_import_job()
        .user_pool_id(new_pool)
        .job_name(format!("import-from-cognito-{}", rows.len()))
        .cloud_watch_logs_role_arn("arn:aws:iam::000000000000:role/tessera-import")
        .send()
        .await
        .map_err(|e| sdk("CreateUserImportJob (new)", e))?
        .user_import_job
        .ok_or("no job")?;
    let url = job.pre_signed_url().ok_or("the job has no upload URL")?;
    let mut csv = header.join(",");
    for r in rows {
        csv.push('\n');
        csv.push_str(r);
    }
    csv.push('\n');
    let put = web
        .send(WebRequest {
            method: "PUT",
            url: url.to_string(),
            headers: vec![("x-amz-server-side-encryption".into(), "aws:kms".into())],
            body: csv.into_bytes(),
        })
        .await?;
    if put.status != 200 {
        return Err(format!(
            "uploading the users answered {}: {}",
            put.status,
            String::from_utf8_lossy(&put.body)
        ));
    }
    let job_id = job.job_id().unwrap_or_default().to_string();
    opts.new
        .start_user_import_job()
        .user_pool_id(new_pool)
        .job_id(&job_id)
        .send()
        .await
        .map_err(|e| sdk("StartUserImportJob (new)", e))?;
    loop {
        let j = opts
            .new
            .describe_user_import_job()
            .user_pool_id(new_pool)
            .job_id(&job_id)
            .send()
            .await
            .map_err(|e| sdk("DescribeUserImportJob (new)", e))?
            .user_import_job
            .ok_or("no job")?;
        match j.status().map(|s| s.as_str()) {
            Some("Succeeded") | Some("Failed") => {
                let imported = j.imported_users() as u64;
                // Rows refused because the user exists (an earlier, killed run) are fine.
                let failed = j.failed_users() as u64 + j.skipped_users() as u64;
                return Ok((imported, failed));
            }
            Some("Stopped") | Some("Expired") => {
                return Err(format!("the import job {job_id} ended {:?}", j.status()))
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// An earlier, killed run may have left a job running: a pool runs one at a time.
async fn wait_for_running_jobs(opts: &ImportOptions, new_pool: &str) -> Result<(), String> {
    loop {
        let jobs = opts
            .new
            .list_user_import_jobs()
            .user_pool_id(new_pool)
            .max_results(60)
            .send()
            .await
            .map_err(|e| sdk("ListUserImportJobs (new)", e))?;
        let running = jobs.user_import_jobs().iter().any(|j| {
            j.status().is_some_and(|s| matches!(s.as_str(), "InProgress" | "Pending" | "Stopping"))
                && j.job_name().is_some_and(|n| n.starts_with("import-from-cognito"))
                && j.status().is_some_and(|s| s.as_str() != "Pending")
        });
        if !running {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
