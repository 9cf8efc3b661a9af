//! The witness-mutation harness: the net under every chip, gadget and circuit of the halo2 backend.
//!
//! A circuit is sound only if every advice cell it assigns is determined by its constraints (given
//! the instances). The harness checks exactly that, cell by cell: it runs the circuit once to
//! record every advice cell the layout assigns, then, for each cell (or a deterministic sample of
//! them), runs MockProver again with that one cell changed, and requires the verdict to be a
//! rejection against the honest instances. A cell whose change is accepted is a free variable: a
//! prover may put anything there, which is how a padding pair assigned "zero by convention" let a
//! forged completion verify (see `SECURITY.md`).
//!
//! It works on any [`Circuit`] without changing it: [`Mutated`] wraps the circuit's layouter, and
//! its region hands every `assign_advice` through, adding a delta at the one target cell. Rows
//! are absolute because the floor planner of halo2-axiom starts every region at row 0.
//!
//! **For a new op or chip**: add a chip test that calls [`assert_every_cell_bound`] on its
//! harness circuit (see `chips/harness.rs`), and make sure the whole-circuit tests in
//! `circuits/tests/mutation.rs` reach it. A cell that may legitimately take another value goes on
//! the allow-list with a one-line reason; the list is empty unless such a reason holds.

use std::collections::BTreeSet;
use std::sync::Mutex;

use halo2_proofs::circuit::layouter::RegionLayouter;
use halo2_proofs::circuit::{AssignedCell, Cell, Layouter, Region, Table, Value};
use halo2_proofs::dev::MockProver;
use halo2_proofs::plonk::{
    Advice, Any, Assigned, Challenge, Circuit, Column, ConstraintSystem, Error, Fixed, Instance,
    Selector,
};
use rayon::prelude::*;

use crate::Fr;

/// One advice cell: its column's index among the advice columns, and its absolute row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// Row of the cell.
    pub row: usize,
    /// Index of the advice column.
    pub column: usize,
}

/// A cell that may legitimately change, and why.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// The cell.
    pub site: Site,
    /// One line: why any value there is harmless.
    pub reason: &'static str,
}

/// The change made to a target cell.
#[derive(Debug, Clone, Copy)]
struct Target {
    site: Site,
    delta: Fr,
}

/// What a mutation run found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Mutations tried (cells × deltas).
    pub tried: usize,
    /// Cells tried.
    pub cells: usize,
    /// Mutated cells MockProver accepted, with the delta: the free variables.
    pub survivors: Vec<(Site, Fr)>,
}

/// The deltas every cell is tried with: a bit that is free in one direction only is caught by
/// one of them.
pub const DELTAS: [i64; 2] = [1, -1];

/// `circuit` with one advice cell changed (or none), recording every advice cell it assigns.
pub struct Mutated<'c, C> {
    inner: &'c C,
    target: Option<Target>,
    log: &'c Mutex<Log>,
}

/// What a run of [`Mutated`] saw.
#[derive(Debug, Default)]
pub struct Log {
    sites: BTreeSet<Site>,
    hit: bool,
}

impl<C: Circuit<Fr>> Circuit<Fr> for Mutated<'_, C> {
    type Config = C::Config;
    type FloorPlanner = C::FloorPlanner;
    type Params = C::Params;

    fn without_witnesses(&self) -> Self {
        // MockProver never calls it; keygen does not run on a mutated circuit.
        Self {
            inner: self.inner,
            target: None,
            log: self.log,
        }
    }

    fn params(&self) -> C::Params {
        self.inner.params()
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: C::Params) -> C::Config {
        C::configure_with_params(meta, params)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> C::Config {
        C::configure(meta)
    }

    fn synthesize(&self, config: C::Config, layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let l = MutLayouter {
            inner: layouter,
            target: self.target,
            log: self.log,
        };
        self.inner.synthesize(config, l)
    }
}

struct MutLayouter<'c, L> {
    inner: L,
    target: Option<Target>,
    log: &'c Mutex<Log>,
}

impl<L: Layouter<Fr>> Layouter<Fr> for MutLayouter<'_, L> {
    type Root = Self;

    fn assign_region<A, AR, N, NR>(&mut self, name: N, assignment: A) -> Result<AR, Error>
    where
        A: FnOnce(Region<'_, Fr>) -> Result<AR, Error>,
        N: Fn() -> NR,
        NR: Into<String>,
    {
        let (target, log) = (self.target, self.log);
        self.inner.assign_region(name, move |region| {
            let mut wrapped = MutRegion {
                inner: region,
                target,
                log,
            };
            let r: &mut dyn RegionLayouter<Fr> = &mut wrapped;
            assignment(r.into())
        })
    }

    fn assign_table<A, N, NR>(&mut self, name: N, assignment: A) -> Result<(), Error>
    where
        A: FnMut(Table<'_, Fr>) -> Result<(), Error>,
        N: Fn() -> NR,
        NR: Into<String>,
    {
        self.inner.assign_table(name, assignment)
    }

    fn constrain_instance(&mut self, cell: Cell, column: Column<Instance>, row: usize) {
        self.inner.constrain_instance(cell, column, row)
    }

    fn next_phase(&mut self) {
        self.inner.next_phase()
    }

    fn get_challenge(&self, challenge: Challenge) -> Value<Fr> {
        self.inner.get_challenge(challenge)
    }

    fn get_root(&mut self) -> &mut Self {
        self
    }

    fn push_namespace<NR, N>(&mut self, name_fn: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
        self.inner.get_root().push_namespace(name_fn)
    }

    fn pop_namespace(&mut self, gadget_name: Option<String>) {
        self.inner.get_root().pop_namespace(gadget_name)
    }
}

struct MutRegion<'r, 'c> {
    inner: Region<'r, Fr>,
    target: Option<Target>,
    log: &'c Mutex<Log>,
}

impl std::fmt::Debug for MutRegion<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutRegion")
            .field("target", &self.target)
            .finish()
    }
}

impl MutRegion<'_, '_> {
    /// The value to write at `(column, offset)`: the honest one, or the target's changed one.
    fn value(
        &self,
        column: Column<Advice>,
        offset: usize,
        v: Value<Assigned<Fr>>,
    ) -> Value<Assigned<Fr>> {
        let site = Site {
            row: offset,
            column: column.index(),
        };
        // Only the honest run records the cells; a mutated run only notes that it hit its target.
        match self.target {
            None => {
                self.log.lock().expect("log lock").sites.insert(site);
                v
            }
            Some(t) if t.site == site => {
                self.log.lock().expect("log lock").hit = true;
                v.map(|v| v + Assigned::Trivial(t.delta))
            }
            Some(_) => v,
        }
    }
}

impl RegionLayouter<Fr> for MutRegion<'_, '_> {
    fn enable_selector<'v>(
        &'v mut self,
        _annotation: &'v (dyn Fn() -> String + 'v),
        selector: &Selector,
        offset: usize,
    ) -> Result<(), Error> {
        selector.enable(&mut self.inner, offset)
    }

    fn name_column<'v>(
        &'v mut self,
        annotation: &'v (dyn Fn() -> String + 'v),
        column: Column<Any>,
    ) {
        self.inner.name_column(annotation, column)
    }

    fn assign_advice<'v>(
        &mut self,
        column: Column<Advice>,
        offset: usize,
        to: Value<Assigned<Fr>>,
    ) -> AssignedCell<&'v Assigned<Fr>, Fr> {
        let to = self.value(column, offset, to);
        self.inner.assign_advice(column, offset, to)
    }

    fn assign_advice_from_constant<'v>(
        &'v mut self,
        _annotation: &'v (dyn Fn() -> String + 'v),
        column: Column<Advice>,
        offset: usize,
        constant: Assigned<Fr>,
    ) -> Result<Cell, Error> {
        // The same two steps as the floor planner's own, with the value open to mutation.
        let to = self.value(column, offset, Value::known(constant));
        let cell = self.inner.assign_advice(column, offset, to).cell();
        self.inner.constrain_constant(cell, constant)?;
        Ok(cell)
    }

    fn assign_advice_from_instance<'v>(
        &mut self,
        annotation: &'v (dyn Fn() -> String + 'v),
        instance: Column<Instance>,
        row: usize,
        advice: Column<Advice>,
        offset: usize,
    ) -> Result<(Cell, Value<Fr>), Error> {
        // Not open to mutation (none of our circuits copies instances into regions): recorded
        // nowhere, so a circuit that does would show fewer cells than it assigns.
        let c = self
            .inner
            .assign_advice_from_instance(annotation, instance, row, advice, offset)?;
        Ok((c.cell(), c.value().copied()))
    }

    fn instance_value(
        &mut self,
        instance: Column<Instance>,
        row: usize,
    ) -> Result<Value<Fr>, Error> {
        self.inner.instance_value(instance, row)
    }

    fn assign_fixed(&mut self, column: Column<Fixed>, offset: usize, to: Assigned<Fr>) -> Cell {
        self.inner.assign_fixed(column, offset, to)
    }

    fn constrain_constant(&mut self, cell: Cell, constant: Assigned<Fr>) -> Result<(), Error> {
        self.inner.constrain_constant(cell, constant)
    }

    fn constrain_equal(&mut self, left: Cell, right: Cell) {
        self.inner.constrain_equal(left, right)
    }

    fn get_challenge(&self, challenge: Challenge) -> Value<Fr> {
        self.inner.get_challenge(challenge)
    }

    fn next_phase(&mut self) {
        self.inner.next_phase()
    }
}

/// What a changed cell can reach, from the constraint system: the largest rotation of any advice
/// query, the usable rows, and whether some lookup table reads advice (then a change anywhere can
/// matter to every lookup).
struct Reach {
    rotation: usize,
    usable: usize,
    dynamic_tables: bool,
}

impl Reach {
    fn of<C: Circuit<Fr>>(k: u32, circuit: &C) -> Self {
        let mut cs = ConstraintSystem::<Fr>::default();
        C::configure_with_params(&mut cs, circuit.params());
        let rotation = cs
            .advice_queries()
            .iter()
            .map(|(_, r)| r.0.unsigned_abs() as usize)
            .max()
            .unwrap_or(0);
        let reads_advice = |e: &halo2_proofs::plonk::Expression<Fr>| {
            e.evaluate(
                &|_| false,
                &|_| false,
                &|_| false,
                &|_| true,
                &|_| false,
                &|_| false,
                &|a| a,
                &|a, b| a || b,
                &|a, b| a || b,
                &|a, _| a,
            )
        };
        let dynamic_tables = cs
            .lookups()
            .iter()
            .any(|l| l.table_expressions().iter().any(reads_advice));
        Self {
            rotation,
            usable: (1usize << k) - (cs.blinding_factors() + 1),
            dynamic_tables,
        }
    }

    /// Rows whose gates and lookups can read the cell at `row`.
    fn rows(&self, row: usize) -> std::ops::Range<usize> {
        row.saturating_sub(self.rotation)..(row + self.rotation + 1).min(self.usable)
    }
}

/// Runs `circuit` under MockProver with `target` changed; `Ok(true)` when it is accepted. With a
/// target, gates and lookups are checked only at the rows that can read it (the rest of the
/// circuit is the honest one, which passed in full) and the permutation everywhere.
fn accepted<C: Circuit<Fr>>(
    k: u32,
    circuit: &C,
    instances: &[Vec<Fr>],
    target: Option<(Target, &Reach)>,
) -> Result<(bool, Log), Error> {
    let log = Mutex::new(Log::default());
    let m = Mutated {
        inner: circuit,
        target: target.map(|(t, _)| t),
        log: &log,
    };
    let prover = MockProver::run(k, &m, instances.to_vec())?;
    let ok = match target {
        None => prover.verify().is_ok(),
        Some((t, reach)) => {
            let near = reach.rows(t.site.row);
            let lookups = if reach.dynamic_tables {
                0..reach.usable
            } else {
                near.clone()
            };
            prover.verify_at_rows(near, lookups).is_ok()
        }
    };
    Ok((ok, log.into_inner().expect("log lock")))
}

/// Every advice cell `circuit` assigns, in row order; fails unless the honest witness passes.
pub fn sites<C: Circuit<Fr>>(
    k: u32,
    circuit: &C,
    instances: &[Vec<Fr>],
) -> Result<Vec<Site>, Error> {
    let (ok, log) = accepted(k, circuit, instances, None)?;
    if !ok {
        return Err(Error::Synthesis);
    }
    Ok(log.sites.into_iter().collect())
}

/// `n` sites spread evenly over `all` (all of them when there are fewer): a fixed stride over the
/// row-ordered list, so every region of the layout is reached and reruns try the same cells.
pub fn spread(all: &[Site], n: usize) -> Vec<Site> {
    if all.len() <= n {
        return all.to_vec();
    }
    (0..n).map(|i| all[i * all.len() / n]).collect()
}

/// Mutates each of `cells` by each of `deltas` (in parallel) and reports the mutations MockProver
/// accepted, leaving out the allowed cells.
pub fn mutate<C: Circuit<Fr> + Sync>(
    k: u32,
    circuit: &C,
    instances: &[Vec<Fr>],
    cells: &[Site],
    deltas: &[i64],
    allowed: &[Allowed],
) -> Result<Report, Error> {
    let todo: Vec<(Site, Fr)> = cells
        .iter()
        .filter(|s| !allowed.iter().any(|a| a.site == **s))
        .flat_map(|s| {
            deltas
                .iter()
                .map(move |d| (*s, crate::field::fr_from_i64(*d)))
        })
        .collect();
    let reach = Reach::of(k, circuit);
    let verdicts: Vec<Result<Option<(Site, Fr)>, Error>> = todo
        .par_iter()
        .map(|(site, delta)| {
            let t = Target {
                site: *site,
                delta: *delta,
            };
            let (ok, log) = accepted(k, circuit, instances, Some((t, &reach)))?;
            // A target the layout never reaches would pass for a free cell: refuse it instead.
            if !log.hit {
                return Err(Error::Synthesis);
            }
            Ok(ok.then_some((*site, *delta)))
        })
        .collect();
    let mut survivors = Vec::new();
    for v in verdicts {
        survivors.extend(v?);
    }
    Ok(Report {
        tried: todo.len(),
        cells: cells.len(),
        survivors,
    })
}

/// Panics with the free cells unless every mutation of `cells` is rejected.
pub fn assert_bound(report: &Report, what: &str) {
    assert!(
        report.survivors.is_empty(),
        "{what}: {} of {} mutations accepted (free cells, first few: {:?})",
        report.survivors.len(),
        report.tried,
        &report.survivors[..report.survivors.len().min(8)]
    );
    assert!(report.tried > 0, "{what}: no cell was mutated");
}

/// Every advice cell of `circuit`, each changed by every delta of [`DELTAS`], must be rejected.
pub fn assert_every_cell_bound<C: Circuit<Fr> + Sync>(
    k: u32,
    circuit: &C,
    instances: &[Vec<Fr>],
    what: &str,
) -> Report {
    let all = sites(k, circuit, instances).expect("honest witness passes");
    let report = mutate(k, circuit, instances, &all, &DELTAS, &[]).expect("synthesis succeeds");
    assert_bound(&report, what);
    report
}

/// `n` cells spread over every region of `circuit`, each changed by +1, must be rejected; logs
/// how many cells were covered of how many and how long it took.
pub fn assert_sample_bound<C: Circuit<Fr> + Sync>(
    k: u32,
    circuit: &C,
    instances: &[Vec<Fr>],
    n: usize,
    what: &str,
) -> Report {
    let all = sites(k, circuit, instances).expect("honest witness passes");
    let cells = spread(&all, n);
    let start = std::time::Instant::now();
    let report = mutate(k, circuit, instances, &cells, &[1], &[]).expect("synthesis succeeds");
    eprintln!(
        "{what} (k={k}): {} of {} cells mutated in {:.1?}",
        report.cells,
        all.len(),
        start.elapsed()
    );
    assert_eq!(report.cells, n.min(all.len()), "{what}: cells sampled");
    // The spread reaches the last rows (for a decoder: meter, read-out, commitment).
    let (first, last) = (cells.first(), cells.last());
    assert!(
        first.map(|c| c.row) == all.first().map(|c| c.row),
        "{what}: first rows reached"
    );
    assert!(
        last.map(|c| c.row * 10) >= all.last().map(|c| c.row * 9),
        "{what}: last rows reached"
    );
    assert_bound(&report, what);
    report
}
