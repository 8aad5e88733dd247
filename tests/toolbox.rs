//! The pieces that fit panelwatch into an admin's toolbox, checked against the real binary:
//! the committed JSON Schema and the example config, completions and the man page, `init`,
//! and the systemd unit (`systemd-analyze verify`, where systemd is installed).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn panelwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let out = panelwatch(&["config", "schema"]);
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(repo("assets/config.schema.json")).unwrap();
    assert!(
        generated.trim_end() == committed.trim_end(),
        "assets/config.schema.json is stale: regenerate it with \
         `cargo run -- config schema > assets/config.schema.json`"
    );
}

#[test]
fn the_example_config_declares_the_schema_and_every_key_is_in_it() {
    let text = std::fs::read_to_string(repo("config.toml")).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("#:schema ./assets/config.schema.json")
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("assets/config.schema.json")).unwrap())
            .unwrap();
    // The example, with its commented-out tables too, so the probes and metrics are covered.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if looks_like_toml(rest) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    for doc in [text.as_str(), uncommented.as_str()] {
        let value: toml::Value = toml::from_str(doc).unwrap();
        let json = serde_json::to_value(value).unwrap();
        let mut missing = Vec::new();
        keys_in_schema(&schema, &schema, &json, "", &mut missing);
        assert!(
            missing.is_empty(),
            "keys the schema does not know: {missing:?}"
        );
    }
}

/// `key = value` or `[table]` lines of the example's commented-out parts.
fn looks_like_toml(line: &str) -> bool {
    line.starts_with('[')
        || line
            .split_once(" = ")
            .is_some_and(|(k, _)| !k.contains(' '))
}

/// Walks a document beside the schema (following `$ref`, `anyOf` and `items`) and collects
/// the keys no `properties` names.
fn keys_in_schema(root: &Value, schema: &Value, doc: &Value, at: &str, missing: &mut Vec<String>) {
    let schema = resolve(root, schema);
    match doc {
        Value::Object(map) => {
            for (key, value) in map {
                let path = format!("{at}.{key}");
                match property(root, schema, key) {
                    Some(sub) => keys_in_schema(root, sub, value, &path, missing),
                    None => missing.push(path),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = variants(root, schema).find_map(|s| s.get("items")) {
                for (i, value) in items.iter().enumerate() {
                    keys_in_schema(root, item, value, &format!("{at}[{i}]"), missing);
                }
            }
        }
        _ => {}
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => root
            .pointer(r.trim_start_matches('#'))
            .expect("a known $ref"),
        None => schema,
    }
}

fn variants<'a>(root: &'a Value, schema: &'a Value) -> impl Iterator<Item = &'a Value> {
    let schema = resolve(root, schema);
    let alternatives = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array);
    std::iter::once(schema).chain(
        alternatives
            .into_iter()
            .flatten()
            .map(move |s| resolve(root, s)),
    )
}

fn property<'a>(root: &'a Value, schema: &'a Value, key: &str) -> Option<&'a Value> {
    variants(root, schema).find_map(|s| {
        s.get("properties")
            .and_then(|p| p.get(key))
            .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
    })
}

#[test]
fn the_schema_refuses_unknown_keys() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("assets/config.schema.json")).unwrap())
            .unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["$defs"]["RawProbe"]["additionalProperties"], false);
    let required = &schema["$defs"]["RawRule"]["required"];
    assert!(required.as_array().unwrap().contains(&"alert_below".into()));
}

#[test]
fn completions_and_the_man_page_come_from_the_binary() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = panelwatch(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("test-alert"),
            "{shell}"
        );
    }
    assert!(!panelwatch(&["completions", "tcsh"]).status.success());
    let dir = tempfile::tempdir().unwrap();
    let out = panelwatch(&["man"]);
    assert!(out.status.success());
    let page = dir.path().join("panelwatch.1");
    std::fs::write(&page, &out.stdout).unwrap();
    // Where man is installed, the page must render without a warning.
    match Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "80")
        .output()
    {
        Ok(rendered) if rendered.status.success() => {
            let text = String::from_utf8_lossy(&rendered.stdout);
            assert!(text.contains("completions"), "{text}");
        }
        _ => eprintln!("note: man is not installed here; the page was only generated"),
    }
}

#[test]
fn init_writes_a_config_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let path_text = path.to_str().unwrap();
    let out = panelwatch(&["init", "--config", path_text]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked = Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(["check", "--config", path_text])
        .env("PANEL_ADMIN_KEY", "k")
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.test/services/T/B/X",
        )
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let again = panelwatch(&["init", "--config", path_text]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(repo("assets/panelwatch.service")).unwrap();
    for line in [
        "ExecStart=/usr/local/bin/panelwatch run --headless --config /etc/panelwatch/config.toml",
        "DynamicUser=yes",
        "StateDirectory=panelwatch",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("note: systemd-analyze is not installed here; the unit was not verified");
        return;
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panelwatch.service");
    let unit = unit.replace(
        "/usr/local/bin/panelwatch",
        env!("CARGO_BIN_EXE_panelwatch"),
    );
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
