//! Values put into email bodies, which are HTML.

/// HTML-escapes text, braces included (so no placeholder can be formed from a value): a user
/// name like `<a href=…>` lands in an email as text, not as markup.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '{' => out.push_str("&#123;"),
            '}' => out.push_str("&#125;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as it goes into a message of `channel`: escaped for email, as it is for SMS.
pub fn for_channel(channel: &str, value: &str) -> String {
    if channel == "EMAIL" {
        escape_html(value)
    } else {
        value.to_string()
    }
}
