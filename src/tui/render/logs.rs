//! The two log panes: the event history and the optional extra pane. Both show the newest
//! line at the bottom and follow it unless scrolled back.

use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{clock, fit, focused, pane, truncate, width, Extra, Theme};
use crate::snapshot::{EventLine, Snapshot};
use crate::tui::app::{AppState, Pane};

/// The widest kind, `destination.disabled`, sets the kind column.
const KIND_CELLS: usize = 20;

/// The window of `total` lines to show in `rows` rows, scrolled `back` lines from the newest.
/// Returns the range and how far back it really is.
fn window(total: usize, rows: usize, back: usize) -> (std::ops::Range<usize>, usize) {
    let back = back.min(total.saturating_sub(rows));
    let end = total - back;
    (end.saturating_sub(rows)..end, back)
}

fn scrolled_title(name: &str, back: usize) -> String {
    if back == 0 {
        format!(" {name} ")
    } else {
        format!(" {name} · {back} newer below, G follows ")
    }
}

pub(super) fn render_events(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let rows = usize::from(area.height.saturating_sub(2));
    let cells = usize::from(area.width.saturating_sub(2));
    let (shown, back) = window(snapshot.events.len(), rows, app.events_back);
    let block = pane(
        scrolled_title("Events", back),
        focused(app, Pane::Events),
        theme,
    );

    let lines: Vec<Line> = if snapshot.events.is_empty() {
        vec![Line::styled("No events yet.", theme.dim())]
    } else {
        snapshot.events[shown]
            .iter()
            .map(|event| event_line(event, cells, theme))
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The event history view: every event kept, filtered by type and text, scrollable.
pub(super) fn render_history(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let rows = usize::from(area.height.saturating_sub(2));
    let cells = usize::from(area.width.saturating_sub(2));
    let events = app.history(snapshot);
    let (shown, back) = window(events.len(), rows, app.events_back);
    let mut title = format!(
        " Event history · {} of {}",
        events.len(),
        snapshot.events.len()
    );
    title.push_str(&format!(
        " · type {}",
        app.event_kind.as_deref().unwrap_or("all")
    ));
    if !app.event_filter.is_empty() {
        title.push_str(&format!(" · \"{}\"", truncate(&app.event_filter, 20)));
    }
    if back > 0 {
        title.push_str(&format!(" · {back} newer below"));
    }
    title.push(' ');
    let block = pane(title, !app.help, theme);
    let lines: Vec<Line> = if events.is_empty() {
        vec![Line::styled("No event matches.", theme.dim())]
    } else {
        events[shown]
            .iter()
            .map(|event| event_line(event, cells, theme))
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// `16:00:00 alert.fired          FIRING main / ...`; narrow panes drop the kind column and
/// colour the summary instead.
fn event_line(event: &EventLine, cells: usize, theme: Theme) -> Line<'static> {
    let style = theme.fg(kind_color(&event.kind));
    let time = clock(event.at);
    let mut spans = vec![Span::styled(time.clone(), theme.dim()), Span::raw(" ")];
    let mut left = cells.saturating_sub(width(&time) + 1);
    if cells >= 70 {
        spans.push(Span::styled(fit(&event.kind, KIND_CELLS), style));
        spans.push(Span::raw(" "));
        left = left.saturating_sub(KIND_CELLS + 1);
        spans.push(Span::raw(truncate(&event.summary, left)));
    } else {
        spans.push(Span::styled(truncate(&event.summary, left), style));
    }
    Line::from(spans)
}

/// Bad news red, good news green, reminders yellow, the rest in quieter colours.
fn kind_color(kind: &str) -> Color {
    match kind {
        "alert.fired" | "panel.down" => Color::Red,
        "alert.resolved" | "panel.up" => Color::Green,
        "alert.reminder" => Color::Yellow,
        "destination.disabled" => Color::Magenta,
        "action" => Color::Blue,
        _ => Color::Cyan,
    }
}

pub(super) fn render_extra(
    frame: &mut Frame,
    area: Rect,
    extra: Extra,
    app: &AppState,
    theme: Theme,
) {
    let rows = usize::from(area.height.saturating_sub(2));
    let cells = usize::from(area.width.saturating_sub(2));
    let (shown, back) = window(extra.lines.len(), rows, app.extra_back);
    let block = pane(
        scrolled_title(extra.title, back),
        focused(app, Pane::Extra),
        theme,
    );
    let lines: Vec<Line> = if extra.lines.is_empty() {
        vec![Line::styled("Nothing yet.", theme.dim())]
    } else {
        extra.lines[shown]
            .iter()
            .map(|l| Line::raw(truncate(l, cells)))
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_follows_the_newest_and_stops_at_the_oldest() {
        assert_eq!(window(10, 4, 0), (6..10, 0));
        assert_eq!(window(10, 4, 2), (4..8, 2));
        assert_eq!(window(10, 4, 99), (0..4, 6));
        assert_eq!(window(3, 4, 5), (0..3, 0));
        assert_eq!(window(0, 4, 0), (0..0, 0));
    }
}
