//! Password hashes brought in by user import (`tessera:password_hash`): bcrypt, argon2,
//! scrypt and PBKDF2-SHA256. They are checked when imported (format and bounded cost, so a
//! sign-in can never be made arbitrarily slow), verified once at the user's first sign-in, and
//! then replaced by Tessera's own argon2id hash and an SRP verifier.

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};

/// The schemes an imported hash may use, named as `PasswordHashingAlgorithmType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bcrypt,
    Argon2,
    Scrypt,
    Pbkdf2Sha256,
}

impl Scheme {
    /// The CreateUserImportJob `PasswordHashingAlgorithm` value that covers this scheme.
    pub fn algorithm(self) -> &'static str {
        match self {
            Scheme::Bcrypt => "BCRYPT",
            Scheme::Argon2 => "ARGON2ID",
            Scheme::Scrypt => "SCRYPT",
            Scheme::Pbkdf2Sha256 => "PBKDF2_SHA256",
        }
    }
}

/// Longest hash string accepted.
pub const MAX_HASH_LEN: usize = 512;
/// bcrypt: cost (log2 rounds) at most this.
pub const MAX_BCRYPT_COST: u32 = 14;
/// argon2: memory (KiB), passes, lanes, and memory × passes.
pub const MAX_ARGON2_M_KIB: u32 = 64 * 1024;
pub const MAX_ARGON2_T: u32 = 10;
pub const MAX_ARGON2_P: u32 = 4;
pub const MAX_ARGON2_M_TIMES_T: u64 = 256 * 1024;
/// scrypt: memory 128·N·r bytes at most 64 MiB, N·r·p at most 2^20, p at most 4.
pub const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
pub const MAX_SCRYPT_WORK: u64 = 1 << 20;
pub const MAX_SCRYPT_P: u32 = 4;
/// PBKDF2-SHA256: iterations at most this; output 16–64 bytes.
pub const MAX_PBKDF2_ROUNDS: u32 = 1_000_000;

/// Checks an imported hash: a known scheme, well formed, cost within the bounds above.
/// The error is a reason fit for the import log (it never quotes the hash).
pub fn check(hash: &str) -> Result<Scheme, &'static str> {
    if hash.len() > MAX_HASH_LEN || !hash.is_ascii() {
        return Err("The password hash is not in a supported format.");
    }
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        let parts: bcrypt::HashParts =
            hash.parse().map_err(|_| "The password hash is not in a supported format.")?;
        // 22 characters of salt + 31 of hash after "$2b$NN$".
        if hash.len() != 60 {
            return Err("The password hash is not in a supported format.");
        }
        if parts.get_cost() > MAX_BCRYPT_COST {
            return Err("The password hash cost exceeds the accepted maximum.");
        }
        return Ok(Scheme::Bcrypt);
    }
    let parsed = PasswordHash::new(hash).map_err(|_| "The password hash is not in a supported format.")?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("The password hash is not in a supported format.");
    }
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" => {
            let params = argon2::Params::try_from(&parsed)
                .map_err(|_| "The password hash is not in a supported format.")?;
            if let Some(v) = parsed.version {
                argon2::Version::try_from(v)
                    .map_err(|_| "The password hash is not in a supported format.")?;
            }
            if params.m_cost() > MAX_ARGON2_M_KIB
                || params.t_cost() > MAX_ARGON2_T
                || params.p_cost() > MAX_ARGON2_P
                || u64::from(params.m_cost()) * u64::from(params.t_cost()) > MAX_ARGON2_M_TIMES_T
            {
                return Err("The password hash cost exceeds the accepted maximum.");
            }
            Ok(Scheme::Argon2)
        }
        "scrypt" => {
            let params = scrypt::Params::try_from(&parsed)
                .map_err(|_| "The password hash is not in a supported format.")?;
            let n = 1u64 << params.log_n();
            let (r, p) = (u64::from(params.r()), u64::from(params.p()));
            if 128 * n * r > MAX_SCRYPT_MEMORY || n * r * p > MAX_SCRYPT_WORK || params.p() > MAX_SCRYPT_P {
                return Err("The password hash cost exceeds the accepted maximum.");
            }
            Ok(Scheme::Scrypt)
        }
        "pbkdf2-sha256" => {
            let params = pbkdf2::Params::try_from(&parsed)
                .map_err(|_| "The password hash is not in a supported format.")?;
            let len = parsed.hash.map(|h| h.len()).unwrap_or_default();
            if !(16..=64).contains(&len) || params.output_length != len {
                return Err("The password hash is not in a supported format.");
            }
            if params.rounds == 0 || params.rounds > MAX_PBKDF2_ROUNDS {
                return Err("The password hash cost exceeds the accepted maximum.");
            }
            Ok(Scheme::Pbkdf2Sha256)
        }
        _ => Err("The password hash is not in a supported format."),
    }
}

/// Verifies a password against an imported hash (constant time in the hash comparison, as each
/// crate does it). Hashes outside the accepted bounds never verify.
pub fn verify(password: &str, hash: &str) -> bool {
    let Ok(scheme) = check(hash) else { return false };
    match scheme {
        Scheme::Bcrypt => bcrypt::verify(password, hash).unwrap_or(false),
        Scheme::Argon2 => super::verify_phc(password, hash).unwrap_or(false),
        Scheme::Scrypt => PasswordHash::new(hash)
            .map(|h| scrypt::Scrypt.verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false),
        Scheme::Pbkdf2Sha256 => PasswordHash::new(hash)
            .map(|h| pbkdf2::Pbkdf2.verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, SaltString};

    const PW: &str = "Old-Password-1";

    fn salt() -> SaltString {
        SaltString::encode_b64(&[9u8; 16]).unwrap()
    }

    #[test]
    fn bcrypt_verifies_and_bounds_cost() {
        let h = bcrypt::hash_with_salt(PW, 4, [3u8; 16]).unwrap().format_for_version(bcrypt::Version::TwoB);
        assert_eq!(check(&h), Ok(Scheme::Bcrypt));
        assert!(verify(PW, &h));
        assert!(!verify("wrong", &h));
        let y = h.replacen("$2b$", "$2y$", 1);
        assert!(verify(PW, &y));
        let costly = h.replacen("$04$", "$15$", 1);
        assert_eq!(check(&costly), Err("The password hash cost exceeds the accepted maximum."));
        assert!(!verify(PW, &costly));
        assert!(check("$2b$04$short").is_err());
    }

    #[test]
    fn argon2_scrypt_pbkdf2_verify() {
        let params = argon2::Params::new(1024, 1, 1, None).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params)
            .hash_password(PW.as_bytes(), &salt())
            .unwrap()
            .to_string();
        assert_eq!(check(&a), Ok(Scheme::Argon2));
        assert!(verify(PW, &a) && !verify("wrong", &a));

        let s = scrypt::Scrypt
            .hash_password_customized(
                PW.as_bytes(),
                None,
                None,
                scrypt::Params::new(10, 8, 1, 32).unwrap(),
                &salt(),
            )
            .unwrap()
            .to_string();
        assert!(s.starts_with("$scrypt$"));
        assert_eq!(check(&s), Ok(Scheme::Scrypt));
        assert!(verify(PW, &s) && !verify("wrong", &s));

        let p = pbkdf2::Pbkdf2
            .hash_password_customized(
                PW.as_bytes(),
                Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
                None,
                pbkdf2::Params { rounds: 1000, output_length: 32 },
                &salt(),
            )
            .unwrap()
            .to_string();
        assert!(p.starts_with("$pbkdf2-sha256$"));
        assert_eq!(check(&p), Ok(Scheme::Pbkdf2Sha256));
        assert!(verify(PW, &p) && !verify("wrong", &p));
    }

    #[test]
    fn costs_and_formats_are_bounded() {
        let big_argon = "$argon2id$v=19$m=262144,t=3,p=1$CQkJCQkJCQkJCQkJCQkJCQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert_eq!(check(big_argon), Err("The password hash cost exceeds the accepted maximum."));
        let big_scrypt =
            "$scrypt$ln=20,r=8,p=1$CQkJCQkJCQkJCQkJCQkJCQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert_eq!(check(big_scrypt), Err("The password hash cost exceeds the accepted maximum."));
        let big_pbkdf2 = "$pbkdf2-sha256$i=5000000,l=32$CQkJCQkJCQkJCQkJCQkJCQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert_eq!(check(big_pbkdf2), Err("The password hash cost exceeds the accepted maximum."));
        for bad in [
            "",
            "plaintext",
            "$md5$abc",
            "$pbkdf2-sha512$i=1000,l=64$c2FsdA$aGFzaA",
            "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
