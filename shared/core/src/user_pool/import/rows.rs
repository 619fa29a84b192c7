//! The rows of an import file: each checked against the header and the pool, then written in
//! batches; the log line each row gets.

use super::csv::{self, PASSWORD_HASH_COLUMN};
use super::job::ImportJob;
use crate::error::{Error, Result};
use crate::model::{MfaConfiguration, User, UserPool, UserStatus};
use crate::password::legacy;
use crate::service::Service;
use crate::store::{StoreError, Write, MAX_TRANSACTION_WRITES};
use std::collections::{BTreeMap, HashSet};

/// Cognito's file limits.
const MAX_LINE_CHARS: usize = 16_000;

/// One parsed row's writes (and the alias kind each claims), ready for a batch.
struct NewUser {
    line: u64,
    writes: Vec<Write>,
    claims: Vec<Option<String>>,
}

type Counts = (u64, u64, u64);

fn log_line(kind: &str, line: u64, reason: &str) -> String {
    format!("[{kind}] Line Number {line} - {reason}")
}

/// Validates and writes a slice of rows. Returns (imported, skipped, failed) and the log lines.
pub(super) async fn import_rows(
    svc: &Service,
    pool: &UserPool,
    job: &ImportJob,
    scheme: Option<legacy::Scheme>,
    first_line: u64,
    lines: &[&[u8]],
) -> Result<(Counts, Vec<String>)> {
    let mut log = Vec::with_capacity(lines.len());
    let mut counts: Counts = (0, 0, 0);
    let mut batch: Vec<NewUser> = Vec::new();
    let mut batch_keys: HashSet<String> = HashSet::new();
    let mut batch_writes = 0usize;
    let now_ms = svc.clock.now_millis();
    for (i, raw) in lines.iter().enumerate() {
        let line = first_line + i as u64;
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                counts.2 += 1;
                log.push(log_line("FAILED", line, "The line is not valid UTF-8."));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        if text.chars().count() > MAX_LINE_CHARS {
            counts.2 += 1;
            log.push(log_line("FAILED", line, "The line is longer than 16,000 characters."));
            continue;
        }
        let fields = csv::split_line(text);
        let row = match parse_row(pool, &job.columns, &fields, scheme) {
            Ok(r) => r,
            Err(reason) => {
                counts.2 += 1;
                log.push(log_line("FAILED", line, &reason));
                continue;
            }
        };
        let sub = svc.rng.uuid().to_string();
        let mut attributes = row.attributes;
        attributes.insert("sub".into(), sub.clone());
        let username = if pool.username_attributes.is_empty() { row.username.clone() } else { sub.clone() };
        let status =
            if row.password_hash.is_some() { UserStatus::CONFIRMED } else { UserStatus::RESET_REQUIRED };
        let mut user = User::new(username, sub, attributes, status, now_ms);
        user.password_hash = row.password_hash;
        let (writes, claims) = svc.new_user_writes(pool, &user)?;
        let keys: Vec<String> = writes.iter().map(|w| format!("{}\u{0}{}", w.key().0, w.key().1)).collect();
        if keys.iter().any(|k| batch_keys.contains(k)) || batch_writes + writes.len() > MAX_TRANSACTION_WRITES
        {
            flush(svc, pool, std::mem::take(&mut batch), &mut counts, &mut log).await?;
            batch_keys.clear();
            batch_writes = 0;
        }
        batch_keys.extend(keys);
        batch_writes += writes.len();
        batch.push(NewUser { line, writes, claims });
    }
    flush(svc, pool, batch, &mut counts, &mut log).await?;
    log.sort_by_key(|l| {
        l.split("Line Number ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse::<u64>().ok())
    });
    Ok((counts, log))
}

/// Writes a batch in one transaction. A user whose keys already exist is SKIPPED and the rest
/// retried, so one existing user never costs the others.
async fn flush(
    svc: &Service,
    pool: &UserPool,
    mut batch: Vec<NewUser>,
    counts: &mut Counts,
    log: &mut Vec<String>,
) -> Result<()> {
    while !batch.is_empty() {
        let mut writes = Vec::new();
        let mut owner = Vec::new();
        let mut claims = Vec::new();
        for (i, u) in batch.iter().enumerate() {
            owner.extend(std::iter::repeat_n(i, u.writes.len()));
            writes.extend(u.writes.iter().cloned());
            claims.extend(u.claims.iter().cloned());
        }
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => {
                for u in &batch {
                    counts.0 += 1;
                    log.push(log_line("SUCCEEDED", u.line, "The import succeeded."));
                }
                return Ok(());
            }
            Err(StoreError::ConditionFailed { index }) => {
                let Some(&i) = owner.get(index) else {
                    return Err(Error::internal("condition index out of range"));
                };
                let u = batch.remove(i);
                match claims.get(index).cloned().flatten() {
                    // Another user holds this sign-in alias (a verified email or phone, a
                    // preferred_username): the row cannot be imported as it is.
                    Some(kind) if kind != "sub" && !pool.username_attributes.contains(&kind) => {
                        counts.2 += 1;
                        log.push(log_line(
                            "FAILED",
                            u.line,
                            &format!("Another user already has this {kind} as an alias."),
                        ));
                    }
                    _ => {
                        counts.1 += 1;
                        log.push(log_line("SKIPPED", u.line, "The user already exists."));
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A row's values, checked.
struct Row {
    username: String,
    attributes: BTreeMap<String, String>,
    password_hash: Option<String>,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `mm/dd/yyyy` → `yyyy-mm-dd` (the OIDC form every other operation stores).
fn birthdate(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.split('/').collect();
    let [m, d, y] = parts.as_slice() else { return None };
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    if !digits(m, 2) || !digits(d, 2) || !digits(y, 4) {
        return None;
    }
    let (mm, dd): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&mm) || !(1..=31).contains(&dd) {
        return None;
    }
    Some(format!("{y}-{m}-{d}"))
}

/// Checks one row against the header and the pool. The error is a reason for the log: it
/// names columns and rules, never values.
fn parse_row(
    pool: &UserPool,
    columns: &[String],
    fields: &[String],
    scheme: Option<legacy::Scheme>,
) -> std::result::Result<Row, String> {
    if fields.len() != columns.len() {
        return Err("The number of fields does not match the header.".into());
    }
    let mut username = String::new();
    let mut mfa = String::new();
    let mut hash = None;
    let mut attributes = BTreeMap::new();
    for (col, value) in columns.iter().zip(fields) {
        match col.as_str() {
            "cognito:username" => username = value.clone(),
            "cognito:mfa_enabled" => mfa = value.clone(),
            PASSWORD_HASH_COLUMN => hash = (!value.is_empty()).then(|| value.clone()),
            name if !value.is_empty() => {
                if value.len() > 2048 {
                    return Err(format!("The value of {name} is longer than 2048 bytes."));
                }
                attributes.insert(name.to_string(), value.clone());
            }
            _ => {}
        }
    }
    if username.is_empty() {
        return Err("The User Record does not set cognito:username.".into());
    }
    if username.chars().count() > 128 || username.chars().any(char::is_whitespace) {
        return Err("cognito:username must be 1 to 128 characters without spaces or tabs.".into());
    }
    let mfa_on = match parse_bool(&mfa) {
        Some(b) => b,
        None => return Err("cognito:mfa_enabled must be true or false.".into()),
    };
    match pool.settings.mfa_mode() {
        MfaConfiguration::On if !mfa_on => {
            return Err("cognito:mfa_enabled must be true: the user pool requires MFA.".into())
        }
        MfaConfiguration::Off if mfa_on => {
            return Err("cognito:mfa_enabled must be false: MFA is off in the user pool.".into())
        }
        _ => {}
    }
    if !pool.username_attributes.is_empty() {
        // Email/phone as username: cognito:username is the email or phone; the internal
        // username is the user's sub, as SignUp makes it.
        let kind = if pool.username_attributes.iter().any(|a| a == "email")
            && crate::attribute_rules::is_email(&username)
        {
            "email"
        } else if pool.username_attributes.iter().any(|a| a == "phone_number")
            && crate::attribute_rules::is_phone(&username)
        {
            "phone_number"
        } else {
            return Err("cognito:username must be an email address or phone number in this user pool.".into());
        };
        match attributes.get(kind) {
            Some(v) if pool.username_key(v) != pool.username_key(&username) => {
                return Err(format!("cognito:username must equal {kind} in this user pool."));
            }
            Some(_) => {}
            None => {
                attributes.insert(kind.to_string(), username.clone());
            }
        }
    } else {
        if pool.alias_attributes.iter().any(|a| a == "email") && crate::attribute_rules::is_email(&username) {
            return Err(
                "cognito:username cannot be of email format, since user pool is configured for email alias."
                    .into(),
            );
        }
        if pool.alias_attributes.iter().any(|a| a == "phone_number")
            && crate::attribute_rules::is_phone(&username)
        {
            return Err(
                "cognito:username cannot be of phone number format, since user pool is configured for phone_number alias."
                    .into(),
            );
        }
    }
    for v in ["email_verified", "phone_number_verified"] {
        if let Some(value) = attributes.get(v) {
            match parse_bool(value) {
                Some(b) => {
                    attributes.insert(v.to_string(), b.to_string());
                }
                None => return Err(format!("{v} must be true or false.")),
            }
        }
    }
    let verified = |a: &str| attributes.get(&format!("{a}_verified")).map(String::as_str) == Some("true");
    if !pool.auto_verified_attributes.iter().any(|a| verified(a)) {
        return Err(
            "The User Record does not set any of the auto verified attributes to true. (Example: email_verified to true)."
                .into(),
        );
    }
    for a in ["email", "phone_number"] {
        if verified(a) && !attributes.contains_key(a) {
            return Err(format!("{a}_verified is true but {a} is empty."));
        }
    }
    if let Some(e) = attributes.get("email") {
        if !crate::attribute_rules::is_email(e) {
            return Err("Invalid email address format.".into());
        }
    }
    if let Some(p) = attributes.get("phone_number") {
        if !crate::attribute_rules::is_phone(p) {
            return Err("Invalid phone number format.".into());
        }
    }
    if let Some(b) = attributes.get("birthdate") {
        match birthdate(b) {
            Some(iso) => {
                attributes.insert("birthdate".into(), iso);
            }
            None => return Err("birthdate must be mm/dd/yyyy.".into()),
        }
    }
    if let Some(u) = attributes.get("updated_at") {
        if u.parse::<u64>().is_err() {
            return Err("updated_at must be a number of seconds since the epoch.".into());
        }
    }
    for req in &pool.required_attributes {
        if !attributes.contains_key(req) {
            return Err(format!("The required attribute {req} is missing."));
        }
    }
    if let Some(h) = &hash {
        let found = legacy::check(h).map_err(str::to_string)?;
        if scheme.is_some_and(|s| s != found) {
            return Err("The password hash does not use the job's PasswordHashingAlgorithm.".into());
        }
    }
    Ok(Row { username, attributes, password_hash: hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user_pool::import::csv::csv_header;
    use serde_json::json;

    fn pool(auto: &[&str], username_attrs: &[&str]) -> UserPool {
        UserPool {
            id: "us-east-1_abcdefghi".into(),
            name: "p".into(),
            created: 0,
            modified: 0,
            password_policy: Default::default(),
            username_attributes: username_attrs.iter().map(|s| s.to_string()).collect(),
            alias_attributes: vec![],
            auto_verified_attributes: auto.iter().map(|s| s.to_string()).collect(),
            case_sensitive: false,
            required_attributes: vec![],
            custom_schema: vec![json!({"Name": "custom:tier"})],
            settings: Default::default(),
            keys: crate::tokens::PoolKeys {
                id: key(),
                access: key(),
                next: None,
                retired: Vec::new(),
                since: 0,
                rotation_days: None,
                stand_in_seed: None,
            },
            settings_change: None,
        }
    }

    fn key() -> crate::tokens::StoredKey {
        crate::tokens::StoredKey {
            kid: String::new(),
            n: String::new(),
            e: String::new(),
            sealed_private: String::new(),
        }
    }

    fn row(p: &UserPool, values: &[(&str, &str)]) -> std::result::Result<Row, String> {
        let columns = csv_header(p);
        let fields: Vec<String> = columns
            .iter()
            .map(|c| values.iter().find(|(k, _)| k == c).map(|(_, v)| v.to_string()).unwrap_or_default())
            .collect();
        parse_row(p, &columns, &fields, None)
    }

    #[test]
    fn header_is_cognitos_order_with_custom_attributes() {
        let h = csv_header(&pool(&["email"], &[]));
        assert_eq!(h.first().map(String::as_str), Some("name"));
        assert_eq!(&h[h.len() - 3..], &["custom:tier", "cognito:mfa_enabled", "cognito:username"]);
    }

    #[test]
    fn row_rules() {
        let p = pool(&["email"], &[]);
        let ok = [
            ("cognito:username", "jane"),
            ("cognito:mfa_enabled", "FALSE"),
            ("email", "j@example.com"),
            ("email_verified", "TRUE"),
            ("birthdate", "02/01/1985"),
        ];
        let r = row(&p, &ok).unwrap_or_else(|e| unreachable_row(&e));
        assert_eq!(r.attributes.get("birthdate").map(String::as_str), Some("1985-02-01"));
        assert_eq!(r.attributes.get("email_verified").map(String::as_str), Some("true"));
        let without = |k: &str| ok.iter().filter(|(c, _)| *c != k).cloned().collect::<Vec<_>>();
        assert!(row(&p, &without("cognito:username")).is_err_and(|e| e.contains("cognito:username")));
        assert!(row(&p, &without("email_verified")).is_err_and(|e| e.contains("auto verified")));
        assert!(row(&p, &without("cognito:mfa_enabled")).is_err());
        let mut bad_date = ok.to_vec();
        bad_date[4] = ("birthdate", "1985-02-01");
        assert!(row(&p, &bad_date).is_err());
        let phone_only = pool(&["phone_number"], &[]);
        assert!(row(&phone_only, &ok).is_err(), "a phone-only pool needs phone_number_verified");
    }

    #[allow(clippy::panic)]
    fn unreachable_row(e: &str) -> Row {
        panic!("row refused: {e}")
    }

    #[test]
    fn email_username_pools_use_the_email() {
        let p = pool(&["email"], &["email"]);
        let r = row(
            &p,
            &[
                ("cognito:username", "Jane@Example.com"),
                ("cognito:mfa_enabled", "false"),
                ("email_verified", "true"),
            ],
        );
        let r = r.unwrap_or_else(|e| unreachable_row(&e));
        assert_eq!(r.attributes.get("email").map(String::as_str), Some("Jane@Example.com"));
        assert!(row(
            &p,
            &[("cognito:username", "jane"), ("cognito:mfa_enabled", "false"), ("email_verified", "true")]
        )
        .is_err());
    }

    /// A valid row of an email-verified pool, then one member changed (an empty value clears it).
    fn with(p: &UserPool, change: (&str, &str)) -> std::result::Result<Row, String> {
        let mut values = vec![
            ("cognito:username", "jane"),
            ("cognito:mfa_enabled", "false"),
            ("email", "j@example.com"),
            ("email_verified", "true"),
        ];
        values.retain(|(c, _)| *c != change.0);
        values.push(change);
        row(p, &values)
    }

    fn refusal(r: std::result::Result<Row, String>) -> String {
        r.err().unwrap_or_else(|| "accepted".into())
    }

    #[test]
    fn a_bad_row_is_logged_with_the_rule_it_breaks() {
        let p = pool(&["email"], &[]);
        let cases: &[((&str, &str), &str)] = &[
            (("cognito:username", ""), "The User Record does not set cognito:username."),
            (("cognito:username", "jane doe"), "cognito:username must be 1 to 128 characters without spaces or tabs."),
            (("cognito:username", &"j".repeat(129)), "cognito:username must be 1 to 128 characters without spaces or tabs."),
            (("cognito:mfa_enabled", "yes"), "cognito:mfa_enabled must be true or false."),
            (("cognito:mfa_enabled", "true"), "cognito:mfa_enabled must be false: MFA is off in the user pool."),
            (("email_verified", "1"), "email_verified must be true or false."),
            (("email_verified", "false"), "The User Record does not set any of the auto verified attributes to true. (Example: email_verified to true)."),
            (("email", ""), "email_verified is true but email is empty."),
            (("email", "not-an-email"), "Invalid email address format."),
            (("phone_number", "555-0100"), "Invalid phone number format."),
            (("phone_number_verified", "maybe"), "phone_number_verified must be true or false."),
            (("birthdate", "1985-02-01"), "birthdate must be mm/dd/yyyy."),
            (("birthdate", "13/01/1985"), "birthdate must be mm/dd/yyyy."),
            (("updated_at", "yesterday"), "updated_at must be a number of seconds since the epoch."),
            (("name", &"n".repeat(2049)), "The value of name is longer than 2048 bytes."),
        ];
        for (change, want) in cases {
            assert_eq!(refusal(with(&p, *change)), *want, "{}", change.0);
        }
        // The log names columns and rules, never the values.
        for (change, _) in cases.iter().filter(|(c, _)| c.1.len() > 2 && c.1.len() < 100) {
            assert!(!refusal(with(&p, *change)).contains(change.1), "{} leaks its value", change.0);
        }
    }

    #[test]
    fn the_row_must_match_the_header() {
        let p = pool(&["email"], &[]);
        let columns = csv_header(&p);
        let short = vec![String::new(); columns.len() - 1];
        assert_eq!(
            refusal(parse_row(&p, &columns, &short, None)),
            "The number of fields does not match the header."
        );
    }

    #[test]
    fn pool_settings_decide_mfa_aliases_and_required_attributes() {
        let mut p = pool(&["email"], &[]);
        p.settings.mfa_configuration = Some(MfaConfiguration::On);
        assert_eq!(
            refusal(with(&p, ("cognito:mfa_enabled", "false"))),
            "cognito:mfa_enabled must be true: the user pool requires MFA."
        );
        assert!(with(&p, ("cognito:mfa_enabled", "TRUE")).is_ok());
        p.settings.mfa_configuration = Some(MfaConfiguration::Optional);
        assert!(with(&p, ("cognito:mfa_enabled", "true")).is_ok());
        assert!(with(&p, ("cognito:mfa_enabled", "false")).is_ok());

        let mut p = pool(&["email"], &[]);
        p.alias_attributes = vec!["email".into(), "phone_number".into()];
        assert_eq!(
            refusal(with(&p, ("cognito:username", "jane@example.com"))),
            "cognito:username cannot be of email format, since user pool is configured for email alias."
        );
        assert_eq!(
            refusal(with(&p, ("cognito:username", "+15555550100"))),
            "cognito:username cannot be of phone number format, since user pool is configured for phone_number alias."
        );

        let mut p = pool(&["email"], &[]);
        p.required_attributes = vec!["family_name".into()];
        assert_eq!(refusal(with(&p, ("name", "Jane"))), "The required attribute family_name is missing.");
        assert!(with(&p, ("family_name", "Doe")).is_ok());
    }

    #[test]
    fn username_attribute_pools_take_the_username_from_the_email_or_phone() {
        let p = pool(&["email"], &["email", "phone_number"]);
        assert_eq!(
            refusal(with(&p, ("cognito:username", "jane"))),
            "cognito:username must be an email address or phone number in this user pool."
        );
        assert_eq!(
            refusal(with(&p, ("cognito:username", "other@example.com"))),
            "cognito:username must equal email in this user pool."
        );
        // The comparison follows the pool's case sensitivity (this pool ignores case).
        assert!(with(&p, ("cognito:username", "J@Example.com")).is_ok());
        let r = with(&p, ("cognito:username", "+15555550100")).unwrap_or_else(|e| unreachable_row(&e));
        assert_eq!(r.attributes.get("phone_number").map(String::as_str), Some("+15555550100"));
    }

    #[test]
    fn imported_password_hashes_are_checked() {
        let p = pool(&["email"], &[]);
        let mut columns = csv_header(&p);
        columns.push(PASSWORD_HASH_COLUMN.into());
        let fields = |hash: &str| -> Vec<String> {
            columns
                .iter()
                .map(|c| match c.as_str() {
                    "cognito:username" => "jane".into(),
                    "cognito:mfa_enabled" => "false".into(),
                    "email" => "j@example.com".into(),
                    "email_verified" => "true".into(),
                    PASSWORD_HASH_COLUMN => hash.into(),
                    _ => String::new(),
                })
                .collect()
        };
        let bcrypt = bcrypt::hash("correct horse", 4).unwrap_or_default();
        let r = parse_row(&p, &columns, &fields(&bcrypt), Some(legacy::Scheme::Bcrypt));
        assert_eq!(r.map(|r| r.password_hash), Ok(Some(bcrypt.clone())));
        assert_eq!(
            refusal(parse_row(&p, &columns, &fields(&bcrypt), Some(legacy::Scheme::Argon2))),
            "The password hash does not use the job's PasswordHashingAlgorithm."
        );
        assert_eq!(
            refusal(parse_row(&p, &columns, &fields("md5:abc"), None)),
            "The password hash is not in a supported format."
        );
        // An empty hash cell: no hash, the user resets the password.
        assert_eq!(parse_row(&p, &columns, &fields(""), None).map(|r| r.password_hash), Ok(None));
    }

    #[test]
    fn booleans_and_birthdates() {
        for (v, want) in
            [("true", Some(true)), ("FALSE", Some(false)), ("True", Some(true)), ("yes", None), ("", None)]
        {
            assert_eq!(parse_bool(v), want, "{v:?}");
        }
        assert_eq!(birthdate("12/31/1999").as_deref(), Some("1999-12-31"));
        for bad in
            ["2/01/1985", "02/1/1985", "02/01/85", "00/01/1985", "01/32/1985", "01/00/1985", "a/b/c", ""]
        {
            assert_eq!(birthdate(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn log_lines_read_as_cognitos() {
        assert_eq!(
            log_line("FAILED", 3, "Invalid email address format."),
            "[FAILED] Line Number 3 - Invalid email address format."
        );
    }
}
