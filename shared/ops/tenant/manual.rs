//! What Qargo's public API cannot show: printed as manual checks, each with the value to set
//! (outbound webhooks, question paths, additional fields, master-data codes).

use std::collections::BTreeSet;

use super::{TenantCheck, TenantInput};
use crate::config::OrderDoor;
use crate::domain::{DocumentKind, Extra, Network, PalletBase, PalletType, ServiceLevel, TimeWindowCode};

pub(super) fn manual_checks(input: &TenantInput, networks: &BTreeSet<Network>) -> Vec<TenantCheck> {
    let api =
        input.api_url.as_deref().map_or_else(|| "<ApiUrl>".to_owned(), |url| url.trim_end_matches('/').to_owned());
    let inbound = &input.secrets.inbound.username;
    let mut rows = Vec::new();
    rows.push(TenantCheck::manual(
        "outbound webhook: Subcontractor Dispatch",
        "Qargo calls the bridge when a dispatcher completes the resource dispatch task (CREATE / UPDATE / CANCEL); without \
         it nothing is booked on Nexus",
        format!(
            "in Qargo's integration settings for PALL-EX / Fortec: Subcontractor Dispatch URL \
             {api}/qargo/dispatch, HTTP Basic user {inbound:?} with the password of the secret's \"inbound\" entry"
        ),
    ));
    rows.push(TenantCheck::manual(
        "outbound webhook: Operational Visibility",
        "stop statuses (→ Nexus scans), documents (→ Nexus PODs) and ETAs (→ Nexus, with the Optimize key); without it \
         nothing goes from Qargo to Nexus after the booking",
        format!(
            "in Qargo's integration settings for PALL-EX / Fortec, operational visibility: URL {api}/qargo/visibility, update types Stop, \
             Document and Eta (others are acknowledged and dropped), HTTP Basic user {inbound:?} with the \"inbound\" password"
        ),
    ));
    if input.settings.order_door == OrderDoor::Webhook {
        rows.push(TenantCheck::manual(
            "order import webhook (QARGO_ORDER_DOOR=webhook)",
            "imported consignments go to POST /v1/webhook, Qargo's asynchronous order import; a refusal decided after the \
             answer shows only in Qargo's import log",
            "in Qargo enable the order import webhook for this integration with the webhook credential above (secret \
             \"qargo_webhook\"), and an order import master that accepts orders with these customers; or set \
             QARGO_ORDER_DOOR=upload (OAuth client, 2 requests per order)",
        ));
    }
    let documents: Vec<String> = DocumentKind::ALL
        .iter()
        .map(|kind| format!("{} → document type {}", kind.code(), kind.qargo_document_type()))
        .collect();
    rows.push(TenantCheck::manual(
        "question paths (status webhook question_answers)",
        "the bridge writes scans, exception notes, signatures, PODs, photos and labels onto stops under these keys; an \
         unmapped key is dropped by Qargo and the scan or document is lost",
        format!(
            "map in the integration's question paths: scan_barcode → the handling-unit scan action (barcode, status \
             SCANNED_IN / STORED / SCANNED_OUT, timestamp, stop_location_code, description); status_note → a free-text \
             answer the planner sees; signed_by → the signatory's name; {}; PALLET_LABEL_EXTERNAL → document type \
             PALLET_LABEL_EXTERNAL (labels, subco-document-upload on the pickup stop)",
            documents.join("; ")
        ),
    ));
    rows.push(TenantCheck::manual(
        "order additional fields",
        "dispatch writes NexusNetwork, NexusConsignmentID, NexusConsignmentNumber, NexusDepot, NexusState (and on cancel \
         NexusLabels) onto the order; the import sets NexusOrigin (NETWORK:ID); status export, POD upload and ETA export \
         find the Nexus consignment only through them",
        "Configuration → Additional fields → Orders: create NexusNetwork, NexusConsignmentID, NexusConsignmentNumber, \
         NexusDepot, NexusState, NexusLabels, NexusOrigin (text); optional AmazonCartonCount, AmazonBookingRef for AZ \
         deliveries",
    ));
    rows.push(TenantCheck::manual(
        "consignment additional fields",
        "imported orders carry NexusNetwork, NexusConsignmentID, NexusConsignmentNumber and NexusCustomerID on the \
         consignment, for the planner",
        "Configuration → Additional fields → Consignments: create NexusNetwork, NexusConsignmentID, NexusConsignmentNumber, \
         NexusCustomerID (text)",
    ));
    rows.push(TenantCheck::manual(
        "stop additional fields",
        "failure_reason: a failed attempt is a stop COMPLETED or CANCELLED with it filled (Qargo's visibility stop has no \
         failed status), its words or a leading ND code choose the Nexus ND… code; without it a failed attempt closed \
         COMPLETED reaches Nexus as delivered (EPOD) and one closed CANCELLED not at all. contact_name: who books a BI \
         (book-in) slot; a BI delivery without it is refused at dispatch",
        "Configuration → Additional fields → Stops: create failure_reason and contact_name (text), and have drivers fill \
         failure_reason when an attempt fails (e.g. NDPC premises closed, NDRE refused)",
    ));
    let served: Vec<&str> = networks.iter().map(|n| n.customer_id_field()).collect();
    rows.push(TenantCheck::manual(
        "customer additional fields",
        format!(
            "{} hold each customer's Nexus customer ID; dispatch sends the one of the trip's network",
            served.join(" / ")
        ),
        format!("Configuration → Additional fields → Customers: create {} (text)", served.join(", ")),
    ));
    let codes = |all: &[&str]| all.join(", ");
    let service: Vec<&str> = ServiceLevel::ALL.iter().map(|s| s.code()).collect();
    let windows: Vec<&str> = TimeWindowCode::ALL.iter().map(|w| w.code()).collect();
    let mut extras: Vec<&str> = Extra::ALL.iter().map(|e| e.code()).collect();
    extras.push("AZ");
    let packaging: Vec<&str> = PalletType::ALL.iter().map(|p| p.code()).collect();
    let sizes: Vec<&str> = PalletBase::ALL.iter().map(|b| b.code()).collect();
    rows.push(TenantCheck::manual(
        "master data codes",
        "dispatch reads these codes from the order (any other is refused naming the field) and the import writes them \
         (an unknown code is refused by Qargo)",
        format!(
            "Configuration → Order input: service levels {} (Premium, Economy, Specific day); time windows {} (AM, timed with \
             start/end, book-in); stop extras {} (AZ = Amazon book-in, with its carton count and PO number); packaging \
             types {}; packaging sizes {} (EURO puts a pallet on a Euro base)",
            codes(&service),
            codes(&windows),
            codes(&extras),
            codes(&packaging),
            codes(&sizes)
        ),
    ));
    rows
}
