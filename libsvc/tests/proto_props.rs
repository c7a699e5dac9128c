//! Every protocol message round-trips: owned → nvlist → bytes → view →
//! typed gives back what went in, and where svc-supervise writes a message
//! with the borrowed, allocation-free form, that form writes the very
//! bytes the owned form packs.

use std::path::PathBuf;

use libnv::{NvList, NvView};
use libsvc::proto::{
    self, Answer, Declaration, Envelope, ErrorReply, Failure, Limit, ReadyWire, Report, Status,
    code,
};
use libsvc::{Account, Output, Resource, Restart, ServiceType};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Text as nvlist strings carry it: anything but NUL.
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}"
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_./-]{1,12}"
}

fn command() -> impl Strategy<Value = Vec<String>> {
    (word(), vec(text(), 0..3)).prop_map(|(p, mut rest)| {
        rest.insert(0, p);
        rest
    })
}

fn path() -> impl Strategy<Value = PathBuf> {
    word().prop_map(PathBuf::from)
}

fn ready() -> impl Strategy<Value = ReadyWire> {
    prop_oneof![
        Just(ReadyWire::Started),
        Just(ReadyWire::SdNotify),
        (0..=i32::MAX).prop_map(ReadyWire::NotifyFd),
        command().prop_map(ReadyWire::Check),
    ]
}

fn limits() -> impl Strategy<Value = Vec<Limit>> {
    vec(option::of((any::<u64>(), any::<u64>())), 16).prop_map(|set| {
        Resource::ALL
            .into_iter()
            .zip(set)
            .filter_map(|(resource, v)| {
                v.map(|(a, b)| Limit {
                    resource,
                    soft: a.min(b),
                    hard: a.max(b),
                })
            })
            .collect()
    })
}

fn account() -> impl Strategy<Value = Account> {
    prop_oneof![
        any::<u32>().prop_map(Account::Id),
        word().prop_map(Account::Name)
    ]
}

prop_compose! {
    fn declaration()(
        name in word(),
        exec in command(),
        service_type in option::of(prop_oneof![
            Just(ServiceType::Simple), Just(ServiceType::Oneshot), Just(ServiceType::Forking)
        ]),
        pidfile in option::of(path()),
        exec_pre in vec(command(), 0..3),
        exec_stop in option::of(command()),
        ready in option::of(ready()),
        times in vec(option::of(any::<u64>()), 7),
        restart in option::of(prop_oneof![
            Just(Restart::Always), Just(Restart::OnFailure), Just(Restart::Never)
        ]),
        restart_limit in option::of(any::<u32>()),
        signals in (option::of(1..=64i32), option::of(1..=64i32)),
        accounts in (option::of(word()), option::of(word()), vec(word(), 0..3)),
        dirs in (option::of(path()), option::of(path()), option::of(path())),
        umask in option::of(0..=0o777u32),
        environment_file in vec(word(), 0..3),
        flags in vec(option::of(any::<bool>()), 3),
        environment in vec(("[A-Z_]{1,8}", text()), 0..4),
        runtime_directory in vec(word(), 0..3),
        limits in limits(),
        nice in option::of(-20..=19i32),
        output in option::of(prop_oneof![
            Just(Output::File), Just(Output::Syslog), Just(Output::Console),
            Just(Output::Inherit), Just(Output::Null)
        ]),
        max_files in option::of(any::<u32>()),
        log in (option::of(path()), option::of(account()), option::of(path())),
    ) -> Declaration {
        let mut d = Declaration::new(&name, exec);
        d.service_type = service_type;
        d.pidfile = pidfile;
        d.exec_pre = exec_pre;
        d.exec_stop = exec_stop;
        d.ready = ready;
        d.ready_timeout_ms = times[0];
        d.restart_delay_ms = times[1];
        d.restart_delay_max_ms = times[2];
        d.restart_reset_ms = times[3];
        d.stop_timeout_ms = times[4];
        d.max_size = times[5];
        d.ready_check_interval_ms = times[6];
        d.restart = restart;
        d.restart_limit = restart_limit;
        (d.stop_signal, d.reload_signal) = signals;
        (d.user, d.group, d.supplementary_groups) = accounts;
        (d.working_directory, d.root_directory, d.runtime_root) = dirs;
        d.umask = umask;
        d.environment_file = environment_file;
        d.clear_environment = flags[0];
        d.no_new_privileges = flags[1];
        d.timestamps = flags[2];
        d.environment = environment;
        d.runtime_directory = runtime_directory;
        d.limits = limits;
        d.nice = nice;
        d.output = output;
        d.max_files = max_files;
        (d.log_dir, d.log_group, d.syslog_path) = log;
        d
    }
}

prop_compose! {
    fn status()(
        state in word(),
        numbers in (any::<u64>(), any::<u64>(), any::<u64>()),
        exits in (option::of(any::<u64>()), option::of(any::<u64>())),
        wanted in word(),
        reason in option::of(text()),
        status_text in option::of(text()),
    ) -> Status {
        Status {
            state: state.into(),
            pid: numbers.0,
            since: numbers.1,
            restarts: numbers.2,
            last_exit_status: exits.0,
            last_exit_signal: exits.1,
            wanted: wanted.into(),
            reason,
            status_text,
        }
    }
}

/// Runs `test` on generated declarations in a thread with room: the
/// declaration strategy's value tree overflows a test thread's stack in
/// debug builds.
fn for_declarations(test: impl Fn(Declaration) -> Result<(), TestCaseError> + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut runner = proptest::test_runner::TestRunner::default();
            if let Err(e) = runner.run(&declaration(), test) {
                panic!("{e}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn declarations_round_trip() {
    for_declarations(|d| {
        let bytes = d.to_nvlist().unwrap().pack().unwrap();
        let view = NvView::new(&bytes).unwrap();
        prop_assert_eq!(Declaration::from_view(&view).unwrap(), d);
        Ok(())
    });
}

#[test]
fn declare_requests_round_trip() {
    for_declarations(|d| {
        let id = d.name.len() as u64;
        let start = d.exec.len() % 2 == 0;
        let mut req = proto::message(id, proto::method::DECLARE, false);
        req.add_nvlist(proto::key::SERVICE, d.to_nvlist().unwrap())
            .unwrap();
        req.add_bool(proto::key::START, start).unwrap();
        let bytes = req.pack().unwrap();
        let r = proto::parse_request(NvView::new(&bytes).unwrap()).unwrap();
        prop_assert_eq!((r.id, r.method), (id, proto::method::DECLARE));
        prop_assert_eq!(r.args.get_bool(proto::key::START), Some(start));
        let service = r.args.get_nvlist(proto::key::SERVICE).unwrap();
        prop_assert_eq!(Declaration::from_view(&service).unwrap(), d);
        Ok(())
    });
}

fn packed_by_writer(write: impl FnOnce(&mut Vec<u8>) -> libnv::Result<()>) -> Vec<u8> {
    let mut buf = Vec::new();
    write(&mut buf).unwrap();
    buf
}

proptest! {
    #[test]
    fn statuses_round_trip_and_both_forms_agree(s in status()) {
        let owned = s.to_nvlist().unwrap().pack().unwrap();
        prop_assert_eq!(Status::from_view(&NvView::new(&owned).unwrap()), Some(s.clone()));
        let borrowed = packed_by_writer(|buf| {
            let mut w = libnv::NvWriter::new(buf, libnv::Flags::NONE);
            s.as_ref().write_to(&mut w)?;
            w.finish().map(drop)
        });
        prop_assert_eq!(borrowed, owned);
    }

    #[test]
    fn reports_round_trip_and_both_forms_agree(
        s in status(), name in word(), dropped in any::<u64>(), id in any::<u64>(),
        reply in any::<bool>(), method in word(),
    ) {
        let report = Report {
            envelope: Envelope { id, method: &method, reply },
            name: &name,
            status: s.as_ref(),
            log_dropped: dropped,
        };
        let owned = report.to_nvlist().unwrap().pack().unwrap();
        let borrowed = packed_by_writer(|buf| report.write(buf));
        prop_assert_eq!(&borrowed, &owned);
        let view = NvView::new(&borrowed).unwrap();
        prop_assert_eq!(Status::from_view(&view), Some(s));
        prop_assert_eq!(view.get_str(proto::key::NAME), Some(name.as_str()));
        prop_assert_eq!(view.get_number(proto::key::LOG_DROPPED), Some(dropped));
        let answer = Answer::from_view(&view);
        prop_assert_eq!(
            (answer.id, answer.method.as_str(), answer.reply, answer.error),
            (Some(id), method.as_str(), reply, None)
        );
    }

    #[test]
    fn envelopes_round_trip_and_both_forms_agree(
        id in any::<u64>(), method in word(), names in vec(word(), 0..4),
    ) {
        let e = Envelope::request(id, &method);
        let owned = e.to_nvlist().pack().unwrap();
        let borrowed = packed_by_writer(|buf| e.begin(buf)?.finish().map(drop));
        prop_assert_eq!(&borrowed, &owned);

        let mut req = e.to_nvlist();
        if !names.is_empty() {
            proto::add_names(&mut req, &names).unwrap();
        }
        let bytes = req.pack().unwrap();
        let r = proto::parse_request(NvView::new(&bytes).unwrap()).unwrap();
        prop_assert_eq!((r.id, r.method), (id, method.as_str()));
        prop_assert_eq!(proto::names(&r.args).unwrap(), names.clone());
        let wanted = proto::Names::from_view(&r.args).unwrap();
        for n in &names {
            prop_assert!(wanted.includes(n));
        }
        prop_assert_eq!(wanted.includes("not-asked-for-"), names.is_empty());
    }

    #[test]
    fn error_replies_round_trip_and_both_forms_agree(
        id in any::<u64>(), method in word(), code in 1..=7u64, text in text(),
    ) {
        let e = ErrorReply { id, method: &method, code, text: &text };
        let owned = e.to_nvlist();
        let borrowed = packed_by_writer(|buf| e.write(buf));
        prop_assert_eq!(&borrowed, &owned.pack().unwrap());
        let answer = Answer::from_nvlist(&owned);
        prop_assert_eq!(answer.clone(), Answer::from_view(&NvView::new(&borrowed).unwrap()));
        prop_assert_eq!(answer.id, Some(id));
        prop_assert!(answer.reply);
        prop_assert_eq!(answer.error, Some(Failure::new(code, text)));
    }
}

#[test]
fn requests_that_are_no_requests_are_named() {
    let reply = proto::message(3, "status", true).pack().unwrap();
    let e = proto::parse_request(NvView::new(&reply).unwrap()).unwrap_err();
    assert_eq!((e.id, e.code), (3, code::NOT_A_REQUEST));
    let mut l = NvList::new();
    l.add_number(proto::key::ID, 5).unwrap();
    l.add_number(proto::key::VERSION, 2).unwrap();
    let bytes = l.pack().unwrap();
    let e = proto::parse_request(NvView::new(&bytes).unwrap()).unwrap_err();
    assert_eq!((e.id, e.code), (5, code::INVALID_ENVELOPE));
}

#[test]
fn declaration_errors_name_the_key() {
    let mut d = Declaration::new("x", vec!["/bin/true".into()]);
    d.umask = Some(0o777);
    let mut l = d.to_nvlist().unwrap();
    l.remove("umask");
    l.add_number("umask", 0o1000).unwrap();
    l.add_string("stop_signal", "SIGNOPE").unwrap();
    let bytes = l.pack().unwrap();
    let e = Declaration::from_view(&NvView::new(&bytes).unwrap()).unwrap_err();
    assert!(e.contains("'stop_signal'") || e.contains("'umask'"), "{e}");
    let mut l = NvList::new();
    l.add_string("name", "x").unwrap();
    let bytes = l.pack().unwrap();
    let e = Declaration::from_view(&NvView::new(&bytes).unwrap()).unwrap_err();
    assert!(e.contains("'exec'"), "{e}");
}

#[test]
fn the_cgroup_and_how_to_enter_it_round_trip_and_a_bad_value_is_named() {
    use libsvc::proto::CgroupFork;
    for fork in [
        None,
        Some(CgroupFork::Always),
        Some(CgroupFork::UntilKilled),
    ] {
        let mut d = Declaration::new("web", vec!["/bin/true".into()]);
        d.cgroup = Some(PathBuf::from("/sys/fs/cgroup/svc/web/service"));
        d.cgroup_fork = fork;
        let bytes = d.to_nvlist().unwrap().pack().unwrap();
        let view = NvView::new(&bytes).unwrap();
        assert_eq!(Declaration::from_view(&view).unwrap(), d);
    }
    let mut l = Declaration::new("web", vec!["/bin/true".into()])
        .to_nvlist()
        .unwrap();
    l.add_string("cgroup_fork", "sometimes").unwrap();
    let bytes = l.pack().unwrap();
    let err = Declaration::from_view(&NvView::new(&bytes).unwrap()).unwrap_err();
    assert!(err.to_string().contains("cgroup_fork"), "{err}");
}
