//! Runs every int8 convolution and fully connected variant the Cortex-M4F runs (the Cortex-M
//! DSP one among them) against the reference on many pseudo-random shapes, on QEMU's
//! `mps2-an386`, and every variant of the convolutions over widened weights (the `widened4`
//! layout) where the layout covers the shape. Exits with status 1 at the first output that differs by a single bit, after
//! printing the case; otherwise prints the instructions each variant takes on the layers of
//! the keyword-spotting model (DS-CNN) and exits with status 0.
#![no_std]
#![no_main]

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use semihosting::println;
use semihosting::process::exit;
use whittle_runtime::format::ConvGeometry;
use whittle_runtime::kernels::Variant;
use whittle_runtime::kernels::conv::{
    QuantOut, conv2d_i8_variant, conv2d_i8_widened_variant, pack_widened, widened_len, widens,
};
use whittle_runtime::kernels::dense::{DenseShape, dense_i8_variant};

/// Random convolutions checked.
const CONV_CASES: u32 = 1500;
/// Random fully connected layers checked.
const DENSE_CASES: u32 = 1000;
/// Capacity of each buffer, in elements.
const CAPACITY: usize = 16 * 1024;
/// Output channels at most (requantization tables).
const MAX_CHANNELS: usize = 80;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn pick(&mut self, lo: u32, hi: u32) -> u32 {
        self.range(i64::from(lo), i64::from(hi)) as u32
    }

    /// int8 values from `lo`, extremes over-represented.
    fn fill(&mut self, out: &mut [i8], lo: i8) {
        for v in out {
            *v = match self.next() % 8 {
                0 => lo,
                1 => 127,
                _ => self.range(i64::from(lo), 127) as i8,
            };
        }
    }
}

/// The operands of every case.
struct Data {
    input: [i8; CAPACITY],
    weights: [i8; CAPACITY],
    /// The weights widened, for the covered convolutions.
    widened: [u32; CAPACITY],
    bias: [i32; MAX_CHANNELS],
    multipliers: [i32; MAX_CHANNELS],
    shifts: [i8; MAX_CHANNELS],
}

/// Quantization parameters of one case: zero points and activation range lean towards their
/// extremes, multipliers are per tensor or per channel, biases absent, small or huge.
struct Quant {
    input_zp: i32,
    output_zp: i32,
    per_channel: bool,
    has_bias: bool,
    act: (i8, i8),
}

impl Quant {
    fn random(rng: &mut Rng, data: &mut Data, channels: usize) -> Self {
        let zp = |rng: &mut Rng| match rng.next() % 4 {
            0 => -128,
            1 => 127,
            _ => rng.range(-128, 127) as i32,
        };
        let style = rng.next();
        for c in 0..channels {
            data.multipliers[c] = rng.range(1 << 30, i64::from(i32::MAX)) as i32;
            data.shifts[c] = rng.range(-14, 3) as i8;
            data.bias[c] = match (style >> 1) & 3 {
                0 | 1 => rng.range(-40_000, 40_000) as i32,
                // Near the int32 limits: the accumulator wraps.
                2 => rng.next() as i32,
                _ => i32::MAX,
            };
        }
        let act = if style & 8 == 0 {
            (-128, 127)
        } else {
            let (a, c) = (rng.range(-128, 127) as i8, rng.range(-128, 127) as i8);
            (a.min(c), a.max(c))
        };
        Self {
            input_zp: zp(rng),
            output_zp: zp(rng),
            per_channel: style & 1 == 1,
            has_bias: (style >> 1) & 3 != 0,
            act,
        }
    }

    fn out<'a>(&self, data: &'a Data, channels: usize) -> QuantOut<'a> {
        let n = if self.per_channel { channels } else { 1 };
        QuantOut {
            input_zp: self.input_zp,
            output_zp: self.output_zp,
            multipliers: &data.multipliers[..n],
            shifts: &data.shifts[..n],
            act_min: self.act.0,
            act_max: self.act.1,
        }
    }

    fn bias<'a>(&self, data: &'a Data, channels: usize) -> Option<&'a [i32]> {
        self.has_bias.then_some(&data.bias[..channels])
    }
}

/// One operator call: a geometry and its quantization, over [`Data`].
trait Case {
    /// Output elements.
    fn output_len(&self) -> usize;
    /// Runs `variant` into `out`.
    fn run(&self, variant: Variant, data: &Data, out: &mut [i8]);
    /// Prints the case.
    fn describe(&self);
}

/// A convolution case.
struct Conv(ConvGeometry, Quant);

/// Input, weight and output lengths of `g`.
fn conv_lengths(g: &ConvGeometry) -> [usize; 3] {
    let input = g.batch * g.in_h * g.in_w * g.in_c;
    let weights = g.out_c * g.kernel_h * g.kernel_w * (g.in_c / g.groups);
    let output = g.batch * g.out_h * g.out_w * g.out_c;
    [input, weights, output].map(|n| n as usize)
}

impl Case for Conv {
    fn output_len(&self) -> usize {
        conv_lengths(&self.0)[2]
    }

    fn run(&self, variant: Variant, data: &Data, out: &mut [i8]) {
        let Conv(g, q) = self;
        let [i, w, _] = conv_lengths(g);
        let c = g.out_c as usize;
        let (input, weights) = (&data.input[..i], &data.weights[..w]);
        let result = conv2d_i8_variant(
            variant,
            g,
            &q.out(data, c),
            input,
            weights,
            q.bias(data, c),
            out,
        );
        if result.is_err() {
            println!("{variant:?} refused consistent lengths");
            exit(1);
        }
    }

    fn describe(&self) {
        let Conv(g, q) = self;
        println!("{g:?}");
        describe_quant(q);
    }
}

/// A fully connected case.
struct Dense(DenseShape, Quant);

impl Case for Dense {
    fn output_len(&self) -> usize {
        (self.0.rows * self.0.out_features) as usize
    }

    fn run(&self, variant: Variant, data: &Data, out: &mut [i8]) {
        let Dense(s, q) = self;
        let c = s.out_features as usize;
        let input = &data.input[..(s.rows * s.in_features) as usize];
        let weights = &data.weights[..(s.out_features * s.in_features) as usize];
        let result = dense_i8_variant(
            variant,
            *s,
            &q.out(data, c),
            input,
            weights,
            q.bias(data, c),
            out,
        );
        if result.is_err() {
            println!("{variant:?} refused consistent lengths");
            exit(1);
        }
    }

    fn describe(&self) {
        let Dense(s, q) = self;
        println!("{s:?}");
        describe_quant(q);
    }
}

fn describe_quant(q: &Quant) {
    println!(
        "input_zp {} output_zp {} per_channel {} bias {} act {:?}",
        q.input_zp, q.output_zp, q.per_channel, q.has_bias, q.act
    );
}

/// A random convolution geometry whose buffers fit: any grouping, kernel, stride, dilation
/// and padding.
fn random_geometry(rng: &mut Rng) -> Option<ConvGeometry> {
    let (groups, in_per_group, out_per_group) = match rng.next() % 4 {
        0 => (1, rng.pick(1, 20), rng.pick(1, 20)),
        1 => (rng.pick(1, 40), 1, 1),
        2 => (rng.pick(1, 8), 1, 2),
        _ => (rng.pick(2, 3), rng.pick(1, 6), rng.pick(1, 6)),
    };
    let [k_h, k_w] = [rng.pick(1, 4), rng.pick(1, 4)];
    let [s_h, s_w] = [rng.pick(1, 3), rng.pick(1, 3)];
    let [d_h, d_w] = [rng.pick(1, 3), rng.pick(1, 3)];
    let [in_h, in_w] = [rng.pick(1, 9), rng.pick(1, 9)];
    let pad_top = rng.pick(0, 3).min(d_h * (k_h - 1));
    let pad_left = rng.pick(0, 3).min(d_w * (k_w - 1));
    let (mut pad_bottom, mut pad_right) = (rng.pick(0, 3), rng.pick(0, 3));
    let out_len = |input: u32, k: u32, s: u32, d: u32, before: u32, after: &mut u32| {
        let span = d * (k - 1) + 1;
        // Enough padding after for one output at least.
        *after = (*after).max(span.saturating_sub(input + before));
        (input + before + *after - span) / s + 1
    };
    let out_h = out_len(in_h, k_h, s_h, d_h, pad_top, &mut pad_bottom);
    let out_w = out_len(in_w, k_w, s_w, d_w, pad_left, &mut pad_right);
    let g = ConvGeometry {
        batch: rng.pick(1, 2),
        in_h,
        in_w,
        in_c: in_per_group * groups,
        out_h,
        out_w,
        out_c: out_per_group * groups,
        kernel_h: k_h,
        kernel_w: k_w,
        stride_h: s_h,
        stride_w: s_w,
        dilation_h: d_h,
        dilation_w: d_w,
        pad_top,
        pad_left,
        pad_bottom,
        pad_right,
        groups,
    };
    let fits =
        conv_lengths(&g).iter().all(|&n| n <= CAPACITY) && (g.out_c as usize) <= MAX_CHANNELS;
    fits.then_some(g)
}

/// Runs `case` with every variant; exits with status 1 when one differs from the reference.
fn check(case: &impl Case, data: &Data, expected: &mut [i8], got: &mut [i8]) {
    let n = case.output_len();
    let (expected, got) = (&mut expected[..n], &mut got[..n]);
    case.run(Variant::Reference, data, expected);
    for &variant in Variant::ALL {
        got.fill(0x55);
        case.run(variant, data, got);
        if let Some(at) = got.iter().zip(expected.iter()).position(|(g, e)| g != e) {
            println!(
                "MISMATCH: {variant:?} gives {} at output {at}, the reference {}",
                got[at], expected[at]
            );
            case.describe();
            exit(1);
        }
    }
}

/// Widens the weights of `conv` into `data.widened`; the words' length, or `None` when the
/// layout does not cover the shape.
fn widen(conv: &Conv, data: &mut Data) -> Option<usize> {
    let g = &conv.0;
    if !widens(g) {
        return None;
    }
    let words = widened_len(g).ok().filter(|&n| n <= CAPACITY)?;
    let [_, w, _] = conv_lengths(g);
    if pack_widened(g, &data.weights[..w], &mut data.widened[..words]).is_err() {
        println!("packing refused consistent lengths");
        exit(1);
    }
    Some(words)
}

/// `conv` over its widened weights (`words` of them) with `variant`.
fn run_widened(conv: &Conv, words: usize, variant: Variant, data: &Data, out: &mut [i8]) {
    let Conv(g, q) = conv;
    let [i, _, _] = conv_lengths(g);
    let c = g.out_c as usize;
    let result = conv2d_i8_widened_variant(
        variant,
        g,
        &q.out(data, c),
        &data.input[..i],
        &data.widened[..words],
        q.bias(data, c),
        out,
    );
    if result.is_err() {
        println!("widened {variant:?} refused consistent lengths");
        exit(1);
    }
}

/// Runs `conv` over widened weights with every variant; exits with status 1 when one differs
/// from the reference over the reference weights. Whether the layout covered the shape.
fn check_widened(conv: &Conv, data: &mut Data, expected: &mut [i8], got: &mut [i8]) -> bool {
    let Some(words) = widen(conv, data) else {
        return false;
    };
    let n = conv.output_len();
    let (expected, got) = (&mut expected[..n], &mut got[..n]);
    conv.run(Variant::Reference, data, expected);
    for &variant in Variant::ALL {
        got.fill(0x55);
        run_widened(conv, words, variant, data, got);
        if let Some(at) = got.iter().zip(expected.iter()).position(|(g, e)| g != e) {
            println!(
                "MISMATCH: widened {variant:?} gives {} at output {at}, the reference {}",
                got[at], expected[at]
            );
            conv.describe();
            exit(1);
        }
    }
    true
}

/// Counts instructions with SysTick: QEMU's MPS2 clock is 25 MHz and `-icount shift=0` makes
/// each instruction 1 ns, so a tick is 40 instructions. The 24-bit counter wraps after 671 M
/// instructions, more than any timed call takes.
struct Counter(SYST);

impl Counter {
    const INSTRUCTIONS_PER_TICK: u32 = 40;
    const RELOAD: u32 = 0x00FF_FFFF;

    fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(Self::RELOAD);
        syst.clear_current();
        syst.enable_counter();
        while SYST::get_current() == 0 {
            core::hint::spin_loop();
        }
        Self(syst)
    }

    /// Instructions `f` takes.
    fn count(&self, f: impl FnOnce()) -> u32 {
        let start = SYST::get_current();
        f();
        let end = SYST::get_current();
        (start.wrapping_sub(end) & Self::RELOAD) * Self::INSTRUCTIONS_PER_TICK
    }
}

/// The int8 layers of the MLPerf Tiny keyword-spotting DS-CNN (49x10 MFCC input, 64 channels).
fn keyword_spotting_layers() -> [(&'static str, ConvGeometry, u32); 3] {
    let conv =
        |in_hw: [u32; 2], in_c, out_c, k: [u32; 2], s, pads: [u32; 4], groups| ConvGeometry {
            batch: 1,
            in_h: in_hw[0],
            in_w: in_hw[1],
            in_c,
            out_h: 25,
            out_w: 5,
            out_c,
            kernel_h: k[0],
            kernel_w: k[1],
            stride_h: s,
            stride_w: s,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pads[0],
            pad_left: pads[1],
            pad_bottom: pads[2],
            pad_right: pads[3],
            groups,
        };
    [
        (
            "first 10x4 stride 2",
            conv([49, 10], 1, 64, [10, 4], 2, [4, 1, 5, 1], 1),
            1,
        ),
        (
            "depthwise 3x3",
            conv([25, 5], 64, 64, [3, 3], 1, [1; 4], 64),
            4,
        ),
        (
            "pointwise 1x1",
            conv([25, 5], 64, 64, [1, 1], 1, [0; 4], 1),
            4,
        ),
    ]
}

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        println!("the core peripherals are taken");
        exit(1);
    };
    let counter = Counter::start(peripherals.SYST);
    let mut data = Data {
        input: [0; CAPACITY],
        weights: [0; CAPACITY],
        widened: [0; CAPACITY],
        bias: [0; MAX_CHANNELS],
        multipliers: [0; MAX_CHANNELS],
        shifts: [0; MAX_CHANNELS],
    };
    let (mut expected, mut got) = ([0i8; CAPACITY], [0i8; CAPACITY]);
    println!(
        "variants: {:?}; the interpreter runs {:?}",
        Variant::ALL,
        Variant::BEST
    );
    let mut rng = Rng(0x0005_EED0_FD5B);
    let (mut convs, mut widened) = (0, 0);
    while convs < CONV_CASES {
        let Some(g) = random_geometry(&mut rng) else {
            continue;
        };
        let [i, w, _] = conv_lengths(&g);
        rng.fill(&mut data.input[..i], -128);
        // Symmetric weights, with -128 now and then.
        let lowest = if rng.next().is_multiple_of(4) {
            -128
        } else {
            -127
        };
        rng.fill(&mut data.weights[..w], lowest);
        let q = Quant::random(&mut rng, &mut data, g.out_c as usize);
        let conv = Conv(g, q);
        check(&conv, &data, &mut expected, &mut got);
        if check_widened(&conv, &mut data, &mut expected, &mut got) {
            widened += 1;
        }
        convs += 1;
    }
    println!("{convs} random convolutions: every variant equals the reference");
    println!("{widened} of them widened: every variant equals the reference");
    if widened < CONV_CASES / 10 {
        println!("too few widened cases: {widened}");
        exit(1);
    }
    for case in 0..DENSE_CASES {
        let shape = DenseShape {
            rows: rng.pick(1, 3),
            in_features: rng.pick(if case == 0 { 0 } else { 1 }, 100),
            out_features: rng.pick(1, MAX_CHANNELS as u32),
        };
        rng.fill(
            &mut data.input[..(shape.rows * shape.in_features) as usize],
            -128,
        );
        let w = (shape.out_features * shape.in_features) as usize;
        rng.fill(&mut data.weights[..w], -127);
        let q = Quant::random(&mut rng, &mut data, shape.out_features as usize);
        check(&Dense(shape, q), &data, &mut expected, &mut got);
    }
    println!("{DENSE_CASES} random fully connected layers: every variant equals the reference");

    // The keyword-spotting layers: checked too, and timed.
    let mut total = [0u64; 8];
    for (name, g, repeats) in keyword_spotting_layers() {
        let [i, w, _] = conv_lengths(&g);
        rng.fill(&mut data.input[..i], -128);
        rng.fill(&mut data.weights[..w], -127);
        let q = Quant::random(&mut rng, &mut data, g.out_c as usize);
        let case = Conv(g, q);
        check(&case, &data, &mut expected, &mut got);
        let n = case.output_len();
        for (k, &variant) in Variant::ALL.iter().enumerate() {
            let cost = counter.count(|| case.run(variant, &data, &mut got[..n]));
            total[k] += u64::from(cost) * u64::from(repeats);
            println!("cost: {name} x{repeats}: {variant:?} {cost} instructions each");
        }
        if check_widened(&case, &mut data, &mut expected, &mut got) {
            let words = widen(&case, &mut data).unwrap_or(0);
            for &variant in Variant::ALL {
                let cost =
                    counter.count(|| run_widened(&case, words, variant, &data, &mut got[..n]));
                println!("cost: {name} x{repeats}: widened {variant:?} {cost} instructions each");
            }
        }
    }
    for (k, variant) in Variant::ALL.iter().enumerate() {
        println!(
            "cost: keyword-spotting convolutions: {variant:?} {} instructions",
            total[k]
        );
    }
    println!("PASS");
    exit(0)
}
