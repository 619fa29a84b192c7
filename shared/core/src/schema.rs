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

/// A standard attribute's data type ("String", "Boolean" or "Number").
pub fn standard_type(name: &str) -> Option<&'static str> {
    STANDARD.iter().find(|(n, ..)| *n == name).map(|(_, ty, ..)| *ty)
}

/// Where a pool keeps what its `Schema` changed on standard attributes (`Mutable` and the
/// constraints): a list of partial `SchemaAttributeType` values, one per attribute changed.
pub const STANDARD_SCHEMA_SETTING: &str = "TesseraStandardSchema";

/// The pool's SchemaAttributes as DescribeUserPool shows them: the standard set, with the
/// pool's required flags and changes (`standard`), and its custom attributes.
pub fn schema_attributes(required: &[String], standard: &[Value], custom: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = STANDARD
        .iter()
        .map(|(name, ty, mutable, min, max)| {
            let changed = standard.iter().find(|s| s.get("Name").and_then(Value::as_str) == Some(name));
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
            if let Some(changed) = changed {
                for member in ["Mutable", "StringAttributeConstraints", "NumberAttributeConstraints"] {
                    if let Some(v) = changed.get(member) {
                        a[member] = v.clone();
                    }
                }
            }
            a
        })
        .collect();
    out.extend(custom.iter().cloned());
    out
}
