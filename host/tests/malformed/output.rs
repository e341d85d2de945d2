//! Outputs that cannot be written: the path is named and nothing is left behind, no partial
//! artifact and no temporary file.

use crate::{Sandbox, example, s};
use std::path::Path;

/// Whether the file system refuses this process a write into a read-only directory (it does
/// not for root, who is allowed everything).
fn permissions_enforced(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let refused = std::fs::write(&probe, b"").is_err();
    let _ = std::fs::remove_file(probe);
    refused
}

#[cfg(unix)]
fn read_only_dir(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = sb.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    dir
}

#[test]
fn unwritable_outputs_are_named_and_leave_nothing_behind() {
    let sb = Sandbox::new();
    let model = example().join("gesture.onnx");
    let compile = |out: &Path, words: &[&str]| {
        sb.refuse(&["compile", s(&model), "-o", s(out)], words);
    };
    compile(
        &sb.path("no-such-dir/model.wtl"),
        &["no-such-dir/model.wtl", "No such file or directory"],
    );
    sb.file("plain", b"a file, not a directory");
    compile(
        &sb.path("plain/model.wtl"),
        &["plain/model.wtl", "Not a directory"],
    );
    std::fs::create_dir(sb.path("taken.wtl")).unwrap();
    compile(&sb.path("taken.wtl"), &["taken.wtl", "directory"]);

    #[cfg(unix)]
    {
        let locked = read_only_dir(&sb, "locked");
        if permissions_enforced(&locked) {
            compile(
                &locked.join("model.wtl"),
                &["locked/model.wtl", "Permission denied"],
            );
        } else {
            println!("SKIPPED: read-only directory (permissions are not enforced for this user)");
        }
    }
}

/// A pipeline file for the example model that passes its (absent) gates, its artifact in `sb`.
fn pipeline_file(sb: &Sandbox) -> std::path::PathBuf {
    let ex = example();
    let text = format!(
        "[model]\npath = {:?}\n\n[data]\ncalibration = {:?}\nvalidation = {:?}\n\n\
         [target]\nprofile = \"cortex-m4f\"\n\n[quantize]\nscheme = \"int8\"\ncalibration = \"minmax\"\n\n\
         [output]\nartifact = {:?}\n",
        s(&ex.join("gesture.onnx")),
        s(&ex.join("data/train.npz")),
        s(&ex.join("data/val.npz")),
        s(&sb.path("model.wtl")),
    );
    sb.file("pipeline.toml", text.as_bytes())
}

#[test]
fn pipeline_report_dir_that_cannot_be_made_writes_no_artifact() {
    let sb = Sandbox::new();
    let config = pipeline_file(&sb);
    sb.file("plain", b"a file, not a directory");
    let reports = sb.path("plain/reports");
    sb.refuse(
        &["pipeline", s(&config), "--report-dir", s(&reports)],
        &["plain/reports", "Not a directory"],
    );
}
