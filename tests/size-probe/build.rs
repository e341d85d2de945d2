fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    println!("cargo:rustc-link-arg=-T{dir}/probe.ld");
    println!("cargo:rerun-if-changed=probe.ld");
}
