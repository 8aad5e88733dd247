//! The hint line at the bottom and the help overlay, both generated from the key table in
//! `keys`, plus the snapshot's notice at the right of the hint line.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::{clock, truncate, width, Theme};
use crate::snapshot::Snapshot;
use crate::tui::app::AppState;
use crate::tui::keys::{self, Context, BINDINGS};

/// The hints that fit, then the notice, right-aligned, if any.
pub(super) fn render_hints(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    app: &AppState,
    theme: Theme,
) {
    let cells = usize::from(area.width);
    let notice = snapshot
        .notice
        .as_ref()
        .map(|(at, text)| truncate(&format!("{} {text}", clock(*at)), cells / 2))
        .unwrap_or_default();
    let room = cells.saturating_sub(width(&notice) + 2);

    let key_style = Style::new().add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (shown, hint) in keys::hints(app.help) {
        let cost = width(shown) + 1 + width(hint) + 2;
        if used + cost > room {
            break;
        }
        spans.push(Span::styled(shown, key_style));
        spans.push(Span::styled(format!(" {hint}  "), theme.dim()));
        used += cost;
    }
    let gap = cells.saturating_sub(used + width(&notice) + 1);
    spans.push(Span::raw(" ".repeat(gap)));
    spans.push(Span::styled(notice, theme.warn()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The help lines: every binding of the table, grouped by where it applies.
pub(super) fn help_lines() -> Vec<Line<'static>> {
    let heading = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut lines = Vec::new();
    for context in [Context::Always, Context::Main, Context::Overlay] {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::styled(context.heading(), heading));
        for binding in BINDINGS.iter().filter(|b| b.context == context) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<6}", binding.shown),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(binding.description),
            ]));
        }
    }
    lines
}

/// The help overlay, centred over `area`.
pub(super) fn render_help(frame: &mut Frame, area: Rect, theme: Theme) {
    let lines = help_lines();
    let wanted_width = lines.iter().map(Line::width).max().unwrap_or(0) + 4;
    let wanted_height = lines.len() + 2;
    let width = u16::try_from(wanted_width)
        .unwrap_or(u16::MAX)
        .min(area.width);
    let height = u16::try_from(wanted_height)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let [column] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(column);

    let block = Block::bordered()
        .title(" Keys · Esc or ? closes ")
        .border_style(theme.fg(ratatui::style::Color::Cyan))
        .padding(ratatui::widgets::Padding::horizontal(1));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
