//! The `nearmatch` command-line tool: a thin layer over the `nearmatch` library.
//!
//! Exit codes (documented in the README and `nearmatch --help`):
//! 0 completed, no match; 1 matches found; 2 some files could not be processed; 3 both;
//! 64 usage error; 65 bad input list or set; 74 output not writable.

mod eval;
mod exit;
mod hashing;
mod output;
mod report;
mod scan;
mod sets;
mod video;

use clap::{Parser, Subcommand};
use exit::{CliError, ExitCode};

/// Perceptual image hashing and exact matching against known-image hash lists.
#[derive(Parser, Debug)]
#[command(name = "nearmatch", version, about, long_about = None, after_help = exit::EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hash files: perceptual (PDQ, imagehash family) and cryptographic.
    Hash(hashing::HashArgs),
    /// Print the distance between two images (or hashes) for each algorithm.
    Compare(hashing::CompareArgs),
    /// Scan evidence: hash every file once and match it against hash sets.
    Scan(scan::ScanArgs),
    /// Build, inspect, verify and merge hash-set files.
    #[command(subcommand)]
    Set(sets::SetCommand),
    /// Search a hash set for hashes (one hex hash per line) within a distance.
    Match(sets::MatchArgs),
    /// Re-render reports: `report convert` writes any format from a finished scan's JSON Lines.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Hash videos with vPDQ (Meta's video PDQ) through the ffmpeg program; Meta's text format.
    VideoHash(video::VideoHashArgs),
    /// Benchmark match accuracy on synthetic images under a suite of transforms.
    Eval(eval::EvalArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => ExitCode::USAGE.0,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.command {
        Command::Hash(args) => hashing::run_hash(args),
        Command::Compare(args) => hashing::run_compare(args),
        Command::Scan(args) => scan::run_scan(args),
        Command::Set(cmd) => sets::run_set(cmd),
        Command::Match(args) => sets::run_match(args),
        Command::Report(cmd) => report::run_report(cmd),
        Command::Eval(args) => eval::run_eval(args),
        Command::VideoHash(args) => video::run_video_hash(args),
    };
    match result {
        Ok(code) => std::process::exit(code.0),
        Err(CliError { code, error }) => {
            eprintln!("nearmatch: error: {error:#}");
            // Whatever the command's own code for its failure, running out of memory is
            // reported as such, so a script can retry with a smaller budget.
            let oom = error.chain().any(|e| {
                matches!(
                    e.downcast_ref::<nearmatch::Error>(),
                    Some(nearmatch::Error::OutOfMemory { .. })
                )
            });
            std::process::exit(if oom {
                ExitCode::OUT_OF_MEMORY.0
            } else {
                code.0
            });
        }
    }
}
