//! The service lifecycle as an explicit (state, event) → handler table.
//!
//! Nothing here touches the system: a handler updates the [`Lifecycle`] and
//! returns the [`Actions`] the driver must carry out (spawn, signal, arm a
//! timer…). The results of those actions come back as further events
//! (`Spawned`, `StartFailed`, `Exited…`). This keeps every transition
//! testable without processes; `tests` below covers every cell.

/// The states of protocol.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not running and not wanted (or stopped after a clean exit).
    Down = 0,
    /// `exec-pre` commands are running; the main command is not started yet.
    Starting = 1,
    /// The main process runs; readiness has not been signalled yet.
    Running = 2,
    /// The main process runs and is ready.
    Ready = 3,
    /// Being stopped: stop signal or `exec-stop` sent, waiting for the exit.
    Stopping = 4,
    /// Waiting out a restart delay after quick failures.
    Backoff = 5,
    /// Gave up (restart-limit reached, or a failure with no restart).
    Failed = 6,
    /// A oneshot that ran to completion with status 0.
    Finished = 7,
}

pub const STATE_COUNT: usize = 8;

impl State {
    pub const ALL: [State; STATE_COUNT] = [
        State::Down,
        State::Starting,
        State::Running,
        State::Ready,
        State::Stopping,
        State::Backoff,
        State::Failed,
        State::Finished,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Down => "down",
            State::Starting => "starting",
            State::Running => "running",
            State::Ready => "ready",
            State::Stopping => "stopping",
            State::Backoff => "backoff",
            State::Failed => "failed",
            State::Finished => "finished",
        }
    }

    /// True while a process of the service (pre, main or stop command) may exist.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            State::Starting | State::Running | State::Ready | State::Stopping
        )
    }
}

/// What can happen to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `start`: want it up, restarted by policy.
    WantUp = 0,
    /// `once`: want it up, never restarted.
    WantOnce = 1,
    /// `stop`: want it down.
    WantDown = 2,
    /// `restart`: stop it if it runs, then start it again.
    WantRestart = 3,
    /// `kill`: a signal was sent on request; whatever happens next, no respawn.
    Killed = 4,
    /// All `exec-pre` commands succeeded.
    PreDone = 5,
    /// The main command was exec'd.
    Spawned = 6,
    /// A start step failed before the main process existed (pre command,
    /// exec, credentials, pidfile).
    StartFailed = 7,
    /// The readiness condition was met.
    Ready = 8,
    /// The service announced it is stopping on its own (sd-notify STOPPING=1).
    Stopping = 9,
    /// The main process exited with status 0.
    ExitOk = 10,
    /// The main process exited non-zero or was killed by a signal.
    ExitFail = 11,
    /// The state's timer ran out (ready-timeout, stop-timeout, backoff delay).
    Timeout = 12,
}

pub const EVENT_COUNT: usize = 13;

impl Event {
    pub const ALL: [Event; EVENT_COUNT] = [
        Event::WantUp,
        Event::WantOnce,
        Event::WantDown,
        Event::WantRestart,
        Event::Killed,
        Event::PreDone,
        Event::Spawned,
        Event::StartFailed,
        Event::Ready,
        Event::Stopping,
        Event::ExitOk,
        Event::ExitFail,
        Event::Timeout,
    ];
}

/// Whether the service is wanted up, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Down,
    /// Up, restarted by policy.
    Up,
    /// Up once, never restarted.
    Once,
}

/// The declaration's `restart`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

/// Where a service goes once nothing of it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// Stay down.
    Down,
    /// Start again at once (a `restart` request, or `start` during stop).
    Start,
    /// A failure was already counted: restart after this delay (ms).
    Retry(u64),
    /// A failure was already counted and the limit reached.
    Fail,
}

/// What to do once the process being stopped has exited. `settle` takes
/// only a [`Settle`]: an exit judged by policy is judged first, so no
/// path can leave the service in Stopping with nothing to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterStop {
    Then(Settle),
    /// The service stops on its own (STOPPING=1): judge its exit by policy.
    Policy,
}

/// The policy numbers the table needs, copied from the declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub restart: RestartPolicy,
    pub oneshot: bool,
    /// A oneshot with `exec-stop`: once finished, stopping it runs that
    /// command (the undo half of what it did at start, such as unmounting
    /// what it mounted), as systemd's RemainAfterExit does.
    pub stop_command_after_finish: bool,
    /// Ready as soon as the main command is exec'd (`ready = started`, not forking).
    pub ready_on_spawn: bool,
    pub ready_timeout_ms: u64,
    pub stop_timeout_ms: u64,
    pub restart_delay_ms: u64,
    pub restart_delay_max_ms: u64,
    pub restart_reset_ms: u64,
    /// 0 = never give up.
    pub restart_limit: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            restart: RestartPolicy::Always,
            oneshot: false,
            stop_command_after_finish: false,
            ready_on_spawn: true,
            ready_timeout_ms: 60_000,
            stop_timeout_ms: 10_000,
            restart_delay_ms: 100,
            restart_delay_max_ms: 30_000,
            restart_reset_ms: 10_000,
            restart_limit: 0,
        }
    }
}

/// Work for the driver, in the order listed here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// Create runtime directories (a start from down/failed/finished).
    pub prepare: bool,
    /// Run the `exec-pre` commands (the driver answers `PreDone` when there
    /// are none, or `StartFailed`).
    pub run_pre: bool,
    /// Fork and exec the main command (answer: `Spawned` or `StartFailed`).
    pub spawn: bool,
    /// Begin watching for readiness (check command, notify fd, sd-notify).
    pub watch_ready: bool,
    /// `exec-stop`, or `stop-signal` to the process group.
    pub signal_stop: bool,
    /// Run `exec-stop` of a finished oneshot (no main process); its exit
    /// ends the stop.
    pub run_stop_command: bool,
    /// SIGKILL to the process group and every remaining descendant.
    pub kill_all: bool,
    /// Kill what is left of the process group after the main process exited.
    pub reap_group: bool,
    /// Remove runtime directories (the service is down for good).
    pub cleanup: bool,
    /// Arm the state timer for this many ms from now.
    pub arm_timer: Option<u64>,
    /// Disarm the state timer.
    pub disarm_timer: bool,
    /// The start counts as a respawn (the `restarts` counter grows).
    pub count_restart: bool,
}

/// Why the service is where it is, for `status` (`reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    None,
    StartFailed,
    ReadyTimeout,
    Exited,
    RestartLimit,
}

impl Reason {
    pub fn text(self) -> Option<&'static str> {
        match self {
            Reason::None => None,
            Reason::StartFailed => Some("start failed"),
            Reason::ReadyTimeout => Some("not ready within ready-timeout"),
            Reason::Exited => Some("exited"),
            Reason::RestartLimit => Some("restart-limit reached"),
        }
    }
}

/// The lifecycle of one service: its state plus the counters the
/// transitions need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: State,
    pub want: Want,
    /// Consecutive failed starts (quick crashes, start failures).
    pub failures: u32,
    /// Respawns since the supervisor started.
    pub restarts: u64,
    /// When the main process was exec'd (ms, monotonic).
    pub started_at_ms: u64,
    pub after_stop: AfterStop,
    pub reason: Reason,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            state: State::Down,
            want: Want::Down,
            failures: 0,
            restarts: 0,
            started_at_ms: 0,
            after_stop: AfterStop::Then(Settle::Down),
            reason: Reason::None,
        }
    }
}

/// The inputs of one transition besides the event.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    pub policy: &'a Policy,
    pub now_ms: u64,
}

type Handler = fn(&mut Lifecycle, &Ctx) -> Actions;

/// `TABLE[state][event]`. Read a row to know everything a state does.
#[rustfmt::skip]
static TABLE: [[Handler; EVENT_COUNT]; STATE_COUNT] = [
    //            WantUp       WantOnce       WantDown     WantRestart    Killed       PreDone      Spawned      StartFailed     Ready        Stopping     ExitOk       ExitFail     Timeout
    /* down */    [start_up,   start_once,    nothing,     start_up,      nothing,     nothing,     nothing,     nothing,        nothing,     nothing,     nothing,     nothing,     nothing],
    /* starting */[want_up,    want_once,     stop,        restart,       killed,      spawn,       nothing,     start_failed,   nothing,     nothing,     nothing,     nothing,     ready_timeout],
    /* running */ [want_up,    want_once,     stop,        restart,       killed,      nothing,     spawned,     start_failed,   ready,       self_stop,   exited_ok,   exited_fail, ready_timeout],
    /* ready */   [want_up,    want_once,     stop,        restart,       killed,      nothing,     nothing,     nothing,        nothing,     self_stop,   exited_ok,   exited_fail, nothing],
    /* stopping */[stop_then_up, stop_then_once, stop_down, stop_then_up, stop_killed, stopped_ok,  nothing,     stopped_fail,   nothing,     nothing,     stopped_ok,  stopped_fail, escalate],
    /* backoff */ [want_up,    want_once,     cancel_backoff, retry_now,  cancel_backoff, nothing,  nothing,     nothing,        nothing,     nothing,     nothing,     nothing,     retry_now],
    /* failed */  [start_up,   start_once,    to_down,     start_up,      nothing,     nothing,     nothing,     nothing,        nothing,     nothing,     nothing,     nothing,     nothing],
    /* finished */[start_up,   start_once,    undo_finished, redo_finished, nothing,     nothing,     nothing,     nothing,        nothing,     nothing,     nothing,     nothing,     nothing],
];

impl Lifecycle {
    /// Feed one event; returns what the driver must do.
    pub fn step(&mut self, event: Event, ctx: &Ctx) -> Actions {
        TABLE[self.state as usize][event as usize](self, ctx)
    }
}

fn nothing(_: &mut Lifecycle, _: &Ctx) -> Actions {
    Actions::default()
}

/// The delay before the next start after `failures` consecutive failures:
/// the first retry is immediate, then `restart-delay` doubling up to the max.
pub fn backoff_delay(policy: &Policy, failures: u32) -> u64 {
    if failures <= 1 {
        return 0;
    }
    let doublings = (failures - 2).min(40);
    policy
        .restart_delay_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.restart_delay_max_ms.max(policy.restart_delay_ms))
}

fn begin_start(l: &mut Lifecycle, want: Want, from_rest: bool) -> Actions {
    l.want = want;
    l.state = State::Starting;
    l.reason = Reason::None;
    l.after_stop = AfterStop::Then(Settle::Down);
    Actions {
        prepare: from_rest,
        run_pre: true,
        disarm_timer: true,
        ..Actions::default()
    }
}

fn start_up(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    l.failures = 0;
    let mut a = begin_start(l, Want::Up, true);
    a.arm_timer = Some(ctx.policy.ready_timeout_ms);
    a
}

fn start_once(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    l.failures = 0;
    let mut a = begin_start(l, Want::Once, true);
    a.arm_timer = Some(ctx.policy.ready_timeout_ms);
    a
}

fn want_up(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Up;
    Actions::default()
}

fn want_once(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Once;
    Actions::default()
}

fn begin_stop(l: &mut Lifecycle, ctx: &Ctx, after: AfterStop) -> Actions {
    l.state = State::Stopping;
    l.after_stop = after;
    Actions {
        signal_stop: true,
        arm_timer: Some(ctx.policy.stop_timeout_ms),
        ..Actions::default()
    }
}

fn stop(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    l.want = Want::Down;
    begin_stop(l, ctx, AfterStop::Then(Settle::Down))
}

fn restart(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    if l.want == Want::Down {
        l.want = Want::Up;
    }
    begin_stop(l, ctx, AfterStop::Then(Settle::Start))
}

/// A `kill` request: the signal is sent by the driver; from now on the
/// service is wanted down, so its death is never answered with a respawn.
fn killed(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Down;
    Actions::default()
}

fn spawn(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.state = State::Running;
    Actions {
        spawn: true,
        ..Actions::default()
    }
}

/// Main command exec'd.
fn spawned(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    l.started_at_ms = ctx.now_ms;
    if ctx.policy.ready_on_spawn && !ctx.policy.oneshot {
        return ready(l, ctx);
    }
    Actions {
        watch_ready: !ctx.policy.oneshot,
        ..Actions::default()
    }
}

fn ready(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.state = State::Ready;
    Actions {
        disarm_timer: true,
        ..Actions::default()
    }
}

fn self_stop(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    l.state = State::Stopping;
    l.after_stop = AfterStop::Policy;
    Actions {
        arm_timer: Some(ctx.policy.stop_timeout_ms),
        ..Actions::default()
    }
}

/// Counts one failed start and says what follows it: retry (with a delay)
/// or give up. A run that lasted `restart-reset` is healthy and clears the
/// count first.
fn count_failure(l: &mut Lifecycle, ctx: &Ctx, ran_ms: Option<u64>) -> Settle {
    if ran_ms.is_some_and(|ran| ran >= ctx.policy.restart_reset_ms) {
        l.failures = 0;
        return Settle::Retry(0);
    }
    l.failures = l.failures.saturating_add(1);
    if ctx.policy.restart_limit > 0 && l.failures >= ctx.policy.restart_limit {
        return Settle::Fail;
    }
    Settle::Retry(backoff_delay(ctx.policy, l.failures))
}

/// Go from "no process" to what `then` says.
fn settle(l: &mut Lifecycle, ctx: &Ctx, then: Settle) -> Actions {
    match then {
        Settle::Down => {
            l.state = State::Down;
            Actions {
                disarm_timer: true,
                cleanup: true,
                ..Actions::default()
            }
        }
        Settle::Fail => {
            l.state = State::Failed;
            l.want = Want::Down;
            if ctx.policy.restart_limit > 0 && l.failures >= ctx.policy.restart_limit {
                l.reason = Reason::RestartLimit;
            }
            Actions {
                disarm_timer: true,
                cleanup: true,
                ..Actions::default()
            }
        }
        Settle::Start => {
            let want = if l.want == Want::Down {
                Want::Up
            } else {
                l.want
            };
            let mut a = begin_start(l, want, false);
            a.arm_timer = Some(ctx.policy.ready_timeout_ms);
            a.count_restart = true;
            a
        }
        Settle::Retry(0) => {
            let reason = l.reason;
            let mut a = begin_start(l, l.want, false);
            l.reason = reason;
            a.arm_timer = Some(ctx.policy.ready_timeout_ms);
            a.count_restart = true;
            a
        }
        Settle::Retry(delay) => {
            l.state = State::Backoff;
            Actions {
                arm_timer: Some(delay),
                ..Actions::default()
            }
        }
    }
}

/// The main process ended with `ok` after running `ran_ms` (None: it never
/// got to run). Decides restart, backoff, failed, finished or down.
fn judge_exit(l: &mut Lifecycle, ctx: &Ctx, ok: bool, ran_ms: Option<u64>) -> Actions {
    let p = ctx.policy;
    let mut a = if l.want == Want::Down {
        // Killed on request: whatever the status, no respawn and no failure.
        l.reason = Reason::None;
        settle(l, ctx, Settle::Down)
    } else if p.oneshot && ok && ran_ms.is_some() {
        l.state = State::Finished;
        l.failures = 0;
        l.reason = Reason::None;
        Actions {
            disarm_timer: true,
            ..Actions::default()
        }
    } else {
        let restart = l.want == Want::Up
            && match p.restart {
                RestartPolicy::Always => true,
                RestartPolicy::OnFailure => !ok,
                RestartPolicy::Never => false,
            };
        if !ok {
            l.reason = if ran_ms.is_some() {
                Reason::Exited
            } else {
                Reason::StartFailed
            };
        }
        if restart {
            let after = count_failure(l, ctx, ran_ms);
            settle(l, ctx, after)
        } else {
            l.want = Want::Down;
            if ok {
                l.reason = Reason::None;
                settle(l, ctx, Settle::Down)
            } else {
                settle(l, ctx, Settle::Fail)
            }
        }
    };
    // A finished oneshot may leave daemons behind on purpose.
    a.reap_group = l.state != State::Finished;
    a
}

fn ran(l: &Lifecycle, ctx: &Ctx) -> u64 {
    ctx.now_ms.saturating_sub(l.started_at_ms)
}

fn exited_ok(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    let r = ran(l, ctx);
    judge_exit(l, ctx, true, Some(r))
}

fn exited_fail(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    let r = ran(l, ctx);
    judge_exit(l, ctx, false, Some(r))
}

fn start_failed(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    judge_exit(l, ctx, false, None)
}

/// Not ready in time: a start failure. Stop what runs, then retry or fail.
fn ready_timeout(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    l.reason = Reason::ReadyTimeout;
    let then = if l.want == Want::Up && ctx.policy.restart != RestartPolicy::Never {
        count_failure(l, ctx, None)
    } else {
        l.want = Want::Down;
        Settle::Fail
    };
    begin_stop(l, ctx, AfterStop::Then(then))
}

fn stop_then_up(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.failures = 0;
    l.want = Want::Up;
    l.after_stop = AfterStop::Then(Settle::Start);
    Actions::default()
}

fn stop_then_once(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.failures = 0;
    l.want = Want::Once;
    l.after_stop = AfterStop::Then(Settle::Start);
    Actions::default()
}

fn stop_down(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Down;
    l.after_stop = AfterStop::Then(Settle::Down);
    Actions::default()
}

fn stop_killed(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Down;
    if l.after_stop != AfterStop::Then(Settle::Fail) {
        l.after_stop = AfterStop::Then(Settle::Down);
    }
    Actions::default()
}

fn finish_stop(l: &mut Lifecycle, ctx: &Ctx, ok: bool) -> Actions {
    let then = match l.after_stop {
        AfterStop::Policy => {
            let r = ran(l, ctx);
            return judge_exit(l, ctx, ok, Some(r));
        }
        AfterStop::Then(then) => then,
    };
    let mut a = match then {
        Settle::Down if l.want == Want::Down => {
            l.reason = Reason::None;
            settle(l, ctx, Settle::Down)
        }
        then => settle(l, ctx, then),
    };
    a.reap_group = true;
    a
}

fn stopped_ok(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    finish_stop(l, ctx, true)
}

fn stopped_fail(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    finish_stop(l, ctx, false)
}

/// stop-timeout passed: SIGKILL everything; re-armed in case something
/// forks faster than it dies.
fn escalate(_: &mut Lifecycle, ctx: &Ctx) -> Actions {
    Actions {
        kill_all: true,
        arm_timer: Some(ctx.policy.stop_timeout_ms),
        ..Actions::default()
    }
}

/// Stop a finished oneshot: run its `exec-stop` when it has one.
fn undo_finished(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    if !ctx.policy.stop_command_after_finish {
        return to_down(l, ctx);
    }
    l.want = Want::Down;
    run_stop_command(l, ctx, Settle::Down)
}

/// Restart a finished oneshot: undo (its `exec-stop`), then run it again.
fn redo_finished(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    if !ctx.policy.stop_command_after_finish {
        return start_up(l, ctx);
    }
    l.want = Want::Up;
    l.failures = 0;
    run_stop_command(l, ctx, Settle::Start)
}

fn run_stop_command(l: &mut Lifecycle, ctx: &Ctx, then: Settle) -> Actions {
    l.state = State::Stopping;
    l.after_stop = AfterStop::Then(then);
    Actions {
        run_stop_command: true,
        arm_timer: Some(ctx.policy.stop_timeout_ms),
        ..Actions::default()
    }
}

fn cancel_backoff(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Down;
    l.state = State::Down;
    Actions {
        disarm_timer: true,
        cleanup: true,
        ..Actions::default()
    }
}

fn retry_now(l: &mut Lifecycle, ctx: &Ctx) -> Actions {
    if l.want == Want::Down {
        l.want = Want::Up;
    }
    let mut a = begin_start(l, l.want, false);
    a.arm_timer = Some(ctx.policy.ready_timeout_ms);
    a.count_restart = true;
    a
}

fn to_down(l: &mut Lifecycle, _: &Ctx) -> Actions {
    l.want = Want::Down;
    l.state = State::Down;
    l.reason = Reason::None;
    Actions {
        disarm_timer: true,
        cleanup: true,
        ..Actions::default()
    }
}

#[cfg(test)]
mod tests;
