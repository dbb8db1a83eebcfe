//! QR codes as SVG, drawn here from the code's modules: crisp at any print size, no image
//! library, and the same bytes for the same text.

use qrcode::{Color, EcLevel, QrCode};

/// An SVG of `text` as a QR code (error correction level M, a 4-module quiet zone), sized
/// by the viewBox so that CSS or the printer chooses the physical size. `None` when the
/// text is too long for a QR code.
pub fn svg(text: &str, title: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let quiet = 4;
    let size = width + 2 * quiet;
    // One path: a unit square per dark module, row by row.
    let mut path = String::with_capacity(width * width * 4);
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" role="img" aria-label="{title}"><title>{title}</title><rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##,
        title = escape(title)
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_square_code_with_a_quiet_zone_and_escaped_title() {
        let s = svg("https://zhifa.example/v/AAAAAAAAAAAAAAAAAAAAAA", "a<b").unwrap();
        // Version 3 (29 modules) for this length at level M, plus 8 modules of quiet zone.
        assert!(s.contains(r#"viewBox="0 0 37 37""#), "{s}");
        assert!(s.contains("a&lt;b") && !s.contains("a<b"));
        // Deterministic.
        assert_eq!(
            s,
            svg("https://zhifa.example/v/AAAAAAAAAAAAAAAAAAAAAA", "a<b").unwrap()
        );
        assert!(svg(&"x".repeat(5000), "").is_none());
    }
}
