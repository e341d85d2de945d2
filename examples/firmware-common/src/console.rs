//! Output and exit status through the emulator's semihosting (QEMU with
//! `-semihosting-config enable=on,target=native` prints to its own stdout and exits with the
//! status the firmware gives).

use crate::Error;
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

/// Exits with status 0 on success; otherwise prints `error: ...` and exits with status 1.
pub fn finish(out: &mut impl fmt::Write, result: Result<(), Error>) -> ! {
    match result {
        Ok(()) => exit(0),
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            exit(1)
        }
    }
}
