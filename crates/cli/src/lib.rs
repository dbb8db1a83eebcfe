//! The `zhifa` command: argument parsing, configuration, and the commands themselves.
//! `anyhow` is used here, at the edge; the crates below return typed errors.

mod backup;
mod backup_file;
mod commands;
pub mod config;
pub mod demo;
pub mod demo_cases;
mod restore;
mod server;
mod witnessing;

use std::process::ExitCode;

/// Parses arguments and runs the command; failures print a bilingual message.
pub fn main() -> ExitCode {
    let cli = config::Cli::parse_args();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("错误 / error: 无法启动运行时 / cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误 / error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
