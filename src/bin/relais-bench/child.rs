//! Runs a program as a child process and reads its own resource usage.
//!
//! `wait4` returns the usage of the one child it reaps, so the peak
//! resident set size is that child's alone. `getrusage(RUSAGE_CHILDREN)`
//! would instead give the largest of every child reaped so far.

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Exit status, output and resource usage of a finished child.
pub struct ChildRun {
    pub status: ExitStatus,
    /// From spawn to reaping, measured by the benchmark.
    pub wall: Duration,
    /// Peak resident set size, in bytes.
    pub peak_rss: u64,
    pub user_cpu: Duration,
    pub system_cpu: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl ChildRun {
    /// Fails with the child's output when it exited with an error.
    pub fn check(self, what: &str) -> Result<ChildRun> {
        if !self.status.success() {
            bail!(
                "{what} failed ({}):\n{}\n{}",
                self.status,
                tail(&self.stdout),
                tail(&self.stderr)
            );
        }
        Ok(self)
    }
}

/// Last lines of a program's output, enough to show an error.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Runs `command` to completion with its output sent to files in
/// `log_dir`, so a large output cannot block it on a full pipe.
pub fn run(mut command: Command, log_dir: &Path, name: &str) -> Result<ChildRun> {
    let stdout_path = log_dir.join(format!("{name}.stdout"));
    let stderr_path = log_dir.join(format!("{name}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(&stderr_path)?);

    let start = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let (status, usage) = wait_with_usage(pid)?;
    let wall = start.elapsed();
    // The child is reaped already, so `Child` must not wait on it again.
    drop(child);

    Ok(ChildRun {
        status,
        wall,
        peak_rss: max_rss_bytes(&usage),
        user_cpu: timeval(usage.ru_utime),
        system_cpu: timeval(usage.ru_stime),
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    })
}

fn wait_with_usage(pid: libc::pid_t) -> Result<(ExitStatus, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills in whole, and the
    // pointers are valid for the duration of the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: see above; `pid` is our own child, not yet reaped.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("waiting for a child process");
        }
    }
}

/// Linux reports `ru_maxrss` in kibibytes.
fn max_rss_bytes(usage: &libc::rusage) -> u64 {
    (usage.ru_maxrss.max(0) as u64) * 1024
}

fn timeval(value: libc::timeval) -> Duration {
    Duration::from_secs(value.tv_sec.max(0) as u64)
        + Duration::from_micros(value.tv_usec.max(0) as u64)
}
