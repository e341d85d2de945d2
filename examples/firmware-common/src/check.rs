//! The boot-time self-test: the validation vectors the compiler embedded, run with
//! `whittle_runtime::validate`, its report printed, a failure turned into an error.

use crate::Error;
use core::fmt::Write;
use whittle_runtime::{CountUnit, Counter, Model, ValidateError, ValidationReport, validate};

/// A running instruction count as a `whittle_runtime::Counter`.
struct Instructions<'c, F: FnMut() -> u64>(&'c mut F);

impl<F: FnMut() -> u64> Counter for Instructions<'_, F> {
    fn read(&mut self) -> Option<u64> {
        Some((self.0)())
    }
    fn unit(&self) -> CountUnit {
        CountUnit::Instructions
    }
}

/// Runs the model's validation vectors on `arena` and prints the report: the passing report,
/// or `None` for an artifact without vectors (said so; it passes); a mismatch is
/// [`Error::Validation`].
pub fn self_test(
    model: &Model<'_>,
    arena: &mut [u8],
    out: &mut impl Write,
    counter: &mut impl FnMut() -> u64,
) -> Result<Option<ValidationReport>, Error> {
    match validate(model, arena, out, &mut Instructions(counter)) {
        Ok(report) if report.passed() => Ok(Some(report)),
        Ok(report) => Err(Error::Validation {
            mismatches: report.mismatches,
            layer: report.first_diverging_layer,
        }),
        Err(ValidateError::NoVectors) => {
            writeln!(out, "validation: the artifact holds no vectors")?;
            Ok(None)
        }
        Err(ValidateError::BadVectors) => Err(Error::BadVectors),
        Err(ValidateError::Invoke(e)) => Err(e.into()),
        Err(ValidateError::Write) => Err(Error::Write),
    }
}
