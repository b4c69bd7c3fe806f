fn main() -> std::process::ExitCode {
    shared::cli::main::<s3_version::Cli>(env!("CARGO_CRATE_NAME"))
}
