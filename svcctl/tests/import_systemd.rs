//! `svcctl import` on systemd units: the built binary on fixture units and
//! on the real units of Debian bookworm's nginx-common, openssh-server,
//! rsyslog and cron (fetched with `apt-get download` into
//! `$SVC_TEST_CACHE/import-debs`, unpacked with `dpkg-deb -x`, never
//! installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;
use common::TempDir;

fn svcctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(args)
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .env_remove("SVC_SOCKET")
        .env("SVC_RUNTIME_DIR", "/run/svc")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `svcctl --services T/s --enabled T/e import ARGS…`
fn import(t: &TempDir, args: &[&str]) -> Output {
    let s = t.path("s").display().to_string();
    let e = t.path("e").display().to_string();
    let mut all = vec!["--services", &s, "--enabled", &e, "import"];
    all.extend_from_slice(args);
    svcctl(&all)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const SIMPLE: &str = "[Unit]
Description=Example daemon
After=network.target

[Service]
ExecStart=/usr/bin/exampled --foreground
User=nobody
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
";

#[test]
fn a_fully_translated_unit_is_written_enabled_and_exits_0() {
    let t = TempDir::new("imp-simple");
    let unit = t.write("units/example.service", SIMPLE);
    let out = import(&t, &[unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = t.path("s/example.ini");
    assert_eq!(
        read(&written),
        format!(
            "# Imported by svcctl import from {}

[service]
description = Example daemon
exec = /usr/bin/exampled --foreground
user = nobody
restart = always
restart-delay = 2s
restart-delay-max = 2s

[dependencies]
after = networking sysinit
wanted-by = default
",
            unit.display()
        )
    );
    assert!(t.path("e/default/example").is_file());
    assert_eq!(
        text(&out.stdout),
        format!(
            "wrote {}\nenabled {}\n",
            written.display(),
            t.path("e/default/example").display()
        )
    );
    // What was written passes `svcctl check` on its own.
    let check = svcctl(&["check", written.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

#[test]
fn lines_left_out_are_printed_file_line_why_and_exit_1() {
    let t = TempDir::new("imp-notes");
    let unit = t.write(
        "units/x.service",
        "[Service]\nExecStart=/bin/sleep 100\nPrivateTmp=yes\n\n[Install]\nWantedBy=timers.target\n",
    );
    let out = import(&t, &[unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let u = unit.display();
    assert!(
        err.starts_with(&format!(
            "{u}:3: not imported: PrivateTmp=yes: sandboxing: svc has no equivalent\n\
             {u}:6: not imported: WantedBy=timers.target: no equivalent target in svc\n"
        )),
        "{err}"
    );
    assert!(err.contains("svcctl: partial import: 2 lines not imported, 0 errors"));
    // Partial, but written, with the notes in its header.
    let body = read(&t.path("s/x.ini"));
    assert!(body.contains(&format!("# {u}:3: not imported: PrivateTmp=yes")));
    assert!(!t.path("e").exists());
}

#[test]
fn dry_run_prints_and_writes_nothing() {
    let t = TempDir::new("imp-dry");
    let unit = t.write("units/example.service", SIMPLE);
    let out = import(&t, &["--dry-run", unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "# would write {}\n# would enable {}\n# Imported by",
            t.path("s/example.ini").display(),
            t.path("e/default/example").display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("exec = /usr/bin/exampled --foreground\n"));
    assert!(!t.path("s").exists() && !t.path("e").exists());
}

#[test]
fn an_existing_declaration_is_kept_unless_force() {
    let t = TempDir::new("imp-force");
    let unit = t.write("units/example.service", SIMPLE);
    let old = t.write("s/example.ini", "[service]\nexec = /bin/old\n");
    let out = import(&t, &[unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "svcctl: {}: exists; use --force to replace it",
            old.display()
        )),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(read(&old), "[service]\nexec = /bin/old\n");
    // --dry-run says so too.
    let out = import(&t, &["--dry-run", unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let out = import(&t, &["--force", unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(read(&old).contains("exec = /usr/bin/exampled --foreground"));
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(t.path("s"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["example.ini"]);
}

#[test]
fn write_dir_without_enabled_dir_enables_nothing() {
    let t = TempDir::new("imp-write");
    let unit = t.write("units/example.service", SIMPLE);
    let dir = t.path("elsewhere");
    let out = svcctl(&[
        "import",
        "--write",
        dir.to_str().unwrap(),
        unit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.join("example.ini").is_file());
    assert_eq!(
        text(&out.stdout),
        format!("wrote {}\n", dir.join("example.ini").display())
    );
}

#[test]
fn the_format_is_guessed_or_named() {
    let t = TempDir::new("imp-guess");
    // No .service suffix: recognised by its [Service] header.
    let unit = t.write(
        "units/plain",
        "[Service]\nExecStart=/bin/sleep 1\nRestart=no\n",
    );
    let out = import(&t, &[unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(t.path("s/plain.ini").is_file());
    let other = t.write("units/notes.txt", "just some text\n");
    let out = import(&t, &[other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "svcctl: {}: not imported: format not recognised",
            other.display()
        )),
        "{}",
        text(&out.stderr)
    );
    let out = import(&t, &["--from", "systemd", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no ExecStart="));
    // A bad --from is a usage error.
    let out = import(&t, &["--from", "upstart", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = svcctl(&["import"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn drafts_are_validated_as_check_does_and_invalid_ones_not_written() {
    let t = TempDir::new("imp-invalid");
    // A name whose supervisor socket path is over the 107-byte limit:
    // check's rule, not the importer's.
    let long = "n".repeat(90);
    let unit = t.write(
        &format!("units/{long}.service"),
        "[Service]\nExecStart=/bin/sleep 1\nRestart=no\n",
    );
    let out = import(&t, &[unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let file = t.path(&format!("s/{long}.ini"));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "svcctl: {}: supervisor socket path",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("not written"), "{err}");
    assert!(!file.exists());
}

#[test]
fn json_reports_the_same_as_data() {
    let t = TempDir::new("imp-json");
    let unit = t.write(
        "units/x.service",
        "[Service]\nExecStart=/bin/sleep 100\nProtectHome=yes\n[Install]\nWantedBy=multi-user.target\n",
    );
    let bad = t.write("units/y.socket", "[Socket]\nListenStream=1\n");
    let out = import(
        &t,
        &["--json", unit.to_str().unwrap(), bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["dry_run"], false);
    let d = &doc["declarations"][0];
    assert_eq!(d["name"], "x");
    assert_eq!(d["file"], t.path("s/x.ini").display().to_string());
    assert_eq!(d["written"], true);
    assert_eq!(d["enabled"][0], t.path("e/default/x").display().to_string());
    assert_eq!(d["sources"][0], unit.display().to_string());
    assert!(
        d["text"]
            .as_str()
            .unwrap()
            .contains("exec = /bin/sleep 100")
    );
    assert_eq!(
        doc["notes"],
        serde_json::json!([{
            "file": unit.display().to_string(),
            "line": 3,
            "why": "ProtectHome=yes: sandboxing: svc has no equivalent",
        }])
    );
    let e = &doc["errors"][0];
    assert_eq!(e["file"], bad.display().to_string());
    assert!(e["message"].as_str().unwrap().contains("a socket unit"));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn dropins_and_templates_from_files() {
    let t = TempDir::new("imp-dropin");
    let unit = t.write(
        "units/web@.service",
        "[Service]\nExecStart=/usr/bin/web --port %i\nRestart=always\n[Install]\nWantedBy=multi-user.target\n",
    );
    let d1 = t.write("units/web@.service.d/20-b.conf", "[Service]\nRestart=no\n");
    t.write(
        "units/web@.service.d/10-a.conf",
        "[Service]\nRestart=on-failure\nEnvironment=PORT=%i\n",
    );
    t.write("units/web@.service.d/ignored.txt", "[Service]\nUser=x\n");
    let out = import(&t, &[unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body = read(&t.path("s/web@.ini"));
    assert!(body.contains("exec = /usr/bin/web --port %i\n"), "{body}");
    assert!(body.contains("restart = never\n"), "{body}");
    assert!(body.contains("[environment]\nPORT = %i\n"), "{body}");
    assert!(body.contains(&format!("from {}\n", d1.display())), "{body}");
    assert!(!body.contains("user"));
    // A template is not enabled by itself.
    assert!(!t.path("e").exists());
    let check = svcctl(&["check", t.path("s/web@.ini").to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

// --- Debian bookworm's real units -----------------------------------------

const PACKAGES: &[&str] = &["nginx-common", "openssh-server", "rsyslog", "cron"];

/// The packages' files in the cache, fetched once per run if missing; None
/// (skipped) when they cannot be had here; under CI=true that is a failure
/// instead.
fn debian_debs() -> Option<&'static [PathBuf]> {
    static DEBS: OnceLock<Option<Vec<PathBuf>>> = OnceLock::new();
    DEBS.get_or_init(|| {
        let cache = std::env::var_os("SVC_TEST_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/cache/svc-tests"))
            .join("import-debs");
        let have = |p: &str| -> Option<PathBuf> {
            std::fs::read_dir(&cache).ok()?.find_map(|e| {
                let path = e.ok()?.path();
                let n = path.file_name()?.to_str()?.to_string();
                (n.starts_with(&format!("{p}_")) && n.ends_with(".deb")).then_some(path)
            })
        };
        if PACKAGES.iter().any(|p| have(p).is_none()) {
            let _ = std::fs::create_dir_all(&cache);
            let _ = Command::new("apt-get")
                .arg("download")
                .args(PACKAGES)
                .current_dir(&cache)
                .output();
        }
        let debs: Option<Vec<PathBuf>> = PACKAGES.iter().map(|p| have(p)).collect();
        if debs.is_none() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the Debian packages {PACKAGES:?} are not in {} and apt-get download failed; CI=true, where this test must run (tests/system/install-deps.sh fetches them)",
                cache.display()
            );
            eprintln!("skipped: Debian packages not available in {}", cache.display());
        }
        debs
    })
    .as_deref()
}

/// The packages unpacked into `t`/debian.
fn debian_tree(t: &TempDir) -> Option<PathBuf> {
    let dir = t.path("debian");
    for d in debian_debs()? {
        let st = Command::new("dpkg-deb")
            .arg("-x")
            .arg(d)
            .arg(&dir)
            .status()
            .expect("dpkg-deb");
        assert!(st.success(), "dpkg-deb -x {}", d.display());
    }
    Some(dir)
}

fn unit_path(tree: &Path, name: &str) -> PathBuf {
    tree.join("lib/systemd/system").join(name)
}

#[test]
fn debian_units_import_with_exactly_these_notes() {
    let t = TempDir::new("imp-debian");
    let Some(tree) = debian_tree(&t) else { return };
    let tree = tree.as_path();
    let units: Vec<PathBuf> = ["nginx", "ssh", "rsyslog", "cron"]
        .iter()
        .map(|n| unit_path(tree, &format!("{n}.service")))
        .collect();
    let args: Vec<&str> = units.iter().map(|p| p.to_str().unwrap()).collect();
    let out = import(&t, &args);
    // Each of them has something svc cannot carry over.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let u = |n: &str| unit_path(tree, n).display().to_string();
    let notes: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.contains(": not imported: "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        notes,
        vec![
            format!(
                "{}:16: not imported: After=nss-lookup.target: no equivalent target in svc",
                u("nginx.service")
            ),
            format!(
                "{}:24: not imported: ExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload: svc reloads by a signal only (reload-signal); a reload command is not run",
                u("nginx.service")
            ),
            format!(
                "{}:27: not imported: KillMode=mixed: svc sends the stop signal to every process of the service (its cgroup where cgroups are in use, else the main process and its process group), not to the main process alone",
                u("nginx.service")
            ),
            format!(
                "{}:5: not imported: ConditionPathExists=!/etc/ssh/sshd_not_to_be_run: svc checks no start conditions; the service is started regardless",
                u("ssh.service")
            ),
            format!(
                "{}:11: not imported: ExecReload=/usr/sbin/sshd -t: svc reloads by a signal only (reload-signal); a reload command is not run",
                u("ssh.service")
            ),
            format!(
                "{}:13: not imported: KillMode=process: svc kills every process of the service once the main process has exited; none outlives it",
                u("ssh.service")
            ),
            format!(
                "{}:15: not imported: RestartPreventExitStatus=255: no equivalent in svc (in [Service])",
                u("ssh.service")
            ),
            format!(
                "{}:3: not imported: Requires=syslog.socket: a socket unit; svc has no socket activation",
                u("rsyslog.service")
            ),
            format!(
                "{}:4: not imported: After=nss-user-lookup.target: no equivalent target in svc",
                u("cron.service")
            ),
            format!(
                "{}:10: not imported: KillMode=process: svc kills every process of the service once the main process has exited; none outlives it",
                u("cron.service")
            ),
        ]
    );
    let body = |n: &str| {
        let full = read(&t.path(&format!("s/{n}.ini")));
        // Without the header comments.
        full[full.find("\n[service]").expect("a [service] section")..].to_string()
    };
    assert_eq!(
        body("nginx"),
        "
[service]
description = A high performance web server and a reverse proxy server
type = forking
exec-pre = /usr/sbin/nginx -t -q -g 'daemon on; master_process on;'
exec = /usr/sbin/nginx -g 'daemon on; master_process on;'
exec-stop = /sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid
pidfile = /run/nginx.pid
restart = never
stop-timeout = 5s

[dependencies]
wants = networking
after = networking netmount sysinit
wanted-by = default
"
    );
    assert_eq!(
        body("ssh"),
        "
[service]
description = OpenBSD Secure Shell server
ready = sd-notify
exec-pre = /usr/sbin/sshd -t
exec = /bin/sh -c 'set -f; exec /usr/sbin/sshd -D $SSHD_OPTS'
reload-signal = HUP
runtime-directory = sshd
environment-file = -/etc/default/ssh
restart = on-failure

[dependencies]
after = networking auditd sysinit
wanted-by = default
provides = sshd
"
    );
    assert_eq!(
        body("rsyslog"),
        "
[service]
description = System Logging Service
ready = sd-notify
exec = /usr/sbin/rsyslogd -n -iNONE
restart = on-failure
limit-nofile = 16384

[dependencies]
wanted-by = default
provides = syslog
after = sysinit

[logging]
output = null
"
    );
    assert_eq!(
        body("cron"),
        "
[service]
description = Regular background program processing daemon
exec = /bin/sh -c 'set -f; exec /usr/sbin/cron -f $EXTRA_OPTS'
environment-file = -/etc/default/cron
restart = on-failure

[dependencies]
after = netmount sysinit
wanted-by = default
"
    );
    for n in ["nginx", "ssh", "rsyslog", "cron"] {
        assert!(t.path(&format!("e/default/{n}")).is_file(), "{n} enabled");
    }
    // The header says where each came from and what was left out.
    let nginx = read(&t.path("s/nginx.ini"));
    assert!(nginx.starts_with(&format!(
        "# Imported by svcctl import from {}\n# Documentation: man:nginx(8)\n# {}:16: not imported: After=nss-lookup.target",
        u("nginx.service"),
        u("nginx.service")
    )));
    // Everything written passes check, with the other files of the set.
    let check = svcctl(&["--services", t.path("s").to_str().unwrap(), "check"]);
    assert!(
        !text(&check.stderr).contains(": error"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn debian_units_other_than_services_are_refused() {
    let t = TempDir::new("imp-debian-other");
    let Some(tree) = debian_tree(&t) else { return };
    let tree = tree.as_path();
    let socket = unit_path(tree, "ssh.socket");
    let target = unit_path(tree, "rescue-ssh.target");
    let out = import(
        &t,
        &["--json", socket.to_str().unwrap(), target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["declarations"], serde_json::json!([]));
    let msgs: Vec<String> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["file"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        msgs,
        vec![
            format!(
                "{}: not imported: a socket unit: only services are imported; svc has no socket activation",
                socket.display()
            ),
            format!(
                "{}: not imported: a target unit: only services are imported; svc targets are written by hand (a target only groups services)",
                target.display()
            ),
        ]
    );
    assert!(!t.path("s").exists());
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let t = TempDir::new("imp-fifo");
    std::fs::create_dir_all(t.path("units")).unwrap();
    let fifo = t.path("units/x.service");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let plain = t.path("units/plain");
    // SAFETY: as above.
    let c = std::ffi::CString::new(plain.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(["import", "--write"])
        .arg(t.path("s"))
        .arg(&fifo)
        .arg(&plain)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a blocking open would never end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("svcctl import blocked on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: not imported: not a regular file (fifo)",
            fifo.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}: not imported: not a regular file (fifo)",
            plain.display()
        )),
        "{err}"
    );
}

#[test]
fn user_mode_writes_into_the_users_directories() {
    let t = TempDir::new("imp-user");
    let unit = t.write("units/example.service", SIMPLE);
    let out = Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(["--user", "import"])
        .arg(&unit)
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", t.path("home"))
        .env("SVC_RUNTIME_DIR", "/run/user/1000/svc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(t.path("home/.config/svc/services.d/example.ini").is_file());
    assert!(t.path("home/.config/svc/enabled/default/example").is_file());
}

#[test]
fn an_instance_file_takes_the_templates_dropins_too() {
    let t = TempDir::new("imp-inst");
    let unit = t.write(
        "units/web@8080.service",
        "[Service]\nExecStart=/usr/bin/web %i\n",
    );
    t.write(
        "units/web@.service.d/10-a.conf",
        "[Service]\nRestart=always\nNice=5\n",
    );
    t.write("units/web@.service.d/20-b.conf", "[Service]\nNice=7\n");
    t.write(
        "units/web@8080.service.d/10-a.conf",
        "[Service]\nRestart=on-failure\n",
    );
    let out = import(&t, &["--dry-run", unit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body = text(&out.stdout);
    assert!(body.contains("exec = /usr/bin/web 8080\n"), "{body}");
    // The instance's 10-a.conf replaces the template's; 20-b.conf applies.
    assert!(body.contains("restart = on-failure\n"), "{body}");
    assert!(body.contains("nice = 7\n"), "{body}");
    assert!(!body.contains("web@.service.d/10-a.conf"), "{body}");
}
