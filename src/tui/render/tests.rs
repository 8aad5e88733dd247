//! Snapshot tests of the whole screen on ratatui's `TestBackend`, at the smallest supported
//! size and a comfortable one, plus checks that the help and the hint line come from the key
//! table and that `NO_COLOR` leaves the states readable.

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

use super::*;
use crate::tui::app::{AppState, Pane, View};
use crate::tui::fixture;
use crate::tui::keys::{self, BINDINGS};

fn screen(
    cols: u16,
    rows: u16,
    snapshot: &Snapshot,
    app: &AppState,
    color: bool,
    extra: Option<Extra>,
) -> Buffer {
    let options = RenderOptions {
        title: "panelwatch".into(),
        color,
        ascii: !color,
    };
    let mut terminal = Terminal::new(TestBackend::new(cols, rows)).unwrap();
    terminal
        .draw(|frame| draw(frame, snapshot, app, &options, extra))
        .unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer as plain text, one line per row, trailing spaces kept (insta shows them).
fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut skip = 0;
        for x in 0..area.width {
            // Wide characters fill two cells; the second holds nothing to print.
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buffer[(x, y)].symbol();
            skip = width(symbol).saturating_sub(1);
            out.push_str(symbol);
        }
        out.push('\n');
    }
    out
}

#[test]
fn screen_at_80x24() {
    let snap = fixture::snapshot();
    let mut app = AppState::new(false);
    app.selected = 2;
    insta::assert_snapshot!(text(&screen(80, 24, &snap, &app, true, None)));
}

#[test]
fn screen_at_120x40_with_the_extra_pane() {
    let snap = fixture::snapshot();
    let lines = fixture::receiver_lines();
    let extra = Extra {
        title: "Webhook receiver",
        lines: &lines,
    };
    let mut app = AppState::new(true);
    app.focus = Pane::Events;
    insta::assert_snapshot!(text(&screen(120, 40, &snap, &app, true, Some(extra))));
}

#[test]
fn help_overlay_at_80x24() {
    let snap = fixture::snapshot();
    let mut app = AppState::new(false);
    app.help = true;
    insta::assert_snapshot!(text(&screen(80, 24, &snap, &app, true, None)));
}

#[test]
fn empty_snapshot_waits_for_the_first_poll() {
    let snap = Snapshot {
        at: fixture::now(),
        ..Snapshot::default()
    };
    let app = AppState::new(false);
    let shown = text(&screen(80, 24, &snap, &app, true, None));
    assert!(shown.contains("Waiting for the first poll"));
    insta::assert_snapshot!(shown);
}

#[test]
fn help_lists_every_binding_of_the_table() {
    let snap = fixture::snapshot();
    let mut shown = String::new();
    for view in [View::Main, View::Detail, View::History, View::Deliveries] {
        let mut app = AppState::new(false);
        app.view = view;
        app.help = true;
        shown.push_str(&text(&screen(160, 60, &snap, &app, true, None)));
    }
    for binding in BINDINGS {
        assert!(shown.contains(binding.description), "{binding:?}");
        assert!(shown.contains(binding.shown), "{binding:?}");
    }
}

#[test]
fn hint_line_comes_from_the_table() {
    let mut snap = fixture::snapshot();
    snap.notice = None;
    for help in [false, true] {
        let mut app = AppState::new(false);
        app.help = help;
        let buffer = screen(300, 90, &snap, &app, true, None);
        let shown = text(&buffer);
        let last = shown.lines().last().unwrap();
        let mut expected = String::new();
        for (keys, hint) in keys::hints(app.mode()) {
            expected.push_str(&format!(" {keys} {hint} "));
        }
        assert_eq!(
            last.split_whitespace().collect::<Vec<_>>(),
            expected.split_whitespace().collect::<Vec<_>>(),
        );
    }
}

#[test]
fn no_color_keeps_states_readable_without_colours() {
    let snap = fixture::snapshot();
    let app = AppState::new(false);
    let plain = screen(120, 40, &snap, &app, false, None);
    for cell in plain.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    let shown = text(&plain);
    for label in ["✖ FIRING", "◐ PENDING", "○ NO DATA", "✔ OK"] {
        assert!(shown.contains(label), "{label}");
    }

    let coloured = screen(120, 40, &snap, &app, true, None);
    assert!(coloured.content().iter().any(|c| c.fg == Color::Red));
}

#[test]
fn the_firing_state_and_a_low_rate_are_red() {
    let snap = fixture::snapshot();
    let app = AppState::new(false);
    let buffer = screen(120, 40, &snap, &app, true, None);
    let shown = text(&buffer);
    let row = shown
        .lines()
        .position(|l| l.contains("IG Followers"))
        .unwrap();
    let y = u16::try_from(row).unwrap();
    let reds = (0..120)
        .filter(|&x| buffer[(x, y)].fg == Color::Red)
        .count();
    assert!(reds > 10, "state, gauge and rate are red: {reds}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    let snap = fixture::snapshot();
    let mut app = AppState::new(true);
    app.help = true;
    let lines = fixture::receiver_lines();
    for (cols, rows) in [(1, 1), (10, 5), (40, 12), (80, 6)] {
        let extra = Extra {
            title: "Webhook receiver",
            lines: &lines,
        };
        screen(cols, rows, &snap, &app, true, Some(extra));
    }
}

#[test]
fn truncation_counts_display_width() {
    assert_eq!(truncate("abcdef", 4), "abc…");
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("🚀🚀🚀", 4), "🚀…");
    assert_eq!(truncate("Подписчики", 5), "Подп…");
    assert_eq!(width(&fit("🚀x", 5)), 5);
    assert_eq!(truncate("x", 0), "");
}

#[test]
fn ages_use_the_largest_unit() {
    let now = fixture::now();
    let cases = [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (7200, "2h"),
    ];
    for (back, want) in cases {
        assert_eq!(age(now, now - chrono::Duration::seconds(back)), want);
    }
    assert_eq!(age(now, now + chrono::Duration::seconds(5)), "0s");
    assert_eq!(age(now, now - chrono::Duration::days(3)), "3d");
}

#[test]
fn a_long_table_keeps_the_selection_in_view() {
    let mut snap = fixture::snapshot();
    let template = snap.services[2].clone();
    snap.services = (0..40)
        .map(|i| {
            let mut row = template.clone();
            row.service = crate::domain::ServiceId(i);
            row.name = format!("Service number {i}");
            row
        })
        .collect();
    let mut app = AppState::new(false);
    app.selected = 30;
    let shown = text(&screen(80, 24, &snap, &app, false, None));
    assert!(shown.contains("31/40"), "{shown}");
    let selected = shown.lines().find(|l| l.contains("▶")).unwrap();
    assert!(selected.contains("Service number 30"), "{selected}");
}

/// Every view at the smallest and a large size, with colours (ANSI styles kept out of the
/// text; the key cells are checked below) and without (plain text, ASCII glyphs).
#[test]
fn every_view_at_80x24_and_160x48_with_and_without_colour() {
    let snap = fixture::snapshot();
    let views = [
        ("main", View::Main),
        ("detail", View::Detail),
        ("history", View::History),
        ("deliveries", View::Deliveries),
    ];
    for (name, view) in views {
        for (cols, rows) in [(80, 24), (160, 48)] {
            for color in [true, false] {
                let mut app = AppState::new(false);
                app.view = view;
                app.on_snapshot(&snap);
                let shown = text(&screen(cols, rows, &snap, &app, color, None));
                let look = if color { "colour" } else { "no_colour" };
                insta::assert_snapshot!(format!("{name}_{cols}x{rows}_{look}"), shown);
            }
        }
    }
}

#[test]
fn the_detail_view_colours_the_state_and_the_lines_and_reads_without_colour() {
    let snap = fixture::snapshot();
    let mut app = AppState::new(false);
    app.view = View::Detail;
    let buffer = screen(160, 48, &snap, &app, true, None);
    let shown = text(&buffer);
    let row = shown.lines().position(|l| l.contains("✖ FIRING")).unwrap();
    let y = u16::try_from(row).unwrap();
    assert!((0..160).any(|x| buffer[(x, y)].fg == Color::Red));
    assert!(buffer
        .content()
        .iter()
        .any(|c| c.symbol() == "─" && c.fg == Color::Red));
    assert!(buffer
        .content()
        .iter()
        .any(|c| c.symbol() == "┄" && c.fg == Color::Green));

    let plain = text(&screen(160, 48, &snap, &app, false, None));
    for needle in [
        "✖ FIRING",
        "80%",
        "85%",
        "smmking",
        "90377",
        "Pending (stuck)",
        "muted",
    ] {
        assert!(plain.contains(needle), "{needle}");
    }
    assert!(
        !plain.contains('█') && !plain.contains('▌'),
        "ASCII mode has no blocks"
    );
}

#[test]
fn the_deliveries_view_shows_next_attempts_and_last_answers() {
    let snap = fixture::snapshot();
    let mut app = AppState::new(false);
    app.view = View::Deliveries;
    let shown = text(&screen(160, 48, &snap, &app, false, None));
    assert!(shown.contains("next 16:04:45 (in 40s)"), "{shown}");
    assert!(shown.contains("last answer: HTTP 500"), "{shown}");
}

#[test]
fn a_prompt_and_a_picker_show_on_screen() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let snap = fixture::snapshot();
    let mut app = AppState::new(false);
    app.handle_key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE), &snap);
    let shown = text(&screen(80, 24, &snap, &app, false, None));
    assert!(shown.contains("mute main/17"), "{shown}");
    assert!(shown.contains("main/provider:smmking"), "{shown}");
    insta::assert_snapshot!(shown);
}
