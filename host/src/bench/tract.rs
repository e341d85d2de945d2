//! Host latency of the float ONNX model through tract's optimized plan: the baseline `whittle
//! bench --tract` puts next to the artifact's numbers.
//!
//! Batch is fixed to 1 (every dimension the model leaves symbolic becomes 1) and tract runs on
//! the calling thread, so the numbers compare with the runtime's one-thread, batch-1 inferences.

use super::{BenchReport, OpTiming, summarize};
use crate::tensor::Tensor;
use std::path::Path;
use std::time::Instant;
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, TValue, TVec, TractError,
};
use tract_onnx::tract_core::plan::eval;
use tract_onnx::tract_hir::infer::Factoid;

/// Why the tract baseline could not be timed.
#[derive(Debug, thiserror::Error)]
pub enum TractBenchError {
    /// tract refused the model at one stage (load, shapes, optimization, run).
    #[error("{model}: tract cannot {stage} it: {message}")]
    Tract {
        /// The ONNX file.
        model: String,
        /// What tract was doing.
        stage: &'static str,
        /// tract's own message.
        message: String,
    },
    /// The model does not declare an input's rank, so no batch-1 shape can be derived.
    #[error("{model}: input {index} ('{name}') has no declared shape; give its data with --input")]
    UnknownShape {
        /// The ONNX file.
        model: String,
        /// Input position.
        index: usize,
        /// Input name.
        name: String,
    },
    /// The number of input tensors differs from the model's.
    #[error("{model}: the model has {expected} input(s), {given} given")]
    InputCount {
        /// The ONNX file.
        model: String,
        /// The model's inputs.
        expected: usize,
        /// Tensors given.
        given: usize,
    },
    /// An input tensor holds less than one batch-1 sample.
    #[error(
        "{model}: input {index} ('{name}') takes {expected} elements per sample (shape {shape:?}), \
         the data has {given} (shape {given_shape:?})"
    )]
    InputSize {
        /// The ONNX file.
        model: String,
        /// Input position.
        index: usize,
        /// Input name.
        name: String,
        /// Elements of one sample.
        expected: usize,
        /// The batch-1 shape.
        shape: Vec<usize>,
        /// Elements given.
        given: usize,
        /// Shape given.
        given_shape: Vec<usize>,
    },
    /// Zero timed runs were asked for.
    #[error("--runs must be at least 1")]
    NoRuns,
}

/// Times `runs` batch-1 inferences (after `warmup` untimed ones) of the ONNX model at `path`
/// through tract's optimized plan, on `inputs` (one tensor per model input, first sample used;
/// zeros when `None`). Operators are tract's plan nodes, their kernel is `tract`.
pub fn bench_tract(
    path: &Path,
    inputs: Option<&[Tensor]>,
    runs: usize,
    warmup: usize,
) -> Result<BenchReport, TractBenchError> {
    if runs == 0 {
        return Err(TractBenchError::NoRuns);
    }
    let model_name = path.display().to_string();
    let fail = |stage: &'static str| {
        let model = model_name.clone();
        move |e: TractError| TractBenchError::Tract {
            model: model.clone(),
            stage,
            message: format!("{e:#}"),
        }
    };
    let mut model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(fail("load"))?;
    let count = model.input_outlets().map_err(fail("load"))?.len();
    if let Some(given) = inputs.map(<[Tensor]>::len).filter(|&n| n != count) {
        return Err(TractBenchError::InputCount {
            model: model_name,
            expected: count,
            given,
        });
    }
    let mut values: TVec<TValue> = TVec::new();
    for index in 0..count {
        let node = model.input_outlets().map_err(fail("load"))?[index].node;
        let name = model.node(node).name.clone();
        let fact = model.input_fact(index).map_err(fail("load"))?;
        let dt = fact.datum_type.concretize().unwrap_or(DatumType::F32);
        let given = inputs.and_then(|i| i.get(index));
        let shape = batch1_shape(fact, given).ok_or_else(|| TractBenchError::UnknownShape {
            model: model_name.clone(),
            index,
            name: name.clone(),
        })?;
        let elements: usize = shape.iter().product();
        let data = match given {
            Some(t) if t.len() >= elements => t.to_f32()[..elements].to_vec(),
            Some(t) => {
                return Err(TractBenchError::InputSize {
                    model: model_name,
                    index,
                    name,
                    expected: elements,
                    shape,
                    given: t.len(),
                    given_shape: t.shape.clone(),
                });
            }
            None => vec![0.0; elements],
        };
        let tensor = tract_onnx::prelude::Tensor::from_shape(&shape, &data)
            .and_then(|t| Ok(t.cast_to_dt(dt)?.into_owned()))
            .map_err(fail("convert the input for"))?;
        model = model
            .with_input_fact(index, InferenceFact::dt_shape(dt, shape))
            .map_err(fail("fix the batch-1 input shape of"))?;
        values.push(tensor.into());
    }
    let plan = model
        .into_optimized()
        .map_err(fail("optimize"))?
        .into_runnable()
        .map_err(fail("plan"))?;
    let mut state = plan.spawn().map_err(fail("plan"))?;
    for _ in 0..warmup {
        state.run(values.clone()).map_err(fail("run"))?;
    }
    let nodes = plan.model().nodes();
    let mut per_node: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); nodes.len()];
    let mut totals = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        state
            .run_plan_with_eval(values.clone(), |ctx, op_state, node, input| {
                let t = Instant::now();
                let out = eval(ctx, op_state, node, input);
                if let Some(times) = per_node.get_mut(node.id) {
                    times.push(t.elapsed().as_secs_f64() * 1e6);
                }
                out
            })
            .map_err(fail("run"))?;
        totals.push(start.elapsed().as_secs_f64() * 1e6);
    }
    // Sources and constants cost nothing per inference; listing them only adds noise.
    let ops = plan
        .order_without_consts()
        .iter()
        .map(|&id| &nodes[id])
        .filter(|n| !per_node[n.id].is_empty())
        .filter(|n| !matches!(n.op().name().as_ref(), "Source" | "Const"))
        .enumerate()
        .map(|(index, n)| OpTiming {
            index,
            op: n.op().name().to_string(),
            output: n.name.clone(),
            kernel: "tract".to_string(),
            median_us: crate::metrics::percentile(&per_node[n.id], 50.0),
            share: 0.0,
        })
        .collect();
    Ok(summarize(&totals, ops))
}

/// The model's declared shape for one input with every unknown or symbolic dimension (the
/// batch) set to 1; the given tensor's shape when the model declares none.
fn batch1_shape(fact: &InferenceFact, given: Option<&Tensor>) -> Option<Vec<usize>> {
    if fact.shape.is_open() {
        return given.map(|t| t.shape.clone());
    }
    Some(
        fact.shape
            .dims()
            .map(|d| {
                d.concretize()
                    .and_then(|d| usize::try_from(d.as_i64()?).ok())
                    .unwrap_or(1)
            })
            .collect(),
    )
}
