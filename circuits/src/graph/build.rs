//! Building graphs in code (tests, examples, front ends): each node's shape is computed by its op
//! from the shapes already known, so a builder cannot record a shape the op does not produce.

use std::collections::BTreeMap;

use super::{Graph, GraphError, Input, Model, Node, GRAPH_VERSION};
use crate::ops::Op;

/// A graph under construction.
#[derive(Debug, Clone)]
pub struct Builder {
    graph: Graph,
    shapes: BTreeMap<String, Vec<usize>>,
}

impl Builder {
    /// An empty graph called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            graph: Graph {
                version: GRAPH_VERSION,
                name: name.into(),
                inputs: Vec::new(),
                nodes: Vec::new(),
                outputs: Vec::new(),
            },
            shapes: BTreeMap::new(),
        }
    }

    /// Adds an int8 input (scale 1) of `shape`; returns its name.
    pub fn input(&mut self, name: &str, shape: &[usize]) -> String {
        self.graph.inputs.push(Input {
            name: name.into(),
            shape: shape.to_vec(),
            scale: 1.0,
            min: -128,
            max: 127,
            tokens: false,
        });
        self.shapes.insert(name.into(), shape.to_vec());
        name.into()
    }

    /// Adds an input of token ids in `[0, max]` of `shape`; returns its name.
    pub fn tokens(&mut self, name: &str, shape: &[usize], max: i64) -> String {
        self.graph.inputs.push(Input {
            name: name.into(),
            shape: shape.to_vec(),
            scale: 1.0,
            min: 0,
            max,
            tokens: true,
        });
        self.shapes.insert(name.into(), shape.to_vec());
        name.into()
    }

    /// Adds node `name` applying `op` to `inputs`; returns its name.
    pub fn node(&mut self, name: &str, op: Op, inputs: &[&str]) -> Result<String, GraphError> {
        let bad = |msg: String| GraphError::Node {
            node: name.into(),
            op: op.name(),
            msg,
        };
        let shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|i| {
                self.shapes
                    .get(*i)
                    .map(|s| &s[..])
                    .ok_or_else(|| bad(format!("input `{i}` is no tensor of the graph")))
            })
            .collect::<Result<_, _>>()?;
        let shape = op.shape(&shapes).map_err(bad)?;
        self.graph.nodes.push(Node {
            name: name.into(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            shape: shape.clone(),
            scale: 1.0,
        });
        self.shapes.insert(name.into(), shape);
        Ok(name.into())
    }

    /// The shape of tensor `name`, if it exists.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.shapes.get(name).map(|s| &s[..])
    }

    /// The graph as built so far, with `outputs` (unvalidated).
    pub fn graph(&self, outputs: &[&str]) -> Graph {
        let mut g = self.graph.clone();
        g.outputs = outputs.iter().map(|s| s.to_string()).collect();
        g
    }

    /// Validates the graph with `outputs`.
    pub fn finish(self, outputs: &[&str]) -> Result<Model, GraphError> {
        Model::new(self.graph(outputs))
    }
}
