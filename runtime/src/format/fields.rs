//! Decoding of parameter structs made only of `u32` fields, in one loop instead of one
//! unrolled step per field: the wire format is the derived one (postcard writes a struct as
//! its fields in order), the decoder is a fraction of the code size.

use core::fmt;
use serde::Deserializer;
use serde::de::{Error, SeqAccess, Visitor};

/// Reads `N` consecutive `u32` fields of the struct `name`.
pub(crate) fn u32_fields<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
    name: &'static str,
) -> Result<[u32; N], D::Error> {
    struct Fields<const N: usize>(&'static str);

    impl<'de, const N: usize> Visitor<'de> for Fields<N> {
        type Value = [u32; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut fields = [0u32; N];
            for (index, field) in fields.iter_mut().enumerate() {
                *field = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(index, &self))?;
            }
            Ok(fields)
        }
    }

    deserializer.deserialize_tuple(N, Fields::<N>(name))
}

/// Implements `Deserialize` for a struct of `u32` fields, listed in wire order.
macro_rules! deserialize_u32_fields {
    ($ty:ident { $($field:ident),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let [$($field),+] = $crate::format::fields::u32_fields(deserializer, stringify!($ty))?;
                Ok($ty { $($field),+ })
            }
        }
    };
}
pub(crate) use deserialize_u32_fields;
