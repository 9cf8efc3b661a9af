//! The tensor-graph IR: a DAG of [`Node`]s over N-d integer tensors, stored as versioned JSON
//! (`model.json`). Every tensor has a shape (the batch axis explicit, of size 1: a proof's batch
//! runs the graph once per sample), a fixed-point scale (real = integer / scale) and static
//! bounds derived from the inputs' ranges through every op.
//!
//! A [`Graph`] is what the JSON holds; a [`Model`] is a graph that passed [`Model::new`]: names
//! resolve, there is no cycle, every node's shape is what its op computes from its inputs, and
//! every bound stays within [`MAX_BOUND_BITS`], far below the field, so no accumulator can wrap.
//! Every later stage (reference executor, both circuits) relies on those facts.

pub mod build;
pub mod exec;
pub mod lower;
pub mod tensor;
mod validate;

use serde::{Deserialize, Serialize};

pub use build::Builder;
pub use exec::{execute, quantize_input, Trace};
pub use lower::lower;
pub use tensor::Tensor;

use crate::ops::{Bound, Kind, Op};

/// The JSON version this build reads and writes.
pub const GRAPH_VERSION: u32 = 2;

/// Largest magnitude an intermediate may reach: keeps all products far below the 254-bit field.
pub const MAX_BOUND_BITS: u32 = 100;

/// The stored graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// [`GRAPH_VERSION`].
    pub version: u32,
    /// The model's name (display only).
    pub name: String,
    /// Graph inputs, in the order their values are laid out and committed.
    pub inputs: Vec<Input>,
    /// The nodes; each defines the tensor of its own name.
    pub nodes: Vec<Node>,
    /// Names of the output tensors, in the order they are laid out and committed.
    pub outputs: Vec<String>,
}

/// A graph input and how float values become its integers:
/// `clamp(round_half_away(x · scale), min, max)`; a token input takes integers as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// The tensor's name.
    pub name: String,
    /// Its shape, batch axis (1) first.
    pub shape: Vec<usize>,
    /// Integer units per real unit.
    pub scale: f64,
    /// Smallest quantized value (within int8; 0 for tokens).
    pub min: i64,
    /// Largest quantized value (within int8; below `2^16` for tokens).
    pub max: i64,
    /// Token ids (an ONNX integer input), committed 16 bits each: scale 1, `[0, max]`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tokens: bool,
}

/// A node: an op applied to named tensors, defining the tensor `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The node's (and its output tensor's) name, unique in the graph.
    pub name: String,
    /// The op and its constants.
    pub op: Op,
    /// Names of the input tensors, in the op's order.
    pub inputs: Vec<String>,
    /// The output's shape, as the op computes it (checked on load).
    pub shape: Vec<usize>,
    /// Integer units per real unit of the output (display and accuracy only).
    pub scale: f64,
}

/// Why a graph is not a valid model. Errors name the node (or input) at fault.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A JSON version this build does not read.
    #[error("model: unsupported IR version {0} (this build reads {GRAPH_VERSION})")]
    Version(u32),
    /// A node is inconsistent.
    #[error("model: node `{node}` ({op}): {msg}")]
    Node {
        /// The node's name.
        node: String,
        /// Its op.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// A graph input is inconsistent.
    #[error("model: input `{name}`: {msg}")]
    Input {
        /// The input's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// The graph as a whole is inconsistent (outputs, cycles, names).
    #[error("model: {0}")]
    Graph(String),
    /// A value handed to the model does not fit it.
    #[error("model: {0}")]
    Shape(String),
    /// The reference executor overflowed (a bound was violated).
    #[error("model: node `{node}`: arithmetic overflow")]
    Overflow {
        /// The node's name.
        node: String,
    },
    /// An index read from the input (or computed from it) is outside its axis.
    #[error("model: node `{node}`: an index is outside [-{depth}, {depth})")]
    Index {
        /// The node's name.
        node: String,
        /// The axis's length.
        depth: usize,
    },
}

/// A validated graph with everything later stages need derived once: the evaluation order, every
/// tensor's shape and bounds, and every node's structure.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Graph")]
pub struct Model {
    graph: Graph,
    /// Node indices in evaluation order.
    order: Vec<usize>,
    /// Per node, the tensor ids of its inputs (inputs are ids `0..n`, node `j` is `n + j`).
    wires: Vec<Vec<usize>>,
    shapes: Vec<Vec<usize>>,
    bounds: Vec<Bound>,
    kinds: Vec<Kind>,
    outputs: Vec<usize>,
}

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        self.graph == other.graph
    }
}

impl TryFrom<Graph> for Model {
    type Error = GraphError;
    fn try_from(g: Graph) -> Result<Self, GraphError> {
        Model::new(g)
    }
}

impl From<Model> for Graph {
    fn from(m: Model) -> Graph {
        m.graph
    }
}

/// A model is stored as its graph; what was derived from it is derived again on load. Written by
/// hand so that serializing borrows the graph instead of cloning the derived structures.
impl Serialize for Model {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.graph.serialize(s)
    }
}

impl Model {
    /// The stored graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.graph.name
    }

    /// Values of one sample: every input's elements, inputs in order, each row-major.
    pub fn input_len(&self) -> usize {
        self.graph
            .inputs
            .iter()
            .map(|i| tensor::numel(&i.shape))
            .sum()
    }

    /// Whether the inputs are token ids (validation makes it all inputs or none).
    pub fn token_inputs(&self) -> bool {
        self.graph.inputs.iter().any(|i| i.tokens)
    }

    /// Values of each input, in order.
    pub fn input_sizes(&self) -> Vec<usize> {
        self.graph
            .inputs
            .iter()
            .map(|i| tensor::numel(&i.shape))
            .collect()
    }

    /// Values of one sample's outputs, laid out as [`Self::input_len`].
    pub fn output_len(&self) -> usize {
        self.outputs
            .iter()
            .map(|t| tensor::numel(&self.shapes[*t]))
            .sum()
    }

    /// Shape of each output, in order.
    pub fn output_shapes(&self) -> Vec<&[usize]> {
        self.outputs.iter().map(|t| &self.shapes[*t][..]).collect()
    }

    /// The static bounds of tensor `name`.
    pub fn bounds_of(&self, name: &str) -> Option<Bound> {
        self.tensor_id(name).map(|t| self.bounds[t])
    }

    /// The scale of every output element, flat (to turn outputs into real numbers).
    pub fn output_scales(&self) -> Vec<f64> {
        self.outputs
            .iter()
            .flat_map(|t| {
                let scale = self.scale(*t);
                std::iter::repeat_n(scale, tensor::numel(&self.shapes[*t]))
            })
            .collect()
    }

    /// Real values of a sample's flat integer outputs.
    pub fn dequantize(&self, out: &[i128]) -> Vec<f64> {
        out.iter()
            .zip(self.output_scales())
            .map(|(v, s)| *v as f64 / s)
            .collect()
    }

    /// Whether an op sums products of two computed tensors (a backend may lay them out on a
    /// chip of their own).
    pub fn has_products(&self) -> bool {
        self.kinds.iter().any(|k| matches!(k, Kind::Inner(_)))
    }

    /// Whether some linear op computes the same combinations at several positions (a
    /// projection of every token): a backend may prove those together.
    pub fn repeats_blocks(&self) -> bool {
        self.kinds.iter().any(Kind::repeats_blocks)
    }

    /// Each input element's declared `[min, max]`, inputs in order, row-major: what the
    /// circuits range-check, and what every bound of the graph rests on.
    pub fn input_ranges(&self) -> impl Iterator<Item = (i64, i64)> + Clone + '_ {
        self.graph
            .inputs
            .iter()
            .flat_map(|i| std::iter::repeat_n((i.min, i.max), tensor::numel(&i.shape)))
    }

    /// Each distinct lookup table (a function table, a softmax's exp table, an embedding keyed
    /// from 0), `(first, values)`,
    /// in the order of the nodes that first use it: the circuit tags tables in this order.
    pub fn tables(&self) -> Vec<(i64, &[i64])> {
        let mut out: Vec<(i64, &[i64])> = Vec::new();
        for k in &self.kinds {
            let (first, values) = match k {
                Kind::Table { first, values } => (*first, &values[..]),
                Kind::Softmax(n) => (n.first, &n.exp[..]),
                Kind::Embed(e) => (0, &e.values[..]),
                _ => continue,
            };
            if !out.iter().any(|(f, v)| *f == first && *v == values) {
                out.push((first, values));
            }
        }
        out
    }

    fn scale(&self, t: usize) -> f64 {
        let n = self.graph.inputs.len();
        if t < n {
            self.graph.inputs[t].scale
        } else {
            self.graph.nodes[t - n].scale
        }
    }

    fn tensor_id(&self, name: &str) -> Option<usize> {
        let n = self.graph.inputs.len();
        self.graph
            .inputs
            .iter()
            .position(|i| i.name == name)
            .or_else(|| {
                self.graph
                    .nodes
                    .iter()
                    .position(|x| x.name == name)
                    .map(|j| n + j)
            })
    }
}
