//! A function table, element-wise: `y = values[x - first]` (Sigmoid, Tanh, Erf, Gelu, Exp,
//! Log, Sqrt, Reciprocal, Softplus, Elu, Mish, Sin..., or any chain of them the front end
//! evaluates as one function of one tensor). The table is the spec: its entries were computed
//! once, from the function and the two scales, with `libm` (the same integers on every
//! machine), and are stored in the model like weights.
//!
//! The input's static bound must lie inside the table's domain, so every admissible input has
//! an entry; the front end makes it so by rescaling and clamping into the domain first (a proven
//! clamp, never a silent wrap). halo2 proves each element by a lookup of `(tag, x, y)` in a
//! fixed table, whose tag the verifying key fixes per row; R1CS has no lookups and refuses the
//! op when the circuit is shaped, naming the node.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::kind::Kind;
use super::{unary, OpSpec};

/// Most entries a table may have (the circuit must hold every table in its rows).
pub const MAX_TABLE_LEN: usize = 1 << 16;

/// The table op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// What the table computes, for people: `"sigmoid"`, `"elu(alpha=1)"`; not interpreted.
    pub func: String,
    /// The input whose output is `values[0]`.
    pub first: i64,
    /// Outputs for the inputs `first, first + 1, ...`.
    pub values: Vec<i64>,
}

impl OpSpec for Table {
    fn name(&self) -> &'static str {
        "table"
    }

    fn lookups(&self) -> bool {
        true
    }

    fn check(&self) -> Result<(), String> {
        let n = self.values.len();
        if n == 0 || n > MAX_TABLE_LEN {
            return Err(format!("{}: {n} entries (1 to {MAX_TABLE_LEN})", self.func));
        }
        let last = (self.first as i128) + n as i128 - 1;
        if self.first.abs() > MAX_CLAMP_ABS || last.abs() > MAX_CLAMP_ABS as i128 {
            return Err(format!("{}: domain exceeds ±2^40", self.func));
        }
        match self.values.iter().find(|v| v.abs() > MAX_CLAMP_ABS) {
            Some(v) => Err(format!("{}: entry {v} exceeds ±2^40", self.func)),
            None => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        Ok(unary(inputs).to_vec())
    }

    fn kind(&self, _: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Table {
            first: self.first,
            values: self.values.clone(),
        }
    }
}
