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

/// How the screen looks, for every command that shows one.
#[derive(clap::Args, Clone, Copy, Debug)]
struct Look {
    /// No colours (as `NO_COLOR` does): states read from their words and symbols.
    #[arg(long)]
    no_color: bool,
    /// Gauges, sparklines and charts in plain ASCII, without block or braille glyphs.
    #[arg(long)]
    ascii: bool,
}

impl Look {
    fn apply(self, options: &mut panelwatch::tui::TuiOptions) {
        options.color = options.color && !self.no_color;
        options.ascii = self.ascii;
    }
}

#[derive(Subcommand)]
enum Command {
    /// Watch the panels in the config: the terminal UI, or logs when headless.
    Run {
        /// The config file.
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        /// No terminal UI: events as log lines on stderr (automatic when stdout is not a
        /// terminal); screens attach with `panelwatch tui`.
        #[arg(long)]
        headless: bool,
        #[command(flatten)]
        look: Look,
    },
    /// Attach a screen to the monitor started with `panelwatch run --headless`.
    Tui {
        /// The config file whose `state_dir` holds the monitor's socket.
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        #[command(flatten)]
        look: Look,
        /// Show a synthetic monitor of this many services instead of attaching (for the
        /// bandwidth benchmark).
        #[arg(long, hide = true)]
        bench_fixture: Option<usize>,
        /// With --bench-fixture: every service changes every 10 s.
        #[arg(long, hide = true)]
        bench_busy: bool,
    },
    /// Run a simulated panel and webhook receiver and watch them; nothing to configure.
    Demo {
        /// No terminal UI: events and received webhooks as log lines.
        #[arg(long)]
        headless: bool,
        #[command(flatten)]
        look: Look,
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
        Command::Run {
            config,
            headless,
            look,
        } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            let headless = headless || !std::io::stdout().is_terminal();
            logging(headless, &loaded.monitor.state_dir)?;
            runtime()?.block_on(run(loaded, config, headless, look))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tui {
            config,
            look,
            bench_fixture,
            bench_busy,
        } => {
            if let Some(services) = bench_fixture {
                return runtime()?
                    .block_on(bench(services, bench_busy, look))
                    .map(|()| ExitCode::SUCCESS);
            }
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            logging(false, &loaded.monitor.state_dir)?;
            runtime()?.block_on(attach(loaded, config, look))
        }
        Command::Demo { headless, look } => {
            let headless = headless || !std::io::stdout().is_terminal();
            let dir = std::env::temp_dir().join(format!("panelwatch-demo-{}", std::process::id()));
            logging(headless, &dir)?;
            let result = runtime()?.block_on(panelwatch::demo::run(&dir, headless, &|options| {
                look.apply(options)
            }));
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

async fn run(config: Config, path: PathBuf, headless: bool, look: Look) -> anyhow::Result<()> {
    let title = format!("panelwatch · {}", path.display());
    let max_fps = config.ui.max_fps;
    let state_dir = config.monitor.state_dir.clone();
    let monitor = Monitor::start(ConfigSource {
        config,
        path: Some(path),
    })
    .await?;
    tracing::info!("panelwatch started");
    if headless {
        // Screens attach through the socket; it goes away with the server.
        let server =
            panelwatch::attach::serve(&state_dir, monitor.snapshots(), monitor.commands()).await?;
        eprintln!(
            "panelwatch: attach a screen with `panelwatch tui` (socket {})",
            server.path().display()
        );
        panelwatch::runtime::wait_for_signal().await;
        drop(server);
    } else {
        let mut options = panelwatch::tui::TuiOptions::new(title);
        options.max_fps = max_fps;
        options.commands = Some(monitor.commands());
        look.apply(&mut options);
        tokio::select! {
            result = panelwatch::tui::run(monitor.snapshots(), options) => result?,
            _ = panelwatch::runtime::wait_for_signal() => {}
        }
    }
    tracing::info!("stopping");
    monitor.stop().await;
    Ok(())
}

/// `panelwatch tui`: the screen of a monitor running elsewhere, through its socket.
async fn attach(config: Config, path: PathBuf, look: Look) -> anyhow::Result<ExitCode> {
    let state_dir = config.monitor.state_dir.clone();
    let attached = match panelwatch::attach::connect(&state_dir).await {
        Ok(a) => a,
        Err(e @ panelwatch::attach::AttachError::NotRunning { .. }) => {
            eprintln!("panelwatch: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let mut options =
        panelwatch::tui::TuiOptions::new(format!("panelwatch · attached · {}", path.display()));
    options.max_fps = config.ui.max_fps;
    options.commands = Some(attached.commands);
    look.apply(&mut options);
    tokio::select! {
        result = panelwatch::tui::run(attached.snapshots, options) => result?,
        _ = panelwatch::runtime::wait_for_signal() => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The screen over a synthetic monitor, for `benches/tui_bandwidth.rs`.
async fn bench(services: usize, busy: bool, look: Look) -> anyhow::Result<()> {
    let snapshots = panelwatch::tui::synthetic::spawn(services, busy);
    let mut options = panelwatch::tui::TuiOptions::new("panelwatch · synthetic");
    look.apply(&mut options);
    panelwatch::tui::run(snapshots, options).await?;
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
