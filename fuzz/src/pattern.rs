//! Strings that match a model's `pattern`, so generated ids (device keys, job ids, UUIDs) get
//! past validation. The pattern is parsed with regex-syntax and walked: a random path through
//! it, mostly printable ASCII. Patterns it cannot parse give None.

use crate::rng::Rng;
use regex_syntax::hir::{Class, Hir, HirKind};

pub fn sample(pattern: &str, rng: &mut Rng, min: usize, max: usize) -> Option<String> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    for _ in 0..6 {
        let mut out = String::new();
        walk(&hir, rng, &mut out);
        let n = out.chars().count();
        if (min..=max).contains(&n) {
            return Some(out);
        }
    }
    None
}

fn walk(hir: &Hir, rng: &mut Rng, out: &mut String) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(u32, u32)> =
                class.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect();
            let ascii: Vec<(u32, u32)> = ranges
                .iter()
                .filter_map(|&(a, b)| {
                    let (a, b) = (a.max(0x21), b.min(0x7e));
                    (a <= b).then_some((a, b))
                })
                .collect();
            let pool = if !ascii.is_empty() && rng.chance(92) { &ascii } else { &ranges };
            if let Some(&(a, b)) = rng.pick(pool) {
                let c = rng.between(a as i64, b as i64) as u32;
                out.push(char::from_u32(c).unwrap_or('a'));
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(u8, u8)> =
                class.ranges().iter().map(|r| (r.start(), r.end().min(0x7e))).collect();
            if let Some(&(a, b)) = rng.pick(&ranges) {
                out.push(rng.between(a as i64, b.max(a) as i64) as u8 as char);
            }
        }
        HirKind::Repetition(rep) => {
            let lo = rep.min as i64;
            let hi = rep.max.map_or(lo + 10, |m| (m as i64).min(lo + 10));
            for _ in 0..rng.between(lo, hi) {
                walk(&rep.sub, rng, out);
            }
        }
        HirKind::Capture(cap) => walk(&cap.sub, rng, out),
        HirKind::Concat(parts) => {
            for p in parts {
                walk(p, rng, out);
            }
        }
        HirKind::Alternation(options) => {
            if let Some(p) = rng.pick(options) {
                walk(p, rng, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_match_their_pattern() {
        let mut rng = Rng::new(11);
        for pattern in [
            r"[\w-]+_[0-9a-f-]+",
            r"import-[0-9a-zA-Z-]+",
            r"^(tkn|sso)[a-z0-9]{25}$",
            r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[4][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$",
            r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+",
        ] {
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for _ in 0..50 {
                let s = sample(pattern, &mut rng, 1, 128).unwrap();
                assert!(re.is_match(&s), "{s:?} does not match {pattern}");
            }
        }
    }
}
