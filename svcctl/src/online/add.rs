//! `svcctl add NAME [--description TEXT] [--ready SPEC] [--force] -- CMD
//! ARGS…`: writes a minimal declaration, checks it with libsvc exactly as
//! the manager will read it, then asks a reachable manager to rescan.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::client::ClientError;
use super::{FAILURE, OK, Options, strings};

/// What to write.
pub struct Declaration<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub ready: Option<&'a str>,
    pub command: &'a [String],
}

/// Characters a word may hold and still be written bare: anything else
/// (blanks, quotes, `\`, `#`, `;`, `$`, non-ASCII …) is single-quoted.
fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
}

/// One word in the declaration's command syntax (libsvc `cmdline::split`):
/// bare when that is unambiguous, else in single quotes, where everything
/// is literal; a `'` itself is written `'\''` (close, escaped quote,
/// reopen), which the splitter joins into the same word.
pub fn quote_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_bare) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A value on one line of the file: no line breaks (a declaration has no
/// way to hold them) and no `\` at the end (that continues the line).
fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str, String> {
    if value.contains(['\n', '\r']) {
        return Err(format!("{what} cannot hold a line break"));
    }
    let value = value.trim();
    if value.ends_with('\\') {
        return Err(format!("{what} cannot end with '\\'"));
    }
    Ok(value)
}

/// The declaration's text, or why these words cannot make one.
pub fn text(d: &Declaration) -> Result<String, String> {
    match libsvc::names::classify(d.name)? {
        libsvc::names::NameKind::Plain => {}
        _ => {
            return Err(format!(
                "'{}': add writes plain services; write templates and their instances by hand",
                d.name
            ));
        }
    }
    if d.command.is_empty() {
        return Err("no command given (svcctl add NAME -- CMD ARGS…)".into());
    }
    let mut words = Vec::with_capacity(d.command.len());
    for (i, w) in d.command.iter().enumerate() {
        if w.contains(['\n', '\r']) {
            return Err(format!(
                "argument {} holds a line break, which a declaration cannot hold (use exec = /bin/sh -c …)",
                i + 1
            ));
        }
        words.push(quote_word(w));
    }
    let mut out = String::from("# Written by svcctl add.\n[service]\n");
    if let Some(desc) = d.description {
        let desc = one_line("--description", desc)?;
        if !desc.is_empty() {
            out.push_str(&format!("description = {desc}\n"));
        }
    }
    out.push_str(&format!("exec = {}\n", words.join(" ")));
    if let Some(ready) = d.ready {
        out.push_str(&format!("ready = {}\n", one_line("--ready", ready)?));
    }
    Ok(out)
}

/// Parses `text` as the manager would read `file`; errors as `file:line:
/// message` lines. Also checks that the command reads back as given.
pub fn validate(d: &Declaration, file: &Path, text: &str) -> Result<(), String> {
    let (decl, diags) = libsvc::decl::parse(d.name, file, text.as_bytes(), None);
    let errors: Vec<String> = diags
        .iter()
        .filter(|x| x.is_error())
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let argv = decl
        .as_ref()
        .and_then(|d| d.service())
        .map(|s| s.exec.to_vec());
    if argv.as_deref() != Some(d.command) {
        return Err(format!(
            "{}: the command would not read back as given",
            file.display()
        ));
    }
    Ok(())
}

/// What would keep the declaration from running on this host: a program
/// (of `exec` or a `check` readiness) that does not exist or is not
/// executable, or a bare name not on `search_path`. `check` only warns
/// about these, since packages are checked on build machines; `add`
/// writes for this host, where such a service could only fail to start.
pub fn host_problems(d: &Declaration, search_path: Option<&std::ffi::OsStr>) -> Result<(), String> {
    let body = text(d)?;
    let file = PathBuf::from(format!("{}.ini", d.name));
    let (decl, _) = libsvc::decl::parse(d.name, &file, body.as_bytes(), None);
    let Some(decl) = decl else {
        return Ok(());
    };
    let problems: Vec<String> = libsvc::host::host_warnings(&decl, search_path)
        .into_iter()
        .map(|w| w.message)
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: {} (give the program's full path, or write the declaration by hand)",
        d.name,
        problems.join("; ")
    ))
}

/// The first declaration directory: `--services`/`SVC_SERVICES` when
/// given, else the user's (`$XDG_CONFIG_HOME/svc/services.d`) or the
/// system's (`/etc/svc/services.d`). `var` reads the environment.
pub fn services_dir(
    user: bool,
    services: &[PathBuf],
    var: impl Fn(&str) -> Option<PathBuf>,
) -> Result<PathBuf, String> {
    if let Some(first) = services.first() {
        return Ok(first.clone());
    }
    if user {
        libsvc::load::Layout::user(var)
            .map_err(|e| e.to_string())
            .and_then(|l| {
                l.services
                    .into_iter()
                    .next()
                    .ok_or_else(|| "no user services directory".to_string())
            })
    } else {
        Ok(libsvc::Paths::system().services.remove(0))
    }
}

/// Writes `NAME.ini` into `dir` (made if missing) after validating it.
/// Without `force` an existing file is left alone; with it the file is
/// replaced in one rename, so a manager never reads half of it.
pub fn write(dir: &Path, d: &Declaration, force: bool) -> Result<PathBuf, String> {
    let body = text(d)?;
    let file = dir.join(format!("{}.ini", d.name));
    validate(d, &file, &body)?;
    crate::declfile::write(&file, &body, force).map_err(|e| match e {
        crate::declfile::WriteError::Exists => {
            format!("{} exists; use --force to replace it", file.display())
        }
        crate::declfile::WriteError::Io(e) => format!("{}: {e}", file.display()),
    })?;
    Ok(file)
}

/// `svcctl add`: write, then rescan if a manager answers.
pub fn add(opts: &Options, services: &[PathBuf], d: &Declaration, force: bool) -> u8 {
    let env = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let search_path = std::env::var_os("PATH");
    let file = match host_problems(d, search_path.as_deref())
        .and_then(|()| services_dir(opts.user, services, env))
        .and_then(|dir| write(&dir, d, force))
    {
        Ok(f) => f,
        Err(e) => {
            for line in e.lines() {
                eprintln!("svcctl: {line}");
            }
            return FAILURE;
        }
    };
    let mut unreachable = None;
    let (rescanned, errors) = match opts.client() {
        Ok(mut c) => {
            let req = c.request("rescan");
            match c.call(req, opts.reply_timeout()) {
                Ok(reply) => (true, strings(&reply, libsvc::proto::key::ERRORS)),
                Err(e) => {
                    eprintln!(
                        "svcctl: wrote {} but the rescan failed: {e}",
                        file.display()
                    );
                    return match e {
                        ClientError::TimedOut { .. } => super::NO_REPLY,
                        _ => FAILURE,
                    };
                }
            }
        }
        Err(ClientError::Unreachable(why)) => {
            unreachable = Some(why);
            (false, Vec::new())
        }
        Err(e) => {
            eprintln!("svcctl: wrote {} but the manager: {e}", file.display());
            return FAILURE;
        }
    };
    if opts.json {
        println!(
            "{}",
            json!({ "ok": true, "file": file.to_string_lossy(), "rescanned": rescanned, "errors": errors })
        );
    } else {
        println!("{}: wrote {}", d.name, file.display());
        if rescanned {
            println!("{}: the manager knows it now (svcctl start {0})", d.name);
        } else if let Some(why) = unreachable {
            // `why` names the socket tried and why it did not answer.
            println!(
                "{}: not rescanned: {why}\n{0}: a manager reads the file when it starts or rescans",
                d.name
            );
        }
        for e in &errors {
            eprintln!("svcctl: {e}");
        }
    }
    OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("svcctl-add-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// Loads `dir` as the manager does and returns NAME's argv.
    fn read_back(dir: &Path, name: &str) -> Vec<String> {
        let set = libsvc::load::ServiceSet::load(&libsvc::load::Layout {
            services: vec![dir.to_path_buf()],
            enabled: None,
        });
        assert!(!set.has_errors(), "{:?}", set.diagnostics);
        set.declarations[name].service().unwrap().exec.to_vec()
    }

    #[test]
    fn words_round_trip_through_the_splitter() {
        let cases = [
            "plain",
            "with space",
            "",
            "it's",
            "'",
            "\"double\"",
            "back\\slash",
            "trailing\\",
            "$HOME `cmd` ; # & | > <",
            "tab\there",
            "ünïcode ☃",
            "%i %% 100%",
            "''''",
            "a'b\"c\\d e",
        ];
        for w in cases {
            let q = quote_word(w);
            assert_eq!(
                libsvc::cmdline::split(&q).unwrap(),
                vec![w.to_owned()],
                "{w:?} quoted as {q}"
            );
        }
        assert_eq!(quote_word("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(quote_word("a b"), "'a b'");
    }

    #[test]
    fn written_file_parses_back_to_the_same_argv() {
        let dir = scratch("roundtrip");
        let _c = Cleanup(dir.clone());
        let command = argv(&[
            "/bin/sh",
            "-c",
            "echo \"hello world\" 'single' it's \\ done",
            "",
            "two  spaces",
            "#not a comment",
            "semi;colon",
        ]);
        let d = Declaration {
            name: "web",
            description: Some("  a web server  "),
            ready: Some("check /usr/bin/curl -fsS 'http://127.0.0.1/a b'"),
            command: &command,
        };
        let file = write(&dir, &d, false).unwrap();
        assert_eq!(file, dir.join("web.ini"));
        assert_eq!(read_back(&dir, "web"), command);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("description = a web server\n"), "{text}");
        let set = libsvc::load::ServiceSet::load(&libsvc::load::Layout {
            services: vec![dir.clone()],
            enabled: None,
        });
        let web = &set.declarations["web"];
        assert_eq!(web.description.as_deref(), Some("a web server"));
        match &web.service().unwrap().ready {
            libsvc::Ready::Check(c) => {
                assert_eq!(
                    c.to_vec(),
                    ["/usr/bin/curl", "-fsS", "http://127.0.0.1/a b"]
                )
            }
            other => panic!("ready: {other:?}"),
        }
    }

    #[test]
    fn existing_file_needs_force() {
        let dir = scratch("force");
        let _c = Cleanup(dir.clone());
        let first = argv(&["/bin/sleep", "1"]);
        let second = argv(&["/bin/sleep", "2 3"]);
        let d = |command| Declaration {
            name: "s",
            description: None,
            ready: None,
            command,
        };
        write(&dir, &d(&first), false).unwrap();
        let e = write(&dir, &d(&second), false).unwrap_err();
        assert!(e.contains("exists; use --force"), "{e}");
        assert_eq!(read_back(&dir, "s"), first);
        write(&dir, &d(&second), true).unwrap();
        assert_eq!(read_back(&dir, "s"), second);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["s.ini"], "no temporary file left");
    }

    #[test]
    fn bad_names_and_values_are_refused_before_writing() {
        let dir = scratch("refuse");
        let _c = Cleanup(dir.clone());
        let cmd = argv(&["/bin/true"]);
        let mk = |name, description, ready, command| Declaration {
            name,
            description,
            ready,
            command,
        };
        for (d, why) in [
            (mk("a b", None, None, &cmd[..]), "not a valid name"),
            (mk("../x", None, None, &cmd[..]), "not a valid name"),
            (mk("", None, None, &cmd[..]), "cannot be empty"),
            (mk("getty@", None, None, &cmd[..]), "templates"),
            (mk("ok", Some("two\nlines"), None, &cmd[..]), "line break"),
            (mk("ok", Some("ends\\"), None, &cmd[..]), "cannot end with"),
            (mk("ok", None, Some("whenever"), &cmd[..]), "ready"),
            (mk("ok", None, None, &[]), "no command"),
        ] {
            let e = write(&dir, &d, false).unwrap_err();
            assert!(e.contains(why), "{}: {e}", d.name);
        }
        let nl = argv(&["/bin/echo", "a\nb"]);
        let e = write(&dir, &mk("ok", None, None, &nl), false).unwrap_err();
        assert!(e.contains("line break"), "{e}");
        assert!(!dir.join("ok.ini").exists());
    }

    #[test]
    fn programs_missing_on_this_host_are_refused() {
        let dir = scratch("host");
        let _c = Cleanup(dir.clone());
        std::fs::create_dir_all(&dir).unwrap();
        let tool = dir.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let search = Some(dir.as_os_str());
        let check = |command: &[&str], ready: Option<&str>| {
            let command = argv(command);
            host_problems(
                &Declaration {
                    name: "x",
                    description: None,
                    ready,
                    command: &command,
                },
                search,
            )
        };
        let e = check(&["/nonexistent/prog", "a"], None).unwrap_err();
        assert!(e.contains("'/nonexistent/prog' does not exist"), "{e}");
        let e = check(&["tool"], None).unwrap_err();
        assert!(e.contains("'tool' is not found on PATH"), "{e}");
        let e = check(&[tool.to_str().unwrap()], None).unwrap_err();
        assert!(e.contains("is not an executable file"), "{e}");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        check(&["tool", "--flag"], None).unwrap();
        check(&[tool.to_str().unwrap()], None).unwrap();
        let e = check(&["tool"], Some("check /nonexistent/probe")).unwrap_err();
        assert!(e.contains("'/nonexistent/probe' does not exist"), "{e}");
    }

    #[test]
    fn services_flag_wins_over_the_mode() {
        let given = vec![PathBuf::from("/x/one"), PathBuf::from("/x/two")];
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| PathBuf::from(v))
            }
        };
        let nothing = env(&[]);
        assert_eq!(services_dir(true, &given, nothing).unwrap(), given[0]);
        assert_eq!(
            services_dir(false, &[], nothing).unwrap(),
            PathBuf::from("/etc/svc/services.d")
        );
        assert_eq!(
            services_dir(true, &[], env(&[("HOME", "/home/u")])).unwrap(),
            PathBuf::from("/home/u/.config/svc/services.d")
        );
        assert_eq!(
            services_dir(
                true,
                &[],
                env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/cfg")])
            )
            .unwrap(),
            PathBuf::from("/cfg/svc/services.d")
        );
        assert!(services_dir(true, &[], nothing).is_err());
    }
}
