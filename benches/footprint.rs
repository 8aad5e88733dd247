//! Footprint: resident memory and CPU of the real binary, headless, watching 1,000 services
//! with 24 hours of orders, polling every 30 s.
//!
//! Starts the simulated panel (drift on) with 20,000 orders of 1,000 services over the last
//! 24 hours, writes a config whose rule window is 24 h (so every poll reads the whole day,
//! 20 pages of 1,000), and runs `panelwatch run --headless` on it. After the first poll it
//! reads VmRSS and VmHWM from /proc/<pid>/status, then the process's CPU ticks
//! (/proc/<pid>/stat) over the measuring time: the "idle" figure is CPU while nothing but the
//! 30 s polls happens. Run with `cargo bench --bench footprint` (about two minutes).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;

use panelwatch::sim::{SimOptions, SimPanel};

const MEASURE: Duration = Duration::from_secs(90);

fn status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime 11, stime 12.
    field(11) + field(12)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = SimPanel::start(SimOptions {
            seed: 5,
            drift: true,
            api_key: Some("bench-key".into()),
        })
        .await
        .unwrap();
        sim.set_orders(common::sim_orders(
            1_000,
            20_000,
            Duration::from_secs(86_400),
            Utc::now(),
        ));
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[monitor]
state_dir = "state"

[[panels]]
name = "main"
kind = "admin"
url = "{}"
api_key = "bench-key"
interval = "30s"
page_size = 1000

[[rules]]
name = "success-rate"
window = "24h"
alert_below = 0.5
"#,
                sim.url()
            ),
        )
        .unwrap();

        let mut child = Command::new(env!("CARGO_BIN_EXE_panelwatch"))
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .env("PANELWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();

        sim.wait_for_requests(20).await;
        // Let the first poll's engine work and history recording finish.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss_after_poll = status_kb(pid, "VmRSS:");
        let ticks_before = cpu_ticks(pid);
        let started = Instant::now();
        tokio::time::sleep(MEASURE).await;
        let ticks = cpu_ticks(pid) - ticks_before;
        let secs = started.elapsed().as_secs_f64();
        let rss = status_kb(pid, "VmRSS:");
        let hwm = status_kb(pid, "VmHWM:");
        let polls = sim.requests() / 20;
        child.kill().unwrap();
        let _ = child.wait();

        // Linux's USER_HZ is 100 on every architecture panelwatch targets.
        let cpu = ticks as f64 / 100.0 / secs * 100.0;
        println!("machine:              {}", common::machine());
        println!("services / orders:    1000 / 20000 in 24 h, polls every 30 s ({polls} so far)");
        println!(
            "VmRSS after 1st poll: {:.1} MB",
            rss_after_poll as f64 / 1024.0
        );
        println!("VmRSS at the end:     {:.1} MB", rss as f64 / 1024.0);
        println!("VmHWM (peak):         {:.1} MB", hwm as f64 / 1024.0);
        println!("CPU over {secs:.0} s:       {cpu:.2} % of a core ({ticks} ticks)");
        println!(
            "targets: RSS < 50 MB {} ; idle CPU < 1 % {}",
            common::verdict(hwm < 50 * 1024),
            common::verdict(cpu < 1.0)
        );
    });
}
