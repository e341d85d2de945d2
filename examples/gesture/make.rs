//! Builds the bundled gesture example: synthesizes accelerometer windows, trains a small 1-D
//! CNN with candle, exports it to ONNX and writes the data sets next to it.
//!
//! Run with `cargo run -p whittle --example make-gesture`. Everything is seeded, so a rerun
//! reproduces the same files.

use anyhow::{Result, ensure};
use candle_core::{D, DType, Device, Tensor, Var};
use prost::Message;
use std::f32::consts::TAU;
use std::io::Write;
use std::path::Path;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::tensor::Tensor as WTensor;

const CLASSES: [&str; 5] = ["idle", "wave", "circle", "flick", "lift"];
const AXES: usize = 3;
const STEPS: usize = 64;
const RATE_HZ: f32 = 50.0;
/// Every random stream derives from this seed: data splits use streams 1-3, weight
/// initialization 7, batch shuffling 11.
const SEED: u64 = 0x5EED;
const SPLITS: [(&str, usize, u64); 3] = [("train", 1500, 1), ("val", 500, 2), ("test", 500, 3)];
const SAMPLES: usize = 8;

const EPOCHS: usize = 40;
const BATCH: usize = 64;
const LR: f64 = 3e-3;
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

// ---------------------------------------------------------------------------------------------
// Random numbers: PCG32 (O'Neill), so the data does not depend on any crate's generator.

struct Pcg32 {
    state: u64,
    inc: u64,
}

impl Pcg32 {
    fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Pcg32 {
            state: 0,
            inc: (stream << 1) | 1,
        };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: usize) -> usize {
        ((u64::from(self.next_u32()) * n as u64) >> 32) as usize
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic accelerometer windows, in g, axes x/y/z, 64 steps at 50 Hz.

/// One window in NCW order: `[axis][step]`.
type Window = [[f32; STEPS]; AXES];
/// Motion in time-major order: `[step][axis]`.
type Motion = [[f32; AXES]; STEPS];

/// Samples `f(t)` (t in seconds) at every step of the window.
fn sample(f: impl Fn(f32) -> [f32; AXES]) -> Motion {
    std::array::from_fn(|i| f(i as f32 / RATE_HZ))
}

/// The motion part of one gesture (no gravity, no noise), in the gesture's own frame.
fn motion(class: usize, rng: &mut Pcg32) -> Motion {
    let window_s = STEPS as f32 / RATE_HZ;
    match CLASSES[class] {
        // Holding still: slow, faint sway on every axis.
        "idle" => {
            let sway = [0; AXES].map(|_| {
                let (a, f, ph) = (
                    rng.range(0.0, 0.12),
                    rng.range(0.2, 1.5),
                    rng.range(0.0, TAU),
                );
                move |t: f32| a * (TAU * f * t + ph).sin()
            });
            sample(|t| sway.map(|s| s(t)))
        }
        // Side to side along x, with a little leakage into y.
        "wave" => {
            let (a, f, ph) = (
                rng.range(0.25, 1.2),
                rng.range(2.0, 4.0),
                rng.range(0.0, TAU),
            );
            let leak = rng.range(-0.35, 0.35);
            sample(|t| {
                let s = a * (TAU * f * t + ph).sin();
                [s, leak * s, 0.0]
            })
        }
        // A rotation in the x-y plane, either direction, somewhat elliptic.
        "circle" => {
            let (a, f, ph) = (
                rng.range(0.25, 1.0),
                rng.range(1.0, 2.0),
                rng.range(0.0, TAU),
            );
            let ay = a * rng.range(0.4, 1.3) * if rng.below(2) == 0 { 1.0 } else { -1.0 };
            sample(|t| {
                let phase = TAU * f * t + ph;
                [a * phase.sin(), ay * phase.cos(), 0.0]
            })
        }
        // One sharp burst in a random, mostly horizontal direction, anywhere in the window.
        "flick" => {
            let dir = rng.range(0.0, TAU);
            let (center, width) = (rng.range(8.0, 56.0), rng.range(1.2, 3.5));
            let a = rng.range(0.6, 3.0);
            let amp = [a * dir.cos(), a * dir.sin(), a * rng.range(-0.3, 0.3)];
            let mut m = [[0.0; AXES]; STEPS];
            add_pulse(&mut m, center, width, amp);
            m
        }
        // Up along z: one sine period of acceleration then deceleration.
        "lift" => {
            let dur = rng.range(0.4, 1.0);
            let start = rng.range(0.0, window_s - dur);
            let a = rng.range(0.15, 0.8);
            sample(|t| {
                let u = (t - start) / dur;
                let z = if (0.0..1.0).contains(&u) {
                    a * (TAU * u).sin()
                } else {
                    0.0
                };
                [0.0, 0.0, z]
            })
        }
        _ => unreachable!(),
    }
}

/// Adds a derivative-of-Gaussian pulse (jerk out, snap back) peaking at `amp` per axis.
fn add_pulse(m: &mut Motion, center: f32, width: f32, amp: [f32; AXES]) {
    for (i, v) in m.iter_mut().enumerate() {
        let d = (i as f32 - center) / width;
        let p = -d * (0.5 * (1.0 - d * d)).exp();
        for (x, a) in v.iter_mut().zip(amp) {
            *x += a * p;
        }
    }
}

/// Rotation matrix from small Euler angles (radians).
fn rotation(rx: f32, ry: f32, rz: f32) -> [[f32; 3]; 3] {
    let (sx, cx) = rx.sin_cos();
    let (sy, cy) = ry.sin_cos();
    let (sz, cz) = rz.sin_cos();
    [
        [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz],
        [cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz],
        [-sy, sx * cy, cx * cy],
    ]
}

/// One labelled window: the gesture, slightly rotated, plus tilted gravity, sensor noise and
/// sometimes a knock or a slow drift, so the classes overlap a little as real recordings do.
fn window(class: usize, rng: &mut Pcg32) -> Window {
    let mut m = motion(class, rng);
    // A quarter of all windows carry a small knock, so a spike alone does not mean "flick".
    if rng.below(4) == 0 {
        let (center, width) = (rng.range(4.0, 60.0), rng.range(1.5, 3.0));
        let amp = [0; AXES].map(|_| rng.range(-0.3, 0.3));
        add_pulse(&mut m, center, width, amp);
    }
    let r = [0; 3].map(|_| rng.range(-0.35, 0.35));
    let r = rotation(r[0], r[1], r[2]);
    let (roll, pitch) = (0.15 * rng.normal(), 0.15 * rng.normal());
    let gravity = [
        pitch.sin(),
        -roll.sin() * pitch.cos(),
        roll.cos() * pitch.cos(),
    ];
    let drift = rng.below(10) < 3;
    let mut w = [[0.0; STEPS]; AXES];
    for (axis, out) in w.iter_mut().enumerate() {
        let sigma = rng.range(0.02, 0.05);
        let slope = if drift { rng.range(-0.2, 0.2) } else { 0.0 };
        for ((i, v), m) in out.iter_mut().enumerate().zip(&m) {
            let rotated: f32 = r[axis].iter().zip(m).map(|(a, b)| a * b).sum();
            let ramp = slope * i as f32 / (STEPS - 1) as f32;
            *v = gravity[axis] + rotated + ramp + sigma * rng.normal();
        }
    }
    w
}

/// A class-balanced, shuffled data set: x flattened [n, 3, 64] (already rounded to float16,
/// the precision it is stored at) and labels.
fn dataset(n: usize, stream: u64) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Pcg32::new(SEED, stream);
    let mut labels: Vec<i64> = (0..n).map(|i| (i % CLASSES.len()) as i64).collect();
    rng.shuffle(&mut labels);
    let mut x = Vec::with_capacity(n * AXES * STEPS);
    for &label in &labels {
        let w = window(label as usize, &mut rng);
        x.extend(w.iter().flatten().map(|&v| half::f16::from_f32(v).to_f32()));
    }
    (x, labels)
}

// ---------------------------------------------------------------------------------------------
// The model, trained with candle autograd. Layout NCW, as in the exported ONNX graph.

struct Conv {
    w: Var,
    b: Var,
    group: usize,
    pad: usize,
}

struct BatchNorm {
    gamma: Var,
    beta: Var,
    mean: Tensor,
    var: Tensor,
}

struct Net {
    conv1: Conv,
    bn1: BatchNorm,
    dw: Conv,
    bn2: BatchNorm,
    pw: Conv,
    bn3: BatchNorm,
    conv4: Conv,
    bn4: BatchNorm,
    fc_w: Var,
    fc_b: Var,
}

/// PyTorch's default initialization: uniform in +-1/sqrt(fan_in) for weights and biases.
fn uniform(rng: &mut Pcg32, shape: &[usize], fan_in: usize, dev: &Device) -> Result<Var> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let n = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.range(-bound, bound)).collect();
    Ok(Var::from_vec(data, shape, dev)?)
}

impl Conv {
    fn new(rng: &mut Pcg32, shape: [usize; 3], group: usize, dev: &Device) -> Result<Self> {
        let fan_in = shape[1] * shape[2];
        Ok(Conv {
            w: uniform(rng, &shape, fan_in, dev)?,
            b: uniform(rng, &[shape[0]], fan_in, dev)?,
            group,
            pad: shape[2] / 2,
        })
    }

    /// Stride-1 convolution (cross-correlation, as ONNX Conv) built from differentiable
    /// primitives: candle 0.11's CPU `conv1d` backward yields wrong kernel gradients (its
    /// non-contiguous-kernel path multiplies the original, unconverted kernel).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (cout, cin_per_group, k) = self.w.dims3()?;
        let len = x.dim(2)?;
        let padded = x.pad_with_zeros(2, self.pad, self.pad)?;
        let taps: Vec<Tensor> = (0..k)
            .map(|i| padded.narrow(2, i, len))
            .collect::<candle_core::Result<_>>()?;
        let cols = Tensor::stack(&taps, 2)?; // [n, c, k, len]
        let y = if self.group == 1 {
            let (n, c) = (x.dim(0)?, x.dim(1)?);
            let w = self.w.reshape((cout, cin_per_group * k))?;
            w.broadcast_matmul(&cols.reshape((n, c * k, len))?)?
        } else {
            // Depthwise: one input channel per output channel.
            assert_eq!(
                (self.group, cin_per_group),
                (cout, 1),
                "only depthwise groups"
            );
            let w = self.w.reshape((1, cout, k, 1))?;
            cols.broadcast_mul(&w)?.sum(2)?
        };
        Ok(y.broadcast_add(&self.b.reshape((1, (), 1))?)?)
    }
}

impl BatchNorm {
    fn new(channels: usize, dev: &Device) -> Result<Self> {
        Ok(BatchNorm {
            gamma: Var::ones(channels, DType::F32, dev)?,
            beta: Var::zeros(channels, DType::F32, dev)?,
            mean: Tensor::zeros(channels, DType::F32, dev)?,
            var: Tensor::ones(channels, DType::F32, dev)?,
        })
    }

    /// Training mode normalizes with the batch statistics and updates the running ones
    /// (unbiased variance, as PyTorch does); inference uses the running ones.
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (mean, var) = if train {
            let mean = x.mean_keepdim((0, 2))?;
            let var = x.broadcast_sub(&mean)?.sqr()?.mean_keepdim((0, 2))?;
            let n = (x.dim(0)? * x.dim(2)?) as f64;
            let (m, v) = (mean.flatten_all()?.detach(), var.flatten_all()?.detach());
            self.mean = ((&self.mean * (1.0 - BN_MOMENTUM))? + (m * BN_MOMENTUM)?)?;
            self.var = ((&self.var * (1.0 - BN_MOMENTUM))? + (v * (BN_MOMENTUM * n / (n - 1.0)))?)?;
            (mean, var)
        } else {
            (
                self.mean.reshape((1, (), 1))?,
                self.var.reshape((1, (), 1))?,
            )
        };
        let norm = x
            .broadcast_sub(&mean)?
            .broadcast_div(&(var + BN_EPS)?.sqrt()?)?;
        let scaled = norm.broadcast_mul(&self.gamma.reshape((1, (), 1))?)?;
        Ok(scaled.broadcast_add(&self.beta.reshape((1, (), 1))?)?)
    }
}

/// MaxPool with kernel 2, stride 2 over the last axis.
fn max_pool2(x: &Tensor) -> Result<Tensor> {
    let (n, c, l) = x.dims3()?;
    Ok(x.reshape((n, c, l / 2, 2))?.max(3)?)
}

impl Net {
    fn new(dev: &Device) -> Result<Self> {
        let mut rng = Pcg32::new(SEED, 7);
        Ok(Net {
            conv1: Conv::new(&mut rng, [16, 3, 5], 1, dev)?,
            bn1: BatchNorm::new(16, dev)?,
            dw: Conv::new(&mut rng, [16, 1, 3], 16, dev)?,
            bn2: BatchNorm::new(16, dev)?,
            pw: Conv::new(&mut rng, [32, 16, 1], 1, dev)?,
            bn3: BatchNorm::new(32, dev)?,
            conv4: Conv::new(&mut rng, [32, 32, 3], 1, dev)?,
            bn4: BatchNorm::new(32, dev)?,
            fc_w: uniform(&mut rng, &[5, 32], 32, dev)?,
            fc_b: uniform(&mut rng, &[5], 32, dev)?,
        })
    }

    fn params(&self) -> Vec<&Var> {
        let mut p = Vec::new();
        for (c, bn) in [
            (&self.conv1, &self.bn1),
            (&self.dw, &self.bn2),
            (&self.pw, &self.bn3),
            (&self.conv4, &self.bn4),
        ] {
            p.extend([&c.w, &c.b, &bn.gamma, &bn.beta]);
        }
        p.extend([&self.fc_w, &self.fc_b]);
        p
    }

    /// Logits [n, 5] for x [n, 3, 64].
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = self.bn1.forward(&self.conv1.forward(x)?, train)?.relu()?;
        let x = max_pool2(&x)?;
        let x = self.bn2.forward(&self.dw.forward(&x)?, train)?.relu()?;
        let x = self.bn3.forward(&self.pw.forward(&x)?, train)?.relu()?;
        let x = max_pool2(&x)?;
        let x = self.bn4.forward(&self.conv4.forward(&x)?, train)?.relu()?;
        let pooled = x.mean(2)?;
        Ok(pooled.matmul(&self.fc_w.t()?)?.broadcast_add(&self.fc_b)?)
    }
}

fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let log_probs = logits.broadcast_sub(&logits.log_sum_exp(1)?.unsqueeze(1)?)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?;
    Ok((picked.mean_all()? * -1.0)?)
}

/// Adam with bias correction; the learning rate follows a cosine schedule set per step.
struct Adam {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    t: i32,
}

impl Adam {
    fn new(params: &[&Var]) -> Result<Self> {
        let zeros = || -> Result<Vec<Tensor>> {
            Ok(params
                .iter()
                .map(|p| p.zeros_like())
                .collect::<candle_core::Result<_>>()?)
        };
        Ok(Adam {
            m: zeros()?,
            v: zeros()?,
            t: 0,
        })
    }

    fn step(&mut self, params: &[&Var], loss: &Tensor, lr: f64) -> Result<()> {
        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        let grads = loss.backward()?;
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (i, p) in params.iter().enumerate() {
            let Some(g) = grads.get(p) else { continue };
            self.m[i] = ((&self.m[i] * b1)? + (g * (1.0 - b1))?)?;
            self.v[i] = ((&self.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let m_hat = (&self.m[i] / c1)?;
            let v_hat = (&self.v[i] / c2)?;
            let update = (m_hat / (v_hat.sqrt()? + eps)?)?;
            p.set(&(p.as_tensor() - (update * lr)?)?)?;
        }
        Ok(())
    }
}

fn to_tensor(x: &[f32], dev: &Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(
        x,
        (x.len() / (AXES * STEPS), AXES, STEPS),
        dev,
    )?)
}

fn train(net: &mut Net, x: &[f32], y: &[i64], dev: &Device) -> Result<()> {
    let params: Vec<Var> = net.params().into_iter().cloned().collect();
    let params: Vec<&Var> = params.iter().collect();
    let mut adam = Adam::new(&params)?;
    let mut rng = Pcg32::new(SEED, 11);
    let mut order: Vec<usize> = (0..y.len()).collect();
    let steps_per_epoch = y.len().div_ceil(BATCH);
    let total = (EPOCHS * steps_per_epoch) as f64;
    let sample = AXES * STEPS;
    for epoch in 0..EPOCHS {
        rng.shuffle(&mut order);
        let mut loss_sum = 0.0;
        for (b, idx) in order.chunks(BATCH).enumerate() {
            let xb: Vec<f32> = idx
                .iter()
                .flat_map(|&i| &x[i * sample..(i + 1) * sample])
                .copied()
                .collect();
            let yb: Vec<u32> = idx.iter().map(|&i| y[i] as u32).collect();
            let logits = net.forward(&to_tensor(&xb, dev)?, true)?;
            let loss = cross_entropy(&logits, &Tensor::new(yb, dev)?)?;
            let progress = (epoch * steps_per_epoch + b) as f64 / total;
            let lr = LR * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            adam.step(&params, &loss, lr)?;
            loss_sum += loss.to_scalar::<f32>()?;
        }
        if epoch % 10 == 9 || epoch == 0 {
            let mean_loss = loss_sum / steps_per_epoch as f32;
            println!("epoch {:>2}: train loss {mean_loss:.4}", epoch + 1);
        }
    }
    Ok(())
}

/// Class probabilities in inference mode (running statistics).
fn predict(net: &mut Net, x: &[f32], dev: &Device) -> Result<Tensor> {
    let logits = net.forward(&to_tensor(x, dev)?, false)?;
    let max = logits.max_keepdim(D::Minus1)?;
    let e = logits.broadcast_sub(&max)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

fn accuracy(probs: &Tensor, y: &[i64]) -> Result<(f32, Vec<u32>)> {
    let pred = probs.argmax(1)?.to_vec1::<u32>()?;
    let hits = pred
        .iter()
        .zip(y)
        .filter(|(p, t)| **p as i64 == **t)
        .count();
    Ok((hits as f32 / y.len() as f32, pred))
}

// ---------------------------------------------------------------------------------------------
// ONNX export: the same graph, batch-norm kept as separate nodes.

fn values(t: &Tensor) -> Result<WTensor> {
    Ok(WTensor::f32(t.dims().to_vec(), t.flatten_all()?.to_vec1()?))
}

fn export(net: &Net) -> Result<Vec<u8>> {
    let mut g = GraphBuilder::new("gesture", 13);
    let input = g.input("accel", &[-1, AXES as i64, STEPS as i64]);
    let conv_bn_relu = |g: &mut GraphBuilder, x: &str, name: &str, c: &Conv, bn: &BatchNorm| {
        let w = g.constant(&format!("{name}.weight"), &values(&c.w)?);
        let b = g.constant(&format!("{name}.bias"), &values(&c.b)?);
        let attrs = vec![
            ("kernel_shape", Attr::Ints(vec![c.w.dim(2)? as i64])),
            ("pads", Attr::Ints(vec![c.pad as i64; 2])),
            ("strides", Attr::Ints(vec![1])),
            ("group", Attr::Int(c.group as i64)),
        ];
        let y = g.node("Conv", &[x, &w, &b], attrs);
        let bn_name = format!("{name}.bn");
        let stats = [
            ("weight", bn.gamma.as_tensor()),
            ("bias", bn.beta.as_tensor()),
            ("running_mean", &bn.mean),
            ("running_var", &bn.var),
        ];
        let mut inputs = vec![y];
        for (suffix, t) in stats {
            inputs.push(g.constant(&format!("{bn_name}.{suffix}"), &values(t)?));
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let eps = ("epsilon", Attr::Float(BN_EPS as f32));
        let y = g.node("BatchNormalization", &refs, vec![eps]);
        anyhow::Ok(g.node("Relu", &[&y], vec![]))
    };
    let pool = |g: &mut GraphBuilder, x: &str| {
        let attrs = vec![
            ("kernel_shape", Attr::Ints(vec![2])),
            ("strides", Attr::Ints(vec![2])),
        ];
        g.node("MaxPool", &[x], attrs)
    };
    let x = conv_bn_relu(&mut g, &input, "conv1", &net.conv1, &net.bn1)?;
    let x = pool(&mut g, &x);
    let x = conv_bn_relu(&mut g, &x, "dwconv", &net.dw, &net.bn2)?;
    let x = conv_bn_relu(&mut g, &x, "pwconv", &net.pw, &net.bn3)?;
    let x = pool(&mut g, &x);
    let x = conv_bn_relu(&mut g, &x, "conv4", &net.conv4, &net.bn4)?;
    let x = g.node("GlobalAveragePool", &[&x], vec![]);
    let x = g.node("Flatten", &[&x], vec![("axis", Attr::Int(1))]);
    let w = g.constant("fc.weight", &values(&net.fc_w)?);
    let b = g.constant("fc.bias", &values(&net.fc_b)?);
    let x = g.node("Gemm", &[&x, &w, &b], vec![("transB", Attr::Int(1))]);
    g.node("Softmax", &[&x], vec![("axis", Attr::Int(1))]);
    g.output("probs", &[-1, CLASSES.len() as i64]);
    let mut model = g.build();
    // The builder names outputs after their node; the graph output is `probs`.
    let graph = model.graph.as_mut().expect("built graph");
    graph.node.last_mut().expect("softmax node").output[0] = "probs".into();
    Ok(model.encode_to_vec())
}

// ---------------------------------------------------------------------------------------------
// Output files.

/// A version 1.0 `.npy` image with the given dtype descriptor and raw little-endian body.
fn npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let dims = match dims.len() {
        1 => format!("{},", dims[0]),
        _ => dims.join(", "),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    let unpadded = 6 + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// `x` as float16 and `y` as int64, deflated, with fixed timestamps for reproducible bytes.
fn write_npz(path: &Path, x: &[f32], y: &[i64]) -> Result<()> {
    let x_body: Vec<u8> = x
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let y_body: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
    let arrays = [
        ("x.npy", npy("<f2", &[y.len(), AXES, STEPS], &x_body)),
        ("y.npy", npy("<i8", &[y.len()], &y_body)),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in arrays {
        zip.start_file(name, options)?;
        zip.write_all(&bytes)?;
    }
    std::fs::write(path, zip.finish()?.into_inner())?;
    Ok(())
}

fn write_sample(dir: &Path, x: &[f32], y: &[i64]) -> Result<()> {
    let shape = [SAMPLES, AXES, STEPS];
    let body: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("sample.npy"), npy("<f4", &shape, &body))?;
    let labels: String = y
        .iter()
        .map(|&c| format!("{}\n", CLASSES[c as usize]))
        .collect();
    std::fs::write(dir.join("sample_labels.txt"), labels)?;
    Ok(())
}

fn print_confusion(pred: &[u32], y: &[i64]) {
    println!("test confusion (rows: true, columns: predicted):");
    println!("{:>8} {}", "", CLASSES.map(|c| format!("{c:>6}")).join(" "));
    for (t, name) in CLASSES.iter().enumerate() {
        let row: Vec<String> = (0..CLASSES.len())
            .map(|p| {
                let n = pred
                    .iter()
                    .zip(y)
                    .filter(|&(&a, &b)| a as usize == p && b as usize == t);
                format!("{:>6}", n.count())
            })
            .collect();
        println!("{name:>8} {}", row.join(" "));
    }
}

fn main() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture");
    let dir = dir.canonicalize()?;
    std::fs::create_dir_all(dir.join("data"))?;
    let dev = Device::Cpu;

    let mut sets = Vec::new();
    for (name, n, stream) in SPLITS {
        let (x, y) = dataset(n, stream);
        write_npz(&dir.join(format!("data/{name}.npz")), &x, &y)?;
        sets.push((x, y));
    }
    let [(x_train, y_train), (x_val, y_val), (x_test, y_test)] =
        <[_; 3]>::try_from(sets).expect("three splits");

    let mut net = Net::new(&dev)?;
    train(&mut net, &x_train, &y_train, &dev)?;
    let (acc_train, _) = accuracy(&predict(&mut net, &x_train, &dev)?, &y_train)?;
    let (acc_val, _) = accuracy(&predict(&mut net, &x_val, &dev)?, &y_val)?;
    let (acc_test, pred_test) = accuracy(&predict(&mut net, &x_test, &dev)?, &y_test)?;
    println!("float accuracy: train {:.2}%", 100.0 * acc_train);
    println!("float accuracy: val   {:.2}%", 100.0 * acc_val);
    println!("float accuracy: test  {:.2}%", 100.0 * acc_test);
    print_confusion(&pred_test, &y_test);

    let onnx_path = dir.join("gesture.onnx");
    std::fs::write(&onnx_path, export(&net)?)?;
    // The quick-start samples: the first test window of every class, then the second one of
    // the first classes, in test order, so the demo shows every gesture.
    let mut picked: Vec<usize> = Vec::new();
    for round in 0..2 {
        for class in 0..CLASSES.len() {
            let nth = (0..y_test.len())
                .filter(|&i| y_test[i] as usize == class)
                .nth(round);
            if let Some(i) = nth.filter(|_| picked.len() < SAMPLES) {
                picked.push(i);
            }
        }
    }
    picked.sort_unstable();
    let window = AXES * STEPS;
    let sample_x: Vec<f32> = picked
        .iter()
        .flat_map(|&i| x_test[i * window..(i + 1) * window].to_vec())
        .collect();
    let sample_y: Vec<i64> = picked.iter().map(|&i| y_test[i]).collect();
    let sample_x = sample_x.as_slice();
    write_sample(&dir, sample_x, &sample_y)?;

    // The exported graph must compute what was trained: compare tract against candle.
    let expected = predict(&mut net, sample_x, &dev)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let input = WTensor::f32(vec![SAMPLES, AXES, STEPS], sample_x.to_vec());
    let outputs =
        whittle::reference::run_tract(&onnx_path, &[input]).map_err(anyhow::Error::msg)?;
    let got = outputs[0].to_f32();
    ensure!(
        got.len() == expected.len(),
        "tract output has {} values",
        got.len()
    );
    let diff = got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    println!("onnx (tract) vs candle on {SAMPLES} samples: max abs diff {diff:.2e}");
    ensure!(diff < 1e-4, "exported model disagrees with the trained one");
    println!("wrote {}", dir.display());
    Ok(())
}
