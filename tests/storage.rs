//! The storage contract: the same tests run against every adapter — in-memory, embedded (redb and
//! a folder), and DynamoDB and S3 over HTTP to moto.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use bridge::config::Secret;
use bridge::domain::{Network, NexusConsignmentId, QargoConsignmentId};
use bridge::error::StoreError;
use bridge::store::embedded::{DirectoryDocuments, EmbeddedStore};
use bridge::store::memory::{MemoryDocuments, MemoryStore};
use bridge::store::{
    Booking, CachedToken, ClaimOutcome, ConsignmentSync, CursorKey, Cursors, DispatchClaim, DispatchLedger,
    DispatchState, DocumentStore, Rate, RateBudgets, SyncKey, SyncState, TokenCache, Turn, sha256_hex,
};
use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinSet;

/// A store under test, with whatever must live as long as it (a temporary folder).
struct Fixture<S> {
    store: Arc<S>,
    _folder: Option<tempfile::TempDir>,
}

impl<S> Deref for Fixture<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.store
    }
}

async fn memory() -> Fixture<MemoryStore> {
    Fixture { store: Arc::new(MemoryStore::in_memory()), _folder: None }
}

async fn embedded() -> Fixture<EmbeddedStore> {
    let folder = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&folder.path().join("bridge.redb")).unwrap();
    Fixture { store: Arc::new(store), _folder: Some(folder) }
}

async fn dynamodb() -> Fixture<bridge::store::dynamo::DynamoStore> {
    Fixture { store: Arc::new(end_to_end::dynamo_store().await), _folder: None }
}

async fn memory_documents() -> Fixture<MemoryDocuments> {
    Fixture { store: Arc::new(MemoryDocuments::default()), _folder: None }
}

async fn folder_documents() -> Fixture<DirectoryDocuments> {
    let folder = tempfile::tempdir().unwrap();
    Fixture { store: Arc::new(DirectoryDocuments::new(folder.path())), _folder: Some(folder) }
}

async fn s3_documents() -> Fixture<bridge::store::s3::S3Documents> {
    Fixture { store: Arc::new(end_to_end::s3_documents().await), _folder: None }
}

fn t0() -> Timestamp {
    "2026-06-17T10:00:00Z".parse().unwrap()
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

fn dispatch_id() -> QargoConsignmentId {
    uuid::Uuid::new_v4().to_string().parse().unwrap()
}

fn booking() -> Booking {
    Booking {
        network: Network::Fortec,
        nexus_consignment_id: NexusConsignmentId(10001),
        consignment_number: "QG-1001".into(),
        barcodes: vec!["1044000106606774".parse().unwrap(), "1044000106606775".parse().unwrap()],
        label_keys: vec![],
        depot: Some("PGD302".parse().unwrap()),
        request_fingerprint: Some("f1".into()),
        // Kept through every store: an old UPDATE replayed is told by these.
        superseded_fingerprints: vec!["f0".into()],
    }
}

fn claimed(outcome: ClaimOutcome) -> (DispatchClaim, Option<bridge::store::DispatchRecord>) {
    match outcome {
        ClaimOutcome::Claimed { claim, previous } => (claim, previous),
        other => panic!("expected a claim, got {other:?}"),
    }
}

// ---- dispatch ledger -------------------------------------------------------------------------

async fn ledger_records_the_whole_life_of_a_dispatch(ledger: &dyn DispatchLedger) {
    let id = dispatch_id();
    assert_eq!(ledger.get(&id).await.unwrap(), None);

    let (claim, previous) = claimed(ledger.claim(&id, t0(), secs(30)).await.unwrap());
    assert_eq!((claim.attempt, previous), (1, None));
    let held = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!(held.state, DispatchState::InProgress);
    assert_eq!(held.lease_expires_at, t0() + secs(30));

    match ledger.claim(&id, t0() + secs(1), secs(30)).await.unwrap() {
        ClaimOutcome::Busy { lease_expires_at } => assert_eq!(lease_expires_at, t0() + secs(30)),
        other => panic!("a held claim must answer Busy, got {other:?}"),
    }

    let booked = ledger.record_booked(&claim, booking(), t0() + secs(2)).await.unwrap();
    assert_eq!(booked.state, DispatchState::Booked);
    assert_eq!(booked.booking.as_ref(), Some(&booking()));

    // A retry long after the lease gets the recorded answer, never a second claim.
    match ledger.claim(&id, t0() + secs(3600), secs(30)).await.unwrap() {
        ClaimOutcome::Done(record) => assert_eq!(record, booked),
        other => panic!("a booked dispatch must answer Done, got {other:?}"),
    }

    let keys = vec!["labels/FORTEC/10001/all.pdf".to_owned()];
    let labelled = ledger.record_labelled(&id, keys.clone(), t0() + secs(4)).await.unwrap();
    assert_eq!(labelled.state, DispatchState::Labelled);
    assert_eq!(labelled.booking.as_ref().unwrap().label_keys, keys);
    assert_eq!(labelled.booking.as_ref().unwrap().barcodes, booking().barcodes);
    assert_eq!(ledger.get(&id).await.unwrap().unwrap(), labelled);

    let cancelled = ledger.record_cancelled(&id, t0() + secs(5)).await.unwrap();
    assert_eq!(cancelled.state, DispatchState::Cancelled);

    // A cancelled dispatch may be dispatched again; the new holder sees what was there.
    let (again, previous) = claimed(ledger.claim(&id, t0() + secs(6), secs(30)).await.unwrap());
    assert_eq!(again.attempt, 2);
    assert_eq!(previous.unwrap().state, DispatchState::Cancelled);
}

async fn ledger_failed_dispatch_can_be_retried(ledger: &dyn DispatchLedger) {
    let id = dispatch_id();
    let (claim, _) = claimed(ledger.claim(&id, t0(), secs(30)).await.unwrap());
    let failed = ledger.record_failed(&claim, "customer has no FortecID", t0()).await.unwrap();
    assert_eq!(failed.state, DispatchState::Failed);
    assert_eq!(failed.failure.as_deref(), Some("customer has no FortecID"));

    // Labels and cancels need a booking.
    assert!(matches!(ledger.record_labelled(&id, vec![], t0()).await, Err(StoreError::ClaimLost { .. })));
    assert!(matches!(ledger.record_cancelled(&id, t0()).await, Err(StoreError::ClaimLost { .. })));
    // The finished claim cannot record twice.
    assert!(matches!(ledger.record_booked(&claim, booking(), t0()).await, Err(StoreError::ClaimLost { .. })));

    let (retry, previous) = claimed(ledger.claim(&id, t0() + secs(1), secs(30)).await.unwrap());
    assert_eq!(retry.attempt, 2);
    assert_eq!(previous.unwrap().failure.as_deref(), Some("customer has no FortecID"));
    let booked = ledger.record_booked(&retry, booking(), t0() + secs(2)).await.unwrap();
    assert_eq!(booked.failure, None);
}

async fn ledger_expired_lease_is_reclaimed_and_the_old_holder_is_shut_out(ledger: &dyn DispatchLedger) {
    let id = dispatch_id();
    let (crashed, _) = claimed(ledger.claim(&id, t0(), secs(30)).await.unwrap());
    assert!(matches!(ledger.claim(&id, t0() + secs(29), secs(30)).await.unwrap(), ClaimOutcome::Busy { .. }));

    let (recovery, previous) = claimed(ledger.claim(&id, t0() + secs(30), secs(30)).await.unwrap());
    assert_eq!(recovery.attempt, 2);
    let previous = previous.expect("the recovering claim is told what it took over");
    assert_eq!(previous.state, DispatchState::InProgress);
    assert_eq!(previous.claim_token, crashed.token);

    // The crashed holder wakes up late: its booking must not be recorded over the new claim.
    let late = ledger.record_booked(&crashed, booking(), t0() + secs(31)).await;
    assert!(matches!(late, Err(StoreError::ClaimLost { .. })), "{late:?}");
    let record = ledger.record_booked(&recovery, booking(), t0() + secs(32)).await.unwrap();
    assert_eq!(record.claim_token, recovery.token);
}

async fn ledger_fifty_concurrent_claims_one_wins<S: DispatchLedger + 'static>(ledger: Arc<S>) {
    let id = dispatch_id();
    let mut claims = JoinSet::new();
    for _ in 0..50 {
        let ledger = Arc::clone(&ledger);
        let id = id.clone();
        claims.spawn(async move { ledger.claim(&id, t0(), secs(60)).await.unwrap() });
    }
    let outcomes = claims.join_all().await;
    let winners = outcomes.iter().filter(|o| matches!(o, ClaimOutcome::Claimed { .. })).count();
    let busy = outcomes.iter().filter(|o| matches!(o, ClaimOutcome::Busy { .. })).count();
    assert_eq!((winners, busy), (1, 49), "{outcomes:?}");
}

// ---- cursors -----------------------------------------------------------------------------------

fn cursor_key() -> CursorKey {
    CursorKey { job: "order-import", depot: "PGD302".parse().unwrap(), network: Network::Fortec }
}

async fn cursor_compare_and_set(cursors: &dyn Cursors) {
    // Unique per run: the job name is static, so vary the depot.
    let key = CursorKey { depot: format!("PGD{}", rand_digits()).parse().unwrap(), ..cursor_key() };
    assert_eq!(cursors.read(&key).await.unwrap(), None);
    assert!(cursors.compare_and_set(&key, None, "2026-06-17T10:00:00", t0()).await.unwrap());
    assert!(!cursors.compare_and_set(&key, None, "2026-06-17T11:00:00", t0()).await.unwrap());
    let cursor = cursors.read(&key).await.unwrap().unwrap();
    assert_eq!((cursor.position.as_str(), cursor.version), ("2026-06-17T10:00:00", 1));
    assert!(cursors.compare_and_set(&key, Some(1), "2026-06-17T10:05:00", t0() + secs(300)).await.unwrap());
    assert!(!cursors.compare_and_set(&key, Some(1), "2026-06-17T10:04:00", t0()).await.unwrap());
    let cursor = cursors.read(&key).await.unwrap().unwrap();
    assert_eq!((cursor.position.as_str(), cursor.version), ("2026-06-17T10:05:00", 2));
    assert_eq!(cursor.updated_at, t0() + secs(300));

    let other_network = CursorKey { network: Network::Pallex, ..key };
    assert_eq!(cursors.read(&other_network).await.unwrap(), None);
}

async fn cursor_race_one_wins<S: Cursors + 'static>(cursors: Arc<S>) {
    let key = CursorKey { depot: format!("PGD{}", rand_digits()).parse().unwrap(), ..cursor_key() };
    assert!(cursors.compare_and_set(&key, None, "start", t0()).await.unwrap());
    let mut racers = JoinSet::new();
    for racer in 0..20 {
        let cursors = Arc::clone(&cursors);
        let key = key.clone();
        racers.spawn(async move {
            let position = format!("racer-{racer}");
            let won = cursors.compare_and_set(&key, Some(1), &position, t0()).await.unwrap();
            (won, position)
        });
    }
    let results = racers.join_all().await;
    let winners: Vec<_> = results.iter().filter(|(won, _)| *won).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let cursor = cursors.read(&key).await.unwrap().unwrap();
    assert_eq!((cursor.position.as_str(), cursor.version), (winners[0].1.as_str(), 2));
}

fn rand_digits() -> u32 {
    (uuid::Uuid::new_v4().as_u128() % 900_000 + 100_000) as u32
}

// ---- sync state --------------------------------------------------------------------------------

fn sync_key() -> SyncKey {
    SyncKey { network: Network::Pallex, nexus_consignment_id: NexusConsignmentId(i64::from(rand_digits())) }
}

async fn sync_state_saves_with_versions(sync: &dyn SyncState) {
    let key = sync_key();
    assert_eq!(sync.load(&key).await.unwrap(), None);
    let mut state = ConsignmentSync::default();
    state.applied_event_ids.extend([1, 2, 3]);
    state.eta_last_sent = Some(bridge::store::EtaSent {
        date: "2026-06-18".parse().unwrap(),
        time: Some("10:30".parse().unwrap()),
        start_window: Some("09:00".parse().unwrap()),
        end_window: None,
        sent_at: t0(),
    });
    state.documents.insert(
        sha256_hex(b"signature"),
        bridge::store::SyncedDocument {
            kind: bridge::domain::DocumentKind::Mpod,
            direction: bridge::store::SyncDirection::Download,
            store_key: "pod/PALLEX/1/MPOD/x.png".into(),
            synced_at: t0(),
        },
    );
    state.forget_after = Some(t0() + secs(72 * 3600));
    assert!(sync.save(&key, &state).await.unwrap());
    assert!(!sync.save(&key, &state).await.unwrap(), "a stale version must not save");

    let mut loaded = sync.load(&key).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(ConsignmentSync { version: 0, ..loaded.clone() }, state);

    loaded.applied_event_ids.insert(4);
    assert!(sync.save(&key, &loaded).await.unwrap());
    let reloaded = sync.load(&key).await.unwrap().unwrap();
    assert_eq!(reloaded.version, 2);
    assert!(reloaded.applied_event_ids.contains(&4));
}

async fn sync_state_race_one_wins<S: SyncState + 'static>(sync: Arc<S>) {
    let key = sync_key();
    assert!(sync.save(&key, &ConsignmentSync::default()).await.unwrap());
    let base = sync.load(&key).await.unwrap().unwrap();
    let mut racers = JoinSet::new();
    for event in 0..10 {
        let sync = Arc::clone(&sync);
        let mut state = base.clone();
        state.applied_event_ids.insert(event);
        racers.spawn(async move { sync.save(&key, &state).await.unwrap() });
    }
    let saved = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(saved, 1);
    assert_eq!(sync.load(&key).await.unwrap().unwrap().applied_event_ids.len(), 1);
}

// ---- token cache -------------------------------------------------------------------------------

async fn token_cache_shares_one_token<S: TokenCache + 'static>(tokens: Arc<S>) {
    let name = format!("qargo-{}", rand_digits());
    assert_eq!(tokens.get(&name).await.unwrap(), None);

    let mut racers = JoinSet::new();
    for _ in 0..20 {
        let tokens = Arc::clone(&tokens);
        let name = name.clone();
        racers.spawn(async move { tokens.claim_refresh(&name, t0(), secs(30)).await.unwrap() });
    }
    let granted = racers.join_all().await.into_iter().filter(|granted| *granted).count();
    assert_eq!(granted, 1, "exactly one instance may fetch a token");
    assert!(!tokens.claim_refresh(&name, t0() + secs(29), secs(30)).await.unwrap());
    assert!(tokens.claim_refresh(&name, t0() + secs(30), secs(30)).await.unwrap(), "an expired lock frees");
    tokens.release_refresh(&name, t0() + secs(31)).await.unwrap();
    assert!(tokens.claim_refresh(&name, t0() + secs(32), secs(30)).await.unwrap(), "a released lock frees at once");

    let token = CachedToken { token: Secret::new("eyJ.token.1"), expires_at: t0() + secs(3600) };
    tokens.put(&name, &token).await.unwrap();
    assert_eq!(tokens.get(&name).await.unwrap(), Some(token));
    let newer = CachedToken { token: Secret::new("eyJ.token.2"), expires_at: t0() + secs(7200) };
    tokens.put(&name, &newer).await.unwrap();
    assert_eq!(tokens.get(&name).await.unwrap().unwrap().token.expose(), "eyJ.token.2");
}

// ---- shared request budgets --------------------------------------------------------------------

async fn rate_budget_gives_each_caller_its_own_turn<S: RateBudgets + 'static>(budgets: Arc<S>) {
    let name = format!("qargo-{}", rand_digits());
    // 10 turns a second, 2 at once: 20 callers at the same instant get the burst, then one turn
    // every 100 ms, each turn to exactly one of them, whatever the order of their writes.
    let rate = Rate { interval: Duration::from_millis(100), burst: 2 };
    let now_ms = 1_800_000_000_000;
    let mut racers = JoinSet::new();
    for _ in 0..20 {
        let budgets = Arc::clone(&budgets);
        let name = name.clone();
        racers.spawn(async move { budgets.reserve(&name, rate, now_ms, Duration::from_secs(5)).await.unwrap() });
    }
    let mut waits: Vec<u128> = racers
        .join_all()
        .await
        .into_iter()
        .map(|turn| match turn {
            Turn::After(wait) => wait.as_millis(),
            Turn::NotWithin(wait) => panic!("refused a turn {wait:?} away"),
        })
        .collect();
    waits.sort_unstable();
    let expected: Vec<u128> = [0, 0].into_iter().chain((1..=18).map(|i| i * 100)).collect();
    assert_eq!(waits, expected);

    // Booked 2 s ahead: a caller who waits at most 1 s is refused and reserves nothing.
    let refused = budgets.reserve(&name, rate, now_ms, Duration::from_secs(1)).await.unwrap();
    assert_eq!(refused, Turn::NotWithin(Duration::from_millis(1_900)));
    let next = budgets.reserve(&name, rate, now_ms, Duration::from_secs(5)).await.unwrap();
    assert_eq!(next, Turn::After(Duration::from_millis(1_900)), "the refusal took no turn");
    // Idle for a minute: the burst is back.
    let later = now_ms + 60_000;
    assert_eq!(budgets.reserve(&name, rate, later, Duration::ZERO).await.unwrap(), Turn::After(Duration::ZERO));
    assert_eq!(budgets.reserve(&name, rate, later, Duration::ZERO).await.unwrap(), Turn::After(Duration::ZERO));
    assert!(matches!(budgets.reserve(&name, rate, later, Duration::ZERO).await.unwrap(), Turn::NotWithin(_)));
    // Budgets are independent.
    let other = format!("nexus-{}", rand_digits());
    assert_eq!(budgets.reserve(&other, rate, now_ms, Duration::ZERO).await.unwrap(), Turn::After(Duration::ZERO));
}

// ---- documents ---------------------------------------------------------------------------------

async fn documents_round_trip(documents: &dyn DocumentStore) {
    let key = format!("labels/PALLEX/{}/all.pdf", rand_digits());
    assert_eq!(documents.head(&key).await.unwrap(), None);
    assert!(documents.get(&key).await.unwrap().is_none());

    let pdf = b"%PDF-1.4 one label".to_vec();
    let stored = documents.put(&key, pdf.clone(), "application/pdf").await.unwrap();
    assert_eq!(stored.sha256, sha256_hex(&pdf));
    assert_eq!((stored.size, stored.content_type.as_str()), (pdf.len() as u64, "application/pdf"));
    assert_eq!(documents.head(&key).await.unwrap(), Some(stored.clone()));
    let (meta, bytes) = documents.get(&key).await.unwrap().unwrap();
    assert_eq!((meta, bytes), (stored, pdf));

    let zpl = b"^XA^FDlabel^FS^XZ".to_vec();
    let replaced = documents.put(&key, zpl.clone(), "text/plain").await.unwrap();
    assert_eq!(documents.head(&key).await.unwrap().unwrap().sha256, sha256_hex(&zpl));
    assert_eq!(documents.get(&key).await.unwrap().unwrap().1, zpl);
    assert_eq!(replaced.content_type, "text/plain");

    let empty_key = format!("pod/FORTEC/{}/POD/empty.pdf", rand_digits());
    let empty = documents.put(&empty_key, Vec::new(), "application/pdf").await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(documents.get(&empty_key).await.unwrap().unwrap().1, Vec::<u8>::new());

    for bad in ["../escape.pdf", "/absolute.pdf", "labels//x.pdf"] {
        assert!(documents.put(bad, b"x".to_vec(), "text/plain").await.is_err(), "{bad}");
    }
}

macro_rules! record_contract {
    ($adapter:ident) => {
        mod $adapter {
            #[tokio::test]
            async fn ledger_records_the_whole_life_of_a_dispatch() {
                super::ledger_records_the_whole_life_of_a_dispatch(&*super::$adapter().await).await;
            }

            #[tokio::test]
            async fn ledger_failed_dispatch_can_be_retried() {
                super::ledger_failed_dispatch_can_be_retried(&*super::$adapter().await).await;
            }

            #[tokio::test]
            async fn ledger_expired_lease_is_reclaimed_and_the_old_holder_is_shut_out() {
                super::ledger_expired_lease_is_reclaimed_and_the_old_holder_is_shut_out(&*super::$adapter().await)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
            async fn ledger_fifty_concurrent_claims_one_wins() {
                super::ledger_fifty_concurrent_claims_one_wins(super::$adapter().await.store.clone()).await;
            }

            #[tokio::test]
            async fn cursor_compare_and_set() {
                super::cursor_compare_and_set(&*super::$adapter().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
            async fn cursor_race_one_wins() {
                super::cursor_race_one_wins(super::$adapter().await.store.clone()).await;
            }

            #[tokio::test]
            async fn sync_state_saves_with_versions() {
                super::sync_state_saves_with_versions(&*super::$adapter().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
            async fn sync_state_race_one_wins() {
                super::sync_state_race_one_wins(super::$adapter().await.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
            async fn token_cache_shares_one_token() {
                super::token_cache_shares_one_token(super::$adapter().await.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
            async fn rate_budget_gives_each_caller_its_own_turn() {
                super::rate_budget_gives_each_caller_its_own_turn(super::$adapter().await.store.clone()).await;
            }
        }
    };
}

record_contract!(memory);
record_contract!(embedded);
record_contract!(dynamodb);

mod documents {
    #[tokio::test]
    async fn memory() {
        super::documents_round_trip(&*super::memory_documents().await).await;
    }

    #[tokio::test]
    async fn folder() {
        super::documents_round_trip(&*super::folder_documents().await).await;
    }

    #[tokio::test]
    async fn s3() {
        super::documents_round_trip(&*super::s3_documents().await).await;
    }
}
