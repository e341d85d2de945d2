//! What the whittle example firmwares share: the boot flow ([`boot`]), the inference loop
//! and its report ([`run`]), output and exit through semihosting ([`Console`], [`finish`]),
//! the one static arena ([`StaticArena`]), the factory station's verdict ([`Verdict`]), and
//! on Cortex-M (the MPS2 boards) the SysTick instruction counter ([`systick`]) and the LED0
//! pass/fail line ([`fpgaio`]).
//!
//! Every firmware does the same: load the artifact and check its integrity, run its embedded
//! validation vectors ([`self_test`]), bind it to the arena, run every sample and print its
//! class, drive the pass/fail pin, print the verdict line, then exit with status 0, or 1 after
//! printing the error. A panic prints its message and the verdict and exits with status 101.
#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod arena;
mod boot;
mod check;
mod console;
mod error;
#[cfg(feature = "cortex-m")]
pub mod fpgaio;
mod infer;
mod pin;
mod stack;
#[cfg(feature = "cortex-m")]
pub mod systick;
mod verdict;

pub use arena::StaticArena;
pub use boot::{Board, boot};
pub use check::self_test;
pub use console::{Console, exit, fail, finish};
pub use error::Error;
pub use infer::{Summary, argmax, run};
pub use pin::NoPin;
pub use stack::Stack;
pub use verdict::{Divergence, Verdict};
