//! Credentials the local server makes itself when no STS endpoint is configured, so app
//! flows (GetCredentialsForIdentity, then Sync) run on a laptop. They are marked: the access
//! key starts `ASIALOCAL` and the session token `tessera-local:`; no AWS service accepts them.

use async_trait::async_trait;
use base64::Engine;
use std::sync::Arc;
use tessera_core::ports::{AwsCredentials, Clock, CredentialVendor, Rng, VendFailure};

pub const LOCAL_ACCESS_KEY_PREFIX: &str = "ASIALOCAL";
pub const LOCAL_SESSION_TOKEN_PREFIX: &str = "tessera-local:";

pub struct LocalCredentialVendor {
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
}

#[async_trait]
impl CredentialVendor for LocalCredentialVendor {
    async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        _web_identity_token: &str,
        _session_name: &str,
        duration_secs: i64,
        // Local credentials only sign calls to this server, which never consults IAM.
        _session_policy: Option<&str>,
    ) -> Result<AwsCredentials, VendFailure> {
        if !role_arn.starts_with("arn:") {
            return Err(VendFailure::Refused(format!("not a role ARN: {role_arn}")));
        }
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(AwsCredentials {
            access_key_id: format!("{LOCAL_ACCESS_KEY_PREFIX}{}", self.rng.string_from(UPPER, 11)),
            secret_key: b64.encode(self.rng.bytes(30)),
            session_token: format!("{LOCAL_SESSION_TOKEN_PREFIX}{}", b64.encode(self.rng.bytes(48))),
            expiration: self.clock.now_secs() + duration_secs,
        })
    }
}
