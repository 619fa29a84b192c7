//! The standard attribute schema every pool has (`SchemaAttributeType`).

use serde_json::{json, Value};

/// (name, data type, mutable, min length, max length). `sub` is the only immutable one.
const STANDARD: &[(&str, &str, bool, u32, u32)] = &[
    ("sub", "String", false, 1, 2048),
    ("name", "String", true, 0, 2048),
    ("given_name", "String", true, 0, 2048),
    ("family_name", "String", true, 0, 2048),
    ("middle_name", "String", true, 0, 2048),
    ("nickname", "String", true, 0, 2048),
    ("preferred_username", "String", true, 0, 2048),
    ("profile", "String", true, 0, 2048),
    ("picture", "String", true, 0, 2048),
    ("website", "String", true, 0, 2048),
    ("email", "String", true, 0, 2048),
    ("email_verified", "Boolean", true, 0, 0),
    ("gender", "String", true, 0, 2048),
    ("birthdate", "String", true, 10, 10),
    ("zoneinfo", "String", true, 0, 2048),
    ("locale", "String", true, 0, 2048),
    ("phone_number", "String", true, 0, 2048),
    ("phone_number_verified", "Boolean", true, 0, 0),
    ("address", "String", true, 0, 2048),
    ("updated_at", "Number", true, 0, 0),
];

pub fn is_standard(name: &str) -> bool {
    STANDARD.iter().any(|(n, ..)| *n == name)
}

/// The pool's SchemaAttributes as DescribeUserPool shows them: the standard set, with the
/// pool's required flags and its custom attributes.
pub fn schema_attributes(required: &[String], custom: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = STANDARD
        .iter()
        .map(|(name, ty, mutable, min, max)| {
            let mut a = json!({
                "Name": name,
                "AttributeDataType": ty,
                "DeveloperOnlyAttribute": false,
                "Mutable": mutable,
                "Required": *name == "sub" || required.iter().any(|r| r == name),
            });
            match *ty {
                "String" => {
                    a["StringAttributeConstraints"] =
                        json!({"MinLength": min.to_string(), "MaxLength": max.to_string()})
                }
                "Number" => a["NumberAttributeConstraints"] = json!({"MinValue": "0"}),
                _ => {}
            }
            a
        })
        .collect();
    out.extend(custom.iter().cloned());
    out
}
