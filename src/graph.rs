//! The dependency graph: start order, waves, cycles.
//!
//! Built once from the validated config. Edges point from a dependent to
//! what it depends on. The order is wave by wave, declaration order within
//! a wave, so the same file always gives the same plan. A wave is
//! the set of services whose longest chain of dependencies has the same
//! length: everything in a wave can start together once the waves before it
//! are up. Cycles are found with Tarjan's strongly connected components and
//! reported with their whole path (`api → auth → api`), one per cycle.
//!
//! The graph owns its edges ([`Dependency`], [`DepKind`]) and knows services
//! only by [`ServiceId`] and, for cycle messages, by name: it imports
//! nothing from `config`, which builds it, so the two do not import each
//! other in a circle. The plan's edges live here and only here; a
//! service's dependencies are `plan.graph.dependencies(id)`.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::ids::ServiceId;

/// An edge of the dependency graph, seen from the dependent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    pub on: ServiceId,
    pub kind: DepKind,
    /// Restart the dependent once this dependency restarted and is ready
    /// again (`{ kind = "required", restart = true }`).
    pub restart: bool,
}

/// How a dependent waits for a dependency (see DESIGN.md, Dependencies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepKind {
    /// Start after it is ready; blocked while it is failed or skipped.
    Required,
    /// Start after it is ready, or degraded once it failed, was skipped or
    /// the dependency timeout ran out.
    Optional,
    /// Ordering only: start once it has been spawned.
    Soft,
    /// It is a task; start after it exited 0.
    Completed,
}

impl DepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepKind::Required => "required",
            DepKind::Optional => "optional",
            DepKind::Soft => "soft",
            DepKind::Completed => "completed",
        }
    }
}

/// A problem with the shape of the graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A dependency cycle; the path starts and ends with the same service.
    #[error("dependency cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

/// The dependency DAG of a plan.
#[derive(Debug, Clone)]
pub struct Graph {
    dependencies: Vec<Vec<Dependency>>,
    dependents: Vec<Vec<Dependency>>,
    order: Vec<ServiceId>,
    level: Vec<usize>,
}

impl Graph {
    /// Builds the graph; `dependencies[i]` are the edges of service `i`.
    /// Fails with every cycle when the graph is not a DAG.
    pub fn new(
        names: &[String],
        dependencies: Vec<Vec<Dependency>>,
    ) -> Result<Self, Vec<GraphError>> {
        let n = dependencies.len();
        let mut dependents = vec![Vec::new(); n];
        for (from, edges) in dependencies.iter().enumerate() {
            for edge in edges {
                dependents[edge.on.0].push(Dependency {
                    on: ServiceId(from),
                    kind: edge.kind,
                    restart: edge.restart,
                });
            }
        }

        // Kahn's algorithm; the ready set is ordered so ties keep declaration order.
        let mut missing: Vec<usize> = dependencies.iter().map(Vec::len).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        let mut level = vec![0usize; n];
        while let Some(next) = ready.pop_first() {
            order.push(ServiceId(next));
            for dependent in &dependents[next] {
                let d = dependent.on.0;
                level[d] = level[d].max(level[next] + 1);
                missing[d] -= 1;
                if missing[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() < n {
            return Err(find_cycles(names, &dependencies));
        }
        // Start order is wave by wave, which is how services really come up;
        // sorting by level keeps it topological since levels grow along edges.
        order.sort_by_key(|id| (level[id.0], id.0));
        Ok(Self {
            dependencies,
            dependents,
            order,
            level,
        })
    }

    /// What `id` depends on.
    pub fn dependencies(&self, id: ServiceId) -> &[Dependency] {
        &self.dependencies[id.0]
    }

    /// Who depends on `id` (`Dependency::on` is the dependent here).
    pub fn dependents(&self, id: ServiceId) -> &[Dependency] {
        &self.dependents[id.0]
    }

    /// Start order: wave by wave, declaration order within a wave.
    pub fn order(&self) -> &[ServiceId] {
        &self.order
    }

    /// The start order, with the services of each wave sorted so that
    /// those with the longest expected way to the end of the cold start come
    /// first: `expected[i]` is how long service `i` took from spawn to ready
    /// last time, and its way to the end adds the longest way of anything
    /// depending on it. Where nothing is known, the declaration order
    /// stands. Still wave by wave, so dependencies still come first.
    pub fn order_by_expected(&self, expected: &[Option<std::time::Duration>]) -> Vec<ServiceId> {
        let mut remaining = vec![std::time::Duration::ZERO; self.order.len()];
        for &id in self.order.iter().rev() {
            let after = self.dependents[id.0]
                .iter()
                .map(|d| remaining[d.on.0])
                .max()
                .unwrap_or_default();
            remaining[id.0] = expected.get(id.0).copied().flatten().unwrap_or_default() + after;
        }
        let mut order = self.order.clone();
        // Stable: equal keys keep the declaration order.
        order.sort_by_key(|id| (self.level[id.0], std::cmp::Reverse(remaining[id.0])));
        order
    }

    /// Services grouped by wave, each wave in start order.
    pub fn waves(&self) -> Vec<Vec<ServiceId>> {
        let depth = self.level.iter().max().map_or(0, |max| max + 1);
        let mut waves = vec![Vec::new(); depth];
        for &id in &self.order {
            waves[self.level[id.0]].push(id);
        }
        waves
    }

    /// `roots` and everything they transitively depend on.
    pub fn closure(&self, roots: &[ServiceId]) -> Vec<bool> {
        let mut keep = vec![false; self.dependencies.len()];
        let mut queue: VecDeque<ServiceId> = roots.iter().copied().collect();
        while let Some(id) = queue.pop_front() {
            if std::mem::replace(&mut keep[id.0], true) {
                continue;
            }
            queue.extend(self.dependencies(id).iter().map(|d| d.on));
        }
        keep
    }

    /// Whether any edge of `id` is of `kind`.
    pub fn has_dependency_of_kind(&self, id: ServiceId, kind: DepKind) -> bool {
        self.dependencies(id).iter().any(|d| d.kind == kind)
    }
}

/// One cycle per strongly connected component that has one.
fn find_cycles(names: &[String], dependencies: &[Vec<Dependency>]) -> Vec<GraphError> {
    let components = strongly_connected(dependencies);
    let mut cycles = Vec::new();
    for component in components {
        let start = component[0];
        let self_loop = dependencies[start].iter().any(|d| d.on.0 == start);
        if component.len() == 1 && !self_loop {
            continue;
        }
        let inside: BTreeSet<usize> = component.iter().copied().collect();
        let path = shortest_cycle_through(start, dependencies, &inside);
        cycles.push(GraphError::Cycle(
            path.into_iter().map(|i| names[i].clone()).collect(),
        ));
    }
    cycles
}

/// Breadth-first search from `start` back to itself, staying in `inside`.
fn shortest_cycle_through(
    start: usize,
    dependencies: &[Vec<Dependency>],
    inside: &BTreeSet<usize>,
) -> Vec<usize> {
    let mut previous: Vec<Option<usize>> = vec![None; dependencies.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for edge in &dependencies[node] {
            let next = edge.on.0;
            if next == start {
                // Walk back from `node` to `start`, then read it forwards:
                // start → ... → node → start, each arrow "depends on".
                let mut middle = Vec::new();
                let mut at = node;
                while at != start {
                    middle.push(at);
                    at = previous[at].unwrap_or(start);
                }
                middle.reverse();
                let mut path = vec![start];
                path.extend(middle);
                path.push(start);
                return path;
            }
            if inside.contains(&next) && previous[next].is_none() && next != start {
                previous[next] = Some(node);
                queue.push_back(next);
            }
        }
    }
    vec![start, start]
}

/// Tarjan's algorithm, iterative so deep graphs cannot overflow the stack.
/// Each component comes back sorted, components ordered by their first member.
fn strongly_connected(dependencies: &[Vec<Dependency>]) -> Vec<Vec<usize>> {
    let n = dependencies.len();
    let mut index = vec![usize::MAX; n];
    let mut lowlink = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut components = Vec::new();

    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (node, ref mut edge)) = work.last_mut() {
            if *edge == 0 && index[node] == usize::MAX {
                index[node] = next_index;
                lowlink[node] = next_index;
                next_index += 1;
                stack.push(node);
                on_stack[node] = true;
            }
            if let Some(dep) = dependencies[node].get(*edge) {
                *edge += 1;
                let next = dep.on.0;
                if index[next] == usize::MAX {
                    work.push((next, 0));
                } else if on_stack[next] {
                    lowlink[node] = lowlink[node].min(index[next]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                lowlink[parent] = lowlink[parent].min(lowlink[node]);
            }
            if lowlink[node] == index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                component.sort_unstable();
                components.push(component);
            }
        }
    }
    components.sort_by_key(|c| c[0]);
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn dep(on: usize) -> Dependency {
        Dependency {
            on: ServiceId(on),
            kind: DepKind::Required,
            restart: false,
        }
    }

    #[test]
    fn the_longest_expected_way_to_the_end_starts_first_within_a_wave() {
        use std::time::Duration;
        // a, b, c in wave 0; d depends on c, e depends on a.
        let graph = Graph::new(
            &names(&["a", "b", "c", "d", "e"]),
            vec![vec![], vec![], vec![], vec![dep(2)], vec![dep(0)]],
        )
        .unwrap();
        let ms = |v: u64| Some(Duration::from_millis(v));
        let ids = |order: Vec<ServiceId>| order.iter().map(|id| id.0).collect::<Vec<_>>();
        // Nothing known: declaration order, wave by wave.
        assert_eq!(ids(graph.order_by_expected(&[])), [0, 1, 2, 3, 4]);
        // c is quick but d after it is slow: c's way is the longest.
        let expected = [ms(50), ms(100), ms(10), ms(200), ms(20)];
        assert_eq!(ids(graph.order_by_expected(&expected)), [2, 1, 0, 3, 4]);
    }

    #[test]
    fn order_is_topological_with_declaration_ties() {
        // 0 db, 1 cache, 2 api(db, cache), 3 web(api), 4 worker(db)
        let g = Graph::new(
            &names(&["db", "cache", "api", "web", "worker"]),
            vec![
                vec![],
                vec![],
                vec![dep(0), dep(1)],
                vec![dep(2)],
                vec![dep(0)],
            ],
        )
        .unwrap();
        let order: Vec<usize> = g.order().iter().map(|id| id.0).collect();
        assert_eq!(order, vec![0, 1, 2, 4, 3]);
        let waves: Vec<Vec<usize>> = g
            .waves()
            .into_iter()
            .map(|w| w.into_iter().map(|id| id.0).collect())
            .collect();
        assert_eq!(waves, vec![vec![0, 1], vec![2, 4], vec![3]]);
        assert_eq!(g.dependents(ServiceId(0)).len(), 2);
        assert_eq!(
            g.closure(&[ServiceId(3)]),
            vec![true, true, true, true, false]
        );
    }

    #[test]
    fn cycles_are_reported_with_their_whole_path() {
        // api → auth → api, plus a self loop on solo, plus an innocent db.
        let errors = Graph::new(
            &names(&["db", "api", "auth", "solo"]),
            vec![vec![], vec![dep(2), dep(0)], vec![dep(1)], vec![dep(3)]],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            vec![
                GraphError::Cycle(names(&["api", "auth", "api"])),
                GraphError::Cycle(names(&["solo", "solo"])),
            ]
        );
        assert_eq!(errors[0].to_string(), "dependency cycle: api → auth → api");
    }

    #[test]
    fn longer_cycles_keep_their_order() {
        // a → b → c → a
        let errors = Graph::new(
            &names(&["a", "b", "c"]),
            vec![vec![dep(1)], vec![dep(2)], vec![dep(0)]],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            vec![GraphError::Cycle(names(&["a", "b", "c", "a"]))]
        );
    }
}
