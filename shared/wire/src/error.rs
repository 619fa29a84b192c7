//! Errors as they travel on the wire: `{"__type": name, "message": …}` + `X-Amzn-ErrorType`.

use tessera_core::Error;

/// An error ready to encode. Domain errors convert one-to-one; the protocol-level errors
/// (signature, serialization, unknown operation) exist only here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub name: &'static str,
    pub message: String,
    pub status: u16,
}

impl WireError {
    pub fn new(name: &'static str, status: u16, message: impl Into<String>) -> Self {
        WireError { name, message: message.into(), status }
    }

    /// Body/shape could not be read as the operation's input.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", 400, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", 400, message)
    }

    pub fn missing_authentication_token() -> Self {
        Self::new("MissingAuthenticationTokenException", 400, "Missing Authentication Token")
    }

    pub fn unrecognized_client() -> Self {
        Self::new(
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        )
    }

    pub fn invalid_signature(message: impl Into<String>) -> Self {
        Self::new("InvalidSignatureException", 400, message)
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::new("UnknownOperationException", 400, format!("Unknown operation: {target}"))
    }

    /// An error of the HTTP layer itself, found before any operation is known (the local server
    /// answers these for hyper, which would send an empty body): the status is kept, the body
    /// says what was wrong.
    pub fn http_level(status: u16) -> Self {
        match status {
            408 => Self::new("RequestTimeoutException", 408, "The request was not received in time."),
            414 => Self::new("UriTooLongException", 414, "The request URI is longer than 65,534 bytes."),
            431 => Self::new(
                "RequestHeaderFieldsTooLargeException",
                431,
                "The request has more than 100 headers, or its head is too large.",
            ),
            _ => Self::new(
                "SerializationException",
                status,
                "The request is not valid HTTP/1.1 (request line, header or framing).",
            ),
        }
    }

    /// The JSON body Cognito sends with an error.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"__type": self.name, "message": self.message}))
            .unwrap_or_default()
    }
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        WireError { name: e.name(), status: e.status(), message: e.message().to_string() }
    }
}

impl WireError {
    /// A domain error as `model`'s service answers it: REST services (Sync) give each error
    /// its own status (403, 404, 409, 429…); JSON 1.1 services answer 400 (500 for faults).
    pub fn from_domain(e: Error, model: &crate::model::ApiModel) -> Self {
        let status = model.error_status(e.name()).unwrap_or(e.status());
        WireError { name: e.name(), status, message: e.message().to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ApiModel;

    /// Every domain error is a real Cognito exception, named exactly as one of the three API
    /// models names it.
    #[test]
    fn every_domain_error_is_in_the_model() {
        let models = [ApiModel::cognito_idp(), ApiModel::cognito_identity(), ApiModel::cognito_sync()];
        let mut names: Vec<&str> = Error::all_variants().iter().map(Error::name).collect();
        for n in &names {
            assert!(models.iter().any(|m| m.has_error_shape(n)), "{n} is not an exception of Cognito");
        }
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "names are unique");
        for e in Error::all_variants() {
            let w = WireError::from(e.clone());
            assert_eq!(w.name, e.name());
            assert_eq!(w.status, if e.name() == "InternalErrorException" { 500 } else { 400 });
        }
        let sync = ApiModel::cognito_sync();
        let status = |e: Error| WireError::from_domain(e, sync).status;
        assert_eq!(status(Error::not_authorized("x")), 403);
        assert_eq!(status(Error::ResourceNotFoundException("x".into())), 404);
        assert_eq!(status(Error::ResourceConflictException("x".into())), 409);
        assert_eq!(status(Error::LambdaThrottledException("x".into())), 429);
        assert_eq!(status(Error::invalid("x")), 400);
        let idp = ApiModel::cognito_idp();
        assert_eq!(WireError::from_domain(Error::not_authorized("x"), idp).status, 400);
    }
}
