//! The distillation loss: `alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))`
//! plus `(1 - alpha) * cross-entropy` on labels when there are labels, else the KL term alone.

use candle_core::{D, Result, Tensor};

fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)
}

/// KL divergence of the student's tempered distribution from the teacher's, averaged over the
/// batch. Both are `[N, classes]` logits.
pub fn kl(student: &Tensor, teacher: &Tensor, temperature: f64) -> Result<Tensor> {
    let log_q = log_softmax(&(student / temperature)?)?;
    // Computed from the teacher's logits so that a zero probability contributes 0, not NaN.
    let log_p = log_softmax(&(teacher.detach() / temperature)?)?;
    let p = log_p.exp()?;
    let n = student.dim(0)? as f64;
    (p * (log_p - log_q)?)?.sum_all()? / n
}

/// Mean cross-entropy of `[N, classes]` logits against `[N]` u32 labels.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let picked = log_softmax(logits)?.gather(&labels.unsqueeze(1)?, 1)?;
    picked.mean_all()?.neg()
}

/// The combined loss; the `T^2` factor keeps the KL gradients on the scale of the
/// cross-entropy's whatever the temperature.
pub fn loss(
    student: &Tensor,
    teacher: &Tensor,
    labels: Option<&Tensor>,
    temperature: f64,
    alpha: f64,
) -> Result<Tensor> {
    let soft = (kl(student, teacher, temperature)? * (temperature * temperature))?;
    match labels {
        Some(y) => (soft * alpha)? + (cross_entropy(student, y)? * (1.0 - alpha))?,
        None => Ok(soft),
    }
}
