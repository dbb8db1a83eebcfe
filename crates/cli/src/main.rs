//! The `zhifa` binary. All logic lives in the library so that tests drive the same code.

fn main() -> std::process::ExitCode {
    zhifa::main()
}
