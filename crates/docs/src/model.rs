//! A 执法文书 as zhifa lays it out, independent of the file format: a title, the document
//! number, and blocks of text. The PDF and DOCX renderings are made from the same value.

use std::collections::BTreeMap;

/// The values a template may name: texts, and lists of rows for tables.
pub type Fields = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Rows(Vec<Vec<String>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The title (the issuing agency's name on the first line, when the template puts it).
    pub title: String,
    pub subtitle: String,
    /// The document number (文号), right-aligned under the title.
    pub number: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A body paragraph, first line indented two characters.
    Para(String),
    /// A "label：value" line, not indented (当事人：…).
    Line(String),
    /// A bold line (a section of a form).
    Heading(String),
    /// Right-aligned (the issuing agency and date at the foot).
    Right(String),
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Vertical space.
    Gap,
}

/// A whole-yuan amount in the capital numerals of financial documents: 800 → 捌佰元整.
pub fn rmb_upper(n: u64) -> String {
    const D: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
    const U: [&str; 4] = ["", "拾", "佰", "仟"];
    const S: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];
    if n == 0 {
        return "零元整".into();
    }
    let mut groups = Vec::new();
    let mut x = n;
    while x > 0 {
        groups.push(x % 10_000);
        x /= 10_000;
    }
    let mut out = String::new();
    let mut gap = false;
    for (gi, &g) in groups.iter().enumerate().rev() {
        if g == 0 {
            gap = !out.is_empty();
            continue;
        }
        if !out.is_empty() && (g < 1000 || gap) {
            out.push('零');
        }
        let (mut zero, mut started) = (false, false);
        for pos in (0..4u32).rev() {
            let d = ((g / 10u64.pow(pos)) % 10) as usize;
            if d == 0 {
                zero |= started;
            } else {
                if zero {
                    out.push('零');
                    zero = false;
                }
                out.push(D[d]);
                out.push_str(U[pos as usize]);
                started = true;
            }
        }
        out.push_str(S[gi]);
        gap = false;
    }
    out + "元整"
}

#[cfg(test)]
mod tests {
    use super::rmb_upper;

    #[test]
    fn amounts_in_capital_numerals() {
        for (n, s) in [
            (0, "零元整"),
            (800, "捌佰元整"),
            (1005, "壹仟零伍元整"),
            (10000, "壹万元整"),
            (10050, "壹万零伍拾元整"),
            (60000, "陆万元整"),
            (1_000_500, "壹佰万零伍佰元整"),
            (12_345_678, "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元整"),
            (100_000_000, "壹亿元整"),
            (100_010_000, "壹亿零壹万元整"),
        ] {
            assert_eq!(rmb_upper(n), s, "{n}");
        }
    }
}
