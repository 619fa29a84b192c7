//! An import job as stored, and its lock.
//!
//! A job lives in one item (`IMPORTJOBS#{pool}` / `JOB#{jobId}`); the pool's active job holds the
//! lock item `IMPORTJOBS#{pool}` / `ACTIVE`, written with the job's start and removed with its
//! end, so at most one job per pool runs.

use crate::error::{Error, Result};
use crate::keys;
use crate::service::Service;
use crate::store::{Cond, Item, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A job not started within this long is Expired.
const JOB_EXPIRY_MS: i64 = 24 * 3600 * 1000;

/// A running job that saved no progress for this long is taken to have died (its runner
/// crashed, the local server stopped): the next StartUserImportJob marks it Failed.
pub(super) const STALE_JOB_MS: i64 = 20 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum JobStatus {
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

    pub(super) fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::InProgress | JobStatus::Stopping)
    }
}

/// A stored import job: the `UserImportJobType` members plus the runner's progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ImportJob {
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
    pub(super) fn shown_status(&self, now_ms: i64) -> JobStatus {
        if self.status == JobStatus::Created && now_ms >= self.created_ms + JOB_EXPIRY_MS {
            JobStatus::Expired
        } else {
            self.status
        }
    }

    pub(super) fn to_json(&self, now_ms: i64) -> Value {
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

fn job_not_found(job_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("Import job {job_id} does not exist."))
}

pub(super) async fn load_job(svc: &Service, pool_id: &str, job_id: &str) -> Result<Option<(ImportJob, u64)>> {
    svc.get_json::<ImportJob>(&keys::import_jobs(pool_id), &keys::import_job_sk(job_id)).await
}

pub(super) async fn require_job(svc: &Service, pool_id: &str, job_id: &str) -> Result<(ImportJob, u64)> {
    load_job(svc, pool_id, job_id).await?.ok_or_else(|| job_not_found(job_id))
}

pub(super) fn job_write(job: &ImportJob, version: u64) -> Result<Write> {
    let mut item = Item::new(
        keys::import_jobs(&job.pool_id),
        keys::import_job_sk(&job.job_id),
        serde_json::to_value(job).map_err(Error::internal)?,
    );
    item.version = version + 1;
    Ok(Write::put(item, if version == 0 { Cond::NotExists } else { Cond::Version(version) }))
}

pub(super) fn lock_delete(pool_id: &str) -> Write {
    Write::delete(keys::import_jobs(pool_id), keys::ACTIVE_JOB_SK, Cond::None)
}

pub(super) const STOPPED_MESSAGE: &str = "The Import Job was stopped by the developer.";
