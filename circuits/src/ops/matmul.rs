//! Contraction of two computed tensors: `y[o] = Σ a[·] · b[·]` over the labels that appear in an
//! operand but not in the output, as `numpy.einsum(a_axes + "," + b_axes + "->" + output_axes,
//! a, b)`: MatMul of activations (attention's `Q·Kᵀ` and `P·V`), batched or not. Each output
//! is a sum of witness products, lowered through [`Instructions::inners`] (by default one
//! product per term, the sum a combination, so it is as sound as the product relation). Its
//! [`grids`] tell a backend which outputs form a matrix product, `Y[r][c] = A[r] · B[c]`, which
//! it may prove at once (halo2 checks one against a random challenge): a grid is read off the
//! sums themselves, so it states exactly what they compute.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::einsum::contraction;
use super::instructions::Grid;
#[cfg(doc)]
use super::instructions::Instructions;
use super::kind::{Kind, Src};
use super::OpSpec;

/// The contraction op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatMul {
    /// One label per axis of the first input, e.g. `"bqd"`.
    pub a_axes: String,
    /// One label per axis of the second input, e.g. `"bkd"`.
    pub b_axes: String,
    /// One label per axis of the output, e.g. `"bqk"`.
    pub output_axes: String,
}

fn labels(axes: &str, shape: &[usize], what: &str) -> Result<Vec<char>, String> {
    let l: Vec<char> = axes.chars().collect();
    if l.len() != shape.len() {
        return Err(format!(
            "{what} axes `{axes}` label {} axes, the {what} has shape {shape:?}",
            l.len()
        ));
    }
    if let Some((d, c)) = l.iter().enumerate().find(|(d, c)| l[..*d].contains(c)) {
        return Err(format!("{what} axes `{axes}` repeat `{c}` at {d}"));
    }
    Ok(l)
}

impl MatMul {
    fn sizes(&self, a: &[usize], b: &[usize]) -> Result<BTreeMap<char, usize>, String> {
        let mut sizes = BTreeMap::new();
        for (axes, shape, what) in [(&self.a_axes, a, "first"), (&self.b_axes, b, "second")] {
            for (l, n) in labels(axes, shape, what)?.into_iter().zip(shape) {
                match sizes.insert(l, *n) {
                    Some(s) if s != *n => return Err(format!("axis `{l}` has sizes {s} and {n}")),
                    _ => {}
                }
            }
        }
        Ok(sizes)
    }
}

impl OpSpec for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn arity(&self) -> usize {
        2
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let sizes = self.sizes(inputs[0], inputs[1])?;
        let l: Vec<char> = self.output_axes.chars().collect();
        if let Some(c) = l.iter().enumerate().find(|(d, c)| l[..*d].contains(c)) {
            return Err(format!(
                "output axes `{}` repeat `{}`",
                self.output_axes, c.1
            ));
        }
        // an output axis in neither operand is a new axis of size 1 (tract writes `k,nk->mn`)
        Ok(l.iter()
            .map(|c| sizes.get(c).copied().unwrap_or(1))
            .collect())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let sizes = self.sizes(inputs[0], inputs[1]).expect("checked by shape");
        let operands = [(&self.a_axes[..], inputs[0]), (&self.b_axes[..], inputs[1])];
        let sums = contraction(&sizes, &operands, &self.output_axes, out)
            .into_iter()
            .map(|terms| {
                terms
                    .into_iter()
                    .map(|[a, b]| [Src { input: 0, index: a }, Src { input: 1, index: b }])
                    .collect()
            })
            .collect();
        Kind::Inner(sums)
    }
}

/// The matrix products among sums of products: sums that share their first operands are a row,
/// sums that share their second operands a column, and rows over the same columns one grid. A
/// sum whose row and column another sum already holds (the same sum twice) is in no grid.
pub fn grids(sums: &[Vec<[Src; 2]>]) -> Vec<Grid> {
    fn id(ids: &mut BTreeMap<Vec<Src>, usize>, key: Vec<Src>) -> usize {
        let next = ids.len();
        *ids.entry(key).or_insert(next)
    }
    let (mut rows, mut cols) = (BTreeMap::new(), BTreeMap::new());
    let mut cells: BTreeMap<usize, BTreeMap<usize, usize>> = BTreeMap::new();
    for (o, pairs) in sums.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let r = id(&mut rows, pairs.iter().map(|p| p[0]).collect());
        let c = id(&mut cols, pairs.iter().map(|p| p[1]).collect());
        cells.entry(r).or_default().entry(c).or_insert(o);
    }
    let mut by_cols: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for (r, cs) in &cells {
        by_cols
            .entry(cs.keys().copied().collect())
            .or_default()
            .push(*r);
    }
    by_cols
        .into_iter()
        .map(|(cs, rs)| Grid {
            at: rs
                .iter()
                .map(|r| cs.iter().map(|c| cells[r][c]).collect())
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(input: usize, index: usize) -> Src {
        Src { input, index }
    }

    #[test]
    fn a_batched_product_is_one_grid_per_batch_and_a_repeated_sum_none() {
        // two batches of a 2×3 by 4×3 product, as the op's kind lists them
        let m = MatMul {
            a_axes: "bqd".into(),
            b_axes: "bkd".into(),
            output_axes: "bqk".into(),
        };
        let Kind::Inner(mut sums) = m.kind(&[&[2, 2, 3], &[2, 4, 3]], &[2, 2, 4]) else {
            panic!("a contraction");
        };
        let g = grids(&sums);
        assert_eq!(g.len(), 2);
        for (b, grid) in g.iter().enumerate() {
            assert_eq!(grid.at.len(), 2);
            for (q, row) in grid.at.iter().enumerate() {
                assert_eq!(row, &(0..4).map(|k| b * 8 + q * 4 + k).collect::<Vec<_>>());
                for (k, o) in row.iter().enumerate() {
                    let want: Vec<[Src; 2]> = (0..3)
                        .map(|d| [src(0, b * 6 + q * 3 + d), src(1, b * 12 + k * 3 + d)])
                        .collect();
                    assert_eq!(sums[*o], want);
                }
            }
        }
        // the same sum twice: the second is in no grid
        sums.push(sums[5].clone());
        let g = grids(&sums);
        assert!(g.iter().all(|g| g.at.iter().flatten().all(|o| *o != 16)));
        assert_eq!(
            g.iter().map(|g| g.at.len() * g.at[0].len()).sum::<usize>(),
            16
        );
    }

    #[test]
    fn rows_over_other_columns_are_another_grid() {
        // a causal product keeps only k ≤ q: each row has columns of its own
        let sums: Vec<Vec<[Src; 2]>> = (0..3)
            .flat_map(|q| (0..=q).map(move |k| vec![[src(0, q), src(1, k)]]))
            .collect();
        let g = grids(&sums);
        assert_eq!(g.len(), 3);
        assert_eq!(g.iter().map(|g| g.at.len()).sum::<usize>(), 3);
    }
}
