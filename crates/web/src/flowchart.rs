//! The published flowchart of a procedure, drawn as SVG from the same definition the
//! server enforces (`zhifa_domain::procedure`). Steps are laid out in layers (the longest
//! path from the start), one row per layer; a transition to the next layer is a straight
//! arrow, one that skips layers runs down its own lane on the right so that it never
//! crosses a step. Conditions are written beside the arrow that needs them.

use crate::pages::xml_escape;
use std::collections::BTreeMap;
use std::fmt::Write;
use zhifa_domain::procedure::Procedure;

const NODE_W: i32 = 200;
const NODE_H: i32 = 76;
const ROW_GAP: i32 = 44;
const COL_GAP: i32 = 24;
const MARGIN: i32 = 12;
/// Each skip arrow's lane: its line and, left of it, its condition in vertical text.
const LANE_GAP: i32 = 18;
/// Characters of a step name per line inside a box (14 px CJK glyphs).
const NAME_CHARS: usize = 12;

/// Steps in reading order (layer, then definition order), numbered from 1.
pub fn ordered_steps(p: &Procedure) -> Vec<(usize, &zhifa_domain::procedure::Step)> {
    let depths = p.depths().unwrap_or_default();
    let mut steps: Vec<_> = p.steps.iter().enumerate().collect();
    steps.sort_by_key(|(i, s)| (depths.get(&s.code).copied().unwrap_or(usize::MAX), *i));
    steps
        .into_iter()
        .enumerate()
        .map(|(n, (_, s))| (n + 1, s))
        .collect()
}

struct Placed {
    number: usize,
    x: i32,
    y: i32,
    row: usize,
}

pub fn svg(p: &Procedure) -> String {
    svg_marked(p, None, &[])
}

/// The flowchart of a case: its current step drawn in strong colour (and named in the
/// box's title for screen readers), the steps it has completed shaded.
pub fn svg_marked(p: &Procedure, current: Option<&str>, done: &[&str]) -> String {
    let depths = p.depths().unwrap_or_default();
    let ordered = ordered_steps(p);
    // Rows and columns.
    let mut rows: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (_, s) in &ordered {
        let d = depths.get(&s.code).copied().unwrap_or(0);
        rows.entry(d).or_default().push(&s.code);
    }
    let widest = rows.values().map(Vec::len).max().unwrap_or(1) as i32;
    let grid_w = widest * NODE_W + (widest - 1) * COL_GAP;
    let mut placed: BTreeMap<&str, Placed> = BTreeMap::new();
    for (row_index, (_, codes)) in rows.iter().enumerate() {
        let n = codes.len() as i32;
        let row_w = n * NODE_W + (n - 1) * COL_GAP;
        let x0 = MARGIN + (grid_w - row_w) / 2;
        for (i, code) in codes.iter().enumerate() {
            let number = ordered
                .iter()
                .find(|(_, s)| s.code == *code)
                .map_or(0, |(n, _)| *n);
            placed.insert(
                code,
                Placed {
                    number,
                    x: x0 + i as i32 * (NODE_W + COL_GAP),
                    y: MARGIN + row_index as i32 * (NODE_H + ROW_GAP),
                    row: row_index,
                },
            );
        }
    }
    let lanes_x0 = MARGIN + grid_w + LANE_GAP;
    // Skip arrows, the shortest nearest the boxes so that fewer of them cross.
    let mut skips: Vec<_> = p
        .transitions
        .iter()
        .filter_map(
            |t| match (placed.get(t.from.as_str()), placed.get(t.to.as_str())) {
                (Some(a), Some(b)) if b.row > a.row + 1 => Some((b.row - a.row, t)),
                _ => None,
            },
        )
        .collect();
    skips.sort_by_key(|(span, _)| *span);
    let skips: Vec<_> = skips.into_iter().map(|(_, t)| t).collect();
    let width = lanes_x0 + skips.len() as i32 * LANE_GAP + MARGIN;
    let height = MARGIN * 2 + rows.len() as i32 * (NODE_H + ROW_GAP) - ROW_GAP;

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" font-family="'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif" role="img" aria-labelledby="flow-title" class="flowchart"><title id="flow-title">{} 流程图</title>"#,
        xml_escape(&p.name)
    );
    out.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6472"/></marker></defs>"##,
    );

    // How many skip arrows enter each step, so that they enter at different heights.
    let mut entering: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (lane, t) in skips.iter().enumerate() {
        entering.entry(t.to.as_str()).or_default().push(lane);
    }
    let mut leaving: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (lane, t) in skips.iter().enumerate() {
        leaving.entry(t.from.as_str()).or_default().push(lane);
    }

    for t in &p.transitions {
        let (Some(a), Some(b)) = (placed.get(t.from.as_str()), placed.get(t.to.as_str())) else {
            continue;
        };
        if let Some(lane) = skips.iter().position(|s| std::ptr::eq(*s, t)) {
            let lane_x = lanes_x0 + lane as i32 * LANE_GAP;
            let out_slots = &leaving[t.from.as_str()];
            let in_slots = &entering[t.to.as_str()];
            let y1 = slot_y(a.y, out_slots, lane);
            let y2 = slot_y(b.y, in_slots, lane);
            let _ = write!(
                out,
                r##"<path d="M{} {y1} H{lane_x} V{y2} H{}" fill="none" stroke="#5b6472" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
                a.x + NODE_W,
                b.x + NODE_W + 1
            );
            // The condition is written down the lane, one glyph under another (vertical
            // Chinese, drawn glyph by glyph so that every SVG viewer shows it the same).
            let condition = t.condition_text();
            if !condition.is_empty() {
                let top = a.y + NODE_H + 4;
                let size = fitting_font(y2 - 6 - top, condition.chars().count());
                let x = lane_x - LANE_GAP / 2;
                let _ = write!(
                    out,
                    r##"<text y="{top}" font-size="{size}" text-anchor="middle" fill="#8a4b00">"##
                );
                for c in condition.chars() {
                    let glyph = match c {
                        '，' => '︐',
                        c => c,
                    };
                    let glyph = xml_escape(&glyph.to_string());
                    let _ = write!(out, r#"<tspan x="{x}" dy="{size}">{glyph}</tspan>"#);
                }
                out.push_str("</text>");
            }
        } else {
            let x1 = a.x + NODE_W / 2;
            let y1 = a.y + NODE_H;
            let x2 = b.x + NODE_W / 2;
            let y2 = b.y - 1;
            let _ = write!(
                out,
                r##"<path d="M{x1} {y1} C{x1} {} {x2} {} {x2} {y2}" fill="none" stroke="#5b6472" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
                y1 + ROW_GAP / 2,
                y2 - ROW_GAP / 2
            );
            let label = xml_escape(&t.condition_text());
            if !label.is_empty() {
                let _ = write!(
                    out,
                    r##"<text x="{}" y="{}" font-size="{}" fill="#8a4b00">{label}</text>"##,
                    x2 + 8,
                    (y1 + y2) / 2 + 4,
                    fitting_font(NODE_W / 2 - 12, t.condition_text().chars().count()),
                );
            }
        }
    }

    for (_, s) in &ordered {
        let Some(at) = placed.get(s.code.as_str()) else {
            continue;
        };
        let start = s.code == p.start;
        let is_current = current == Some(s.code.as_str());
        let is_done = done.contains(&s.code.as_str());
        let (fill, stroke, width) = if is_current {
            ("#fff4d6", "#b54708", 3.5)
        } else if is_done {
            ("#e7f4ea", "#2f855a", 1.5)
        } else if start && current.is_none() {
            ("#e8f0fe", "#1a56db", 1.5)
        } else {
            ("#ffffff", "#8a93a3", 1.5)
        };
        let _ = write!(
            out,
            r##"<g{}><title>{}{}</title><rect x="{}" y="{}" width="{NODE_W}" height="{NODE_H}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>"##,
            if is_current {
                r#" class="current""#
            } else {
                ""
            },
            if is_current {
                "当前步骤。"
            } else if is_done {
                "已完成。"
            } else {
                ""
            },
            xml_escape(&s.basis),
            at.x,
            at.y,
        );
        let lines = wrap(&format!("{}. {}", at.number, s.name), NAME_CHARS);
        let roles = s
            .roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、");
        // Name (14 px lines), roles and the period (11 px), centred in the box.
        let period = box_period(s);
        let block = lines.len() as i32 * 18 + 15 + if period.is_some() { 15 } else { 0 };
        let mut y = at.y + (NODE_H - block) / 2 + 14;
        for line in lines {
            let _ = write!(
                out,
                r##"<text x="{}" y="{y}" font-size="14" text-anchor="middle" fill="#1f2933">{}</text>"##,
                at.x + NODE_W / 2,
                xml_escape(&line)
            );
            y += 18;
        }
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#5b6472">{}</text>"##,
            at.x + NODE_W / 2,
            y - 2,
            xml_escape(&roles)
        );
        if let Some(period) = period {
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#b42318">{}</text>"##,
                at.x + NODE_W / 2,
                y + 13,
                xml_escape(&period)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// The step's periods in a few words for its box ("时限 20 个工作日，可延长").
fn box_period(s: &zhifa_domain::procedure::Step) -> Option<String> {
    let deadline = s.deadline.as_ref().map(|d| {
        let extended = if d.extension.is_some() {
            "，可延长"
        } else {
            ""
        };
        format!("时限 {}{extended}", d.span())
    });
    let window = s.window.as_ref().map(|w| format!("等待 {}", w.span()));
    match (deadline, window) {
        (Some(d), Some(w)) => Some(format!("{d}；{w}")),
        (d, w) => d.or(w),
    }
}

/// A font size (at most 11 px) at which `chars` CJK glyphs fit in `room` pixels.
fn fitting_font(room: i32, chars: usize) -> i32 {
    (room / (chars.max(1) as i32)).clamp(7, 11)
}

/// The height at which the `lane`-th of `slots` arrows leaves or enters a box at `top`.
fn slot_y(top: i32, slots: &[usize], lane: usize) -> i32 {
    let i = slots.iter().position(|l| *l == lane).unwrap_or(0) as i32;
    let n = slots.len() as i32;
    top + NODE_H * (i + 1) / (n + 1)
}

/// Splits text into lines of at most `width` characters (at most two; the rest elided).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = chars.chunks(width).map(|c| c.iter().collect()).collect();
    if lines.len() > 2 {
        lines.truncate(2);
        let last = lines[1].chars().take(width - 1).collect::<String>();
        lines[1] = format!("{last}…");
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_and_condition_appears_in_the_drawing() {
        for p in zhifa_domain::procedure::shipped().unwrap() {
            let svg = svg(&p);
            for s in &p.steps {
                assert!(svg.contains(&xml_escape(&s.basis)), "{} {}", p.code, s.code);
            }
            let text = text_of(&svg);
            for t in &p.transitions {
                let c = t.condition_text();
                assert!(
                    text.contains(&c) || text.contains(&c.replace('，', "︐")),
                    "{} → {}: {c}",
                    t.from,
                    t.to
                );
            }
            assert_eq!(
                svg.matches("marker-end").count(),
                p.transitions.len(),
                "one arrow per transition in {}",
                p.code
            );
        }
    }

    #[test]
    fn a_case_flowchart_marks_its_current_step_only() {
        let p = zhifa_domain::procedure::find("penalty-ordinary").unwrap();
        let svg = svg_marked(p, Some("notice"), &["filing", "investigation"]);
        assert_eq!(svg.matches(r#"class="current""#).count(), 1);
        assert!(svg.contains("<title>当前步骤。行政处罚法第四十四条"));
        assert_eq!(svg.matches("<title>已完成。").count(), 2);
        assert!(!self::svg(p).contains("当前步骤"));
    }

    /// The drawing's text with the markup taken out.
    fn text_of(svg: &str) -> String {
        let mut text = String::new();
        let mut in_tag = false;
        for c in svg.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text
    }

    #[test]
    fn long_names_wrap_to_two_lines() {
        assert_eq!(wrap("立案", 12), vec!["立案"]);
        let w = wrap(&"字".repeat(30), 12);
        assert_eq!(w.len(), 2);
        assert!(w[1].ends_with('…'));
    }
}
