//! Password policy checks and memory-hard hashing (argon2id).

use crate::error::{Error, Result};
use argon2::password_hash::{PasswordHash, SaltString};
use serde::{Deserialize, Serialize};

pub mod legacy;

/// `PasswordPolicyType`, with Cognito's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_history_size: Option<u32>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
            password_history_size: None,
        }
    }
}

/// The symbols Cognito counts as special characters.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

impl PasswordPolicy {
    /// InvalidPasswordException naming the first rule the password breaks.
    pub fn check(&self, password: &str) -> Result<()> {
        let fail = |rule: &str| {
            Err(Error::InvalidPasswordException(format!("Password did not conform with policy: {rule}")))
        };
        if password.chars().count() < self.minimum_length as usize {
            return fail("Password not long enough");
        }
        if self.require_lowercase && !password.chars().any(|c| c.is_lowercase()) {
            return fail("Password must have lowercase characters");
        }
        if self.require_uppercase && !password.chars().any(|c| c.is_uppercase()) {
            return fail("Password must have uppercase characters");
        }
        if self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
            return fail("Password must have numeric characters");
        }
        if self.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
            return fail("Password must have symbol characters");
        }
        Ok(())
    }
}

/// argon2id parameters. The defaults are OWASP's minimum: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams { m_kib: 19 * 1024, t: 2, p: 1 }
    }
}

impl HashParams {
    fn argon2(&self) -> Result<argon2::Argon2<'static>> {
        let params = argon2::Params::new(self.m_kib, self.t, self.p, None)
            .map_err(|e| Error::internal(format!("argon2 params: {e}")))?;
        Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }

    /// A PHC string (`$argon2id$v=19$m=…`). CPU-heavy: call it off the async executor.
    pub fn hash(&self, password: &str, salt16: &[u8]) -> Result<String> {
        let salt = SaltString::encode_b64(salt16).map_err(Error::internal)?;
        let ctx = self.argon2()?;
        let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
        with_blocks(ctx.params().block_count(), |blocks| {
            ctx.hash_password_into_with_memory(password.as_bytes(), salt16, &mut out, blocks)
        })
        .map_err(Error::internal)?;
        let hash = PasswordHash {
            algorithm: argon2::Algorithm::Argon2id.ident(),
            version: Some(argon2::Version::V0x13.into()),
            params: argon2::password_hash::ParamsString::try_from(ctx.params()).map_err(Error::internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(argon2::password_hash::Output::new(&out).map_err(Error::internal)?),
        };
        Ok(hash.to_string())
    }

    /// Constant-time verification against a stored PHC string (its own parameters apply).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        verify_phc(password, phc).unwrap_or(false)
    }
}

/// argon2's working memory, reused: allocating (and faulting in) 19 MiB for every sign-in
/// costs more CPU than the rest of the request. One shared pool, not one buffer per thread:
/// the blocking pool's threads come and go (up to 512), and per-thread buffers grew a server
/// to 700 MB. A buffer is taken for one hash and given back, so the pool never holds more
/// buffers than hashes ever ran at once, which `Service::cpu` bounds by the number of cores.
static BLOCKS: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

/// Buffers larger than this (an imported hash with a large `m`) are freed after use rather
/// than kept: the pool's size stays that of the deployment's own parameters.
const KEEP_BLOCKS: usize = 64 * 1024;

/// Runs `f` with `n` argon2 blocks from the pool.
fn with_blocks<T>(n: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    let mut blocks = BLOCKS.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
    if blocks.len() < n {
        blocks.resize(n, argon2::Block::default());
    }
    let out = f(&mut blocks[..n]);
    if blocks.len() <= KEEP_BLOCKS {
        if let Ok(mut pool) = BLOCKS.lock() {
            pool.push(blocks);
        }
    }
    out
}

/// Buffers the pool holds now, and their total size in bytes (for tests and benchmarks).
pub fn pooled_hash_memory() -> (usize, usize) {
    BLOCKS.lock().map(|p| (p.len(), p.iter().map(|b| b.len() * argon2::Block::SIZE).sum())).unwrap_or((0, 0))
}

pub(crate) fn verify_phc(password: &str, phc: &str) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let expected = parsed.hash?;
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).ok()?,
        None => argon2::Version::V0x13,
    };
    let params = argon2::Params::try_from(&parsed).ok()?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
    let ctx = argon2::Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let hashed = with_blocks(params.block_count(), |blocks| {
        ctx.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks).is_ok()
    });
    Some(hashed && bool::from(subtle::ConstantTimeEq::ct_eq(out.as_slice(), expected.as_bytes())))
}

/// Runs CPU-heavy work on the blocking pool so the async executor stays responsive.
pub async fn off_executor<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn policy_names_the_failing_rule() {
        let p = PasswordPolicy::default();
        let msg = |pw: &str| p.check(pw).unwrap_err().message().to_string();
        assert_eq!(msg("Aa1!"), "Password did not conform with policy: Password not long enough");
        assert_eq!(
            msg("AAAAAAAA1!"),
            "Password did not conform with policy: Password must have lowercase characters"
        );
        assert_eq!(
            msg("aaaaaaaa1!"),
            "Password did not conform with policy: Password must have uppercase characters"
        );
        assert_eq!(
            msg("aaaaAAAA!!"),
            "Password did not conform with policy: Password must have numeric characters"
        );
        assert_eq!(
            msg("aaaaAAAA11"),
            "Password did not conform with policy: Password must have symbol characters"
        );
        assert!(p.check("Correct-Horse-9").is_ok());
    }

    #[test]
    fn hash_verifies_only_the_right_password() {
        let hp = HashParams { m_kib: 1024, t: 1, p: 1 };
        let h = hp.hash("Correct-Horse-9", &[7u8; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(hp.verify("Correct-Horse-9", &h));
        assert!(!hp.verify("Correct-Horse-8", &h));
        assert!(!hp.verify("x", "not a hash"));
        // The same PHC string as the argon2 crate's own hasher makes.
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let reference = hp.argon2().unwrap().hash_password(b"Correct-Horse-9", &salt).unwrap().to_string();
        assert_eq!(h, reference);
    }

    #[test]
    fn hashing_memory_is_bounded_by_concurrency_not_by_threads() {
        // 64 short-lived threads, at most 2 hashing at once (as Service::cpu does): the pool
        // keeps at most 2 buffers. Per-thread buffers kept one per thread.
        let hp = HashParams { m_kib: 2048, t: 1, p: 1 };
        let gate = std::sync::Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
        let threads: Vec<_> = (0..64)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    let (lock, cv) = &*gate;
                    let mut running = cv.wait_while(lock.lock().unwrap(), |n| *n >= 2).unwrap();
                    *running += 1;
                    drop(running);
                    let h = hp.hash("pw", &[i as u8; 16]).unwrap();
                    assert!(hp.verify("pw", &h));
                    *lock.lock().unwrap() -= 1;
                    cv.notify_all();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Other tests hash in parallel with this one: allow their buffers too (the test
        // harness runs as many tests at once as there are cores, at most a handful).
        let (buffers, _) = pooled_hash_memory();
        assert!(
            buffers <= 2 + std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            "{buffers}"
        );
    }
}
