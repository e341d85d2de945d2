//! `whittle size`: flash and RAM of a firmware ELF, split into model, runtime and app, and
//! checked against a target profile's budgets.

use super::bytes;
use anyhow::{Context, anyhow};
use std::path::PathBuf;
use whittle::size::{Limit, Options, Report};
use whittle::targets::Target;

#[derive(clap::Args)]
pub struct Args {
    /// The firmware ELF (an executable or a relocatable object).
    firmware: PathBuf,
    /// Target profile name (see `whittle targets`) or a profile .toml file to check against.
    #[arg(long, value_name = "PROFILE")]
    target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Symbol holding the model (instead of the `.rodata.whittle` sections); repeatable.
    #[arg(long = "model-symbol", value_name = "NAME")]
    model_symbols: Vec<String>,
    /// Arena bytes to add to RAM, when the model's arena lives outside the ELF.
    #[arg(long, value_name = "BYTES")]
    arena: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let target = args
        .target
        .as_deref()
        .map(Target::resolve)
        .transpose()
        .map_err(|e| anyhow!("--target: {e}"))?;
    let data = std::fs::read(&args.firmware)
        .with_context(|| format!("reading {}", args.firmware.display()))?;
    let opts = Options {
        model_symbols: args.model_symbols.clone(),
        arena_bytes: args.arena,
    };
    let mut report = whittle::size::measure(&data, &opts)
        .map_err(|e| anyhow!("{}: {e}", args.firmware.display()))?;
    if let Some(t) = &target {
        report.check(t);
    }
    let fits = report.budget.as_ref().is_none_or(|b| b.fits);
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&args, &report);
    }
    Ok(fits)
}

fn print_text(args: &Args, r: &Report) {
    out!("{}", args.firmware.display());
    out!("  {:<28} {:>12}  {}", "section", "bytes", "kind");
    for s in &r.sections {
        let kind = serde_json::to_value(s.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out!("  {:<28} {:>12}  {kind}", s.name, bytes(s.bytes as usize));
    }
    out!("  flash {:>12} bytes", bytes(r.flash_bytes as usize));
    out!(
        "    model {:>10}   runtime {:>10}   app {:>10}",
        bytes(r.model_bytes as usize),
        bytes(r.runtime_bytes as usize),
        bytes(r.app_bytes as usize)
    );
    out!("  ram   {:>12} bytes", bytes(r.ram_bytes as usize));
    let (Some(target), Some(budget)) = (&r.target, &r.budget) else {
        return;
    };
    out!("  target {target}:");
    out!("    flash: {}", verdict(budget.flash.as_ref()));
    out!("    ram:   {}", verdict(budget.ram.as_ref()));
    out!(
        "  {}",
        if budget.fits {
            "fits the target's budgets"
        } else {
            "OVER the target's budgets"
        }
    );
}

/// `123 of 456 bytes, 333 bytes under` / `..., over by 12 bytes`.
fn verdict(limit: Option<&Limit>) -> String {
    let Some(l) = limit else {
        return "no budget in the profile".into();
    };
    let used = format!(
        "{} of {} bytes",
        bytes(l.used as usize),
        bytes(l.limit as usize)
    );
    if l.fits() {
        format!("{used}, {} bytes under", bytes(l.headroom as usize))
    } else {
        format!(
            "{used}, over by {} bytes",
            bytes(l.headroom.unsigned_abs() as usize)
        )
    }
}
