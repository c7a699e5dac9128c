//! The offline commands, run as the built binary on temporary trees.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::TempDir;

fn svcctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(args)
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .env_remove("SVC_SOCKET")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A small valid system: targets, a provider, a template, enablement.
fn good_tree() -> TempDir {
    let t = TempDir::new("good");
    t.write(
        "s/default.ini",
        "[target]\ndescription = normal\n[dependencies]\nrequires = boot\n",
    );
    t.write("s/boot.ini", "[target]\n[dependencies]\nwants = syslog\n");
    t.write(
        "s/logd.ini",
        "[service]\ndescription = logger\nexec = /bin/sleep 1000\n[dependencies]\nprovides = syslog\n",
    );
    t.write(
        "s/web.ini",
        "[service]\nexec = /bin/sleep 1000\n[dependencies]\nrequires = syslog\nafter = boot\nwanted-by = default\n",
    );
    t.write(
        "s/getty@.ini",
        "[service]\nexec = /bin/sleep %i\n[dependencies]\nafter = boot\n",
    );
    t.write("e/default/web", "");
    t.write("e/default/getty@1000", "");
    t
}

fn dirs(t: &TempDir) -> Vec<String> {
    vec![
        "--services".into(),
        t.path("s").display().to_string(),
        "--enabled".into(),
        t.path("e").display().to_string(),
    ]
}

fn run(t: &TempDir, args: &[&str]) -> Output {
    let mut all: Vec<String> = dirs(t);
    all.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    svcctl(&refs)
}

#[test]
fn check_good_set() {
    let t = good_tree();
    let out = run(&t, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "5 declarations, 1 template: 0 errors, 0 warnings\n"
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_reports_every_error_with_file_and_line() {
    let t = good_tree();
    t.write(
        "s/nginx.ini",
        "[service]\ndescription = nginx\n# a comment\nexce = /usr/sbin/nginx\nstop-timeout = soon\n[dependencies]\nrequires = nosuch\n",
    );
    t.write("s/other.ini", "[servce]\nexec = /bin/true\n");
    t.write(
        "s/needs.ini",
        "[service]\nexec = /bin/true\n[dependencies]\nrequires = nosuch\nwants = maybe\n",
    );
    let out = run(&t, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let nginx = t.path("s/nginx.ini").display().to_string();
    let other = t.path("s/other.ini").display().to_string();
    let needs = t.path("s/needs.ini").display().to_string();
    for expected in [
        format!("svcctl: {nginx}:4: unknown key 'exce' in [service]; did you mean 'exec'?"),
        format!("svcctl: {nginx}:5: invalid value for 'stop-timeout': expected a duration"),
        format!("svcctl: {nginx}:1: [service] needs 'exec', the command to run"),
        format!("svcctl: {other}:1: unknown section [servce]; did you mean [service]?"),
        format!("svcctl: {needs}:4: 'requires = nosuch': no declaration or provided name 'nosuch'"),
        format!("svcctl: {needs}:5: warning: 'wants = maybe': no declaration"),
        "errors, 1 warning".to_string(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_finds_cycles() {
    let t = TempDir::new("cycle");
    t.write(
        "s/a.ini",
        "[service]\nexec = /bin/true\n[dependencies]\nrequires = b\n",
    );
    t.write(
        "s/b.ini",
        "[service]\nexec = /bin/true\n[dependencies]\nafter = c\n",
    );
    t.write(
        "s/c.ini",
        "[service]\nexec = /bin/true\n[dependencies]\nbefore = d\nwants = a\n",
    );
    t.write("s/d.ini", "[service]\nexec = /bin/true\n");
    let out = svcctl(&["check", "--services", &t.path("s").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("dependency cycle: a -> b -> c -> a; a requires b"),
        "{err}"
    );
    assert!(
        err.contains(&format!("c wants a ({}:5)", t.path("s/c.ini").display())),
        "{err}"
    );
}

#[test]
fn check_given_files_and_json() {
    let t = good_tree();
    let bad = t.write("bad.ini", "[service]\nexec = /bin/true\nrestart = alway\n");
    let good = t.path("s/web.ini");
    let out = svcctl(&[
        "--json",
        "check",
        &good.display().to_string(),
        &bad.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["declarations"], 1);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 3);
    assert_eq!(d["file"], bad.display().to_string());
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("did you mean 'always'?")
    );
}

#[test]
fn check_host_dependent_things_are_warnings() {
    let t = TempDir::new("host");
    t.write(
        "s/x.ini",
        "[service]\nexec = /nonexistent/bin/x\nuser = no-such-user-here\nworking-directory = /nonexistent\n",
    );
    let out = svcctl(&["check", "--services", &t.path("s").display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(":2: warning: '/nonexistent/bin/x' does not exist on this host"),
        "{err}"
    );
    assert!(
        err.contains(":3: warning: user 'no-such-user-here' does not exist on this host"),
        "{err}"
    );
    assert!(
        err.contains(":4: warning: '/nonexistent' is not a directory on this host"),
        "{err}"
    );
}

#[test]
fn list_offline_text_and_json() {
    let t = good_tree();
    let out = run(&t, &["list", "--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.lines().next().unwrap().starts_with("NAME"));
    assert!(
        s.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["web", "service", "default"]),
        "{s}"
    );
    let out = run(&t, &["--json", "list", "--offline"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = doc["declarations"].as_array().unwrap();
    let by_name = |n: &str| items.iter().find(|i| i["name"] == n).unwrap().clone();
    assert_eq!(items.len(), 6);
    assert_eq!(by_name("default")["kind"], "target");
    assert_eq!(by_name("getty@")["kind"], "template");
    assert_eq!(by_name("getty@1000")["kind"], "service");
    assert_eq!(by_name("getty@1000")["instance_of"], "getty@");
    assert_eq!(
        by_name("getty@1000")["enabled_in"],
        serde_json::json!(["default"])
    );
    assert_eq!(by_name("logd")["provides"], serde_json::json!(["syslog"]));
    assert_eq!(by_name("logd")["description"], "logger");
    assert_eq!(by_name("boot")["description"], serde_json::Value::Null);
}

#[test]
fn graph_is_dot_with_labelled_edges() {
    let t = good_tree();
    let out = run(&t, &["graph"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(
        dot.starts_with("digraph svc {\n") && dot.ends_with("}\n"),
        "{dot}"
    );
    for edge in [
        "\"default\" -> \"boot\" [label=\"requires\"]",
        "\"boot\" -> \"syslog\" [label=\"wants\"",
        "\"logd\" -> \"syslog\" [label=\"provides\"",
        "\"web\" -> \"boot\" [label=\"after\"",
        "\"default\" -> \"web\" [label=\"enabled\"",
        "\"web\" -> \"syslog\" [label=\"requires\"]",
    ] {
        assert!(dot.contains(edge), "missing {edge} in\n{dot}");
    }
    // Only what boot pulls in.
    let out = run(&t, &["graph", "boot"]);
    let dot = text(&out.stdout);
    assert!(dot.contains("\"logd\""), "{dot}");
    assert!(!dot.contains("\"web\""), "{dot}");
    let out = run(&t, &["graph", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "svcctl: no declaration or provided name 'nosuch'\n"
    );
}

#[test]
fn services_from_the_environment() {
    let t = good_tree();
    let out = Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(["check"])
        .env(
            "SVC_SERVICES",
            format!("{}:{}", t.path("s").display(), t.path("more").display()),
        )
        .env_remove("SVC_ENABLED")
        .output()
        .unwrap();
    // `more` does not exist: named explicitly, that is an error.
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("svcctl: {}: not a directory\n", t.path("more").display())
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(svcctl(&["frobnicate"]).status.code(), Some(2));
    // `list` alone asks the manager; a bad option is still a usage error.
    assert_eq!(svcctl(&["list", "--bogus"]).status.code(), Some(2));
    assert_eq!(svcctl(&["start"]).status.code(), Some(2));
    assert_eq!(svcctl(&["completions", "tcsh"]).status.code(), Some(2));
    assert_eq!(svcctl(&["--version"]).status.code(), Some(0));
}

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = svcctl(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        let s = text(&out.stdout);
        assert!(
            s.contains("svcctl") && s.contains("check") && s.contains("services"),
            "{shell}"
        );
    }
}

#[test]
fn shipped_declarations_pass_check() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../services.d");
    let out = svcctl(&["check", "--services", &shipped.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Only host-dependent warnings (programs not installed here) may appear.
    for line in text(&out.stderr).lines() {
        assert!(line.contains(": warning: "), "{line}");
    }
    let out = svcctl(&[
        "--json",
        "list",
        "--offline",
        "--services",
        &shipped.display().to_string(),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    for n in [
        "sysinit",
        "boot",
        "default",
        "rescue",
        "syslogd",
        "crond",
        "getty@",
        "getty@tty1",
        "nginx",
        "user@",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // The early system is in the targets from the first boot: what
    // `svcctl graph` shows them pulling in, with no enablement at all.
    let empty = TempDir::new("no-enabled");
    for (target, members) in [
        (
            "sysinit",
            &[
                "hotplug",
                "devices",
                "modules",
                "root",
                "fsck",
                "localmount",
                "swap",
                "hostname",
                "sysctl",
                "clock",
                "seed",
                "bootmisc",
            ][..],
        ),
        ("boot", &["networking", "netmount"][..]),
        ("default", &["local", "consoles", "bootlogs"][..]),
    ] {
        let out = svcctl(&[
            "--services",
            &shipped.display().to_string(),
            "--enabled",
            &empty.0.display().to_string(),
            "graph",
            target,
        ]);
        let dot = text(&out.stdout);
        for m in members {
            // root and fsck are required: their failure ends the boot in
            // an emergency shell (docs/manager.md, "A failed sysinit").
            let edge = if ["root", "fsck"].contains(m) {
                "requires"
            } else {
                "wants"
            };
            assert!(
                dot.contains(&format!("\"{target}\" -> \"{m}\" [label=\"{edge}\"")),
                "{target} does not {edge} {m}:\n{dot}"
            );
        }
    }
}

#[test]
fn user_mode_reads_xdg_config_home() {
    let t = TempDir::new("user");
    t.write(
        "cfg/svc/services.d/mine.ini",
        "[service]\nexec = /bin/sleep 1000\n",
    );
    t.write("cfg/svc/enabled/default/mine", "");
    t.write("cfg/svc/services.d/default.ini", "[target]\n");
    let out = Command::new(env!("CARGO_BIN_EXE_svcctl"))
        .args(["--user", "--json", "list", "--offline"])
        .env("XDG_CONFIG_HOME", t.path("cfg"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = doc["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "mine")
        .unwrap()
        .clone();
    assert_eq!(mine["enabled_in"], serde_json::json!(["default"]));
}
