//! The import operations: GetCSVHeader, CreateUserImportJob, DescribeUserImportJob,
//! ListUserImportJobs, StartUserImportJob, StopUserImportJob.

use super::csv::csv_header;
use super::job::{job_write, lock_delete, require_job, ImportJob, JobStatus, STOPPED_MESSAGE};
use super::runner::release_stale_lock;
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::keys;
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::{json, Value};

/// The pre-signed upload URL is valid this long.
const UPLOAD_URL_TTL_SECS: i64 = 15 * 60;

/// Import jobs a pool may have.
const MAX_JOBS_PER_POOL: usize = 1000;

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
        let page = svc
            .store
            .query(
                &keys::import_jobs(pool_id),
                keys::IMPORT_JOB_PREFIX,
                after.as_deref(),
                100,
                svc.now_secs(),
            )
            .await?;
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
        let lock = Item::new(keys::import_jobs(&pool.id), keys::ACTIVE_JOB_SK, json!({"jobId": job_id}));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/CognitoImport"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:s3:::bucket"));
    }
}
