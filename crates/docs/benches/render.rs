//! How long a 行政处罚决定书 takes to render (a benchmark program, not a test): the first
//! render in a process (fonts read from disk, typst's caches cold) and repeated renders of
//! different decisions, PDF and DOCX, beside the reference of reading the font files alone.
//!
//! cargo bench -p zhifa-docs --bench render [-- N]

use std::time::Instant;
use zhifa_docs::{DocKind, Fields, Value};

fn fields(i: usize) -> Fields {
    let mut f = Fields::new();
    let mut t = |k: &str, v: String| {
        f.insert(k.to_owned(), Value::Text(v));
    };
    t("机关名称", "朱堂乡人民政府".into());
    t("案号", format!("朱堂综执罚〔2026〕{i}号"));
    t("案由", "在朱堂村北地块露天焚烧秸秆".into());
    t("立案日期", "2026年9月11日".into());
    t("文书日期", "2026年10月2日".into());
    t("当事人", format!("张某{i}"));
    t("当事人类型", "公民".into());
    t("证件号码", "411521198003150016".into());
    t("住所", "罗山县朱堂乡朱堂村".into());
    t(
        "违法事实",
        format!("当事人于2026年9月10日在其承包地内露天焚烧秸秆约{i}亩，产生烟尘污染。"),
    );
    t("证据", "现场检查笔录、询问笔录、现场照片 6 张。".into());
    t(
        "法律依据",
        "《中华人民共和国大气污染防治法》第七十七条".into(),
    );
    t("依据条文", "《中华人民共和国大气污染防治法》第一百一十九条第一款规定：……露天焚烧秸秆、落叶等产生烟尘污染的物质的，由县级以上地方人民政府确定的监督管理部门责令改正，并可以处五百元以上二千元以下的罚款。".into());
    t("处罚内容", "责令改正，并处罚款".into());
    t(
        "罚款金额",
        format!(
            "罚款人民币 {} 元（大写：{}）。",
            500 + i,
            zhifa_docs::rmb_upper(500 + i as u64)
        ),
    );
    t(
        "履行方式和期限",
        "自收到本决定书之日起十五日内缴纳罚款。".into(),
    );
    t("救济途径", "如不服本处罚决定，可以在收到本决定书之日起六十日内申请行政复议，或者在六个月内提起行政诉讼。".into());
    f
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let template = DocKind::find("penalty-decision")
        .unwrap()
        .builtin()
        .unwrap();
    let t = Instant::now();
    let fonts = zhifa_docs::fonts::get();
    println!(
        "fonts: {} faces from {} files read in {:.0} ms",
        fonts.fonts.len(),
        fonts.files.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let first = zhifa_docs::pdf::render(&template.fill(&fields(0)), (2026, 10, 2)).unwrap();
    println!(
        "first decision PDF in this process: {:.0} ms ({} bytes)",
        t.elapsed().as_secs_f64() * 1000.0,
        first.len()
    );
    let mut times = Vec::new();
    for i in 1..=n {
        let doc = template.fill(&fields(i));
        let t = Instant::now();
        let pdf = zhifa_docs::pdf::render(&doc, (2026, 10, 2)).unwrap();
        let docx = zhifa_docs::docx::render(&doc).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(pdf.len() > 1000 && docx.len() > 1000);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{n} different decisions, PDF + DOCX each: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
    // Reference: reading the font files the renderer loads, cold or from the page cache.
    let t = Instant::now();
    let mut bytes = 0;
    for f in &fonts.files {
        bytes += std::fs::read(f).map(|b| b.len()).unwrap_or(0);
    }
    println!(
        "reference: reading the {} font files ({} MB) again: {:.0} ms",
        fonts.files.len(),
        bytes / 1_000_000,
        t.elapsed().as_secs_f64() * 1000.0
    );
}
