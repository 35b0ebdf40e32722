//! The `mpconform` command: the command line over the harness library
//! (src/cli/, one module per subcommand).

mod cli;

fn main() -> std::process::ExitCode {
    // First: a re-exec of this program as the reference's spawned child
    // runs that child here and never returns.
    mpconform_ref::init();
    cli::main()
}
