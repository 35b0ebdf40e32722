//! The `mpconform` command: the command line over the harness library
//! (src/cli/, one module per subcommand).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
