//! The small traits through which the domain talks to the world.

use crate::error::Result;
use async_trait::async_trait;

/// Wall-clock time, injected so tests can fix it.
pub trait Clock: Send + Sync {
    fn now_millis(&self) -> i64;
    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// Randomness, injected so tests can seed it.
pub trait Rng: Send + Sync {
    fn fill(&self, buf: &mut [u8]);

    fn bytes(&self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }

    fn uuid(&self) -> uuid::Uuid {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    /// A string of `n` characters drawn uniformly from `alphabet` (rejection sampling, no bias).
    fn string_from(&self, alphabet: &[u8], n: usize) -> String {
        let limit = 256 - (256 % alphabet.len());
        let mut out = String::with_capacity(n);
        while out.len() < n {
            let mut b = [0u8; 32];
            self.fill(&mut b);
            for &x in &b {
                if (x as usize) < limit && out.len() < n {
                    out.push(alphabet[x as usize % alphabet.len()] as char);
                }
            }
        }
        out
    }
}

/// The operating system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        d.as_millis() as i64
    }
}

/// The operating system's CSPRNG.
pub struct SystemRng;

impl Rng for SystemRng {
    fn fill(&self, buf: &mut [u8]) {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

/// A message to deliver: a verification code, an invitation…
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingMessage {
    pub pool_id: String,
    pub username: String,
    /// "EMAIL" or "SMS".
    pub channel: String,
    pub destination: String,
    pub subject: Option<String>,
    pub body: String,
    /// The code the message carries, for the local outbox only.
    pub code: Option<String>,
    pub sent_at: i64,
}

/// Delivers email and SMS (SES/SNS in AWS, the outbox locally).
#[async_trait]
pub trait Messenger: Send + Sync {
    /// `from` is the pool's sender address for email (None: the deployment default).
    async fn send(&self, from: Option<&str>, msg: &OutgoingMessage) -> Result<()>;
}

/// What a sealed value is, bound into its authentication tag: a value sealed for one purpose
/// does not open as another (a TOTP secret copied over an SRP verifier, a session secret
/// handed back as a Sync token).
pub mod sealed {
    pub const SRP_VERIFIER: &str = "srp-verifier";
    pub const SRP_SESSION_SECRET: &str = "srp-session-secret";
    pub const DEVICE_VERIFIER: &str = "device-verifier";
    pub const TOTP_SECRET: &str = "totp-secret";
    pub const SIGNING_KEY: &str = "signing-key";
    pub const IDENTITY_CREDENTIALS: &str = "identity-credentials";
    pub const SYNC_TOKEN: &str = "sync-token";
}

/// Encrypts secrets at rest (SRP verifiers, signing keys) with a key kept outside the store.
/// `purpose` is one of [`sealed`]'s names.
pub trait SecretCipher: Send + Sync {
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>>;
    /// Opens a stored secret: a failure is a server fault (a wrong master key), logged as one.
    fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>>;
    /// HMAC-SHA256 of `data` under a key derived from the master key for `purpose`. For stored
    /// hashes of guessable secrets (six-digit codes): without the master key, a copy of the
    /// table cannot test the 10^6 candidates against them.
    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32]>;
    /// [`SecretCipher::keyed_hash`] under every key of the ring, current first: a code hashed
    /// before a master-key rotation still matches one of them.
    fn keyed_hashes(&self, purpose: &str, data: &[u8]) -> Result<Vec<[u8; 32]>> {
        Ok(vec![self.keyed_hash(purpose, data)?])
    }
    /// Opens a sealed value a caller handed back (a pagination or session token): `None` when
    /// it does not open, which is the caller's bad input and not logged as a server error.
    /// The default is `open`, for ciphers that cannot open anything (no master key: a fault).
    fn open_untrusted(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open(purpose, sealed).ok()
    }
}

/// The first byte of a sealed value in the current format: `[SEALED_V1, key version, nonce
/// (12), ciphertext + tag]`, the tag covering `tessera:{purpose}:k{key version}`. The key
/// version names the data key, so a rotated key can be told from the old one. Values sealed
/// before this format (`nonce, ciphertext + tag`, no associated data) still open.
const SEALED_V1: u8 = 0xA5;

/// AES-256-GCM with 32-byte keys: a local key file, or KMS data keys in AWS. It holds a key
/// ring: the current key seals, every key of the ring opens what it sealed (told by the version
/// byte of the sealed value), so a master key can rotate while older values are re-sealed.
pub struct AesGcmCipher {
    /// By version.
    keys: Vec<RingKey>,
    /// Which of them seals (the newest, unless a staged newer key only opens yet).
    sealing: usize,
}

struct RingKey {
    version: u8,
    key: aws_lc_rs::aead::LessSafeKey,
    /// The root of the keyed hashes: HMAC(master key, a fixed label), never the AES key itself.
    hash_root: aws_lc_rs::hmac::Key,
}

impl RingKey {
    fn new(version: u8, key: &[u8]) -> Result<Self> {
        let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key)
            .map_err(|_| crate::Error::internal("the master key must be 32 bytes"))?;
        let label = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        let root = aws_lc_rs::hmac::sign(&label, b"tessera keyed-hash root v1");
        Ok(RingKey {
            version,
            key: aws_lc_rs::aead::LessSafeKey::new(unbound),
            hash_root: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, root.as_ref()),
        })
    }

    fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, &'static str> {
        if sealed.len() < 12 + 16 {
            return Err("sealed secret too short");
        }
        let (nonce, body) = sealed.split_at(12);
        let mut nonce_arr = [0u8; 12];
        nonce_arr.copy_from_slice(nonce);
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce_arr),
                aws_lc_rs::aead::Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| "secret could not be decrypted: wrong master key?")?;
        Ok(plain.to_vec())
    }

    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let derived = aws_lc_rs::hmac::sign(&self.hash_root, purpose.as_bytes());
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, derived.as_ref());
        let mut out = [0u8; 32];
        out.copy_from_slice(aws_lc_rs::hmac::sign(&key, data).as_ref());
        out
    }
}

impl AesGcmCipher {
    /// One key, version 1 (a store that never rotated its master key).
    pub fn new(key: &[u8]) -> Result<Self> {
        Self::ring(&[(1, key)])
    }

    /// A key ring: (version, 32-byte key) pairs, versions 1 to 255, each once; the highest
    /// version seals.
    pub fn ring(keys: &[(u8, &[u8])]) -> Result<Self> {
        let newest = keys.iter().map(|(v, _)| *v).max().unwrap_or(0);
        Self::ring_sealing_with(keys, newest)
    }

    /// A key ring whose `sealing` version seals (a newer, staged version only opens).
    pub fn ring_sealing_with(keys: &[(u8, &[u8])], sealing: u8) -> Result<Self> {
        let mut ring = keys.iter().map(|(v, k)| RingKey::new(*v, k)).collect::<Result<Vec<_>>>()?;
        ring.sort_by_key(|k| k.version);
        if ring.is_empty() || ring[0].version == 0 || ring.windows(2).any(|w| w[0].version == w[1].version) {
            return Err(crate::Error::internal("a master key ring needs versions 1 to 255, each once"));
        }
        let sealing = ring
            .iter()
            .position(|k| k.version == sealing)
            .ok_or_else(|| crate::Error::internal("the sealing version is not in the key ring"))?;
        Ok(AesGcmCipher { keys: ring, sealing })
    }

    fn current(&self) -> &RingKey {
        &self.keys[self.sealing]
    }

    /// The version that seals.
    pub fn current_version(&self) -> u8 {
        self.current().version
    }

    /// The versions this ring opens.
    pub fn versions(&self) -> Vec<u8> {
        self.keys.iter().map(|k| k.version).collect()
    }

    /// The key version a sealed value names (None: the format from before versions, which
    /// version 1 sealed).
    pub fn sealed_version(sealed: &[u8]) -> Option<u8> {
        (sealed.len() >= 2 + 12 + 16 && sealed[0] == SEALED_V1).then(|| sealed[1])
    }

    fn aad(purpose: &str, key_version: u8) -> Vec<u8> {
        format!("tessera:{purpose}:k{key_version}").into_bytes()
    }

    /// Opens `sealed`, or says why not (without logging: the caller decides whose fault it is).
    fn try_open(&self, purpose: &str, sealed: &[u8]) -> std::result::Result<Vec<u8>, &'static str> {
        if let Some(version) = Self::sealed_version(sealed) {
            if let Some(key) = self.keys.iter().find(|k| k.version == version) {
                if let Ok(plain) = key.decrypt(&sealed[2..], &Self::aad(purpose, version)) {
                    return Ok(plain);
                }
            }
        }
        // The old format (whose random nonce may begin with the same two bytes): version 1's.
        match self.keys.iter().find(|k| k.version == 1) {
            Some(first) => first.decrypt(sealed, &[]),
            None => Err("secret could not be decrypted: its master key version is not in the ring"),
        }
    }
}

impl SecretCipher for AesGcmCipher {
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        SystemRng.fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        let current = self.current();
        current
            .key
            .seal_in_place_append_tag(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                aws_lc_rs::aead::Aad::from(Self::aad(purpose, current.version).as_slice()),
                &mut buf,
            )
            .map_err(|_| crate::Error::internal("seal failed"))?;
        let mut out = Vec::with_capacity(2 + 12 + buf.len());
        out.extend_from_slice(&[SEALED_V1, current.version]);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        self.try_open(purpose, sealed).map_err(crate::Error::internal)
    }

    fn open_untrusted(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.try_open(purpose, sealed).ok()
    }

    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<[u8; 32]> {
        Ok(self.current().keyed_hash(purpose, data))
    }

    fn keyed_hashes(&self, purpose: &str, data: &[u8]) -> Result<Vec<[u8; 32]>> {
        Ok(self.keys.iter().rev().map(|k| k.keyed_hash(purpose, data)).collect())
    }
}

#[cfg(test)]
mod cipher_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_ring_seals_with_its_newest_key_and_opens_with_each() {
        let one = AesGcmCipher::new(&[3u8; 32]).unwrap();
        let old = one.seal(sealed::TOTP_SECRET, b"secret").unwrap();
        let ring = AesGcmCipher::ring(&[(1, &[3u8; 32]), (2, &[4u8; 32])]).unwrap();
        assert_eq!(ring.current_version(), 2);
        assert_eq!(ring.open(sealed::TOTP_SECRET, &old).unwrap(), b"secret");
        let new = ring.seal(sealed::TOTP_SECRET, b"secret").unwrap();
        assert_eq!(AesGcmCipher::sealed_version(&new), Some(2));
        assert!(one.open(sealed::TOTP_SECRET, &new).is_err(), "the old key cannot open the new value");
        let only_new = AesGcmCipher::ring(&[(2, &[4u8; 32])]).unwrap();
        assert!(only_new.open(sealed::TOTP_SECRET, &old).is_err(), "a dropped key's values do not open");
        assert_eq!(only_new.open(sealed::TOTP_SECRET, &new).unwrap(), b"secret");
        // Codes hashed under the old key still match one of the ring's hashes.
        let code = one.keyed_hash("verification-code", b"u:123456").unwrap();
        assert!(ring.keyed_hashes("verification-code", b"u:123456").unwrap().contains(&code));
        assert!(AesGcmCipher::ring(&[(1, &[3u8; 32]), (1, &[4u8; 32])]).is_err());
        assert!(AesGcmCipher::ring(&[]).is_err());
    }

    #[test]
    fn sealed_values_are_bound_to_their_purpose_and_key_version() {
        let cipher = AesGcmCipher::new(&[3u8; 32]).unwrap();
        let sealed = cipher.seal(sealed::TOTP_SECRET, b"secret").unwrap();
        assert_eq!(&sealed[..2], &[SEALED_V1, 1]);
        assert_eq!(cipher.open(sealed::TOTP_SECRET, &sealed).unwrap(), b"secret");
        assert!(cipher.open(sealed::SRP_VERIFIER, &sealed).is_err(), "another purpose");
        assert!(cipher.open_untrusted(sealed::SYNC_TOKEN, &sealed).is_none());
        let mut other_version = sealed.clone();
        other_version[1] = 2;
        assert!(cipher.open(sealed::TOTP_SECRET, &other_version).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(cipher.open(sealed::TOTP_SECRET, &tampered).is_err());
        assert!(AesGcmCipher::new(&[4u8; 32]).unwrap().open(sealed::TOTP_SECRET, &sealed).is_err());
    }

    #[test]
    fn values_sealed_before_the_format_still_open() {
        let cipher = AesGcmCipher::new(&[3u8; 32]).unwrap();
        for first in [0x00, SEALED_V1] {
            // The old format: nonce, ciphertext + tag, no associated data.
            let nonce = [first, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
            // (with SEALED_V1 first, these bytes also look like the new format's header)
            let mut buf = b"old secret".to_vec();
            cipher.keys[0]
                .key
                .seal_in_place_append_tag(
                    aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                    aws_lc_rs::aead::Aad::empty(),
                    &mut buf,
                )
                .unwrap();
            let old = [nonce.to_vec(), buf].concat();
            assert_eq!(cipher.open(sealed::SRP_VERIFIER, &old).unwrap(), b"old secret");
        }
    }
}

/// Where user-import CSV files are uploaded and read back (S3 in AWS, the data directory
/// locally). Keys are (pool id, job id); the domain never sees a bucket or a path.
#[async_trait]
pub trait ImportFiles: Send + Sync {
    /// A URL that accepts one HTTP `PUT` of the job's CSV file until `expires_at` (epoch
    /// seconds), with the headers Cognito's documented upload sends
    /// (`x-amz-server-side-encryption: aws:kms`, any content type).
    async fn upload_url(&self, pool_id: &str, job_id: &str, expires_at: i64) -> Result<String>;

    /// The file's total size and up to `len` bytes from `offset`; `None` when nothing was
    /// uploaded.
    async fn read(
        &self,
        pool_id: &str,
        job_id: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<(u64, Vec<u8>)>>;

    /// Removes the uploaded file (it holds user data); absent files are not an error.
    async fn delete(&self, pool_id: &str, job_id: &str) -> Result<()>;
}

/// Runs started import jobs in the background: an in-process task locally, an asynchronously
/// invoked worker function in AWS. Either calls [`crate::user_pool::import::run_job`] until it
/// answers `Done`.
#[async_trait]
pub trait ImportRunner: Send + Sync {
    async fn start(&self, pool_id: &str, job_id: &str) -> Result<()>;
}

/// Per-row results of an import job: line numbers and reasons, never user data. A file under
/// the data directory locally; the worker's log stream (CloudWatch Logs) in AWS.
#[async_trait]
pub trait ImportLog: Send + Sync {
    async fn write(&self, pool_id: &str, job_id: &str, lines: &[String]) -> Result<()>;
}

/// The three import ports, set together on a [`crate::Service`] that serves import jobs.
#[derive(Clone)]
pub struct Imports {
    pub files: std::sync::Arc<dyn ImportFiles>,
    pub runner: std::sync::Arc<dyn ImportRunner>,
    pub log: std::sync::Arc<dyn ImportLog>,
}

/// What one synchronous function invocation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// The function's result (the trigger event with its `response` filled in).
    Response(Vec<u8>),
    /// The function threw: its error payload (`{"errorMessage", "errorType"}`).
    FunctionError(Vec<u8>),
}

/// An invocation that did not reach the function, or did not come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeFailure {
    /// The Lambda error code (`ResourceNotFoundException`, `TooManyRequestsException`, …).
    pub code: String,
    /// Throttling and service-side faults may succeed on another attempt; a missing function
    /// or a refused permission never will.
    pub retryable: bool,
}

/// Calls a Lambda function synchronously (`Invoke`, `RequestResponse`): AWS Lambda in AWS,
/// any Invoke-compatible endpoint locally. Timeouts and retries are the caller's
/// ([`crate::triggers`]).
#[async_trait]
pub trait FunctionInvoker: Send + Sync {
    async fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
    ) -> std::result::Result<Invocation, InvokeFailure>;
}

/// An HTTP request to another server (an identity provider's discovery, JWKS, token and
/// userinfo endpoints).
#[derive(Debug, Clone, Default)]
pub struct WebRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Its answer (the body capped by the client).
#[derive(Debug, Clone, Default)]
pub struct WebResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Outbound HTTP(S), with a timeout and a cap on the answer's size. `Err` is a transport
/// failure in plain words (no answer, TLS, timeout); any HTTP status is an `Ok`.
#[async_trait]
pub trait WebClient: Send + Sync {
    async fn send(&self, request: WebRequest) -> std::result::Result<WebResponse, String>;
}

/// Temporary AWS credentials for an identity (what STS answers).
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_key: String,
    pub session_token: String,
    /// Epoch seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret or the session token.
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Why STS refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendFailure {
    /// STS refused the role or the token (AccessDenied, InvalidIdentityToken, …): a pool set-up
    /// problem (`InvalidIdentityPoolConfigurationException`).
    Refused(String),
    /// STS could not be reached or failed (`ExternalServiceException`).
    Unavailable(String),
}

/// Exchanges an identity pool's OpenID token for credentials of a role: STS
/// `AssumeRoleWithWebIdentity` in AWS (or any STS-compatible endpoint); locally, without one,
/// credentials Tessera makes itself and marks as local. A `session_policy` (IAM policy JSON)
/// narrows what the credentials may do below the role's own policies.
#[async_trait]
pub trait CredentialVendor: Send + Sync {
    async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        web_identity_token: &str,
        session_name: &str,
        duration_secs: i64,
        session_policy: Option<&str>,
    ) -> std::result::Result<AwsCredentials, VendFailure>;
}

/// Mobile push for Cognito Sync: SNS platform endpoints and silent pushes in AWS, the local
/// outbox locally.
#[async_trait]
pub trait PushNotifier: Send + Sync {
    /// Creates (or finds) the platform endpoint of `token` under the SNS platform application
    /// `application_arn`; answers the endpoint ARN.
    async fn create_platform_endpoint(&self, application_arn: &str, token: &str) -> Result<String>;

    /// Publishes `message` (an SNS `MessageStructure=json` document: one entry per platform)
    /// to the endpoint.
    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<()>;
}
