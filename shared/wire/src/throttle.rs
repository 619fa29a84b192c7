//! Request-rate quotas as Cognito's: every operation belongs to a category with a rate, each
//! a token bucket per server (Cognito's are per account and Region, i.e. per deployment), and
//! a request over it answers `TooManyRequestsException` "Rate exceeded". On top of the
//! categories: Cognito's 5 RPS per operation and user pool for the pool-resource categories,
//! its per-user quotas (here per access token), and Tessera's own low quotas for SignUps that
//! text a phone number and for GetId without logins. The table is `shared/wire/throttle.txt`,
//! which also sets API Gateway's route throttling (tools/gen-functions.py).

use crate::dispatch::{COGNITO_IDENTITY, COGNITO_IDP};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, OnceLock};

/// The table, as shipped: categories, default rates and their operations.
pub const TABLE: &str = include_str!("../throttle.txt");

/// Limits on top of the categories (no operations of their own).
pub const PER_POOL_OPERATION: &str = "PerPoolOperation";
pub const PER_USER_READ: &str = "PerUserRead";
pub const PER_USER_WRITE: &str = "PerUserWrite";
pub const SIGN_UP_SMS: &str = "SignUpSms";
pub const GET_ID_UNAUTHENTICATED: &str = "GetIdUnauthenticated";
/// RespondToAuthChallenge's own quota; beyond it, challenges count against UserAuthentication.
pub const CHALLENGE: &str = "UserAuthenticationChallenge";
pub const USER_AUTHENTICATION: &str = "UserAuthentication";
pub const USER_ACCOUNT_RECOVERY: &str = "UserAccountRecovery";
/// Categories whose operations Cognito also holds to 5 RPS on one user pool.
pub const PER_POOL_CATEGORIES: &[&str] =
    &["UserPoolResourceRead", "UserPoolResourceUpdate", "UserPoolClientRead", "UserPoolClientUpdate"];
/// Where an operation missing from the table goes (none of the served ones: a test checks).
pub const UNCLASSIFIED: &str = "UserPoolRead";

/// A token bucket's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_sec: f64,
    /// Requests at once after a quiet spell.
    pub burst: f64,
}

struct Table {
    /// (service, operation) → category.
    operations: HashMap<(String, String), &'static str>,
    /// Category → its default rate, in table order.
    defaults: Vec<(&'static str, Rate)>,
}

/// The service an entry names: `identity:GetId`, `sync:ListRecords`, bare = cognito-idp.
fn table_service(prefix: &str) -> Option<&'static str> {
    match prefix {
        "identity" => Some(crate::dispatch::COGNITO_IDENTITY),
        "sync" => Some(crate::dispatch::COGNITO_SYNC),
        "tessera" => Some(crate::dispatch::TESSERA),
        _ => None,
    }
}

/// Parses the table; a malformed table is a build-time mistake the unit tests catch, so a
/// bad line here is skipped rather than fatal.
fn parse_table(text: &'static str) -> Table {
    let mut table = Table { operations: HashMap::new(), defaults: Vec::new() };
    let mut current: Option<&'static str> = None;
    for line in text.lines() {
        let content = line.split('#').next().unwrap_or_default();
        if content.trim().is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let ops: Vec<&'static str> = if content.starts_with(char::is_whitespace) {
            words.collect()
        } else {
            let (Some(name), Some(rate), Some(burst)) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let (Ok(per_sec), Ok(burst)) = (rate.parse(), burst.parse()) else { continue };
            table.defaults.push((name, Rate { per_sec, burst }));
            current = Some(name);
            words.collect()
        };
        let Some(category) = current else { continue };
        for op in ops {
            let (service, name) = match op.split_once(':') {
                Some((prefix, name)) => (table_service(prefix).unwrap_or("unknown"), name),
                None => (crate::dispatch::COGNITO_IDP, op),
            };
            table.operations.insert((service.to_string(), name.to_string()), category);
        }
    }
    table
}

fn table() -> &'static Table {
    static TABLE_PARSED: OnceLock<Table> = OnceLock::new();
    TABLE_PARSED.get_or_init(|| parse_table(TABLE))
}

/// The category an operation counts against.
pub fn category_of(service: &str, operation: &str) -> Option<&'static str> {
    table().operations.get(&(service.to_string(), operation.to_string())).copied()
}

/// Every category and limit with its default rate, in table order.
pub fn defaults() -> impl Iterator<Item = (&'static str, Rate)> {
    table().defaults.iter().copied()
}

/// The quotas a server enforces: the table's defaults with the overrides of
/// `--throttle`/`TESSERA_THROTTLE`, or none at all (`off`).
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleSettings {
    pub enabled: bool,
    /// Category → its rate, or None when that category is unlimited (`Name=off`).
    pub overrides: HashMap<String, Option<Rate>>,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings { enabled: true, overrides: HashMap::new() }
    }
}

impl ThrottleSettings {
    /// `off`, or comma-separated `Category=rate[:burst]` / `Category=off`, e.g.
    /// `UserAuthentication=200,SignUpSms=0.5:10`. A rate without burst keeps the table's ratio
    /// of burst to rate (ten seconds' worth, for Cognito's categories).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("off") {
            return Ok(ThrottleSettings { enabled: false, overrides: HashMap::new() });
        }
        let mut settings = ThrottleSettings::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) =
                item.split_once('=').ok_or_else(|| format!("throttle: `{item}` is not Category=rate"))?;
            let (name, value) = (name.trim(), value.trim());
            let default = defaults()
                .find(|(n, _)| *n == name)
                .map(|(_, r)| r)
                .ok_or_else(|| format!("throttle: unknown category `{name}`"))?;
            if value.eq_ignore_ascii_case("off") {
                settings.overrides.insert(name.to_string(), None);
                continue;
            }
            let number = |s: &str| -> Result<f64, String> {
                match s.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                    _ => Err(format!("throttle: `{item}`: rates and bursts are positive numbers")),
                }
            };
            let rate = match value.split_once(':') {
                Some((rate, burst)) => Rate { per_sec: number(rate)?, burst: number(burst)? },
                None => {
                    let per_sec = number(value)?;
                    Rate { per_sec, burst: per_sec * default.burst / default.per_sec }
                }
            };
            if rate.burst < 1.0 {
                return Err(format!("throttle: `{item}`: a burst below 1 would refuse every request"));
            }
            settings.overrides.insert(name.to_string(), Some(rate));
        }
        Ok(settings)
    }

    /// The rate a category or limit is held to; None when unlimited.
    pub fn rate(&self, category: &str) -> Option<Rate> {
        if !self.enabled {
            return None;
        }
        if let Some(r) = self.overrides.get(category) {
            return *r;
        }
        // The challenge quota follows UserAuthentication's (three times) unless set itself.
        if category == CHALLENGE {
            if let Some(ua) = self.overrides.get(USER_AUTHENTICATION) {
                return ua.map(|r| Rate { per_sec: r.per_sec * 3.0, burst: r.burst * 3.0 });
            }
        }
        defaults().find(|(n, _)| *n == category).map(|(_, r)| r)
    }
}

/// Which bucket: a category for the whole server, or a limit on one pool's operation or one
/// access token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Deployment,
    PoolOperation {
        pool: String,
        operation: String,
    },
    /// A keyed hash of the access token's signature: a caller cannot aim at someone else's
    /// bucket without holding their token.
    Token(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub category: &'static str,
    pub scope: Scope,
}

/// One requirement of a request: a token from the first of these buckets that has one.
pub type Demand = Vec<Key>;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Buckets kept before idle (full) ones are dropped.
const TIDY_AT: usize = 4096;

/// One server's buckets. Each server (and each test's server) has its own; nothing is global.
pub struct Throttle {
    pub settings: ThrottleSettings,
    buckets: Mutex<HashMap<Key, Bucket>>,
    token_keys: std::collections::hash_map::RandomState,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(ThrottleSettings::default())
    }
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Throttle {
            settings,
            buckets: Mutex::new(HashMap::new()),
            token_keys: std::collections::hash_map::RandomState::new(),
        }
    }

    /// No quotas at all: for in-process harnesses (fuzzing, benchmarks) that drive the wire
    /// layer far beyond any production rate.
    pub fn off() -> Self {
        Throttle::new(ThrottleSettings { enabled: false, overrides: HashMap::new() })
    }

    /// The key of an access token's per-user buckets.
    pub fn token_scope(&self, access_token: &str) -> Scope {
        let signature = access_token.rsplit('.').next().unwrap_or(access_token);
        Scope::Token(self.token_keys.hash_one(signature))
    }

    /// The buckets a request draws on. `texts_phone`: a SignUp that will send an SMS.
    pub fn demands(&self, service: &str, op: &str, input: &Value, texts_phone: bool) -> Vec<Demand> {
        let server = |category| vec![Key { category, scope: Scope::Deployment }];
        let category = category_of(service, op).unwrap_or(UNCLASSIFIED);
        let text = |name: &str| input.get(name).and_then(Value::as_str);
        let mut out = Vec::new();
        if category == CHALLENGE {
            if text("ChallengeName") == Some("NEW_PASSWORD_REQUIRED") {
                out.push(server(USER_ACCOUNT_RECOVERY));
            } else {
                out.push(vec![
                    Key { category: CHALLENGE, scope: Scope::Deployment },
                    Key { category: USER_AUTHENTICATION, scope: Scope::Deployment },
                ]);
            }
        } else {
            out.push(server(category));
        }
        if PER_POOL_CATEGORIES.contains(&category) {
            if let Some(pool) = text("UserPoolId") {
                let scope = Scope::PoolOperation { pool: pool.to_string(), operation: op.to_string() };
                out.push(vec![Key { category: PER_POOL_OPERATION, scope }]);
            }
        }
        if service == COGNITO_IDP {
            if let Some(token) = text("AccessToken") {
                let limit = match category {
                    "UserRead" | "UserResourceRead" => PER_USER_READ,
                    _ => PER_USER_WRITE,
                };
                out.push(vec![Key { category: limit, scope: self.token_scope(token) }]);
            }
        }
        if texts_phone {
            out.push(server(SIGN_UP_SMS));
        }
        if service == COGNITO_IDENTITY && op == "GetId" {
            let logins = input.get("Logins").and_then(Value::as_object);
            if logins.is_none_or(serde_json::Map::is_empty) {
                out.push(server(GET_ID_UNAUTHENTICATED));
            }
        }
        out
    }

    /// Takes one token for each demand, all or none. `Err(category)` names the exhausted one.
    /// The lock is held only here, never across an await.
    pub fn admit(&self, now_ms: i64, demands: &[Demand]) -> Result<(), &'static str> {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; refuse nothing rather than everything.
            return Ok(());
        };
        // Work on copies; the buckets change only when every demand is met.
        let mut working: Vec<(Key, Bucket)> = Vec::with_capacity(demands.len());
        'demands: for demand in demands {
            let mut limited = None;
            for key in demand {
                let Some(rate) = self.settings.rate(key.category) else { continue 'demands };
                let slot = match working.iter().position(|(k, _)| k == key) {
                    Some(i) => i,
                    None => {
                        let mut bucket =
                            buckets.get(key).copied().unwrap_or(Bucket { tokens: rate.burst, at_ms: now_ms });
                        refill(&mut bucket, rate, now_ms);
                        working.push((key.clone(), bucket));
                        working.len() - 1
                    }
                };
                if let Some((_, bucket)) = working.get_mut(slot) {
                    if bucket.tokens >= 1.0 {
                        bucket.tokens -= 1.0;
                        continue 'demands;
                    }
                }
                limited.get_or_insert(key.category);
            }
            return Err(limited.unwrap_or(UNCLASSIFIED));
        }
        for (key, bucket) in working {
            buckets.insert(key, bucket);
        }
        if buckets.len() > TIDY_AT {
            let settings = &self.settings;
            buckets.retain(|key, bucket| match settings.rate(key.category) {
                Some(rate) => {
                    let mut b = *bucket;
                    refill(&mut b, rate, now_ms);
                    b.tokens < rate.burst
                }
                None => false,
            });
        }
        Ok(())
    }
}

fn refill(bucket: &mut Bucket, rate: Rate, now_ms: i64) {
    let elapsed_ms = now_ms.saturating_sub(bucket.at_ms).max(0);
    #[allow(clippy::cast_precision_loss)] // milliseconds since the bucket's last use
    let gained = elapsed_ms as f64 / 1000.0 * rate.per_sec;
    bucket.tokens = (bucket.tokens + gained).min(rate.burst);
    bucket.at_ms = bucket.at_ms.max(now_ms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::COGNITO_SYNC;
    use crate::model::ApiModel;

    fn key(category: &'static str) -> Key {
        Key { category, scope: Scope::Deployment }
    }

    #[test]
    fn every_operation_of_every_model_has_one_category() {
        for (service, model, prefix) in [
            (COGNITO_IDP, ApiModel::cognito_idp(), ""),
            (COGNITO_IDENTITY, ApiModel::cognito_identity(), "identity:"),
            (COGNITO_SYNC, ApiModel::cognito_sync(), "sync:"),
            (crate::dispatch::TESSERA, ApiModel::tessera(), "tessera:"),
        ] {
            for op in model.operation_names() {
                assert!(category_of(service, op).is_some(), "{prefix}{op} has no category");
            }
        }
        // Each operation is listed once.
        let mut seen = std::collections::HashSet::new();
        for line in TABLE.lines() {
            let content = line.split('#').next().unwrap_or_default();
            let words: Vec<&str> = content.split_whitespace().collect();
            let ops = if content.starts_with(char::is_whitespace) {
                &words[..]
            } else {
                &words[words.len().min(3)..]
            };
            for op in ops {
                assert!(seen.insert(*op), "{op} is listed twice");
            }
        }
        assert_eq!(category_of(COGNITO_IDP, "SignUp"), Some("UserCreation"));
        assert_eq!(category_of(COGNITO_IDP, "InitiateAuth"), Some("UserAuthentication"));
        assert_eq!(category_of(COGNITO_IDENTITY, "GetId"), Some("GetId"));
        assert_eq!(category_of(COGNITO_SYNC, "UpdateRecords"), Some("SyncUpdate"));
        assert_eq!(category_of(COGNITO_IDP, "ListTagsForResource"), Some("UserPoolResourceRead"));
        assert_eq!(category_of(COGNITO_IDENTITY, "ListTagsForResource"), Some("IdentityPoolRead"));
        for limit in [
            PER_POOL_OPERATION,
            PER_USER_READ,
            PER_USER_WRITE,
            SIGN_UP_SMS,
            GET_ID_UNAUTHENTICATED,
            CHALLENGE,
        ] {
            assert!(defaults().any(|(n, _)| n == limit), "{limit} has a default");
        }
    }

    #[test]
    fn cognitos_published_defaults() {
        let s = ThrottleSettings::default();
        let rate = |c: &str| s.rate(c).map(|r| r.per_sec);
        assert_eq!(rate("UserAuthentication"), Some(120.0));
        assert_eq!(rate("UserCreation"), Some(50.0));
        assert_eq!(rate("UserAccountRecovery"), Some(30.0));
        assert_eq!(rate("UserUpdate"), Some(25.0));
        assert_eq!(rate("UserList"), Some(30.0));
        assert_eq!(rate("UserPoolUpdate"), Some(15.0));
        assert_eq!(rate(CHALLENGE), Some(360.0));
        assert_eq!(rate("GetId"), Some(25.0));
        assert_eq!(rate("GetCredentialsForIdentity"), Some(200.0));
        assert_eq!(rate(PER_POOL_OPERATION), Some(5.0));
        assert!(rate(SIGN_UP_SMS).unwrap() < 1.0);
        assert!(rate(GET_ID_UNAUTHENTICATED).unwrap() < rate("GetId").unwrap());
    }

    #[test]
    fn settings_parse_and_refuse_nonsense() {
        let s = ThrottleSettings::parse("UserAuthentication=10, SignUpSms=0.5:3,UserList=off").unwrap();
        assert_eq!(s.rate("UserAuthentication"), Some(Rate { per_sec: 10.0, burst: 100.0 }));
        assert_eq!(
            s.rate(CHALLENGE),
            Some(Rate { per_sec: 30.0, burst: 300.0 }),
            "follows UserAuthentication"
        );
        assert_eq!(s.rate(SIGN_UP_SMS), Some(Rate { per_sec: 0.5, burst: 3.0 }));
        assert_eq!(s.rate("UserList"), None);
        assert_eq!(s.rate("UserCreation"), Some(Rate { per_sec: 50.0, burst: 500.0 }));
        assert_eq!(ThrottleSettings::parse("").unwrap(), ThrottleSettings::default());
        assert!(!ThrottleSettings::parse("off").unwrap().enabled);
        assert_eq!(ThrottleSettings::parse("off").unwrap().rate("UserCreation"), None);
        for bad in [
            "Nope=1",
            "UserCreation",
            "UserCreation=0",
            "UserCreation=-1",
            "UserCreation=NaN",
            "UserCreation=inf",
            "UserCreation=1:0.5",
            "UserCreation=x",
        ] {
            assert!(ThrottleSettings::parse(bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn a_bucket_empties_and_refills_with_time() {
        let t = Throttle::new(ThrottleSettings::parse("UserCreation=2:3").unwrap());
        let d = vec![vec![key("UserCreation")]];
        for _ in 0..3 {
            assert_eq!(t.admit(0, &d), Ok(()));
        }
        assert_eq!(t.admit(0, &d), Err("UserCreation"));
        assert_eq!(t.admit(499, &d), Err("UserCreation"), "not yet a whole token");
        assert_eq!(t.admit(500, &d), Ok(()));
        assert_eq!(t.admit(500, &d), Err("UserCreation"));
        // Never more than the burst, however long the quiet.
        for _ in 0..3 {
            assert_eq!(t.admit(1_000_000, &d), Ok(()));
        }
        assert_eq!(t.admit(1_000_000, &d), Err("UserCreation"));
        // Other categories are untouched.
        assert_eq!(t.admit(1_000_000, &[vec![key("UserRead")]]), Ok(()));
    }

    #[test]
    fn all_or_nothing_and_alternatives() {
        let t = Throttle::new(
            ThrottleSettings::parse(
                "UserAuthentication=1:1,UserAuthenticationChallenge=1:1,UserCreation=1:2",
            )
            .unwrap(),
        );
        // The second demand fails: the first takes nothing.
        let both =
            vec![vec![key("UserCreation")], vec![key("UserAuthentication")], vec![key("UserAuthentication")]];
        assert_eq!(t.admit(0, &both), Err("UserAuthentication"));
        assert_eq!(t.admit(0, &[vec![key("UserCreation")], vec![key("UserCreation")]]), Ok(()));
        assert_eq!(t.admit(0, &[vec![key("UserCreation")]]), Err("UserCreation"));
        // A challenge uses its own bucket, then UserAuthentication's, then is refused.
        let challenge = vec![vec![key(CHALLENGE), key(USER_AUTHENTICATION)]];
        assert_eq!(t.admit(0, &challenge), Ok(()));
        assert_eq!(t.admit(0, &challenge), Ok(()));
        assert_eq!(t.admit(0, &challenge), Err(CHALLENGE));
        assert_eq!(t.admit(0, &[vec![key(USER_AUTHENTICATION)]]), Err(USER_AUTHENTICATION));
    }

    #[test]
    fn unlimited_categories_and_off() {
        let t = Throttle::new(ThrottleSettings::parse("off").unwrap());
        for _ in 0..10_000 {
            assert_eq!(t.admit(0, &[vec![key("LimitManagement")]]), Ok(()));
        }
    }

    #[test]
    fn idle_buckets_are_dropped_and_tokens_scope_apart() {
        let t = Throttle::new(ThrottleSettings::parse("PerUserRead=1:1").unwrap());
        let a = t.token_scope("h.p.sigA");
        assert_eq!(a, t.token_scope("other.payload.sigA"), "the signature names the token");
        assert_ne!(a, t.token_scope("h.p.sigB"));
        let per = |scope: Scope| vec![vec![Key { category: PER_USER_READ, scope }]];
        assert_eq!(t.admit(0, &per(a.clone())), Ok(()));
        assert_eq!(t.admit(0, &per(a.clone())), Err(PER_USER_READ));
        assert_eq!(t.admit(0, &per(t.token_scope("h.p.sigB"))), Ok(()));
        for i in 0..(TIDY_AT + 10) {
            assert_eq!(t.admit(10_000, &per(t.token_scope(&format!("x.y.{i}")))), Ok(()));
        }
        let len = t.buckets.lock().unwrap().len();
        assert!(len <= TIDY_AT + 10, "{len} buckets");
        assert_eq!(t.admit(20_000, &per(t.token_scope("x.y.later"))), Ok(()));
        assert!(t.buckets.lock().unwrap().len() < 100, "full buckets were dropped");
    }
}
