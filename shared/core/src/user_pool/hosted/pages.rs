//! Rendering of the hosted pages: server-side HTML that works without JavaScript, with a
//! label for every field, a visible focus, and colours of at least 4.5:1 contrast. Cognito's
//! `*-customizable` classes are on the elements a pool's CSS may style. Every value put into a
//! page goes through [`escape_html`].

use super::text::{Message, EN};
use crate::html::escape_html;

/// The base style: the customisation's CSS (SetUICustomization) comes after it.
const STYLE: &str = "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1a1a1a;background:#f2f3f3}main{max-width:26rem;margin:2rem auto;padding:1.5rem 2rem;\
background:#fff;border:1px solid #c6c6cd;border-radius:.5rem}h1{font-size:1.4rem;margin:0 0 1rem}\
label{display:block;font-weight:600;margin:.8rem 0 .3rem}input[type=text],input[type=password],\
input[type=email],input[type=tel]{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;\
border:1px solid #5f6b7a;border-radius:.25rem;color:#1a1a1a;background:#fff}fieldset{border:0;padding:0;\
margin:.8rem 0}legend{font-weight:600}.option label{display:inline;font-weight:400;margin-left:.4rem}\
button{margin-top:1.2rem;width:100%;padding:.65rem;font-size:1rem;font-weight:600;color:#fff;\
background:#0b57d0;border:0;border-radius:.25rem;cursor:pointer}button:hover{background:#0842a0}\
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}.errorMessage-customizable{color:#a4000f;\
background:#fff0f0;border:1px solid #a4000f;padding:.6rem;border-radius:.25rem}\
.textDescription-customizable{margin:.4rem 0 1rem}a{color:#0b57d0}nav p{margin:.6rem 0}\
.qr svg{display:block;margin:1rem auto;width:12rem;height:12rem}code{word-break:break-all}";

/// A page that only says what went wrong.
pub fn error_page(message: Message) -> String {
    message_page(message.title, message.detail)
}

/// A page with a title and markup made by this module's callers from escaped parts.
pub fn markup_page(title: &str, main: &str) -> String {
    layout(title, main)
}

/// A page with a title and one paragraph.
pub fn message_page(title: &str, detail: &str) -> String {
    let main = if detail.is_empty() {
        String::new()
    } else {
        format!("<p class=\"textDescription-customizable\">{}</p>", escape_html(detail))
    };
    layout(title, &main)
}

/// One field of a form.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    pub label: &'a str,
    pub name: &'a str,
    /// `text`, `password`, `email`, `tel`.
    pub kind: &'a str,
    pub autocomplete: &'a str,
    pub value: &'a str,
    pub required: bool,
}

/// A choice among options (radio buttons in a fieldset).
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    pub legend: &'a str,
    pub name: &'a str,
    /// (value, label).
    pub options: Vec<(&'a str, &'a str)>,
}

/// A form page: what it is for, an error (if the last attempt failed), the fields, one
/// button, and links below.
#[derive(Debug, Clone, Default)]
pub struct FormPage<'a> {
    pub title: &'a str,
    pub intro: &'a str,
    pub error: Option<&'a str>,
    /// Where the form posts (with the authorize request's query).
    pub action: &'a str,
    pub csrf: &'a str,
    pub hidden: Vec<(&'a str, &'a str)>,
    pub fields: Vec<Field<'a>>,
    pub choice: Option<Choice<'a>>,
    /// Markup made by this module's callers from escaped parts (the QR code).
    pub extra_html: String,
    /// (label, name) of the submit button.
    pub button: (&'a str, &'a str),
    /// (href, text).
    pub links: Vec<(String, &'a str)>,
}

impl FormPage<'_> {
    pub fn render(&self) -> String {
        let mut main = String::new();
        if !self.intro.is_empty() {
            main.push_str(&format!(
                "<p class=\"textDescription-customizable\">{}</p>",
                escape_html(self.intro)
            ));
        }
        if let Some(error) = self.error {
            main.push_str(&format!(
                "<p id=\"form-error\" class=\"errorMessage-customizable\" role=\"alert\">{}</p>",
                escape_html(error)
            ));
        }
        main.push_str(&self.extra_html);
        main.push_str(&format!(
            "<form method=\"post\" action=\"{}\" class=\"cognito-asf\" novalidate>",
            escape_html(self.action)
        ));
        main.push_str(&format!(
            "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
            escape_html(self.csrf)
        ));
        for (name, value) in &self.hidden {
            main.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(name),
                escape_html(value)
            ));
        }
        let described = if self.error.is_some() { " aria-describedby=\"form-error\"" } else { "" };
        for (i, f) in self.fields.iter().enumerate() {
            let id = format!("field-{i}");
            main.push_str(&format!(
                "<label for=\"{id}\" class=\"label-customizable\">{}</label><input id=\"{id}\" \
                 class=\"inputField-customizable\" type=\"{}\" name=\"{}\" value=\"{}\" autocomplete=\"{}\"{}{described}>",
                escape_html(f.label),
                escape_html(f.kind),
                escape_html(f.name),
                escape_html(f.value),
                escape_html(f.autocomplete),
                if f.required { " required" } else { "" },
            ));
        }
        if let Some(choice) = &self.choice {
            main.push_str(&format!(
                "<fieldset><legend class=\"label-customizable\">{}</legend>",
                escape_html(choice.legend)
            ));
            for (i, (value, label)) in choice.options.iter().enumerate() {
                let id = format!("choice-{i}");
                main.push_str(&format!(
                    "<p class=\"option\"><input id=\"{id}\" type=\"radio\" name=\"{}\" value=\"{}\"{}><label \
                     for=\"{id}\">{}</label></p>",
                    escape_html(choice.name),
                    escape_html(value),
                    if i == 0 { " checked" } else { "" },
                    escape_html(label)
                ));
            }
            main.push_str("</fieldset>");
        }
        main.push_str(&format!(
            "<button type=\"submit\" class=\"submitButton-customizable\" name=\"{}\" value=\"{}\">{}</button></form>",
            escape_html(self.button.1),
            escape_html(self.button.0),
            escape_html(self.button.0)
        ));
        if !self.links.is_empty() {
            main.push_str("<nav>");
            for (href, text) in &self.links {
                main.push_str(&format!(
                    "<p><a class=\"redirect-customizable\" href=\"{}\">{}</a></p>",
                    escape_html(href),
                    escape_html(text)
                ));
            }
            main.push_str("</nav>");
        }
        layout(self.title, &main)
    }
}

/// Puts a pool's or client's customisation on a page: its CSS after the base style, its logo
/// above the title. The CSS was re-serialised from checked tokens when it was set
/// (`customization.rs`); `</` cannot occur in it.
pub fn with_look(page: &str, css: Option<&str>, logo_url: Option<&str>) -> String {
    let mut page = page.to_string();
    if let Some(css) = css.filter(|c| !c.contains("</")) {
        page = page.replacen("</head>", &format!("<style>{css}</style></head>"), 1);
    }
    if let Some(url) = logo_url {
        let img = format!("<main><img class=\"logo-customizable\" src=\"{}\" alt=\"\">", escape_html(url));
        page = page.replacen("<main>", &img, 1);
    }
    page
}

/// The frame of every page.
fn layout(title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head>\
         <body class=\"background-customizable\"><main><h1 class=\"banner-customizable\">{title}</h1>{main}</main></body></html>",
        lang = EN.lang,
        title = escape_html(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_everywhere() {
        let page = FormPage {
            title: "<t>",
            intro: "a & b",
            error: Some("<script>"),
            action: "/login?a=1&b=\"x\"",
            csrf: "c\"",
            hidden: vec![("session", "s<")],
            fields: vec![Field {
                label: "User",
                name: "username",
                kind: "text",
                autocomplete: "username",
                value: "\"><img src=x>",
                required: true,
            }],
            button: ("Go", "go"),
            ..Default::default()
        }
        .render();
        assert!(!page.contains("<script>") && !page.contains("<img") && !page.contains("<t>"));
        assert!(page.contains("action=\"/login?a=1&amp;b=&quot;x&quot;\""));
        assert!(page.contains("<label for=\"field-0\""));
    }
}
