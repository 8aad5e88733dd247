//! A strict reader of Prometheus' text exposition format, for tests: every line is a `# HELP`,
//! a `# TYPE` (gauges only, once per family, before its samples) or a sample, and every label
//! value is properly escaped. Shared by `src/metrics.rs`'s unit tests and the binary tests.

use std::collections::BTreeMap;

/// A strict reader of the text format: every line a comment or `name{labels} value`.
/// Returns the samples as `name{k="v",...}` (labels sorted, unescaped) to value.
pub fn parse(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut samples = BTreeMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(line)?;
            if kind != "gauge" || !typed.insert(name.to_string()) {
                return Err(format!("bad or repeated TYPE: {line}"));
            }
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .ok_or(line)?;
        let name = &line[..name_end];
        if !typed.contains(name) {
            return Err(format!("sample before its TYPE: {line}"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = inner;
            while !rest.starts_with('}') {
                let eq = rest.find("=\"").ok_or(line)?;
                let key = &rest[..eq];
                rest = &rest[eq + 2..];
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next().ok_or(line)? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next().ok_or(line)?.1 {
                            'n' => value.push('\n'),
                            c @ ('\\' | '"') => value.push(c),
                            _ => return Err(format!("bad escape: {line}")),
                        },
                        (_, c) => value.push(c),
                    }
                };
                labels.push(format!("{key}={value:?}"));
                rest = &rest[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
            rest = &rest[1..];
        }
        let value = rest.strip_prefix(' ').ok_or(line)?;
        let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
        labels.sort();
        let key = format!("{name}{{{}}}", labels.join(","));
        if samples.insert(key, value).is_some() {
            return Err(format!("repeated sample: {line}"));
        }
    }
    Ok(samples)
}
