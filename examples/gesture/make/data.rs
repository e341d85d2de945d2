//! Synthetic accelerometer gestures from a seeded PCG32 generator.

use super::{AXES, CLASSES, RATE_HZ, SEED, STEPS};
use std::f32::consts::TAU;

// ---------------------------------------------------------------------------------------------
// Random numbers: PCG32 (O'Neill), so the data does not depend on any crate's generator.

pub struct Pcg32 {
    pub state: u64,
    pub inc: u64,
}

impl Pcg32 {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Pcg32 {
            state: 0,
            inc: (stream << 1) | 1,
        };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((u64::from(self.next_u32()) * n as u64) >> 32) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
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
pub fn sample(f: impl Fn(f32) -> [f32; AXES]) -> Motion {
    std::array::from_fn(|i| f(i as f32 / RATE_HZ))
}

/// The motion part of one gesture (no gravity, no noise), in the gesture's own frame.
pub fn motion(class: usize, rng: &mut Pcg32) -> Motion {
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
pub fn add_pulse(m: &mut Motion, center: f32, width: f32, amp: [f32; AXES]) {
    for (i, v) in m.iter_mut().enumerate() {
        let d = (i as f32 - center) / width;
        let p = -d * (0.5 * (1.0 - d * d)).exp();
        for (x, a) in v.iter_mut().zip(amp) {
            *x += a * p;
        }
    }
}

/// Rotation matrix from small Euler angles (radians).
pub fn rotation(rx: f32, ry: f32, rz: f32) -> [[f32; 3]; 3] {
    let (sx, cx) = rx.sin_cos();
    let (sy, cy) = ry.sin_cos();
    let (sz, cz) = rz.sin_cos();
    [
        [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz],
        [cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz],
        [-sy, sx * cy, cx * cy],
    ]
}

/// Recording conditions of a window, as stored in the `segment` array: a knock adds 1, a
/// drift adds 2, so 0 = clean, 1 = knock only, 2 = drift only, 3 = both.
pub fn segment(knock: bool, drift: bool) -> i64 {
    i64::from(knock) + 2 * i64::from(drift)
}

/// One labelled window and its segment: the gesture, slightly rotated, plus tilted gravity,
/// sensor noise and sometimes a knock or a slow drift, so the classes overlap a little as real
/// recordings do. `disturbed` forces both the knock and the drift; the chance draws are still
/// taken, so the random stream, and with it every other set, stays the same either way.
pub fn window(class: usize, disturbed: bool, rng: &mut Pcg32) -> (Window, i64) {
    let mut m = motion(class, rng);
    // A quarter of all windows carry a small knock, so a spike alone does not mean "flick".
    // The chance is drawn even when forced (here and for the drift), to keep the stream.
    let knock = rng.below(4) == 0;
    let knock = knock || disturbed;
    if knock {
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
    let drift = drift || disturbed;
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
    (w, segment(knock, drift))
}

/// A data set as written to `.npz`: x flattened [n, 3, 64] (already rounded to float16, the
/// precision it is stored at), labels and the segment of every window.
pub struct DataSet {
    pub x: Vec<f32>,
    pub y: Vec<i64>,
    pub segment: Vec<i64>,
}

/// A class-balanced, shuffled data set from its own random stream; `disturbed` gives every
/// window both a knock and a drift (see [`window`]).
pub fn dataset(n: usize, stream: u64, disturbed: bool) -> DataSet {
    let mut rng = Pcg32::new(SEED, stream);
    let mut y: Vec<i64> = (0..n).map(|i| (i % CLASSES.len()) as i64).collect();
    rng.shuffle(&mut y);
    let mut x = Vec::with_capacity(n * AXES * STEPS);
    let mut segment = Vec::with_capacity(n);
    for &label in &y {
        let (w, seg) = window(label as usize, disturbed, &mut rng);
        x.extend(w.iter().flatten().map(|&v| half::f16::from_f32(v).to_f32()));
        segment.push(seg);
    }
    DataSet { x, y, segment }
}
