//! The command line, defined once: `main` parses it, and the shell completions and the man
//! page are generated from the same definition, so none of them can drift from the others.
//!
//! What each command does lives elsewhere (`main.rs` for the glue, the library for the work).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

#[derive(Parser)]
#[command(
    name = "panelwatch",
    version,
    about = "Watches SMM panel services and sends signed webhook alerts when they fail"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// How the screen looks, for every command that shows one.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Look {
    /// No colours (as `NO_COLOR` does): states read from their words and symbols.
    #[arg(long)]
    pub no_color: bool,
    /// Gauges, sparklines and charts in plain ASCII, without block or braille glyphs.
    #[arg(long)]
    pub ascii: bool,
}

impl Look {
    pub fn apply(self, options: &mut crate::tui::TuiOptions) {
        options.color = options.color && !self.no_color;
        options.ascii = self.ascii;
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Watch the panels in the config: the terminal UI, or logs when headless.
    Run {
        /// The config file.
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        #[command(flatten)]
        look: Look,
        /// No terminal UI: events as log lines on stderr (automatic when stdout is not a
        /// terminal); screens attach with `panelwatch tui`.
        #[arg(long)]
        headless: bool,
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
        #[arg(long, short, default_value = "config.toml", global = true)]
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
    /// Follow orders on a user API v2 panel: one order with its service, or a CSV file of
    /// `order,service[,quantity]` rows. A running panelwatch polls them at its next round.
    Track {
        /// The panel's name (`[[panels]] name`, a `kind = "v2"` panel).
        panel: String,
        /// The order id.
        #[arg(required_unless_present = "csv", conflicts_with = "csv")]
        order: Option<u64>,
        /// The order's service id.
        #[arg(long, required_unless_present = "csv")]
        service: Option<u64>,
        /// The ordered quantity, for the delivered share of a Partial order.
        #[arg(long)]
        quantity: Option<u64>,
        /// A CSV file of `order,service[,quantity]` rows (a header line is allowed).
        #[arg(long)]
        csv: Option<PathBuf>,
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
    /// Print shell completions: `panelwatch completions bash > /etc/bash_completion.d/panelwatch`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
    /// Print the man page (roff): `panelwatch man | man -l -`.
    Man,
    /// Work with the config file itself.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Write a commented starter config; asks for the panel and destinations in a terminal.
    Init {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
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
pub enum DeliveriesAction {
    /// Put dead letters back in the queue for one more attempt.
    Retry {
        /// The delivery id, as `panelwatch deliveries` lists it.
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
    },
    /// Let a disabled destination receive deliveries again; its queued deliveries resume.
    Enable {
        /// The destination's name (`[[webhooks]] name`).
        destination: String,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Print the JSON Schema of config.toml, for editors (taplo, Even Better TOML).
    Schema,
}

/// The whole command line as clap sees it: the source of the help, completions and man page.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Writes the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = command();
    clap_complete::generate(shell, &mut cmd, "panelwatch", out);
    Ok(())
}

/// Writes the man page, `panelwatch(1)`, in roff.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn completions_are_generated_for_every_shell() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            for word in [
                "deliveries",
                "test-alert",
                "completions",
                "schema",
                "headless",
            ] {
                assert!(text.contains(word), "{shell}: {word} missing");
            }
        }
    }

    #[test]
    fn the_man_page_names_every_command() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".ie"), "roff: {}", &text[..40]);
        assert!(text.contains(".TH panelwatch 1"), "{text}");
        for word in ["run", "demo", "check", "deliveries", "init", "completions"] {
            assert!(text.contains(word), "{word} missing");
        }
    }
}
