//! The job runner: a started job processed in steps until it ends.
//!
//! Each step reads a chunk from the saved byte offset, writes users in store transactions (see
//! `rows.rs`), logs one line per row and saves the offset and counts (version-checked, so a
//! StopUserImportJob in between is seen). A runner that is interrupted resumes from the last saved
//! offset; rows it had already written are then SKIPPED, never duplicated.

use super::csv::{self, csv_header};
use super::job::{job_write, load_job, lock_delete, ImportJob, JobStatus, STALE_JOB_MS, STOPPED_MESSAGE};
use super::rows::import_rows;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::UserPool;
use crate::password::legacy;
use crate::ports::Imports;
use crate::service::Service;
use crate::store::{Cond, StoreError, Write};
use serde_json::Value;

pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;

const MAX_ROWS: u64 = 500_000;

/// Bytes read per step from the uploaded file (a whole line always fits: 16,000 chars ≤ 64 KB).
const CHUNK_BYTES: u64 = 1024 * 1024;

/// Rows processed between two progress saves.
const ROWS_PER_STEP: usize = 200;

/// UserImportInProgressException while an import job runs in the pool: DeleteUserPool and
/// UpdateUserPool wait for it, as in Cognito. A job silent past its heartbeat does not count.
pub(crate) async fn refuse_while_importing(svc: &Service, pool_id: &str) -> Result<()> {
    if svc.store.get(&keys::import_jobs(pool_id), keys::ACTIVE_JOB_SK, svc.now_secs()).await?.is_none() {
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

/// Frees the pool's active-job lock when its job has ended or stopped responding (that job is
/// marked Failed). `Ok(true)`: the lock is gone.
pub(super) async fn release_stale_lock(svc: &Service, imports: &Imports, pool_id: &str) -> Result<bool> {
    let now = svc.now_secs();
    let Some(lock) = svc.store.get(&keys::import_jobs(pool_id), keys::ACTIVE_JOB_SK, now).await? else {
        return Ok(true);
    };
    let holder = lock.body.get("jobId").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut writes =
        vec![Write::delete(keys::import_jobs(pool_id), keys::ACTIVE_JOB_SK, Cond::Version(lock.version))];
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
