//! [`Messenger`] over SES (email, API v1 `SendEmail`) and SNS (SMS, `Publish` to a phone number).
//!
//! Message bodies carry verification codes, so neither the body nor the code ever appears in a
//! log line or an error message; destinations (personal data) are not logged either.

use async_trait::async_trait;
use aws_sdk_ses::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use aws_sdk_sns::types::MessageAttributeValue;
use tessera_core::ports::{Messenger, OutgoingMessage};
use tessera_core::{Error, Result};

/// Subject of an email whose message has none (Cognito's default).
pub const DEFAULT_SUBJECT: &str = "Your verification code";

/// Delivers Cognito messages: "EMAIL" through SES, "SMS" through SNS.
#[derive(Debug, Clone)]
pub struct AwsMessenger {
    ses: aws_sdk_ses::Client,
    sns: aws_sdk_sns::Client,
    default_from: String,
}

impl AwsMessenger {
    /// `default_from` is the sender for pools that configure none; SES must have it (or its
    /// domain) verified.
    pub fn new(ses: aws_sdk_ses::Client, sns: aws_sdk_sns::Client, default_from: impl Into<String>) -> Self {
        Self { ses, sns, default_from: default_from.into() }
    }

    async fn send_email(&self, from: &str, msg: &OutgoingMessage) -> Result<()> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| Error::internal(format!("SES content: {e}")))
        };
        let subject = msg.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
        let message = Message::builder()
            .subject(content(subject)?)
            .body(Body::builder().html(content(&msg.body)?).text(content(&html_to_text(&msg.body))?).build())
            .build();
        let res = self
            .ses
            .send_email()
            .source(from)
            .destination(Destination::builder().to_addresses(&msg.destination).build())
            .message(message)
            .send()
            .await;
        match res {
            Ok(_) => {
                tracing::info!(pool_id = %msg.pool_id, channel = "EMAIL", "message sent");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(
                    pool_id = %msg.pool_id,
                    error = %DisplayErrorContext(&e),
                    "SES SendEmail failed"
                );
                Err(Error::CodeDeliveryFailureException(format!(
                    "Unable to deliver the message by email ({}).",
                    e.code().unwrap_or("delivery error")
                )))
            }
        }
    }

    async fn send_sms(&self, msg: &OutgoingMessage) -> Result<()> {
        let sms_type = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| Error::internal(format!("SNS message attribute: {e}")))?;
        let res = self
            .sns
            .publish()
            .phone_number(&msg.destination)
            .message(&msg.body)
            .message_attributes("AWS.SNS.SMS.SMSType", sms_type)
            .send()
            .await;
        match res {
            Ok(_) => {
                tracing::info!(pool_id = %msg.pool_id, channel = "SMS", "message sent");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(
                    pool_id = %msg.pool_id,
                    error = %aws_sdk_sns::error::DisplayErrorContext(&e),
                    "SNS Publish failed"
                );
                Err(Error::CodeDeliveryFailureException(format!(
                    "Unable to deliver the message by SMS ({}).",
                    aws_sdk_sns::error::ProvideErrorMetadata::code(&e).unwrap_or("delivery error")
                )))
            }
        }
    }
}

#[async_trait]
impl Messenger for AwsMessenger {
    async fn send(&self, from: Option<&str>, msg: &OutgoingMessage) -> Result<()> {
        match msg.channel.as_str() {
            "EMAIL" => self.send_email(from.unwrap_or(&self.default_from), msg).await,
            "SMS" => self.send_sms(msg).await,
            other => {
                Err(Error::CodeDeliveryFailureException(format!("Unsupported delivery medium {other:?}.")))
            }
        }
    }
}

/// A plain-text rendering of an HTML-capable message for the email's text part: line-breaking
/// tags become newlines, other tags are dropped, and the common entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            // A lone '<' is text.
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + len].trim().to_ascii_lowercase();
        let name = tag.trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next();
        if matches!(name, Some("br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3"))
            && (name == Some("br") || tag.starts_with('/'))
        {
            out.push('\n');
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#123;", "{")
        .replace("&#125;", "}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_part_from_html() {
        assert_eq!(html_to_text("Your code is 123456"), "Your code is 123456");
        assert_eq!(
            html_to_text("<p>Hello,</p><p>code: <b>123</b><br/>bye &amp; thanks</p>"),
            "Hello,\ncode: 123\nbye & thanks\n"
        );
        assert_eq!(html_to_text("a < b"), "a < b");
        assert_eq!(html_to_text("1 &lt; 2<BR>x"), "1 < 2\nx");
    }
}
