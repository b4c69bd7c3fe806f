fn main() -> std::process::ExitCode {
    shared::cli::main::<apigw_stage::Cli>(env!("CARGO_CRATE_NAME"))
}
