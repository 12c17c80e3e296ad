//! `nearmatch report`: reports re-rendered from a finished scan's JSON Lines report, so a long
//! scan is never run twice. The conversion is the scan engine's (`nearmatch_scan::convert_report`,
//! which Python's `nearmatch.convert_report` runs too); this adapts arguments and exit codes.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use nearmatch_scan::report::FORMAT_EXTENSIONS;
use nearmatch_scan::{convert_report, ConvertError, ReportFormat};

use crate::exit::{usage, CliError, ExitCode};
use crate::scan::{cli_error, ScanFormat};

/// `nearmatch report` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Render the JSON Lines report of a finished scan in another format (DFXML, CASE/UCO,
    /// HTML, CSV, VICS): byte for byte what the scan would have written, nothing rescanned.
    Convert(ConvertArgs),
}

/// Arguments of `nearmatch report convert`.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The JSON Lines report of a finished scan (`nearmatch scan -o REPORT.jsonl`).
    pub report: PathBuf,
    /// The format to write; default: from the extension of -o.
    #[arg(long, value_enum)]
    pub to: Option<ScanFormat>,
    /// The file to write (with `OUT.sha256`, and the custody sidecar `OUT.header.json` for CSV).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Print nothing on success.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `nearmatch report ...`.
pub fn run_report(cmd: ReportCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ReportCommand::Convert(args) => run_convert(args),
    }
}

fn run_convert(args: ConvertArgs) -> Result<ExitCode, CliError> {
    let to = match args.to {
        Some(f) => ReportFormat::from(f),
        None => ReportFormat::from_path(&args.output).ok_or_else(|| {
            usage(format!(
                "-o {}: cannot tell the format from the extension: give --to, or use {FORMAT_EXTENSIONS}",
                args.output.display()
            ))
        })?,
    };
    let s = convert_report(&args.report, &args.output, to).map_err(|e| match e {
        ConvertError::Write(e) => cli_error(e),
        ConvertError::Settings(m) => usage(m),
        e => CliError {
            code: ExitCode::DATA,
            error: e.into(),
        },
    })?;
    if !args.quiet {
        eprintln!(
            "nearmatch: wrote {} ({to}) from {}: {} records, {} matched files, {} matches",
            args.output.display(),
            args.report.display(),
            s.files,
            s.matched(),
            s.matches
        );
    }
    Ok(ExitCode::OK)
}
