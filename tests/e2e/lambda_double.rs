//! A Lambda double on loopback: serves the Invoke API (`POST
//! /2015-03-31/functions/{name}/invocations`) as AWS Lambda does, records every event and
//! answers as the test says. Every test server invokes its pools' triggers here.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the double answers one invocation.
pub enum Reply {
    /// The event back with `response` set to this (what a handler that fills the response
    /// returns).
    Respond(Value),
    /// This payload as the function's whole result.
    Payload(Vec<u8>),
    /// A function error (`X-Amz-Function-Error: Unhandled`, `{"errorMessage", "errorType"}`).
    Fail(String),
    /// A Lambda service error: status and error type (`TooManyRequestsException`, …).
    Status(u16, &'static str),
    /// Answers after this long (the event back, unchanged).
    Slow(Duration),
}

type Handler = Arc<dyn Fn(&str, &Value) -> Reply + Send + Sync>;

#[derive(Clone, Debug)]
pub struct Call {
    /// The function name (the last part of the ARN the pool configured).
    pub function: String,
    pub event: Value,
}

#[derive(Clone)]
struct Shared {
    calls: Arc<Mutex<Vec<Call>>>,
    handler: Arc<Mutex<Handler>>,
}

pub struct LambdaDouble {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LambdaDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The ARN a test configures for a function the double serves.
pub fn arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn invoke(State(shared): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let function = decode(&name).rsplit(':').next().unwrap_or_default().to_string();
    let event: Value = serde_json::from_slice(&body).expect("the service sends JSON events");
    shared.calls.lock().unwrap().push(Call { function: function.clone(), event: event.clone() });
    let handler = shared.handler.lock().unwrap().clone();
    let json = |status: StatusCode, v: Vec<u8>| {
        let mut r = (status, v).into_response();
        r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        r
    };
    match handler(&function, &event) {
        Reply::Respond(response) => {
            let mut out = event;
            out["response"] = response;
            json(StatusCode::OK, serde_json::to_vec(&out).unwrap())
        }
        Reply::Payload(bytes) => json(StatusCode::OK, bytes),
        Reply::Fail(message) => {
            let mut r = json(
                StatusCode::OK,
                serde_json::to_vec(&serde_json::json!({"errorMessage": message, "errorType": "Error"}))
                    .unwrap(),
            );
            r.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            r
        }
        Reply::Status(status, kind) => {
            let mut headers = HeaderMap::new();
            headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
            let body = serde_json::to_vec(&serde_json::json!({"Type": "Service", "message": kind})).unwrap();
            (StatusCode::from_u16(status).unwrap(), headers, body).into_response()
        }
        Reply::Slow(pause) => {
            tokio::time::sleep(pause).await;
            json(StatusCode::OK, serde_json::to_vec(&event).unwrap())
        }
    }
}

impl LambdaDouble {
    pub async fn start() -> LambdaDouble {
        let shared = Shared {
            calls: Arc::new(Mutex::new(Vec::new())),
            handler: Arc::new(Mutex::new(Arc::new(|_: &str, e: &Value| {
                Reply::Respond(e.get("response").cloned().unwrap_or(Value::Null))
            }))),
        };
        let app = axum::Router::new()
            .route("/2015-03-31/functions/{name}/invocations", axum::routing::post(invoke))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the Lambda double");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LambdaDouble { url, shared, task }
    }

    /// How every later invocation is answered (by function name and event).
    pub fn on(&self, handler: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static) {
        *self.shared.handler.lock().unwrap() = Arc::new(handler);
    }

    /// Every event received so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The events a function received, oldest first.
    pub fn events(&self, function: &str) -> Vec<Value> {
        self.calls().into_iter().filter(|c| c.function == function).map(|c| c.event).collect()
    }

    /// The trigger sources received so far, in order.
    pub fn sources(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c.event["triggerSource"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn clear(&self) {
        self.shared.calls.lock().unwrap().clear();
    }
}
