//! What earlier answers handed out: pool and client ids, usernames, tokens, sessions, codes…
//! Inputs reuse them, so generated calls get past "not found" into the operations' own logic.

use crate::rng::Rng;
use serde_json::Value;
use std::collections::BTreeMap;

/// Values kept per name; the oldest goes first.
const KEEP: usize = 24;
/// Longer strings are not kept (a whole CSV header list, a JWKS…).
const LONGEST: usize = 4096;

#[derive(Default)]
pub struct World {
    values: BTreeMap<String, Vec<String>>,
}

impl World {
    pub fn add(&mut self, name: &str, value: &str) {
        if value.is_empty() || value.len() > LONGEST {
            return;
        }
        let list = self.values.entry(name.to_string()).or_default();
        if list.iter().any(|v| v == value) {
            return;
        }
        if list.len() >= KEEP {
            list.remove(0);
        }
        list.push(value.to_string());
    }

    /// Mostly the newest value (the objects the last seeding made are alive), sometimes an
    /// older one (deleted, revoked, expired: the stale-reference paths).
    pub fn get(&self, name: &str, rng: &mut Rng) -> Option<String> {
        let list = self.values.get(name)?;
        if rng.chance(65) {
            list.last().cloned()
        } else {
            rng.pick(list).cloned()
        }
    }

    /// The newest value under `name`.
    pub fn latest(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|l| l.last()).map(String::as_str)
    }

    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// Keeps every string of an answer (or of an accepted request) under its member name.
    /// Nested ids get the name a request uses for them (`UserPool.Id` → `UserPoolId`).
    pub fn harvest(&mut self, value: &Value) {
        self.walk(None, value);
    }

    fn walk(&mut self, parent: Option<&str>, value: &Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) => {
                            let name = match (parent, k.as_str()) {
                                (Some("UserPool"), "Id") => "UserPoolId",
                                (Some("IdentityProvider"), "ProviderName") => "ProviderName",
                                (_, "Token") => "OpenIdToken",
                                _ => k.as_str(),
                            };
                            self.add(name, s);
                        }
                        _ => self.walk(Some(k), v),
                    }
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.walk(parent, v);
                }
            }
            _ => {}
        }
    }
}
