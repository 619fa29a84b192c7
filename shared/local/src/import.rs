//! User import on the local server: uploads land under `<data-dir>/imports/<poolId>/<jobId>.csv`
//! through a signed `PUT /_import/<poolId>/<jobId>?expires=…&signature=…` URL; started jobs run
//! as tokio tasks in this process; per-row results go to
//! `<data-dir>/import-logs/<poolId>/<jobId>.log`.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use tessera_core::ports::{Clock, ImportFiles, ImportLog, ImportRunner, Imports};
use tessera_core::user_pool::import::{run_job, RunOutcome, MAX_FILE_BYTES};
use tessera_core::{Error, Result, Service};

type HmacSha256 = Hmac<Sha256>;

/// Files and signed upload URLs.
pub struct LocalImportFiles {
    dir: PathBuf,
    base_url: String,
    /// Signs upload URLs; derived from the master key so URLs survive a restart.
    key: Vec<u8>,
    clock: Arc<dyn Clock>,
}

/// Pool and job ids are checked before they become path components.
fn safe_component(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl LocalImportFiles {
    pub fn new(data_dir: &Path, base_url: &str, master_key: &[u8], clock: Arc<dyn Clock>) -> Result<Self> {
        let mut mac = HmacSha256::new_from_slice(master_key).map_err(Error::internal)?;
        mac.update(b"tessera local import upload URLs");
        Ok(LocalImportFiles {
            dir: data_dir.join("imports"),
            base_url: base_url.trim_end_matches('/').to_string(),
            key: mac.finalize().into_bytes().to_vec(),
            clock,
        })
    }

    fn path(&self, pool_id: &str, job_id: &str) -> Result<PathBuf> {
        if !safe_component(pool_id) || !safe_component(job_id) {
            return Err(Error::internal("unsafe import file name"));
        }
        Ok(self.dir.join(pool_id).join(format!("{job_id}.csv")))
    }

    fn mac(&self, pool_id: &str, job_id: &str, expires: i64) -> Result<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(Error::internal)?;
        mac.update(format!("PUT\n{pool_id}\n{job_id}\n{expires}").as_bytes());
        Ok(mac)
    }

    /// Serves `PUT /_import/<poolId>/<jobId>?expires=…&signature=…`: checks the signature (in
    /// constant time) and expiry, then stores the body. Returns (status, S3-style error code).
    pub async fn accept_upload(
        &self,
        path: &str,
        query: &str,
        headers: &http::HeaderMap,
        body: axum::body::Body,
    ) -> (u16, &'static str) {
        let Some((pool_id, job_id)) = path.strip_prefix("/_import/").and_then(|r| r.split_once('/')) else {
            return (404, "NoSuchKey");
        };
        let param = |name: &str| {
            query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
        };
        let (Some(expires), Some(signature)) = (param("expires"), param("signature")) else {
            return (403, "AccessDenied");
        };
        let Ok(expires) = expires.parse::<i64>() else { return (403, "AccessDenied") };
        let Ok(signature) = hex::decode(signature) else { return (403, "SignatureDoesNotMatch") };
        let Ok(mac) = self.mac(pool_id, job_id, expires) else { return (500, "InternalError") };
        if mac.verify_slice(&signature).is_err() {
            return (403, "SignatureDoesNotMatch");
        }
        if self.clock.now_secs() >= expires {
            return (403, "AccessDenied");
        }
        if let Some(sse) = headers.get("x-amz-server-side-encryption") {
            if !matches!(sse.to_str(), Ok("aws:kms") | Ok("AES256")) {
                return (400, "InvalidArgument");
            }
        }
        let Ok(target) = self.path(pool_id, job_id) else { return (404, "NoSuchKey") };
        let limit = usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX);
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return (400, "EntityTooLarge");
        };
        match write_atomically(&target, &bytes).await {
            Ok(()) => (200, ""),
            Err(e) => {
                tracing::error!(error = %e, "import upload could not be stored");
                (500, "InternalError")
            }
        }
    }
}

async fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = target.with_extension("csv.part");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, target).await
}

#[async_trait]
impl ImportFiles for LocalImportFiles {
    async fn upload_url(&self, pool_id: &str, job_id: &str, expires_at: i64) -> Result<String> {
        self.path(pool_id, job_id)?;
        let sig = hex::encode(self.mac(pool_id, job_id, expires_at)?.finalize().into_bytes());
        Ok(format!("{}/_import/{pool_id}/{job_id}?expires={expires_at}&signature={sig}", self.base_url))
    }

    async fn read(
        &self,
        pool_id: &str,
        job_id: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<(u64, Vec<u8>)>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = self.path(pool_id, job_id)?;
        let mut f = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::internal(e)),
        };
        let total = f.metadata().await.map_err(Error::internal)?.len();
        f.seek(std::io::SeekFrom::Start(offset)).await.map_err(Error::internal)?;
        let mut buf = Vec::new();
        f.take(len).read_to_end(&mut buf).await.map_err(Error::internal)?;
        Ok(Some((total, buf)))
    }

    async fn delete(&self, pool_id: &str, job_id: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(pool_id, job_id)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::internal(e)),
        }
    }
}

/// Runs jobs as tasks of this process. Holds the service weakly (the service holds it).
pub struct LocalImportRunner {
    svc: Weak<Service>,
}

#[async_trait]
impl ImportRunner for LocalImportRunner {
    async fn start(&self, pool_id: &str, job_id: &str) -> Result<()> {
        let svc = self.svc.clone();
        let (pool_id, job_id) = (pool_id.to_string(), job_id.to_string());
        tokio::spawn(async move {
            while let Some(svc) = svc.upgrade() {
                match run_job(&svc, &pool_id, &job_id, None).await {
                    Ok(RunOutcome::Continue) => continue,
                    Ok(RunOutcome::Done) => break,
                    Err(e) => {
                        tracing::error!(job_id, error = %e, "import job runner stopped");
                        break;
                    }
                }
            }
        });
        Ok(())
    }
}

/// Appends per-row results to `<data-dir>/import-logs/<poolId>/<jobId>.log`.
pub struct LocalImportLog {
    dir: PathBuf,
}

#[async_trait]
impl ImportLog for LocalImportLog {
    async fn write(&self, pool_id: &str, job_id: &str, lines: &[String]) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        if lines.is_empty() {
            return Ok(());
        }
        if !safe_component(pool_id) || !safe_component(job_id) {
            return Err(Error::internal("unsafe import log name"));
        }
        let dir = self.dir.join(pool_id);
        tokio::fs::create_dir_all(&dir).await.map_err(Error::internal)?;
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{job_id}.log")))
            .await
            .map_err(Error::internal)?;
        let mut text = lines.join("\n");
        text.push('\n');
        f.write_all(text.as_bytes()).await.map_err(Error::internal)
    }
}

/// Wires the three local import ports onto a shared service.
pub fn enable(
    service: &Arc<Service>,
    data_dir: &Path,
    base_url: &str,
    master_key: &[u8],
    clock: Arc<dyn Clock>,
) -> Result<Arc<LocalImportFiles>> {
    let files = Arc::new(LocalImportFiles::new(data_dir, base_url, master_key, clock)?);
    service.set_imports(Imports {
        files: files.clone(),
        runner: Arc::new(LocalImportRunner { svc: Arc::downgrade(service) }),
        log: Arc::new(LocalImportLog { dir: data_dir.join("import-logs") }),
    });
    Ok(files)
}
