//! Zero-copy containers for metadata decoded on a device without an allocator.
//!
//! Postcard can borrow byte slices and strings from its input but must allocate to decode a
//! `Vec<T>`. Metadata therefore stores lists in two shapes that decode in place:
//!
//! * [`Seq<'a, T>`]: `count` postcard-encoded `T`s back to back, decoded one at a time while
//!   iterating. For lists read sequentially (imports, exports, segments).
//! * [`FixedTable<'a, R>`]: fixed-width little-endian records, for lists that need random
//!   access or binary search (functions, the trap table).
//!
//! Both serialize as `(u32 count, bytes)` / `bytes` inside the postcard metadata.

use core::marker::PhantomData;
use serde::{Deserialize, Serialize};

/// A sequence of postcard-encoded `T`, decoded lazily.
///
/// On the device a `Seq` always borrows its encoded bytes from the image. On the host (feature
/// `alloc`) it can also own a `Vec<T>` ([`Seq::owned`]) and encodes it on serialization; the wire
/// format is the same: a varint count, then a length-prefixed byte string holding the elements.
#[derive(Clone, Debug, PartialEq)]
pub struct Seq<'a, T> {
    repr: SeqRepr<'a, T>,
}

#[derive(Clone, Debug, PartialEq)]
enum SeqRepr<'a, T> {
    Encoded {
        count: u32,
        bytes: &'a [u8],
        marker: PhantomData<fn() -> T>,
    },
    #[cfg(feature = "alloc")]
    Owned(alloc::vec::Vec<T>),
}

/// A malformed element inside a [`Seq`] or [`FixedTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqError;

impl<'a, T> Seq<'a, T> {
    /// An empty sequence.
    pub const EMPTY: Seq<'a, T> = Seq {
        repr: SeqRepr::Encoded {
            count: 0,
            bytes: &[],
            marker: PhantomData,
        },
    };

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            SeqRepr::Encoded { count, .. } => *count as usize,
            #[cfg(feature = "alloc")]
            SeqRepr::Owned(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(feature = "alloc")]
impl<T> Seq<'_, T> {
    /// A sequence that owns its elements (host side, for encoding).
    pub fn owned(items: alloc::vec::Vec<T>) -> Self {
        Seq {
            repr: SeqRepr::Owned(items),
        }
    }
}

impl<'a, T: Deserialize<'a> + Clone> Seq<'a, T> {
    /// Iterates over the elements; yields `Err` once and stops on a malformed element.
    pub fn iter(&self) -> SeqIter<'_, 'a, T> {
        match &self.repr {
            SeqRepr::Encoded { count, bytes, .. } => SeqIter {
                inner: IterRepr::Encoded {
                    remaining: *count,
                    bytes,
                    failed: false,
                },
            },
            #[cfg(feature = "alloc")]
            SeqRepr::Owned(v) => SeqIter {
                inner: IterRepr::Owned(v.iter()),
            },
        }
    }

    /// Element `index`, decoding every element before it (O(index)).
    pub fn get(&self, index: usize) -> Option<T> {
        self.iter().nth(index).and_then(Result::ok)
    }

    /// Decodes every element once and checks that the bytes hold exactly `count` of them.
    pub fn check(&self) -> Result<(), SeqError> {
        let mut seen = 0usize;
        for item in self.iter() {
            item?;
            seen += 1;
        }
        #[cfg_attr(
            not(feature = "alloc"),
            allow(irrefutable_let_patterns, reason = "only Encoded exists without alloc")
        )]
        if let SeqRepr::Encoded { count, bytes, .. } = &self.repr {
            let mut rest: &[u8] = bytes;
            for _ in 0..*count {
                rest = postcard::take_from_bytes::<T>(rest)
                    .map_err(|_| SeqError)?
                    .1;
            }
            if !rest.is_empty() || seen != *count as usize {
                return Err(SeqError);
            }
        }
        Ok(())
    }
}

impl<T: Serialize> Serialize for Seq<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        match &self.repr {
            SeqRepr::Encoded { count, bytes, .. } => {
                let mut t = serializer.serialize_tuple(2)?;
                t.serialize_element(count)?;
                t.serialize_element(&Bytes(bytes))?;
                t.end()
            }
            #[cfg(feature = "alloc")]
            SeqRepr::Owned(items) => {
                let mut bytes = alloc::vec::Vec::new();
                for item in items {
                    let encoded = postcard::to_allocvec(item).map_err(serde::ser::Error::custom)?;
                    bytes.extend_from_slice(&encoded);
                }
                let count = u32::try_from(items.len()).map_err(serde::ser::Error::custom)?;
                let mut t = serializer.serialize_tuple(2)?;
                t.serialize_element(&count)?;
                t.serialize_element(&Bytes(&bytes))?;
                t.end()
            }
        }
    }
}

impl<'de: 'a, 'a, T> Deserialize<'de> for Seq<'a, T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (count, bytes): (u32, &'de [u8]) = Deserialize::deserialize(deserializer)?;
        Ok(Seq {
            repr: SeqRepr::Encoded {
                count,
                bytes,
                marker: PhantomData,
            },
        })
    }
}

/// Serializes a byte slice as a postcard byte string (length + bytes).
struct Bytes<'b>(&'b [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Iterator over a [`Seq`].
pub struct SeqIter<'s, 'a, T> {
    inner: IterRepr<'s, 'a, T>,
}

enum IterRepr<'s, 'a, T> {
    Encoded {
        remaining: u32,
        bytes: &'a [u8],
        failed: bool,
    },
    #[cfg(feature = "alloc")]
    Owned(core::slice::Iter<'s, T>),
    #[cfg(not(feature = "alloc"))]
    #[allow(
        dead_code,
        reason = "keeps the lifetime and type parameters used without alloc"
    )]
    Never(core::marker::PhantomData<&'s T>),
}

impl<'a, T: Deserialize<'a> + Clone> Iterator for SeqIter<'_, 'a, T> {
    type Item = Result<T, SeqError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterRepr::Encoded {
                remaining,
                bytes,
                failed,
            } => {
                if *remaining == 0 || *failed {
                    return None;
                }
                *remaining -= 1;
                match postcard::take_from_bytes::<T>(bytes) {
                    Ok((item, rest)) => {
                        *bytes = rest;
                        Some(Ok(item))
                    }
                    Err(_) => {
                        *failed = true;
                        Some(Err(SeqError))
                    }
                }
            }
            #[cfg(feature = "alloc")]
            IterRepr::Owned(it) => it.next().cloned().map(Ok),
            #[cfg(not(feature = "alloc"))]
            IterRepr::Never(_) => None,
        }
    }
}

/// A fixed-width little-endian record stored in a [`FixedTable`].
pub trait FixedRecord: Sized {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Decodes from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
    /// Encodes into exactly `SIZE` bytes.
    fn encode(&self, out: &mut [u8]);
}

/// Random-access table of fixed-width records, borrowed from the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedTable<'a, R> {
    #[serde(borrow)]
    bytes: &'a [u8],
    #[serde(skip)]
    _marker: PhantomData<R>,
}

impl<'a, R: FixedRecord + 'a> FixedTable<'a, R> {
    /// An empty table.
    pub const EMPTY: FixedTable<'a, R> = FixedTable {
        bytes: &[],
        _marker: PhantomData,
    };

    /// A table over encoded bytes.
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        FixedTable {
            bytes,
            _marker: PhantomData,
        }
    }

    /// The encoded records (for a runtime that must find them again without the table, e.g. a
    /// fault handler looking up the trap table).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the byte length is a whole number of records.
    pub fn check(&self) -> Result<(), SeqError> {
        if self.bytes.len().is_multiple_of(R::SIZE) {
            Ok(())
        } else {
            Err(SeqError)
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.bytes.len() / R::SIZE
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `index`.
    pub fn get(&self, index: usize) -> Option<R> {
        let start = index.checked_mul(R::SIZE)?;
        let end = start.checked_add(R::SIZE)?;
        self.bytes.get(start..end).map(R::decode)
    }

    /// Iterates over the records.
    pub fn iter(&self) -> impl Iterator<Item = R> + 'a {
        self.bytes.chunks_exact(R::SIZE).map(R::decode)
    }

    /// Binary search over records sorted by `key`.
    pub fn binary_search_by_key<K: Ord>(&self, key: &K, f: impl Fn(&R) -> K) -> Option<R> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let rec = self.get(mid)?;
            match f(&rec).cmp(key) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(rec),
            }
        }
        None
    }
}

#[cfg(feature = "alloc")]
impl<R: FixedRecord> FixedTable<'_, R> {
    /// Encodes records into the byte form a `FixedTable` borrows (host side).
    pub fn encode<'i>(records: impl IntoIterator<Item = &'i R>) -> alloc::vec::Vec<u8>
    where
        R: 'i,
    {
        let mut out = alloc::vec::Vec::new();
        for r in records {
            let start = out.len();
            out.resize(start + R::SIZE, 0);
            r.encode(&mut out[start..]);
        }
        out
    }
}

/// Reads a little-endian `u32` at `at` from a slice the caller has sized (panics otherwise;
/// only used on slices of exactly `FixedRecord::SIZE`).
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
