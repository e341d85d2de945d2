//! The whole firmware run every board does: integrity check, self-test, inferences, stack
//! peak, then the station's verdict on the pass/fail pin and as the last line, and exit.

use crate::{Console, Divergence, Error, Stack, Verdict};
use core::fmt::{self, Write};
use embedded_hal::digital::OutputPin;
use whittle_runtime::{CHECKS_DIGEST, Interpreter, LoadError, Model, ValidationReport};

/// What a board hands to [`boot`].
pub struct Board<C: FnMut() -> u64, P: OutputPin> {
    /// The artifact, 4-byte aligned.
    pub model: &'static [u8],
    /// The example inputs: raw samples in the model's input type.
    pub inputs: &'static [u8],
    /// The arena (`None` when already taken).
    pub arena: Option<&'static mut [u8]>,
    /// The stack, painted by the caller first thing at reset.
    pub stack: Stack,
    /// A running instruction count (`None` when the board's counter could not start).
    pub counter: Option<C>,
    /// The factory fixture's pass/fail line ([`NoPin`](crate::NoPin) when the board has none).
    pub pin: P,
}

/// Why a run stopped: the error printed and the verdict it earns.
struct Stop {
    error: Error,
    verdict: Verdict<'static>,
}

impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        Stop {
            error,
            verdict: Verdict::of_error(&error, None),
        }
    }
}

impl From<fmt::Error> for Stop {
    fn from(e: fmt::Error) -> Self {
        Error::from(e).into()
    }
}

/// Prints `banner`, loads the model and checks its integrity, runs its validation vectors and
/// every example input, prints the stack high-water mark, drives `board.pin` (high only when
/// all of it passed), prints the verdict line and exits: status 0, or 1 after the error.
pub fn boot<C: FnMut() -> u64, P: OutputPin>(
    banner: fmt::Arguments<'_>,
    mut board: Board<C, P>,
) -> ! {
    let mut out = Console::open();
    let outcome = run_board(banner, &mut board, &mut out);
    // Written once, at the end: a fault or a hang leaves the line at its reset level (low).
    let _ = match &outcome {
        Ok(Some(report)) => whittle_runtime::signal(report, &mut board.pin),
        Ok(None) => board.pin.set_high(),
        Err(_) => board.pin.set_low(),
    };
    match outcome {
        Ok(report) => {
            let _ = writeln!(
                out,
                "stack high-water mark: {} bytes",
                board.stack.high_water()
            );
            let vectors = report.map_or(0, |r| r.vectors);
            crate::finish(&mut out, &Verdict::Pass { vectors }, None)
        }
        Err(stop) => crate::finish(&mut out, &stop.verdict, Some(stop.error)),
    }
}

/// Everything up to the verdict; the self-test's report (`None`: the artifact has no vectors).
fn run_board<C: FnMut() -> u64, P: OutputPin>(
    banner: fmt::Arguments<'_>,
    board: &mut Board<C, P>,
    out: &mut Console,
) -> Result<Option<ValidationReport>, Stop> {
    writeln!(out, "{banner}")?;
    let arena = board.arena.take().ok_or(Error::ArenaTaken)?;
    let counter = board.counter.as_mut().ok_or(Error::Counter)?;
    let model = load(board.model, arena, out, counter)?;
    let report = crate::self_test(&model, arena, out, counter).map_err(|error| Stop {
        error,
        verdict: Verdict::of_error(&error, Some(&model)),
    })?;
    crate::run(&model, board.inputs, arena, out, counter)?;
    inference_memory(&model, arena, &board.stack, out)?;
    Ok(report)
}

/// Loads the artifact and prints what its integrity check covered. When the CRC-32 or the
/// digest does not match, prints so and runs the validation vectors on the damaged artifact
/// (loaded for diagnosis) to name the layer the damage reaches; the load error stops the run.
fn load(
    bytes: &'static [u8],
    arena: &mut [u8],
    out: &mut Console,
    counter: &mut impl FnMut() -> u64,
) -> Result<Model<'static>, Stop> {
    let cause = match Model::load(bytes) {
        Ok(model) => {
            let checks = if CHECKS_DIGEST && model.digest().is_some() {
                "CRC-32, SHA-256"
            } else {
                "CRC-32"
            };
            writeln!(out, "integrity: ok ({checks})")?;
            return Ok(model);
        }
        Err(cause @ (LoadError::ChecksumMismatch { .. } | LoadError::DigestMismatch)) => cause,
        Err(other) => return Err(Error::Load(other).into()),
    };
    writeln!(out, "integrity: FAIL ({cause})")?;
    let layer = match Model::load_for_diagnosis(bytes) {
        Ok(damaged) => {
            writeln!(
                out,
                "diagnosis: the validation vectors on the damaged artifact"
            )?;
            match crate::self_test(&damaged, arena, out, counter) {
                Ok(Some(_)) => Divergence::None,
                Err(Error::Validation { layer, .. }) => Divergence::of(&damaged, layer),
                Ok(None) | Err(_) => Divergence::Unknown,
            }
        }
        Err(e) => {
            writeln!(out, "diagnosis: the damaged artifact does not load: {e}")?;
            Divergence::Unknown
        }
    };
    Err(Stop {
        error: Error::Load(cause),
        verdict: Verdict::Integrity(layer),
    })
}

/// Prints the memory one inference needs besides the arena: the runtime's state (the loaded
/// `Model` and the `Interpreter`) and the stack of `Interpreter::new` plus `invoke`, measured
/// apart from the firmware's own reporting.
fn inference_memory(
    model: &Model<'_>,
    arena: &mut [u8],
    stack: &Stack,
    out: &mut Console,
) -> Result<(), Error> {
    let (result, used) = stack.measure(|| {
        let mut interp = Interpreter::new(model, arena)?;
        interp.invoke()
    });
    result?;
    writeln!(
        out,
        "runtime state: {} bytes (Model {}, Interpreter {})",
        size_of::<Model<'_>>() + size_of::<Interpreter<'_, '_>>(),
        size_of::<Model<'_>>(),
        size_of::<Interpreter<'_, '_>>()
    )?;
    writeln!(out, "inference stack: {used} bytes")?;
    Ok(())
}
