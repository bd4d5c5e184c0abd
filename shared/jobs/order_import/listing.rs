//! The listings: the delta listing (page by page) or the seen listing (per mapped customer), cut
//! into chunks, and what to do with each listed consignment.

use std::collections::BTreeSet;

use jiff::civil::DateTime;

use super::state::Rejected;
use super::{CHUNK, DepotRun, NetworkCursor, Stop, Work, london, state_of};
use crate::domain::{ConsignmentStatus, DepotCode, Network, NexusConsignmentId};
use crate::jobs::seen_listing;
use crate::nexus::NexusError;
use crate::nexus::wire::Consignment;
use crate::qargo::inbound_order::{customer_of, fingerprint, order_content, order_identifier};
use crate::qargo::wire::{OrderInput, OrderOperation};
use crate::store::SyncKey;

/// What to do with one listed consignment.
enum Decision {
    /// Requested by one of our depots.
    Own,
    /// Not for this depot, or not on one of its networks.
    Elsewhere,
    /// Finished; nothing for Qargo.
    Finished {
        network: Network,
        id: i64,
        day: jiff::civil::Date,
    },
    /// Nothing new for Qargo.
    Unchanged(Network),
    Reject {
        network: Network,
        id: i64,
        refusal: Rejected,
    },
    Send(Work),
}

impl DepotRun<'_> {
    pub(super) async fn import_listing(&mut self, window_start: DateTime) -> Result<(), Stop> {
        let nexus = self.nexus.clone();
        let mut pages = nexus.changed_since(window_start, self.bridge.settings.nexus_list_page_size());
        loop {
            if self.options.out_of_time() {
                return Err(Stop::Deadline);
            }
            let Some(page) = pages.next_page().await.map_err(Stop::Nexus)? else {
                self.report.unreadable = pages.skipped() as u32;
                return Ok(());
            };
            self.report.nexus_requests += 1;
            for chunk in page.chunks(CHUNK) {
                self.import_chunk(chunk).await?;
            }
        }
    }

    /// The seen listing ([`seen_listing`]): for each mapped customer on one of the depot's networks,
    /// every consignment created in the window; one whose record changed since the last run is read
    /// with its route details (for its pallet count), told whose it is from what the bridge booked,
    /// and decided as with the delta listing.
    pub(super) async fn import_seen(&mut self) -> Result<(), Stop> {
        let nexus = self.nexus.clone();
        let settings = &self.bridge.settings;
        let uk_today = self.uk_today();
        let mut listed = BTreeSet::new();
        let mut complete = true;
        for customer in settings.customer_map.nexus_ids() {
            let network = match settings.customer_map.network_of(customer) {
                Some(network) if self.depot.is_member_of(network) => network,
                Some(_) => continue,
                None if self.depot.networks().len() == 1 => self.depot.networks()[0],
                None => {
                    complete = false;
                    let problem = format!(
                        "customer {customer} is not listed: this Nexus does not say a consignment's network and {} is on both; \
                         name it in BRIDGE_CUSTOMER_MAP, e.g. {customer}:{}:PALLEX",
                        self.depot,
                        settings.customer_map.qargo_customer(customer).unwrap_or("CODE")
                    );
                    tracing::warn!(depot = %self.depot, customer, "customer without a network; not listed");
                    self.report.problems.push(problem);
                    continue;
                }
            };
            if self.options.out_of_time() {
                return Err(Stop::Deadline);
            }
            let listing = seen_listing::list_recent(&nexus, Some(customer), uk_today, settings.nexus_list_page_size())
                .await
                .map_err(Stop::Nexus)?;
            self.report.nexus_requests += listing.requests;
            self.report.unreadable += listing.skipped as u32;
            complete &= listing.skipped == 0;
            let mut fresh = Vec::new();
            for record in listing.consignments {
                let id = record.consignment_id;
                listed.insert(id);
                let state =
                    &self.cursors.iter().find(|c| c.key.network == network).expect("a cursor per network").state;
                if state.listed.unchanged(Some(network), &record) {
                    let report = self.report.network_mut(network);
                    report.listed += 1;
                    report.unchanged += 1;
                    continue;
                }
                let key = SyncKey { network, nexus_consignment_id: NexusConsignmentId(id) };
                let booked =
                    self.bridge.sync_state.load(&key).await.map_err(Stop::Store)?.is_some_and(|s| s.qargo.is_some());
                let mut consignment = record.clone();
                let whose = if booked {
                    seen_listing::Whose::Booked { network }
                } else {
                    if consignment.pallets.is_empty() && consignment.route_details.is_empty() {
                        self.report.nexus_requests += 1;
                        match nexus.consignment(NexusConsignmentId(id), &["routedetails"]).await {
                            Ok(detail) => consignment = detail,
                            // Listed but not readable by this user any more: the next listing tells.
                            Err(NexusError::NotFound { .. }) => continue,
                            Err(err) => return Err(Stop::Nexus(err)),
                        }
                    }
                    seen_listing::Whose::Imported { network, customer: Some(customer) }
                };
                seen_listing::fill(&mut consignment, self.depot, &whose);
                self.listed_as.insert((network, id), record);
                fresh.push(consignment);
            }
            for chunk in fresh.chunks(CHUNK) {
                self.import_chunk(chunk).await?;
            }
        }
        if complete {
            let mut draft = self.draft();
            for cursor in &mut draft {
                cursor.state.listed.keep_only(&listed);
            }
            self.checkpoint(draft).await?;
        }
        Ok(())
    }

    /// Handles listed consignments: decides, sends, records, and moves the cursor past them.
    async fn import_chunk(&mut self, consignments: &[Consignment]) -> Result<(), Stop> {
        if self.options.out_of_time() {
            return Err(Stop::Deadline);
        }
        let mut draft = self.draft();
        let mut works = Vec::new();
        for consignment in consignments {
            match self.decide(consignment, &draft) {
                Decision::Own => self.report.own += 1,
                Decision::Elsewhere => {}
                Decision::Finished { network, id, day } => {
                    self.touched.insert((network, id));
                    self.report.network_mut(network).listed += 1;
                    let state = &mut state_of(&mut draft, network).state;
                    match state.imported.get_mut(&id) {
                        Some(entry) => {
                            entry.finished.get_or_insert(day);
                        }
                        None => self.report.network_mut(network).finished += 1,
                    }
                    state.rejected.remove(&id);
                }
                Decision::Unchanged(network) => {
                    let report = self.report.network_mut(network);
                    report.listed += 1;
                    report.unchanged += 1;
                }
                Decision::Reject { network, id, refusal } => {
                    self.touched.insert((network, id));
                    self.report.network_mut(network).listed += 1;
                    tracing::info!(depot = %self.depot, %network, id, reason = %refusal.reason, "consignment not imported");
                    state_of(&mut draft, network).state.reject(id, refusal);
                }
                Decision::Send(work) => {
                    self.touched.insert((work.network, work.id));
                    self.report.network_mut(work.network).listed += 1;
                    works.push(work);
                }
            }
        }
        self.exchange(works, &mut draft).await?;
        for consignment in consignments {
            let network = consignment.network.as_ref().and_then(|n| n.code.parse::<Network>().ok());
            if let Some(network) = network
                && let Some(record) = self.listed_as.remove(&(network, consignment.consignment_id))
            {
                state_of(&mut draft, network).state.listed.remember(Some(network), &record);
            }
        }
        let uk_now = self.bridge.clock.now().to_zoned(london()).datetime();
        let last = consignments.iter().rev().find_map(|c| crate::jobs::lookup::cursor_time(c.last_updated, uk_now));
        if let Some(last) = last {
            for cursor in &mut draft {
                if cursor.state.since.is_none_or(|since| since < last) {
                    cursor.state.since = Some(last);
                }
            }
        }
        self.checkpoint(draft).await
    }

    fn decide(&self, c: &Consignment, draft: &[NetworkCursor]) -> Decision {
        let is_ours = |code: &Option<String>| {
            code.as_deref()
                .and_then(|code| code.parse::<DepotCode>().ok())
                .is_some_and(|code| self.ours.contains(&code))
        };
        if is_ours(&c.requesting_depot_code) {
            return Decision::Own;
        }
        let network = match c.network.as_ref().map(|n| n.code.parse::<Network>()) {
            Some(Ok(network)) => network,
            _ if self.depot.networks().len() == 1 => self.depot.networks()[0],
            _ => {
                tracing::warn!(id = c.consignment_id, "consignment without a known network; skipped");
                return Decision::Elsewhere;
            }
        };
        let ours_to_handle = |code: &Option<String>| {
            code.as_deref().is_some_and(|code| code.trim().eq_ignore_ascii_case(self.depot.as_str()))
        };
        if !self.depot.is_member_of(network)
            || !(ours_to_handle(&c.delivery_depot_code) || ours_to_handle(&c.collecting_depot_code))
        {
            return Decision::Elsewhere;
        }
        let id = c.consignment_id;
        let state = &draft.iter().find(|cursor| cursor.key.network == network).expect("a cursor per network").state;
        let known = state.imported.get(&id);
        let status = crate::jobs::lookup::consignment_status(c);
        let day = c.last_updated.map_or_else(|| self.uk_today(), |at| at.date());
        let now = self.bridge.clock.now();
        let depot_address =
            self.bridge.settings.depots.iter().find(|d| &d.code == self.depot).and_then(|d| d.address.as_ref());
        let content = order_content(c, network, depot_address);

        if status.is_some_and(|s| s.code() == "CAN") {
            return match known {
                Some(entry) if !entry.cancelled => {
                    // Qargo's `OrderInput` requires `customer` and `consignments` on a DELETE too: a
                    // cancellation that no longer maps is refused here, named, for a person to finish.
                    let cancel_refusal = |reason: String| Rejected {
                        number: c.consignment_number.clone(),
                        reason: format!(
                            "cancelled on Nexus, but the Qargo order {} cannot be cancelled by the bridge ({reason}); cancel it in Qargo",
                            order_identifier(network, NexusConsignmentId(id))
                        ),
                        attempts: 0,
                        first_at: now,
                        last_at: now,
                        operation: OrderOperation::Delete,
                        customer: c.customer_id,
                        order: None,
                    };
                    let mut order = match content {
                        Ok(order) => order,
                        Err(err) => return Decision::Reject { network, id, refusal: cancel_refusal(err.to_string()) },
                    };
                    match customer_of(c, &self.bridge.settings.customer_map) {
                        Ok(customer) => order.customer = Some(customer),
                        Err(err) => return Decision::Reject { network, id, refusal: cancel_refusal(err.to_string()) },
                    }
                    let fingerprint = fingerprint(&order);
                    Decision::Send(Work {
                        network,
                        id,
                        number: c.consignment_number.clone(),
                        operation: OrderOperation::Delete,
                        customer: c.customer_id,
                        order,
                        fingerprint,
                        day,
                    })
                }
                _ => Decision::Finished { network, id, day },
            };
        }
        if status.is_some_and(ConsignmentStatus::is_terminal) || known.is_some_and(|k| k.cancelled) {
            return Decision::Finished { network, id, day };
        }
        let operation = if known.is_some() { OrderOperation::Update } else { OrderOperation::Create };
        let refusal = |reason: String, order: Option<OrderInput>| Rejected {
            number: c.consignment_number.clone(),
            reason,
            attempts: 0,
            first_at: now,
            last_at: now,
            operation,
            customer: c.customer_id,
            order,
        };
        let mut order = match content {
            Ok(order) => order,
            // Nothing to retry until the consignment changes on Nexus (it is listed again then).
            Err(err) => return Decision::Reject { network, id, refusal: refusal(err.to_string(), None) },
        };
        match customer_of(c, &self.bridge.settings.customer_map) {
            Ok(customer) => order.customer = Some(customer),
            Err(err) => return Decision::Reject { network, id, refusal: refusal(err.to_string(), Some(order)) },
        }
        let fingerprint = fingerprint(&order);
        if known.is_some_and(|k| k.fingerprint == fingerprint) && !state.rejected.contains_key(&id) {
            return Decision::Unchanged(network);
        }
        Decision::Send(Work {
            network,
            id,
            number: c.consignment_number.clone(),
            operation,
            customer: c.customer_id,
            order,
            fingerprint,
            day,
        })
    }
}
