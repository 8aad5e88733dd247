//! Drawing the screen from a [`Snapshot`] and the [`AppState`]; one file per pane.
//!
//! Rendering is a pure function of its inputs: no I/O, no clock (the time shown and every
//! "ago" are taken from `snapshot.at`), no engine types beyond the snapshot. The layout, at
//! 80x24 and up:
//!
//! ```text
//!  panelwatch                     16:04:05 UTC · 3 panels · 8 services · 2 firing   header:
//!  ● main 12s ago in 340ms   ✖ reseller down 5m: HTTP 502 Bad Ga… 1m ago            title,
//!  … new-panel starting                                                             panels
//! ┏▸ Services · 2 firing · 2 pending ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
//! ┃  STATE     SERVICE                               SUCCESS        RATE TREND   ┃ services
//! ┃▶ ✖ FIRING  main/IG Followers [Real, Refill 30d]  ███████··|··  62.3% ▇▇▇▆▆▆▅▅┃ (wider:
//! ┃  ✔ OK      main/IG Likes                         █████████|█▌  97.0%    █████┃ FOR and
//! ┃  ○ NO DATA main/Telegram Members                 ·········|··      —         ┃ counts)
//! ┗━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┛
//! ┌ Events ────────────────────────────────────┐┌ Deliveries ────────────────────┐
//! │15:59:05 PANEL DOWN reseller: HTTP 502 Bad …││2 pending · 1 retrying · 3 dead │
//! │16:00:05 PANEL UP main         (newest last)││● ops-slack 200 OK in 41 ms · 4…│
//! │                                            │└────────────────────────────────┘
//! │                                            │┌ extra pane, when given ────────┐
//! │                                            ││16:04:01 POST /hook panel.up …  │
//! └────────────────────────────────────────────┘└────────────────────────────────┘
//!  q quit  ? help  ↑/k up  ↓/j down      16:04:00 config reloaded: 3 panels, 4 r…  hints
//! ```
//!
//! The help overlay (`?`) is drawn over the middle. Columns of the services table that matter
//! less (trend, counts) are dropped when the screen is narrow; state, name, gauge and rate
//! always stay. Every state has a symbol and a word, so the screen reads without colour.

mod deliveries;
mod detail;
mod footer;
mod header;
mod logs;
mod services;

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::Line;
use ratatui::widgets::Block;
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use super::app::{AppState, Pane, View};
use crate::snapshot::{AlertStatus, Snapshot};

/// How to draw, independent of what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Shown at the top left.
    pub title: String,
    /// Whether to use colours; off when `NO_COLOR` is set. States stay readable either way.
    pub color: bool,
    /// Gauges, sparklines and the chart without block or braille glyphs.
    pub ascii: bool,
}

/// The optional extra pane's content: a title and lines, newest last.
#[derive(Clone, Copy, Debug)]
pub struct Extra<'a> {
    pub title: &'a str,
    pub lines: &'a [String],
}

/// Where each part of the screen goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub services: Rect,
    pub events: Rect,
    pub deliveries: Rect,
    pub extra: Option<Rect>,
    pub hints: Rect,
}

impl Areas {
    /// The lines the log panes show at once, inside their borders: (events, extra).
    pub fn log_rows(&self) -> (usize, usize) {
        let inner = |r: Rect| usize::from(r.height.saturating_sub(2));
        (inner(self.events), self.extra.map_or(0, inner))
    }
}

/// Lays out a screen of `area`'s size for `snapshot`, with or without the extra pane.
pub fn layout(area: Rect, snapshot: &Snapshot, title: &str, has_extra: bool) -> Areas {
    let head = header::lines(snapshot, title, area, Theme::plain());
    let head_height = u16::try_from(head.len()).unwrap_or(u16::MAX);
    let [header, body, hints] = Layout::vertical([
        Constraint::Length(head_height),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);

    // The table takes what its rows need, leaving the panes below at least 7 rows.
    let wanted = u16::try_from(snapshot.services.len()).unwrap_or(u16::MAX);
    let rows = wanted.saturating_add(3).max(5);
    let services_height = rows.min(body.height.saturating_sub(7).max(5));
    let [services, lower] =
        Layout::vertical([Constraint::Length(services_height), Constraint::Min(0)]).areas(body);

    let [events, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(lower);
    let (deliveries, extra) = if has_extra {
        let wanted = deliveries::height(snapshot, right.width);
        let [top, rest] = Layout::vertical([
            Constraint::Length(wanted.min(right.height / 2).max(3)),
            Constraint::Min(0),
        ])
        .areas(right);
        (top, Some(rest))
    } else {
        (right, None)
    };
    Areas {
        header,
        services,
        events,
        deliveries,
        extra,
        hints,
    }
}

/// Draws the whole screen into `frame`.
pub fn draw(
    frame: &mut Frame,
    snapshot: &Snapshot,
    app: &AppState,
    options: &RenderOptions,
    extra: Option<Extra>,
) {
    let theme = Theme {
        color: options.color,
        ascii: options.ascii,
    };
    let area = frame.area();
    let areas = layout(area, snapshot, &options.title, extra.is_some());

    let head = header::lines(snapshot, &options.title, area, theme);
    frame.render_widget(ratatui::widgets::Paragraph::new(head), areas.header);
    // The other views take everything between the header and the hint line.
    let body = Rect {
        y: areas.header.bottom(),
        height: areas.hints.y.saturating_sub(areas.header.bottom()),
        ..area
    };
    match app.view {
        View::Main => {
            services::render(frame, areas.services, snapshot, app, theme);
            logs::render_events(frame, areas.events, snapshot, app, theme);
            deliveries::render(frame, areas.deliveries, snapshot, app, theme);
            if let (Some(extra), Some(rect)) = (extra, areas.extra) {
                logs::render_extra(frame, rect, extra, app, theme);
            }
        }
        View::Detail => detail::render(frame, body, snapshot, app, theme),
        View::History => logs::render_history(frame, body, snapshot, app, theme),
        View::Deliveries => deliveries::render_view(frame, body, snapshot, app, theme),
    }
    footer::render_hints(frame, areas.hints, snapshot, app, theme);
    footer::render_picker(frame, area, app, theme);
    if app.help {
        footer::render_help(frame, area, app, theme);
    }
}

/// Colours when allowed, plain styles when not; block glyphs unless ASCII is asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Theme {
    color: bool,
    ascii: bool,
}

impl Theme {
    /// No colours, block glyphs: for measuring the layout.
    fn plain() -> Theme {
        Theme {
            color: false,
            ascii: false,
        }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    fn good(self) -> Style {
        self.fg(Color::Green)
    }

    fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    fn bad(self) -> Style {
        self.fg(Color::Red)
    }

    fn status(self, status: AlertStatus) -> Style {
        match status {
            AlertStatus::Ok => self.good(),
            AlertStatus::Pending => self.warn(),
            AlertStatus::Firing => self.bad().add_modifier(Modifier::BOLD),
            AlertStatus::NoData => self.dim(),
        }
    }

    /// Red below the alert threshold, yellow until the resolve threshold, green above.
    fn rate(self, rate: f64, alert_below: f64, resolve_above: f64) -> Style {
        if rate < alert_below {
            self.bad()
        } else if rate < resolve_above {
            self.warn()
        } else {
            self.good()
        }
    }
}

/// A state's symbol and word, readable without colour.
pub(crate) fn status_text(status: AlertStatus) -> String {
    let symbol = match status {
        AlertStatus::Ok => '✔',
        AlertStatus::Pending => '◐',
        AlertStatus::Firing => '✖',
        AlertStatus::NoData => '○',
    };
    format!("{symbol} {}", status.label())
}

/// A bordered pane; the focused one has a thick border and a marker, so focus shows without
/// colour too.
fn pane<'a>(title: String, focused: bool, theme: Theme) -> Block<'a> {
    let block = Block::bordered();
    if focused {
        block
            .border_set(border::THICK)
            .border_style(theme.fg(Color::Cyan))
            .title(Line::styled(
                format!("▸{title}"),
                Style::new().add_modifier(Modifier::BOLD),
            ))
    } else {
        block.border_style(theme.dim()).title(title)
    }
}

fn focused(app: &AppState, pane: Pane) -> bool {
    app.focus == pane && !app.help
}

/// `16:04:05`, in UTC like every time on the screen.
pub(crate) fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}

/// How long ago `then` was, seen from `now`, in its largest unit: `12s`, `5m`, `3h`, `2d`.
pub(crate) fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

/// The display width of `text` in terminal cells.
pub(crate) fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Cuts `text` to at most `max` terminal cells, ending with `…` when cut. Wide characters
/// (CJK, emoji) count as two cells and are never split.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut or padded with spaces to exactly `cells` terminal cells.
pub(crate) fn fit(text: &str, cells: usize) -> String {
    let mut out = truncate(text, cells);
    let pad = cells.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

#[cfg(test)]
mod tests;
