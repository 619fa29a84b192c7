//! The CSV file of a user import: the pool's header (GetCSVHeader) and Cognito's CSV dialect (no
//! quotes, `\,` for a comma inside a value, values trimmed).

use crate::model::UserPool;
use serde_json::Value;

/// The extra column that carries an imported password hash.
pub(super) const PASSWORD_HASH_COLUMN: &str = "tessera:password_hash";

/// The standard attributes of the CSV header, in Cognito's order.
const STANDARD_COLUMNS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// The pool's CSV header: Cognito's standard columns, the pool's custom attributes,
/// `cognito:mfa_enabled` and `cognito:username`.
pub(super) fn csv_header(pool: &UserPool) -> Vec<String> {
    let mut out: Vec<String> = STANDARD_COLUMNS.iter().map(|s| s.to_string()).collect();
    for c in &pool.custom_schema {
        if let Some(name) = c.get("Name").and_then(Value::as_str) {
            out.push(name.to_string());
        }
    }
    out.push("cognito:mfa_enabled".into());
    out.push("cognito:username".into());
    out
}
/// Splits one line (without its newline) into trimmed values; `\,` is a literal comma.
pub fn split_line(line: &str) -> Vec<String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// The lines of `buf` that end with `\n` (newline included), and the unterminated tail
/// when `at_end`.
pub fn complete_lines(buf: &[u8], at_end: bool) -> impl Iterator<Item = &[u8]> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, tail) = rest.split_at(i + 1);
                rest = tail;
                Some(line)
            }
            None if at_end => {
                let line = rest;
                rest = &[];
                Some(line)
            }
            None => None,
        }
    })
}

/// Every expected column present once, in any order; the only extra column allowed is the
/// password hash.
pub fn check_header(expected: &[String], columns: &[String]) -> Result<(), &'static str> {
    let mut seen = std::collections::HashSet::new();
    for c in columns {
        if !seen.insert(c.as_str()) {
            return Err("The CSV header repeats a column.");
        }
        if c != PASSWORD_HASH_COLUMN && !expected.iter().any(|e| e == c) {
            return Err("The CSV header has a column that is not an attribute of the user pool.");
        }
    }
    if expected.iter().any(|e| !seen.contains(e.as_str())) {
        return Err("The CSV header does not have every column of GetCSVHeader.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_backslash_commas_and_trims() {
        assert_eq!(split_line(" a , b\\, c ,,d\r\n"), vec!["a", "b, c", "", "d"]);
        assert_eq!(split_line("\"q\",x"), vec!["\"q\"", "x"], "quotes are data, not RFC 4180");
        assert_eq!(split_line("a\\b,c\\"), vec!["a\\b", "c\\"]);
        assert_eq!(split_line(""), vec![""]);
    }

    #[test]
    fn complete_lines_keep_partial_tail_for_later() {
        let b = b"h1,h2\nr1,r2\nr3";
        let v: Vec<&[u8]> = complete_lines(b, false).collect();
        assert_eq!(v, vec![&b"h1,h2\n"[..], &b"r1,r2\n"[..]]);
        let v: Vec<&[u8]> = complete_lines(b, true).collect();
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn header_rules() {
        let exp: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_header(&exp, &cols(&["b", "a"])).is_ok());
        assert!(check_header(&exp, &cols(&["b", "a", super::PASSWORD_HASH_COLUMN])).is_ok());
        assert!(check_header(&exp, &cols(&["a"])).is_err());
        assert!(check_header(&exp, &cols(&["a", "b", "c"])).is_err());
        assert!(check_header(&exp, &cols(&["a", "b", "a"])).is_err());
    }

    #[test]
    fn header_errors_say_what_is_wrong() {
        let exp: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_header(&exp, &cols(&["a", "b", "a"])), Err("The CSV header repeats a column."));
        assert_eq!(
            check_header(&exp, &cols(&["a", "b", "c"])),
            Err("The CSV header has a column that is not an attribute of the user pool.")
        );
        assert_eq!(
            check_header(&exp, &cols(&["a"])),
            Err("The CSV header does not have every column of GetCSVHeader.")
        );
        assert_eq!(
            check_header(&exp, &cols(&["a", "b", PASSWORD_HASH_COLUMN, PASSWORD_HASH_COLUMN])),
            Err("The CSV header repeats a column.")
        );
    }

    #[test]
    fn values_keep_their_text() {
        assert_eq!(split_line("Zoë,東京,a b"), vec!["Zoë", "東京", "a b"]);
        assert_eq!(split_line("a,b,"), vec!["a", "b", ""], "a trailing comma is an empty last value");
        assert_eq!(split_line(r"a\,\,b"), vec!["a,,b"]);
    }

    #[test]
    fn lines_end_at_newlines_only() {
        let v: Vec<&[u8]> = complete_lines(b"a\r\nb\r\n", true).collect();
        assert_eq!(v, vec![&b"a\r\n"[..], &b"b\r\n"[..]], "CRLF stays with its line");
        assert_eq!(complete_lines(b"", true).count(), 0);
        assert_eq!(complete_lines(b"a\n", true).count(), 1, "no empty line after the last newline");
        assert_eq!(complete_lines(b"partial", false).count(), 0, "an unterminated line waits for more");
    }
}
