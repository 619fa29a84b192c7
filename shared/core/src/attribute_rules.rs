//! Attribute rules, in one place for every operation that writes or shows user attributes:
//! the pool's schema (standard and custom attributes, types, constraints, mutability, required
//! attributes), value formats, and what an app client may read and write.
//!
//! SignUp, AdminCreateUser, the attribute-update operations and the ID token all ask here.

use crate::error::{Error, Result};
use crate::model::{AppClient, ClientSettings, PoolSettings, UserPool};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Longest attribute value, in bytes of UTF-8.
pub const MAX_VALUE_BYTES: usize = 2048;
/// Custom attributes a pool may have (Cognito's quota; docs/settings.md).
/// Longest `MaxLength` a custom String attribute may declare.
pub const MAX_STRING_LENGTH: u64 = 2048;
/// The flags only administrators may set.
pub const VERIFIED_FLAGS: [&str; 2] = ["email_verified", "phone_number_verified"];

/// Who is writing attributes: decides immutability, the verified flags and required attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// SignUp: a user creating their own account through an app client.
    SignUp,
    /// AdminCreateUser (and imports): an administrator creating a user. Required attributes
    /// may be left out.
    AdminCreate,
    /// UpdateUserAttributes / DeleteUserAttributes: a signed-in user changing their own.
    User,
    /// AdminUpdateUserAttributes / AdminDeleteUserAttributes.
    Admin,
}

impl Writer {
    /// Whether the user is being created (immutable attributes may be set only then).
    pub fn creates(self) -> bool {
        matches!(self, Writer::SignUp | Writer::AdminCreate)
    }

    /// Whether the user writes (not an administrator).
    pub fn is_user(self) -> bool {
        matches!(self, Writer::SignUp | Writer::User)
    }
}

pub fn schema_error(detail: impl std::fmt::Display) -> Error {
    Error::invalid(format!("Attributes did not conform to the schema: {detail}"))
}

pub fn unauthorized_attribute() -> Error {
    Error::not_authorized("A client attempted to write unauthorized attribute")
}

pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((l, d)) => {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

pub fn is_phone(s: &str) -> bool {
    s.len() > 2 && s.starts_with('+') && s.chars().skip(1).all(|c| c.is_ascii_digit())
}

/// A custom attribute's definition as the pool stores it (`SchemaAttributeType`).
pub fn custom_definition<'a>(pool: &'a UserPool, name: &str) -> Option<&'a Value> {
    pool.custom_schema.iter().find(|c| c.get("Name").and_then(Value::as_str) == Some(name))
}

/// A standard attribute or one of the pool's custom attributes.
pub fn is_known(pool: &UserPool, name: &str) -> bool {
    crate::schema::is_standard(name) || custom_definition(pool, name).is_some()
}

fn constraint(def: &Value, group: &str, member: &str) -> Option<String> {
    def.get(group).and_then(|g| g.get(member)).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn parse_integer(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok()
}

/// Checks one value against a custom attribute's type and constraints.
fn check_custom_value(name: &str, def: &Value, value: &str) -> Result<()> {
    let ty = def.get("AttributeDataType").and_then(Value::as_str).unwrap_or("String");
    match ty {
        "Number" => {
            let n = parse_integer(value).ok_or_else(|| schema_error(format!("{name}: Number expected")))?;
            if let Some(min) =
                constraint(def, "NumberAttributeConstraints", "MinValue").and_then(|s| parse_integer(&s))
            {
                if n < min {
                    return Err(schema_error(format!("{name}: Number must be no less than {min}")));
                }
            }
            if let Some(max) =
                constraint(def, "NumberAttributeConstraints", "MaxValue").and_then(|s| parse_integer(&s))
            {
                if n > max {
                    return Err(schema_error(format!("{name}: Number must be no greater than {max}")));
                }
            }
        }
        "Boolean" => {
            if !matches!(value, "true" | "false") {
                return Err(schema_error(format!("{name}: Boolean expected (true or false)")));
            }
        }
        "DateTime" => {
            if !looks_like_datetime(value) {
                return Err(schema_error(format!("{name}: DateTime expected (ISO 8601)")));
            }
        }
        _ => {
            let len = value.chars().count() as u64;
            if let Some(min) =
                constraint(def, "StringAttributeConstraints", "MinLength").and_then(|s| s.parse::<u64>().ok())
            {
                if len < min {
                    return Err(schema_error(format!(
                        "{name}: String must be no shorter than {min} characters"
                    )));
                }
            }
            if let Some(max) =
                constraint(def, "StringAttributeConstraints", "MaxLength").and_then(|s| s.parse::<u64>().ok())
            {
                if len > max {
                    return Err(schema_error(format!(
                        "{name}: String must be no longer than {max} characters"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// `YYYY-MM-DD`, optionally followed by `T` and a time: the ISO 8601 forms clients send.
fn looks_like_datetime(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    b.len() >= 10
        && digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && (b.len() == 10 || b.get(10) == Some(&b'T'))
}

/// Whether an attribute holds a Boolean: the verified flags and custom Boolean attributes.
fn is_boolean(pool: &UserPool, name: &str) -> bool {
    VERIFIED_FLAGS.contains(&name)
        || custom_definition(pool, name)
            .is_some_and(|d| d.get("AttributeDataType").and_then(Value::as_str) == Some("Boolean"))
}

/// A value as it is stored: Cognito takes `true` and `false` in any case for a Boolean
/// attribute (Python's `str(True)` sends "True") and keeps the lowercase form. Anything else is
/// returned as given, for [`check_value`] to judge.
pub fn canonical_value(pool: &UserPool, name: &str, value: &str) -> String {
    if is_boolean(pool, name) {
        for canonical in ["true", "false"] {
            if value.eq_ignore_ascii_case(canonical) {
                return canonical.to_string();
            }
        }
    }
    value.to_string()
}

/// [`canonical_value`] over a request's attributes, in place.
pub fn canonicalize<'a>(pool: &UserPool, attrs: impl IntoIterator<Item = (&'a String, &'a mut String)>) {
    for (name, value) in attrs {
        *value = canonical_value(pool, name, value);
    }
}

/// Checks one attribute a writer sets. An empty value deletes the attribute (updates).
pub fn check_value(pool: &UserPool, name: &str, value: &str, writer: Writer) -> Result<()> {
    if !is_known(pool, name) {
        return Err(schema_error(format!("Type for attribute {{{name}}} could not be determined")));
    }
    if name == "sub" {
        return Err(schema_error("sub: Attribute cannot be updated. (changing an immutable attribute)"));
    }
    if VERIFIED_FLAGS.contains(&name) && writer.is_user() {
        return Err(unauthorized_attribute());
    }
    let developer_only = custom_definition(pool, name)
        .is_some_and(|d| d.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true));
    if developer_only && writer.is_user() {
        return Err(unauthorized_attribute());
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(schema_error(format!(
            "{name}: String must be no longer than {MAX_VALUE_BYTES} characters"
        )));
    }
    let custom = custom_definition(pool, name);
    let standard = standard_definition(pool, name);
    if let Some(def) = custom.or(standard) {
        if def.get("Mutable").and_then(Value::as_bool) == Some(false) && !writer.creates() {
            return Err(schema_error(format!(
                "{name}: Attribute cannot be updated. (changing an immutable attribute)"
            )));
        }
    }
    if value.is_empty() {
        if !writer.creates() && pool.required_attributes.iter().any(|r| r == name) {
            return Err(schema_error(format!("{name}: The attribute is required")));
        }
        return Ok(());
    }
    if let Some(def) = custom {
        return check_custom_value(name, def, value);
    }
    check_standard_format(name, value)?;
    // The pool's own constraints on a standard String or Number attribute.
    match (standard, crate::schema::standard_type(name)) {
        (Some(def), Some(ty @ ("String" | "Number"))) => {
            let mut typed = def.clone();
            typed["AttributeDataType"] = json!(ty);
            check_custom_value(name, &typed, value)
        }
        _ => Ok(()),
    }
}

/// The formats of the standard attributes that have one.
fn check_standard_format(name: &str, value: &str) -> Result<()> {
    match name {
        "email" if !is_email(value) => Err(Error::invalid("Invalid email address format.")),
        "phone_number" if !is_phone(value) => Err(Error::invalid("Invalid phone number format.")),
        "email_verified" | "phone_number_verified" if !matches!(value, "true" | "false") => {
            Err(schema_error(format!("{name}: Boolean expected (true or false)")))
        }
        "updated_at" if parse_integer(value).is_none_or(|n| n < 0) => {
            Err(schema_error("updated_at: Number must be no less than 0"))
        }
        "birthdate" if value.chars().count() != 10 => {
            Err(schema_error("birthdate: String must be 10 characters (YYYY-MM-DD)"))
        }
        _ => Ok(()),
    }
}

/// Checks the attributes a new user starts with (SignUp, AdminCreateUser). `sub` is the
/// service's, so callers check before adding it. SignUp must supply every required attribute;
/// AdminCreateUser may leave them out.
pub fn check_new_user(pool: &UserPool, attrs: &BTreeMap<String, String>, writer: Writer) -> Result<()> {
    for (name, value) in attrs {
        check_value(pool, name, value, writer)?;
    }
    if writer == Writer::SignUp {
        if pool.alias_attributes.iter().any(|a| a == "preferred_username")
            && attrs.get("preferred_username").is_some_and(|v| !v.is_empty())
        {
            return Err(schema_error(
                "preferred_username: The attribute cannot be set at sign-up when it is an alias. Set it with UpdateUserAttributes once the account is confirmed.",
            ));
        }
        for req in &pool.required_attributes {
            if attrs.get(req).is_none_or(|v| v.is_empty()) {
                return Err(schema_error(format!("{req}: The attribute is required")));
            }
        }
    }
    Ok(())
}

/// A client's ReadAttributes / WriteAttributes; an empty list counts as not set (the
/// defaults), as tools that always send the member expect.
fn client_list(list: &Option<Vec<String>>) -> Option<&[String]> {
    list.as_deref().filter(|a| !a.is_empty())
}

/// Whether the client may read an attribute: its ReadAttributes when set, otherwise the
/// standard attributes with `email_verified` and `phone_number_verified`. `sub` always.
pub fn can_read(client: &AppClient, name: &str) -> bool {
    if name == "sub" {
        return true;
    }
    match client_list(&client.settings.read_attributes) {
        Some(list) => list.iter().any(|n| n == name),
        None => crate::schema::is_standard(name),
    }
}

/// Whether users of the client may write an attribute: its WriteAttributes when set,
/// otherwise the standard attributes. `sub` and the verified flags never.
pub fn can_write(client: &AppClient, name: &str) -> bool {
    if name == "sub" || VERIFIED_FLAGS.contains(&name) {
        return false;
    }
    match client_list(&client.settings.write_attributes) {
        Some(list) => list.iter().any(|n| n == name),
        None => crate::schema::is_standard(name),
    }
}

/// NotAuthorizedException unless the client may write every one of `names`.
pub fn check_writable<'a>(client: &AppClient, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    if names.into_iter().all(|n| can_write(client, n)) {
        Ok(())
    } else {
        Err(unauthorized_attribute())
    }
}

/// What a user may write through a client: names the pool does not have are a schema error
/// (InvalidParameterException), known ones the client may not write NotAuthorizedException.
pub fn check_user_writes<'a>(
    pool: &UserPool,
    client: &AppClient,
    names: impl IntoIterator<Item = &'a str> + Clone,
) -> Result<()> {
    if let Some(unknown) = names.clone().into_iter().find(|n| !is_known(pool, n)) {
        return Err(schema_error(format!("Type for attribute {{{unknown}}} could not be determined")));
    }
    check_writable(client, names)
}

/// The attributes a client may read, as `AttributeType` values.
pub fn readable_json(client: &AppClient, attrs: &BTreeMap<String, String>) -> Vec<Value> {
    attrs.iter().filter(|(k, _)| can_read(client, k)).map(|(k, v)| json!({"Name": k, "Value": v})).collect()
}

/// Checks a client's ReadAttributes / WriteAttributes against the pool: every name an
/// attribute of the pool, and WriteAttributes including the pool's required attributes.
pub fn check_client_lists(pool: &UserPool, settings: &ClientSettings, creating: bool) -> Result<()> {
    let action = if creating { "creating" } else { "updating" };
    if let Some(read) = client_list(&settings.read_attributes) {
        if read.iter().any(|n| !is_known(pool, n)) {
            return Err(Error::invalid(format!("Invalid read attributes specified while {action} a client")));
        }
    }
    if let Some(write) = client_list(&settings.write_attributes) {
        if write.iter().any(|n| !is_known(pool, n) || n == "sub") {
            return Err(Error::invalid(format!(
                "Invalid write attributes specified while {action} a client"
            )));
        }
        let missing: Vec<&str> = pool
            .required_attributes
            .iter()
            .filter(|r| !write.iter().any(|w| w == *r))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "Invalid write attributes specified while {action} a client: the pool's required attributes must be writable ({})",
                missing.join(", ")
            )));
        }
    }
    Ok(())
}

/// `UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate` may name only
/// attributes the pool auto-verifies (the code that confirms the new value is sent by them).
pub fn check_update_settings(settings: &PoolSettings, auto_verified: &[String]) -> Result<()> {
    for name in settings.attributes_require_verification_before_update() {
        if !auto_verified.iter().any(|a| a == name) {
            return Err(Error::invalid(format!(
                "AttributesRequireVerificationBeforeUpdate can name only auto-verified attributes; {name} is not in AutoVerifiedAttributes."
            )));
        }
    }
    Ok(())
}

fn number_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Cognito's answer to a missing or unknown `AttributeDataType`.
const BAD_DATA_TYPE: &str =
    "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.";

/// The constraints a `SchemaAttributeType` declares for its type, checked: lengths of a String
/// (0..=2048, min ≤ max), bounds of a Number (integers, min ≤ max). Returns the member and its
/// normalised value (numbers as strings, as Cognito shows them), or None when none are given.
/// A constraint group for another type is refused, not dropped.
fn parsed_constraints(attr: &Value, ty: &str, full: &str) -> Result<Option<(&'static str, Value)>> {
    let bad = |what: &str| Error::invalid(format!("Invalid {what} for attribute {full}."));
    let given = |member: &str| attr.get(member).and_then(Value::as_object).is_some_and(|o| !o.is_empty());
    for (member, for_type) in
        [("StringAttributeConstraints", "String"), ("NumberAttributeConstraints", "Number")]
    {
        if given(member) && ty != for_type {
            return Err(Error::invalid(format!(
                "{member} can only be set on a {for_type} attribute; {full} is {ty}."
            )));
        }
    }
    match ty {
        "String" => {
            let c = attr.get("StringAttributeConstraints");
            let parse = |m: &str| -> Result<Option<u64>> {
                number_text(c.and_then(|c| c.get(m)))
                    .map(|s| s.trim().parse::<u64>().map_err(|_| bad(m)))
                    .transpose()
            };
            let (min, max) = (parse("MinLength")?, parse("MaxLength")?);
            if max.unwrap_or(MAX_STRING_LENGTH) > MAX_STRING_LENGTH || min.unwrap_or(0) > MAX_STRING_LENGTH {
                return Err(Error::invalid(format!(
                    "Invalid StringAttributeConstraints for attribute {full}: lengths cannot exceed {MAX_STRING_LENGTH}."
                )));
            }
            if min.unwrap_or(0) > max.unwrap_or(MAX_STRING_LENGTH) {
                return Err(bad("StringAttributeConstraints (MinLength is greater than MaxLength)"));
            }
            let mut sc = serde_json::Map::new();
            if let Some(a) = min {
                sc.insert("MinLength".into(), json!(a.to_string()));
            }
            if let Some(b) = max {
                sc.insert("MaxLength".into(), json!(b.to_string()));
            }
            Ok((!sc.is_empty()).then_some(("StringAttributeConstraints", Value::Object(sc))))
        }
        "Number" => {
            let c = attr.get("NumberAttributeConstraints");
            let parse = |m: &str| -> Result<Option<i64>> {
                number_text(c.and_then(|c| c.get(m)))
                    .map(|s| parse_integer(&s).ok_or_else(|| bad(m)))
                    .transpose()
            };
            let (min, max) = (parse("MinValue")?, parse("MaxValue")?);
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(bad("NumberAttributeConstraints (MinValue is greater than MaxValue)"));
                }
            }
            let mut nc = serde_json::Map::new();
            if let Some(a) = min {
                nc.insert("MinValue".into(), json!(a.to_string()));
            }
            if let Some(b) = max {
                nc.insert("MaxValue".into(), json!(b.to_string()));
            }
            Ok((!nc.is_empty()).then_some(("NumberAttributeConstraints", Value::Object(nc))))
        }
        _ => Ok(None),
    }
}

/// A custom attribute definition from a request's `SchemaAttributeType` (CreateUserPool's
/// `Schema`, AddCustomAttributes): its full name and flags, checked.
pub fn custom_attribute(attr: &Value) -> Result<Value> {
    let name = attr.get("Name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::invalid("A custom attribute needs a Name."));
    }
    // Developer-only attributes (legacy) are `dev:`; only administrators write them.
    let developer_only = attr.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true);
    let prefix = if developer_only { "dev:" } else { "custom:" };
    let bare = name.strip_prefix("custom:").or_else(|| name.strip_prefix("dev:")).unwrap_or(name);
    let full = format!("{prefix}{bare}");
    if attr.get("Required").and_then(Value::as_bool) == Some(true) {
        return Err(Error::invalid(format!(
            "Required custom attributes are not supported currently. Attribute: {name}"
        )));
    }
    // Cognito has no default type for a custom attribute: one left out is refused.
    let ty = attr.get("AttributeDataType").and_then(Value::as_str).unwrap_or_default();
    if !matches!(ty, "String" | "Number" | "DateTime" | "Boolean") {
        return Err(Error::invalid(BAD_DATA_TYPE));
    }
    let mut out = json!({
        "Name": full,
        "AttributeDataType": ty,
        "DeveloperOnlyAttribute": attr.get("DeveloperOnlyAttribute").and_then(Value::as_bool).unwrap_or(false),
        "Mutable": attr.get("Mutable").and_then(Value::as_bool).unwrap_or(true),
        "Required": false,
    });
    if let Some((member, value)) = parsed_constraints(attr, ty, &full)? {
        out[member] = value;
    }
    Ok(out)
}

/// What a `SchemaAttributeType` for a standard attribute changes: `Mutable` and the
/// constraints (a partial definition, None when nothing differs from the standard one). Its
/// `AttributeDataType`, when given, must be the attribute's own; a standard attribute cannot be
/// developer-only; `sub` cannot change.
pub fn standard_attribute(attr: &Value) -> Result<Option<Value>> {
    let name = attr.get("Name").and_then(Value::as_str).unwrap_or_default();
    let own = crate::schema::standard_type(name)
        .ok_or_else(|| Error::invalid(format!("{name} is not a standard attribute.")))?;
    if let Some(given) = attr.get("AttributeDataType").filter(|v| !v.is_null()) {
        match given.as_str() {
            Some(t) if t == own => {}
            Some("String" | "Number" | "DateTime" | "Boolean") => {
                return Err(Error::invalid(format!(
                    "Invalid AttributeDataType for standard attribute {name}: it is {own}."
                )))
            }
            _ => return Err(Error::invalid(BAD_DATA_TYPE)),
        }
    }
    if attr.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true) {
        return Err(Error::invalid(format!(
            "DeveloperOnlyAttribute cannot be set on standard attribute {name}; only custom attributes can be developer-only."
        )));
    }
    let constraints = parsed_constraints(attr, own, name)?;
    let mutable = attr.get("Mutable").and_then(Value::as_bool);
    if name == "sub" {
        if mutable == Some(true) || constraints.is_some() {
            return Err(Error::invalid("sub: the attribute cannot be changed."));
        }
        return Ok(None);
    }
    let mut out = serde_json::Map::new();
    if mutable == Some(false) {
        out.insert("Mutable".into(), json!(false));
    }
    if let Some((member, value)) = constraints {
        out.insert(member.into(), value);
    }
    if out.is_empty() {
        return Ok(None);
    }
    out.insert("Name".into(), json!(name));
    Ok(Some(Value::Object(out)))
}

/// What the pool's `Schema` changed on a standard attribute (see [`standard_attribute`]).
pub fn standard_definition<'a>(pool: &'a UserPool, name: &str) -> Option<&'a Value> {
    pool.settings
        .standard_schema
        .as_deref()?
        .iter()
        .find(|c| c.get("Name").and_then(Value::as_str) == Some(name))
}

/// Adds definitions to a pool's custom schema: no duplicates, at most the limit.
pub fn add_custom_attributes(existing: &mut Vec<Value>, new: &[Value], max: u64) -> Result<()> {
    for attr in new {
        let def = custom_attribute(attr)?;
        let name = def.get("Name").and_then(Value::as_str).unwrap_or_default().to_string();
        if existing.iter().any(|e| e.get("Name").and_then(Value::as_str) == Some(name.as_str())) {
            return Err(Error::invalid(format!("Existing attribute already has name {name}.")));
        }
        if existing.len() as u64 >= max {
            return Err(Error::invalid(format!("A user pool can have at most {max} custom attributes.")));
        }
        existing.push(def);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(required: &[&str], custom: Value, aliases: &[&str]) -> UserPool {
        let mut schema = Vec::new();
        add_custom_attributes(&mut schema, custom.as_array().unwrap(), 25).unwrap();
        serde_json::from_value(json!({
            "id": "us-east-1_Test", "name": "t", "created": 0, "modified": 0,
            "password_policy": serde_json::to_value(crate::password::PasswordPolicy::default()).unwrap(),
            "username_attributes": [], "alias_attributes": aliases,
            "auto_verified_attributes": [], "case_sensitive": true, "required_attributes": required,
            "custom_schema": schema, "settings": {},
            "keys": {"id": {"kid": "a", "n": "", "e": "", "sealed_private": ""},
                     "access": {"kid": "b", "n": "", "e": "", "sealed_private": ""}}
        }))
        .unwrap()
    }

    fn client(settings: Value) -> AppClient {
        AppClient {
            pool_id: "us-east-1_Test".into(),
            client_id: "c".into(),
            client_name: "c".into(),
            secret: None,
            created: 0,
            modified: 0,
            settings: serde_json::from_value(settings).unwrap(),
        }
    }

    #[test]
    fn boolean_values_in_any_case_become_lowercase() {
        let p = sample();
        for (name, given, stored) in [
            ("email_verified", "True", "true"),
            ("email_verified", "FALSE", "false"),
            ("phone_number_verified", "tRuE", "true"),
            ("custom:vip", "False", "false"),
            ("custom:vip", "true", "true"),
            // Not a Boolean value: left for check_value to refuse.
            ("custom:vip", "yes", "yes"),
            ("email_verified", " true", " true"),
            // Not a Boolean attribute: untouched.
            ("custom:team", "True", "True"),
            ("name", "FALSE", "FALSE"),
        ] {
            assert_eq!(canonical_value(&p, name, given), stored, "{name}={given}");
        }
        let mut attrs: BTreeMap<String, String> =
            [("email_verified".to_string(), "TRUE".to_string()), ("custom:vip".into(), "False".into())]
                .into();
        canonicalize(&p, attrs.iter_mut());
        assert_eq!(attrs["email_verified"], "true");
        assert_eq!(attrs["custom:vip"], "false");
        for (name, value) in &attrs {
            assert!(check_value(&p, name, value, Writer::Admin).is_ok(), "{name}={value}");
        }
    }

    fn sample() -> UserPool {
        pool(
            &["email"],
            json!([
                {"Name": "age", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "18", "MaxValue": "120"}},
                {"Name": "team", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "5"}},
                {"Name": "badge", "AttributeDataType": "String", "Mutable": false},
                {"Name": "vip", "AttributeDataType": "Boolean"},
                {"Name": "since", "AttributeDataType": "DateTime"}
            ]),
            &["preferred_username"],
        )
    }

    fn msg(r: Result<()>) -> String {
        r.map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn custom_types_and_constraints() {
        let p = sample();
        let w = Writer::Admin;
        assert_eq!(msg(check_value(&p, "custom:age", "30", w)), "ok");
        assert!(msg(check_value(&p, "custom:age", "17", w))
            .ends_with("custom:age: Number must be no less than 18"));
        assert!(msg(check_value(&p, "custom:age", "121", w)).ends_with("no greater than 120"));
        assert!(msg(check_value(&p, "custom:age", "abc", w)).ends_with("custom:age: Number expected"));
        assert!(msg(check_value(&p, "custom:team", "a", w)).ends_with("no shorter than 2 characters"));
        assert!(msg(check_value(&p, "custom:team", "abcdef", w)).ends_with("no longer than 5 characters"));
        assert_eq!(msg(check_value(&p, "custom:team", "ab", w)), "ok");
        assert_eq!(msg(check_value(&p, "custom:vip", "true", w)), "ok");
        assert!(msg(check_value(&p, "custom:vip", "yes", w)).contains("Boolean expected"));
        assert_eq!(msg(check_value(&p, "custom:since", "2024-02-01T10:00:00Z", w)), "ok");
        assert!(msg(check_value(&p, "custom:since", "yesterday", w)).contains("DateTime expected"));
        assert!(msg(check_value(&p, "custom:nope", "x", w)).contains("Type for attribute {custom:nope}"));
    }

    #[test]
    fn immutable_only_at_creation() {
        let p = sample();
        assert_eq!(msg(check_value(&p, "custom:badge", "b1", Writer::SignUp)), "ok");
        assert_eq!(msg(check_value(&p, "custom:badge", "b1", Writer::AdminCreate)), "ok");
        for w in [Writer::User, Writer::Admin] {
            assert!(msg(check_value(&p, "custom:badge", "b2", w)).contains("changing an immutable attribute"));
        }
        assert!(msg(check_value(&p, "sub", "x", Writer::Admin)).contains("sub: Attribute cannot be updated"));
        let mut p = p;
        p.custom_schema.push(
            custom_attribute(
                &json!({"Name": "legacy", "AttributeDataType": "String", "DeveloperOnlyAttribute": true}),
            )
            .unwrap(),
        );
        assert_eq!(msg(check_value(&p, "dev:legacy", "v", Writer::Admin)), "ok");
        assert_eq!(msg(check_value(&p, "dev:legacy", "v", Writer::AdminCreate)), "ok");
        for w in [Writer::SignUp, Writer::User] {
            assert!(msg(check_value(&p, "dev:legacy", "v", w)).starts_with("NotAuthorizedException"));
        }
    }

    #[test]
    fn verified_flags_only_by_admins() {
        let p = sample();
        assert!(msg(check_value(&p, "email_verified", "true", Writer::User))
            .starts_with("NotAuthorizedException"));
        assert!(msg(check_value(&p, "email_verified", "true", Writer::SignUp))
            .starts_with("NotAuthorizedException"));
        assert_eq!(msg(check_value(&p, "email_verified", "true", Writer::Admin)), "ok");
        assert!(
            msg(check_value(&p, "phone_number_verified", "yes", Writer::Admin)).contains("Boolean expected")
        );
    }

    #[test]
    fn formats_lengths_and_required() {
        let p = sample();
        let w = Writer::User;
        assert_eq!(
            msg(check_value(&p, "email", "not-an-email", w)),
            "InvalidParameterException: Invalid email address format."
        );
        assert_eq!(
            msg(check_value(&p, "phone_number", "555-0100", w)),
            "InvalidParameterException: Invalid phone number format."
        );
        assert!(msg(check_value(&p, "name", &"x".repeat(2049), w)).contains("no longer than 2048"));
        assert_eq!(msg(check_value(&p, "name", &"x".repeat(2048), w)), "ok");
        assert!(msg(check_value(&p, "email", "", w)).ends_with("email: The attribute is required"));
        assert_eq!(msg(check_value(&p, "name", "", w)), "ok", "an optional attribute may be emptied");
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), "Jane".to_string());
        assert!(msg(check_new_user(&p, &attrs, Writer::SignUp)).ends_with("email: The attribute is required"));
        assert_eq!(msg(check_new_user(&p, &attrs, Writer::AdminCreate)), "ok", "admins may leave them out");
        attrs.insert("email".into(), "j@example.com".into());
        attrs.insert("preferred_username".into(), "jj".into());
        assert!(msg(check_new_user(&p, &attrs, Writer::SignUp)).contains("cannot be set at sign-up"));
        assert!(is_email("a@b.co") && !is_email("a@b") && !is_email("a b@c.de"));
        assert!(is_phone("+14325551212") && !is_phone("+1 432") && !is_phone("14325551212"));
    }

    #[test]
    fn client_permissions_default_to_the_model() {
        let d = client(json!({}));
        assert!(can_read(&d, "email") && can_read(&d, "email_verified") && can_read(&d, "sub"));
        assert!(!can_read(&d, "custom:age"));
        assert!(can_write(&d, "email") && !can_write(&d, "email_verified") && !can_write(&d, "custom:age"));
        let listed = client(
            json!({"ReadAttributes": ["email", "custom:age"], "WriteAttributes": ["custom:age", "email_verified"]}),
        );
        assert!(can_read(&listed, "custom:age") && can_read(&listed, "sub") && !can_read(&listed, "name"));
        assert!(can_write(&listed, "custom:age") && !can_write(&listed, "email"));
        assert!(!can_write(&listed, "email_verified"), "users never set the verified flags");
        assert!(check_writable(&listed, ["custom:age"]).is_ok());
        let p = sample();
        assert!(matches!(
            check_user_writes(&p, &d, ["favourite_colour"]),
            Err(Error::InvalidParameterException(_))
        ));
        assert!(matches!(check_user_writes(&p, &d, ["custom:age"]), Err(Error::NotAuthorizedException(_))));
        assert!(check_user_writes(&p, &d, ["name", "email"]).is_ok());
        assert!(matches!(check_writable(&listed, ["name"]), Err(Error::NotAuthorizedException(_))));
    }

    #[test]
    fn client_lists_must_name_pool_attributes_and_include_required() {
        let p = sample();
        let s = |v: Value| -> ClientSettings { serde_json::from_value(v).unwrap() };
        assert!(check_client_lists(&p, &s(json!({"WriteAttributes": []})), false).is_ok());
        let empty = client(json!({"ReadAttributes": [], "WriteAttributes": []}));
        assert!(can_read(&empty, "name") && can_write(&empty, "name"), "empty lists are the defaults");
        assert!(check_client_lists(
            &p,
            &s(json!({"ReadAttributes": ["custom:age", "email_verified"]})),
            true
        )
        .is_ok());
        assert!(check_client_lists(&p, &s(json!({"ReadAttributes": ["custom:nope"]})), true).is_err());
        assert!(
            check_client_lists(&p, &s(json!({"WriteAttributes": ["name"]})), true).is_err(),
            "email is required"
        );
        assert!(check_client_lists(&p, &s(json!({"WriteAttributes": ["name", "email"]})), false).is_ok());
        assert!(check_client_lists(&p, &s(json!({"WriteAttributes": ["email", "sub"]})), true).is_err());
    }

    #[test]
    fn custom_definitions() {
        let mut schema = Vec::new();
        let e = add_custom_attributes(&mut schema, &[json!({"Name": "team"})], 25).unwrap_err();
        assert_eq!(e.message(), BAD_DATA_TYPE, "a custom attribute needs its type");
        let e = custom_attribute(&json!({"Name": "t", "AttributeDataType": "Text"})).unwrap_err();
        assert_eq!(e.message(), BAD_DATA_TYPE);
        add_custom_attributes(&mut schema, &[json!({"Name": "team", "AttributeDataType": "String"})], 25)
            .unwrap();
        assert_eq!(schema[0]["Name"], "custom:team");
        assert_eq!(schema[0]["Mutable"], true);
        assert_eq!(schema[0]["AttributeDataType"], "String");
        let e =
            add_custom_attributes(&mut schema, &[json!({"Name": "team", "AttributeDataType": "String"})], 25)
                .unwrap_err();
        assert_eq!(e.message(), "Existing attribute already has name custom:team.");
        assert!(custom_attribute(&json!({"Name": "x", "Required": true})).is_err());
        let dev = custom_attribute(
            &json!({"Name": "legacy", "AttributeDataType": "String", "DeveloperOnlyAttribute": true}),
        )
        .unwrap();
        assert_eq!(dev["Name"], "dev:legacy");
        let s =
            |c: Value| json!({"Name": "x", "AttributeDataType": "String", "StringAttributeConstraints": c});
        assert!(custom_attribute(&s(json!({"MaxLength": "2049"}))).is_err());
        assert!(custom_attribute(&s(json!({"MinLength": "5", "MaxLength": "2"}))).is_err());
        assert!(custom_attribute(&s(json!({"MinLength": "five"}))).is_err());
        assert!(custom_attribute(&json!({"Name": "n", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "9", "MaxValue": "1"}})).is_err());
        let more: Vec<Value> =
            (1..25).map(|i| json!({"Name": format!("a{i}"), "AttributeDataType": "Number"})).collect();
        add_custom_attributes(&mut schema, &more, 25).unwrap();
        assert_eq!(schema.len(), 25);
        let one_more = json!({"Name": "one_more", "AttributeDataType": "String"});
        assert!(add_custom_attributes(&mut schema, &[one_more], 25).is_err());
    }

    #[test]
    fn standard_attribute_changes() {
        let d = |v: Value| standard_attribute(&v).map_err(|e| e.message().to_string());
        assert_eq!(d(json!({"Name": "email", "Required": true})).unwrap(), None, "nothing changed");
        assert_eq!(
            d(json!({"Name": "email", "AttributeDataType": "String", "Mutable": false})).unwrap(),
            Some(json!({"Name": "email", "Mutable": false}))
        );
        assert_eq!(
            d(json!({"Name": "name", "StringAttributeConstraints": {"MinLength": 2, "MaxLength": "40"}}))
                .unwrap(),
            Some(
                json!({"Name": "name", "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "40"}})
            )
        );
        assert!(d(json!({"Name": "email", "AttributeDataType": "Number"}))
            .unwrap_err()
            .contains("it is String"));
        assert_eq!(d(json!({"Name": "email", "AttributeDataType": "Text"})).unwrap_err(), BAD_DATA_TYPE);
        assert!(d(json!({"Name": "email", "DeveloperOnlyAttribute": true}))
            .unwrap_err()
            .contains("DeveloperOnly"));
        assert!(d(json!({"Name": "name", "StringAttributeConstraints": {"MinLength": "x"}})).is_err());
        assert!(d(
            json!({"Name": "name", "StringAttributeConstraints": {"MinLength": "9", "MaxLength": "3"}})
        )
        .is_err());
        assert!(d(
            json!({"Name": "updated_at", "NumberAttributeConstraints": {"MinValue": "9", "MaxValue": "3"}})
        )
        .is_err());
        assert!(d(json!({"Name": "email", "NumberAttributeConstraints": {"MinValue": "1"}})).is_err());
        assert!(d(json!({"Name": "sub", "Mutable": true})).is_err());

        let mut p = sample();
        p.settings.standard_schema = Some(vec![
            json!({"Name": "email", "Mutable": false}),
            json!({"Name": "name", "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "5"}}),
        ]);
        assert_eq!(msg(check_value(&p, "email", "a@b.co", Writer::SignUp)), "ok");
        for w in [Writer::User, Writer::Admin] {
            assert!(msg(check_value(&p, "email", "a@b.co", w)).contains("email: Attribute cannot be updated"));
        }
        assert!(msg(check_value(&p, "name", "J", Writer::Admin)).ends_with("no shorter than 2 characters"));
        assert!(
            msg(check_value(&p, "name", "Joanna", Writer::Admin)).ends_with("no longer than 5 characters")
        );
        assert_eq!(msg(check_value(&p, "name", "Jo", Writer::Admin)), "ok");
    }
}
