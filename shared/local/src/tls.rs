//! `tessera serve --tls`: HTTPS on the server's own port, beside plain HTTP (a connection whose
//! first byte opens a TLS handshake is served over TLS). Amplify and other browser clients build
//! `https://{domain}/oauth2/…` themselves, so the auth domains need HTTPS; the SDKs keep
//! calling `http://`.
//!
//! The certificate is the operator's (`--tls-cert`/`--tls-key`, e.g. from mkcert) or one made
//! here for `localhost`, `*.auth.localhost`, `*.localhost`, 127.0.0.1 and ::1: self-signed,
//! valid 397 days (the longest browsers accept), renewed a month before it ends. Its public
//! certificate is written to `<data-dir>/tls/localhost.pem` (to trust it, or to give a client
//! as its CA); its private key is stored sealed with the master key, like every other secret
//! in the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tessera_core::ports::SecretCipher;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names the generated certificate covers.
pub const LOCAL_NAMES: &[&str] = &["localhost", "*.auth.localhost", "*.localhost", "127.0.0.1", "::1"];
/// What the generated certificate's key is sealed for (the cipher's purpose label).
const SEAL_PURPOSE: &str = "local-tls-key";
const VALID_DAYS: i64 = 397;
/// A generated certificate this close to its end is replaced at start.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Where the certificate comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The operator's certificate chain and private key (PEM); None: a generated one.
    pub cert_and_key: Option<(PathBuf, PathBuf)>,
}

/// A ready TLS configuration and the certificate file a client can trust.
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub cert_file: PathBuf,
}

/// Loads the operator's certificate or makes (or reuses) the local one; `now` in Unix seconds.
pub fn prepare(
    settings: &TlsSettings,
    data_dir: &Path,
    cipher: &dyn SecretCipher,
    now: i64,
) -> Result<Tls, String> {
    let (chain, key, cert_file) = match &settings.cert_and_key {
        Some((cert, key)) => {
            let (chain, key) = read_pem(cert, key)?;
            (chain, key, cert.clone())
        }
        None => {
            let (chain, key) = local_certificate(data_dir, cipher, now)?;
            (chain, key, local_cert_file(data_dir))
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("cannot serve TLS with the certificate {}: {e}", cert_file.display()))?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), cert_file })
}

fn read_pem(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {}", cert.display(), pem_reason(e)))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate (BEGIN CERTIFICATE)", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "cannot read the private key {}: {} (PEM: PKCS#8, PKCS#1 or SEC1)",
            key.display(),
            pem_reason(e)
        )
    })?;
    Ok((chain, key))
}

/// A PEM error in plain words (no Debug dump of an I/O error).
fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => crate::startup::io_reason(&e),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of that kind in it".into(),
        other => format!("not valid PEM ({other})"),
    }
}

fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

pub fn local_cert_file(data_dir: &Path) -> PathBuf {
    tls_dir(data_dir).join("localhost.pem")
}

fn local_key_file(data_dir: &Path) -> PathBuf {
    tls_dir(data_dir).join("localhost.key.sealed")
}

/// The generated certificate: the stored one while it is good for more than a month and its
/// key opens with this master key, else a new one.
fn local_certificate(
    data_dir: &Path,
    cipher: &dyn SecretCipher,
    now: i64,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let (cert_file, key_file) = (local_cert_file(data_dir), local_key_file(data_dir));
    if let Some(found) = stored(&cert_file, &key_file, cipher, now) {
        return Ok(found);
    }
    let (cert_pem, key_der) = generate(now)?;
    let sealed = cipher.seal(SEAL_PURPOSE, &key_der).map_err(|e| e.message().to_string())?;
    let cannot_write = |path: &Path, e: std::io::Error| {
        format!("cannot write {}: {}", path.display(), crate::startup::io_reason(&e))
    };
    std::fs::create_dir_all(tls_dir(data_dir)).map_err(|e| cannot_write(&tls_dir(data_dir), e))?;
    std::fs::write(&key_file, &sealed).map_err(|e| cannot_write(&key_file, e))?;
    std::fs::write(&cert_file, &cert_pem).map_err(|e| cannot_write(&cert_file, e))?;
    tracing::info!(certificate = %cert_file.display(), "made a local TLS certificate");
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the generated certificate does not parse: {e}"))?;
    Ok((chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der))))
}

fn stored(
    cert_file: &Path,
    key_file: &Path,
    cipher: &dyn SecretCipher,
    now: i64,
) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let made = std::fs::metadata(cert_file).and_then(|m| m.modified()).ok()?;
    let made = i64::try_from(made.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    let ends = made + (VALID_DAYS - 1) * 24 * 3600;
    if now < made || now + RENEW_BEFORE.as_secs() as i64 >= ends {
        return None;
    }
    let chain = CertificateDer::pem_file_iter(cert_file).ok()?.collect::<Result<Vec<_>, _>>().ok()?;
    let key = cipher.open_untrusted(SEAL_PURPOSE, &std::fs::read(key_file).ok()?)?;
    (!chain.is_empty()).then(|| (chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key))))
}

/// A self-signed ECDSA P-256 certificate for [`LOCAL_NAMES`]: (PEM certificate, PKCS#8 key).
fn generate(now: i64) -> Result<(String, Vec<u8>), String> {
    let fail = |e: rcgen::Error| format!("cannot make a local TLS certificate: {e}");
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let names: Vec<String> = LOCAL_NAMES.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(fail)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "Tessera local server");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Tessera (local development)");
    let now = time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| format!("bad clock: {e}"))?;
    // A day back: clocks of clients on the same machine may lag a little.
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALID_DAYS - 1);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert.pem(), key.serialize_der()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::ports::AesGcmCipher;

    fn now() -> i64 {
        tessera_core::ports::Clock::now_secs(&tessera_core::ports::SystemClock)
    }

    fn cipher(byte: u8) -> AesGcmCipher {
        AesGcmCipher::new(&[byte; 32]).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn the_local_certificate_is_made_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("tessera-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = prepare(&TlsSettings::default(), &dir, &cipher(1), now()).map(|t| t.cert_file);
        assert_eq!(first.as_deref().ok(), Some(local_cert_file(&dir).as_path()));
        let pem = std::fs::read_to_string(local_cert_file(&dir)).unwrap_or_default();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        // The private key is never stored in the clear.
        let sealed = std::fs::read(local_key_file(&dir)).unwrap_or_default();
        assert!(!sealed.windows(11).any(|w| w == b"PRIVATE KEY"));
        assert!(prepare(&TlsSettings::default(), &dir, &cipher(1), now()).is_ok());
        assert_eq!(std::fs::read_to_string(local_cert_file(&dir)).unwrap_or_default(), pem, "reused");
        // Another master key cannot open the stored key: a new certificate replaces it.
        assert!(prepare(&TlsSettings::default(), &dir, &cipher(2), now()).is_ok());
        assert_ne!(std::fs::read_to_string(local_cert_file(&dir)).unwrap_or_default(), pem);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_operator_certificate_that_is_not_pem_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("tessera-tls-bad-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let _ = std::fs::write(&cert, "not a certificate");
        let _ = std::fs::write(&key, "not a key");
        let settings = TlsSettings { cert_and_key: Some((cert.clone(), key)) };
        let err = prepare(&settings, &dir, &cipher(1), now()).err().unwrap_or_default();
        assert!(err.contains(&cert.display().to_string()) && err.contains("no PEM certificate"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
