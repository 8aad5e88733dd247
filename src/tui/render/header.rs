//! The header: the title, the snapshot's time and totals, then each panel's health with the
//! time since its last poll and how long that poll took. Panels are packed several to a line
//! and the header grows by a line or two when they do not fit.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::{age, clock, truncate, width, Theme};
use crate::snapshot::{AlertStatus, PanelHealth, PanelView, Snapshot};

/// How much of a down panel's reason the header shows, at most.
const REASON_CELLS: usize = 28;

/// The header's lines for a screen of `area`'s size.
pub(super) fn lines(
    snapshot: &Snapshot,
    title: &str,
    area: Rect,
    theme: Theme,
) -> Vec<Line<'static>> {
    let cells = usize::from(area.width);
    let max_panel_lines = if area.height >= 36 { 3 } else { 2 };
    let reason_cells = (cells / 5).min(REASON_CELLS);

    let firing = snapshot
        .services
        .iter()
        .filter(|s| s.status == AlertStatus::Firing)
        .count();
    let mut services: Vec<_> = snapshot
        .services
        .iter()
        .map(|s| (&s.panel, s.service))
        .collect();
    services.dedup();
    let mut totals = format!(
        "{} UTC · {} panels · {} services",
        clock(snapshot.at),
        snapshot.panels.len(),
        services.len()
    );
    if firing > 0 {
        totals.push_str(&format!(" · {firing} firing"));
    }
    let title = truncate(title, cells.saturating_sub(width(&totals) + 3));
    let gap = cells.saturating_sub(width(&title) + width(&totals) + 2);
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!(" {title}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(" ".repeat(gap)),
        Span::styled(totals, theme.dim()),
        Span::raw(" "),
    ])];

    if snapshot.panels.is_empty() {
        out.push(Line::styled(
            " no panels yet: waiting for the first poll…",
            theme.dim(),
        ));
        return out;
    }
    let mut line: Vec<Span<'static>> = vec![Span::raw(" ")];
    let mut used = 1;
    let mut panel_lines = 1;
    for (shown, panel) in snapshot.panels.iter().enumerate() {
        let segment = segment(panel, snapshot, reason_cells, theme);
        let cost: usize = segment.iter().map(|s| width(&s.content)).sum::<usize>() + 3;
        if used > 1 && used + cost > cells {
            if panel_lines == max_panel_lines {
                let rest = snapshot.panels.len() - shown;
                line.push(Span::styled(format!("+{rest} more"), theme.dim()));
                break;
            }
            out.push(Line::from(std::mem::take(&mut line)));
            line.push(Span::raw(" "));
            used = 1;
            panel_lines += 1;
        }
        line.extend(segment);
        line.push(Span::raw("   "));
        used += cost;
    }
    out.push(Line::from(line));
    out
}

/// A user API v2 panel's balance and API health, as ` · 12.5 USD · api 98%`; a low balance
/// or a degraded API reads as a warning.
fn source_spans(panel: &PanelView, snapshot: &Snapshot, theme: Theme) -> Vec<Span<'static>> {
    let Some(source) = snapshot.sources.iter().find(|s| s.panel == panel.name) else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    if let Some(balance) = &source.balance {
        let style = if source.balance_low {
            theme.bad()
        } else {
            theme.dim()
        };
        let low = if source.balance_low { " LOW" } else { "" };
        spans.push(Span::styled(format!(" · {balance}{low}"), style));
    }
    if let Some(health) = source.health {
        let style = if source.degraded {
            theme.bad()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(
            format!(" · api {:.0}%", health * 100.0),
            style,
        ));
    }
    spans
}

/// One panel as `● main 12s ago 340ms`, `✖ name down 5m: reason` or `… name starting`.
fn segment(
    panel: &PanelView,
    snapshot: &Snapshot,
    reason_cells: usize,
    theme: Theme,
) -> Vec<Span<'static>> {
    let name = Span::styled(
        truncate(&panel.name, 20),
        Style::new().add_modifier(Modifier::BOLD),
    );
    let polled = panel
        .last_poll
        .map(|at| format!(" {} ago", age(snapshot.at, at)))
        .unwrap_or_default();
    match &panel.health {
        PanelHealth::Up => {
            let took = panel
                .poll_ms
                .map(|ms| format!(" in {ms}ms"))
                .unwrap_or_default();
            let mut spans = vec![
                Span::styled("● ", theme.good()),
                name,
                Span::styled(format!("{polled}{took}"), theme.dim()),
            ];
            spans.extend(source_spans(panel, snapshot, theme));
            spans
        }
        PanelHealth::Down { reason, since } => vec![
            Span::styled("✖ ", theme.bad()),
            name,
            Span::styled(format!(" down {}: ", age(snapshot.at, *since)), theme.bad()),
            Span::raw(truncate(reason, reason_cells)),
            Span::styled(polled, theme.dim()),
        ],
        PanelHealth::Starting => vec![
            Span::styled("… ", theme.warn()),
            name,
            Span::styled(" starting", theme.dim()),
        ],
    }
}
