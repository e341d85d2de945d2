//! Optimizers over candle variables: Adam (with bias correction) and SGD with momentum.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// Which optimizer updates the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    /// Adam, betas 0.9 / 0.999.
    Adam,
    /// SGD with momentum 0.9.
    Sgd,
}

impl Optimizer {
    /// Parses `adam` or `sgd`.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "adam" => Ok(Optimizer::Adam),
            "sgd" => Ok(Optimizer::Sgd),
            other => Err(format!("unknown optimizer '{other}' (adam or sgd)")),
        }
    }

    /// The learning rate used when none is given.
    pub fn default_lr(self) -> f64 {
        match self {
            Optimizer::Adam => 1e-3,
            Optimizer::Sgd => 1e-2,
        }
    }
}

/// Optimizer state for one set of variables.
pub struct State {
    kind: Optimizer,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: i32,
}

impl State {
    /// Zero state for `vars`.
    pub fn new(kind: Optimizer, vars: &[Var]) -> Result<Self> {
        let zeros = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<Result<Vec<_>>>()?;
        Ok(State {
            kind,
            second: zeros.clone(),
            first: zeros,
            steps: 0,
        })
    }

    /// One update of `vars` from `grads` at learning rate `lr`.
    pub fn step(&mut self, vars: &[Var], grads: &GradStore, lr: f64) -> Result<()> {
        self.steps += 1;
        for (i, v) in vars.iter().enumerate() {
            // A weight the loss does not reach has no gradient; it stays.
            let Some(g) = grads.get(v) else { continue };
            let update = match self.kind {
                Optimizer::Adam => {
                    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
                    self.first[i] = ((&self.first[i] * b1)? + (g * (1.0 - b1))?)?;
                    self.second[i] = ((&self.second[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let m = (&self.first[i] / (1.0 - b1.powi(self.steps)))?;
                    let s = (&self.second[i] / (1.0 - b2.powi(self.steps)))?;
                    (m / (s.sqrt()? + eps)?)?
                }
                Optimizer::Sgd => {
                    self.first[i] = ((&self.first[i] * 0.9)? + g)?;
                    self.first[i].clone()
                }
            };
            v.set(&(v.as_tensor() - (update * lr)?)?)?;
        }
        Ok(())
    }
}
