//! `whittle targets`: the built-in profiles.

use whittle::targets::Target;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn kib(v: Option<u64>) -> String {
    v.map_or("-".into(), |b| format!("{} KiB", b / 1024))
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let all = Target::built_in();
    if args.json {
        out!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(true);
    }
    let header = [
        "name", "triple", "isa", "features", "flash", "ram", "channels", "layout",
    ];
    out!(
        "{:<16} {:<30} {:<14} {:<16} {:>10} {:>10} {:>9}  {}",
        header[0],
        header[1],
        header[2],
        header[3],
        header[4],
        header[5],
        header[6],
        header[7]
    );
    for t in &all {
        out!(
            "{:<16} {:<30} {:<14} {:<16} {:>10} {:>10} {:>9}  {}",
            t.name,
            t.triple,
            t.isa,
            t.features.join(","),
            kib(t.flash_bytes),
            kib(t.ram_bytes),
            format!("x{}", t.channel_multiple),
            t.weight_layout
        );
    }
    Ok(true)
}
