//! `svcctl generate man|completions DIR`: svcctl's man page and shell
//! completions, made from the same clap definition as its parser so that
//! they cannot drift from it. `make man` and `make install` run it; it is
//! hidden from help and the man page because users have no need for it.

use clap::{Command, CommandFactory, ValueEnum};
use clap_complete::Shell;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::Cli;

/// What `svcctl generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Artifact {
    /// DIR/svcctl.8
    Man,
    /// DIR/svcctl.bash, DIR/_svcctl (zsh), DIR/svcctl.fish
    Completions,
}

/// Writes `what` into `dir` (created if missing) and prints each file's path.
pub fn run(what: Artifact, dir: &Path) -> crate::Status {
    let written = fs::create_dir_all(dir).and_then(|()| match what {
        Artifact::Man => write_man(dir).map(|p| vec![p]),
        Artifact::Completions => write_completions(dir),
    });
    match written {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            crate::Status::Success
        }
        Err(e) => {
            crate::complain(format_args!("generate {what:?} in {}: {e}", dir.display()));
            crate::Status::Failure
        }
    }
}

fn write_completions(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (shell, file) in [
        (Shell::Bash, "svcctl.bash"),
        (Shell::Zsh, "_svcctl"),
        (Shell::Fish, "svcctl.fish"),
    ] {
        let path = dir.join(file);
        let mut out = io::BufWriter::new(fs::File::create(&path)?);
        clap_complete::generate(shell, &mut Cli::command(), "svcctl", &mut out);
        out.flush()?;
        paths.push(path);
    }
    Ok(paths)
}

fn write_man(dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join("svcctl.8");
    let mut out = io::BufWriter::new(fs::File::create(&path)?);
    render_man(&mut out)?;
    out.flush()?;
    Ok(path)
}

/// The page: clap_mangen's title, name, synopsis, description and global
/// options, then sections clap_mangen has no notion of. Its own
/// subcommand section points at one page per subcommand; svcctl has one
/// page, so each command is described in place instead.
pub fn render_man(w: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("SVCCTL")
        .section("8")
        .manual("System Manager's Manual")
        .source(format!("svc {}", env!("CARGO_PKG_VERSION")));
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    render_commands(w, &cmd)?;
    w.write_all(MAN_TAIL.as_bytes())
}

fn render_commands(w: &mut dyn Write, cmd: &Command) -> io::Result<()> {
    let global: Vec<&str> = cmd
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .chain(["help", "version"])
        .collect();
    writeln!(w, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let args: Vec<&clap::Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !global.contains(&a.get_id().as_str()))
            .collect();
        let mut synopsis = format!("\\fBsvcctl {}\\fR", escape(sub.get_name()));
        for a in &args {
            synopsis.push(' ');
            synopsis.push_str(&arg_synopsis(a, true));
        }
        writeln!(w, ".TP\n{synopsis}")?;
        let about = sub.get_long_about().or(sub.get_about());
        if let Some(about) = about {
            for (i, para) in about.to_string().split("\n\n").enumerate() {
                if i > 0 {
                    writeln!(w, ".IP")?;
                }
                writeln!(w, "{}", text_line(para))?;
            }
        }
        for a in &args {
            let help = a.get_long_help().or(a.get_help());
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_owned())
                .collect();
            if help.is_none() && values.is_empty() {
                continue;
            }
            writeln!(w, ".RS\n.TP\n{}", arg_synopsis(a, false))?;
            if let Some(help) = help {
                writeln!(w, "{}", text_line(&help.to_string()))?;
            }
            if !values.is_empty() {
                writeln!(w, "One of: {}.", escape(&values.join(", ")))?;
            }
            writeln!(w, ".RE")?;
        }
    }
    Ok(())
}

/// How one argument is written: in a command's synopsis (`in_synopsis`)
/// `[\fB-n\fR|\fB--lines\fR \fIN\fR]`, `\fINAMES\fR...`; as the
/// heading of its description `\fB-n\fR, \fB--lines\fR \fIN\fR`.
fn arg_synopsis(a: &clap::Arg, in_synopsis: bool) -> String {
    let value = || {
        let names = a.get_value_names().map(|n| n.join(" "));
        let name = names.unwrap_or_else(|| a.get_id().as_str().to_uppercase());
        format!("\\fI{}\\fR", escape(&name))
    };
    let many = matches!(a.get_action(), clap::ArgAction::Append);
    let required = a.is_required_set();
    let mut text = if a.is_positional() {
        value()
    } else {
        let mut flag = match (a.get_short(), a.get_long()) {
            (Some(s), Some(l)) => {
                let or = if in_synopsis { "|" } else { ", " };
                format!("\\fB\\-{s}\\fR{or}\\fB\\-\\-{}\\fR", escape(l))
            }
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", escape(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, None) => String::new(),
        };
        if a.get_num_args().is_some_and(|n| n.takes_values()) {
            flag.push(' ');
            flag.push_str(&value());
        }
        flag
    };
    if many && a.is_positional() {
        text.push_str("\\&...");
    }
    if required || !in_synopsis {
        text
    } else {
        format!("[{text}]")
    }
}

/// One paragraph as one roff text line (clap keeps the doc comment's line
/// breaks inside a paragraph; roff would fill them anyway).
fn text_line(para: &str) -> String {
    let joined = para.split_whitespace().collect::<Vec<_>>().join(" ");
    let escaped = escape(&joined);
    // A text line starting with `.` or `'` would be read as a request.
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Escapes roff's special characters in running text; `-` becomes the
/// minus sign so that options can be searched for and copied.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(c),
        }
    }
    out
}

/// The sections after the commands: written once here rather than derived,
/// since clap has no place for them. They follow docs/svcctl.md.
const MAN_TAIL: &str = r#".SH EXIT STATUS
.TP
.B 0
Success; for
.BR "status " \fINAME\fR...,
every service named is up (ready, running or finished).
.TP
.B 1
Failure: the manager cannot be reached or refused, a started service
failed,
.B rescan
or
.B check
found errors.
.TP
.B 2
Bad usage.
.TP
.B 3
.BR "status " \fINAME\fR...:
one named service is not up.
.TP
.B 4
A name is unknown to the manager.
.SH ENVIRONMENT
.TP
.B SVC_SOCKET
The manager's control socket, as
.BR \-\-socket .
.TP
.B SVC_SERVICES
Declaration directories for the offline commands, separated by
.BR : ,
as
.BR \-\-services .
.TP
.B SVC_ENABLED
The enablement directory for the offline commands, as
.BR \-\-enabled .
.TP
.B XDG_RUNTIME_DIR
With
.BR \-\-user ,
the socket is
.IR $XDG_RUNTIME_DIR/svc/sock ;
when it is not set,
.I /run/user/UID/svc/sock
or
.IR /run/user/NAME/svc/sock ,
whichever holds a socket, else whichever directory exists.
.SH FILES
.TP
.I /run/.svc\-sock
The system manager's control socket.
.TP
.I /etc/svc/services.d, /run/svc/services.d, /usr/lib/svc/services.d
Declaration directories of the system, the earliest winning for a name.
.TP
.I /etc/svc/enabled/TARGET/NAME
Enablement entries.
.TP
.I ~/.config/svc/services.d, ~/.config/svc/enabled
The same for
.BR \-\-user .
.SH EXAMPLES
.nf
svcctl status
svcctl start nginx
svcctl \-\-json status crond
svcctl enable \-\-now getty@ttyS0
svcctl check \-\-services /usr/lib/svc/services.d
svcctl graph default | dot \-Tsvg > graph.svg
.fi
.SH SEE ALSO
.BR svc\-init (8),
.BR svc\-manager (8),
.BR svc\-supervise (8),
.BR svc.ini (5)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_marks_minus_and_backslash() {
        assert_eq!(escape(r"--no-wait a\b"), r"\-\-no\-wait a\eb");
    }

    #[test]
    fn text_line_protects_a_leading_dot() {
        assert_eq!(
            text_line(".ini files\n  are  read"),
            r"\&.ini files are read"
        );
    }

    #[test]
    fn man_page_names_every_visible_command_and_option() {
        let mut page = Vec::new();
        render_man(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("\n.TH SVCCTL 8 "), "{}", &page[..120]);
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            let line = format!("\\fBsvcctl {}\\fR", escape(sub.get_name()));
            assert_eq!(page.contains(&line), !sub.is_hide_set(), "{line}");
        }
        for option in [
            r"\-\-no\-wait",
            r"\-\-init\-pid",
            r"\-\-offline",
            r"\-\-socket",
        ] {
            assert!(page.contains(option), "{option} missing");
        }
        assert!(!page.contains("svcctl generate"));
    }
}
