//! The key bindings, as one table.
//!
//! [`BINDINGS`] is the only place that says which key does what: key handling looks keys up
//! here, and both the help overlay and the hint line at the bottom of the screen are generated
//! from it, so the screen cannot promise a key that does something else. This module does not
//! change any state; `app` does that with the [`Action`] a key resolves to.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks the UI to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    CloseOverlay,
    NextPane,
    PrevPane,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Everywhere, help overlay open or not.
    Always,
    /// The main screen, while no overlay is open; the focused pane decides what moves.
    Main,
    /// Only while an overlay (the help) is open.
    Overlay,
}

impl Context {
    /// The heading under which the help overlay lists the context's bindings.
    pub fn heading(self) -> &'static str {
        match self {
            Context::Always => "Anywhere",
            Context::Main => "Main screen (acts on the focused pane)",
            Context::Overlay => "Help overlay",
        }
    }
}

/// One physical key: a code and the modifiers that must be held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const fn key(code: KeyCode) -> Key {
    Key {
        code,
        modifiers: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
    }
}

impl Key {
    /// Whether a pressed key is this one. Shift is ignored for characters and for Back-Tab,
    /// because terminals disagree on whether they report it (`G` may come with or without it).
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        self.code == event.code && (event.modifiers & relevant) == (self.modifiers & relevant)
    }
}

/// A row of the key table.
#[derive(Debug)]
pub struct Binding {
    /// Every key that triggers the action.
    pub keys: &'static [Key],
    /// How the keys are written on screen.
    pub shown: &'static str,
    /// What the binding does, for the help overlay.
    pub description: &'static str,
    /// A word or two for the hint line; `None` keeps the binding out of it.
    pub hint: Option<&'static str>,
    pub action: Action,
    pub context: Context,
}

/// The key table. Order matters: the first binding that matches wins, and the help overlay
/// and the hint line list bindings in this order.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[key(KeyCode::Char('q')), ctrl('c')],
        shown: "q",
        description: "quit panelwatch's screen (Ctrl-C works too)",
        hint: Some("quit"),
        action: Action::Quit,
        context: Context::Always,
    },
    Binding {
        keys: &[key(KeyCode::Char('?'))],
        shown: "?",
        description: "show or hide this help",
        hint: Some("help"),
        action: Action::ToggleHelp,
        context: Context::Always,
    },
    Binding {
        keys: &[key(KeyCode::Esc)],
        shown: "Esc",
        description: "close the help",
        hint: Some("close"),
        action: Action::CloseOverlay,
        context: Context::Overlay,
    },
    Binding {
        keys: &[key(KeyCode::Up), key(KeyCode::Char('k'))],
        shown: "↑/k",
        description: "select the previous service, or scroll the focused pane up",
        hint: Some("up"),
        action: Action::Up,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::Down), key(KeyCode::Char('j'))],
        shown: "↓/j",
        description: "select the next service, or scroll the focused pane down",
        hint: Some("down"),
        action: Action::Down,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::Tab)],
        shown: "Tab",
        description: "focus the next pane (services, events, deliveries, extra)",
        hint: Some("pane"),
        action: Action::NextPane,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::BackTab)],
        shown: "S-Tab",
        description: "focus the previous pane (Shift-Tab)",
        hint: None,
        action: Action::PrevPane,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::Char('g')), key(KeyCode::Home)],
        shown: "g",
        description: "go to the top of the focused pane",
        hint: Some("top"),
        action: Action::Top,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::Char('G')), key(KeyCode::End)],
        shown: "G",
        description: "go to the bottom of the focused pane (events: follow the newest)",
        hint: Some("bottom"),
        action: Action::Bottom,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::PageUp)],
        shown: "PgUp",
        description: "scroll the events back by a page",
        hint: Some("older"),
        action: Action::PageUp,
        context: Context::Main,
    },
    Binding {
        keys: &[key(KeyCode::PageDown)],
        shown: "PgDn",
        description: "scroll the events forward by a page",
        hint: Some("newer"),
        action: Action::PageDown,
        context: Context::Main,
    },
];

/// Whether a binding is live when the help overlay is (or is not) open.
pub fn active(binding: &Binding, overlay_open: bool) -> bool {
    match binding.context {
        Context::Always => true,
        Context::Main => !overlay_open,
        Context::Overlay => overlay_open,
    }
}

/// The action a pressed key asks for, given whether an overlay is open.
pub fn lookup(event: &KeyEvent, overlay_open: bool) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| active(b, overlay_open))
        .find(|b| b.keys.iter().any(|k| k.matches(event)))
        .map(|b| b.action)
}

/// The bindings the hint line shows, in table order, as `(keys, hint)`.
pub fn hints(overlay_open: bool) -> impl Iterator<Item = (&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(move |b| active(b, overlay_open))
        .filter_map(|b| b.hint.map(|h| (b.shown, h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_resolve_to_actions() {
        let cases = [
            (
                KeyCode::Char('q'),
                KeyModifiers::NONE,
                false,
                Some(Action::Quit),
            ),
            (
                KeyCode::Char('c'),
                KeyModifiers::CONTROL,
                false,
                Some(Action::Quit),
            ),
            (KeyCode::Char('c'), KeyModifiers::NONE, false, None),
            (
                KeyCode::Char('?'),
                KeyModifiers::SHIFT,
                false,
                Some(Action::ToggleHelp),
            ),
            (
                KeyCode::Char('j'),
                KeyModifiers::NONE,
                false,
                Some(Action::Down),
            ),
            (KeyCode::Down, KeyModifiers::NONE, false, Some(Action::Down)),
            (
                KeyCode::Char('k'),
                KeyModifiers::NONE,
                false,
                Some(Action::Up),
            ),
            (
                KeyCode::Char('G'),
                KeyModifiers::SHIFT,
                false,
                Some(Action::Bottom),
            ),
            (
                KeyCode::Char('G'),
                KeyModifiers::NONE,
                false,
                Some(Action::Bottom),
            ),
            (
                KeyCode::BackTab,
                KeyModifiers::SHIFT,
                false,
                Some(Action::PrevPane),
            ),
            (
                KeyCode::Tab,
                KeyModifiers::NONE,
                false,
                Some(Action::NextPane),
            ),
            (KeyCode::Esc, KeyModifiers::NONE, false, None),
            (
                KeyCode::Esc,
                KeyModifiers::NONE,
                true,
                Some(Action::CloseOverlay),
            ),
            (KeyCode::Char('j'), KeyModifiers::NONE, true, None),
            (
                KeyCode::Char('q'),
                KeyModifiers::NONE,
                true,
                Some(Action::Quit),
            ),
            (KeyCode::Char('j'), KeyModifiers::CONTROL, false, None),
        ];
        for (code, modifiers, overlay, want) in cases {
            assert_eq!(
                lookup(&press(code, modifiers), overlay),
                want,
                "{code:?} {modifiers:?} overlay={overlay}"
            );
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                let overlap = [false, true]
                    .iter()
                    .any(|&open| active(a, open) && active(b, open));
                if !overlap {
                    continue;
                }
                for k in a.keys {
                    assert!(!b.keys.contains(k), "{k:?} bound twice");
                }
            }
        }
    }

    #[test]
    fn every_binding_has_words() {
        for b in BINDINGS {
            assert!(!b.keys.is_empty() && !b.shown.is_empty() && !b.description.is_empty());
        }
    }
}
