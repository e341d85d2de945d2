//! Flash and RAM of a firmware ELF, split into model, runtime and application (`whittle size`).
//!
//! Only allocated sections count. Flash holds every allocated section with contents: code
//! (`text`), read-only data (`rodata`) and the load image of writable data (`data`, copied to
//! RAM at start-up). RAM holds the writable data and the zero-filled sections (`bss`: `.bss`,
//! `.uninit`, stack and heap sections), plus the model's arena when it lives outside the ELF
//! ([`Options::arena_bytes`]).
//!
//! Flash splits three ways:
//! - model: the bytes of the sections named `.rodata.whittle` or `.rodata.whittle.*` (what
//!   `whittle emit --format elf-object` writes); with [`Options::model_symbols`], the sizes of
//!   those symbols instead. Linker scripts often merge `.rodata.*` into `.rodata`: name the
//!   model's symbol for a linked firmware.
//! - runtime: the sizes of the function symbols of `whittle_runtime` (legacy-mangled names
//!   whose path starts with `whittle_runtime::` or `<whittle_runtime::`, and v0-mangled names
//!   holding the crate name). Runtime code inlined into application functions counts as app.
//! - app: the rest.

use crate::targets::Target;
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SymbolKind, elf};
use serde::Serialize;

/// What a section holds, which decides where it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Executable code: flash.
    Text,
    /// Read-only data: flash.
    Rodata,
    /// Initialised writable data: flash (load image) and RAM.
    Data,
    /// Zero-filled or uninitialised data: RAM.
    Bss,
    /// The model's arena given on the command line: RAM.
    Arena,
}

impl Kind {
    /// Whether the section takes flash.
    pub fn in_flash(self) -> bool {
        matches!(self, Kind::Text | Kind::Rodata | Kind::Data)
    }

    /// Whether the section takes RAM.
    pub fn in_ram(self) -> bool {
        matches!(self, Kind::Data | Kind::Bss | Kind::Arena)
    }
}

/// One section's size (sections of the same name summed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionSize {
    /// Section name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// What it holds.
    pub kind: Kind,
}

/// Use and limit of one memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// Bytes used.
    pub used: u64,
    /// Bytes available.
    pub limit: u64,
    /// `limit - used`: negative when over budget.
    pub headroom: i64,
}

impl Limit {
    fn new(used: u64, limit: u64) -> Self {
        Limit {
            used,
            limit,
            headroom: limit as i64 - used as i64,
        }
    }

    /// Whether the use fits the limit.
    pub fn fits(&self) -> bool {
        self.headroom >= 0
    }
}

/// The firmware against a target profile's budgets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// Flash, when the profile has a flash budget.
    pub flash: Option<Limit>,
    /// RAM, when the profile has a RAM budget.
    pub ram: Option<Limit>,
    /// Whether every budget the profile has fits.
    pub fits: bool,
}

/// How to measure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Symbols holding the model (exact names, or Rust paths or their trailing segments of
    /// legacy-mangled names); empty: the `.rodata.whittle` sections.
    pub model_symbols: Vec<String>,
    /// Arena bytes to add to RAM (an arena outside the ELF).
    pub arena_bytes: Option<u64>,
}

/// Sizes of a firmware image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Flash bytes: text, rodata and data sections.
    pub flash_bytes: u64,
    /// RAM bytes: data and bss sections, and the arena.
    pub ram_bytes: u64,
    /// Every allocated, non-empty section, in file order.
    pub sections: Vec<SectionSize>,
    /// Flash bytes of the model.
    pub model_bytes: u64,
    /// Flash bytes of `whittle_runtime` functions.
    pub runtime_bytes: u64,
    /// The rest of flash.
    pub app_bytes: u64,
    /// The target profile checked against, if any.
    pub target: Option<String>,
    /// The budgets, with a target profile.
    pub budget: Option<Budget>,
}

impl Report {
    /// Checks the totals against `target`'s `flash_bytes` and `ram_bytes`.
    pub fn check(&mut self, target: &Target) {
        let flash = target.flash_bytes.map(|l| Limit::new(self.flash_bytes, l));
        let ram = target.ram_bytes.map(|l| Limit::new(self.ram_bytes, l));
        let fits = flash.iter().chain(&ram).all(Limit::fits);
        self.target = Some(target.name.clone());
        self.budget = Some(Budget { flash, ram, fits });
    }
}

/// Measures the ELF file `data`.
pub fn measure(data: &[u8], opts: &Options) -> Result<Report, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(format!("not an ELF file ({:?})", file.format()));
    }
    let mut sections: Vec<SectionSize> = Vec::new();
    let mut allocated = std::collections::HashSet::new();
    let mut model_bytes = 0;
    for section in file.sections() {
        let SectionFlags::Elf { sh_type, sh_flags } = section.flags() else {
            continue;
        };
        if sh_flags.0 & elf::SHF_ALLOC.0 == 0 {
            continue;
        }
        allocated.insert(section.index());
        let kind = if sh_type == elf::SHT_NOBITS {
            Kind::Bss
        } else if sh_flags.0 & elf::SHF_WRITE.0 != 0 {
            Kind::Data
        } else if sh_flags.0 & elf::SHF_EXECINSTR.0 != 0 {
            Kind::Text
        } else {
            Kind::Rodata
        };
        let name = section
            .name()
            .map_err(|e| format!("section {}: {e}", section.index().0))?;
        let bytes = section.size();
        if is_model_section(name) && kind.in_flash() {
            model_bytes += bytes;
        }
        if bytes == 0 {
            continue;
        }
        match sections
            .iter_mut()
            .find(|s| s.name == name && s.kind == kind)
        {
            Some(s) => s.bytes += bytes,
            None => sections.push(SectionSize {
                name: name.to_string(),
                bytes,
                kind,
            }),
        }
    }
    if let Some(arena) = opts.arena_bytes {
        sections.push(SectionSize {
            name: "arena (--arena)".into(),
            bytes: arena,
            kind: Kind::Arena,
        });
    }

    if !opts.model_symbols.is_empty() {
        model_bytes = 0;
        for wanted in &opts.model_symbols {
            let found = symbols_sized(&file, &allocated, |s| {
                s.kind() != SymbolKind::Text && symbol_matches(s.name().unwrap_or(""), wanted)
            });
            if found.is_empty() {
                return Err(format!("no data symbol named '{wanted}' (--model-symbol)"));
            }
            model_bytes += found.iter().sum::<u64>();
        }
    }
    let runtime_bytes = symbols_sized(&file, &allocated, |s| {
        s.kind() == SymbolKind::Text && is_runtime_symbol(s.name().unwrap_or(""))
    })
    .iter()
    .sum::<u64>();

    let total = |f: fn(Kind) -> bool| {
        sections
            .iter()
            .filter(|s| f(s.kind))
            .map(|s| s.bytes)
            .sum::<u64>()
    };
    let flash_bytes = total(Kind::in_flash);
    let ram_bytes = total(Kind::in_ram);
    Ok(Report {
        flash_bytes,
        ram_bytes,
        sections,
        model_bytes,
        runtime_bytes,
        app_bytes: flash_bytes.saturating_sub(model_bytes + runtime_bytes),
        target: None,
        budget: None,
    })
}

/// Sizes of the defined symbols in allocated sections that `keep` selects, aliases (same
/// section and address) counted once.
fn symbols_sized<'d>(
    file: &object::File<'d>,
    allocated: &std::collections::HashSet<object::SectionIndex>,
    keep: impl Fn(&object::Symbol<'d, '_>) -> bool,
) -> Vec<u64> {
    let mut seen = std::collections::HashSet::new();
    file.symbols()
        .filter(|s| s.is_definition() && s.size() > 0)
        .filter(|s| s.section_index().is_some_and(|i| allocated.contains(&i)))
        .filter(|s| keep(s))
        .filter(|s| seen.insert((s.section_index(), s.address())))
        .map(|s| s.size())
        .collect()
}

/// Whether a section holds the model: `.rodata.whittle` or `.rodata.whittle.*`.
pub fn is_model_section(name: &str) -> bool {
    name == ".rodata.whittle" || name.starts_with(".rodata.whittle.")
}

/// The path segments of a legacy-mangled Rust symbol (`_ZN...E`), without the hash.
fn legacy_path(name: &str) -> Option<Vec<&str>> {
    let mut rest = name.strip_prefix("_ZN")?;
    let mut parts = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let len: usize = rest[..digits].parse().ok()?;
        let ident = rest.get(digits..digits + len)?;
        parts.push(ident);
        rest = &rest[digits + len..];
    }
    if parts
        .last()
        .is_some_and(|h| h.len() == 17 && h.starts_with('h'))
    {
        parts.pop();
    }
    Some(parts)
}

/// Whether `name` (as in the symbol table) is the symbol `wanted`: the same name, or a
/// legacy-mangled Rust symbol whose path is `wanted` or ends with `::wanted`.
pub fn symbol_matches(name: &str, wanted: &str) -> bool {
    if name == wanted {
        return true;
    }
    let Some(parts) = legacy_path(name) else {
        return false;
    };
    let path = parts.join("::");
    path == wanted || path.ends_with(&format!("::{wanted}"))
}

/// Whether a function symbol belongs to `whittle_runtime` (see the module docs).
pub fn is_runtime_symbol(name: &str) -> bool {
    if let Some(parts) = legacy_path(name) {
        return parts.first().is_some_and(|first| {
            *first == "whittle_runtime" || first.starts_with("_$LT$whittle_runtime..")
        });
    }
    name.starts_with("_R") && name.contains("15whittle_runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_symbols_by_mangled_path() {
        assert!(is_runtime_symbol(
            "_ZN15whittle_runtime11interpreter11Interpreter6invoke17h0123456789abcdefE"
        ));
        assert!(is_runtime_symbol(
            "_ZN66_$LT$whittle_runtime..model..Model$u20$as$u20$core..fmt..Debug$GT$3fmt17h0123456789abcdefE"
        ));
        assert!(!is_runtime_symbol("_ZN3app4main17h0123456789abcdefE"));
        assert!(!is_runtime_symbol("whittle_runtime_is_not_mangled"));
    }

    #[test]
    fn model_symbols_by_name_or_path() {
        let mangled = "_ZN8firmware5MODEL7ALIGNED17h0123456789abcdefE";
        assert!(symbol_matches(mangled, "MODEL::ALIGNED"));
        assert!(symbol_matches(mangled, "firmware::MODEL::ALIGNED"));
        assert!(!symbol_matches(mangled, "ALIGNED2"));
        assert!(symbol_matches("gesture", "gesture"));
        assert!(!symbol_matches("gesture_len", "gesture"));
    }
}
