//! The region preview through the JSON API: starts `relais serve` on a
//! free loopback port, takes an API token, and sends a bounded load from a
//! fixed number of keep-alive connections.
//!
//! The load goes only to the server started here, on 127.0.0.1, and stops
//! at a deadline or a request count, whichever comes first.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::Settings;
use crate::child;
use crate::product;
use crate::report::{EngineReport, WebFigures, quantile};
use crate::suite::log;

/// API path of the region preview.
pub const PREVIEW_PATH: &str = "/api/v1/region-reassignments/preview";

/// Message of the `serve` command in builds without the web server.
const SERVER_MISSING: &str = "pas encore disponible";

/// Département codes the varied mix draws from: metropolitan France,
/// Corsica and the overseas départements.
const DEPARTEMENTS: [&str; 101] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "2A", "2B", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
    "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47",
    "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61", "62", "63",
    "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79",
    "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "95",
    "971", "972", "973", "974", "976",
];

/// The repeated query of the first mix.
const SAME_POSTAL: &str = "51;02;2A";

/// A running `relais serve`, stopped when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Outcome of starting the server: running, or absent from this build.
enum Started {
    Running(Server),
    Missing(String),
}

fn free_loopback_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?)
}

fn start_server(settings: &Settings, base: &str) -> Result<Started> {
    let address = free_loopback_port()?;
    let stderr_path = settings.work_dir.join("serve.stderr");
    let child = Command::new(&settings.relais)
        .arg("--db")
        .arg(base)
        .arg("serve")
        .arg("--bind")
        .arg(address.to_string())
        .env("RELAIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(
            settings.work_dir.join("serve.stdout"),
        )?)
        .stderr(std::fs::File::create(&stderr_path)?)
        .spawn()
        .context("starting relais serve")?;
    let mut server = Server { child, address };

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(Started::Running(server));
        }
        if let Some(status) = server.child.try_wait()? {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            if stderr.contains(SERVER_MISSING) {
                return Ok(Started::Missing(stderr.trim().to_string()));
            }
            bail!("relais serve exited with {status} before listening:\n{stderr}");
        }
        if Instant::now() > deadline {
            bail!("relais serve did not listen on {address} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Creates an API token for the demo administrator with the real CLI,
/// which prints the token alone on its last line.
fn create_token(settings: &Settings, base: &str) -> Result<String> {
    let mut command = Command::new(&settings.relais);
    command
        .arg("--db")
        .arg(base)
        .args(["token", "create", "--user", "AM", "--label", "benchmark"]);
    let run = child::run(command, &settings.work_dir, "token")?.check("relais token create")?;
    run.stdout
        .lines()
        .last()
        .map(|line| line.trim().to_string())
        .filter(|token| !token.is_empty())
        .context("relais token create printed no token")
}

/// CPU time a process has used so far, from `/proc/PID/stat`.
fn process_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may
    // contain spaces: utime and stime are the 12th and 13th of them.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unreadable /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| -> Result<u64> {
        fields
            .get(index)
            .context("short /proc stat")?
            .parse::<u64>()
            .context("unreadable /proc stat field")
    };
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_secs_f64(total as f64 / per_second as f64))
}

/// Postal field sent by each request of a load run.
#[derive(Clone, Copy, Debug)]
pub enum Mix {
    /// The same `51;02;2A` every time.
    Same,
    /// One to three départements drawn at random for each request.
    Varied,
}

impl Mix {
    fn label(self) -> &'static str {
        match self {
            Mix::Same => "same query (51;02;2A)",
            Mix::Varied => "varied (1–3 random départements)",
        }
    }
}

fn request_body(postal: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "to": product::TARGET,
            "country": "FRA",
            "postal": postal,
        })
        .to_string(),
    )
}

/// A tiny deterministic generator per connection, so a mix is the same on
/// every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn postal(&mut self) -> String {
        let count = 1 + (self.next() % 3) as usize;
        let mut codes = Vec::with_capacity(count);
        for _ in 0..count {
            codes.push(DEPARTEMENTS[(self.next() % DEPARTEMENTS.len() as u64) as usize]);
        }
        codes.join(";")
    }
}

/// Shared limits and counters of one load run.
struct Load {
    address: SocketAddr,
    token: String,
    mix: Mix,
    warm_until: Instant,
    deadline: Instant,
    max_requests: u64,
    sent: AtomicU64,
}

/// Latencies of one connection after warm-up, and its failures.
#[derive(Default)]
struct ConnectionResult {
    latencies: Vec<Duration>,
    failed: u64,
    first_failure: Option<String>,
}

async fn drive_connection(load: Arc<Load>, seed: u64) -> Result<ConnectionResult> {
    let stream = tokio::net::TcpStream::connect(load.address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });

    let mut draw = Draw(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let same = request_body(SAME_POSTAL);
    let authorization = format!("Bearer {}", load.token);
    let mut result = ConnectionResult::default();
    loop {
        let now = Instant::now();
        if now >= load.deadline || load.sent.fetch_add(1, Ordering::Relaxed) >= load.max_requests {
            break;
        }
        let body = match load.mix {
            Mix::Same => same.clone(),
            Mix::Varied => request_body(&draw.postal()),
        };
        let request = Request::post(PREVIEW_PATH)
            .header(hyper::header::HOST, load.address.to_string())
            .header(hyper::header::AUTHORIZATION, &authorization)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        sender.ready().await?;
        let start = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let elapsed = start.elapsed();
        if start >= load.warm_until {
            result.latencies.push(elapsed);
            if !status.is_success() {
                result.failed += 1;
                if result.first_failure.is_none() {
                    result.first_failure =
                        Some(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
                }
            }
        }
    }
    Ok(result)
}

/// Sends the load of one mix and returns its figures.
fn run_load(
    settings: &Settings,
    server: &Server,
    token: &str,
    mix: Mix,
) -> Result<(WebFigures, Option<String>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let warm_up = Duration::from_secs_f64(settings.web_warm_up_seconds);
    let measured = Duration::from_secs_f64(settings.web_seconds);
    let start = Instant::now();
    let load = Arc::new(Load {
        address: server.address,
        token: token.to_string(),
        mix,
        warm_until: start + warm_up,
        deadline: start + warm_up + measured,
        max_requests: settings.web_max_requests,
        sent: AtomicU64::new(0),
    });
    let pid = server.child.id();
    let cpu_before = process_cpu(pid)?;

    let results = runtime.block_on(async {
        let mut tasks = Vec::new();
        for connection in 0..settings.web_connections {
            tasks.push(tokio::spawn(drive_connection(
                load.clone(),
                connection as u64 + 1,
            )));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(
                task.await
                    .map_err(|error| anyhow!("load task failed: {error}"))?,
            );
        }
        Ok::<_, anyhow::Error>(results)
    })?;
    let elapsed = start.elapsed().saturating_sub(warm_up);
    let cpu = process_cpu(pid)?.saturating_sub(cpu_before);

    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut first_failure = None;
    for result in results {
        let result = result?;
        latencies.extend(result.latencies);
        failed += result.failed;
        first_failure = first_failure.or(result.first_failure);
    }
    let ms = |q: f64| quantile(&latencies, q).as_secs_f64() * 1e3;
    let seconds = elapsed.as_secs_f64();
    Ok((
        WebFigures {
            mix: mix.label().to_string(),
            connections: settings.web_connections,
            requests: latencies.len() as u64,
            failed,
            seconds,
            requests_per_second: latencies.len() as f64 / seconds.max(f64::EPSILON),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            max_ms: ms(1.0),
            server_cpu_seconds: cpu.as_secs_f64(),
        },
        first_failure,
    ))
}

/// Sends one request and returns its status and JSON body.
fn single_request(server: &Server, token: &str, postal: &str) -> Result<(u16, serde_json::Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(server.address).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = Request::post(PREVIEW_PATH)
            .header(hyper::header::HOST, server.address.to_string())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(request_body(postal)))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let body = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the preview returned {status} with no JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        Ok((status, body))
    })
}

/// Finds a count in the preview's JSON, at the top level or one level down.
fn json_count(body: &serde_json::Value, key: &str) -> Option<u64> {
    body.get(key)
        .and_then(serde_json::Value::as_u64)
        .or_else(|| {
            body.as_object()?
                .values()
                .find_map(|value| value.get(key).and_then(serde_json::Value::as_u64))
        })
}

pub fn run_web(
    settings: &Settings,
    base: &str,
    report: &mut EngineReport,
    problems: &mut Vec<String>,
) -> Result<()> {
    let token = create_token(settings, base)?;
    let expected = {
        let store = product::open(base)?;
        product::preview_region(store.as_ref(), SAME_POSTAL)?
            .1
            .outcome
    };
    let server = match start_server(settings, base)? {
        Started::Running(server) => server,
        Started::Missing(message) => {
            report.notes.push(format!(
                "web part skipped: this build has no web server ({message})"
            ));
            return Ok(());
        }
    };

    let (status, body) = single_request(&server, &token, SAME_POSTAL)?;
    if status != 200 {
        bail!("the web preview returned {status}: {body}");
    }
    for (key, value) in [("matched", expected.matched), ("changed", expected.changed)] {
        match json_count(&body, key) {
            Some(found) if found == value => {}
            Some(found) => problems.push(format!(
                "web preview of {SAME_POSTAL}: {key} is {found}, the service layer said {value}"
            )),
            None => problems.push(format!("web preview of {SAME_POSTAL}: no {key} in {body}")),
        }
    }

    for mix in [Mix::Same, Mix::Varied] {
        let (figures, first_failure) = run_load(settings, &server, &token, mix)?;
        log(format!(
            "web {}: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} failed",
            figures.mix,
            figures.requests_per_second,
            figures.p50_ms,
            figures.p99_ms,
            figures.failed
        ));
        if let Some(failure) = first_failure {
            problems.push(format!(
                "web load {}: {} requests failed, first: {failure}",
                figures.mix, figures.failed
            ));
        }
        if figures.requests == 0 {
            problems.push(format!("web load {}: no request completed", figures.mix));
        }
        report.web.push(figures);
    }
    drop(server);
    Ok(())
}

/// Tells whether a path is an executable file.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
