//! The detail view of one service: what it is and its rule's verdict (since when, muted or
//! not), the success rate over the window as a chart with the alert and resolve lines, the
//! order counts, the figures per provider and the recent failed and stuck orders.
//!
//! The chart is drawn cell by cell (a dot per poll, a line per threshold), so that it reads
//! the same in ASCII mode and in any terminal.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{age, clock, fit, pane, status_text, truncate, Theme};
use crate::snapshot::{ServiceView, Snapshot};
use crate::tui::app::AppState;

pub(super) fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let Some(service) = app.selected_service(snapshot) else {
        return;
    };
    let title = format!(
        " {}/{} · #{} ",
        service.panel, service.name, service.service.0
    );
    let block = pane(title, !app.help && app.prompt.is_none(), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let facts = facts(service, snapshot, theme, usize::from(inner.width));
    let facts_height = u16::try_from(facts.len()).unwrap_or(u16::MAX);
    let lower = if inner.height >= 20 { 8 } else { 6 };
    let [top, chart, bottom] = Layout::vertical([
        Constraint::Length(facts_height),
        Constraint::Min(3),
        Constraint::Length(lower),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(facts), top);
    frame.render_widget(Paragraph::new(chart_lines(service, chart, theme)), chart);

    let [providers, orders] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    frame.render_widget(
        Paragraph::new(provider_lines(service, usize::from(providers.width), theme)),
        providers,
    );
    frame.render_widget(
        Paragraph::new(order_lines(
            service,
            snapshot,
            usize::from(orders.width),
            theme,
        )),
        orders,
    );
}

/// The rule and its state, the thresholds, the counts and any mute.
fn facts(
    service: &ServiceView,
    snapshot: &Snapshot,
    theme: Theme,
    cells: usize,
) -> Vec<Line<'static>> {
    let rate = service
        .success_rate
        .map_or("—".to_string(), |r| format!("{:.1}%", r * 100.0));
    let since = service
        .since
        .map(|at| format!(" since {} ({} ago)", clock(at), age(snapshot.at, at)))
        .unwrap_or_default();
    let c = &service.counts;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(status_text(service.status), theme.status(service.status)),
            Span::raw(since),
            Span::raw(format!(" · success {rate} over {}", service.window)),
        ]),
        Line::raw(format!(
            "rule {}: alert below {:.0}%, resolve above {:.0}%, at least {} orders",
            service.rule,
            service.alert_below * 100.0,
            service.resolve_above * 100.0,
            service.min_orders
        )),
        Line::raw(format!(
            "orders: {} completed · {} partial · {} canceled · {} running · {} stuck",
            c.completed, c.partial, c.canceled, c.running, c.stuck
        )),
    ];
    if !service.periods.is_empty() {
        let figures: Vec<String> = service
            .periods
            .iter()
            .map(|p| {
                let rate = p
                    .success_rate
                    .map_or("—".to_string(), |r| format!("{:.1}%", r * 100.0));
                format!("{} {rate} ({})", p.label, p.finished)
            })
            .collect();
        lines.push(Line::raw(format!("history: {}", figures.join(" · "))));
    }
    let mute = snapshot
        .mutes
        .iter()
        .find(|m| crate::tui::app::mute_targets(service).contains(&m.target));
    match (&service.quiet, mute) {
        (Some(quiet), _) => lines.push(Line::styled(format!("quiet: {quiet}"), theme.warn())),
        (None, Some(m)) => lines.push(Line::styled(
            format!("muted: {} until {}", m.target, clock(m.until)),
            theme.warn(),
        )),
        _ => {}
    }
    lines
        .into_iter()
        .map(|l| super::deliveries::clip(l, cells))
        .collect()
}

/// The success rate per poll, oldest left, with the alert line (`-`) and resolve line (`·`).
fn chart_lines(service: &ServiceView, area: Rect, theme: Theme) -> Vec<Line<'static>> {
    let rows = usize::from(area.height);
    let label_cells = 5;
    let cols = usize::from(area.width).saturating_sub(label_cells + 1);
    if rows < 2 || cols < 2 {
        return Vec::new();
    }
    let row_of = |rate: f64| {
        let r = ((1.0 - rate.clamp(0.0, 1.0)) * (rows - 1) as f64).round() as usize;
        r.min(rows - 1)
    };
    let alert_row = row_of(service.alert_below);
    let resolve_row = row_of(service.resolve_above);
    let start = service.history.len().saturating_sub(cols);
    let points: Vec<f64> = service.history[start..].to_vec();
    let offset = cols - points.len();
    let (dot, alert, resolve) = if theme.ascii {
        ('*', '-', '.')
    } else {
        ('●', '─', '┄')
    };

    let mut lines = Vec::with_capacity(rows);
    for row in 0..rows {
        let label = if row == 0 {
            "100%".to_string()
        } else if row == rows - 1 {
            "0%".to_string()
        } else if row == alert_row {
            format!("{:.0}%", service.alert_below * 100.0)
        } else if row == resolve_row {
            format!("{:.0}%", service.resolve_above * 100.0)
        } else {
            String::new()
        };
        let mut spans = vec![Span::styled(
            format!("{label:>4} {}", if theme.ascii { '|' } else { '│' }),
            theme.dim(),
        )];
        let mut text = String::new();
        let mut style = theme.dim();
        let flush = |text: &mut String, style: Style, spans: &mut Vec<Span<'static>>| {
            if !text.is_empty() {
                spans.push(Span::styled(std::mem::take(text), style));
            }
        };
        for col in 0..cols {
            let point = col
                .checked_sub(offset)
                .and_then(|i| points.get(i))
                .filter(|r| row_of(**r) == row);
            let (glyph, cell_style) = match point {
                Some(r) => (
                    dot,
                    theme.rate(*r, service.alert_below, service.resolve_above),
                ),
                None if row == alert_row => (alert, theme.bad()),
                None if row == resolve_row => (resolve, theme.good()),
                None => (' ', theme.dim()),
            };
            if cell_style != style {
                flush(&mut text, style, &mut spans);
                style = cell_style;
            }
            text.push(glyph);
        }
        flush(&mut text, style, &mut spans);
        lines.push(Line::from(spans));
    }
    lines
}

fn provider_lines(service: &ServiceView, cells: usize, theme: Theme) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(
        truncate("PROVIDER          RATE  DONE/FAIL", cells),
        bold,
    )];
    if service.providers.is_empty() {
        lines.push(Line::styled("no provider figures", theme.dim()));
    }
    for p in &service.providers {
        let rate = p
            .success_rate
            .map_or("—".to_string(), |r| format!("{:.1}%", r * 100.0));
        let style = p.success_rate.map_or(theme.dim(), |r| {
            theme.rate(r, service.alert_below, service.resolve_above)
        });
        let fails = p.counts.partial + p.counts.canceled;
        let text = format!(
            "{} {:>6}  {}/{}",
            fit(&p.provider, 16),
            rate,
            p.counts.completed,
            fails
        );
        lines.push(Line::styled(truncate(&text, cells), style));
    }
    lines
}

fn order_lines(
    service: &ServiceView,
    snapshot: &Snapshot,
    cells: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(
        truncate("ORDER     AGE STATUS           QTY/LEFT  PROVIDER", cells),
        bold,
    )];
    if service.problem_orders.is_empty() {
        lines.push(Line::styled("no failed or stuck order", theme.dim()));
    }
    for o in &service.problem_orders {
        let qty = match (o.quantity, o.remains) {
            (Some(q), Some(r)) => format!("{q}/{r}"),
            (Some(q), None) => q.to_string(),
            _ => "—".into(),
        };
        let text = format!(
            "{:<8} {:>4} {} {:>9}  {}",
            o.id,
            age(snapshot.at, o.created),
            fit(&o.status, 16),
            qty,
            o.provider.as_deref().unwrap_or("")
        );
        let style = if o.status.contains("stuck") {
            theme.warn()
        } else {
            theme.bad()
        };
        lines.push(Line::styled(truncate(&text, cells), style));
    }
    lines
}
