//! `whittle-runtime` executes `.wtl` model artifacts produced by the `whittle` compiler.
//!
//! It is `#![no_std]` and never allocates: the artifact is read in place (from flash, or any
//! `&[u8]`), and every activation lives in one caller-provided arena whose exact size the
//! artifact states. [`Model::load`] checks every offset, length, shape and parameter once, so
//! [`Interpreter::invoke`] cannot fail for a reason the load could have caught.
//!
//! [`Model::load`], [`Model::load_for_diagnosis`], [`Interpreter::new`],
//! [`Interpreter::input_bytes_mut`], [`Interpreter::invoke`] and [`Interpreter::output_bytes`]
//! cannot panic, whatever the bytes of the artifact: what is wrong is an error. This is proven
//! at link time, not argued: the size probe firmware (`tests/size-probe`, feature
//! `panic-never`) calls them on a model and an arena the optimizer knows nothing about, and its
//! panic handler calls a function that is defined nowhere, so the image links only if
//! optimization removed every path to a panic. `tests/panic_free.rs` links it for a Cortex-M4F
//! (opt-level "z" and 3, every operator and the KWS int8 set), a Cortex-M0+ and a RISC-V core,
//! in release builds (no overflow checks); `docs/panic-free.md` shows how to find the source
//! line when a change breaks the proof. Explicit panics (`unwrap`, `expect`, `panic!`, ...)
//! are denied by lints.
//!
//! ```no_run
//! # fn demo(model_bytes: &[u8], window: &[f32]) -> Result<(), Box<dyn core::error::Error>> {
//! use whittle_runtime::{AlignedArena, Interpreter, Model};
//!
//! // In firmware: `let model_bytes = whittle_runtime::include_model!("gesture.wtl");`
//! let model = Model::load(model_bytes)?;
//! let mut arena = AlignedArena::<8192>::new(); // at least model.arena_bytes()
//! let mut interp = Interpreter::new(&model, arena.as_mut_slice())?;
//! let mut probs = [0.0f32; 5];
//! interp.run::<f32>(&[window], &mut [&mut probs])?;
//! # Ok(()) }
//! ```
#![no_std]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
// No explicit panic either (docs/panic-free.md proves there is no implicit one at link time).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable
    )
)]
// A build that leaves operators out keeps their checks and helpers compiled but unused.
#![cfg_attr(
    not(feature = "all-ops"),
    allow(dead_code, unused_imports, unused_variables, unreachable_code)
)]

#[cfg(feature = "std")]
extern crate std;

mod arena;
mod checksum;
mod dispatch;
mod dtype;
mod error;
pub mod format;
mod include;
mod interpreter;
pub mod kernels;
mod model;
#[cfg(feature = "std")]
mod owned;
mod validate;
mod verify;

pub use arena::AlignedArena;
pub use checksum::crc32;
#[cfg(feature = "sha256")]
pub use checksum::sha256;

/// Version of this runtime crate (a bundle manifest records it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether this build checks an artifact's SHA-256 digest on load (the `sha256` feature);
/// the CRC-32 is always checked.
pub const CHECKS_DIGEST: bool = cfg!(feature = "sha256");
pub use dtype::{DType, Element};
pub use error::{InvokeError, LoadError, OpFault};
pub use interpreter::Interpreter;
pub use model::Model;
#[cfg(feature = "std")]
pub use owned::AlignedBytes;
#[cfg(feature = "embedded-hal")]
pub use validate::signal;
pub use validate::{CountUnit, Counter, NoCounter, ValidateError, ValidationReport, validate};
