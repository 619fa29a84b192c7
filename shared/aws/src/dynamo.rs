//! The DynamoDB implementation of [`tessera_core::store::Store`].
//!
//! # Table layout
//!
//! One table holds everything. Each [`Item`] is one DynamoDB item:
//!
//! | attribute | type | meaning                                                             |
//! |-----------|------|---------------------------------------------------------------------|
//! | `pk`      | S    | partition key (HASH)                                                |
//! | `sk`      | S    | sort key (RANGE)                                                    |
//! | `v`       | N    | the item's version ([`Item::version`])                              |
//! | `ttl`     | N    | epoch seconds; present only when [`Item::expires_at`] is `Some`. It |
//! |           |      | is the table's TTL attribute, so DynamoDB deletes expired items.    |
//! | `body`    | S    | the JSON body, serialized as a string                               |
//!
//! There are **no global or local secondary indexes**: every access pattern of the domain is a
//! lookup by full key or a query of one partition by sort-key prefix. A new access pattern that
//! is not keyed that way must add an index here (and to `template.yaml`).
//!
//! DynamoDB deletes expired items lazily (up to days late; moto never does), so every read
//! treats an item whose `ttl <= now` as absent, and the write conditions treat it the same way.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Put, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use tessera_core::ports::{Rng, SystemRng};
use tessera_core::store::{Cond, Item, Page, Store, StoreError, Write, MAX_TRANSACTION_WRITES};

const PK: &str = "pk";
const SK: &str = "sk";
const VERSION: &str = "v";
const TTL: &str = "ttl";
const BODY: &str = "body";

/// DynamoDB's limits: item size, partition key and sort key lengths (bytes).
const MAX_ITEM_BYTES: usize = 400 * 1024;
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;

/// How many items one Query request asks for at most (we loop for more).
const MAX_QUERY_PAGE: usize = 1000;

/// Attempts for a write cancelled by a transient conflict (another transaction on the same item,
/// throttling). The SDK itself already retries throttled and failed requests.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// The DynamoDB store. Cheap to clone (the client is reference-counted).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`, which must exist with the layout described in the module docs
    /// (see [`create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table this store reads and writes.
    pub fn table(&self) -> &str {
        &self.table
    }
}

/// Creates the store's table (on-demand billing, `pk`/`sk` key, TTL on `ttl`, point-in-time
/// recovery) and waits until it is ACTIVE. A table that already exists is fine: its TTL and
/// recovery settings are brought in line. Failing to enable point-in-time recovery is only a
/// warning (moto does not support it everywhere; a fresh table sometimes refuses it briefly).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let key = |name: &str, kt: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kt)
            .build()
            .map_err(|e| StoreError::Invalid(format!("key schema: {e}")))
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::Invalid(format!("attribute definition: {e}")))
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(table, "created DynamoDB table"),
        Err(e) if matches!(e.as_service_error(), Some(CreateTableError::ResourceInUseException(_))) => {
            tracing::info!(table, "DynamoDB table already exists");
        }
        Err(e) => return Err(unavailable("CreateTable", &e)),
    }

    wait_until_active(client, table).await?;

    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| unavailable("DescribeTimeToLive", &e))?;
    let ttl_on = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL)
            && matches!(d.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling))
    });
    if !ttl_on {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(TTL)
            .enabled(true)
            .build()
            .map_err(|e| StoreError::Invalid(format!("TTL specification: {e}")))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| unavailable("UpdateTimeToLive", &e))?;
    }

    let pitr = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .map_err(|e| StoreError::Invalid(format!("PITR specification: {e}")))?;
    if let Err(e) = client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(pitr)
        .send()
        .await
    {
        tracing::warn!(
            table,
            error = %DisplayErrorContext(&e),
            "could not enable point-in-time recovery; continuing without it"
        );
    }
    Ok(())
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), StoreError> {
    // Real tables take seconds to tens of seconds; moto's are ACTIVE at once.
    for _ in 0..600 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| unavailable("DescribeTable", &e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(format!("table {table} did not become ACTIVE within 5 minutes")))
}

/// A service failure, for logs: operation, error code and message (never request contents).
fn unavailable<E, R>(op: &str, e: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(unavailable_msg(op, e))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn check_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid("DynamoDB keys must not be empty".into()));
    }
    if pk.len() > MAX_PK_BYTES || sk.len() > MAX_SK_BYTES {
        return Err(StoreError::Invalid("key too long for DynamoDB".into()));
    }
    Ok(())
}

/// The size DynamoDB counts for an item (capacity units and its 400 KB limit): attribute names
/// and values, numbers at most 21 bytes.
pub fn item_size(pk: &str, sk: &str, body_len: usize) -> usize {
    PK.len() + pk.len() + SK.len() + sk.len() + VERSION.len() + 21 + TTL.len() + 21 + BODY.len() + body_len
}

fn to_attrs(item: &Item) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let body = serde_json::to_string(&item.body)
        .map_err(|e| StoreError::Invalid(format!("body not serializable: {e}")))?;
    let size = item_size(&item.pk, &item.sk, body.len());
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::Invalid(format!(
            "item of about {size} bytes exceeds DynamoDB's {MAX_ITEM_BYTES}"
        )));
    }
    let mut m = key(&item.pk, &item.sk);
    m.insert(VERSION.to_owned(), n(item.version));
    if let Some(t) = item.expires_at {
        m.insert(TTL.to_owned(), n(t));
    }
    m.insert(BODY.to_owned(), AttributeValue::S(body));
    Ok(m)
}

fn from_attrs(m: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let corrupt = |what: &str| StoreError::Unavailable(format!("malformed stored item: {what}"));
    let text = |name: &str| m.get(name).and_then(|v| v.as_s().ok());
    let num = |name: &str| m.get(name).and_then(|v| v.as_n().ok());
    let pk = text(PK).ok_or_else(|| corrupt("pk"))?;
    let sk = text(SK).ok_or_else(|| corrupt("sk"))?;
    let version = num(VERSION).and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| corrupt("v"))?;
    let expires_at = match m.get(TTL) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(_) => Some(num(TTL).and_then(|t| t.parse::<i64>().ok()).ok_or_else(|| corrupt("ttl"))?),
    };
    let body = text(BODY).and_then(|b| serde_json::from_str(b).ok()).ok_or_else(|| corrupt("body"))?;
    Ok(Item { pk: pk.clone(), sk: sk.clone(), version, expires_at, body })
}

/// A write's condition as a DynamoDB condition expression.
struct Condition {
    expr: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

fn condition(cond: Cond, now_secs: i64) -> Option<Condition> {
    let ttl_name = || HashMap::from([("#ttl".to_owned(), TTL.to_owned())]);
    let now = || HashMap::from([(":now".to_owned(), n(now_secs))]);
    match cond {
        Cond::None => None,
        Cond::NotExists => Some(Condition {
            expr: "attribute_not_exists(pk) OR #ttl <= :now",
            names: ttl_name(),
            values: now(),
        }),
        Cond::Exists => Some(Condition {
            expr: "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)",
            names: ttl_name(),
            values: now(),
        }),
        Cond::Version(v) => {
            let mut names = ttl_name();
            names.insert("#v".to_owned(), VERSION.to_owned());
            let mut values = now();
            values.insert(":v".to_owned(), n(v));
            Some(Condition {
                expr: "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now) AND #v = :v",
                names,
                values,
            })
        }
    }
}

fn cond_of(w: &Write) -> Cond {
    match w {
        Write::Put { cond, .. } | Write::Delete { cond, .. } => *cond,
    }
}

fn validate(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "{} writes in one transaction; at most {MAX_TRANSACTION_WRITES} allowed",
            writes.len()
        )));
    }
    let mut seen = HashSet::with_capacity(writes.len());
    for w in writes {
        let (pk, sk) = w.key();
        check_key(pk, sk)?;
        if !seen.insert((pk, sk)) {
            return Err(StoreError::Invalid("the same key is written twice in one transaction".into()));
        }
    }
    Ok(())
}

/// What one attempt at a write produced.
enum Attempt {
    Done(Result<(), StoreError>),
    /// A transient conflict or throttle: try again after a pause.
    Retry(String),
}

/// Jittered exponential backoff: 10 ms, 20 ms, … capped at 640 ms, times 0.5–1.5.
async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let mut b = [0u8; 1];
    SystemRng.fill(&mut b);
    let ms = base / 2 + base * u64::from(b[0]) / 255;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Service error codes that mean "nothing was applied, try again".
fn is_transient(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "TransactionConflict"
                | "TransactionConflictException"
                | "TransactionInProgressException"
                | "ThrottlingError"
                | "ThrottlingException"
                | "ProvisionedThroughputExceeded"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
        )
    )
}

impl DynamoStore {
    async fn put_one(&self, item: &Item, cond: Cond, now_secs: i64) -> Result<Attempt, StoreError> {
        let c = condition(cond, now_secs);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(item)?))
            .set_condition_expression(c.as_ref().map(|c| c.expr.to_owned()))
            .set_expression_attribute_names(c.as_ref().map(|c| c.names.clone()))
            .set_expression_attribute_values(c.map(|c| c.values))
            .send()
            .await;
        Ok(match res {
            Ok(_) => Attempt::Done(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Attempt::Done(Err(StoreError::ConditionFailed { index: 0 }))
                }
                Some(se) if is_transient(se.code()) => Attempt::Retry(unavailable_msg("PutItem", &e)),
                _ => Attempt::Done(Err(unavailable("PutItem", &e))),
            },
        })
    }

    async fn delete_one(&self, pk: &str, sk: &str, cond: Cond, now_secs: i64) -> Attempt {
        let c = condition(cond, now_secs);
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(c.as_ref().map(|c| c.expr.to_owned()))
            .set_expression_attribute_names(c.as_ref().map(|c| c.names.clone()))
            .set_expression_attribute_values(c.map(|c| c.values))
            .send()
            .await;
        match res {
            Ok(_) => Attempt::Done(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => {
                    Attempt::Done(Err(StoreError::ConditionFailed { index: 0 }))
                }
                Some(se) if is_transient(se.code()) => Attempt::Retry(unavailable_msg("DeleteItem", &e)),
                _ => Attempt::Done(Err(unavailable("DeleteItem", &e))),
            },
        }
    }

    fn transact_items(&self, writes: &[Write], now_secs: i64) -> Result<Vec<TransactWriteItem>, StoreError> {
        let built =
            |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(format!("transaction item: {e}"));
        writes
            .iter()
            .map(|w| {
                let c = condition(cond_of(w), now_secs);
                let expr = c.as_ref().map(|c| c.expr.to_owned());
                let names = c.as_ref().map(|c| c.names.clone());
                let values = c.map(|c| c.values);
                Ok(match w {
                    Write::Put { item, .. } => TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(to_attrs(item)?))
                                .set_condition_expression(expr)
                                .set_expression_attribute_names(names)
                                .set_expression_attribute_values(values)
                                .build()
                                .map_err(built)?,
                        )
                        .build(),
                    Write::Delete { pk, sk, .. } => TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(key(pk, sk)))
                                .set_condition_expression(expr)
                                .set_expression_attribute_names(names)
                                .set_expression_attribute_values(values)
                                .build()
                                .map_err(built)?,
                        )
                        .build(),
                })
            })
            .collect()
    }

    async fn transact_many(&self, items: Vec<TransactWriteItem>) -> Attempt {
        let res = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let e = match res {
            Ok(_) => return Attempt::Done(Ok(())),
            Err(e) => e,
        };
        match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(tc)) => {
                let reasons = tc.cancellation_reasons();
                if let Some(index) = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed")) {
                    return Attempt::Done(Err(StoreError::ConditionFailed { index }));
                }
                let codes: Vec<&str> =
                    reasons.iter().filter_map(|r| r.code()).filter(|c| *c != "None").collect();
                let msg = format!("DynamoDB TransactWriteItems cancelled: {}", codes.join(", "));
                if !codes.is_empty() && codes.iter().all(|c| is_transient(Some(c))) {
                    Attempt::Retry(msg)
                } else {
                    Attempt::Done(Err(StoreError::Unavailable(msg)))
                }
            }
            Some(se) if is_transient(se.code()) => Attempt::Retry(unavailable_msg("TransactWriteItems", &e)),
            _ => Attempt::Done(Err(unavailable("TransactWriteItems", &e))),
        }
    }
}

fn unavailable_msg<E, R>(op: &str, e: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    format!("DynamoDB {op}: {}", DisplayErrorContext(e))
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str, now_secs: i64) -> Result<Option<Item>, StoreError> {
        check_key(pk, sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        match out.item() {
            None => Ok(None),
            Some(m) => {
                let item = from_attrs(m)?;
                Ok(item.is_live(now_secs).then_some(item))
            }
        }
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        now_secs: i64,
    ) -> Result<Page, StoreError> {
        if pk.is_empty() {
            return Err(StoreError::Invalid("DynamoDB keys must not be empty".into()));
        }
        if limit == 0 {
            return Err(StoreError::Invalid("a query limit must be at least 1".into()));
        }
        // DynamoDB rejects a start key outside the key condition, so place it ourselves: a key
        // before the prefix range starts at the beginning of the range; one after it ends there.
        let mut exclusive_start = match start_after {
            Some(after) if after.starts_with(sk_prefix) => Some(key(pk, after)),
            Some(after) if after > sk_prefix => return Ok(Page::default()),
            _ => None,
        };
        let (expr, mut values) = if sk_prefix.is_empty() {
            ("pk = :pk", HashMap::from([(":pk".to_owned(), s(pk))]))
        } else {
            (
                "pk = :pk AND begins_with(sk, :prefix)",
                HashMap::from([(":pk".to_owned(), s(pk)), (":prefix".to_owned(), s(sk_prefix))]),
            )
        };
        // Expired items still come back from DynamoDB and `Limit` counts them, so read until we
        // hold `limit` live items plus one more (which proves there is a next page), or the
        // partition ends.
        let mut items: Vec<Item> = Vec::new();
        loop {
            let want = (limit + 1 - items.len()).min(MAX_QUERY_PAGE);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(expr)
                .set_expression_attribute_values(Some(std::mem::take(&mut values)))
                .set_exclusive_start_key(exclusive_start.take())
                .consistent_read(true)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            for m in out.items() {
                let item = from_attrs(m)?;
                if item.is_live(now_secs) {
                    items.push(item);
                }
            }
            if items.len() > limit {
                items.truncate(limit);
                let next = items.last().map(|i| i.sk.clone());
                return Ok(Page { items, next });
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => exclusive_start = Some(k),
                _ => return Ok(Page { items, next: None }),
            }
            // `values` was moved into the request; rebuild it for the next one.
            values.insert(":pk".to_owned(), s(pk));
            if !sk_prefix.is_empty() {
                values.insert(":prefix".to_owned(), s(sk_prefix));
            }
        }
    }

    async fn transact(&self, writes: Vec<Write>, now_secs: i64) -> Result<(), StoreError> {
        validate(&writes)?;
        let many = match writes.as_slice() {
            [] => return Ok(()),
            [_] => None,
            ws => Some(self.transact_items(ws, now_secs)?),
        };
        let mut last = String::new();
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let outcome = match (&many, writes.first()) {
                (Some(items), _) => self.transact_many(items.clone()).await,
                (None, Some(Write::Put { item, cond })) => self.put_one(item, *cond, now_secs).await?,
                (None, Some(Write::Delete { pk, sk, cond })) => {
                    self.delete_one(pk, sk, *cond, now_secs).await
                }
                (None, None) => return Ok(()),
            };
            match outcome {
                Attempt::Done(r) => return r,
                Attempt::Retry(msg) => {
                    tracing::debug!(attempt, %msg, "retrying a conflicting DynamoDB write");
                    last = msg;
                }
            }
        }
        Err(StoreError::Unavailable(format!("gave up after {MAX_WRITE_ATTEMPTS} attempts: {last}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn item_roundtrips_through_attributes() {
        let mut it = Item::new("p", "s", json!({"a": [1, "x", null], "u": "ü😀"}));
        it.version = 42;
        assert_eq!(from_attrs(&to_attrs(&it).unwrap()).unwrap(), it);
        it.expires_at = Some(1_800_000_000);
        let attrs = to_attrs(&it).unwrap();
        assert_eq!(attrs.get("ttl"), Some(&AttributeValue::N("1800000000".into())));
        assert_eq!(from_attrs(&attrs).unwrap(), it);
    }

    #[test]
    fn no_ttl_attribute_without_expiry() {
        let it = Item::new("p", "s", json!({}));
        assert!(!to_attrs(&it).unwrap().contains_key("ttl"));
    }

    #[test]
    fn oversized_items_are_invalid() {
        let it = Item::new("p", "s", json!({"big": "x".repeat(MAX_ITEM_BYTES)}));
        assert!(matches!(to_attrs(&it), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn validation() {
        let w = |sk: &str| Write::put(Item::new("p", sk, json!({})), Cond::None);
        assert!(validate(&[w("a"), w("b")]).is_ok());
        assert!(matches!(validate(&[w("a"), w("a")]), Err(StoreError::Invalid(_))));
        let many: Vec<Write> = (0..=MAX_TRANSACTION_WRITES).map(|i| w(&i.to_string())).collect();
        assert!(matches!(validate(&many), Err(StoreError::Invalid(_))));
        assert!(matches!(validate(&[w("")]), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn conditions_name_only_what_they_use() {
        assert!(condition(Cond::None, 1).is_none());
        let c = condition(Cond::NotExists, 5).unwrap();
        assert_eq!(c.names.len(), 1);
        assert_eq!(c.values.get(":now"), Some(&AttributeValue::N("5".into())));
        let c = condition(Cond::Version(3), 5).unwrap();
        assert_eq!(c.names.len(), 2);
        assert_eq!(c.values.get(":v"), Some(&AttributeValue::N("3".into())));
    }
}
