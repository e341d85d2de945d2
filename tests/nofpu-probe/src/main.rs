//! Calls every int8 kernel of whittle-runtime with opaque inputs, so that the linked image
//! holds exactly the code those kernels need. Built for `thumbv7m-none-eabi` (Cortex-M3, no
//! FPU): any float operation would pull in a soft-float routine (`__aeabi_f*`, `__aeabi_d*`).
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use whittle_runtime::format::{BinaryKindI8, ConvGeometry, PoolGeometry, PoolKind, Shape};
use whittle_runtime::kernels::{
    self, Src, binary::QuantBinary, conv::QuantOut, copy::BlockCopy, dense::DenseShape,
};

static mut INPUT: [i8; 64] = [0; 64];
static mut OUTPUT: [i8; 64] = [0; 64];
static mut WIDE: [i32; 16] = [0; 16];
static mut TABLE: [u16; 16] = [0; 16];
static mut LUT: [i8; 256] = [0; 256];
static mut PARAMS: [u32; 32] = [1; 32];

/// A value the compiler cannot see through.
fn opaque(i: usize) -> u32 {
    // SAFETY: reads an element of a static array by value; nothing else accesses it concurrently
    // (single-threaded probe, never run).
    unsafe { read_volatile(core::ptr::addr_of!(PARAMS).cast::<u32>().add(i % 32)) }
}

fn conv_geometry() -> ConvGeometry {
    let v = |i| opaque(i);
    ConvGeometry {
        batch: v(0),
        in_h: v(1),
        in_w: v(2),
        in_c: v(3),
        out_h: v(4),
        out_w: v(5),
        out_c: v(6),
        kernel_h: v(7),
        kernel_w: v(8),
        stride_h: v(9),
        stride_w: v(10),
        dilation_h: v(11),
        dilation_w: v(12),
        pad_top: v(13),
        pad_left: v(14),
        pad_bottom: v(15),
        pad_right: v(16),
        groups: v(17),
    }
}

fn pool_geometry() -> PoolGeometry {
    let v = |i| opaque(i);
    PoolGeometry {
        batch: v(0),
        in_h: v(1),
        in_w: v(2),
        channels: v(3),
        out_h: v(4),
        out_w: v(5),
        kernel_h: v(7),
        kernel_w: v(8),
        stride_h: v(9),
        stride_w: v(10),
        dilation_h: v(11),
        dilation_w: v(12),
        pad_top: v(13),
        pad_left: v(14),
        pad_bottom: v(15),
        pad_right: v(16),
    }
}

/// The probe's buffers, borrowed once.
struct Buffers {
    input: &'static [i8; 64],
    output: &'static mut [i8; 64],
    wide: &'static [i32; 16],
    table: &'static [u16; 16],
    lut: &'static [i8; 256],
}

// Each kernel is called from its own never-inlined `probe_*` function so that the image keeps
// one symbol per kernel: the test checks they are all present, whatever LTO inlines below them.

#[inline(never)]
fn probe_conv2d_i8(b: &mut Buffers, q: &QuantOut<'_>) {
    let _ = kernels::conv::conv2d_i8(
        &conv_geometry(),
        q,
        b.input,
        b.input,
        Some(&b.wide[..]),
        b.output,
    );
}

#[inline(never)]
fn probe_dense_i8(b: &mut Buffers, q: &QuantOut<'_>) {
    let shape = DenseShape {
        rows: opaque(1),
        in_features: opaque(2),
        out_features: opaque(3),
    };
    let _ = kernels::dense::dense_i8(shape, q, b.input, b.input, Some(&b.wide[..]), b.output);
}

#[inline(never)]
fn probe_binary_i8(b: &mut Buffers, n: usize) {
    let s = Shape::new(&[opaque(4), opaque(5)]).unwrap_or(Shape::new(&[]).unwrap_or_else(|| {
        loop {
            core::hint::spin_loop()
        }
    }));
    for kind in [BinaryKindI8::Add, BinaryKindI8::Sub, BinaryKindI8::Mul] {
        let params = QuantBinary {
            kind,
            zero_points: [opaque(6) as i32; 3],
            a_scale: (opaque(7) as i32, opaque(8) as i32),
            b_scale: (opaque(9) as i32, opaque(10) as i32),
            out_scale: (opaque(11) as i32, opaque(12) as i32),
            left_shift: 20,
            act_min: -128,
            act_max: 127,
        };
        let _ = kernels::binary::binary_i8(
            &params,
            [&s, &s, &s],
            Src::Slice(&b.input[..n]),
            Src::Output,
            &mut b.output[..n],
        );
    }
}

#[inline(never)]
fn probe_pool_i8(b: &mut Buffers) {
    for kind in [
        PoolKind::Max,
        PoolKind::Avg {
            count_include_pad: opaque(13) != 0,
        },
    ] {
        let _ = kernels::pool::pool2d_i8(
            kind,
            &pool_geometry(),
            opaque(14) as i32,
            (-128, 127),
            b.input,
            b.output,
        );
        let _ =
            kernels::pool::global_pool_i8(kind, opaque(1), opaque(2), opaque(3), b.input, b.output);
    }
}

#[inline(never)]
fn probe_softmax_i8(b: &mut Buffers) {
    let _ = kernels::softmax::softmax_i8(
        opaque(1),
        opaque(2),
        opaque(3),
        &b.table[..opaque(4) as usize % 16],
        b.input,
        b.output,
    );
}

#[inline(never)]
fn probe_lookup_i8(b: &mut Buffers) {
    let _ = kernels::lookup::lookup_i8(b.lut, Src::Slice(b.input), b.output);
}

#[inline(never)]
fn probe_requantize_i8(b: &mut Buffers) {
    let _ = kernels::quantize::requantize_i8(
        (opaque(5) as i32, opaque(6) as i32),
        (opaque(7) as i32, opaque(8) as i32),
        Src::Output,
        b.output,
    );
}

#[inline(never)]
fn probe_copy_blocks() {
    let copy = BlockCopy {
        blocks: opaque(1),
        block: opaque(2),
        src_offset: 0,
        src_stride: opaque(3),
        dst_offset: 0,
        dst_stride: opaque(4),
    };
    // SAFETY: reinterpreting the int8 statics as bytes (same size, alignment 1); the probe is
    // single-threaded and no other reference to them is live during this call.
    let (bytes_in, bytes_out) = unsafe {
        (
            &*core::ptr::addr_of!(INPUT).cast::<[u8; 64]>(),
            &mut *core::ptr::addr_of_mut!(OUTPUT).cast::<[u8; 64]>(),
        )
    };
    let _ = kernels::copy::copy_blocks(&copy, bytes_in, bytes_out);
}

/// The positive control: a float kernel, which must pull in soft-float routines.
#[cfg(feature = "control")]
#[inline(never)]
fn probe_quantize_f32(b: &mut Buffers) {
    let floats = [opaque(30) as f32; 4];
    let _ =
        kernels::quantize::quantize_f32(f32::from_bits(opaque(31)), 0, &floats, &mut b.output[..4]);
}

#[unsafe(no_mangle)]
pub extern "C" fn reset() -> ! {
    let n = opaque(20) as usize % 64;
    let shifts = [opaque(21) as i8; 4];
    {
        // SAFETY: the probe is single-threaded and never runs; these are the only references
        // to the statics while they live (they end before `probe_copy_blocks`).
        let mut b = unsafe {
            Buffers {
                input: &*core::ptr::addr_of!(INPUT),
                output: &mut *core::ptr::addr_of_mut!(OUTPUT),
                wide: &*core::ptr::addr_of!(WIDE),
                table: &*core::ptr::addr_of!(TABLE),
                lut: &*core::ptr::addr_of!(LUT),
            }
        };
        let wide: &'static [i32; 16] = b.wide;
        let q = QuantOut {
            input_zp: opaque(22) as i32,
            output_zp: opaque(23) as i32,
            multipliers: &wide[..4],
            shifts: &shifts,
            act_min: -128,
            act_max: 127,
        };
        probe_conv2d_i8(&mut b, &q);
        probe_dense_i8(&mut b, &q);
        probe_binary_i8(&mut b, n);
        probe_pool_i8(&mut b);
        probe_softmax_i8(&mut b);
        probe_lookup_i8(&mut b);
        probe_requantize_i8(&mut b);
        #[cfg(feature = "control")]
        probe_quantize_f32(&mut b);
    }
    probe_copy_blocks();
    // SAFETY: a volatile read and write keep the results observable; single-threaded, no live
    // reference to OUTPUT.
    unsafe {
        let out = core::ptr::addr_of_mut!(OUTPUT).cast::<i8>();
        write_volatile(out, read_volatile(out.add(n)));
    }
    loop {
        core::hint::spin_loop()
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop()
    }
}
