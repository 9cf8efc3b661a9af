//! Dense row-major tensors and the index arithmetic every op shares: strides, multi-indices and
//! numpy-style broadcasting. The same type holds constants (`i64`), reference values (`i128`) and
//! circuit values (cells or linear combinations), so wiring is one function for all of them.

use serde::{Deserialize, Serialize};

/// A row-major tensor: `data[Σ idx[d] · stride[d]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tensor<T> {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `shape`.
    pub data: Vec<T>,
}

impl<T> Tensor<T> {
    /// A tensor over `data`; `None` when the lengths disagree.
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Option<Self> {
        (numel(&shape) == data.len()).then_some(Self { shape, data })
    }

    /// A 0-d tensor holding `v` (it broadcasts to any shape).
    pub fn scalar(v: T) -> Self {
        Tensor {
            shape: vec![],
            data: vec![v],
        }
    }

    /// Elements, shape unchanged.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(f).collect(),
        }
    }
}

/// Number of elements of a shape (1 for a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// The multi-index of flat position `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d].max(1);
        i /= shape[d].max(1);
    }
    idx
}

/// The flat position of `idx` in a tensor with `strides`.
pub fn ravel(idx: &[usize], strides: &[usize]) -> usize {
    idx.iter().zip(strides).map(|(i, s)| i * s).sum()
}

/// The numpy broadcast of two shapes (aligned at the last axis), if they are compatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let get = |s: &[usize], d: usize| {
        if d + s.len() < n {
            1
        } else {
            s[d + s.len() - n]
        }
    };
    (0..n)
        .map(|d| match (get(a, d), get(b, d)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// For every element of `out` (row-major), the flat position it reads in a tensor of `shape`
/// broadcast to `out`. The caller has checked that `shape` broadcasts to `out`.
pub fn broadcast_map(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let st = strides(shape);
    let lead = out.len() - shape.len();
    (0..numel(out))
        .map(|i| {
            let idx = unravel(i, out);
            (0..shape.len())
                .map(|d| {
                    if shape[d] == 1 {
                        0
                    } else {
                        idx[lead + d] * st[d]
                    }
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_shape(&[3], &[2, 3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[2], &[3]), None);
        // a [2, 1] column against [2, 3]: every row reads its own element
        assert_eq!(broadcast_map(&[2, 1], &[2, 3]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(broadcast_map(&[3], &[2, 3]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(ravel(&[1, 2], &strides(&[2, 3])), 5);
    }
}
