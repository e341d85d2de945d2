//! A postcard sequence kept as bytes and decoded one element at a time, so that a header with
//! any number of tensors and operators is read without allocating.

use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

/// `count` postcard-encoded values of `T`, back to back.
pub struct Section<'a, T> {
    count: u32,
    bytes: &'a [u8],
    _item: PhantomData<fn() -> T>,
}

impl<T> Clone for Section<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Section<'_, T> {}

impl<T> fmt::Debug for Section<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("count", &self.count)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl<'a, T> Section<'a, T> {
    /// A section over already-encoded elements (the compiler builds these).
    pub const fn from_encoded(count: u32, bytes: &'a [u8]) -> Self {
        Section {
            count,
            bytes,
            _item: PhantomData,
        }
    }

    /// Number of elements.
    pub const fn len(&self) -> u32 {
        self.count
    }

    /// Whether the section has no elements.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded bytes.
    pub const fn encoded(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<'a, T: Deserialize<'a>> Section<'a, T> {
    /// Decodes the elements in order; each item is an error if its bytes do not decode.
    pub fn iter(&self) -> SectionIter<'a, T> {
        SectionIter {
            remaining: self.count,
            bytes: self.bytes,
            _item: PhantomData,
        }
    }

    /// Decodes element `index` (walking the ones before it).
    pub fn get(&self, index: u32) -> Option<T> {
        self.iter().nth(usize::try_from(index).ok()?)?.ok()
    }
}

/// Iterator over a [`Section`].
pub struct SectionIter<'a, T> {
    remaining: u32,
    bytes: &'a [u8],
    _item: PhantomData<fn() -> T>,
}

impl<'a, T> SectionIter<'a, T> {
    /// The bytes not decoded yet: after an error, the failing element's encoding onwards.
    pub(crate) fn undecoded(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<'a, T: Deserialize<'a>> Iterator for SectionIter<'a, T> {
    type Item = Result<T, postcard::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        match postcard::take_from_bytes::<T>(self.bytes) {
            Ok((item, rest)) => {
                self.bytes = rest;
                Some(Ok(item))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, usize::try_from(self.remaining).ok())
    }
}

impl<T> Serialize for Section<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.count)?;
        tuple.serialize_element(&Bytes(self.bytes))?;
        tuple.end()
    }
}

struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a, T> Deserialize<'de> for Section<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        type Marker<'a, T> = PhantomData<(&'a (), fn() -> T)>;
        struct SectionVisitor<'a, T>(Marker<'a, T>);

        impl<'de: 'a, 'a, T> Visitor<'de> for SectionVisitor<'a, T> {
            type Value = Section<'a, T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a (count, bytes) section")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let count: u32 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let bytes: &'de [u8] = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(Section::from_encoded(count, bytes))
            }
        }

        deserializer.deserialize_tuple(2, SectionVisitor(PhantomData))
    }
}
