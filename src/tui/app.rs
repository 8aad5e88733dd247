//! The screen's own state: which row is selected, which pane has focus, how far each pane is
//! scrolled and whether the help is open.
//!
//! This is what keys change. It knows nothing about drawing (that is `render`) nor about the
//! terminal (that is the run loop in `tui`); it reads the [`Snapshot`] only to keep its
//! positions within the rows that exist.

use crossterm::event::{KeyEvent, KeyEventKind};

use super::keys::{self, Action};
use super::UiCommand;
use crate::domain::ServiceId;
use crate::snapshot::{EventLine, ServiceView, Snapshot};

/// A pane that can take the focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Services,
    Events,
    Deliveries,
    /// The optional extra pane (the demo's webhook receiver, say).
    Extra,
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Services, Pane::Events, Pane::Deliveries, Pane::Extra];
}

/// What identifies a services row: the engine sorts rows by these.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RowKey {
    panel: String,
    service: ServiceId,
    rule: String,
}

impl RowKey {
    fn of(row: &ServiceView) -> RowKey {
        RowKey {
            panel: row.panel.clone(),
            service: row.service,
            rule: row.rule.clone(),
        }
    }
}

/// Everything the screen remembers between frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppState {
    /// Index into `snapshot.services`.
    pub selected: usize,
    /// The selected row's identity, so the selection follows it when rows come and go.
    selected_row: Option<RowKey>,
    pub focus: Pane,
    /// How many events back from the newest the events pane is scrolled; 0 follows the newest.
    pub events_back: usize,
    /// The newest event seen, to keep a scrolled-back view still while new events arrive.
    newest_event: Option<EventLine>,
    /// The first destination line shown in the deliveries pane.
    pub deliveries_top: usize,
    /// How many lines back from the newest the extra pane is scrolled; 0 follows the newest.
    pub extra_back: usize,
    pub help: bool,
    /// Whether the extra pane exists, so focus can skip it.
    pub has_extra: bool,
    /// Lines the events pane shows at once; a page scroll moves by this much.
    pub events_rows: usize,
    /// Lines the extra pane shows at once, and how many it has.
    pub extra_rows: usize,
    pub extra_len: usize,
}

impl AppState {
    pub fn new(has_extra: bool) -> AppState {
        AppState {
            selected: 0,
            selected_row: None,
            focus: Pane::Services,
            events_back: 0,
            newest_event: None,
            deliveries_top: 0,
            extra_back: 0,
            help: false,
            has_extra,
            events_rows: 8,
            extra_rows: 8,
            extra_len: 0,
        }
    }

    /// Tells the state how many lines the log panes show (from `render::layout`) and how
    /// many lines the extra pane has, so scrolling stops where the content does.
    pub fn set_log_rows(&mut self, events_rows: usize, extra_rows: usize, extra_len: usize) {
        self.events_rows = events_rows.max(1);
        self.extra_rows = extra_rows.max(1);
        self.extra_len = extra_len;
        self.extra_back = self
            .extra_back
            .min(extra_len.saturating_sub(self.extra_rows));
    }

    /// Applies a key press. Returns the command for the rest of the program, if the key asks
    /// for one; state-only keys return `None`. Releases and repeats of non-movement keys are
    /// ignored.
    pub fn handle_key(&mut self, key: KeyEvent, snapshot: &Snapshot) -> Option<UiCommand> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let action = keys::lookup(&key, self.help)?;
        self.apply(action, snapshot)
    }

    /// Applies an action, as [`AppState::handle_key`] does after the table lookup.
    pub fn apply(&mut self, action: Action, snapshot: &Snapshot) -> Option<UiCommand> {
        match action {
            Action::Quit => return Some(UiCommand::Quit),
            Action::ToggleHelp => self.help = !self.help,
            Action::CloseOverlay => self.help = false,
            Action::NextPane => self.cycle_focus(true),
            Action::PrevPane => self.cycle_focus(false),
            Action::Up => self.step(false),
            Action::Down => self.step(true),
            Action::Top => self.jump(true),
            Action::Bottom => self.jump(false),
            Action::PageUp => self.events_back = self.events_back.saturating_add(self.events_rows),
            Action::PageDown => {
                self.events_back = self.events_back.saturating_sub(self.events_rows)
            }
        }
        self.clamp(snapshot);
        None
    }

    /// Takes a new snapshot into account: the selection follows its row if the row still
    /// exists (rows above it may have come or gone), and every position is kept in range.
    pub fn on_snapshot(&mut self, snapshot: &Snapshot) {
        let found = self.selected_row.as_ref().and_then(|key| {
            snapshot
                .services
                .iter()
                .position(|row| RowKey::of(row) == *key)
        });
        if let Some(index) = found {
            self.selected = index;
        }

        // Extra pane lines carry no identity, so that pane does shift while scrolled back.
        if self.events_back > 0 {
            let arrived = self.newest_event.as_ref().and_then(|newest| {
                let events = &snapshot.events;
                events
                    .iter()
                    .rposition(|e| e == newest)
                    .map(|at| events.len() - 1 - at)
            });
            self.events_back += arrived.unwrap_or(0);
        }
        self.newest_event = snapshot.events.last().cloned();
        self.clamp(snapshot);
    }

    /// Keeps positions within what the snapshot holds and remembers the selected row.
    pub fn clamp(&mut self, snapshot: &Snapshot) {
        self.selected = self.selected.min(snapshot.services.len().saturating_sub(1));
        self.selected_row = snapshot.services.get(self.selected).map(RowKey::of);
        // Scrolling back stops when the oldest event reaches the top of the pane.
        self.events_back = self
            .events_back
            .min(snapshot.events.len().saturating_sub(self.events_rows));
        self.extra_back = self
            .extra_back
            .min(self.extra_len.saturating_sub(self.extra_rows));
        self.deliveries_top = self
            .deliveries_top
            .min(snapshot.deliveries.destinations.len().saturating_sub(1));
    }

    fn cycle_focus(&mut self, forward: bool) {
        let panes: Vec<Pane> = Pane::ORDER
            .into_iter()
            .filter(|p| self.has_extra || *p != Pane::Extra)
            .collect();
        let at = panes.iter().position(|p| *p == self.focus).unwrap_or(0);
        let by = if forward { 1 } else { panes.len() - 1 };
        self.focus = panes[(at + by) % panes.len()];
    }

    /// Moves the focused pane's position by one row.
    fn step(&mut self, down: bool) {
        let toward = |v: usize, grow: bool| {
            if grow {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            }
        };
        match self.focus {
            Pane::Services => self.selected = toward(self.selected, down),
            Pane::Deliveries => self.deliveries_top = toward(self.deliveries_top, down),
            // Logs count lines back from the newest, which sits at the bottom.
            Pane::Events => self.events_back = toward(self.events_back, !down),
            Pane::Extra => self.extra_back = toward(self.extra_back, !down),
        }
    }

    fn jump(&mut self, top: bool) {
        // Large values are clamped to the last row by `clamp` (or by rendering, for the extra
        // pane whose lines the snapshot does not hold).
        let far = usize::MAX / 2;
        match (self.focus, top) {
            (Pane::Services, true) => self.selected = 0,
            (Pane::Services, false) => self.selected = far,
            (Pane::Deliveries, true) => self.deliveries_top = 0,
            (Pane::Deliveries, false) => self.deliveries_top = far,
            (Pane::Events, true) => self.events_back = far,
            (Pane::Events, false) => self.events_back = 0,
            (Pane::Extra, true) => self.extra_back = far,
            (Pane::Extra, false) => self.extra_back = 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyModifiers};

    use super::*;
    use crate::tui::fixture;

    fn press(app: &mut AppState, snapshot: &Snapshot, code: KeyCode) -> Option<UiCommand> {
        app.handle_key(KeyEvent::new(code, KeyModifiers::NONE), snapshot)
    }

    #[test]
    fn selection_moves_and_stays_in_range() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Up);
        assert_eq!(app.selected, 0);
        press(&mut app, &snap, KeyCode::Char('j'));
        press(&mut app, &snap, KeyCode::Down);
        assert_eq!(app.selected, 2);
        press(&mut app, &snap, KeyCode::Char('k'));
        assert_eq!(app.selected, 1);
        press(&mut app, &snap, KeyCode::Char('G'));
        assert_eq!(app.selected, snap.services.len() - 1);
        press(&mut app, &snap, KeyCode::Down);
        assert_eq!(app.selected, snap.services.len() - 1);
        press(&mut app, &snap, KeyCode::Char('g'));
        assert_eq!(app.selected, 0);
    }

    #[test]
    fn a_shorter_snapshot_pulls_the_selection_back() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Char('G'));
        let mut fewer = snap.clone();
        fewer.services.truncate(2);
        app.clamp(&fewer);
        assert_eq!(app.selected, 1);
        app.clamp(&Snapshot::default());
        assert_eq!(app.selected, 0);
    }

    #[test]
    fn the_selection_follows_its_row_when_rows_move() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Down);
        press(&mut app, &snap, KeyCode::Down);
        let chosen = snap.services[2].clone();

        let mut moved = snap.clone();
        moved.services.remove(0);
        app.on_snapshot(&moved);
        assert_eq!(moved.services[app.selected], chosen);
        moved.services.insert(0, snap.services[0].clone());
        moved.services.insert(0, snap.services[5].clone());
        app.on_snapshot(&moved);
        assert_eq!(moved.services[app.selected], chosen);

        let mut gone = moved.clone();
        gone.services.retain(|row| *row != chosen);
        let before = app.selected;
        app.on_snapshot(&gone);
        assert_eq!(
            app.selected, before,
            "a vanished row leaves the index in place"
        );
    }

    #[test]
    fn tab_cycles_panes_and_skips_a_missing_extra_pane() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        let mut seen = vec![app.focus];
        for _ in 0..3 {
            press(&mut app, &snap, KeyCode::Tab);
            seen.push(app.focus);
        }
        assert_eq!(
            seen,
            [
                Pane::Services,
                Pane::Events,
                Pane::Deliveries,
                Pane::Services
            ]
        );
        press(&mut app, &snap, KeyCode::BackTab);
        assert_eq!(app.focus, Pane::Deliveries);

        let mut app = AppState::new(true);
        press(&mut app, &snap, KeyCode::BackTab);
        assert_eq!(app.focus, Pane::Extra);
    }

    #[test]
    fn events_scroll_back_by_pages_and_follow_again() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        app.events_rows = 2;
        press(&mut app, &snap, KeyCode::PageUp);
        assert_eq!(app.events_back, 2);
        press(&mut app, &snap, KeyCode::PageUp);
        press(&mut app, &snap, KeyCode::PageUp);
        press(&mut app, &snap, KeyCode::PageUp);
        press(&mut app, &snap, KeyCode::PageUp);
        assert_eq!(
            app.events_back,
            snap.events.len() - 2,
            "the oldest is at the top"
        );
        press(&mut app, &snap, KeyCode::PageDown);
        assert_eq!(app.events_back, snap.events.len() - 4);

        press(&mut app, &snap, KeyCode::Tab);
        assert_eq!(app.focus, Pane::Events);
        press(&mut app, &snap, KeyCode::Char('G'));
        assert_eq!(app.events_back, 0);
        press(&mut app, &snap, KeyCode::Up);
        assert_eq!(app.events_back, 1);
        assert_eq!(app.selected, 0, "the service selection does not move");
    }

    #[test]
    fn a_scrolled_back_event_view_stays_put_when_events_arrive() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        app.events_rows = 2;
        app.on_snapshot(&snap);
        app.events_back = 3;

        let mut newer = snap.clone();
        newer.events.remove(0);
        for summary in ["one", "two"] {
            newer.events.push(EventLine {
                at: snap.at,
                kind: "test".into(),
                summary: summary.into(),
            });
        }
        app.on_snapshot(&newer);
        assert_eq!(app.events_back, 5);

        app.events_back = 0;
        newer.events.push(snap.events[0].clone());
        app.on_snapshot(&newer);
        assert_eq!(
            app.events_back, 0,
            "a view at the bottom follows the newest"
        );
    }

    #[test]
    fn the_extra_pane_scrolls_within_its_lines() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(true);
        app.set_log_rows(4, 3, 10);
        app.focus = Pane::Extra;
        press(&mut app, &snap, KeyCode::Char('g'));
        assert_eq!(app.extra_back, 7);
        press(&mut app, &snap, KeyCode::Down);
        assert_eq!(app.extra_back, 6);
        app.set_log_rows(4, 3, 5);
        assert_eq!(app.extra_back, 2, "fewer lines pull the view back");
    }

    #[test]
    fn help_toggles_and_swallows_movement() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Char('?'));
        assert!(app.help);
        press(&mut app, &snap, KeyCode::Down);
        assert_eq!(app.selected, 0);
        press(&mut app, &snap, KeyCode::Esc);
        assert!(!app.help);
        press(&mut app, &snap, KeyCode::Char('?'));
        press(&mut app, &snap, KeyCode::Char('?'));
        assert!(!app.help);
    }

    #[test]
    fn quit_is_a_command_from_anywhere() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        assert_eq!(
            press(&mut app, &snap, KeyCode::Char('q')),
            Some(UiCommand::Quit)
        );
        app.help = true;
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.handle_key(ctrl_c, &snap), Some(UiCommand::Quit));
        assert_eq!(press(&mut app, &snap, KeyCode::Char('x')), None);
    }

    #[test]
    fn key_releases_are_ignored() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(app.handle_key(release, &snap), None);
    }
}
