//! Where samples come from: a `.npy` file (shape `[N, ...]`), or text (standard input) with
//! one sample per line as whitespace-separated numbers.

use crate::npy::{self, Data};
use std::io::BufRead;
use std::path::Path;

/// Samples from one source, not yet matched to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The file name, or `<stdin>`, for messages.
    pub source: String,
    /// Shape of the data: `[samples, ...]`, or one sample's shape.
    pub shape: Vec<usize>,
    /// The elements.
    pub data: Data,
}

impl Batch {
    /// The number of samples for a model taking `per_sample` elements per inference: the
    /// leading dimension when the others hold `per_sample` elements, or 1 when the whole
    /// array does (a single sample without the batch dimension).
    pub fn samples(&self, per_sample: usize) -> Result<usize, String> {
        let tail: usize = self.shape.iter().skip(1).product();
        match self.shape.first() {
            Some(&n) if tail == per_sample => Ok(n),
            _ if self.data.len() == per_sample => Ok(1),
            _ => Err(format!(
                "{}: shape {:?} holds samples of {tail} values; the model takes {per_sample} per sample (shape [N, ...])",
                self.source, self.shape
            )),
        }
    }
}

/// Reads a `.npy` file (float32 or int8).
pub fn from_npy(path: &Path) -> Result<Batch, String> {
    let array = npy::read(path)?;
    Ok(Batch {
        source: path.display().to_string(),
        shape: array.shape,
        data: array.data,
    })
}

/// Reads float samples as text, one per line (blank lines are skipped); every line must hold
/// the same number of values.
pub fn from_text(source: &str, reader: impl BufRead) -> Result<Batch, String> {
    let mut values = Vec::new();
    let (mut samples, mut width) = (0usize, None);
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("{source}: {e}"))?;
        let before = values.len();
        for word in line.split_whitespace() {
            let value: f32 = word
                .parse()
                .map_err(|_| format!("{source} line {}: '{word}' is not a number", number + 1))?;
            values.push(value);
        }
        let count = values.len() - before;
        if count == 0 {
            continue;
        }
        let first = *width.get_or_insert((number + 1, count));
        if first.1 != count {
            return Err(format!(
                "{source} line {}: {count} values, line {} has {}",
                number + 1,
                first.0,
                first.1
            ));
        }
        samples += 1;
    }
    let Some((_, width)) = width else {
        return Err(format!("{source}: no samples"));
    };
    Ok(Batch {
        source: source.to_string(),
        shape: vec![samples, width],
        data: Data::F32(values),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_sample_per_line() {
        let batch = from_text("<stdin>", &b"1 2.5 -3\n\n  4e1\t5 6  \n"[..]).unwrap();
        assert_eq!(batch.shape, [2, 3]);
        assert_eq!(batch.data, Data::F32(vec![1.0, 2.5, -3.0, 40.0, 5.0, 6.0]));
        assert_eq!(batch.samples(3), Ok(2));
        assert!(batch.samples(6).is_ok_and(|n| n == 1));
        assert!(batch.samples(4).unwrap_err().contains("[2, 3]"));
    }

    #[test]
    fn text_errors_name_the_line() {
        let err = from_text("<stdin>", &b"1 2\n1 x\n"[..]).unwrap_err();
        assert_eq!(err, "<stdin> line 2: 'x' is not a number");
        let err = from_text("<stdin>", &b"1 2\n\n1 2 3\n"[..]).unwrap_err();
        assert_eq!(err, "<stdin> line 3: 3 values, line 1 has 2");
        assert_eq!(
            from_text("<stdin>", &b"\n \n"[..]).unwrap_err(),
            "<stdin>: no samples"
        );
    }
}
