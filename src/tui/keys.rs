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
    /// Open the selected service's detail view.
    Open,
    /// Back to the main screen.
    Back,
    Filter,
    Sort,
    Group,
    History,
    Deliveries,
    Mute,
    Unmute,
    TestAlert,
    Replay,
    ReplayAll,
    Enable,
    Reload,
    /// Show the next event type in the history.
    KindFilter,
    /// In a prompt: carry it out, drop it, change its target, delete a character.
    Submit,
    Cancel,
    NextChoice,
    PrevChoice,
    Erase,
}

/// Which screen is up, as far as keys are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Main,
    Detail,
    History,
    Deliveries,
    /// The help overlay is open.
    Help,
    /// A prompt (duration, filter, picker, confirmation) takes the keys.
    Prompt,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Everywhere, prompts included.
    Always,
    /// Every screen and the help, but not while a prompt takes the keys.
    Anywhere,
    /// Every screen (main, detail, history, deliveries) while nothing is open over it.
    Screens,
    /// The main screen; the focused pane decides what moves.
    Main,
    /// The main screen and the detail view: actions on the selected service.
    Service,
    /// The detail, history and deliveries views.
    Views,
    /// The main screen's services and the history: the lists that filter.
    Lists,
    History,
    Deliveries,
    /// Only while the help is open.
    Overlay,
    /// Only while a prompt is open.
    Prompt,
}

impl Context {
    /// The heading under which the help overlay lists the context's bindings.
    pub fn heading(self) -> &'static str {
        match self {
            Context::Always => "Always",
            Context::Anywhere => "Anywhere but in a prompt",
            Context::Screens => "Every view",
            Context::Main => "Main screen (acts on the focused pane)",
            Context::Service => "Main screen and detail view (the selected service)",
            Context::Views => "Detail, history and deliveries views",
            Context::Lists => "Services and history",
            Context::History => "Event history",
            Context::Deliveries => "Deliveries view",
            Context::Overlay => "Help overlay",
            Context::Prompt => "Prompts (type the value; pickers move with ↑/↓)",
        }
    }

    /// Whether bindings of this context are live in `mode`.
    pub fn applies(self, mode: Mode) -> bool {
        use Mode as M;
        match self {
            Context::Always => true,
            Context::Anywhere => mode != M::Prompt,
            Context::Screens => !matches!(mode, M::Help | M::Prompt),
            Context::Main => mode == M::Main,
            Context::Service => matches!(mode, M::Main | M::Detail),
            Context::Views => matches!(mode, M::Detail | M::History | M::Deliveries),
            Context::Lists => matches!(mode, M::Main | M::History),
            Context::History => mode == M::History,
            Context::Deliveries => mode == M::Deliveries,
            Context::Overlay => mode == M::Help,
            Context::Prompt => mode == M::Prompt,
        }
    }

    /// The contexts in the order the help lists them.
    pub const ALL: [Context; 11] = [
        Context::Always,
        Context::Anywhere,
        Context::Screens,
        Context::Main,
        Context::Service,
        Context::Lists,
        Context::Views,
        Context::History,
        Context::Deliveries,
        Context::Overlay,
        Context::Prompt,
    ];

    /// Whether the context is about one view (its hints come first on the hint line).
    fn specific(self) -> bool {
        !matches!(self, Context::Always | Context::Anywhere | Context::Screens)
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
/// and the hint line list bindings in this order (the hint line puts a view's own first).
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    b(&[ctrl('c')], "C-c", "quit panelwatch's screen, even from a prompt", None, Action::Quit, Context::Always),
    b(&[key(KeyCode::Char('q'))], "q", "quit panelwatch's screen (an attached screen only detaches)", Some("quit"), Action::Quit, Context::Anywhere),
    b(&[key(KeyCode::Char('?'))], "?", "show or hide this help", Some("help"), Action::ToggleHelp, Context::Anywhere),
    b(&[key(KeyCode::Esc)], "Esc", "close the help", Some("close"), Action::CloseOverlay, Context::Overlay),
    b(&[key(KeyCode::Enter)], "Enter", "carry out the prompt (confirm, choose, apply)", Some("ok"), Action::Submit, Context::Prompt),
    b(&[key(KeyCode::Esc)], "Esc", "drop the prompt (a filter is cleared)", Some("cancel"), Action::Cancel, Context::Prompt),
    b(&[key(KeyCode::Tab), key(KeyCode::Down)], "Tab/↓", "next choice: mute target, destination", Some("next"), Action::NextChoice, Context::Prompt),
    b(&[key(KeyCode::BackTab), key(KeyCode::Up)], "S-Tab/↑", "previous choice", None, Action::PrevChoice, Context::Prompt),
    b(&[key(KeyCode::Backspace)], "Bksp", "delete the last character typed", None, Action::Erase, Context::Prompt),
    b(&[key(KeyCode::Enter)], "Enter", "open the selected service: chart, providers, failed orders, rule", Some("detail"), Action::Open, Context::Main),
    b(&[key(KeyCode::Esc)], "Esc", "back to the main screen", Some("back"), Action::Back, Context::Views),
    b(&[key(KeyCode::Char('m'))], "m", "mute the service, its provider or its panel for a while", Some("mute"), Action::Mute, Context::Service),
    b(&[key(KeyCode::Char('u'))], "u", "lift a mute on the service, its provider or its panel", Some("unmute"), Action::Unmute, Context::Service),
    b(&[key(KeyCode::Char('r'))], "r", "replay the selected dead letter", Some("replay"), Action::Replay, Context::Deliveries),
    b(&[key(KeyCode::Char('R'))], "R", "replay every dead letter (asks first)", Some("replay all"), Action::ReplayAll, Context::Deliveries),
    b(&[key(KeyCode::Char('n'))], "n", "enable a disabled destination again", Some("enable"), Action::Enable, Context::Deliveries),
    b(&[key(KeyCode::Char('f'))], "f", "show only the next event type (all, alert, panel, ...)", Some("type"), Action::KindFilter, Context::History),
    b(&[key(KeyCode::Char('/'))], "/", "filter the list by text", Some("filter"), Action::Filter, Context::Lists),
    b(&[key(KeyCode::Char('s'))], "s", "sort services: panel, state, rate, name", Some("sort"), Action::Sort, Context::Main),
    b(&[key(KeyCode::Char('b'))], "b", "group services: none, by panel, by provider", Some("group"), Action::Group, Context::Main),
    b(&[key(KeyCode::Char('e'))], "e", "event history view (again: back)", Some("events"), Action::History, Context::Screens),
    b(&[key(KeyCode::Char('d'))], "d", "deliveries view (again: back)", Some("deliveries"), Action::Deliveries, Context::Screens),
    b(&[key(KeyCode::Char('t'))], "t", "send a test alert to a destination", Some("test"), Action::TestAlert, Context::Screens),
    b(&[ctrl('r')], "C-r", "reload the config file now", None, Action::Reload, Context::Screens),
    b(&[key(KeyCode::Up), key(KeyCode::Char('k'))], "↑/k", "select the previous row, or scroll the focused pane up", Some("up"), Action::Up, Context::Screens),
    b(&[key(KeyCode::Down), key(KeyCode::Char('j'))], "↓/j", "select the next row, or scroll the focused pane down", Some("down"), Action::Down, Context::Screens),
    b(&[key(KeyCode::Tab)], "Tab", "focus the next pane (services, events, deliveries, extra)", Some("pane"), Action::NextPane, Context::Main),
    b(&[key(KeyCode::BackTab)], "S-Tab", "focus the previous pane (Shift-Tab)", None, Action::PrevPane, Context::Main),
    b(&[key(KeyCode::Char('g')), key(KeyCode::Home)], "g", "go to the top of the list", Some("top"), Action::Top, Context::Screens),
    b(&[key(KeyCode::Char('G')), key(KeyCode::End)], "G", "go to the bottom of the list (events: follow the newest)", Some("bottom"), Action::Bottom, Context::Screens),
    b(&[key(KeyCode::PageUp)], "PgUp", "scroll the events back by a page", Some("older"), Action::PageUp, Context::Screens),
    b(&[key(KeyCode::PageDown)], "PgDn", "scroll the events forward by a page", Some("newer"), Action::PageDown, Context::Screens),
];

const fn b(
    keys: &'static [Key],
    shown: &'static str,
    description: &'static str,
    hint: Option<&'static str>,
    action: Action,
    context: Context,
) -> Binding {
    Binding {
        keys,
        shown,
        description,
        hint,
        action,
        context,
    }
}

/// Whether a binding is live in `mode`.
pub fn active(binding: &Binding, mode: Mode) -> bool {
    binding.context.applies(mode)
}

/// The action a pressed key asks for in `mode`.
pub fn lookup(event: &KeyEvent, mode: Mode) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| active(b, mode))
        .find(|b| b.keys.iter().any(|k| k.matches(event)))
        .map(|b| b.action)
}

/// The bindings the hint line shows in `mode`, as `(keys, hint)`: the view's own first,
/// then the general ones, each in table order.
pub fn hints(mode: Mode) -> impl Iterator<Item = (&'static str, &'static str)> {
    let live = move |b: &&Binding| active(b, mode);
    let own = BINDINGS
        .iter()
        .filter(live)
        .filter(|b| b.context.specific());
    let general = BINDINGS
        .iter()
        .filter(live)
        .filter(|b| !b.context.specific());
    own.chain(general)
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
                Mode::Main,
                Some(Action::Quit),
            ),
            (
                KeyCode::Char('c'),
                KeyModifiers::CONTROL,
                Mode::Main,
                Some(Action::Quit),
            ),
            (KeyCode::Char('c'), KeyModifiers::NONE, Mode::Main, None),
            (
                KeyCode::Char('?'),
                KeyModifiers::SHIFT,
                Mode::Main,
                Some(Action::ToggleHelp),
            ),
            (
                KeyCode::Char('j'),
                KeyModifiers::NONE,
                Mode::Main,
                Some(Action::Down),
            ),
            (
                KeyCode::Down,
                KeyModifiers::NONE,
                Mode::Main,
                Some(Action::Down),
            ),
            (
                KeyCode::Char('k'),
                KeyModifiers::NONE,
                Mode::Main,
                Some(Action::Up),
            ),
            (
                KeyCode::Char('G'),
                KeyModifiers::SHIFT,
                Mode::Main,
                Some(Action::Bottom),
            ),
            (
                KeyCode::Char('G'),
                KeyModifiers::NONE,
                Mode::Main,
                Some(Action::Bottom),
            ),
            (
                KeyCode::BackTab,
                KeyModifiers::SHIFT,
                Mode::Main,
                Some(Action::PrevPane),
            ),
            (
                KeyCode::Tab,
                KeyModifiers::NONE,
                Mode::Main,
                Some(Action::NextPane),
            ),
            (KeyCode::Esc, KeyModifiers::NONE, Mode::Main, None),
            (
                KeyCode::Esc,
                KeyModifiers::NONE,
                Mode::Help,
                Some(Action::CloseOverlay),
            ),
            (KeyCode::Char('j'), KeyModifiers::NONE, Mode::Help, None),
            (
                KeyCode::Char('q'),
                KeyModifiers::NONE,
                Mode::Help,
                Some(Action::Quit),
            ),
            (KeyCode::Char('j'), KeyModifiers::CONTROL, Mode::Main, None),
        ];
        for (code, modifiers, overlay, want) in cases {
            assert_eq!(
                lookup(&press(code, modifiers), overlay),
                want,
                "{code:?} {modifiers:?} mode={overlay:?}"
            );
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                let modes = [
                    Mode::Main,
                    Mode::Detail,
                    Mode::History,
                    Mode::Deliveries,
                    Mode::Help,
                    Mode::Prompt,
                ];
                let overlap = modes.iter().any(|&m| active(a, m) && active(b, m));
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
