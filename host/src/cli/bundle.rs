//! `whittle keygen`, `bundle`, `verify` and `unpack`: signed release bundles for offline
//! factory stations.

use anyhow::{Context, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use whittle::artifact::write_atomically;
use whittle::bundle::{self, BundleInputs, NamedFile, keys};
use whittle::targets::Target;

/// `whittle keygen` arguments.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Directory for the key pair (created if missing): <name>.key (secret, mode 0600) and
    /// <name>.pub.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// File name of the pair, without extension.
    #[arg(long, default_value = "whittle")]
    name: String,
    /// Replace an existing key pair.
    #[arg(long)]
    force: bool,
}

/// `whittle bundle` arguments.
#[derive(clap::Args)]
pub struct BundleArgs {
    /// The .wtl artifact.
    #[arg(long, value_name = "WTL")]
    artifact: PathBuf,
    /// A firmware or gateway executable (ELF); repeatable.
    #[arg(long, value_name = "ELF")]
    firmware: Vec<PathBuf>,
    /// The pipeline's report.json; its gate must have passed.
    #[arg(long, value_name = "JSON")]
    report: Option<PathBuf>,
    /// The secret key (from `whittle keygen`).
    #[arg(long, value_name = "KEY")]
    sign: PathBuf,
    /// Target profile name or .toml file (default: the artifact's target).
    #[arg(long, value_name = "PROFILE")]
    target: Option<String>,
    /// The bundle to write.
    #[arg(short, long)]
    output: PathBuf,
    /// The device firmware does not carry the model (it is flashed to a region of its own);
    /// without this, every firmware for the target must contain the artifact byte for byte.
    #[arg(long)]
    model_flashed_separately: bool,
}

/// `whittle verify` arguments.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The bundle.
    bundle: PathBuf,
    /// The public key the bundle must be signed with.
    #[arg(long, value_name = "PUB")]
    key: PathBuf,
    /// The target profile the station flashes; the bundle must be for it.
    #[arg(long, value_name = "PROFILE")]
    target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `whittle unpack` arguments.
#[derive(clap::Args)]
pub struct UnpackArgs {
    /// The bundle.
    bundle: PathBuf,
    /// The directory to create.
    #[arg(short, long)]
    output: PathBuf,
    /// Verify the signature with this public key first (recommended; without it only the
    /// hashes, structure and versions are checked).
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// The target profile the station flashes.
    #[arg(long, value_name = "PROFILE")]
    target: Option<String>,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<bool> {
    let secret = args.out.join(format!("{}.key", args.name));
    let public = args.out.join(format!("{}.pub", args.name));
    if !args.force
        && let Some(existing) = [&secret, &public].into_iter().find(|p| p.exists())
    {
        bail!(
            "{} exists; keep it, or pass --force to replace the key pair",
            existing.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let key = keys::generate()?;
    write_secret(&secret, keys::secret_key_text(&key).as_bytes())?;
    write_atomically(
        &public,
        keys::public_key_text(&key.verifying_key()).as_bytes(),
    )
    .with_context(|| format!("writing {}", public.display()))?;
    out!(
        "wrote {} (secret, keep it off the factory network) and {} (key id {})",
        secret.display(),
        public.display(),
        keys::key_id(&key.verifying_key())
    );
    Ok(true)
}

/// Writes the secret key readable by its owner only, atomically.
fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    // Temporary files are created owner-only (0600), which a secret key keeps.
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .map_err(|e| anyhow!("writing {}: {}", path.display(), e.error))?;
    Ok(())
}

pub fn bundle(args: BundleArgs) -> anyhow::Result<bool> {
    let read = |p: &Path| -> anyhow::Result<NamedFile> {
        Ok(NamedFile {
            path: p.display().to_string(),
            bytes: std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        })
    };
    let key_text = std::fs::read_to_string(&args.sign)
        .with_context(|| format!("reading {}", args.sign.display()))?;
    let key = keys::parse_secret(&key_text, &args.sign.display().to_string())?;
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim()
                .parse::<u64>()
                .map_err(|_| bundle::BundleError::SourceDateEpoch(v.clone()))?,
        ),
        Err(_) => None,
    };
    let inputs = BundleInputs {
        artifact: read(&args.artifact)?,
        firmware: args
            .firmware
            .iter()
            .map(|p| read(p))
            .collect::<anyhow::Result<_>>()?,
        report: args.report.as_deref().map(read).transpose()?,
        target: args
            .target
            .as_deref()
            .map(Target::resolve)
            .transpose()
            .map_err(|e| anyhow!("--target: {e}"))?,
        source_date_epoch,
        model_flashed_separately: args.model_flashed_separately,
    };
    let bytes = bundle::create(&inputs, &key)?;
    let vectors = whittle::inspect::Summary::of(&inputs.artifact.bytes)
        .ok()
        .and_then(|s| s.validation);
    if vectors.is_none() {
        eprintln!(
            "warning: {} holds no validation vectors: the device's self-test can check only its integrity (compile with --embed-validation N, or output.embed_validation in the pipeline)",
            args.artifact.display()
        );
    }
    write_atomically(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    out!(
        "wrote {}: {} bytes, {} file(s) besides the manifest, signed by key {}",
        args.output.display(),
        super::bytes(bytes.len()),
        1 + inputs.firmware.len() + usize::from(inputs.report.is_some()),
        keys::key_id(&key.verifying_key())
    );
    out!("  sha256 {}", bundle::sha256_hex(&bytes));
    Ok(true)
}

fn read_public(path: &Path) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(keys::parse_public(&text, &path.display().to_string())?)
}

/// `whittle verify`: exit status 0 when the bundle verifies, the failure's own status
/// (10-16, see `VerifyError::exit_status`) when it does not, 2 on unreadable input.
pub fn verify(args: VerifyArgs) -> ExitCode {
    let outcome = (|| -> anyhow::Result<Result<bundle::Verified, bundle::VerifyError>> {
        let key = read_public(&args.key)?;
        let bytes = std::fs::read(&args.bundle)
            .with_context(|| format!("reading {}", args.bundle.display()))?;
        Ok(bundle::verify(&bytes, Some(&key), args.target.as_deref()))
    })();
    match outcome {
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_ERROR)
        }
        Ok(Err(e)) => {
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({"verified": false, "exit_status": e.exit_status(), "error": e.to_string()})
                );
            }
            eprintln!("FAIL: {}: {e}", args.bundle.display());
            ExitCode::from(e.exit_status())
        }
        Ok(Ok(v)) => {
            let m = &v.manifest;
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({
                        "verified": true,
                        "bundle_sha256": v.bundle_sha256,
                        "signed_by": v.signed_by,
                        "target": m.target.profile,
                        "files": m.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
                    })
                );
            } else {
                out!(
                    "OK: {} verifies: signed by key {}, {} file(s) intact, target {} ({}), artifact format {}",
                    args.bundle.display(),
                    v.signed_by.as_deref().unwrap_or("?"),
                    m.files.len(),
                    m.target.profile,
                    m.target.triple,
                    m.model.format_version
                );
                out!("  sha256 {}", v.bundle_sha256);
            }
            ExitCode::SUCCESS
        }
    }
}

pub fn unpack(args: UnpackArgs) -> anyhow::Result<bool> {
    let key = args.key.as_deref().map(read_public).transpose()?;
    let bytes = std::fs::read(&args.bundle)
        .with_context(|| format!("reading {}", args.bundle.display()))?;
    let verified = bundle::verify(&bytes, key.as_ref(), args.target.as_deref())
        .with_context(|| format!("{} does not verify", args.bundle.display()))?;
    if key.is_none() {
        eprintln!(
            "warning: the signature was not checked (no --key); hashes, structure and versions were"
        );
    }
    let images = bundle::unpack(&verified, &args.output)?;
    out!(
        "unpacked {} into {}: {} file(s)",
        args.bundle.display(),
        args.output.display(),
        verified.files.len() + 3 + 2 * images.len()
    );
    for image in &images {
        out!(
            "  {} ({}): {} at {}, {}",
            image.elf.display(),
            image.arch,
            image.bin.display(),
            image.base_address,
            image.hex.display()
        );
    }
    Ok(true)
}
