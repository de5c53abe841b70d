//! The address index of one loaded list: rows sorted by address, with a radix table on the
//! leading address bits.
//!
//! Why not a `HashMap<Address, Vec<_>>`: a million-address list would cost a heap allocation
//! per address and roughly twice the memory. Addresses are (close to) uniformly distributed, so
//! the top `bits` bits pick a bucket of a handful of rows and a binary search inside it finishes
//! a lookup in tens of nanoseconds; a skewed list only degrades to a plain binary search.

use alloy_primitives::Address;

use super::ChecksumStatus;

/// One (address, label, party) row: 28 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub address: [u8; 20],
    pub party: u32,
    pub label: u16,
    pub checksum: ChecksumStatus,
}

/// Sorted rows plus bucket offsets.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressIndex {
    rows: Vec<Row>,
    /// `offsets[b]..offsets[b + 1]` are the rows whose top `bits` bits equal `b`.
    offsets: Vec<u32>,
    bits: u32,
}

/// Aim for about four rows per bucket, capped at 2^20 buckets (4 MiB of offsets).
fn bucket_bits(rows: usize) -> u32 {
    let target = (rows / 4).max(1);
    (usize::BITS - target.leading_zeros()).min(20)
}

fn prefix(address: &[u8; 20], bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    let [a, b, c, d, ..] = *address;
    (u32::from_be_bytes([a, b, c, d]) >> (32 - bits)) as usize
}

impl AddressIndex {
    /// Builds the index; duplicate (address, label, party) rows collapse into one.
    pub(crate) fn build(mut rows: Vec<Row>) -> Self {
        rows.sort_unstable_by(|x, y| {
            (x.address, x.label, x.party, x.checksum)
                .cmp(&(y.address, y.label, y.party, y.checksum))
        });
        rows.dedup_by(|x, y| (x.address, x.label, x.party) == (y.address, y.label, y.party));
        rows.shrink_to_fit();
        let bits = bucket_bits(rows.len());
        let buckets = 1usize << bits;
        let mut offsets = Vec::with_capacity(buckets + 1);
        let mut row = 0usize;
        for bucket in 0..buckets {
            offsets.push(u32::try_from(row).unwrap_or(u32::MAX));
            while rows
                .get(row)
                .is_some_and(|r| prefix(&r.address, bits) == bucket)
            {
                row += 1;
            }
        }
        offsets.push(u32::try_from(rows.len()).unwrap_or(u32::MAX));
        Self {
            rows,
            offsets,
            bits,
        }
    }

    /// Every row for `address` (several when it is listed under several labels or parties).
    pub(crate) fn lookup(&self, address: &Address) -> &[Row] {
        let key: &[u8; 20] = address.as_ref();
        let bucket = prefix(key, self.bits);
        let (Some(&start), Some(&end)) = (self.offsets.get(bucket), self.offsets.get(bucket + 1))
        else {
            return &[];
        };
        let Some(slice) = self.rows.get(start as usize..end as usize) else {
            return &[];
        };
        let first = slice.partition_point(|r| r.address < *key);
        let rest = slice.get(first..).unwrap_or_default();
        let len = rest.partition_point(|r| r.address == *key);
        rest.get(..len).unwrap_or_default()
    }

    /// Number of rows (records after de-duplication).
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Distinct addresses in ascending order.
    pub(crate) fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        let mut last: Option<[u8; 20]> = None;
        self.rows.iter().filter_map(move |r| {
            if last == Some(r.address) {
                None
            } else {
                last = Some(r.address);
                Some(Address::from(r.address))
            }
        })
    }

    /// Bytes held on the heap by the index.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.offsets.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(first: u8, last: u8, label: u16) -> Row {
        let mut address = [0u8; 20];
        address[0] = first;
        address[19] = last;
        Row {
            address,
            party: 0,
            label,
            checksum: ChecksumStatus::Lowercase,
        }
    }

    #[test]
    fn finds_all_rows_of_an_address_and_nothing_else() {
        let rows = (0..=255u8)
            .flat_map(|b| [row(b, b, 0), row(b, b, 1), row(b, 0, 0)])
            .collect::<Vec<_>>();
        let index = AddressIndex::build(rows);
        assert_eq!(index.len(), 256 * 2 + 255);
        for b in 0..=255u8 {
            assert_eq!(index.lookup(&Address::from(row(b, b, 0).address)).len(), 2);
            let missing = row(b, b.wrapping_add(1), 0);
            if b != 255 {
                assert!(index.lookup(&Address::from(missing.address)).is_empty());
            }
        }
        assert_eq!(index.addresses().count(), 256 + 255);
    }

    #[test]
    fn row_is_compact() {
        assert_eq!(std::mem::size_of::<Row>(), 28);
    }

    #[test]
    fn empty_and_single() {
        let empty = AddressIndex::build(Vec::new());
        assert!(empty.lookup(&Address::ZERO).is_empty());
        let one = AddressIndex::build(vec![row(9, 9, 0)]);
        assert_eq!(one.lookup(&Address::from(row(9, 9, 0).address)).len(), 1);
    }
}
