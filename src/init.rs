//! `panelwatch init`: a commented starter `config.toml`.
//!
//! In a terminal it asks three questions (the panel's admin API URL, the environment variable
//! holding its key, the one holding a Slack webhook URL); otherwise it writes the template with
//! example values. It never overwrites a file, and it never writes a secret: keys and webhook
//! URLs stay in the environment, referenced as `${VAR}`.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// Why no config was written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists; not overwriting it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read the answer: {0}")]
    Prompt(io::Error),
}

/// What the starter config is filled in with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    pub panel_url: String,
    /// The variable holding the admin API key.
    pub key_var: String,
    /// The variable holding the Slack webhook URL; `None` leaves Slack out.
    pub slack_var: Option<String>,
}

impl Default for Answers {
    fn default() -> Answers {
        Answers {
            panel_url: "https://panel.example/adminapi/v2".into(),
            key_var: "PANEL_ADMIN_KEY".into(),
            slack_var: Some("SLACK_WEBHOOK_URL".into()),
        }
    }
}

/// Writes the starter config to `path`, asking on `input`/`output` first when `interactive`.
pub fn run(
    path: &Path,
    interactive: bool,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), InitError> {
    if path.exists() {
        return Err(InitError::Exists(path.to_path_buf()));
    }
    let answers = if interactive {
        ask(input, output).map_err(InitError::Prompt)?
    } else {
        Answers::default()
    };
    let write_err = |source| InitError::Write {
        path: path.to_path_buf(),
        source,
    };
    // create_new: a file appearing meanwhile is not overwritten either.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => InitError::Exists(path.to_path_buf()),
            _ => write_err(e),
        })?;
    file.write_all(template(&answers).as_bytes())
        .map_err(write_err)?;
    let _ = writeln!(
        output,
        "wrote {}; set {} in the environment, then `panelwatch check --config {0}`",
        path.display(),
        needed_vars(&answers).join(" and "),
    );
    Ok(())
}

fn needed_vars(answers: &Answers) -> Vec<String> {
    let mut vars = vec![answers.key_var.clone()];
    vars.extend(answers.slack_var.clone());
    vars
}

/// Asks the three questions; an empty answer takes the default shown in brackets.
pub fn ask(input: &mut dyn BufRead, output: &mut dyn Write) -> io::Result<Answers> {
    let defaults = Answers::default();
    let panel_url = loop {
        let url = prompt(
            input,
            output,
            "Panel admin API URL",
            Some(&defaults.panel_url),
        )?;
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => break url,
            _ => writeln!(output, "  an http:// or https:// URL, please")?,
        }
    };
    let key_var = loop {
        let var = prompt(
            input,
            output,
            "Environment variable holding the admin API key",
            Some(&defaults.key_var),
        )?;
        if is_var_name(&var) {
            break var;
        }
        writeln!(output, "  a variable name such as PANEL_ADMIN_KEY, please")?;
    };
    let slack_var = loop {
        let var = prompt(
            input,
            output,
            "Environment variable holding a Slack webhook URL (\"-\" for none)",
            defaults.slack_var.as_deref(),
        )?;
        if var == "-" {
            break None;
        }
        if is_var_name(&var) {
            break Some(var);
        }
        writeln!(
            output,
            "  the variable's name, not the URL: the URL holds a token and stays out of the file"
        )?;
    };
    Ok(Answers {
        panel_url,
        key_var,
        slack_var,
    })
}

/// One question; `Err(UnexpectedEof)` when the input ends.
fn prompt(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    question: &str,
    default: Option<&str>,
) -> io::Result<String> {
    match default {
        Some(d) => write!(output, "{question} [{d}]: ")?,
        None => write!(output, "{question}: ")?,
    }
    output.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let answer = line.trim();
    Ok(match (answer.is_empty(), default) {
        (true, Some(d)) => d.to_string(),
        _ => answer.to_string(),
    })
}

fn is_var_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The starter config, commented. It passes `panelwatch check` once the variables are set.
pub fn template(answers: &Answers) -> String {
    let slack = match &answers.slack_var {
        Some(var) => format!(
            "[[webhooks]]\nname = \"ops\"\nkind = \"slack\"\n\
             # The webhook URL holds a token: it stays in the environment.\n\
             url = \"${{{var}}}\"\n"
        ),
        None => "# [[webhooks]]\n# name = \"ops\"\n# kind = \"slack\"\n\
                 # url = \"${SLACK_WEBHOOK_URL}\"\n"
            .to_string(),
    };
    let notify = if answers.slack_var.is_some() {
        "notify = [\"ops\"]"
    } else {
        "# notify = [\"ops\"]"
    };
    format!(
        r#"# panelwatch configuration, written by `panelwatch init`.
#
# `panelwatch check` validates this file; `panelwatch run` watches. Every key is explained in
# the example config.toml of panelwatch's repository. For completion in your editor, save the
# schema beside this file (`panelwatch config schema > config.schema.json`) and add this as
# the first line:  #:schema ./config.schema.json
#
# Durations: "500ms", "30s", "2m", "6h", "7d". ${{VAR}} takes an environment variable: keep
# API keys, tokens and webhook URLs there, never in this file.

[monitor]
# SQLite state (events, alert states, the delivery outbox), relative to this file.
state_dir = "panelwatch-state"
timezone = "UTC"

# Prometheus metrics at http://127.0.0.1:9187/metrics:
# [metrics]
# listen = "127.0.0.1:9187"

[[panels]]
name = "main"
# The admin API v2 (GET {{url}}/orders with an X-Api-Key header).
kind = "admin"
url = "{url}"
api_key = "${{{key}}}"
interval = "30s"

# Probe your storefront (or a provider's API) like an uptime checker: each probe is a service.
# [[panels]]
# name = "storefront"
# kind = "http"
# interval = "20s"
#
# [[panels.probes]]
# name = "home"
# url = "https://panel.example/"
# expect_status = 200
# max_latency = "2s"

[[rules]]
name = "success-rate"
# Over the orders created in the window that finished; fewer than min_orders: no alert.
window = "6h"
min_orders = 20
alert_below = 0.80
resolve_above = 0.85
for = "2m"
{notify}

{slack}"#,
        url = answers.panel_url,
        key = answers.key_var,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn check(text: &str, vars: &[&str]) -> Config {
        let vars: Vec<String> = vars.iter().map(|v| v.to_string()).collect();
        let env = move |name: &str| {
            vars.contains(&name.to_string())
                .then(|| "https://hooks.slack.test/services/T/B/X".to_string())
        };
        Config::from_toml(text, Path::new("/tmp"), &env).unwrap()
    }

    #[test]
    fn the_non_interactive_template_is_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut output = Vec::new();
        run(&path, false, &mut io::empty(), &mut output).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let config = check(&text, &["PANEL_ADMIN_KEY", "SLACK_WEBHOOK_URL"]);
        assert_eq!(config.panels[0].url, "https://panel.example/adminapi/v2");
        assert_eq!(config.rules[0].notify, vec!["ops".to_string()]);
        let said = String::from_utf8(output).unwrap();
        assert!(
            said.contains("PANEL_ADMIN_KEY and SLACK_WEBHOOK_URL"),
            "{said}"
        );

        let err = run(&path, false, &mut io::empty(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, InitError::Exists(_)), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
    }

    #[test]
    fn interactive_answers_fill_the_template_and_bad_ones_are_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let answers = "ftp://x\nhttps://smm.example/adminapi/v2\nmy key\nSMM_KEY\n\
                       https://hooks.slack.com/services/T/B/X\n-\n";
        let mut output = Vec::new();
        run(&path, true, &mut answers.as_bytes(), &mut output).unwrap();
        let said = String::from_utf8(output).unwrap();
        assert!(
            said.contains("an http:// or https:// URL, please"),
            "{said}"
        );
        assert!(said.contains("not the URL"), "{said}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hooks.slack.com"), "no secret is written");
        let config = check(&text, &["SMM_KEY"]);
        assert_eq!(config.panels[0].url, "https://smm.example/adminapi/v2");
        assert!(config.webhooks.is_empty() && config.rules[0].notify.is_empty());
    }

    #[test]
    fn input_ending_early_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let err = run(&path, true, &mut "\n".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, InitError::Prompt(_)), "{err}");
        assert!(!path.exists());
    }
}
