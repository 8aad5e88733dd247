//! The hint line at the bottom and the help overlay, both generated from the key table in
//! `keys`, plus the passing notice at the right of the hint line; an open prompt takes the
//! line's left part, and a picker's choices pop up above it.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::{truncate, width, Theme};
use crate::snapshot::Snapshot;
use crate::tui::app::{AppState, PromptKind};
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
    // An open prompt takes the whole line.
    let notice = app
        .notice(snapshot)
        .filter(|_| app.prompt.is_none())
        .map(|text| truncate(&text, cells / 2))
        .unwrap_or_default();
    let room = cells.saturating_sub(width(&notice) + 2);

    let key_style = Style::new().add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    if let Some(prompt) = &app.prompt {
        let (question, value) = prompt_text(app);
        let text = truncate(&format!("{question}{value}▏"), room.saturating_sub(12));
        used += width(&text) + 2;
        spans.push(Span::styled(
            text,
            key_style.fg(ratatui::style::Color::Reset),
        ));
        spans.push(Span::raw("  "));
        if let Some(error) = &prompt.error {
            let error = truncate(error, room.saturating_sub(used));
            used += width(&error);
            spans.push(Span::styled(error, theme.bad()));
        }
    }
    for (shown, hint) in keys::hints(app.mode()) {
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

/// The prompt's question and the value typed so far (or the current choice).
fn prompt_text(app: &AppState) -> (String, String) {
    let Some(prompt) = &app.prompt else {
        return (String::new(), String::new());
    };
    match &prompt.kind {
        PromptKind::Filter => ("filter: ".into(), prompt.text.clone()),
        PromptKind::Mute { targets, at } => {
            (format!("mute {} for: ", targets[*at]), prompt.text.clone())
        }
        PromptKind::Unmute { targets, at } => (format!("unmute {}?", targets[*at]), String::new()),
        PromptKind::TestAlert { choices, at } => {
            (format!("test alert to {}?", choices[*at]), String::new())
        }
        PromptKind::Enable { choices, at } => (format!("enable {}?", choices[*at]), String::new()),
        PromptKind::Confirm { question, .. } => (format!("{question} "), String::new()),
    }
}

/// A picker's choices in a small box above the hint line, the current one marked.
pub(super) fn render_picker(frame: &mut Frame, area: Rect, app: &AppState, theme: Theme) {
    let Some(prompt) = &app.prompt else {
        return;
    };
    let (title, choices, at) = match &prompt.kind {
        PromptKind::Mute { targets, at } => (" Mute · Tab: target ", targets, *at),
        PromptKind::Unmute { targets, at } => (" Unmute · Tab: target ", targets, *at),
        PromptKind::TestAlert { choices, at } => (" Test alert to ", choices, *at),
        PromptKind::Enable { choices, at } => (" Enable destination ", choices, *at),
        _ => return,
    };
    let lines: Vec<Line> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == at {
                Line::styled(
                    format!("▶ {c}"),
                    Style::new().add_modifier(Modifier::REVERSED),
                )
            } else {
                Line::raw(format!("  {c}"))
            }
        })
        .collect();
    let wanted = lines
        .iter()
        .map(Line::width)
        .max()
        .unwrap_or(0)
        .max(width(title))
        + 2;
    let w = u16::try_from(wanted).unwrap_or(u16::MAX).min(area.width);
    let h = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(1));
    if h < 3 {
        return;
    }
    let popup = Rect {
        x: area.x + 1.min(area.width.saturating_sub(w)),
        y: area.y + area.height - 1 - h,
        width: w,
        height: h,
    };
    let block = Block::bordered()
        .title(title)
        .border_style(theme.fg(ratatui::style::Color::Cyan));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// The help lines: every binding of the table, grouped by where it applies.
/// Only the contexts that apply to `mode` (the view under the help) are listed, so the
/// help fits small screens; every binding appears in the help of some view.
pub(super) fn help_lines(mode: keys::Mode) -> Vec<Line<'static>> {
    let heading = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut lines = Vec::new();
    let shown = Context::ALL
        .into_iter()
        .filter(|c| c.applies(mode) || matches!(c, Context::Overlay | Context::Prompt));
    for context in shown {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::styled(context.heading(), heading));
        for binding in BINDINGS.iter().filter(|b| b.context == context) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<8}", binding.shown),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(binding.description),
            ]));
        }
    }
    lines
}

/// The help overlay, centred over `area`.
pub(super) fn render_help(frame: &mut Frame, area: Rect, app: &AppState, theme: Theme) {
    let mut below = app.clone();
    below.help = false;
    below.prompt = None;
    let lines = help_lines(below.mode());
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
