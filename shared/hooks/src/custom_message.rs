//! The custom message hook (every `CustomMessage_*` source): a branded HTML email, its subject
//! and a plain SMS per trigger source, from templates, in the user's language.
//!
//! # Templates
//! One file per source and part: `<source>.subject.txt`, `<source>.email.html`,
//! `<source>.sms.txt`, where `<source>` is the trigger source in kebab case (`sign-up`,
//! `admin-create-user`, `resend-code`, `forgot-password`, `update-user-attribute`,
//! `verify-user-attribute`, `authentication`); plus `layout.html`, the email shell the body is
//! poured into at `{{body}}`. Per-locale variants live in a subdirectory named after the locale
//! (`fr/`, `fr-CA/`). For a user whose `locale` attribute is `fr-CA` each file is looked up in
//! `fr-ca/`, then `fr/`, then the top level; a part with no template anywhere is answered
//! `null`, so Cognito uses the pool's own message for it.
//!
//! With `TESSERA_CUSTOM_MESSAGE_TEMPLATES` unset the built-in set (`shared/hooks/templates`,
//! English and French) is used; a configured directory replaces it entirely (copy the built-in
//! set as a starting point). All templates are read and checked once, at start-up.
//!
//! # Placeholders
//! - `{{code}}`: the request's `codeParameter` (`{####}`), verbatim; Cognito puts the code (or
//!   the temporary password) there afterwards. Required in every email body and SMS.
//! - `{{username}}`: the request's `usernameParameter` verbatim when Cognito sends one (only
//!   `CustomMessage_AdminCreateUser`, where it is required), otherwise the event's `userName`.
//! - `{{brand}}`: `TESSERA_CUSTOM_MESSAGE_BRAND` (default `Tessera`).
//! - `{{attr:NAME}}` / `{{attr:NAME|fallback}}`: a user attribute (`{{attr:given_name|there}}`).
//! - `{{body}}`: the rendered body, in `layout.html` only.
//!
//! Inserted values (attributes, username, brand) are HTML-escaped in the email, braces included,
//! so a user cannot smuggle a placeholder in; in the subject and SMS they are inserted as text
//! with any copy of the code or username placeholder removed (and line breaks in the subject
//! turned into spaces). The subject may not contain `{{code}}` or `{{username}}`: Cognito
//! substitutes them only in the messages.
//!
//! # Limits
//! Email body 20,000 characters, subject 140, SMS 140 (as rendered, placeholders counted as
//! sent). A part over its limit, or empty, is not truncated: it is answered `null` (Cognito falls
//! back to the pool's template for that part) and a warning is logged.

use crate::config::{ConfigError, Vars};
use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsCustomMessage, CognitoEventUserPoolsCustomMessageResponse,
    CognitoEventUserPoolsCustomMessageTriggerSource as Source,
};
use std::collections::HashMap;
use std::path::Path;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_templates.rs"));
}

pub const EMAIL_MAX_CHARS: usize = 20_000;
pub const SUBJECT_MAX_CHARS: usize = 140;
pub const SMS_MAX_CHARS: usize = 140;

/// Cognito's placeholders, used when an event carries none.
const DEFAULT_CODE_PARAMETER: &str = "{####}";

/// The trigger sources and their template names.
pub const SOURCES: [(Source, &str); 7] = [
    (Source::SignUp, "sign-up"),
    (Source::AdminCreateUser, "admin-create-user"),
    (Source::ResendCode, "resend-code"),
    (Source::ForgotPassword, "forgot-password"),
    (Source::UpdateUserAttribute, "update-user-attribute"),
    (Source::VerifyUserAttribute, "verify-user-attribute"),
    (Source::Authentication, "authentication"),
];

const PARTS: [&str; 3] = ["subject.txt", "email.html", "sms.txt"];
const LAYOUT: &str = "layout.html";

fn source_name(source: &Source) -> &'static str {
    SOURCES.iter().find(|(s, _)| s == source).map(|(_, n)| *n).unwrap_or("sign-up")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Text(String),
    Code,
    Username,
    Brand,
    Body,
    Attr { name: String, fallback: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Seg>);

impl Template {
    fn parse(text: &str) -> Result<Template, String> {
        let mut segs = Vec::new();
        let mut rest = text;
        while let Some((before, after)) = rest.split_once("{{") {
            if !before.is_empty() {
                segs.push(Seg::Text(before.to_string()));
            }
            let (inner, after) = after.split_once("}}").ok_or("a `{{` is never closed with `}}`")?;
            let inner = inner.trim();
            segs.push(match inner {
                "code" => Seg::Code,
                "username" => Seg::Username,
                "brand" => Seg::Brand,
                "body" => Seg::Body,
                _ => {
                    let spec = inner
                        .strip_prefix("attr:")
                        .ok_or_else(|| format!("unknown placeholder {{{{{inner}}}}}"))?;
                    let (name, fallback) = match spec.split_once('|') {
                        Some((n, f)) => (n.trim(), Some(f.to_string())),
                        None => (spec.trim(), None),
                    };
                    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || "_:.-".contains(c)) {
                        return Err(format!("{{{{attr:{name}}}}} does not name an attribute"));
                    }
                    Seg::Attr { name: name.to_string(), fallback }
                }
            });
            rest = after;
        }
        if !rest.is_empty() {
            segs.push(Seg::Text(rest.to_string()));
        }
        Ok(Template(segs))
    }

    fn has(&self, seg: &Seg) -> bool {
        self.0.contains(seg)
    }
}

/// Every template, keyed by (lower-case locale or "" for the default, file name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateSet {
    templates: HashMap<(String, String), Template>,
}

fn is_locale(s: &str) -> bool {
    let mut parts = s.split(['-', '_']);
    parts.next().is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()))
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn normalise_locale(s: &str) -> String {
    s.trim().replace('_', "-").to_ascii_lowercase()
}

impl TemplateSet {
    /// The templates built into the binary (`shared/hooks/templates`).
    pub fn builtin() -> Result<TemplateSet, ConfigError> {
        let mut set = TemplateSet::default();
        for (path, text) in builtin::BUILTIN {
            set.add(path, text)?;
        }
        set.check()?;
        Ok(set)
    }

    /// Every template under `dir` (top level and one subdirectory per locale).
    pub fn load_dir(dir: &Path) -> Result<TemplateSet, ConfigError> {
        let io = |e: std::io::Error, p: &Path| ConfigError(format!("templates: {}: {e}", p.display()));
        let mut set = TemplateSet::default();
        let visit = |dir: &Path,
                     prefix: &str,
                     set: &mut TemplateSet|
         -> Result<Vec<std::path::PathBuf>, ConfigError> {
            let mut subdirs = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(|e| io(e, dir))? {
                let path = entry.map_err(|e| io(e, dir))?.path();
                let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                if path.is_dir() {
                    subdirs.push(path);
                } else if name.ends_with(".html") || name.ends_with(".txt") {
                    let text = std::fs::read_to_string(&path).map_err(|e| io(e, &path))?;
                    set.add(&format!("{prefix}{name}"), &text)?;
                }
            }
            Ok(subdirs)
        };
        let subdirs = visit(dir, "", &mut set)?;
        for sub in subdirs {
            let locale = sub.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if locale.starts_with('.') {
                continue;
            }
            if !is_locale(&locale) {
                return Err(ConfigError(format!(
                    "templates: the directory {} is not named after a locale (like fr or fr-CA)",
                    sub.display()
                )));
            }
            for nested in visit(&sub, &format!("{locale}/"), &mut set)? {
                tracing::warn!(path = %nested.display(), "ignoring a directory nested in a locale directory");
            }
        }
        set.check()?;
        Ok(set)
    }

    /// Adds `[<locale>/]<name>`, refusing unknown names and malformed templates.
    fn add(&mut self, path: &str, text: &str) -> Result<(), ConfigError> {
        let (locale, name) = match path.rsplit_once('/') {
            Some((l, n)) if is_locale(l) => (normalise_locale(l), n),
            Some(_) => return Err(ConfigError(format!("templates: {path}: not in a locale directory"))),
            None => (String::new(), path),
        };
        let known =
            name == LAYOUT || SOURCES.iter().any(|(_, s)| PARTS.iter().any(|p| name == format!("{s}.{p}")));
        if !known {
            return Err(ConfigError(format!(
                "templates: {path} is not a template name (expected layout.html or <source>.<subject.txt|email.html|sms.txt> with <source> one of {})",
                SOURCES.map(|(_, s)| s).join(", ")
            )));
        }
        let template = Template::parse(text).map_err(|e| ConfigError(format!("templates: {path}: {e}")))?;
        self.templates.insert((locale, name.to_string()), template);
        Ok(())
    }

    /// The rules every template must follow, checked once so a bad template fails the start-up,
    /// not a user's sign-up.
    fn check(&self) -> Result<(), ConfigError> {
        for ((locale, name), t) in &self.templates {
            let path = if locale.is_empty() { name.clone() } else { format!("{locale}/{name}") };
            let fail = |why: &str| Err(ConfigError(format!("templates: {path}: {why}")));
            if name == LAYOUT {
                if !t.has(&Seg::Body) {
                    return fail("layout.html must contain {{body}}");
                }
                continue;
            }
            if t.has(&Seg::Body) {
                return fail("{{body}} belongs in layout.html only");
            }
            if name.ends_with(".subject.txt") {
                if t.has(&Seg::Code) || t.has(&Seg::Username) {
                    return fail("a subject may not contain {{code}} or {{username}} (Cognito substitutes them only in the message)");
                }
                continue;
            }
            if !t.has(&Seg::Code) {
                return fail("must contain {{code}} (Cognito puts the code there)");
            }
            if name.starts_with("admin-create-user.") && !t.has(&Seg::Username) {
                return fail("must contain {{username}} (Cognito puts the new user's name there)");
            }
        }
        Ok(())
    }

    /// The template for `name`, by the locale chain (`fr-ca`, `fr`, default).
    fn find(&self, chain: &[String], name: &str) -> Option<&Template> {
        chain.iter().find_map(|l| self.templates.get(&(l.clone(), name.to_string())))
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

/// `fr-CA` → `["fr-ca", "fr", ""]`; no or a malformed locale → `[""]`.
pub fn locale_chain(locale: Option<&str>) -> Vec<String> {
    let mut chain = Vec::new();
    if let Some(l) = locale.filter(|l| is_locale(l.trim())) {
        let mut l = normalise_locale(l);
        loop {
            chain.push(l.clone());
            match l.rsplit_once('-') {
                Some((head, _)) => l = head.to_string(),
                None => break,
            }
        }
    }
    chain.push(String::new());
    chain
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMessageConfig {
    pub templates: TemplateSet,
    pub brand: String,
}

impl CustomMessageConfig {
    /// `TESSERA_CUSTOM_MESSAGE_TEMPLATES` (a directory; default: the built-in set) and
    /// `TESSERA_CUSTOM_MESSAGE_BRAND` (default `Tessera`).
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let templates = match vars.get("TESSERA_CUSTOM_MESSAGE_TEMPLATES") {
            Some(dir) => TemplateSet::load_dir(Path::new(&dir))?,
            None => TemplateSet::builtin()?,
        };
        Ok(CustomMessageConfig {
            templates,
            brand: vars.get("TESSERA_CUSTOM_MESSAGE_BRAND").unwrap_or_else(|| "Tessera".to_string()),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Html,
    Subject,
    Sms,
}

pub use tessera_core::html::escape_html;

struct Ctx<'a> {
    code: &'a str,
    username_parameter: Option<&'a str>,
    user_name: &'a str,
    brand: &'a str,
    attributes: &'a HashMap<String, serde_json::Value>,
}

impl Ctx<'_> {
    /// A value from outside the template, made safe for where it goes.
    fn value(&self, v: &str, mode: Mode) -> String {
        match mode {
            Mode::Html => escape_html(v),
            Mode::Subject | Mode::Sms => {
                let mut v = v.replace(self.code, "");
                if let Some(u) = self.username_parameter.filter(|u| !u.is_empty()) {
                    v = v.replace(u, "");
                }
                if mode == Mode::Subject {
                    v = v.replace(['\r', '\n'], " ");
                }
                v
            }
        }
    }

    fn attribute(&self, name: &str) -> Option<String> {
        match self.attributes.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
        .filter(|s| !s.is_empty())
    }

    fn render(&self, t: &Template, mode: Mode, body: Option<&str>) -> String {
        let mut out = String::new();
        for seg in &t.0 {
            match seg {
                Seg::Text(s) => out.push_str(s),
                Seg::Code => out.push_str(self.code),
                Seg::Username => match self.username_parameter {
                    Some(u) => out.push_str(u),
                    None => out.push_str(&self.value(self.user_name, mode)),
                },
                Seg::Brand => out.push_str(&self.value(self.brand, mode)),
                Seg::Body => out.push_str(body.unwrap_or_default().trim()),
                Seg::Attr { name, fallback } => match (self.attribute(name), fallback) {
                    (Some(v), _) => out.push_str(&self.value(&v, mode)),
                    (None, Some(f)) => out.push_str(f),
                    (None, None) => {}
                },
            }
        }
        out
    }
}

/// A rendered part, or None (with a warning) when it is empty or over its limit.
fn within(source: &str, part: &str, text: String, max: usize) -> Option<String> {
    let len = text.chars().count();
    if text.trim().is_empty() {
        tracing::warn!(
            source,
            part,
            "the rendered message is empty; answering null so the pool's template is used"
        );
        return None;
    }
    if len > max {
        tracing::warn!(
            source,
            part,
            len,
            max,
            "the rendered message is over Cognito's limit; answering null so the pool's template is used"
        );
        return None;
    }
    Some(text)
}

/// The response for an event: each part rendered from its template, or None.
pub fn render(
    cfg: &CustomMessageConfig,
    event: &CognitoEventUserPoolsCustomMessage,
) -> CognitoEventUserPoolsCustomMessageResponse {
    let header = &event.cognito_event_user_pools_header;
    let source = source_name(&header.trigger_source.clone().unwrap_or_default());
    let request = &event.request;
    let ctx = Ctx {
        code: request.code_parameter.as_deref().filter(|c| !c.is_empty()).unwrap_or(DEFAULT_CODE_PARAMETER),
        username_parameter: request.username_parameter.as_deref().filter(|u| !u.is_empty()),
        user_name: header.user_name.as_deref().unwrap_or_default(),
        brand: &cfg.brand,
        attributes: &request.user_attributes,
    };
    let locale = ctx.attribute("locale");
    let chain = locale_chain(locale.as_deref());
    let set = &cfg.templates;
    let part = |name: &str| set.find(&chain, &format!("{source}.{name}"));

    let mut response = CognitoEventUserPoolsCustomMessageResponse::default();
    response.email_subject = part("subject.txt").and_then(|t| {
        within(
            source,
            "emailSubject",
            ctx.render(t, Mode::Subject, None).trim().to_string(),
            SUBJECT_MAX_CHARS,
        )
    });
    response.email_message = part("email.html").and_then(|t| {
        let body = ctx.render(t, Mode::Html, None);
        let html = match set.find(&chain, LAYOUT) {
            Some(layout) => ctx.render(layout, Mode::Html, Some(&body)),
            None => body,
        };
        within(source, "emailMessage", html, EMAIL_MAX_CHARS)
    });
    response.sms_message = part("sms.txt").and_then(|t| {
        within(source, "smsMessage", ctx.render(t, Mode::Sms, None).trim().to_string(), SMS_MAX_CHARS)
    });
    response
}

/// The Lambda handler body: the event with `response` filled in.
pub fn handle(
    cfg: &CustomMessageConfig,
    mut event: CognitoEventUserPoolsCustomMessage,
) -> CognitoEventUserPoolsCustomMessage {
    event.response = render(cfg, &event);
    tracing::info!(
        trigger_source = ?event.cognito_event_user_pools_header.trigger_source,
        email = event.response.email_message.is_some(),
        subject = event.response.email_subject.is_some(),
        sms = event.response.sms_message.is_some(),
        "message rendered"
    );
    event
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::vars_map;
    use crate::lambda::custom_message_event;
    use serde_json::{json, Value};
    use std::path::PathBuf;

    fn sample(name: &str) -> Value {
        let text = match name {
            "sign-up" => include_str!("../../../events/custom-message/sign-up.json"),
            "sign-up-fr-ca" => include_str!("../../../events/custom-message/sign-up-fr-ca.json"),
            "admin-create-user" => include_str!("../../../events/custom-message/admin-create-user.json"),
            "resend-code" => include_str!("../../../events/custom-message/resend-code.json"),
            "forgot-password" => include_str!("../../../events/custom-message/forgot-password.json"),
            "update-user-attribute" => {
                include_str!("../../../events/custom-message/update-user-attribute.json")
            }
            "verify-user-attribute" => {
                include_str!("../../../events/custom-message/verify-user-attribute.json")
            }
            "authentication" => include_str!("../../../events/custom-message/authentication.json"),
            _ => panic!("no sample {name}"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn builtin_cfg() -> CustomMessageConfig {
        let vars = vars_map(&[("TESSERA_CUSTOM_MESSAGE_BRAND", "Acme & Co")]);
        let cfg = CustomMessageConfig::from_vars(&Vars::map(&vars)).unwrap();
        cfg
    }

    fn response(cfg: &CustomMessageConfig, event: Value) -> CognitoEventUserPoolsCustomMessageResponse {
        custom_message_event(cfg, event).unwrap().response
    }

    /// A scratch template directory, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str, files: &[(&str, &str)]) -> Dir {
            let dir = std::env::temp_dir().join(format!("tessera-hooks-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for (path, text) in files {
                let p = dir.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn cfg(&self) -> Result<CustomMessageConfig, ConfigError> {
            let vars = vars_map(&[("TESSERA_CUSTOM_MESSAGE_TEMPLATES", self.0.to_str().unwrap())]);
            let cfg = CustomMessageConfig::from_vars(&Vars::map(&vars));
            cfg
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn builtin_templates_cover_every_source_with_placeholders_within_limits() {
        let cfg = builtin_cfg();
        assert_eq!(cfg.templates.len(), 2 * (1 + 3 * SOURCES.len()));
        for (source, name) in SOURCES {
            for locale in [None, Some("fr")] {
                let mut e = sample("sign-up");
                e["triggerSource"] = serde_json::to_value(&source).unwrap();
                if let Some(l) = locale {
                    e["request"]["userAttributes"]["locale"] = json!(l);
                }
                if source == Source::AdminCreateUser {
                    e["request"]["usernameParameter"] = json!("{username}");
                }
                let r = response(&cfg, e);
                let (subject, email, sms) =
                    (r.email_subject.unwrap(), r.email_message.unwrap(), r.sms_message.unwrap());
                assert!(email.contains("{####}") && sms.contains("{####}"), "{name} {locale:?}");
                assert!(!subject.contains("{####}"), "{name}");
                if source == Source::AdminCreateUser {
                    assert!(email.contains("{username}") && sms.contains("{username}"), "{name}");
                }
                assert!(email.contains("Acme &amp; Co") && subject.contains("Acme & Co"), "{name}");
                assert!(email.starts_with("<!DOCTYPE html>"), "{name}: the layout wraps the body");
                assert!(email.chars().count() <= EMAIL_MAX_CHARS);
                assert!(subject.chars().count() <= SUBJECT_MAX_CHARS);
                assert!(sms.chars().count() <= SMS_MAX_CHARS, "{name} {locale:?}: {sms}");
            }
        }
    }

    #[test]
    fn admin_create_user_sample_renders_as_expected() {
        let cfg = CustomMessageConfig::from_vars(&Vars::map(&vars_map(&[]))).unwrap();
        let out =
            serde_json::to_value(custom_message_event(&cfg, sample("admin-create-user")).unwrap()).unwrap();
        let expected: Value = serde_json::from_str(include_str!(
            "../../../events/custom-message/admin-create-user.expected.json"
        ))
        .unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn every_sample_gets_its_own_message() {
        let cfg = builtin_cfg();
        let subjects = [
            ("sign-up", "Confirm your Acme & Co account"),
            ("resend-code", "Your new Acme & Co confirmation code"),
            ("admin-create-user", "Your Acme & Co account is ready"),
            ("forgot-password", "Reset your Acme & Co password"),
            ("update-user-attribute", "Confirm your new Acme & Co contact details"),
            ("verify-user-attribute", "Verify your Acme & Co contact details"),
            ("authentication", "Your Acme & Co sign-in code"),
        ];
        for (name, subject) in subjects {
            let input = sample(name);
            let out = custom_message_event(&cfg, input.clone()).unwrap();
            assert_eq!(out.response.email_subject.as_deref(), Some(subject), "{name}");
            // The request and header go back as they came.
            let v = serde_json::to_value(&out).unwrap();
            for field in ["version", "triggerSource", "region", "userPoolId", "userName", "callerContext"] {
                assert_eq!(v[field], input[field], "{name} {field}");
            }
            assert_eq!(v["request"]["codeParameter"], input["request"]["codeParameter"]);
        }
        let admin = response(&cfg, sample("admin-create-user"));
        let email = admin.email_message.unwrap();
        assert!(email.contains(
            "User name: <strong>{username}</strong><br>Temporary password: <strong>{####}</strong>"
        ));
        assert_eq!(
            admin.sms_message.as_deref(),
            Some("Acme & Co: your user name is {username} and your temporary password is {####}")
        );
        let auth = response(&cfg, sample("authentication"));
        assert_eq!(auth.sms_message.as_deref(), Some("{####} is your Acme & Co sign-in code"));
    }

    #[test]
    fn locale_fr_ca_falls_back_to_fr_and_escapes_attributes() {
        let r = response(&builtin_cfg(), sample("sign-up-fr-ca"));
        assert_eq!(r.email_subject.as_deref(), Some("Confirmez votre compte Acme & Co"));
        let email = r.email_message.unwrap();
        assert!(email.contains("<html lang=\"fr\">"));
        assert!(email.contains("Bonjour Amélie &lt;b&gt;&amp;&lt;/b&gt;,"), "{email}");
        assert!(!email.contains("<b>&</b>"));
        assert_eq!(r.sms_message.as_deref(), Some("Votre code de confirmation Acme & Co : {####}"));
        // No locale, an unknown one, or a malformed one: the default (English) set.
        for locale in [None, Some("de-DE"), Some("../fr"), Some("")] {
            let mut e = sample("sign-up");
            if let Some(l) = locale {
                e["request"]["userAttributes"]["locale"] = json!(l);
            }
            let r = response(&builtin_cfg(), e);
            assert_eq!(r.email_subject.as_deref(), Some("Confirm your Acme & Co account"), "{locale:?}");
            assert!(r.email_message.unwrap().contains("Hello Jane,"));
        }
        // Underscores and case are accepted.
        let mut e = sample("sign-up");
        e["request"]["userAttributes"]["locale"] = json!("FR_be");
        assert!(response(&builtin_cfg(), e).email_subject.unwrap().starts_with("Confirmez"));
    }

    #[test]
    fn locale_chain_goes_from_specific_to_default() {
        assert_eq!(locale_chain(Some("fr-CA")), ["fr-ca", "fr", ""]);
        assert_eq!(locale_chain(Some("zh_Hant_TW")), ["zh-hant-tw", "zh-hant", "zh", ""]);
        assert_eq!(locale_chain(Some("../etc")), [""]);
        assert_eq!(locale_chain(None), [""]);
    }

    #[test]
    fn values_cannot_form_placeholders_and_placeholders_are_never_altered() {
        let cfg = builtin_cfg();
        let mut e = sample("sign-up");
        e["request"]["userAttributes"]["given_name"] = json!("{####} {{code}}");
        let r = response(&cfg, e);
        let email = r.email_message.unwrap();
        assert!(email.contains("Hello &#123;####&#125; &#123;&#123;code&#125;&#125;,"));
        assert_eq!(email.matches("{####}").count(), 1);
        // A custom code placeholder is used as given, in HTML too.
        let mut e = sample("sign-up");
        e["request"]["codeParameter"] = json!("<<CODE & stuff>>");
        let r = response(&cfg, e);
        assert!(r.email_message.unwrap().contains("<<CODE & stuff>>"));
        assert!(r.sms_message.unwrap().ends_with("<<CODE & stuff>>"));
    }

    #[test]
    fn a_directory_replaces_the_builtins_and_missing_parts_are_null() {
        let dir = Dir::new(
            "dir",
            &[
                (
                    "sign-up.email.html",
                    "<p>Hi {{attr:given_name|friend}}, code {{code}} for {{username}}</p>",
                ),
                ("sign-up.subject.txt", "Welcome {{attr:given_name}}"),
                ("fr/sign-up.subject.txt", "Bienvenue"),
                ("fr-CA/sign-up.sms.txt", "Code québécois {{code}} {{attr:given_name}}"),
                ("README.md", "not a template"),
            ],
        );
        let cfg = dir.cfg().unwrap();
        assert_eq!(cfg.templates.len(), 4);
        let r = response(&cfg, sample("sign-up"));
        assert_eq!(r.email_subject.as_deref(), Some("Welcome Jane"));
        assert_eq!(
            r.email_message.as_deref(),
            Some("<p>Hi Jane, code {####} for 0b8f5c3e-1d2a-4c5b-9e6f-7a8b9c0d1e2f</p>"),
            "no layout: the body alone; no usernameParameter: the userName"
        );
        assert_eq!(r.sms_message, None, "no SMS template: Cognito uses the pool's");
        let r = response(&cfg, sample("sign-up-fr-ca"));
        assert_eq!(r.email_subject.as_deref(), Some("Bienvenue"));
        assert_eq!(
            r.sms_message.as_deref(),
            Some("Code québécois {####} Amélie <b>&</b>"),
            "SMS text is not escaped"
        );
        assert!(r.email_message.unwrap().contains("Hi Amélie &lt;b&gt;"));
        let r = response(&cfg, sample("forgot-password"));
        assert_eq!((r.email_subject, r.email_message, r.sms_message), (None, None, None));
        let mut e = sample("sign-up");
        e["request"]["userAttributes"].as_object_mut().unwrap().remove("given_name");
        assert!(response(&cfg, e).email_message.unwrap().starts_with("<p>Hi friend,"));
    }

    #[test]
    fn over_the_limit_or_empty_is_null_not_truncated() {
        let long_sms = format!("{} {{{{code}}}}", "x".repeat(134));
        let long_subject = "s".repeat(141);
        let long_email = format!("{{{{code}}}}{}", "é".repeat(EMAIL_MAX_CHARS - 6 + 1));
        let fits_email = format!("{{{{code}}}}{}", "é".repeat(EMAIL_MAX_CHARS - 6));
        let dir = Dir::new(
            "limits",
            &[
                ("sign-up.sms.txt", long_sms.as_str()),
                ("sign-up.subject.txt", long_subject.as_str()),
                ("sign-up.email.html", long_email.as_str()),
                ("resend-code.email.html", fits_email.as_str()),
                ("resend-code.subject.txt", "   "),
                ("resend-code.sms.txt", "{{attr:given_name|a}}{{code}}"),
            ],
        );
        let cfg = dir.cfg().unwrap();
        let r = response(&cfg, sample("sign-up"));
        assert_eq!((r.email_subject, r.email_message, r.sms_message), (None, None, None));
        let r = response(&cfg, sample("resend-code"));
        assert_eq!(r.email_message.unwrap().chars().count(), EMAIL_MAX_CHARS);
        assert_eq!(r.email_subject, None, "blank");
        // 140 exactly fits.
        let mut e = sample("resend-code");
        e["request"]["userAttributes"]["given_name"] = json!("n".repeat(134));
        assert_eq!(response(&cfg, e.clone()).sms_message.unwrap().chars().count(), 140);
        e["request"]["userAttributes"]["given_name"] = json!("n".repeat(135));
        assert_eq!(response(&cfg, e).sms_message, None);
    }

    #[test]
    fn bad_templates_stop_the_start_up() {
        let cases: &[(&str, &str, &str)] = &[
            ("sign-up.email.html", "no code here", "must contain {{code}}"),
            ("sign-up.sms.txt", "{{code}} {{nope}}", "unknown placeholder {{nope}}"),
            ("sign-up.sms.txt", "{{code}} {{attr:}}", "does not name an attribute"),
            ("sign-up.sms.txt", "{{code", "never closed"),
            ("sign-up.subject.txt", "Your code {{code}}", "a subject may not contain"),
            ("admin-create-user.sms.txt", "{{code}}", "must contain {{username}}"),
            ("layout.html", "<html></html>", "must contain {{body}}"),
            ("sign-up.email.html", "{{code}} {{body}}", "belongs in layout.html only"),
            ("signup.email.html", "{{code}}", "is not a template name"),
            ("fr/sign-up.email.txt", "{{code}}", "is not a template name"),
            ("not_a_locale!/sign-up.sms.txt", "{{code}}", "is not named after a locale"),
        ];
        for (i, (path, text, why)) in cases.iter().enumerate() {
            let dir = Dir::new(&format!("bad{i}"), &[(path, text)]);
            let err = dir.cfg().unwrap_err();
            assert!(err.0.contains(why), "{path}: {err}");
        }
        let missing = vars_map(&[("TESSERA_CUSTOM_MESSAGE_TEMPLATES", "/nonexistent/tessera-templates")]);
        assert!(CustomMessageConfig::from_vars(&Vars::map(&missing)).is_err());
    }

    #[test]
    fn escape_html_escapes_markup_quotes_and_braces() {
        assert_eq!(
            escape_html(r#"<a href="x">'{&}'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&#123;&amp;&#125;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn lenient_attribute_values() {
        let mut e = sample("sign-up");
        e["request"]["userAttributes"]["email_verified"] = json!(false);
        e["request"]["userAttributes"]["given_name"] = json!(42);
        e["response"] = Value::Null;
        let r = response(&builtin_cfg(), e);
        assert!(r.email_message.unwrap().contains("Hello 42,"));
    }
}
