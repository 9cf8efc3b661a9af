//! `where(cond, a, b)` with a computed condition (ONNX Where after a comparison): each output is
//! `a`'s element where `cond` is 1 and `b`'s where it is 0, broadcast (numpy); either branch may
//! be a constant instead of an input.
//!
//! Sound because the output is `b + cond · (a - b)`: one product and two constant combinations,
//! a function of the inputs. The condition's static bound must lie within `[0, 1]` (refused at
//! load otherwise), and every op's output is constrained within its bound, so `cond` is an
//! integer that is 0 or 1, and the output is exactly one of the branches.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::instructions::Instructions;
use super::kind::{Bound, Elem, Kind, Src};
use super::OpSpec;
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel};

/// The select: inputs `cond`, then `a` unless it is the constant `then`, then `b` unless it is
/// the constant `otherwise`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Choose {
    /// The constant taken where `cond` is 1, in place of an `a` input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<i64>,
    /// The constant taken where `cond` is 0, in place of a `b` input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<i64>,
}

/// The structure: per output, the condition and the two branches.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// `[cond, a, b]` of each output.
    pub picks: Vec<[Elem; 3]>,
}

impl OpSpec for Choose {
    fn name(&self) -> &'static str {
        "choose"
    }

    fn arity(&self) -> usize {
        1 + usize::from(self.then.is_none()) + usize::from(self.otherwise.is_none())
    }

    fn check(&self) -> Result<(), String> {
        match [self.then, self.otherwise]
            .into_iter()
            .flatten()
            .find(|v| v.abs() > MAX_CLAMP_ABS)
        {
            Some(v) => Err(format!("constant branch {v} exceeds ±2^40")),
            None => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let mut out = inputs[0].to_vec();
        for s in &inputs[1..] {
            out = broadcast_shape(&out, s)
                .ok_or_else(|| format!("shapes {out:?} and {s:?} do not broadcast"))?;
        }
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let maps: Vec<Vec<usize>> = inputs.iter().map(|s| broadcast_map(s, out)).collect();
        let src = |input: usize, i: usize| {
            Elem::Src(Src {
                input,
                index: maps[input][i],
            })
        };
        let picks = (0..numel(out))
            .map(|i| {
                let a = self.then.map_or_else(|| src(1, i), Elem::Const);
                let at_b = if self.then.is_none() { 2 } else { 1 };
                let b = self.otherwise.map_or_else(|| src(at_b, i), Elem::Const);
                [src(0, i), a, b]
            })
            .collect();
        Kind::Choose(Choice { picks })
    }
}

impl Choice {
    /// The union of the branches' bounds; an error when a condition may leave `[0, 1]`.
    pub fn bounds(&self, inputs: &[Bound]) -> Result<Bound, String> {
        let of = |e: &Elem| match e {
            Elem::Src(s) => inputs[s.input],
            Elem::Const(c) => (*c as i128, *c as i128),
        };
        let mut out = (i128::MAX, i128::MIN);
        for [c, a, b] in &self.picks {
            let cb = of(c);
            if cb.0 < 0 || cb.1 > 1 {
                return Err(format!(
                    "the condition may reach [{}, {}]; it must be 0 or 1 (a comparison's result)",
                    cb.0, cb.1
                ));
            }
            for x in [of(a), of(b)] {
                out = (out.0.min(x.0), out.1.max(x.1));
            }
        }
        Ok(out)
    }

    /// The reference: `None` for a condition that is not 0 or 1 (only if a bound was violated).
    pub fn eval(&self, inputs: &[&[i128]]) -> Option<Vec<i128>> {
        let get = |e: &Elem| match e {
            Elem::Src(s) => inputs[s.input][s.index],
            Elem::Const(c) => *c as i128,
        };
        self.picks
            .iter()
            .map(|[c, a, b]| match get(c) {
                1 => Some(get(a)),
                0 => Some(get(b)),
                _ => None,
            })
            .collect()
    }

    /// `b + cond · (a - b)` per output; with both branches constant, the one combination
    /// `b + (a - b) · cond`.
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        inputs: &[&[I::Value]],
    ) -> Result<Vec<I::Value>, I::Error> {
        let get = |s: &Src| &inputs[s.input][s.index];
        self.picks
            .iter()
            .map(|[c, a, b]| {
                let Elem::Src(c) = c else {
                    unreachable!("the condition is always an input")
                };
                let c = get(c);
                // terms and constant of `k · e`
                let part = |e: &Elem, k: i64| match e {
                    Elem::Src(s) => (Some((k, get(s))), 0i128),
                    Elem::Const(v) => (None, k as i128 * *v as i128),
                };
                let (pa, ka) = part(a, 1);
                let (pb, kb) = part(b, -1);
                let d_terms: Vec<(i64, &I::Value)> = pa.into_iter().chain(pb).collect();
                if d_terms.is_empty() {
                    return ins.linear(&[((ka + kb) as i64, c)], -kb);
                }
                let d = ins.linear(&d_terms, ka + kb)?;
                let p = ins.mul(c, &d)?;
                let (b_term, b_const) = part(b, 1);
                let terms: Vec<(i64, &I::Value)> = std::iter::once((1, &p)).chain(b_term).collect();
                ins.linear(&terms, b_const)
            })
            .collect()
    }
}
