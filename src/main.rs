//! The `mpconform` command: every subcommand lives in the harness crate.
fn main() -> std::process::ExitCode {
    mpconform_harness::cli::main()
}
