//! The factory fixture's pass/fail line for boards without one.

use core::convert::Infallible;
use embedded_hal::digital::{ErrorType, OutputPin};

/// No pass/fail line: driving it does nothing (the verdict line and exit status remain).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPin;

impl ErrorType for NoPin {
    type Error = Infallible;
}

impl OutputPin for NoPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
