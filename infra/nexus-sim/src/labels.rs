//! Pallet labels (nexus-api.md §3.3 #4): one 6×4 in thermal label per pallet, as PDF (432×288 pt
//! pages) or ZPL (one `^XA…^XZ` block per pallet). The barcode is drawn as Interleaved 2 of 5, a
//! symbology for even-length digit strings that pallet networks use on thermal labels (ZPL `^B2`).
//! The label layout is invented; what it shows (consignment number, barcode, depots, service) is the
//! issue's requirement.

use crate::clock;
use crate::pdf::{self, Page};
use crate::reference;
use crate::world::{Consignment, Pallet};

/// What a label needs to say, beyond the pallet itself.
pub(crate) struct LabelContext<'a> {
    pub(crate) consignment: &'a Consignment,
    pub(crate) network_name: &'a str,
}

pub(crate) fn pdf_labels(context: &LabelContext<'_>, pallets: &[&Pallet]) -> Vec<u8> {
    let pages = pallets.iter().map(|pallet| pdf_page(context, pallet)).collect();
    pdf::document(&format!("Labels {}", context.consignment.number), pages)
}

fn pdf_page(context: &LabelContext<'_>, pallet: &Pallet) -> Page {
    let c = context.consignment;
    let service = reference::service(c.service_id);
    let mut page = Page::new(432.0, 288.0);
    page.text(18.0, 260.0, 20.0, true, context.network_name);
    page.text(330.0, 252.0, 30.0, true, service.map_or("?", |s| s.code));
    page.text(18.0, 238.0, 11.0, false, &format!("Consignment {}", c.number));
    page.text(250.0, 238.0, 11.0, false, &format!("Pallet {} of {}", position(c, pallet), c.pallets.len()));
    page.text(18.0, 206.0, 24.0, true, &format!("{} -> {}", c.collecting_depot, c.delivery_depot));
    page.text(18.0, 186.0, 11.0, false, &c.delivery_address.name);
    page.text(
        18.0,
        172.0,
        11.0,
        false,
        &format!("{}, {} {}", c.delivery_address.line1, c.delivery_address.town, c.delivery_address.postcode),
    );
    let window = c.time_window.map(|w| format!("  Window {w}")).unwrap_or_default();
    page.text(
        18.0,
        156.0,
        11.0,
        false,
        &format!(
            "Service {} {}  Due {}{window}",
            service.map_or("?", |s| s.code),
            service.map_or("", |s| s.name),
            clock::format_date(c.estimated_del_date)
        ),
    );
    draw_interleaved_2_of_5(&mut page, &pallet.barcode, 46.0, 52.0, 2.2, 90.0);
    page.text(150.0, 34.0, 14.0, true, &pallet.barcode);
    let pallet_type = reference::pallet_type_by_id(pallet.type_id).map_or("Pallet", |t| t.name);
    page.text(
        18.0,
        14.0,
        8.0,
        false,
        &format!(
            "{pallet_type}  {} kg  {}x{}x{} cm  Ref {}  Booked {}",
            pallet.weight,
            pallet.length,
            pallet.width,
            pallet.height,
            c.customer_reference.as_deref().unwrap_or("-"),
            clock::format_datetime(c.created_at)
        ),
    );
    page
}

fn position(consignment: &Consignment, pallet: &Pallet) -> usize {
    consignment.pallets.iter().position(|p| p.id == pallet.id).map_or(1, |i| i + 1)
}

/// Narrow/wide patterns of the digits 0–9 in Interleaved 2 of 5 (1 = wide).
const ITF_PATTERNS: [[u8; 5]; 10] = [
    [0, 0, 1, 1, 0],
    [1, 0, 0, 0, 1],
    [0, 1, 0, 0, 1],
    [1, 1, 0, 0, 0],
    [0, 0, 1, 0, 1],
    [1, 0, 1, 0, 0],
    [0, 1, 1, 0, 0],
    [0, 0, 0, 1, 1],
    [1, 0, 0, 1, 0],
    [0, 1, 0, 1, 0],
];

/// Bar widths (in modules), alternating bar/space, starting with a bar: start, digit pairs, stop.
fn itf_modules(digits: &str) -> Vec<u8> {
    let digits: Vec<usize> = digits.bytes().filter(u8::is_ascii_digit).map(|b| usize::from(b - b'0')).collect();
    let mut widths = vec![1, 1, 1, 1];
    for pair in digits.chunks(2) {
        let bars = ITF_PATTERNS[pair[0]];
        let spaces = ITF_PATTERNS[*pair.get(1).unwrap_or(&0)];
        for i in 0..5 {
            widths.push(if bars[i] == 1 { 3 } else { 1 });
            widths.push(if spaces[i] == 1 { 3 } else { 1 });
        }
    }
    widths.extend_from_slice(&[3, 1, 1]);
    widths
}

fn draw_interleaved_2_of_5(page: &mut Page, digits: &str, x: f32, y: f32, module: f32, height: f32) {
    let mut cursor = x;
    for (i, width) in itf_modules(digits).into_iter().enumerate() {
        let w = f32::from(width) * module;
        if i % 2 == 0 {
            page.filled_rect(cursor, y, w, height);
        }
        cursor += w;
    }
}

/// ZPL for 203 dpi printers, 6×4 in (1218×812 dots).
pub(crate) fn zpl_labels(context: &LabelContext<'_>, pallets: &[&Pallet]) -> String {
    let c = context.consignment;
    let service = reference::service(c.service_id).map_or("?", |s| s.code);
    let mut out = String::new();
    for pallet in pallets {
        let clean = |s: &str| s.replace(['^', '~'], " ");
        out.push_str(&format!(
            "^XA\n^CI28\n^PW1218\n^LL812\n\
             ^FO40,30^A0N,56,56^FD{network}^FS\n\
             ^FO1000,20^A0N,90,90^FD{service}^FS\n\
             ^FO40,100^A0N,32,32^FDConsignment {number}^FS\n\
             ^FO700,100^A0N,32,32^FDPallet {index} of {count}^FS\n\
             ^FO40,150^A0N,64,64^FD{from} -> {to}^FS\n\
             ^FO40,230^A0N,30,30^FD{name}^FS\n\
             ^FO40,265^A0N,30,30^FD{line1}, {town} {postcode}^FS\n\
             ^FO40,300^A0N,30,30^FDDue {due}^FS\n\
             ^FO90,380^BY4,3,260^B2N,260,Y,N,N^FD{barcode}^FS\n\
             ^FO40,760^A0N,24,24^FD{weight} kg^FS\n\
             ^XZ\n",
            network = clean(context.network_name),
            number = clean(&c.number),
            index = position(c, pallet),
            count = c.pallets.len(),
            from = c.collecting_depot,
            to = c.delivery_depot,
            name = clean(&c.delivery_address.name),
            line1 = clean(&c.delivery_address.line1),
            town = clean(&c.delivery_address.town),
            postcode = c.delivery_address.postcode,
            due = clock::format_date(c.estimated_del_date),
            barcode = pallet.barcode,
            weight = pallet.weight,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::itf_modules;

    #[test]
    fn interleaved_2_of_5_has_start_pairs_and_stop() {
        let modules = itf_modules("1044000106606774");
        // start (4) + 8 pairs × 10 elements + stop (3)
        assert_eq!(modules.len(), 4 + 80 + 3);
        // every digit takes 2 wide + 3 narrow = 9 modules; start 4, stop 5
        assert_eq!(modules.iter().map(|m| u32::from(*m)).sum::<u32>(), 4 + 16 * 9 + 5);
    }
}
