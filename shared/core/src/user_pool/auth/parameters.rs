//! The two maps a sign-in reads, typed: InitiateAuth's `AuthParameters` and
//! RespondToAuthChallenge's `ChallengeResponses`. Both are string maps in the API model whose
//! keys Cognito names in SCREAMING_SNAKE_CASE; each flow reads the keys it needs, and a missing
//! one is answered as Cognito answers it ([`required`]).

use crate::error::{Error, Result};
use crate::input::Input;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// `AuthParameters` of InitiateAuth and AdminInitiateAuth.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) struct AuthParameters {
    pub username: Option<String>,
    pub password: Option<String>,
    pub secret_hash: Option<String>,
    /// USER_SRP_AUTH's, and CUSTOM_AUTH's when it starts with a password check.
    pub srp_a: Option<String>,
    pub device_key: Option<String>,
    pub refresh_token: Option<String>,
    /// CUSTOM_AUTH: `SRP_A` starts the flow with a password check.
    pub challenge_name: Option<String>,
}

/// `ChallengeResponses` of RespondToAuthChallenge and AdminRespondToAuthChallenge.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) struct ChallengeResponses {
    pub username: Option<String>,
    pub secret_hash: Option<String>,
    /// DEVICE_SRP_AUTH's names the device; PASSWORD_VERIFIER's may change or drop the sign-in's.
    #[serde(default, deserialize_with = "present")]
    pub device_key: DeviceKeyAnswer,
    pub srp_a: Option<String>,
    pub password_claim_secret_block: Option<String>,
    pub password_claim_signature: Option<String>,
    pub timestamp: Option<String>,
    pub new_password: Option<String>,
    pub sms_mfa_code: Option<String>,
    pub software_token_mfa_code: Option<String>,
    /// SELECT_MFA_TYPE's choice, or CUSTOM_CHALLENGE's answer.
    pub answer: Option<String>,
    /// Every other key: NEW_PASSWORD_REQUIRED's `userAttributes.<name>` answers among them.
    #[serde(flatten)]
    pub others: BTreeMap<String, Value>,
}

/// DEVICE_KEY in an answer: absent, null, or a string. The JS SDK repeats a PASSWORD_VERIFIER
/// answer with DEVICE_KEY null after "Device does not exist.", to drop its key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) enum DeviceKeyAnswer {
    #[default]
    Absent,
    Null,
    Given(String),
}

impl DeviceKeyAnswer {
    /// The key as sent, for a challenge that needs one (DEVICE_SRP_AUTH).
    pub fn required(&self) -> Result<&str> {
        match self {
            DeviceKeyAnswer::Given(k) => Ok(k),
            _ => Err(Error::invalid("Missing required parameter DEVICE_KEY")),
        }
    }
}

fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<DeviceKeyAnswer, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        Some(key) => DeviceKeyAnswer::Given(key),
        None => DeviceKeyAnswer::Null,
    })
}

impl ChallengeResponses {
    /// NEW_PASSWORD_REQUIRED's `userAttributes.<name>` answers, by name (a non-string value
    /// reads as empty, which removes the attribute).
    pub fn user_attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.others
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("userAttributes.")?, v.as_str().unwrap_or_default())))
    }
}

/// One answer to a challenge: its `ChallengeResponses` and the `Session` it names.
pub(crate) struct Answer<'a> {
    pub responses: ChallengeResponses,
    session: Option<&'a str>,
}

impl<'a> Answer<'a> {
    pub fn of(input: &'a Value) -> Result<Answer<'a>> {
        Ok(Answer { responses: read(input, "ChallengeResponses")?, session: input.str_of("Session") })
    }

    /// The `Session`, which every answer but the SRP proofs' (they carry it in their secret
    /// block) must send.
    pub fn session(&self) -> Result<&'a str> {
        self.session
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::invalid("Missing required parameter Session"))
    }

    /// The `Session` as sent, if any.
    pub fn session_given(&self) -> Option<&'a str> {
        self.session
    }
}

/// A key the flow needs: "Missing required parameter USERNAME", as Cognito answers.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str> {
    value.as_deref().ok_or_else(|| Error::invalid(format!("Missing required parameter {name}")))
}

/// `params.username()`: the key, or Cognito's answer when it is missing.
macro_rules! required_keys {
    ($ty:ident { $($field:ident: $key:literal),* $(,)? }) => {
        impl $ty {
            $(pub fn $field(&self) -> Result<&str> {
                required(&self.$field, $key)
            })*
        }
    };
}

required_keys!(AuthParameters {
    username: "USERNAME",
    password: "PASSWORD",
    srp_a: "SRP_A",
    refresh_token: "REFRESH_TOKEN"
});
required_keys!(ChallengeResponses {
    username: "USERNAME",
    srp_a: "SRP_A",
    password_claim_secret_block: "PASSWORD_CLAIM_SECRET_BLOCK",
    password_claim_signature: "PASSWORD_CLAIM_SIGNATURE",
    timestamp: "TIMESTAMP",
    new_password: "NEW_PASSWORD",
    sms_mfa_code: "SMS_MFA_CODE",
    software_token_mfa_code: "SOFTWARE_TOKEN_MFA_CODE",
    answer: "ANSWER",
});

/// Reads one of the two maps out of a request (absent or null: empty). The API model already
/// made every value a string, so a failure here is a request that skipped the model's check.
pub(crate) fn read<T: serde::de::DeserializeOwned + Default>(input: &Value, member: &str) -> Result<T> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(map) => crate::input::typed(map, member),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_read_by_cognitos_names() {
        let input = json!({"AuthParameters": {"USERNAME": "jane", "SRP_A": "0a", "SECRET_HASH": "h",
            "DEVICE_KEY": "us-east-1_d", "CHALLENGE_NAME": "SRP_A", "UNKNOWN": "x"}});
        let params: AuthParameters = read(&input, "AuthParameters").unwrap_or_default();
        assert_eq!(params.username.as_deref(), Some("jane"));
        assert_eq!(params.srp_a.as_deref(), Some("0a"));
        assert_eq!(params.secret_hash.as_deref(), Some("h"));
        assert_eq!(params.device_key.as_deref(), Some("us-east-1_d"));
        assert_eq!(params.challenge_name.as_deref(), Some("SRP_A"));
        assert_eq!(
            required(&params.password, "PASSWORD").err(),
            Some(Error::invalid("Missing required parameter PASSWORD"))
        );
        let none: AuthParameters = read(&json!({}), "AuthParameters").unwrap_or_default();
        assert_eq!(none, AuthParameters::default());
    }

    #[test]
    fn a_null_device_key_differs_from_an_absent_one() {
        let answer = |responses: Value| {
            read::<ChallengeResponses>(&json!({ "ChallengeResponses": responses }), "ChallengeResponses")
                .map(|r| r.device_key)
                .ok()
        };
        assert_eq!(answer(json!({"USERNAME": "jane"})), Some(DeviceKeyAnswer::Absent));
        assert_eq!(answer(json!({"DEVICE_KEY": null})), Some(DeviceKeyAnswer::Null));
        assert_eq!(answer(json!({"DEVICE_KEY": ""})), Some(DeviceKeyAnswer::Given(String::new())));
        assert_eq!(answer(json!({"DEVICE_KEY": "k"})), Some(DeviceKeyAnswer::Given("k".into())));
        assert!(DeviceKeyAnswer::Null.required().is_err());
        assert!(DeviceKeyAnswer::Absent.required().is_err());
    }

    #[test]
    fn new_password_answers_carry_the_user_attributes() {
        let input = json!({"ChallengeResponses": {"USERNAME": "jane", "NEW_PASSWORD": "p",
            "userAttributes.name": "Jane", "userAttributes.family_name": "Doe", "OTHER": "x"}});
        let responses: ChallengeResponses = read(&input, "ChallengeResponses").unwrap_or_default();
        assert_eq!(responses.new_password.as_deref(), Some("p"));
        let given: Vec<_> = responses.user_attributes().collect();
        assert_eq!(given, vec![("family_name", "Doe"), ("name", "Jane")]);
    }

    #[test]
    fn a_value_that_is_not_a_string_is_refused() {
        let input = json!({"ChallengeResponses": {"USERNAME": 5}});
        assert!(matches!(
            read::<ChallengeResponses>(&input, "ChallengeResponses"),
            Err(Error::InvalidParameterException(_))
        ));
    }
}
