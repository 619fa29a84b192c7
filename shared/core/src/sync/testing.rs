//! A service for the unit tests of Sync's modules: a store that holds nothing (or has every
//! item asked for), no messenger, the system clock and randomness, a fixed cipher key.

#![allow(clippy::unwrap_used)]

use crate::error::Result;
use crate::service::Service;
use crate::store::{Item, StoreError, Write};
use serde_json::json;

pub(super) fn test_service(limits: crate::service::Limits) -> Service {
    service_with(false, limits)
}

/// A service over a store that holds nothing, or (`found`) has every item asked for (empty).
pub(super) fn service_with(found: bool, limits: crate::service::Limits) -> Service {
    struct NoStore(bool);
    #[async_trait::async_trait]
    impl crate::store::Store for NoStore {
        async fn get(&self, pk: &str, sk: &str, _: i64) -> Result<Option<Item>, StoreError> {
            Ok(self.0.then(|| Item::new(pk, sk, json!({}))))
        }
        async fn query(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: usize,
            _: i64,
        ) -> Result<crate::store::Page, StoreError> {
            Ok(Default::default())
        }
        async fn transact(&self, _: Vec<Write>, _: i64) -> Result<(), StoreError> {
            Ok(())
        }
    }
    struct NoMessenger;
    #[async_trait::async_trait]
    impl crate::ports::Messenger for NoMessenger {
        async fn send(&self, _: Option<&str>, _: &crate::ports::OutgoingMessage) -> Result<()> {
            Ok(())
        }
    }
    let config = crate::ServiceConfig { limits, ..Default::default() };
    Service::new(
        std::sync::Arc::new(NoStore(found)),
        std::sync::Arc::new(NoMessenger),
        std::sync::Arc::new(crate::ports::SystemClock),
        std::sync::Arc::new(crate::ports::SystemRng),
        std::sync::Arc::new(crate::ports::AesGcmCipher::new(&[7u8; 32]).unwrap()),
        config,
    )
}
