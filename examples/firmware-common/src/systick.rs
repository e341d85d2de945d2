//! Counting instructions on QEMU's Cortex-M boards, and fault handlers that exit.
//!
//! QEMU models no DWT on these boards (its registers read as zero and ignore writes, so
//! `CYCCNT` stays 0) and Cortex-M cores have no instruction counter, so the count comes from
//! SysTick: it runs on the processor clock, 25 MHz on the MPS2 boards, and under
//! `-icount shift=0` QEMU advances its virtual clock by exactly 1 ns per instruction, so one
//! tick is [`INSTRUCTIONS_PER_TICK`] instructions. The count is exact to that resolution;
//! without `-icount` it measures host time instead.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, exception};

/// SysTick's clock on QEMU's MPS2 boards (`mps2-an385`, `mps2-an386`).
pub const CLOCK_HZ: u64 = 25_000_000;

/// Instructions per SysTick tick under `-icount shift=0` (1 ns each).
pub const INSTRUCTIONS_PER_TICK: u64 = 1_000_000_000 / CLOCK_HZ;

/// The 24-bit counter's reload value: it wraps every 2^24 ticks.
const RELOAD: u32 = 0x00FF_FFFF;

/// Wraps of the 24-bit counter so far, counted by the SysTick exception.
static WRAPS: AtomicU32 = AtomicU32::new(0);

/// Counts a wrap of the 24-bit counter.
#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Starts SysTick on the processor clock with its wrap interrupt; `None` when the core
/// peripherals were already taken.
pub fn start() -> Option<()> {
    let mut syst = cortex_m::Peripherals::take()?.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // Cleared, the counter reads 0 until its first tick loads RELOAD (with no wrap counted).
    while SYST::get_current() == 0 {
        core::hint::spin_loop();
    }
    Some(())
}

/// Instructions executed since [`start`] (SysTick ticks times [`INSTRUCTIONS_PER_TICK`]).
pub fn instructions() -> u64 {
    loop {
        let wraps = WRAPS.load(Ordering::Relaxed);
        let current = SYST::get_current();
        // A wrap between the two reads is taken as an exception at once: read again.
        if WRAPS.load(Ordering::Relaxed) == wraps {
            let ticks = u64::from(wraps) * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
            return ticks * INSTRUCTIONS_PER_TICK;
        }
    }
}

/// A hard fault (cortex-m-rt's default would spin forever): report it and exit with status 1.
/// (cortex-m-rt requires the `unsafe fn` signature; the body does nothing unsafe.)
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    semihosting::eprintln!("error: hard fault at pc {:#010x}", frame.pc());
    crate::fail("fault", 1)
}

/// Any other exception or interrupt (none is enabled but SysTick): report it and exit with
/// status 1. (cortex-m-rt requires the `unsafe fn` signature; the body does nothing unsafe.)
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    semihosting::eprintln!("error: unexpected exception or interrupt {irqn}");
    crate::fail("fault", 1)
}
