//! The Merkle tree of RFC 9162 §2.1: appending, tree heads, proofs and their
//! verification.
//!
//! Storage keeps every *perfect* subtree's hash, addressed by [`NodeId`] (level 0 holds
//! the leaf hashes). Any other subtree hash — and so any proof element — is a fold of a
//! few perfect subtrees, so a proof is first *planned* as a list of node ids, fetched in
//! one query, then assembled.

use crate::hash::{Hash, HashAlg};
use std::collections::HashMap;

/// A perfect subtree of 2^level leaves, starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size1} is larger than {size2}")]
    SizesReversed { size1: u64, size2: u64 },
    #[error("proof has the wrong length")]
    WrongLength,
    #[error("computed root does not match")]
    RootMismatch,
    #[error("a node the proof needs is missing: level {}, index {}", .0.level, .0.index)]
    MissingNode(NodeId),
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up leaves `[start, end)`, left to right, for the
/// ranges that arise in RFC 9162's recursion (each piece aligned to its size).
pub fn decompose(mut start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    while start < end {
        let remaining = end - start;
        let mut level = 63 - remaining.leading_zeros() as u8;
        while start & ((1u64 << level) - 1) != 0 {
            level -= 1;
        }
        out.push(NodeId {
            level,
            index: start >> level,
        });
        start += 1u64 << level;
    }
    out
}

/// The hash of the subtree made of `parts` (as returned by [`decompose`]).
pub fn fold(alg: HashAlg, parts: &[Hash]) -> Option<Hash> {
    let (last, rest) = parts.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| alg.node(h, &acc)))
}

/// A proof to be assembled: each element is the hash of the listed perfect subtrees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProofPlan {
    pub elements: Vec<Vec<NodeId>>,
}

impl ProofPlan {
    /// Every node the proof needs (for one batched fetch).
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self.elements.iter().flatten().copied().collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn assemble(
        &self,
        alg: HashAlg,
        lookup: impl Fn(NodeId) -> Option<Hash>,
    ) -> Result<Vec<Hash>, ProofError> {
        self.elements
            .iter()
            .map(|parts| {
                let hashes = parts
                    .iter()
                    .map(|&id| lookup(id).ok_or(ProofError::MissingNode(id)))
                    .collect::<Result<Vec<_>, _>>()?;
                fold(alg, &hashes).ok_or(ProofError::WrongLength)
            })
            .collect()
    }
}

/// RFC 9162 §2.1.3.1 PATH(index, D[size]).
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    fn path(index: u64, start: u64, end: u64, out: &mut Vec<Vec<NodeId>>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if index < start + k {
            path(index, start, start + k, out);
            out.push(decompose(start + k, end));
        } else {
            path(index, start + k, end, out);
            out.push(decompose(start, start + k));
        }
    }
    let mut elements = Vec::new();
    path(index, 0, size, &mut elements);
    Ok(ProofPlan { elements })
}

/// RFC 9162 §2.1.4.1 PROOF(size1, D[size2]); empty when the sizes are equal or size1 is 0.
pub fn consistency_plan(size1: u64, size2: u64) -> Result<ProofPlan, ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesReversed { size1, size2 });
    }
    fn sub(m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<Vec<NodeId>>) {
        let n = end - start;
        if m == n {
            if !complete {
                out.push(decompose(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            sub(m, start, start + k, complete, out);
            out.push(decompose(start + k, end));
        } else {
            sub(m - k, start + k, end, false, out);
            out.push(decompose(start, start + k));
        }
    }
    let mut elements = Vec::new();
    if size1 > 0 && size1 < size2 {
        sub(size1, 0, size2, true, &mut elements);
    }
    Ok(ProofPlan { elements })
}

/// The perfect subtrees whose hashes summarise a tree of `size` leaves (one per set bit).
pub fn frontier_ids(size: u64) -> Vec<NodeId> {
    decompose(0, size)
}

/// The right edge of a tree: enough to append and to compute the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    frontier: Vec<Hash>,
}

impl CompactRange {
    pub fn empty() -> Self {
        CompactRange {
            size: 0,
            frontier: Vec::new(),
        }
    }

    /// Resumes from the hashes of [`frontier_ids`]`(size)`, in that order.
    pub fn resume(size: u64, frontier: Vec<Hash>) -> Result<Self, ProofError> {
        if frontier.len() != size.count_ones() as usize {
            return Err(ProofError::WrongLength);
        }
        Ok(CompactRange { size, frontier })
    }

    /// The roots of the perfect subtrees the range holds, largest first (what
    /// [`CompactRange::resume`] takes back).
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns every perfect subtree completed by it (the leaf itself
    /// at level 0 first), to be stored.
    pub fn append(&mut self, alg: HashAlg, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut created = Vec::with_capacity(2);
        self.append_with(alg, leaf, |id, h| created.push((id, h)));
        created
    }

    /// Like [`CompactRange::append`], handing each completed subtree to `completed`
    /// instead of collecting them (no allocation per leaf when replaying a large log).
    pub fn append_with(
        &mut self,
        alg: HashAlg,
        leaf: Hash,
        mut completed: impl FnMut(NodeId, Hash),
    ) {
        completed(
            NodeId {
                level: 0,
                index: self.size,
            },
            leaf,
        );
        let mut cur = leaf;
        let mut level = 0u8;
        let mut index = self.size;
        while index & 1 == 1 {
            let left = self.frontier.pop().expect("a set bit has a frontier hash");
            cur = alg.node(&left, &cur);
            level += 1;
            index >>= 1;
            completed(NodeId { level, index }, cur);
        }
        self.frontier.push(cur);
        self.size += 1;
    }

    /// The tree head (RFC 9162 MTH) of the current size.
    pub fn root(&self, alg: HashAlg) -> Hash {
        fold(alg, &self.frontier).unwrap_or_else(|| alg.empty_root())
    }
}

fn node_of(alg: HashAlg, left: &[u8], right: &[u8]) -> Hash {
    alg.digest(&[&[0x01], left, right])
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` (a leaf hash) is at `index` in the tree of
/// `size` with `root`. Inputs are byte slices because they arrive from outside; a value
/// of the wrong length simply fails to match.
pub fn verify_inclusion<P: AsRef<[u8]>>(
    alg: HashAlg,
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if leaf.len() != 32 {
        return Err(ProofError::RootMismatch);
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r: Hash = leaf.try_into().expect("checked length");
    for p in proof {
        let p = p.as_ref();
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_of(alg, p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_of(alg, &r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if r.as_slice() != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `size1` with `root1` is a prefix of the
/// tree of `size2` with `root2`. Consistency with the empty tree is refused: it proves
/// nothing (RFC 9162 defines proofs for 0 < size1).
pub fn verify_consistency<P: AsRef<[u8]>>(
    alg: HashAlg,
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesReversed { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::WrongLength);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<&[u8]> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(root1);
    }
    path.extend(proof.iter().map(|p| p.as_ref()));
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let first = path[0];
    if first.len() != 32 {
        return Err(ProofError::RootMismatch);
    }
    let mut fr: Hash = first.try_into().expect("checked length");
    let mut sr = fr;
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_of(alg, c, &fr);
            sr = node_of(alg, c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_of(alg, &sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr.as_slice() != root1 || sr.as_slice() != root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The reference MTH of RFC 9162 §2.1.1, computed from all leaf hashes (tests, bundles).
pub fn root_of(alg: HashAlg, leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => alg.empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            alg.node(&root_of(alg, &leaves[..k]), &root_of(alg, &leaves[k..]))
        }
    }
}

/// A whole tree in memory: for the offline verifier and tests.
#[derive(Debug, Clone)]
pub struct MemoryTree {
    alg: HashAlg,
    range: CompactRange,
    nodes: HashMap<NodeId, Hash>,
}

impl MemoryTree {
    pub fn new(alg: HashAlg) -> Self {
        MemoryTree {
            alg,
            range: CompactRange::empty(),
            nodes: HashMap::new(),
        }
    }

    pub fn append_entry(&mut self, entry: &[u8]) -> Hash {
        let leaf = self.alg.leaf(entry);
        self.append_leaf(leaf);
        leaf
    }

    pub fn append_leaf(&mut self, leaf: Hash) {
        for (id, h) in self.range.append(self.alg, leaf) {
            self.nodes.insert(id, h);
        }
    }

    pub fn size(&self) -> u64 {
        self.range.size()
    }

    pub fn root(&self) -> Hash {
        self.range.root(self.alg)
    }

    pub fn node(&self, id: NodeId) -> Option<Hash> {
        self.nodes.get(&id).copied()
    }

    /// The root of the first `size` leaves (a past tree head).
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        let parts: Option<Vec<Hash>> = frontier_ids(size)
            .into_iter()
            .map(|id| self.node(id))
            .collect();
        Some(fold(self.alg, &parts?).unwrap_or_else(|| self.alg.empty_root()))
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if size > self.size() {
            return Err(ProofError::IndexOutOfRange {
                index: size,
                size: self.size(),
            });
        }
        inclusion_plan(index, size)?.assemble(self.alg, |id| self.node(id))
    }

    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, ProofError> {
        if size2 > self.size() {
            return Err(ProofError::SizesReversed {
                size1: size2,
                size2: self.size(),
            });
        }
        consistency_plan(size1, size2)?.assemble(self.alg, |id| self.node(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompose_follows_the_set_bits() {
        assert_eq!(
            decompose(0, 6),
            vec![NodeId { level: 2, index: 0 }, NodeId { level: 1, index: 2 }]
        );
        assert_eq!(
            decompose(4, 7),
            vec![NodeId { level: 1, index: 2 }, NodeId { level: 0, index: 6 }]
        );
        assert!(decompose(3, 3).is_empty());
    }

    #[test]
    fn split_point_is_the_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }
}
