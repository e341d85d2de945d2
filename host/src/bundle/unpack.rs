//! Unpacking a verified bundle for a flasher: every file, plus a raw `.bin` and an Intel
//! `.hex` of each device firmware, written into a fresh directory that appears only complete.

use super::manifest::Role;
use super::{BundleError, MANIFEST, SIGNATURE, Verified};
use crate::image::FlashImage;
use std::path::{Path, PathBuf};

/// One device firmware and the images made from it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnpackedImage {
    /// The ELF, as bundled.
    pub elf: PathBuf,
    /// The raw image, to be written at `base_address`.
    pub bin: PathBuf,
    /// The Intel HEX image (addresses inside).
    pub hex: PathBuf,
    /// Where the raw image goes in the device's memory map (hex).
    pub base_address: String,
    /// Entry point (hex).
    pub entry: String,
    /// Architecture.
    pub arch: String,
}

/// Name of the file listing the images, in the unpacked directory.
pub const IMAGES: &str = "images.json";

/// Writes `bundle`'s files into `out` (which must not exist, or be an empty directory), with
/// `.bin` and `.hex` images next to each firmware for the bundle's target, and `images.json`
/// listing them. Everything is written to a temporary directory first and renamed into place.
pub fn unpack(bundle: &Verified, out: &Path) -> Result<Vec<UnpackedImage>, BundleError> {
    let io = |what: &str, e: std::io::Error| BundleError::Io(format!("{what}: {e}"));
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| io(&out.display().to_string(), e))?
            .next()
            .is_none();
        if !empty {
            return Err(BundleError::Io(format!(
                "{} exists and is not empty; unpack into a new directory",
                out.display()
            )));
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| io(&parent.display().to_string(), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".whittle-unpack-")
        .tempdir_in(parent)
        .map_err(|e| io(&format!("creating a directory in {}", parent.display()), e))?;
    let write = |rel: &str, bytes: &[u8]| -> Result<(), BundleError> {
        let path = staging.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(&dir.display().to_string(), e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io(rel, e))
    };
    write(MANIFEST, &bundle.manifest_json)?;
    write(SIGNATURE, &bundle.signature)?;
    let mut images = Vec::new();
    for entry in &bundle.files {
        write(&entry.path, &entry.bytes)?;
        let listed = bundle.manifest.files.iter().find(|f| f.path == entry.path);
        let is_firmware = listed.is_some_and(|f| f.role == Role::Firmware);
        if !is_firmware {
            continue;
        }
        let image = match FlashImage::from_elf(&entry.bytes) {
            Ok(image) if image.arch().matches_triple(&bundle.manifest.target.triple) => image,
            // Gateway programs (Linux executables) are not flashed: copied as they are.
            _ => continue,
        };
        let stem = entry.path.strip_suffix(".elf").unwrap_or(&entry.path);
        let (bin, hex) = (format!("{stem}.bin"), format!("{stem}.hex"));
        let hex_text = image.to_intel_hex().map_err(|e| BundleError::Firmware {
            path: entry.path.clone(),
            reason: e.to_string(),
        })?;
        write(&bin, &image.to_bin())?;
        write(&hex, hex_text.as_bytes())?;
        images.push(UnpackedImage {
            elf: out.join(&entry.path),
            bin: out.join(bin),
            hex: out.join(hex),
            base_address: format!("{:#010x}", image.base_address()),
            entry: format!("{:#010x}", image.entry()),
            arch: image.arch().name().to_string(),
        });
    }
    let listing = serde_json::json!({
        "bundle_sha256": bundle.bundle_sha256,
        "target": bundle.manifest.target.profile,
        "model": bundle.manifest.model.path,
        "images": images,
    });
    let mut listing_bytes = serde_json::to_vec_pretty(&listing).unwrap_or_default();
    listing_bytes.push(b'\n');
    write(IMAGES, &listing_bytes)?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| io(&out.display().to_string(), e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        io(&format!("moving the files to {}", out.display()), e)
    })?;
    Ok(images)
}
