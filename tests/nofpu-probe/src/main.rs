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

#[unsafe(no_mangle)]
pub extern "C" fn reset() -> ! {
    // SAFETY: the probe is single-threaded and never runs; these are the only references to
    // the statics while they live.
    let (input, output, wide, table, lut) = unsafe {
        (
            &*core::ptr::addr_of!(INPUT),
            &mut *core::ptr::addr_of_mut!(OUTPUT),
            &*core::ptr::addr_of!(WIDE),
            &*core::ptr::addr_of!(TABLE),
            &*core::ptr::addr_of!(LUT),
        )
    };
    let n = opaque(20) as usize % 64;
    let shifts = [opaque(21) as i8; 4];
    let q = QuantOut {
        input_zp: opaque(22) as i32,
        output_zp: opaque(23) as i32,
        multipliers: &wide[..4],
        shifts: &shifts,
        act_min: -128,
        act_max: 127,
    };
    let _ = kernels::conv::conv2d_i8(&conv_geometry(), &q, input, input, Some(&wide[..]), output);
    let shape = DenseShape {
        rows: opaque(1),
        in_features: opaque(2),
        out_features: opaque(3),
    };
    let _ = kernels::dense::dense_i8(shape, &q, input, input, Some(&wide[..]), output);
    let s =
        Shape::new(&[opaque(4), opaque(5)]).unwrap_or(Shape::new(&[]).unwrap_or_else(|| loop {}));
    for kind in [BinaryKindI8::Add, BinaryKindI8::Sub, BinaryKindI8::Mul] {
        let b = QuantBinary {
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
            &b,
            [&s, &s, &s],
            Src::Slice(&input[..n]),
            Src::Output,
            &mut output[..n],
        );
    }
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
            input,
            output,
        );
        let _ = kernels::pool::global_pool_i8(kind, opaque(1), opaque(2), opaque(3), input, output);
    }
    let _ = kernels::softmax::softmax_i8(
        opaque(1),
        opaque(2),
        opaque(3),
        &table[..opaque(4) as usize % 16],
        input,
        output,
    );
    let _ = kernels::lookup::lookup_i8(lut, Src::Slice(input), output);
    let _ = kernels::quantize::requantize_i8(
        (opaque(5) as i32, opaque(6) as i32),
        (opaque(7) as i32, opaque(8) as i32),
        Src::Output,
        output,
    );
    let copy = BlockCopy {
        blocks: opaque(1),
        block: opaque(2),
        src_offset: 0,
        src_stride: opaque(3),
        dst_offset: 0,
        dst_stride: opaque(4),
    };
    // SAFETY: reinterpreting the int8 statics as bytes; same size and alignment 1.
    let (bytes_in, bytes_out) = unsafe {
        (
            &*core::ptr::addr_of!(INPUT).cast::<[u8; 64]>(),
            &mut *core::ptr::addr_of_mut!(OUTPUT).cast::<[u8; 64]>(),
        )
    };
    let _ = kernels::copy::copy_blocks(&copy, bytes_in, bytes_out);
    #[cfg(feature = "control")]
    {
        let floats = [opaque(30) as f32; 4];
        let _ = kernels::quantize::quantize_f32(
            f32::from_bits(opaque(31)),
            0,
            &floats,
            &mut output[..4],
        );
    }
    // SAFETY: a volatile write keeps the results observable; single-threaded.
    unsafe { write_volatile(core::ptr::addr_of_mut!(OUTPUT).cast::<i8>(), output[n]) };
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
