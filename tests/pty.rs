//! The real binary in a pseudo-terminal (through `script`): start the demo, move through the
//! services, open the detail view, mute a service, quit, and check the terminal was given
//! back (alternate screen left, cursor shown). Waits for screen contents with generous
//! deadlines; never sleeps and then asserts. The screen is drawn as diffs that skip unchanged
//! cells (spaces too), so every awaited text is a single word.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

struct Pty {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn start(args: &str) -> Pty {
        let bin = env!("CARGO_BIN_EXE_panelwatch");
        let inner = format!("stty cols 120 rows 40; exec {bin} {args}");
        let mut child = Command::new("script")
            .args(["-qfec", &inner, "/dev/null"])
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("`script` runs (util-linux)");
        let input = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            input,
            output,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the output written since `from` holds `needle`; returns where it starts
    /// (so that what the same frame drew after it is still looked at by the next wait).
    fn wait_for(&self, from: usize, needle: &str) -> usize {
        let start = Instant::now();
        loop {
            let bytes = self.output.lock().unwrap().clone();
            let tail = &bytes[from.min(bytes.len())..];
            let found = tail
                .windows(needle.len())
                .position(|w| w == needle.as_bytes());
            if let Some(at) = found {
                return from + at;
            }
            let seen = String::from_utf8_lossy(tail).into_owned();
            assert!(
                start.elapsed() < DEADLINE,
                "no {needle:?} on screen within {DEADLINE:?}; last output: {}",
                seen.chars()
                    .rev()
                    .take(2000)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }
}

#[test]
fn the_demo_starts_navigates_mutes_and_quits_leaving_the_terminal_restored() {
    let mut pty = Pty::start("demo --no-color");
    let at = pty.wait_for(0, "demo-panel/");
    pty.keys("j");
    pty.keys("k");
    pty.keys("\r");
    let at = pty.wait_for(at, "success-rate:");
    pty.keys("m");
    let at = pty.wait_for(at, "for:");
    pty.keys("\r");
    // The history view redraws the body, so the action's line arrives whole (the hint
    // line's notice is only patched where it differs).
    pty.keys("e");
    let at = pty.wait_for(at, "history");
    let at = pty.wait_for(at, "muted");
    pty.keys("e");
    pty.wait_for(at, "Services");
    pty.keys("q");

    let start = Instant::now();
    let status = loop {
        if let Some(status) = pty.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "the demo did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The reader thread may still be draining the last bytes.
    let start = Instant::now();
    while !pty.text().contains("\x1b[?1049l") && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = pty.text();
    let left = text
        .rfind("\x1b[?1049l")
        .expect("left the alternate screen");
    assert!(
        text[left..].contains("\x1b[?25h"),
        "the cursor is shown again"
    );
    assert!(!text.contains("\x1b[?1000h"), "mouse capture stays off");
}
