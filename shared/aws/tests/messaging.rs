//! `AwsMessenger` against moto's SES and SNS (the same server as the DynamoDB tests:
//! `TESSERA_TEST_DYNAMODB_ENDPOINT`). Sent messages are read back from `/moto-api/data.json`.
//! Without the variable every test prints that it is skipped and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use tessera_aws::messaging::AwsMessenger;
use tessera_core::ports::{Messenger, OutgoingMessage};
use tessera_core::Error;

fn message(channel: &str, destination: &str, subject: Option<&str>, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        pool_id: "us-east-1_test".into(),
        username: "alice".into(),
        channel: channel.into(),
        destination: destination.into(),
        subject: subject.map(Into::into),
        body: body.into(),
        code: Some("123456".into()),
        sent_at: 1_800_000_000,
    }
}

/// A phone number in E.164 form that no other run uses.
fn unique_phone() -> String {
    let digits: String = common::unique_name("x").chars().filter(char::is_ascii_digit).collect();
    let tail = &digits[digits.len() - 7..];
    format!("+1555{tail}")
}

#[tokio::test]
async fn sends_email_and_sms() {
    let Some(ep) = common::endpoint("sends_email_and_sms") else {
        return;
    };
    let ses = common::ses(&ep);
    let id = common::unique_name("m");
    let sender = format!("no-reply@{id}.example.com");
    let pool_sender = format!("pool@{id}.example.com");
    ses.verify_email_identity().email_address(&sender).send().await.unwrap();
    ses.verify_email_identity().email_address(&pool_sender).send().await.unwrap();
    let messenger = AwsMessenger::new(ses, common::sns(&ep), sender.clone());

    let to_default = format!("alice@{id}.example.com");
    let html = "<p>Your code is <b>123456</b></p>";
    messenger.send(None, &message("EMAIL", &to_default, None, html)).await.unwrap();
    let to_pool = format!("bob@{id}.example.com");
    messenger
        .send(Some(&pool_sender), &message("EMAIL", &to_pool, Some("Welcome"), "Code 654321"))
        .await
        .unwrap();
    let phone = unique_phone();
    messenger.send(None, &message("SMS", &phone, None, "Your code is 777888")).await.unwrap();

    let started = std::time::Instant::now();
    let data: Value = serde_json::from_str(&common::http_get(&ep, "/moto-api/data.json").await).unwrap();
    println!("read data.json in {:?}", started.elapsed());
    let mails = data["ses"]["Message"].as_array().unwrap();
    let find_mail = |to: &str| {
        mails
            .iter()
            .find(|m| m["destinations"]["ToAddresses"].as_array().is_some_and(|a| a.iter().any(|x| x == to)))
            .unwrap_or_else(|| panic!("no mail to {to}"))
    };
    let m = find_mail(&to_default);
    assert_eq!(m["source"], sender.as_str());
    assert_eq!(m["subject"], "Your verification code");
    assert_eq!(m["body"], html, "moto keeps the HTML part");
    let m = find_mail(&to_pool);
    assert_eq!(m["source"], pool_sender.as_str());
    assert_eq!(m["subject"], "Welcome");
    assert_eq!(m["body"], "Code 654321");

    let sms = data["sns"]["SMS"].as_array().unwrap();
    let s = sms.iter().find(|s| s["phone_number"] == phone.as_str()).expect("the SMS");
    assert_eq!(s["message"], "Your code is 777888");
}

#[tokio::test]
async fn failures_are_code_delivery_failures_without_the_body() {
    let Some(ep) = common::endpoint("failures_are_code_delivery_failures_without_the_body") else {
        return;
    };
    let id = common::unique_name("u");
    // Never verified: SES rejects it, as in AWS.
    let messenger = AwsMessenger::new(common::ses(&ep), common::sns(&ep), format!("nobody@{id}.example.com"));
    let secret = "Your code is 424242";
    let checks = [
        message("EMAIL", &format!("x@{id}.example.com"), None, secret),
        message("SMS", "not-a-phone-number", None, secret),
        message("FAX", "+15550000000", None, secret),
    ];
    for msg in checks {
        match messenger.send(None, &msg).await {
            Err(Error::CodeDeliveryFailureException(m)) => {
                assert!(!m.contains("424242"), "{m}");
                assert!(!m.contains(&msg.destination), "{m}");
                println!("{}: {m}", msg.channel);
            }
            other => panic!("{}: expected CodeDeliveryFailureException, got {other:?}", msg.channel),
        }
    }
}
