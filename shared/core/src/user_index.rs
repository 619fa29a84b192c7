//! The items that point at a user: sign-in identifiers (aliases) and the ListUsers index.
//!
//! A user record remembers what it owns ([`Owned`]); every save computes what it should own
//! ([`desired`]) and writes the difference in the same transaction as the user, so the
//! indexes never disagree with the users they point at.

use crate::model::{keys, Owned, User, UserPool};
use crate::store::{Cond, Item, Write};
use serde_json::json;

/// The attributes ListUsers can filter on, as the API model lists them.
pub const SEARCHABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// DynamoDB sort keys hold at most 1024 bytes; longer values are indexed by a prefix and
/// matched exactly against the user record.
pub const MAX_INDEXED_BYTES: usize = 800;

/// How an alias value is looked up: case-folded in case-insensitive pools, except phone numbers.
pub fn alias_value(pool: &UserPool, kind: &str, value: &str) -> String {
    alias_value_for(pool.case_sensitive, kind, value)
}

/// An alias value folded by a given case rule (while a case change runs, users on either side
/// of it hold values folded by their own rule).
pub fn alias_value_for(case_sensitive: bool, kind: &str, value: &str) -> String {
    if kind == "phone_number" || kind == "sub" {
        value.to_string()
    } else {
        crate::model::fold_username(value, case_sensitive)
    }
}

/// The value a searchable attribute is indexed under.
pub fn search_value(attribute: &str, value: &str) -> String {
    let v = if attribute == "cognito:user_status" { value.to_uppercase() } else { value.to_string() };
    truncate(&v, MAX_INDEXED_BYTES).to_string()
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether the pool treats `kind` as a sign-in identifier for this user right now.
/// Username attributes count whether verified or not; email and phone aliases only while
/// verified; preferred_username once set.
pub fn desired(pool: &UserPool, user: &User) -> Owned {
    let mut out = Owned::default();
    if user.username != user.sub {
        out.aliases.insert("sub".into(), user.sub.clone());
    }
    // A federated user signs in at its provider: its email or phone is no sign-in name here,
    // and may equal a local user's (linking joins the two).
    let federated = user.status == crate::model::UserStatus::EXTERNAL_PROVIDER;
    let case_sensitive = pool.case_sensitive_for(&user.username);
    // A user a settings change resolved against gives up that alias (see sign_in_settings).
    let yielded = |kind: &str| {
        pool.settings_change
            .as_deref()
            .and_then(|c| c.yielding.get(&user.username))
            .is_some_and(|kinds| kinds.iter().any(|k| k == kind))
    };
    for kind in pool.username_attributes.iter().filter(|_| !federated) {
        if let Some(v) = user.attr(kind).filter(|v| !v.is_empty()) {
            out.aliases.insert(kind.clone(), alias_value_for(case_sensitive, kind, v));
        }
    }
    for kind in pool.alias_attributes.iter().filter(|k| !federated && !yielded(k)) {
        let Some(v) = user.attr(kind).filter(|v| !v.is_empty()) else { continue };
        let active = match kind.as_str() {
            "preferred_username" => true,
            _ => user.attr(&format!("{kind}_verified")) == Some("true"),
        };
        if active {
            out.aliases.insert(kind.clone(), alias_value_for(case_sensitive, kind, v));
        }
    }
    for attribute in SEARCHABLE {
        let value = match *attribute {
            "username" => Some(user.username.clone()),
            "cognito:user_status" => Some(user.status.as_str().to_string()),
            "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }.to_string()),
            "sub" => Some(user.sub.clone()),
            other => user.attr(other).filter(|v| !v.is_empty()).map(str::to_string),
        };
        if let Some(v) = value {
            out.search.insert(attribute.to_string(), search_value(attribute, &v));
        }
    }
    out
}

/// What one save writes besides the user: the index changes, and for each write whether it
/// claims an alias (so a failed condition can be told apart).
pub struct IndexWrites {
    pub writes: Vec<Write>,
    /// Alias kind claimed by `writes[i]`, if any.
    pub claims: Vec<Option<String>>,
}

/// The writes that take the user's index items from `before` to `after`.
pub fn diff(pool: &UserPool, user: &User, before: &Owned, after: &Owned) -> IndexWrites {
    let mut out = IndexWrites { writes: Vec::new(), claims: Vec::new() };
    let key = pool.username_key(&user.username);
    for (kind, value) in &before.aliases {
        if after.aliases.get(kind) != Some(value) {
            out.writes.push(Write::delete(keys::alias(&pool.id, kind, value), keys::ALIAS_SK, Cond::None));
            out.claims.push(None);
        }
    }
    for (kind, value) in &after.aliases {
        if before.aliases.get(kind) != Some(value) {
            let item = Item::new(
                keys::alias(&pool.id, kind, value),
                keys::ALIAS_SK,
                json!({"username": user.username}),
            );
            out.writes.push(Write::put(item, Cond::NotExists));
            out.claims.push(Some(kind.clone()));
        }
    }
    for (attribute, value) in &before.search {
        if after.search.get(attribute) != Some(value) {
            out.writes.push(Write::delete(
                keys::search(&pool.id, attribute),
                keys::search_sk(value, &key),
                Cond::None,
            ));
            out.claims.push(None);
        }
    }
    for (attribute, value) in &after.search {
        if before.search.get(attribute) != Some(value) {
            let item = Item::new(
                keys::search(&pool.id, attribute),
                keys::search_sk(value, &key),
                json!({"username": user.username}),
            );
            out.writes.push(Write::put(item, Cond::None));
            out.claims.push(None);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserStatus;

    fn pool(username_attributes: &[&str], alias_attributes: &[&str], case_sensitive: bool) -> UserPool {
        let mut p: UserPool = serde_json::from_value(json!({
            "id": "us-east-1_Test", "name": "t", "created": 0, "modified": 0,
            "password_policy": serde_json::to_value(crate::password::PasswordPolicy::default()).unwrap(),
            "username_attributes": username_attributes, "alias_attributes": alias_attributes,
            "auto_verified_attributes": [], "case_sensitive": case_sensitive, "required_attributes": [],
            "custom_schema": [], "settings": {},
            "keys": {"id": {"kid": "a", "n": "", "e": "", "sealed_private": ""},
                     "access": {"kid": "b", "n": "", "e": "", "sealed_private": ""}}
        }))
        .unwrap();
        p.case_sensitive = case_sensitive;
        p
    }

    fn user(attrs: &[(&str, &str)]) -> User {
        User {
            username: "jane".into(),
            sub: "s-1".into(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            status: UserStatus::CONFIRMED,
            enabled: true,
            created: 0,
            modified: 0,
            password_hash: None,
            password_history: Vec::new(),
            srp: None,
            signed_out_at_ms: 0,
            codes: Default::default(),
            code_guards: Default::default(),
            owned: Owned::default(),
            password_state: Default::default(),
            mfa: Default::default(),
        }
    }

    #[test]
    fn email_alias_only_while_verified() {
        let p = pool(&[], &["email", "preferred_username"], true);
        let unverified = desired(&p, &user(&[("email", "J@x.io"), ("preferred_username", "JJ")]));
        assert_eq!(unverified.aliases.get("email"), None);
        assert_eq!(unverified.aliases.get("preferred_username").map(String::as_str), Some("JJ"));
        let verified = desired(&p, &user(&[("email", "J@x.io"), ("email_verified", "true")]));
        assert_eq!(verified.aliases.get("email").map(String::as_str), Some("J@x.io"));
    }

    #[test]
    fn case_insensitive_pools_fold_aliases_but_not_phones() {
        let p = pool(&[], &["email", "phone_number", "preferred_username"], false);
        let o = desired(
            &p,
            &user(&[
                ("email", "J@X.io"),
                ("email_verified", "true"),
                ("phone_number", "+15550100"),
                ("phone_number_verified", "true"),
                ("preferred_username", "JJ"),
            ]),
        );
        assert_eq!(o.aliases["email"], "j@x.io");
        assert_eq!(o.aliases["preferred_username"], "jj");
        assert_eq!(o.aliases["phone_number"], "+15550100");
    }

    #[test]
    fn username_attributes_count_unverified() {
        let p = pool(&["email"], &[], true);
        let mut u = user(&[("email", "j@x.io")]);
        u.username = "s-1".into();
        let o = desired(&p, &u);
        assert_eq!(o.aliases.get("email").map(String::as_str), Some("j@x.io"));
        assert_eq!(o.aliases.get("sub"), None, "username is the sub: no separate sub alias");
    }

    #[test]
    fn search_values_cover_status_and_truncate_long_values() {
        let p = pool(&[], &[], true);
        let long = "é".repeat(600);
        let mut u = user(&[("name", &long)]);
        u.enabled = false;
        let o = desired(&p, &u);
        assert_eq!(o.search["status"], "Disabled");
        assert_eq!(o.search["cognito:user_status"], "CONFIRMED");
        assert!(o.search["name"].len() <= MAX_INDEXED_BYTES && long.starts_with(&o.search["name"]));
    }

    #[test]
    fn diff_writes_only_changes() {
        let p = pool(&[], &["email"], true);
        let before = desired(&p, &user(&[("email", "a@x.io"), ("email_verified", "true"), ("name", "A")]));
        let after = desired(&p, &user(&[("email", "b@x.io"), ("name", "A")]));
        let d = diff(&p, &user(&[]), &before, &after);
        // email alias removed, email search entry replaced (delete + put); name untouched.
        assert_eq!(d.writes.len(), 3);
        assert!(d.claims.iter().all(Option::is_none));
        let again = diff(&p, &user(&[]), &after, &after);
        assert!(again.writes.is_empty());
    }
}
