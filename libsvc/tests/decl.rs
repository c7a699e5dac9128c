//! The declaration parser: every key typed, every default, every error
//! with file:line, all errors at once.

mod common;

use common::TempDir;
use libsvc::decl::{parse, read_file};
use libsvc::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn ok(text: &str) -> Declaration {
    let (d, diags) = parse("x", Path::new("x.ini"), text.as_bytes(), None);
    assert!(diags.is_empty(), "{diags:#?}");
    d.unwrap()
}

fn errors(name: &str, text: &str, instance: Option<&str>) -> Vec<String> {
    let (d, diags) = parse(
        name,
        Path::new(&format!("{name}.ini")),
        text.as_bytes(),
        instance,
    );
    assert!(d.is_none(), "expected errors");
    diags.iter().map(|d| d.to_string()).collect()
}

#[test]
fn defaults() {
    let d = ok("[service]\nexec = /bin/true\n");
    let s = d.service().unwrap();
    assert_eq!(s.exec.to_vec(), ["/bin/true"]);
    assert_eq!(s.service_type, ServiceType::Simple);
    assert_eq!(s.ready, Ready::Started);
    assert_eq!(s.ready_timeout, Duration::from_secs(60));
    assert_eq!(s.restart, Restart::Always);
    assert_eq!(s.restart_delay, Duration::from_millis(100));
    assert_eq!(s.restart_delay_max, Duration::from_secs(30));
    assert_eq!(s.restart_reset, Duration::from_secs(10));
    assert_eq!(s.restart_limit, 0);
    assert_eq!(s.stop_signal, 15);
    assert_eq!(s.stop_timeout, Duration::from_secs(10));
    assert_eq!(s.reload_signal, 1);
    assert_eq!(s.rare().user, None);
    assert_eq!(s.rare().working_directory, PathBuf::from("/"));
    assert_eq!(s.rare().root_directory, PathBuf::from("/"));
    assert_eq!(s.umask, 0o022);
    assert!(s.clear_environment);
    assert!(!s.rare().no_new_privileges);
    assert!(s.rare().limits.is_empty());
    assert_eq!(s.rare().nice, None);
    assert_eq!(s.logging, Logging::default());
    assert_eq!(s.logging.max_size, 1 << 20);
    assert_eq!(s.logging.max_files, 10);
    assert_eq!(s.logging.output, Output::File);
    assert!(s.logging.timestamps);
    let oneshot = ok("[service]\nexec = /bin/true\ntype = oneshot\n");
    assert_eq!(oneshot.service().unwrap().restart, Restart::Never);
}

/// A rare key written with its default value, or set and cleared again,
/// is the same declaration as one that leaves it out: the manager tells
/// a changed declaration by its hash.
#[test]
fn rare_keys_at_their_defaults_change_nothing() {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let hash = |s: &Service| {
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    };
    let plain = ok("[service]\nexec = /bin/true\n");
    let plain = plain.service().unwrap();
    for text in [
        "[service]\nexec = /bin/true\nworking-directory = /\n",
        "[service]\nexec = /bin/true\nexec-pre =\n",
    ] {
        let d = ok(text);
        let s = d.service().unwrap();
        assert_eq!(s, plain, "{text}");
        assert_eq!(hash(s), hash(plain), "{text}");
    }
    let mut built = plain.clone();
    built.rare_mut().nice = None;
    assert_eq!(&built, plain);
    assert_eq!(hash(&built), hash(plain));
    built.rare_mut().nice = Some(1);
    assert_ne!(&built, plain);
}

#[test]
fn every_key_typed() {
    let d = ok(r#"
# the documented example and then some
[service]
description = nginx web server
exec = /usr/sbin/nginx -g "daemon off;"
type = forking
pidfile = /run/nginx.pid
exec-pre = /bin/mkdir -p /var/cache/nginx
exec-pre = /usr/sbin/nginx -t
exec-stop = /usr/sbin/nginx -s quit
ready = check /usr/bin/curl -fsS http://127.0.0.1/
ready-timeout = 250ms
restart = on-failure
restart-delay = 1s
restart-delay-max = 5m
restart-reset = 1h
restart-limit = 5
stop-signal = SIGQUIT
stop-timeout = 15s
reload-signal = 10
user = nginx
group = 33
supplementary-groups = adm www-data
working-directory = /srv
root-directory = /
umask = 0077
environment-file = /etc/default/nginx -/etc/nginx.env
clear-environment = no
runtime-directory = nginx nginx/cache
limit-nofile = 1024:4096
limit-core = infinity
limit-memlock = 64K:1M
limit-cpu = 1h
nice = -5
no-new-privileges = yes

[dependencies]
requires = syslog
wants = a b
wants = c
after = networking
before = z
provides = www
conflicts = apache
wanted-by = default

[environment]
LANG = C.UTF-8
Mixed_Case = a = b # kept

[logging]
output = syslog
max-size = 4M
max-files = 5
timestamps = off
"#);
    assert_eq!(d.description.as_deref(), Some("nginx web server"));
    let s = d.service().unwrap();
    assert_eq!(s.exec.to_vec(), ["/usr/sbin/nginx", "-g", "daemon off;"]);
    assert_eq!(s.service_type, ServiceType::Forking);
    assert_eq!(s.rare().pidfile, Some(PathBuf::from("/run/nginx.pid")));
    assert_eq!(s.rare().exec_pre.len(), 2);
    assert_eq!(s.rare().exec_pre[1].to_vec(), ["/usr/sbin/nginx", "-t"]);
    assert_eq!(
        s.rare().exec_stop.as_ref().unwrap().program(),
        "/usr/sbin/nginx"
    );
    match &s.ready {
        Ready::Check(c) => assert_eq!(c.to_vec(), ["/usr/bin/curl", "-fsS", "http://127.0.0.1/"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.ready_timeout, Duration::from_millis(250));
    assert_eq!(s.restart, Restart::OnFailure);
    assert_eq!(s.restart_delay, Duration::from_secs(1));
    assert_eq!(s.restart_delay_max, Duration::from_secs(300));
    assert_eq!(s.restart_reset, Duration::from_secs(3600));
    assert_eq!(s.restart_limit, 5);
    assert_eq!(s.stop_signal, 3);
    assert_eq!(s.reload_signal, 10);
    assert_eq!(s.stop_timeout, Duration::from_secs(15));
    assert_eq!(s.rare().user, Some(Account::Name("nginx".into())));
    assert_eq!(s.rare().group, Some(Account::Id(33)));
    assert_eq!(
        s.rare().supplementary_groups,
        vec![
            Account::Name("adm".into()),
            Account::Name("www-data".into())
        ]
    );
    assert_eq!(s.rare().working_directory, PathBuf::from("/srv"));
    assert_eq!(s.umask, 0o077);
    assert_eq!(
        s.rare().environment_files,
        vec![
            EnvFile {
                path: "/etc/default/nginx".into(),
                optional: false
            },
            EnvFile {
                path: "/etc/nginx.env".into(),
                optional: true
            },
        ]
    );
    assert!(!s.clear_environment);
    assert_eq!(
        s.rare().runtime_directories,
        vec![PathBuf::from("nginx"), PathBuf::from("nginx/cache")]
    );
    let lim = |r| s.rare().limits.get(r).unwrap();
    assert_eq!(
        lim(Resource::Nofile),
        Rlimit {
            soft: LimitValue::Value(1024),
            hard: LimitValue::Value(4096)
        }
    );
    assert_eq!(
        lim(Resource::Core),
        Rlimit {
            soft: LimitValue::Infinity,
            hard: LimitValue::Infinity
        }
    );
    assert_eq!(lim(Resource::Memlock).hard, LimitValue::Value(1 << 20));
    assert_eq!(lim(Resource::Cpu).soft, LimitValue::Value(3600));
    assert_eq!(s.rare().limits.iter().count(), 4);
    assert_eq!(Resource::Nofile.raw(), 7);
    assert_eq!(s.rare().nice, Some(-5));
    assert!(s.rare().no_new_privileges);
    assert_eq!(
        s.rare().environment,
        vec![
            ("LANG".into(), "C.UTF-8".into()),
            ("Mixed_Case".into(), "a = b # kept".into())
        ]
    );
    assert_eq!(s.logging.output, Output::Syslog);
    assert_eq!(s.logging.max_size, 4 << 20);
    assert_eq!(s.logging.max_files, 5);
    assert!(!s.logging.timestamps);
    assert_eq!(d.deps.get(libsvc::model::DepKind::Requires), ["syslog"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::Wants), ["a", "b", "c"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::After), ["networking"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::Before), ["z"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::Provides), ["www"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::Conflicts), ["apache"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::WantedBy), ["default"]);
    assert_eq!(d.dep_line(DepKind::Wants, "c"), Some(40));
    assert_eq!(d.key_line("service", "exec"), Some(5));
}

#[test]
fn ready_forms() {
    let r = |v: &str| {
        ok(&format!("[service]\nexec = x\nready = {v}\n"))
            .service()
            .unwrap()
            .ready
            .clone()
    };
    assert_eq!(r("started"), Ready::Started);
    assert_eq!(r("sd-notify"), Ready::SdNotify);
    assert_eq!(r("notify-fd 3"), Ready::NotifyFd(3));
    for bad in [
        "notify-fd",
        "notify-fd 1",
        "notify-fd x",
        "started now",
        "check",
        "redy",
    ] {
        let e = errors("x", &format!("[service]\nexec = x\nready = {bad}\n"), None);
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert!(
            e[0].starts_with("x.ini:3: invalid value for 'ready'"),
            "{e:?}"
        );
    }
}

#[test]
fn list_keys_append_and_clear() {
    let d = ok(
        "[service]\nexec = x\nexec-pre = a 1\nexec-pre =\nexec-pre = b 2\n[dependencies]\nrequires = a b\nrequires =\nrequires = c\n",
    );
    let s = d.service().unwrap();
    assert_eq!(s.rare().exec_pre.len(), 1);
    assert_eq!(s.rare().exec_pre[0].to_vec(), ["b", "2"]);
    assert_eq!(d.deps.get(libsvc::model::DepKind::Requires), ["c"]);
}

#[test]
fn continuation_lines() {
    let d = ok("[service]\nexec = /bin/sh -c \\\n   'echo hi'\n");
    assert_eq!(
        d.service().unwrap().exec.to_vec(),
        ["/bin/sh", "-c", "echo hi"]
    );
}

#[test]
fn target_files() {
    let d = ok("[target]\ndescription = everything\n[dependencies]\nrequires = a\n");
    assert!(d.is_target());
    assert_eq!(d.description.as_deref(), Some("everything"));
    let e = errors("t", "[target]\nexec = x\n[logging]\nmax-size = 1M\n", None);
    assert_eq!(
        e,
        [
            "t.ini:2: unknown key 'exec' in [target]; 'exec' belongs in [service]",
            "t.ini:3: section [logging] is only allowed with [service], not in a target",
        ]
    );
}

#[test]
fn all_errors_at_once_with_lines() {
    let text = "[service]\ndescription = x\n\nexce = /usr/sbin/nginx\nstop-timeout = 15x\nrestart = alwys\nstop-signal = SIGFOO\nuser = a:b\numask = 999\nnice = 40\nlimit-nofile = 10:5\nlimit-nofle = 1\nuser = again\n[dependencies]\nrequires = getty@\nafter = a/b\n[environment]\n1BAD = x\n[loging]\nmax-size = 1M\n[logging]\nmax-size = big\noutput = files\n";
    let e = errors("nginx", text, None);
    let expected = [
        "nginx.ini:1: [service] needs 'exec', the command to run",
        "nginx.ini:4: unknown key 'exce' in [service]; did you mean 'exec'?",
        "nginx.ini:5: invalid value for 'stop-timeout': expected a duration such as 250ms, 10s, 5m, 1h or a number of seconds, found '15x'",
        "nginx.ini:6: invalid value for 'restart': expected one of always, on-failure, never, found 'alwys'; did you mean 'always'?",
        "nginx.ini:7: invalid value for 'stop-signal': expected a signal name (TERM, SIGTERM, RTMIN+3) or a number from 1 to 64, found 'SIGFOO'",
        "nginx.ini:8: invalid value for 'user': expected a name or a number, found 'a:b'",
        "nginx.ini:9: invalid value for 'umask': expected an octal mode such as 022, found '999'",
        "nginx.ini:10: invalid value for 'nice': expected a number from -20 to 19, found '40'",
        "nginx.ini:11: invalid value for 'limit-nofile': the soft limit is above the hard limit in '10:5'",
        "nginx.ini:12: unknown key 'limit-nofle' in [service]; did you mean 'limit-nofile'?",
        "nginx.ini:13: 'user' given twice in [service] (first at line 8)",
        "nginx.ini:15: in 'requires': 'getty@' is a template; name one of its instances, such as 'getty@NAME'",
        "nginx.ini:16: in 'after': 'a/b' is not a valid name: '/' is not allowed (use letters, digits, '_', '.', '-' and at most one '@')",
        "nginx.ini:18: '1BAD' is not a valid environment variable name (letters, digits and '_', not starting with a digit)",
        "nginx.ini:19: unknown section [loging]; did you mean [logging]?",
        "nginx.ini:22: invalid value for 'max-size': expected a size such as 512K, 4M, 1G or a number of bytes, found 'big'",
        "nginx.ini:23: invalid value for 'output': expected one of file, syslog, console, inherit, null, found 'files'; did you mean 'file'?",
    ];
    let mut got = e.clone();
    got.sort_by_key(|m| m.split(':').nth(1).unwrap().parse::<u32>().unwrap());
    assert_eq!(got, expected);
}

#[test]
fn structural_errors() {
    assert_eq!(
        errors("x", "# nothing\n", None),
        ["x.ini: no [service] or [target] section; a declaration needs exactly one"]
    );
    assert_eq!(
        errors("x", "[service]\nexec = a\n[target]\n", None),
        ["x.ini:3: a file has either [service] or [target], not both"]
    );
    assert_eq!(
        errors("x", "[service]\nexec = a\n[service]\n", None),
        ["x.ini:3: section [service] given twice (first at line 1)"]
    );
    assert_eq!(
        errors("x", "[service]\nexec = a\ntype = forking\n", None),
        ["x.ini:3: 'type = forking' needs 'pidfile', where the daemon writes its pid"]
    );
    assert_eq!(
        errors("x", "[service]\nexec = 'a\n", None),
        ["x.ini:2: invalid command for 'exec': unterminated single quote"]
    );
    assert_eq!(
        errors("x", "[service]\nexec =\n", None),
        ["x.ini:2: empty value for 'exec'; expected a command"]
    );
    assert_eq!(
        errors(
            "x",
            "[service]\nexec = a\nrestart-delay = 1m\nrestart-delay-max = 10s\n",
            None
        ),
        ["x.ini:3: 'restart-delay' (1m) is longer than 'restart-delay-max' (10s)"]
    );
    assert_eq!(
        errors("x", "[service]\nexec = a\nrequires = b\n", None),
        ["x.ini:3: unknown key 'requires' in [service]; 'requires' belongs in [dependencies]"]
    );
}

#[test]
fn templates_expand_instance() {
    let text = "[service]\ndescription = login on /dev/%i (100%%)\nexec = /sbin/getty 38400 /dev/%i\nuser = %i\n[environment]\nTTY = %i\n";
    let (d, diags) = parse(
        "getty@tty1",
        Path::new("getty@.ini"),
        text.as_bytes(),
        Some("tty1"),
    );
    assert!(diags.is_empty(), "{diags:?}");
    let d = d.unwrap();
    assert_eq!(d.template(), Some("getty@"));
    assert_eq!(d.description.as_deref(), Some("login on /dev/tty1 (100%)"));
    let s = d.service().unwrap();
    assert_eq!(s.exec.to_vec(), ["/sbin/getty", "38400", "/dev/tty1"]);
    assert_eq!(s.rare().user, Some(Account::Name("tty1".into())));
    assert_eq!(s.rare().environment, vec![("TTY".into(), "tty1".into())]);
    let e = errors(
        "getty@tty1",
        "[service]\nexec = /bin/x %n\ndescription = 50%\n",
        Some("tty1"),
    );
    assert_eq!(
        e,
        [
            "getty@tty1.ini:2: in 'exec': '%n' is not allowed in a template; only %i (the instance name) and %% (a literal %) are",
            "getty@tty1.ini:3: in 'description': '%' at the end of the value; write %% for a literal % in a template",
        ]
    );
    // Outside templates % is literal.
    let d = ok("[service]\nexec = /bin/date +%s\n");
    assert_eq!(d.service().unwrap().exec.to_vec(), ["/bin/date", "+%s"]);
}

#[test]
fn hostile_bytes_never_panic() {
    let mut text = b"[service]\nexec = /bin/true\ndescription = \xff\xfe\n".to_vec();
    let (d, diags) = parse("x", Path::new("x.ini"), &text, None);
    assert!(d.is_none());
    assert_eq!(
        diags[0].to_string(),
        "x.ini:3: not valid UTF-8: byte 0xff at column 15"
    );
    text.clear();
    text.extend_from_slice(b"[service]\nexec = /bin/true\ndescription = ");
    text.extend(std::iter::repeat_n(b'a', 10 << 20));
    text.push(b'\n');
    let (d, diags) = parse("x", Path::new("x.ini"), &text, None);
    assert!(d.is_none());
    assert_eq!(
        diags[0].to_string(),
        "x.ini:3: line is 10485774 bytes long; the limit is 65536"
    );
    for garbage in [
        &b"\0\0\0"[..],
        b"[",
        b"]",
        b"=",
        b"[service]\n=\n",
        b"\\",
        b"[a]\nk=\\",
    ] {
        let (d, diags) = parse("x", Path::new("x.ini"), garbage, None);
        assert!(d.is_none() && !diags.is_empty());
    }
}

#[test]
fn reading_files() {
    let dir = TempDir::new("read");
    let missing = dir.path().join("missing.ini");
    assert_eq!(
        read_file(&missing).unwrap_err().to_string(),
        format!("{}: no such file or directory", missing.display())
    );
    let sub = dir.path().join("dir.ini");
    std::fs::create_dir(&sub).unwrap();
    assert_eq!(
        read_file(&sub).unwrap_err().to_string(),
        format!("{}: not a regular file (directory)", sub.display())
    );
    let f = dir.write("ok.ini", "[service]\nexec = x\n");
    assert_eq!(read_file(&f).unwrap(), b"[service]\nexec = x\n");
    // Through a regular file as if it were a directory: ENOTDIR.
    let through = f.join("x.ini");
    assert!(
        read_file(&through)
            .unwrap_err()
            .to_string()
            .contains("not a directory")
    );
    if !nix::unistd::geteuid().is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
        assert!(
            read_file(&f)
                .unwrap_err()
                .to_string()
                .ends_with("permission denied")
        );
    }
}
