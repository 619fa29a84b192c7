//! GetCredentialsForIdentity's credential vendor: STS `AssumeRoleWithWebIdentity` with the
//! identity service's OpenID token. The call is unsigned (the token is the proof), so the
//! function needs no IAM permission for it; the role's trust policy names our issuer.

use async_trait::async_trait;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use tessera_core::ports::{AwsCredentials, CredentialVendor, VendFailure};

pub struct StsVendor {
    client: aws_sdk_sts::Client,
}

impl StsVendor {
    /// A client for `endpoint` (None: the region's STS).
    pub async fn new(endpoint: Option<&str>, region: &str) -> StsVendor {
        let loader = crate::config::loader(endpoint, region);
        StsVendor { client: aws_sdk_sts::Client::new(&loader.load().await) }
    }

    /// A client from the functions' loaded SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> StsVendor {
        let mut config = aws_sdk_sts::config::Builder::from(sdk);
        if let Some(ep) = endpoint {
            config = config.endpoint_url(ep);
        }
        StsVendor { client: aws_sdk_sts::Client::from_conf(config.build()) }
    }
}

#[async_trait]
impl CredentialVendor for StsVendor {
    async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        web_identity_token: &str,
        session_name: &str,
        duration_secs: i64,
        session_policy: Option<&str>,
    ) -> Result<AwsCredentials, VendFailure> {
        let out = self
            .client
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .web_identity_token(web_identity_token)
            .role_session_name(session_name)
            .duration_seconds(duration_secs.clamp(900, 43_200) as i32)
            .set_policy(session_policy.map(str::to_string))
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::ServiceError(se) => {
                    let code = se.err().code().unwrap_or("Unknown").to_string();
                    match code.as_str() {
                        "IDPCommunicationError" | "ServiceUnavailable" | "InternalFailure" => {
                            VendFailure::Unavailable(code)
                        }
                        _ => VendFailure::Refused(format!(
                            "{code}: {}",
                            se.err().message().unwrap_or_default()
                        )),
                    }
                }
                other => VendFailure::Unavailable(format!("{other}")),
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| VendFailure::Unavailable("STS answered no credentials".into()))?;
        Ok(AwsCredentials {
            access_key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            session_token: c.session_token().to_string(),
            expiration: c.expiration().secs(),
        })
    }
}
