/work/main/tests/nofpu-probe/target/thumbv7m-none-eabi/release/deps/whittle_nofpu_probe-cb5b2ba87b0c126c.d: src/main.rs Cargo.toml

/work/main/tests/nofpu-probe/target/thumbv7m-none-eabi/release/deps/libwhittle_nofpu_probe-cb5b2ba87b0c126c.rmeta: src/main.rs Cargo.toml

src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
