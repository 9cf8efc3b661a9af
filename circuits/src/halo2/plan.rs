//! The halo2 plan: a model for a batch size, and the rows each lane needs, which fix the circuit
//! size `k`. The rows come from a dry run of the circuit's own layout on a counting context, so
//! the size can never disagree with what synthesis lays out.

use std::sync::Arc;

use halo2_proofs::plonk::ConstraintSystem;

use super::circuit::layout;
use super::config::{CircuitConfig, Shape, MAIN_WIDTH, MAX_WIDTH, NARROW_WIDTH};
use super::ctx::Ctx;
use crate::graph::{GraphError, Model};
use crate::halo2::chips::range;
use crate::witness::check_batch;
use crate::Fr;
use serde::{Deserialize, Serialize};

/// A model laid out for a batch size.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The validated model.
    pub model: Arc<Model>,
    /// Rows (samples) one proof covers; `n_in` counts the real ones.
    pub batch: usize,
    /// Rows of the main lane.
    pub main_rows: usize,
    /// Rows of the fullest range lane.
    pub range_rows: usize,
    /// The circuit has `2^k` rows.
    pub k: u32,
    /// The configuration: a second range lane halves the range rows of a model whose range
    /// checks, not its main lane, fix `k` (a CNN's many rescales); the matvec chip shortens the
    /// main lane of wide constant-weight layers.
    pub shape: Shape,
}

/// Rows kept free at the bottom for halo2's blinding factors.
pub const RESERVED_ROWS: usize = 10;

impl Plan {
    /// Public instances of this plan's proofs.
    pub fn num_instances(&self) -> usize {
        crate::witness::num_instances(&self.model, self.batch)
    }

    /// Sizes the circuit of `model` over `batch` samples for proving speed
    /// ([`Objective::Speed`]).
    pub fn new(model: Model, batch: usize) -> Result<Self, GraphError> {
        Self::optimized(model, batch, Objective::Speed)
    }

    /// Sizes the circuit of `model` over `batch` samples in the shape `objective` prefers.
    pub fn optimized(model: Model, batch: usize, objective: Objective) -> Result<Self, GraphError> {
        check_batch(batch)?;
        let (lookups, products) = (!model.tables().is_empty(), model.has_products());
        let tables = table_rows(&model, lookups);
        let checks = model.repeats_blocks() || products;
        let features = Features {
            lookups,
            products,
            checks,
            tables,
        };
        let (shape, rows) = search(features, objective, |s| {
            Ok::<_, GraphError>(dry_run(&model, batch, s))
        })?;
        Ok(Plan::sized(model, batch, shape, rows))
    }

    /// Sizes the circuit of `model` over `batch` samples in the configuration `shape`, whose
    /// `lookups` and `products` follow the model (a table op has no other lowering, and the
    /// products chip is always the denser one).
    pub fn with_shape(model: Model, batch: usize, shape: Shape) -> Result<Self, GraphError> {
        check_batch(batch)?;
        let shape = Shape {
            lookups: !model.tables().is_empty(),
            products: model.has_products(),
            ..shape
        };
        let (main, range_rows) = dry_run(&model, batch, shape);
        let rows = sized(shape, table_rows(&model, shape.lookups), main, range_rows);
        Ok(Plan::sized(model, batch, shape, rows))
    }

    /// The plan `Plan::new` found, rebuilt from the shape it recorded with one dry run: fails
    /// unless that shape is the one these chips would configure for this model.
    pub fn recorded(model: Model, batch: usize, shape: Shape) -> Result<Self, GraphError> {
        shape
            .check()
            .map_err(|e| GraphError::Shape(format!("recorded circuit shape: {e}")))?;
        let plan = Plan::with_shape(model, batch, shape)?;
        let checks = plan.model.repeats_blocks() || plan.model.has_products();
        if plan.shape != shape || (shape.freivalds && !checks) {
            let msg = format!("recorded circuit shape {shape:?} does not fit this model");
            return Err(GraphError::Shape(msg));
        }
        Ok(plan)
    }

    fn sized(model: Model, batch: usize, shape: Shape, (k, main, range): Size) -> Self {
        Plan {
            model: Arc::new(model),
            batch,
            main_rows: main,
            range_rows: range,
            k,
            shape,
        }
    }
}

/// `(k, main rows, range rows)` of a circuit.
pub type Size = (u32, usize, usize);

/// What a plan minimizes when several configurations fit a model. The verifier (on-chain: its
/// gas) pays one commitment, and so one elliptic-curve multiplication, per column, whatever
/// `k`; the prover pays for every row of every column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The lowest `k`, then the fewest columns: extra range lanes, the matvec pool and the
    /// challenge lane wherever they lower `k`.
    #[default]
    Speed,
    /// The fewest columns these chips allow: one range lane, neither the matvec pool nor the
    /// challenge lane, and the narrow main lane where no table or product chip needs the
    /// standard one; then the lowest `k` that leaves.
    Gas,
}

/// What a model needs of the chips: function tables (of `tables` rows), witness products, and
/// matrix products a challenge could check (`checks`: one map repeated at several positions,
/// or products of two computed matrices).
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// The model has table ops.
    pub lookups: bool,
    /// The model has sums of witness products.
    pub products: bool,
    /// The model has products the challenge check could take.
    pub checks: bool,
    /// Rows of the model's function tables.
    pub tables: usize,
}

/// The shape `objective` prefers for a circuit with `features`; `dry` lays the circuit out in
/// a shape on a counting context and returns its main and fullest range lane's rows. Narrower
/// shapes are tried first and kept on ties: each column costs proving time at equal `k`, and
/// each fixed or advice column one more commitment for every verifier to check. Limbs widen
/// only while the range lanes, not the main lane or the tables, fix `k`; for speed, the main
/// lane widens (two columns at a time) only while it fixes `k`.
pub fn search<E>(
    features: Features,
    objective: Objective,
    mut dry: impl FnMut(Shape) -> Result<(usize, usize), E>,
) -> Result<(Shape, Size), E> {
    let Features {
        lookups,
        products,
        checks,
        tables,
    } = features;
    let (lanes, wide) = match objective {
        Objective::Speed => (range::MAX_LANES, true),
        Objective::Gas => (1, false),
    };
    let widest = if wide { MAX_WIDTH } else { MAIN_WIDTH };
    let options: &[bool] = if checks && wide {
        &[false, true]
    } else {
        &[false]
    };
    let pools: &[bool] = if wide { &[false, true] } else { &[false] };
    let mut best: Option<(Shape, Size)> = None;
    for main_width in (MAIN_WIDTH..=widest).step_by(2) {
        if let Some((shape, size)) = &best {
            if !main_bound(*shape, tables, *size) {
                break;
            }
        }
        for range_lanes in 1..=lanes {
            for (freivalds, matvec) in options.iter().flat_map(|f| pools.iter().map(|m| (*f, *m))) {
                for range_bits in range::MIN_LIMB_BITS..=range::MAX_LIMB_BITS {
                    let mut shape = Shape {
                        main_width,
                        range_lanes,
                        range_bits,
                        matvec,
                        lookups,
                        products,
                        freivalds,
                    };
                    if objective == Objective::Gas && shape.fits_narrow() {
                        shape.main_width = NARROW_WIDTH;
                    }
                    let (main, range_rows) = dry(shape)?;
                    let size = sized(shape, tables, main, range_rows);
                    tracing::debug!(?shape, k = size.0, main, range_rows, "shape tried");
                    if best.as_ref().is_none_or(|b| size.0 < b.1 .0) {
                        best = Some((shape, size));
                    }
                    // wider limbs only help while the range lanes fix `k`
                    if size.0 <= sized(shape, tables, main, 0).0 {
                        break;
                    }
                }
            }
        }
    }
    Ok(best.expect("one shape at least"))
}

/// Whether the main lane alone fixes the `k` of `size`: neither the range lanes nor the
/// tables would need as many rows.
fn main_bound(shape: Shape, tables: usize, (k, _, range_rows): Size) -> bool {
    sized(shape, tables, 0, range_rows).0 < k
}

/// The size of a circuit in `shape` with these rows: every lane, the function tables and the
/// range table fit above halo2's blinding rows.
pub fn sized(shape: Shape, tables: usize, main: usize, range_rows: usize) -> Size {
    let need = main
        .max(range_rows)
        .max(tables)
        .max(range::table_rows(shape.range_bits))
        + RESERVED_ROWS;
    (need.next_power_of_two().trailing_zeros(), main, range_rows)
}

/// Rows of a model's function tables: every entry and the all-zero row disabled lookups read.
pub fn table_rows(model: &Model, lookups: bool) -> usize {
    match lookups {
        true => 1 + model.tables().iter().map(|(_, v)| v.len()).sum::<usize>(),
        false => 0,
    }
}

/// Main and fullest range lane's rows of `model` in `shape`, by a dry run of the layout.
fn dry_run(model: &Model, batch: usize, shape: Shape) -> (usize, usize) {
    let mut meta = ConstraintSystem::<Fr>::default();
    let cfg = CircuitConfig::configure_with(&mut meta, shape);
    let mut ctx = Ctx::counter();
    layout(&cfg, &mut ctx, model, batch, None).expect("a counting layout cannot fail");
    (ctx.row, ctx.range_row())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Features = Features {
        lookups: false,
        products: false,
        checks: false,
        tables: 0,
    };

    /// A circuit of `main` rows with `checks` 40-bit range checks, spread over the lanes.
    fn dry(main: usize, checks: usize) -> impl FnMut(Shape) -> Result<(usize, usize), ()> {
        move |s: Shape| {
            let per = 40usize.div_ceil(s.range_bits as usize);
            Ok((main, (checks * per).div_ceil(s.range_lanes)))
        }
    }

    #[test]
    fn limbs_widen_only_while_the_range_lanes_fix_k() {
        // range-bound: 150k checks of 4 limbs at 11 to 13 bits are k = 19 even on two lanes;
        // 3 limbs at 14 bits on two lanes are k = 18, and nothing lowers it further
        let (shape, (k, _, _)) = search(NONE, Objective::Speed, dry(100_000, 150_000)).unwrap();
        assert_eq!((k, shape.range_lanes, shape.range_bits), (18, 2, 14));
        // main-bound: the narrowest shape
        let (shape, (k, _, _)) = search(NONE, Objective::Speed, dry(100_000, 1_000)).unwrap();
        assert_eq!((k, shape), (17, Shape::default()));
        // small: 12k limbs of 10 bits on three lanes are k = 12; 11-bit limbs would fit two
        // lanes, but their table (4,095 rows) would set k = 13 itself
        let (shape, (k, _, _)) = search(NONE, Objective::Speed, dry(3_000, 3_000)).unwrap();
        assert_eq!((k, shape.range_lanes, shape.range_bits), (12, 3, 10));
        // for gas: one lane and neither pool, where three lanes would lower k
        let checks = Features {
            checks: true,
            ..NONE
        };
        let (shape, (k, _, _)) = search(checks, Objective::Gas, dry(3_000, 3_000)).unwrap();
        assert_eq!((k, shape.range_lanes, shape.matvec), (14, 1, false));
        assert!(!shape.freivalds);
        // ...on the narrow main lane, unless a table or product chip needs the standard one
        assert_eq!(shape.main_width, NARROW_WIDTH);
        let tables = Features {
            lookups: true,
            tables: 100,
            ..NONE
        };
        let (shape, _) = search(tables, Objective::Gas, dry(3_000, 3_000)).unwrap();
        assert_eq!(shape.main_width, MAIN_WIDTH);
        let (shape, _) = search(NONE, Objective::Speed, dry(3_000, 3_000)).unwrap();
        assert_eq!(shape.main_width, MAIN_WIDTH);
    }

    #[test]
    fn the_main_lane_widens_for_speed_only_where_that_lowers_k() {
        // matvec rows shrink with the square of the block: 40k rows of 5 × 5 blocks
        let matvec = |checks: usize| {
            move |s: Shape| {
                let b = (s.main_width / 2) as f64;
                let main = if s.matvec {
                    40_000.0 * 25.0 / (b * b)
                } else {
                    80_000.0
                };
                Ok::<_, ()>((main as usize, checks.div_ceil(s.range_lanes)))
            }
        };
        // 6 × 6 blocks are 27.8k rows (k = 15 instead of 16), 7 × 7 20.4k (still 15), 8 × 8
        // 15.6k (k = 14), 9 × 9 12.3k (still 14): the narrowest lane of the lowest k
        let (shape, (k, _, _)) = search(NONE, Objective::Speed, matvec(1_000)).unwrap();
        assert_eq!((k, shape.main_width, shape.matvec), (14, 16, true));
        // the range lanes fix k = 16 whatever the width: the standard lane
        let (shape, (k, _, _)) = search(NONE, Objective::Speed, matvec(150_000)).unwrap();
        assert_eq!((k, shape.main_width), (16, MAIN_WIDTH));
        // gas never widens
        let (shape, _) = search(NONE, Objective::Gas, matvec(1_000)).unwrap();
        assert_eq!(shape.main_width, NARROW_WIDTH);
        // a wide lane is a valid shape, with every chip
        let widest = Shape {
            main_width: MAX_WIDTH,
            matvec: true,
            lookups: true,
            products: true,
            freivalds: true,
            ..Shape::default()
        };
        assert!(widest.check().is_ok());
    }

    #[test]
    fn a_narrow_lane_refuses_the_chips_that_need_the_standard_one() {
        let narrow = Shape {
            main_width: NARROW_WIDTH,
            ..Shape::default()
        };
        assert!(narrow.check().is_ok());
        for shape in [
            Shape {
                lookups: true,
                ..narrow
            },
            Shape {
                products: true,
                ..narrow
            },
            Shape {
                matvec: true,
                ..narrow
            },
            Shape {
                freivalds: true,
                ..narrow
            },
            Shape {
                main_width: NARROW_WIDTH - 1,
                ..Shape::default()
            },
            Shape {
                main_width: MAX_WIDTH + 1,
                ..Shape::default()
            },
        ] {
            let e = shape.check().unwrap_err();
            assert!(e.contains("main lane"), "{e}");
        }
    }

    #[test]
    fn settings_without_a_width_read_as_the_standard_lane() {
        let json = r#"{"range_lanes": 1, "range_bits": 8, "matvec": false, "lookups": false,
            "products": false, "freivalds": false}"#;
        let shape: Shape = serde_json::from_str(json).unwrap();
        assert_eq!(shape, Shape::default());
    }
}
