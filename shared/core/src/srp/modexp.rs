//! `base^exp mod N` for the SRP group, through aws-lc's constant-time Montgomery
//! exponentiation. The one unsafe corner of the domain: every pointer is owned by a guard that
//! frees it, and every aws-lc return code is checked.

use aws_lc_sys as sys;

/// The group's byte length (3072 bits).
pub const LEN: usize = 384;

struct Bn(*mut sys::BIGNUM);

impl Bn {
    fn from_bytes(bytes: &[u8]) -> Option<Bn> {
        // SAFETY: BN_bin2bn reads exactly `len` bytes from a live slice; null asks for a new BIGNUM.
        let ptr = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), std::ptr::null_mut()) };
        (!ptr.is_null()).then_some(Bn(ptr))
    }

    fn new() -> Option<Bn> {
        // SAFETY: allocates a zero BIGNUM or returns null.
        let ptr = unsafe { sys::BN_new() };
        (!ptr.is_null()).then_some(Bn(ptr))
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_new/BN_bin2bn and is freed once.
        unsafe { sys::BN_free(self.0) }
    }
}

struct Ctx(*mut sys::BN_CTX);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_CTX_new and is freed once.
        unsafe { sys::BN_CTX_free(self.0) }
    }
}

struct Mont(*mut sys::BN_MONT_CTX);

impl Drop for Mont {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_MONT_CTX_new_for_modulus and is freed once.
        unsafe { sys::BN_MONT_CTX_free(self.0) }
    }
}

/// `base^exp mod modulus`, big-endian, left-padded to [`LEN`] bytes. `base` must be below the
/// (odd) modulus. None only if aws-lc fails (allocation) or the input is out of range.
pub fn mod_exp(base: &[u8], exp: &[u8], modulus: &[u8]) -> Option<[u8; LEN]> {
    let (base, exp, modulus, out) =
        (Bn::from_bytes(base)?, Bn::from_bytes(exp)?, Bn::from_bytes(modulus)?, Bn::new()?);
    // SAFETY: every pointer below is live (owned by a guard in this frame) and non-null; aws-lc
    // does not keep them past the call. Return codes are checked before `out` is read.
    unsafe {
        let ctx = Ctx(sys::BN_CTX_new());
        if ctx.0.is_null() {
            return None;
        }
        let mont = Mont(sys::BN_MONT_CTX_new_for_modulus(modulus.0, ctx.0));
        if mont.0.is_null() {
            return None;
        }
        if sys::BN_mod_exp_mont_consttime(out.0, base.0, exp.0, modulus.0, ctx.0, mont.0) != 1 {
            return None;
        }
        let mut bytes = [0u8; LEN];
        if sys::BN_bn2bin_padded(bytes.as_mut_ptr(), LEN, out.0) != 1 {
            return None;
        }
        Some(bytes)
    }
}
