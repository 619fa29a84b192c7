//! The identity service's own OpenID tokens (GetOpenIdToken, GetOpenIdTokenForDeveloperIdentity,
//! and the token GetCredentialsForIdentity hands to STS), their signing key and JWKS, and the
//! exchange of a token for an identity's AWS credentials.
//!
//! One RSA key for the whole deployment, made on first use and stored sealed (like a user
//! pool's keys). Tokens are RS256 with `iss` = `{issuer_base}/cognito-identity`, `aud` = the
//! identity pool id, `sub` = the identity id and `amr` = `["unauthenticated"]` or
//! `["authenticated", provider…]`, so IAM can trust the issuer as an OIDC provider with the
//! pool ids as audiences (docs/deploy.md).

use crate::error::{Error, Result};
use crate::ports::{AwsCredentials, VendFailure};
use crate::store::{Cond, Item, StoreError, Write};
use crate::tokens::{SigningKey, StoredKey};
use crate::{CallContext, Service};
use serde_json::{json, Value};
use std::sync::Arc;

/// Where the deployment's identity-token key is stored.
pub const KEY_PK: &str = "IDENTITYSERVICE";
pub const KEY_SK: &str = "SIGNINGKEY";

/// How long credentials from GetCredentialsForIdentity last (one hour, as Cognito gives them: docs/identity-pools.md, "Tokens and credentials").
const CREDENTIALS_SECS: i64 = 3600;
/// The token handed to STS only has to outlive the call.
const STS_TOKEN_SECS: i64 = 600;
/// The session name Cognito uses for the role sessions it opens.
const SESSION_NAME: &str = "CognitoIdentityCredentials";

/// The deployment's identity-token key, made and stored on first use.
async fn signing_key(svc: &Service) -> Result<Arc<SigningKey>> {
    if let Some(k) = svc.identity_signing_key.get() {
        return Ok(k.clone());
    }
    let stored = match svc.get_json::<StoredKey>(KEY_PK, KEY_SK).await? {
        Some((k, _)) => k,
        None => {
            let fresh = crate::tokens::PoolKeys::generate(svc.cipher.as_ref())?.id;
            let item = Item::new(KEY_PK, KEY_SK, serde_json::to_value(&fresh).map_err(Error::internal)?);
            match svc.store.transact(vec![Write::put(item, Cond::NotExists)], svc.now_secs()).await {
                Ok(()) => fresh,
                // Another process made it first: use theirs.
                Err(StoreError::ConditionFailed { .. }) => svc
                    .get_json::<StoredKey>(KEY_PK, KEY_SK)
                    .await?
                    .map(|(k, _)| k)
                    .ok_or_else(|| Error::internal("identity signing key vanished"))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    let key = Arc::new(SigningKey::open(&stored, svc.cipher.as_ref())?);
    Ok(svc.identity_signing_key.get_or_init(|| key).clone())
}

/// The claim only GetOpenIdTokenForDeveloperIdentity's tokens carry: the developer provider
/// that vouched for the user. GetCredentialsForIdentity accepts a token under the
/// `cognito-identity.amazonaws.com` key only when it names the pool's developer provider, so
/// a token handed out by GetOpenIdToken (the basic flow) never stands in for a login.
pub(super) const DEVELOPER_PROVIDER_CLAIM: &str = "developer_provider";

/// A signed OpenID token for `identity_id` of `identity_pool_id`, valid `lifetime_secs`.
pub async fn open_id_token(
    svc: &Service,
    ctx: &CallContext,
    identity_pool_id: &str,
    identity_id: &str,
    amr: &[String],
    lifetime_secs: i64,
) -> Result<String> {
    sign(svc, ctx, identity_pool_id, identity_id, amr, None, lifetime_secs).await
}

/// GetOpenIdTokenForDeveloperIdentity's token: [`open_id_token`] plus the
/// [`DEVELOPER_PROVIDER_CLAIM`] naming `developer_provider`.
pub(super) async fn developer_open_id_token(
    svc: &Service,
    ctx: &CallContext,
    identity_pool_id: &str,
    identity_id: &str,
    amr: &[String],
    developer_provider: &str,
    lifetime_secs: i64,
) -> Result<String> {
    sign(svc, ctx, identity_pool_id, identity_id, amr, Some(developer_provider), lifetime_secs).await
}

async fn sign(
    svc: &Service,
    ctx: &CallContext,
    identity_pool_id: &str,
    identity_id: &str,
    amr: &[String],
    developer_provider: Option<&str>,
    lifetime_secs: i64,
) -> Result<String> {
    let key = signing_key(svc).await?;
    let now = svc.now_secs();
    let mut claims = json!({
        "iss": ctx.identity_issuer(),
        "aud": identity_pool_id,
        "sub": identity_id,
        "amr": amr,
        "iat": now,
        "exp": now + lifetime_secs,
    });
    if let Some(d) = developer_provider {
        claims[DEVELOPER_PROVIDER_CLAIM] = json!(d);
    }
    key.sign(&claims)
}

/// The claims of a token this service issued, when its signature, issuer and expiry hold
/// (the `cognito-identity.amazonaws.com` login of the developer flow).
pub async fn verify_open_id_token(svc: &Service, ctx: &CallContext, token: &str) -> Result<Option<Value>> {
    let key = signing_key(svc).await?;
    let now = svc.now_secs();
    Ok(key.verify(token, &ctx.identity_issuer(), now).filter(|c| !crate::tokens::not_yet_valid(c, now)))
}

/// `GET /cognito-identity/.well-known/jwks.json`: the stored public parts only, because the
/// deployed `well-known` function has no master key to open (or make) the private key. Before
/// the first token there is no key, and the set is empty.
pub async fn jwks(svc: &Service) -> Result<Value> {
    let keys = match svc.get_json::<StoredKey>(KEY_PK, KEY_SK).await? {
        Some((stored, _)) => {
            vec![
                json!({"alg": "RS256", "e": stored.e, "kid": stored.kid, "kty": "RSA", "n": stored.n, "use": "sig"}),
            ]
        }
        None => Vec::new(),
    };
    Ok(json!({ "keys": keys }))
}

/// `GET /cognito-identity/.well-known/openid-configuration`: what IAM reads when the issuer
/// is registered as an OIDC provider.
pub fn openid_configuration(ctx: &CallContext) -> Value {
    let issuer = ctx.identity_issuer();
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "aud", "sub", "amr", "iat", "exp"],
    })
}

/// The IAM action prefixes of the services Cognito lets guests' credentials reach whatever
/// their role allows (the Cognito developer guide's list for identity pools' basic flow): AppSync, CloudWatch (metrics and logs), Cognito Identity,
/// Cognito Sync, Comprehend, DynamoDB, Kinesis Data Firehose, Kinesis Data Streams, GameLift,
/// IoT, KMS, Lambda, Lex, Machine Learning, Mobile Analytics, Pinpoint, Polly, Rekognition,
/// Sumerian, S3, SimpleDB, SES, SNS, SQS, Transcribe, Translate.
const UNAUTHENTICATED_SERVICES: [&str; 27] = [
    "appsync",
    "cloudwatch",
    "logs",
    "cognito-identity",
    "cognito-sync",
    "comprehend",
    "dynamodb",
    "firehose",
    "kinesis",
    "gamelift",
    "iot",
    "kms",
    "lambda",
    "lex",
    "machinelearning",
    "mobileanalytics",
    "mobiletargeting",
    "polly",
    "rekognition",
    "sumerian",
    "s3",
    "sdb",
    "ses",
    "sns",
    "sqs",
    "transcribe",
    "translate",
];

/// The session policy on guests' credentials: the role's permissions, but only on the services
/// above (an action elsewhere is denied even if the unauthenticated role allows it).
fn unauthenticated_scope_down() -> String {
    let actions: Vec<String> = UNAUTHENTICATED_SERVICES.iter().map(|s| format!("{s}:*")).collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
    })
    .to_string()
}

/// Credentials of `role_arn` for the identity: a fresh OpenID token exchanged through the
/// credential vendor (STS AssumeRoleWithWebIdentity), remembered so that Sync can verify
/// what is signed with them. Guests' credentials (`amr` "unauthenticated") carry the
/// scope-down policy.
pub async fn credentials_for_role(
    svc: &Service,
    ctx: &CallContext,
    identity_pool_id: &str,
    identity_id: &str,
    role_arn: &str,
    amr: &[String],
) -> Result<AwsCredentials> {
    let vendor = svc.credential_vendor()?.clone();
    let token = open_id_token(svc, ctx, identity_pool_id, identity_id, amr, STS_TOKEN_SECS).await?;
    let guest = amr.iter().any(|a| a == super::roles::UNAUTHENTICATED);
    let session_policy = guest.then(unauthenticated_scope_down);
    let credentials = vendor
        .assume_role_with_web_identity(
            role_arn,
            &token,
            SESSION_NAME,
            CREDENTIALS_SECS,
            session_policy.as_deref(),
        )
        .await
        .map_err(|f| match f {
            VendFailure::Refused(why) => {
                tracing::warn!(role_arn, reason = %why, "STS refused AssumeRoleWithWebIdentity");
                Error::InvalidIdentityPoolConfigurationException(format!(
                    "Invalid identity pool configuration. Check assigned IAM roles for this pool. ({why})"
                ))
            }
            VendFailure::Unavailable(why) => {
                tracing::error!(reason = %why, "STS unavailable");
                Error::ExternalServiceException("The credentials service (STS) could not be reached.".into())
            }
        })?;
    super::credentials::remember(svc, identity_pool_id, identity_id, &credentials).await?;
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn openid_configuration_names_the_jwks_below_the_issuer() {
        let ctx = CallContext::new("https://id.example/prod/");
        let doc = openid_configuration(&ctx);
        assert_eq!(doc["issuer"], "https://id.example/prod/cognito-identity");
        assert_eq!(doc["jwks_uri"], "https://id.example/prod/cognito-identity/.well-known/jwks.json");
    }
}
