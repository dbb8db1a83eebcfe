//! The fonts documents are set in: the system's Chinese fonts (the 公文 faces — 方正小标宋,
//! 仿宋_GB2312, 黑体, 宋体 — when installed; otherwise the SIL OFL Noto CJK faces Debian ships
//! as `fonts-noto-cjk`), plus any font files in `ZHIFA_FONT_DIR`, and — last, for a machine
//! with none of them — the font zhifa ships: Noto Serif CJK SC cut down to GB 2312
//! (`fonts/`, OFL 1.1; a character outside GB 2312 then shows as a box). Read once per
//! process.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use typst::foundations::Bytes;
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;

/// File names that hold faces a Chinese document can use.
const CJK_HINTS: &[&str] = &[
    "cjk",
    "simsun",
    "simfang",
    "simhei",
    "simkai",
    "fangsong",
    "fzxbs",
    "fzxiaobiaosong",
    "xiaobiaosong",
    "stfangso",
    "stsong",
    "sourcehan",
    "wqy",
    "wenquanyi",
    "notoserifsc",
    "notosanssc",
    "kaiti",
    "heiti",
    "songti",
];

/// The family of the shipped font (named in every font list, always last).
pub const SHIPPED_FAMILY: &str = "Noto Serif CJK SC GB2312";
static SHIPPED: &[u8] = include_bytes!("../fonts/NotoSerifSC-GB2312.otf");

pub struct FontSet {
    pub book: LazyHash<FontBook>,
    pub fonts: Vec<Font>,
    /// Where the faces came from (for the error when none is Chinese).
    pub files: Vec<PathBuf>,
}

fn walk(dir: &Path, all: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    // Sorted: the same fonts in the same order on every run (deterministic output).
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, all, out);
            continue;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let is_font = [".ttf", ".otf", ".ttc", ".otc"]
            .iter()
            .any(|e| name.ends_with(e));
        let squashed: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if is_font && (all || CJK_HINTS.iter().any(|h| squashed.contains(h))) {
            out.push(p);
        }
    }
}

/// A font file's bytes, mapped rather than read: the CJK faces are ~90 MB, of which a
/// document touches the tables and the glyphs it uses; the kernel pages in only those.
fn map(path: &Path) -> Option<Bytes> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: the mapping is read-only and lives as long as the process's font set. Font
    // files are installed system files (or an administrator's font directory); replacing
    // one while zhifa runs is outside what zhifa supports, as for any shared library.
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(m) => Some(Bytes::new(m)),
        Err(_) => std::fs::read(path).ok().map(Bytes::new),
    }
}

fn load() -> FontSet {
    let mut files = Vec::new();
    if let Some(dir) = std::env::var_os("ZHIFA_FONT_DIR") {
        walk(Path::new(&dir), true, &mut files);
    }
    for dir in ["/usr/share/fonts", "/usr/local/share/fonts"] {
        walk(Path::new(dir), false, &mut files);
    }
    let mut fonts = Vec::new();
    for f in &files {
        if let Some(bytes) = map(f) {
            fonts.extend(Font::iter(bytes));
        }
    }
    fonts.extend(Font::iter(Bytes::new(SHIPPED)));
    FontSet {
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        files,
    }
}

static FONTS: LazyLock<FontSet> = LazyLock::new(load);

pub fn get() -> &'static FontSet {
    &FONTS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine without any Chinese font still sets documents: in the shipped face.
    #[test]
    fn the_shipped_font_is_always_there_and_sets_chinese() {
        let set = get();
        assert!(set.book.families().any(|(name, _)| name == SHIPPED_FAMILY));
        let markup = format!(
            "#set text(font: \"{SHIPPED_FAMILY}\", fallback: false)\n朱堂乡人民政府行政处罚决定书"
        );
        let paged = crate::pdf::layout(markup, (2026, 11, 30)).unwrap();
        let pdf = crate::pdf::export(&paged, "t", (2026, 11, 30)).unwrap();
        let needle = b"NotoSerifCJKSCGB2312";
        assert!(
            pdf.windows(needle.len()).any(|w| w == needle),
            "the shipped face is embedded"
        );
    }
}
