//! A small, strict reader of NumPy `.npy` files: format version 1.0 or 2.0, a header
//! dictionary with exactly `descr` (`'<f4'` float32 or `'|i1'` int8), `fortran_order: False`
//! and `shape`, then exactly the data the shape calls for.

use std::fmt;
use std::path::Path;

/// The elements of an array, in C order.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Little-endian float32 (`'<f4'`).
    F32(Vec<f32>),
    /// int8 (`'|i1'`).
    I8(Vec<i8>),
}

impl Data {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I8(v) => v.len(),
        }
    }

    /// The NumPy name of the element type.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Data::F32(_) => "float32",
            Data::I8(_) => "int8",
        }
    }
}

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// The elements; their number is the product of `shape`.
    pub data: Data,
}

/// Why bytes are not an array this reader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    BadMagic,
    /// A format version other than 1.0 or 2.0.
    UnsupportedVersion(u8, u8),
    /// The file ends inside the preamble or the header.
    Truncated,
    /// The header is not the dictionary NumPy writes.
    BadHeader(String),
    /// An element type other than `'<f4'` and `'|i1'`.
    UnsupportedDType(String),
    /// `fortran_order` is `True`.
    FortranOrder,
    /// The data are not exactly as long as the shape says.
    DataLength {
        /// Bytes the shape calls for (`None` when that overflows).
        expected: Option<usize>,
        /// Bytes after the header.
        got: usize,
    },
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::BadMagic => f.write_str("not a .npy file (bad magic)"),
            NpyError::UnsupportedVersion(major, minor) => write!(
                f,
                ".npy format version {major}.{minor} is not supported (1.0 and 2.0 are)"
            ),
            NpyError::Truncated => f.write_str(".npy file truncated inside its header"),
            NpyError::BadHeader(why) => write!(f, "bad .npy header: {why}"),
            NpyError::UnsupportedDType(descr) => write!(
                f,
                "element type '{descr}' is not supported (float32 '<f4' or int8 '|i1')"
            ),
            NpyError::FortranOrder => f.write_str("Fortran-ordered arrays are not supported"),
            NpyError::DataLength {
                expected: Some(expected),
                got,
            } => write!(
                f,
                "the shape calls for {expected} data bytes, the file holds {got}"
            ),
            NpyError::DataLength {
                expected: None,
                got: _,
            } => f.write_str("the shape's element count overflows"),
        }
    }
}

impl std::error::Error for NpyError {}

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads the `.npy` file at `path`; errors name the file.
pub fn read(path: &Path) -> Result<Array, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the bytes of a `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Array, NpyError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(NpyError::Truncated),
    };
    let (len_bytes, start) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) => (4, 12),
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    let mut header_len = [0u8; 4];
    header_len[..len_bytes].copy_from_slice(bytes.get(8..start).ok_or(NpyError::Truncated)?);
    let header_len = u32::from_le_bytes(header_len) as usize;
    let header = start
        .checked_add(header_len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(NpyError::Truncated)?;
    let data = &bytes[start + header.len()..];

    let header = std::str::from_utf8(header)
        .ok()
        .filter(|h| h.is_ascii())
        .ok_or_else(|| NpyError::BadHeader("not ASCII".into()))?;
    let (descr, shape) = parse_header(header)?;

    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let expected = count.and_then(|n| n.checked_mul(descr.size()));
    if expected != Some(data.len()) {
        return Err(NpyError::DataLength {
            expected,
            got: data.len(),
        });
    }
    let data = match descr {
        Descr::F32 => Data::F32(
            data.chunks_exact(4)
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect(),
        ),
        Descr::I8 => Data::I8(data.iter().map(|&b| b as i8).collect()),
    };
    Ok(Array { shape, data })
}

/// The element types this reader accepts.
#[derive(Debug, Clone, Copy)]
enum Descr {
    F32,
    I8,
}

impl Descr {
    fn size(self) -> usize {
        match self {
            Descr::F32 => 4,
            Descr::I8 => 1,
        }
    }
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (8, 3, 64), }` plus the space
/// padding and the final newline; every key exactly once, in any order.
fn parse_header(text: &str) -> Result<(Descr, Vec<usize>), NpyError> {
    if !text.ends_with('\n') {
        return Err(bad("it does not end with a newline"));
    }
    let mut cursor = Cursor { text, pos: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    cursor.expect('{')?;
    while !cursor.eat('}') {
        let key = cursor.string()?;
        cursor.expect(':')?;
        match key {
            "descr" => set_once(&mut descr, cursor.string()?, key)?,
            "fortran_order" => set_once(&mut fortran, cursor.boolean()?, key)?,
            "shape" => set_once(&mut shape, cursor.tuple()?, key)?,
            other => return Err(bad(&format!("unexpected key '{other}'"))),
        }
        if !cursor.eat(',') {
            cursor.expect('}')?;
            break;
        }
    }
    if !cursor.rest().trim().is_empty() {
        return Err(bad("characters after the dictionary"));
    }
    let descr = match descr.ok_or_else(|| bad("no 'descr'"))? {
        "<f4" => Descr::F32,
        "|i1" => Descr::I8,
        other => return Err(NpyError::UnsupportedDType(other.to_string())),
    };
    if fortran.ok_or_else(|| bad("no 'fortran_order'"))? {
        return Err(NpyError::FortranOrder);
    }
    Ok((descr, shape.ok_or_else(|| bad("no 'shape'"))?))
}

fn bad(why: &str) -> NpyError {
    NpyError::BadHeader(why.to_string())
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), NpyError> {
    if slot.replace(value).is_some() {
        return Err(bad(&format!("'{key}' given twice")));
    }
    Ok(())
}

/// A position in the header text (the tokens of a Python literal, as NumPy writes them).
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_whitespace(&mut self) {
        self.pos = self.text.len() - self.rest().trim_start().len();
    }

    /// Skips whitespace, then consumes `c` if it comes next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_whitespace();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), NpyError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(bad(&format!("expected '{c}' at byte {}", self.pos)))
        }
    }

    /// A quoted string without escapes: `'...'` or `"..."`.
    fn string(&mut self) -> Result<&'a str, NpyError> {
        let quote = if self.eat('\'') {
            '\''
        } else if self.eat('"') {
            '"'
        } else {
            return Err(bad(&format!("expected a string at byte {}", self.pos)));
        };
        let rest = self.rest();
        let end = rest.find(quote).ok_or_else(|| bad("unterminated string"))?;
        if rest[..end].contains('\\') {
            return Err(bad("escapes in strings are not supported"));
        }
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    /// `True` or `False`.
    fn boolean(&mut self) -> Result<bool, NpyError> {
        self.skip_whitespace();
        for (word, value) in [("True", true), ("False", false)] {
            if self.rest().starts_with(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(bad(&format!("expected True or False at byte {}", self.pos)))
    }

    /// A tuple of non-negative integers: `()`, `(8,)`, `(8, 3, 64)`.
    fn tuple(&mut self) -> Result<Vec<usize>, NpyError> {
        self.expect('(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(')') {
                return Ok(dims);
            }
            dims.push(self.integer()?);
            if !self.eat(',') {
                self.expect(')')?;
                if dims.len() == 1 {
                    return Err(bad("a one-dimensional shape needs a trailing comma"));
                }
                return Ok(dims);
            }
        }
    }

    fn integer(&mut self) -> Result<usize, NpyError> {
        self.skip_whitespace();
        let rest = self.rest();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let value = rest[..digits]
            .parse()
            .map_err(|_| bad(&format!("expected a dimension at byte {}", self.pos)))?;
        self.pos += digits;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut header = header.to_string();
        let fixed = if version == 1 { 10 } else { 12 };
        while !(fixed + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend([version, 0]);
        if version == 1 {
            bytes.extend((header.len() as u16).to_le_bytes());
        } else {
            bytes.extend((header.len() as u32).to_le_bytes());
        }
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    fn floats(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn reads_float32_and_int8_in_both_versions() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        let data = floats(&[0.5, -1.0, 2.0, 3.0, 4.0, 5.5]);
        for version in [1, 2] {
            let array = parse(&npy(version, header, &data)).unwrap();
            assert_eq!(array.shape, [2, 3]);
            assert_eq!(array.data, Data::F32(vec![0.5, -1.0, 2.0, 3.0, 4.0, 5.5]));
        }
        let header = "{'shape': (3,), 'fortran_order': False, 'descr': '|i1'}";
        let array = parse(&npy(1, header, &[1, 0xff, 0x80])).unwrap();
        assert_eq!(
            (array.shape, array.data),
            (vec![3], Data::I8(vec![1, -1, -128]))
        );
        let scalar = "{'descr': '<f4', 'fortran_order': False, 'shape': ()}";
        assert_eq!(parse(&npy(1, scalar, &floats(&[7.0]))).unwrap().shape, []);
    }

    #[test]
    fn rejects_what_it_does_not_read() {
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        let data = floats(&[1.0, 2.0]);
        assert_eq!(parse(b"PK\x03\x04 not npy"), Err(NpyError::BadMagic));
        let mut v3 = npy(1, ok, &data);
        v3[6] = 3;
        assert_eq!(parse(&v3), Err(NpyError::UnsupportedVersion(3, 0)));
        let whole = npy(1, ok, &data);
        assert_eq!(parse(&whole[..40]), Err(NpyError::Truncated));
        assert!(matches!(
            parse(&npy(1, ok, &data[..7])),
            Err(NpyError::DataLength {
                expected: Some(8),
                got: 7
            })
        ));
        let cases = [
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
                "'<f8'",
            ),
            (
                "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}",
                "'>f4'",
            ),
            (
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}",
                "Fortran",
            ),
            ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
                "trailing comma",
            ),
            ("{'descr': '<f4', 'descr': '<f4', 'shape': (2,)}", "twice"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                "'x'",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
                "dimension",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
                "after",
            ),
        ];
        for (header, says) in cases {
            let err = parse(&npy(1, header, &data)).unwrap_err().to_string();
            assert!(err.contains(says), "{header}: {err}");
        }
        let huge =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 9999)}";
        assert!(matches!(
            parse(&npy(2, huge, &data)),
            Err(NpyError::DataLength { expected: None, .. })
        ));
    }
}
