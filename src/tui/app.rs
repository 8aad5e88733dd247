//! The screen's own state: which view is up, which row is selected, which pane has focus,
//! how far each list is scrolled, how services are filtered, sorted and grouped, and the open
//! prompt (a duration, a filter, a picker, a confirmation).
//!
//! This is what keys change. It knows nothing about drawing (that is `render`) nor about the
//! terminal (that is the run loop in `tui`); it reads the [`Snapshot`] only to keep its
//! positions within the rows that exist and to know what an action is about. Actions leave as
//! [`UiCommand`]s; their outcome comes back as the snapshot's notice.

use std::cmp::Ordering;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::keys::{self, Action, Mode};
use super::UiCommand;
use crate::domain::ServiceId;
use crate::snapshot::{AlertStatus, EventLine, ServiceView, Snapshot};

/// A pane of the main screen that can take the focus.
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

/// The screen shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Main,
    /// The selected service in full.
    Detail,
    History,
    Deliveries,
}

/// How the services are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// As the engine sends them: panel, service id, rule.
    Panel,
    /// Worst state first (firing, pending, no data, ok).
    State,
    /// Lowest success rate first.
    Rate,
    Name,
}

impl Sort {
    pub fn label(self) -> &'static str {
        match self {
            Sort::Panel => "panel",
            Sort::State => "state",
            Sort::Rate => "rate",
            Sort::Name => "name",
        }
    }

    fn next(self) -> Sort {
        match self {
            Sort::Panel => Sort::State,
            Sort::State => Sort::Rate,
            Sort::Rate => Sort::Name,
            Sort::Name => Sort::Panel,
        }
    }
}

/// How the services are grouped: rows of a group together, under a heading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    None,
    Panel,
    Provider,
}

impl Group {
    fn next(self) -> Group {
        match self {
            Group::None => Group::Panel,
            Group::Panel => Group::Provider,
            Group::Provider => Group::None,
        }
    }

    /// The heading a service falls under, or `None` when not grouping.
    pub fn key(self, service: &ServiceView) -> Option<String> {
        match self {
            Group::None => None,
            Group::Panel => Some(format!("panel {}", service.panel)),
            Group::Provider => Some(match &service.provider {
                Some(p) => format!("provider {p}"),
                None => "provider unknown".into(),
            }),
        }
    }
}

/// What a prompt is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// Typing filters the services (main screen) or the events (history) as you go.
    Filter,
    /// Mute one of `targets` (service, provider, panel) for the typed duration.
    Mute { targets: Vec<String>, at: usize },
    /// Lift the mute on one of `targets`.
    Unmute { targets: Vec<String>, at: usize },
    /// Choose a destination for a test alert.
    TestAlert { choices: Vec<String>, at: usize },
    /// Choose a disabled destination to enable again.
    Enable { choices: Vec<String>, at: usize },
    /// Ask before a command with wide effects.
    Confirm {
        question: String,
        command: UiCommand,
    },
}

/// An open prompt: what it is for, what has been typed, and why the last try was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    pub error: Option<String>,
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
    pub view: View,
    /// Index into the visible services ([`AppState::visible`]).
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
    /// The selected line of the deliveries view.
    pub delivery: usize,
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
    pub sort: Sort,
    pub group: Group,
    /// Text the services must contain (panel, name, provider, id or state).
    pub service_filter: String,
    /// Text the history's events must contain.
    pub event_filter: String,
    /// The history shows only events whose type starts with this (`alert`, `panel`, ...).
    pub event_kind: Option<String>,
    pub prompt: Option<Prompt>,
    /// What the screen last asked the monitor to do, until the monitor's notice answers.
    pub asked: Option<String>,
    /// The notice seen when the command was sent, to notice the answer.
    notice_seen: Option<String>,
}

impl AppState {
    pub fn new(has_extra: bool) -> AppState {
        AppState {
            view: View::Main,
            selected: 0,
            selected_row: None,
            focus: Pane::Services,
            events_back: 0,
            newest_event: None,
            deliveries_top: 0,
            delivery: 0,
            extra_back: 0,
            help: false,
            has_extra,
            events_rows: 8,
            extra_rows: 8,
            extra_len: 0,
            sort: Sort::Panel,
            group: Group::None,
            service_filter: String::new(),
            event_filter: String::new(),
            event_kind: None,
            prompt: None,
            asked: None,
            notice_seen: None,
        }
    }

    /// Which bindings of the key table are live.
    pub fn mode(&self) -> Mode {
        if self.prompt.is_some() {
            Mode::Prompt
        } else if self.help {
            Mode::Help
        } else {
            match self.view {
                View::Main => Mode::Main,
                View::Detail => Mode::Detail,
                View::History => Mode::History,
                View::Deliveries => Mode::Deliveries,
            }
        }
    }

    /// The services shown, as indexes into `snapshot.services`: filtered, grouped, sorted.
    pub fn visible(&self, snapshot: &Snapshot) -> Vec<usize> {
        let needle = self.service_filter.to_lowercase();
        let mut rows: Vec<usize> = (0..snapshot.services.len())
            .filter(|&i| needle.is_empty() || matches_filter(&snapshot.services[i], &needle))
            .collect();
        let services = &snapshot.services;
        rows.sort_by(|&a, &b| {
            let (a, b) = (&services[a], &services[b]);
            let group = self.group.key(a).cmp(&self.group.key(b));
            group.then_with(|| compare(self.sort, a, b))
        });
        rows
    }

    /// The selected service, if any is visible.
    pub fn selected_service<'a>(&self, snapshot: &'a Snapshot) -> Option<&'a ServiceView> {
        let visible = self.visible(snapshot);
        visible
            .get(self.selected)
            .and_then(|&i| snapshot.services.get(i))
    }

    /// The events the history shows, oldest first.
    pub fn history<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a EventLine> {
        let needle = self.event_filter.to_lowercase();
        snapshot
            .events
            .iter()
            .filter(|e| {
                self.event_kind
                    .as_ref()
                    .is_none_or(|k| e.kind.split('.').next() == Some(k.as_str()))
            })
            .filter(|e| {
                needle.is_empty()
                    || e.summary.to_lowercase().contains(&needle)
                    || e.kind.contains(&needle)
            })
            .collect()
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
    /// for one; state-only keys return `None`. Key releases are ignored.
    pub fn handle_key(&mut self, key: KeyEvent, snapshot: &Snapshot) -> Option<UiCommand> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let mode = self.mode();
        match keys::lookup(&key, mode) {
            Some(action) => self.apply(action, snapshot),
            None if mode == Mode::Prompt => {
                let command = self.type_char(key, snapshot);
                self.clamp(snapshot);
                self.sent(command, snapshot)
            }
            None => None,
        }
    }

    /// Applies an action, as [`AppState::handle_key`] does after the table lookup.
    pub fn apply(&mut self, action: Action, snapshot: &Snapshot) -> Option<UiCommand> {
        let command = match action {
            Action::Quit => return Some(UiCommand::Quit),
            Action::ToggleHelp => {
                self.help = !self.help;
                None
            }
            Action::CloseOverlay => {
                self.help = false;
                None
            }
            Action::Submit => self.submit(snapshot),
            Action::Cancel => {
                if matches!(
                    self.prompt.as_ref().map(|p| &p.kind),
                    Some(PromptKind::Filter)
                ) {
                    self.filter_mut().clear();
                }
                self.prompt = None;
                None
            }
            Action::NextChoice => {
                self.choose(true);
                None
            }
            Action::PrevChoice => {
                self.choose(false);
                None
            }
            Action::Erase => {
                if let Some(p) = &mut self.prompt {
                    p.text.pop();
                    p.error = None;
                }
                None
            }
            other => {
                self.screen_action(other, snapshot);
                None
            }
        };
        self.clamp(snapshot);
        self.sent(command, snapshot)
    }

    /// Remembers a command on its way out, to confirm it on screen until the monitor answers.
    fn sent(&mut self, command: Option<UiCommand>, snapshot: &Snapshot) -> Option<UiCommand> {
        if let Some(command) = &command {
            self.asked = Some(asked_text(command));
            self.notice_seen = snapshot.notice.as_ref().map(|(_, n)| n.clone());
        }
        command
    }

    fn screen_action(&mut self, action: Action, snapshot: &Snapshot) {
        match action {
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
            Action::Open if self.selected_service(snapshot).is_some() => {
                self.view = View::Detail;
            }
            Action::Back => self.view = View::Main,
            Action::History => self.toggle_view(View::History),
            Action::Deliveries => self.toggle_view(View::Deliveries),
            Action::Sort => self.sort = self.sort.next(),
            Action::Group => self.group = self.group.next(),
            Action::KindFilter => self.event_kind = next_kind(snapshot, self.event_kind.as_deref()),
            Action::Filter => self.open(PromptKind::Filter, String::new()),
            Action::Mute => {
                if let Some(service) = self.selected_service(snapshot) {
                    let targets = mute_targets(service);
                    self.open(PromptKind::Mute { targets, at: 0 }, "1h".into());
                }
            }
            Action::Unmute => {
                if let Some(service) = self.selected_service(snapshot) {
                    let mut targets = mute_targets(service);
                    // Mutes in force come first.
                    targets.sort_by_key(|t| !snapshot.mutes.iter().any(|m| &m.target == t));
                    self.open(PromptKind::Unmute { targets, at: 0 }, String::new());
                }
            }
            Action::TestAlert => {
                let choices = snapshot.destinations.clone();
                if choices.is_empty() {
                    self.asked = Some("no destination is configured".into());
                } else {
                    self.open(PromptKind::TestAlert { choices, at: 0 }, String::new());
                }
            }
            Action::Enable => {
                let choices: Vec<String> = snapshot
                    .deliveries
                    .destinations
                    .iter()
                    .filter(|d| d.disabled.is_some())
                    .map(|d| d.name.clone())
                    .collect();
                if choices.is_empty() {
                    self.asked = Some("no destination is disabled".into());
                } else {
                    self.open(PromptKind::Enable { choices, at: 0 }, String::new());
                }
            }
            Action::Replay => {
                let dead = snapshot.deliveries.items.get(self.delivery);
                match dead {
                    Some(d) if d.state == "dead" => {
                        let question = format!(
                            "replay dead letter {} ({} to {})? y/n",
                            d.id, d.event_type, d.destination
                        );
                        let command = UiCommand::RetryDead { id: Some(d.id) };
                        self.open(PromptKind::Confirm { question, command }, String::new());
                    }
                    _ => self.asked = Some("select a dead letter to replay".into()),
                }
            }
            Action::ReplayAll => {
                let question = format!("replay all {} dead letters? y/n", snapshot.deliveries.dead);
                let command = UiCommand::RetryDead { id: None };
                self.open(PromptKind::Confirm { question, command }, String::new());
            }
            Action::Reload => {
                let question = "reload the config file now? y/n".to_string();
                let command = UiCommand::Reload;
                self.open(PromptKind::Confirm { question, command }, String::new());
            }
            _ => {}
        }
    }

    fn toggle_view(&mut self, view: View) {
        self.view = if self.view == view { View::Main } else { view };
    }

    fn open(&mut self, kind: PromptKind, text: String) {
        self.prompt = Some(Prompt {
            kind,
            text,
            error: None,
        });
    }

    /// The filter the prompt edits: the history's in the history, the services' elsewhere.
    fn filter_mut(&mut self) -> &mut String {
        if self.view == View::History {
            &mut self.event_filter
        } else {
            &mut self.service_filter
        }
    }

    /// A character typed into the open prompt; `y` in a confirmation carries it out.
    fn type_char(&mut self, key: KeyEvent, snapshot: &Snapshot) -> Option<UiCommand> {
        let KeyCode::Char(c) = key.code else {
            return None;
        };
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        let prompt = self.prompt.as_mut()?;
        match &prompt.kind {
            PromptKind::Confirm { .. } => {
                if c == 'y' || c == 'Y' {
                    return self.submit(snapshot);
                } else if c == 'n' || c == 'N' {
                    self.prompt = None;
                }
            }
            PromptKind::Filter => {
                prompt.text.push(c);
                let text = prompt.text.clone();
                *self.filter_mut() = text;
                self.selected = 0;
                self.events_back = 0;
                self.clamp(snapshot);
            }
            _ => {
                prompt.text.push(c);
                prompt.error = None;
            }
        }
        None
    }

    fn choose(&mut self, forward: bool) {
        let Some(prompt) = &mut self.prompt else {
            return;
        };
        let (len, at) = match &mut prompt.kind {
            PromptKind::Mute { targets, at } | PromptKind::Unmute { targets, at } => {
                (targets.len(), at)
            }
            PromptKind::TestAlert { choices, at } | PromptKind::Enable { choices, at } => {
                (choices.len(), at)
            }
            _ => return,
        };
        if len > 0 {
            *at = if forward {
                (*at + 1) % len
            } else {
                (*at + len - 1) % len
            };
        }
    }

    /// Carries out the open prompt; a refused value keeps it open with the reason.
    fn submit(&mut self, _snapshot: &Snapshot) -> Option<UiCommand> {
        let prompt = self.prompt.take()?;
        let command = match &prompt.kind {
            PromptKind::Filter => None,
            PromptKind::Mute { targets, at } => {
                match crate::config::parse_duration(prompt.text.trim()) {
                    Ok(duration) if !duration.is_zero() => Some(UiCommand::Mute {
                        target: targets[*at].clone(),
                        duration,
                    }),
                    _ => {
                        self.prompt = Some(Prompt {
                            error: Some("a duration such as 30m, 2h or 1d".into()),
                            ..prompt
                        });
                        return None;
                    }
                }
            }
            PromptKind::Unmute { targets, at } => Some(UiCommand::Unmute {
                target: targets[*at].clone(),
            }),
            PromptKind::TestAlert { choices, at } => Some(UiCommand::TestAlert {
                destination: choices[*at].clone(),
            }),
            PromptKind::Enable { choices, at } => Some(UiCommand::EnableDestination {
                name: choices[*at].clone(),
            }),
            PromptKind::Confirm { command, .. } => Some(command.clone()),
        };
        command
    }

    /// The passing message the hint line shows: what was just asked, until the monitor's
    /// notice answers, then the notice.
    pub fn notice<'a>(&'a self, snapshot: &'a Snapshot) -> Option<String> {
        match (&self.asked, &snapshot.notice) {
            (Some(asked), _) => Some(asked.clone()),
            (None, Some((at, text))) => Some(format!("{} {text}", super::render::clock(*at))),
            (None, None) => None,
        }
    }

    /// Takes a new snapshot into account: the selection follows its row if the row still
    /// exists (rows above it may have come or gone), and every position is kept in range.
    pub fn on_snapshot(&mut self, snapshot: &Snapshot) {
        let visible = self.visible(snapshot);
        let found = self.selected_row.as_ref().and_then(|key| {
            visible
                .iter()
                .position(|&i| RowKey::of(&snapshot.services[i]) == *key)
        });
        if let Some(index) = found {
            self.selected = index;
        }
        let notice = snapshot.notice.as_ref().map(|(_, n)| n.clone());
        if self.asked.is_some() && notice.is_some() && notice != self.notice_seen {
            self.asked = None;
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
        let visible = self.visible(snapshot);
        self.selected = self.selected.min(visible.len().saturating_sub(1));
        self.selected_row = visible
            .get(self.selected)
            .map(|&i| RowKey::of(&snapshot.services[i]));
        if self.view == View::Detail && self.selected_row.is_none() {
            self.view = View::Main;
        }
        // Scrolling back stops when the oldest event reaches the top of the pane.
        let events = if self.view == View::History {
            self.history(snapshot).len()
        } else {
            snapshot.events.len()
        };
        self.events_back = self
            .events_back
            .min(events.saturating_sub(self.events_rows));
        self.extra_back = self
            .extra_back
            .min(self.extra_len.saturating_sub(self.extra_rows));
        self.deliveries_top = self
            .deliveries_top
            .min(snapshot.deliveries.destinations.len().saturating_sub(1));
        self.delivery = self
            .delivery
            .min(snapshot.deliveries.items.len().saturating_sub(1));
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

    /// What moves in the current view: the focused pane on the main screen.
    fn target(&self) -> Pane {
        match self.view {
            View::Main => self.focus,
            View::Detail => Pane::Services,
            View::History => Pane::Events,
            View::Deliveries => Pane::Deliveries,
        }
    }

    /// Moves the focused list's position by one row.
    fn step(&mut self, down: bool) {
        let toward = |v: usize, grow: bool| {
            if grow {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            }
        };
        match self.target() {
            Pane::Services => self.selected = toward(self.selected, down),
            Pane::Deliveries if self.view == View::Deliveries => {
                self.delivery = toward(self.delivery, down)
            }
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
        let end = if top { 0 } else { far };
        match self.target() {
            Pane::Services => self.selected = end,
            Pane::Deliveries if self.view == View::Deliveries => self.delivery = end,
            Pane::Deliveries => self.deliveries_top = end,
            Pane::Events => self.events_back = far - end,
            Pane::Extra => self.extra_back = far - end,
        }
    }
}

/// Whether a service's panel, name, provider, id or state contains `needle` (lowercase).
fn matches_filter(service: &ServiceView, needle: &str) -> bool {
    let provider = service.provider.as_deref().unwrap_or("");
    [
        service.panel.as_str(),
        service.name.as_str(),
        provider,
        service.status.label(),
        service.rule.as_str(),
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(needle))
        || service.service.0.to_string() == needle
}

fn severity(status: AlertStatus) -> u8 {
    match status {
        AlertStatus::Firing => 0,
        AlertStatus::Pending => 1,
        AlertStatus::NoData => 2,
        AlertStatus::Ok => 3,
    }
}

/// Orders two services by `sort`; ties keep the engine's order (the sort is stable).
fn compare(sort: Sort, a: &ServiceView, b: &ServiceView) -> Ordering {
    match sort {
        Sort::Panel => Ordering::Equal,
        Sort::State => severity(a.status).cmp(&severity(b.status)),
        Sort::Rate => {
            let rate = |s: &ServiceView| s.success_rate.unwrap_or(f64::INFINITY);
            rate(a).total_cmp(&rate(b))
        }
        Sort::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
    }
}

/// What a mute can be about, for a service: itself, its provider (when known), its panel.
pub fn mute_targets(service: &ServiceView) -> Vec<String> {
    let mut out = vec![format!("{}/{}", service.panel, service.service.0)];
    if let Some(provider) = &service.provider {
        out.push(format!("{}/provider:{provider}", service.panel));
    }
    out.push(service.panel.clone());
    out
}

/// The next event type to show after `current`: all, then each type present, in order.
fn next_kind(snapshot: &Snapshot, current: Option<&str>) -> Option<String> {
    let mut kinds: Vec<&str> = snapshot
        .events
        .iter()
        .filter_map(|e| e.kind.split('.').next())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let next = match current {
        None => kinds.first(),
        Some(k) => kinds.iter().skip_while(|x| **x != k).nth(1),
    };
    next.map(|k| k.to_string())
}

/// The confirmation shown while the monitor carries out a command.
fn asked_text(command: &UiCommand) -> String {
    match command {
        UiCommand::Quit => "quitting".into(),
        UiCommand::Mute { target, duration } => format!(
            "asked: mute {target} for {}",
            crate::config::format_duration(*duration)
        ),
        UiCommand::Unmute { target } => format!("asked: unmute {target}"),
        UiCommand::TestAlert { destination } => format!("asked: test alert to {destination}"),
        UiCommand::RetryDead { id: Some(id) } => format!("asked: replay dead letter {id}"),
        UiCommand::RetryDead { id: None } => "asked: replay every dead letter".into(),
        UiCommand::EnableDestination { name } => format!("asked: enable {name}"),
        UiCommand::Reload => "asked: reload the config".into(),
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyModifiers};

    use super::*;
    use crate::tui::fixture;
    use crate::tui::keys::Mode;

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

    #[test]
    fn mute_asks_a_duration_and_a_target_then_sends_the_command() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Char('m'));
        assert_eq!(app.mode(), Mode::Prompt);
        press(&mut app, &snap, KeyCode::Backspace);
        press(&mut app, &snap, KeyCode::Backspace);
        press(&mut app, &snap, KeyCode::Char('x'));
        assert_eq!(press(&mut app, &snap, KeyCode::Enter), None);
        assert!(app.prompt.as_ref().unwrap().error.is_some(), "x is refused");
        press(&mut app, &snap, KeyCode::Backspace);
        for c in "30m".chars() {
            press(&mut app, &snap, KeyCode::Char(c));
        }
        press(&mut app, &snap, KeyCode::Tab);
        let sent = press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(
            sent,
            Some(UiCommand::Mute {
                target: "main/provider:smmking".into(),
                duration: std::time::Duration::from_secs(1800),
            })
        );
        assert_eq!(
            app.asked.as_deref(),
            Some("asked: mute main/provider:smmking for 30m")
        );
        assert!(app.prompt.is_none());
    }

    #[test]
    fn q_typed_in_a_filter_filters_and_does_not_quit() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Char('/'));
        for c in "tiktok".chars() {
            assert_eq!(press(&mut app, &snap, KeyCode::Char(c)), None);
        }
        assert_eq!(app.visible(&snap).len(), 1);
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(app.service_filter, "tiktok");
        press(&mut app, &snap, KeyCode::Enter);
        assert_eq!(app.view, View::Detail);
        assert_eq!(app.selected_service(&snap).unwrap().service.0, 21);
        press(&mut app, &snap, KeyCode::Esc);
        assert_eq!(app.view, View::Main);
    }

    #[test]
    fn sorting_by_state_puts_firing_first_and_replay_all_asks_first() {
        let snap = fixture::snapshot();
        let mut app = AppState::new(false);
        press(&mut app, &snap, KeyCode::Char('s'));
        let first = &snap.services[app.visible(&snap)[0]];
        assert_eq!(first.status, AlertStatus::Firing);

        press(&mut app, &snap, KeyCode::Char('d'));
        assert_eq!(press(&mut app, &snap, KeyCode::Char('R')), None);
        assert_eq!(
            press(&mut app, &snap, KeyCode::Char('y')),
            Some(UiCommand::RetryDead { id: None })
        );
    }
}
