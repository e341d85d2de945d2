//! Builds the bundled gesture example: synthesizes accelerometer windows, trains a small 1-D
//! CNN with candle, exports it to ONNX and writes the data sets next to it.
//!
//! Run with `cargo run -p whittle --example make-gesture`. Everything is seeded, so a rerun
//! reproduces the same files.

mod data;
mod export;
mod model;

use data::{DataSet, dataset};
use export::export;
use model::{Net, accuracy, predict, train};

use anyhow::{Result, ensure};
use candle_core::Device;
use std::io::Write;
use std::path::Path;
use whittle::tensor::Tensor as WTensor;

const CLASSES: [&str; 5] = ["idle", "wave", "circle", "flick", "lift"];
const AXES: usize = 3;
const STEPS: usize = 64;
const RATE_HZ: f32 = 50.0;
/// Every random stream derives from this seed: data splits use streams 1-3, the edge set 4,
/// weight initialization 7, batch shuffling 11.
const SEED: u64 = 0x5EED;
const SPLITS: [(&str, usize, u64); 3] = [("train", 1500, 1), ("val", 500, 2), ("test", 500, 3)];
/// The edge set: hard windows, each with both a knock and a drift, on which a compressed model
/// should still agree with the float one. Its own stream, so the splits stay as they are.
const EDGE: (&str, usize, u64) = ("edge", 50, 4);
const SAMPLES: usize = 8;

const EPOCHS: usize = 40;
const BATCH: usize = 64;
const LR: f64 = 3e-3;
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

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

/// `x` as float16, `y` and `segment` as int64, deflated, with fixed timestamps for
/// reproducible bytes.
fn write_npz(path: &Path, set: &DataSet) -> Result<()> {
    let x_body: Vec<u8> = set
        .x
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let int64 = |v: &[i64]| -> Vec<u8> { v.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let n = set.y.len();
    let arrays = [
        ("x.npy", npy("<f2", &[n, AXES, STEPS], &x_body)),
        ("y.npy", npy("<i8", &[n], &int64(&set.y))),
        ("segment.npy", npy("<i8", &[n], &int64(&set.segment))),
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
        let set = dataset(n, stream, false);
        write_npz(&dir.join(format!("data/{name}.npz")), &set)?;
        sets.push((set.x, set.y));
    }
    let [(x_train, y_train), (x_val, y_val), (x_test, y_test)] =
        <[_; 3]>::try_from(sets).expect("three splits");
    let (name, n, stream) = EDGE;
    let edge = dataset(n, stream, true);
    write_npz(&dir.join(format!("data/{name}.npz")), &edge)?;

    let mut net = Net::new(&dev)?;
    train(&mut net, &x_train, &y_train, &dev)?;
    let (acc_train, _) = accuracy(&predict(&mut net, &x_train, &dev)?, &y_train)?;
    let (acc_val, _) = accuracy(&predict(&mut net, &x_val, &dev)?, &y_val)?;
    let (acc_test, pred_test) = accuracy(&predict(&mut net, &x_test, &dev)?, &y_test)?;
    println!("float accuracy: train {:.2}%", 100.0 * acc_train);
    println!("float accuracy: val   {:.2}%", 100.0 * acc_val);
    println!("float accuracy: test  {:.2}%", 100.0 * acc_test);
    let (acc_edge, _) = accuracy(&predict(&mut net, &edge.x, &dev)?, &edge.y)?;
    println!("float accuracy: edge  {:.2}%", 100.0 * acc_edge);
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
