//! `panelwatch demo`: the whole product on one machine, with nothing to configure.
//!
//! It starts the simulated panel (`sim`, with a live order flow in which one service degrades
//! and then recovers within a few minutes), a local webhook receiver that verifies signatures,
//! and a monitor configured to watch the one and notify the other; then shows the TUI (or logs,
//! headless). The state lives in a temporary folder removed at exit.

pub mod receiver;

use std::path::Path;

use crate::config::Config;
use crate::delivery::sign::SigningKey;

/// Builds the demo's config for a panel at `panel_url` and a receiver at `receiver_base`.
pub fn config(
    panel_url: &str,
    api_key: &str,
    receiver_base: &str,
    secret: &str,
    state_dir: &Path,
) -> Config {
    let text = format!(
        r#"
[monitor]
state_dir = {state_dir:?}
timezone = "UTC"

[[panels]]
name = "demo-panel"
kind = "admin"
url = "{panel_url}"
api_key = "{api_key}"
interval = "2s"
timeout = "5s"

[[rules]]
name = "success-rate"
services = ["*"]
window = "2m"
min_orders = 10
alert_below = 0.80
resolve_above = 0.85
for = "10s"
notify = ["demo-slack", "demo-receiver"]

[[webhooks]]
name = "demo-slack"
kind = "slack"
url = "{receiver_base}/slack"

[[webhooks]]
name = "demo-receiver"
kind = "custom"
url = "{receiver_base}/hook"
secret = "{secret}"
"#,
        state_dir = state_dir.display().to_string(),
    );
    Config::from_toml(&text, Path::new("."), &|_| None).expect("the demo config is valid")
}

/// The demo's order flow: two minutes of healthy history, then Instagram Followers failing
/// from 30 s to 90 s. With the demo rule's two-minute window it fires a little over a minute
/// in and resolves a little over three minutes in.
pub fn demo_flow() -> crate::sim::flow::FlowOptions {
    crate::sim::flow::FlowOptions {
        history: std::time::Duration::from_secs(120),
        history_orders: 100,
        degrade_at: std::time::Duration::from_secs(30),
        recover_at: std::time::Duration::from_secs(90),
        ..Default::default()
    }
}

/// A fresh signing secret for the demo's receiver.
pub fn secret() -> String {
    SigningKey::generate()
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the demo's local servers: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Start(#[from] crate::runtime::StartError),
}

/// Runs the demo until the user quits (TUI) or SIGINT/SIGTERM (headless); `look` adjusts
/// the screen's options (colours, ASCII).
pub async fn run(
    state_dir: &Path,
    headless: bool,
    look: &dyn Fn(&mut crate::tui::TuiOptions),
) -> Result<(), DemoError> {
    use crate::runtime::{ConfigSource, Monitor};
    use crate::sim::panel::{SimOptions, SimPanel};

    let sim = SimPanel::start(SimOptions::default()).await?;
    sim.start_flow(demo_flow());
    let secret = secret();
    let receiver = receiver::Receiver::start(&secret).await?;
    let config = config(
        &sim.url(),
        sim.api_key(),
        &format!("http://{}", receiver.addr),
        &secret,
        state_dir,
    );
    let max_fps = config.ui.max_fps;
    let monitor = Monitor::start(ConfigSource { config, path: None }).await?;
    tracing::info!(panel = sim.url().as_str(), receiver = %receiver.addr, "demo started");

    if headless {
        eprintln!(
            "panelwatch demo: simulated panel at {}, receiver at http://{}; Ctrl-C to stop",
            sim.url(),
            receiver.addr
        );
        // The receiver logs each delivery it checks; the demo only waits.
        crate::runtime::wait_for_signal().await;
    } else {
        let mut options = crate::tui::TuiOptions::new("panelwatch demo · simulated panel");
        options.max_fps = max_fps;
        options.extra_pane = Some(("Webhook receiver".into(), receiver.lines()));
        options.commands = Some(monitor.commands());
        look(&mut options);
        tokio::select! {
            result = crate::tui::run(monitor.snapshots(), options) => result?,
            _ = crate::runtime::wait_for_signal() => {}
        }
    }
    monitor.stop().await;
    Ok(())
}
