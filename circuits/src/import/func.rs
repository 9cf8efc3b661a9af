//! Element-wise functions of one tensor, found in tract's graph and evaluated as one table.
//!
//! tract leaves Sigmoid, Tanh, Erf, Exp, Log, Sqrt, Reciprocal, Sin, Cos, HardSwish, Gelu and
//! their kin as element-wise mini ops, and expands Elu, Selu, Celu, Softplus, Softsign, Mish and
//! exact Gelu into chains of them with scalar constants, comparisons and selects. Any such chain
//! whose every node is an element-wise function of the same tensor `x` is one function
//! `f(x)`: it becomes one table over `x`'s integers, whatever the chain's length, so a Mish
//! costs what a Sigmoid costs. A chain is taken only where it holds a function the other ops
//! cannot express (a transcendental, a division by `x`, a power); scalings, clamps and sums
//! stay the linear and comparison ops they are.
//!
//! The function is evaluated here, in f64 with `libm` only (no platform math), so every
//! machine derives the same table entries, keys and verifier. tract's own run, in f32 with its
//! vectorised kernels, serves only calibration and the accuracy report.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    binary::TypedBinOp,
    element_wise::ElementWiseOp,
    logic::Iff,
    math::PowConst,
    nn::{GeluApproximate, LeakyRelu as TLeakyRelu},
};

use super::quantize::Q;
use super::translate::{const_of, FloatOp};
use crate::ops::table;

/// A unary function of the mini ops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unary {
    Sigmoid,
    Tanh,
    Erf,
    Exp,
    Ln,
    Sqrt,
    Rsqrt,
    Recip,
    Square,
    Pow(f64),
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Abs,
    Neg,
    Sign,
    Not,
    Ceil,
    Floor,
    Round,
    RoundEven,
    HardSwish,
    Silu,
    /// With the `x²` of tract's fast form, else `x³`.
    GeluTanh {
        fast: bool,
    },
    GeluErf,
    LeakyRelu(f64),
}

/// A binary function of the mini ops (comparisons give 1 or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
}

/// A function of `x`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    X,
    Const(f64),
    Unary(Unary, Box<Expr>),
    Binary(Binary, Box<Expr>, Box<Expr>),
    /// `if c != 0 { a } else { b }`.
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-x))
}

fn hard_sigmoid(x: f64) -> f64 {
    (x / 6.0 + 0.5).clamp(0.0, 1.0)
}

fn bool_(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl Unary {
    fn apply(self, x: f64) -> f64 {
        use Unary::*;
        match self {
            Sigmoid => sigmoid(x),
            Tanh => libm::tanh(x),
            Erf => libm::erf(x),
            Exp => libm::exp(x),
            Ln => libm::log(x),
            Sqrt => libm::sqrt(x),
            Rsqrt => 1.0 / libm::sqrt(x),
            Recip => 1.0 / x,
            Square => x * x,
            Pow(e) => libm::pow(x, e),
            Sin => libm::sin(x),
            Cos => libm::cos(x),
            Tan => libm::tan(x),
            Asin => libm::asin(x),
            Acos => libm::acos(x),
            Atan => libm::atan(x),
            Sinh => libm::sinh(x),
            Cosh => libm::cosh(x),
            Asinh => libm::asinh(x),
            Acosh => libm::acosh(x),
            Atanh => libm::atanh(x),
            Abs => x.abs(),
            Neg => -x,
            Sign => bool_(x > 0.0) - bool_(x < 0.0),
            Not => bool_(x == 0.0),
            Ceil => libm::ceil(x),
            Floor => libm::floor(x),
            Round => libm::round(x),
            RoundEven => libm::rint(x),
            HardSwish => x * hard_sigmoid(x),
            Silu => x * sigmoid(x),
            GeluTanh { fast } => {
                let p = if fast { x * x } else { x * x * x };
                let c = libm::sqrt(2.0 / std::f64::consts::PI);
                0.5 * x * (1.0 + libm::tanh(c * (x + 0.044715 * p)))
            }
            GeluErf => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            LeakyRelu(a) => {
                if x < 0.0 {
                    a * x
                } else {
                    x
                }
            }
        }
    }

    /// Whether the other ops of the IR can express it (then a chain of only such functions
    /// stays ops, not a table).
    fn linear_or_compare(self) -> bool {
        matches!(
            self,
            Unary::Abs | Unary::Neg | Unary::Sign | Unary::Not | Unary::LeakyRelu(_)
        )
    }

    fn of(e: &ElementWiseOp) -> Option<Unary> {
        use Unary::*;
        let m = &e.0;
        if let Some(p) = m.downcast_ref::<PowConst>() {
            return Some(Pow(p.exponent as f64));
        }
        if let Some(l) = m.downcast_ref::<TLeakyRelu>() {
            return Some(LeakyRelu(l.alpha as f64));
        }
        if let Some(g) = m.downcast_ref::<GeluApproximate>() {
            return Some(GeluTanh { fast: g.fast_impl });
        }
        Some(match m.name().as_str() {
            "Sigmoid" => Sigmoid,
            "Tanh" => Tanh,
            "Erf" => Erf,
            "Exp" => Exp,
            "Ln" => Ln,
            "Sqrt" => Sqrt,
            "Rsqrt" => Rsqrt,
            "Recip" => Recip,
            "Square" => Square,
            "Sin" => Sin,
            "Cos" => Cos,
            "Tan" => Tan,
            "Asin" => Asin,
            "Acos" => Acos,
            "Atan" => Atan,
            "Sinh" => Sinh,
            "Cosh" => Cosh,
            "Asinh" => Asinh,
            "Acosh" => Acosh,
            "Atanh" => Atanh,
            "Abs" => Abs,
            "Neg" => Neg,
            "Sign" => Sign,
            "Not" => Not,
            "Ceil" => Ceil,
            "Floor" => Floor,
            "Round" => Round,
            "RoundHalfToEven" => RoundEven,
            "HardSwish" => HardSwish,
            "Silu" => Silu,
            "GeluExact" => GeluErf,
            _ => return None,
        })
    }
}

impl Binary {
    fn apply(self, a: f64, b: f64) -> f64 {
        use Binary::*;
        match self {
            Add => a + b,
            Sub => a - b,
            Mul => a * b,
            Div => a / b,
            Max => a.max(b),
            Min => a.min(b),
            Pow => libm::pow(a, b),
            Eq => bool_(a == b),
            Ne => bool_(a != b),
            Lt => bool_(a < b),
            Gt => bool_(a > b),
            Le => bool_(a <= b),
            Ge => bool_(a >= b),
            And => bool_(a != 0.0 && b != 0.0),
            Or => bool_(a != 0.0 || b != 0.0),
        }
    }

    /// The function and whether its operands come swapped (tract's `SubF` is `b - a`).
    fn of(name: &str) -> Option<(Binary, bool)> {
        use Binary::*;
        Some(match name {
            "Add" => (Add, false),
            "Sub" => (Sub, false),
            "SubF" => (Sub, true),
            "Mul" => (Mul, false),
            "Div" => (Div, false),
            "Max" => (Max, false),
            "Min" => (Min, false),
            "Pow" => (Pow, false),
            "Eq" => (Eq, false),
            "NE" => (Ne, false),
            "LT" => (Lt, false),
            "GT" => (Gt, false),
            "LTE" => (Le, false),
            "GTE" => (Ge, false),
            "And" => (And, false),
            "Or" => (Or, false),
            _ => return None,
        })
    }
}

impl Expr {
    /// `f(x)` in f64 with `libm`.
    pub fn eval(&self, x: f64) -> f64 {
        match self {
            Expr::X => x,
            Expr::Const(c) => *c,
            Expr::Unary(u, a) => u.apply(a.eval(x)),
            Expr::Binary(b, p, q) => b.apply(p.eval(x), q.eval(x)),
            Expr::Select(c, a, b) => {
                if c.eval(x) != 0.0 {
                    a.eval(x)
                } else {
                    b.eval(x)
                }
            }
        }
    }

    /// Whether the expression needs a table: it holds a function other than a scaling, sum,
    /// clamp or sign, or divides by (or raises to a power of) `x`.
    fn needs_table(&self) -> bool {
        match self {
            Expr::X | Expr::Const(_) => false,
            Expr::Unary(u, a) => !u.linear_or_compare() || a.needs_table(),
            Expr::Binary(b, p, q) => {
                let by_x = !matches!(**q, Expr::Const(_));
                matches!(b, Binary::Pow) && !matches!(**p, Expr::Const(_))
                    || matches!(b, Binary::Div | Binary::Pow) && by_x
                    || p.needs_table()
                    || q.needs_table()
            }
            Expr::Select(c, a, b) => c.needs_table() || a.needs_table() || b.needs_table(),
        }
    }

    /// The formula, for people: `sigmoid(x)`, `select(lt(x, 0), mul(1, sub(exp(x), 1)), x)`.
    pub fn name(&self) -> String {
        let lower = |d: String| d.to_lowercase();
        match self {
            Expr::X => "x".into(),
            Expr::Const(c) => format!("{c}"),
            Expr::Unary(u, a) => format!("{}({})", lower(format!("{u:?}")), a.name()),
            Expr::Binary(b, p, q) => {
                format!("{}({}, {})", lower(format!("{b:?}")), p.name(), q.name())
            }
            Expr::Select(c, a, b) => format!("select({}, {}, {})", c.name(), a.name(), b.name()),
        }
    }
}

/// The value of a constant outlet when all its elements are equal.
fn scalar(model: &TypedModel, o: OutletId) -> Option<f64> {
    let k = const_of(model, o)?;
    let first = *k.data.first()?;
    k.data.iter().all(|v| *v == first).then_some(first)
}

/// Every chain of element-wise functions of one tensor that needs a table: its last node →
/// (the tensor, the function as a float op), and the nodes it absorbs. A chain ends where a
/// reader is not a function of the same tensor, or at a model output; a node of the chain that
/// something else also reads is computed on its own as well.
pub(crate) fn chains(
    model: &TypedModel,
) -> (BTreeMap<usize, (OutletId, FloatOp)>, BTreeSet<usize>) {
    let mut of: BTreeMap<usize, (OutletId, Expr)> = BTreeMap::new();
    let Ok(order) = model.eval_order() else {
        return Default::default();
    };
    let shape = |o: OutletId| model.outlet_fact(o).ok().map(|f| f.shape.to_tvec());
    for &id in &order {
        let node = model.node(id);
        let out = OutletId::new(id, 0);
        if node.outputs.len() != 1 || model.outlet_fact(out).is_ok_and(|f| f.konst.is_some()) {
            continue;
        }
        // an operand: a constant scalar, or a function of some tensor of the output's shape
        let arg = |o: OutletId| -> Option<(Option<OutletId>, Expr)> {
            if let Some(c) = scalar(model, o) {
                return Some((None, Expr::Const(c)));
            }
            if shape(o)? != shape(out)? {
                return None;
            }
            Some(match of.get(&o.node) {
                Some((x, e)) if o.slot == 0 => (Some(*x), e.clone()),
                _ => (Some(o), Expr::X),
            })
        };
        let args: Option<Vec<_>> = node.inputs.iter().map(|o| arg(*o)).collect();
        let Some(args) = args else { continue };
        let mut xs: Vec<OutletId> = args.iter().filter_map(|(x, _)| *x).collect();
        xs.dedup();
        let [x] = xs[..] else { continue };
        let mut es: Vec<Expr> = args.into_iter().map(|(_, e)| e).collect();
        let e = if let Some(e) = node.op_as::<ElementWiseOp>() {
            let (Some(u), 1) = (Unary::of(e), es.len()) else {
                continue;
            };
            Expr::Unary(u, Box::new(es.remove(0)))
        } else if let Some(b) = node.op_as::<TypedBinOp>() {
            let (Some((f, swap)), 2) = (Binary::of(b.0.name()), es.len()) else {
                continue;
            };
            let (q, p) = (es.remove(1), es.remove(0));
            let (p, q) = if swap { (q, p) } else { (p, q) };
            Expr::Binary(f, Box::new(p), Box::new(q))
        } else if node.op_is::<Iff>() && es.len() == 3 {
            let (b, a, c) = (es.remove(2), es.remove(1), es.remove(0));
            Expr::Select(Box::new(c), Box::new(a), Box::new(b))
        } else {
            continue;
        };
        of.insert(id, (x, e));
    }
    // the last node of each chain: one that needs a table and that something outside the chain
    // reads (another tensor's function, a non-element-wise op, the model's output)
    let outputs: BTreeSet<OutletId> = model
        .output_outlets()
        .map(|o| o.iter().copied().collect())
        .unwrap_or_default();
    let mut ends = BTreeMap::new();
    for (&id, (x, e)) in &of {
        let out = OutletId::new(id, 0);
        let read_outside = model.node(id).outputs[0]
            .successors
            .iter()
            .any(|s| of.get(&s.node).is_none_or(|(y, _)| y != x));
        if e.needs_table() && (read_outside || outputs.contains(&out)) {
            let name = e.name();
            ends.insert(
                id,
                (
                    *x,
                    FloatOp::Func {
                        name,
                        expr: e.clone(),
                    },
                ),
            );
        }
    }
    // what the graph still needs computed on its own: walk back from the outputs, through an
    // end to its tensor only
    let mut needed = BTreeSet::new();
    let mut stack: Vec<usize> = outputs.iter().map(|o| o.node).collect();
    while let Some(id) = stack.pop() {
        if !needed.insert(id) {
            continue;
        }
        match ends.get(&id) {
            Some((x, _)) => stack.push(x.node),
            None => stack.extend(model.node(id).inputs.iter().map(|o| o.node)),
        }
    }
    let absorbed = of
        .keys()
        .filter(|id| !needed.contains(id))
        .copied()
        .collect();
    (ends, absorbed)
}

/// The table of `f` over the integers `x` can hold, from `x`'s scale to `s_y`: each entry
/// `f(i / s_x) · s_y` rounded half away from zero into int8; a NaN (a log of 0 or less, a
/// square root below 0) is 0, an infinity the int8 end on its side.
pub(crate) fn table(name: &str, f: &Expr, x: &Q, s_y: f64) -> Result<table::Table, String> {
    let n = (x.hi - x.lo + 1) as usize;
    if n > table::MAX_TABLE_LEN {
        return Err(format!(
            "{name} over {n} input values; a table holds at most {}",
            table::MAX_TABLE_LEN
        ));
    }
    let values = (x.lo..=x.hi)
        .map(|i| {
            let v = f.eval(i as f64 / x.scale) * s_y;
            if v.is_nan() {
                0
            } else {
                v.round().clamp(-128.0, 127.0) as i64
            }
        })
        .collect();
    Ok(table::Table {
        func: name.to_string(),
        first: x.lo,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_libm_exact_and_tables_only_where_needed() {
        let x = || Box::new(Expr::X);
        let sig = Expr::Unary(Unary::Sigmoid, x());
        assert_eq!(sig.eval(0.0), 0.5);
        assert!(sig.needs_table());
        // x / 6, |x|, max(x, 0) are ops of their own
        let scaled = Expr::Binary(Binary::Div, x(), Box::new(Expr::Const(6.0)));
        assert!(!scaled.needs_table());
        assert!(!Expr::Unary(Unary::Abs, x()).needs_table());
        // x / (1 + |x|) (Softsign) divides by a function of x
        let den = Expr::Binary(
            Binary::Add,
            Box::new(Expr::Const(1.0)),
            Box::new(Expr::Unary(Unary::Abs, x())),
        );
        let softsign = Expr::Binary(Binary::Div, x(), Box::new(den));
        assert!(softsign.needs_table());
        assert_eq!(softsign.eval(3.0), 0.75);
        // Elu as tract expands it: iff(x < 0, alpha · (exp(x) - 1), x)
        let elu = Expr::Select(
            Box::new(Expr::Binary(Binary::Lt, x(), Box::new(Expr::Const(0.0)))),
            Box::new(Expr::Binary(
                Binary::Mul,
                Box::new(Expr::Const(1.0)),
                Box::new(Expr::Binary(
                    Binary::Sub,
                    Box::new(Expr::Unary(Unary::Exp, x())),
                    Box::new(Expr::Const(1.0)),
                )),
            )),
            x(),
        );
        assert_eq!(elu.eval(2.0), 2.0);
        assert_eq!(elu.eval(-1.0), libm::exp(-1.0) - 1.0);
        let g = Expr::Unary(Unary::GeluErf, x());
        assert_eq!(
            g.eval(1.0),
            0.5 * (1.0 + libm::erf(1.0 / std::f64::consts::SQRT_2))
        );
    }
}
