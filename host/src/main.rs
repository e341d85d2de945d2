//! The `whittle` command line.

#[macro_use]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
