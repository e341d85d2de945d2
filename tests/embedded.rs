//! An artifact embedded the way firmware does it (`include_model!`), and the committed copy
//! kept identical to what the compiler produces today.

use whittle::CompileOptions;
use whittle_runtime::{AlignedArena, Interpreter, Model};
use whittle_tests::{npy, workspace_root};

static GESTURE: &[u8] = whittle_runtime::include_model!("fixtures/gesture-cortex-m4f.wtl");

#[test]
fn included_model_is_aligned_and_runs_in_place() {
    assert_eq!(GESTURE.as_ptr() as usize % 16, 0);
    let model = Model::load_for_target(GESTURE, "cortex-m4f").expect("load");
    assert!(
        model.weights().as_ptr() >= GESTURE.as_ptr(),
        "weights are read in place"
    );
    let mut arena = AlignedArena::<8192>::new();
    assert!(model.arena_bytes() <= 8192);
    let mut interp = Interpreter::new(&model, arena.as_mut_slice()).expect("arena");
    let samples = npy(&workspace_root().join("examples/gesture/sample.npy")).to_f32();
    let labels =
        std::fs::read_to_string(workspace_root().join("examples/gesture/sample_labels.txt"))
            .unwrap();
    let classes =
        std::fs::read_to_string(workspace_root().join("examples/gesture/classes.txt")).unwrap();
    let classes: Vec<&str> = classes.lines().collect();
    for (window, label) in samples.chunks(3 * 64).zip(labels.lines()) {
        let mut probs = [0.0f32; 5];
        interp
            .run::<f32>(&[window], &mut [&mut probs])
            .expect("run");
        let best = (0..5)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap();
        assert_eq!(classes[best], label);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn committed_artifact_matches_the_compiler() {
    let opts = CompileOptions {
        target: whittle::targets::Target::resolve("cortex-m4f").unwrap(),
        ..Default::default()
    };
    let fresh = whittle::compile_path(
        &workspace_root().join("examples/gesture/gesture.onnx"),
        &opts,
    )
    .expect("compile")
    .artifact;
    assert!(
        fresh == GESTURE,
        "tests/fixtures/gesture-cortex-m4f.wtl is stale; regenerate it with\n  whittle compile examples/gesture/gesture.onnx --target cortex-m4f -o tests/fixtures/gesture-cortex-m4f.wtl"
    );
}
