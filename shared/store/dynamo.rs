//! The DynamoDB adapter: ledger, cursors, sync state and tokens in one table (`pk`/`sk` strings,
//! TTL attribute `expires_at`). Every rule of the ports is a condition expression, so concurrent
//! Lambda invocations are serialised by DynamoDB itself.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType,
    TimeToLiveSpecification,
};
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};

use super::budget::{budget_key, interval_ms, latest_tat_within, wait_for};
use super::ledger::{ledger_key, new_claim_token, transition};
use super::records::{DISPATCH_PREFIX, RecordScan, SYNC_PREFIX, cursor_prefix, sync_key_of};
use super::sync_state::next_sync;
use super::token::{refresh_lock_key, token_key};
use super::{
    Booking, CachedToken, ClaimOutcome, ConsignmentSync, Cursor, CursorKey, Cursors, DispatchClaim, DispatchLedger,
    DispatchRecord, DispatchState, Rate, RateBudgets, SyncKey, SyncState, TokenCache, Turn, epoch_seconds,
};
use crate::config::Secret;
use crate::domain::QargoConsignmentId;
use crate::error::StoreError;

type Item = HashMap<String, AttributeValue>;

/// How long ledger records are kept after their last change: long enough to answer any retry and
/// to serve a year of operational look-ups.
const LEDGER_RETENTION_DAYS: i64 = 400;

/// How many times a claim is re-tried when the record changed between its write and its read.
const CLAIM_ATTEMPTS: usize = 8;

/// The table's single sort key value per record kind.
const SORT_KEY: &str = "RECORD";

/// The ports on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn failed<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl Fn(SdkError<E, R>) -> StoreError {
    move |err| StoreError::Backend { backend: "DynamoDB", operation, reason: DisplayErrorContext(err).to_string() }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

fn encode<T: Serialize>(key: &str, value: T) -> Result<AttributeValue, StoreError> {
    to_attribute_value(value).map_err(|err| StoreError::Corrupt { key: key.to_owned(), reason: err.to_string() })
}

fn decode<T: for<'de> Deserialize<'de>>(key: &str, item: Item) -> Result<T, StoreError> {
    from_item(item).map_err(|err| StoreError::Corrupt { key: key.to_owned(), reason: err.to_string() })
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A stored ledger record: the record's own fields plus the numbers DynamoDB compares and expires on.
#[derive(Serialize, Deserialize)]
struct LedgerItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: DispatchRecord,
    lease_until: i64,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct CursorItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    cursor: Cursor,
}

#[derive(Serialize, Deserialize)]
struct SyncItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    state: ConsignmentSync,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct TokenItem {
    pk: String,
    sk: String,
    token: String,
    token_expires_at: Timestamp,
    expires_at: i64,
}

impl DynamoStore {
    /// The ports on `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// Creates the table as the SAM template does (on-demand, `pk`/`sk`, TTL on `expires_at`), for
    /// tests and the operations CLI against a local stand-in.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition is complete")
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key schema is complete")
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk"))
            .attribute_definitions(attribute("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .send()
            .await
            .map_err(failed("CreateTable"))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .expect("TTL specification is complete"),
            )
            .send()
            .await
            .map_err(failed("UpdateTimeToLive"))?;
        Ok(())
    }

    async fn get_item(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(SORT_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("GetItem"))?;
        Ok(answer.item.filter(|item| !item.is_empty()))
    }

    async fn get_record(&self, pk: &str) -> Result<Option<DispatchRecord>, StoreError> {
        self.get_item(pk).await?.map(|item| decode::<LedgerItem>(pk, item).map(|stored| stored.record)).transpose()
    }

    /// Puts `item` if `condition` holds; `Ok(false)` when it does not.
    async fn put_if(&self, item: Item, condition: &str, values: &[(&str, AttributeValue)]) -> Result<bool, StoreError> {
        let mut request =
            self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(failed("PutItem")(err)),
        }
    }

    /// Applies a ledger update that is only allowed from some states; answers the new record, or
    /// [`StoreError::ClaimLost`] with what the ledger holds instead.
    async fn update_ledger(
        &self,
        id: &QargoConsignmentId,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<DispatchRecord, StoreError> {
        let pk = ledger_key(id);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(SORT_KEY))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .return_values(ReturnValue::AllNew);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(answer) => decode::<LedgerItem>(&pk, answer.attributes.unwrap_or_default()).map(|stored| stored.record),
            Err(err) if is_condition_failure(&err) => Err(StoreError::ClaimLost {
                qargo_consignment_id: id.to_string(),
                reason: transition::lost_reason(self.get_record(&pk).await?.as_ref()),
            }),
            Err(err) => Err(failed("UpdateItem")(err)),
        }
    }
}

fn state_value(state: DispatchState) -> Result<AttributeValue, StoreError> {
    encode("state", state)
}

fn ledger_expiry(now: Timestamp) -> AttributeValue {
    n(epoch_seconds(now + (LEDGER_RETENTION_DAYS * 24).hours()))
}

#[async_trait]
impl DispatchLedger for DynamoStore {
    async fn claim(
        &self,
        id: &QargoConsignmentId,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<ClaimOutcome, StoreError> {
        let pk = ledger_key(id);
        for _ in 0..CLAIM_ATTEMPTS {
            let token = new_claim_token();
            // The claim rule of `DispatchRecord::is_claimable`, as a condition DynamoDB enforces.
            let answer = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(SORT_KEY))
                .update_expression(
                    "SET #state = :in_progress, claim_token = :token, lease_until = :lease_until, \
                     lease_expires_at = :lease_expires_at, updated_at = :now, qargo_consignment_id = :id, \
                     expires_at = :expires_at, failure = :null, booking = if_not_exists(booking, :null), \
                     attempt = if_not_exists(attempt, :zero) + :one",
                )
                .condition_expression(
                    "attribute_not_exists(pk) OR #state IN (:failed, :cancelled) \
                     OR (#state = :in_progress AND lease_until <= :now_seconds)",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":in_progress", state_value(DispatchState::InProgress)?)
                .expression_attribute_values(":failed", state_value(DispatchState::Failed)?)
                .expression_attribute_values(":cancelled", state_value(DispatchState::Cancelled)?)
                .expression_attribute_values(":token", s(&token))
                .expression_attribute_values(":lease_until", n(epoch_seconds(now + lease)))
                .expression_attribute_values(":lease_expires_at", encode("lease", now + lease)?)
                .expression_attribute_values(":now", encode("now", now)?)
                .expression_attribute_values(":now_seconds", n(epoch_seconds(now)))
                .expression_attribute_values(":id", s(id.as_str()))
                .expression_attribute_values(":expires_at", ledger_expiry(now))
                .expression_attribute_values(":null", AttributeValue::Null(true))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::AllOld)
                .send()
                .await;
            match answer {
                Ok(answer) => {
                    let old = answer.attributes.filter(|item| !item.is_empty());
                    let previous = old.map(|item| decode::<LedgerItem>(&pk, item).map(|i| i.record)).transpose()?;
                    // The condition held, so the pure rule agrees; its outcome carries the claim.
                    return Ok(transition::claim(id, previous.as_ref(), now, lease, token).1);
                }
                Err(err) if is_condition_failure(&err) => {
                    if let Some(record) = self.get_record(&pk).await?
                        && !record.is_claimable(now)
                    {
                        return Ok(transition::refusal(&record));
                    }
                    // It changed between our write and our read (e.g. its holder failed): go again.
                }
                Err(err) => return Err(failed("UpdateItem")(err)),
            }
        }
        Err(StoreError::Backend {
            backend: "DynamoDB",
            operation: "claim",
            reason: format!("the dispatch record changed {CLAIM_ATTEMPTS} times while it was being claimed"),
        })
    }

    async fn record_booked(
        &self,
        claim: &DispatchClaim,
        booking: Booking,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.update_ledger(
            &claim.qargo_consignment_id,
            "SET #state = :booked, booking = :booking, updated_at = :now, failure = :null, expires_at = :expires_at",
            "#state = :in_progress AND claim_token = :token",
            vec![
                (":booked", state_value(DispatchState::Booked)?),
                (":booking", encode("booking", &booking)?),
                (":now", encode("now", now)?),
                (":null", AttributeValue::Null(true)),
                (":expires_at", ledger_expiry(now)),
                (":in_progress", state_value(DispatchState::InProgress)?),
                (":token", s(&claim.token)),
            ],
        )
        .await
    }

    async fn record_failed(
        &self,
        claim: &DispatchClaim,
        reason: &str,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.update_ledger(
            &claim.qargo_consignment_id,
            "SET #state = :failed, failure = :reason, updated_at = :now, expires_at = :expires_at",
            "#state = :in_progress AND claim_token = :token",
            vec![
                (":failed", state_value(DispatchState::Failed)?),
                (":reason", s(reason)),
                (":now", encode("now", now)?),
                (":expires_at", ledger_expiry(now)),
                (":in_progress", state_value(DispatchState::InProgress)?),
                (":token", s(&claim.token)),
            ],
        )
        .await
    }

    async fn record_labelled(
        &self,
        id: &QargoConsignmentId,
        label_keys: Vec<String>,
        now: Timestamp,
    ) -> Result<DispatchRecord, StoreError> {
        self.update_ledger(
            id,
            "SET #state = :labelled, booking.label_keys = :keys, updated_at = :now",
            "#state IN (:booked, :labelled)",
            vec![
                (":labelled", state_value(DispatchState::Labelled)?),
                (":booked", state_value(DispatchState::Booked)?),
                (":keys", encode("label_keys", &label_keys)?),
                (":now", encode("now", now)?),
            ],
        )
        .await
    }

    async fn record_cancelled(&self, id: &QargoConsignmentId, now: Timestamp) -> Result<DispatchRecord, StoreError> {
        self.update_ledger(
            id,
            "SET #state = :cancelled, updated_at = :now",
            "#state IN (:booked, :labelled)",
            vec![
                (":cancelled", state_value(DispatchState::Cancelled)?),
                (":booked", state_value(DispatchState::Booked)?),
                (":labelled", state_value(DispatchState::Labelled)?),
                (":now", encode("now", now)?),
            ],
        )
        .await
    }

    async fn get(&self, id: &QargoConsignmentId) -> Result<Option<DispatchRecord>, StoreError> {
        self.get_record(&ledger_key(id)).await
    }
}

#[async_trait]
impl Cursors for DynamoStore {
    async fn read(&self, key: &CursorKey) -> Result<Option<Cursor>, StoreError> {
        let pk = key.storage_key();
        self.get_item(&pk).await?.map(|item| decode::<CursorItem>(&pk, item).map(|stored| stored.cursor)).transpose()
    }

    async fn compare_and_set(
        &self,
        key: &CursorKey,
        expected_version: Option<u64>,
        position: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let pk = key.storage_key();
        let item = CursorItem {
            pk: pk.clone(),
            sk: SORT_KEY.into(),
            cursor: Cursor {
                position: position.to_owned(),
                version: expected_version.map_or(1, |v| v + 1),
                updated_at: now,
            },
        };
        let item = to_item(&item).map_err(|err| StoreError::Corrupt { key: pk, reason: err.to_string() })?;
        match expected_version {
            None => self.put_if(item, "attribute_not_exists(pk)", &[]).await,
            Some(version) => self.put_if(item, "version = :expected", &[(":expected", n(version as i64))]).await,
        }
    }
}

#[async_trait]
impl SyncState for DynamoStore {
    async fn load(&self, key: &SyncKey) -> Result<Option<ConsignmentSync>, StoreError> {
        let pk = key.storage_key();
        self.get_item(&pk).await?.map(|item| decode::<SyncItem>(&pk, item).map(|stored| stored.state)).transpose()
    }

    async fn save(&self, key: &SyncKey, state: &ConsignmentSync) -> Result<bool, StoreError> {
        let pk = key.storage_key();
        let next = next_sync(Some(state), state).expect("a state is its own version");
        let item = SyncItem {
            pk: pk.clone(),
            sk: SORT_KEY.into(),
            expires_at: next.forget_after.map(epoch_seconds),
            state: next,
        };
        let item = to_item(&item).map_err(|err| StoreError::Corrupt { key: pk, reason: err.to_string() })?;
        if state.version == 0 {
            self.put_if(item, "attribute_not_exists(pk)", &[]).await
        } else {
            self.put_if(item, "version = :expected", &[(":expected", n(state.version as i64))]).await
        }
    }
}

#[async_trait]
impl TokenCache for DynamoStore {
    async fn get(&self, name: &str) -> Result<Option<CachedToken>, StoreError> {
        let pk = token_key(name);
        let Some(item) = self.get_item(&pk).await? else {
            return Ok(None);
        };
        let stored: TokenItem = decode(&pk, item)?;
        Ok(Some(CachedToken { token: Secret::new(stored.token), expires_at: stored.token_expires_at }))
    }

    async fn put(&self, name: &str, token: &CachedToken) -> Result<(), StoreError> {
        let pk = token_key(name);
        let item = TokenItem {
            pk: pk.clone(),
            sk: SORT_KEY.into(),
            token: token.token.expose().to_owned(),
            token_expires_at: token.expires_at,
            // Keep a dead token a day for diagnosis, then let TTL remove it.
            expires_at: epoch_seconds(token.expires_at + 24.hours()),
        };
        let item = to_item(&item).map_err(|err| StoreError::Corrupt { key: pk, reason: err.to_string() })?;
        self.put_if(item, "attribute_not_exists(pk) OR attribute_exists(pk)", &[]).await.map(drop)
    }

    async fn claim_refresh(&self, name: &str, now: Timestamp, lease: SignedDuration) -> Result<bool, StoreError> {
        let lease_until = epoch_seconds(now + lease);
        let item: Item = [
            ("pk".to_owned(), s(refresh_lock_key(name))),
            ("sk".to_owned(), s(SORT_KEY)),
            ("lease_until".to_owned(), n(lease_until)),
            ("expires_at".to_owned(), n(lease_until + 3600)),
        ]
        .into();
        self.put_if(item, "attribute_not_exists(pk) OR lease_until <= :now", &[(":now", n(epoch_seconds(now)))]).await
    }

    async fn release_refresh(&self, name: &str, now: Timestamp) -> Result<(), StoreError> {
        let now = epoch_seconds(now);
        let item: Item = [
            ("pk".to_owned(), s(refresh_lock_key(name))),
            ("sk".to_owned(), s(SORT_KEY)),
            ("lease_until".to_owned(), n(now)),
            ("expires_at".to_owned(), n(now + 3600)),
        ]
        .into();
        self.put_if(item, "attribute_not_exists(pk) OR attribute_exists(pk)", &[]).await.map(drop)
    }
}

/// How many times a reservation tries when other callers move the budget between its writes.
const RESERVE_ATTEMPTS: usize = 6;

/// How long a budget's item outlives its last turn (TTL): an idle budget starts afresh anyway.
const BUDGET_RETENTION_SECONDS: i64 = 24 * 3600;

#[async_trait]
impl RateBudgets for DynamoStore {
    /// One `UpdateItem` a turn while the budget is busy (`tat = tat + interval` under the condition
    /// that the turn is within `max_wait`); a quiet budget takes a second write that starts it from
    /// now, and a refused one a read to tell how far away its next turn is.
    async fn reserve(&self, name: &str, rate: Rate, now_ms: i64, max_wait: Duration) -> Result<Turn, StoreError> {
        let pk = budget_key(name);
        let interval = interval_ms(rate);
        let expiry = n(now_ms / 1000 + BUDGET_RETENTION_SECONDS);
        let tat_of = |item: Option<&Item>| -> Option<i64> { item?.get("tat")?.as_n().ok()?.parse().ok() };
        for _ in 0..RESERVE_ATTEMPTS {
            // Busy: the next turn is now or later, and near enough.
            let busy = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(SORT_KEY))
                .update_expression("SET tat = tat + :interval, expires_at = :expiry")
                .condition_expression("tat >= :now AND tat <= :latest")
                .expression_attribute_values(":interval", n(interval))
                .expression_attribute_values(":expiry", expiry.clone())
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":latest", n(latest_tat_within(rate, now_ms, max_wait)))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match busy {
                Ok(answer) => {
                    let tat = tat_of(answer.attributes.as_ref())
                        .ok_or_else(|| StoreError::Corrupt { key: pk.clone(), reason: "no numeric tat".into() })?;
                    // The turn taken is the one the TAT stood at before this write.
                    return Ok(Turn::After(wait_for(tat - interval, rate, now_ms)));
                }
                Err(err) if is_condition_failure(&err) => {}
                Err(err) => return Err(failed("UpdateItem")(err)),
            }
            // Quiet (or never used): the turn is now, and the next one an interval on.
            let item: Item = [
                ("pk".to_owned(), s(&pk)),
                ("sk".to_owned(), s(SORT_KEY)),
                ("tat".to_owned(), n(now_ms + interval)),
                ("expires_at".to_owned(), expiry.clone()),
            ]
            .into();
            if self.put_if(item, "attribute_not_exists(tat) OR tat < :now", &[(":now", n(now_ms))]).await? {
                return Ok(Turn::After(Duration::ZERO));
            }
            // Neither: the budget is booked past `max_wait`, or another caller moved it meanwhile.
            let stored = tat_of(self.get_item(&pk).await?.as_ref());
            if let Some(tat) = stored.filter(|tat| *tat > latest_tat_within(rate, now_ms, max_wait)) {
                return Ok(Turn::NotWithin(wait_for(tat, rate, now_ms)));
            }
        }
        Err(StoreError::Backend {
            backend: "DynamoDB",
            operation: "UpdateItem",
            reason: format!("the budget {name} kept moving under {RESERVE_ATTEMPTS} reservations"),
        })
    }
}

impl DynamoStore {
    /// Every item whose `pk` starts with `prefix`: a paged `Scan` of the whole table (the operations
    /// CLI's reads; its cost grows with the table).
    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Item)>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let answer = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(failed("Scan"))?;
            for item in answer.items.unwrap_or_default() {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    items.push((pk.clone(), item));
                }
            }
            match answer.last_evaluated_key.filter(|key| !key.is_empty()) {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(items)
    }
}

#[async_trait]
impl RecordScan for DynamoStore {
    async fn dispatch_records(&self) -> Result<Vec<DispatchRecord>, StoreError> {
        self.scan_prefix(DISPATCH_PREFIX)
            .await?
            .into_iter()
            .map(|(pk, item)| decode::<LedgerItem>(&pk, item).map(|stored| stored.record))
            .collect()
    }

    async fn sync_records(&self) -> Result<Vec<(SyncKey, ConsignmentSync)>, StoreError> {
        let mut records = Vec::new();
        for (pk, item) in self.scan_prefix(SYNC_PREFIX).await? {
            if let Some(key) = sync_key_of(&pk) {
                records.push((key, decode::<SyncItem>(&pk, item)?.state));
            }
        }
        Ok(records)
    }

    async fn cursor_records(&self, job: &str) -> Result<Vec<(String, Cursor)>, StoreError> {
        self.scan_prefix(&cursor_prefix(job))
            .await?
            .into_iter()
            .map(|(pk, item)| decode::<CursorItem>(&pk, item).map(|stored| (pk, stored.cursor)))
            .collect()
    }
}
