//! Loads a model from an opaque buffer and runs it, so that the image holds exactly the
//! runtime code a firmware needs for one inference (`Model::load`, `Interpreter::new`,
//! `invoke`) with the operator set chosen by features. Built once with the `runtime` feature
//! and once without; the difference in `.text` is the runtime's share.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::ptr::{addr_of, addr_of_mut};

/// Stands for the model in flash; its contents are opaque to the optimizer.
static mut MODEL: [u8; 256] = [0; 256];
/// The arena, and the status word the result is written to.
static mut ARENA: [u8; 1024] = [0; 1024];
static mut STATUS: u32 = 0;

/// Loads and runs the model; returns 0 on success, else the stage that failed.
#[cfg(feature = "runtime")]
#[inline(never)]
fn run(model: &[u8], arena: &mut [u8]) -> u32 {
    use whittle_runtime::{Interpreter, Model};
    let Ok(model) = Model::load(model) else {
        return 1;
    };
    let Ok(mut interp) = Interpreter::new(&model, arena) else {
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
    // SAFETY: single-threaded; no reference to STATUS is live.
    unsafe { addr_of_mut!(STATUS).write_volatile(status) };
    loop {
        core::hint::spin_loop()
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop()
    }
}
