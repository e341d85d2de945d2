//! The manifest: what a bundle holds and where it came from, as JSON. The signature covers its
//! exact bytes; every other file is bound to it by size and SHA-256.

use serde::{Deserialize, Serialize};

/// Schema of the manifests this version writes and reads.
pub const SCHEMA: &str = "whittle.bundle/1";

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`SCHEMA`].
    pub schema: String,
    /// Creation time (RFC 3339, UTC) from `SOURCE_DATE_EPOCH`; absent when it is not set, so
    /// that the same inputs always give the same bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The tool that wrote the bundle.
    pub tool: Versioned,
    /// The runtime the tool carries, and the artifact format version it reads.
    pub runtime: RuntimeInfo,
    /// The target profile the model and the device firmware are for.
    pub target: TargetInfo,
    /// What the model artifact is.
    pub model: ModelInfo,
    /// Every file of the bundle besides the manifest and its signature, in archive order.
    pub files: Vec<FileEntry>,
    /// The release gate's audit trail, when a pipeline report is bundled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// A name and a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versioned {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// The runtime's version and artifact format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeInfo {
    /// `whittle-runtime` version.
    pub version: String,
    /// Artifact format version it reads.
    pub format_version: u32,
}

/// The target profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// Profile name (`cortex-m4f`).
    pub profile: String,
    /// Rust target triple of the profile.
    pub triple: String,
}

/// The model artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Path of the artifact in the bundle.
    pub path: String,
    /// Artifact format version.
    pub format_version: u32,
    /// The compiler that wrote it.
    pub producer: String,
    /// Arena bytes it needs.
    pub arena_bytes: usize,
    /// Runtime cargo features its operators need.
    pub runtime_features: Vec<String>,
    /// The SHA-256 digest the artifact itself carries (what the device checks on load).
    pub embedded_sha256: Option<String>,
    /// The embedded validation vectors, if any.
    pub validation: Option<ValidationInfo>,
}

/// What the device's self-test will run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationInfo {
    /// Number of vectors.
    pub vectors: u32,
    /// Bytes of inputs, expected outputs and per-layer checksums.
    pub bytes: u64,
    /// Operators whose output checksum the self-test compares (the first vector).
    pub layers: usize,
}

/// What a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The `.wtl` artifact.
    Model,
    /// A firmware or gateway executable (ELF).
    Firmware,
    /// The release gate's report.
    Report,
}

/// One bundled file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path in the bundle.
    pub path: String,
    /// What it is.
    pub role: Role,
    /// Size in bytes.
    pub size: u64,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// For firmware: the ELF's architecture (`arm`, `riscv32`, `aarch64`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// For firmware of the bundle's target: whether it carries the artifact's exact bytes
    /// (`false` when the model is flashed to its own region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeds_model: Option<bool>,
}

/// Where the model came from, from the pipeline report's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The report's schema.
    pub report_schema: String,
    /// The gate's one-line verdict.
    pub verdict: String,
    /// The pipeline file and every input file the gate used, with their SHA-256.
    pub inputs: Vec<InputHash>,
    /// Seed of the run.
    pub seed: u64,
    /// When the gate ran (RFC 3339, UTC).
    pub finished: String,
}

/// A creation input and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputHash {
    /// Role (`config`, `model`, `calibration`, ...).
    pub role: String,
    /// Path as the pipeline was given it.
    pub path: String,
    /// Hex SHA-256.
    pub sha256: String,
}

impl Manifest {
    /// The manifest as the bundle stores it: pretty JSON with a final newline. Field order is
    /// fixed by the types, so equal manifests give equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The file entry with `role` (the first one).
    pub fn file(&self, role: Role) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.role == role)
    }
}
