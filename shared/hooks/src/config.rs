//! Reading a hook's configuration from environment variables (or, in tests, from a map).

use std::collections::HashMap;

/// A configuration problem found at start-up: the function refuses to start rather than run
/// with a rule silently off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Looks one variable up.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Where configuration comes from: the process environment, or a map in tests. Empty values
/// count as unset.
pub struct Vars<'a>(Lookup<'a>);

impl<'a> Vars<'a> {
    pub fn env() -> Vars<'static> {
        Vars(Box::new(|k| std::env::var(k).ok()))
    }

    pub fn map(map: &'a HashMap<String, String>) -> Vars<'a> {
        Vars(Box::new(move |k| map.get(k).cloned()))
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError(format!("missing environment variable {name}")))
    }

    /// A comma- or whitespace-separated list.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError(format!("{name} must be true or false, not {v:?}"))),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| ConfigError(format!("{name} must be a non-negative number, not {v:?}")))
            })
            .transpose()
    }
}

/// A map for tests and for `from_vars` callers: `[("NAME", "value"), …]`.
pub fn vars_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
