//! Making a bundle: check every input, describe it in the manifest, sign, archive.

use super::container::{self, Entry};
use super::manifest::{
    FileEntry, InputHash, Manifest, ModelInfo, Provenance, Role, RuntimeInfo, SCHEMA, TargetInfo,
    ValidationInfo, Versioned,
};
use super::{BundleError, FIRMWARE_DIR, MANIFEST, MODEL, REPORT, SIGNATURE, keys, sha256_hex};
use crate::image::Arch;
use crate::inspect::Summary;
use crate::targets::Target;
use ed25519_dalek::{Signer, SigningKey};

/// A file given to [`create`]: its name (for messages and the bundle path) and bytes.
#[derive(Debug, Clone)]
pub struct NamedFile {
    /// The path as the user gave it.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Everything a bundle is made of.
#[derive(Debug, Clone)]
pub struct BundleInputs {
    /// The `.wtl` artifact.
    pub artifact: NamedFile,
    /// Firmware and gateway executables (ELF), bundled as `firmware/<file name>`.
    pub firmware: Vec<NamedFile>,
    /// The pipeline's `report.json`, if any; its gate must have passed.
    pub report: Option<NamedFile>,
    /// The target profile; by default the one the artifact names.
    pub target: Option<Target>,
    /// Seconds since 1970 for the creation time and the archive's timestamps
    /// (`SOURCE_DATE_EPOCH`); `None` leaves the time out (timestamps 0).
    pub source_date_epoch: Option<u64>,
    /// The device firmware does not carry the model (it is flashed to its own region); by
    /// default every firmware for the target must contain the artifact's exact bytes.
    pub model_flashed_separately: bool,
}

/// Checks the inputs and writes the signed bundle's bytes. The same inputs and key give the
/// same bytes (Ed25519 signatures are deterministic).
pub fn create(inputs: &BundleInputs, key: &SigningKey) -> Result<Vec<u8>, BundleError> {
    let summary = Summary::of(&inputs.artifact.bytes).map_err(|e| BundleError::Artifact {
        path: inputs.artifact.path.clone(),
        reason: e.to_string(),
    })?;
    let target = match &inputs.target {
        Some(t) if t.name != summary.target => {
            return Err(BundleError::Target(format!(
                "{} is compiled for target '{}', not '{}'",
                inputs.artifact.path, summary.target, t.name
            )));
        }
        Some(t) => t.clone(),
        None => Target::resolve(&summary.target).map_err(|e| {
            BundleError::Target(format!(
                "{}: its target '{}' is no built-in profile ({e}); give the profile file with --target",
                inputs.artifact.path, summary.target
            ))
        })?,
    };

    let mut entries = vec![Entry {
        path: MODEL.into(),
        bytes: inputs.artifact.bytes.clone(),
    }];
    let mut files = vec![file_entry(MODEL, Role::Model, &inputs.artifact.bytes, None)];
    let mut device_firmware = inputs.firmware.is_empty();
    for fw in &inputs.firmware {
        let arch = elf_arch(&fw.bytes).map_err(|reason| BundleError::Firmware {
            path: fw.path.clone(),
            reason,
        })?;
        let for_target = arch.matches_triple(&target.triple);
        device_firmware |= for_target;
        let embeds_model = for_target && contains(&fw.bytes, &inputs.artifact.bytes);
        if for_target && !embeds_model && !inputs.model_flashed_separately {
            return Err(BundleError::Firmware {
                path: fw.path.clone(),
                reason: format!(
                    "does not contain {} byte for byte: the device would run another model than the bundle's. Build the firmware with this artifact, or say the model is flashed separately (--model-flashed-separately)",
                    inputs.artifact.path
                ),
            });
        }
        let path = format!("{FIRMWARE_DIR}/{}", bundle_name(&fw.path)?);
        if files.iter().any(|f| f.path == path) {
            return Err(BundleError::Duplicate(path));
        }
        let mut entry = file_entry(
            &path,
            Role::Firmware,
            &fw.bytes,
            Some(arch.name().to_string()),
        );
        entry.embeds_model = for_target.then_some(embeds_model);
        files.push(entry);
        entries.push(Entry {
            path,
            bytes: fw.bytes.clone(),
        });
    }
    if !device_firmware {
        return Err(BundleError::Target(format!(
            "no firmware is built for target '{}' ({}): found {}",
            target.name,
            target.triple,
            files
                .iter()
                .filter_map(|f| Some(format!("{} ({})", f.path, f.arch.as_deref()?)))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let provenance = match &inputs.report {
        Some(report) => {
            let provenance = provenance(report, &target.name)?;
            files.push(file_entry(REPORT, Role::Report, &report.bytes, None));
            entries.push(Entry {
                path: REPORT.into(),
                bytes: report.bytes.clone(),
            });
            Some(provenance)
        }
        None => None,
    };

    let manifest = Manifest {
        schema: SCHEMA.into(),
        created: inputs.source_date_epoch.map(rfc3339),
        tool: Versioned {
            name: "whittle".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        runtime: RuntimeInfo {
            version: whittle_runtime::VERSION.into(),
            format_version: whittle_runtime::format::FORMAT_VERSION,
        },
        target: TargetInfo {
            profile: target.name.clone(),
            triple: target.triple.clone(),
        },
        model: ModelInfo {
            path: MODEL.into(),
            format_version: summary.format_version,
            producer: summary.producer.clone(),
            arena_bytes: summary.arena_bytes,
            runtime_features: summary.runtime_features.clone(),
            embedded_sha256: summary.sha256.clone(),
            validation: summary.validation.as_ref().map(|v| ValidationInfo {
                vectors: v.vectors,
                bytes: v.bytes,
                layers: summary.ops.len(),
            }),
        },
        files,
        provenance,
    };
    let manifest_bytes = manifest.to_bytes();
    let signature = key.sign(&manifest_bytes);
    let signature_text = format!(
        "ed25519 {} {}\n",
        keys::key_id(&key.verifying_key()),
        super::hex(&signature.to_bytes())
    );
    let mut all = vec![
        Entry {
            path: MANIFEST.into(),
            bytes: manifest_bytes,
        },
        Entry {
            path: SIGNATURE.into(),
            bytes: signature_text.into_bytes(),
        },
    ];
    all.extend(entries);
    container::write(&all, inputs.source_date_epoch.unwrap_or(0))
        .map_err(|e| BundleError::Io(format!("writing the archive: {e}")))
}

fn file_entry(path: &str, role: Role, bytes: &[u8], arch: Option<String>) -> FileEntry {
    FileEntry {
        path: path.into(),
        role,
        size: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        arch,
        embeds_model: None,
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == first)
        .any(|(i, _)| haystack.get(i..i + needle.len()) == Some(needle))
}

/// The file name of `path`, checked to be a plain, portable name.
fn bundle_name(path: &str) -> Result<String, BundleError> {
    let name = std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let portable = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    if !portable || name.len() > 80 {
        return Err(BundleError::Firmware {
            path: path.into(),
            reason: "the file name must be 1 to 80 of A-Z a-z 0-9 . - _ + and not start with '.'"
                .into(),
        });
    }
    Ok(name.to_string())
}

/// The architecture of a firmware or gateway executable, the error as a message.
pub(crate) fn elf_arch(bytes: &[u8]) -> Result<Arch, String> {
    crate::image::executable_arch(bytes).map_err(|e| e.to_string())
}

/// The gate report's audit trail; the report must be a passed pipeline report for `target`.
fn provenance(report: &NamedFile, target: &str) -> Result<Provenance, BundleError> {
    let bad = |reason: String| BundleError::Report {
        path: report.path.clone(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_slice(&report.bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let schema = json["schema"].as_str().unwrap_or_default();
    if schema != crate::pipeline::report::SCHEMA {
        return Err(bad(format!(
            "not a pipeline report (schema '{schema}', expected '{}')",
            crate::pipeline::report::SCHEMA
        )));
    }
    let verdict = json["verdict"].as_str().unwrap_or_default().to_string();
    if json["passed"].as_bool() != Some(true) {
        return Err(bad(format!(
            "the release gate failed ({verdict}); only a passed model is bundled"
        )));
    }
    let audit = &json["audit"];
    let report_target = audit["target"].as_str().unwrap_or_default();
    if report_target != target {
        return Err(bad(format!(
            "the gate ran for target '{report_target}', the artifact is for '{target}'"
        )));
    }
    let hash = |v: &serde_json::Value| InputHash {
        role: v["role"].as_str().unwrap_or_default().into(),
        path: v["path"].as_str().unwrap_or_default().into(),
        sha256: v["sha256"].as_str().unwrap_or_default().into(),
    };
    let mut inputs = vec![hash(&audit["config"])];
    inputs.extend(audit["inputs"].as_array().into_iter().flatten().map(hash));
    Ok(Provenance {
        report_schema: schema.into(),
        verdict,
        inputs,
        seed: audit["seed"].as_u64().unwrap_or(0),
        finished: audit["finished"].as_str().unwrap_or_default().into(),
    })
}

/// RFC 3339 UTC time of `seconds` since 1970.
fn rfc3339(seconds: u64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds),
    )
    .to_string()
}
