//! The printable card of an enforcement credential (亮证): ID-1 size (85.6 × 54 mm, the
//! size of the card officers carry), the holder, number, area and validity, and the QR
//! code that opens the portal's live check. The same layout gives the PDF (for printing
//! at actual size) and the PNG (300 dpi, for a phone screen or a print shop).

use crate::pdf::{PdfError, export, layout, lit};

/// What the card shows.
#[derive(Debug, Clone, Default)]
pub struct Card {
    /// 行政执法证 / 法律职业资格证书.
    pub kind: String,
    pub agency: String,
    pub holder: String,
    pub department: String,
    pub number: String,
    pub area: String,
    pub valid: String,
    pub issuer: String,
    /// The check page the QR code opens, printed under it too.
    pub check_url: String,
    /// The QR code as SVG (drawn by the caller from `check_url`).
    pub qr_svg: String,
}

const FONTS: &str =
    r#"("Noto Sans CJK SC", "Source Han Sans SC", "SimHei", "黑体", "Noto Serif CJK SC")"#;

/// The typst source of the card (every value a string literal).
pub fn markup(c: &Card) -> String {
    // Labels are zhifa's own words; values are string literals.
    let row =
        |label: &str, value: &str| format!("text(fill: luma(90))[{label}], [{}],", text_lit(value));
    let mut rows = String::new();
    rows.push_str(&row("姓名", &c.holder));
    if !c.department.is_empty() {
        rows.push_str(&row("部门", &c.department));
    }
    rows.push_str(&row("编号", &c.number));
    rows.push_str(&row("区域", &c.area));
    rows.push_str(&row("有效期", &c.valid));
    rows.push_str(&row("发证机关", &c.issuer));
    format!(
        "#set page(width: 85.6mm, height: 54mm, margin: (x: 4mm, top: 3.5mm, bottom: 3mm), fill: white)\n\
         #set text(font: {FONTS}, size: 6.5pt, lang: \"zh\", region: \"cn\")\n\
         #set par(leading: 0.45em, spacing: 0.5em)\n\
         #block(width: 100%, fill: rgb(\"#22384f\"), inset: (x: 2.5mm, y: 1.6mm), radius: 1mm)[\
           #text(fill: white, size: 9pt, weight: \"bold\")[#{kind}] #h(1fr) #text(fill: white, size: 6pt)[#{agency}]]\n\
         #v(1.5mm)\n\
         #grid(columns: (1fr, 21mm), column-gutter: 2.5mm,\n\
           grid(columns: (auto, 1fr), column-gutter: 2mm, row-gutter: 1.1mm, {rows}),\n\
           align(center)[#image(bytes({svg}), format: \"svg\", width: 21mm)#v(-0.6mm)#text(size: 5.5pt)[扫码核验证件状态]])\n\
         #place(bottom + left, text(size: 4.8pt, fill: luma(80), font: (\"DejaVu Sans Mono\", \"Noto Sans Mono CJK SC\", \"Noto Sans CJK SC\"))[#{url}])\n",
        kind = lit(&c.kind),
        agency = lit(&c.agency),
        svg = lit(&c.qr_svg),
        url = lit(&c.check_url),
    )
}

/// A value as typst content (a string literal inside `#`).
fn text_lit(s: &str) -> String {
    format!("#{}", lit(s))
}

/// The card as PDF (one page of ID-1 size), dated `date` (no clock read).
pub fn pdf(c: &Card, date: (i32, u8, u8)) -> Result<Vec<u8>, PdfError> {
    let paged = layout(markup(c), date)?;
    export(&paged, &c.number, date)
}

/// The card as PNG at 300 dpi.
pub fn png(c: &Card, date: (i32, u8, u8)) -> Result<Vec<u8>, PdfError> {
    let paged = layout(markup(c), date)?;
    let page = paged
        .pages()
        .first()
        .ok_or_else(|| PdfError::Layout("证卡没有页面".into()))?;
    let pixmap = typst_render::render(
        page,
        &typst_render::RenderOptions {
            pixel_per_pt: typst::utils::Scalar::new(300.0 / 72.0),
            render_bleed: false,
        },
    );
    pixmap
        .encode_png()
        .map_err(|e| PdfError::Layout(format!("PNG 编码失败：{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Card {
        Card {
            kind: "行政执法证".into(),
            agency: "朱堂乡人民政府".into(),
            holder: "张明\"#]".into(),
            department: "综合行政执法大队".into(),
            number: "豫 ZT-0001".into(),
            area: "朱堂乡全域".into(),
            valid: "2024-01-01 至 2028-12-31".into(),
            issuer: "罗山县人民政府".into(),
            check_url: "https://zhifa.example/v/abc".into(),
            qr_svg: r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4" fill="#fff"/><path d="M1 1h1v1h-1z" fill="#000"/></svg>"##.into(),
        }
    }

    #[test]
    fn user_text_stays_text() {
        let m = markup(&sample());
        // The quote and bracket of the name are escaped inside a string literal.
        assert!(m.contains(r##"#"张明\"#]""##), "{m}");
    }

    #[test]
    fn the_card_renders_to_pdf_and_png_when_fonts_are_present() {
        match pdf(&sample(), (2026, 11, 30)) {
            Err(PdfError::NoFont) => {} // a machine without CJK fonts
            Err(e) => panic!("{e}"),
            Ok(p) => {
                assert!(p.starts_with(b"%PDF-"));
                let png = png(&sample(), (2026, 11, 30)).unwrap();
                assert!(png.starts_with(b"\x89PNG"));
                assert_eq!(p, pdf(&sample(), (2026, 11, 30)).unwrap(), "deterministic");
            }
        }
    }
}
