//! `whittle emit` (ELF object, C header, Rust snippet) and `whittle size` (flash and RAM of a
//! firmware ELF against a target's budgets), through the binary.

use object::{Architecture, Object, ObjectSection, ObjectSymbol};
use std::path::{Path, PathBuf};
mod common;

use common::{text, whittle};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// The gesture example compiled for `target` to `dir/file`.
fn compile_gesture(dir: &Path, file: &str, target: &str) -> PathBuf {
    let wtl = dir.join(file);
    let onnx = root().join("examples/gesture/gesture.onnx");
    let out = whittle(&["compile", s(&onnx), "-o", s(&wtl), "--target", target]);
    assert!(out.status.success(), "{}", text(&out));
    wtl
}

fn emit(wtl: &Path, format: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["emit", s(wtl), "--format", format, "-o", s(out)];
    args.extend_from_slice(extra);
    whittle(&args)
}

fn arena_bytes(wtl: &Path) -> u64 {
    let out = whittle(&["inspect", s(wtl), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["arena_bytes"].as_u64().unwrap()
}

fn e_flags(file: &object::File<'_>) -> u32 {
    match file.flags() {
        object::FileFlags::Elf { e_flags, .. } => e_flags.0,
        other => panic!("not ELF flags: {other:?}"),
    }
}

/// The bytes a symbol of `file` covers, read from its section.
fn symbol_bytes<'d>(file: &object::File<'d>, name: &str) -> &'d [u8] {
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("no symbol {name}"));
    let section = file
        .section_by_index(sym.section_index().expect("defined"))
        .unwrap();
    let data = section.data().unwrap();
    let start = (sym.address() - section.address()) as usize;
    &data[start..start + sym.size() as usize]
}

/// Checks the object holds `artifact` as documented; returns the width of `<name>_len`.
fn check_object(obj: &[u8], artifact: &[u8], name: &str) -> usize {
    let file = object::File::parse(obj).expect("an object file");
    assert_eq!(file.format(), object::BinaryFormat::Elf);
    assert_eq!(file.kind(), object::ObjectKind::Relocatable);
    assert!(file.is_little_endian());
    let section = file
        .section_by_name(".rodata.whittle")
        .expect("the section");
    assert_eq!(section.align(), 16);
    assert_eq!(section.data().unwrap(), artifact);
    let sym = file.symbols().find(|s| s.name() == Ok(name)).unwrap();
    assert!(sym.is_global() && sym.kind() == object::SymbolKind::Data);
    assert_eq!(sym.size() as usize, artifact.len());
    assert_eq!(sym.section_index(), Some(section.index()));
    assert_eq!(symbol_bytes(&file, name), artifact);
    let len = symbol_bytes(&file, &format!("{name}_len"));
    let mut wide = [0u8; 8];
    wide[..len.len()].copy_from_slice(len);
    assert_eq!(u64::from_le_bytes(wide) as usize, artifact.len());
    assert_eq!(len.len(), if file.is_64() { 8 } else { 4 });
    len.len()
}

#[test]
fn elf_object_for_the_artifacts_target() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "gesture-int8.wtl", "cortex-m4f");
    let artifact = std::fs::read(&wtl).unwrap();
    let obj_path = dir.path().join("model.o");
    let out = emit(&wtl, "elf-object", &obj_path, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let obj = std::fs::read(&obj_path).unwrap();
    let file = object::File::parse(&*obj).unwrap();
    assert_eq!(file.architecture(), Architecture::Arm);
    assert!(!file.is_64());
    assert_eq!(e_flags(&file), 0x0500_0400, "EABI v5, hard float");
    // The default name is the file stem as a C identifier.
    assert_eq!(check_object(&obj, &artifact, "gesture_int8"), 4);

    let out = whittle(&["size", s(&obj_path), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model_bytes"].as_u64(), Some(artifact.len() as u64));
    assert_eq!(
        json["flash_bytes"].as_u64(),
        Some(artifact.len() as u64 + 4)
    );
    assert_eq!(json["ram_bytes"].as_u64(), Some(0));
    assert_eq!(json["runtime_bytes"].as_u64(), Some(0));
    assert!(json["budget"].is_null() && json["target"].is_null());
    let sections = json["sections"].as_array().unwrap();
    assert!(
        sections
            .iter()
            .any(|s| s["name"] == ".rodata.whittle" && s["kind"] == "rodata")
    );

    let out = whittle(&[
        "size",
        s(&obj_path),
        "--json",
        "--model-symbol",
        "gesture_int8",
        "--target",
        "cortex-m4f",
        "--arena",
        "1000",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model_bytes"].as_u64(), Some(artifact.len() as u64));
    assert_eq!(json["ram_bytes"].as_u64(), Some(1000));
    assert_eq!(json["target"], "cortex-m4f");
    assert_eq!(json["budget"]["fits"], true);
    assert_eq!(json["budget"]["ram"]["limit"].as_u64(), Some(655_360));

    let out = whittle(&["size", s(&obj_path), "--model-symbol", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("'nope'"), "{}", text(&out));
}

#[test]
fn elf_objects_for_every_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "g.wtl", "generic");
    let artifact = std::fs::read(&wtl).unwrap();
    let cases = [
        ("arm", Architecture::Arm, false, 0x0500_0000, 4),
        ("riscv32", Architecture::Riscv32, false, 0x1, 4),
        ("aarch64", Architecture::Aarch64, true, 0, 8),
        ("x86_64", Architecture::X86_64, true, 0, 8),
    ];
    for (arch, want, is_64, flags, len_width) in cases {
        let path = dir.path().join(format!("{arch}.o"));
        let out = emit(&wtl, "elf-object", &path, &["--arch", arch, "--name", "m"]);
        assert!(out.status.success(), "{arch}: {}", text(&out));
        let obj = std::fs::read(&path).unwrap();
        let file = object::File::parse(&*obj).unwrap();
        assert_eq!(file.architecture(), want, "{arch}");
        assert_eq!(file.is_64(), is_64, "{arch}");
        assert_eq!(e_flags(&file), flags, "{arch}");
        assert_eq!(check_object(&obj, &artifact, "m"), len_width, "{arch}");
    }

    // A generic artifact names no architecture.
    let out = emit(&wtl, "elf-object", &dir.path().join("x.o"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--arch"), "{}", text(&out));
    assert!(!dir.path().join("x.o").exists());
}

#[test]
fn c_header_holds_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "gesture-int8.wtl", "cortex-m4f");
    let artifact = std::fs::read(&wtl).unwrap();
    let arena = arena_bytes(&wtl);
    let path = dir.path().join("model.h");
    let out = emit(&wtl, "c-header", &path, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let h = std::fs::read_to_string(&path).unwrap();
    assert!(h.contains("#include <stdint.h>"), "{h}");
    assert!(h.contains("#ifndef WHITTLE_GESTURE_INT8_H\n#define WHITTLE_GESTURE_INT8_H"));
    assert!(
        h.trim_end()
            .ends_with("#endif /* WHITTLE_GESTURE_INT8_H */")
    );
    assert!(!h.contains("extern"));
    let decl = format!(
        "static const uint8_t gesture_int8[{}] __attribute__((aligned(16))) = {{",
        artifact.len()
    );
    assert!(h.contains(&decl), "{decl}");
    assert!(h.contains(&format!("#define GESTURE_INT8_LEN {}", artifact.len())));
    assert!(h.contains("cortex-m4f") && h.contains("gesture-int8.wtl"));
    assert!(h.contains(&format!("Arena: {arena} bytes")));

    let body = &h[h.find(&decl).unwrap() + decl.len()..h.find("};").unwrap()];
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), artifact.len().div_ceil(16));
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.matches("0x").count() == 16)
    );
    let parsed: Vec<u8> = body
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| u8::from_str_radix(t.strip_prefix("0x").expect("0x.."), 16).unwrap())
        .collect();
    assert_eq!(parsed, artifact);
}

#[test]
fn rust_snippet_names_the_file_and_arena() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "gesture-int8.wtl", "cortex-m4f");
    let arena = arena_bytes(&wtl);
    let path = dir.path().join("model.rs");
    let out = emit(&wtl, "rust", &path, &["--name", "gesture"]);
    assert!(out.status.success(), "{}", text(&out));
    let rs = std::fs::read_to_string(&path).unwrap();
    let include = format!(
        "pub static GESTURE: &[u8] = whittle_runtime::include_model!({:?});",
        s(&wtl)
    );
    assert!(rs.contains(&include), "{rs}");
    assert!(
        rs.contains(&format!("pub const GESTURE_ARENA_BYTES: usize = {arena};")),
        "{rs}"
    );
}

#[test]
fn emit_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "g.wtl", "cortex-m4f");
    let out_path = dir.path().join("out");
    let cases: [(&[&str], &str, &str); 3] = [
        (&[], "elf", "--format"),
        (&["--arch", "mips"], "elf-object", "--arch"),
        (&["--name", "9-lives"], "c-header", "--name"),
    ];
    for (extra, format, says) in cases {
        let out = emit(&wtl, format, &out_path, extra);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(says), "{says}: {}", text(&out));
    }
    let bad = dir.path().join("bad.wtl");
    std::fs::write(&bad, b"not an artifact at all").unwrap();
    let out = emit(&bad, "c-header", &out_path, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("bad.wtl"), "{}", text(&out));
    assert!(!out_path.exists());
}

#[test]
fn size_checks_a_target_budget() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "g.wtl", "cortex-m4f");
    let len = std::fs::metadata(&wtl).unwrap().len();
    let obj = dir.path().join("g.o");
    let out = emit(&wtl, "elf-object", &obj, &[]);
    assert!(out.status.success(), "{}", text(&out));

    let profile = std::fs::read_to_string(root().join("targets/cortex-m4f.toml")).unwrap();
    let tiny = profile
        .replace("name = \"cortex-m4f\"", "name = \"tiny\"")
        .replace("flash_bytes = 2097152", "flash_bytes = 1024")
        .replace("ram_bytes = 655360", "ram_bytes = 16");
    assert!(tiny.contains("flash_bytes = 1024") && tiny.contains("ram_bytes = 16"));
    let tiny_path = dir.path().join("tiny.toml");
    std::fs::write(&tiny_path, tiny).unwrap();

    let args = ["size", s(&obj), "--target", s(&tiny_path), "--arena", "100"];
    let out = whittle(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let over = len + 4 - 1024;
    let thousands = |n: u64| {
        let d = n.to_string();
        let mut o = String::new();
        for (i, c) in d.chars().enumerate() {
            if i > 0 && (d.len() - i).is_multiple_of(3) {
                o.push(',');
            }
            o.push(c);
        }
        o
    };
    let says = text(&out);
    assert!(
        says.contains(&format!("over by {} bytes", thousands(over))),
        "{says}"
    );
    assert!(says.contains("over by 84 bytes"), "{says}");

    let out = whittle(&[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["target"], "tiny");
    assert_eq!(json["budget"]["fits"], false);
    assert_eq!(
        json["budget"]["flash"]["headroom"].as_i64(),
        Some(-(over as i64))
    );
    assert_eq!(json["budget"]["ram"]["headroom"].as_i64(), Some(-84));

    let out = whittle(&["size", s(&obj), "--target", "cortex-m4f"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("bytes under"), "{}", text(&out));
}

#[test]
fn size_rejects_a_file_that_is_not_elf() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "g.wtl", "cortex-m4f");
    let out = whittle(&["size", s(&wtl)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(s(&wtl)), "{}", text(&out));
    assert!(text(&out).contains("not an ELF file"), "{}", text(&out));
}

/// `arm-none-eabi-ld`, or the `rust-lld` rustup ships, when there is one.
fn arm_linker() -> Option<Vec<String>> {
    let works = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("arm-none-eabi-ld", &["--version"]) {
        return Some(vec!["arm-none-eabi-ld".into()]);
    }
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let host = Command::new("rustc").arg("-vV").output().ok()?;
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))?;
    let lld = Path::new(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin/rust-lld");
    let lld = lld.to_str()?.to_string();
    works(&lld, &["-flavor", "gnu", "--version"]).then(|| vec![lld, "-flavor".into(), "gnu".into()])
}

#[test]
fn arm_object_links_into_an_executable() {
    let Some(linker) = arm_linker() else {
        println!("note: neither arm-none-eabi-ld nor rust-lld found; link check skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wtl = compile_gesture(dir.path(), "g.wtl", "cortex-m4f");
    let artifact = std::fs::read(&wtl).unwrap();
    let obj = dir.path().join("g.o");
    let out = emit(&wtl, "elf-object", &obj, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let script = dir.path().join("link.x");
    std::fs::write(
        &script,
        "ENTRY(g)\nSECTIONS {\n  . = 0x08000004;\n  .rodata : {\n    KEEP(*(.rodata.g_len))\n    KEEP(*(.rodata.whittle))\n  }\n}\n",
    )
    .unwrap();
    let elf = dir.path().join("g.elf");
    let out = Command::new(&linker[0])
        .args(&linker[1..])
        .args([
            "-T",
            s(&script),
            "-u",
            "g",
            "-u",
            "g_len",
            s(&obj),
            "-o",
            s(&elf),
        ])
        .output()
        .expect("run the linker");
    assert!(out.status.success(), "{linker:?}: {}", text(&out));

    let data = std::fs::read(&elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    assert_eq!(file.kind(), object::ObjectKind::Executable);
    let g = file
        .symbols()
        .find(|s| s.name() == Ok("g"))
        .expect("g resolves");
    assert_eq!(g.address() % 16, 0, "aligned to 16 after linking");
    assert_eq!(g.size() as usize, artifact.len());
    assert_eq!(symbol_bytes(&file, "g"), artifact);
    let len = symbol_bytes(&file, "g_len");
    assert_eq!(len, (artifact.len() as u32).to_le_bytes());

    let out = whittle(&["size", s(&elf), "--model-symbol", "g", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model_bytes"].as_u64(), Some(artifact.len() as u64));
}
