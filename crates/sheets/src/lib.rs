//! The published lists as spreadsheets, in the layout offices already keep in Excel:
//! one sheet per list, a header row, one row per entry, multi-line cells for structured
//! fields. Export writes XLSX (column widths set for Chinese text); import reads XLSX in
//! the same layout and checks every cell with the domain's rules, reporting each problem by
//! sheet, row and column in Chinese. Nothing here touches a database: the caller imports
//! all rows in one transaction, or none.
//!
//! 执法事项清单 layout (sheet “执法事项清单”), columns A–K:
//!
//! | column | header | content |
//! |---|---|---|
//! | A | 事项编码 | unique in the agency's list; a code already there adds a version |
//! | B | 事项名称 | |
//! | C | 事项类别 | 行政许可 … 行政裁决, 其他 |
//! | D | 法律依据 | one citation per line: 法律名称\|条\|款\|项 |
//! | E | 依据条文 | quoted provisions |
//! | F | 裁量基准 | one row per line: 情形\|等级\|处理\|最低罚款\|最高罚款 |
//! | G | 承办机构 | |
//! | H | 办理时限 | a whole number of days, or empty |
//! | I | 时限单位 | 工作日 or 日 |
//! | J | 救济渠道 | |
//! | K | 生效日期 | a date cell or text YYYY-MM-DD |

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, FormatAlign, Workbook};
use std::io::Cursor;
use zhifa_domain::catalog::{DiscretionRow, ItemInput, NewItemVersion};
use zhifa_domain::lists::{EntryInput, FieldKind, ListEntry, ListKind, parse_entry};

pub const ITEMS_SHEET: &str = "执法事项清单";

/// Rows one import may hold: more is refused before any row is checked.
pub const MAX_ROWS: usize = 10_000;

/// The columns of the 执法事项清单 sheet: header, field of `ItemInput`, width (in
/// characters; CJK characters are about two).
const ITEM_COLUMNS: [(&str, &str, f64); 11] = [
    ("事项编码", "code", 14.0),
    ("事项名称", "name", 40.0),
    ("事项类别", "category", 10.0),
    ("法律依据", "basis", 36.0),
    ("依据条文", "basis_text", 50.0),
    ("裁量基准", "discretion", 60.0),
    ("承办机构", "department", 16.0),
    ("办理时限", "time_limit", 9.0),
    ("时限单位", "time_unit", 9.0),
    ("救济渠道", "remedy", 40.0),
    ("生效日期", "effective_from", 12.0),
];

/// A problem with the file or one of its cells.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}：{message}")]
pub struct SheetError {
    /// "工作表“执法事项清单”第 5 行 D 列（法律依据）", or the file.
    pub location: String,
    pub message: String,
}

fn file_error(message: impl Into<String>) -> SheetError {
    SheetError {
        location: "文件".into(),
        message: message.into(),
    }
}

/// Excel's column name: A … Z, AA … XFD.
fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII letters")
}

fn cell_error_in(
    sheet: &str,
    header: &str,
    row: usize,
    col: usize,
    message: impl Into<String>,
) -> SheetError {
    SheetError {
        location: format!(
            "工作表“{sheet}”第 {row} 行 {} 列（{header}）",
            column_letter(col)
        ),
        message: message.into(),
    }
}

fn cell_error(row: usize, col: usize, message: impl Into<String>) -> SheetError {
    cell_error_in(ITEMS_SHEET, ITEM_COLUMNS[col].0, row, col, message)
}

/// One checked row: its Excel row number and the version it describes.
#[derive(Debug, Clone)]
pub struct ItemRow {
    pub row: usize,
    pub version: NewItemVersion,
}

/// The text of a cell as the form would have it. Dates (and numbers in the date column,
/// as Excel stores dates) become YYYY-MM-DD; whole numbers lose their ".0".
fn cell_text(cell: &Data, date_column: bool) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) if date_column => excel_date(*i as f64)?,
        Data::Int(i) => i.to_string(),
        Data::Float(f) if date_column => excel_date(*f)?,
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        Data::DateTime(d) => excel_date(d.as_f64())?,
        Data::DateTimeIso(s) => s.chars().take(10).collect(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("单元格含有 Excel 错误值 {e}")),
    })
}

/// An Excel serial date (1900 date system) as YYYY-MM-DD.
fn excel_date(serial: f64) -> Result<String, String> {
    // Serials between 1 (1900-01-01) and 2958465 (9999-12-31); the day is the whole part.
    if !(1.0..2_958_466.0).contains(&serial) {
        return Err(format!("{serial} 不是有效的日期"));
    }
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date");
    Ok((epoch + chrono::Duration::days(serial.trunc() as i64)).to_string())
}

/// Reads one sheet laid out with `headers` (row 1) and returns each non-empty data row as
/// (Excel row number, cell texts), or every problem with the file's shape or its cells.
/// `date_column`: the column whose numbers are Excel dates.
fn read_sheet(
    bytes: &[u8],
    sheet_name: &str,
    headers: &[&str],
    date_column: Option<usize>,
) -> Result<Vec<(usize, Vec<String>)>, Vec<SheetError>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| {
        vec![file_error(
            "不是有效的 Excel 工作簿（.xlsx）。请用 Excel 或 WPS 另存为 .xlsx 后再导入",
        )]
    })?;
    let names = book.sheet_names();
    let Some(sheet) = names.iter().find(|n| n.trim() == sheet_name).cloned() else {
        return Err(vec![file_error(format!(
            "找不到工作表“{sheet_name}”（现有：{}）。请使用导出的模板",
            names.join("、")
        ))]);
    };
    // Cells are streamed and kept only within our columns: building calamine's whole
    // range would allocate every cell between the used corners, and a tiny file with one
    // cell at A1 and one at XFD1048576 would exhaust memory.
    let mut cells: std::collections::BTreeMap<u32, Vec<Data>> = Default::default();
    {
        let mut reader = book
            .worksheet_cells_reader(&sheet)
            .map_err(|e| vec![file_error(format!("无法读取工作表“{sheet}”：{e}"))])?;
        loop {
            let cell = match reader.next_cell() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(vec![file_error(format!("无法读取工作表“{sheet}”：{e}"))]),
            };
            let (r, c) = cell.get_position();
            let value = Data::from(cell.get_value().clone());
            if matches!(value, Data::Empty) || c as usize >= headers.len() {
                continue;
            }
            if r as usize > MAX_ROWS {
                return Err(vec![file_error(format!(
                    "工作表“{sheet_name}”有超过 {MAX_ROWS} 行数据，超过一次导入的上限。请分批导入"
                ))]);
            }
            let row = cells
                .entry(r)
                .or_insert_with(|| vec![Data::Empty; headers.len()]);
            row[c as usize] = value;
        }
    }
    if !cells.contains_key(&0) && !cells.is_empty() {
        return Err(vec![file_error(format!(
            "工作表“{sheet_name}”的表头应在第 1 行，从 A1 单元格开始"
        ))]);
    }
    let header_row = cells.remove(&0).unwrap_or_default();
    let rows: Vec<(u32, Vec<Data>)> = cells.into_iter().collect();
    if rows.is_empty() {
        return Err(vec![file_error(format!(
            "工作表“{sheet_name}”没有数据行（第 1 行是表头，数据从第 2 行开始）"
        ))]);
    }
    let mut errors = Vec::new();
    // The header must be ours, in our order.
    for (i, header) in headers.iter().enumerate() {
        let found = header_row
            .get(i)
            .and_then(|c| cell_text(c, false).ok())
            .unwrap_or_default();
        if found.trim() != *header {
            errors.push(SheetError {
                location: format!("工作表“{sheet_name}”第 1 行 {} 列", column_letter(i)),
                message: format!("表头应为“{header}”，实际为“{}”", found.trim()),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Merged cells keep their value in the top-left cell only: the other rows would read
    // as empty, so they are refused rather than half-read.
    if let Ok(merged) = book.merge_cells_by_sheet_name(&sheet)
        && let Some(m) = merged.first()
    {
        return Err(vec![SheetError {
            location: format!(
                "工作表“{sheet_name}”{}{}:{}{}",
                column_letter(m.start.1 as usize),
                m.start.0 + 1,
                column_letter(m.end.1 as usize),
                m.end.0 + 1
            ),
            message: "含有合并单元格。请取消合并并在每一行填写完整后再导入".into(),
        }]);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (r, cells) in &rows {
        let row = *r as usize + 1;
        let mut texts = Vec::with_capacity(headers.len());
        for (col, header) in headers.iter().enumerate() {
            let cell = cells.get(col).unwrap_or(&Data::Empty);
            match cell_text(cell, date_column == Some(col)) {
                Ok(t) => texts.push(t),
                Err(m) => {
                    errors.push(cell_error_in(sheet_name, header, row, col, m));
                    texts.push(String::new());
                }
            }
        }
        out.push((row, texts));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(out)
}

/// Reads and checks the 执法事项清单 sheet of an XLSX file. Returns every checked row, or
/// every problem found (the caller imports nothing then).
pub fn read_items(bytes: &[u8]) -> Result<Vec<ItemRow>, Vec<SheetError>> {
    let headers: Vec<&str> = ITEM_COLUMNS.iter().map(|c| c.0).collect();
    let date_column = ITEM_COLUMNS.iter().position(|c| c.1 == "effective_from");
    let rows = read_sheet(bytes, ITEMS_SHEET, &headers, date_column)?;
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for (row, texts) in rows {
        let mut input = ItemInput::default();
        for ((_, field, _), text) in ITEM_COLUMNS.iter().zip(texts) {
            set_field(&mut input, field, text);
        }
        match NewItemVersion::parse(&input) {
            Ok(version) => out.push(ItemRow { row, version }),
            Err(field_errors) => {
                for e in field_errors.iter() {
                    let col = ITEM_COLUMNS
                        .iter()
                        .position(|(_, f, _)| *f == e.field)
                        .unwrap_or(0);
                    errors.push(cell_error(row, col, e.message.clone()));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn set_field(input: &mut ItemInput, field: &str, text: String) {
    let slot = match field {
        "code" => &mut input.code,
        "name" => &mut input.name,
        "category" => &mut input.category,
        "basis" => &mut input.basis,
        "basis_text" => &mut input.basis_text,
        "discretion" => &mut input.discretion,
        "department" => &mut input.department,
        "time_limit" => &mut input.time_limit,
        "time_unit" => &mut input.time_unit,
        "remedy" => &mut input.remedy,
        _ => &mut input.effective_from,
    };
    *slot = text;
}

/// Where a store refusal (a duplicate code, an overlapping version) of one imported row
/// lies in the sheet.
pub fn row_error(row: usize, field: &str, message: impl Into<String>) -> SheetError {
    let col = ITEM_COLUMNS
        .iter()
        .position(|(_, f, _)| *f == field)
        .unwrap_or(0);
    cell_error(row, col, message)
}

/// One item version as an export row, in the sheet's column order.
pub fn item_cells(
    code: &str,
    effective_from: &str,
    c: &zhifa_domain::catalog::ItemContent,
) -> [String; 11] {
    [
        code.to_owned(),
        c.name.clone(),
        c.category.label().to_owned(),
        c.basis
            .iter()
            .map(|b| b.line())
            .collect::<Vec<_>>()
            .join("\n"),
        c.basis_text.clone(),
        c.discretion
            .iter()
            .map(DiscretionRow::line)
            .collect::<Vec<_>>()
            .join("\n"),
        c.department.clone(),
        c.time_limit
            .map(|t| t.amount.to_string())
            .unwrap_or_default(),
        c.time_limit
            .map(|t| t.unit.label().to_owned())
            .unwrap_or_default(),
        c.remedy.clone(),
        effective_from.to_owned(),
    ]
}

/// Writes the 执法事项清单 sheet (header, then `rows`) as an XLSX file.
pub fn write_items(rows: &[[String; 11]]) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(ITEMS_SHEET).map_err(|e| e.to_string())?;
    let header = Format::new()
        .set_bold()
        .set_background_color("#F2F2F2")
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let body = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (i, (title, _, width)) in ITEM_COLUMNS.iter().enumerate() {
        let col = i as u16;
        sheet
            .set_column_width(col, *width)
            .map_err(|e| e.to_string())?;
        sheet
            .write_string_with_format(0, col, *title, &header)
            .map_err(|e| e.to_string())?;
    }
    sheet.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
    for (r, row) in rows.iter().enumerate() {
        for (c, text) in row.iter().enumerate() {
            sheet
                .write_string_with_format((r + 1) as u32, c as u16, text, &body)
                .map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

/// The header row of a list's sheet: 编码, then the list's columns.
fn list_headers(kind: ListKind) -> Vec<&'static str> {
    std::iter::once("编码")
        .chain(kind.fields().iter().map(|f| f.label))
        .collect()
}

/// Writes one of the other lists as an XLSX file (its sheet named after the list; choices
/// written by their Chinese labels, which import accepts back).
pub fn write_list(kind: ListKind, entries: &[ListEntry]) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(kind.label()).map_err(|e| e.to_string())?;
    let header = Format::new()
        .set_bold()
        .set_background_color("#F2F2F2")
        .set_align(FormatAlign::Center);
    let body = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (i, h) in list_headers(kind).iter().enumerate() {
        let col = i as u16;
        // Wider for prose columns: two width units per CJK character of the header, at least.
        let width = match kind.fields().get(i.wrapping_sub(1)).map(|f| f.kind) {
            Some(FieldKind::Multiline) => 40.0,
            Some(FieldKind::Text) => 24.0,
            _ => 14.0_f64.max(h.chars().count() as f64 * 2.2),
        };
        sheet
            .set_column_width(col, width)
            .map_err(|e| e.to_string())?;
        sheet
            .write_string_with_format(0, col, *h, &header)
            .map_err(|e| e.to_string())?;
    }
    sheet.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
    for (r, e) in entries.iter().enumerate() {
        let row = (r + 1) as u32;
        sheet
            .write_string_with_format(row, 0, &e.code, &body)
            .map_err(|e| e.to_string())?;
        for (c, f) in kind.fields().iter().enumerate() {
            let text = match f.kind {
                // The label for choices; bare numbers for amounts and percentages.
                FieldKind::Choice(_) => e.display(f),
                _ => e.value(f.key).to_owned(),
            };
            sheet
                .write_string_with_format(row, (c + 1) as u16, &text, &body)
                .map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

/// Reads and checks one of the other lists from an XLSX file in the layout `write_list`
/// writes. Every checked row with its Excel row number, or every problem.
pub fn read_list(kind: ListKind, bytes: &[u8]) -> Result<Vec<(usize, ListEntry)>, Vec<SheetError>> {
    let headers = list_headers(kind);
    let rows = read_sheet(bytes, kind.label(), &headers, None)?;
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for (row, mut texts) in rows {
        let code = std::mem::take(&mut texts[0]);
        let input = EntryInput {
            code,
            values: kind
                .fields()
                .iter()
                .zip(texts.into_iter().skip(1))
                .map(|(f, t)| (f.key.to_owned(), t))
                .collect(),
        };
        match parse_entry(kind, &input) {
            Ok(entry) => out.push((row, entry)),
            Err(field_errors) => {
                for e in field_errors.iter() {
                    let col = if e.field == "code" {
                        0
                    } else {
                        kind.fields()
                            .iter()
                            .position(|f| f.key == e.field)
                            .map(|p| p + 1)
                            .unwrap_or(0)
                    };
                    errors.push(cell_error_in(
                        kind.label(),
                        headers[col],
                        row,
                        col,
                        e.message.clone(),
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where a store refusal of one imported list row lies in its sheet.
pub fn list_row_error(
    kind: ListKind,
    row: usize,
    field: &str,
    message: impl Into<String>,
) -> SheetError {
    let headers = list_headers(kind);
    let col = kind
        .fields()
        .iter()
        .position(|f| f.key == field)
        .map(|p| p + 1)
        .unwrap_or(0);
    cell_error_in(kind.label(), headers[col], row, col, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> [String; 11] {
        [
            "ZT-CF-001",
            "对露天焚烧秸秆的行政处罚",
            "行政处罚",
            "中华人民共和国大气污染防治法|119|1",
            "（摘要）",
            "焚烧面积较小|一般|责令改正，并处罚款|500|1000\n面积较大|较重|责令改正，并处罚款|1000|2000",
            "综合行政执法大队",
            "90",
            "日",
            "可以申请行政复议。",
            "2026-01-01",
        ]
        .map(str::to_owned)
    }

    #[test]
    fn an_export_reads_back_to_the_same_rows() {
        let bytes = write_items(&[example()]).unwrap();
        let rows = read_items(&bytes).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].row, 2);
        let v = &rows[0].version;
        assert_eq!(
            item_cells(&v.code, &v.effective_from.to_string(), &v.content),
            example()
        );
    }

    #[test]
    fn bad_cells_are_named_by_row_and_column_and_nothing_is_returned() {
        let mut bad = example();
        bad[2] = "行政奖励".into();
        bad[5] = "情形|一般|罚款|5000|1000".into();
        bad[7] = "0".into();
        let mut missing = example();
        missing[0] = "ZT-CF-002".into();
        missing[3] = String::new();
        let bytes = write_items(&[example(), bad, missing]).unwrap();
        let errors = read_items(&bytes).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for expected in [
            "第 3 行 C 列（事项类别）",
            "第 3 行 F 列（裁量基准）",
            "第 3 行 H 列（办理时限）",
            "第 4 行 D 列（法律依据）",
        ] {
            assert!(
                text.iter().any(|t| t.contains(expected)),
                "{expected}: {text:#?}"
            );
        }
    }

    #[test]
    fn files_that_are_not_item_lists_are_refused_whole() {
        let e = read_items(b"PK\x03\x04 not really a zip").unwrap_err();
        assert!(e[0].message.contains("不是有效的 Excel 工作簿"));
        let e = read_items(&write_items(&[]).unwrap()).unwrap_err();
        assert!(e[0].message.contains("没有数据行"));
        // Another workbook: a sheet with another name.
        let mut book = Workbook::new();
        book.add_worksheet().write_string(0, 0, "姓名").unwrap();
        let e = read_items(&book.save_to_buffer().unwrap()).unwrap_err();
        assert!(e[0].message.contains("找不到工作表“执法事项清单”"));
    }

    /// A workbook like the template, with `extra` applied to its sheet.
    fn book_with(extra: impl Fn(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(ITEMS_SHEET).unwrap();
        for (i, (t, _, _)) in ITEM_COLUMNS.iter().enumerate() {
            sheet.write_string(0, i as u16, *t).unwrap();
        }
        for (i, v) in example().iter().enumerate().take(10) {
            sheet.write_string(1, i as u16, v).unwrap();
        }
        // Excel keeps dates as serial numbers: 46023 is 2026-01-01.
        sheet.write_number(1, 10, 46023.0).unwrap();
        extra(sheet);
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn dates_stored_as_numbers_and_merged_cells() {
        let rows = read_items(&book_with(|_| {})).unwrap();
        assert_eq!(rows[0].version.effective_from.to_string(), "2026-01-01");
        // Two rows whose 承办机构 is one merged cell.
        let merged = book_with(|sheet| {
            for (i, v) in example().iter().enumerate() {
                sheet.write_string(2, i as u16, v).unwrap();
            }
            sheet.write_string(2, 0, "ZT-CF-002").unwrap();
            sheet
                .merge_range(1, 6, 2, 6, "综合行政执法大队", &Format::new())
                .unwrap();
        });
        let e = read_items(&merged).unwrap_err();
        assert!(e[0].message.contains("合并单元格"), "{e:?}");
        assert!(e[0].location.contains("G2:G3"), "{e:?}");
    }

    #[test]
    fn every_list_reads_back_what_it_writes_and_bad_cells_are_named() {
        let spot = parse_entry(
            ListKind::SpotCheck,
            &EntryInput {
                code: "CC-001".into(),
                values: [
                    ("item", "食品经营检查"),
                    ("subject", "朱堂乡人民政府"),
                    ("basis", "《中华人民共和国食品安全法》第一百一十条"),
                    ("target", "食品经营者"),
                    ("content", "许可证照\n进货查验记录"),
                    ("method", "onsite"),
                    ("ratio", "5"),
                    ("frequency", "每年 1 次"),
                ]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            },
        )
        .unwrap();
        let bytes = write_list(ListKind::SpotCheck, std::slice::from_ref(&spot)).unwrap();
        assert_eq!(
            read_list(ListKind::SpotCheck, &bytes).unwrap(),
            vec![(2, spot.clone())]
        );
        // Another list's file is not this list.
        let e = read_list(ListKind::AvRecord, &bytes).unwrap_err();
        assert!(e[0].message.contains("找不到工作表“音像记录事项清单”"));
        let mut bad = spot.clone();
        bad.values.insert("ratio".into(), "120".into());
        bad.values.insert("method".into(), "电话抽查".into());
        let e = read_list(
            ListKind::SpotCheck,
            &write_list(ListKind::SpotCheck, &[spot, bad]).unwrap(),
        )
        .unwrap_err();
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("第 3 行 H 列（抽查比例（%））")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("第 3 行 G 列（抽查方式）")),
            "{text:?}"
        );
    }

    #[test]
    fn column_names_go_past_z() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(16_383), "XFD");
    }

    #[test]
    fn a_far_away_cell_is_not_a_reason_to_allocate_the_sheet() {
        // One cell at the last row and column Excel allows: read by streaming, refused for
        // its row, without building the 17-billion-cell range between the corners.
        let bytes = book_with(|sheet| {
            sheet.write_string(1_048_575, 16_383, "x").unwrap();
            sheet.write_string(1_048_575, 0, "x").unwrap();
        });
        let e = read_items(&bytes).unwrap_err();
        assert!(e[0].message.contains("超过一次导入的上限"), "{e:?}");
    }

    #[test]
    fn too_many_rows_are_refused_before_checking() {
        let rows: Vec<[String; 11]> = (0..=MAX_ROWS)
            .map(|i| {
                let mut r = example();
                r[0] = format!("C{i}");
                r
            })
            .collect();
        let e = read_items(&write_items(&rows).unwrap()).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("超过一次导入的上限"), "{e:?}");
    }
}
