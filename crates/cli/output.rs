//! Output destinations and formats.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use clap::ValueEnum;

use crate::exit::{CliError, ExitCode, WithCode};

/// Record formats for `hash` and `match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable lines.
    Text,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON Lines: one object per record.
    Jsonl,
}

/// Opens `path` for writing (standard output when `None`), buffered.
pub fn open_output(path: Option<&Path>) -> Result<Box<dyn Write>, CliError> {
    match path {
        None => Ok(Box::new(BufWriter::new(std::io::stdout().lock()))),
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create output file {}", p.display()))
                .code(ExitCode::CANT_WRITE)?;
            Ok(Box::new(BufWriter::new(f)))
        }
    }
}
