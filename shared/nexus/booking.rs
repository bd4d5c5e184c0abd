//! A checked domain [`Booking`] written as Nexus's create body (`POST consignments`): Nexus's
//! ids for countries, services, pallet types and bases, and its field limits.

use super::wire::{self, CreateConsignment};
use crate::domain::booking::{Address, Booking, Country, Pallet};
use crate::domain::{ServiceLevel, TimeWindow};

/// Nexus's country id of the United Kingdom (seen).
const NEXUS_UNITED_KINGDOM: u32 = 233;
/// The collection's `serviceID`: public create code always sends 1, whatever the delivery service
/// (research notes §1.6); the service a customer buys is the delivery's.
const SEEN_COLLECTION_SERVICE_ID: u32 = 1;
/// Nexus's country id of Ireland.
const NEXUS_IRELAND: u32 = 105;

/// The create body of `booking`; `consignment_number` is left empty for the booking to set.
pub fn create_body(booking: &Booking) -> CreateConsignment {
    let window = booking.window.as_ref();
    let time = |timed: fn(&TimeWindow) -> Option<jiff::civil::Time>| {
        window.and_then(timed).map(|t| t.strftime("%H:%M").to_string())
    };
    CreateConsignment {
        general: wire::General {
            consignment_type_id: 2,
            customer_id: booking.customer_id,
            consignment_number: String::new(),
            customer_reference: booking.customer_reference.clone(),
            description_of_goods: booking.description.clone(),
            limited_quantities: false,
            network_code: Some(booking.network.code().to_owned()),
            requesting_depot_code: Some(booking.depot.to_string()),
        },
        collection_info: wire::CollectionInfo {
            service_id: SEEN_COLLECTION_SERVICE_ID,
            due_date: booking.collection_date,
            contact: booking.collection_contact.phone.clone(),
            email: booking.collection_contact.email.clone(),
            extras: Vec::new(),
        },
        delivery_info: wire::DeliveryInfo {
            service_id: booking.service.nexus_service_id(),
            due_date: booking.delivery_date.filter(|_| booking.service == ServiceLevel::SpecificDay),
            contact: booking.delivery_contact.phone.clone(),
            email: booking.delivery_contact.email.clone(),
            time_window_code: window.map(|w| w.code().code().to_owned()),
            start_window: time(|w| match w {
                TimeWindow::Timed { start, .. } => Some(*start),
                _ => None,
            }),
            end_window: time(|w| match w {
                TimeWindow::Timed { end, .. } => Some(*end),
                _ => None,
            }),
            book_in: match window {
                Some(TimeWindow::BookIn(book_in)) => Some(wire::BookIn {
                    contact_name: book_in.contact_name.clone(),
                    contact_phone: book_in.contact_phone.clone(),
                    reference: book_in.reference.clone(),
                    notes: book_in.notes.clone(),
                }),
                _ => None,
            },
            extras: booking.extras.iter().map(|e| e.code().to_owned()).collect(),
            instructions: booking.instructions.clone(),
        },
        collection_address: Some(address(&booking.collection_address)),
        delivery_address: address(&booking.delivery_address),
        pallets: booking.pallets.iter().map(pallet).collect(),
    }
}

fn address(address: &Address) -> wire::Address {
    wire::Address {
        country_id: match address.country {
            Country::UnitedKingdom => NEXUS_UNITED_KINGDOM,
            Country::Ireland => NEXUS_IRELAND,
        },
        name: address.name.clone(),
        line1: address.line1.clone(),
        line2: address.line2.clone(),
        town: address.town.clone(),
        county: address.county.clone(),
        postcode: address.postcode.clone(),
        telephone: address.telephone.clone(),
    }
}

fn pallet(pallet: &Pallet) -> wire::PalletInput {
    wire::PalletInput {
        pallet_base_id: pallet.base.nexus_id(),
        pallet_type_id: pallet.pallet_type.nexus_id(),
        length: pallet.length_cm,
        width: pallet.width_cm,
        height: pallet.height_cm,
        weight: pallet.weight_kg,
        limited_quantity_weight: 0,
        do_not_stack: pallet.do_not_stack,
    }
}
