//! The AWS API models (botocore JSON, compacted by `tools/compact-model.py` into
//! `shared/wire/model/`) and validation of JSON 1.1 request bodies against them.
//!
//! Validation answers as AWS's JSON 1.1 front end (Coral) does, before a request reaches the
//! domain:
//! - a value of the wrong JSON type is a `SerializationException` (Coral fails while
//!   deserializing, so the first one found wins over any constraint violation);
//! - constraint violations are collected into one error:
//!   `2 validation errors detected: Value 'x' at 'userPoolId' failed to satisfy constraint:
//!   Member must …; Value null at 'clientId' failed to satisfy constraint: Member must not be null`.
//!   Its name is the service's: `InvalidParameterException` for cognito-idp and Cognito Sync,
//!   `ValidationException` (AWS's generic one, not declared in the model) for Cognito Identity.
//!
//! Member paths are lowerCamelCase joined by `.`, list elements as `.N.member` (1-based).
//! Values of sensitive shapes (and of anything inside one) are never echoed. Members
//! the model does not know are ignored, as AWS ignores them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::WireError;

const COGNITO_IDP_JSON: &str = include_str!("../model/cognito-idp.json");
const COGNITO_IDENTITY_JSON: &str = include_str!("../model/cognito-identity.json");
/// Tessera's own admin operations (signing-key rotation): hand-written in the same form, under
/// a target prefix of their own, so that no operation poses as Cognito's.
const TESSERA_JSON: &str = include_str!("../model/tessera.json");
const COGNITO_SYNC_JSON: &str = include_str!("../model/cognito-sync.json");

/// One operation of a service, as the model declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    /// The input shape; every operation in the Cognito models has one.
    pub input: Option<String>,
    /// The operation is called without SigV4 (`authtype: none`, e.g. SignUp, InitiateAuth, GetId).
    pub auth_none: bool,
    /// Names of the error shapes the operation may return, sorted.
    pub errors: Vec<String>,
    /// REST services (Sync): the HTTP method and the URI template, e.g.
    /// `GET /identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets`.
    pub http: Option<(String, String)>,
}

/// A service's API model: its operations and the shapes their inputs are made of.
#[derive(Debug)]
pub struct ApiModel {
    target_prefix: String,
    endpoint_prefix: String,
    signing_name: String,
    operations: BTreeMap<String, Operation>,
    shapes: BTreeMap<String, Shape>,
    /// Java pattern (as in the model) → its `regex` translation, compiled on first use.
    /// `None` once compiled means the pattern could not be translated; its check is skipped.
    patterns: BTreeMap<String, OnceLock<Option<Pattern>>>,
}

/// A compiled model pattern. Most are one character class repeated (`[\w+]+`); for ASCII text
/// those are checked against the table of the class's ASCII members, each decided by the regex
/// itself (so the meaning stays the regex's), instead of running the regex over a 1 KB token on
/// every request.
#[derive(Debug)]
struct Pattern {
    regex: Regex,
    ascii_class: Option<AsciiClass>,
}

#[derive(Debug)]
struct AsciiClass {
    /// Bit `b` set: the ASCII character `b` is in the class.
    members: u128,
    /// `[…]*` rather than `[…]+`.
    allow_empty: bool,
}

impl Pattern {
    fn compile(java: &str) -> Result<Pattern, String> {
        Ok(Pattern { regex: compile_java_pattern(java)?, ascii_class: ascii_class(java) })
    }

    fn is_match(&self, text: &str) -> bool {
        match &self.ascii_class {
            Some(class) if text.is_ascii() => {
                (class.allow_empty || !text.is_empty()) && text.bytes().all(|b| class.members >> b & 1 == 1)
            }
            _ => self.regex.is_match(text),
        }
    }
}

/// The ASCII table of a pattern that is exactly one character class (no class nested in it)
/// followed by `+` or `*`; `None` for any other pattern.
fn ascii_class(java: &str) -> Option<AsciiClass> {
    let (class, allow_empty) = match (java.strip_suffix('+'), java.strip_suffix('*')) {
        (Some(c), _) => (c, false),
        (_, Some(c)) => (c, true),
        _ => return None,
    };
    let inner = class.strip_prefix('[')?.strip_suffix(']')?;
    let mut escaped = false;
    for c in inner.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '[' | ']') => return None,
            _ => {}
        }
    }
    if escaped {
        // The closing bracket was escaped: not a class.
        return None;
    }
    let one = compile_java_pattern(class).ok()?;
    let mut members = 0u128;
    for b in 0u8..128 {
        if one.is_match(std::str::from_utf8(&[b]).ok()?) {
            members |= 1 << b;
        }
    }
    Some(AsciiClass { members, allow_empty })
}

/// Where the published model is stricter than the service. `DomainType` names a custom domain
/// too (`auth.example.com`, as its own documentation says), but its pattern allows one label.
const PATTERN_CORRECTIONS: &[(&str, &str)] =
    &[("DomainType", r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*$")];

impl ApiModel {
    /// `AWSCognitoIdentityProviderService` (user pools).
    pub fn cognito_idp() -> &'static ApiModel {
        static MODEL: OnceLock<ApiModel> = OnceLock::new();
        MODEL.get_or_init(|| ApiModel::load(COGNITO_IDP_JSON, "AWSCognitoIdentityProviderService"))
    }

    /// `AWSCognitoIdentityService` (identity pools).
    pub fn cognito_identity() -> &'static ApiModel {
        static MODEL: OnceLock<ApiModel> = OnceLock::new();
        MODEL.get_or_init(|| ApiModel::load(COGNITO_IDENTITY_JSON, "AWSCognitoIdentityService"))
    }

    /// `TesseraService`: Tessera's own admin operations, signed with the admin keys.
    pub fn tessera() -> &'static ApiModel {
        static MODEL: OnceLock<ApiModel> = OnceLock::new();
        MODEL.get_or_init(|| ApiModel::load(TESSERA_JSON, "TesseraService"))
    }

    /// Cognito Sync (REST-JSON, routed by method and path).
    pub fn cognito_sync() -> &'static ApiModel {
        static MODEL: OnceLock<ApiModel> = OnceLock::new();
        MODEL.get_or_init(|| ApiModel::load(COGNITO_SYNC_JSON, ""))
    }

    /// The HTTP status the model gives an error (REST services); `None` for JSON 1.1 services,
    /// whose client errors are all 400.
    pub fn error_status(&self, name: &str) -> Option<u16> {
        self.shapes.get(name).filter(|s| s.exception).and_then(|s| s.status)
    }

    /// The REST operation `method` + `path` names, with the URI labels it binds (decoded).
    pub fn match_rest(&self, method: &str, path: &str) -> Option<(&Operation, BTreeMap<String, String>)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.operations.values().find_map(|op| {
            let (m, uri) = op.http.as_ref()?;
            if !m.eq_ignore_ascii_case(method) {
                return None;
            }
            let template: Vec<&str> = uri.split('?').next()?.trim_matches('/').split('/').collect();
            if template.len() != segments.len() {
                return None;
            }
            let mut labels = BTreeMap::new();
            for (t, s) in template.iter().zip(&segments) {
                match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(label) if !s.is_empty() => {
                        labels.insert(label.trim_end_matches('+').to_string(), percent_decode(s)?);
                    }
                    Some(_) => return None,
                    None if t == s => {}
                    None => return None,
                }
            }
            Some((op, labels))
        })
    }

    /// A REST request's input as one JSON object: the body's members, plus the members the
    /// model binds to the URI labels, the query string and headers (numbers and booleans
    /// converted to their shape's JSON type). Wrong-typed bound values are a
    /// `SerializationException`, as for a body.
    pub fn rest_input(
        &self,
        op: &Operation,
        labels: &BTreeMap<String, String>,
        query: &str,
        headers: &[(String, String)],
        body: Value,
    ) -> Result<Value, WireError> {
        let mut input = match body {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => {
                return Err(WireError::serialization("Unexpected value type in payload: expected structure"))
            }
        };
        let Some(shape) = op.input.as_deref().and_then(|n| self.shapes.get(n)) else {
            return Ok(Value::Object(input));
        };
        let query: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                Some((percent_decode(&k.replace('+', " "))?, percent_decode(&v.replace('+', " "))?))
            })
            .collect();
        for (member, (location, name)) in &shape.locations {
            let raw = match location.as_str() {
                "uri" => labels.get(name).cloned(),
                "querystring" => query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
                "header" => {
                    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
                }
                _ => None,
            };
            input.remove(member);
            let Some(raw) = raw else { continue };
            let kind = shape.members.get(member).and_then(|t| self.shapes.get(t)).map(|s| s.kind);
            let value = match kind {
                Some(Kind::Integer | Kind::Long | Kind::Short | Kind::Byte) => raw
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| WireError::serialization(format!("Could not read '{name}' as a number")))?,
                Some(Kind::Boolean) => Value::Bool(raw.eq_ignore_ascii_case("true")),
                _ => Value::String(raw),
            };
            input.insert(member.clone(), value);
        }
        Ok(Value::Object(input))
    }

    /// The `X-Amz-Target` prefix, e.g. `AWSCognitoIdentityProviderService`.
    pub fn target_prefix(&self) -> &str {
        &self.target_prefix
    }

    /// e.g. `cognito-idp`.
    pub fn endpoint_prefix(&self) -> &str {
        &self.endpoint_prefix
    }

    /// The SigV4 service name, e.g. `cognito-idp`.
    pub fn signing_name(&self) -> &str {
        &self.signing_name
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// Every operation name, sorted.
    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Whether the model declares an error (exception) shape of this name.
    pub fn has_error_shape(&self, name: &str) -> bool {
        self.shapes.get(name).is_some_and(|s| s.exception)
    }

    /// The error a constraint violation answers. Cognito Identity's front end answers AWS's
    /// generic `ValidationException`, which its model does not declare (the SDKs surface it as
    /// an unmodelled error with that code); cognito-idp answers `InvalidParameterException`,
    /// and so does Cognito Sync, whose model documents that exception as "Thrown when a request
    /// parameter does not comply with the associated constraints".
    pub fn validation_error_name(&self) -> &'static str {
        if self.endpoint_prefix == "cognito-identity" {
            "ValidationException"
        } else {
            "InvalidParameterException"
        }
    }

    /// Checks a request body (already parsed; an empty body is `{}`) against the operation's
    /// input shape. Wrong JSON types → `SerializationException`; constraint violations → the
    /// service's [`validation_error_name`](Self::validation_error_name) with Coral's message.
    /// An operation the model does not have → `UnknownOperationException`.
    pub fn validate_input(&self, op: &str, input: &Value) -> Result<(), WireError> {
        let Some(operation) = self.operations.get(op) else {
            return Err(WireError::unknown_operation(&format!("{}.{op}", self.target_prefix)));
        };
        let Value::Object(body) = input else {
            return Err(WireError::serialization("Unexpected value type in payload: expected structure"));
        };
        let Some(shape) = operation.input.as_deref().and_then(|name| self.shapes.get(name)) else {
            return Ok(());
        };
        let mut validator = Validator { model: self, path: Vec::new(), violations: Vec::new() };
        validator.structure(shape, body, shape.sensitive)?;
        let detected = match validator.violations.len() {
            0 => return Ok(()),
            1 => "1 validation error detected".to_string(),
            n => format!("{n} validation errors detected"),
        };
        Err(WireError::new(
            self.validation_error_name(),
            400,
            format!("{detected}: {}", validator.violations.join("; ")),
        ))
    }

    /// Every pattern in the model that cannot be used (translated and compiled), with why.
    /// Their checks are skipped. Empty for the Cognito models.
    pub fn uncompilable_patterns(&self) -> Vec<(&str, String)> {
        self.patterns
            .keys()
            .filter_map(|java| compile_java_pattern(java).err().map(|e| (java.as_str(), e)))
            .collect()
    }

    fn load(json: &str, target_prefix: &str) -> ApiModel {
        match serde_json::from_str::<RawModel>(json) {
            Ok(raw) => ApiModel::from_raw(raw),
            Err(e) => {
                // Only reachable if the embedded model file is broken; the tests load both.
                tracing::error!(error = %e, target_prefix, "embedded API model does not parse");
                ApiModel {
                    target_prefix: target_prefix.to_string(),
                    endpoint_prefix: String::new(),
                    signing_name: String::new(),
                    operations: BTreeMap::new(),
                    shapes: BTreeMap::new(),
                    patterns: BTreeMap::new(),
                }
            }
        }
    }

    fn from_raw(raw: RawModel) -> ApiModel {
        let operations = raw
            .operations
            .into_iter()
            .map(|(name, op)| {
                let operation = Operation {
                    name: name.clone(),
                    input: op.input,
                    auth_none: op.authtype.as_deref() == Some("none"),
                    errors: op.errors,
                    http: op.http.map(|h| (h.method, h.request_uri)),
                };
                (name, operation)
            })
            .collect();
        let mut shapes = raw.shapes;
        for (name, pattern) in PATTERN_CORRECTIONS {
            if let Some(shape) = shapes.get_mut(*name) {
                shape.pattern = Some(pattern.to_string());
            }
        }
        let mut concealing: std::collections::BTreeSet<String> =
            shapes.iter().filter(|(_, s)| s.sensitive).map(|(n, _)| n.clone()).collect();
        loop {
            let more: Vec<String> = shapes
                .iter()
                .filter(|(n, s)| !concealing.contains(*n) && s.refs().any(|r| concealing.contains(r)))
                .map(|(n, _)| n.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            concealing.extend(more);
        }
        for (name, shape) in &mut shapes {
            shape.conceals = concealing.contains(name);
        }
        let patterns =
            shapes.values().filter_map(|s| s.pattern.clone()).map(|p| (p, OnceLock::new())).collect();
        ApiModel {
            target_prefix: raw.metadata.target_prefix.unwrap_or_default(),
            endpoint_prefix: raw.metadata.endpoint_prefix,
            signing_name: raw.metadata.signing_name,
            operations,
            shapes,
            patterns,
        }
    }

    fn regex(&self, java: &str) -> Option<&Pattern> {
        self.patterns
            .get(java)?
            .get_or_init(|| match Pattern::compile(java) {
                Ok(re) => Some(re),
                Err(e) => {
                    tracing::warn!(pattern = java, error = %e, "model pattern skipped");
                    None
                }
            })
            .as_ref()
    }
}

// ---------------------------------------------------------------------------------------------
// The compact model file

#[derive(Deserialize)]
struct RawModel {
    metadata: RawMetadata,
    operations: BTreeMap<String, RawOperation>,
    shapes: BTreeMap<String, Shape>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    #[serde(default)]
    target_prefix: Option<String>,
    endpoint_prefix: String,
    signing_name: String,
}

#[derive(Deserialize)]
struct RawOperation {
    input: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
    authtype: Option<String>,
    http: Option<RawHttp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHttp {
    method: String,
    request_uri: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Short,
    Byte,
    Float,
    Double,
    Boolean,
    Timestamp,
    Blob,
    #[serde(other)]
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Structure => "structure",
            Kind::List => "list",
            Kind::Map => "map",
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Long => "long",
            Kind::Short => "short",
            Kind::Byte => "byte",
            Kind::Float => "float",
            Kind::Double => "double",
            Kind::Boolean => "boolean",
            Kind::Timestamp => "timestamp",
            Kind::Blob => "blob",
            Kind::Other => "value",
        }
    }

    /// The range a JSON number must fit, for the integral kinds (exact, not via f64: 2^63
    /// rounds to `i64::MAX as f64`).
    fn integral_range(self) -> Option<(i128, i128)> {
        match self {
            Kind::Integer => Some((i32::MIN.into(), i32::MAX.into())),
            Kind::Long => Some((i64::MIN.into(), i64::MAX.into())),
            Kind::Short => Some((i16::MIN.into(), i16::MAX.into())),
            Kind::Byte => Some((i8::MIN.into(), i8::MAX.into())),
            _ => None,
        }
    }

    /// Kinds whose values are checked element by element and reported on the container.
    fn is_scalar(self) -> bool {
        !matches!(self, Kind::Structure | Kind::List | Kind::Map | Kind::Other)
    }
}

#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(default)]
    members: BTreeMap<String, String>,
    #[serde(default)]
    required: Vec<String>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    exception: bool,
    #[serde(default)]
    document: bool,
    /// REST: member → (location, wire name) for members bound outside the body.
    #[serde(default)]
    locations: BTreeMap<String, (String, String)>,
    /// REST: an error's HTTP status.
    status: Option<u16>,
    /// This shape is sensitive or (transitively) contains a sensitive shape: its value is
    /// never echoed in a message.
    #[serde(skip)]
    conceals: bool,
}

impl Shape {
    fn refs(&self) -> impl Iterator<Item = &str> {
        self.members.values().chain(&self.member).chain(&self.key).chain(&self.value).map(String::as_str)
    }
}

impl Shape {
    fn bound(&self, b: f64) -> String {
        if matches!(self.kind, Kind::Float | Kind::Double) {
            java_double(b)
        } else {
            format!("{}", b as i64)
        }
    }

    /// Every constraint of this (scalar) shape, in Coral's words and order — what Coral lists
    /// in `Member must satisfy constraint: [...]` for list elements and map keys/values.
    fn all_constraints(&self) -> Vec<String> {
        let mut out = Vec::new();
        let word = if self.is_sized() { "length" } else { "value" };
        if let Some(max) = self.max {
            out.push(format!("Member must have {word} less than or equal to {}", self.bound(max)));
        }
        if let Some(min) = self.min {
            out.push(format!("Member must have {word} greater than or equal to {}", self.bound(min)));
        }
        if let Some(p) = &self.pattern {
            out.push(format!("Member must satisfy regular expression pattern: {p}"));
        }
        if let Some(values) = &self.enum_values {
            out.push(format!("Member must satisfy enum value set: [{}]", values.join(", ")));
        }
        out
    }

    fn is_sized(&self) -> bool {
        matches!(self.kind, Kind::String | Kind::Blob | Kind::List | Kind::Map)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

#[derive(Clone, Copy)]
enum Seg<'a> {
    Member(&'a str),
    Index(usize),
    Key(&'a str),
}

/// A value that passed its type check, reduced to what the constraints look at.
enum Checked<'v> {
    /// Strings and blobs: their length (characters, or decoded bytes), and for strings the text.
    Text {
        len: usize,
        text: Option<&'v str>,
    },
    Number(f64),
    /// Integral members: the exact value.
    Integer(i128),
    /// Booleans and timestamps: nothing to constrain.
    Plain,
}

struct Validator<'a> {
    model: &'a ApiModel,
    path: Vec<Seg<'a>>,
    violations: Vec<String>,
}

impl<'a> Validator<'a> {
    fn shape(&self, name: &str) -> Option<&'a Shape> {
        self.model.shapes.get(name)
    }

    fn value(&mut self, shape: &'a Shape, value: &'a Value, sensitive: bool) -> Result<(), WireError> {
        let sensitive = sensitive || shape.sensitive;
        match shape.kind {
            Kind::Structure if shape.document => Ok(()),
            Kind::Structure => match value {
                Value::Object(obj) => self.structure(shape, obj, sensitive),
                _ => Err(self.type_error(shape.kind)),
            },
            Kind::List => match value {
                Value::Array(items) => self.list(shape, value, items, sensitive),
                _ => Err(self.type_error(shape.kind)),
            },
            Kind::Map => match value {
                Value::Object(entries) => self.map(shape, value, entries, sensitive),
                _ => Err(self.type_error(shape.kind)),
            },
            Kind::Other => Ok(()),
            _ => {
                let checked = self.scalar(shape, value)?;
                for constraint in self.failures(shape, &checked) {
                    let shown = shown_scalar(value, &checked);
                    self.violation(Some(shown), sensitive, &constraint);
                }
                Ok(())
            }
        }
    }

    fn structure(
        &mut self,
        shape: &'a Shape,
        obj: &'a Map<String, Value>,
        sensitive: bool,
    ) -> Result<(), WireError> {
        for (name, target) in &shape.members {
            self.path.push(Seg::Member(name));
            match obj.get(name) {
                None | Some(Value::Null) => {
                    if shape.required.iter().any(|r| r == name) {
                        self.violation(None, sensitive, "Member must not be null");
                    }
                }
                Some(v) => {
                    if let Some(member) = self.shape(target) {
                        self.value(member, v, sensitive)?;
                    }
                }
            }
            self.path.pop();
        }
        Ok(())
    }

    fn list(
        &mut self,
        shape: &'a Shape,
        whole: &'a Value,
        items: &'a [Value],
        sensitive: bool,
    ) -> Result<(), WireError> {
        self.size(shape, whole, items.len(), sensitive);
        let Some(member) = shape.member.as_deref().and_then(|m| self.shape(m)) else {
            return Ok(());
        };
        if member.kind.is_scalar() {
            // Coral reports failing scalar elements once, on the list, listing every constraint.
            let (mut failed, mut null) = (false, false);
            for (i, item) in items.iter().enumerate() {
                if item.is_null() {
                    null = true;
                    continue;
                }
                self.path.push(Seg::Index(i));
                let checked = self.scalar(member, item)?;
                self.path.pop();
                failed |= !self.failures(member, &checked).is_empty();
            }
            if failed || null {
                let mut all = member.all_constraints();
                if null {
                    all.push("Member must not be null".to_string());
                }
                let constraint = format!("Member must satisfy constraint: [{}]", all.join(", "));
                self.violation(Some(coral_repr(whole)), sensitive || shape.conceals, &constraint);
            }
            return Ok(());
        }
        for (i, item) in items.iter().enumerate() {
            self.path.push(Seg::Index(i));
            if item.is_null() {
                self.violation(None, sensitive, "Member must not be null");
            } else {
                self.value(member, item, sensitive)?;
            }
            self.path.pop();
        }
        Ok(())
    }

    fn map(
        &mut self,
        shape: &'a Shape,
        whole: &'a Value,
        entries: &'a Map<String, Value>,
        sensitive: bool,
    ) -> Result<(), WireError> {
        self.size(shape, whole, entries.len(), sensitive);
        let key_shape = shape.key.as_deref().and_then(|k| self.shape(k));
        let value_shape = shape.value.as_deref().and_then(|v| self.shape(v));

        if let Some(key_shape) = key_shape.filter(|k| k.kind == Kind::String) {
            let failed = entries.keys().any(|k| {
                let checked = Checked::Text { len: k.chars().count(), text: Some(k.as_str()) };
                !self.failures(key_shape, &checked).is_empty()
            });
            if failed {
                let constraint =
                    format!("Map keys must satisfy constraint: [{}]", key_shape.all_constraints().join(", "));
                self.violation(Some(coral_repr(whole)), sensitive || shape.conceals, &constraint);
            }
        }

        let Some(value_shape) = value_shape else {
            return Ok(());
        };
        if value_shape.kind.is_scalar() {
            let (mut failed, mut null) = (false, false);
            for (k, v) in entries {
                if v.is_null() {
                    null = true;
                    continue;
                }
                self.path.push(Seg::Key(k));
                let checked = self.scalar(value_shape, v)?;
                self.path.pop();
                failed |= !self.failures(value_shape, &checked).is_empty();
            }
            if failed || null {
                let mut all = value_shape.all_constraints();
                if null {
                    all.push("Member must not be null".to_string());
                }
                let constraint = format!("Map value must satisfy constraint: [{}]", all.join(", "));
                self.violation(Some(coral_repr(whole)), sensitive || shape.conceals, &constraint);
            }
            return Ok(());
        }
        for (k, v) in entries {
            self.path.push(Seg::Key(k));
            if v.is_null() {
                self.violation(None, sensitive, "Member must not be null");
            } else {
                self.value(value_shape, v, sensitive)?;
            }
            self.path.pop();
        }
        Ok(())
    }

    /// Entry / element count of a list or map.
    fn size(&mut self, shape: &Shape, whole: &Value, len: usize, sensitive: bool) {
        let shown = Some(coral_repr(whole));
        let sensitive = sensitive || shape.conceals;
        if let Some(max) = shape.max.filter(|m| len as f64 > *m) {
            let c = format!("Member must have length less than or equal to {}", shape.bound(max));
            self.violation(shown.clone(), sensitive, &c);
        }
        if let Some(min) = shape.min.filter(|m| (len as f64) < *m) {
            let c = format!("Member must have length greater than or equal to {}", shape.bound(min));
            self.violation(shown, sensitive, &c);
        }
    }

    /// Type check of a scalar: the value as the constraints see it, or a SerializationException.
    fn scalar<'v>(&self, shape: &Shape, value: &'v Value) -> Result<Checked<'v>, WireError> {
        match (shape.kind, value) {
            (Kind::String, Value::String(s)) => {
                Ok(Checked::Text { len: s.chars().count(), text: Some(s.as_str()) })
            }
            (Kind::Blob, Value::String(s)) => match base64_decoded_len(s) {
                Some(len) => Ok(Checked::Text { len, text: None }),
                None => Err(WireError::serialization(format!(
                    "Invalid base64 value in payload for '{}'",
                    self.wire_path()
                ))),
            },
            (Kind::Boolean, Value::Bool(_)) => Ok(Checked::Plain),
            (Kind::Timestamp, Value::Number(_)) => Ok(Checked::Plain),
            (Kind::Float | Kind::Double, Value::Number(n)) => Ok(Checked::Number(n.as_f64().unwrap_or(0.0))),
            (kind, Value::Number(n)) => match kind.integral_range() {
                Some(range) => self.integral(n, kind, range),
                None => Err(self.type_error(kind)),
            },
            (kind, _) => Err(self.type_error(kind)),
        }
    }

    /// An integral member's JSON number: an integer literal within the type's range. Coral
    /// would truncate `1.5` to 1; Tessera refuses it, and also a whole number written as a
    /// decimal or exponent (`60.0`, `6e1`, `-0`), which the domain could not read as an
    /// integer (docs/security.md, "Numbers follow the API model").
    fn integral(
        &self,
        n: &serde_json::Number,
        kind: Kind,
        (lo, hi): (i128, i128),
    ) -> Result<Checked<'static>, WireError> {
        let out_of_range = || {
            WireError::serialization(format!(
                "Value in payload for '{}' is out of range for {}",
                self.wire_path(),
                kind.name()
            ))
        };
        // Exact, not through f64: 2^63 would round to `i64::MAX as f64`.
        let exact = n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
        if let Some(v) = exact {
            return if (lo..=hi).contains(&v) { Ok(Checked::Integer(v)) } else { Err(out_of_range()) };
        }
        let f = n.as_f64().unwrap_or(f64::NAN);
        let problem = if !f.is_finite() || f.fract() != 0.0 {
            "is not a whole number"
        } else if f < lo as f64 || f > hi as f64 {
            return Err(out_of_range());
        } else {
            "must be written as a plain integer"
        };
        Err(WireError::serialization(format!(
            "Value in payload for '{}' {problem}: expected {}",
            self.wire_path(),
            kind.name()
        )))
    }

    /// The constraints of a scalar shape this (type-checked) value breaks, in Coral's order.
    fn failures(&self, shape: &Shape, checked: &Checked<'_>) -> Vec<String> {
        let mut out = Vec::new();
        match checked {
            Checked::Text { len, text } => {
                let len = *len as f64;
                if let Some(max) = shape.max.filter(|m| len > *m) {
                    out.push(format!("Member must have length less than or equal to {}", shape.bound(max)));
                }
                if let Some(min) = shape.min.filter(|m| len < *m) {
                    out.push(format!(
                        "Member must have length greater than or equal to {}",
                        shape.bound(min)
                    ));
                }
                if let Some(text) = text {
                    if let Some(p) = &shape.pattern {
                        if self.model.regex(p).is_some_and(|re| !re.is_match(text)) {
                            out.push(format!("Member must satisfy regular expression pattern: {p}"));
                        }
                    }
                    if let Some(values) = &shape.enum_values {
                        if !values.iter().any(|v| v == text) {
                            out.push(format!("Member must satisfy enum value set: [{}]", values.join(", ")));
                        }
                    }
                }
            }
            Checked::Number(v) => {
                if let Some(max) = shape.max.filter(|m| v > m) {
                    out.push(format!("Member must have value less than or equal to {}", shape.bound(max)));
                }
                if let Some(min) = shape.min.filter(|m| v < m) {
                    out.push(format!("Member must have value greater than or equal to {}", shape.bound(min)));
                }
            }
            Checked::Integer(v) => {
                // The model's bounds are whole numbers well inside f64's exact range.
                let v = *v as f64;
                if let Some(max) = shape.max.filter(|m| v > *m) {
                    out.push(format!("Member must have value less than or equal to {}", shape.bound(max)));
                }
                if let Some(min) = shape.min.filter(|m| v < *m) {
                    out.push(format!("Member must have value greater than or equal to {}", shape.bound(min)));
                }
            }
            Checked::Plain => {}
        }
        out
    }

    /// `shown` is the value as Coral prints it; `None` for a missing value (`Value null at …`).
    fn violation(&mut self, shown: Option<String>, sensitive: bool, constraint: &str) {
        let path = self.coral_path();
        let message = match shown {
            None => format!("Value null at '{path}' failed to satisfy constraint: {constraint}"),
            Some(_) if sensitive => {
                format!("Value at '{path}' failed to satisfy constraint: {constraint}")
            }
            Some(v) => {
                format!("Value '{v}' at '{path}' failed to satisfy constraint: {constraint}")
            }
        };
        self.violations.push(message);
    }

    fn type_error(&self, expected: Kind) -> WireError {
        WireError::serialization(format!(
            "Unexpected value type in payload for '{}': expected {}",
            self.wire_path(),
            expected.name()
        ))
    }

    /// `userAttributes.1.member.name`: Coral's path (lowerCamelCase, 1-based `.N.member`).
    fn coral_path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if !out.is_empty() {
                out.push('.');
            }
            match seg {
                Seg::Member(name) => {
                    let mut chars = name.chars();
                    if let Some(first) = chars.next() {
                        out.extend(first.to_lowercase());
                        out.push_str(chars.as_str());
                    }
                }
                Seg::Index(i) => {
                    let _ = write!(out, "{}.member", i + 1);
                }
                Seg::Key(k) => out.push_str(k),
            }
        }
        out
    }

    /// `UserAttributes[0].Name`: the path as it is in the request body.
    fn wire_path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Member(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
                Seg::Key(k) => {
                    let _ = write!(out, "[{}]", Value::String(k.to_string()));
                }
            }
        }
        out
    }
}

/// A scalar as Coral prints it in a message (integral members as the integer read).
fn shown_scalar(value: &Value, checked: &Checked<'_>) -> String {
    match checked {
        Checked::Integer(v) => format!("{v}"),
        _ => coral_repr(value),
    }
}

/// Java's `toString` of the deserialized value: `abc`, `[a, b]`, `{k=v}`.
fn coral_repr(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::String(s) => out.push_str(s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(entries) => {
                out.push('{');
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push('=');
                    write(item, out);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Java's `Double.toString` for the plain numbers a model uses as bounds.
fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Length in bytes of standard base64 (padding optional), or `None` if it is not base64.
fn base64_decoded_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let unpadded = bytes.strip_suffix(b"==").or_else(|| bytes.strip_suffix(b"=")).unwrap_or(bytes);
    if unpadded.len() != bytes.len() && bytes.len() & 3 != 0 {
        return None;
    }
    if !unpadded.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/') {
        return None;
    }
    match unpadded.len() % 4 {
        1 => None,
        r => Some(unpadded.len() / 4 * 3 + r.saturating_sub(1)),
    }
}

// ---------------------------------------------------------------------------------------------
// Java patterns

/// Patterns whose Java meaning needs a construct `regex` lacks, rewritten by hand.
const PATTERN_OVERRIDES: &[(&str, &str)] = &[
    // Lookbehind: any of these characters, not ending in '.' (empty allowed).
    (r"^[0-9A-Za-z\.\-_]*(?<!\.)$", r"(?:[0-9A-Za-z.\-_]*[0-9A-Za-z\-_])?"),
];

/// Java's line terminators, which `.` does not match unless DOTALL.
const JAVA_DOT: &str = r"[^\n\r\x{85}\x{2028}\x{2029}]";
/// Java's (ASCII) `\w`, `\d`, `\s` as class bodies.
const JAVA_WORD: &str = "0-9A-Za-z_";
const JAVA_DIGIT: &str = "0-9";
const JAVA_SPACE: &str = r"\t\n\x0B\x0C\r ";

/// A model pattern, anchored (Coral requires the whole value to match), compiled.
fn compile_java_pattern(java: &str) -> Result<Regex, String> {
    let body = translate_java_pattern(java)?;
    Regex::new(&format!("^(?:{body})$")).map_err(|e| e.to_string())
}

enum Escape {
    Literal(char),
    /// A class body (usable inside `[...]`), possibly negated.
    Class(String, bool),
    /// A zero-width assertion, only valid outside classes.
    Assertion(&'static str),
    /// `\Q...\E`.
    Quoted(String),
}

/// Translates `java.util.regex` syntax into `regex` syntax with Java's meaning: ASCII `\w \d \s`,
/// `.` excluding line terminators, literal `-` after a range inside a class, POSIX `\p{..}`
/// names, possessive quantifiers and atomic groups (as their ordinary forms). Lookaround and
/// backreferences are errors.
fn translate_java_pattern(java: &str) -> Result<String, String> {
    if let Some((_, rust)) = PATTERN_OVERRIDES.iter().find(|(j, _)| *j == java) {
        return Ok((*rust).to_string());
    }
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::with_capacity(java.len() * 2);
    let mut i = 0;
    let mut dotall = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let (escape, used) = parse_escape(&chars, i)?;
                i += used;
                match escape {
                    Escape::Literal(l) => push_literal(&mut out, l),
                    Escape::Class(body, negated) => {
                        let _ = write!(out, "[{}{body}]", if negated { "^" } else { "" });
                    }
                    Escape::Assertion(a) => out.push_str(a),
                    Escape::Quoted(text) => out.push_str(&regex::escape(&text)),
                }
            }
            '[' => i = translate_class(&chars, i, &mut out)?,
            '.' => out.push_str(if dotall { "." } else { JAVA_DOT }),
            '(' if chars.get(i) == Some(&'?') => {
                i += 1;
                let rest: String = chars[i..].iter().take(3).collect();
                if rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    return Err("lookaround is not supported".to_string());
                } else if rest.starts_with('>') {
                    out.push_str("(?:"); // atomic group: same matches for a whole-value test
                    i += 1;
                } else if rest.starts_with('<') || rest.starts_with(':') {
                    out.push_str("(?");
                } else {
                    // Inline flags: (?idmsux-idmsux) or (?idmsux-idmsux:X)
                    let mut flags = String::new();
                    let mut negate = false;
                    while let Some(&f) = chars.get(i) {
                        i += 1;
                        match f {
                            ')' | ':' => {
                                if !flags.is_empty() && flags != "-" {
                                    let _ = write!(out, "(?{flags}{f}");
                                } else if f == ':' {
                                    out.push_str("(?:");
                                }
                                break;
                            }
                            '-' => {
                                negate = true;
                                flags.push('-');
                            }
                            'i' | 'm' | 's' | 'x' => {
                                if f == 's' {
                                    dotall = !negate;
                                }
                                flags.push(f);
                            }
                            'd' | 'u' => {} // UNIX_LINES, UNICODE_CASE: no regex equivalent needed
                            other => return Err(format!("unsupported inline flag '{other}'")),
                        }
                    }
                }
            }
            '*' | '+' | '?' => {
                out.push(c);
                i = quantifier_suffix(&chars, i, &mut out);
            }
            '{' => {
                out.push('{');
                while let Some(&q) = chars.get(i) {
                    i += 1;
                    out.push(q);
                    if q == '}' {
                        break;
                    }
                }
                i = quantifier_suffix(&chars, i, &mut out);
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// After a quantifier: a possessive `+` is dropped, a lazy `?` kept.
fn quantifier_suffix(chars: &[char], i: usize, out: &mut String) -> usize {
    match chars.get(i) {
        Some('+') => i + 1,
        Some('?') => {
            out.push('?');
            i + 1
        }
        _ => i,
    }
}

/// Translates a class whose `[` is just before `start`; returns the index after its `]`.
fn translate_class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // Whether the previous item is a single character that a following '-' makes a range of.
    let mut can_start_range = false;
    let mut items = 0usize;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            ']' if items > 0 => {
                out.push(']');
                return Ok(i);
            }
            '[' => {
                i = translate_class(chars, i, out)?;
                can_start_range = false;
            }
            '&' if chars.get(i) == Some(&'&') => {
                out.push_str("&&");
                i += 1;
                can_start_range = false;
            }
            '-' if can_start_range && !matches!(chars.get(i), None | Some(']') | Some('[')) => {
                // A range: its end is the next single character.
                out.push('-');
                let end = match chars.get(i) {
                    Some('\\') => {
                        let (escape, used) = parse_escape(chars, i + 1)?;
                        i += 1 + used;
                        match escape {
                            Escape::Literal(l) => l,
                            _ => return Err("a range must end in a single character".to_string()),
                        }
                    }
                    Some(&l) => {
                        i += 1;
                        l
                    }
                    None => return Err("unterminated range".to_string()),
                };
                push_class_literal(out, end);
                can_start_range = false;
            }
            '\\' => {
                let (escape, used) = parse_escape(chars, i)?;
                i += used;
                can_start_range = false;
                match escape {
                    Escape::Literal(l) => {
                        push_class_literal(out, l);
                        can_start_range = true;
                    }
                    Escape::Class(body, false) => out.push_str(&body),
                    Escape::Class(body, true) => {
                        let _ = write!(out, "[^{body}]");
                    }
                    Escape::Quoted(text) => text.chars().for_each(|l| push_class_literal(out, l)),
                    Escape::Assertion(_) => return Err("assertion inside a class".to_string()),
                }
            }
            _ => {
                push_class_literal(out, c);
                can_start_range = true;
            }
        }
        items += 1;
    }
    Err("unterminated character class".to_string())
}

fn push_literal(out: &mut String, c: char) {
    if c.is_control() {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    } else {
        out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    }
}

fn push_class_literal(out: &mut String, c: char) {
    if c.is_control() {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    } else if matches!(c, '[' | ']' | '\\' | '-' | '^' | '&' | '~') {
        out.push('\\');
        out.push(c);
    } else {
        out.push(c);
    }
}

/// Parses the escape whose backslash is just before `i`; returns it and the chars it used.
fn parse_escape(chars: &[char], i: usize) -> Result<(Escape, usize), String> {
    let Some(&c) = chars.get(i) else {
        return Err("trailing backslash".to_string());
    };
    let hex = |from: usize, n: usize| -> Result<char, String> {
        let digits: String = chars.get(from..from + n).unwrap_or_default().iter().collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| digits.len() == n)
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad hex escape '{digits}'"))
    };
    Ok(match c {
        'w' => (Escape::Class(JAVA_WORD.into(), false), 1),
        'W' => (Escape::Class(JAVA_WORD.into(), true), 1),
        'd' => (Escape::Class(JAVA_DIGIT.into(), false), 1),
        'D' => (Escape::Class(JAVA_DIGIT.into(), true), 1),
        's' => (Escape::Class(JAVA_SPACE.into(), false), 1),
        'S' => (Escape::Class(JAVA_SPACE.into(), true), 1),
        'p' | 'P' => {
            let (name, used) = if chars.get(i + 1) == Some(&'{') {
                let name: String = chars[i + 2..].iter().take_while(|c| **c != '}').collect();
                if chars.get(i + 2 + name.chars().count()) != Some(&'}') {
                    return Err("unterminated \\p{".to_string());
                }
                let used = name.chars().count() + 3;
                (name, used)
            } else {
                let name = chars.get(i + 1).map(|c| c.to_string()).ok_or("bad \\p")?;
                (name, 2)
            };
            (Escape::Class(java_property(&name)?, c == 'P'), used)
        }
        'Q' => {
            let text: String = chars[i + 1..].iter().collect();
            let quoted = text.split("\\E").next().unwrap_or_default().to_string();
            let used = 1 + quoted.chars().count() + if text.contains("\\E") { 2 } else { 0 };
            (Escape::Quoted(quoted), used)
        }
        't' => (Escape::Literal('\t'), 1),
        'n' => (Escape::Literal('\n'), 1),
        'r' => (Escape::Literal('\r'), 1),
        'f' => (Escape::Literal('\x0C'), 1),
        'a' => (Escape::Literal('\x07'), 1),
        'e' => (Escape::Literal('\x1B'), 1),
        'x' if chars.get(i + 1) == Some(&'{') => {
            let digits: String = chars[i + 2..].iter().take_while(|c| **c != '}').collect();
            let n = digits.chars().count();
            (Escape::Literal(hex(i + 2, n)?), n + 3)
        }
        'x' => (Escape::Literal(hex(i + 1, 2)?), 3),
        'u' => (Escape::Literal(hex(i + 1, 4)?), 5),
        '0' => {
            let digits: String = chars[i + 1..].iter().take(3).take_while(|c| c.is_digit(8)).collect();
            let digits =
                if digits.len() == 3 && digits.as_bytes()[0] > b'3' { &digits[..2] } else { &digits };
            let value = u32::from_str_radix(digits, 8).map_err(|_| "bad octal escape")?;
            (Escape::Literal(char::from_u32(value).ok_or("bad octal escape")?), 1 + digits.len())
        }
        'c' => {
            let letter = chars.get(i + 1).ok_or("bad \\c")?;
            (Escape::Literal(char::from_u32(*letter as u32 ^ 64).ok_or("bad \\c")?), 2)
        }
        'b' => (Escape::Assertion(r"\b"), 1),
        'B' => (Escape::Assertion(r"\B"), 1),
        'A' => (Escape::Assertion(r"\A"), 1),
        'z' => (Escape::Assertion(r"\z"), 1),
        c if c.is_ascii_alphanumeric() => return Err(format!("unsupported escape '\\{c}'")),
        c => (Escape::Literal(c), 1),
    })
}

/// A Java `\p{name}` as a `regex` class body.
fn java_property(name: &str) -> Result<String, String> {
    const GENERAL_CATEGORIES: &[&str] = &[
        "L", "Lu", "Ll", "Lt", "Lm", "Lo", "LC", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
        "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc",
        "Cf", "Co", "Cs", "Cn",
    ];
    let stripped = name.strip_prefix("Is").unwrap_or(name);
    if GENERAL_CATEGORIES.contains(&stripped) {
        return Ok(format!(r"\p{{{stripped}}}"));
    }
    // POSIX classes are US-ASCII only in Java (without UNICODE_CHARACTER_CLASS).
    Ok(match name {
        "Lower" => "a-z".into(),
        "Upper" => "A-Z".into(),
        "ASCII" => r"\x00-\x7F".into(),
        "Alpha" => "A-Za-z".into(),
        "Digit" => "0-9".into(),
        "Alnum" => "0-9A-Za-z".into(),
        "Punct" => r"!-/:-@\[-`\{-\~".into(),
        "Graph" => r"\x21-\x7E".into(),
        "Print" => r"\x20-\x7E".into(),
        "Blank" => r" \t".into(),
        "Cntrl" => r"\x00-\x1F\x7F".into(),
        "XDigit" => "0-9a-fA-F".into(),
        "Space" => JAVA_SPACE.into(),
        "javaLowerCase" => r"\p{Ll}".into(),
        "javaUpperCase" => r"\p{Lu}".into(),
        "javaWhitespace" => r"\t\n\x0B\x0C\r\x1C-\x1F\p{Zs}\p{Zl}\p{Zp}".into(),
        _ => return Err(format!("unsupported property \\p{{{name}}}")),
    })
}

/// Decodes `%XX` escapes (UTF-8); `None` on a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    fn idp() -> &'static ApiModel {
        ApiModel::cognito_idp()
    }

    fn invalid(op: &str, body: Value) -> String {
        let err = idp().validate_input(op, &body).unwrap_err();
        assert_eq!(err.name, "InvalidParameterException", "{}", err.message);
        assert_eq!(err.status, 400);
        err.message
    }

    const POOL: &str = "us-east-1_AbCdEf123";
    const CLIENT: &str = "1example23456789abcdefghij";

    #[test]
    fn models_load() {
        let m = idp();
        assert_eq!(m.target_prefix(), "AWSCognitoIdentityProviderService");
        assert_eq!(m.signing_name(), "cognito-idp");
        assert_eq!(m.endpoint_prefix(), "cognito-idp");
        assert!(m.operation_names().count() > 100);
        let sign_up = m.operation("SignUp").unwrap();
        assert_eq!(sign_up.name, "SignUp");
        assert_eq!(sign_up.input.as_deref(), Some("SignUpRequest"));
        assert!(sign_up.auth_none);
        assert!(sign_up.errors.iter().any(|e| e == "UsernameExistsException"));
        assert!(!m.operation("CreateUserPool").unwrap().auth_none);
        assert!(m.has_error_shape("UsernameExistsException"));
        assert!(m.has_error_shape("InvalidParameterException"));
        assert!(!m.has_error_shape("SignUpRequest"));
        assert!(!m.has_error_shape("NoSuchThing"));
        for op in m.operation_names() {
            for e in &m.operation(op).unwrap().errors {
                assert!(m.has_error_shape(e), "{op}: {e}");
            }
        }

        let id = ApiModel::cognito_identity();
        assert_eq!(id.target_prefix(), "AWSCognitoIdentityService");
        assert!(id.operation("GetId").unwrap().auth_none);
        assert!(!id.operation("CreateIdentityPool").unwrap().auth_none);
        assert!(id.has_error_shape("ResourceNotFoundException"));
    }

    #[test]
    fn every_pattern_compiles() {
        for m in [ApiModel::cognito_idp(), ApiModel::cognito_identity()] {
            assert!(!m.patterns.is_empty());
            assert_eq!(m.uncompilable_patterns(), Vec::<(&str, String)>::new());
            for p in m.patterns.keys() {
                assert!(m.regex(p).is_some(), "{p}");
            }
        }
    }

    #[test]
    fn the_ascii_tables_agree_with_the_regexes() {
        let mut tabled = 0;
        for m in [ApiModel::cognito_idp(), ApiModel::cognito_identity(), ApiModel::cognito_sync()] {
            for java in m.patterns.keys() {
                let Some(p) = m.regex(java) else { continue };
                if p.ascii_class.is_none() {
                    continue;
                }
                tabled += 1;
                let mut samples: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
                samples.extend(
                    ["", "ab", "a b", "a+b=c/d", "us-east-1_abc", "x.y-z_0", "a\tb", "ü", "aü", "é+"]
                        .map(String::from),
                );
                samples.extend((0u8..128).map(|b| format!("ok{}ok", char::from(b))));
                for text in &samples {
                    assert_eq!(p.is_match(text), p.regex.is_match(text), "{java} on {text:?}");
                }
            }
        }
        // Tokens, ids, names: most of the model's patterns are one class repeated.
        assert!(tabled >= 20, "{tabled}");
        assert!(ascii_class("[a-z]+[0-9]+").is_none());
        assert!(ascii_class("[a-z\\]+").is_none());
        assert!(ascii_class("[a-z[0-9]]+").is_none());
    }

    #[test]
    fn translated_patterns_keep_java_meaning() {
        let re = |p: &str| compile_java_pattern(p).unwrap();
        // `-` after a range is a literal in Java, not the start of another range.
        let p = re("[A-Za-z0-9-_+/=.]+");
        assert!(p.is_match("ab-_+/=.9"));
        assert!(!p.is_match("a:b"));
        // Java's \w, \d, \s are ASCII.
        assert!(re(r"[\w+]+").is_match("abc_9+"));
        assert!(!re(r"[\w+]+").is_match("é"));
        assert!(!re(r"\d+").is_match("٣"));
        assert!(re(r"[\S]+").is_match("pässwörd!"));
        assert!(!re(r"[\S]+").is_match("pass word"));
        assert!(re(r"[\S]+").is_match("pass\u{a0}word")); // NBSP is not \s in Java
        assert!(!re(r"^https://[^\s]+$").is_match("https://a b"));
        // Whole-value match.
        assert!(!re(r"[\w-]+_[0-9a-zA-Z]+").is_match("us-east-1_abc!"));
        assert!(re(r"[\w-]+_[0-9a-zA-Z]+").is_match(POOL));
        // Java's '.' stops at line terminators unless (?s).
        assert!(re(r".*\{####\}.*").is_match("Code {####}"));
        assert!(!re(r".*\{####\}.*").is_match("Code\n{####}"));
        assert!(re(r"(?s).*").is_match("a\nb"));
        // The lookbehind override.
        let p = re(r"^[0-9A-Za-z\.\-_]*(?<!\.)$");
        assert!(p.is_match("a.b-c_d") && p.is_match("") && !p.is_match("abc.") && !p.is_match("a b"));
        // Escaped punctuation the regex crate need not know.
        let p = re(
            r"^arn\:(aws|aws-us-gov|aws-eusc)\:secretsmanager\:([\d\w\-]+):(\d{12})\:secret\/[\w+=\/,.@\-]+$",
        );
        assert!(p.is_match("arn:aws:secretsmanager:us-east-1:123456789012:secret/my-secret"));
        let p = re(r"^https://[!$-;=@-\[\]_a-z~]+$");
        assert!(p.is_match("https://example.com/path-x_1;a=b"));
        assert!(!p.is_match("https://example.com/?q"));
        assert!(!p.is_match("https://a<b") && !p.is_match("https://a b"));
        // Constructs Java has and the regex crate lacks.
        assert!(re(r"a++b").is_match("aab"));
        assert!(re(r"(?>ab)c").is_match("abc"));
        assert!(re(r"\p{Cntrl}").is_match("\u{7}"));
        assert!(re(r"[\w-.]+").is_match("a-b.c"));
        assert!(re(r"\Qa.b\E").is_match("a.b") && !re(r"\Qa.b\E").is_match("axb"));
        assert!(compile_java_pattern(r"(?=a)a").is_err());
        assert!(compile_java_pattern(r"(a)\1").is_err());
    }

    #[test]
    fn valid_bodies_pass() {
        let m = idp();
        m.validate_input(
            "SignUp",
            &json!({
                "ClientId": CLIENT,
                "Username": "alice@example.com",
                "Password": "Correct-Horse-9",
                "UserAttributes": [{"Name": "email", "Value": "alice@example.com"}, {"Name": "custom:tier", "Value": "gold"}],
                "ClientMetadata": {"source": "web"},
                "SomethingAwsDoesNotKnow": {"ignored": [1, 2]}
            }),
        )
        .unwrap();
        m.validate_input(
            "CreateUserPool",
            &json!({
                "PoolName": "my pool",
                "Policies": {"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": true, "TemporaryPasswordValidityDays": 7}},
                "AutoVerifiedAttributes": ["email"],
                "UsernameAttributes": ["email"],
                "MfaConfiguration": "OFF",
                "Schema": [{"Name": "tier", "AttributeDataType": "String", "Mutable": true,
                            "StringAttributeConstraints": {"MinLength": "0", "MaxLength": "20"}}],
                "UserPoolTags": {"team": "identity"},
                "DeletionProtection": "ACTIVE"
            }),
        )
        .unwrap();
        m.validate_input(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": CLIENT,
                    "AuthParameters": {"USERNAME": "alice", "PASSWORD": "pw"}}),
        )
        .unwrap();
        m.validate_input("ListUserPools", &json!({"MaxResults": 60})).unwrap();
        m.validate_input("GetUser", &json!({"AccessToken": "eyJraWQ.eyJzdWIi.sig"})).unwrap();
        // Explicit nulls are absent members.
        m.validate_input("ListUserPools", &json!({"MaxResults": 1, "NextToken": null})).unwrap();
        ApiModel::cognito_identity()
            .validate_input(
                "GetId",
                &json!({"IdentityPoolId": "us-east-1:0b6a3c0e-1111-2222-3333-444455556666",
                        "Logins": {"cognito-idp.us-east-1.amazonaws.com/us-east-1_abc": "token"}}),
            )
            .unwrap();
    }

    #[test]
    fn missing_required_member() {
        assert_eq!(
            invalid("SignUp", json!({"Username": "alice", "Password": "Correct-Horse-9"})),
            "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: Member must not be null"
        );
        // A null is a missing member.
        assert_eq!(
            invalid("SignUp", json!({"ClientId": null, "Username": "alice"})),
            "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn pattern_violation_echoes_value() {
        assert_eq!(
            invalid("AdminGetUser", json!({"UserPoolId": "YOUR_USER_POOL_ID!", "Username": "alice"})),
            "1 validation error detected: Value 'YOUR_USER_POOL_ID!' at 'userPoolId' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+"
        );
    }

    #[test]
    fn username_too_long_is_not_echoed() {
        let long = "a".repeat(129);
        assert_eq!(
            invalid("SignUp", json!({"ClientId": CLIENT, "Username": long})),
            "1 validation error detected: Value at 'username' failed to satisfy constraint: \
             Member must have length less than or equal to 128"
        );
        // Length counts characters, not bytes.
        let m = idp();
        m.validate_input("SignUp", &json!({"ClientId": CLIENT, "Username": "é".repeat(128)})).unwrap();
    }

    #[test]
    fn bad_enum() {
        assert_eq!(
            invalid("InitiateAuth", json!({"AuthFlow": "PASSWORD", "ClientId": CLIENT})),
            "1 validation error detected: Value 'PASSWORD' at 'authFlow' failed to satisfy constraint: \
             Member must satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, \
             ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]"
        );
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        let m = idp();
        let cases = [
            (json!({"ClientId": 12, "Username": "a"}), "'ClientId': expected string"),
            (json!({"ClientId": CLIENT, "Username": {"x": 1}}), "'Username': expected string"),
            (
                json!({"ClientId": CLIENT, "Username": "a", "UserAttributes": {"Name": "email"}}),
                "'UserAttributes': expected list",
            ),
            (
                json!({"ClientId": CLIENT, "Username": "a", "UserAttributes": [{"Name": true}]}),
                "'UserAttributes[0].Name': expected string",
            ),
            (
                json!({"ClientId": CLIENT, "Username": "a", "ClientMetadata": {"k": 1}}),
                "'ClientMetadata[\"k\"]': expected string",
            ),
            (
                json!({"ClientId": CLIENT, "Username": "a", "ClientMetadata": ["k"]}),
                "'ClientMetadata': expected map",
            ),
        ];
        for (body, needle) in cases {
            let err = m.validate_input("SignUp", &body).unwrap_err();
            assert_eq!(err.name, "SerializationException", "{body}");
            assert!(err.message.contains(needle), "{} / {needle}", err.message);
        }
        let err = m.validate_input("SignUp", &json!({"ClientId": 12})).unwrap_err();
        assert_eq!(err.message, "Unexpected value type in payload for 'ClientId': expected string");
        for body in [json!({"MaxResults": "60"}), json!({"MaxResults": true}), json!({"MaxResults": 1e12})] {
            let err = m.validate_input("ListUserPools", &body).unwrap_err();
            assert_eq!(err.name, "SerializationException", "{body}");
        }
        let err = m
            .validate_input("AdminUserGlobalSignOut", &json!({"UserPoolId": POOL, "Username": "a", "X": 1}))
            .map(|_| ());
        assert!(err.is_ok());
        let err = m
            .validate_input(
                "CreateUserPool",
                &json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"RequireNumbers": "yes"}}}),
            )
            .unwrap_err();
        assert_eq!(err.name, "SerializationException");
        assert!(err.message.contains("'Policies.PasswordPolicy.RequireNumbers': expected boolean"));
        // Non-object bodies.
        for body in [json!([]), json!("x"), json!(1), Value::Null] {
            let err = m.validate_input("SignUp", &body).unwrap_err();
            assert_eq!(err.name, "SerializationException");
        }
        // A type error wins over constraint violations, as Coral deserializes first.
        let err = m.validate_input("SignUp", &json!({"Username": 5})).unwrap_err();
        assert_eq!(err.name, "SerializationException");
    }

    #[test]
    fn numbers_and_timestamps() {
        let m = idp();
        // A fraction is refused, not truncated as Coral would (docs/security.md).
        let err = m.validate_input("ListUserPools", &json!({"MaxResults": 60.9})).unwrap_err();
        assert_eq!(err.name, "SerializationException");
        assert_eq!(err.message, "Value in payload for 'MaxResults' is not a whole number: expected integer");
        assert_eq!(
            invalid("ListUserPools", json!({"MaxResults": 61})),
            "1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: \
             Member must have value less than or equal to 60"
        );
        assert_eq!(
            invalid("ListUserPools", json!({"MaxResults": 0})),
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        );
        let id = ApiModel::cognito_identity();
        let err = id
            .validate_input(
                "GetCredentialsForIdentity",
                &json!({"IdentityId": "us-east-1:abc", "Logins": {"k": 1}}),
            )
            .unwrap_err();
        assert_eq!(err.name, "SerializationException");
    }

    #[test]
    fn sensitive_password_is_not_echoed() {
        let message =
            invalid("SignUp", json!({"ClientId": CLIENT, "Username": "alice", "Password": "has space"}));
        assert_eq!(
            message,
            "1 validation error detected: Value at 'password' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\S]+"
        );
        assert!(!message.contains("has space"));
        let long = "x".repeat(257);
        let message = invalid("SignUp", json!({"ClientId": CLIENT, "Username": "alice", "Password": long}));
        assert_eq!(
            message,
            "1 validation error detected: Value at 'password' failed to satisfy constraint: \
             Member must have length less than or equal to 256"
        );
        // An empty password breaks the pattern (the model has no min for PasswordType).
        let message = invalid("SignUp", json!({"ClientId": CLIENT, "Username": "alice", "Password": ""}));
        assert!(message.starts_with("1 validation error detected: Value at 'password'"), "{message}");
    }

    #[test]
    fn nested_list_element_member() {
        assert_eq!(
            invalid(
                "SignUp",
                json!({"ClientId": CLIENT, "Username": "alice",
                       "UserAttributes": [{"Name": "email", "Value": "a@b.c"}, {"Value": "x"}]})
            ),
            "1 validation error detected: Value null at 'userAttributes.2.member.name' failed to satisfy constraint: \
             Member must not be null"
        );
        assert_eq!(
            invalid(
                "AdminCreateUser",
                json!({"UserPoolId": POOL, "Username": "alice",
                       "UserAttributes": [{"Name": "a".repeat(33), "Value": "x"}]})
            ),
            format!(
                "1 validation error detected: Value '{}' at 'userAttributes.1.member.name' failed to satisfy constraint: \
                 Member must have length less than or equal to 32",
                "a".repeat(33)
            )
        );
    }

    #[test]
    fn nested_range() {
        assert_eq!(
            invalid("CreateUserPool", json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 5}}})),
            "1 validation error detected: Value '5' at 'policies.passwordPolicy.minimumLength' failed to satisfy \
             constraint: Member must have value greater than or equal to 6"
        );
    }

    /// Finding 9 of issue 14: `min: 0` was lost when the model was compacted (0 is falsy in
    /// Python), so negative limits, precedences and validities passed.
    #[test]
    fn zero_minimums_are_enforced() {
        let ge0 = |path: &str, v: &str| {
            format!(
                "1 validation error detected: Value '{v}' at '{path}' failed to satisfy constraint: \
                 Member must have value greater than or equal to 0"
            )
        };
        let cases = [
            ("ListUsers", json!({"UserPoolId": POOL, "Limit": -1}), "limit"),
            ("ListGroups", json!({"UserPoolId": POOL, "Limit": -1}), "limit"),
            ("ListUsersInGroup", json!({"UserPoolId": POOL, "GroupName": "g", "Limit": -1}), "limit"),
            ("AdminListGroupsForUser", json!({"UserPoolId": POOL, "Username": "u", "Limit": -1}), "limit"),
            ("AdminListDevices", json!({"UserPoolId": POOL, "Username": "u", "Limit": -1}), "limit"),
            ("ListDevices", json!({"AccessToken": "t", "Limit": -1}), "limit"),
            (
                "AdminListUserAuthEvents",
                json!({"UserPoolId": POOL, "Username": "u", "MaxResults": -1}),
                "maxResults",
            ),
            ("ListIdentityProviders", json!({"UserPoolId": POOL, "MaxResults": -1}), "maxResults"),
            ("CreateGroup", json!({"UserPoolId": POOL, "GroupName": "g", "Precedence": -1}), "precedence"),
            ("UpdateGroup", json!({"UserPoolId": POOL, "GroupName": "g", "Precedence": -1}), "precedence"),
            (
                "CreateUserPoolClient",
                json!({"UserPoolId": POOL, "ClientName": "c", "RefreshTokenValidity": -1}),
                "refreshTokenValidity",
            ),
            (
                "CreateUserPool",
                json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"PasswordHistorySize": -1}}}),
                "policies.passwordPolicy.passwordHistorySize",
            ),
            (
                "CreateUserPool",
                json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"TemporaryPasswordValidityDays": -1}}}),
                "policies.passwordPolicy.temporaryPasswordValidityDays",
            ),
            (
                "UpdateUserPool",
                json!({"UserPoolId": POOL, "AdminCreateUserConfig": {"UnusedAccountValidityDays": -1}}),
                "adminCreateUserConfig.unusedAccountValidityDays",
            ),
        ];
        for (op, body, path) in cases {
            assert_eq!(invalid(op, body.clone()), ge0(path, "-1"), "{op}");
            // The bound itself is fine.
            let zero = serde_json::to_string(&body).unwrap().replace("-1", "0");
            idp().validate_input(op, &serde_json::from_str(&zero).unwrap()).unwrap();
        }
        // The string and list minimums of 0 never fail, and are listed as Coral lists them.
        let m = idp();
        m.validate_input(
            "UpdateUserPoolClient",
            &json!({"UserPoolId": POOL, "ClientId": CLIENT, "CallbackURLs": []}),
        )
        .unwrap();
    }

    /// Integral members take whole numbers only, in their type's range, exactly.
    #[test]
    fn integral_members_take_whole_numbers() {
        let m = idp();
        let body = |limit: &str| -> Value {
            serde_json::from_str(&format!(r#"{{"UserPoolId":"{POOL}","Limit":{limit}}}"#)).unwrap()
        };
        for ok in ["0", "60"] {
            m.validate_input("ListUsers", &body(ok)).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        // Whole numbers written otherwise: serde_json holds them as f64, which the domain's
        // integer reads would take for absent. Refused, not ignored.
        for written in ["-0", "0.0", "1.0", "6e1", "60.000", "-1.0"] {
            let err = m.validate_input("ListUsers", &body(written)).unwrap_err();
            assert_eq!(
                (err.name, err.message.as_str()),
                (
                    "SerializationException",
                    "Value in payload for 'Limit' must be written as a plain integer: expected integer"
                ),
                "{written}"
            );
        }
        for fraction in ["1.5", "-0.5", "0.1", "59.999999", "1e-3"] {
            let err = m.validate_input("ListUsers", &body(fraction)).unwrap_err();
            assert_eq!(
                (err.name, err.message.as_str()),
                (
                    "SerializationException",
                    "Value in payload for 'Limit' is not a whole number: expected integer"
                ),
                "{fraction}"
            );
        }
        // Beyond the member's type: i32 for integer, i64 for long (exactly, not through f64).
        for huge in
            ["2147483648", "-2147483649", "18446744073709551616", "1e300", "-1e300", "9223372036854775808"]
        {
            let err = m.validate_input("ListUsers", &body(huge)).unwrap_err();
            assert_eq!(
                (err.name, err.message.as_str()),
                ("SerializationException", "Value in payload for 'Limit' is out of range for integer"),
                "{huge}"
            );
        }
        // 2147483647 is an integer, and over the model's max.
        assert!(invalid("ListUsers", body("2147483647")).contains("Value '2147483647' at 'limit'"));
        // Numbers in strings, booleans, null (= absent).
        for other in [r#""5""#, "true", "[5]", "{}"] {
            let err = m.validate_input("ListUsers", &body(other)).unwrap_err();
            assert_eq!(
                err.message, "Unexpected value type in payload for 'Limit': expected integer",
                "{other}"
            );
        }
        m.validate_input("ListUsers", &body("null")).unwrap();
        // Token validities, password history, precedence: the same rules.
        let err = m
            .validate_input(
                "CreateUserPoolClient",
                &json!({"UserPoolId": POOL, "ClientName": "c", "AccessTokenValidity": 1.5}),
            )
            .unwrap_err();
        assert_eq!(
            err.message,
            "Value in payload for 'AccessTokenValidity' is not a whole number: expected integer"
        );
        let err = m
            .validate_input("CreateGroup", &json!({"UserPoolId": POOL, "GroupName": "g", "Precedence": 0.5}))
            .unwrap_err();
        assert_eq!(err.name, "SerializationException");
        // Long members (identity pools' TokenDuration) and Sync's.
        let id = ApiModel::cognito_identity();
        let dev = |d: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"IdentityPoolId":"us-east-1:0000","Logins":{{"a":"b"}},"TokenDuration":{d}}}"#
            ))
            .unwrap()
        };
        for (d, expect) in [
            ("0", "ValidationException"),
            ("86401", "ValidationException"),
            ("1.5", "SerializationException"),
            ("9223372036854775807", "ValidationException"),
            ("9223372036854775808", "SerializationException"),
            ("1e19", "SerializationException"),
        ] {
            let err = id.validate_input("GetOpenIdTokenForDeveloperIdentity", &dev(d)).unwrap_err();
            assert_eq!(err.name, expect, "{d}: {}", err.message);
        }
        let sync = ApiModel::cognito_sync();
        let records = |c: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"IdentityPoolId":"us-east-1:0000","IdentityId":"us-east-1:0000","DatasetName":"d",
                    "SyncSessionToken":"t","RecordPatches":[{{"Op":"replace","Key":"k","SyncCount":{c}}}]}}"#
            ))
            .unwrap()
        };
        sync.validate_input("UpdateRecords", &records("3")).unwrap();
        let err = sync.validate_input("UpdateRecords", &records("2.5")).unwrap_err();
        assert_eq!(
            err.message,
            "Value in payload for 'RecordPatches[0].SyncCount' is not a whole number: expected long"
        );
        // A decimal past 2^53 cannot even be exact: refused, not silently rounded.
        let err = sync.validate_input("UpdateRecords", &records("9007199254740993.0")).unwrap_err();
        assert_eq!(err.name, "SerializationException");
    }

    /// Every integral member of every operation of the three services, wherever it is nested:
    /// a fraction, a number in a string and a value past each model bound are refused.
    #[test]
    fn every_integral_member_of_every_operation_is_checked() {
        #[derive(Clone)]
        enum P {
            Member(String),
            Index,
        }
        fn paths(m: &ApiModel, shape: &str, at: &mut Vec<P>, out: &mut Vec<(Vec<P>, String)>, depth: usize) {
            let Some(s) = m.shapes.get(shape) else { return };
            if depth > 6 {
                return;
            }
            match s.kind {
                Kind::Structure if !s.document => {
                    for (name, target) in &s.members {
                        at.push(P::Member(name.clone()));
                        paths(m, target, at, out, depth + 1);
                        at.pop();
                    }
                }
                Kind::List => {
                    if let Some(member) = &s.member {
                        if m.shapes.get(member).is_some_and(|e| !e.kind.is_scalar()) {
                            at.push(P::Index);
                            paths(m, member, at, out, depth + 1);
                            at.pop();
                        }
                    }
                }
                k if k.integral_range().is_some() => out.push((at.clone(), shape.to_string())),
                _ => {}
            }
        }
        fn body(at: &[P], leaf: Value) -> Value {
            match at.split_first() {
                None => leaf,
                Some((P::Member(name), rest)) => json!({ name.as_str(): body(rest, leaf) }),
                Some((P::Index, rest)) => json!([body(rest, leaf)]),
            }
        }
        fn coral(at: &[P]) -> String {
            let mut out = Vec::new();
            for seg in at {
                match seg {
                    P::Member(n) => out.push(format!("{}{}", n[..1].to_lowercase(), &n[1..])),
                    P::Index => out.push("1.member".to_string()),
                }
            }
            out.join(".")
        }
        let mut checked = 0;
        for m in [ApiModel::cognito_idp(), ApiModel::cognito_identity(), ApiModel::cognito_sync()] {
            for op in m.operations.values() {
                let mut found = Vec::new();
                paths(m, op.input.as_deref().unwrap_or(""), &mut Vec::new(), &mut found, 0);
                for (at, shape_name) in found {
                    let shape = &m.shapes[&shape_name];
                    let ctx = format!("{} {}", op.name, coral(&at));
                    let err = m.validate_input(&op.name, &body(&at, json!(1.5))).unwrap_err();
                    assert_eq!(err.name, "SerializationException", "{ctx}");
                    assert!(err.message.contains("is not a whole number"), "{ctx}: {}", err.message);
                    let err = m.validate_input(&op.name, &body(&at, json!("1"))).unwrap_err();
                    assert_eq!(err.name, "SerializationException", "{ctx}");
                    let err = m.validate_input(&op.name, &body(&at, json!(1e300))).unwrap_err();
                    assert!(err.message.contains("is out of range"), "{ctx}: {}", err.message);
                    for (bound, past, word) in [
                        (shape.min, shape.min.map(|b| b - 1.0), "greater"),
                        (shape.max, shape.max.map(|b| b + 1.0), "less"),
                    ] {
                        let (Some(bound), Some(past)) = (bound, past) else { continue };
                        let err = m.validate_input(&op.name, &body(&at, json!(past as i64))).unwrap_err();
                        let needle = format!(
                            "Value '{}' at '{}' failed to satisfy constraint: Member must have value {word} \
                             than or equal to {}",
                            past as i64,
                            coral(&at),
                            bound as i64
                        );
                        assert!(err.message.contains(&needle), "{ctx}: {}", err.message);
                        checked += 1;
                    }
                }
            }
        }
        // 40-odd bounded integral members across the three models (a floor, not an exact count).
        assert!(checked >= 40, "{checked}");
    }

    #[test]
    fn several_violations_are_counted() {
        assert_eq!(
            invalid("SignUp", json!({"Password": "has space"})),
            "3 validation errors detected: \
             Value null at 'clientId' failed to satisfy constraint: Member must not be null; \
             Value at 'password' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\S]+; \
             Value null at 'username' failed to satisfy constraint: Member must not be null"
        );
        let message = invalid("AdminGetUser", json!({"UserPoolId": "x".repeat(56)}));
        assert!(message.starts_with("3 validation errors detected: "), "{message}");
        assert!(message.contains("Member must have length less than or equal to 55; "), "{message}");
        let message = invalid("CreateUserPool", json!({"PoolName": "", "MfaConfiguration": "false"}));
        assert!(message.starts_with("3 validation errors detected: "), "{message}");
        assert!(
            message.contains(
                "Value 'false' at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [OFF, ON, OPTIONAL]"
            ),
            "{message}"
        );
    }

    #[test]
    fn lists_of_scalars_report_on_the_list() {
        assert_eq!(
            invalid(
                "CreateUserPoolClient",
                json!({"UserPoolId": POOL, "ClientName": "c", "AllowedOAuthFlows": ["code", "token"]})
            ),
            "1 validation error detected: Value '[code, token]' at 'allowedOAuthFlows' failed to satisfy constraint: \
             Member must satisfy constraint: [Member must satisfy enum value set: [code, implicit, client_credentials]]"
        );
        let message = invalid(
            "CreateUserPoolClient",
            json!({"UserPoolId": POOL, "ClientName": "c", "AllowedOAuthFlows": ["code", "implicit", "client_credentials", "code"]}),
        );
        assert!(message.contains("Member must have length less than or equal to 3"), "{message}");
    }

    #[test]
    fn maps_check_keys_values_and_size() {
        let id = ApiModel::cognito_identity();
        let logins: serde_json::Map<String, Value> = (0..11).map(|i| (format!("p{i}"), json!("t"))).collect();
        let err = id
            .validate_input("GetId", &json!({"IdentityPoolId": "us-east-1:abc", "Logins": logins}))
            .unwrap_err();
        assert_eq!(err.name, "ValidationException");
        assert!(err.message.contains(
            "at 'logins' failed to satisfy constraint: Member must have length less than or equal to 10"
        ));
        let err = id
            .validate_input("GetId", &json!({"IdentityPoolId": "us-east-1:abc", "Logins": {"p": ""}}))
            .unwrap_err();
        assert_eq!(
            err.message,
            "1 validation error detected: Value at 'logins' failed to satisfy constraint: \
             Map value must satisfy constraint: [Member must have length less than or equal to 50000, \
             Member must have length greater than or equal to 1]"
        );
        let err = id
            .validate_input("GetId", &json!({"IdentityPoolId": "us-east-1:abc", "Logins": {"": "t"}}))
            .unwrap_err();
        assert!(err.message.contains("Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"), "{}", err.message);
        // Map of structures: members of values are checked.
        let err = id
            .validate_input(
                "SetIdentityPoolRoles",
                &json!({"IdentityPoolId": "us-east-1:abc", "Roles": {},
                        "RoleMappings": {"graph.facebook.com": {"Type": "Nope"}}}),
            )
            .unwrap_err();
        assert!(err.message.contains("at 'roleMappings.graph.facebook.com.type'"), "{}", err.message);
    }

    #[test]
    fn containers_of_sensitive_values_are_not_echoed() {
        let m = idp();
        let conceals = |name: &str| m.shapes.get(name).unwrap().conceals;
        assert!(conceals("PasswordType"));
        assert!(conceals("AttributeType")); // its Value is sensitive
        assert!(conceals("AttributeListType"));
        assert!(conceals("AuthParametersType"));
        assert!(!conceals("ClientMetadataType"));
        assert!(!conceals("AttributeNameType"));
        // A violation inside an element names only the offending member's value.
        let message = invalid(
            "AdminCreateUser",
            json!({"UserPoolId": POOL, "Username": "alice",
                   "UserAttributes": [{"Name": "n".repeat(33), "Value": "secret"}]}),
        );
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("'userAttributes.1.member.name'"), "{message}");
    }

    #[test]
    fn blobs_are_base64() {
        assert_eq!(base64_decoded_len(""), Some(0));
        assert_eq!(base64_decoded_len("YQ=="), Some(1));
        assert_eq!(base64_decoded_len("YQ"), Some(1));
        assert_eq!(base64_decoded_len("YWI="), Some(2));
        assert_eq!(base64_decoded_len("YWJj"), Some(3));
        assert_eq!(base64_decoded_len("YWJjZA"), Some(4));
        assert_eq!(base64_decoded_len("Y"), None);
        assert_eq!(base64_decoded_len("YQ="), None);
        assert_eq!(base64_decoded_len("Y!=="), None);
        let m = idp();
        m.validate_input("SetUICustomization", &json!({"UserPoolId": POOL, "ImageFile": "iVBORw0KGgo="}))
            .unwrap();
        let err = m
            .validate_input("SetUICustomization", &json!({"UserPoolId": POOL, "ImageFile": "not base64!"}))
            .unwrap_err();
        assert_eq!(err.name, "SerializationException");
    }

    #[test]
    fn every_operation_checks_an_empty_body() {
        for m in [ApiModel::cognito_idp(), ApiModel::cognito_identity()] {
            for op in m.operation_names() {
                if let Err(e) = m.validate_input(op, &json!({})) {
                    assert_eq!(e.name, m.validation_error_name(), "{op}: {}", e.message);
                    assert!(e.message.ends_with("Member must not be null"), "{op}: {}", e.message);
                }
            }
        }
    }

    #[test]
    fn each_service_answers_its_own_validation_error() {
        let id = ApiModel::cognito_identity();
        let e = id
            .validate_input(
                "CreateIdentityPool",
                &json!({"IdentityPoolName": "pool#name", "AllowUnauthenticatedIdentities": false}),
            )
            .unwrap_err();
        assert_eq!((e.name, e.status), ("ValidationException", 400));
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'pool#name' at 'identityPoolName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+"
        );
        let e = id.validate_input("ListIdentityPools", &json!({"MaxResults": 0})).unwrap_err();
        assert_eq!(e.name, "ValidationException");
        let e = idp().validate_input("ListUserPools", &json!({"MaxResults": 0})).unwrap_err();
        assert_eq!(e.name, "InvalidParameterException");
        let sync = ApiModel::cognito_sync();
        let e = sync
            .validate_input(
                "ListRecords",
                &json!({"IdentityPoolId": "us-east-1:0000", "IdentityId": "us-east-1:0000", "DatasetName": "bad name"}),
            )
            .unwrap_err();
        assert_eq!(e.name, "InvalidParameterException");
        assert!(
            e.message.starts_with("1 validation error detected: Value 'bad name' at 'datasetName'"),
            "{}",
            e.message
        );
        // The model declares it for none of them: the front end's, not the operations'.
        assert!(!id.has_error_shape("ValidationException"));
    }

    #[test]
    fn unknown_operation() {
        let err = idp().validate_input("Nope", &json!({})).unwrap_err();
        assert_eq!(err.name, "UnknownOperationException");
    }

    #[test]
    fn sync_routes_by_method_and_path() {
        let m = ApiModel::cognito_sync();
        let (op, labels) = m
            .match_rest(
                "GET",
                "/identitypools/us-east-1%3Aabc/identities/us-east-1%3Adef/datasets/d.x%3Ay/records",
            )
            .unwrap();
        assert_eq!(op.name, "ListRecords");
        assert_eq!(labels["IdentityPoolId"], "us-east-1:abc");
        assert_eq!(labels["DatasetName"], "d.x:y");
        let input = m
            .rest_input(op, &labels, "lastSyncCount=3&maxResults=10&syncSessionToken=a%2Bb", &[], Value::Null)
            .unwrap();
        assert_eq!(input["LastSyncCount"], 3);
        assert_eq!(input["MaxResults"], 10);
        assert_eq!(input["SyncSessionToken"], "a+b");
        assert_eq!(input["IdentityId"], "us-east-1:def");
        assert_eq!(
            m.match_rest("POST", "/identitypools/p/identity/i/device").unwrap().0.name,
            "RegisterDevice"
        );
        assert_eq!(
            m.match_rest("DELETE", "/identitypools/p/identities/i/datasets/d").unwrap().0.name,
            "DeleteDataset"
        );
        assert_eq!(m.match_rest("GET", "/identitypools").unwrap().0.name, "ListIdentityPoolUsage");
        assert!(m.match_rest("PUT", "/identitypools/p").is_none());
        assert!(m.match_rest("GET", "/identitypools/p/nope").is_none());
        let bad = m.rest_input(op, &labels, "lastSyncCount=x", &[], Value::Null).unwrap_err();
        assert_eq!(bad.name, "SerializationException");
        let (op, labels) = m.match_rest("POST", "/identitypools/p/identities/i/datasets/d").unwrap();
        let headers = vec![("X-Amz-Client-Context".to_string(), "ctx".to_string())];
        let input =
            m.rest_input(op, &labels, "", &headers, serde_json::json!({"SyncSessionToken": "t"})).unwrap();
        assert_eq!(input["ClientContext"], "ctx");
        assert_eq!(input["SyncSessionToken"], "t");
        assert_eq!(m.error_status("ResourceConflictException"), Some(409));
    }
}
