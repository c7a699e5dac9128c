//! One test per translation rule of the systemd importer, on units given
//! as text (no file system).

use super::unit::{parse, split_words};
use super::*;
use crate::import::draft::Section::{
    Dependencies as D, Environment as E, Logging as L, Service as S,
};

fn tr_files(name: &str, files: &[(&str, &str)]) -> Result<Draft, Note> {
    let files: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
        .collect();
    translate(Path::new(&format!("/u/{name}")), &files)
}

/// `[Service]` + `body` as `/u/NAME`.
fn tr(name: &str, body: &str) -> Draft {
    let path = format!("/u/{name}");
    tr_files(name, &[(&path, body)]).expect("translates")
}

fn svc(body: &str) -> Draft {
    tr("x.service", &format!("[Service]\n{body}"))
}

fn whys(d: &Draft) -> Vec<String> {
    d.notes
        .iter()
        .map(|n| format!("{}: {}", n.line, n.why))
        .collect()
}

/// The rendered draft must be a valid declaration for libsvc.
fn valid(d: &Draft) {
    let file = PathBuf::from(format!("/x/{}", d.file_name()));
    let text = d.render();
    let mut set = libsvc::load::ServiceSet::default();
    set.add_bytes(&d.name, &file, text.as_bytes());
    let errors: Vec<_> = set.diagnostics.iter().filter(|x| x.is_error()).collect();
    assert!(errors.is_empty(), "{text}\n{errors:?}");
}

#[test]
fn parser_sections_comments_continuations_and_lines() {
    let u = parse(
        b"# comment\n[Unit]\nDescription = a b \n; other\n[Service]\nExecStart=/bin/a \\\n  -x \\\n# skipped\n  -y\nBad line\nEnvironment=\n",
    );
    assert_eq!(u.sections, vec![("Unit".into(), 2), ("Service".into(), 5)]);
    let got: Vec<_> = u
        .entries
        .iter()
        .map(|e| (e.section.as_str(), e.key.as_str(), e.value.as_str(), e.line))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Unit", "Description", "a b", 3),
            ("Service", "ExecStart", "/bin/a  -x  -y", 6),
            ("Service", "Environment", "", 11),
        ]
    );
    assert_eq!(
        u.problems,
        vec![(10, "not a Key=Value line: 'Bad line'".into())]
    );
}

#[test]
fn parser_reports_assignments_outside_sections_and_bad_utf8() {
    let u = parse(b"A=b\n[Service]\nX=\xff\n");
    assert_eq!(u.problems[0].0, 0);
    assert!(u.problems[1].1.contains("outside of any [section]"));
    assert_eq!(u.entries.len(), 1);
}

#[test]
fn words_split_like_systemd() {
    assert_eq!(
        split_words(r#"a "b c" 'd e'f g\x41 h\ni "\"q\"""#).unwrap(),
        vec!["a", "b c", "d ef", "gA", "h\ni", "\"q\""]
    );
    assert!(split_words("\"open").is_err());
    assert!(split_words("end\\").is_err());
    assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
}

#[test]
fn looks_like_by_suffix_or_header() {
    assert!(looks_like(Path::new("/x/a.service"), b""));
    assert!(looks_like(Path::new("/x/a"), b"# c\n[Unit]\nA=b\n"));
    assert!(looks_like(Path::new("/x/a"), b"[Service]\n"));
    assert!(!looks_like(Path::new("/x/a"), b"#!/bin/sh\n"));
}

#[test]
fn exec_start_plain_and_quoted_words() {
    let d = svc("ExecStart=/usr/sbin/nginx -g 'daemon off;'\nRestart=always\n");
    assert_eq!(d.get(S, "exec"), Some("/usr/sbin/nginx -g 'daemon off;'"));
    assert!(d.notes.is_empty(), "{:?}", whys(&d));
    valid(&d);
}

#[test]
fn no_exec_start_is_refused() {
    let e = tr_files(
        "x.service",
        &[("/u/x.service", "[Service]\nType=oneshot\n")],
    )
    .unwrap_err();
    assert!(e.why.contains("no ExecStart"), "{e}");
}

#[test]
fn other_unit_types_are_refused() {
    let e = tr_files(
        "x.socket",
        &[("/u/x.socket", "[Socket]\nListenStream=22\n")],
    )
    .unwrap_err();
    assert!(e.why.contains("socket unit"), "{e}");
    let e = tr_files("x.timer", &[("/u/x.timer", "[Timer]\n")]).unwrap_err();
    assert!(e.why.contains("timers"), "{e}");
}

#[test]
fn environment_variables_go_through_a_shell_that_execs() {
    let d = svc("ExecStart=/usr/sbin/sshd -D $SSHD_OPTS ${ONE}x --a=$$HOME\n");
    assert_eq!(
        d.get(S, "exec"),
        Some(r#"/bin/sh -c 'set -f; exec /usr/sbin/sshd -D $SSHD_OPTS "${ONE}x" --a=\$HOME'"#)
            .map(|_| d.get(S, "exec").unwrap())
    );
    let exec = d.get(S, "exec").unwrap();
    let words = libsvc::cmdline::split(exec).unwrap();
    assert_eq!(words[0..2], ["/bin/sh", "-c"]);
    assert_eq!(
        words[2],
        "set -f; exec /usr/sbin/sshd -D $SSHD_OPTS \"${ONE}x\" '--a=$HOME'"
    );
    valid(&d);
}

#[test]
fn colon_prefix_keeps_dollars_literal() {
    let d = svc("ExecStart=:/bin/echo $HOME\n");
    assert_eq!(d.get(S, "exec"), Some("/bin/echo $HOME"));
    assert!(d.notes.is_empty());
}

#[test]
fn minus_prefix_on_pre_ignores_failure_and_on_exec_is_noted() {
    let d = svc("ExecStartPre=-/bin/false a\nExecStart=-/bin/true\nExecStop=-/bin/kill x\n");
    let pre = d.get(S, "exec-pre").unwrap();
    assert_eq!(
        libsvc::cmdline::split(pre).unwrap(),
        ["/bin/sh", "-c", "set -f; /bin/false a || :"]
    );
    assert_eq!(d.get(S, "exec"), Some("/bin/true"));
    assert_eq!(d.get(S, "exec-stop"), Some("/bin/kill x"));
    assert_eq!(whys(&d).len(), 1);
    assert!(whys(&d)[0].contains("'-' (failure ignored)"));
    valid(&d);
}

#[test]
fn at_prefix_drops_argv0_with_a_note() {
    let d = svc("ExecStart=@/usr/bin/agetty agetty -8 tty1\n");
    assert_eq!(d.get(S, "exec"), Some("/usr/bin/agetty -8 tty1"));
    assert!(whys(&d)[0].contains("argv[0], not 'agetty'"));
}

#[test]
fn plus_prefix_is_noted_only_with_a_user() {
    let d = svc("ExecStart=+/bin/a\n");
    assert!(d.notes.is_empty());
    let d = svc("User=www\nExecStartPre=+/bin/mkdir /run/x\nExecStart=/bin/a\n");
    assert_eq!(d.get(S, "exec-pre"), Some("/bin/mkdir /run/x"));
    assert!(whys(&d)[0].contains("full privileges"));
}

#[test]
fn several_exec_start_of_a_oneshot_run_in_turn() {
    let d = svc("Type=oneshot\nExecStartPre=/bin/p\nExecStart=/bin/a\nExecStart=/bin/b\n");
    assert_eq!(d.get(S, "type"), Some("oneshot"));
    assert_eq!(d.get(S, "exec"), Some("/bin/b"));
    let text = d.render();
    assert!(
        text.contains("exec-pre = /bin/p\nexec-pre = /bin/a\n"),
        "{text}"
    );
    assert!(d.notes.is_empty());
    valid(&d);
    let d = svc("ExecStart=/bin/a\nExecStart=/bin/b\n");
    assert_eq!(d.get(S, "exec"), Some("/bin/a"));
    assert!(whys(&d)[0].starts_with("3: ExecStart=/bin/b: only Type=oneshot"));
}

#[test]
fn empty_assignment_resets_a_list() {
    let d = svc(
        "ExecStart=/bin/a\nExecStart=\nExecStart=/bin/b\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n",
    );
    assert_eq!(d.get(S, "exec"), Some("/bin/b"));
    assert_eq!(d.get(E, "A"), None);
    assert_eq!(d.get(E, "B"), Some("2"));
}

#[test]
fn reload_as_kill_hup_becomes_reload_signal() {
    let d = svc("ExecStart=/bin/a\nExecReload=/bin/kill -HUP $MAINPID\n");
    assert_eq!(d.get(S, "reload-signal"), Some("HUP"));
    assert!(d.notes.is_empty());
    let d = svc("ExecStart=/bin/a\nExecReload=kill -s USR1 ${MAINPID}\n");
    assert_eq!(d.get(S, "reload-signal"), Some("USR1"));
    let d = svc("ExecStart=/bin/a\nExecReload=/bin/a -s reload\n");
    assert_eq!(d.get(S, "reload-signal"), None);
    assert!(whys(&d)[0].contains("reloads by a signal only"));
}

#[test]
fn types_map_to_svc() {
    assert_eq!(
        svc("Type=notify\nExecStart=/bin/a\n").get(S, "ready"),
        Some("sd-notify")
    );
    let d = svc("Type=exec\nExecStart=/bin/a\n");
    assert_eq!((d.get(S, "type"), d.notes.len()), (None, 0));
    let d = svc("Type=forking\nPIDFile=nginx.pid\nExecStart=/bin/a\n");
    assert_eq!(d.get(S, "type"), Some("forking"));
    assert_eq!(d.get(S, "pidfile"), Some("/run/nginx.pid"));
    valid(&d);
    for t in ["dbus", "idle"] {
        let d = svc(&format!("Type={t}\nExecStart=/bin/a\n"));
        assert!(
            whys(&d)[0].starts_with(&format!("2: Type={t}:")),
            "{:?}",
            whys(&d)
        );
        valid(&d);
    }
    let e = tr_files(
        "x.service",
        &[(
            "/u/x.service",
            "[Service]\nType=forking\nExecStart=/bin/a\n",
        )],
    )
    .unwrap_err();
    assert!(e.why.contains("PIDFile"));
    let d = svc("PIDFile=/run/a.pid\nExecStart=/bin/a\n");
    assert_eq!(d.get(S, "pidfile"), None);
    assert!(whys(&d)[0].contains("only for Type=forking"));
}

#[test]
fn restart_policies() {
    for (sd, want, notes) in [
        ("no", "never", 0),
        ("always", "always", 0),
        ("on-failure", "on-failure", 0),
        ("on-abnormal", "on-failure", 1),
        ("on-abort", "on-failure", 1),
        ("on-watchdog", "on-failure", 1),
        ("on-success", "never", 1),
    ] {
        let d = svc(&format!("ExecStart=/bin/a\nRestart={sd}\n"));
        assert_eq!(d.get(S, "restart"), Some(want), "{sd}");
        assert_eq!(d.notes.len(), notes, "{sd}");
    }
    // systemd restarts nothing unless told.
    assert_eq!(svc("ExecStart=/bin/a\n").get(S, "restart"), Some("never"));
    assert_eq!(
        svc("Type=oneshot\nExecStart=/bin/a\n").get(S, "restart"),
        None
    );
}

#[test]
fn time_spans() {
    let d = svc("ExecStart=/bin/a\nRestartSec=1min 30s\nTimeoutStopSec=5\nTimeoutStartSec=250ms\n");
    assert_eq!(d.get(S, "restart-delay"), Some("90s"));
    assert_eq!(d.get(S, "restart-delay-max"), Some("90s"));
    assert_eq!(d.get(S, "stop-timeout"), Some("5s"));
    assert_eq!(d.get(S, "ready-timeout"), Some("250ms"));
    valid(&d);
    let d = svc("ExecStart=/bin/a\nTimeoutSec=2min\n");
    assert_eq!(d.get(S, "stop-timeout"), Some("2m"));
    assert_eq!(d.get(S, "ready-timeout"), Some("2m"));
    let d = svc("ExecStart=/bin/a\nTimeoutStopSec=infinity\n");
    assert_eq!(d.get(S, "stop-timeout"), None);
    assert!(whys(&d)[0].contains("unlimited"));
    assert_eq!(parse_timespan("1.5h", 1_000_000), Ok(5_400_000_000));
    assert_eq!(parse_timespan("20us", 1_000_000), Ok(20));
    assert!(parse_timespan("5 parsecs", 1).is_err());
}

#[test]
fn kill_signal_and_kill_mode() {
    let d = svc("ExecStart=/bin/a\nKillSignal=SIGQUIT\nKillMode=control-group\n");
    assert_eq!(d.get(S, "stop-signal"), Some("QUIT"));
    assert!(d.notes.is_empty());
    for mode in ["mixed", "process", "none"] {
        let d = svc(&format!("ExecStart=/bin/a\nKillMode={mode}\n"));
        assert!(whys(&d)[0].starts_with(&format!("3: KillMode={mode}:")));
    }
    let d = svc("ExecStart=/bin/a\nKillSignal=SIGBOGUS\n");
    assert_eq!(d.get(S, "stop-signal"), None);
    assert_eq!(d.notes.len(), 1);
}

#[test]
fn credentials_and_places() {
    let d = svc(
        "ExecStart=/bin/a\nUser=www-data\nGroup=www\nSupplementaryGroups=adm  tty\nSupplementaryGroups=disk\nWorkingDirectory=/srv\nRootDirectory=/chroot\nUMask=0027\nNice=-5\nNoNewPrivileges=true\nRuntimeDirectory=a b/c\n",
    );
    assert_eq!(d.get(S, "user"), Some("www-data"));
    assert_eq!(d.get(S, "group"), Some("www"));
    assert_eq!(d.get(S, "supplementary-groups"), Some("adm tty disk"));
    assert_eq!(d.get(S, "working-directory"), Some("/srv"));
    assert_eq!(d.get(S, "root-directory"), Some("/chroot"));
    assert_eq!(d.get(S, "umask"), Some("027"));
    assert_eq!(d.get(S, "nice"), Some("-5"));
    assert_eq!(d.get(S, "no-new-privileges"), Some("yes"));
    assert_eq!(d.get(S, "runtime-directory"), Some("a b/c"));
    assert!(d.notes.is_empty(), "{:?}", whys(&d));
    valid(&d);
    let d = svc(
        "ExecStart=/bin/a\nWorkingDirectory=~\nNice=30\nUMask=999\nRuntimeDirectory=../x\nDynamicUser=yes\n",
    );
    assert_eq!(d.notes.len(), 5, "{:?}", whys(&d));
    valid(&d);
}

#[test]
fn environment_quoting_as_systemd() {
    let d = svc(
        "ExecStart=/bin/a\nEnvironment=A=1 \"B=two words\" 'C=x\"y'\nEnvironment=D=\\x41\nEnvironment=bad-name=1 E= F\nEnvironmentFile=-/etc/default/x\nEnvironmentFile=/etc/x env\n",
    );
    assert_eq!(d.get(E, "A"), Some("1"));
    assert_eq!(d.get(E, "B"), Some("two words"));
    assert_eq!(d.get(E, "C"), Some("x\"y"));
    assert_eq!(d.get(E, "D"), Some("A"));
    assert_eq!(d.get(E, "E"), Some(""));
    assert_eq!(
        d.get(S, "environment-file"),
        Some("-/etc/default/x '/etc/x env'")
    );
    let w = whys(&d);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("bad-name=1: not a valid variable name"));
    assert!(w[1].contains("F: not NAME=VALUE"));
    valid(&d);
}

#[test]
fn limits() {
    let d = svc(
        "ExecStart=/bin/a\nLimitNOFILE=1024:16384\nLimitCORE=infinity\nLimitMEMLOCK=64K\nLimitCPU=2min\nLimitNICE=-5\nLimitRTTIME=1s\nLimitNPROC=abc\nLimitSTACK=8M:4M\n",
    );
    assert_eq!(d.get(S, "limit-nofile"), Some("1024:16384"));
    assert_eq!(d.get(S, "limit-core"), Some("infinity"));
    assert_eq!(d.get(S, "limit-memlock"), Some("65536"));
    assert_eq!(d.get(S, "limit-cpu"), Some("120"));
    assert_eq!(d.get(S, "limit-nice"), Some("25"));
    assert_eq!(d.get(S, "limit-rttime"), Some("1000000"));
    assert_eq!(d.notes.len(), 2, "{:?}", whys(&d));
    valid(&d);
}

#[test]
fn resource_control_keys_become_cgroup_limits() {
    let d = svc(
        "ExecStart=/bin/a\nMemoryMax=512M\nMemoryHigh=400M\nMemorySwapMax=infinity\nTasksMax=64\nCPUWeight=50\nIOWeight=200\nCPUQuota=150%\nCPUAccounting=yes\n",
    );
    assert_eq!(d.get(S, "memory-max"), Some("512M"));
    assert_eq!(d.get(S, "memory-high"), Some("400M"));
    assert_eq!(d.get(S, "memory-swap-max"), Some("infinity"));
    assert_eq!(d.get(S, "pids-max"), Some("64"));
    assert_eq!(d.get(S, "cpu-weight"), Some("50"));
    assert_eq!(d.get(S, "io-weight"), Some("200"));
    assert_eq!(d.get(S, "cpu-max"), Some("150%"));
    assert!(d.notes.is_empty(), "{:?}", whys(&d));
    valid(&d);
    // The deprecated MemoryLimit too; shares of the machine, a quota with
    // its own period, accounting turned off and keys svc lacks are notes.
    let d = svc(
        "ExecStart=/bin/a\nMemoryLimit=1G\nTasksMax=15%\nCPUQuota=20%\nCPUQuotaPeriodSec=10ms\nMemoryAccounting=no\nMemoryLow=10M\nCPUWeight=0\n",
    );
    assert_eq!(d.get(S, "memory-max"), Some("1G"));
    assert_eq!(d.get(S, "pids-max"), None);
    assert_eq!(d.get(S, "cpu-max"), None);
    assert_eq!(d.get(S, "cpu-weight"), None);
    let w = whys(&d);
    assert_eq!(w.len(), 5, "{w:?}");
    assert!(
        w.iter().any(|n| n.contains("TasksMax=15%: a share")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|n| n.contains("CPUQuotaPeriodSec=10ms")),
        "{w:?}"
    );
    assert!(w.iter().any(|n| n.contains("MemoryAccounting=no")), "{w:?}");
    assert!(
        w.iter()
            .any(|n| n.contains("MemoryLow=10M: resource control")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|n| n.contains("CPUWeight=0: svc does not accept it")),
        "{w:?}"
    );
    valid(&d);
}

#[test]
fn output_and_input() {
    let d = svc("ExecStart=/bin/a\nStandardOutput=null\n");
    assert_eq!(d.get(L, "output"), Some("null"));
    assert!(d.notes.is_empty());
    let d = svc("ExecStart=/bin/a\nStandardOutput=journal\nStandardError=journal+console\n");
    assert_eq!((d.get(L, "output"), d.notes.len()), (None, 0));
    let d = svc("ExecStart=/bin/a\nStandardOutput=tty\nStandardError=null\nStandardInput=tty\n");
    assert_eq!(d.get(L, "output"), Some("console"));
    assert_eq!(d.notes.len(), 2);
    let d = svc("ExecStart=/bin/a\nStandardOutput=file:/var/log/a\n");
    assert_eq!(d.notes.len(), 1);
    valid(&d);
}

#[test]
fn dependencies_and_target_names() {
    let d = tr(
        "x.service",
        "[Unit]\nRequires=a.service syslog.service\nWants=network-online.target b\nAfter=network.target local-fs.target remote-fs.target basic.target time-sync.target x.service\nBefore=shutdown.target c.service\nConflicts=d.service\nBindsTo=e.service\nRequires=f.socket\n[Service]\nExecStart=/bin/a\n[Install]\nWantedBy=multi-user.target graphical.target\nAlias=xx.service\n",
    );
    assert_eq!(d.get(D, "requires"), Some("a syslog e"));
    assert_eq!(d.get(D, "wants"), Some("networking b"));
    assert_eq!(
        d.get(D, "after"),
        Some("networking localmount netmount boot sysinit")
    );
    assert_eq!(d.get(D, "before"), Some("c"));
    assert_eq!(d.get(D, "conflicts"), Some("d"));
    assert_eq!(d.get(D, "wanted-by"), Some("default"));
    assert_eq!(d.get(D, "provides"), Some("xx"));
    assert_eq!(d.enable_in, vec!["default"]);
    let w = whys(&d);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("4: After=time-sync.target: no equivalent"));
    assert!(w[1].starts_with("8: Requires=f.socket: a socket unit"));
    valid(&d);
}

#[test]
fn default_dependencies() {
    let d = svc("ExecStart=/bin/a\n");
    assert_eq!(d.get(D, "after"), Some("sysinit"));
    let d = tr(
        "x.service",
        "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/a\n",
    );
    assert_eq!(d.get(D, "after"), None);
    let d = tr(
        "x.service",
        "[Service]\nExecStart=/bin/a\n[Install]\nWantedBy=sysinit.target\n",
    );
    assert_eq!(d.get(D, "after"), None);
}

#[test]
fn templates_keep_percent_i_and_escape_percent() {
    let d = tr(
        "getty@.service",
        "[Unit]\nDescription=Getty on %I\nAfter=foo@%i.service\n[Service]\nExecStart=/sbin/agetty %i 100%% %n %p %N\nEnvironment=T=%t/x\n[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n",
    );
    assert_eq!(d.name, "getty@");
    assert_eq!(d.file_name(), "getty@.ini");
    assert_eq!(
        d.get(S, "exec"),
        Some("/sbin/agetty %i 100%% getty@%i.service getty getty@%i")
    );
    assert_eq!(d.get(D, "after"), Some("foo@%i sysinit"));
    assert_eq!(d.get(E, "T"), Some("/run/x"));
    assert_eq!(d.get(S, "description"), None);
    assert!(d.enable_in.is_empty());
    let w = whys(&d);
    assert!(w.iter().any(|w| w.contains("%I")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("getty.target")), "{w:?}");
    assert!(
        w.iter().any(|w| w.contains("svcctl enable getty@tty1")),
        "{w:?}"
    );
    valid(&d);
    // Instantiated by svc, the words come back as systemd would give them.
    let text = d.render();
    let mut set = libsvc::load::ServiceSet::default();
    set.add_bytes("getty@", Path::new("/x/getty@.ini"), text.as_bytes());
    assert!(set.instantiate("getty@tty1"));
    let s = set.declarations["getty@tty1"].service().unwrap();
    assert_eq!(
        s.exec.to_vec(),
        [
            "/sbin/agetty",
            "tty1",
            "100%",
            "getty@tty1.service",
            "getty",
            "getty@tty1"
        ]
    );
}

#[test]
fn instance_files_expand_their_instance() {
    let d = tr(
        "getty@tty2.service",
        "[Service]\nExecStart=/sbin/agetty %i %I 5%%\n",
    );
    assert_eq!(d.name, "getty@tty2");
    assert_eq!(d.get(S, "exec"), Some("/sbin/agetty tty2 tty2 5%"));
    valid(&d);
}

#[test]
fn host_specifiers_are_refused() {
    let d = svc("ExecStart=/bin/a\nEnvironment=H=%H\n");
    assert_eq!(d.get(E, "H"), None);
    assert!(whys(&d)[0].contains("%H"));
    let e = tr_files(
        "x.service",
        &[("/u/x.service", "[Service]\nExecStart=/bin/a %m\n")],
    )
    .unwrap_err();
    assert!(e.why.contains("%m"), "{e}");
}

#[test]
fn dropins_apply_in_order_and_are_named_in_notes() {
    let d = tr_files(
        "x.service",
        &[
            (
                "/u/x.service",
                "[Service]\nExecStart=/bin/a\nRestart=always\nPrivateTmp=yes\n",
            ),
            (
                "/u/x.service.d/10-a.conf",
                "[Service]\nExecStart=\nExecStart=/bin/b\nRestart=no\n",
            ),
            (
                "/u/x.service.d/20-b.conf",
                "[Service]\nProtectSystem=full\n",
            ),
        ],
    )
    .unwrap();
    assert_eq!(d.get(S, "exec"), Some("/bin/b"));
    assert_eq!(d.get(S, "restart"), Some("never"));
    assert_eq!(d.sources.len(), 3);
    let notes: Vec<String> = d.notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        notes,
        vec![
            "/u/x.service:4: not imported: PrivateTmp=yes: sandboxing: svc has no equivalent",
            "/u/x.service.d/20-b.conf:2: not imported: ProtectSystem=full: sandboxing: svc has no equivalent",
        ]
    );
}

#[test]
fn unknown_keys_and_sections_each_get_a_note() {
    let d = tr(
        "x.service",
        "[Unit]\nConditionPathExists=/x\nStartLimitBurst=3\n[Service]\nExecStart=/bin/a\nMemoryMin=1G\nFrobnicate=1\nX-Foo=1\n[X-Ext]\nA=1\n[Socket]\nListenStream=1\n",
    );
    let w = whys(&d);
    assert_eq!(w.len(), 7, "{w:?}");
    assert!(w.iter().any(|w| w.contains("start conditions")));
    assert!(w.iter().any(|w| w.contains("restart-limit")));
    assert!(
        w.iter()
            .any(|w| w.contains("MemoryMin=1G: resource control"))
    );
    assert!(w.iter().any(|w| w.contains("Frobnicate=1: no equivalent")));
    assert!(w.iter().any(|w| w.contains("extension key")));
    assert!(w.iter().any(|w| w.contains("[X-Ext]")));
    assert!(w.iter().any(|w| w.contains("[Socket]")));
}

#[test]
fn line_breaks_and_trailing_backslashes_are_not_written() {
    let e = tr_files(
        "x.service",
        &[("/u/x.service", "[Service]\nExecStart=/bin/a \"x\\ny\"\n")],
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.why.contains("line break"), "{e}");
    let d = svc("ExecStart=/bin/a\nEnvironment=\"A=x\\\\\"\n");
    assert_eq!(d.get(E, "A"), None);
    assert_eq!(d.notes.len(), 1);
    valid(&d);
}

#[test]
fn nginx_unit_of_debian() {
    let unit = "[Unit]\nDescription=A high performance web server and a reverse proxy server\nDocumentation=man:nginx(8)\nAfter=network-online.target remote-fs.target nss-lookup.target\nWants=network-online.target\n\n[Service]\nType=forking\nPIDFile=/run/nginx.pid\nExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'\nExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'\nExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload\nExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid\nTimeoutStopSec=5\nKillMode=mixed\n\n[Install]\nWantedBy=multi-user.target\n";
    let d = tr("nginx.service", unit);
    valid(&d);
    assert_eq!(d.get(S, "type"), Some("forking"));
    assert_eq!(d.get(S, "pidfile"), Some("/run/nginx.pid"));
    assert_eq!(
        d.get(S, "exec-stop"),
        Some("/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid")
    );
    assert_eq!(d.get(S, "stop-timeout"), Some("5s"));
    assert_eq!(d.notes.len(), 3, "{:?}", whys(&d));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "ExecStart",
        "ExecStartPre",
        "ExecStop",
        "ExecReload",
        "Type",
        "PIDFile",
        "User",
        "Group",
        "SupplementaryGroups",
        "WorkingDirectory",
        "RootDirectory",
        "UMask",
        "Environment",
        "EnvironmentFile",
        "Restart",
        "RestartSec",
        "TimeoutStopSec",
        "KillSignal",
        "KillMode",
        "LimitNOFILE",
        "LimitCPU",
        "LimitNICE",
        "Nice",
        "NoNewPrivileges",
        "RuntimeDirectory",
        "StandardOutput",
        "Description",
        "After",
        "Requires",
        "WantedBy",
        "Alias",
    ];

    fn line() -> impl Strategy<Value = String> {
        (
            prop::sample::select(KEYS),
            prop_oneof![
                "[a-z/ %$'\"{}\\\\;:=@+!-]{0,24}",
                "/bin/[a-z]{1,5}( [-%$a-zA-Z{}'\"]{1,6}){0,3}",
                "(simple|forking|oneshot|notify|dbus|always|on-failure|no|[0-9]{1,4}(s|ms|min)?)",
            ],
        )
            .prop_map(|(k, v)| format!("{k}={v}"))
    }

    proptest! {
        #[test]
        fn the_parser_and_translation_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&bytes);
            let _ = split_words(&String::from_utf8_lossy(&bytes));
            for name in ["/u/x.service", "/u/t@.service", "/u/t@i.service"] {
                let _ = translate(Path::new(name), &[(PathBuf::from(name), bytes.clone())]);
            }
        }

        /// Whatever the importer accepts renders to a declaration svc reads
        /// without an error: the driver never has to refuse its output.
        #[test]
        fn accepted_units_render_valid_declarations(
            lines in prop::collection::vec(line(), 0..12),
            template in any::<bool>(),
        ) {
            let name = if template { "t@.service" } else { "x.service" };
            let text = format!("[Unit]\n[Service]\nExecStart=/bin/true\n{}\n[Install]\n", lines.join("\n"));
            let path = format!("/u/{name}");
            if let Ok(d) = translate(Path::new(&path), &[(PathBuf::from(&path), text.into_bytes())]) {
                let file = PathBuf::from(format!("/x/{}", d.file_name()));
                let rendered = d.render();
                let mut set = libsvc::load::ServiceSet::default();
                set.add_bytes(&d.name, &file, rendered.as_bytes());
                let errors: Vec<_> = set.diagnostics.iter().filter(|x| x.is_error()).collect();
                prop_assert!(errors.is_empty(), "{}\n{:?}", rendered, errors);
            }
        }
    }
}

/// Found by the fuzz target: a NUL byte in a line left out went into the
/// header comment, which libsvc refuses ("NUL byte in line").
#[test]
fn control_characters_of_notes_do_not_break_the_header() {
    let d = tr(
        "x.service",
        "[Unit]\nDocumentation=x\0y\n[Service]\nExecStart=/bin/a\nLimitCORE=in*\0nity\nFoo=a\rb\u{1b}[31m\n",
    );
    assert_eq!(d.notes.len(), 2, "{:?}", whys(&d));
    valid(&d);
    let text = d.render();
    assert!(text.contains("LimitCORE=in*\\u{0}nity"), "{text}");
    assert!(text.contains("Foo=a\\rb\\u{1b}[31m"), "{text}");
}
