//! Rendering of the hosted pages: server-side HTML that works without JavaScript.

use super::text::{Message, EN};
use crate::html::escape_html;

/// A page that only says what went wrong.
pub fn error_page(message: Message) -> String {
    layout(
        message.title,
        &format!("<p class=\"errorMessage-customizable\">{}</p>", escape_html(message.detail)),
    )
}

/// The frame of every page.
fn layout(title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title}</title></head><body \
         class=\"background-customizable\"><main><h1 class=\"banner-customizable\">{title}</h1>{main}</main></body></html>",
        lang = EN.lang,
        title = escape_html(title),
    )
}
