//! On-device validation: run the vectors the compiler embedded, compare every output with the
//! bit-exact host result and every layer of the first vector with its checksum, count
//! instructions or cycles per inference, and write a report through `core::fmt::Write`.

use crate::format::{Buf, OpDesc, Validation};
use crate::{DType, Interpreter, InvokeError, Model, crc32};
use core::fmt::{self, Write};

/// What a [`Counter`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountUnit {
    /// Retired instructions (e.g. RISC-V `minstret`, or QEMU with `-icount`).
    Instructions,
    /// Clock cycles (e.g. the Cortex-M DWT cycle counter).
    Cycles,
}

/// A free-running counter the board provides, read before and after each inference.
pub trait Counter {
    /// The current count, or `None` when the board has no counter.
    fn read(&mut self) -> Option<u64>;
    /// What the count means.
    fn unit(&self) -> CountUnit;
}

/// A board without a counter.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCounter;

impl Counter for NoCounter {
    fn read(&mut self) -> Option<u64> {
        None
    }
    fn unit(&self) -> CountUnit {
        CountUnit::Cycles
    }
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationReport {
    /// Vectors run.
    pub vectors: u32,
    /// Output elements, over all vectors, that differ from the expected ones.
    pub mismatches: u32,
    /// Output elements compared.
    pub elements: u32,
    /// Largest difference in units in the last place (int8: levels; f32: ULPs).
    pub max_error_lsb: u32,
    /// Index of the first operator whose output checksum differs for vector 0.
    pub first_diverging_layer: Option<u16>,
    /// Count per inference (the mean over the vectors), when the board has a counter.
    pub per_inference: Option<u64>,
    /// What `per_inference` counts.
    pub unit: CountUnit,
}

impl ValidationReport {
    /// Every output and every layer checksum as expected.
    pub fn passed(&self) -> bool {
        self.mismatches == 0 && self.first_diverging_layer.is_none()
    }
}

/// Why validation could not run (a failed comparison is a report, not an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidateError {
    /// The artifact holds no validation vectors (compile with `--embed-validation N`).
    NoVectors,
    /// The vectors do not fit the model's inputs, outputs and operators, or the weight blob.
    BadVectors,
    /// Inference failed (for example, the arena is too small).
    Invoke(InvokeError),
    /// The report could not be written.
    Write,
}

impl From<InvokeError> for ValidateError {
    fn from(e: InvokeError) -> Self {
        ValidateError::Invoke(e)
    }
}

impl From<fmt::Error> for ValidateError {
    fn from(_: fmt::Error) -> Self {
        ValidateError::Write
    }
}

impl fmt::Display for ValidateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidateError::NoVectors => f.write_str("the artifact holds no validation vectors"),
            ValidateError::BadVectors => {
                f.write_str("the validation vectors do not fit the model or the weight blob")
            }
            ValidateError::Invoke(e) => write!(f, "inference failed: {e}"),
            ValidateError::Write => f.write_str("the report could not be written"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ValidateError {}

/// Distance between two elements of `dtype` in units in the last place: int8 levels, f32 ULPs
/// (by their order as integers, so +0 and -0 are one apart and NaNs compare by bits).
fn lsb_distance(dtype: DType, a: &[u8], b: &[u8]) -> u64 {
    fn word(x: &[u8]) -> u32 {
        let mut w = [0u8; 4];
        for (d, s) in w.iter_mut().zip(x) {
            *d = *s;
        }
        u32::from_le_bytes(w)
    }
    match dtype {
        DType::I8 => {
            let (x, y) = (a.first().copied(), b.first().copied());
            i64::from(x.unwrap_or(0) as i8).abs_diff(i64::from(y.unwrap_or(0) as i8))
        }
        DType::F32 => {
            let ordered = |bits: u32| -> i64 {
                if bits & 0x8000_0000 != 0 {
                    -i64::from(bits & 0x7fff_ffff)
                } else {
                    i64::from(bits)
                }
            };
            ordered(word(a)).abs_diff(ordered(word(b)))
        }
        DType::I16 => {
            let v = |x: &[u8]| i64::from(word(x) as u16 as i16);
            v(a).abs_diff(v(b))
        }
        DType::I32 => i64::from(word(a) as i32).abs_diff(i64::from(word(b) as i32)),
    }
}

/// The bytes of `buf` in the weight blob (verified at load).
fn blob<'a>(model: &Model<'a>, buf: Buf) -> Result<&'a [u8], ValidateError> {
    model
        .weights()
        .get(buf.offset as usize..buf.end() as usize)
        .ok_or(ValidateError::Invoke(InvokeError::Internal {
            op: u16::MAX,
        }))
}

/// Copies one vector's inputs, starting at `offset` of `inputs`, into the interpreter.
fn write_inputs(
    interp: &mut Interpreter<'_, '_>,
    inputs: &[u8],
    mut offset: usize,
) -> Result<(), InvokeError> {
    for index in 0..interp.model().input_count() {
        let slot = interp.input_bytes_mut(index)?;
        let len = slot.len();
        let src = inputs
            .get(offset..offset + len)
            .ok_or(InvokeError::Internal { op: u16::MAX })?;
        slot.copy_from_slice(src);
        offset += len;
    }
    Ok(())
}

/// Runs the embedded validation vectors on `model` with `arena`, writes a report to `out` and
/// returns it. A mismatch is reported (and [`ValidationReport::passed`] is false), not an
/// error.
pub fn validate(
    model: &Model<'_>,
    arena: &mut [u8],
    out: &mut impl Write,
    counter: &mut impl Counter,
) -> Result<ValidationReport, ValidateError> {
    let v: Validation = model.header().validation.ok_or(ValidateError::NoVectors)?;
    if !crate::verify::vectors_fit(model.header(), &v, model.weights()) {
        return Err(ValidateError::BadVectors);
    }
    let (inputs, outputs, checksums) = (
        blob(model, v.inputs)?,
        blob(model, v.outputs)?,
        blob(model, v.layer_checksums)?,
    );
    let per_input = inputs.len() / v.vectors.max(1) as usize;
    let per_output = outputs.len() / v.vectors.max(1) as usize;
    writeln!(
        out,
        "whittle validate: {} vector(s), {} operators, target {}",
        v.vectors,
        model.header().ops.len(),
        model.target()
    )?;
    let mut interp = Interpreter::new(model, arena)?;
    let mut report = ValidationReport {
        vectors: v.vectors,
        mismatches: 0,
        elements: 0,
        max_error_lsb: 0,
        first_diverging_layer: None,
        per_inference: None,
        unit: counter.unit(),
    };
    let mut total_count: Option<u64> = Some(0);
    for vector in 0..v.vectors as usize {
        write_inputs(&mut interp, inputs, vector * per_input)?;
        if vector == 0 {
            // Checksumming costs time: a separate run, outside the counted one.
            let mut first: Option<u16> = None;
            interp.invoke_observed(|index, _op: &OpDesc, bytes| {
                let at = index * 4;
                let expected = checksums
                    .get(at..at + 4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                if first.is_none() && expected != Some(crc32(bytes)) {
                    first = Some(u16::try_from(index).unwrap_or(u16::MAX));
                }
            })?;
            report.first_diverging_layer = first;
            // Inputs may share arena space with later activations: write them again.
            write_inputs(&mut interp, inputs, 0)?;
        }
        let start = counter.read();
        interp.invoke()?;
        let end = counter.read();
        total_count = match (total_count, start, end) {
            (Some(t), Some(s), Some(e)) => Some(t + e.wrapping_sub(s)),
            _ => None,
        };
        let (mut vector_mismatches, mut vector_max) = (0u32, 0u64);
        let mut offset = vector * per_output;
        for index in 0..model.output_count() {
            let desc = model.output(index).ok_or(InvokeError::NoSuchTensor {
                index: index as u16,
            })?;
            let got = interp.output_bytes(index)?;
            let expected = outputs
                .get(offset..offset + got.len())
                .ok_or(InvokeError::Internal { op: u16::MAX })?;
            offset += got.len();
            let size = desc.dtype.size();
            for (g, e) in got.chunks(size).zip(expected.chunks(size)) {
                report.elements = report.elements.saturating_add(1);
                let d = lsb_distance(desc.dtype, g, e);
                if d > 0 {
                    vector_mismatches += 1;
                    vector_max = vector_max.max(d);
                }
            }
        }
        report.mismatches = report.mismatches.saturating_add(vector_mismatches);
        let max = u32::try_from(vector_max).unwrap_or(u32::MAX);
        report.max_error_lsb = report.max_error_lsb.max(max);
        if vector_mismatches == 0 {
            writeln!(out, "vector {vector}: ok")?;
        } else {
            writeln!(
                out,
                "vector {vector}: {vector_mismatches} element(s) differ, max {max} LSB"
            )?;
        }
    }
    report.per_inference = total_count.map(|t| t / u64::from(v.vectors.max(1)));
    match report.first_diverging_layer {
        None => writeln!(
            out,
            "layers: all {} checksums match",
            model.header().ops.len()
        )?,
        Some(index) => {
            let name = model
                .ops()
                .nth(usize::from(index))
                .and_then(|op| model.header().tensors.get(op.tensor))
                .map_or("?", |t| t.name);
            writeln!(out, "layers: first diverging layer #{index} '{name}'")?;
        }
    }
    if let Some(count) = report.per_inference {
        let unit = match report.unit {
            CountUnit::Instructions => "instructions",
            CountUnit::Cycles => "cycles",
        };
        writeln!(out, "{unit} per inference: {count}")?;
    }
    writeln!(
        out,
        "{}: {} of {} output elements differ, max error {} LSB",
        if report.passed() { "PASS" } else { "FAIL" },
        report.mismatches,
        report.elements,
        report.max_error_lsb
    )?;
    Ok(report)
}

/// Drives a factory fixture's pass/fail line: high when the validation passed, low otherwise.
#[cfg(feature = "embedded-hal")]
pub fn signal<P: embedded_hal::digital::OutputPin>(
    report: &ValidationReport,
    pin: &mut P,
) -> Result<(), P::Error> {
    if report.passed() {
        pin.set_high()
    } else {
        pin.set_low()
    }
}
