//! The whole firmware run every board does: report, self-test, inferences, stack peak, exit.

use crate::{Console, Error, Stack};
use core::fmt::{self, Write};
use whittle_runtime::{Interpreter, Model};

/// What a board hands to [`boot`].
pub struct Board<C: FnMut() -> u64> {
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
}

/// Prints `banner`, loads the model, runs its validation vectors and every example input,
/// prints the stack high-water mark and exits: status 0, or 1 after printing the error.
pub fn boot<C: FnMut() -> u64>(banner: fmt::Arguments<'_>, board: Board<C>) -> ! {
    let mut out = Console::open();
    let stack = board.stack;
    let result = run_board(banner, board, &mut out);
    if result.is_ok() {
        let _ = writeln!(out, "stack high-water mark: {} bytes", stack.high_water());
    }
    crate::finish(&mut out, result)
}

fn run_board<C: FnMut() -> u64>(
    banner: fmt::Arguments<'_>,
    board: Board<C>,
    out: &mut Console,
) -> Result<(), Error> {
    writeln!(out, "{banner}")?;
    let model = Model::load(board.model)?;
    let arena = board.arena.ok_or(Error::ArenaTaken)?;
    let mut counter = board.counter.ok_or(Error::Counter)?;
    crate::self_test(&model, arena, out, &mut counter)?;
    crate::run(&model, board.inputs, arena, out, &mut counter)?;
    inference_memory(&model, arena, &board.stack, out)
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
