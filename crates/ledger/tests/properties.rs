//! Properties that hold for every tree: proofs verify, any flipped bit fails, the
//! incremental tree equals the reference definition, and a resumed tree continues
//! exactly where it stopped. Both hash functions.

use proptest::prelude::*;
use zhifa_ledger::HashAlg;
use zhifa_ledger::tree::{
    CompactRange, MemoryTree, frontier_ids, root_of, verify_consistency, verify_inclusion,
};

fn alg() -> impl Strategy<Value = HashAlg> {
    prop_oneof![Just(HashAlg::Sha256), Just(HashAlg::Sm3)]
}

fn tree(alg: HashAlg, n: u64) -> MemoryTree {
    let mut t = MemoryTree::new(alg);
    for i in 0..n {
        t.append_entry(format!("entry {i}").as_bytes());
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_inclusion_proof_verifies_and_any_flipped_bit_fails(
        alg in alg(), n in 1u64..300, i_seed: u64, size_seed: u64, bit: usize,
    ) {
        let t = tree(alg, n);
        let size = 1 + size_seed % n;
        let i = i_seed % size;
        let leaf = alg.leaf(format!("entry {i}").as_bytes());
        let root = t.root_at(size).unwrap();
        let proof = t.inclusion_proof(i, size).unwrap();
        prop_assert!(verify_inclusion(alg, i, size, &leaf, &proof, &root).is_ok());

        // Flip one bit somewhere in leaf ‖ proof ‖ root.
        let total_bits = (proof.len() + 2) * 256;
        let b = bit % total_bits;
        let (which, byte, mask) = (b / 256, (b % 256) / 8, 1u8 << (b % 8));
        let (mut leaf2, mut proof2, mut root2) = (leaf, proof.clone(), root);
        if which == 0 { leaf2[byte] ^= mask } else if which <= proof.len() { proof2[which - 1][byte] ^= mask } else { root2[byte] ^= mask }
        prop_assert!(verify_inclusion(alg, i, size, &leaf2, &proof2, &root2).is_err());
        // A wrong index fails too. (A wrong size with the same root may pass: the size
        // is bound to the root by the signed checkpoint, not by the proof.)
        if size > 1 {
            prop_assert!(verify_inclusion(alg, (i + 1) % size, size, &leaf, &proof, &root).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_any_flipped_bit_fails(
        alg in alg(), n in 2u64..300, a_seed: u64, b_seed: u64, bit: usize,
    ) {
        let t = tree(alg, n);
        let size2 = 2 + b_seed % (n - 1);
        let size1 = 1 + a_seed % (size2 - 1);
        let (r1, r2) = (t.root_at(size1).unwrap(), t.root_at(size2).unwrap());
        let proof = t.consistency_proof(size1, size2).unwrap();
        prop_assert!(verify_consistency(alg, size1, size2, &proof, &r1, &r2).is_ok());
        let total_bits = (proof.len() + 2) * 256;
        let b = bit % total_bits;
        let (which, byte, mask) = (b / 256, (b % 256) / 8, 1u8 << (b % 8));
        let (mut p2, mut x1, mut x2) = (proof.clone(), r1, r2);
        if which < proof.len() { p2[which][byte] ^= mask } else if which == proof.len() { x1[byte] ^= mask } else { x2[byte] ^= mask }
        prop_assert!(verify_consistency(alg, size1, size2, &p2, &x1, &x2).is_err());
        // Swapped roots never verify.
        prop_assert!(verify_consistency(alg, size1, size2, &proof, &r2, &r1).is_err());
    }

    #[test]
    fn incremental_root_equals_the_definition(alg in alg(), n in 0u64..200) {
        let t = tree(alg, n);
        let leaves: Vec<_> = (0..n).map(|i| alg.leaf(format!("entry {i}").as_bytes())).collect();
        prop_assert_eq!(t.root(), root_of(alg, &leaves));
        for size in 0..=n {
            prop_assert_eq!(t.root_at(size).unwrap(), root_of(alg, &leaves[..size as usize]));
        }
    }

    #[test]
    fn a_resumed_range_continues_exactly(alg in alg(), n in 0u64..200, more in 1u64..50) {
        let t = tree(alg, n + more);
        let small = tree(alg, n);
        let frontier = frontier_ids(n).into_iter().map(|id| small.node(id).unwrap()).collect();
        let mut resumed = CompactRange::resume(n, frontier).unwrap();
        for i in n..n + more {
            resumed.append(alg, alg.leaf(format!("entry {i}").as_bytes()));
        }
        prop_assert_eq!(resumed.root(alg), t.root());
    }
}

#[test]
fn sha256_and_sm3_trees_differ() {
    assert_ne!(
        tree(HashAlg::Sha256, 5).root(),
        tree(HashAlg::Sm3, 5).root()
    );
}
