//! ListDatasets, DescribeDataset, DeleteDataset.

use super::engine::delete::mark_deleted;
use super::engine::model::DatasetHead;
use super::engine::read::{dataset_not_found, live_head, PAGE};
use super::request::{access, dataset_name, page_size};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::keys;
use crate::service::{CallContext, Service};
use serde_json::{json, Value};

/// ListDatasets pages (the SDKs ask for 64).
const MAX_DATASETS_PAGE: usize = 64;

/// `ListDatasets`.
pub async fn list_datasets(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let limit = page_size(input, MAX_DATASETS_PAGE);
    let mut after = match input.str_of("NextToken") {
        Some(t) => Some(crate::input::decode_next_token(t)?),
        None => None,
    };
    let pk = keys::sync::datasets(&pool, &identity);
    let mut out = Vec::new();
    let mut next = None;
    'pages: loop {
        let page = svc.store.query(&pk, "", after.as_deref(), PAGE, svc.now_secs()).await?;
        for item in &page.items {
            let head: DatasetHead = serde_json::from_value(item.body.clone()).map_err(Error::internal)?;
            if !head.live {
                continue;
            }
            if out.len() == limit {
                next = after.clone();
                break 'pages;
            }
            out.push(head.to_api(&identity));
            after = Some(item.sk.clone());
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut resp = json!({ "Count": out.len(), "Datasets": out });
    if let Some(n) = next {
        resp["NextToken"] = json!(crate::input::encode_next_token(&n));
    }
    Ok(resp)
}

/// `DescribeDataset`.
pub async fn describe_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let (head, _) = live_head(svc, &pool, &identity, name).await?;
    Ok(json!({ "Dataset": head.to_api(&identity) }))
}

/// `DeleteDataset`: the dataset stops existing; its head stays as a marker of the count it was
/// deleted at, and its records are purged.
pub async fn delete_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let before =
        mark_deleted(svc, &pool, &identity, name, true).await?.ok_or_else(|| dataset_not_found(name))?;
    Ok(json!({ "Dataset": before.to_api(&identity) }))
}
