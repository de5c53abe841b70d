//! RFC 6962 Merkle tree hashing, inclusion and consistency proofs (SHA-256).
//!
//! Kept deliberately small and free of I/O so it can be read against the RFC in one sitting:
//! leaf = `H(0x00 ‖ data)`, node = `H(0x01 ‖ left ‖ right)`, the empty tree hashes to `H()`,
//! and a tree of `n` leaves splits at the largest power of two below `n` (RFC 6962 §2.1).
//! Proof generation follows the RFC's recursive `PATH` and `SUBPROOF` definitions over a
//! [`Tree`] that caches every complete subtree, so a proof costs O(log² n) hashes rather than
//! O(n); verification follows RFC 9162 §2.1.3.2 and §2.1.4.2, which need no tree at all.
//! [`Frontier`] keeps only the O(log n) right-edge subtrees: what the live log needs to know
//! its root after each append.

use sha2::{Digest, Sha256};

/// A SHA-256 output.
pub type Hash = [u8; 32];

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf is not in a tree of that size.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf asked about.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("tree size {old} is larger than {new}")]
    SizesReversed {
        /// The size claimed to be the earlier one.
        old: u64,
        /// The size claimed to be the later one.
        new: u64,
    },
    /// A proof asked of a prefix longer than the leaves known.
    #[error("tree size {size} exceeds the {have} leaves available")]
    TooFewLeaves {
        /// The tree size asked for.
        size: u64,
        /// The leaves known.
        have: u64,
    },
    /// A proof with more or fewer hashes than its sizes call for.
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    /// A well-formed proof that leads elsewhere: the data or the root is not what was claimed.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// `H(0x00 ‖ data)`: the hash of one log entry.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `H(0x01 ‖ left ‖ right)`: an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `H()` with no prefix (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    let mut k = 1u64;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// A tree over known leaf hashes with every complete, aligned subtree cached.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[h][i]` is the root of leaves `[i·2^h, (i+1)·2^h)`; level 0 holds the leaves.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// Builds the cache from leaf hashes in O(n).
    pub fn new(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while let Some(last) = levels.last() {
            if last.len() < 2 {
                break;
            }
            let next: Vec<Hash> = last
                .chunks_exact(2)
                .map(|p| match p {
                    [l, r] => node_hash(l, r),
                    _ => empty_root(),
                })
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Root of the first `size` leaves (any prefix, as a checkpoint of that size signed it).
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        Ok(if size == 0 {
            empty_root()
        } else {
            self.range(0, size)
        })
    }

    /// Audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 `PATH`).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    /// Proof that the tree of `old` leaves is a prefix of the tree of `new` leaves
    /// (RFC 6962 `PROOF`); empty when `old` is 0 or equals `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new)?;
        if old > new {
            return Err(ProofError::SizesReversed { old, new });
        }
        let mut proof = Vec::new();
        if old > 0 && old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::TooFewLeaves {
                size,
                have: self.size(),
            });
        }
        Ok(())
    }

    /// MTH of leaves `[start, end)`, `start < end`, where `start` is aligned to the split
    /// structure (always true for the ranges the RFC recursion visits).
    fn range(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n.is_power_of_two() {
            let h = n.trailing_zeros() as usize;
            let cached = usize::try_from(start >> h)
                .ok()
                .and_then(|i| self.levels.get(h).and_then(|l| l.get(i)));
            if let Some(hash) = cached {
                return *hash;
            }
        }
        let k = split_point(n);
        node_hash(&self.range(start, start + k), &self.range(start + k, end))
    }

    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.range(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.range(start, start + k));
        }
    }

    fn subproof(&self, m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !complete {
                out.push(self.range(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, start + k, complete, out);
            out.push(self.range(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range(start, start + k));
        }
    }
}

/// Checks an audit path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that `old_root` (of `old` leaves) is a prefix of `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed { old, new });
    }
    if old == new || old == 0 {
        // Equal trees need no proof; the empty tree is a prefix of every tree.
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old == new && old_root != new_root {
            Err(ProofError::RootMismatch)
        } else {
            Ok(())
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: enough to compute the root after every append.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// Roots of the perfect subtrees that make up the tree, largest (leftmost) first, with
    /// their heights; heights strictly decrease, as in the binary expansion of `size`.
    stack: Vec<(u32, Hash)>,
}

impl Frontier {
    /// Number of leaves appended.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.stack.last() {
            if h != node.0 {
                break;
            }
            self.stack.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.size += 1;
    }

    /// The frontier as bytes, for a log whose writers share it through a database (several
    /// gateway replicas on one PostgreSQL): the size (8 bytes, big-endian), then each subtree's
    /// height (4 bytes, big-endian) and root, largest first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.stack.len() * 36);
        out.extend_from_slice(&self.size.to_be_bytes());
        for (height, root) in &self.stack {
            out.extend_from_slice(&height.to_be_bytes());
            out.extend_from_slice(root.as_slice());
        }
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes), refusing anything that is not the frontier of a tree
    /// of its stated size (heights that are not those of the size's binary expansion, in order).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (size, mut rest) = bytes.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        let mut stack = Vec::new();
        while !rest.is_empty() {
            let (height, tail) = rest.split_first_chunk::<4>()?;
            let (root, tail) = tail.split_first_chunk::<32>()?;
            stack.push((u32::from_be_bytes(*height), *root));
            rest = tail;
        }
        let expected: Vec<u32> = (0..64u32).rev().filter(|h| size >> h & 1 == 1).collect();
        let heights: Vec<u32> = stack.iter().map(|(h, _)| *h).collect();
        (heights == expected).then_some(Self { size, stack })
    }

    /// The RFC 6962 root of everything appended: fold the subtrees from the right.
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frontier_round_trips_through_bytes_and_refuses_a_wrong_shape() {
        let mut f = Frontier::default();
        for i in 0u8..40 {
            let back = Frontier::from_bytes(&f.to_bytes()).map(|b| (b.size(), b.root()));
            assert_eq!(back, Some((f.size(), f.root())), "size {}", f.size());
            f.push(leaf_hash(&[i]));
        }
        let bytes = f.to_bytes();
        // A size that does not match the subtrees, a truncated hash, trailing bytes.
        let mut wrong_size = bytes.clone();
        if let Some(b) = wrong_size.get_mut(7) {
            *b ^= 1;
        }
        assert!(Frontier::from_bytes(&wrong_size).is_none());
        assert!(Frontier::from_bytes(bytes.get(..bytes.len() - 1).unwrap_or_default()).is_none());
        let mut longer = bytes;
        longer.push(0);
        assert!(Frontier::from_bytes(&longer).is_none());
        assert!(Frontier::from_bytes(&[]).is_none());
    }
}
