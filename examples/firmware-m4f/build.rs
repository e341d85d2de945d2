//! Copies memory.x for the linker, checks the embedded files, writes the arena size.
include!("../firmware-common/firmware-build.rs");
