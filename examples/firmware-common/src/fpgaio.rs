//! LED0 of the MPS2 boards' FPGA IO block as the factory fixture's pass/fail line.
//!
//! On `mps2-an385` and `mps2-an386` the FPGAIO block sits at `0x4002_8000`; its LED register
//! (offset 0) drives the board's user LEDs, bit 0 being LED0, and reads back what was last
//! written (0 at reset). QEMU logs every write with `-trace mps2_fpgaio_write`.

use core::convert::Infallible;
use embedded_hal::digital::{ErrorType, OutputPin};

/// The FPGAIO LED register (`FPGAIO->LED`).
const LED: *mut u32 = 0x4002_8000 as *mut u32;

/// LED0 (bit 0 of the LED register): high on pass, low on fail.
#[derive(Debug)]
pub struct Led0 {
    _private: (),
}

impl Led0 {
    /// The LED. One owner per board: the other LED bits are kept as they are, but two
    /// owners' read-modify-writes could interleave.
    pub fn new() -> Led0 {
        Led0 { _private: () }
    }

    /// Sets bit 0 of the LED register to `on`, keeping the other bits.
    fn write(&mut self, on: bool) {
        // SAFETY: `LED` is the MPS2 FPGAIO LED register (a 4-byte aligned, always-mapped
        // device register on mps2-an385/an386), accessed with volatile 32-bit reads and
        // writes, never through a reference; the single core runs nothing else at boot.
        unsafe {
            let value = core::ptr::read_volatile(LED);
            core::ptr::write_volatile(LED, if on { value | 1 } else { value & !1 });
        }
    }
}

impl Default for Led0 {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorType for Led0 {
    type Error = Infallible;
}

impl OutputPin for Led0 {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.write(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.write(true);
        Ok(())
    }
}
