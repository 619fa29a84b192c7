//! `tessera export` / `tessera restore` on files: the archive's lines (tessera_core::backup)
//! gzip-compressed, inside age encryption to X25519 recipients or a passphrase. An archive
//! without encryption is written and read only when asked for by name (`--unencrypted`), so
//! a plain file cannot be slipped in where an encrypted one is expected.

use age::secrecy::SecretString;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_core::backup::{self, ArchiveSink, RestoreOptions, RestoreReport, Restorer, Scope};
use tessera_core::ports::{AesGcmCipher, Messenger, OutgoingMessage, SystemClock, SystemRng};
use tessera_core::store::Store;
use tessera_core::{Service, ServiceConfig};

/// The first bytes of every age file.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
/// The longest line restore reads (DynamoDB items are at most 400 KB, opened secrets and
/// base64 included this is far above any real one).
const MAX_LINE: usize = 4 << 20;

/// How an archive is (to be) encrypted.
pub enum Protection {
    /// age X25519 recipients (`age1…`) to encrypt to; identities (`AGE-SECRET-KEY-1…`) to
    /// decrypt with.
    Keys(Vec<String>),
    /// age's scrypt passphrase mode.
    Passphrase(String),
    /// No encryption: only with `--unencrypted`.
    None,
}

/// A service over `store` for the export and restore commands: no messages, triggers or
/// providers, only the store and the master key.
pub fn service(store: Arc<dyn Store>, master_key: &[u8]) -> Result<Arc<Service>, String> {
    service_with(store, AesGcmCipher::new(master_key).map_err(|e| e.message().to_string())?)
}

/// [`service`] with a cipher of its own (a master-key ring).
pub fn service_with(store: Arc<dyn Store>, cipher: AesGcmCipher) -> Result<Arc<Service>, String> {
    Ok(Arc::new(Service::new(
        store,
        Arc::new(NoMessages),
        Arc::new(SystemClock),
        Arc::new(SystemRng),
        Arc::new(cipher),
        ServiceConfig::default(),
    )))
}

struct NoMessages;

#[async_trait::async_trait]
impl Messenger for NoMessages {
    async fn send(&self, _from: Option<&str>, _msg: &OutgoingMessage) -> tessera_core::Result<()> {
        Err(tessera_core::Error::internal("export and restore send no messages"))
    }
}

struct Lines<W: Write>(W);

impl<W: Write> ArchiveSink for Lines<W> {
    fn line(&mut self, line: &[u8]) -> tessera_core::Result<()> {
        self.0.write_all(line).and_then(|()| self.0.write_all(b"\n")).map_err(tessera_core::Error::internal)
    }
}

/// Writes the archive of `scope` to `path` (through a temporary file beside it, renamed at
/// the end: a failed export leaves no archive). Returns the number of items.
pub async fn export_file(
    svc: &Service,
    scope: &Scope,
    path: &Path,
    protection: &Protection,
) -> Result<u64, String> {
    let partial = partial_path(path);
    let result = export_to(svc, scope, &partial, protection).await;
    match result {
        Ok(items) => {
            std::fs::rename(&partial, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(items)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

async fn export_to(
    svc: &Service,
    scope: &Scope,
    path: &Path,
    protection: &Protection,
) -> Result<u64, String> {
    let file = create_private(path)?;
    let out = BufWriter::with_capacity(1 << 16, file);
    let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let fail = |e: tessera_core::Error| e.message().to_string();
    let level = flate2::Compression::fast();
    let end = match encryptor(protection)? {
        Some(encryptor) => {
            let age = encryptor.wrap_output(out).map_err(io)?;
            let mut sink = Lines(flate2::write::GzEncoder::new(age, level));
            let end = backup::export(svc, scope, &mut sink).await.map_err(fail)?;
            sink.0.finish().map_err(io)?.finish().map_err(io)?.flush().map_err(io)?;
            end
        }
        None => {
            let mut sink = Lines(flate2::write::GzEncoder::new(out, level));
            let end = backup::export(svc, scope, &mut sink).await.map_err(fail)?;
            sink.0.finish().map_err(io)?.flush().map_err(io)?;
            end
        }
    };
    Ok(end.items)
}

fn create_private(path: &Path) -> Result<std::fs::File, String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| format!("cannot create {}: {}", path.display(), crate::startup::io_reason(&e)))
}

fn encryptor(protection: &Protection) -> Result<Option<age::Encryptor>, String> {
    match protection {
        Protection::None => Ok(None),
        Protection::Passphrase(p) => {
            Ok(Some(age::Encryptor::with_user_passphrase(SecretString::from(p.clone()))))
        }
        Protection::Keys(recipients) => {
            if recipients.is_empty() {
                return Err("name at least one recipient (--recipient age1…)".into());
            }
            let parsed = recipients
                .iter()
                .map(|r| {
                    r.parse::<age::x25519::Recipient>()
                        .map_err(|e| format!("{r} is not an age recipient: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let encryptor = age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| format!("cannot encrypt to those recipients: {e}"))?;
            Ok(Some(encryptor))
        }
    }
}

/// Restores the archive at `path`: a first pass checks it whole (and the store for
/// conflicts) without writing; the second writes. See `tessera_core::backup::restore`.
pub async fn restore_file(
    svc: &Service,
    path: &Path,
    protection: &Protection,
    opts: RestoreOptions,
) -> Result<RestoreReport, String> {
    let fail = |e: tessera_core::Error| e.message().to_string();
    let mut restorer = Restorer::new(svc, opts);
    let mut lines = open_lines(path, protection)?;
    while let Some(line) = next_line(&mut lines, path)? {
        restorer.check(&line).await.map_err(fail)?;
    }
    restorer.checked().await.map_err(fail)?;
    let mut lines = open_lines(path, protection)?;
    while let Some(line) = next_line(&mut lines, path)? {
        restorer.apply(&line).await.map_err(fail)?;
    }
    restorer.finish().await.map_err(fail)
}

fn next_line(reader: &mut dyn BufRead, path: &Path) -> Result<Option<Vec<u8>>, String> {
    let mut line = Vec::new();
    let n = reader.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).map_err(|e| {
        format!("cannot read {}: {e} (damaged, or not encrypted to this key)", path.display())
    })?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            format!("cannot read {}: a line is longer than {MAX_LINE} bytes", path.display())
        } else {
            format!("cannot read {}: it ends in the middle of a line (cut short)", path.display())
        });
    }
    line.pop();
    Ok(Some(line))
}

fn open_lines(path: &Path, protection: &Protection) -> Result<Box<dyn BufRead>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open {}: {}", path.display(), crate::startup::io_reason(&e)))?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let head = input.fill_buf().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plain: Box<dyn Read> = if head.starts_with(AGE_MAGIC) {
        let decryptor = age::Decryptor::new_buffered(input)
            .map_err(|e| format!("{} is not a readable age file: {e}", path.display()))?;
        let reader = match protection {
            Protection::None => {
                return Err(format!(
                    "{} is encrypted: pass --identity with the key it was encrypted to, or set \
                     TESSERA_ARCHIVE_PASSPHRASE",
                    path.display()
                ))
            }
            Protection::Passphrase(p) => {
                let identity = age::scrypt::Identity::new(SecretString::from(p.clone()));
                decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
            }
            Protection::Keys(keys) => {
                let identities = keys
                    .iter()
                    .map(|k| {
                        k.parse::<age::x25519::Identity>().map_err(|e| format!("not an age identity: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity))
            }
        };
        Box::new(reader.map_err(|e| format!("cannot decrypt {}: {e}", path.display()))?)
    } else if head.starts_with(GZIP_MAGIC) {
        if !matches!(protection, Protection::None) {
            return Err(format!(
                "{} is not encrypted; restore reads an unencrypted archive only with --unencrypted",
                path.display()
            ));
        }
        Box::new(input)
    } else {
        return Err(format!("{} is not a Tessera archive (neither age-encrypted nor gzip)", path.display()));
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, flate2::read::GzDecoder::new(plain))))
}

/// The identities (`AGE-SECRET-KEY-1…` lines) of an identity file, as age-keygen writes them.
pub fn read_identities(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read the identity file {}: {}", path.display(), crate::startup::io_reason(&e))
    })?;
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        return Err(format!("the identity file {} holds no identity", path.display()));
    }
    Ok(keys)
}

/// A new X25519 identity: (the identity file's text, the recipient to encrypt to).
pub fn new_identity() -> (String, String) {
    use age::secrecy::ExposeSecret as _;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# created: by tessera archive-keygen\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (text, recipient)
}

/// Writes a new identity file (mode 0600, never over an existing file); returns the recipient.
pub fn write_new_identity(path: &Path) -> Result<String, String> {
    let (text, recipient) = new_identity();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {}", path.display(), crate::startup::io_reason(&e)))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(recipient)
}

/// The archive's header (its first line), to plan a restore's new ids.
pub fn read_header(path: &Path, protection: &Protection) -> Result<backup::Header, String> {
    let mut lines = open_lines(path, protection)?;
    let first = next_line(&mut lines, path)?.ok_or_else(|| format!("{} is empty", path.display()))?;
    match serde_json::from_slice(&first) {
        Ok(backup::Line::Header(h)) => Ok(h),
        _ => Err(format!("{} does not begin with a Tessera archive header", path.display())),
    }
}
