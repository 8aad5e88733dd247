//! The deliveries pane: how many deliveries wait, retry or are dead letters, then one entry
//! per destination with its kind, last outcome and, when disabled, why.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{age, focused, pane, truncate, Theme};
use crate::snapshot::{DestinationView, Snapshot};
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
fn clip(line: Line<'static>, cells: usize) -> Line<'static> {
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
