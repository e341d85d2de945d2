//! ONNX operator conformance: every node test of the onnx 1.17.0 wheel whose operators whittle
//! supports is compiled and run through the runtime, and its outputs compared with the
//! expected ones. Cases whittle knowingly does not handle are listed, each with its reason, in
//! `conformance/excluded.toml`; a listed case that passes fails the run (keep the list honest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use whittle::import::RUNTIME_OPS;
use whittle::run::Runner;
use whittle::{CompileOptions, ElemType, Tensor};
use whittle_tests::{compare, read_pb, workspace_root};

const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-4;

fn node_tests_dir() -> PathBuf {
    let dir = workspace_root().join(".cache/onnx-1.17.0/node");
    if !dir.join(".complete").exists() {
        let script = workspace_root().join("tests/conformance/fetch-onnx-tests.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .status()
            .expect("running the fetch script");
        assert!(
            status.success(),
            "{} failed: the ONNX test data could not be downloaded",
            script.display()
        );
    }
    dir
}

fn excluded() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(workspace_root().join("tests/conformance/excluded.toml"))
        .expect("excluded.toml");
    let table: toml_lite::Table = toml_lite::parse(&text);
    table.into_iter().collect()
}

/// The minimal TOML this manifest uses: `name = "reason"` lines and comments.
mod toml_lite {
    pub type Table = Vec<(String, String)>;
    pub fn parse(text: &str) -> Table {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
            .map(|l| {
                let (k, v) = l
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad manifest line: {l}"));
                (k.trim().to_string(), v.trim().trim_matches('"').to_string())
            })
            .collect()
    }
}

enum Outcome {
    Pass,
    Fail(String),
}

fn op_types(model: &whittle::onnx::pb::ModelProto) -> Vec<String> {
    model
        .graph
        .as_ref()
        .map(|g| g.node.iter().map(|n| n.op_type.clone()).collect())
        .unwrap_or_default()
}

fn in_scope(ops: &[String]) -> bool {
    !ops.is_empty()
        && ops
            .iter()
            .all(|op| RUNTIME_OPS.contains(&op.as_str()) || op == "Constant")
}

fn run_case(dir: &Path, model: &whittle::onnx::pb::ModelProto) -> Outcome {
    let graph = model.graph.as_ref().expect("graph");
    let inits: Vec<&str> = graph.initializer.iter().map(|i| i.name.as_str()).collect();
    let input_names: Vec<String> = graph
        .input
        .iter()
        .map(|i| i.name.clone())
        .filter(|n| !inits.contains(&n.as_str()))
        .collect();
    let mut sets: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("test dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    for set in sets {
        let read_all = |prefix: &str| -> Result<Vec<Tensor>, String> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&set)
                .expect("data set")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                })
                .collect();
            files.sort_by_key(|p| {
                p.file_name().map(|n| {
                    n.to_string_lossy()
                        .trim_start_matches(prefix)
                        .trim_end_matches(".pb")
                        .parse::<usize>()
                        .unwrap_or(0)
                })
            });
            files
                .iter()
                .map(|f| read_pb(f).map(|(_, t)| t))
                .collect::<Result<Vec<_>, _>>()
        };
        let (inputs, expected) = match (read_all("input_"), read_all("output_")) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => return Outcome::Fail(format!("test data: {e}")),
        };
        // Parameters a deployed model holds as constants (shapes, axes, pads, clip bounds) are
        // graph inputs in some tests: when the compiler asks for constants, freeze all but the
        // data input.
        let mut freeze = vec![false; inputs.len()];
        let outcome = loop {
            let mut opts = CompileOptions::default();
            let mut runtime_inputs = Vec::new();
            for (i, t) in inputs.iter().enumerate() {
                let name = input_names.get(i).cloned().unwrap_or_default();
                if freeze[i] {
                    opts.import.frozen_inputs.push((name, t.clone()));
                } else {
                    opts.import.input_shapes.push((Some(name), t.shape.clone()));
                    runtime_inputs.push(t.clone());
                }
            }
            let compiled = match whittle::compile(model, Some(dir), &opts) {
                Ok(c) => c,
                Err(e) => {
                    let text = e.to_string();
                    // Parameters passed as float inputs (Clip bounds, Pad value): freeze them too.
                    let wants_constants =
                        text.contains("must be a constant") || text.contains("must be constants");
                    if wants_constants && freeze.iter().skip(1).any(|f| !f) {
                        freeze.iter_mut().skip(1).for_each(|f| *f = true);
                        continue;
                    }
                    break Outcome::Fail(format!("compile: {}", text.replace('\n', " ")));
                }
            };
            let outputs =
                match Runner::new(&compiled.artifact).and_then(|mut r| r.run(&runtime_inputs)) {
                    Ok(o) => o,
                    Err(e) => break Outcome::Fail(format!("run: {e}")),
                };
            if outputs.len() != expected.len() {
                break Outcome::Fail(format!(
                    "{} outputs, expected {}",
                    outputs.len(),
                    expected.len()
                ));
            }
            let mismatch = outputs
                .iter()
                .zip(&expected)
                .enumerate()
                .find_map(|(i, (a, e))| {
                    if e.dtype != ElemType::F32 {
                        return Some(format!(
                            "output {i} is {}, whittle produces float32",
                            e.dtype
                        ));
                    }
                    compare(a, e, ATOL, RTOL)
                        .err()
                        .map(|m| format!("output {i}: {m}"))
                });
            break match mismatch {
                Some(m) => Outcome::Fail(m),
                None => Outcome::Pass,
            };
        };
        if let Outcome::Fail(_) = outcome {
            return outcome;
        }
    }
    Outcome::Pass
}

#[test]
fn onnx_node_tests() {
    let root = node_tests_dir();
    let manifest = excluded();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("node tests")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut passed, mut out_of_scope) = (0, 0);
    let mut failed = Vec::new();
    let mut stale = Vec::new();
    let mut excluded_count = 0;
    let mut seen = std::collections::BTreeSet::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let model = match whittle::compile::load_onnx(&dir.join("model.onnx")) {
            Ok(m) => m,
            Err(e) => panic!("{name}: {e}"),
        };
        if !in_scope(&op_types(&model)) {
            out_of_scope += 1;
            continue;
        }
        seen.insert(name.clone());
        let outcome = std::panic::catch_unwind(|| run_case(dir, &model))
            .unwrap_or_else(|_| Outcome::Fail("panicked".into()));
        match (outcome, manifest.get(&name)) {
            (Outcome::Pass, None) => passed += 1,
            (Outcome::Pass, Some(_)) => stale.push(name),
            (Outcome::Fail(_), Some(_)) => excluded_count += 1,
            (Outcome::Fail(why), None) => failed.push(format!("{name}: {why}")),
        }
    }
    let unknown: Vec<&String> = manifest.keys().filter(|k| !seen.contains(*k)).collect();
    println!(
        "ONNX node tests (onnx 1.17.0): {} in scope: {passed} passed, {} failed, {excluded_count} excluded; {out_of_scope} out of scope (operators whittle does not run)",
        seen.len(),
        failed.len()
    );
    for f in &failed {
        println!("FAIL {f}");
    }
    assert!(
        unknown.is_empty(),
        "excluded.toml lists cases that are not in scope: {unknown:?}"
    );
    assert!(
        stale.is_empty(),
        "excluded cases now pass; remove them from excluded.toml: {stale:?}"
    );
    assert!(
        failed.is_empty(),
        "{} conformance case(s) failed (see above)",
        failed.len()
    );
}
