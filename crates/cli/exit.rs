//! Exit codes and the error type that carries one.

/// A process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode(pub i32);

impl ExitCode {
    /// Completed; nothing matched.
    pub const OK: ExitCode = ExitCode(0);
    /// Completed; at least one match.
    pub const MATCHES: ExitCode = ExitCode(1);
    /// Some files could not be processed.
    pub const SOME_FAILED: ExitCode = ExitCode(2);
    /// Usage error (bad arguments).
    pub const USAGE: ExitCode = ExitCode(64);
    /// Bad input list or hash set.
    pub const DATA: ExitCode = ExitCode(65);
    /// The scan stopped because too many decodes are stuck past their time budget (resumable).
    pub const STUCK: ExitCode = ExitCode(70);
    /// Memory ran out (a large allocation failed; the message names what needed it).
    pub const OUT_OF_MEMORY: ExitCode = ExitCode(71);
    /// An output could not be written.
    pub const CANT_WRITE: ExitCode = ExitCode(74);

    /// Combines "matches found" and "some failed" into 0–3.
    pub fn from_outcome(matched: bool, failed: bool) -> ExitCode {
        let m = if matched { Self::MATCHES.0 } else { Self::OK.0 };
        let f = if failed {
            Self::SOME_FAILED.0
        } else {
            Self::OK.0
        };
        ExitCode(m | f)
    }
}

/// The exit-code table shown by `--help`.
pub const EXIT_HELP: &str = "Exit codes: 0 completed, no match; 1 matches found; 2 some files could \
not be processed; 3 matches found and some files could not be processed; 64 usage error; 65 bad input \
list or hash set; 70 scan stopped because too many decodes are stuck (resume with --resume); 71 out of memory (the \
message names what needed it; set builds: lower --memory-budget); 74 output not writable.";

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: ExitCode,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

/// Attaches an exit code to errors.
pub trait WithCode<T> {
    /// Maps the error to `code`.
    fn code(self, code: ExitCode) -> Result<T, CliError>;
}

impl<T, E: Into<anyhow::Error>> WithCode<T> for Result<T, E> {
    fn code(self, code: ExitCode) -> Result<T, CliError> {
        self.map_err(|e| CliError {
            code,
            error: e.into(),
        })
    }
}

/// A usage error with a message.
pub fn usage(msg: impl std::fmt::Display) -> CliError {
    CliError {
        code: ExitCode::USAGE,
        error: anyhow::anyhow!("{msg}"),
    }
}
