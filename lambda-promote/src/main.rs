fn main() -> std::process::ExitCode {
    shared::cli::main::<lambda_promote::Cli>(env!("CARGO_CRATE_NAME"))
}
