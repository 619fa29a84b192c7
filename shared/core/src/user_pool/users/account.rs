//! The operations on one's own account, authorized by its access token: GetUser, DeleteUser.

use crate::error::Result;
use crate::input::Input;
use crate::service::{CallContext, Service};
use serde_json::{json, Value};

pub async fn get_user(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session =
        crate::user_pool::access::authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let client = crate::user_pool::access::token_client(svc, &session).await?;
    let mut out = json!({
        "Username": session.user.username,
        "UserAttributes": crate::attribute_rules::readable_json(&client, &session.user.attributes),
    });
    if let Some(o) = out.as_object_mut() {
        o.extend(crate::user_pool::mfa::factors::user_mfa_json(&session.user));
    }
    Ok(out)
}

pub async fn delete_user(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session =
        crate::user_pool::access::authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    super::records::delete_user_record(svc, &session.pool, &session.user, session.version).await?;
    Ok(json!({}))
}
