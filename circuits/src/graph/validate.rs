//! Loading a graph: names resolve (no dangling edge), the graph is acyclic (evaluation order by
//! Kahn's algorithm, ties broken by file order so the order is deterministic), every node's shape
//! is what its op computes, and bounds, derived in order from the inputs' ranges, stay within
//! [`MAX_BOUND_BITS`]. Every error names the node or input at fault.

use std::collections::{BTreeMap, BTreeSet};

use super::tensor::numel;
use super::{Graph, GraphError, Model, GRAPH_VERSION, MAX_BOUND_BITS};
use crate::ops::kind::width;
use crate::usage::TOKEN_BITS;

impl Model {
    /// Validates `graph` and derives its order, shapes, bounds and node structures.
    pub fn new(graph: Graph) -> Result<Model, GraphError> {
        if graph.version != GRAPH_VERSION {
            return Err(GraphError::Version(graph.version));
        }
        let n_in = graph.inputs.len();
        if n_in == 0 {
            return Err(GraphError::Graph("the graph has no input".into()));
        }
        let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut shapes = Vec::new();
        let mut bounds = Vec::new();
        for (t, i) in graph.inputs.iter().enumerate() {
            let bad = |msg: String| GraphError::Input {
                name: i.name.clone(),
                msg,
            };
            if ids.insert(&i.name, t).is_some() {
                return Err(bad("the name is used twice".into()));
            }
            if i.shape.is_empty() || numel(&i.shape) == 0 {
                return Err(bad(format!("shape {:?} holds no value", i.shape)));
            }
            if !(i.scale.is_finite() && i.scale > 0.0) {
                return Err(bad(format!("scale {} is not finite and positive", i.scale)));
            }
            if i.tokens {
                if i.scale != 1.0 || i.min != 0 || !(0..1 << TOKEN_BITS).contains(&i.max) {
                    return Err(bad(format!(
                        "token ids take scale 1 and a range [0, max] below 2^{TOKEN_BITS}, \
                         not scale {} and [{}, {}]",
                        i.scale, i.min, i.max
                    )));
                }
            } else if !(-128 <= i.min && i.min <= 0 && 0 <= i.max && i.max <= 127) {
                return Err(bad(format!(
                    "range [{}, {}] must contain 0 and lie within int8",
                    i.min, i.max
                )));
            }
            if i.tokens != graph.inputs[0].tokens {
                return Err(bad(
                    "the inputs mix token ids and real values (one commitment packs them all)"
                        .into(),
                ));
            }
            shapes.push(i.shape.clone());
            bounds.push((i.min as i128, i.max as i128));
        }
        for (j, node) in graph.nodes.iter().enumerate() {
            if ids.insert(&node.name, n_in + j).is_some() {
                return Err(GraphError::Graph(format!(
                    "node `{}`: the name is used twice",
                    node.name
                )));
            }
        }
        let node_err = |j: usize, msg: String| GraphError::Node {
            node: graph.nodes[j].name.clone(),
            op: graph.nodes[j].op.name(),
            msg,
        };
        let mut wires = Vec::with_capacity(graph.nodes.len());
        for (j, node) in graph.nodes.iter().enumerate() {
            let w = node
                .inputs
                .iter()
                .map(|name| {
                    ids.get(name.as_str()).copied().ok_or_else(|| {
                        node_err(j, format!("input `{name}` is no tensor of the graph"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            wires.push(w);
        }
        let order = topological(&graph, &wires, n_in)?;

        shapes.resize(n_in + graph.nodes.len(), Vec::new());
        bounds.resize(n_in + graph.nodes.len(), (0, 0));
        let mut kinds = vec![None; graph.nodes.len()];
        for &j in &order {
            let node = &graph.nodes[j];
            let ins: Vec<&[usize]> = wires[j].iter().map(|t| &shapes[*t][..]).collect();
            let shape = node.op.shape(&ins).map_err(|m| node_err(j, m))?;
            if shape != node.shape {
                return Err(node_err(
                    j,
                    format!(
                        "computes shape {shape:?} but the graph records {:?}",
                        node.shape
                    ),
                ));
            }
            if !(node.scale.is_finite() && node.scale > 0.0) {
                return Err(node_err(
                    j,
                    format!("scale {} is not finite and positive", node.scale),
                ));
            }
            let kind = node.op.kind(&ins, &shape);
            let in_bounds: Vec<_> = wires[j].iter().map(|t| bounds[*t]).collect();
            let b = kind.bounds(&in_bounds).map_err(|m| node_err(j, m))?;
            if width(b) > MAX_BOUND_BITS {
                return Err(node_err(
                    j,
                    format!(
                        "values may reach 2^{}; the limit is 2^{MAX_BOUND_BITS}",
                        width(b)
                    ),
                ));
            }
            shapes[n_in + j] = shape;
            bounds[n_in + j] = b;
            kinds[j] = Some(kind);
        }

        let mut outputs = Vec::new();
        for name in &graph.outputs {
            let t = *ids.get(name.as_str()).ok_or_else(|| {
                GraphError::Graph(format!("output `{name}` is no tensor of the graph"))
            })?;
            let (lo, hi) = bounds[t];
            if lo < -128 || hi > 127 {
                return Err(GraphError::Graph(format!(
                    "output `{name}` may reach [{lo}, {hi}]; outputs must end in a rescale to int8"
                )));
            }
            outputs.push(t);
        }
        if outputs.is_empty() {
            return Err(GraphError::Graph("the graph has no output".into()));
        }
        let kinds = kinds
            .into_iter()
            .map(|k| k.expect("every node is in the order"))
            .collect();
        Ok(Model {
            graph,
            order,
            wires,
            shapes,
            bounds,
            kinds,
            outputs,
        })
    }
}

/// Node indices in evaluation order; a cycle is an error naming a node on it.
fn topological(graph: &Graph, wires: &[Vec<usize>], n_in: usize) -> Result<Vec<usize>, GraphError> {
    let n = graph.nodes.len();
    let mut missing: Vec<usize> = wires
        .iter()
        .map(|w| w.iter().filter(|t| **t >= n_in).count())
        .collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (j, w) in wires.iter().enumerate() {
        for t in w.iter().filter(|t| **t >= n_in) {
            users[t - n_in].push(j);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|j| missing[*j] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(j) = ready.pop_first() {
        order.push(j);
        for &u in &users[j] {
            missing[u] -= 1;
            if missing[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < n {
        // Walk back through unfinished inputs until a node repeats: that node is on a cycle.
        let mut stuck = (0..n).find(|j| missing[*j] > 0).expect("a node is left");
        let mut seen = BTreeSet::new();
        while seen.insert(stuck) {
            stuck = wires[stuck]
                .iter()
                .filter(|t| **t >= n_in && missing[**t - n_in] > 0)
                .map(|t| t - n_in)
                .next()
                .expect("an unfinished node waits on an unfinished input");
        }
        return Err(GraphError::Graph(format!(
            "node `{}` is on a cycle",
            graph.nodes[stuck].name
        )));
    }
    Ok(order)
}
