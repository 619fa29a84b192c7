//! The tables from operation name to the domain function that serves it: one per service
//! (cognito-idp, cognito-identity, cognito-sync; operation names repeat across services).

use serde_json::Value;
use tessera_core::{CallContext, Result, Service};

mod operations;
use operations::{run, run_identity, run_sync, run_tessera};

/// The services Tessera serves, by their endpoint prefix (and SigV4 name).
pub const COGNITO_IDP: &str = "cognito-idp";
pub const COGNITO_IDENTITY: &str = "cognito-identity";
pub const COGNITO_SYNC: &str = "cognito-sync";
/// Tessera's own admin operations (`TesseraService.<Operation>`, signed as cognito-idp).
pub const TESSERA: &str = "tessera";

/// Runs one cognito-idp operation. `None` when the operation is not implemented.
pub async fn call(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    // On the heap: the largest operation's future (a sign-in's whole state machine) would
    // otherwise be part of every caller's future, and debug builds overflow 2 MiB stacks.
    Box::pin(run(svc, ctx, op, input)).await
}

/// Runs one operation of `service`. `None` when the operation is not implemented.
pub async fn call_service(
    svc: &Service,
    ctx: &CallContext,
    service: &str,
    op: &str,
    input: &Value,
) -> Option<Result<Value>> {
    match service {
        COGNITO_IDP => call(svc, ctx, op, input).await,
        COGNITO_IDENTITY => Box::pin(run_identity(svc, ctx, op, input)).await,
        COGNITO_SYNC => Box::pin(run_sync(svc, ctx, op, input)).await,
        // Tessera's own operations (shared/wire/model/tessera.json).
        TESSERA => Box::pin(run_tessera(svc, ctx, op, input)).await,
        _ => None,
    }
}
