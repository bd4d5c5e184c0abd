//! `--book`: a test consignment booked with the seen create fields only, its labels fetched, then
//! cancelled and read back, each step reported.

use reqwest::Method;
use serde_json::{Value, json};

use super::raw::{Http, clip, field, sniff, status_name, text_of};
use super::{BookStep, CheckInput};

/// The §1.6 create body of the test consignment.
fn test_booking(customer_id: &str, number: &str) -> Value {
    json!({
        "general": {
            "consignmentTypeID": 2,
            "customerID": customer_id,
            "customerReference": "NEXUS-CHECK",
            "consignmentNumber": number,
            "descriptionOfGoods": "nexus-check test booking - cancel",
            "limitedQuantities": false
        },
        "collectionInfo": { "serviceID": 1, "contact": "01777 000000" },
        "deliveryInfo": { "serviceID": 1, "contact": "01777 000000" },
        "deliveryAddress": {
            "countryID": 233, "name": "NEXUS CHECK TEST - DO NOT DELIVER", "line1": "1 Test Street",
            "town": "Retford", "postcode": "DN22 7SS", "telephone": "01777 000000"
        },
        "pallets": [
            { "palletBaseID": 1, "palletTypeID": 7, "length": 120, "width": 100, "height": 100, "weight": 100,
              "limitedQuantityWeight": 0, "doNotStack": false }
        ]
    })
}

/// Books, labels, cancels; answers the create answer's keys when the booking got through.
pub(super) async fn book(http: &Http, input: &CheckInput, steps: &mut Vec<BookStep>) -> Option<Vec<String>> {
    let step = |name: &str, ok: bool, detail: String| BookStep { step: name.into(), ok, detail };
    let Some(customer) = input.customer_id.as_deref().filter(|c| !c.trim().is_empty()) else {
        steps.push(step("book", false, "no customer to book for: name one with --customer-id".into()));
        return None;
    };
    let number = format!("NXCHK{}", jiff::Timestamp::now().as_second());
    let answer = match http.send(Method::POST, "Consignments", Some(&test_booking(customer, &number))).await {
        Ok(answer) => answer,
        Err(err) => {
            steps.push(step("book", false, err));
            return None;
        }
    };
    let body = answer.json().unwrap_or(Value::Null);
    let id = field(&body, "consignmentID").map(|v| text_of(Some(v)));
    let (true, Some(id)) = (answer.status.is_success(), id) else {
        steps.push(step(
            "book",
            false,
            format!("POST Consignments ({number} for customer {customer}): {}", answer.describe()),
        ));
        return None;
    };
    let keys: Vec<String> = body.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let codes = field(&body, "successfulTrackingCodes").map_or("none".into(), |v| clip(&v.to_string(), 60));
    steps.push(step(
        "book",
        true,
        format!("POST Consignments: {} consignment {id} ({number}), tracking codes {codes}", answer.status.as_u16()),
    ));
    let path = format!("consignments/{id}/labels");
    steps.push(match http.get(&path).await {
        Ok(labels) if labels.status.is_success() => step(
            "labels",
            true,
            format!(
                "GET {path}: {} by its bytes, Content-Type {} ({} bytes)",
                sniff(&labels.bytes),
                labels.content_type,
                labels.bytes.len()
            ),
        ),
        Ok(labels) => step("labels", false, format!("GET {path}: {}", labels.describe())),
        Err(err) => step("labels", false, err),
    });
    let path = format!("consignments/{id}/cancel");
    steps.push(match http.send(Method::POST, &path, Some(&json!({}))).await {
        Ok(cancel) if cancel.status.is_success() => step("cancel", true, format!("POST {path}: {}", cancel.describe())),
        Ok(cancel) => step(
            "cancel",
            false,
            format!(
                "POST {path}: {}: cancel consignment {id} ({number}) by hand in the Nexus portal",
                cancel.describe()
            ),
        ),
        Err(err) => {
            step("cancel", false, format!("{err}: cancel consignment {id} ({number}) by hand in the Nexus portal"))
        }
    });
    steps.push(match http.get(&format!("consignments/{id}")).await {
        Ok(read) if read.status.is_success() => {
            let status = read.json().map(|v| status_name(&v)).unwrap_or_default();
            step("read back", true, format!("GET consignments/{id}: status {status}"))
        }
        Ok(read) => step("read back", false, format!("GET consignments/{id}: {}", read.describe())),
        Err(err) => step("read back", false, err),
    });
    Some(keys)
}
