//! Cutting logs into stretches that are replayed side by side, and putting their findings
//! back together in log order.
//!
//! A stretch `[b, to)` starts from the tree's compact range at `b`: the nodes of
//! `frontier_ids(b)`, read from the stored hash chunks (or computed from the stored nodes
//! below them, `log_chunks.rs`). Those nodes are trusted only provisionally: each lies
//! wholly below `b`, so the stretch before recomputes the stored nodes they come from and
//! names any that differs (the stretch after may then report follow-on mismatches, never
//! a false pass). A log is replayed whole when it is short or when a node it would start
//! from is not stored.
//! Both readers (`read_sqlite`, `read_sqlx`) cut and merge through here.

use super::{Findings, Job, Replayed};
use crate::error::StoreError;
use zhifa_ledger::Hash;
use zhifa_ledger::tree::{CompactRange, NodeId, frontier_ids};

/// Stretches per worker (see `Split::cut_points`).
const STRETCHES_PER_WORKER: usize = 4;

/// How logs are cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    /// Stretches replayed at once.
    pub workers: usize,
    /// Stretches start at multiples of this many entries; a log shorter than two of them
    /// is replayed whole.
    pub unit: u64,
}

impl Split {
    /// One stretch at a time per core the process may use.
    pub fn for_this_machine(unit: u64) -> Split {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        Split { workers, unit }
    }

    /// Where a log of `size` entries is cut: four stretches per worker, so that the
    /// workers, taking stretches in turn, finish close together whatever each one's speed
    /// (measured: 4 % less time than one stretch each on two cores); at multiples of
    /// `unit`, so a short log is cut into fewer or none.
    fn cut_points(self, size: u64) -> Vec<u64> {
        if self.unit == 0 || size < 2 * self.unit {
            return Vec::new();
        }
        let parts = (STRETCHES_PER_WORKER * self.workers.max(1)) as u64;
        let mut points: Vec<u64> = (1..parts)
            .map(|k| size / parts * k / self.unit * self.unit)
            .filter(|b| *b > 0 && *b < size)
            .collect();
        points.dedup();
        points
    }

    /// Every stored node the cuts of a log of `size` entries start from.
    pub fn frontier_nodes(self, size: u64) -> Vec<NodeId> {
        self.cut_points(size)
            .into_iter()
            .flat_map(frontier_ids)
            .collect()
    }

    /// The stretches of job `j`'s log, `stored` giving the stored hash of a frontier
    /// node (`None` when it is not stored, or not 32 bytes).
    pub fn pieces<E>(
        self,
        j: usize,
        job: &Job,
        mut stored: impl FnMut(NodeId) -> Result<Option<Hash>, E>,
    ) -> Result<Vec<Piece>, E> {
        let size = job.head.size;
        let whole = vec![Piece {
            job: j,
            start: CompactRange::empty(),
            to: size,
        }];
        let points = self.cut_points(size);
        let mut pieces = Vec::with_capacity(points.len() + 1);
        let mut start = CompactRange::empty();
        for b in points {
            let mut frontier = Vec::new();
            for id in frontier_ids(b) {
                match stored(id)? {
                    Some(h) => frontier.push(h),
                    None => return Ok(whole),
                }
            }
            let Ok(next) = CompactRange::resume(b, frontier) else {
                return Ok(whole);
            };
            pieces.push(Piece {
                job: j,
                start: std::mem::replace(&mut start, next),
                to: b,
            });
        }
        pieces.push(Piece {
            job: j,
            start,
            to: size,
        });
        Ok(pieces)
    }
}

/// A stretch `[start.size(), to)` of one job's log.
#[derive(Clone)]
pub(crate) struct Piece {
    pub job: usize,
    pub start: CompactRange,
    pub to: u64,
}

impl Piece {
    pub fn from(&self) -> u64 {
        self.start.size()
    }

    /// The lowest journal position this stretch accounts for: the first stretch also
    /// takes rows at impossible (negative) positions.
    pub fn journal_from(&self) -> i64 {
        match self.from() {
            0 => i64::MIN,
            from => from as i64,
        }
    }
}

/// What replaying one stretch found.
pub(crate) struct PieceResult {
    pub findings: Findings,
    pub replayed: Replayed,
}

/// Puts the stretches' findings together in order, as if one reader had read everything:
/// failures in log order, a later entry's snapshot replacing an earlier one's, and per job
/// the roots of every stretch. `results[i]` is `None` for a stretch left undone after
/// another failed (that failure is returned).
pub(crate) fn merge(
    pieces: &[Piece],
    results: Vec<Option<Result<PieceResult, StoreError>>>,
    jobs: usize,
    f: &mut Findings,
) -> Result<Vec<Replayed>, StoreError> {
    let mut replayed: Vec<Replayed> = (0..jobs).map(|_| Replayed::default()).collect();
    let mut first_error = None;
    for (piece, result) in pieces.iter().zip(results) {
        let result = match result {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                first_error.get_or_insert(e);
                continue;
            }
            None => continue,
        };
        f.report.absorb(result.findings.report);
        f.latest.extend(result.findings.latest);
        f.announced.extend(result.findings.announced);
        f.join_trails(result.findings.trails);
        let whole = &mut replayed[piece.job];
        whole.roots.extend(result.replayed.roots);
        whole.uncoded_last = whole.uncoded_last.max(result.replayed.uncoded_last);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(replayed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_on_the_unit_and_short_logs_stay_whole() {
        let two = Split {
            workers: 2,
            unit: 16_384,
        };
        assert!(two.cut_points(32_767).is_empty());
        assert_eq!(
            two.cut_points(1_000_001),
            vec![
                114_688, 245_760, 360_448, 491_520, 622_592, 737_280, 868_352
            ]
        );
        // Short of a unit per stretch, fewer stretches.
        assert_eq!(two.cut_points(40_000), vec![16_384, 32_768]);
        let four = Split {
            workers: 4,
            unit: 4,
        };
        assert_eq!(four.cut_points(35), vec![4, 8, 12, 16, 20, 24, 28]);
        // One core still cuts.
        let one = Split {
            workers: 1,
            unit: 4,
        };
        assert_eq!(one.cut_points(35), vec![8, 16, 24]);
        for size in 0..200 {
            for p in four.cut_points(size) {
                assert!(p % 4 == 0 && p > 0 && p < size);
            }
        }
    }
}
