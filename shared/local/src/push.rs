//! Local push sync: platform endpoints are made-up SNS-style ARNs, and every push is recorded
//! in the outbox (channel "PUSH", destination = the endpoint ARN, body = the SNS JSON message).
//! Nothing leaves the machine.

use crate::outbox::Outbox;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tessera_core::ports::{Clock, Messenger, OutgoingMessage, PushNotifier};
use tessera_core::{Error, Result};

pub struct OutboxPushNotifier {
    outbox: Arc<Outbox>,
    clock: Arc<dyn Clock>,
}

impl OutboxPushNotifier {
    pub fn new(outbox: Arc<Outbox>, clock: Arc<dyn Clock>) -> Self {
        OutboxPushNotifier { outbox, clock }
    }
}

/// `arn:aws:sns:{region}:{account}:app/{PLATFORM}/{name}` →
/// `arn:aws:sns:{region}:{account}:endpoint/{PLATFORM}/{name}/{id}`, the id derived from the
/// application and the token so the same token always gets the same endpoint (as in SNS).
pub fn local_endpoint_arn(application_arn: &str, token: &str) -> Option<String> {
    let (prefix, app) = application_arn.split_once(":app/")?;
    let (platform, name) = app.split_once('/')?;
    if !prefix.starts_with("arn:aws:sns:") || platform.is_empty() || name.is_empty() {
        return None;
    }
    let digest =
        Sha256::new().chain_update(application_arn).chain_update([0u8]).chain_update(token).finalize();
    let hex = hex::encode(digest.get(..16)?);
    let id = format!(
        "{}-{}-{}-{}-{}",
        hex.get(..8)?,
        hex.get(8..12)?,
        hex.get(12..16)?,
        hex.get(16..20)?,
        hex.get(20..32)?
    );
    Some(format!("{prefix}:endpoint/{platform}/{name}/{id}"))
}

#[async_trait]
impl PushNotifier for OutboxPushNotifier {
    async fn create_platform_endpoint(&self, application_arn: &str, token: &str) -> Result<String> {
        local_endpoint_arn(application_arn, token).ok_or_else(|| {
            Error::InvalidConfigurationException(format!(
                "{application_arn} is not an SNS platform application ARN."
            ))
        })
    }

    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<()> {
        let msg = OutgoingMessage {
            pool_id: String::new(),
            username: String::new(),
            channel: "PUSH".into(),
            destination: endpoint_arn.to_string(),
            subject: None,
            body: message.to_string(),
            code: None,
            sent_at: self.clock.now_millis(),
        };
        self.outbox.send(None, &msg).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_stable_per_token() {
        let app = "arn:aws:sns:us-east-1:123456789012:app/GCM/my-app";
        let a = local_endpoint_arn(app, "token-1").unwrap_or_default();
        assert!(a.starts_with("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/my-app/"), "{a}");
        assert_eq!(a.len(), "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/my-app/".len() + 36);
        assert_eq!(Some(a.clone()), local_endpoint_arn(app, "token-1"));
        assert_ne!(Some(a), local_endpoint_arn(app, "token-2"));
        assert_eq!(local_endpoint_arn("arn:aws:sns:us-east-1:1:topic", "t"), None);
    }
}
