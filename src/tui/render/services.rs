//! The services table: one row per (panel, service, rule) with its state, name, a gauge of the
//! success rate against the rule's thresholds, the rate, a trend and the order counts.
//!
//! Narrow screens lose the trend and the counts, never the state, name, gauge or rate.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{fit, focused, pane, status_text, truncate, Theme};
use crate::snapshot::{AlertStatus, ServiceView, Snapshot};
use crate::tui::app::{AppState, Pane};

const STATE_CELLS: u16 = 9;
const FOR_CELLS: u16 = 4;
const RATE_CELLS: u16 = 6;
const COUNTS_CELLS: u16 = 14;
const RUN_CELLS: u16 = 4;
const STUCK_CELLS: u16 = 5;
const MARKER: char = '|';

/// Which columns fit, and how wide the flexible ones are.
struct Columns {
    name: u16,
    gauge: u16,
    trend: Option<u16>,
    counts: bool,
    /// How long the state has held.
    since: bool,
}

impl Columns {
    /// Chooses columns for `cells` of usable width (inside the border and the selection mark).
    fn fit(cells: u16) -> Columns {
        let gauge = match cells {
            110.. => 20,
            90.. => 16,
            _ => 12,
        };
        let trend = match cells {
            110.. => Some(12),
            66.. => Some(8),
            _ => None,
        };
        let counts = cells >= 98;
        let since = cells >= 110;
        let mut fixed = STATE_CELLS + gauge + RATE_CELLS + 3;
        if since {
            fixed += FOR_CELLS + 1;
        }
        if let Some(t) = trend {
            fixed += t + 1;
        }
        if counts {
            fixed += COUNTS_CELLS + RUN_CELLS + STUCK_CELLS + 3;
        }
        Columns {
            name: cells.saturating_sub(fixed).max(8),
            gauge,
            trend,
            counts,
            since,
        }
    }

    fn widths(&self) -> Vec<Constraint> {
        let mut out = vec![Constraint::Length(STATE_CELLS)];
        if self.since {
            out.push(Constraint::Length(FOR_CELLS));
        }
        out.extend([
            Constraint::Length(self.name),
            Constraint::Length(self.gauge),
            Constraint::Length(RATE_CELLS),
        ]);
        if let Some(t) = self.trend {
            out.push(Constraint::Length(t));
        }
        if self.counts {
            out.push(Constraint::Length(COUNTS_CELLS));
            out.push(Constraint::Length(RUN_CELLS));
            out.push(Constraint::Length(STUCK_CELLS));
        }
        out
    }
}

pub(super) fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let is_focused = focused(app, Pane::Services);
    let visible = usize::from(area.height.saturating_sub(3));
    let block = pane(title(snapshot, app, visible), is_focused, theme);

    if snapshot.services.is_empty() {
        let text = vec![
            Line::default(),
            Line::styled(
                "Waiting for the first poll…",
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Line::styled(
                "Services appear here once a panel has been read.",
                theme.dim(),
            ),
        ];
        let body = Paragraph::new(text)
            .centered()
            .wrap(Wrap { trim: true })
            .block(block);
        frame.render_widget(body, area);
        return;
    }

    let columns = Columns::fit(area.width.saturating_sub(4));
    let mut header = vec!["STATE"];
    if columns.since {
        header.push(" FOR");
    }
    header.extend(["SERVICE", "SUCCESS", "  RATE"]);
    if columns.trend.is_some() {
        header.push("TREND");
    }
    if columns.counts {
        header.extend(["DONE/PART/CNCL", " RUN", "STUCK"]);
    }
    let header = Row::new(header).style(Style::new().add_modifier(Modifier::BOLD));
    // Group headings are rows of their own; the selection skips them.
    let mut rows = Vec::new();
    let mut selected_row = 0;
    let mut group = None;
    for (at, &i) in app.visible(snapshot).iter().enumerate() {
        let service = &snapshot.services[i];
        let key = app.group.key(service);
        if key.is_some() && key != group {
            let heading = format!("── {} ", key.clone().unwrap_or_default());
            rows.push(Row::new(vec![Cell::from(""), Cell::from(heading)]).style(theme.dim()));
            group = key;
        }
        if at == app.selected {
            selected_row = rows.len();
        }
        rows.push(row(service, snapshot, &columns, theme));
    }
    if rows.is_empty() {
        rows.push(Row::new(vec![
            Cell::from(""),
            Cell::from(Span::styled("No service matches the filter.", theme.dim())),
        ]));
    }
    let highlight = if is_focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    let table = Table::new(rows, columns.widths())
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(highlight)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(selected_row));
    frame.render_stateful_widget(table, area, &mut state);
}

/// ` Services · 2 firing · 1 pending `, and the selected row's position when not every row
/// fits.
fn title(snapshot: &Snapshot, app: &AppState, visible: usize) -> String {
    let count = |status| {
        snapshot
            .services
            .iter()
            .filter(|s| s.status == status)
            .count()
    };
    let mut title = String::from(" Services");
    for status in [AlertStatus::Firing, AlertStatus::Pending] {
        let n = count(status);
        if n > 0 {
            title.push_str(&format!(" · {n} {}", status.label().to_lowercase()));
        }
    }
    let shown = app.visible(snapshot).len();
    let total = snapshot.services.len();
    if shown < total {
        title.push_str(&format!(
            " · {shown} of {total} match \"{}\"",
            truncate(&app.service_filter, 16)
        ));
    }
    if app.sort != crate::tui::app::Sort::Panel {
        title.push_str(&format!(" · by {}", app.sort.label()));
    }
    if shown > visible {
        title.push_str(&format!(" · {}/{shown}", app.selected.min(shown - 1) + 1));
    }
    title.push(' ');
    title
}

/// `panel/name` cut to `cells`, followed by ` [rule]` when the service has rows for several
/// rules; the rule is kept whole and the name is cut instead.
fn label(service: &ServiceView, snapshot: &Snapshot, cells: usize) -> String {
    let rules = snapshot
        .services
        .iter()
        .filter(|s| s.panel == service.panel && s.service == service.service)
        .count();
    let name = format!("{}/{}", service.panel, service.name);
    if rules < 2 {
        return fit(&name, cells);
    }
    let rule = truncate(&format!(" [{}]", service.rule), cells / 2);
    let name = truncate(&name, cells.saturating_sub(super::width(&rule)));
    fit(&format!("{name}{rule}"), cells)
}

fn row<'a>(service: &ServiceView, snapshot: &Snapshot, columns: &Columns, theme: Theme) -> Row<'a> {
    let rate_style = service.success_rate.map_or(theme.dim(), |r| {
        theme.rate(r, service.alert_below, service.resolve_above)
    });
    let rate = match service.success_rate {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "—".to_string(),
    };
    let mut cells = vec![Cell::from(Span::styled(
        status_text(service.status),
        theme.status(service.status),
    ))];
    if columns.since {
        let held = service
            .since
            .map(|at| super::age(snapshot.at, at))
            .unwrap_or_default();
        cells.push(Cell::from(Line::styled(held, theme.dim()).right_aligned()));
    }
    cells.extend([
        Cell::from(label(service, snapshot, usize::from(columns.name))),
        Cell::from(gauge(service, usize::from(columns.gauge), theme)),
        Cell::from(Line::styled(rate, rate_style).right_aligned()),
    ]);
    if let Some(cells_wide) = columns.trend {
        let trend = sparkline(&service.history, usize::from(cells_wide), theme.ascii);
        cells.push(Cell::from(Span::styled(trend, theme.dim())));
    }
    if columns.counts {
        let c = &service.counts;
        let done = format!("{}/{}/{}", c.completed, c.partial, c.canceled);
        cells.push(Cell::from(Line::raw(truncate(&done, 14)).right_aligned()));
        cells.push(Cell::from(Line::raw(c.running.to_string()).right_aligned()));
        let stuck_style = if c.stuck > 0 {
            theme.warn()
        } else {
            theme.dim()
        };
        cells.push(Cell::from(
            Line::styled(c.stuck.to_string(), stuck_style).right_aligned(),
        ));
    }
    Row::new(cells)
}

/// A bar of `cells` cells: full blocks for the success rate, a half block for the last half
/// cell, dots for the rest, and `|` where the alert threshold sits.
fn gauge(service: &ServiceView, cells: usize, theme: Theme) -> Line<'static> {
    if cells == 0 {
        return Line::default();
    }
    let marker = ((service.alert_below * cells as f64) as usize).min(cells - 1);
    let filled = service
        .success_rate
        .map_or(0.0, |r| r.clamp(0.0, 1.0) * cells as f64);
    let bar_style = service.success_rate.map_or(theme.dim(), |r| {
        theme.rate(r, service.alert_below, service.resolve_above)
    });

    let mut bar = String::new();
    let mut rest = String::new();
    let (full, half, empty) = if theme.ascii {
        ('#', '=', '.')
    } else {
        ('█', '▌', '·')
    };
    for i in 0..cells {
        let from = i as f64;
        let glyph = if i == marker {
            MARKER
        } else if filled >= from + 1.0 {
            full
        } else if filled >= from + 0.5 {
            half
        } else {
            empty
        };
        if filled >= from + 0.5 {
            bar.push(glyph);
        } else {
            rest.push(glyph);
        }
    }
    Line::from(vec![
        Span::styled(bar, bar_style),
        Span::styled(rest, theme.dim()),
    ])
}

/// The last `cells` rates of `history` as block characters (or ASCII ones), 0% lowest, 100%
/// highest; padded on the left while the history is short.
fn sparkline(history: &[f64], cells: usize, ascii: bool) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const PLAIN: [char; 8] = ['_', '.', '-', '~', '=', '+', '*', '#'];
    let levels = if ascii { PLAIN } else { BLOCKS };
    let start = history.len().saturating_sub(cells);
    let mut out = " ".repeat(cells - (history.len() - start));
    for rate in &history[start..] {
        let level = (rate.clamp(0.0, 1.0) * 7.0).round() as usize;
        out.push(levels[level]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn gauge_marks_the_threshold_and_the_rate() {
        let theme = Theme::plain();
        let mut service = fixture::snapshot().services[0].clone();
        service.alert_below = 0.8;
        service.success_rate = Some(0.65);
        assert_eq!(text(&gauge(&service, 10, theme)), "██████▌·|·");
        service.success_rate = Some(1.0);
        assert_eq!(text(&gauge(&service, 10, theme)), "████████|█");
        service.success_rate = Some(0.0);
        assert_eq!(text(&gauge(&service, 10, theme)), "········|·");
        service.success_rate = None;
        assert_eq!(text(&gauge(&service, 10, theme)), "········|·");
        let ascii = Theme {
            ascii: true,
            ..theme
        };
        service.success_rate = Some(0.65);
        assert_eq!(text(&gauge(&service, 10, ascii)), "######=.|.");
    }

    #[test]
    fn sparkline_keeps_the_newest_and_pads_short_history() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 5, false), "  ▁▅█");
        assert_eq!(sparkline(&[0.0, 0.0, 0.0, 1.0], 2, false), "▁█");
        assert_eq!(sparkline(&[], 3, false), "   ");
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 4, true), " _=#");
    }

    #[test]
    fn narrow_tables_keep_the_essential_columns() {
        let narrow = Columns::fit(40);
        assert!(narrow.trend.is_none() && !narrow.counts);
        assert_eq!(narrow.widths().len(), 4);
        let at_80 = Columns::fit(76);
        assert!(at_80.trend.is_some() && !at_80.counts);
        assert!(at_80.name >= 30);
        let wide = Columns::fit(116);
        assert!(wide.counts);
    }
}
