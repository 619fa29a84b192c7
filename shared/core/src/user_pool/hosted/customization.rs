//! SetUICustomization and GetUICustomization: a pool's (`ALL`) or one client's CSS and logo for
//! the hosted pages (spec A §6.3).
//!
//! The CSS is parsed with `cssparser` (Servo's tokenizer), never filtered as text: only rules
//! whose selector is one of Cognito's `*-customizable` classes, only the properties Cognito
//! allows on each, only plain values (idents, numbers, lengths, percentages, colours, `rgb()`
//! style functions). At-rules (`@import`, `@media`, …), `url()`, strings and any other function
//! are refused with InvalidParameterException naming what was found. What is stored and served
//! is re-serialised from the parsed tokens, so nothing but the checked rules reaches a page.
//! The logo is a PNG or JPEG of at most 100 KB. A client with its own customisation never
//! falls back to `ALL`.

use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::keys;
use crate::service::Service;
use crate::store::{Cond, Item, Write};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cssparser::{Parser, ToCss, Token};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The largest logo (Cognito: 100 KB).
pub const MAX_LOGO_BYTES: usize = 100 * 1024;

/// Each class Cognito's hosted UI lets a pool style, and the properties allowed on it.
const ALLOWED: &[(&str, &[&str])] = &[
    ("background-customizable", &["background-color"]),
    ("banner-customizable", &["padding", "background-color"]),
    (
        "errorMessage-customizable",
        &["margin", "padding", "font-size", "width", "background-color", "border", "color", "box-sizing"],
    ),
    (
        "idpButton-customizable",
        &["height", "width", "text-align", "margin-bottom", "color", "background-color", "border-color"],
    ),
    ("idpButton-customizable:hover", &["color", "background-color"]),
    ("idpDescription-customizable", &["padding-top", "padding-bottom", "display", "font-size"]),
    ("inputField-customizable", &["width", "height", "color", "background-color", "border"]),
    ("inputField-customizable:focus", &["border-color", "outline"]),
    ("label-customizable", &["font-weight"]),
    ("legalText-customizable", &["color", "font-size"]),
    ("logo-customizable", &["max-width", "max-height"]),
    ("passwordCheck-notValid-customizable", &["color"]),
    ("passwordCheck-valid-customizable", &["color"]),
    ("socialButton-customizable", &["height", "text-align", "width", "margin-bottom"]),
    (
        "submitButton-customizable",
        &["font-size", "font-weight", "margin", "width", "height", "color", "background-color"],
    ),
    ("submitButton-customizable:hover", &["color", "background-color"]),
    ("textDescription-customizable", &["padding-top", "padding-bottom", "display", "font-size"]),
];

/// Functions a value may use (colours).
const FUNCTIONS: &[&str] = &["rgb", "rgba", "hsl", "hsla"];

fn invalid(detail: impl std::fmt::Display) -> Error {
    Error::invalid(format!("Invalid CSS: {detail}"))
}

/// A value's tokens, checked and re-serialised.
fn value_css(input: &mut Parser<'_>, property: &str) -> Result<String> {
    let mut out = String::new();
    while let Ok(token) = input.next_including_whitespace().cloned() {
        match &token {
            Token::WhiteSpace(_) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                continue;
            }
            Token::Ident(_)
            | Token::Hash(_)
            | Token::IDHash(_)
            | Token::Number { .. }
            | Token::Percentage { .. } => {}
            Token::Dimension { unit, .. } => {
                if !["px", "em", "rem", "%", "pt", "vh", "vw"].contains(&unit.as_ref()) {
                    return Err(invalid(format!("the unit {unit} is not allowed in {property}")));
                }
            }
            Token::Comma => {}
            Token::Function(name) if FUNCTIONS.contains(&name.to_ascii_lowercase().as_str()) => {
                let inner = input
                    .parse_nested_block(|nested| {
                        let mut parts = String::new();
                        while let Ok(t) = nested.next() {
                            match t {
                                Token::Number { .. }
                                | Token::Percentage { .. }
                                | Token::Comma
                                | Token::Delim('/') => {
                                    parts.push_str(&t.to_css_string());
                                    parts.push(' ');
                                }
                                _ => {
                                    return Err(cssparser::ParseError::<()>::unexpected_token());
                                }
                            }
                        }
                        Ok(parts)
                    })
                    .map_err(|_| invalid(format!("only numbers may be given to {name}() in {property}")))?;
                out.push_str(&format!("{}({})", name, inner.trim_end()));
                continue;
            }
            Token::Function(name) => {
                return Err(invalid(format!("the function {name}() is not allowed ({property})")));
            }
            Token::UnquotedUrl(_) | Token::BadUrl(_) => {
                return Err(invalid(format!("url() is not allowed ({property})")));
            }
            Token::QuotedString(_) | Token::BadString(_) => {
                return Err(invalid(format!("strings are not allowed ({property})")));
            }
            Token::Delim('!') => return Err(invalid(format!("!important is not allowed ({property})"))),
            other => {
                return Err(invalid(format!(
                    "{} is not allowed in the value of {property}",
                    other.to_css_string()
                )));
            }
        }
        out.push_str(&token.to_css_string());
    }
    let out = out.trim().to_string();
    if out.is_empty() {
        return Err(invalid(format!("{property} has no value")));
    }
    check_value(property, &out)?;
    Ok(out)
}

/// The few values Cognito constrains beyond their kind.
fn check_value(property: &str, value: &str) -> Result<()> {
    let ok = match property {
        "display" => matches!(value, "block" | "inline" | "inline-block" | "none"),
        "text-align" => matches!(value, "left" | "right" | "center"),
        "box-sizing" => matches!(value, "border-box" | "content-box"),
        "font-weight" => {
            matches!(value, "normal" | "bold" | "bolder" | "lighter")
                || value.parse::<u32>().is_ok_and(|w| (100..=900).contains(&w) && w % 100 == 0)
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("{value} is not a valid value for {property}")))
    }
}

/// Checks a customisation's CSS and returns it re-serialised from what was parsed.
pub fn check_css(css: &str) -> Result<String> {
    let mut input = Parser::new(css);
    let mut out = String::new();
    while let Ok(token) = input.next().cloned() {
        let class = match &token {
            Token::AtKeyword(name) => return Err(invalid(format!("@{name} rules are not allowed"))),
            Token::Delim('.') => match input.next() {
                Ok(Token::Ident(class)) => class.to_string(),
                _ => return Err(invalid("a selector must be one of the customizable classes")),
            },
            other => {
                return Err(invalid(format!(
                "{} is not a customizable class: rules must select one of Cognito's *-customizable classes",
                other.to_css_string()
            )))
            }
        };
        // `.class`, `.class:hover` or `.class:focus`, then the block.
        let mut selector = class.clone();
        let block = loop {
            match input.next_including_whitespace() {
                Ok(Token::Colon) => match input.next_including_whitespace() {
                    Ok(Token::Ident(pseudo)) => selector = format!("{class}:{pseudo}"),
                    _ => return Err(invalid(format!("unsupported selector after .{class}"))),
                },
                Ok(Token::WhiteSpace(_)) => {}
                Ok(Token::CurlyBracketBlock) => break true,
                _ => break false,
            }
        };
        if !block {
            return Err(invalid(format!(
                ".{selector}: a rule selects one customizable class (no combinators)"
            )));
        }
        let Some((_, properties)) = ALLOWED.iter().find(|(c, _)| *c == selector) else {
            return Err(invalid(format!("{selector} is not a customizable class")));
        };
        let declarations = input
            .parse_nested_block(|block| {
                let mut declarations: Vec<std::result::Result<String, Error>> = Vec::new();
                loop {
                    let property = match block.next() {
                        Ok(Token::Ident(p)) => p.to_ascii_lowercase(),
                        Ok(Token::Semicolon) => continue,
                        Ok(other) => {
                            let found = other.to_css_string();
                            declarations
                                .push(Err(invalid(format!("{found} is not a property ({selector})"))));
                            break;
                        }
                        Err(_) => break,
                    };
                    if block.expect_colon().is_err() {
                        declarations.push(Err(invalid(format!("{property} needs a value ({selector})"))));
                        break;
                    }
                    if !properties.contains(&property.as_str()) {
                        declarations.push(Err(invalid(format!(
                            "the property {property} is not allowed on {selector}"
                        ))));
                        break;
                    }
                    let value = block.parse_until_after(cssparser::Delimiter::Semicolon, |v| {
                        let checked = value_css(v, &property);
                        while v.next_including_whitespace().is_ok() {}
                        Ok::<_, cssparser::ParseError<()>>(checked)
                    });
                    match value {
                        Ok(Ok(v)) => declarations.push(Ok(format!("{property}:{v}"))),
                        Ok(Err(e)) => {
                            declarations.push(Err(e));
                            break;
                        }
                        Err(_) => {
                            declarations.push(Err(invalid(format!("the value of {property} is malformed"))));
                            break;
                        }
                    }
                }
                // After a refusal the rest of the block is not looked at.
                while block.next().is_ok() {}
                Ok::<_, cssparser::ParseError<()>>(declarations)
            })
            .map_err(|_| invalid(format!("the rule for {selector} is malformed")))?;
        let declarations: Vec<String> = declarations.into_iter().collect::<Result<_>>()?;
        out.push_str(&format!(".{selector}{{{}}}", declarations.join(";")));
    }
    Ok(out)
}

/// The logo's media type, from its first bytes: PNG or JPEG only.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A stored customisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiCustomization {
    pub pool_id: String,
    /// A client id, or `ALL`.
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub css: Option<String>,
    /// Base64 of the logo, and its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_type: Option<String>,
    /// Epoch ms.
    pub created: i64,
    pub modified: i64,
}

/// What a client's pages wear: its own customisation, else the pool's (`ALL`).
pub async fn for_client(svc: &Service, pool_id: &str, client_id: &str) -> Result<Option<UiCustomization>> {
    let pk = keys::ui_customizations(pool_id);
    if let Some((own, _)) = svc.get_json::<UiCustomization>(&pk, client_id).await? {
        return Ok(Some(own));
    }
    Ok(svc.get_json::<UiCustomization>(&pk, "ALL").await?.map(|(c, _)| c))
}

impl UiCustomization {
    /// The logo as a `data:` URL: what the pages show (their CSP allows only `data:` images)
    /// and what GetUICustomization's ImageUrl gives.
    pub fn logo_url(&self) -> Option<String> {
        let image = self.image.as_deref()?;
        Some(format!("data:{};base64,{image}", self.image_type.as_deref().unwrap_or("image/png")))
    }
}

fn shown(custom: Option<&UiCustomization>, pool_id: &str, client_id: &str) -> Value {
    let mut out = json!({"UserPoolId": pool_id, "ClientId": client_id});
    if let Some(c) = custom {
        out["ClientId"] = json!(c.client_id);
        if let Some(css) = &c.css {
            out["CSS"] = json!(css);
            out["CSSVersion"] = json!(c.modified.to_string());
        }
        if let Some(url) = c.logo_url() {
            out["ImageUrl"] = json!(url);
        }
        out["CreationDate"] = json!(c.created as f64 / 1000.0);
        out["LastModifiedDate"] = json!(c.modified as f64 / 1000.0);
    }
    out
}

async fn scope_of(svc: &Service, input: &Value) -> Result<(String, String)> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let client_id = match input.str_of("ClientId").filter(|c| *c != "ALL") {
        Some(id) => svc.pool_client(&pool.id, id).await?.client_id.clone(),
        None => "ALL".to_string(),
    };
    Ok((pool.id.clone(), client_id))
}

pub async fn set_ui_customization(svc: &Service, input: &Value) -> Result<Value> {
    let (pool_id, client_id) = scope_of(svc, input).await?;
    let pool = svc.pool(&pool_id).await?;
    if pool.settings.domain.is_none() && pool.settings.custom_domain.is_none() {
        return Err(Error::invalid("There has to be an existing domain associated with this user pool"));
    }
    let css = input.str_of("CSS").filter(|c| !c.trim().is_empty()).map(check_css).transpose()?;
    let (image, image_type) = match input.str_of("ImageFile").filter(|i| !i.is_empty()) {
        Some(b64) => {
            let bytes = STANDARD.decode(b64).map_err(|_| Error::invalid("ImageFile is not base64."))?;
            if bytes.len() > MAX_LOGO_BYTES {
                return Err(Error::invalid(format!(
                    "The logo is {} bytes: it may be at most 100 KB ({MAX_LOGO_BYTES} bytes).",
                    bytes.len()
                )));
            }
            let kind =
                image_type(&bytes).ok_or_else(|| Error::invalid("The logo must be a PNG or JPEG image."))?;
            (Some(STANDARD.encode(&bytes)), Some(kind.to_string()))
        }
        None => (None, None),
    };
    let now = svc.clock.now_millis();
    let pk = keys::ui_customizations(&pool_id);
    let created = svc.get_json::<UiCustomization>(&pk, &client_id).await?.map_or(now, |(c, _)| c.created);
    let custom = UiCustomization {
        pool_id: pool_id.clone(),
        client_id: client_id.clone(),
        css,
        image,
        image_type,
        created,
        modified: now,
    };
    let item = Item::new(pk, client_id.clone(), serde_json::to_value(&custom).map_err(Error::internal)?);
    svc.store.transact(vec![Write::put(item, Cond::None)], svc.now_secs()).await?;
    Ok(json!({"UICustomization": shown(Some(&custom), &pool_id, &client_id)}))
}

pub async fn get_ui_customization(svc: &Service, input: &Value) -> Result<Value> {
    let (pool_id, client_id) = scope_of(svc, input).await?;
    let custom = if client_id == "ALL" {
        svc.get_json::<UiCustomization>(&keys::ui_customizations(&pool_id), "ALL").await?.map(|(c, _)| c)
    } else {
        for_client(svc, &pool_id, &client_id).await?
    };
    Ok(json!({"UICustomization": shown(custom.as_ref(), &pool_id, &client_id)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_rules_are_kept_and_re_serialised() {
        let css = ".label-customizable { font-weight: 400; }\n/* a comment */\n.submitButton-customizable:hover { color: #fff; background-color: rgb(10, 20, 30) }";
        let out = check_css(css).unwrap();
        assert_eq!(out, ".label-customizable{font-weight:400}.submitButton-customizable:hover{color:#fff;background-color:rgb(10 , 20 , 30)}");
    }

    #[test]
    fn everything_else_is_refused_by_name() {
        for (css, named) in [
            ("@import url(x.css);", "@import"),
            ("@media screen { .label-customizable { font-weight: 400 } }", "@media"),
            (".label-customizable { color: red }", "color"),
            (".myclass { color: red }", "myclass"),
            (".banner-customizable { background-color: url(http://x) }", "url()"),
            (".banner-customizable { background-color: expression(alert(1)) }", "expression()"),
            (".banner-customizable { background-color: red !important }", "!important"),
            (".label-customizable { font-weight: 450 }", "450"),
            ("div { color: red }", "div"),
            (".banner-customizable > .label-customizable { padding: 0 }", "banner-customizable"),
            (".banner-customizable { background-color: \"</style><script>\" }", "strings"),
        ] {
            let e = check_css(css).unwrap_err();
            assert_eq!(e.name(), "InvalidParameterException");
            assert!(e.message().contains(named), "{css}: {}", e.message());
        }
    }

    #[test]
    fn logos_are_png_or_jpeg() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(image_type(b"<svg"), None);
    }
}
