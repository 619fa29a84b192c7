//! The pre sign-up hook (`PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`,
//! `PreSignUp_ExternalProvider`): accepts or refuses a new user by the domain of their `email`
//! attribute.
//!
//! Order of the rules, first match wins:
//! 1. no `email` attribute: refused when an email is required (`..._REQUIRE_EMAIL`, or an allow
//!    list is set), otherwise accepted with no flags;
//! 2. a malformed address: refused;
//! 3. the domain is on the deny list: refused;
//! 4. the domain is disposable (the built-in list plus the extra list): refused, unless
//!    disposable checks are off;
//! 5. an allow list is set and the domain is on neither it nor the trusted list: refused;
//! 6. the domain is trusted: accepted, and `autoConfirmUser` only when
//!    `..._TRUSTED_AUTO_CONFIRM` is on (off by default).
//!
//! A domain match never sets `autoVerifyEmail`: the event carries the address the caller
//! *claims*, so `SignUp(eve, email=ceo@corp.com)` would otherwise give eve a verified corporate
//! address and take the email alias from its real holder. Auto-confirm is off by default for the
//! same reason (an account nobody proved to own, under a trusted domain), and logged as unsafe at
//! start when on.
//!
//! A list entry matches the domain itself and every subdomain (`example.com` covers
//! `eu.example.com`), case-insensitively. For `PreSignUp_AdminCreateUser` Cognito ignores the
//! response flags (the user goes through FORCE_CHANGE_PASSWORD), so the hook leaves them false
//! there; the lists still refuse.

use crate::config::{ConfigError, Vars};
use crate::Rejection;
use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPreSignup, CognitoEventUserPoolsPreSignupResponse,
    CognitoEventUserPoolsPreSignupTriggerSource as Source,
};

/// Well-known disposable-address providers, refused by default. Extend it with
/// `TESSERA_PRE_SIGNUP_DISPOSABLE_DOMAINS`; this list is deliberately short.
pub const BUILTIN_DISPOSABLE: &[&str] = &[
    "10minutemail.com",
    "burnermail.io",
    "discard.email",
    "dispostable.com",
    "emailondeck.com",
    "fakeinbox.com",
    "getnada.com",
    "guerrillamail.com",
    "guerrillamail.net",
    "mailinator.com",
    "maildrop.cc",
    "mailnesia.com",
    "mintemail.com",
    "mohmal.com",
    "moakt.com",
    "mytemp.email",
    "sharklasers.com",
    "spamgourmet.com",
    "temp-mail.org",
    "tempmail.com",
    "tempr.email",
    "throwawaymail.com",
    "trashmail.com",
    "yopmail.com",
];

/// The `errorType` of every refusal.
pub const REFUSED: &str = "SignUpRefused";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreSignUpConfig {
    /// When non-empty, only these domains (and the trusted ones) may sign up.
    pub allowed_domains: Vec<String>,
    pub denied_domains: Vec<String>,
    /// Refuse the built-in disposable domains and `extra_disposable_domains`.
    pub block_disposable: bool,
    pub extra_disposable_domains: Vec<String>,
    /// Domains admitted even past the allow list.
    pub trusted_domains: Vec<String>,
    /// Confirm trusted-domain sign-ups at once (`autoConfirmUser`). Unsafe: nobody proved they
    /// hold the address. Off by default.
    pub trusted_auto_confirm: bool,
    /// Refuse users without an `email` attribute (implied by a non-empty allow list).
    pub require_email: bool,
}

impl PreSignUpConfig {
    /// `TESSERA_PRE_SIGNUP_ALLOWED_DOMAINS`, `_DENIED_DOMAINS`, `_DISPOSABLE_DOMAINS` (extra),
    /// `_BLOCK_DISPOSABLE` (default true), `_TRUSTED_DOMAINS`, `_TRUSTED_AUTO_CONFIRM` (default
    /// false), `_REQUIRE_EMAIL` (default false). Lists are comma separated.
    ///
    /// `_TRUSTED_VERIFY_EMAIL=true` (an earlier setting) is refused rather than ignored: the hook
    /// no longer verifies by domain, and a deployment that asked for it must hear so.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        if vars.bool(RETIRED_VERIFY_EMAIL, false)? {
            return Err(ConfigError(format!(
                "{RETIRED_VERIFY_EMAIL} is no longer supported: an email domain does not prove that \
                 the user holds the address, so the pre-signup hook never sets autoVerifyEmail. \
                 Remove the variable (or set it to false); addresses are verified by code."
            )));
        }
        let domains = |name: &str| -> Result<Vec<String>, ConfigError> {
            vars.list(name)
                .into_iter()
                .map(|d| {
                    let d = normalise_domain(&d);
                    if is_domain(&d) {
                        Ok(d)
                    } else {
                        Err(ConfigError(format!("{name}: {d:?} is not a domain name")))
                    }
                })
                .collect()
        };
        Ok(PreSignUpConfig {
            allowed_domains: domains("TESSERA_PRE_SIGNUP_ALLOWED_DOMAINS")?,
            denied_domains: domains("TESSERA_PRE_SIGNUP_DENIED_DOMAINS")?,
            block_disposable: vars.bool("TESSERA_PRE_SIGNUP_BLOCK_DISPOSABLE", true)?,
            extra_disposable_domains: domains("TESSERA_PRE_SIGNUP_DISPOSABLE_DOMAINS")?,
            trusted_domains: domains("TESSERA_PRE_SIGNUP_TRUSTED_DOMAINS")?,
            trusted_auto_confirm: vars.bool(AUTO_CONFIRM, false)?,
            require_email: vars.bool("TESSERA_PRE_SIGNUP_REQUIRE_EMAIL", false)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    /// What the function logs as a warning at start: settings that weaken sign-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.trusted_auto_confirm {
            if self.trusted_domains.is_empty() {
                out.push(format!("{AUTO_CONFIRM} is on but no trusted domain is set: it has no effect"));
            } else {
                out.push(format!(
                    "UNSAFE: {AUTO_CONFIRM} is on: sign-ups claiming an address at {} are confirmed \
                     without proof that they hold it (their email stays unverified)",
                    self.trusted_domains.join(", ")
                ));
            }
        }
        out
    }
}

/// Turns on `autoConfirmUser` for trusted domains.
pub const AUTO_CONFIRM: &str = "TESSERA_PRE_SIGNUP_TRUSTED_AUTO_CONFIRM";
/// The retired setting that made a domain match verify the address.
pub const RETIRED_VERIFY_EMAIL: &str = "TESSERA_PRE_SIGNUP_TRUSTED_VERIFY_EMAIL";

fn normalise_domain(d: &str) -> String {
    d.trim().trim_end_matches('.').trim_start_matches('@').to_lowercase()
}

/// A plausible DNS name: dot-separated labels of letters, digits and hyphens (IDNs in their
/// punycode form), or Unicode letters (an address typed with an internationalised domain).
fn is_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `domain` is `entry` or one of its subdomains.
fn matches(domain: &str, entry: &str) -> bool {
    domain == entry || domain.strip_suffix(entry).is_some_and(|rest| rest.ends_with('.'))
}

fn on_list(domain: &str, list: &[String]) -> bool {
    list.iter().any(|e| matches(domain, e))
}

/// The lower-cased domain of an address, or None when it is not a plausible address.
pub fn email_domain(email: &str) -> Option<String> {
    let email = email.trim();
    let (local, domain) = email.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let domain = domain.trim_end_matches('.').to_lowercase();
    is_domain(&domain).then_some(domain)
}

/// The hook: the response to return, or the refusal.
pub fn decide(
    cfg: &PreSignUpConfig,
    event: &CognitoEventUserPoolsPreSignup,
) -> Result<CognitoEventUserPoolsPreSignupResponse, Rejection> {
    let mut response = CognitoEventUserPoolsPreSignupResponse::default();
    let source = event.cognito_event_user_pools_header.trigger_source.clone();
    let email = event.request.user_attributes.get("email").map(|e| e.trim()).filter(|e| !e.is_empty());
    let Some(email) = email else {
        if cfg.require_email || !cfg.allowed_domains.is_empty() {
            return Err(Rejection::new(REFUSED, "An email address is required to sign up"));
        }
        return Ok(response);
    };
    let Some(domain) = email_domain(email) else {
        return Err(Rejection::new(REFUSED, "The email address is not valid"));
    };
    if on_list(&domain, &cfg.denied_domains) {
        return Err(Rejection::new(
            REFUSED,
            format!("Email addresses at {domain} cannot be used to sign up"),
        ));
    }
    if cfg.block_disposable
        && (BUILTIN_DISPOSABLE.iter().any(|e| matches(&domain, e))
            || on_list(&domain, &cfg.extra_disposable_domains))
    {
        return Err(Rejection::new(
            REFUSED,
            "Disposable email addresses cannot be used to sign up; please use a permanent address",
        ));
    }
    let trusted = on_list(&domain, &cfg.trusted_domains);
    if !cfg.allowed_domains.is_empty() && !trusted && !on_list(&domain, &cfg.allowed_domains) {
        return Err(Rejection::new(
            REFUSED,
            format!("Sign-up is limited to approved email domains, and {domain} is not one of them"),
        ));
    }
    // Cognito ignores the flags for AdminCreateUser; leave them false there. A domain never
    // verifies an address (autoVerifyEmail stays false): see the module comment.
    if trusted && cfg.trusted_auto_confirm && source != Some(Source::AdminCreateUser) {
        response.auto_confirm_user = true;
    }
    Ok(response)
}

/// The Lambda handler body: the event with `response` filled in.
pub fn handle(
    cfg: &PreSignUpConfig,
    mut event: CognitoEventUserPoolsPreSignup,
) -> Result<CognitoEventUserPoolsPreSignup, Rejection> {
    let response = decide(cfg, &event)?;
    tracing::info!(
        trigger_source = ?event.cognito_event_user_pools_header.trigger_source,
        auto_confirm = response.auto_confirm_user,
        "sign-up accepted"
    );
    event.response = response;
    Ok(event)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::vars_map;
    use crate::lambda::pre_signup_event;
    use serde_json::{json, Value};

    fn sample(name: &str) -> Value {
        let text = match name {
            "sign-up-trusted" => include_str!("../../../events/pre-signup/sign-up-trusted.json"),
            "sign-up-disposable" => include_str!("../../../events/pre-signup/sign-up-disposable.json"),
            "sign-up-not-allowed" => include_str!("../../../events/pre-signup/sign-up-not-allowed.json"),
            "admin-create-user" => include_str!("../../../events/pre-signup/admin-create-user.json"),
            "external-provider" => include_str!("../../../events/pre-signup/external-provider.json"),
            _ => panic!("no sample {name}"),
        };
        serde_json::from_str(text).unwrap()
    }

    /// The configuration the samples are written for.
    fn cfg() -> PreSignUpConfig {
        let vars = vars_map(&[
            ("TESSERA_PRE_SIGNUP_ALLOWED_DOMAINS", "example.com, partner.example.net"),
            ("TESSERA_PRE_SIGNUP_DENIED_DOMAINS", "banned.example.com"),
            ("TESSERA_PRE_SIGNUP_DISPOSABLE_DOMAINS", "throwaway.test"),
            ("TESSERA_PRE_SIGNUP_TRUSTED_DOMAINS", "staff.example.com,partner.example.net"),
        ]);
        let cfg = PreSignUpConfig::from_vars(&Vars::map(&vars)).unwrap();
        cfg
    }

    fn event_with(source: &str, attrs: Value) -> Value {
        let mut e = sample("sign-up-trusted");
        e["triggerSource"] = json!(source);
        e["request"]["userAttributes"] = attrs;
        e
    }

    fn refusal(cfg: &PreSignUpConfig, email: &str) -> String {
        let e = event_with("PreSignUp_SignUp", json!({ "email": email }));
        pre_signup_event(cfg, e).unwrap_err().message
    }

    #[test]
    fn config_reads_every_variable_and_refuses_nonsense() {
        let c = cfg();
        assert_eq!(c.allowed_domains, ["example.com", "partner.example.net"]);
        assert_eq!(c.denied_domains, ["banned.example.com"]);
        assert_eq!(c.extra_disposable_domains, ["throwaway.test"]);
        assert!(c.block_disposable && !c.trusted_auto_confirm && !c.require_email);
        assert!(c.warnings().is_empty(), "the safe defaults warn of nothing");
        let bad = vars_map(&[("TESSERA_PRE_SIGNUP_DENIED_DOMAINS", "not a domain!")]);
        assert!(PreSignUpConfig::from_vars(&Vars::map(&bad)).is_err());
        let bad = vars_map(&[("TESSERA_PRE_SIGNUP_BLOCK_DISPOSABLE", "maybe")]);
        assert!(PreSignUpConfig::from_vars(&Vars::map(&bad)).is_err());
        let none = PreSignUpConfig::from_vars(&Vars::map(&vars_map(&[]))).unwrap();
        assert!(none.allowed_domains.is_empty() && none.block_disposable);
    }

    /// The sample's trusted sign-up is admitted, and neither confirmed nor verified by default.
    #[test]
    fn trusted_domain_sample_is_admitted_only() {
        let input = sample("sign-up-trusted");
        let out = serde_json::to_value(pre_signup_event(&cfg(), input.clone()).unwrap()).unwrap();
        let expected: Value =
            serde_json::from_str(include_str!("../../../events/pre-signup/sign-up-trusted.expected.json"))
                .unwrap();
        assert_eq!(out, expected);
        // Only the response differs from what came in.
        let mut same = input;
        same["response"] = out["response"].clone();
        assert_eq!(out, same);
    }

    /// Issue 14, finding 2: `SignUp(eve, email=ceo@corp.com)` must not come back with a
    /// verified address, whatever the settings, whatever the source.
    #[test]
    fn a_domain_match_never_verifies() {
        let vars = vars_map(&[("TESSERA_PRE_SIGNUP_TRUSTED_DOMAINS", "corp.com"), (AUTO_CONFIRM, "true")]);
        let c = PreSignUpConfig::from_vars(&Vars::map(&vars)).unwrap();
        for source in ["PreSignUp_SignUp", "PreSignUp_ExternalProvider", "PreSignUp_AdminCreateUser"] {
            for email in ["ceo@corp.com", "CEO@Corp.COM", "ceo@eu.corp.com"] {
                let mut e = event_with(source, json!({ "email": email }));
                // Even an event that arrives with the flags set leaves without them.
                e["response"] =
                    json!({"autoConfirmUser": true, "autoVerifyEmail": true, "autoVerifyPhone": true});
                let out = pre_signup_event(&c, e).unwrap();
                assert!(
                    !out.response.auto_verify_email && !out.response.auto_verify_phone,
                    "{source} {email}"
                );
                assert_eq!(out.response.auto_confirm_user, source != "PreSignUp_AdminCreateUser", "{source}");
            }
        }
    }

    #[test]
    fn auto_confirm_is_off_by_default_and_warned_about_when_on() {
        let trusted = vars_map(&[("TESSERA_PRE_SIGNUP_TRUSTED_DOMAINS", "corp.com")]);
        let c = PreSignUpConfig::from_vars(&Vars::map(&trusted)).unwrap();
        assert!(!c.trusted_auto_confirm);
        let out =
            pre_signup_event(&c, event_with("PreSignUp_SignUp", json!({"email": "a@corp.com"}))).unwrap();
        assert!(!out.response.auto_confirm_user && !out.response.auto_verify_email);
        let on = PreSignUpConfig { trusted_auto_confirm: true, ..c.clone() };
        assert_eq!(
            on.warnings(),
            ["UNSAFE: TESSERA_PRE_SIGNUP_TRUSTED_AUTO_CONFIRM is on: sign-ups claiming an address at corp.com \
              are confirmed without proof that they hold it (their email stays unverified)"]
        );
        let useless = PreSignUpConfig { trusted_auto_confirm: true, ..PreSignUpConfig::default() };
        assert!(useless.warnings()[0].contains("no effect"));
        // Untrusted domains are never confirmed, with the setting on.
        let out =
            pre_signup_event(&on, event_with("PreSignUp_SignUp", json!({"email": "a@other.org"}))).unwrap();
        assert!(!out.response.auto_confirm_user);
    }

    #[test]
    fn the_retired_verify_setting_is_refused_not_ignored() {
        let asked = vars_map(&[(RETIRED_VERIFY_EMAIL, "true")]);
        let err = PreSignUpConfig::from_vars(&Vars::map(&asked)).unwrap_err();
        assert!(err.0.starts_with("TESSERA_PRE_SIGNUP_TRUSTED_VERIFY_EMAIL is no longer supported"), "{err}");
        for off in ["false", "", "0"] {
            let vars = vars_map(&[(RETIRED_VERIFY_EMAIL, off)]);
            assert!(PreSignUpConfig::from_vars(&Vars::map(&vars)).is_ok(), "{off:?}");
        }
        let nonsense = vars_map(&[(AUTO_CONFIRM, "sometimes")]);
        assert!(PreSignUpConfig::from_vars(&Vars::map(&nonsense)).is_err());
    }

    #[test]
    fn disposable_sample_is_refused_with_a_clear_message() {
        let err = pre_signup_event(&cfg(), sample("sign-up-disposable")).unwrap_err();
        assert_eq!(err.kind, REFUSED);
        assert_eq!(
            err.message,
            "Disposable email addresses cannot be used to sign up; please use a permanent address"
        );
        let diag: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diag.error_type, "SignUpRefused");
    }

    #[test]
    fn disposable_lists_builtin_extra_subdomains_and_switch() {
        let c = cfg();
        for email in [
            "a@yopmail.com",
            "a@YOPMAIL.COM",
            "a@eu.mailinator.com",
            "a@throwaway.test",
            "a@x.throwaway.test",
        ] {
            assert!(refusal(&c, email).starts_with("Disposable"), "{email}");
        }
        // Off: the allow list still applies, disposable ones are not singled out.
        let off = PreSignUpConfig { block_disposable: false, allowed_domains: vec![], ..c };
        let ok = pre_signup_event(&off, event_with("PreSignUp_SignUp", json!({"email": "a@yopmail.com"})))
            .unwrap();
        assert!(!ok.response.auto_confirm_user);
        // A look-alike is not a subdomain.
        let ok =
            pre_signup_event(&off, event_with("PreSignUp_SignUp", json!({"email": "a@notmailinator.com"})));
        assert!(ok.is_ok());
    }

    #[test]
    fn allow_list_refuses_other_domains_and_admits_subdomains() {
        let c = cfg();
        assert_eq!(
            pre_signup_event(&c, sample("sign-up-not-allowed")).unwrap_err().message,
            "Sign-up is limited to approved email domains, and elsewhere.org is not one of them"
        );
        for email in ["a@example.com", "a@EU.Example.COM", "a@partner.example.net"] {
            let e = event_with("PreSignUp_SignUp", json!({ "email": email }));
            assert!(pre_signup_event(&c, e).is_ok(), "{email}");
        }
        assert!(refusal(&c, "a@example.com.evil.org").starts_with("Sign-up is limited"));
        assert!(refusal(&c, "a@badexample.com").starts_with("Sign-up is limited"));
    }

    #[test]
    fn deny_list_wins_over_allow_and_trust() {
        let mut c = cfg();
        assert_eq!(
            refusal(&c, "x@banned.example.com"),
            "Email addresses at banned.example.com cannot be used to sign up"
        );
        assert!(refusal(&c, "x@deep.banned.example.com")
            .starts_with("Email addresses at deep.banned.example.com"));
        c.trusted_domains.push("banned.example.com".into());
        assert!(refusal(&c, "x@banned.example.com").starts_with("Email addresses at"));
    }

    #[test]
    fn malformed_or_missing_email() {
        let c = cfg();
        for bad in ["no-at-sign", "@example.com", "a@", "a@localhost", "a b@example.com", "a@exa mple.com"] {
            assert_eq!(refusal(&c, bad), "The email address is not valid", "{bad}");
        }
        // No email: required when an allow list is set, or when configured.
        let e = event_with("PreSignUp_SignUp", json!({"phone_number": "+12065550100"}));
        assert_eq!(
            pre_signup_event(&c, e.clone()).unwrap_err().message,
            "An email address is required to sign up"
        );
        let open = PreSignUpConfig::default();
        let out = pre_signup_event(&open, e.clone()).unwrap();
        assert!(!out.response.auto_confirm_user);
        let strict = PreSignUpConfig { require_email: true, ..PreSignUpConfig::default() };
        assert!(pre_signup_event(&strict, e).is_err());
    }

    #[test]
    fn admin_create_user_sample_is_checked_but_gets_no_flags() {
        let c = PreSignUpConfig { trusted_domains: vec!["example.com".into()], ..cfg() };
        let out = pre_signup_event(&c, sample("admin-create-user")).unwrap();
        assert!(!out.response.auto_confirm_user && !out.response.auto_verify_email);
        let e = event_with("PreSignUp_AdminCreateUser", json!({"email": "x@banned.example.com"}));
        assert!(pre_signup_event(&c, e).is_err());
    }

    #[test]
    fn external_provider_sample_is_trusted() {
        let out = pre_signup_event(&cfg(), sample("external-provider")).unwrap();
        assert!(!out.response.auto_confirm_user && !out.response.auto_verify_email);
        let on = PreSignUpConfig { trusted_auto_confirm: true, ..cfg() };
        let out = pre_signup_event(&on, sample("external-provider")).unwrap();
        assert!(out.response.auto_confirm_user && !out.response.auto_verify_email);
    }

    #[test]
    fn lenient_about_the_incoming_response() {
        let mut e = sample("sign-up-trusted");
        e["response"] = json!({});
        let on = PreSignUpConfig { trusted_auto_confirm: true, ..cfg() };
        assert!(pre_signup_event(&on, e.clone()).unwrap().response.auto_confirm_user);
        e.as_object_mut().unwrap().remove("response");
        assert!(pre_signup_event(&cfg(), e).is_ok());
        let err = pre_signup_event(&cfg(), json!({"triggerSource": "PreSignUp_SignUp"})).unwrap_err();
        assert_eq!(err.kind, "InvalidEvent");
    }
}
