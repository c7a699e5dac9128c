//! One line per service outcome on stdout, OpenRC style
//! (` * Starting nginx ...  [ ok ]`), coloured on a terminal, plain
//! otherwise. Writes never block the loop for long: stdout is a console
//! or a file; a failed write drops the line (output.rs).

use std::io::IsTerminal;

pub struct Console {
    tty: bool,
    width: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Failed,
}

impl Console {
    pub fn new() -> Console {
        let tty = std::io::stdout().is_terminal();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|&w: &usize| (40..=500).contains(&w))
            .unwrap_or(80);
        Console { tty, width }
    }

    /// ` * Starting nginx ... [ ok ]`, with an optional reason after a failure.
    pub fn line(&self, verb: &str, name: &str, verdict: Verdict, reason: Option<&str>) {
        let text = format!("{verb} {name} ...");
        let mark = match verdict {
            Verdict::Ok => "ok",
            Verdict::Failed => "!!",
        };
        // boot.log gets the plain line, the terminal the coloured one.
        let mut plain = format!(" * {text} [ {mark} ]\n");
        if let (Verdict::Failed, Some(r)) = (verdict, reason) {
            plain.push_str(&format!("   {name}: {r}\n"));
        }
        if !self.tty {
            crate::output::write_lines(crate::output::Stream::Stdout, plain.as_bytes());
            return;
        }
        let (star, colour) = match verdict {
            Verdict::Ok => ("\x1b[1;32m*\x1b[0m", "\x1b[1;32m"),
            Verdict::Failed => ("\x1b[1;31m*\x1b[0m", "\x1b[1;31m"),
        };
        let pad = self.width.saturating_sub(text.len() + 3 + 7).max(1);
        let mut out = format!(
            " {star} {text}{:pad$}\x1b[1;34m[\x1b[0m {colour}{mark}\x1b[0m \x1b[1;34m]\x1b[0m\n",
            ""
        );
        if let (Verdict::Failed, Some(r)) = (verdict, reason) {
            out.push_str(&format!("   {name}: {r}\n"));
        }
        crate::output::write_split(
            crate::output::Stream::Stdout,
            out.as_bytes(),
            plain.as_bytes(),
        );
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}
