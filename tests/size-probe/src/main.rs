//! Loads a model from an opaque buffer and runs it, so that the image holds exactly the
//! runtime code a firmware needs for one inference (`Model::load`, `Interpreter::new`,
//! `invoke`) with the operator set chosen by features. Built once with the `runtime` feature
//! and once without; the difference in `.text` is the runtime's share.
//!
//! With `panic-never` the panic handler calls an undefined function, so the image links only
//! if no panic path is reachable from `Model::load`, `Model::load_for_diagnosis`,
//! `Interpreter::new`, `input_bytes_mut`, `invoke` and `output_bytes` (docs/panic-free.md).
//! `panic-control` adds a bounds check the optimizer cannot remove, to show the check fails.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::ptr::{addr_of, addr_of_mut};

/// Stands for the model in flash; its contents are opaque to the optimizer.
static mut MODEL: [u8; 256] = [0; 256];
/// The arena, and the status word the result is written to.
static mut ARENA: [u8; 1024] = [0; 1024];
static mut STATUS: u32 = 0;

/// Loads the model with `$load` (`Model::load` or `Model::load_for_diagnosis`) and runs it;
/// evaluates to 0 on success, else the stage that failed.
#[cfg(feature = "runtime")]
macro_rules! load_and_run {
    ($load:ident, $model:expr, $arena:expr) => {{
        use whittle_runtime::{Interpreter, Model};
        let Ok(model) = Model::$load($model) else {
            return 1;
        };
        let Ok(mut interp) = Interpreter::new(&model, $arena) else {
            return 2;
        };
        if let Ok(input) = interp.input_bytes_mut(0) {
            input.fill(1);
        }
        if interp.invoke().is_err() {
            return 3;
        }
        interp
            .output_bytes(0)
            .map_or(4, |out| out.first().copied().map_or(5, u32::from))
    }};
}

/// Loads and runs the model; returns 0 on success, else the stage that failed.
#[cfg(feature = "runtime")]
#[inline(never)]
fn run(model: &[u8], arena: &mut [u8]) -> u32 {
    load_and_run!(load, model, arena)
}

/// The same through `Model::load_for_diagnosis`, so that the panic-freedom proof covers it.
#[cfg(all(feature = "runtime", feature = "panic-never"))]
#[inline(never)]
fn diagnose(model: &[u8], arena: &mut [u8]) -> u32 {
    load_and_run!(load_for_diagnosis, model, arena)
}

/// The same work without the runtime: touches the buffers so the baseline keeps them, and
/// copies and fills memory so that it links `memcpy` and `memset`, as every firmware does.
#[cfg(not(feature = "runtime"))]
#[inline(never)]
fn run(model: &[u8], arena: &mut [u8]) -> u32 {
    let n = black_box(model.len()).min(arena.len());
    arena[..n].copy_from_slice(&model[..n]);
    arena[n..].fill(black_box(0));
    u32::from(arena[0])
}

#[unsafe(no_mangle)]
pub extern "C" fn reset() -> ! {
    // SAFETY: the probe is single-threaded and these are the only references to the statics.
    let (model, arena) = unsafe { (&*addr_of!(MODEL), &mut *addr_of_mut!(ARENA)) };
    let status = run(black_box(&model[..]), black_box(&mut arena[..]));
    #[cfg(all(feature = "runtime", feature = "panic-never"))]
    let status = status | diagnose(black_box(&model[..]), black_box(&mut arena[..]));
    // An index the optimizer cannot see: a bounds check that must survive, so that the
    // panic-never link is shown to fail when a panic is reachable.
    #[cfg(feature = "panic-control")]
    let status = status | u32::from(model[black_box(model.len())]);
    // SAFETY: single-threaded; no reference to STATUS is live.
    unsafe { addr_of_mut!(STATUS).write_volatile(status) };
    loop {
        core::hint::spin_loop()
    }
}

#[cfg(not(feature = "panic-never"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop()
    }
}

/// With `panic-never`, a panic handler that calls a function defined nowhere: the image links
/// only if the optimizer removed every call to the handler, that is, if no panic is
/// reachable from `reset`.
#[cfg(feature = "panic-never")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        fn whittle_runtime_panic_is_reachable() -> !;
    }
    // SAFETY: never runs: the symbol is undefined, so an image that could call it fails to link.
    unsafe { whittle_runtime_panic_is_reachable() }
}
