//! Signed, reproducible release bundles for offline factory stations.
//!
//! A bundle (`.wbundle`) is a ustar archive written one canonical way (see [`container`]):
//!
//! ```text
//! manifest.json        what the bundle holds (see Manifest): target, versions, every file's
//!                      size and SHA-256, the validation vectors' summary, the gate's provenance
//! manifest.sig         Ed25519 signature over the exact bytes of manifest.json
//! model.wtl            the artifact
//! firmware/<name>      one or more ELF executables (device firmware, gateway programs)
//! report.json          the release gate's report (optional)
//! ```
//!
//! [`create`] writes it; [`verify`] checks it offline (signature, every hash, no missing or
//! extra file, canonical bytes, versions, target); [`unpack`] writes what a flasher needs.

pub mod container;
mod create;
pub mod keys;
pub mod manifest;
mod unpack;
mod verify;

pub use crate::digest::{hex, sha256_hex};
pub use create::{BundleInputs, NamedFile, create};
pub use manifest::{Manifest, Role};
pub use unpack::{UnpackedImage, unpack};
pub use verify::{Verified, VerifyError, verify};

/// Name of the manifest in the archive.
pub const MANIFEST: &str = "manifest.json";
/// Name of the manifest's signature in the archive.
pub const SIGNATURE: &str = "manifest.sig";
/// Path of the artifact in the archive.
pub const MODEL: &str = "model.wtl";
/// Path of the gate report in the archive.
pub const REPORT: &str = "report.json";
/// Directory of the firmware executables in the archive.
pub const FIRMWARE_DIR: &str = "firmware";

/// Why a bundle could not be made or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The model artifact does not load.
    #[error("{path}: not a valid artifact: {reason}")]
    Artifact {
        /// The file.
        path: String,
        /// The load error.
        reason: String,
    },
    /// The artifact's target profile is unknown or differs from the one given.
    #[error("{0}")]
    Target(String),
    /// A firmware file is not an ELF executable, or is for no architecture of the target.
    #[error("{path}: {reason}")]
    Firmware {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The report is not a pipeline report, failed its gate, or is for another target.
    #[error("{path}: {reason}")]
    Report {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Two files would get the same path in the bundle.
    #[error("two files would be bundled as '{0}': give them different names")]
    Duplicate(String),
    /// A key file is malformed.
    #[error("{path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `SOURCE_DATE_EPOCH` is not a number of seconds.
    #[error("SOURCE_DATE_EPOCH='{0}' is not a whole number of seconds since 1970")]
    SourceDateEpoch(String),
    /// The operating system's random source failed.
    #[error("no random bytes for the key: {0}")]
    Random(String),
    /// The bundle does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Writing the archive or the unpacked files failed.
    #[error("{0}")]
    Io(String),
}
