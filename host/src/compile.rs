//! The compiler driver: ONNX file -> import -> passes -> lowering -> memory plan -> artifact.

use crate::error::{CompileError, Unsupported};
use crate::import::{ImportOptions, Imported, import};
use crate::ir::{Graph, NodeFate};
use crate::lower::{Program, lower};
use crate::onnx::{pb, read};
use crate::plan::{MemoryPlan, plan, reuse_in_place};
use crate::targets::Target;
use std::path::Path;
use whittle_runtime::format::WeightLayout;

/// Everything `compile` needs besides the model.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Input shapes and frozen inputs.
    pub import: ImportOptions,
    /// Target profile.
    pub target: Target,
    /// Post-training int8 quantization, when asked for.
    pub quantize: Option<crate::quantize::QuantizeOptions>,
    /// Fail when any operator of a quantized model would run in float.
    pub require_integer: bool,
    /// Whether int8 weights may be stored sparse (where that is smaller).
    pub sparse: crate::lower::sparse::SparseMode,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            import: ImportOptions::default(),
            target: Target::resolve("generic").expect("built-in target"),
            quantize: None,
            require_integer: false,
            sparse: crate::lower::sparse::SparseMode::default(),
        }
    }
}

/// A compiled model: the artifact and how it was made.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The `.wtl` bytes.
    pub artifact: Vec<u8>,
    /// The optimized graph.
    pub graph: Graph,
    /// The lowered program (buffer indices, before relocation).
    pub program: Program,
    /// The memory plan.
    pub plan: MemoryPlan,
    /// Nodes of a quantized model that still run in float32, and why.
    pub float_nodes: Vec<Unsupported>,
    /// The calibration statistics of a quantized compilation.
    pub calibration: Option<std::sync::Arc<crate::quantize::Calibration>>,
}

/// Names of the graph inputs a model takes at run time (initializers excluded).
pub fn input_names(model: &pb::ModelProto) -> Vec<String> {
    let Some(g) = model.graph.as_ref() else {
        return Vec::new();
    };
    let inits: std::collections::HashSet<&str> =
        g.initializer.iter().map(|i| i.name.as_str()).collect();
    g.input
        .iter()
        .map(|i| i.name.clone())
        .filter(|n| !inits.contains(n.as_str()))
        .collect()
}

/// Parses input shapes as `--input-shape` takes them: `1,49,10,1` (first input) or `name=1,49,10,1`.
pub fn parse_input_shape(s: &str) -> Result<(Option<String>, Vec<usize>), String> {
    let (name, dims) = match s.rsplit_once('=') {
        Some((n, d)) => (Some(n.to_string()), d),
        None => (None, s),
    };
    let dims = dims
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{d}' in --input-shape '{s}' is not a dimension"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name, dims))
}

/// Reads an ONNX file.
pub fn load_onnx(path: &Path) -> Result<pb::ModelProto, CompileError> {
    let bytes = std::fs::read(path).map_err(|e| CompileError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    read::model_from_bytes(&bytes).map_err(|reason| CompileError::Read {
        path: path.display().to_string(),
        reason,
    })
}

fn imported(
    model: &pb::ModelProto,
    dir: Option<&Path>,
    opts: &CompileOptions,
) -> Result<Imported, CompileError> {
    let mut imported = import(model, dir, &opts.import)?;
    crate::passes::optimize(&mut imported.graph);
    Ok(imported)
}

/// Lowers, plans and writes an imported graph, checking the target's budgets.
fn build(
    graph: &Graph,
    target: &Target,
    sparse: crate::lower::sparse::SparseMode,
) -> Result<(Program, MemoryPlan, Vec<u8>), CompileError> {
    let mut program = lower(graph)?;
    program.layout = target.layout();
    if sparse == crate::lower::sparse::SparseMode::Auto {
        crate::lower::sparse::sparsify(&mut program);
    }
    reuse_in_place(&mut program);
    let plan = plan(&program);
    let over = |what: &str, need: u64, have: u64| CompileError::Budget {
        target: target.name.clone(),
        reason: format!(
            "the {what} bytes, {} more than the {have} available",
            need - have
        ),
    };
    if let Some(ram) = target.ram_bytes
        && plan.arena_bytes as u64 > ram
    {
        let need = plan.arena_bytes as u64;
        return Err(over(&format!("arena needs {need} RAM"), need, ram));
    }
    if !crate::pack::packs_any(&program, program.layout) {
        // Nothing to pack: the reference layout says so, and runtimes built without the
        // target's packed kernels still load the artifact.
        program.layout = WeightLayout::Reference;
    }
    let write = |program: &Program| {
        crate::artifact::write(program, &plan, &target.name).map_err(CompileError::Options)
    };
    let mut artifact = write(&program)?;
    let fits = |artifact: &[u8]| {
        target
            .flash_bytes
            .is_none_or(|f| artifact.len() as u64 <= f)
    };
    if !fits(&artifact) && program.layout != WeightLayout::Reference {
        // A packed layout trades flash for speed; when the flash is short, the reference
        // layout (smaller, slower kernels) may still fit, and if it does not, its size is
        // the one to report.
        program.layout = WeightLayout::Reference;
        artifact = write(&program)?;
    }
    if let Some(flash) = target.flash_bytes
        && artifact.len() as u64 > flash
    {
        let need = artifact.len() as u64;
        return Err(over(&format!("artifact takes {need} flash"), need, flash));
    }
    Ok((program, plan, artifact))
}

/// Whether the graph computes on int8 anywhere.
fn is_quantized(g: &Graph) -> bool {
    g.values
        .iter()
        .any(|v| v.dtype == crate::tensor::ElemType::I8 && v.konst.is_none())
}

/// Compiles a decoded model; `dir` resolves external tensor data.
pub fn compile(
    model: &pb::ModelProto,
    dir: Option<&Path>,
    opts: &CompileOptions,
) -> Result<Compiled, CompileError> {
    let Imported {
        graph,
        unsupported,
        blocked,
    } = imported(model, dir, opts)?;
    if !unsupported.is_empty() {
        return Err(CompileError::Unsupported(unsupported));
    }
    if let Some((node, op)) = blocked.first() {
        return Err(CompileError::Node {
            node: node.clone(),
            op: op.clone(),
            shapes: "unknown".into(),
            reason: "inputs could not be analysed".into(),
        });
    }
    let mut graph = graph;
    let mut calibrated = None;
    if let Some(q) = &opts.quantize {
        let calibration = match &q.calibrated {
            Some(c) => c.clone(),
            None => std::sync::Arc::new(crate::quantize::calibrate(
                &graph,
                &q.calibration,
                q.method,
                q.samples,
            )?),
        };
        let float = graph.clone();
        crate::quantize::quantize_graph(&mut graph, &calibration, q)?;
        if q.bias_correction {
            crate::quantize::correct_biases(
                &float,
                &mut graph,
                &q.calibration,
                calibration.samples,
            )?;
        }
        calibrated = Some(calibration);
    }
    let float_nodes = if is_quantized(&graph) {
        crate::quantize::float_nodes(&graph)
    } else {
        Vec::new()
    };
    if opts.require_integer && !float_nodes.is_empty() {
        return Err(CompileError::Unsupported(float_nodes));
    }
    let (program, plan, artifact) = build(&graph, &opts.target, opts.sparse)?;
    Ok(Compiled {
        artifact,
        graph,
        program,
        plan,
        float_nodes,
        calibration: calibrated,
    })
}

/// Compiles an ONNX file.
pub fn compile_path(path: &Path, opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let model = load_onnx(path)?;
    compile(&model, path.parent(), opts)
}

/// What `check` found for one source node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeCheck {
    /// Node name.
    pub node: String,
    /// ONNX operator type.
    pub op_type: String,
    /// `runs`, `folded`, `fused`, `removed`, `unsupported` or `not analysed`.
    pub status: String,
    /// Details: the reason, or what it was fused into.
    pub detail: String,
}

/// The result of `check`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// ONNX opset.
    pub opset: i64,
    /// Every source node in execution order.
    pub nodes: Vec<NodeCheck>,
    /// Whether the model compiles.
    pub compiles: bool,
}

/// Analyses a model the way `compile` would, reporting every node's fate.
pub fn check(
    model: &pb::ModelProto,
    dir: Option<&Path>,
    opts: &CompileOptions,
) -> Result<CheckReport, CompileError> {
    let Imported {
        graph,
        mut unsupported,
        blocked,
    } = imported(model, dir, opts)?;
    // Operators each source node became, from a full build when the graph is complete.
    let mut ops_of: std::collections::HashMap<String, Vec<&'static str>> = Default::default();
    if unsupported.is_empty() && blocked.is_empty() {
        match build(&graph, &opts.target, opts.sparse) {
            Ok((program, _, _)) => {
                for op in &program.ops {
                    ops_of
                        .entry(op.node.clone())
                        .or_default()
                        .push(op.kind.name());
                }
            }
            Err(e) => unsupported.push(Unsupported {
                node: "<model>".into(),
                op_type: "-".into(),
                reason: e.to_string(),
            }),
        }
    }
    let float_nodes = if is_quantized(&graph) {
        crate::quantize::float_nodes(&graph)
    } else {
        Vec::new()
    };
    let float_in_quantized: std::collections::HashSet<&str> =
        float_nodes.iter().map(|u| u.node.as_str()).collect();
    let mut nodes = Vec::new();
    let runs: std::collections::HashSet<&str> =
        graph.nodes.iter().map(|n| n.name.as_str()).collect();
    let graph_proto = model.graph.as_ref();
    let mut names = std::collections::HashMap::<String, usize>::new();
    for (index, node) in graph_proto
        .map(|g| g.node.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let base = if node.name.is_empty() {
            format!("{}_{index}", node.op_type)
        } else {
            node.name.clone()
        };
        let count = names.entry(base.clone()).or_insert(0);
        let name = if *count == 0 {
            base
        } else {
            format!("{base}#{count}")
        };
        *count += 1;
        let (status, detail) = if let Some(u) = unsupported.iter().find(|u| u.node == name) {
            ("unsupported", u.reason.clone())
        } else if blocked.iter().any(|(n, _)| n == &name) {
            (
                "not analysed",
                "an input comes from an unsupported node".to_string(),
            )
        } else if let Some((_, _, fate)) = graph.fates.iter().find(|(n, _, _)| n == &name) {
            match fate {
                NodeFate::Folded => ("folded", "computed at compile time".to_string()),
                NodeFate::FusedInto(into) => (
                    "fused",
                    format!("into '{}'", crate::lower::short_name(into)),
                ),
                NodeFate::Removed(why) => ("removed", why.to_string()),
                NodeFate::Runs => ("runs", String::new()),
            }
        } else if node.op_type == "Constant" {
            ("folded", "constant".to_string())
        } else if runs.contains(name.as_str()) {
            let mut detail = match ops_of.get(&name) {
                Some(ops) => format!("as {}", ops.join(" + ")),
                None if ops_of.is_empty() => String::new(),
                None => "as a view of its input (no data movement)".to_string(),
            };
            if float_in_quantized.contains(name.as_str()) {
                detail.push_str(" (in float32: no int8 kernel)");
            }
            ("runs", detail)
        } else {
            ("runs", "as part of a rewritten node".to_string())
        };
        nodes.push(NodeCheck {
            node: name,
            op_type: node.op_type.clone(),
            status: status.into(),
            detail,
        });
    }
    for u in unsupported.iter().filter(|u| u.node == "<model>") {
        nodes.push(NodeCheck {
            node: u.node.clone(),
            op_type: u.op_type.clone(),
            status: "unsupported".into(),
            detail: u.reason.clone(),
        });
    }
    let compiles = nodes
        .iter()
        .all(|n| n.status != "unsupported" && n.status != "not analysed");
    Ok(CheckReport {
        opset: graph.opset,
        nodes,
        compiles,
    })
}
