//! The deliveries pane: how many deliveries wait, retry or are dead letters, then one entry
//! per destination with its kind, last outcome and, when disabled, why. The deliveries view
//! adds the list itself: pending ones, retrying ones with the next attempt's time, dead
//! letters with their last answer.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{age, clock, fit, focused, pane, truncate, Theme};
use crate::snapshot::{DeliveryLine, DestinationView, Snapshot};
use crate::tui::app::{AppState, Pane};

/// Below this inner width each destination takes two lines.
const ONE_LINE_CELLS: u16 = 50;

/// The rows the pane would like at `width`, borders included.
pub(super) fn height(snapshot: &Snapshot, width: u16) -> u16 {
    let per = if width.saturating_sub(2) < ONE_LINE_CELLS {
        2
    } else {
        1
    };
    let count = snapshot.deliveries.destinations.len().max(1) * per;
    u16::try_from(count + 3).unwrap_or(u16::MAX)
}

pub(super) fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let cells = area.width.saturating_sub(2);
    let block = pane(
        " Deliveries ".to_string(),
        focused(app, Pane::Deliveries),
        theme,
    );
    let view = &snapshot.deliveries;

    let dead_style = if view.dead > 0 {
        theme.bad().add_modifier(Modifier::BOLD)
    } else {
        theme.dim()
    };
    let mut lines = vec![Line::from(vec![
        Span::raw(format!(
            "{} pending · {} retrying · ",
            view.pending, view.retrying
        )),
        Span::styled(format!("{} dead", view.dead), dead_style),
    ])];
    if view.destinations.is_empty() {
        lines.push(Line::styled("No destinations configured.", theme.dim()));
    }
    let top = app
        .deliveries_top
        .min(view.destinations.len().saturating_sub(1));
    let shown = view.destinations.len().saturating_sub(top);
    // Two lines per destination on narrow panes, unless that would push some out of sight;
    // then one line each, without the kind.
    let rows = usize::from(area.height.saturating_sub(3));
    let two_lines = cells < ONE_LINE_CELLS && shown * 2 <= rows;
    let compact = cells < ONE_LINE_CELLS && !two_lines;
    for destination in view.destinations.iter().skip(top) {
        let [mut name, detail] = destination_spans(destination, snapshot, theme);
        if compact {
            name.pop();
        }
        if two_lines {
            lines.push(Line::from(name));
            let mut detail = detail;
            detail.insert(0, Span::raw("  "));
            lines.push(Line::from(detail));
        } else {
            let mut all = name;
            all.push(Span::raw(" "));
            all.extend(detail);
            lines.push(Line::from(all));
        }
    }
    let lines = lines
        .into_iter()
        .map(|line| clip(line, usize::from(cells)))
        .collect::<Vec<_>>();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The deliveries view: the pane's summary on top, then one line per delivery.
pub(super) fn render_view(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let top_height = height(snapshot, area.width).min(area.height / 2);
    let [top, list] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(top_height),
        ratatui::layout::Constraint::Min(0),
    ])
    .areas(area);
    let mut pane_app = app.clone();
    pane_app.focus = Pane::Services;
    render(frame, top, snapshot, &pane_app, theme);

    let items = &snapshot.deliveries.items;
    let rows = usize::from(list.height.saturating_sub(3));
    let cells = usize::from(list.width.saturating_sub(2));
    let start = app.delivery.saturating_sub(rows.saturating_sub(1));
    let title = format!(" Outbox · {} undelivered or dead ", items.len());
    let block = pane(title, !app.help && app.prompt.is_none(), theme);
    let wide = cells >= 100;
    let mut header = format!(
        "  {:>6} {:<8} {:<16} {:<16} {:>3} ",
        "ID", "STATE", "DESTINATION", "EVENT", "TRY"
    );
    header.push_str(if wide {
        "NEXT ATTEMPT / LAST ANSWER"
    } else {
        "NEXT / LAST ANSWER"
    });
    let mut lines = vec![Line::styled(
        truncate(&header, cells),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if items.is_empty() {
        lines.push(Line::styled(
            "Nothing waits: every delivery went out.",
            theme.dim(),
        ));
    }
    for (i, item) in items.iter().enumerate().skip(start).take(rows) {
        lines.push(delivery_line(
            item,
            snapshot,
            i == app.delivery,
            cells,
            theme,
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), list);
}

fn delivery_line(
    item: &DeliveryLine,
    snapshot: &Snapshot,
    selected: bool,
    cells: usize,
    theme: Theme,
) -> Line<'static> {
    let (mark, style) = match item.state.as_str() {
        "dead" => ("✖ ", theme.bad()),
        "retrying" => ("↻ ", theme.warn()),
        _ => ("… ", theme.dim()),
    };
    let detail = match item.state.as_str() {
        "dead" => format!(
            "last answer: {}",
            item.last_outcome.as_deref().unwrap_or("none")
        ),
        _ => {
            let next = if item.next_at <= snapshot.at {
                "now".to_string()
            } else {
                format!(
                    "{} (in {})",
                    clock(item.next_at),
                    age(item.next_at, snapshot.at)
                )
            };
            match &item.last_outcome {
                Some(last) => format!("next {next} · last: {last}"),
                None => format!("next {next}"),
            }
        }
    };
    let text = format!(
        "{:>6} {} {} {} {:>3} ",
        item.id,
        fit(&format!("{mark}{}", item.state), 8),
        fit(&item.destination, 16),
        fit(&item.event_type, 16),
        item.attempts
    );
    let marker = if selected { "▶ " } else { "  " };
    let used = super::width(&text) + 2;
    let line = Line::from(vec![
        Span::raw(marker),
        Span::styled(text, style),
        Span::raw(truncate(&detail, cells.saturating_sub(used))),
    ]);
    if selected {
        line.style(Style::new().add_modifier(Modifier::REVERSED))
    } else {
        line
    }
}

/// `● ops-slack (slack)` and `200 OK in 41 ms · 4m ago · 3 queued` or `disabled: reason`.
fn destination_spans(
    destination: &DestinationView,
    snapshot: &Snapshot,
    theme: Theme,
) -> [Vec<Span<'static>>; 2] {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (mark, mark_style) = match destination.disabled {
        Some(_) => ("✖ ", theme.bad()),
        None => ("● ", theme.good()),
    };
    let name = vec![
        Span::styled(mark, mark_style),
        Span::styled(destination.name.clone(), bold),
        Span::styled(format!(" ({})", destination.kind), theme.dim()),
    ];
    let mut detail = Vec::new();
    if let Some(reason) = &destination.disabled {
        detail.push(Span::styled(format!("disabled: {reason}"), theme.bad()));
    } else {
        let outcome = destination
            .last_outcome
            .as_deref()
            .unwrap_or("no attempt yet");
        detail.push(Span::raw(outcome.to_string()));
        if let Some(at) = destination.last_at {
            detail.push(Span::styled(
                format!(" · {} ago", age(snapshot.at, at)),
                theme.dim(),
            ));
        }
        if destination.queued > 0 {
            detail.push(Span::styled(
                format!(" · {} queued", destination.queued),
                theme.warn(),
            ));
        }
    }
    [name, detail]
}

/// Cuts a line's spans to `cells` terminal cells, with `…` where it was cut.
pub(super) fn clip(line: Line<'static>, cells: usize) -> Line<'static> {
    let mut left = cells;
    let mut out = Vec::new();
    for span in line.spans {
        if left == 0 {
            break;
        }
        let text = truncate(&span.content, left);
        left = left.saturating_sub(super::width(&text));
        let cut = text.ends_with('…') && !span.content.ends_with('…');
        out.push(Span::styled(text, span.style));
        if cut {
            break;
        }
    }
    Line::from(out)
}
