//! Host latency of an artifact through `whittle-runtime`: whole inferences (median, p90) and
//! every operator's share, with the kernel each operator runs.
//! [`tract`] times the float ONNX model the same way, as the baseline.

pub mod tract;

use crate::metrics::percentile;
use crate::run::RunError;
use serde::Serialize;
use std::time::Instant;
use whittle_runtime::format::WeightLayout;
use whittle_runtime::{AlignedBytes, Interpreter, Model};

/// One operator's timing.
#[derive(Debug, Clone, Serialize)]
pub struct OpTiming {
    /// Execution index.
    pub index: usize,
    /// Operator name.
    pub op: String,
    /// Its output tensor.
    pub output: String,
    /// The kernel that runs it on this host.
    pub kernel: String,
    /// Median time over the runs, in microseconds.
    pub median_us: f64,
    /// Share of the summed operator medians.
    pub share: f64,
}

/// What `bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Timed inferences (after the warm-up ones).
    pub runs: usize,
    /// Median latency per inference, in microseconds.
    pub median_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// Fastest inference.
    pub min_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// Per operator, in execution order.
    pub ops: Vec<OpTiming>,
}

/// The kernel an operator runs in this build: the int8 convolutions and fully connected
/// layers run the runtime's selected variant (over widened weights, `Widened4`, its widened
/// dot products); the float32 ones over packed weights
/// (`Blocked8`) the AVX2 packed kernel where the variant is AVX2 on this CPU and the grouping
/// has an AVX2 loop, the portable packed kernel otherwise; int8 Add/Sub the tables where
/// [`uses_tables`](whittle_runtime::kernels::binary::uses_tables) says so; every other
/// operator its scalar reference.
fn kernel(kind: &whittle_runtime::format::OpKind, layout: WeightLayout) -> &'static str {
    use whittle_runtime::format::OpKind;
    use whittle_runtime::kernels::Variant;
    let variant = Variant::selected();
    // The AVX-VNNI variant runs the AVX2 float kernels.
    let avx2 = matches!(variant.name(), "avx2" | "avx-vnni") && variant.is_native();
    let packed = |w| layout.packs(w);
    let packed_kernel = |simd: bool| if simd { "avx2-blocked8" } else { "blocked8" };
    match kind {
        // Widened weights run the DSP dot products where the variant has them, the portable
        // ones otherwise.
        OpKind::Conv2dI8(op) if layout.widens(&op.geom, op.weights) => {
            if variant.name() == "arm-dsp" {
                "arm-dsp-widened4"
            } else {
                "widened4"
            }
        }
        OpKind::Conv2dI8(_) | OpKind::DenseI8(_) => variant.name(),
        OpKind::Conv2d(op) if packed(op.weights) => {
            let g = &op.geom;
            let depthwise = g.groups == g.in_c && g.groups == g.out_c;
            packed_kernel(avx2 && (g.groups == 1 || depthwise))
        }
        OpKind::Dense(op) if packed(op.weights) => packed_kernel(avx2),
        OpKind::BinaryI8(op)
            if whittle_runtime::kernels::binary::uses_tables(
                variant,
                op.kind,
                [&op.a_shape, &op.b_shape, &op.out_shape],
            ) =>
        {
            "tables"
        }
        // The sparse kernels are scalar only.
        _ => "reference",
    }
}

/// Times `runs` inferences of `artifact` (after `warmup` untimed ones) on `inputs` (raw
/// bytes per model input, one sample; zeros when `None`).
pub fn bench(
    artifact: &[u8],
    inputs: Option<&[Vec<u8>]>,
    runs: usize,
    warmup: usize,
) -> Result<BenchReport, RunError> {
    if runs == 0 {
        return Err(RunError::Data("--runs must be at least 1".into()));
    }
    let bytes = AlignedBytes::new(artifact);
    let model = Model::load(&bytes)?;
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut interp = Interpreter::new(&model, &mut arena)?;
    let ops: Vec<_> = model.ops().collect();
    let names: Vec<String> = ops
        .iter()
        .map(|op| {
            model
                .header()
                .tensors
                .get(op.tensor)
                .map_or_else(String::new, |t| t.name.to_string())
        })
        .collect();
    let write_inputs = |interp: &mut Interpreter<'_, '_>| -> Result<(), RunError> {
        for index in 0..model.input_count() {
            let slot = interp.input_bytes_mut(index)?;
            match inputs.and_then(|i| i.get(index)) {
                Some(data) if data.len() == slot.len() => slot.copy_from_slice(data),
                Some(data) => {
                    return Err(RunError::Data(format!(
                        "input {index} takes {} bytes per sample, {} given",
                        slot.len(),
                        data.len()
                    )));
                }
                None => slot.fill(0),
            }
        }
        Ok(())
    };
    for _ in 0..warmup {
        write_inputs(&mut interp)?;
        interp.invoke()?;
    }
    let mut totals = Vec::with_capacity(runs);
    let mut per_op: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); ops.len()];
    for _ in 0..runs {
        write_inputs(&mut interp)?;
        let start = Instant::now();
        let mut last = start;
        interp.invoke_observed(|index, _, _| {
            let now = Instant::now();
            if let Some(times) = per_op.get_mut(index) {
                times.push((now - last).as_secs_f64() * 1e6);
            }
            last = now;
        })?;
        totals.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let ops = ops
        .iter()
        .zip(names)
        .zip(&per_op)
        .enumerate()
        .map(|(index, ((op, output), times))| OpTiming {
            index,
            op: op.kind.name().to_string(),
            output,
            kernel: kernel(&op.kind, model.layout()).to_string(),
            median_us: percentile(times, 50.0),
            share: 0.0,
        })
        .collect();
    Ok(summarize(&totals, ops))
}

/// The report for per-inference `totals` (microseconds) and per-operator medians, with each
/// operator's share of their sum filled in.
fn summarize(totals: &[f64], mut ops: Vec<OpTiming>) -> BenchReport {
    let sum: f64 = ops
        .iter()
        .map(|op| op.median_us)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    for op in &mut ops {
        op.share = op.median_us / sum;
    }
    BenchReport {
        runs: totals.len(),
        median_us: percentile(totals, 50.0),
        p90_us: percentile(totals, 90.0),
        min_us: totals.iter().copied().fold(f64::INFINITY, f64::min),
        mean_us: totals.iter().sum::<f64>() / totals.len().max(1) as f64,
        ops,
    }
}
