//! The factory station's verdict: one line, printed last by every run, for a script to grep.
//!
//! ```text
//! self-test: PASS vectors=<n>
//! self-test: FAIL integrity layer=<i> '<name>'
//! self-test: FAIL validation layer=<i> '<name>' mismatches=<n>
//! self-test: FAIL <reason>
//! ```
//!
//! `layer=none` when every layer checksum matched, `layer=unknown` when the damaged artifact
//! could not be diagnosed; `<reason>` is one word ([`Error::reason`]).

use crate::Error;
use core::fmt;
use whittle_runtime::Model;

/// Where the run on the validation vectors first diverged from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Divergence<'m> {
    /// The first operator whose output checksum differs: its index and output tensor's name.
    Layer {
        /// Operator index.
        index: u16,
        /// Name of its output tensor.
        name: &'m str,
    },
    /// Every layer checksum matched.
    None,
    /// Not known: the vectors could not be run.
    Unknown,
}

impl<'m> Divergence<'m> {
    /// `layer` of `model`'s validation report, named.
    pub fn of(model: &Model<'m>, layer: Option<u16>) -> Self {
        let Some(index) = layer else {
            return Divergence::None;
        };
        let name = model
            .ops()
            .nth(usize::from(index))
            .and_then(|op| model.header().tensors.get(op.tensor))
            .map_or("?", |t| t.name);
        Divergence::Layer { index, name }
    }
}

impl fmt::Display for Divergence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::Layer { index, name } => write!(f, "layer={index} '{name}'"),
            Divergence::None => f.write_str("layer=none"),
            Divergence::Unknown => f.write_str("layer=unknown"),
        }
    }
}

/// How the run ended, as the station sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'m> {
    /// Integrity, validation vectors and example inputs all passed.
    Pass {
        /// Validation vectors that matched (0: the artifact holds none).
        vectors: u32,
    },
    /// The artifact's CRC-32 or SHA-256 digest does not match its contents.
    Integrity(Divergence<'m>),
    /// The validation vectors did not reproduce the host's results.
    Validation {
        /// Where they first diverged.
        layer: Divergence<'m>,
        /// Output elements that differ.
        mismatches: u32,
    },
    /// Any other failure, by its one-word reason.
    Fail(&'static str),
}

impl<'m> Verdict<'m> {
    /// The verdict for a run stopped by `error` (`model`, when loaded, names a diverging layer).
    pub fn of_error(error: &Error, model: Option<&Model<'m>>) -> Self {
        match (*error, model) {
            (Error::Validation { mismatches, layer }, Some(model)) => Verdict::Validation {
                layer: Divergence::of(model, layer),
                mismatches,
            },
            (error, _) => Verdict::Fail(error.reason()),
        }
    }

    /// Whether the station passes the device.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass { .. })
    }
}

impl fmt::Display for Verdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("self-test: ")?;
        match self {
            Verdict::Pass { vectors } => write!(f, "PASS vectors={vectors}"),
            Verdict::Integrity(layer) => write!(f, "FAIL integrity {layer}"),
            Verdict::Validation { layer, mismatches } => {
                write!(f, "FAIL validation {layer} mismatches={mismatches}")
            }
            Verdict::Fail(reason) => write!(f, "FAIL {reason}"),
        }
    }
}
