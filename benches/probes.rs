//! What HTTP probes cost: the release binary, headless, probing 50 local endpoints every 20 s.
//!
//! Run with `cargo bench --bench probes` (`PROBE_BENCH_SECS=120` by default). It starts 50
//! listeners on loopback, each answering a small JSON document, writes a config with one
//! `kind = "http"` panel of 50 probes (status, latency and a JSON assertion each), runs the real
//! binary for the duration and reads its CPU time and resident memory from `/proc`. Linux only.
//! The endpoints run in this process and are not counted.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;

const ENDPOINTS: usize = 50;
const INTERVAL: &str = "20s";

fn main() {
    let secs: u64 = std::env::var("PROBE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addrs = runtime.block_on(endpoints());

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text(&addrs)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .env("PANELWATCH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let ticks = clock_ticks();

    let started = Instant::now();
    let mut rss_max_kib = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        rss_max_kib = rss_max_kib.max(status_kib(pid, "VmRSS:"));
    }
    let cpu = cpu_seconds(pid, ticks);
    let wall = started.elapsed().as_secs_f64();
    let peak_kib = status_kib(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();

    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{ENDPOINTS} endpoints every {INTERVAL} for {wall:.0} s: CPU {cpu:.2} s = {:.3} % of \
         a core; resident {:.1} MiB (peak {:.1} MiB)",
        100.0 * cpu / wall,
        rss_max_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
    );
}

/// 50 listeners on loopback answering `{"status":"ok",...}`; their addresses.
async fn endpoints() -> Vec<std::net::SocketAddr> {
    let app = Router::new().route(
        "/health",
        get(|| async {
            (
                [("content-type", "application/json")],
                r#"{"status":"ok","version":"1.2.3","checks":{"db":"ok","queue":"ok"}}"#,
            )
        }),
    );
    let mut addrs = Vec::new();
    for _ in 0..ENDPOINTS {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        let app = app.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    addrs
}

fn config_text(addrs: &[std::net::SocketAddr]) -> String {
    let mut text = format!(
        "[monitor]\nstate_dir = \"state\"\n\n[[panels]]\nname = \"sites\"\nkind = \"http\"\n\
         interval = \"{INTERVAL}\"\ntimeout = \"5s\"\n"
    );
    for (i, addr) in addrs.iter().enumerate() {
        text.push_str(&format!(
            "\n[[panels.probes]]\nname = \"site-{i}\"\nurl = \"http://{addr}/health\"\n\
             expect_status = 200\nmax_latency = \"2s\"\n\
             json = [{{ path = \"status\", equals = \"ok\" }}]\n"
        ));
    }
    text.push_str(
        "\n[[rules]]\nname = \"uptime\"\nwindow = \"10m\"\nmin_orders = 3\nalert_below = 0.9\n",
    );
    text
}

/// User plus system CPU time of a process, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / ticks
}

/// A `kB` line of `/proc/<pid>/status`, such as `VmHWM:` (peak resident memory).
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be asked.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}
