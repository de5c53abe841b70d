//! RFC 6962 hashing and proofs: the RFC's own 7-leaf example, built by hand from the
//! definitions, and proptest against a naive recursive model of MTH, PATH and PROOF.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use signgate_audit::merkle::*;

fn h(parts: &[&[u8]]) -> Hash {
    let mut s = Sha256::new();
    for p in parts {
        s.update(p);
    }
    s.finalize().into()
}

fn leaf(d: &[u8]) -> Hash {
    h(&[&[0], d])
}

fn node(l: &Hash, r: &Hash) -> Hash {
    h(&[&[1], l, r])
}

/// The RFC 6962 §2.1.3 example: seven leaves d0..d6 named a..f, d6 alone.
struct Rfc {
    leaves: Vec<Hash>,
    a: Hash,
    b: Hash,
    c: Hash,
    d: Hash,
    e: Hash,
    f: Hash,
    j: Hash,
    g: Hash,
    hh: Hash,
    i: Hash,
    k: Hash,
    l: Hash,
    root7: Hash,
    root3: Hash,
    root4: Hash,
    root6: Hash,
}

fn rfc() -> Rfc {
    let data: Vec<Vec<u8>> = (0u8..7).map(|n| vec![n, n.wrapping_mul(3), 0xee]).collect();
    let leaves: Vec<Hash> = data.iter().map(|d| leaf(d)).collect();
    let [a, b, c, d, e, f, j] = <[Hash; 7]>::try_from(leaves.clone()).unwrap();
    let g = node(&a, &b);
    let hh = node(&c, &d);
    let i = node(&e, &f);
    let k = node(&g, &hh);
    let l = node(&i, &j);
    Rfc {
        root7: node(&k, &l),
        root3: node(&g, &c),
        root4: k,
        root6: node(&k, &i),
        leaves,
        a,
        b,
        c,
        d,
        e,
        f,
        j,
        g,
        hh,
        i,
        k,
        l,
    }
}

#[test]
fn hashing_matches_the_definitions() {
    assert_eq!(leaf_hash(b"x"), leaf(b"x"));
    assert_eq!(node_hash(&[1; 32], &[2; 32]), node(&[1; 32], &[2; 32]));
    assert_eq!(empty_root(), h(&[]));
    let r = rfc();
    let t = Tree::new(r.leaves.clone());
    assert_eq!(t.root(7).unwrap(), r.root7);
    assert_eq!(t.root(3).unwrap(), r.root3);
    assert_eq!(t.root(4).unwrap(), r.root4);
    assert_eq!(t.root(1).unwrap(), r.a);
    assert_eq!(t.root(0).unwrap(), empty_root());
    let mut fr = Frontier::default();
    for (n, l) in r.leaves.iter().enumerate() {
        fr.push(*l);
        assert_eq!(fr.root(), t.root(n as u64 + 1).unwrap());
    }
}

#[test]
fn rfc_inclusion_examples() {
    let r = rfc();
    let t = Tree::new(r.leaves.clone());
    // RFC 6962 §2.1.3: the audit paths for d0, d3, d4 and d6.
    assert_eq!(t.inclusion_proof(0, 7).unwrap(), vec![r.b, r.hh, r.l]);
    assert_eq!(t.inclusion_proof(3, 7).unwrap(), vec![r.c, r.g, r.l]);
    assert_eq!(t.inclusion_proof(4, 7).unwrap(), vec![r.f, r.j, r.k]);
    assert_eq!(t.inclusion_proof(6, 7).unwrap(), vec![r.i, r.k]);
    for (n, l) in r.leaves.iter().enumerate() {
        let p = t.inclusion_proof(n as u64, 7).unwrap();
        verify_inclusion(l, n as u64, 7, &p, &r.root7).unwrap();
        assert!(verify_inclusion(l, n as u64, 7, &p, &r.root6).is_err());
    }
    assert!(verify_inclusion(&r.d, 2, 7, &t.inclusion_proof(3, 7).unwrap(), &r.root7).is_err());
    assert!(t.inclusion_proof(7, 7).is_err());
}

#[test]
fn rfc_consistency_examples() {
    let r = rfc();
    let t = Tree::new(r.leaves.clone());
    // RFC 6962 §2.1.3: PROOF(3, D[7]) = [c, d, g, l]; PROOF(4, D[7]) = [l];
    // PROOF(6, D[7]) = [i, j, k].
    assert_eq!(t.consistency_proof(3, 7).unwrap(), vec![r.c, r.d, r.g, r.l]);
    assert_eq!(t.consistency_proof(4, 7).unwrap(), vec![r.l]);
    assert_eq!(t.consistency_proof(6, 7).unwrap(), vec![r.i, r.j, r.k]);
    verify_consistency(3, 7, &r.root3, &r.root7, &[r.c, r.d, r.g, r.l]).unwrap();
    verify_consistency(4, 7, &r.root4, &r.root7, &[r.l]).unwrap();
    verify_consistency(6, 7, &r.root6, &r.root7, &[r.i, r.j, r.k]).unwrap();
    assert!(verify_consistency(3, 7, &r.root4, &r.root7, &[r.c, r.d, r.g, r.l]).is_err());
    assert!(verify_consistency(3, 7, &r.root3, &r.root7, &[r.c, r.d, r.g]).is_err());
    assert!(verify_consistency(7, 7, &r.root7, &r.root7, &[]).is_ok());
    let _ = (r.e, r.hh);
}

fn naive_root(l: &[Hash]) -> Hash {
    match l.len() {
        0 => h(&[]),
        1 => l[0],
        n => {
            let k = split(n);
            node(&naive_root(&l[..k]), &naive_root(&l[k..]))
        }
    }
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn naive_path(m: usize, l: &[Hash]) -> Vec<Hash> {
    if l.len() <= 1 {
        return vec![];
    }
    let k = split(l.len());
    if m < k {
        let mut p = naive_path(m, &l[..k]);
        p.push(naive_root(&l[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &l[k..]);
        p.push(naive_root(&l[..k]));
        p
    }
}

fn naive_subproof(m: usize, l: &[Hash], b: bool) -> Vec<Hash> {
    let n = l.len();
    if m == n {
        return if b { vec![] } else { vec![naive_root(l)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = naive_subproof(m, &l[..k], b);
        p.push(naive_root(&l[k..]));
        p
    } else {
        let mut p = naive_subproof(m - k, &l[k..], false);
        p.push(naive_root(&l[..k]));
        p
    }
}

proptest! {
    #[test]
    fn tree_matches_naive_model(n in 1usize..140, seed in any::<u64>(), a in any::<usize>(), b in any::<usize>()) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf(&[seed.to_le_bytes().as_slice(), &i.to_le_bytes()].concat())).collect();
        let t = Tree::new(leaves.clone());
        let mut fr = Frontier::default();
        for l in &leaves { fr.push(*l); }
        prop_assert_eq!(fr.root(), naive_root(&leaves));
        let size = 1 + b % n;
        let m = a % size;
        let root = naive_root(&leaves[..size]);
        prop_assert_eq!(t.root(size as u64).unwrap(), root);
        let p = t.inclusion_proof(m as u64, size as u64).unwrap();
        prop_assert_eq!(&p, &naive_path(m, &leaves[..size]));
        prop_assert!(verify_inclusion(&leaves[m], m as u64, size as u64, &p, &root).is_ok());
        let old = 1 + a % size;
        let c = t.consistency_proof(old as u64, size as u64).unwrap();
        if old < size {
            prop_assert_eq!(&c, &naive_subproof(old, &leaves[..size], true));
        }
        let old_root = naive_root(&leaves[..old]);
        prop_assert!(verify_consistency(old as u64, size as u64, &old_root, &root, &c).is_ok());
        // A wrong old root or a changed proof hash never verifies.
        prop_assert!(verify_consistency(old as u64, size as u64, &leaf(b"x"), &root, &c).is_err());
        if let Some(first) = c.first() {
            let mut bad = c.clone();
            bad[0] = node(first, first);
            prop_assert!(verify_consistency(old as u64, size as u64, &old_root, &root, &bad).is_err());
        }
    }
}
