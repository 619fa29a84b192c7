//! CSV user import: GetCSVHeader, CreateUserImportJob, StartUserImportJob, StopUserImportJob,
//! DescribeUserImportJob, ListUserImportJobs, and the job runner ([`run_job`]).
//!
//! A job lives in one item (`IMPORTJOBS#{pool}` / `JOB#{jobId}`); the pool's active job holds the
//! lock item `IMPORTJOBS#{pool}` / `ACTIVE`, written with the job's start and removed with its
//! end, so at most one job per pool runs. The file is uploaded through the [`ImportFiles`] port
//! and processed in steps: each step reads a chunk from the saved byte offset, writes users in
//! store transactions, logs one line per row and saves the offset and counts (version-checked,
//! so a StopUserImportJob in between is seen). A runner that is interrupted resumes from the
//! last saved offset; rows it had already written are then SKIPPED, never duplicated.
//!
//! Beyond Cognito: an optional `tessera:password_hash` column carries a bcrypt, argon2, scrypt
//! or PBKDF2-SHA256 hash (see [`crate::password::legacy`]); such users import as CONFIRMED and
//! sign in with their old password, which is then re-hashed with argon2id.

use crate::error::{Error, Result};
use crate::model::{User, UserPool, UserStatus};
use crate::password::legacy;
use crate::ports::Imports;
use crate::service::{decode_next_token, encode_next_token, Input, Service};
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// The extra column that carries an imported password hash.
pub const PASSWORD_HASH_COLUMN: &str = "tessera:password_hash";
/// The pre-signed upload URL is valid this long.
pub const UPLOAD_URL_TTL_SECS: i64 = 15 * 60;
/// A job not started within this long is Expired.
pub const JOB_EXPIRY_MS: i64 = 24 * 3600 * 1000;
/// Cognito's file limits.
pub const MAX_LINE_CHARS: usize = 16_000;
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
pub const MAX_ROWS: u64 = 500_000;
/// A running job that saved no progress for this long is taken to have died (its runner
/// crashed, the local server stopped): the next StartUserImportJob marks it Failed.
pub const STALE_JOB_MS: i64 = 20 * 60 * 1000;
/// Import jobs a pool may have.
pub const MAX_JOBS_PER_POOL: usize = 1000;
/// Bytes read per step from the uploaded file (a whole line always fits: 16,000 chars ≤ 64 KB).
const CHUNK_BYTES: u64 = 1024 * 1024;
/// Rows processed between two progress saves.
const ROWS_PER_STEP: usize = 200;

/// The standard attributes of the CSV header, in Cognito's order.
const STANDARD_COLUMNS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    Created,
    Pending,
    InProgress,
    Stopping,
    Expired,
    Stopped,
    Failed,
    Succeeded,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "Created",
            JobStatus::Pending => "Pending",
            JobStatus::InProgress => "InProgress",
            JobStatus::Stopping => "Stopping",
            JobStatus::Expired => "Expired",
            JobStatus::Stopped => "Stopped",
            JobStatus::Failed => "Failed",
            JobStatus::Succeeded => "Succeeded",
        }
    }

    fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::InProgress | JobStatus::Stopping)
    }
}

/// A stored import job: the `UserImportJobType` members plus the runner's progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportJob {
    pub job_id: String,
    pub job_name: String,
    pub pool_id: String,
    pub role_arn: String,
    pub pre_signed_url: String,
    pub password_hashing_algorithm: Option<String>,
    pub created_ms: i64,
    pub start_ms: Option<i64>,
    pub completion_ms: Option<i64>,
    pub status: JobStatus,
    pub completion_message: Option<String>,
    pub imported: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Byte offset of the next unread line, and its 1-based line number (the header is line 1).
    pub offset: u64,
    pub next_line: u64,
    /// The header's columns, once read.
    pub columns: Vec<String>,
    /// When the runner last saved progress (epoch ms): a job silent for [`STALE_JOB_MS`] no
    /// longer holds its pool.
    #[serde(default)]
    pub heartbeat_ms: i64,
}

impl ImportJob {
    /// The status callers see: an unstarted job past its expiry is Expired.
    fn shown_status(&self, now_ms: i64) -> JobStatus {
        if self.status == JobStatus::Created && now_ms >= self.created_ms + JOB_EXPIRY_MS {
            JobStatus::Expired
        } else {
            self.status
        }
    }

    fn to_json(&self, now_ms: i64) -> Value {
        let secs = |ms: i64| ms as f64 / 1000.0;
        let mut out = json!({
            "JobName": self.job_name,
            "JobId": self.job_id,
            "UserPoolId": self.pool_id,
            "PreSignedUrl": self.pre_signed_url,
            "CreationDate": secs(self.created_ms),
            "Status": self.shown_status(now_ms).as_str(),
            "CloudWatchLogsRoleArn": self.role_arn,
            "ImportedUsers": self.imported,
            "SkippedUsers": self.skipped,
            "FailedUsers": self.failed,
        });
        if let Some(ms) = self.start_ms {
            out["StartDate"] = json!(secs(ms));
        }
        if let Some(ms) = self.completion_ms {
            out["CompletionDate"] = json!(secs(ms));
        }
        if let Some(m) = &self.completion_message {
            out["CompletionMessage"] = json!(m);
        }
        if let Some(a) = &self.password_hashing_algorithm {
            out["PasswordHashingAlgorithm"] = json!(a);
        }
        out
    }
}

fn jobs_pk(pool_id: &str) -> String {
    format!("IMPORTJOBS#{pool_id}")
}

fn job_sk(job_id: &str) -> String {
    format!("JOB#{job_id}")
}

const ACTIVE_SK: &str = "ACTIVE";

fn job_not_found(job_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("Import job {job_id} does not exist."))
}

async fn load_job(svc: &Service, pool_id: &str, job_id: &str) -> Result<Option<(ImportJob, u64)>> {
    svc.get_json::<ImportJob>(&jobs_pk(pool_id), &job_sk(job_id)).await
}

async fn require_job(svc: &Service, pool_id: &str, job_id: &str) -> Result<(ImportJob, u64)> {
    load_job(svc, pool_id, job_id).await?.ok_or_else(|| job_not_found(job_id))
}

fn job_write(job: &ImportJob, version: u64) -> Result<Write> {
    let mut item = Item::new(
        jobs_pk(&job.pool_id),
        job_sk(&job.job_id),
        serde_json::to_value(job).map_err(Error::internal)?,
    );
    item.version = version + 1;
    Ok(Write::put(item, if version == 0 { Cond::NotExists } else { Cond::Version(version) }))
}

fn lock_delete(pool_id: &str) -> Write {
    Write::delete(jobs_pk(pool_id), ACTIVE_SK, Cond::None)
}

/// The pool's CSV header: Cognito's standard columns, the pool's custom attributes,
/// `cognito:mfa_enabled` and `cognito:username`.
pub fn csv_header(pool: &UserPool) -> Vec<String> {
    let mut out: Vec<String> = STANDARD_COLUMNS.iter().map(|s| s.to_string()).collect();
    for c in &pool.custom_schema {
        if let Some(name) = c.get("Name").and_then(Value::as_str) {
            out.push(name.to_string());
        }
    }
    out.push("cognito:mfa_enabled".into());
    out.push("cognito:username".into());
    out
}

pub async fn get_csv_header(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    Ok(json!({"UserPoolId": pool.id, "CSVHeader": csv_header(&pool)}))
}

/// `arn:aws:iam::123456789012:role/Name` (any partition, optional path).
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty()))
}

pub async fn create_user_import_job(svc: &Service, input: &Value) -> Result<Value> {
    let imports = svc.imports()?;
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let job_name = input.req_str("JobName")?;
    let role_arn = input.req_str("CloudWatchLogsRoleArn")?;
    // The role is where Cognito would write logs; Tessera writes them itself (see the README)
    // and never assumes it, but a malformed ARN is refused as Cognito refuses it.
    if !is_role_arn(role_arn) {
        return Err(Error::invalid("CloudWatchLogsRoleArn must be the ARN of an IAM role."));
    }
    let algorithm = input.str_of("PasswordHashingAlgorithm").map(str::to_string);
    let existing = all_jobs(svc, &pool.id).await?;
    if existing.len() >= MAX_JOBS_PER_POOL {
        return Err(Error::LimitExceededException(format!(
            "A user pool can have at most {MAX_JOBS_PER_POOL} import jobs."
        )));
    }
    const ALPHANUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let job_id = format!("import-{}", svc.rng.string_from(ALPHANUM, 10));
    let now_ms = svc.clock.now_millis();
    let url = imports.files.upload_url(&pool.id, &job_id, svc.now_secs() + UPLOAD_URL_TTL_SECS).await?;
    let job = ImportJob {
        job_id: job_id.clone(),
        job_name: job_name.to_string(),
        pool_id: pool.id.clone(),
        role_arn: role_arn.to_string(),
        pre_signed_url: url,
        password_hashing_algorithm: algorithm,
        created_ms: now_ms,
        start_ms: None,
        completion_ms: None,
        status: JobStatus::Created,
        completion_message: None,
        imported: 0,
        skipped: 0,
        failed: 0,
        offset: 0,
        next_line: 1,
        columns: vec![],
        heartbeat_ms: 0,
    };
    svc.store.transact(vec![job_write(&job, 0)?], svc.now_secs()).await?;
    Ok(json!({"UserImportJob": job.to_json(now_ms)}))
}

pub async fn describe_user_import_job(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (job, _) = require_job(svc, &pool.id, input.req_str("JobId")?).await?;
    Ok(json!({"UserImportJob": job.to_json(svc.clock.now_millis())}))
}

/// Every job of a pool, newest first (a pool has at most [`MAX_JOBS_PER_POOL`]).
async fn all_jobs(svc: &Service, pool_id: &str) -> Result<Vec<ImportJob>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = svc.store.query(&jobs_pk(pool_id), "JOB#", after.as_deref(), 100, svc.now_secs()).await?;
        for item in page.items {
            out.push(serde_json::from_value::<ImportJob>(item.body).map_err(Error::internal)?);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| b.job_id.cmp(&a.job_id)));
    Ok(out)
}

pub async fn list_user_import_jobs(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let max = input.i64_of("MaxResults").unwrap_or(60).clamp(1, 60) as usize;
    let jobs = all_jobs(svc, &pool.id).await?;
    let start = match input.str_of("PaginationToken") {
        Some(token) => {
            let last = decode_next_token(token)?;
            jobs.iter()
                .position(|j| j.job_id == last)
                .map(|i| i + 1)
                .ok_or_else(|| Error::invalid("Invalid pagination token."))?
        }
        None => 0,
    };
    let now_ms = svc.clock.now_millis();
    let page: Vec<&ImportJob> = jobs.iter().skip(start).take(max).collect();
    let mut out = json!({"UserImportJobs": page.iter().map(|j| j.to_json(now_ms)).collect::<Vec<_>>()});
    if start + page.len() < jobs.len() {
        if let Some(last) = page.last() {
            out["PaginationToken"] = json!(encode_next_token(&last.job_id));
        }
    }
    Ok(out)
}

pub async fn start_user_import_job(svc: &Service, input: &Value) -> Result<Value> {
    let imports = svc.imports()?;
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let job_id = input.req_str("JobId")?;
    let (mut job, version) = require_job(svc, &pool.id, job_id).await?;
    let now_ms = svc.clock.now_millis();
    match job.shown_status(now_ms) {
        JobStatus::Created => {}
        JobStatus::Expired => {
            let _ = imports.files.delete(&pool.id, job_id).await;
            return Err(Error::PreconditionNotMetException(format!(
                "Import job {job_id} has expired and cannot be started."
            )));
        }
        other => {
            return Err(Error::PreconditionNotMetException(format!(
                "Import job {job_id} cannot be started: its status is {}.",
                other.as_str()
            )))
        }
    }
    if !pool.auto_verified_attributes.iter().any(|a| a == "email" || a == "phone_number") {
        return Err(Error::PreconditionNotMetException(
            "The user pool has no auto-verified attributes (email or phone_number): users cannot be imported."
                .into(),
        ));
    }
    job.status = JobStatus::Pending;
    job.start_ms = Some(now_ms);
    job.heartbeat_ms = now_ms;
    let mut attempts = 0;
    loop {
        let lock = Item::new(jobs_pk(&pool.id), ACTIVE_SK, json!({"jobId": job_id}));
        match svc
            .store
            .transact(vec![job_write(&job, version)?, Write::put(lock, Cond::NotExists)], svc.now_secs())
            .await
        {
            Ok(()) => break,
            Err(StoreError::ConditionFailed { index: 0 }) => {
                return Err(Error::ConcurrentModificationException(
                    "The import job was modified by another request. Try again.".into(),
                ))
            }
            Err(StoreError::ConditionFailed { .. }) => {
                attempts += 1;
                if attempts > 1 || !release_stale_lock(svc, imports, &pool.id).await? {
                    return Err(Error::LimitExceededException(
                        "A user import job is already in progress for this user pool.".into(),
                    ));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Err(e) = imports.runner.start(&pool.id, job_id).await {
        tracing::error!(job_id, error = %e, "the import runner could not be started");
        job.status = JobStatus::Failed;
        job.completion_ms = Some(svc.clock.now_millis());
        job.completion_message = Some("The import job could not be started.".into());
        let _ = svc
            .store
            .transact(vec![job_write(&job, version + 1)?, lock_delete(&pool.id)], svc.now_secs())
            .await;
        return Err(e);
    }
    Ok(json!({"UserImportJob": job.to_json(now_ms)}))
}

pub async fn stop_user_import_job(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let job_id = input.req_str("JobId")?;
    // The runner saves progress between steps; retry when it got there first.
    for _ in 0..20 {
        let (mut job, version) = require_job(svc, &pool.id, job_id).await?;
        let now_ms = svc.clock.now_millis();
        let mut writes = vec![];
        match job.shown_status(now_ms) {
            JobStatus::Pending | JobStatus::InProgress => job.status = JobStatus::Stopping,
            JobStatus::Created => {
                job.status = JobStatus::Stopped;
                job.completion_ms = Some(now_ms);
                job.completion_message = Some(STOPPED_MESSAGE.into());
            }
            other => {
                return Err(Error::PreconditionNotMetException(format!(
                    "Import job {job_id} cannot be stopped: its status is {}.",
                    other.as_str()
                )))
            }
        }
        writes.insert(0, job_write(&job, version)?);
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => {
                if job.status == JobStatus::Stopped {
                    if let Ok(imports) = svc.imports() {
                        let _ = imports.files.delete(&pool.id, job_id).await;
                    }
                }
                return Ok(json!({"UserImportJob": job.to_json(now_ms)}));
            }
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::ConcurrentModificationException("The import job is busy. Try again.".into()))
}

/// Frees the pool's active-job lock when its job has ended or stopped responding (that job is
/// marked Failed). `Ok(true)`: the lock is gone.
/// UserImportInProgressException while an import job runs in the pool: DeleteUserPool and
/// UpdateUserPool wait for it, as in Cognito. A job silent past its heartbeat does not count.
pub async fn refuse_while_importing(svc: &Service, pool_id: &str) -> Result<()> {
    if svc.store.get(&jobs_pk(pool_id), ACTIVE_SK, svc.now_secs()).await?.is_none() {
        return Ok(());
    }
    if let Ok(imports) = svc.imports() {
        if release_stale_lock(svc, imports, pool_id).await? {
            return Ok(());
        }
    }
    Err(Error::UserImportInProgressException(
        "A user import job is in progress for this user pool. Stop it or wait for it to finish.".into(),
    ))
}

async fn release_stale_lock(svc: &Service, imports: &Imports, pool_id: &str) -> Result<bool> {
    let now = svc.now_secs();
    let Some(lock) = svc.store.get(&jobs_pk(pool_id), ACTIVE_SK, now).await? else { return Ok(true) };
    let holder = lock.body.get("jobId").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut writes = vec![Write::delete(jobs_pk(pool_id), ACTIVE_SK, Cond::Version(lock.version))];
    if let Some((mut job, v)) = load_job(svc, pool_id, &holder).await? {
        if job.status.is_active() {
            let now_ms = svc.clock.now_millis();
            if now_ms - job.heartbeat_ms.max(job.start_ms.unwrap_or(0)) < STALE_JOB_MS {
                return Ok(false);
            }
            job.status = JobStatus::Failed;
            job.completion_ms = Some(now_ms);
            job.completion_message = Some("The import job stopped responding.".into());
            writes.push(job_write(&job, v)?);
            tracing::warn!(job_id = %holder, "a stalled import job was marked Failed");
            let _ = imports.files.delete(pool_id, &holder).await;
        }
    }
    match svc.store.transact(writes, now).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

const STOPPED_MESSAGE: &str = "The Import Job was stopped by the developer.";
const TOO_MANY_FAILED: &str = "Too many users have failed or been skipped during the import.";
const SUCCEEDED_MESSAGE: &str = "Import Job Completed Successfully.";

/// What a runner does after [`run_job`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The job reached an end state (or was not runnable).
    Done,
    /// The deadline came first: call again (in AWS, the worker re-invokes itself).
    Continue,
}

/// Processes a started job until it ends or `deadline_ms` (epoch ms) passes. Safe to call again
/// for the same job: it resumes from the saved offset.
pub async fn run_job(
    svc: &Service,
    pool_id: &str,
    job_id: &str,
    deadline_ms: Option<i64>,
) -> Result<RunOutcome> {
    let imports = svc.imports()?.clone();
    let Some((mut job, mut version)) = load_job(svc, pool_id, job_id).await? else {
        return Ok(RunOutcome::Done);
    };
    match job.status {
        JobStatus::Pending | JobStatus::InProgress => {}
        JobStatus::Stopping => {
            finish(svc, &imports, &mut job, version, JobStatus::Stopped, STOPPED_MESSAGE).await?;
            return Ok(RunOutcome::Done);
        }
        _ => return Ok(RunOutcome::Done),
    }
    let result = run_steps(svc, &imports, &mut job, &mut version, deadline_ms).await;
    match result {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            tracing::error!(job_id, error = %e, "import job failed");
            // Re-read: the failure may have been a lost race with a stop.
            if let Some((mut fresh, v)) = load_job(svc, pool_id, job_id).await? {
                if fresh.status.is_active() {
                    let (status, msg) = if fresh.status == JobStatus::Stopping {
                        (JobStatus::Stopped, STOPPED_MESSAGE)
                    } else {
                        (JobStatus::Failed, "The import job failed because of an internal error.")
                    };
                    finish(svc, &imports, &mut fresh, v, status, msg).await?;
                }
            }
            Ok(RunOutcome::Done)
        }
    }
}

/// Ends a job: final status and message, lock released, uploaded file deleted.
async fn finish(
    svc: &Service,
    imports: &Imports,
    job: &mut ImportJob,
    version: u64,
    status: JobStatus,
    message: &str,
) -> Result<()> {
    job.status = status;
    job.completion_ms = Some(svc.clock.now_millis());
    job.completion_message = Some(message.to_string());
    svc.store.transact(vec![job_write(job, version)?, lock_delete(&job.pool_id)], svc.now_secs()).await?;
    if let Err(e) = imports.files.delete(&job.pool_id, &job.job_id).await {
        tracing::warn!(job_id = %job.job_id, error = %e, "the uploaded file could not be deleted");
    }
    Ok(())
}

/// Saves progress. `Ok(false)`: someone else changed the job (a stop); it was handled.
async fn save_progress(
    svc: &Service,
    imports: &Imports,
    job: &mut ImportJob,
    version: &mut u64,
) -> Result<bool> {
    job.heartbeat_ms = svc.clock.now_millis();
    match svc.store.transact(vec![job_write(job, *version)?], svc.now_secs()).await {
        Ok(()) => {
            *version += 1;
            Ok(true)
        }
        Err(StoreError::ConditionFailed { .. }) => {
            let Some((fresh, v)) = load_job(svc, &job.pool_id, &job.job_id).await? else { return Ok(false) };
            if fresh.status == JobStatus::Stopping {
                // Keep this runner's counts: the stop changed only the status.
                finish(svc, imports, job, v, JobStatus::Stopped, STOPPED_MESSAGE).await?;
            }
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

async fn run_steps(
    svc: &Service,
    imports: &Imports,
    job: &mut ImportJob,
    version: &mut u64,
    deadline_ms: Option<i64>,
) -> Result<RunOutcome> {
    let pool = match svc.pool(&job.pool_id).await {
        Ok(p) => p,
        Err(Error::ResourceNotFoundException(_)) => {
            finish(svc, imports, job, *version, JobStatus::Failed, "The user pool no longer exists.").await?;
            return Ok(RunOutcome::Done);
        }
        Err(e) => return Err(e),
    };
    if job.status == JobStatus::Pending {
        match check_file(imports, &pool, job).await? {
            Ok(()) => {}
            Err(msg) => {
                finish(svc, imports, job, *version, JobStatus::Failed, msg).await?;
                return Ok(RunOutcome::Done);
            }
        }
        job.status = JobStatus::InProgress;
        if !save_progress(svc, imports, job, version).await? {
            return Ok(RunOutcome::Done);
        }
    }
    let scheme = match job.password_hashing_algorithm.as_deref() {
        Some("BCRYPT") => Some(legacy::Scheme::Bcrypt),
        Some("SCRYPT") => Some(legacy::Scheme::Scrypt),
        Some("ARGON2ID") => Some(legacy::Scheme::Argon2),
        Some("PBKDF2_SHA256") => Some(legacy::Scheme::Pbkdf2Sha256),
        _ => None,
    };
    loop {
        if deadline_ms.is_some_and(|d| svc.clock.now_millis() >= d) {
            return Ok(RunOutcome::Continue);
        }
        let Some((total, bytes)) =
            imports.files.read(&job.pool_id, &job.job_id, job.offset, CHUNK_BYTES).await?
        else {
            finish(svc, imports, job, *version, JobStatus::Failed, "The CSV file is no longer available.")
                .await?;
            return Ok(RunOutcome::Done);
        };
        if job.offset >= total || bytes.is_empty() {
            let (status, msg) = if job.imported == 0 && job.skipped + job.failed > 0 {
                (JobStatus::Failed, TOO_MANY_FAILED)
            } else {
                (JobStatus::Succeeded, SUCCEEDED_MESSAGE)
            };
            finish(svc, imports, job, *version, status, msg).await?;
            return Ok(RunOutcome::Done);
        }
        let at_end = job.offset + bytes.len() as u64 >= total;
        let mut lines = Vec::new();
        let mut consumed = 0usize;
        for line in csv::complete_lines(&bytes, at_end) {
            if lines.len() >= ROWS_PER_STEP {
                break;
            }
            consumed += line.len();
            lines.push(line);
        }
        if lines.is_empty() {
            // A line longer than a whole chunk: far beyond the line limit.
            finish(
                svc,
                imports,
                job,
                *version,
                JobStatus::Failed,
                "The CSV file has a line that is too long.",
            )
            .await?;
            return Ok(RunOutcome::Done);
        }
        let first_line = job.next_line;
        let (counts, log) = import_rows(svc, &pool, job, scheme, first_line, &lines).await?;
        job.imported += counts.0;
        job.skipped += counts.1;
        job.failed += counts.2;
        job.offset += consumed as u64;
        job.next_line += lines.len() as u64;
        if let Err(e) = imports.log.write(&job.pool_id, &job.job_id, &log).await {
            tracing::warn!(job_id = %job.job_id, error = %e, "import log write failed");
        }
        if !save_progress(svc, imports, job, version).await? {
            return Ok(RunOutcome::Done);
        }
    }
}

/// Checks the file before the first row: size, row count, encoding, header. Sets the columns
/// and the offset of the first row. `Err(message)`: the job fails with that message.
async fn check_file(
    imports: &Imports,
    pool: &UserPool,
    job: &mut ImportJob,
) -> Result<std::result::Result<(), &'static str>> {
    let Some((total, head)) = imports.files.read(&job.pool_id, &job.job_id, 0, CHUNK_BYTES).await? else {
        return Ok(Err("No CSV file was uploaded for the import job."));
    };
    if total > MAX_FILE_BYTES {
        return Ok(Err("The CSV file is larger than 100 MB."));
    }
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(Err("The CSV file must be UTF-8 without a byte order mark."));
    }
    let Some(header_line) = csv::complete_lines(&head, total <= CHUNK_BYTES).next() else {
        return Ok(Err("The CSV file has no header."));
    };
    let Ok(text) = std::str::from_utf8(header_line) else {
        return Ok(Err("The CSV header is not valid UTF-8."));
    };
    let columns = csv::split_line(text);
    if let Err(msg) = csv::check_header(&csv_header(pool), &columns) {
        return Ok(Err(msg));
    }
    // Count the rows (every line after the header that is not blank).
    let mut rows: u64 = 0;
    let mut offset = 0u64;
    let mut last_byte = b'\n';
    while offset < total {
        let Some((_, chunk)) = imports.files.read(&job.pool_id, &job.job_id, offset, CHUNK_BYTES).await?
        else {
            return Ok(Err("No CSV file was uploaded for the import job."));
        };
        if chunk.is_empty() {
            break;
        }
        rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        last_byte = chunk.last().copied().unwrap_or(b'\n');
        offset += chunk.len() as u64;
    }
    if last_byte != b'\n' {
        rows += 1;
    }
    if rows.saturating_sub(1) > MAX_ROWS {
        return Ok(Err("The CSV file has more than 500,000 users."));
    }
    job.columns = columns;
    job.offset = header_line.len() as u64;
    job.next_line = 2;
    Ok(Ok(()))
}

/// One parsed row's writes (and the alias kind each claims), ready for a batch.
struct NewUser {
    line: u64,
    writes: Vec<Write>,
    claims: Vec<Option<String>>,
}

type Counts = (u64, u64, u64);

fn log_line(kind: &str, line: u64, reason: &str) -> String {
    format!("[{kind}] Line Number {line} - {reason}")
}

/// Validates and writes a slice of rows. Returns (imported, skipped, failed) and the log lines.
async fn import_rows(
    svc: &Service,
    pool: &UserPool,
    job: &ImportJob,
    scheme: Option<legacy::Scheme>,
    first_line: u64,
    lines: &[&[u8]],
) -> Result<(Counts, Vec<String>)> {
    let mut log = Vec::with_capacity(lines.len());
    let mut counts: Counts = (0, 0, 0);
    let mut batch: Vec<NewUser> = Vec::new();
    let mut batch_keys: HashSet<String> = HashSet::new();
    let mut batch_writes = 0usize;
    let now_ms = svc.clock.now_millis();
    for (i, raw) in lines.iter().enumerate() {
        let line = first_line + i as u64;
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                counts.2 += 1;
                log.push(log_line("FAILED", line, "The line is not valid UTF-8."));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        if text.chars().count() > MAX_LINE_CHARS {
            counts.2 += 1;
            log.push(log_line("FAILED", line, "The line is longer than 16,000 characters."));
            continue;
        }
        let fields = csv::split_line(text);
        let row = match parse_row(pool, &job.columns, &fields, scheme) {
            Ok(r) => r,
            Err(reason) => {
                counts.2 += 1;
                log.push(log_line("FAILED", line, &reason));
                continue;
            }
        };
        let sub = svc.rng.uuid().to_string();
        let mut attributes = row.attributes;
        attributes.insert("sub".into(), sub.clone());
        let username = if pool.username_attributes.is_empty() { row.username.clone() } else { sub.clone() };
        let status =
            if row.password_hash.is_some() { UserStatus::CONFIRMED } else { UserStatus::RESET_REQUIRED };
        let mut user = User::new(username, sub, attributes, status, now_ms);
        user.password_hash = row.password_hash;
        let (writes, claims) = svc.new_user_writes(pool, &user)?;
        let keys: Vec<String> = writes.iter().map(|w| format!("{}\u{0}{}", w.key().0, w.key().1)).collect();
        if keys.iter().any(|k| batch_keys.contains(k)) || batch_writes + writes.len() > MAX_TRANSACTION_WRITES
        {
            flush(svc, pool, std::mem::take(&mut batch), &mut counts, &mut log).await?;
            batch_keys.clear();
            batch_writes = 0;
        }
        batch_keys.extend(keys);
        batch_writes += writes.len();
        batch.push(NewUser { line, writes, claims });
    }
    flush(svc, pool, batch, &mut counts, &mut log).await?;
    log.sort_by_key(|l| {
        l.split("Line Number ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse::<u64>().ok())
    });
    Ok((counts, log))
}

/// Writes a batch in one transaction. A user whose keys already exist is SKIPPED and the rest
/// retried, so one existing user never costs the others.
async fn flush(
    svc: &Service,
    pool: &UserPool,
    mut batch: Vec<NewUser>,
    counts: &mut Counts,
    log: &mut Vec<String>,
) -> Result<()> {
    while !batch.is_empty() {
        let mut writes = Vec::new();
        let mut owner = Vec::new();
        let mut claims = Vec::new();
        for (i, u) in batch.iter().enumerate() {
            owner.extend(std::iter::repeat_n(i, u.writes.len()));
            writes.extend(u.writes.iter().cloned());
            claims.extend(u.claims.iter().cloned());
        }
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => {
                for u in &batch {
                    counts.0 += 1;
                    log.push(log_line("SUCCEEDED", u.line, "The import succeeded."));
                }
                return Ok(());
            }
            Err(StoreError::ConditionFailed { index }) => {
                let Some(&i) = owner.get(index) else {
                    return Err(Error::internal("condition index out of range"));
                };
                let u = batch.remove(i);
                match claims.get(index).cloned().flatten() {
                    // Another user holds this sign-in alias (a verified email or phone, a
                    // preferred_username): the row cannot be imported as it is.
                    Some(kind) if kind != "sub" && !pool.username_attributes.contains(&kind) => {
                        counts.2 += 1;
                        log.push(log_line(
                            "FAILED",
                            u.line,
                            &format!("Another user already has this {kind} as an alias."),
                        ));
                    }
                    _ => {
                        counts.1 += 1;
                        log.push(log_line("SKIPPED", u.line, "The user already exists."));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A row's values, checked.
struct Row {
    username: String,
    attributes: BTreeMap<String, String>,
    password_hash: Option<String>,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `mm/dd/yyyy` → `yyyy-mm-dd` (the OIDC form every other operation stores).
fn birthdate(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.split('/').collect();
    let [m, d, y] = parts.as_slice() else { return None };
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    if !digits(m, 2) || !digits(d, 2) || !digits(y, 4) {
        return None;
    }
    let (mm, dd): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&mm) || !(1..=31).contains(&dd) {
        return None;
    }
    Some(format!("{y}-{m}-{d}"))
}

/// Checks one row against the header and the pool. The error is a reason for the log: it
/// names columns and rules, never values.
fn parse_row(
    pool: &UserPool,
    columns: &[String],
    fields: &[String],
    scheme: Option<legacy::Scheme>,
) -> std::result::Result<Row, String> {
    if fields.len() != columns.len() {
        return Err("The number of fields does not match the header.".into());
    }
    let mut username = String::new();
    let mut mfa = String::new();
    let mut hash = None;
    let mut attributes = BTreeMap::new();
    for (col, value) in columns.iter().zip(fields) {
        match col.as_str() {
            "cognito:username" => username = value.clone(),
            "cognito:mfa_enabled" => mfa = value.clone(),
            PASSWORD_HASH_COLUMN => hash = (!value.is_empty()).then(|| value.clone()),
            name if !value.is_empty() => {
                if value.len() > 2048 {
                    return Err(format!("The value of {name} is longer than 2048 bytes."));
                }
                attributes.insert(name.to_string(), value.clone());
            }
            _ => {}
        }
    }
    if username.is_empty() {
        return Err("The User Record does not set cognito:username.".into());
    }
    if username.chars().count() > 128 || username.chars().any(char::is_whitespace) {
        return Err("cognito:username must be 1 to 128 characters without spaces or tabs.".into());
    }
    let mfa_on = match parse_bool(&mfa) {
        Some(b) => b,
        None => return Err("cognito:mfa_enabled must be true or false.".into()),
    };
    match pool.settings.get("MfaConfiguration").and_then(Value::as_str).unwrap_or("OFF") {
        "ON" if !mfa_on => return Err("cognito:mfa_enabled must be true: the user pool requires MFA.".into()),
        "OFF" if mfa_on => {
            return Err("cognito:mfa_enabled must be false: MFA is off in the user pool.".into())
        }
        _ => {}
    }
    if !pool.username_attributes.is_empty() {
        // Email/phone as username: cognito:username is the email or phone; the internal
        // username is the user's sub, as SignUp makes it.
        let kind = if pool.username_attributes.iter().any(|a| a == "email")
            && crate::attributes::is_email(&username)
        {
            "email"
        } else if pool.username_attributes.iter().any(|a| a == "phone_number")
            && crate::attributes::is_phone(&username)
        {
            "phone_number"
        } else {
            return Err("cognito:username must be an email address or phone number in this user pool.".into());
        };
        match attributes.get(kind) {
            Some(v) if pool.username_key(v) != pool.username_key(&username) => {
                return Err(format!("cognito:username must equal {kind} in this user pool."));
            }
            Some(_) => {}
            None => {
                attributes.insert(kind.to_string(), username.clone());
            }
        }
    } else {
        if pool.alias_attributes.iter().any(|a| a == "email") && crate::attributes::is_email(&username) {
            return Err(
                "cognito:username cannot be of email format, since user pool is configured for email alias."
                    .into(),
            );
        }
        if pool.alias_attributes.iter().any(|a| a == "phone_number") && crate::attributes::is_phone(&username)
        {
            return Err(
                "cognito:username cannot be of phone number format, since user pool is configured for phone_number alias."
                    .into(),
            );
        }
    }
    for v in ["email_verified", "phone_number_verified"] {
        if let Some(value) = attributes.get(v) {
            match parse_bool(value) {
                Some(b) => {
                    attributes.insert(v.to_string(), b.to_string());
                }
                None => return Err(format!("{v} must be true or false.")),
            }
        }
    }
    let verified = |a: &str| attributes.get(&format!("{a}_verified")).map(String::as_str) == Some("true");
    if !pool.auto_verified_attributes.iter().any(|a| verified(a)) {
        return Err(
            "The User Record does not set any of the auto verified attributes to true. (Example: email_verified to true)."
                .into(),
        );
    }
    for a in ["email", "phone_number"] {
        if verified(a) && !attributes.contains_key(a) {
            return Err(format!("{a}_verified is true but {a} is empty."));
        }
    }
    if let Some(e) = attributes.get("email") {
        if !crate::attributes::is_email(e) {
            return Err("Invalid email address format.".into());
        }
    }
    if let Some(p) = attributes.get("phone_number") {
        if !crate::attributes::is_phone(p) {
            return Err("Invalid phone number format.".into());
        }
    }
    if let Some(b) = attributes.get("birthdate") {
        match birthdate(b) {
            Some(iso) => {
                attributes.insert("birthdate".into(), iso);
            }
            None => return Err("birthdate must be mm/dd/yyyy.".into()),
        }
    }
    if let Some(u) = attributes.get("updated_at") {
        if u.parse::<u64>().is_err() {
            return Err("updated_at must be a number of seconds since the epoch.".into());
        }
    }
    for req in &pool.required_attributes {
        if !attributes.contains_key(req) {
            return Err(format!("The required attribute {req} is missing."));
        }
    }
    if let Some(h) = &hash {
        let found = legacy::check(h).map_err(str::to_string)?;
        if scheme.is_some_and(|s| s != found) {
            return Err("The password hash does not use the job's PasswordHashingAlgorithm.".into());
        }
    }
    Ok(Row { username, attributes, password_hash: hash })
}

/// Cognito's CSV dialect: no quotes, `\,` for a comma inside a value, values trimmed.
pub mod csv {
    /// Splits one line (without its newline) into trimmed values; `\,` is a literal comma.
    pub fn split_line(line: &str) -> Vec<String> {
        let line = line.trim_end_matches(['\r', '\n']);
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&',') => {
                    cur.push(',');
                    chars.next();
                }
                ',' => out.push(std::mem::take(&mut cur).trim().to_string()),
                _ => cur.push(c),
            }
        }
        out.push(cur.trim().to_string());
        out
    }

    /// The lines of `buf` that end with `\n` (newline included), and the unterminated tail
    /// when `at_end`.
    pub fn complete_lines(buf: &[u8], at_end: bool) -> impl Iterator<Item = &[u8]> {
        let mut rest = buf;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (line, tail) = rest.split_at(i + 1);
                    rest = tail;
                    Some(line)
                }
                None if at_end => {
                    let line = rest;
                    rest = &[];
                    Some(line)
                }
                None => None,
            }
        })
    }

    /// Every expected column present once, in any order; the only extra column allowed is the
    /// password hash.
    pub fn check_header(expected: &[String], columns: &[String]) -> Result<(), &'static str> {
        let mut seen = std::collections::HashSet::new();
        for c in columns {
            if !seen.insert(c.as_str()) {
                return Err("The CSV header repeats a column.");
            }
            if c != super::PASSWORD_HASH_COLUMN && !expected.iter().any(|e| e == c) {
                return Err("The CSV header has a column that is not an attribute of the user pool.");
            }
        }
        if expected.iter().any(|e| !seen.contains(e.as_str())) {
            return Err("The CSV header does not have every column of GetCSVHeader.");
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn splits_with_backslash_commas_and_trims() {
            assert_eq!(split_line(" a , b\\, c ,,d\r\n"), vec!["a", "b, c", "", "d"]);
            assert_eq!(split_line("\"q\",x"), vec!["\"q\"", "x"], "quotes are data, not RFC 4180");
            assert_eq!(split_line("a\\b,c\\"), vec!["a\\b", "c\\"]);
            assert_eq!(split_line(""), vec![""]);
        }

        #[test]
        fn complete_lines_keep_partial_tail_for_later() {
            let b = b"h1,h2\nr1,r2\nr3";
            let v: Vec<&[u8]> = complete_lines(b, false).collect();
            assert_eq!(v, vec![&b"h1,h2\n"[..], &b"r1,r2\n"[..]]);
            let v: Vec<&[u8]> = complete_lines(b, true).collect();
            assert_eq!(v.len(), 3);
        }

        #[test]
        fn header_rules() {
            let exp: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
            let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            assert!(check_header(&exp, &cols(&["b", "a"])).is_ok());
            assert!(check_header(&exp, &cols(&["b", "a", super::super::PASSWORD_HASH_COLUMN])).is_ok());
            assert!(check_header(&exp, &cols(&["a"])).is_err());
            assert!(check_header(&exp, &cols(&["a", "b", "c"])).is_err());
            assert!(check_header(&exp, &cols(&["a", "b", "a"])).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(auto: &[&str], username_attrs: &[&str]) -> UserPool {
        UserPool {
            id: "us-east-1_abcdefghi".into(),
            name: "p".into(),
            created: 0,
            modified: 0,
            password_policy: Default::default(),
            username_attributes: username_attrs.iter().map(|s| s.to_string()).collect(),
            alias_attributes: vec![],
            auto_verified_attributes: auto.iter().map(|s| s.to_string()).collect(),
            case_sensitive: false,
            required_attributes: vec![],
            custom_schema: vec![json!({"Name": "custom:tier"})],
            settings: Default::default(),
            keys: crate::tokens::PoolKeys { id: key(), access: key() },
        }
    }

    fn key() -> crate::tokens::StoredKey {
        crate::tokens::StoredKey {
            kid: String::new(),
            n: String::new(),
            e: String::new(),
            sealed_private: String::new(),
        }
    }

    fn row(p: &UserPool, values: &[(&str, &str)]) -> std::result::Result<Row, String> {
        let columns = csv_header(p);
        let fields: Vec<String> = columns
            .iter()
            .map(|c| values.iter().find(|(k, _)| k == c).map(|(_, v)| v.to_string()).unwrap_or_default())
            .collect();
        parse_row(p, &columns, &fields, None)
    }

    #[test]
    fn header_is_cognitos_order_with_custom_attributes() {
        let h = csv_header(&pool(&["email"], &[]));
        assert_eq!(h.first().map(String::as_str), Some("name"));
        assert_eq!(&h[h.len() - 3..], &["custom:tier", "cognito:mfa_enabled", "cognito:username"]);
    }

    #[test]
    fn row_rules() {
        let p = pool(&["email"], &[]);
        let ok = [
            ("cognito:username", "jane"),
            ("cognito:mfa_enabled", "FALSE"),
            ("email", "j@example.com"),
            ("email_verified", "TRUE"),
            ("birthdate", "02/01/1985"),
        ];
        let r = row(&p, &ok).unwrap_or_else(|e| unreachable_row(&e));
        assert_eq!(r.attributes.get("birthdate").map(String::as_str), Some("1985-02-01"));
        assert_eq!(r.attributes.get("email_verified").map(String::as_str), Some("true"));
        let without = |k: &str| ok.iter().filter(|(c, _)| *c != k).cloned().collect::<Vec<_>>();
        assert!(row(&p, &without("cognito:username")).is_err_and(|e| e.contains("cognito:username")));
        assert!(row(&p, &without("email_verified")).is_err_and(|e| e.contains("auto verified")));
        assert!(row(&p, &without("cognito:mfa_enabled")).is_err());
        let mut bad_date = ok.to_vec();
        bad_date[4] = ("birthdate", "1985-02-01");
        assert!(row(&p, &bad_date).is_err());
        let phone_only = pool(&["phone_number"], &[]);
        assert!(row(&phone_only, &ok).is_err(), "a phone-only pool needs phone_number_verified");
    }

    #[allow(clippy::panic)]
    fn unreachable_row(e: &str) -> Row {
        panic!("row refused: {e}")
    }

    #[test]
    fn email_username_pools_use_the_email() {
        let p = pool(&["email"], &["email"]);
        let r = row(
            &p,
            &[
                ("cognito:username", "Jane@Example.com"),
                ("cognito:mfa_enabled", "false"),
                ("email_verified", "true"),
            ],
        );
        let r = r.unwrap_or_else(|e| unreachable_row(&e));
        assert_eq!(r.attributes.get("email").map(String::as_str), Some("Jane@Example.com"));
        assert!(row(
            &p,
            &[("cognito:username", "jane"), ("cognito:mfa_enabled", "false"), ("email_verified", "true")]
        )
        .is_err());
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/CognitoImport"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:s3:::bucket"));
    }
}
