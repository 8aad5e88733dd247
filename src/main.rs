//! The `panelwatch` command: parses the command line, sets up logging, and hands over to the
//! library. Errors end here, printed once, with the exit code: 0 fine, 1 runtime failure,
//! 2 bad config or arguments.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use panelwatch::config::Config;
use panelwatch::runtime::{ConfigSource, Monitor};
use panelwatch::store::{DeliveryState, Store};

#[derive(Parser)]
#[command(
    name = "panelwatch",
    version,
    about = "Watches SMM panel services and sends signed webhook alerts when they fail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the panels in the config: the terminal UI, or logs when headless.
    Run {
        /// The config file.
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        /// No terminal UI: events as log lines on stderr (automatic when stdout is not a terminal).
        #[arg(long)]
        headless: bool,
    },
    /// Run a simulated panel and webhook receiver and watch them; nothing to configure.
    Demo {
        /// No terminal UI: events and received webhooks as log lines.
        #[arg(long)]
        headless: bool,
    },
    /// Validate the config and exit non-zero with the key and line of the first problem.
    Check {
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
    },
    /// List pending, retrying and dead deliveries, or replay dead ones.
    Deliveries {
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        #[command(subcommand)]
        action: Option<DeliveriesAction>,
    },
    /// Mute alerts about a panel, service or provider for a while: they are recorded, not sent.
    Mute {
        /// `PANEL`, `PANEL/SERVICE_ID` or `PANEL/provider:NAME`.
        target: String,
        /// How long, e.g. `30m`, `2h`, `1d`.
        duration: String,
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Lift a mute before it expires.
    Unmute {
        target: String,
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Success figures over 1h, 24h, 7d and 30d per service and provider, from the history.
    Report {
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send a `test` event to one destination through the outbox and print the outcome.
    TestAlert {
        /// The destination's name (`[[webhooks]] name`).
        destination: String,
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum DeliveriesAction {
    /// Put dead letters back in the queue for one more attempt.
    Retry {
        /// The delivery id, as `panelwatch deliveries` lists it.
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("panelwatch: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { config } => Ok(check(&config)),
        Command::Run { config, headless } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            let headless = headless || !std::io::stdout().is_terminal();
            logging(headless, &loaded.monitor.state_dir)?;
            runtime()?.block_on(run(loaded, config, headless))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { headless } => {
            let headless = headless || !std::io::stdout().is_terminal();
            let dir = std::env::temp_dir().join(format!("panelwatch-demo-{}", std::process::id()));
            logging(headless, &dir)?;
            let result = runtime()?.block_on(panelwatch::demo::run(&dir, headless));
            let _ = std::fs::remove_dir_all(&dir);
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deliveries { config, action } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            deliveries(&loaded, action)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mute {
            target,
            duration,
            config,
        } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            mute(&loaded, &target, Some(&duration))
        }
        Command::Unmute { target, config } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            mute(&loaded, &target, None)
        }
        Command::Report { config, json } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            let store = Store::open(&loaded.monitor.state_dir)?;
            let names: Vec<&str> = loaded.panels.iter().map(|p| p.name.as_str()).collect();
            print!(
                "{}",
                panelwatch::history::report(&store, &names, chrono::Utc::now(), json)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::TestAlert {
            destination,
            config,
        } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            logging(true, &loaded.monitor.state_dir)?;
            runtime()?.block_on(test_alert(loaded, &destination))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Loads the config, printing the problem and returning `None` when it is invalid.
fn load(path: &Path) -> Option<Config> {
    match Config::load(path) {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("panelwatch: warning: {warning}");
            }
            Some(config)
        }
        Err(e) => {
            eprintln!("panelwatch: {e}");
            None
        }
    }
}

fn check(path: &Path) -> ExitCode {
    match load(path) {
        Some(config) => {
            println!(
                "{}: ok ({} panels, {} rules, {} webhooks)",
                path.display(),
                config.panels.len(),
                config.rules.len(),
                config.webhooks.len()
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::from(2),
    }
}

/// Logs go to stderr when headless; to a file in the state folder while the TUI owns the
/// terminal. `PANELWATCH_LOG` (or `RUST_LOG`) sets the filter; `PANELWATCH_LOG_FORMAT=json`
/// writes JSON lines.
fn logging(headless: bool, state_dir: &Path) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("PANELWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PANELWATCH_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if headless {
        if json {
            builder.json().with_writer(std::io::stderr).init();
        } else {
            builder.with_writer(std::io::stderr).init();
        }
    } else {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create {}", state_dir.display()))?;
        let path = panelwatch::runtime::log_path(state_dir);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open the log file {}", path.display()))?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    }
    Ok(())
}

async fn run(config: Config, path: PathBuf, headless: bool) -> anyhow::Result<()> {
    let title = format!("panelwatch · {}", path.display());
    let max_fps = config.ui.max_fps;
    let monitor = Monitor::start(ConfigSource {
        config,
        path: Some(path),
    })
    .await?;
    tracing::info!("panelwatch started");
    if headless {
        panelwatch::runtime::wait_for_signal().await;
    } else {
        let mut options = panelwatch::tui::TuiOptions::new(title);
        options.max_fps = max_fps;
        tokio::select! {
            result = panelwatch::tui::run(monitor.snapshots(), options) => result?,
            _ = panelwatch::runtime::wait_for_signal() => {}
        }
    }
    tracing::info!("stopping");
    monitor.stop().await;
    Ok(())
}

fn deliveries(config: &Config, action: Option<DeliveriesAction>) -> anyhow::Result<()> {
    let store = Store::open(&config.monitor.state_dir)?;
    match action {
        Some(DeliveriesAction::Retry { id, all_dead }) => {
            if id.is_none() && !all_dead {
                anyhow::bail!("say which delivery to retry: an id, or --all-dead");
            }
            let n = store.requeue_dead(id, chrono::Utc::now())?;
            println!(
                "{n} dead letter(s) queued for one more attempt; a running panelwatch sends them"
            );
        }
        None => {
            let states = [
                DeliveryState::Pending,
                DeliveryState::Retrying,
                DeliveryState::Dead,
            ];
            let list = store.deliveries(&states, 500)?;
            if list.is_empty() {
                println!("no pending, retrying or dead deliveries");
            }
            println!(
                "{:>6}  {:<9} {:<16} {:<20} {:>8}  {:<20}  last outcome",
                "id", "state", "destination", "event", "attempts", "next attempt"
            );
            for d in list {
                let next = match d.state {
                    DeliveryState::Dead => "-".to_string(),
                    _ => d.next_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                };
                println!(
                    "{:>6}  {:<9} {:<16} {:<20} {:>8}  {:<20}  {}",
                    d.id,
                    d.state.as_str(),
                    d.destination,
                    d.event_type,
                    d.attempts,
                    next,
                    d.last_outcome.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

/// Sets (`duration` given) or lifts a mute in the state store; a running panelwatch picks it up
/// at its next poll.
fn mute(config: &Config, target: &str, duration: Option<&str>) -> anyhow::Result<ExitCode> {
    use panelwatch::quiet::{Mute, MuteTarget};
    let parsed = match MuteTarget::parse(target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("panelwatch: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if config.panel(parsed.panel()).is_none() {
        eprintln!(
            "panelwatch: no panel is named {:?} in the config",
            parsed.panel()
        );
        return Ok(ExitCode::from(2));
    }
    let store = Store::open(&config.monitor.state_dir)?;
    let now = chrono::Utc::now();
    let key = format!("mute/{parsed}");
    let value = match duration {
        Some(text) => {
            let span = match panelwatch::config::parse_duration(text) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    eprintln!("panelwatch: a mute needs a duration longer than zero");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => {
                    eprintln!("panelwatch: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let until = now + chrono::Duration::from_std(span)?;
            println!(
                "muted {parsed} until {}",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            );
            Some(serde_json::to_string(&Mute { until })?)
        }
        None => {
            println!("unmuted {parsed}");
            None
        }
    };
    let batch = panelwatch::store::Batch {
        events: vec![],
        states: vec![(key, value)],
    };
    store.commit(&batch, now)?;
    Ok(ExitCode::SUCCESS)
}

async fn test_alert(config: Config, destination: &str) -> anyhow::Result<ExitCode> {
    if config.destination(destination).is_none() {
        eprintln!("panelwatch: no webhook is named {destination:?} in the config");
        return Ok(ExitCode::from(2));
    }
    let store = std::sync::Arc::new(Store::open(&config.monitor.state_dir)?);
    let outcome = panelwatch::delivery::dispatch::send_test(&config, &store, destination).await?;
    let status = outcome
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "no answer".into());
    println!(
        "{destination}: {} (status {status}, {} ms, event {})",
        outcome.outcome,
        outcome.latency.as_millis(),
        outcome.event_id
    );
    println!("classification: {:?}", outcome.verdict);
    Ok(if outcome.verdict.is_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
