//! `svcctl import` of OpenRC scripts, LSB init scripts and runit service
//! directories, run as the built binary: our fixtures (tests/fixtures/),
//! and the real files of Debian bookworm's openrc, nginx-common,
//! openssh-server, cron, rsyslog and runit-services packages, downloaded
//! with `apt-get download` into `$SVC_TEST_CACHE/import-debs` (default
//! /var/cache/svc-tests) and unpacked with `dpkg-deb -x` into a temporary
//! directory; nothing is installed on the host.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::TempDir;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `svcctl --enabled T/e import --write T/s ARGS…`
fn import(t: &TempDir, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .arg("--enabled")
        .arg(t.path("e"))
        .arg("import")
        .arg("--write")
        .arg(t.path("s"))
        .args(args)
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .output()
        .unwrap();
    // Never a panic, whatever the input.
    assert_ne!(out.status.code(), Some(101), "{}", text(&out.stderr));
    assert!(out.status.code().is_some(), "killed: {}", text(&out.stderr));
    out
}

fn written(t: &TempDir, name: &str) -> String {
    std::fs::read_to_string(t.path(&format!("s/{name}.ini")))
        .unwrap_or_else(|e| panic!("{name}.ini not written: {e}"))
}

fn fx(rel: &str) -> String {
    fixtures().join(rel).display().to_string()
}

#[test]
fn openrc_fixture_is_imported_with_a_note_per_line_left_out() {
    let t = TempDir::new("imp-openrc");
    let out = import(&t, &[&fx("openrc/init.d/webapp")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ini = written(&t, "webapp");
    for line in [
        "exec = /usr/bin/webapp --port 9090 --workers 4 --title 'my app' --no-daemon",
        "user = webapp",
        "group = www",
        "working-directory = /var/lib/webapp",
        "root-directory = /srv/jail",
        "umask = 027",
        "restart-delay = 3s",
        "restart-limit = 5",
        "stop-timeout = 30s",
        "limit-nofile = 4096",
        "limit-core = infinity",
        "runtime-directory = webapp",
        "reload-signal = USR1",
        "requires = networking localmount postgresql",
        "wants = syslog dns cache",
        "provides = http-server",
    ] {
        assert!(ini.contains(line), "missing '{line}' in:\n{ini}");
    }
    let script = fx("openrc/init.d/webapp");
    for n in [
        ":15: not imported: output_log=",
        ":21: not imported: capabilities=",
        ":22: not imported: extra_commands=checkconfig",
        ":29: not imported: after *",
    ] {
        assert!(err.contains(&format!("{script}{n}")), "no '{n}' in:\n{err}");
    }
    assert!(
        t.path("e/default/webapp").exists(),
        "enabled from runlevels/default"
    );
    assert!(err.contains("partial import"), "{err}");
}

#[test]
fn openrc_full_imports_exit_zero() {
    let t = TempDir::new("imp-openrc-full");
    let out = import(
        &t,
        &[
            &fx("openrc/init.d/bgdaemon"),
            &fx("openrc/init.d/plainstart"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(written(&t, "bgdaemon").contains("exec = /usr/sbin/bgdaemon -v\n"));
    assert!(written(&t, "plainstart").contains("user = nobody\n"));
}

#[test]
fn openrc_custom_start_writes_nothing_and_names_the_line() {
    let t = TempDir::new("imp-openrc-custom");
    let out = import(&t, &[&fx("openrc/init.d/customstart")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}:5: not imported: start() (line 3) runs 'modprobe -q dummy'",
            fx("openrc/init.d/customstart")
        )),
        "{err}"
    );
    assert!(!t.path("s/customstart.ini").exists());
}

#[test]
fn openrc_template_is_written_as_a_template() {
    let t = TempDir::new("imp-openrc-tty");
    let out = import(&t, &[&fx("openrc/init.d/tty")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(written(&t, "tty@").contains("exec = /sbin/getty 38400 %i\n"));
}

#[test]
fn lsb_fixtures() {
    let t = TempDir::new("imp-lsb");
    let out = import(
        &t,
        &[&fx("lsb/init.d/exampled"), &fx("lsb/init.d/clocksave.sh")],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ini = written(&t, "exampled");
    for line in [
        "type = forking",
        "pidfile = /run/exampled.pid",
        "exec = /usr/sbin/exampled --config /etc/exampled.conf --verbose --log-level warn",
        "requires = localmount netmount networking syslog",
        "stop-timeout = 20s",
    ] {
        assert!(ini.contains(line), "missing '{line}' in:\n{ini}");
    }
    assert!(t.path("e/default/exampled").exists());
    assert!(
        err.contains(&format!(
            "{}:11: not imported: the start action runs no start-stop-daemon",
            fx("lsb/init.d/clocksave.sh")
        )),
        "{err}"
    );
    assert!(!t.path("s/clocksave.ini").exists());
    let t = TempDir::new("imp-lsb-bg");
    let out = import(&t, &[&fx("lsb/init.d/bgonly")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(t.path("e/boot/bgonly").exists());
}

#[test]
fn runit_fixtures() {
    let t = TempDir::new("imp-runit");
    let out = import(&t, &[&fx("runit/webd"), &fx("runit/quiet")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ini = written(&t, "webd");
    assert!(
        ini.contains("exec = /usr/bin/webd --port 8080 --threads 4\n"),
        "{ini}"
    );
    assert!(
        ini.contains(&format!("ready = check {}\n", fx("runit/webd/check"))),
        "{ini}"
    );
    assert!(ini.contains("MODE = production\n"), "{ini}");
    assert!(
        err.contains(&format!(
            "{}: not imported: a log service",
            fx("runit/webd/log/run")
        )),
        "{err}"
    );
    assert!(written(&t, "quiet").contains("exec = /usr/bin/quietd -f\n"));
    assert!(t.path("e/default/webd").exists());
    assert!(
        !t.path("e/default/quiet").exists(),
        "a down file: not enabled"
    );
}

#[test]
fn formats_are_guessed_and_reported_as_json() {
    let t = TempDir::new("imp-json");
    let out = Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(["--json", "import", "--dry-run", "--write"])
        .arg(t.path("s"))
        .args([
            fx("openrc/init.d/forker"),
            fx("lsb/init.d/startd"),
            fx("runit/quiet"),
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let names: Vec<&str> = v["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["forker", "startd", "quiet"]);
    let notes = v["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["line"] == 7 && n["why"].as_str().unwrap().starts_with("required_files=")),
        "{notes:?}"
    );
    assert!(!t.path("s").exists(), "--dry-run writes nothing");
}

// ---- the real Debian packages ------------------------------------------

fn cache() -> PathBuf {
    PathBuf::from(std::env::var("SVC_TEST_CACHE").unwrap_or_else(|_| "/var/cache/svc-tests".into()))
        .join("import-debs")
}

/// The cached `PKG_*.deb`, downloaded when missing (and possible).
fn deb(pkg: &str) -> Option<PathBuf> {
    let dir = cache();
    let find = || {
        std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
            })
    };
    if let Some(p) = find() {
        return Some(p);
    }
    // Downloaded into a fresh directory, then moved: a reader never sees half.
    let tmp = dir.join(format!(".dl-{pkg}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    // apt-get drops privileges to _apt when it can write there.
    let _ = Command::new("chown").arg("_apt").arg(&tmp).output();
    let ok = Command::new("apt-get")
        .args(["download", "-qq", pkg])
        .current_dir(&tmp)
        .output()
        .is_ok_and(|o| o.status.success());
    if ok
        && let Some(f) = std::fs::read_dir(&tmp)
            .ok()
            .and_then(|mut r| r.next())
            .and_then(|e| e.ok())
    {
        let _ = std::fs::rename(f.path(), dir.join(f.file_name()));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    find()
}

/// The packages unpacked into one temporary tree, or None (skipped) when
/// they cannot be had; under CI=true that is a failure.
fn debian_tree(test: &str, pkgs: &[&str]) -> Option<TempDir> {
    let t = TempDir::new(test);
    for pkg in pkgs {
        let Some(d) = deb(pkg) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: the Debian package {pkg} is not in {} and could not be downloaded \
                 (tests/system/install-deps.sh fetches it); CI=true, where it must run",
                cache().display()
            );
            eprintln!("{test}: skipped: Debian package {pkg} not available");
            return None;
        };
        let st = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&d)
            .arg(t.path("root"))
            .status()
            .expect("dpkg-deb");
        assert!(st.success(), "dpkg-deb -x {}", d.display());
    }
    Some(t)
}

#[test]
fn debian_lsb_scripts_of_nginx_ssh_and_cron() {
    let Some(t) = debian_tree(
        "debian_lsb_scripts",
        &["nginx-common", "openssh-server", "cron", "rsyslog"],
    ) else {
        return;
    };
    let root = t.path("root");
    // bookworm's rsyslog ships a systemd unit and no init script.
    assert!(!root.join("etc/init.d/rsyslog").exists());
    let p = |n: &str| root.join("etc/init.d").join(n).display().to_string();
    let out = import(&t, &[&p("nginx"), &p("ssh"), &p("cron")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let nginx = written(&t, "nginx");
    assert!(
        nginx.contains("exec = /usr/sbin/nginx -g 'daemon off;'\n"),
        "{nginx}"
    );
    assert!(nginx.contains("stop-signal = QUIT\n"), "{nginx}");
    assert!(nginx.contains("reload-signal = HUP\n"), "{nginx}");
    assert!(
        nginx.contains("requires = localmount netmount networking syslog\n"),
        "{nginx}"
    );
    assert!(
        err.contains(&format!(
            "{}:5: not imported: Required-Start $named",
            p("nginx")
        )),
        "{err}"
    );
    let ssh = written(&t, "ssh");
    assert!(ssh.contains("exec = /usr/sbin/sshd -D\n"), "{ssh}");
    assert!(ssh.contains("runtime-directory = sshd\n"), "{ssh}");
    assert!(ssh.contains("provides = sshd\n"), "{ssh}");
    assert!(
        ssh.contains(&format!("from {}", root.join("etc/default/ssh").display())),
        "{ssh}"
    );
    let cron = written(&t, "cron");
    assert!(cron.contains("exec = /usr/sbin/cron -f\n"), "{cron}");
    assert!(cron.contains("requires = netmount syslog\n"), "{cron}");
    for n in ["nginx", "ssh", "cron"] {
        assert!(t.path(&format!("e/default/{n}")).exists(), "{n} enabled");
    }
}

#[test]
fn debian_runit_directories() {
    let Some(t) = debian_tree("debian_runit_dirs", &["runit-services", "openssh-server"]) else {
        return;
    };
    let sv = t.path("root/usr/share/runit/sv");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&sv)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    assert!(dirs.len() > 20, "{dirs:?}");
    // Every directory: written, or refused with a reason; never a panic.
    let args: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = import(&t, &refs);
    let err = text(&out.stderr);
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy();
        let file = t.path(&format!("s/{name}.ini"));
        assert!(
            file.exists() || err.contains(&format!("{}", d.display())),
            "{name}: neither written nor reported:\n{err}"
        );
    }
    assert!(written(&t, "rsyslog").contains("exec = /usr/sbin/rsyslogd -n -iNONE\n"));
    assert!(written(&t, "cron").contains("exec = cron -f\n"));
    let dbus = written(&t, "dbus");
    assert!(
        dbus.contains(&format!(
            "ready = check {}\n",
            sv.join("dbus/check").display()
        )),
        "{dbus}"
    );

    let t2 = TempDir::new("debian_runit_ssh");
    let ssh_dir = t.path("root/etc/sv/ssh");
    let out = import(&t2, &[&ssh_dir.display().to_string()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ssh = written(&t2, "ssh");
    assert!(ssh.contains("exec = /usr/sbin/sshd -D -e\n"), "{ssh}");
    assert!(ssh.contains("runtime-directory = sshd\n"), "{ssh}");
    assert!(
        err.contains(&format!(
            "{}:17: not imported: '/usr/sbin/sshd -t'",
            ssh_dir.join("run").display()
        )),
        "{err}"
    );
}

#[test]
fn every_script_of_debian_openrc_imports_or_is_refused_clearly() {
    let Some(t) = debian_tree("debian_openrc", &["openrc"]) else {
        return;
    };
    let initd = t.path("root/etc/init.d");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&initd)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    scripts.sort();
    let names: Vec<String> = scripts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["agetty", "cgroups", "rc", "rcS", "savecache"]);
    let args: Vec<String> = scripts.iter().map(|d| d.display().to_string()).collect();
    let mut all = vec!["--from", "openrc"];
    all.extend(args.iter().map(String::as_str));
    let out = import(&t, &all);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let p = |n: &str| initd.join(n).display().to_string();
    // agetty: multiplexed (agetty.tty1) → a template.
    let agetty = written(&t, "agetty@");
    assert!(
        agetty.contains("exec = /sbin/agetty %i linux\n"),
        "{agetty}"
    );
    assert!(agetty.contains("provides = getty\n"), "{agetty}");
    assert!(
        err.contains(&format!(
            "{}:34: not imported: start_pre(): 'EINFO_QUIET=",
            p("agetty")
        )),
        "{err}"
    );
    // Runlevel helpers: refused, each with its reason.
    assert!(
        err.contains(&format!("{}:", p("cgroups"))) && err.contains("start() (line 149) runs"),
        "{err}"
    );
    assert!(err.contains(&format!("{}:", p("savecache"))), "{err}");
    for n in ["rc", "rcS"] {
        assert!(
            err.contains(&format!(
                "{}:1: not imported: not an openrc-run script",
                p(n)
            )),
            "{n}: {err}"
        );
    }
    for n in ["cgroups", "savecache", "rc", "rcS"] {
        assert!(!t.path(&format!("s/{n}.ini")).exists(), "{n} written");
    }
}
