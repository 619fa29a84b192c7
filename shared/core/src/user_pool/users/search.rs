//! ListUsers: answered from the per-attribute index items (see `user_index`), never by
//! reading every user of the pool. One query plus one read per returned user.

use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{keys, User, UserPool};
use crate::service::Service;
use crate::user_index::{search_value, MAX_INDEXED_BYTES, SEARCHABLE};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Exact,
    Prefix,
}

/// One parsed `attribute op "value"` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub attribute: String,
    pub matching: Match,
    pub value: String,
}

/// Parses ListUsers' filter grammar: `attr = "v"` or `attr ^= "v"`, backslash escapes inside
/// the quotes. An empty filter is None.
pub fn parse_filter(text: &str) -> Result<Option<Filter>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let invalid = || Error::invalid(format!("Error while parsing filter: {text}"));
    let op_at = t.find(['=', '^']).ok_or_else(invalid)?;
    let attribute = t[..op_at].trim().to_string();
    let rest = &t[op_at..];
    let (matching, rest) = if let Some(r) = rest.strip_prefix("^=") {
        (Match::Prefix, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (Match::Exact, r)
    } else {
        return Err(invalid());
    };
    let rest = rest.trim();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or_else(invalid)?;
    let mut value = String::new();
    let mut chars = rest[1..].chars();
    let mut closed = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next().ok_or_else(invalid)?),
            c if c == quote => {
                closed = true;
                break;
            }
            c => value.push(c),
        }
    }
    if !closed || !chars.as_str().trim().is_empty() || attribute.is_empty() {
        return Err(invalid());
    }
    if !SEARCHABLE.contains(&attribute.as_str()) {
        return Err(Error::invalid(format!("Invalid search attribute: {attribute}")));
    }
    Ok(Some(Filter { attribute, matching, value }))
}

/// The attribute's current value on the user, as the index holds it (before truncation).
fn current_value(user: &User, attribute: &str) -> Option<String> {
    match attribute {
        "username" => Some(user.username.clone()),
        "cognito:user_status" => Some(user.status.as_str().to_string()),
        "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }.to_string()),
        "sub" => Some(user.sub.clone()),
        other => user.attr(other).map(str::to_string),
    }
}

fn matches(filter: &Filter, user: &User) -> bool {
    let Some(actual) = current_value(user, &filter.attribute) else { return false };
    let (actual, wanted) = if filter.attribute == "cognito:user_status" {
        (actual.to_uppercase(), filter.value.to_uppercase())
    } else {
        (actual, filter.value.clone())
    };
    match filter.matching {
        Match::Exact => actual == wanted,
        Match::Prefix => actual.starts_with(&wanted),
    }
}

/// Pagination tokens name the filter attribute they belong to, so a token is only accepted
/// with the same kind of filter.
fn encode_token(attribute: &str, sk: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{attribute}\n{sk}"))
}

fn decode_token(token: &str, attribute: &str) -> Result<String> {
    let invalid = || Error::invalid("Invalid pagination token.");
    let text =
        URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    let (attr, sk) = text.split_once('\n').ok_or_else(invalid)?;
    if attr != attribute {
        return Err(invalid());
    }
    Ok(sk.to_string())
}

/// The username key an index item's sort key ends with.
fn username_key_of(filter: Option<&Filter>, sk: &str) -> String {
    match filter {
        None => sk.to_string(),
        Some(_) => sk.rsplit_once('\u{0}').map(|(_, k)| k.to_string()).unwrap_or_default(),
    }
}

async fn load_users(svc: &Service, pool: &UserPool, keys_: &[String]) -> Result<Vec<Option<User>>> {
    let pks: Vec<String> = keys_.iter().map(|k| keys::user(&pool.id, k)).collect();
    let reads = pks.iter().map(|pk| svc.get_json::<User>(pk, keys::USER_SK));
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .map(|r| r.map(|found| found.map(|(u, _)| u)))
        .collect()
}

pub async fn list_users(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let limit = crate::input::page_limit(input);
    let filter = parse_filter(input.str_of("Filter").unwrap_or_default())?;
    let only: Option<Vec<String>> = input
        .get("AttributesToGet")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
    let token_attribute = filter.as_ref().map(|f| f.attribute.as_str()).unwrap_or_default();
    let mut start = input.str_of("PaginationToken").map(|t| decode_token(t, token_attribute)).transpose()?;
    let (pk, prefix) = match &filter {
        None => (keys::pool_users(&pool.id), String::new()),
        Some(f) => {
            let v = search_value(&f.attribute, &f.value);
            let exact = f.matching == Match::Exact && f.value.len() <= MAX_INDEXED_BYTES;
            (keys::search(&pool.id, &f.attribute), if exact { format!("{v}\u{0}") } else { v })
        }
    };
    let mut users = Vec::new();
    let mut next = None;
    // Index entries whose user no longer matches (a truncated value) are skipped; the loop
    // fills the page from the entries after them.
    loop {
        let want = limit - users.len();
        let page = svc.store.query(&pk, &prefix, start.as_deref(), want, svc.now_secs()).await?;
        let usernames: Vec<String> =
            page.items.iter().map(|i| username_key_of(filter.as_ref(), &i.sk)).collect();
        for user in load_users(svc, &pool, &usernames).await?.into_iter().flatten() {
            if filter.as_ref().is_none_or(|f| matches(f, &user)) {
                users.push(user.user_type(only.as_deref()));
            }
        }
        let last = page.items.last().map(|i| i.sk.clone());
        match page.next {
            Some(_) if users.len() >= limit => {
                next = last;
                break;
            }
            Some(_) => start = last,
            None => break,
        }
    }
    let mut out = json!({"Users": users});
    if let Some(sk) = next {
        out["PaginationToken"] = json!(encode_token(token_attribute, &sk));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_grammar() {
        let f = parse_filter(r#"family_name = "Reddy""#).unwrap().unwrap();
        assert_eq!(
            (f.attribute.as_str(), f.matching, f.value.as_str()),
            ("family_name", Match::Exact, "Reddy")
        );
        let f = parse_filter(r#"  phone_number ^= "+1312"  "#).unwrap().unwrap();
        assert_eq!((f.matching, f.value.as_str()), (Match::Prefix, "+1312"));
        let f = parse_filter(r#"name="a \"b\" \\c""#).unwrap().unwrap();
        assert_eq!(f.value, r#"a "b" \c"#);
        let f = parse_filter("email = 'x@y.z'").unwrap().unwrap();
        assert_eq!(f.value, "x@y.z");
        assert_eq!(parse_filter("   ").unwrap(), None);
    }

    #[test]
    fn rejects_what_cognito_rejects() {
        for bad in [
            r#"custom:tier = "gold""#,
            r#"email ~ "x""#,
            r#"email = x"#,
            r#"email = "x"#,
            r#"= "x""#,
            r#"email = "x" extra"#,
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert_eq!(e.name(), "InvalidParameterException", "{bad}");
        }
    }

    #[test]
    fn tokens_are_tied_to_the_filter_attribute() {
        let t = encode_token("email", "a@b\u{0}k");
        assert_eq!(decode_token(&t, "email").unwrap(), "a@b\u{0}k");
        assert!(decode_token(&t, "name").is_err());
        assert!(decode_token("%%%", "email").is_err());
    }
}
