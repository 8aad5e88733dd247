//! The `panelwatch` command: parses the command line, sets up logging, and hands over to the
//! library. Errors end here, printed once, with the exit code: 0 fine, 1 runtime failure,
//! 2 bad config or arguments.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use panelwatch::cli::{Cli, Command, ConfigAction, DeliveriesAction, Look};
use panelwatch::config::Config;
use panelwatch::runtime::{ConfigSource, Monitor};
use panelwatch::store::{DeliveryState, Store};

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
            // Attaching needs only the state folder: not the panels' keys and tokens.
            let (state_dir, max_fps) = match Config::screen_settings(&config) {
                Ok(settings) => settings,
                Err(e) => {
                    eprintln!("panelwatch: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            logging(false, &state_dir)?;
            runtime()?.block_on(attach(&state_dir, max_fps, config, look))
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
        Command::Completions { shell } => {
            panelwatch::cli::completions(shell, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            panelwatch::cli::man(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            action: ConfigAction::Schema,
        } => {
            println!("{}", panelwatch::config::schema_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { config } => {
            let stdin = std::io::stdin();
            let interactive = stdin.is_terminal();
            let mut input = stdin.lock();
            let mut output = std::io::stderr();
            panelwatch::init::run(&config, interactive, &mut input, &mut output)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Track {
            panel,
            order,
            service,
            quantity,
            csv,
            config,
        } => {
            let Some(loaded) = load(&config) else {
                return Ok(ExitCode::from(2));
            };
            track(&loaded, &panel, order, service, quantity, csv.as_deref())
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
            let count =
                |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            println!(
                "{}: ok ({}, {}, {})",
                path.display(),
                count(config.panels.len(), "panel"),
                count(config.rules.len(), "rule"),
                count(config.webhooks.len(), "webhook")
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
            // Colour only for a person at a terminal: never into the journal or a file.
            builder
                .with_ansi(
                    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                )
                .with_writer(std::io::stderr)
                .init();
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
async fn attach(
    state_dir: &Path,
    max_fps: u32,
    path: PathBuf,
    look: Look,
) -> anyhow::Result<ExitCode> {
    let attached = match panelwatch::attach::connect(state_dir).await {
        Ok(a) => a,
        Err(e @ panelwatch::attach::AttachError::NotRunning { .. }) => {
            eprintln!("panelwatch: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let mut options =
        panelwatch::tui::TuiOptions::new(format!("panelwatch · attached · {}", path.display()));
    options.max_fps = max_fps;
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
            if let (Some(id), 0) = (id, n) {
                anyhow::bail!(
                    "no dead letter has the id {id} (`panelwatch deliveries` lists them)"
                );
            }
            println!(
                "{n} dead letter(s) queued for one more attempt; a running panelwatch sends them"
            );
        }
        Some(DeliveriesAction::Enable { destination }) => {
            if config.destination(&destination).is_none() {
                anyhow::bail!("no webhook is named {destination:?} in the config");
            }
            if panelwatch::delivery::dispatch::enable_destination(&store, &destination)? {
                println!("{destination} enabled; a running panelwatch resumes its deliveries");
            } else {
                println!("{destination} was not disabled");
            }
        }
        None => {
            let states = [
                DeliveryState::Pending,
                DeliveryState::Retrying,
                DeliveryState::Dead,
            ];
            let list = store.deliveries(&states, 500)?;
            for dest in &config.webhooks {
                if let Some(reason) = store.destination_state(&dest.name)?.disabled {
                    println!(
                        "destination {} is disabled ({reason}): its deliveries wait; \
                         `panelwatch deliveries enable {}` resumes them",
                        dest.name, dest.name
                    );
                }
            }
            if list.is_empty() {
                println!("no pending, retrying or dead deliveries");
                return Ok(());
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
            if !store.states(&key)?.iter().any(|(k, _)| *k == key) {
                println!("{parsed} was not muted");
                return Ok(ExitCode::SUCCESS);
            }
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

/// Adds tracked orders to the state store; a running panelwatch polls them at its next round.
fn track(
    config: &Config,
    panel: &str,
    order: Option<u64>,
    service: Option<u64>,
    quantity: Option<u64>,
    csv: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    use panelwatch::domain::{OrderId, ServiceId};
    match config.panel(panel) {
        Some(p) if p.kind == panelwatch::config::PanelKind::V2 => {}
        Some(_) => {
            eprintln!(
                "panelwatch: panel {panel:?} is not a kind = \"v2\" panel; only those track orders"
            );
            return Ok(ExitCode::from(2));
        }
        None => {
            eprintln!("panelwatch: no panel is named {panel:?} in the config");
            return Ok(ExitCode::from(2));
        }
    }
    let rows = match (csv, order, service) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            match panelwatch::source::csv::parse(&text) {
                Ok(rows) => rows,
                Err(e) => {
                    eprintln!("panelwatch: {}: {e}", path.display());
                    return Ok(ExitCode::from(2));
                }
            }
        }
        (None, Some(order), Some(service)) => vec![panelwatch::source::csv::CsvRow {
            order,
            service,
            quantity,
        }],
        _ => {
            eprintln!("panelwatch: say which order and its --service, or give --csv FILE");
            return Ok(ExitCode::from(2));
        }
    };
    let store = Store::open(&config.monitor.state_dir)?;
    let now = chrono::Utc::now();
    let mut added = 0;
    for row in &rows {
        let new = store.track_order(
            panel,
            OrderId(row.order),
            ServiceId(row.service),
            row.quantity,
            now,
        )?;
        added += usize::from(new);
    }
    println!(
        "tracking {added} new order(s) on {panel} ({} already tracked)",
        rows.len() - added
    );
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
    use panelwatch::delivery::classify::Verdict;
    let verdict = match &outcome.verdict {
        Verdict::Delivered => "delivered".to_string(),
        Verdict::Retry { after: Some(d) } => {
            format!(
                "failed for now: retried on the schedule, not before {}s",
                d.as_secs()
            )
        }
        Verdict::Retry { after: None } => "failed for now: retried on the schedule".into(),
        Verdict::Refused { reason } => {
            format!("refused ({reason}): retried on the schedule; check the receiver")
        }
        Verdict::Permanent { reason } => format!("refused for good ({reason}): a dead letter"),
        Verdict::Gone { reason } => format!("endpoint gone ({reason}): destination disabled"),
        Verdict::MigrateChat { chat_id } => format!("chat moved to {chat_id}: resent there"),
    };
    println!("classification: {verdict}");
    Ok(if outcome.verdict.is_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
