//! The compression pipeline as a release gate: the float baseline, then each configured stage
//! (today: int8 quantization), every one measured on the user's labelled data against the
//! baseline and checked against the gates; when quantization misses a gate, the most sensitive
//! layers are kept in float32 until the gates pass or the budget of float layers runs out.

pub mod compress;
pub mod config;
pub mod evaluate;
pub mod fallback;
pub mod gates;
pub mod html;
pub mod report;

use crate::compile::{CompileOptions, Compiled, compile, load_onnx};
use crate::quantize::{Calibration, Method, QuantizeOptions};
use crate::tensor::Tensor;
use config::{PipelineConfig, Task};
use evaluate::{Context, Dataset, Outputs};
use fallback::LayerSensitivity;
use report::{Audit, FallbackReport, FileHash, Report, StageReport};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a pipeline could not run (as opposed to a gate failing).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file, a data file or the model is wrong.
    #[error("{0}")]
    Input(String),
    /// Compiling a stage failed.
    #[error(transparent)]
    Compile(#[from] crate::CompileError),
}

fn input(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Input(e.to_string())
}

/// The outcome of a run: the report, and the artifact of the final stage.
pub struct Outcome {
    /// Everything measured and decided.
    pub report: Report,
    /// The final stage's artifact (written by the caller only when it passed, or on request).
    pub artifact: Vec<u8>,
    /// Where the configuration says the artifact goes.
    pub artifact_path: PathBuf,
    /// Where the configuration says the reports go.
    pub report_dir: Option<PathBuf>,
}

fn sha256_file(role: &str, path: &Path) -> Result<FileHash, PipelineError> {
    let bytes = std::fs::read(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    Ok(FileHash {
        role: role.into(),
        path: path.display().to_string(),
        sha256: crate::digest::sha256_hex(&bytes),
    })
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Reads a data file and picks the model inputs, labels and segments from it.
fn dataset(
    path: &Path,
    input_names: &[String],
    cfg: &PipelineConfig,
    rows: Option<[usize; 2]>,
) -> Result<Dataset, PipelineError> {
    let [start, end] = rows.unwrap_or([0, usize::MAX]);
    let arrays: Vec<(String, Tensor)> = crate::data::read_arrays(path)
        .map_err(input)?
        .into_iter()
        .map(|(name, t)| (name, t.rows(start, end)))
        .collect();
    let inputs: Vec<Tensor> =
        crate::data::pick_inputs(&arrays, input_names, cfg.data.x_key.as_deref())
            .and_then(|picked| {
                picked
                    .iter()
                    .map(|t| {
                        crate::data::scale_data(t, cfg.data.input_scale, cfg.data.input_zero_point)
                    })
                    .collect()
            })
            .map_err(|e| input(format!("{}: {e}", path.display())))?;
    let samples = inputs
        .first()
        .and_then(|t| t.shape.first().copied())
        .unwrap_or(0);
    if samples == 0 {
        return Err(input(format!("{}: no samples", path.display())));
    }
    let find = |key: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, t)| t.clone())
    };
    let labels = find(&cfg.data.y_key);
    let segments = find(&cfg.data.segment_key).map(|t| t.to_i64());
    for (what, len) in [
        (
            "labels",
            labels
                .as_ref()
                .map(|t| t.shape.first().copied().unwrap_or(0)),
        ),
        ("segments", segments.as_ref().map(Vec::len)),
    ] {
        if let Some(len) = len
            && len != samples
        {
            return Err(input(format!(
                "{}: {len} {what} for {samples} samples",
                path.display()
            )));
        }
    }
    Ok(Dataset {
        inputs,
        labels,
        segments,
        samples,
    })
}

/// Runs the pipeline described by the file at `path`.
pub fn run(path: &Path) -> Result<Outcome, PipelineError> {
    let started = now();
    let text =
        std::fs::read_to_string(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let cfg =
        PipelineConfig::parse(&text, dir).map_err(|e| input(format!("{}: {e}", path.display())))?;
    let Some(quant) = cfg.quantize.clone() else {
        return Err(input("no stage configured"));
    };

    // The target's budgets are gates here, not compile errors.
    let target = crate::targets::Target::resolve(&cfg.target.profile)
        .map_err(|e| input(format!("target.profile: {e}")))?;
    let (flash_budget, ram_budget) = (target.flash_bytes, target.ram_bytes);
    let mut unbounded = target.clone();
    unbounded.flash_bytes = None;
    unbounded.ram_bytes = None;
    let input_shapes = cfg
        .model
        .input_shapes
        .iter()
        .map(|s| crate::compile::parse_input_shape(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| input(format!("model.input_shapes: {e}")))?;
    let float_opts = CompileOptions {
        import: crate::import::ImportOptions {
            input_shapes,
            frozen_inputs: Vec::new(),
        },
        target: unbounded,
        quantize: None,
        require_integer: false,
        sparse: Default::default(),
    };
    let model = load_onnx(&cfg.model.path)?;
    let model_dir = cfg.model.path.parent();
    let input_names = crate::compile::input_names(&model);

    let mut inputs_hashed = vec![
        sha256_file("model", &cfg.model.path)?,
        sha256_file("calibration", &cfg.data.calibration)?,
        sha256_file("validation", &cfg.data.validation)?,
    ];
    if let Some(e) = &cfg.data.edge_cases {
        inputs_hashed.push(sha256_file("edge_cases", e)?);
    }
    let validation = dataset(
        &cfg.data.validation,
        &input_names,
        &cfg,
        cfg.data.validation_rows,
    )?;
    let calibration = dataset(
        &cfg.data.calibration,
        &input_names,
        &cfg,
        cfg.data.calibration_rows,
    )?;
    let edge = match &cfg.data.edge_cases {
        Some(p) => Some(dataset(p, &input_names, &cfg, None)?),
        None => None,
    };
    let classification = cfg.data.task == Task::Classification;
    if classification && validation.labels.is_none() {
        return Err(input(format!(
            "{}: no label array '{}' (needed for task = classification)",
            cfg.data.validation.display(),
            cfg.data.y_key
        )));
    }

    // Baseline.
    let float = compile(&model, model_dir, &float_opts)?;
    let run_on = |artifact: &[u8], d: &Dataset| -> Result<Outputs, PipelineError> {
        evaluate::run(artifact, &d.inputs, d.samples).map_err(input)
    };
    let base_out = run_on(&float.artifact, &validation)?;
    let base_edge = match &edge {
        Some(e) => Some(run_on(&float.artifact, e)?),
        None => None,
    };
    let segment_names = cfg.data.segments.clone();
    let segment_name = move |id: i64| {
        segment_names
            .get(&id.to_string())
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    let class_names = cfg.data.classes.clone();
    let class_name = move |id: i64| {
        usize::try_from(id)
            .ok()
            .and_then(|i| class_names.get(i).cloned())
            .unwrap_or_else(|| id.to_string())
    };
    let k = cfg.gates.top_k.unwrap_or(5);
    let base_ctx = Context {
        data: &validation,
        baseline: &base_out,
        baseline_classification: None,
        k,
        classification,
        class_name: &class_name,
        segment_name: &segment_name,
    };
    let base_metrics = evaluate::measure(
        &base_ctx,
        &float.artifact,
        &base_out,
        base_edge.as_ref().map(|b| (b, b)),
    )
    .map_err(input)?;
    let baseline = StageReport {
        name: "baseline".into(),
        float_layers: Vec::new(),
        metrics: base_metrics.clone(),
        gates: Vec::new(),
        passed: true,
    };
    let ctx = Context {
        baseline_classification: base_metrics.classification.as_ref(),
        ..base_ctx
    };

    // Pruning and distillation, each step measured and gated as a float stage; quantization
    // then starts from the last step's model.
    // One stage's artifact measured on the validation (and edge) data and gated.
    let judge = |name: String, float_layers: &[String], artifact: &[u8]| {
        let out = run_on(artifact, &validation)?;
        let edge_out = match &edge {
            Some(e) => Some(run_on(artifact, e)?),
            None => None,
        };
        let metrics = evaluate::measure(
            &ctx,
            artifact,
            &out,
            base_edge.as_ref().zip(edge_out.as_ref()),
        )
        .map_err(input)?;
        let gates = gates::evaluate(&cfg.gates, &metrics, flash_budget, ram_budget);
        Ok::<_, PipelineError>(StageReport {
            name,
            float_layers: float_layers.to_vec(),
            passed: gates.iter().all(|g| g.passed),
            metrics,
            gates,
        })
    };
    let compressed = compress::compress(
        &cfg,
        &model,
        &float_opts.import,
        &calibration,
        float_opts.target.channel_multiple,
    )?;
    let mut float_stages = Vec::new();
    let mut student_float = None;
    for step in compressed.iter().flat_map(|c| &c.steps) {
        let compiled = compile(&step.model, model_dir, &float_opts)?;
        float_stages.push(judge(step.name.clone(), &[], &compiled.artifact)?);
        student_float = Some(compiled);
    }
    let (model, float, reference_path) = match (&compressed, student_float) {
        (Some(c), Some(f)) => (c.model().clone(), f, c.file.path().to_path_buf()),
        _ => (model, float, cfg.model.path.clone()),
    };

    // A quantized variant keeping `keep` in float32, measured and gated.
    let method = Method::parse(&quant.calibration).map_err(input)?;
    let mut cached: Option<Arc<Calibration>> = None;
    let mut variant =
        |name: String, keep: &[String]| -> Result<(StageReport, Compiled), PipelineError> {
            let opts = CompileOptions {
                quantize: Some(QuantizeOptions {
                    calibration: calibration.inputs.clone(),
                    method,
                    samples: cfg.data.calibration_samples,
                    bias_correction: quant.bias_correction,
                    int8_io: false,
                    keep_float: keep.to_vec(),
                    calibrated: cached.clone(),
                }),
                ..float_opts.clone()
            };
            let compiled = compile(&model, model_dir, &opts)?;
            if cached.is_none() {
                cached = compiled.calibration.clone();
            }
            Ok((judge(name, keep, &compiled.artifact)?, compiled))
        };

    let (first, mut compiled) = variant("quantize".into(), &quant.keep_float)?;
    let mut stages = vec![first];
    let mut fallback_report = None;
    let mut blame = Vec::new();
    let needs_fallback = !stages[0].passed;
    if needs_fallback {
        let candidates: Vec<_> = fallback::candidates(&float.graph)
            .into_iter()
            .filter(|(name, _, _)| !quant.keep_float.contains(name))
            .collect();
        let compared = crate::compare::compare(
            &reference_path,
            &compiled.artifact,
            &validation.inputs,
            &float_opts,
        )?;
        let progress = crate::progress::bar(candidates.len() as u64, "sensitivity");
        let full_kl = stages[0].metrics.kl_mean;
        let mut sensitivity: Vec<LayerSensitivity> = Vec::new();
        let mut alone: Vec<(String, StageReport, Compiled)> = Vec::new();
        for (layer, op, output) in &candidates {
            let mut keep = quant.keep_float.clone();
            keep.push(layer.clone());
            let (report, c) = variant(
                format!("quantize + fallback ({} float layer(s))", keep.len()),
                &keep,
            )?;
            sensitivity.push(LayerSensitivity {
                layer: layer.clone(),
                op: op.clone(),
                sqnr_db: fallback::sqnr_of(output, &compared.layers),
                kl_mean_alone_float: report.metrics.kl_mean,
                top1_alone_float: report.metrics.classification.as_ref().map(|c| c.top1),
                kl_recovered: full_kl - report.metrics.kl_mean,
            });
            alone.push((layer.clone(), report, c));
            progress.inc(1);
        }
        progress.finish_and_clear();
        fallback::rank(&mut sensitivity);
        let max = if cfg.fallback.enabled {
            cfg.fallback.max_float_layers.min(sensitivity.len())
        } else {
            0
        };
        let mut kept: Vec<String> = Vec::new();
        for l in sensitivity.iter().take(max) {
            kept.push(l.layer.clone());
            let (report, c) = if kept.len() == 1 {
                // Measured already while ranking.
                let (_, r, c) = alone
                    .iter()
                    .find(|(name, _, _)| *name == l.layer)
                    .cloned()
                    .ok_or_else(|| input("internal: a ranked layer was not measured"))?;
                (r, c)
            } else {
                let mut keep = quant.keep_float.clone();
                keep.extend(kept.iter().cloned());
                variant(
                    format!("quantize + fallback ({} float layer(s))", keep.len()),
                    &keep,
                )?
            };
            let passed = report.passed;
            stages.push(report);
            compiled = c;
            if passed {
                break;
            }
        }
        let last_passed = stages.last().is_some_and(|s| s.passed);
        if !last_passed {
            blame = sensitivity
                .iter()
                .filter(|l| l.kl_recovered > 0.0)
                .take(3)
                .map(|l| l.layer.clone())
                .collect();
        }
        fallback_report = Some(FallbackReport {
            sensitivity,
            kept_float: if last_passed { kept } else { Vec::new() },
            max_float_layers: if cfg.fallback.enabled {
                cfg.fallback.max_float_layers
            } else {
                0
            },
        });
    }
    let last = stages.last().ok_or_else(|| input("no stage ran"))?;
    let passed = last.passed;
    let failed_gates: Vec<_> = last.gates.iter().filter(|g| !g.passed).cloned().collect();
    let verdict = if passed {
        match &fallback_report {
            Some(f) => format!(
                "every gate passes with {} layer(s) kept in float32: {}",
                f.kept_float.len(),
                f.kept_float.join(", ")
            ),
            None => "every gate passes with the whole model in int8".to_string(),
        }
    } else {
        let gates: Vec<String> = failed_gates
            .iter()
            .map(|g| format!("{} ({})", g.gate, g.detail))
            .collect();
        let mut v = format!("gate(s) failed: {}", gates.join("; "));
        if !blame.is_empty() {
            v.push_str(&format!("; layers to blame: {}", blame.join(", ")));
        }
        v
    };
    let artifact = if passed && cfg.output.embed_validation > 0 {
        with_vectors(&compiled, &target, &validation, &cfg)?
    } else {
        compiled.artifact
    };
    let report = Report {
        schema: report::SCHEMA.into(),
        passed,
        verdict,
        audit: Audit {
            tool: "whittle".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config: sha256_file("config", path)?,
            inputs: inputs_hashed,
            seed: cfg.seed,
            target: target.name.clone(),
            started,
            finished: now(),
        },
        baseline,
        stages: float_stages.into_iter().chain(stages).collect(),
        fallback: fallback_report,
        failed_gates,
        blame,
        artifact: None,
        classes: cfg.data.classes.clone(),
    };
    Ok(Outcome {
        report,
        artifact,
        artifact_path: cfg.output.artifact.clone(),
        report_dir: cfg.output.report_dir.clone(),
    })
}

/// The passed artifact with the first `output.embed_validation` validation samples embedded;
/// it must still fit the flash gate and the target's flash.
fn with_vectors(
    compiled: &Compiled,
    target: &crate::targets::Target,
    validation: &Dataset,
    cfg: &PipelineConfig,
) -> Result<Vec<u8>, PipelineError> {
    let count = cfg.output.embed_validation;
    if count > validation.samples {
        return Err(input(format!(
            "output.embed_validation = {count}, but the validation data has {} samples",
            validation.samples
        )));
    }
    let artifact =
        crate::validate::embed(compiled, &target.name, &validation.inputs, count).map_err(input)?;
    let limits = [
        cfg.gates.max_flash.map(|s| (s.0, "gates.max_flash")),
        target.flash_bytes.map(|b| (b, "the target's flash")),
    ];
    for (limit, what) in limits.into_iter().flatten() {
        if artifact.len() as u64 > limit {
            return Err(input(format!(
                "with {count} validation vector(s) the artifact takes {} bytes, over {what} ({limit} bytes); embed fewer",
                artifact.len()
            )));
        }
    }
    Ok(artifact)
}
