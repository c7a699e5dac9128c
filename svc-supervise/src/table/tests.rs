use super::*;

use Event as E;
use State as S;

/// A lifecycle sitting in `state` the way the driver would leave it there.
fn in_state(state: State) -> Lifecycle {
    let want = match state {
        S::Starting | S::Running | S::Ready | S::Backoff => Want::Up,
        S::Down | S::Stopping | S::Failed | S::Finished => Want::Down,
    };
    Lifecycle {
        state,
        want,
        started_at_ms: 500,
        ..Lifecycle::default()
    }
}

const NOW: u64 = 1_000;

fn step(l: &mut Lifecycle, e: Event, p: &Policy) -> Actions {
    l.step(
        e,
        &Ctx {
            policy: p,
            now_ms: NOW,
        },
    )
}

/// The state every cell leads to, with the default policy (restart always,
/// ready on spawn, a 500 ms run counts as a quick crash).
#[rustfmt::skip]
const EXPECTED: [[State; EVENT_COUNT]; STATE_COUNT] = [
    //            WantUp      WantOnce    WantDown    WantRestart Killed      PreDone     Spawned     StartFailed Ready       Stopping    ExitOk      ExitFail    Timeout
    /* down */    [S::Starting, S::Starting, S::Down,   S::Starting, S::Down,   S::Down,    S::Down,    S::Down,    S::Down,    S::Down,    S::Down,    S::Down,    S::Down],
    /* starting */[S::Starting, S::Starting, S::Stopping, S::Stopping, S::Starting, S::Running, S::Starting, S::Starting, S::Starting, S::Starting, S::Starting, S::Starting, S::Stopping],
    /* running */ [S::Running, S::Running, S::Stopping, S::Stopping, S::Running, S::Running, S::Ready,   S::Starting, S::Ready,   S::Stopping, S::Starting, S::Starting, S::Stopping],
    /* ready */   [S::Ready,   S::Ready,   S::Stopping, S::Stopping, S::Ready,   S::Ready,   S::Ready,   S::Ready,   S::Ready,   S::Stopping, S::Starting, S::Starting, S::Ready],
    /* stopping */[S::Stopping, S::Stopping, S::Stopping, S::Stopping, S::Stopping, S::Down,  S::Stopping, S::Down,   S::Stopping, S::Stopping, S::Down,    S::Down,    S::Stopping],
    /* backoff */ [S::Backoff, S::Backoff, S::Down,    S::Starting, S::Down,    S::Backoff, S::Backoff, S::Backoff, S::Backoff, S::Backoff, S::Backoff, S::Backoff, S::Starting],
    /* failed */  [S::Starting, S::Starting, S::Down,   S::Starting, S::Failed, S::Failed,  S::Failed,  S::Failed,  S::Failed,  S::Failed,  S::Failed,  S::Failed,  S::Failed],
    /* finished */[S::Starting, S::Starting, S::Down,   S::Starting, S::Finished, S::Finished, S::Finished, S::Finished, S::Finished, S::Finished, S::Finished, S::Finished, S::Finished],
];

#[test]
fn every_cell_leads_where_the_table_says() {
    let p = Policy::default();
    for s in State::ALL {
        for e in Event::ALL {
            let mut l = in_state(s);
            step(&mut l, e, &p);
            assert_eq!(
                l.state,
                EXPECTED[s as usize][e as usize],
                "({}, {:?})",
                s.name(),
                e
            );
        }
    }
}

#[test]
fn every_cell_gives_coherent_actions() {
    let p = Policy::default();
    for s in State::ALL {
        for e in Event::ALL {
            let mut l = in_state(s);
            let a = step(&mut l, e, &p);
            let cell = format!("({}, {:?})", s.name(), e);
            // Entering Starting always runs the pre commands under a ready timer.
            if l.state == S::Starting && s != S::Starting {
                assert!(a.run_pre, "{cell}: run_pre");
                assert_eq!(a.arm_timer, Some(p.ready_timeout_ms), "{cell}: timer");
            }
            // A start from rest prepares; a respawn counts as a restart.
            if l.state == S::Starting && matches!(s, S::Down | S::Failed | S::Finished) {
                assert!(a.prepare && !a.count_restart, "{cell}: prepare");
            }
            if l.state == S::Starting && matches!(s, S::Running | S::Ready | S::Backoff) {
                assert!(a.count_restart, "{cell}: count_restart");
            }
            // Entering Stopping from a running state signals and arms the stop timer.
            if l.state == S::Stopping && s != S::Stopping && e != E::Stopping {
                assert!(a.signal_stop, "{cell}: signal_stop");
                assert_eq!(a.arm_timer, Some(p.stop_timeout_ms), "{cell}: timer");
            }
            if l.state == S::Stopping && e == E::Stopping {
                assert!(!a.signal_stop, "{cell}: the service stops itself");
            }
            // Only a running main command can be spawned; only entering
            // Running spawns it.
            assert_eq!(
                a.spawn,
                s == S::Starting && e == E::PreDone,
                "{cell}: spawn"
            );
            assert_eq!(
                a.kill_all,
                s == S::Stopping && e == E::Timeout,
                "{cell}: kill_all"
            );
            // Reaching a resting state with nothing left disarms the timer.
            if matches!(l.state, S::Down | S::Failed | S::Finished | S::Ready) && l.state != s {
                assert!(a.disarm_timer, "{cell}: disarm");
            }
            if matches!(l.state, S::Down | S::Failed) && s.has_process() {
                assert!(a.cleanup, "{cell}: cleanup");
            }
            // A resting state never keeps wanting up.
            if matches!(l.state, S::Down | S::Failed) {
                assert_eq!(l.want, Want::Down, "{cell}: want");
            }
        }
    }
}

#[test]
fn a_crash_restarts_at_once_then_backs_off_doubling_to_the_max() {
    let p = Policy {
        restart_delay_ms: 100,
        restart_delay_max_ms: 1_000,
        ..Policy::default()
    };
    let mut l = in_state(S::Ready);
    let mut delays = Vec::new();
    for _ in 0..8 {
        l.state = S::Ready;
        l.started_at_ms = NOW - 10;
        let a = step(&mut l, E::ExitFail, &p);
        match l.state {
            S::Starting => delays.push(0),
            S::Backoff => {
                delays.push(a.arm_timer.unwrap());
                step(&mut l, E::Timeout, &p);
                assert_eq!(l.state, S::Starting);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000, 1000]);
    assert_eq!(l.failures, 8);
}

#[test]
fn a_healthy_run_resets_the_backoff() {
    let p = Policy::default();
    let mut l = in_state(S::Ready);
    l.failures = 5;
    l.started_at_ms = 0;
    let a = l.step(
        E::ExitFail,
        &Ctx {
            policy: &p,
            now_ms: p.restart_reset_ms + 1,
        },
    );
    assert_eq!(l.state, S::Starting);
    assert_eq!(l.failures, 0);
    assert!(a.count_restart && a.run_pre && a.reap_group);
}

#[test]
fn restart_limit_leaves_it_failed() {
    let p = Policy {
        restart_limit: 3,
        ..Policy::default()
    };
    let mut l = in_state(S::Ready);
    for _ in 0..2 {
        l.state = S::Ready;
        step(&mut l, E::ExitFail, &p);
        if l.state == S::Backoff {
            step(&mut l, E::Timeout, &p);
        }
        assert_eq!(l.state, S::Starting);
    }
    l.state = S::Ready;
    let a = step(&mut l, E::ExitFail, &p);
    assert_eq!(l.state, S::Failed);
    assert_eq!(l.reason, Reason::RestartLimit);
    assert_eq!(l.want, Want::Down);
    assert!(a.cleanup);
}

#[test]
fn start_failures_count_toward_the_limit() {
    let p = Policy {
        restart_limit: 2,
        ..Policy::default()
    };
    let mut l = Lifecycle::default();
    step(&mut l, E::WantUp, &p);
    step(&mut l, E::StartFailed, &p);
    assert_eq!(l.state, S::Starting);
    step(&mut l, E::PreDone, &p);
    assert_eq!(l.state, S::Running);
    step(&mut l, E::StartFailed, &p);
    assert_eq!(l.state, S::Failed);
}

#[test]
fn oneshot_success_is_finished_and_failure_is_failed() {
    let p = Policy {
        oneshot: true,
        restart: RestartPolicy::Never,
        ..Policy::default()
    };
    let mut l = Lifecycle::default();
    step(&mut l, E::WantUp, &p);
    step(&mut l, E::PreDone, &p);
    let a = step(&mut l, E::Spawned, &p);
    assert_eq!(l.state, S::Running, "a oneshot is not ready while it runs");
    assert!(!a.watch_ready);
    step(&mut l, E::ExitOk, &p);
    assert_eq!(l.state, S::Finished);

    let mut l = Lifecycle::default();
    step(&mut l, E::WantUp, &p);
    step(&mut l, E::PreDone, &p);
    step(&mut l, E::Spawned, &p);
    step(&mut l, E::ExitFail, &p);
    assert_eq!(l.state, S::Failed);
    assert_eq!(l.reason, Reason::Exited);
}

#[test]
fn on_failure_and_never_policies() {
    let on_failure = Policy {
        restart: RestartPolicy::OnFailure,
        ..Policy::default()
    };
    let mut l = in_state(S::Ready);
    step(&mut l, E::ExitOk, &on_failure);
    assert_eq!(l.state, S::Down);
    let mut l = in_state(S::Ready);
    step(&mut l, E::ExitFail, &on_failure);
    assert_eq!(l.state, S::Starting);

    let never = Policy {
        restart: RestartPolicy::Never,
        ..Policy::default()
    };
    let mut l = in_state(S::Ready);
    step(&mut l, E::ExitFail, &never);
    assert_eq!(l.state, S::Failed);
}

#[test]
fn a_kill_request_never_leads_to_a_respawn() {
    let p = Policy::default();
    for s in [S::Starting, S::Running, S::Ready] {
        let mut l = in_state(s);
        step(&mut l, E::Killed, &p);
        if s == S::Starting {
            step(&mut l, E::PreDone, &p);
            step(&mut l, E::Spawned, &p);
        }
        step(&mut l, E::ExitFail, &p);
        assert_eq!(l.state, S::Down, "killed in {}", s.name());
        assert_eq!(l.restarts, 0);
    }
}

#[test]
fn a_stopped_service_is_never_respawned() {
    let p = Policy::default();
    let mut l = in_state(S::Ready);
    step(&mut l, E::WantDown, &p);
    let a = step(&mut l, E::Timeout, &p);
    assert!(a.kill_all);
    assert_eq!(a.arm_timer, Some(p.stop_timeout_ms));
    step(&mut l, E::ExitFail, &p);
    assert_eq!(l.state, S::Down);
    assert_eq!(l.want, Want::Down);
}

#[test]
fn restart_stops_then_starts() {
    let p = Policy::default();
    let mut l = in_state(S::Ready);
    step(&mut l, E::WantRestart, &p);
    assert_eq!(l.state, S::Stopping);
    let a = step(&mut l, E::ExitFail, &p);
    assert_eq!(l.state, S::Starting);
    assert!(a.run_pre && a.count_restart);
    assert_eq!(l.failures, 0, "a requested restart is no failure");
}

#[test]
fn ready_timeout_is_a_start_failure() {
    let p = Policy {
        ready_on_spawn: false,
        restart_limit: 1,
        ..Policy::default()
    };
    let mut l = Lifecycle::default();
    step(&mut l, E::WantUp, &p);
    step(&mut l, E::PreDone, &p);
    let a = step(&mut l, E::Spawned, &p);
    assert!(a.watch_ready);
    assert_eq!(l.state, S::Running);
    step(&mut l, E::Timeout, &p);
    assert_eq!(l.state, S::Stopping);
    step(&mut l, E::ExitFail, &p);
    assert_eq!(l.state, S::Failed);
    assert_eq!(l.reason, Reason::RestartLimit);
}

#[test]
fn sd_notify_stopping_then_exit_follows_the_policy() {
    let p = Policy::default();
    let mut l = in_state(S::Ready);
    step(&mut l, E::Stopping, &p);
    assert_eq!(l.state, S::Stopping);
    step(&mut l, E::ExitOk, &p);
    assert_eq!(l.state, S::Starting);
}

#[test]
fn start_during_backoff_keeps_waiting_and_stop_cancels() {
    let p = Policy::default();
    let mut l = in_state(S::Backoff);
    let a = step(&mut l, E::WantUp, &p);
    assert_eq!(l.state, S::Backoff);
    assert_eq!(a, Actions::default());
    step(&mut l, E::WantDown, &p);
    assert_eq!(l.state, S::Down);
}
