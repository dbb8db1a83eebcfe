//! C2SP `tlog-tiles`: tile and entry-bundle paths, which nodes a tile holds, and the
//! bundle encoding (big-endian u16 length-prefixed entries).

use crate::tree::NodeId;

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;

/// A parsed `tile/...` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    /// `None` for an entry bundle (`tile/entries/...`), else the tile level (0–63).
    pub level: Option<u8>,
    pub index: u64,
    /// `Some(w)` for a partial tile of width 1–255.
    pub width: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilePathError {
    #[error("tile path is malformed: {0}")]
    Malformed(&'static str),
}

fn malformed(what: &'static str) -> TilePathError {
    TilePathError::Malformed(what)
}

fn decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

/// `1234067` → `x001/x234/067`.
pub fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// The path of a tile or bundle below the log prefix, e.g. `tile/0/x001/234.p/7`.
pub fn path(tile: &TileRef) -> String {
    let level = match tile.level {
        Some(l) => l.to_string(),
        None => "entries".to_owned(),
    };
    let mut p = format!("tile/{level}/{}", encode_index(tile.index));
    if let Some(w) = tile.width {
        p.push_str(&format!(".p/{w}"));
    }
    p
}

/// Parses what follows `tile/` in a request path.
pub fn parse(rest: &str) -> Result<TileRef, TilePathError> {
    let mut parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 2 {
        return Err(malformed("too few path elements"));
    }
    let level = match parts[0] {
        "entries" => None,
        l => Some(decimal(l, 63).ok_or(malformed("level must be 0–63"))? as u8),
    };
    parts.remove(0);
    // A partial tile ends in `<NNN>.p/<W>`.
    let mut width = None;
    if parts.len() >= 2 && parts[parts.len() - 2].ends_with(".p") {
        let w = decimal(parts[parts.len() - 1], 255)
            .filter(|&w| w >= 1)
            .ok_or(malformed("width must be 1–255"))?;
        width = Some(w as u16);
        parts.pop();
        let last = parts.pop().expect("checked");
        parts.push(&last[..last.len() - 2]);
    }
    if parts.len() > 7 {
        return Err(malformed("index too long"));
    }
    let mut index: u64 = 0;
    for (i, g) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let digits = if last {
            *g
        } else {
            g.strip_prefix('x')
                .ok_or(malformed("index elements need an x prefix"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("index elements have three digits"));
        }
        index = index
            .checked_mul(1000)
            .and_then(|v| v.checked_add(digits.parse::<u64>().expect("digits")))
            .ok_or(malformed("index too large"))?;
    }
    // Reject non-canonical encodings such as `x000/005` for 5.
    let tile = TileRef {
        level,
        index,
        width,
    };
    let canonical = path(&tile);
    if canonical != format!("tile/{rest}") {
        return Err(malformed("index is not in canonical form"));
    }
    Ok(tile)
}

/// How many leaves a tile covers per hash: 256^level.
fn leaves_per_hash(level: u8) -> Option<u64> {
    TILE_WIDTH.checked_pow(level as u32)
}

/// Whether the tile exists in a tree of `size` (full tiles once complete; partial tiles
/// of any width up to what the tree holds, since their content never changes).
pub fn available(tile: &TileRef, size: u64) -> bool {
    let per = match tile.level {
        None => Some(1),
        Some(l) => leaves_per_hash(l),
    };
    let Some(per) = per else { return false };
    let width = tile.width.map(u64::from).unwrap_or(TILE_WIDTH);
    tile.index
        .checked_mul(TILE_WIDTH)
        .and_then(|v| v.checked_add(width))
        .and_then(|v| v.checked_mul(per))
        .is_some_and(|end| end <= size)
}

/// The stored nodes a hash tile consists of, in order.
pub fn nodes(level: u8, index: u64, width: u16) -> Vec<NodeId> {
    let node_level = level * 8;
    (0..u64::from(width))
        .map(|i| NodeId {
            level: node_level,
            index: index * TILE_WIDTH + i,
        })
        .collect()
}

/// Encodes entries as a bundle. Entries longer than 65,535 bytes cannot be bundled.
pub fn bundle(entries: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        push_bundled(&mut out, e)?;
    }
    Some(out)
}

/// Appends one entry to a bundle: a big-endian u16 length, then the bytes (`None`, and
/// nothing appended, for an entry longer than 65,535 bytes).
pub fn push_bundled(out: &mut Vec<u8>, entry: &[u8]) -> Option<()> {
    let len = u16::try_from(entry.len()).ok()?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    Some(())
}

/// Splits a bundle into its entries.
pub fn unbundle(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    Some(bundled(data)?.into_iter().map(<[u8]>::to_vec).collect())
}

/// Splits a bundle into its entries, borrowed from it (`None` when the framing is broken).
pub fn bundled(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_matches_the_spec_example() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
    }

    #[test]
    fn parse_round_trips_and_rejects_malformed_paths() {
        for t in [
            TileRef {
                level: Some(0),
                index: 1234067,
                width: None,
            },
            TileRef {
                level: Some(2),
                index: 5,
                width: Some(17),
            },
            TileRef {
                level: None,
                index: 0,
                width: Some(1),
            },
        ] {
            let p = path(&t);
            assert_eq!(parse(p.strip_prefix("tile/").unwrap()), Ok(t));
        }
        for bad in [
            "",
            "0",
            "64/000",
            "01/000",
            "0/00",
            "0/0000",
            "0/x000/005",
            "0/001.p/0",
            "0/001.p/256",
            "0/001.p/07",
            "0/x1/000",
            "entries/abc",
            "0/000/",
            "-1/000",
            "0/+01",
            "0/001.p",
            "0/x001/x002/x003/x004/x005/x006/x007/008",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn availability_follows_the_tree_size() {
        // The spec's example: a tree of 70,000 entries.
        let size = 70_000;
        assert!(available(
            &TileRef {
                level: Some(0),
                index: 272,
                width: None
            },
            size
        ));
        assert!(!available(
            &TileRef {
                level: Some(0),
                index: 273,
                width: None
            },
            size
        ));
        assert!(available(
            &TileRef {
                level: Some(0),
                index: 273,
                width: Some(112)
            },
            size
        ));
        assert!(!available(
            &TileRef {
                level: Some(0),
                index: 273,
                width: Some(113)
            },
            size
        ));
        assert!(available(
            &TileRef {
                level: Some(1),
                index: 1,
                width: Some(17)
            },
            size
        ));
        assert!(available(
            &TileRef {
                level: Some(2),
                index: 0,
                width: Some(1)
            },
            size
        ));
        assert!(!available(
            &TileRef {
                level: Some(63),
                index: 0,
                width: Some(1)
            },
            size
        ));
    }

    #[test]
    fn bundles_round_trip() {
        let entries = vec![b"a".to_vec(), vec![], vec![7u8; 300]];
        let b = bundle(&entries).unwrap();
        assert_eq!(unbundle(&b).unwrap(), entries);
        assert!(unbundle(&b[..b.len() - 1]).is_none());
        assert!(bundle(&[vec![0u8; 70_000]]).is_none());
    }
}
