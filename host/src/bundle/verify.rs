//! Offline verification: the archive's structure, the signature, every file's size and hash,
//! no missing or extra file, canonical bytes, versions and target. Each failure has its own
//! error and exit status.

use super::container::{self, Entry};
use super::create::elf_arch;
use super::keys::{self, unhex};
use super::manifest::{Manifest, Role, SCHEMA};
use super::{MANIFEST, SIGNATURE, sha256_hex};
use ed25519_dalek::{Signature, VerifyingKey};
use whittle_runtime::{AlignedBytes, LoadError, Model};

/// Why a bundle does not verify. [`VerifyError::exit_status`] gives each kind its own status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    /// Not a readable archive, or the manifest or its signature is missing or malformed.
    #[error("not a valid bundle: {reason}")]
    NotABundle {
        /// What is wrong.
        reason: String,
    },
    /// The archive's bytes are not the canonical archive of its files (a changed header,
    /// padding or trailing byte).
    #[error(
        "bundle altered: byte {offset} differs from the canonical archive of its files ({found_len} bytes, expected {expected_len})"
    )]
    NotCanonical {
        /// First differing byte.
        offset: usize,
        /// Length of the canonical archive.
        expected_len: usize,
        /// Length of the file.
        found_len: usize,
    },
    /// The signature does not verify with the given key.
    #[error(
        "signature check failed: the manifest is not signed by key {key} (the signature names key {signed_by}); the bundle was altered or signed with another key"
    )]
    BadSignature {
        /// Id of the key given.
        key: String,
        /// Id the signature names.
        signed_by: String,
    },
    /// A file's size or hash differs from the manifest.
    #[error("{path}: {what} (the file was altered)")]
    HashMismatch {
        /// The file.
        path: String,
        /// Expected and found sizes or hashes.
        what: String,
    },
    /// A file the manifest lists is not in the archive.
    #[error("{path}: listed in the manifest but missing from the bundle")]
    MissingFile {
        /// The file.
        path: String,
    },
    /// A file in the archive is not listed in the manifest (or is there twice).
    #[error("{path}: in the bundle but not listed in the manifest")]
    ExtraFile {
        /// The file.
        path: String,
    },
    /// The bundle is for another target, or a firmware's architecture does not fit it.
    #[error("wrong target: {reason}")]
    TargetMismatch {
        /// What differs.
        reason: String,
    },
    /// The bundle, or its artifact, needs another version of whittle.
    #[error("incompatible version: {reason}")]
    Incompatible {
        /// What differs.
        reason: String,
    },
}

impl VerifyError {
    /// Exit status of `whittle verify` for this failure.
    pub fn exit_status(&self) -> u8 {
        match self {
            VerifyError::NotABundle { .. } | VerifyError::NotCanonical { .. } => 10,
            VerifyError::BadSignature { .. } => 11,
            VerifyError::HashMismatch { .. } => 12,
            VerifyError::MissingFile { .. } => 13,
            VerifyError::ExtraFile { .. } => 14,
            VerifyError::TargetMismatch { .. } => 15,
            VerifyError::Incompatible { .. } => 16,
        }
    }
}

/// A bundle that passed verification.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// The manifest's bytes, as signed.
    pub manifest_json: Vec<u8>,
    /// The signature file.
    pub signature: Vec<u8>,
    /// Every file besides the manifest and signature, in archive order.
    pub files: Vec<Entry>,
    /// Hex SHA-256 of the whole bundle file.
    pub bundle_sha256: String,
    /// Id of the key that signed it; `None` when no key was given (signature not checked).
    pub signed_by: Option<String>,
}

/// Verifies `bytes` as a bundle. With `key`, the signature must verify with it; without, the
/// signature is not checked (everything else is). With `target`, the bundle must be for
/// that target profile.
pub fn verify(
    bytes: &[u8],
    key: Option<&VerifyingKey>,
    target: Option<&str>,
) -> Result<Verified, VerifyError> {
    let (mut entries, mtime) = container::read(bytes)?;
    let bad = |reason: &str| VerifyError::NotABundle {
        reason: reason.into(),
    };
    if entries.len() < 2 || entries[0].path != MANIFEST || entries[1].path != SIGNATURE {
        return Err(bad(
            "the archive must start with manifest.json and manifest.sig",
        ));
    }
    let (manifest_bytes, signature_bytes) = (&entries[0].bytes, &entries[1].bytes);
    let signed_by = match key {
        Some(key) => Some(check_signature(manifest_bytes, signature_bytes, key)?),
        None => None,
    };
    let manifest = parse_manifest(manifest_bytes)?;
    let files = entries.split_off(2);
    check_files(&manifest, &files)?;
    let mut all = entries;
    all.extend(files.iter().cloned());
    container::check_canonical(bytes, &all, mtime)?;
    check_model(&manifest, &files)?;
    check_target(&manifest, &files, target)?;
    let mut head = all.into_iter();
    let (manifest_json, signature) = match (head.next(), head.next()) {
        (Some(m), Some(s)) => (m.bytes, s.bytes),
        _ => (Vec::new(), Vec::new()),
    };
    Ok(Verified {
        manifest,
        manifest_json,
        signature,
        files,
        bundle_sha256: sha256_hex(bytes),
        signed_by,
    })
}

/// Checks the signature file against the manifest bytes; returns the key id.
fn check_signature(
    manifest: &[u8],
    signature_file: &[u8],
    key: &VerifyingKey,
) -> Result<String, VerifyError> {
    let malformed = || VerifyError::NotABundle {
        reason: "manifest.sig must be one line: 'ed25519 <key id> <128 hex digits>'".into(),
    };
    let text = std::str::from_utf8(signature_file).map_err(|_| malformed())?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [scheme, signed_by, signature] = fields.as_slice() else {
        return Err(malformed());
    };
    if *scheme != "ed25519" {
        return Err(malformed());
    }
    let signature = unhex(signature)
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .ok_or_else(malformed)?;
    let id = keys::key_id(key);
    key.verify_strict(manifest, &Signature::from_bytes(&signature))
        .map_err(|_| VerifyError::BadSignature {
            key: id.clone(),
            signed_by: signed_by.to_string(),
        })?;
    Ok(id)
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest, VerifyError> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| VerifyError::NotABundle {
            reason: format!("manifest.json is not JSON: {e}"),
        })?;
    let schema = json["schema"].as_str().unwrap_or_default();
    if schema != SCHEMA {
        return Err(VerifyError::Incompatible {
            reason: format!(
                "manifest schema '{schema}'; this whittle reads '{SCHEMA}' (whittle {})",
                env!("CARGO_PKG_VERSION")
            ),
        });
    }
    serde_json::from_value(json).map_err(|e| VerifyError::NotABundle {
        reason: format!("manifest.json: {e}"),
    })
}

/// Every listed file present once, in order, with its size and hash; nothing else.
fn check_files(manifest: &Manifest, files: &[Entry]) -> Result<(), VerifyError> {
    for (index, entry) in files.iter().enumerate() {
        let listed = manifest.files.iter().position(|f| f.path == entry.path);
        let earlier = files[..index].iter().any(|e| e.path == entry.path);
        if listed.is_none() || earlier || entry.path == MANIFEST || entry.path == SIGNATURE {
            return Err(VerifyError::ExtraFile {
                path: entry.path.clone(),
            });
        }
    }
    for listed in &manifest.files {
        let entry = files
            .iter()
            .find(|e| e.path == listed.path)
            .ok_or_else(|| VerifyError::MissingFile {
                path: listed.path.clone(),
            })?;
        if entry.bytes.len() as u64 != listed.size {
            return Err(VerifyError::HashMismatch {
                path: listed.path.clone(),
                what: format!(
                    "{} bytes, the manifest says {}",
                    entry.bytes.len(),
                    listed.size
                ),
            });
        }
        let found = sha256_hex(&entry.bytes);
        if found != listed.sha256 {
            return Err(VerifyError::HashMismatch {
                path: listed.path.clone(),
                what: format!("SHA-256 {found}, the manifest says {}", listed.sha256),
            });
        }
    }
    let in_order = files
        .iter()
        .map(|e| &e.path)
        .eq(manifest.files.iter().map(|f| &f.path));
    if !in_order {
        return Err(VerifyError::NotABundle {
            reason: "the files are not in the manifest's order".into(),
        });
    }
    Ok(())
}

/// The artifact loads with this runtime, and says what the manifest says.
fn check_model(manifest: &Manifest, files: &[Entry]) -> Result<(), VerifyError> {
    let supported = whittle_runtime::format::FORMAT_VERSION;
    let model = manifest
        .file(Role::Model)
        .and_then(|m| files.iter().find(|e| e.path == m.path))
        .ok_or_else(|| VerifyError::MissingFile {
            path: manifest.model.path.clone(),
        })?;
    let aligned = AlignedBytes::new(&model.bytes);
    let loaded = Model::load(&aligned).map_err(|e| match e {
        LoadError::UnsupportedVersion { found, supported } => VerifyError::Incompatible {
            reason: format!(
                "{}: artifact format {found}; this whittle's runtime reads format {supported}",
                model.path
            ),
        },
        e => VerifyError::Incompatible {
            reason: format!("{}: does not load with this runtime: {e}", model.path),
        },
    })?;
    if manifest.model.format_version != supported {
        return Err(VerifyError::Incompatible {
            reason: format!(
                "the manifest records artifact format {}; this whittle reads {supported}",
                manifest.model.format_version
            ),
        });
    }
    if loaded.target() != manifest.target.profile {
        return Err(VerifyError::TargetMismatch {
            reason: format!(
                "{} is compiled for '{}', the manifest says '{}'",
                model.path,
                loaded.target(),
                manifest.target.profile
            ),
        });
    }
    Ok(())
}

/// The requested target is the bundle's, and each firmware's recorded architecture is its
/// real one; at least one firmware (if any) runs on the target.
fn check_target(
    manifest: &Manifest,
    files: &[Entry],
    target: Option<&str>,
) -> Result<(), VerifyError> {
    if let Some(target) = target
        && target != manifest.target.profile
    {
        return Err(VerifyError::TargetMismatch {
            reason: format!(
                "the bundle is for '{}', the station expects '{target}'",
                manifest.target.profile
            ),
        });
    }
    let triple = &manifest.target.triple;
    let mut firmware = 0;
    let mut for_target = 0;
    for listed in manifest.files.iter().filter(|f| f.role == Role::Firmware) {
        firmware += 1;
        let entry = files.iter().find(|e| e.path == listed.path);
        let arch = entry
            .map(|e| elf_arch(&e.bytes))
            .transpose()
            .map_err(|reason| VerifyError::TargetMismatch {
                reason: format!("{}: {reason}", listed.path),
            })?;
        if let Some(arch) = arch {
            if listed.arch.as_deref() != Some(arch.name()) {
                return Err(VerifyError::TargetMismatch {
                    reason: format!(
                        "{} is an {} executable; the manifest says {}",
                        listed.path,
                        arch.name(),
                        listed.arch.as_deref().unwrap_or("nothing")
                    ),
                });
            }
            for_target += usize::from(arch.matches_triple(triple));
        }
    }
    if firmware > 0 && for_target == 0 {
        return Err(VerifyError::TargetMismatch {
            reason: format!(
                "no firmware in the bundle runs on '{}' ({triple})",
                manifest.target.profile
            ),
        });
    }
    Ok(())
}
