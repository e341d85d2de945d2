// The build script of every example firmware (each `build.rs` is `include!` of this file).
//
// - Puts the board's `memory.x` where the linker finds it.
// - Checks `WHITTLE_MODEL` and `WHITTLE_INPUTS`, the absolute paths the firmware embeds with
//   `include_model!(env!("WHITTLE_MODEL"))` and `include_bytes!(env!("WHITTLE_INPUTS"))`.
// - With the firmware's `linked-model` feature, links `WHITTLE_MODEL_OBJECT` instead: an ELF
//   object from `whittle emit --format elf-object --name whittle_model`.
// - Writes `$OUT_DIR/arena.rs` with `ARENA_BYTES`: `WHITTLE_ARENA` (bytes), or
//   `DEFAULT_ARENA_BYTES` when unset.

use std::env::{self, VarError};
use std::path::{Path, PathBuf};

/// Arena bytes when `WHITTLE_ARENA` is not set.
const DEFAULT_ARENA_BYTES: usize = 64 * 1024;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| panic!("cargo sets OUT_DIR")));
    std::fs::copy("memory.x", out.join("memory.x"))
        .unwrap_or_else(|e| panic!("copying memory.x to {}: {e}", out.display()));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    for var in [
        "WHITTLE_MODEL",
        "WHITTLE_MODEL_OBJECT",
        "WHITTLE_INPUTS",
        "WHITTLE_ARENA",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let linked = env::var_os("CARGO_FEATURE_LINKED_MODEL").is_some();
    let files: &[&str] = if linked {
        &["WHITTLE_MODEL_OBJECT", "WHITTLE_INPUTS"]
    } else {
        &["WHITTLE_MODEL", "WHITTLE_INPUTS"]
    };
    for &var in files {
        let path = env::var(var).unwrap_or_else(|_| {
            panic!("set {var} to the absolute path of the file to embed (see README.md)")
        });
        if !Path::new(&path).is_absolute() || !Path::new(&path).is_file() {
            panic!("{var}={path}: not an absolute path to an existing file");
        }
        println!("cargo:rerun-if-changed={path}");
        if var == "WHITTLE_MODEL_OBJECT" {
            println!("cargo:rustc-link-arg={path}");
        }
    }
    let arena = match env::var("WHITTLE_ARENA") {
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .unwrap_or_else(|e| panic!("WHITTLE_ARENA={v}: not a number of bytes ({e})")),
        Err(VarError::NotPresent) => DEFAULT_ARENA_BYTES,
        Err(e) => panic!("WHITTLE_ARENA: {e}"),
    };
    let code = format!(
        "/// Arena bytes: `WHITTLE_ARENA` at build time, or {DEFAULT_ARENA_BYTES} by default.\n\
         pub const ARENA_BYTES: usize = {arena};\n"
    );
    std::fs::write(out.join("arena.rs"), code)
        .unwrap_or_else(|e| panic!("writing {}/arena.rs: {e}", out.display()));
}
