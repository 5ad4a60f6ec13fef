//! Runs a program as a child process and reads its own resource usage.
//!
//! Linux keeps a process's peak resident set size across `exec`, and a
//! child created by `fork` or `posix_spawn` starts with the benchmark's
//! memory mapped. `wait4` on a direct child would therefore report the
//! benchmark's own size, hundreds of MiB once it has generated a large
//! file, whenever the child stays smaller. The program is therefore started
//! by GNU `time`, a small process whose own child's peak is the program's
//! alone. Without `/usr/bin/time`, `wait4` on the direct child is used, and
//! the log warns that the peak may be too high.

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

/// Program that reports the resource usage of the command it starts.
const GNU_TIME: &str = "/usr/bin/time";

/// Runs `command` to completion with its output sent to files in
/// `log_dir`, so a large output cannot block it on a full pipe.
pub fn run(command: Command, log_dir: &Path, name: &str) -> Result<ChildRun> {
    let stdout_path = log_dir.join(format!("{name}.stdout"));
    let stderr_path = log_dir.join(format!("{name}.stderr"));
    let usage_path = log_dir.join(format!("{name}.usage"));
    let timed = Path::new(GNU_TIME).exists();
    let mut command = if timed {
        wrap_in_time(&command, &usage_path)
    } else {
        command
    };
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

    let (peak_rss, user_cpu, system_cpu) = if timed {
        read_time_report(&usage_path)?
    } else {
        crate::suite::log(format!(
            "{GNU_TIME} is missing: the peak memory of {name} may include the benchmark's own"
        ));
        (
            max_rss_bytes(&usage),
            timeval(usage.ru_utime),
            timeval(usage.ru_stime),
        )
    };
    Ok(ChildRun {
        status,
        wall,
        peak_rss,
        user_cpu,
        system_cpu,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    })
}

/// Builds `time --format=… --output=USAGE_PATH PROGRAM ARGS…` with the command's
/// environment and working directory. GNU `time` exits with the program's
/// status.
fn wrap_in_time(command: &Command, usage_path: &Path) -> Command {
    let mut wrapped = Command::new(GNU_TIME);
    wrapped
        .arg("--format=%M %U %S")
        .arg(format!("--output={}", usage_path.display()))
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// Reads `%M %U %S` (peak in KiB, user and system seconds) from the last
/// line GNU `time` wrote. Earlier lines report how the program ended.
fn read_time_report(path: &Path) -> Result<(u64, Duration, Duration)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text.lines().last().unwrap_or_default();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [peak, user, system] = fields[..] else {
        bail!("unexpected report of {GNU_TIME}: {text:?}");
    };
    let seconds = |field: &str| -> Result<Duration> {
        Ok(Duration::from_secs_f64(field.parse().with_context(
            || format!("unexpected CPU time {field:?} from {GNU_TIME}"),
        )?))
    };
    let peak: u64 = peak
        .parse()
        .with_context(|| format!("unexpected peak {peak:?} from {GNU_TIME}"))?;
    Ok((peak * 1024, seconds(user)?, seconds(system)?))
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
