//! Malformed input on the command line: every case runs the real binary in a fresh directory
//! and must end in a clean refusal: a non-zero exit status that is not a panic's, a message
//! naming the file, node, array or value at fault, and nothing written.

#[path = "../common/mod.rs"]
mod common;
mod data;
mod model;
mod output;
mod sparse;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use whittle::Tensor;
use whittle::onnx::build::GraphBuilder;
use whittle::onnx::pb;

/// Address space a refused command may use: far below what any of the hostile sizes would
/// take, so a case that allocates what a file claims dies instead of passing slowly.
const ADDRESS_SPACE_KIB: u64 = 4 << 20;

/// A fresh directory for one case, with its input files.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// `name` inside the sandbox (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to `name`.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Writes a model built with [`GraphBuilder`].
    pub fn model(&self, name: &str, g: GraphBuilder) -> PathBuf {
        self.file(name, &g.to_bytes())
    }

    /// Writes a model proto (for edits the builder does not offer).
    pub fn proto(&self, name: &str, m: &pb::ModelProto) -> PathBuf {
        use prost::Message;
        self.file(name, &m.encode_to_vec())
    }

    /// Writes named arrays as `.npz`.
    pub fn npz(&self, name: &str, arrays: &[(&str, Tensor)]) -> PathBuf {
        let path = self.path(name);
        let arrays: Vec<(String, Tensor)> = arrays
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        whittle::data::write_npz(&path, &arrays).unwrap();
        path
    }

    /// Every path under the sandbox, for checking that a refused command wrote nothing.
    fn listing(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, into: &mut BTreeSet<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, into);
                }
                into.insert(path);
            }
        }
        let mut all = BTreeSet::new();
        walk(self.dir.path(), &mut all);
        all
    }

    /// Runs `whittle args` in the sandbox with bounded memory and asserts a clean refusal:
    /// exit status neither 0 nor a panic's 101 (nor a signal), no panic message, every one
    /// of `words` in stderr, and no file added to the sandbox. Returns stderr.
    pub fn refuse(&self, args: &[&str], words: &[&str]) -> String {
        let before = self.listing();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_whittle"))
            .args(args)
            .current_dir(self.dir.path())
            .env("MALLOC_ARENA_MAX", "2")
            .output()
            .expect("run whittle");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let shown = format!("whittle {}\n{}", args.join(" "), common::text(&out));
        match out.status.code() {
            None => panic!("killed by a signal (out of memory?): {shown}"),
            Some(0) => panic!("exit status 0 for malformed input: {shown}"),
            Some(101) => panic!("exit status 101 (a panic): {shown}"),
            Some(_) => {}
        }
        assert!(!stderr.contains("panicked"), "{shown}");
        for word in words {
            assert!(stderr.contains(word), "stderr lacks '{word}': {shown}");
        }
        let added: Vec<_> = self.listing().difference(&before).cloned().collect();
        assert!(added.is_empty(), "left behind {added:?}: {shown}");
        stderr
    }
}

/// A path argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temporary path")
}

/// The bundled example's directory.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture")
}

/// Float samples of `shape`, deterministic.
pub fn samples(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::f32(
        shape.to_vec(),
        (0..n)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
            .collect(),
    )
}

/// Integer labels.
pub fn labels(values: &[i64]) -> Tensor {
    Tensor::int(
        whittle::tensor::ElemType::I64,
        vec![values.len()],
        values.to_vec(),
    )
}

/// The example model compiled in float into the sandbox, for the commands that take an artifact.
pub fn gesture_artifact(sb: &Sandbox) -> PathBuf {
    let wtl = sb.path("gesture.wtl");
    let out = common::whittle(&["compile", s(&example().join("gesture.onnx")), "-o", s(&wtl)]);
    assert!(out.status.success(), "{}", common::text(&out));
    wtl
}
