//! Request bodies from the API models: first as a client would send them (model-valid, reusing
//! what earlier answers handed out), then mutated: wrong types, lengths, unicode, deep nesting,
//! huge numbers, missing and unknown members; and at the byte level, broken JSON.

use crate::model::{Model, Operation};
use crate::rng::Rng;
use crate::world::World;
use base64::Engine;
use serde_json::{json, Map, Number, Value};

/// The password every seeded user has.
pub const PASSWORD: &str = "Correct-Horse-9";

/// Strings that break naive code: control characters, bidi overrides, combining marks,
/// non-BMP characters, path and markup injection, format strings.
const NASTY: &[&str] = &[
    "\u{0}",
    "a\u{0}b",
    "\u{202e}evil",
    "e\u{301}\u{301}\u{301}",
    "\u{1F4A5}",
    "\u{FFFF}\u{FFFE}",
    "\u{10FFFF}",
    "../../../etc/passwd",
    "%00%2e%2e%2f",
    "<script>alert(1)</script>",
    "{username}",
    "{####}",
    "%s%s%s%n",
    "' OR '1'='1",
    "\\",
    "\"",
    "\r\n\r\nX-Injected: 1",
    "   ",
    "#",
    "\u{feff}",
    "İ",
    "ß",
    "ﬃ",
    "arn:aws:iam::000000000000:role/../../x",
    "us-east-1_",
    "_",
    "-1",
    "1e999",
    "NaN",
    "true",
    "null",
];

const ATTRIBUTE_NAMES: &[&str] = &[
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "email_verified",
    "phone_number_verified",
    "custom:tier",
    "sub",
    "address",
    "birthdate",
    "locale",
    "updated_at",
];

pub struct Gen<'a> {
    pub rng: &'a mut Rng,
    pub world: &'a World,
    pub model: &'a Model,
}

impl Gen<'_> {
    /// A body the model accepts, mostly.
    pub fn input(&mut self, op: &Operation) -> Value {
        match op.input.as_deref() {
            Some(shape) => self.value(shape, "", 0),
            None => json!({}),
        }
    }

    fn value(&mut self, shape_name: &str, member: &str, depth: u32) -> Value {
        let Some(shape) = self.model.shape(shape_name) else { return Value::Null };
        if shape["document"].as_bool() == Some(true) {
            return json!({"fuzz": [1, "two", {"three": null}]});
        }
        let (min, max) = (shape["min"].as_f64(), shape["max"].as_f64());
        match shape["type"].as_str().unwrap_or_default() {
            "structure" => self.structure(shape_name, shape, depth),
            "list" => {
                let (lo, hi) = count_bounds(min, max, 3);
                let n = self.rng.between(lo, hi) as usize;
                let member_shape = shape["member"].as_str().unwrap_or_default().to_string();
                Value::Array((0..n).map(|_| self.value(&member_shape, member, depth + 1)).collect())
            }
            "map" => self.map(shape, member, depth),
            "string" => Value::String(self.string(shape, member)),
            "integer" | "long" | "short" | "byte" => {
                let lo = min.map(|m| m as i64).unwrap_or(0);
                let hi =
                    max.map(|m| m as i64).unwrap_or(lo.saturating_add(100)).min(lo.saturating_add(1_000_000));
                let n = if self.rng.chance(50) { lo } else { self.rng.between(lo, hi) };
                Value::Number(n.into())
            }
            "float" | "double" => {
                Number::from_f64(self.rng.below(1000) as f64 / 10.0).map_or(Value::Null, Value::Number)
            }
            "boolean" => Value::Bool(self.rng.chance(50)),
            "timestamp" => Value::Number((1_700_000_000 + self.rng.below(100_000_000) as i64).into()),
            "blob" => {
                let n = self.rng.below(48) + 1;
                Value::String(base64::engine::general_purpose::STANDARD.encode(self.rng.bytes(n)))
            }
            _ => Value::Null,
        }
    }

    fn structure(&mut self, shape_name: &str, shape: &Value, depth: u32) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = shape["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if shape_name == "AttributeType" {
            let name = self.attribute_name();
            let value = self.attribute_value(&name);
            out.insert("Name".into(), json!(name));
            out.insert("Value".into(), json!(value));
            return Value::Object(out);
        }
        let Some(members) = shape["members"].as_object() else { return Value::Object(out) };
        // Optional members thin out with depth, so nesting stays bounded.
        let optional_chance = match depth {
            0 => 45,
            1 => 30,
            2 => 15,
            _ => 5,
        };
        for (name, target) in members {
            let needed = required.contains(&name.as_str());
            if needed || self.rng.chance(optional_chance) {
                let target = target.as_str().unwrap_or_default().to_string();
                let v = self.value(&target, name, depth + 1);
                out.insert(name.clone(), v);
            }
        }
        Value::Object(out)
    }

    fn map(&mut self, shape: &Value, member: &str, depth: u32) -> Value {
        let keys: &[&str] = match member {
            "AuthParameters" => {
                &["USERNAME", "PASSWORD", "SRP_A", "SECRET_HASH", "REFRESH_TOKEN", "DEVICE_KEY"]
            }
            "ChallengeResponses" => &[
                "USERNAME",
                "NEW_PASSWORD",
                "SMS_MFA_CODE",
                "SOFTWARE_TOKEN_MFA_CODE",
                "PASSWORD_CLAIM_SIGNATURE",
                "PASSWORD_CLAIM_SECRET_BLOCK",
                "TIMESTAMP",
                "ANSWER",
                "SECRET_HASH",
                "MFAS_CAN_SETUP",
                "EMAIL_OTP_CODE",
                "userAttributes.email",
            ],
            _ => &[],
        };
        let mut out = Map::new();
        if member == "Logins" || member == "SupportedLoginProviders" {
            let pool = self.world.get("UserPoolId", self.rng).unwrap_or_else(|| "us-east-1_fuzz".into());
            let (key, token) = match self.rng.below(4) {
                0 => (format!("{}/{pool}", crate::harness::HOST), self.world.get("IdToken", self.rng)),
                1 => ("cognito-identity.amazonaws.com".to_string(), self.world.get("OpenIdToken", self.rng)),
                2 => ("graph.facebook.com".to_string(), None),
                _ => ("login.fuzz".to_string(), None),
            };
            out.insert(key, json!(token.unwrap_or_else(|| self.rng.alnum(20))));
            return Value::Object(out);
        }
        if !keys.is_empty() {
            let n = self.rng.below(keys.len()) + 1;
            for _ in 0..n {
                let key = *self.rng.pick(keys).unwrap_or(&"USERNAME");
                let v = self.named_string(key).unwrap_or_else(|| self.rng.alnum(8));
                out.insert(key.to_string(), json!(v));
            }
            return Value::Object(out);
        }
        let (lo, hi) = count_bounds(shape["min"].as_f64(), shape["max"].as_f64(), 2);
        let n = self.rng.between(lo, hi);
        let key_shape = shape["key"].as_str().unwrap_or_default().to_string();
        let value_shape = shape["value"].as_str().unwrap_or_default().to_string();
        for _ in 0..n {
            let k = match self.value(&key_shape, "", depth + 1) {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let v = self.value(&value_shape, "", depth + 1);
            out.insert(k, v);
        }
        Value::Object(out)
    }

    fn string(&mut self, shape: &Value, member: &str) -> String {
        if let Some(values) = shape["enum"].as_array() {
            if let Some(v) = self.rng.pick(values).and_then(Value::as_str) {
                return v.to_string();
            }
        }
        if self.rng.chance(90) {
            if let Some(s) = self.named_string(member) {
                return s;
            }
        }
        let lo = shape["min"].as_f64().unwrap_or(1.0).max(1.0) as usize;
        if let Some(pattern) = shape["pattern"].as_str() {
            let max = shape["max"].as_f64().map_or(2048, |m| m as usize);
            if let Some(s) = crate::pattern::sample(pattern, self.rng, lo, max) {
                return s;
            }
        }
        let hi = shape["max"].as_f64().map_or(24, |m| m as usize).clamp(lo, lo.max(24));
        let n = self.rng.between(lo as i64, hi as i64) as usize;
        self.rng.alnum(n)
    }

    /// A value that means something for this member: an id, token or code handed out earlier,
    /// the seeded password, an ARN. `None`: nothing special.
    pub fn named_string(&mut self, member: &str) -> Option<String> {
        let world = |g: &mut Self, name: &str| g.world.get(name, g.rng);
        let v = match member {
            "Password" | "ProposedPassword" | "PreviousPassword" | "TemporaryPassword" | "PASSWORD"
            | "NEW_PASSWORD" => Some(
                self.rng
                    .pick(&[PASSWORD, PASSWORD, "Another-Horse-7", "short"])
                    .copied()
                    .unwrap_or(PASSWORD)
                    .into(),
            ),
            "ConfirmationCode"
            | "Code"
            | "UserCode"
            | "SMS_MFA_CODE"
            | "SOFTWARE_TOKEN_MFA_CODE"
            | "EMAIL_OTP_CODE"
            | "ANSWER" => world(self, "Code")
                .filter(|_| self.rng.chance(50))
                .or_else(|| Some(format!("{:06}", self.rng.below(1_000_000)))),
            "USERNAME" | "Username" | "DestinationUser" | "SourceUser" => world(self, "Username"),
            "REFRESH_TOKEN" | "RefreshToken" | "Token" => world(self, "RefreshToken"),
            "DEVICE_KEY" => world(self, "DeviceKey"),
            "SECRET_HASH" => Some(base64::engine::general_purpose::STANDARD.encode(self.rng.bytes(32))),
            "SRP_A" => Some(if self.rng.chance(50) { "0".into() } else { hex_string(self.rng, 384) }),
            "TIMESTAMP" => Some("Sun Dec 6 17:00:00 UTC 2026".into()),
            "PASSWORD_CLAIM_SECRET_BLOCK" => world(self, "SECRET_BLOCK").or_else(|| world(self, "Session")),
            "RoleArn"
            | "SnsCallerArn"
            | "LambdaArn"
            | "KMSKeyID"
            | "CloudWatchLogsRoleArn"
            | "SmsRoleArn"
            | "PreSignUp"
            | "CustomMessage"
            | "PostConfirmation"
            | "PreAuthentication"
            | "PostAuthentication"
            | "DefineAuthChallenge"
            | "CreateAuthChallenge"
            | "VerifyAuthChallengeResponse"
            | "PreTokenGeneration"
            | "UserMigration"
            | "LambdaFunction"
            | "SourceArn" => {
                Some(format!("arn:aws:lambda:us-east-1:000000000000:function:fuzz{}", self.rng.below(3)))
            }
            "authenticated" | "unauthenticated" => Some("arn:aws:iam::000000000000:role/fuzz".into()),
            "PlatformApplicationArn" => Some("arn:aws:sns:us-east-1:000000000000:app/GCM/fuzz".into()),
            "Email" | "email" | "EmailAddress" | "SourceArnEmail" => {
                Some(format!("fuzz{}@example.com", self.rng.below(5)))
            }
            "PhoneNumber" => Some("+15555550100".into()),
            _ => None,
        };
        if v.is_some() {
            return v;
        }
        // Anything else an earlier answer named the same way: ids, names, tokens, sessions.
        if self.rng.chance(85) {
            world(self, member)
        } else {
            None
        }
    }

    fn attribute_name(&mut self) -> String {
        if self.rng.chance(90) {
            self.rng.pick(ATTRIBUTE_NAMES).copied().unwrap_or("email").to_string()
        } else {
            self.rng.pick(NASTY).copied().unwrap_or("x").to_string()
        }
    }

    fn attribute_value(&mut self, name: &str) -> String {
        match name {
            "email" => format!("fuzz{}@example.com", self.rng.below(5)),
            "phone_number" => "+15555550100".into(),
            "email_verified" | "phone_number_verified" => {
                (if self.rng.chance(50) { "true" } else { "false" }).into()
            }
            "birthdate" => "1990-01-01".into(),
            "updated_at" => "1700000000".into(),
            _ => self.rng.alnum(8),
        }
    }
}

fn count_bounds(min: Option<f64>, max: Option<f64>, usual: i64) -> (i64, i64) {
    let lo = min.map_or(0, |m| m as i64).max(0);
    let hi = max.map_or(usual, |m| m as i64).min(lo.max(usual)).max(lo);
    (lo, hi)
}

fn hex_string(rng: &mut Rng, bytes: usize) -> String {
    rng.bytes(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One structural mutation at a random place in `value`.
pub fn mutate(rng: &mut Rng, value: &mut Value) {
    let mut paths = vec![];
    collect_paths(value, &mut vec![], &mut paths);
    let Some(path) = rng.pick(&paths).cloned() else { return };
    let Some(target) = at(value, &path) else { return };
    match rng.below(10) {
        // Wrong JSON type, or an edge value of the right one.
        0 | 1 => *target = odd_value(rng),
        2 => *target = Value::String(long_string(rng)),
        3 => *target = Value::String(rng.pick(NASTY).copied().unwrap_or("").to_string()),
        4 => *target = Value::String(String::new()),
        5 => *target = deep(rng.below(140) + 1),
        6 | 7 => {
            // Drop a member (often a required one): the missing-member path.
            if let Value::Object(map) = target {
                let keys: Vec<String> = map.keys().cloned().collect();
                if let Some(k) = rng.pick(&keys) {
                    map.remove(k);
                }
            } else {
                *target = Value::Null;
            }
        }
        8 => {
            if let Value::Object(map) = target {
                map.insert(format!("Fuzz{}", rng.alnum(4)), odd_value(rng));
            } else if let Value::Array(items) = target {
                let n = rng.below(300);
                let item = items.first().cloned().unwrap_or(Value::Null);
                items.extend(std::iter::repeat_n(item, n));
            }
        }
        _ => {
            if let Value::String(s) = target {
                let insert = rng.pick(NASTY).copied().unwrap_or("");
                let at =
                    s.char_indices().map(|(i, _)| i).nth(rng.below(s.chars().count() + 1)).unwrap_or(s.len());
                s.insert_str(at, insert);
            } else {
                *target = odd_value(rng);
            }
        }
    }
}

fn collect_paths(value: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                here.push(k.clone());
                collect_paths(v, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate().take(8) {
                here.push(i.to_string());
                collect_paths(v, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut cur = value;
    for step in path {
        cur = match cur {
            Value::Object(map) => map.get_mut(step)?,
            Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(1.5),
        5 => json!(1e300),
        6 => json!(-1e300),
        7 => json!(u64::MAX),
        8 => json!(i64::MIN),
        9 => json!([]),
        10 => json!({}),
        11 => json!([1, [2, [3]]]),
        12 => json!("x"),
        13 => json!(2_147_483_648_i64),
        14 => json!({"__type": "x", "message": null}),
        _ => json!(-0.0),
    }
}

fn long_string(rng: &mut Rng) -> String {
    let n = *rng.pick(&[2, 33, 65, 129, 257, 1025, 2049, 20_000, 140_000]).unwrap_or(&129);
    match rng.below(3) {
        0 => "a".repeat(n),
        1 => "\u{1F4A5}".repeat(n / 4 + 1),
        _ => rng.alnum(n),
    }
}

/// `depth` nested arrays around a string.
fn deep(depth: usize) -> Value {
    let mut v = json!("core");
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

/// Byte-level damage to a serialized body: what a broken client or an attacker sends.
pub fn mutate_bytes(rng: &mut Rng, body: &mut Vec<u8>) {
    match rng.below(12) {
        0 => body.truncate(rng.below(body.len() + 1)),
        1 => {
            if !body.is_empty() {
                let i = rng.below(body.len());
                body[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let i = rng.below(body.len() + 1);
            let n = rng.below(8) + 1;
            let junk = rng.bytes(n);
            body.splice(i..i, junk);
        }
        3 => replace_first_number(rng, body),
        4 => insert_in_string(body, b"\\ud800"),
        5 => insert_in_string(body, b"\\u0000"),
        6 => {
            // The same member twice.
            if let Some(i) = body.iter().position(|&b| b == b'{') {
                let dup: Vec<u8> = first_member(body).unwrap_or_else(|| b"\"UserPoolId\":1,".to_vec());
                body.splice(i + 1..i + 1, dup);
            }
        }
        7 => body.splice(0..0, b"\xEF\xBB\xBF".iter().copied()).for_each(drop),
        8 => body.extend_from_slice(b" }{ garbage"),
        9 => {
            *body = rng
                .pick(&[&b""[..], b"null", b"[]", b"\"\"", b"0", b"{}}", b"{\"a\":", b"\xff\xfe"])
                .copied()
                .unwrap_or(b"")
                .to_vec()
        }
        10 => {
            let depth = rng.below(4000) + 1;
            let mut deep = vec![b'['; depth];
            deep.extend(std::iter::repeat_n(b']', depth));
            *body = deep;
        }
        _ => {
            // Whitespace and escapes a strict parser must still accept.
            let text = String::from_utf8_lossy(body).replace(':', " :\t\n ").replace("\"a", "\"\\u0061");
            *body = text.into_bytes();
        }
    }
}

fn replace_first_number(rng: &mut Rng, body: &mut Vec<u8>) {
    let huge: &[&[u8]] = &[
        b"1e400",
        b"-1e400",
        b"123456789012345678901234567890",
        b"-0",
        b"1E-400",
        b"0.0000000000000000000000001",
        b"18446744073709551616",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"1.0",
    ];
    let replacement = rng.pick(huge).copied().unwrap_or(b"1e400").to_vec();
    let text = &*body;
    let start = text.windows(2).position(|w| {
        w[0] == b':' && (w[1].is_ascii_digit() || w[1] == b'-' || w[1] == b't' || w[1] == b'f')
    });
    match start {
        Some(i) => {
            let from = i + 1;
            let end = text[from..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']'))
                .map_or(text.len(), |e| from + e);
            body.splice(from..end, replacement);
        }
        None => {
            if let Some(i) = body.iter().position(|&b| b == b'{') {
                let mut m = b"\"Limit\":".to_vec();
                m.extend(replacement);
                m.push(b',');
                body.splice(i + 1..i + 1, m);
            }
        }
    }
}

fn insert_in_string(body: &mut Vec<u8>, escape: &[u8]) {
    // After the opening quote of the first string value.
    if let Some(i) = body.windows(2).position(|w| w == b":\"") {
        body.splice(i + 2..i + 2, escape.iter().copied());
    }
}

fn first_member(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let (k, _) = v.as_object()?.iter().next()?;
    Some(format!("\"{k}\":{{}},").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceKind;

    #[test]
    fn valid_inputs_name_every_required_member() {
        let model = Model::of(ServiceKind::UserPools);
        let world = World::default();
        let mut rng = Rng::new(7);
        let op = model.operations.iter().find(|o| o.name == "AdminCreateUser").unwrap();
        for _ in 0..50 {
            let v = Gen { rng: &mut rng, world: &world, model }.input(op);
            assert!(v["UserPoolId"].is_string() && v["Username"].is_string(), "{v}");
        }
    }

    #[test]
    fn mutations_change_the_body() {
        let mut rng = Rng::new(3);
        let mut changed = 0;
        for _ in 0..200 {
            let original = json!({"UserPoolId": "us-east-1_abc", "Limit": 5, "Attributes": [{"Name": "a"}]});
            let mut v = original.clone();
            mutate(&mut rng, &mut v);
            let mut bytes = serde_json::to_vec(&original).unwrap();
            let before = bytes.clone();
            mutate_bytes(&mut rng, &mut bytes);
            changed += usize::from(v != original) + usize::from(bytes != before);
        }
        assert!(changed > 300, "{changed}");
    }
}
