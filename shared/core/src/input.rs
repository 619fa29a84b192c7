//! Reading request members: the JSON input every operation gets, and the pagination tokens.

use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// Reads a request, or one of its members, as a typed struct (the rest of the input is
/// ignored). The API model already checked the types, so a failure here is a request that
/// skipped the model's check; `what` names the member in the message.
pub fn typed<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T> {
    T::deserialize(value).map_err(|e| Error::invalid(format!("{what}: {e}")))
}

/// Accessors over a validated JSON input.
pub trait Input {
    fn str_of(&self, name: &str) -> Option<&str>;
    fn req_str(&self, name: &str) -> Result<&str>;
    fn bool_of(&self, name: &str) -> Option<bool>;
    fn i64_of(&self, name: &str) -> Option<i64>;
}

impl Input for Value {
    fn str_of(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
    fn req_str(&self, name: &str) -> Result<&str> {
        self.str_of(name).ok_or_else(|| Error::invalid(validation_message(name, None, MUST_NOT_BE_NULL)))
    }
    fn bool_of(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }
    fn i64_of(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }
}

/// The constraint of a required member.
pub const MUST_NOT_BE_NULL: &str = "Member must not be null";

/// AWS's message for a member that breaks its model constraint, for the checks the wire's
/// model validation cannot make (a member required only sometimes, a limit from the
/// configuration, a pattern checked after decoding): `member` as the model names it
/// (`MaxResults`), `value` as given (`None` for a missing one).
pub fn validation_message(member: &str, value: Option<&str>, constraint: &str) -> String {
    let value = value.map_or_else(|| "null".to_string(), |v| format!("'{v}'"));
    format!(
        "1 validation error detected: Value {value} at '{}' failed to satisfy constraint: {constraint}",
        lower_camel(member)
    )
}

/// A list operation's `Limit`: 1–60, 60 when omitted or 0 (Cognito's page size).
pub fn page_limit(input: &Value) -> usize {
    match input.i64_of("Limit") {
        Some(n) if n > 0 => n.min(60) as usize,
        _ => 60,
    }
}

/// Opaque pagination tokens: the last sort key, base64url.
pub fn encode_next_token(sk: &str) -> String {
    URL_SAFE_NO_PAD.encode(sk.as_bytes())
}

pub fn decode_next_token(token: &str) -> Result<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::invalid("Invalid pagination token."))
}

pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `{"Name": .., "Value": ..}` lists into pairs.
pub fn attribute_list(input: &Value, member: &str) -> Vec<(String, String)> {
    input
        .get(member)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some((
                        a.get("Name")?.as_str()?.to_string(),
                        a.get("Value").and_then(Value::as_str).unwrap_or_default().to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_member_reads_as_cognitos_validation_error() {
        let e = json!({"ClientId": 7}).req_str("ClientId").map(str::to_string);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("InvalidParameterException: 1 validation error detected: Value null at 'clientId' failed to satisfy constraint: Member must not be null".to_string())
        );
        assert_eq!(json!({"ClientId": "c"}).req_str("ClientId").ok(), Some("c"));
        assert_eq!(
            validation_message("MFAOptions", None, MUST_NOT_BE_NULL),
            "1 validation error detected: Value null at 'mFAOptions' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            validation_message("MaxResults", Some("0"), "Member must have value between 1 and 60"),
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 60"
        );
    }

    #[test]
    fn pages_hold_one_to_sixty() {
        for (limit, want) in [(None, 60), (Some(0), 60), (Some(-3), 60), (Some(5), 5), (Some(100), 60)] {
            let input = limit.map_or(json!({}), |n| json!({"Limit": n}));
            assert_eq!(page_limit(&input), want, "{input}");
        }
    }

    #[test]
    fn next_tokens_round_trip_and_junk_is_refused() {
        let sk = "USER#eu-west-1_abc#jane\u{0}x";
        assert_eq!(decode_next_token(&encode_next_token(sk)).ok().as_deref(), Some(sk));
        assert_eq!(
            decode_next_token("%%%").map_err(|e| e.to_string()),
            Err("InvalidParameterException: Invalid pagination token.".to_string())
        );
    }

    #[test]
    fn attribute_lists_become_pairs() {
        let input = json!({"UserAttributes": [
            {"Name": "email", "Value": "a@example.com"},
            {"Name": "name"},
            {"Value": "no name"},
        ]});
        assert_eq!(
            attribute_list(&input, "UserAttributes"),
            vec![("email".to_string(), "a@example.com".to_string()), ("name".to_string(), String::new())]
        );
        assert!(attribute_list(&input, "Missing").is_empty());
        assert_eq!(lower_camel("UserPoolId"), "userPoolId");
    }
}
