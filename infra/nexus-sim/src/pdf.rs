//! Just enough PDF for labels and scanned delivery notes: pages with text in the PDF base-14
//! Helvetica fonts (no embedding needed) and filled rectangles (barcode bars, rules).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// One page under construction.
pub(crate) struct Page {
    width: f32,
    height: f32,
    content: Content,
}

impl Page {
    pub(crate) fn new(width: f32, height: f32) -> Page {
        Page { width, height, content: Content::new() }
    }

    /// Text with its baseline starting at (`x`, `y`), in points from the bottom-left corner.
    pub(crate) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { Name(b"F2") } else { Name(b"F1") };
        let encoded = win_ansi(text);
        self.content.begin_text();
        self.content.set_font(font, size);
        self.content.next_line(x, y);
        self.content.show(Str(&encoded));
        self.content.end_text();
    }

    pub(crate) fn filled_rect(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.content.set_fill_gray(0.0);
        self.content.rect(x, y, width, height);
        self.content.fill_nonzero();
    }
}

/// Writes the pages as one PDF document.
pub(crate) fn document(title: &str, pages: Vec<Page>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let mut next = 6;
    let mut page_ids = Vec::with_capacity(pages.len());
    let mut content_ids = Vec::with_capacity(pages.len());
    for _ in &pages {
        page_ids.push(Ref::new(next));
        content_ids.push(Ref::new(next + 1));
        next += 2;
    }
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id).kids(page_ids.iter().copied()).count(page_ids.len() as i32);
    pdf.type1_font(regular_id).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info_id).title(TextStr(title)).producer(TextStr("nexus-sim"));
    for ((page, page_id), content_id) in pages.into_iter().zip(page_ids).zip(content_ids) {
        let mut writer = pdf.page(page_id);
        writer.media_box(Rect::new(0.0, 0.0, page.width, page.height));
        writer.parent(tree_id);
        writer.contents(content_id);
        let mut resources = writer.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), regular_id);
        fonts.pair(Name(b"F2"), bold_id);
        fonts.finish();
        resources.finish();
        writer.finish();
        let data = page.content.finish();
        pdf.stream(content_id, &data);
    }
    pdf.finish()
}

/// WinAnsiEncoding agrees with Latin-1 for the characters a label needs; anything else becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) { c as u8 } else { b'?' })
        .collect()
}
