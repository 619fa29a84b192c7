//! The local outbox: every email and SMS is appended to `outbox.jsonl` in the data directory,
//! printed on the console, and listed by `GET /_dev/messages`. Nothing leaves the machine.

use async_trait::async_trait;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use tessera_core::ports::{Messenger, OutgoingMessage};
use tessera_core::{Error, Result};

pub struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Outbox {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Outbox { path: data_dir.join("outbox.jsonl"), lock: Mutex::new(()) }
    }

    /// Every message sent so far, oldest first.
    pub fn messages(&self) -> Vec<OutgoingMessage> {
        let Ok(text) = std::fs::read_to_string(&self.path) else { return vec![] };
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

#[async_trait]
impl Messenger for Outbox {
    async fn send(&self, _from: Option<&str>, msg: &OutgoingMessage) -> Result<()> {
        let line = serde_json::to_string(msg).map_err(Error::internal)?;
        {
            let _guard = self.lock.lock().map_err(Error::internal)?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(Error::internal)?;
            writeln!(f, "{line}").map_err(Error::internal)?;
        }
        // The local dev outbox is the one place codes may be shown.
        eprintln!(
            "[outbox] {} to {} (pool {}, user {}): {}",
            msg.channel, msg.destination, msg.pool_id, msg.username, msg.body
        );
        Ok(())
    }
}
