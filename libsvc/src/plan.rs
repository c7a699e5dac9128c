//! Start, stop and switch plans over a `Graph`, as pure state machines:
//! the manager tells a plan what happened (`ready`, `failed`, `stopped`)
//! and the plan answers what may happen next. No processes, no clocks.

use crate::graph::{Graph, Ref, shortest_cycle, strongly_connected};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no declaration or provided name '{0}'")]
    Unknown(String),
    #[error("'{0}' and '{1}' conflict, but both would be started")]
    Conflict(String, String),
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error("'{0}' is not part of this plan")]
    NotInPlan(String),
}

/// Where a member of a start plan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberState {
    /// Waiting for what it starts after.
    Waiting,
    /// Told to start; waiting for `ready` or `failed`.
    Starting,
    Ready,
    /// Failed on its own (exited, exec failed, missed ready-timeout).
    Failed,
    /// Not started because something it requires failed; the reason says what.
    Blocked(String),
}

impl MemberState {
    /// Settled: nothing will happen to it unless the manager reports more.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            MemberState::Ready | MemberState::Failed | MemberState::Blocked(_)
        )
    }
}

/// What a member waits for: every one of `on` to settle. When `required`,
/// at least one of them must be ready too (several only for a virtual name
/// with more than one provider in the plan), else the member is blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub on: Vec<usize>,
    pub required: bool,
}

/// What follows from an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Services to start now.
    pub start: Vec<String>,
    /// Targets now up (they have no process; the plan settles them itself).
    pub reached: Vec<String>,
    /// Members that will not start, with the reason (`dependency X failed`).
    pub failed: Vec<(String, String)>,
}

impl Step {
    fn sorted(mut self) -> Self {
        self.start.sort();
        self.reached.sort();
        self.failed.sort();
        self
    }
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.reached.is_empty() && self.failed.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct StartPlan {
    names: Vec<String>,
    index: HashMap<String, usize>,
    is_target: Vec<bool>,
    waits: Vec<Vec<Wait>>,
    /// Members with a `Wait` on this one.
    dependents: Vec<Vec<usize>>,
    state: Vec<MemberState>,
    /// Members left down on purpose (`leave_down`): never started.
    held: Vec<bool>,
    /// Declarations outside the plan that conflict with a member: the
    /// manager stops those that run before starting the plan.
    conflicting: Vec<String>,
}

enum Verdict {
    Wait,
    Go,
    Block(usize),
}

impl StartPlan {
    pub fn members(&self) -> &[String] {
        &self.names
    }
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
    pub fn state(&self, name: &str) -> Option<&MemberState> {
        self.index.get(name).map(|&i| &self.state[i])
    }
    pub fn conflicting(&self) -> &[String] {
        &self.conflicting
    }
    /// What `name` waits for: `(names, required)` groups.
    pub fn waits_for(&self, name: &str) -> Option<Vec<(Vec<&str>, bool)>> {
        let &i = self.index.get(name)?;
        Some(
            self.waits[i]
                .iter()
                .map(|w| {
                    (
                        w.on.iter().map(|&j| self.names[j].as_str()).collect(),
                        w.required,
                    )
                })
                .collect(),
        )
    }
    /// Every member settled.
    pub fn is_done(&self) -> bool {
        self.state.iter().all(MemberState::is_settled)
    }

    /// Leaves a member down: it is not started, and what requires it is
    /// blocked (`dependency NAME is stopped`). Before `begin`; a member
    /// already ready (running) stays ready.
    pub fn leave_down(&mut self, name: &str) -> Result<(), PlanError> {
        let i = self.member(name)?;
        if self.state[i] == MemberState::Waiting {
            self.held[i] = true;
            self.state[i] = MemberState::Blocked("stopped".into());
        }
        Ok(())
    }

    /// The first step: everything that waits for nothing (or only for what
    /// is already running).
    pub fn begin(&mut self) -> Step {
        let all: Vec<usize> = (0..self.names.len()).rev().collect();
        self.settle(all)
    }

    /// `name` is ready (or was already running). Ready members stay ready:
    /// a crash after readiness is the restart policy's business.
    pub fn ready(&mut self, name: &str) -> Result<Step, PlanError> {
        let i = self.member(name)?;
        if self.state[i] == MemberState::Ready {
            return Ok(Step::default());
        }
        self.state[i] = MemberState::Ready;
        Ok(self.settle(self.dependents[i].clone()))
    }

    /// `name` failed before it was ready. A later `ready` (after a restart)
    /// still releases what waits for it.
    pub fn failed(&mut self, name: &str) -> Result<Step, PlanError> {
        let i = self.member(name)?;
        if matches!(self.state[i], MemberState::Ready | MemberState::Failed) {
            return Ok(Step::default());
        }
        self.state[i] = MemberState::Failed;
        Ok(self.settle(self.dependents[i].clone()))
    }

    fn member(&self, name: &str) -> Result<usize, PlanError> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| PlanError::NotInPlan(name.to_string()))
    }

    fn verdict(&self, m: usize) -> Verdict {
        let mut go = true;
        for w in &self.waits[m] {
            let settled = w.on.iter().all(|&x| self.state[x].is_settled());
            if w.required {
                let any_ready = w.on.iter().any(|&x| self.state[x] == MemberState::Ready);
                if settled && !any_ready {
                    return Verdict::Block(w.on[0]);
                }
            }
            go &= settled;
        }
        if go { Verdict::Go } else { Verdict::Wait }
    }

    fn settle(&mut self, mut work: Vec<usize>) -> Step {
        let mut step = Step::default();
        while let Some(m) = work.pop() {
            if self.held[m]
                || !matches!(
                    self.state[m],
                    MemberState::Waiting | MemberState::Blocked(_)
                )
            {
                continue;
            }
            let new = match self.verdict(m) {
                Verdict::Go if self.is_target[m] => MemberState::Ready,
                Verdict::Go => MemberState::Starting,
                Verdict::Block(d) => {
                    if matches!(self.state[m], MemberState::Blocked(_)) {
                        continue;
                    }
                    let why = if self.held[d] { "is stopped" } else { "failed" };
                    MemberState::Blocked(format!("dependency {} {why}", self.names[d]))
                }
                Verdict::Wait => MemberState::Waiting,
            };
            if new == self.state[m] {
                continue;
            }
            match &new {
                MemberState::Starting => step.start.push(self.names[m].clone()),
                MemberState::Ready => step.reached.push(self.names[m].clone()),
                MemberState::Blocked(reason) => {
                    step.failed.push((self.names[m].clone(), reason.clone()))
                }
                _ => {}
            }
            let settles_others = new != MemberState::Starting;
            self.state[m] = new;
            if settles_others {
                work.extend(self.dependents[m].iter().copied());
            }
        }
        step.sorted()
    }
}

/// Where a member of a stop plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopState {
    Waiting,
    Stopping,
    Stopped,
}

#[derive(Debug, Clone)]
pub struct StopPlan {
    names: Vec<String>,
    index: HashMap<String, usize>,
    is_target: Vec<bool>,
    /// Members that must be stopped before this one (they start after it).
    blockers: Vec<Vec<usize>>,
    /// The reverse of `blockers`.
    unblocks: Vec<Vec<usize>>,
    state: Vec<StopState>,
}

impl StopPlan {
    fn empty() -> StopPlan {
        StopPlan {
            names: Vec::new(),
            index: HashMap::new(),
            is_target: Vec::new(),
            blockers: Vec::new(),
            unblocks: Vec::new(),
            state: Vec::new(),
        }
    }
    pub fn members(&self) -> &[String] {
        &self.names
    }
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
    pub fn state(&self, name: &str) -> Option<StopState> {
        self.index.get(name).map(|&i| self.state[i])
    }
    pub fn is_done(&self) -> bool {
        self.state.iter().all(|s| *s == StopState::Stopped)
    }
    /// Services to stop first.
    pub fn begin(&mut self) -> Vec<String> {
        let all: Vec<usize> = (0..self.names.len()).collect();
        self.advance(all)
    }
    /// `name` has stopped; returns the services that may stop now.
    pub fn stopped(&mut self, name: &str) -> Result<Vec<String>, PlanError> {
        let &i = self
            .index
            .get(name)
            .ok_or_else(|| PlanError::NotInPlan(name.to_string()))?;
        if self.state[i] == StopState::Stopped {
            return Ok(Vec::new());
        }
        self.state[i] = StopState::Stopped;
        Ok(self.advance(self.unblocks[i].clone()))
    }

    fn advance(&mut self, mut work: Vec<usize>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(m) = work.pop() {
            if self.state[m] != StopState::Waiting
                || !self.blockers[m]
                    .iter()
                    .all(|&b| self.state[b] == StopState::Stopped)
            {
                continue;
            }
            if self.is_target[m] {
                self.state[m] = StopState::Stopped;
                work.extend(self.unblocks[m].iter().copied());
            } else {
                self.state[m] = StopState::Stopping;
                out.push(self.names[m].clone());
            }
        }
        out.sort();
        out
    }

    /// One sequential order that respects the plan (targets included).
    pub fn order(&self) -> Vec<String> {
        let mut pending: Vec<usize> = self.blockers.iter().map(Vec::len).collect();
        let mut ready: BTreeSet<(&str, usize)> = (0..self.names.len())
            .filter(|&i| pending[i] == 0)
            .map(|i| (self.names[i].as_str(), i))
            .collect();
        let mut out = Vec::new();
        while let Some(first) = ready.pop_first() {
            out.push(first.0.to_string());
            for &u in &self.unblocks[first.1] {
                pending[u] -= 1;
                if pending[u] == 0 {
                    ready.insert((self.names[u].as_str(), u));
                }
            }
        }
        out
    }
}

/// Going from the services that run now to a target: stop these, then
/// start those.
#[derive(Debug, Clone)]
pub struct SwitchPlan {
    pub stop: StopPlan,
    pub start: StartPlan,
}

impl Graph {
    fn resolve_roots(&self, roots: &[&str]) -> Result<Vec<Ref>, PlanError> {
        roots
            .iter()
            .map(|r| {
                self.resolve(r)
                    .ok_or_else(|| PlanError::Unknown(r.to_string()))
            })
            .collect()
    }

    /// Everything `roots` pull in through `requires`, `wants` and
    /// enablement. A virtual name is met by a provider already in the plan,
    /// else one that runs, else the first by name.
    fn closure(&self, roots: &[Ref], running: &dyn Fn(&str) -> bool) -> Vec<bool> {
        let mut in_plan = vec![false; self.len()];
        let mut queue: Vec<usize> = Vec::new();
        let mut virtuals: Vec<usize> = Vec::new();
        let add = |r: Ref,
                   queue: &mut Vec<usize>,
                   virtuals: &mut Vec<usize>,
                   in_plan: &mut Vec<bool>| match r {
            Ref::Node(i) => {
                if !in_plan[i] {
                    in_plan[i] = true;
                    queue.push(i);
                }
            }
            Ref::Virtual(v) => virtuals.push(v),
        };
        for &r in roots {
            add(r, &mut queue, &mut virtuals, &mut in_plan);
        }
        loop {
            while let Some(i) = queue.pop() {
                for &r in self
                    .edges_of(i)
                    .requires
                    .iter()
                    .chain(&self.edges_of(i).wants)
                {
                    add(r, &mut queue, &mut virtuals, &mut in_plan);
                }
            }
            let mut added = false;
            for v in std::mem::take(&mut virtuals) {
                let ps = &self.providers[v];
                if ps.iter().any(|&p| in_plan[p]) {
                    continue;
                }
                let choice = ps
                    .iter()
                    .copied()
                    .find(|&p| running(&self.names[p]))
                    .or(ps.first().copied());
                if let Some(p) = choice {
                    in_plan[p] = true;
                    queue.push(p);
                    added = true;
                }
            }
            if !added {
                return in_plan;
            }
        }
    }

    /// The names `roots` pull in (what a start plan of them would hold),
    /// in name order.
    pub fn closure_names(&self, roots: &[&str]) -> Result<Vec<String>, PlanError> {
        let roots = self.resolve_roots(roots)?;
        let in_plan = self.closure(&roots, &|_| false);
        Ok((0..self.len())
            .filter(|&i| in_plan[i])
            .map(|i| self.names[i].clone())
            .collect())
    }

    /// The plan that starts `roots` and everything they pull in, nothing
    /// running yet.
    pub fn start_plan(&self, roots: &[&str]) -> Result<StartPlan, PlanError> {
        self.start_plan_with(roots, &|_| false)
    }

    /// As `start_plan`, with what already runs counted as ready.
    pub fn start_plan_with(
        &self,
        roots: &[&str],
        running: &dyn Fn(&str) -> bool,
    ) -> Result<StartPlan, PlanError> {
        let roots = self.resolve_roots(roots)?;
        let in_plan = self.closure(&roots, running);
        self.start_plan_over(&in_plan, running)
    }

    fn start_plan_over(
        &self,
        in_plan: &[bool],
        running: &dyn Fn(&str) -> bool,
    ) -> Result<StartPlan, PlanError> {
        let nodes: Vec<usize> = (0..self.len()).filter(|&i| in_plan[i]).collect();
        let member: HashMap<usize, usize> =
            nodes.iter().enumerate().map(|(m, &n)| (n, m)).collect();
        let mut waits: Vec<Vec<Wait>> = Vec::with_capacity(nodes.len());
        let mut conflicting = BTreeSet::new();
        for &n in &nodes {
            let mut w: Vec<Wait> = Vec::new();
            for &r in &self.edges_of(n).requires {
                let on: Vec<usize> = self
                    .targets_of(r)
                    .iter()
                    .filter_map(|t| member.get(t).copied())
                    .collect();
                if !on.is_empty() && !w.iter().any(|x| x.required && x.on == on) {
                    w.push(Wait { on, required: true });
                }
            }
            for (t, _) in &self.edges_of(n).order {
                if let Some(&m) = member.get(t) {
                    let covered = w.iter().any(|x| x.on.len() == 1 && x.on[0] == m);
                    if !covered {
                        w.push(Wait {
                            on: vec![m],
                            required: false,
                        });
                    }
                }
            }
            waits.push(w);
            for &c in &self.edges_of(n).conflicts {
                match member.get(&c) {
                    Some(_) => {
                        let (a, b) = (&self.names[n], &self.names[c]);
                        let (a, b) = if a < b { (a, b) } else { (b, a) };
                        return Err(PlanError::Conflict(a.clone(), b.clone()));
                    }
                    None => {
                        conflicting.insert(self.names[c].clone());
                    }
                }
            }
        }
        let adj: Vec<Vec<usize>> = waits
            .iter()
            .map(|ws| ws.iter().flat_map(|w| w.on.iter().copied()).collect())
            .collect();
        for scc in strongly_connected(&adj) {
            if scc.len() > 1 || adj[scc[0]].contains(&scc[0]) {
                let cycle = shortest_cycle(&adj, &scc);
                let names: Vec<&str> = cycle
                    .iter()
                    .map(|&m| self.names[nodes[m]].as_str())
                    .collect();
                return Err(PlanError::Cycle(names.join(" -> ")));
            }
        }
        let mut dependents = vec![Vec::new(); nodes.len()];
        for (m, ws) in waits.iter().enumerate() {
            for w in ws {
                for &on in &w.on {
                    if !dependents[on].contains(&m) {
                        dependents[on].push(m);
                    }
                }
            }
        }
        let names: Vec<String> = nodes.iter().map(|&n| self.names[n].clone()).collect();
        let state: Vec<MemberState> = names
            .iter()
            .map(|n| {
                if running(n) {
                    MemberState::Ready
                } else {
                    MemberState::Waiting
                }
            })
            .collect();
        Ok(StartPlan {
            index: names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect(),
            is_target: nodes.iter().map(|&n| self.is_target[n]).collect(),
            names,
            waits,
            dependents,
            held: vec![false; state.len()],
            state,
            conflicting: conflicting.into_iter().collect(),
        })
    }

    /// The plan that stops `names` and, transitively, whatever running
    /// declaration requires one of them, in reverse start order. Names the
    /// graph does not know (a declaration removed while it ran) are stopped
    /// on their own. A cycle among the members is an error: no member of
    /// it could ever stop first.
    pub fn stop_plan(
        &self,
        names: &[&str],
        running: &dyn Fn(&str) -> bool,
    ) -> Result<StopPlan, PlanError> {
        let (in_set, strangers) = self.stop_set(names, running);
        self.stop_plan_over(&in_set, strangers, false)
            .map(|(plan, _)| plan)
    }

    /// As `stop_plan`, for a shutdown, which must always finish: the
    /// members of a cycle stop together (after what starts after any of
    /// them), and the cycles are returned for the log.
    pub fn stop_plan_breaking_cycles(
        &self,
        names: &[&str],
        running: &dyn Fn(&str) -> bool,
    ) -> (StopPlan, Vec<String>) {
        let (in_set, strangers) = self.stop_set(names, running);
        // Cannot fail when cycles are broken.
        self.stop_plan_over(&in_set, strangers, true)
            .unwrap_or_else(|_| (StopPlan::empty(), Vec::new()))
    }

    fn stop_set(
        &self,
        names: &[&str],
        running: &dyn Fn(&str) -> bool,
    ) -> (Vec<bool>, BTreeSet<String>) {
        let mut requirers: Vec<Vec<usize>> = vec![Vec::new(); self.len()];
        for a in 0..self.len() {
            for &r in &self.edges_of(a).requires {
                for t in self.targets_of(r) {
                    requirers[t].push(a);
                }
            }
        }
        let mut in_set = vec![false; self.len()];
        let mut strangers: BTreeSet<String> = BTreeSet::new();
        let mut queue = Vec::new();
        for name in names {
            match self.resolve(name) {
                Some(r) => {
                    let targets = self.targets_of(r);
                    let is_virtual = matches!(r, Ref::Virtual(_));
                    for t in targets {
                        if (!is_virtual || running(&self.names[t])) && !in_set[t] {
                            in_set[t] = true;
                            queue.push(t);
                        }
                    }
                }
                None => {
                    strangers.insert(name.to_string());
                }
            }
        }
        while let Some(t) = queue.pop() {
            for &a in &requirers[t] {
                if !in_set[a] && running(&self.names[a]) {
                    in_set[a] = true;
                    queue.push(a);
                }
            }
        }
        (in_set, strangers)
    }

    /// The stop plan of the members `in_set` (and `strangers`). With a
    /// cycle among the members: an error, or, when `break_cycles`, the
    /// ordering inside each cyclic component is dropped and the cycles
    /// are returned.
    fn stop_plan_over(
        &self,
        in_set: &[bool],
        strangers: BTreeSet<String>,
        break_cycles: bool,
    ) -> Result<(StopPlan, Vec<String>), PlanError> {
        let nodes: Vec<usize> = (0..self.len()).filter(|&i| in_set[i]).collect();
        let member: HashMap<usize, usize> =
            nodes.iter().enumerate().map(|(m, &n)| (n, m)).collect();
        // adj[m]: the members m starts after.
        let adj: Vec<Vec<usize>> = nodes
            .iter()
            .map(|&n| {
                self.edges_of(n)
                    .order
                    .iter()
                    .filter_map(|(t, _)| member.get(t).copied())
                    .collect()
            })
            .collect();
        let mut component = vec![usize::MAX; nodes.len()];
        let mut cycles = Vec::new();
        let sccs = strongly_connected(&adj);
        for (c, scc) in sccs.iter().enumerate() {
            if scc.len() > 1 || adj[scc[0]].contains(&scc[0]) {
                let cycle = shortest_cycle(&adj, scc);
                let names: Vec<&str> = cycle
                    .iter()
                    .map(|&m| self.names[nodes[m]].as_str())
                    .collect();
                if !break_cycles {
                    return Err(PlanError::Cycle(names.join(" -> ")));
                }
                cycles.push(names.join(" -> "));
            }
            for &m in scc {
                component[m] = c;
            }
        }
        let total = nodes.len() + strangers.len();
        let mut blockers = vec![Vec::new(); total];
        let mut unblocks = vec![Vec::new(); total];
        for (m, ts) in adj.iter().enumerate() {
            // m starts after t, so t stops after m: m blocks t. A cycle
            // (only when breaking them) stops as one: nothing inside it
            // blocks, and what blocks one member blocks them all.
            for &t in ts {
                if component[t] == component[m] {
                    continue;
                }
                for &a in &sccs[component[m]] {
                    for &b in &sccs[component[t]] {
                        if !blockers[b].contains(&a) {
                            blockers[b].push(a);
                            unblocks[a].push(b);
                        }
                    }
                }
            }
        }
        let mut names: Vec<String> = nodes.iter().map(|&n| self.names[n].clone()).collect();
        let mut is_target: Vec<bool> = nodes.iter().map(|&n| self.is_target[n]).collect();
        names.extend(strangers);
        is_target.resize(total, false);
        let plan = StopPlan {
            index: names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect(),
            names,
            is_target,
            blockers,
            unblocks,
            state: vec![StopState::Waiting; total],
        };
        Ok((plan, cycles))
    }

    /// Starting `roots` while `running` runs: first stop the running
    /// declarations that conflict with the plan (and what requires them),
    /// then start.
    pub fn start_stopping_conflicts(
        &self,
        roots: &[&str],
        running: &BTreeSet<String>,
    ) -> Result<SwitchPlan, PlanError> {
        let is_running = |n: &str| running.contains(n);
        let start = self.start_plan_with(roots, &is_running)?;
        let conflicting: Vec<&str> = start
            .conflicting()
            .iter()
            .filter(|c| running.contains(*c))
            .map(String::as_str)
            .collect();
        let stop = self.stop_plan(&conflicting, &is_running)?;
        Ok(SwitchPlan { stop, start })
    }

    /// From what runs now to `target`: stop what the target does not pull
    /// in and what conflicts with it; start what it pulls in and does not
    /// run yet. The manager runs `stop`, then `start`.
    pub fn switch_plan(
        &self,
        target: &str,
        running: &BTreeSet<String>,
    ) -> Result<SwitchPlan, PlanError> {
        let is_running = |n: &str| running.contains(n);
        let roots = self.resolve_roots(&[target])?;
        let in_plan = self.closure(&roots, &is_running);
        let start = self.start_plan_over(&in_plan, &is_running)?;
        let mut to_stop: Vec<&str> = running
            .iter()
            .filter(|n| self.index_of(n).is_none_or(|i| !in_plan[i]))
            .map(String::as_str)
            .collect();
        to_stop.extend(
            start
                .conflicting()
                .iter()
                .filter(|c| running.contains(*c))
                .map(String::as_str),
        );
        let mut stop = self.stop_plan(&to_stop, &is_running)?;
        // Requirers of a stopped provider are kept when the target pulls
        // them in: the plan met their virtual name with another provider.
        if stop.names.iter().any(|n| start.contains(n)) {
            let mut keep = vec![false; self.len()];
            let mut strangers = BTreeSet::new();
            for n in &stop.names {
                match self.index_of(n) {
                    Some(i) if !in_plan[i] => keep[i] = true,
                    Some(_) => {}
                    None => {
                        strangers.insert(n.clone());
                    }
                }
            }
            stop = self.stop_plan_over(&keep, strangers, false)?.0;
        }
        Ok(SwitchPlan { stop, start })
    }
}
