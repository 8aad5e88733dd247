//! Whole-program tests: the real `panelwatch` binary, headless, against the simulated panel
//! (admin API v2 shapes, drift on) and a recording receiver, all on loopback.
//!
//! Each test waits for conditions with generous deadlines; "exactly one" is checked after the
//! binary has polled the panel several more times.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use common::{cli, verify_standard, wait_until, Binary, Receiver};
use panelwatch::sim::panel::{Fault, SimOptions, SimOrder, SimPanel};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const LIMIT: Duration = Duration::from_secs(60);

/// 40 finished orders of service 17, `good` of them completed, the rest canceled.
fn orders(good: usize) -> Vec<SimOrder> {
    let now = Utc::now();
    (0..40)
        .map(|i| {
            let mut o = SimOrder::new(1000 + i as u64, 17, now - chrono::Duration::minutes(5));
            o.service_name = "IG Followers".into();
            if i >= good {
                o.status = "canceled".into();
                o.remains = o.quantity;
            }
            o
        })
        .collect()
}

fn write_config(dir: &Path, sim: &SimPanel, receiver: &Receiver) -> std::path::PathBuf {
    let text = format!(
        r#"
[monitor]
state_dir = "state"

[delivery]
retry_schedule = ["200ms", "500ms", "1s"]

[[panels]]
name = "main"
kind = "admin"
url = "{panel}"
api_key = "${{E2E_PANEL_KEY}}"
interval = "200ms"
timeout = "5s"

[[rules]]
name = "success-rate"
window = "1h"
min_orders = 20
alert_below = 0.80
resolve_above = 0.85
for = "0s"
notify = ["ops", "backend"]

[[webhooks]]
name = "ops"
kind = "slack"
url = "{slack}"

[[webhooks]]
name = "backend"
kind = "custom"
url = "{custom}"
secret = "{SECRET}"
"#,
        panel = sim.url(),
        slack = receiver.url("slack"),
        custom = receiver.url("custom"),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn drifting_panel() -> SimPanel {
    SimPanel::start(SimOptions {
        drift: true,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

fn start(config: &Path, sim: &SimPanel) -> Binary {
    Binary::run(config, &[("E2E_PANEL_KEY", sim.api_key())])
}

/// Whether `panelwatch deliveries` reports nothing pending, retrying or dead.
fn outbox_is_empty(config: &Path, sim: &SimPanel) -> bool {
    let out = cli(config, &[("E2E_PANEL_KEY", sim.api_key())], &["deliveries"]);
    String::from_utf8_lossy(&out.stdout).starts_with("no pending, retrying or dead deliveries")
}

/// Waits until the binary has polled `n` more times.
async fn polls(sim: &SimPanel, n: u64) {
    let target = sim.requests() + n;
    tokio::time::timeout(LIMIT, sim.wait_for_requests(target))
        .await
        .expect("the binary keeps polling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_alerts_once_per_destination_and_resolves_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.set_orders(orders(40));
    let config = write_config(dir.path(), &sim, &receiver);
    let bin = start(&config, &sim);

    polls(&sim, 3).await;
    assert!(receiver.all().is_empty(), "a healthy start sends nothing");

    sim.set_orders(orders(20));
    wait_until("alert.fired at both destinations", LIMIT, || {
        receiver.of_type("custom", "alert.fired").len() == 1 && !receiver.at("slack").is_empty()
    })
    .await;
    polls(&sim, 5).await;
    let fired = receiver.of_type("custom", "alert.fired");
    assert_eq!(
        fired.len(),
        1,
        "exactly one fired at the custom destination"
    );
    assert_eq!(
        receiver.at("slack").len(),
        1,
        "exactly one message at Slack"
    );
    verify_standard(SECRET, &fired[0]).expect("the standardwebhooks crate verifies it");
    let body = fired[0].json();
    assert_eq!(fired[0].header("webhook-id"), body["id"].as_str().unwrap());
    assert_eq!(body["data"]["service"]["id"], 17);
    assert_eq!(body["data"]["service"]["name"], "IG Followers");
    assert_eq!(body["data"]["success_rate"], 0.5);
    assert_eq!(body["data"]["orders"]["canceled"], 20);
    assert_eq!(body["data"]["window"], "1h");

    sim.set_orders(orders(40));
    wait_until("alert.resolved", LIMIT, || {
        receiver.of_type("custom", "alert.resolved").len() == 1 && receiver.at("slack").len() == 2
    })
    .await;
    polls(&sim, 5).await;
    assert_eq!(receiver.of_type("custom", "alert.resolved").len(), 1);
    assert_eq!(receiver.at("custom").len(), 2);
    assert_eq!(receiver.at("slack").len(), 2);
    let resolved = &receiver.of_type("custom", "alert.resolved")[0];
    verify_standard(SECRET, resolved).unwrap();

    let status = bin.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

async fn panel_fault_gives_a_panel_event_and_no_service_alert(fault: Fault) {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.set_orders(orders(40));
    let config = write_config(dir.path(), &sim, &receiver);
    let bin = start(&config, &sim);
    polls(&sim, 2).await;

    // The orders turn bad, but the panel cannot be read: no service alert may come of it.
    sim.set_orders(orders(0));
    sim.set_fault(fault);
    wait_until("panel.down", LIMIT, || {
        receiver.of_type("custom", "panel.down").len() == 1
    })
    .await;
    polls(&sim, 5).await;
    assert_eq!(receiver.of_type("custom", "panel.down").len(), 1);
    assert!(receiver.of_type("custom", "alert.fired").is_empty());
    let down = receiver.of_type("custom", "panel.down")[0].json();
    let reason = down["data"]["reason"].as_str().unwrap();
    assert!(
        !reason.contains(sim.api_key()),
        "the key never leaks: {reason}"
    );
    assert!(
        !bin.log().contains(sim.api_key()),
        "the key never reaches the log"
    );

    // Recovery: panel.up; the bad orders are real now and fire, once.
    sim.set_fault(Fault::None);
    wait_until("panel.up and then the alert", LIMIT, || {
        receiver.of_type("custom", "panel.up").len() == 1
            && receiver.of_type("custom", "alert.fired").len() == 1
    })
    .await;
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_answering_html_is_a_panel_event() {
    panel_fault_gives_a_panel_event_and_no_service_alert(Fault::Html502).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_answering_an_error_code_is_a_panel_event() {
    panel_fault_gives_a_panel_event_and_no_service_alert(Fault::ErrorCode200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_incident_sends_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.set_orders(orders(10));
    let config = write_config(dir.path(), &sim, &receiver);
    let bin = start(&config, &sim);
    wait_until("alert.fired", LIMIT, || {
        receiver.of_type("custom", "alert.fired").len() == 1 && receiver.at("slack").len() == 1
    })
    .await;
    // Kill only once both attempts are recorded: a kill between a receiver's answer and its
    // recording may legitimately repeat the same event, which is not what this test is about.
    wait_until("the outbox to drain", LIMIT, || {
        outbox_is_empty(&config, &sim)
    })
    .await;
    bin.kill();

    let bin = start(&config, &sim);
    polls(&sim, 8).await;
    assert_eq!(
        receiver.at("custom").len(),
        1,
        "no second fired after the restart"
    );
    assert_eq!(receiver.at("slack").len(), 1);

    // It recovered while panelwatch was down: exactly one resolved after the next start.
    bin.kill();
    sim.set_orders(orders(40));
    let bin = start(&config, &sim);
    wait_until("alert.resolved", LIMIT, || {
        receiver.of_type("custom", "alert.resolved").len() == 1
    })
    .await;
    polls(&sim, 5).await;
    assert_eq!(receiver.of_type("custom", "alert.resolved").len(), 1);
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_key_and_line_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .unwrap()
        .replace("resolve_above = 0.85", "resolve_above = 0.5");
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(["check", "--config"])
        .arg(&path)
        .env("PANEL_ADMIN_KEY", "k")
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.test/x")
        .env("PANELWATCH_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[0].resolve_above"), "{err}");
    assert!(err.contains("config.toml:"), "{err}");

    // The shipped example itself is valid once its variables are set.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args([
            "check",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"),
        ])
        .env("PANEL_ADMIN_KEY", "k")
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.test/x")
        .env("PANELWATCH_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reload_keeps_open_alerts_and_refuses_a_broken_edit() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.set_orders(orders(10));
    let config = write_config(dir.path(), &sim, &receiver);
    let bin = start(&config, &sim);
    wait_until("alert.fired", LIMIT, || {
        receiver.of_type("custom", "alert.fired").len() == 1 && receiver.at("slack").len() == 1
    })
    .await;

    // An unrelated edit: applied, and the open alert is neither re-sent nor resolved.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("timeout = \"5s\"", "timeout = \"6s\""),
    )
    .unwrap();
    wait_until("the reload", LIMIT, || {
        bin.log().contains("config reloaded")
    })
    .await;
    polls(&sim, 5).await;
    assert_eq!(
        receiver.at("custom").len(),
        1,
        "nothing re-sent or resolved"
    );
    assert_eq!(receiver.at("slack").len(), 1);

    // A broken edit: refused with the key and line, and the running config stays.
    std::fs::write(
        &config,
        text.replace("alert_below = 0.80", "alert_below = \"high\""),
    )
    .unwrap();
    wait_until("the refusal", LIMIT, || {
        bin.log().contains("config edit refused")
    })
    .await;
    assert!(bin.log().contains("config.toml:"), "{}", bin.log());
    polls(&sim, 5).await;
    assert_eq!(receiver.at("custom").len(), 1);

    // The service recovers: the running rule still resolves it, once.
    sim.set_orders(orders(40));
    wait_until("alert.resolved", LIMIT, || {
        receiver.of_type("custom", "alert.resolved").len() == 1
    })
    .await;
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_pending_at_a_kill_go_out_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    receiver.script("custom", vec![(500, vec![], "down for maintenance")]);
    sim.set_orders(orders(10));
    let config = write_config(dir.path(), &sim, &receiver);
    // The third attempt waits long enough for the kill to land while it is queued.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        r#"retry_schedule = ["200ms", "500ms", "1s"]"#,
        r#"retry_schedule = ["200ms", "3s", "3s", "3s"]"#,
    );
    std::fs::write(&config, text).unwrap();
    let bin = start(&config, &sim);
    wait_until("failed attempts", LIMIT, || {
        receiver.at("custom").len() >= 2
    })
    .await;
    bin.kill();

    receiver.script("custom", vec![(204, vec![], "")]);
    let seen = receiver.at("custom").len();
    let bin = start(&config, &sim);
    wait_until("the delivery after the restart", LIMIT, || {
        receiver.at("custom").len() > seen
    })
    .await;
    polls(&sim, 5).await;
    let got = receiver.at("custom");
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(
        ids.len(),
        1,
        "every attempt is the same event with the same webhook-id"
    );
    assert_eq!(got.len(), seen + 1, "delivered once after the restart");
    verify_standard(SECRET, got.last().unwrap()).unwrap();
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_from_the_command_line_holds_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.set_orders(orders(40));
    let config = write_config(dir.path(), &sim, &receiver);
    let env = [("E2E_PANEL_KEY", sim.api_key())];
    let out = cli(&config, &env, &["mute", "main/17", "1h"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = start(&config, &sim);
    polls(&sim, 2).await;
    sim.set_orders(orders(5));
    polls(&sim, 8).await;
    assert!(receiver.all().is_empty(), "muted: recorded, not sent");

    let out = cli(&config, &env, &["unmute", "main/17"]);
    assert!(out.status.success());
    wait_until("the alert after the unmute", LIMIT, || {
        receiver.of_type("custom", "alert.fired").len() == 1
    })
    .await;
    polls(&sim, 5).await;
    assert_eq!(receiver.of_type("custom", "alert.fired").len(), 1);
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    // Slack says the channel is gone for good: a permanent failure, a dead letter at once.
    receiver.script("slack", vec![(404, vec![], "channel_not_found")]);
    sim.set_orders(orders(10));
    let config = write_config(dir.path(), &sim, &receiver);
    let bin = start(&config, &sim);
    wait_until("the fired alert", LIMIT, || {
        receiver.at("slack").len() == 1 && receiver.at("custom").len() == 1
    })
    .await;

    let run = |args: &[&str]| {
        let out = cli(&config, &[("E2E_PANEL_KEY", sim.api_key())], args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let mut listing = String::new();
    wait_until("the dead letter in the listing", LIMIT, || {
        listing = run(&["deliveries"]);
        listing.contains("dead")
    })
    .await;
    assert!(
        listing.contains("ops") && listing.contains("alert.fired"),
        "{listing}"
    );
    assert!(
        listing.contains("404"),
        "the last answer is shown: {listing}"
    );
    assert!(
        !listing.contains(&receiver.url("slack")),
        "no webhook URL in the listing"
    );

    receiver.script("slack", vec![(200, vec![], "ok")]);
    let replay = run(&["deliveries", "retry", "--all-dead"]);
    assert!(replay.starts_with("1 dead letter"), "{replay}");
    wait_until("the replayed delivery", LIMIT, || {
        receiver.at("slack").len() == 2
    })
    .await;
    wait_until("an empty outbox", LIMIT, || {
        run(&["deliveries"]).starts_with("no pending, retrying or dead deliveries")
    })
    .await;
    drop(bin);
}
