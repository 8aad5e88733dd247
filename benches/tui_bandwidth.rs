//! How many bytes the real TUI writes to its terminal, and how much CPU it uses.
//!
//! Runs `panelwatch tui --bench-fixture 50` (the real screen over a synthetic monitor of 50
//! services that publishes a snapshot every second, as the engine does) in a pseudo-terminal
//! of 120x40 (through `script`), once idle (only the clock moves) and once with every service
//! changing every 10 s, and reports the bytes written per second after a warm-up, and the
//! process's CPU time per second of wall time while idle.
//!
//! `cargo bench --bench tui_bandwidth` (builds the binary first: `cargo build --release`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WARM_UP: Duration = Duration::from_secs(3);
const MEASURE: Duration = Duration::from_secs(30);

fn main() {
    let bin = std::env::var("PANELWATCH_BIN").unwrap_or_else(|_| {
        let root = env!("CARGO_MANIFEST_DIR");
        format!("{root}/target/release/panelwatch")
    });
    assert!(
        std::path::Path::new(&bin).exists(),
        "build it first: cargo build --release ({bin})"
    );
    for busy in [false, true] {
        let (rate, cpu) = measure(&bin, busy);
        let what = if busy {
            "every service updates every 10 s"
        } else {
            "nothing changes"
        };
        println!(
            "120x40, 50 services, {what}: {rate:.0} B/s, CPU {:.2} % of a core",
            cpu * 100.0
        );
    }
}

fn measure(bin: &str, busy: bool) -> (f64, f64) {
    let flag = if busy { " --bench-busy" } else { "" };
    let inner = format!("stty cols 120 rows 40; exec {bin} tui --bench-fixture 50{flag}");
    let mut child = Command::new("script")
        .args(["-qfec", &inner, "/dev/null"])
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` runs (util-linux)");
    let mut out = child.stdout.take().unwrap();
    let bytes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&bytes);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            counter.fetch_add(n, Ordering::SeqCst);
        }
    });

    std::thread::sleep(WARM_UP);
    let tui = tui_pid(child.id()).expect("the TUI runs under script");
    let (b0, c0, t0) = (bytes.load(Ordering::SeqCst), cpu_ticks(tui), Instant::now());
    std::thread::sleep(MEASURE);
    let (b1, c1, elapsed) = (bytes.load(Ordering::SeqCst), cpu_ticks(tui), t0.elapsed());

    let _ = child.kill();
    let _ = Command::new("kill").arg(tui.to_string()).status();
    let _ = child.wait();
    let seconds = elapsed.as_secs_f64();
    let ticks = 100.0; // USER_HZ on Linux.
    (
        (b1 - b0) as f64 / seconds,
        (c1 - c0) as f64 / ticks / seconds,
    )
}

/// The panelwatch process `script` started.
fn tui_pid(script: u32) -> Option<u32> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let path = format!("/proc/{script}/task/{script}/children");
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(pid) = text.split_whitespace().next() {
                return pid.parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// User plus system CPU ticks of a process, from /proc/PID/stat.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line: indexes 11 and 12 after the name.
    field(11) + field(12)
}
