//! Embedding lookup: `y[i, c] = table[x_i, c]` for integer indices `x` (token ids) into a
//! constant `rows × width` table (ONNX Gather on a constant with a computed index: a token or
//! position embedding). The table is the spec, stored in the model like weights.
//!
//! Sound because the index's static bound must lie in `[0, rows)` (refused at load otherwise; a
//! token input's range is proven where it is committed), and then each output is exactly that
//! row's entry. halo2 proves each output with one lookup of `(tag, x·width + c, y)` on the table
//! chip, the column `c < width` fixed by the circuit, so the key names one entry. R1CS has no
//! lookups: the index's one-hot row over the rows its bound allows ([`super::index_hot`], exact
//! clamps) selects the row, each entry a constant combination of the row's bits, which costs a
//! comparison per row the index may take and no constraint per column.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::instructions::Instructions;
use super::kind::{Bound, Kind};
use super::{unary, OpSpec};
use crate::graph::Tensor;

/// Most entries an embedding table may have (the circuit holds every entry in its rows).
pub const MAX_EMBED_LEN: usize = 1 << 20;

/// The embedding op: `table` is `[rows, width]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embed {
    /// The constant table, one row per index.
    pub table: Tensor<i64>,
}

/// The structure: row `x` of a `width`-wide table, flat.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Entries per row.
    pub width: usize,
    /// The table, row-major.
    pub values: Vec<i64>,
}

impl OpSpec for Embed {
    fn name(&self) -> &'static str {
        "embed"
    }

    fn lookups(&self) -> bool {
        true
    }

    fn check(&self) -> Result<(), String> {
        let [rows, width] = self.table.shape[..] else {
            return Err(format!(
                "the table has shape {:?}; it must be [rows, width]",
                self.table.shape
            ));
        };
        let n = rows * width;
        if n == 0 || n > MAX_EMBED_LEN {
            return Err(format!("the table has {n} entries (1 to {MAX_EMBED_LEN})"));
        }
        match self.table.data.iter().find(|v| v.abs() > MAX_CLAMP_ABS) {
            Some(v) => Err(format!("entry {v} exceeds ±2^40")),
            None => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let mut out = unary(inputs).to_vec();
        out.push(self.table.shape[1]);
        Ok(out)
    }

    fn kind(&self, _: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Embed(Embedding {
            width: self.table.shape[1],
            values: self.table.data.clone(),
        })
    }
}

impl Embedding {
    fn rows(&self) -> usize {
        self.values.len() / self.width
    }

    /// The entries' range; every index the input may hold must be a row.
    pub fn bounds(&self, x: Bound) -> Result<Bound, String> {
        let last = self.rows() as i128 - 1;
        if x.0 < 0 || x.1 > last {
            return Err(format!(
                "indices may reach [{}, {}], outside the table's rows [0, {last}]",
                x.0, x.1
            ));
        }
        let lo = *self.values.iter().min().expect("checked non-empty");
        let hi = *self.values.iter().max().expect("checked non-empty");
        Ok((lo as i128, hi as i128))
    }

    /// The reference: `None` for an index that is not a row (only if a bound was violated).
    pub fn eval(&self, x: &[i128]) -> Option<Vec<i128>> {
        let mut y = Vec::with_capacity(x.len() * self.width);
        for t in x {
            let t = usize::try_from(*t).ok().filter(|t| *t < self.rows())?;
            let row = &self.values[t * self.width..(t + 1) * self.width];
            y.extend(row.iter().map(|v| *v as i128));
        }
        Some(y)
    }

    /// One row per index ([`Instructions::embed_row`]).
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        x: &[I::Value],
        bound: Bound,
    ) -> Result<Vec<I::Value>, I::Error> {
        let mut y = Vec::with_capacity(x.len() * self.width);
        for t in x {
            y.extend(ins.embed_row(t, bound, self.width, &self.values)?);
        }
        Ok(y)
    }
}
