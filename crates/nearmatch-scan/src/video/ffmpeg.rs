//! The `ffmpeg` and `ffprobe` programs as supervised child processes.
//!
//! Nothing of FFmpeg is linked: a hostile video can crash or hang only the child. Each child gets
//! the video as an inherited read-only descriptor (`/dev/fd/3`, so the file checked by the scan
//! is the file decoded, whatever happens to its name), no standard input, a deadline after which
//! it is killed, and bounded output: `ffprobe`'s JSON is capped, `ffmpeg`'s raw frames are read
//! one frame at a time up to a frame limit, and only the tail of standard error is kept (for the
//! reason a decode failed).

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::VideoError;

/// Bytes of standard error kept (its tail) for the failure reason.
const STDERR_TAIL: usize = 8 * 1024;
/// Bytes of `ffprobe` output read at most.
const PROBE_OUTPUT_MAX: u64 = 1 << 20;

/// What a finished child left: how it ended and the tail of its standard error.
pub(crate) struct Ended {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// It was killed at the deadline.
    pub timed_out: bool,
    /// The last lines of standard error.
    pub stderr: String,
}

impl Ended {
    /// The most telling line of standard error (the last non-empty one), or the exit status.
    pub fn reason(&self) -> String {
        let last = self
            .stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_string);
        match (last, self.code) {
            (Some(l), _) => l,
            (None, Some(c)) => format!("exited with status {c}"),
            (None, None) => "killed by a signal".into(),
        }
    }
}

/// Runs `program` with `args` (where `/dev/fd/3` is `video`), hands its standard output to
/// `read`, and reaps it. The child is killed at `deadline`, or as soon as `read` returns (a
/// reader that stopped early needs no more output). Errors only when it cannot be started.
pub(crate) fn run<T>(
    program: &Path,
    args: &[String],
    video: &std::fs::File,
    deadline: Instant,
    read: impl FnOnce(&mut ChildStdout) -> T,
) -> Result<(T, Ended), VideoError> {
    let fd: RawFd = video.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("AV_LOG_FORCE_NOCOLOR", "1");
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            VideoError::ToolMissing(format!(
                "{} not found: install FFmpeg (Debian package `ffmpeg`) to hash videos",
                program.display()
            ))
        } else {
            VideoError::Spawn(format!("cannot start {}: {e}", program.display()))
        }
    })?;
    let mut stderr = child.stderr.take().expect("piped");
    let tail = std::thread::Builder::new()
        .name("nearmatch-ffmpeg-stderr".into())
        .spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        tail.extend_from_slice(&buf[..n]);
                        if tail.len() > 2 * STDERR_TAIL {
                            tail.drain(..tail.len() - STDERR_TAIL);
                        }
                    }
                }
            }
            if tail.len() > STDERR_TAIL {
                tail.drain(..tail.len() - STDERR_TAIL);
            }
            String::from_utf8_lossy(&tail).into_owned()
        })
        .map_err(|e| VideoError::Spawn(format!("cannot start a thread: {e}")));
    let watchdog = Watchdog::arm(child.id(), deadline);
    let mut stdout = child.stdout.take().expect("piped");
    let out = read(&mut stdout);
    drop(stdout);
    // Disarmed before the child is reaped, so the watchdog can never signal a reused pid.
    let timed_out = watchdog.disarm();
    let code = reap(&mut child, deadline);
    let stderr = match tail {
        Ok(t) => t.join().unwrap_or_default(),
        Err(_) => String::new(),
    };
    let timed_out = timed_out || code.is_none() && Instant::now() >= deadline;
    Ok((
        out,
        Ended {
            code,
            timed_out,
            stderr,
        },
    ))
}

/// Waits for the child after its output is done: it normally exits at once; past the deadline
/// (or one second of grace) it is killed.
fn reap(child: &mut Child, deadline: Instant) -> Option<i32> {
    let until = deadline.min(Instant::now() + Duration::from_secs(1));
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s.code(),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                return child.wait().ok().and_then(|s| s.code());
            }
        }
    }
}

/// Kills a child at its deadline unless disarmed first.
struct Watchdog {
    state: Arc<(Mutex<WatchState>, Condvar)>,
}

struct WatchState {
    armed: bool,
    fired: bool,
}

impl Watchdog {
    fn arm(pid: u32, deadline: Instant) -> Watchdog {
        let state = Arc::new((
            Mutex::new(WatchState {
                armed: true,
                fired: false,
            }),
            Condvar::new(),
        ));
        let s = state.clone();
        let started = std::thread::Builder::new()
            .name("nearmatch-ffmpeg-watchdog".into())
            .spawn(move || {
                let (lock, cv) = &*s;
                let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
                while st.armed {
                    let now = Instant::now();
                    if now >= deadline {
                        // SAFETY: kill(2) on a child that is not reaped yet (the owner reaps
                        // only after disarming under this lock).
                        unsafe {
                            libc::kill(pid as libc::pid_t, libc::SIGKILL);
                        }
                        st.fired = true;
                        st.armed = false;
                        break;
                    }
                    st = cv
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            });
        if started.is_err() {
            // No watchdog thread: kill now rather than risk an unbounded child.
            // SAFETY: as above; the child is not reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            state.0.lock().unwrap_or_else(|p| p.into_inner()).fired = true;
        }
        Watchdog { state }
    }

    /// Stops the watchdog; whether it had fired.
    fn disarm(self) -> bool {
        let (lock, cv) = &*self.state;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.armed = false;
        cv.notify_all();
        st.fired
    }
}

/// Reads at most [`PROBE_OUTPUT_MAX`] bytes (`ffprobe`'s JSON).
pub(crate) fn read_capped(out: &mut ChildStdout) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    out.take(PROBE_OUTPUT_MAX).read_to_end(&mut v)?;
    Ok(v)
}

/// Fills `buf` from `r`; the bytes read (short only at end of stream).
pub(crate) fn read_exact_or_eof(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
