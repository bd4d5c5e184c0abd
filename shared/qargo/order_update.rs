//! Bodies of `POST /v1/webhook/partial-order-update`: Qargo's `OrderUpdatePayload`
//! (`{updates: [PartialOrderUpdate]}`), the only way the bridge writes onto an order it did not
//! import. Two writes use it: the Nexus identity and pallet barcodes after a booking, and the void
//! mark after a cancellation.
//!
//! Where Qargo's spec is silent the choice is ours (listed in the README, "Set up Qargo for the
//! bridge"): `custom_fields` is taken to merge into the order's additional fields; a consignment
//! is matched by its reference number when it has one, else by `order_sequence_number`, its 1-based
//! position in the dispatched order's consignments; pallet barcodes are added as handling units
//! with `CREATE` (the spec's `UpdateBarcodeInput.source` is the constant `EXTERNAL`).

use serde_json::{Map, Value, json};

/// How a consignment of the order is found (`ConsignmentMatch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsignmentKey {
    /// By `reference_number` (the consignment's `consignment_reference_number`).
    Reference(String),
    /// By `order_sequence_number`: its 1-based position in the order.
    Position(u32),
}

impl ConsignmentKey {
    fn matcher(&self) -> Value {
        match self {
            ConsignmentKey::Reference(reference) => json!({"reference_number": {"matches_any": [reference]}}),
            ConsignmentKey::Position(position) => json!({"order_sequence_number": position}),
        }
    }
}

/// The pallet barcodes to add to (and remove from) one goods line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoodsBarcodes {
    /// The goods line's UUID.
    pub goods_id: String,
    /// The barcodes to add, one handling unit each.
    pub barcodes: Vec<String>,
    /// The barcodes whose handling units to delete (a booking replaced by a new one).
    pub removed: Vec<String>,
}

/// A partial order update of the order `order_id`: its additional fields merged with `fields` (a
/// `null` value clears a field), and each goods line of `consignment` given its handling units.
pub fn order_update(
    order_id: &str,
    fields: Map<String, Value>,
    consignment: Option<&ConsignmentKey>,
    goods: &[GoodsBarcodes],
) -> Value {
    let mut update = json!({
        "match": {"matches_all": [{"order": {"id": {"matches_any": [order_id]}}}]},
        "update": {"operation": "UPDATE", "data": {"custom_fields": fields}},
    });
    let goods: Vec<Value> = goods
        .iter()
        .filter(|line| !line.barcodes.is_empty() || !line.removed.is_empty())
        .map(|line| {
            let removals = line.removed.iter().map(|barcode| {
                json!({
                    "match": {"matches_all": [{"handling_unit": {"barcode": {"matches_any": [barcode]}}}]},
                    "update": {"operation": "DELETE"},
                })
            });
            let additions = line.barcodes.iter().map(|barcode| {
                json!({"update": {"operation": "CREATE", "data": {"barcode": {"value": barcode, "source": "EXTERNAL"}}}})
            });
            let units: Vec<Value> = removals.chain(additions).collect();
            json!({
                "match": {"matches_all": [{"good": {"id": {"matches_any": [line.goods_id]}}}]},
                "handling_unit": {"updates": units},
            })
        })
        .collect();
    if let Some(consignment) = consignment
        && !goods.is_empty()
    {
        update["consignment"] = json!({"updates": [{
            "match": {"matches_all": [{"consignment": consignment.matcher()}]},
            "good": {"updates": goods},
        }]});
    }
    json!({"updates": [update]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_barcodes_in_the_spec_shape() {
        let mut fields = Map::new();
        fields.insert("NexusState".into(), json!("BOOKED"));
        let body = order_update(
            "o-1",
            fields,
            Some(&ConsignmentKey::Position(1)),
            &[GoodsBarcodes { goods_id: "g-1".into(), barcodes: vec!["B1".into()], removed: vec!["OLD".into()] }],
        );
        let update = &body["updates"][0];
        assert_eq!(update["match"]["matches_all"][0]["order"]["id"]["matches_any"][0], "o-1");
        assert_eq!(update["update"]["data"]["custom_fields"]["NexusState"], "BOOKED");
        let consignment = &update["consignment"]["updates"][0];
        assert_eq!(consignment["match"]["matches_all"][0]["consignment"]["order_sequence_number"], 1);
        let units = &consignment["good"]["updates"][0]["handling_unit"]["updates"];
        assert_eq!(units[0]["match"]["matches_all"][0]["handling_unit"]["barcode"]["matches_any"][0], "OLD");
        assert_eq!(units[0]["update"]["operation"], "DELETE");
        let unit = &units[1]["update"];
        assert_eq!(unit["operation"], "CREATE");
        assert_eq!(unit["data"]["barcode"], json!({"value": "B1", "source": "EXTERNAL"}));
    }

    #[test]
    fn fields_only_without_goods() {
        let body = order_update("o-1", Map::new(), Some(&ConsignmentKey::Reference("R".into())), &[]);
        assert!(body["updates"][0].get("consignment").is_none());
    }
}
