//! The model and its training with candle autograd (layout NCW, as in the exported graph).

use super::data::Pcg32;
use super::{AXES, BATCH, BN_EPS, BN_MOMENTUM, EPOCHS, LR, SEED, STEPS};
use anyhow::Result;
use candle_core::{D, DType, Device, Tensor, Var};

// ---------------------------------------------------------------------------------------------
// The model, trained with candle autograd. Layout NCW, as in the exported ONNX graph.

pub struct Conv {
    pub w: Var,
    pub b: Var,
    pub group: usize,
    pub pad: usize,
}

pub struct BatchNorm {
    pub gamma: Var,
    pub beta: Var,
    pub mean: Tensor,
    pub var: Tensor,
}

pub struct Net {
    pub conv1: Conv,
    pub bn1: BatchNorm,
    pub dw: Conv,
    pub bn2: BatchNorm,
    pub pw: Conv,
    pub bn3: BatchNorm,
    pub conv4: Conv,
    pub bn4: BatchNorm,
    pub fc_w: Var,
    pub fc_b: Var,
}

/// PyTorch's default initialization: uniform in +-1/sqrt(fan_in) for weights and biases.
pub fn uniform(rng: &mut Pcg32, shape: &[usize], fan_in: usize, dev: &Device) -> Result<Var> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let n = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.range(-bound, bound)).collect();
    Ok(Var::from_vec(data, shape, dev)?)
}

impl Conv {
    pub fn new(rng: &mut Pcg32, shape: [usize; 3], group: usize, dev: &Device) -> Result<Self> {
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
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
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
    pub fn new(channels: usize, dev: &Device) -> Result<Self> {
        Ok(BatchNorm {
            gamma: Var::ones(channels, DType::F32, dev)?,
            beta: Var::zeros(channels, DType::F32, dev)?,
            mean: Tensor::zeros(channels, DType::F32, dev)?,
            var: Tensor::ones(channels, DType::F32, dev)?,
        })
    }

    /// Training mode normalizes with the batch statistics and updates the running ones
    /// (unbiased variance, as PyTorch does); inference uses the running ones.
    pub fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
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
pub fn max_pool2(x: &Tensor) -> Result<Tensor> {
    let (n, c, l) = x.dims3()?;
    Ok(x.reshape((n, c, l / 2, 2))?.max(3)?)
}

impl Net {
    pub fn new(dev: &Device) -> Result<Self> {
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

    pub fn params(&self) -> Vec<&Var> {
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
    pub fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
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

pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let log_probs = logits.broadcast_sub(&logits.log_sum_exp(1)?.unsqueeze(1)?)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?;
    Ok((picked.mean_all()? * -1.0)?)
}

/// Adam with bias correction; the learning rate follows a cosine schedule set per step.
pub struct Adam {
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    pub t: i32,
}

impl Adam {
    pub fn new(params: &[&Var]) -> Result<Self> {
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

    pub fn step(&mut self, params: &[&Var], loss: &Tensor, lr: f64) -> Result<()> {
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

pub fn to_tensor(x: &[f32], dev: &Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(
        x,
        (x.len() / (AXES * STEPS), AXES, STEPS),
        dev,
    )?)
}

pub fn train(net: &mut Net, x: &[f32], y: &[i64], dev: &Device) -> Result<()> {
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
pub fn predict(net: &mut Net, x: &[f32], dev: &Device) -> Result<Tensor> {
    let logits = net.forward(&to_tensor(x, dev)?, false)?;
    let max = logits.max_keepdim(D::Minus1)?;
    let e = logits.broadcast_sub(&max)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

pub fn accuracy(probs: &Tensor, y: &[i64]) -> Result<(f32, Vec<u32>)> {
    let pred = probs.argmax(1)?.to_vec1::<u32>()?;
    let hits = pred
        .iter()
        .zip(y)
        .filter(|(p, t)| **p as i64 == **t)
        .count();
    Ok((hits as f32 / y.len() as f32, pred))
}
