//! Output and exit status through the emulator's semihosting (QEMU with
//! `-semihosting-config enable=on,target=native` prints to its own stdout and exits with the
//! status the firmware gives).

use crate::{Error, Verdict};
use core::fmt;
use semihosting::io::Write as _;

/// The host's standard output, as a [`fmt::Write`].
pub struct Console(semihosting::io::Stdout);

impl Console {
    /// Opens the host's standard output, or exits with status 1 when semihosting has none.
    pub fn open() -> Console {
        match semihosting::io::stdout() {
            Ok(stdout) => Console(stdout),
            Err(_) => exit(1),
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Ends the program with `status` (0 success) through semihosting.
pub fn exit(status: i32) -> ! {
    semihosting::process::exit(status)
}

/// Prints `error` (if any) as `error: ...`, then `verdict` as the last line, and exits: status
/// 0 when the verdict is a pass, 1 otherwise.
pub fn finish(out: &mut impl fmt::Write, verdict: &Verdict<'_>, error: Option<Error>) -> ! {
    if let Some(e) = error {
        let _ = writeln!(out, "error: {e}");
    }
    let _ = writeln!(out, "{verdict}");
    exit(if verdict.passed() { 0 } else { 1 })
}

/// A panic (the runtime never panics; this is the firmware's own bug): its message on
/// stderr, the verdict `self-test: FAIL panic` on stdout, exit status 101.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::eprintln!("{info}");
    fail("panic", 101)
}

/// Prints the verdict `self-test: FAIL <reason>` and exits with `status`: for fault and
/// panic handlers, which cannot return to [`finish`].
pub fn fail(reason: &'static str, status: i32) -> ! {
    if let Ok(mut stdout) = semihosting::io::stdout() {
        let _ = writeln!(stdout, "{}", Verdict::Fail(reason));
    }
    exit(status)
}
