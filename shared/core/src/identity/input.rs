//! Request members several identity operations read the same way.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The `Logins` map (absent = none).
pub(super) fn logins_of(input: &Value) -> Map<String, Value> {
    input.get("Logins").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// `MaxResults` (required, 1–60) of the list operations.
pub(super) fn max_results(input: &Value) -> Result<usize> {
    match input.get("MaxResults") {
        None | Some(Value::Null) => Err(Error::invalid(crate::input::validation_message(
            "MaxResults",
            None,
            crate::input::MUST_NOT_BE_NULL,
        ))),
        Some(v) => match v.as_i64() {
            Some(n @ 1..=60) => usize::try_from(n).map_err(Error::internal),
            _ => Err(Error::invalid(crate::input::validation_message(
                "MaxResults",
                Some(&v.to_string()),
                "Member must have value between 1 and 60",
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn max_results_is_required_and_bounded() {
        assert_eq!(max_results(&json!({"MaxResults": 60})).unwrap(), 60);
        for bad in [json!({}), json!({"MaxResults": 0}), json!({"MaxResults": 61})] {
            assert_eq!(max_results(&bad).unwrap_err().name(), "InvalidParameterException");
        }
    }
}
