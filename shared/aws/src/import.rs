//! User import in AWS: uploads go to a private, KMS-encrypted S3 bucket through pre-signed PUT
//! URLs; started jobs run in the `import-worker` function, invoked asynchronously, which
//! processes until a minute before its timeout and then invokes itself again to go on from the
//! saved offset; per-row results are written to the worker's own log stream (CloudWatch Logs).

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ServerSideEncryption;
use std::time::Duration;
use tessera_core::ports::{ImportFiles, ImportLog, ImportRunner};
use tessera_core::{Error, Result};

/// Object key of a job's file.
fn object_key(pool_id: &str, job_id: &str) -> String {
    format!("imports/{pool_id}/{job_id}.csv")
}

pub struct S3ImportFiles {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

#[async_trait]
impl ImportFiles for S3ImportFiles {
    async fn upload_url(&self, pool_id: &str, job_id: &str, expires_at: i64) -> Result<String> {
        let now = tessera_core::ports::Clock::now_secs(&tessera_core::ports::SystemClock);
        let secs = u64::try_from(expires_at - now).unwrap_or(0).max(1);
        let config = PresigningConfig::expires_in(Duration::from_secs(secs)).map_err(Error::internal)?;
        // SSE-KMS is part of the signature: the upload must send
        // `x-amz-server-side-encryption: aws:kms`, exactly as Cognito's guide does.
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key(pool_id, job_id))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .presigned(config)
            .await
            .map_err(Error::internal)?;
        Ok(req.uri().to_string())
    }

    async fn read(
        &self,
        pool_id: &str,
        job_id: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<(u64, Vec<u8>)>> {
        let key = object_key(pool_id, job_id);
        let head = match self.client.head_object().bucket(&self.bucket).key(&key).send().await {
            Ok(h) => h,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(Error::internal(aws_sdk_s3::error::DisplayErrorContext(e))),
        };
        let total = u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0);
        if offset >= total || len == 0 {
            return Ok(Some((total, vec![])));
        }
        let last = (offset + len).min(total) - 1;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await
            .map_err(|e| Error::internal(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let bytes = out.body.collect().await.map_err(Error::internal)?.into_bytes().to_vec();
        Ok(Some((total, bytes)))
    }

    async fn delete(&self, pool_id: &str, job_id: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(object_key(pool_id, job_id))
            .send()
            .await
            .map_err(|e| Error::internal(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

/// Hands a job to the worker function with an asynchronous (`Event`) invocation.
pub struct LambdaImportRunner {
    pub client: aws_sdk_lambda::Client,
    pub function: String,
}

#[async_trait]
impl ImportRunner for LambdaImportRunner {
    async fn start(&self, pool_id: &str, job_id: &str) -> Result<()> {
        let payload = serde_json::json!({"poolId": pool_id, "jobId": job_id}).to_string();
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| Error::internal(aws_sdk_lambda::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

/// Per-row results as log events of the worker (its CloudWatch Logs stream). The lines hold
/// line numbers and reasons only.
pub struct TracingImportLog;

#[async_trait]
impl ImportLog for TracingImportLog {
    async fn write(&self, pool_id: &str, job_id: &str, lines: &[String]) -> Result<()> {
        for line in lines {
            tracing::info!(target: "tessera::import", pool_id, job_id, "{line}");
        }
        Ok(())
    }
}
