//! Every word the hosted pages show, in one place: a translation is one more [`Text`] value.

/// A page's title and its one line of explanation.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    pub title: &'static str,
    pub detail: &'static str,
}

/// The words of the hosted pages in one language.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// The page's `lang` attribute.
    pub lang: &'static str,
    pub not_found: Message,
    pub server_error: Message,
}

/// English.
pub const EN: Text = Text {
    lang: "en",
    not_found: Message { title: "Page not found", detail: "There is no page at this address." },
    server_error: Message { title: "Something went wrong", detail: "Please try again later." },
};
