//! What the whittle example firmwares share: the inference loop and its report
//! ([`run`]), output and exit through semihosting ([`Console`], [`finish`]), the one static
//! arena ([`StaticArena`]), and on Cortex-M the SysTick instruction counter ([`systick`]).
//!
//! Every firmware does the same: load the artifact, run its embedded validation vectors
//! ([`self_test`]), bind it to the arena, run every sample and print its class, then exit with status 0, or print the error and exit with status 1. A
//! panic prints its message and exits with status 101 (the `semihosting` crate's handler).
#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod arena;
mod boot;
mod check;
mod console;
mod error;
mod infer;
mod stack;
#[cfg(feature = "cortex-m")]
pub mod systick;

pub use arena::StaticArena;
pub use boot::{Board, boot};
pub use check::self_test;
pub use console::{Console, exit, finish};
pub use error::Error;
pub use infer::{Summary, argmax, run};
pub use stack::Stack;
