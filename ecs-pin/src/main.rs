fn main() -> std::process::ExitCode {
    shared::cli::main::<ecs_pin::Cli>(env!("CARGO_CRATE_NAME"))
}
