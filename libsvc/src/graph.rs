//! The dependency graph of a loaded set: who requires, wants, orders
//! against, provides and conflicts with whom, and its cycles.
//!
//! An ordering edge `a → b` means "a starts after b": `a requires b`,
//! `a wants b` and `a after b` give one, `b before a` gives one too.

use crate::diag::Diagnostic;
use crate::load::ServiceSet;
use crate::model::DepKind;
use crate::names::{self, NameKind};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;

/// Where an edge comes from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    Requires,
    Wants,
    After,
    Before,
    Conflicts,
    /// An `enabled/TARGET/NAME` entry: a `wants` of the target.
    Enabled,
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EdgeKind::Requires => "requires",
            EdgeKind::Wants => "wants",
            EdgeKind::After => "after",
            EdgeKind::Before => "before",
            EdgeKind::Conflicts => "conflicts",
            EdgeKind::Enabled => "enabled",
        })
    }
}

/// A `requires` or `wants` entry: a declaration, or a virtual name that
/// the plan resolves to one of its providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ref {
    Node(usize),
    Virtual(usize),
}

/// Why `from` starts after `to`: the declaration that says so (`owner`),
/// with what and on which line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub kind: EdgeKind,
    pub owner: usize,
    pub line: Option<u32>,
}

/// The edges out of one node. Boxed and absent while a node has none:
/// four empty lists would cost each of a thousand services 96 bytes, and
/// many services declare no dependency at all (their targets do).
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeEdges {
    pub(crate) requires: Vec<Ref>,
    pub(crate) wants: Vec<Ref>,
    /// Ordering edges, virtual names expanded to every provider.
    pub(crate) order: Vec<(usize, Origin)>,
    /// Symmetric: `a conflicts b` puts each in the other's list.
    pub(crate) conflicts: Vec<usize>,
}

/// What a node without edges reads.
static NO_EDGES: NodeEdges = NodeEdges {
    requires: Vec::new(),
    wants: Vec::new(),
    order: Vec::new(),
    conflicts: Vec::new(),
};

#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// In name order (the set's B-tree order), so that a name's index is
    /// found by binary search: no second copy of every name in a map.
    pub(crate) names: Vec<String>,
    pub(crate) is_target: Vec<bool>,
    /// Each node's edges ([`Graph::edges_of`]); None while it has none.
    adjacency: Vec<Option<Box<NodeEdges>>>,
    pub(crate) virtual_names: Vec<String>,
    pub(crate) virtual_index: HashMap<String, usize>,
    /// Providers of each virtual name, in name order.
    pub(crate) providers: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph of `set`, reporting unknown names (errors in
    /// `requires`, warnings in `wants` and enablement) and cycles.
    pub fn build(set: &ServiceSet) -> (Graph, Vec<Diagnostic>) {
        let mut g = Graph {
            names: set.declarations.keys().cloned().collect(),
            is_target: set.declarations.values().map(|d| d.is_target()).collect(),
            adjacency: vec![None; set.declarations.len()],
            ..Graph::default()
        };
        let mut diags = Vec::new();

        // Virtual names first, since every other edge may point at one.
        let mut providers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in set.declarations.values().enumerate() {
            for p in d.deps.get(DepKind::Provides) {
                if set.declarations.contains_key(p) {
                    diags.push(Diagnostic::error(
                        &d.file,
                        d.dep_line(DepKind::Provides, p),
                        format!("'provides = {p}': '{p}' is already the name of a declaration"),
                    ));
                    continue;
                }
                providers.entry(p.as_str()).or_default().push(i);
            }
        }
        for (v, ps) in providers {
            g.virtual_index.insert(v.to_string(), g.virtual_names.len());
            g.virtual_names.push(v.to_string());
            g.providers.push(ps);
        }

        for (i, d) in set.declarations.values().enumerate() {
            for kind in [
                DepKind::Requires,
                DepKind::Wants,
                DepKind::After,
                DepKind::Before,
                DepKind::Conflicts,
            ] {
                for target in d.deps.get(kind) {
                    let line = d.dep_line(kind, target);
                    let Some(r) = g.resolve(target) else {
                        if let Some(diag) = unknown(set, &d.file, line, kind, target) {
                            diags.push(diag);
                        }
                        continue;
                    };
                    g.add_edge(i, r, kind_of(kind), i, line);
                }
            }
            for t in d.deps.get(DepKind::WantedBy) {
                let line = d.dep_line(DepKind::WantedBy, t);
                match set.declarations.get(t) {
                    Some(td) if td.is_target() => {}
                    Some(_) => diags.push(Diagnostic::warning(
                        &d.file,
                        line,
                        format!("'wanted-by = {t}': '{t}' is a service, not a target"),
                    )),
                    None if set.broken.contains_key(t) => {}
                    None => diags.push(Diagnostic::warning(
                        &d.file,
                        line,
                        format!("'wanted-by = {t}': no target named '{t}'"),
                    )),
                }
            }
        }
        for e in &set.enabled {
            let Some(t) = g.index_of(&e.target) else {
                if !set.broken.contains_key(&e.target) {
                    diags.push(Diagnostic::warning(
                        &e.path,
                        None,
                        format!("no target named '{}'", e.target),
                    ));
                }
                continue;
            };
            if !g.is_target[t] {
                diags.push(Diagnostic::warning(
                    &e.path,
                    None,
                    format!(
                        "'{}' is a service, not a target; enabled as one of its wants",
                        e.target
                    ),
                ));
            }
            match g.resolve(&e.name) {
                Some(r) => {
                    if !g.edges_of(t).wants.contains(&r) {
                        g.add_edge(t, r, EdgeKind::Enabled, t, None);
                    }
                }
                None if set.broken.contains_key(&e.name) => {}
                None => diags.push(Diagnostic::warning(
                    &e.path,
                    None,
                    format!(
                        "enabled in '{}', but there is no declaration named '{}'",
                        e.target, e.name
                    ),
                )),
            }
        }
        for c in g.cycles() {
            diags.push(g.cycle_diagnostic(set, &c));
        }
        for edges in g.adjacency.iter_mut().flatten() {
            edges.requires.shrink_to_fit();
            edges.wants.shrink_to_fit();
            edges.order.shrink_to_fit();
            edges.conflicts.shrink_to_fit();
        }
        (g, diags)
    }

    /// The edges out of node `i`.
    pub(crate) fn edges_of(&self, i: usize) -> &NodeEdges {
        self.adjacency[i].as_deref().unwrap_or(&NO_EDGES)
    }

    fn edges_of_mut(&mut self, i: usize) -> &mut NodeEdges {
        self.adjacency[i].get_or_insert_with(Box::default)
    }

    pub(crate) fn resolve(&self, name: &str) -> Option<Ref> {
        if let Some(i) = self.index_of(name) {
            Some(Ref::Node(i))
        } else {
            self.virtual_index.get(name).map(|&v| Ref::Virtual(v))
        }
    }

    pub(crate) fn targets_of(&self, r: Ref) -> Vec<usize> {
        match r {
            Ref::Node(i) => vec![i],
            Ref::Virtual(v) => self.providers[v].clone(),
        }
    }

    fn add_edge(&mut self, from: usize, to: Ref, kind: EdgeKind, owner: usize, line: Option<u32>) {
        let origin = Origin { kind, owner, line };
        match kind {
            EdgeKind::Requires => self.edges_of_mut(from).requires.push(to),
            EdgeKind::Wants | EdgeKind::Enabled => self.edges_of_mut(from).wants.push(to),
            _ => {}
        }
        for t in self.targets_of(to) {
            match kind {
                EdgeKind::Before => self.edges_of_mut(t).order.push((from, origin)),
                EdgeKind::Conflicts => {
                    if t != from {
                        if !self.edges_of(from).conflicts.contains(&t) {
                            self.edges_of_mut(from).conflicts.push(t);
                        }
                        if !self.edges_of(t).conflicts.contains(&from) {
                            self.edges_of_mut(t).conflicts.push(from);
                        }
                    }
                }
                _ => self.edges_of_mut(from).order.push((t, origin)),
            }
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
    }
    pub fn is_target(&self, i: usize) -> bool {
        self.is_target[i]
    }
    /// Providers of a virtual name, if it is one.
    pub fn providers(&self, virtual_name: &str) -> Option<Vec<&str>> {
        let v = *self.virtual_index.get(virtual_name)?;
        Some(
            self.providers[v]
                .iter()
                .map(|&i| self.names[i].as_str())
                .collect(),
        )
    }

    /// Every edge for display: `(from, to, kind)`, a virtual target shown
    /// by its virtual name.
    pub fn edges(&self) -> Vec<(String, String, EdgeKind)> {
        let mut out = Vec::new();
        let name_of = |r: &Ref| match r {
            Ref::Node(i) => self.names[*i].clone(),
            Ref::Virtual(v) => self.virtual_names[*v].clone(),
        };
        for i in 0..self.len() {
            for r in &self.edges_of(i).requires {
                out.push((self.names[i].clone(), name_of(r), EdgeKind::Requires));
            }
            for (t, o) in &self.edges_of(i).order {
                match o.kind {
                    EdgeKind::After | EdgeKind::Before => {
                        let (from, to) = if o.kind == EdgeKind::Before {
                            (*t, i)
                        } else {
                            (i, *t)
                        };
                        out.push((self.names[from].clone(), self.names[to].clone(), o.kind));
                    }
                    _ => {}
                }
            }
            for c in &self.edges_of(i).conflicts {
                if i < *c {
                    out.push((
                        self.names[i].clone(),
                        self.names[*c].clone(),
                        EdgeKind::Conflicts,
                    ));
                }
            }
        }
        for i in 0..self.len() {
            for r in &self.edges_of(i).wants {
                let kind = self
                    .edges_of(i)
                    .order
                    .iter()
                    .find(|(t, o)| {
                        self.targets_of(*r).contains(t)
                            && matches!(o.kind, EdgeKind::Wants | EdgeKind::Enabled)
                    })
                    .map(|(_, o)| o.kind)
                    .unwrap_or(EdgeKind::Wants);
                out.push((self.names[i].clone(), name_of(r), kind));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Provider edges for display: `(provider, virtual name)`.
    pub fn provides(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (v, ps) in self.providers.iter().enumerate() {
            for &p in ps {
                out.push((self.names[p].clone(), self.virtual_names[v].clone()));
            }
        }
        out
    }

    /// One cycle per strongly connected component of the ordering graph
    /// that has one: the members in order, the first repeated at the end.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let adj: Vec<Vec<usize>> = (0..self.len())
            .map(|i| self.edges_of(i).order.iter().map(|(t, _)| *t).collect())
            .collect();
        let mut out = Vec::new();
        for scc in strongly_connected(&adj) {
            let self_loop = scc.len() == 1 && adj[scc[0]].contains(&scc[0]);
            if scc.len() > 1 || self_loop {
                out.push(shortest_cycle(&adj, &scc));
            }
        }
        out
    }

    /// The ordering edge `from → to` and why it exists.
    pub fn origin(&self, from: usize, to: usize) -> Option<Origin> {
        self.edges_of(from)
            .order
            .iter()
            .find(|(t, _)| *t == to)
            .map(|(_, o)| *o)
    }

    /// The files come from `set` (the one the graph was built from): the
    /// graph keeps no copy of every path for this one message.
    fn cycle_diagnostic(&self, set: &ServiceSet, cycle: &[usize]) -> Diagnostic {
        let file = |i: usize| {
            set.declarations
                .get(&self.names[i])
                .map_or_else(PathBuf::new, |d| d.file.clone())
        };
        let path: Vec<&str> = cycle.iter().map(|&i| self.names[i].as_str()).collect();
        let mut why = Vec::new();
        let mut first_line = None;
        for w in cycle.windows(2) {
            let (a, b) = (w[0], w[1]);
            if let Some(o) = self.origin(a, b) {
                let (subject, object) = if o.kind == EdgeKind::Before {
                    (b, a)
                } else {
                    (a, b)
                };
                let at = match o.line {
                    Some(l) => format!("{}:{l}", file(o.owner).display()),
                    None => file(o.owner).display().to_string(),
                };
                first_line = first_line.or(o.line.filter(|_| o.owner == cycle[0]));
                why.push(format!(
                    "{} {} {} ({at})",
                    self.names[subject], o.kind, self.names[object]
                ));
            }
        }
        Diagnostic::error(
            &file(cycle[0]),
            first_line,
            format!(
                "dependency cycle: {}; {}",
                path.join(" -> "),
                why.join(", ")
            ),
        )
    }
}

fn kind_of(kind: DepKind) -> EdgeKind {
    match kind {
        DepKind::Requires => EdgeKind::Requires,
        DepKind::Wants => EdgeKind::Wants,
        DepKind::After => EdgeKind::After,
        DepKind::Before => EdgeKind::Before,
        _ => EdgeKind::Conflicts,
    }
}

fn unknown(
    set: &ServiceSet,
    file: &std::path::Path,
    line: Option<u32>,
    kind: DepKind,
    name: &str,
) -> Option<Diagnostic> {
    if set.broken.contains_key(name) {
        return None;
    }
    let mut msg = format!(
        "'{} = {name}': no declaration or provided name '{name}'",
        kind.key()
    );
    if let Ok(NameKind::Instance { template, .. }) = names::classify(name) {
        if set.broken.contains_key(template) {
            // The template's own errors are reported; its instances are not.
            return None;
        }
        if !set.templates.contains_key(template) {
            msg.push_str(&format!(" (and no template '{template}')"));
        }
    } else if let Some(s) = crate::diag::suggest(name, set.declarations.keys().map(String::as_str))
    {
        msg.push_str(&format!("; did you mean '{s}'?"));
    }
    match kind {
        DepKind::Requires => Some(Diagnostic::error(file, line, msg)),
        DepKind::Wants => Some(Diagnostic::warning(file, line, msg)),
        // Ordering and conflicts only matter when the other side exists.
        _ => None,
    }
}

/// Tarjan's algorithm without recursion (graphs can be deep).
pub(crate) fn strongly_connected(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut edge)) = call.last_mut() {
            if *edge < adj[v].len() {
                let w = adj[v][*edge];
                *edge += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    scc.sort_unstable();
                    out.push(scc);
                }
            }
        }
    }
    out.sort();
    out
}

/// The shortest cycle through the lowest-numbered member of `scc`, in edge
/// order, the first member repeated at the end.
pub(crate) fn shortest_cycle(adj: &[Vec<usize>], scc: &[usize]) -> Vec<usize> {
    let start = scc[0];
    let inside: std::collections::HashSet<usize> = scc.iter().copied().collect();
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &adj[v] {
            if w == start {
                let mut back = Vec::new();
                let mut cur = v;
                while cur != start {
                    back.push(cur);
                    cur = parent[&cur];
                }
                let mut path = vec![start];
                path.extend(back.into_iter().rev());
                path.push(start);
                return path;
            }
            if inside.contains(&w) && !parent.contains_key(&w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    // Unreachable for a real component; a lone member stands for itself.
    vec![start, start]
}
