//! `bringup schema`: the JSON Schema of bringup.toml on standard output.

use std::process::ExitCode;

pub fn run() -> ExitCode {
    match serde_json::to_string_pretty(&bringup::config::schema::schema()) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot write the schema: {error}");
            ExitCode::FAILURE
        }
    }
}
