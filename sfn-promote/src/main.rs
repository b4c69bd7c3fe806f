fn main() -> std::process::ExitCode {
    shared::cli::main::<sfn_promote::Cli>(env!("CARGO_CRATE_NAME"))
}
