//! `whittle emit`: an artifact as an ELF object, a C header or a Rust snippet for firmware.

use anyhow::{Context, anyhow, bail};
use std::path::PathBuf;
use whittle::emit::{Arch, ArtifactInfo, ElfOptions, Format};
use whittle::targets::Target;
use whittle_runtime::{AlignedBytes, Model};

#[derive(clap::Args)]
pub struct Args {
    /// The .wtl artifact.
    artifact: PathBuf,
    /// What to write: elf-object, c-header or rust.
    #[arg(long, value_name = "FORMAT")]
    format: String,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
    /// Symbol, array or static name (default: the artifact's file stem as a C identifier).
    #[arg(long)]
    name: Option<String>,
    /// ELF architecture: arm, riscv32, aarch64 or x86_64 (default: the artifact's target).
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let format: Format = args
        .format
        .parse()
        .map_err(|e: String| anyhow!("--format: {e}"))?;
    let arch: Option<Arch> = args
        .arch
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| anyhow!("--arch: {e}"))?;
    let data = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let aligned = AlignedBytes::new(&data);
    let model = Model::load(&aligned)
        .map_err(|e| anyhow!("{} is not a valid artifact: {e}", args.artifact.display()))?;
    let name = match &args.name {
        Some(n) if whittle::emit::is_identifier(n) => n.clone(),
        Some(n) => bail!("--name '{n}' is not a valid C identifier ([A-Za-z_][A-Za-z0-9_]*)"),
        None => whittle::emit::identifier_from_path(&args.artifact),
    };
    let info = ArtifactInfo {
        target: model.target().to_string(),
        arena_bytes: model.arena_bytes(),
        source: args.artifact.file_name().map_or_else(
            || args.artifact.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        ),
    };
    let bytes = match format {
        Format::ElfObject => {
            let opts = elf_options(&args, arch, model.target())?;
            whittle::emit::elf_object(&data, &name, opts).map_err(anyhow::Error::msg)?
        }
        Format::CHeader => whittle::emit::c_header(&data, &name, &info)
            .map_err(anyhow::Error::msg)?
            .into_bytes(),
        Format::Rust => {
            let path = args
                .artifact
                .to_str()
                .with_context(|| format!("{} is not a UTF-8 path", args.artifact.display()))?;
            whittle::emit::rust_snippet(path, &name, &info)
                .map_err(anyhow::Error::msg)?
                .into_bytes()
        }
    };
    whittle::artifact::write_atomically(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    out!(
        "{}: {} ({} bytes, name {name}, target {})",
        args.output.display(),
        args.format,
        super::bytes(bytes.len()),
        info.target
    );
    Ok(true)
}

/// The architecture from `--arch`, else from the artifact's target profile; the Arm float
/// ABI always from the profile (soft float when the profile is not an Arm one).
fn elf_options(args: &Args, arch: Option<Arch>, target_name: &str) -> anyhow::Result<ElfOptions> {
    let from_target = Target::resolve(target_name)
        .ok()
        .and_then(|t| ElfOptions::for_target(&t));
    match arch {
        Some(arch) => {
            let hard_float = from_target.is_some_and(|o| o.arch == arch && o.hard_float);
            Ok(ElfOptions { arch, hard_float })
        }
        None => from_target.with_context(|| {
            format!(
                "{}: target '{target_name}' names no architecture; pass --arch arm|riscv32|aarch64|x86_64",
                args.artifact.display()
            )
        }),
    }
}
