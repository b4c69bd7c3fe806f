fn main() -> std::process::ExitCode {
    shared::cli::main::<cfg_diff::Cli>(env!("CARGO_CRATE_NAME"))
}
