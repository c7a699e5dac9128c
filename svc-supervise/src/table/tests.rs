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
fn a_finished_oneshot_with_a_stop_command_runs_it_to_stop_or_restart() {
    let p = Policy {
        oneshot: true,
        stop_command_after_finish: true,
        restart: RestartPolicy::Never,
        ..Policy::default()
    };
    let mut l = in_state(S::Finished);
    let a = step(&mut l, E::WantDown, &p);
    assert_eq!(l.state, S::Stopping);
    assert!(a.run_stop_command && !a.signal_stop);
    assert_eq!(a.arm_timer, Some(p.stop_timeout_ms));
    // The stop command's exit ends the stop, whatever its status.
    let a = step(&mut l, E::ExitOk, &p);
    assert_eq!(l.state, S::Down);
    assert!(a.cleanup);
    let mut l = in_state(S::Finished);
    step(&mut l, E::WantDown, &p);
    step(&mut l, E::ExitFail, &p);
    assert_eq!(l.state, S::Down);
    // A stop command that hangs is killed at stop-timeout.
    let mut l = in_state(S::Finished);
    step(&mut l, E::WantDown, &p);
    assert!(step(&mut l, E::Timeout, &p).kill_all);
    // restart: undo, then run again.
    let mut l = in_state(S::Finished);
    let a = step(&mut l, E::WantRestart, &p);
    assert!(a.run_stop_command);
    let a = step(&mut l, E::ExitOk, &p);
    assert_eq!(l.state, S::Starting);
    assert!(a.run_pre);
    // Without a stop command a finished oneshot just goes down.
    let plain = Policy {
        stop_command_after_finish: false,
        ..p
    };
    let mut l = in_state(S::Finished);
    let a = step(&mut l, E::WantDown, &plain);
    assert_eq!(l.state, S::Down);
    assert!(!a.run_stop_command);
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

// ----- random walks -----
//
// The cells above start from one fixture per state; handlers also branch on
// `want`, `after_stop`, the failure count and the policy. These walks feed
// random event sequences under random policies from rest, answering as the
// driver does (an armed timer may fire; a spawn is answered at once), and
// check after every step the invariants of the cell tests plus those that
// span steps.

/// xorshift64*: deterministic, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

fn random_policy(rng: &mut Rng) -> Policy {
    let oneshot = rng.below(4) == 0;
    Policy {
        restart: rng.pick(&[
            RestartPolicy::Always,
            RestartPolicy::OnFailure,
            RestartPolicy::Never,
        ]),
        oneshot,
        stop_command_after_finish: oneshot && rng.below(2) == 0,
        ready_on_spawn: rng.below(2) == 0,
        ready_timeout_ms: 1_000 + rng.below(3) * 1_000,
        stop_timeout_ms: 500 + rng.below(3) * 500,
        restart_delay_ms: rng.pick(&[0, 10, 100]),
        restart_delay_max_ms: rng.pick(&[0, 50, 1_000]),
        restart_reset_ms: rng.pick(&[100, 5_000]),
        restart_limit: rng.pick(&[0, 1, 3]),
    }
}

/// What the driver holds besides the lifecycle: the state timer.
#[derive(Debug, Default)]
struct Driver {
    timer: Option<u64>,
}

impl Driver {
    fn carry_out(&mut self, a: &Actions) {
        // In the order of supervisor::carry_out.
        if a.disarm_timer {
            self.timer = None;
        }
        if let Some(ms) = a.arm_timer {
            self.timer = Some(ms);
        }
    }
}

/// Checks one step: `before` --`e`--> `l` with actions `a`.
fn check_step(
    before: &Lifecycle,
    e: Event,
    l: &Lifecycle,
    a: &Actions,
    d: &Driver,
    p: &Policy,
) -> Result<(), String> {
    let s = before.state;
    let fail = |what: &str| Err(format!("{what}: {before:?} --{e:?}--> {l:?}, {a:?}, {d:?}"));
    // The cell invariants, from any lifecycle.
    if l.state == S::Starting
        && s != S::Starting
        && !(a.run_pre && a.arm_timer == Some(p.ready_timeout_ms))
    {
        return fail("entering starting runs the pre commands under a ready timer");
    }
    if l.state == S::Starting
        && matches!(s, S::Down | S::Failed | S::Finished)
        && (!a.prepare || a.count_restart)
    {
        return fail("a start from rest prepares and is no respawn");
    }
    if l.state == S::Starting
        && matches!(s, S::Running | S::Ready | S::Backoff | S::Stopping)
        && !a.count_restart
    {
        return fail("a respawn is counted");
    }
    if l.state == S::Stopping
        && s != S::Stopping
        && e != E::Stopping
        && !((a.signal_stop || (s == S::Finished && a.run_stop_command))
            && a.arm_timer == Some(p.stop_timeout_ms))
    {
        return fail(
            "entering stopping signals (or runs a finished oneshot's stop command) and arms the stop timer",
        );
    }
    if a.run_stop_command && !(s == S::Finished && p.stop_command_after_finish) {
        return fail("only a finished oneshot with a stop command runs it on its own");
    }
    if a.signal_stop && (e == E::Stopping || s == S::Stopping) {
        return fail("a service stopping already is not signalled again");
    }
    if a.spawn != (s == S::Starting && e == E::PreDone) {
        return fail("only pre-done in starting spawns");
    }
    if a.kill_all != (s == S::Stopping && e == E::Timeout) {
        return fail("only the stop timer kills everything");
    }
    if matches!(l.state, S::Down | S::Failed | S::Finished | S::Ready)
        && l.state != s
        && !a.disarm_timer
    {
        return fail("reaching a resting state disarms the timer");
    }
    if matches!(l.state, S::Down | S::Failed) && s.has_process() && !a.cleanup {
        return fail("coming to rest removes the runtime directories");
    }
    if matches!(l.state, S::Down | S::Failed) && l.want != Want::Down {
        return fail("a resting state never keeps wanting up");
    }
    if a.reap_group && !s.has_process() {
        return fail("only a state with a process reaps its group");
    }
    // The timer: a state that waits for something has a deadline; a
    // state at rest has none.
    let timed = matches!(l.state, S::Starting | S::Running | S::Stopping | S::Backoff);
    if timed && d.timer.is_none() {
        return fail("a waiting state has a timer (stopping: or it could wait for ever)");
    }
    if !timed && d.timer.is_some() {
        return fail("a state at rest has no timer");
    }
    if l.state == S::Backoff && l.want == Want::Down {
        return fail("backing off for a service wanted down");
    }
    if p.restart_limit > 0 && l.failures > p.restart_limit {
        return fail("failures past the limit");
    }
    Ok(())
}

/// What the walks reached: every (state, event) cell, and the outcome of
/// an exit in Stopping for each `after_stop`.
#[derive(Default)]
struct Seen {
    cells: [[bool; EVENT_COUNT]; STATE_COUNT],
    stopping_exit: [bool; 5],
}

/// One walk of `steps` events from rest under a random policy.
fn walk(seed: u64, steps: usize, seen: &mut Seen) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let p = random_policy(&mut rng);
    let mut l = Lifecycle::default();
    let mut d = Driver::default();
    let mut now = 0u64;
    // Set by stop/kill requests, cleared by start requests: no respawn
    // (and after a stop, no start at all) may happen meanwhile.
    let mut stopped = false;
    let mut killed = false;
    let mut trace = Vec::new();
    let mut answer = None;
    for _ in 0..steps {
        let e = match answer.take() {
            Some(e) => e,
            None => loop {
                let e = rng.pick(&Event::ALL);
                // Only an armed timer fires; Spawned only answers a spawn.
                if (e == E::Timeout && d.timer.is_none()) || e == E::Spawned {
                    continue;
                }
                break e;
            },
        };
        now += rng.pick(&[0, 5, 50, 500, 20_000]);
        if e == E::Timeout {
            d.timer = None;
        }
        match e {
            E::WantUp | E::WantOnce | E::WantRestart => (stopped, killed) = (false, false),
            E::WantDown => stopped = true,
            E::Killed if l.state != S::Down => killed = true,
            _ => {}
        }
        let before = l;
        seen.cells[l.state as usize][e as usize] = true;
        if l.state == S::Stopping && matches!(e, E::ExitOk | E::ExitFail) {
            let kind = match l.after_stop {
                AfterStop::Then(Settle::Down) => 0,
                AfterStop::Then(Settle::Start) => 1,
                AfterStop::Then(Settle::Retry(_)) => 2,
                AfterStop::Then(Settle::Fail) => 3,
                AfterStop::Policy => 4,
            };
            seen.stopping_exit[kind] = true;
        }
        let a = l.step(
            e,
            &Ctx {
                policy: &p,
                now_ms: now,
            },
        );
        d.carry_out(&a);
        trace.push(format!(
            "{e:?} -> {} {:?} {:?}",
            l.state.name(),
            l.want,
            l.after_stop
        ));
        let checked = check_step(&before, e, &l, &a, &d, &p).and_then(|()| {
            if (stopped || killed) && a.count_restart {
                return Err("a respawn after a stop or kill request".into());
            }
            if stopped && (a.run_pre || a.spawn) {
                return Err("a start after a stop request".into());
            }
            Ok(())
        });
        if let Err(why) = checked {
            return Err(format!(
                "seed {seed}, policy {p:?}\n{why}\ntrace:\n{}",
                trace.join("\n")
            ));
        }
        // The driver answers a spawn at once.
        if a.spawn {
            answer = Some(if rng.below(8) == 0 {
                E::StartFailed
            } else {
                E::Spawned
            });
        }
    }
    Ok(())
}

#[test]
fn random_walks_keep_the_invariants() {
    let mut seen = Seen::default();
    for seed in 0..5_000 {
        if let Err(e) = walk(seed, 300, &mut seen) {
            panic!("{e}");
        }
    }
    // Every cell the driver can reach was reached: Spawned only answers a
    // spawn (so comes in Running), a timer fires only where one is armed.
    for s in State::ALL {
        for e in Event::ALL {
            let unreachable = (e == E::Spawned && s != S::Running)
                || (e == E::Timeout && matches!(s, S::Down | S::Ready | S::Failed | S::Finished));
            assert_eq!(
                seen.cells[s as usize][e as usize],
                !unreachable,
                "({}, {e:?}) reached",
                s.name()
            );
        }
    }
    assert_eq!(
        seen.stopping_exit, [true; 5],
        "every after_stop exited from"
    );
}

#[test]
fn stopping_exit_ok_has_five_outcomes_by_after_stop() {
    // The hidden flag of Stopping decides where a clean exit leads.
    let p = Policy::default();
    let cases = [
        (AfterStop::Then(Settle::Down), Want::Down, S::Down),
        (AfterStop::Then(Settle::Start), Want::Up, S::Starting),
        (AfterStop::Then(Settle::Retry(0)), Want::Up, S::Starting),
        (AfterStop::Then(Settle::Retry(100)), Want::Up, S::Backoff),
        (AfterStop::Then(Settle::Fail), Want::Down, S::Failed),
        (AfterStop::Policy, Want::Up, S::Starting),
    ];
    for (after, want, expected) in cases {
        let mut l = in_state(S::Stopping);
        l.after_stop = after;
        l.want = want;
        let a = step(&mut l, E::ExitOk, &p);
        assert_eq!(l.state, expected, "{after:?}");
        assert!(a.reap_group, "{after:?}");
        if expected == S::Backoff {
            assert_eq!(a.arm_timer, Some(100));
        }
    }
}
