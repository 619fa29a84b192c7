//! One request in, one response out: the front end the Lambda functions and the local server
//! share. Routing (`X-Amz-Target` or `/cognito-idp/{Operation}`), SigV4, model validation,
//! dispatch, error encoding, CORS and the `.well-known` documents.

use crate::dispatch::{COGNITO_IDENTITY, COGNITO_IDP, COGNITO_SYNC, TESSERA};
use crate::error::WireError;
use crate::model::ApiModel;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tessera_core::{CallContext, Principal, Service};

/// The future of one operation's domain function, boxed (the largest, a sign-in's state
/// machine, would otherwise be part of every caller's future).
pub type OperationFuture<'a> = Pin<Box<dyn Future<Output = tessera_core::Result<Value>> + Send + 'a>>;

/// One operation's domain function, named directly. A Lambda function serves a single
/// operation through [`Frontend::handle_operation`], so its binary reaches that function only,
/// never the table in [`crate::dispatch`] and every other operation behind it.
pub type OperationFn = for<'a> fn(&'a Service, &'a CallContext, &'a Value) -> OperationFuture<'a>;

type DispatchFuture<'a> = Pin<Box<dyn Future<Output = Option<tessera_core::Result<Value>>> + Send + 'a>>;

type PageFuture<'a> = Pin<Box<dyn Future<Output = WireResponse> + Send + 'a>>;

/// How a request's operation finds its domain function: the table (the local server), or the
/// one function a Lambda function serves. A trait object, so that the code that handles a
/// request is the same for both and only `handle` refers to the table.
trait Dispatch: Sync {
    fn call<'a>(
        &'a self,
        svc: &'a Service,
        ctx: &'a CallContext,
        service: &'a str,
        op: &'a str,
        input: &'a Value,
    ) -> DispatchFuture<'a>;

    /// Serves a request to a pool's auth domain, if this dispatch serves them: only the local
    /// server's table does, so an operation's function binary never links the auth domain's
    /// pages (the deployed auth domain functions call [`Frontend::handle_auth_domain`]).
    fn auth_domain<'a>(
        &'a self,
        _frontend: &'a Frontend,
        _req: &'a WireRequest,
        _target: crate::auth_domain::Target,
    ) -> Option<PageFuture<'a>> {
        None
    }
}

/// Every operation, by name ([`crate::dispatch::call_service`]).
struct Table;

impl Dispatch for Table {
    fn call<'a>(
        &'a self,
        svc: &'a Service,
        ctx: &'a CallContext,
        service: &'a str,
        op: &'a str,
        input: &'a Value,
    ) -> DispatchFuture<'a> {
        Box::pin(crate::dispatch::call_service(svc, ctx, service, op, input))
    }

    fn auth_domain<'a>(
        &'a self,
        frontend: &'a Frontend,
        req: &'a WireRequest,
        target: crate::auth_domain::Target,
    ) -> Option<PageFuture<'a>> {
        Some(Box::pin(frontend.serve_auth_domain(req, target)))
    }
}

/// No operation: the `.well-known` documents' function (GET only).
struct Documents;

impl Dispatch for Documents {
    fn call<'a>(
        &'a self,
        _svc: &'a Service,
        _ctx: &'a CallContext,
        _service: &'a str,
        _op: &'a str,
        _input: &'a Value,
    ) -> DispatchFuture<'a> {
        Box::pin(std::future::ready(None))
    }
}

/// The bound operation's function: the request was already checked to name that operation.
struct One(OperationFn);

impl Dispatch for One {
    fn call<'a>(
        &'a self,
        svc: &'a Service,
        ctx: &'a CallContext,
        _service: &'a str,
        _op: &'a str,
        input: &'a Value,
    ) -> DispatchFuture<'a> {
        let call = (self.0)(svc, ctx, input);
        Box::pin(async move { Some(call.await) })
    }
}

/// A request as the transport received it.
#[derive(Debug, Clone, Default)]
pub struct WireRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in any case; a name may repeat.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireRequest {
    /// From an `http` request (axum and lambda_http both use the `http` crate).
    pub fn from_parts(parts: &http::request::Parts, body: Vec<u8>) -> Self {
        WireRequest {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireResponse {
    /// Into an `http` response with any body type that can hold bytes.
    pub fn into_http<B: From<Vec<u8>>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body));
        *response.status_mut() = http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::OK);
        for (k, v) in self.headers {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(&v))
            {
                response.headers_mut().append(name, value);
            }
        }
        response
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Which browser origins may call (CORS). Each entry is `*` (any origin), `loopback` (any
/// `http(s)://` origin on localhost, `*.localhost`, 127.0.0.0/8 or `[::1]`, any port) or an exact
/// origin such as `https://app.example.com`. Empty = any (the Lambda functions' setting when
/// `TESSERA_CORS_ORIGINS` is unset; the local server always passes a list).
#[derive(Debug, Clone, Default)]
pub struct Cors {
    pub allowed_origins: Vec<String>,
}

/// The entry of [`Cors::allowed_origins`] that allows every loopback origin.
pub const CORS_LOOPBACK: &str = "loopback";

impl Cors {
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty()
            || self
                .allowed_origins
                .iter()
                .any(|o| o == "*" || o == origin || (o == CORS_LOOPBACK && is_loopback_origin(origin)))
    }
}

/// `http(s)://host[:port]` whose host is a loopback name or address.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    // An origin is scheme://host[:port] and nothing else.
    !rest.contains(['/', '?', '#', '@']) && is_loopback_host(rest)
}

/// A `Host` value (`name`, `name:port`, `1.2.3.4:port`, `[v6]:port`) without its port, in lower
/// case and without a final dot. None when it is not a plausible authority.
pub fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return Some(format!("[{}]", v6.to_ascii_lowercase()));
    } else {
        match authority.split_once(':') {
            Some((h, port)) if is_port(port) => h,
            Some(_) => return None,
            None => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    ok.then(|| host.to_ascii_lowercase())
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// localhost, `*.localhost` (RFC 6761: always loopback, never from DNS), 127.0.0.0/8 and `[::1]`,
/// with or without a port.
pub fn is_loopback_host(authority: &str) -> bool {
    let Some(host) = host_name(authority) else { return false };
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host);
    ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

pub struct Frontend {
    pub service: Arc<Service>,
    /// Admin access key id → secret access key.
    pub admin_keys: HashMap<String, String>,
    pub max_skew_secs: i64,
    /// The issuer base; None derives it from the request's host.
    pub issuer_base: Option<String>,
    pub cors: Cors,
    /// Request-rate quotas (this server's own buckets).
    pub throttle: crate::throttle::Throttle,
}

fn ok_response(content_type: &str, body: Vec<u8>) -> WireResponse {
    WireResponse { status: 200, headers: vec![("Content-Type".into(), content_type.into())], body }
}

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
pub const IDENTITY_TARGET_PREFIX: &str = "AWSCognitoIdentityService.";
pub const TESSERA_TARGET_PREFIX: &str = "TesseraService.";
const ALLOW_HEADERS: &str = "content-type,x-amz-target,x-amz-user-agent,x-amz-client-context,x-amz-date,x-amz-security-token,x-amz-content-sha256,authorization,amz-sdk-invocation-id,amz-sdk-request,cache-control";
const EXPOSE_HEADERS: &str = "x-amzn-errortype,x-amzn-requestid,date";

impl Frontend {
    /// Serves a request. `bound_operation` is the one operation a Lambda function serves:
    /// `"SignUp"` (cognito-idp) or `"{service}:{Operation}"`, e.g. `"cognito-sync:ListRecords"`.
    pub async fn handle(&self, req: &WireRequest, bound_operation: Option<&str>) -> WireResponse {
        self.respond(req, bound_operation, &Table).await
    }

    /// Serves a request for the one operation `bound_operation` names (as in [`Self::handle`]),
    /// running `call`, that operation's domain function; any other operation is refused.
    pub async fn handle_operation(
        &self,
        req: &WireRequest,
        bound_operation: &str,
        call: OperationFn,
    ) -> WireResponse {
        self.respond(req, Some(bound_operation), &One(call)).await
    }

    /// Serves the `.well-known` documents (GET) and CORS preflights, as [`Self::handle`] does;
    /// any operation answers UnsupportedOperationException.
    pub async fn handle_documents(&self, req: &WireRequest) -> WireResponse {
        self.respond(req, None, &Documents).await
    }

    async fn respond(
        &self,
        req: &WireRequest,
        bound_operation: Option<&str>,
        ops: &dyn Dispatch,
    ) -> WireResponse {
        // Not a secret: the thread's generator, instead of a system call per request.
        let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
        // The auth domain answers its own preflights and sets its own CORS headers.
        let page = self.auth_domain_target(req).and_then(|target| ops.auth_domain(self, req, target));
        let own_cors = page.is_some();
        let mut resp = if let Some(page) = page {
            page.await
        } else if req.method.eq_ignore_ascii_case("OPTIONS") {
            WireResponse { status: 200, headers: vec![], body: vec![] }
        } else if is_sync_path(&req.path) {
            match self.sync(req, bound_operation, ops).await {
                Ok(body) => ok_response("application/json", body),
                Err(e) => rest_error_response(&e),
            }
        } else if req.method.eq_ignore_ascii_case("GET") {
            self.get(req).await
        } else {
            match self.post(req, bound_operation, ops).await {
                Ok(body) => ok_response("application/x-amz-json-1.1", body),
                Err(e) => error_response(&e),
            }
        };
        resp.headers.push(("x-amzn-RequestId".into(), request_id));
        resp.headers.push(("Date".into(), http_date(self.service.now_secs())));
        if !own_cors {
            self.add_cors(req, &mut resp);
        }
        resp
    }

    fn add_cors(&self, req: &WireRequest, resp: &mut WireResponse) {
        let Some(origin) = req.header("origin") else { return };
        if !self.cors.allows(origin) {
            return;
        }
        resp.headers.push(("Access-Control-Allow-Origin".into(), origin.to_string()));
        resp.headers.push(("Vary".into(), "Origin".into()));
        resp.headers.push(("Access-Control-Expose-Headers".into(), EXPOSE_HEADERS.into()));
        if req.method.eq_ignore_ascii_case("OPTIONS") {
            resp.headers.push(("Access-Control-Allow-Methods".into(), "POST,GET,DELETE,OPTIONS".into()));
            resp.headers.push(("Access-Control-Allow-Headers".into(), ALLOW_HEADERS.into()));
            resp.headers.push(("Access-Control-Max-Age".into(), "86400".into()));
        }
    }

    pub(crate) fn context(&self, req: &WireRequest) -> CallContext {
        let issuer_base = match &self.issuer_base {
            Some(b) => b.clone(),
            None => {
                let host = req
                    .header("x-tessera-original-host")
                    .or_else(|| req.header("x-forwarded-host"))
                    .or_else(|| req.header("host"))
                    .unwrap_or("localhost");
                let scheme = req.header("x-forwarded-proto").unwrap_or("https");
                format!("{scheme}://{host}")
            }
        };
        CallContext::new(issuer_base)
    }

    /// The service and operation a POST names, by target header, by path
    /// (`/{service}/{Operation}`), or by the function's binding.
    fn operation<'a>(
        &self,
        req: &'a WireRequest,
        bound: Option<&'a str>,
    ) -> Result<(&'static str, &'a str), WireError> {
        let from_target = match req.header("x-amz-target") {
            Some(t) => Some(
                t.strip_prefix(TARGET_PREFIX)
                    .map(|op| (COGNITO_IDP, op))
                    .or_else(|| t.strip_prefix(IDENTITY_TARGET_PREFIX).map(|op| (COGNITO_IDENTITY, op)))
                    .or_else(|| t.strip_prefix(TESSERA_TARGET_PREFIX).map(|op| (TESSERA, op)))
                    .ok_or_else(|| WireError::unknown_operation(t))?,
            ),
            None => None,
        };
        let from_path = [COGNITO_IDP, COGNITO_IDENTITY, TESSERA].into_iter().find_map(|service| {
            let op = req.path.strip_prefix('/')?.strip_prefix(service)?.strip_prefix('/')?;
            (!op.is_empty() && !op.contains('/')).then_some((service, op))
        });
        let bound = bound.map(split_bound);
        let (service, op) =
            from_target.or(from_path).or(bound).ok_or_else(|| WireError::unknown_operation(&req.path))?;
        if let Some(b) = bound {
            if b != (service, op) {
                return Err(WireError::unknown_operation(op));
            }
        }
        Ok((service, op))
    }

    async fn post(
        &self,
        req: &WireRequest,
        bound: Option<&str>,
        ops: &dyn Dispatch,
    ) -> Result<Vec<u8>, WireError> {
        let (service, op_name) = self.operation(req, bound)?;
        let model = model_of(service);
        let op = model.operation(op_name).ok_or_else(|| WireError::unknown_operation(op_name))?;
        let mut ctx = self.context(req);
        if !op.auth_none {
            self.verify_admin_signature(req, model.signing_name())?;
            ctx.principal = Principal::Admin;
        }
        let input: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&req.body).map_err(|e| {
                WireError::serialization(format!("Could not parse the request body as JSON: {e}"))
            })?
        };
        model.validate_input(op_name, &input)?;
        self.admit(service, op_name, &input).await?;
        self.run(&ctx, req, service, op_name, &input, ops).await
    }

    /// Cognito Sync: REST-JSON, the operation named by method and path, every call signed
    /// (admin keys or an identity's credentials).
    async fn sync(
        &self,
        req: &WireRequest,
        bound: Option<&str>,
        ops: &dyn Dispatch,
    ) -> Result<Vec<u8>, WireError> {
        let model = ApiModel::cognito_sync();
        let path = req.header("x-tessera-original-uri").unwrap_or(&req.path);
        let (op, labels) = model.match_rest(&req.method, path).ok_or_else(|| {
            WireError::new("UnknownOperationException", 404, format!("No operation at {} {path}", req.method))
        })?;
        if let Some(b) = bound {
            if split_bound(b) != (COGNITO_SYNC, op.name.as_str()) {
                return Err(WireError::unknown_operation(&op.name));
            }
        }
        let mut ctx = self.context(req);
        // REST services answer authentication failures with 403.
        ctx.principal = self.verify_sync_signature(req).await.map_err(|e| match e.status {
            400 => WireError { status: 403, ..e },
            _ => e,
        })?;
        let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&req.body).map_err(|e| {
                WireError::serialization(format!("Could not parse the request body as JSON: {e}"))
            })?
        };
        let input = model.rest_input(op, &labels, &req.query, &req.headers, body)?;
        model.validate_input(&op.name, &input)?;
        self.admit(COGNITO_SYNC, &op.name, &input).await?;
        self.run(&ctx, req, COGNITO_SYNC, &op.name, &input, ops).await
    }

    /// Throttling, after the signature (unsigned noise must not spend the admin quotas) and
    /// before any work. Target header and path routing arrive here with the same operation.
    async fn admit(&self, service: &'static str, op_name: &str, input: &Value) -> Result<(), WireError> {
        if !self.throttle.settings.enabled {
            return Ok(());
        }
        let texts_phone = service == COGNITO_IDP && op_name == "SignUp" && self.sign_up_texts(input).await;
        let demands = self.throttle.demands(service, op_name, input, texts_phone);
        let now = tessera_core::ports::Clock::now_millis(self.service.clock.as_ref());
        self.throttle.admit(now, &demands).map_err(|category| {
            tracing::info!(service, operation = op_name, category, "throttled");
            WireError::from_domain(
                tessera_core::Error::TooManyRequestsException("Rate exceeded".into()),
                model_of(service),
            )
        })
    }

    /// Whether a SignUp will text a code: it names a phone number (attribute, or a phone
    /// username) and its pool verifies phone numbers. The client and pool come from the
    /// service's in-memory cache; an unknown client fails the SignUp anyway.
    async fn sign_up_texts(&self, input: &Value) -> bool {
        let Some(client_id) = input.get("ClientId").and_then(Value::as_str) else { return false };
        let Ok(client) = self.service.client(client_id).await else { return false };
        let Ok(pool) = self.service.pool(&client.pool_id).await else { return false };
        if !pool.auto_verified_attributes.iter().any(|a| a == "phone_number") {
            return false;
        }
        let phone_attribute = input
            .get("UserAttributes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|a| a.get("Name").and_then(Value::as_str) == Some("phone_number"));
        let phone_username = pool.username_attributes.iter().any(|a| a == "phone_number")
            && input.get("Username").and_then(Value::as_str).is_some_and(|u| u.starts_with('+'));
        phone_attribute || phone_username
    }

    async fn run(
        &self,
        ctx: &CallContext,
        req: &WireRequest,
        service: &str,
        op_name: &str,
        input: &Value,
        ops: &dyn Dispatch,
    ) -> Result<Vec<u8>, WireError> {
        // Browsers' SDKs cannot set User-Agent and send x-amz-user-agent instead.
        let user_agent = req.header("x-amz-user-agent").or_else(|| req.header("user-agent"));
        let call = ops.call(&self.service, ctx, service, op_name, input);
        match tessera_core::triggers::scoped(user_agent, tessera_core::triggers::REQUEST_BUDGET, call).await {
            Some(Ok(out)) => Ok(serde_json::to_vec(&out).unwrap_or_default()),
            Some(Err(e)) => Err(WireError::from_domain(e, model_of(service))),
            None => Err(WireError::new(
                "UnsupportedOperationException",
                400,
                format!("{op_name} is not implemented by this version of Tessera."),
            )),
        }
    }

    /// The request as the client signed it: behind the front door, the original URI and host.
    fn signed_view(req: &WireRequest) -> (String, Vec<(String, String)>) {
        let path = req.header("x-tessera-original-uri").unwrap_or(&req.path).to_string();
        let mut headers = req.headers.clone();
        if let Some(host) = req.header("x-tessera-original-host").map(str::to_string) {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("host"));
            headers.push(("host".into(), host));
        }
        (path, headers)
    }

    fn verify_admin_signature(&self, req: &WireRequest, service: &str) -> Result<(), WireError> {
        let (path, headers) = Self::signed_view(req);
        let signed = crate::sigv4::SignedRequest {
            method: &req.method,
            path: &path,
            query: &req.query,
            headers: &headers,
            body: &req.body,
        };
        let lookup = |akid: &str| self.admin_keys.get(akid).cloned();
        crate::sigv4::verify(&signed, service, &lookup, self.service.now_secs(), self.max_skew_secs)
            .map(|_| ())
    }

    /// Admin keys sign as the developer; credentials from GetCredentialsForIdentity (with
    /// their `X-Amz-Security-Token`) sign as that identity.
    async fn verify_sync_signature(&self, req: &WireRequest) -> Result<Principal, WireError> {
        let access_key_id = req
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').next())
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if self.admin_keys.contains_key(&access_key_id) {
            self.verify_admin_signature(req, COGNITO_SYNC)?;
            return Ok(Principal::Admin);
        }
        let holder = if access_key_id.is_empty() {
            None
        } else {
            tessera_core::identity_credentials::holder(
                &self.service,
                &access_key_id,
                req.header("x-amz-security-token"),
            )
            .await
            .map_err(|e| WireError::from_domain(e, ApiModel::cognito_sync()))?
        };
        let (path, headers) = Self::signed_view(req);
        let signed = crate::sigv4::SignedRequest {
            method: &req.method,
            path: &path,
            query: &req.query,
            headers: &headers,
            body: &req.body,
        };
        let secret = holder.as_ref().map(|h| h.secret_key.clone());
        let lookup = |akid: &str| if akid == access_key_id { secret.clone() } else { None };
        crate::sigv4::verify(&signed, COGNITO_SYNC, &lookup, self.service.now_secs(), self.max_skew_secs)?;
        let holder = holder.ok_or_else(WireError::unrecognized_client)?;
        Ok(Principal::Identity { identity_pool_id: holder.identity_pool_id, identity_id: holder.identity_id })
    }

    async fn get(&self, req: &WireRequest) -> WireResponse {
        // Unknown paths and pools answer as a REST service does: a 404 with an error type.
        let not_found = || {
            rest_error_response(&WireError::new(
                "UnknownOperationException",
                404,
                format!("No resource at {} {}", req.method, req.path),
            ))
        };
        let mut parts = req.path.trim_start_matches('/').splitn(2, '/');
        let (Some(pool_id), Some(doc)) = (parts.next(), parts.next()) else { return not_found() };
        if pool_id == COGNITO_IDENTITY {
            return self.identity_document(req, doc).await.unwrap_or_else(not_found);
        }

        if !tessera_core::ids::is_pool_id(pool_id)
            || !matches!(doc, ".well-known/jwks.json" | ".well-known/openid-configuration")
        {
            return not_found();
        }
        let pool = match self.service.pool(pool_id).await {
            Ok(pool) => pool,
            Err(e) => {
                let e = WireError::from(e);
                let status = if e.name == "ResourceNotFoundException" { 404 } else { e.status };
                return rest_error_response(&WireError { status, ..e });
            }
        };
        let ctx = self.context(req);
        let issuer = ctx.issuer(&pool.id);
        let body = match doc {
            ".well-known/jwks.json" => pool.keys.jwks(),
            ".well-known/openid-configuration" => {
                let mut doc = json!({
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                    "response_types_supported": ["code", "token"],
                    "scopes_supported": ["openid", "email", "phone", "profile"],
                    "subject_types_supported": ["public"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                    "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "token_use", "cognito:username", "email", "email_verified", "phone_number", "phone_number_verified", "nonce", "at_hash"],
                });
                // Cognito lists the endpoints of the pool's domain (its custom domain first).
                let base = ctx.issuer_base.clone();
                if let Some(url) =
                    tessera_core::user_pool::domains::records::advertised_url(&self.service, &pool, &base)
                {
                    doc["authorization_endpoint"] = json!(format!("{url}/oauth2/authorize"));
                    doc["end_session_endpoint"] = json!(format!("{url}/logout"));
                    doc["revocation_endpoint"] = json!(format!("{url}/oauth2/revoke"));
                    doc["token_endpoint"] = json!(format!("{url}/oauth2/token"));
                    doc["userinfo_endpoint"] = json!(format!("{url}/oauth2/userInfo"));
                    doc["code_challenge_methods_supported"] = json!(["S256"]);
                    doc["grant_types_supported"] =
                        json!(["authorization_code", "implicit", "refresh_token", "client_credentials"]);
                }
                doc
            }
            _ => return not_found(),
        };
        WireResponse {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cache-Control".into(), "public, max-age=300".into()),
            ],
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }
}

/// Sync's paths all start with `/identitypools`.
pub fn is_sync_path(path: &str) -> bool {
    path == "/identitypools" || path.starts_with("/identitypools/")
}

fn model_of(service: &str) -> &'static ApiModel {
    match service {
        COGNITO_IDENTITY => ApiModel::cognito_identity(),
        COGNITO_SYNC => ApiModel::cognito_sync(),
        TESSERA => ApiModel::tessera(),
        _ => ApiModel::cognito_idp(),
    }
}

/// `"cognito-sync:ListRecords"` → (cognito-sync, ListRecords); a bare name is cognito-idp's.
fn split_bound(bound: &str) -> (&'static str, &str) {
    match bound.split_once(':') {
        Some((COGNITO_IDENTITY, op)) => (COGNITO_IDENTITY, op),
        Some((COGNITO_SYNC, op)) => (COGNITO_SYNC, op),
        Some((TESSERA, op)) => (TESSERA, op),
        Some((_, op)) => ("unknown", op),
        None => (COGNITO_IDP, bound),
    }
}

/// A REST-JSON (Sync) error: the model's status, `x-amzn-ErrorType` and `{"message"}`.
pub fn rest_error_response(e: &WireError) -> WireResponse {
    WireResponse {
        status: e.status,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Amzn-ErrorType".into(), format!("{}:", e.name)),
        ],
        body: serde_json::to_vec(&serde_json::json!({"message": e.message, "__type": e.name}))
            .unwrap_or_default(),
    }
}

impl Frontend {
    /// The identity service's OpenID documents, which IAM reads to trust its tokens.
    async fn identity_document(&self, req: &WireRequest, doc: &str) -> Option<WireResponse> {
        let body = match doc {
            ".well-known/jwks.json" => tessera_core::identity_tokens::jwks(&self.service).await.ok()?,
            ".well-known/openid-configuration" => {
                tessera_core::identity_tokens::openid_configuration(&self.context(req))
            }
            _ => return None,
        };
        Some(WireResponse {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cache-Control".into(), "public, max-age=300".into()),
            ],
            body: serde_json::to_vec(&body).unwrap_or_default(),
        })
    }
}

pub fn error_response(e: &WireError) -> WireResponse {
    WireResponse {
        status: e.status,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("X-Amzn-ErrorType".into(), format!("{}:", e.name)),
        ],
        body: e.body(),
    }
}

/// RFC 7231 IMF-fixdate, e.g. `Thu, 26 Nov 2026 07:34:18 GMT`.
pub fn http_date(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86400);
    let secs = epoch_secs.rem_euclid(86400);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let (year, month, day) = crate::sigv4::civil_from_days(days);
    let month_name = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        [(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_678_458), "Thu, 26 Nov 2026 07:34:18 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
