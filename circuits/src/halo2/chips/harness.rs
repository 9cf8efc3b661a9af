//! A test circuit that runs one layout closure on the widest configuration (every chip on the
//! shared columns: the decoder circuit's, with two range lanes, matvec, tables and products), for chip tests: `passes` / `fails` for chosen faults, and
//! `cells` for the witness-mutation net, which every chip test module runs on its honest layout.

use std::collections::BTreeSet;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_proofs::dev::MockProver;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use crate::halo2::chips::table::Tables;
use crate::halo2::config::Shape;
use crate::halo2::ctx::Ctx;
use crate::halo2::decoder::DecodeConfig;
use crate::halo2::mutation::{self, Site};
use crate::halo2::plan;
use crate::Fr;

/// The configuration chip tests lay out on.
pub type Config = DecodeConfig;

#[derive(Clone)]
struct Harness<F> {
    layout: F,
    tables: Tables,
    shape: Shape,
}

/// The widest configuration but for the challenge check, whose second phase doubles the
/// mock prover's work: every chip test runs on it.
pub fn wide() -> Shape {
    Shape {
        main_width: crate::halo2::config::MAIN_WIDTH,
        range_lanes: 2,
        range_bits: crate::halo2::chips::range::MIN_LIMB_BITS,
        matvec: true,
        lookups: true,
        products: true,
        freivalds: false,
    }
}

/// The narrow main lane with the chips it carries (linear, rescale, hash, mask, range): the
/// chips that lay out over it run their tests on it too.
pub fn narrow() -> Shape {
    Shape {
        main_width: crate::halo2::config::NARROW_WIDTH,
        ..Shape::default()
    }
}

/// [`wide`] on the widest main lane the speed objective may take (matvec blocks of 9 × 9,
/// linear chains of 17 terms a row).
pub fn widest() -> Shape {
    Shape {
        main_width: crate::halo2::config::MAX_WIDTH,
        ..wide()
    }
}

/// [`wide`] with the challenge check's lane.
pub fn with_challenge() -> Shape {
    Shape {
        freivalds: true,
        ..wide()
    }
}

impl<F> Circuit<Fr> for Harness<F>
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> Shape {
        self.shape
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Config {
        DecodeConfig::configure(meta, shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        DecodeConfig::configure(meta, wide())
    }

    fn synthesize(&self, cfg: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        cfg.base.range.load_table(&mut layouter)?;
        if let Some(table) = &cfg.base.table {
            table.load(&mut layouter, &self.tables)?;
        }
        layouter.assign_region(
            || "test",
            |mut region| {
                let mut ctx = Ctx::new(&mut region);
                (self.layout)(&cfg, &mut ctx)
            },
        )
    }
}

/// The test circuit of `layout`, of the size a dry run of it needs (so each mock-prover run
/// of the mutation net checks no more rows than the chip uses).
fn harness<F>(layout: F, tables: &Tables, shape: Shape) -> (u32, Harness<F>)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    let mut meta = ConstraintSystem::<Fr>::default();
    let cfg = DecodeConfig::configure(&mut meta, shape);
    let mut ctx = Ctx::counter();
    // a layout that fails fails again, with its error, when the circuit is synthesized
    let _ = layout(&cfg, &mut ctx);
    let main = ctx.row.max(ctx.rows_touched());
    let (k, _, _) = plan::sized(shape, tables.rows.len() + 1, main, ctx.range_row());
    let mut tables = tables.clone();
    if tables.rows.is_empty() {
        tables.rows.push((0, 0, 0));
    }
    (
        k,
        Harness {
            layout,
            tables,
            shape,
        },
    )
}

fn run<F>(f: F, tables: &Tables, shape: Shape) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>>
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    let (k, h) = harness(f, tables, shape);
    MockProver::run(k, &h, vec![vec![]])
        .expect("synthesis succeeds")
        .verify()
}

pub fn passes<F>(f: F)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    passes_with(f, &Tables::default())
}

pub fn passes_with<F>(f: F, tables: &Tables)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    passes_in(f, tables, wide())
}

/// [`passes_with`] in `shape`.
pub fn passes_in<F>(f: F, tables: &Tables, shape: Shape)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    if let Err(e) = run(f, tables, shape) {
        panic!("honest witness rejected: {:?}", &e[..e.len().min(3)]);
    }
}

/// [`passes`] on the standard, the narrow and the widest main lane, for the chips that lay
/// their cells over the lane's width.
pub fn passes_on_every_lane<F>(f: F)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    for shape in [wide(), narrow(), widest()] {
        passes_in(f.clone(), &Tables::default(), shape);
    }
}

/// [`fails`] on the standard, the narrow and the widest main lane.
pub fn fails_on_every_lane<F>(f: F)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    for shape in [wide(), narrow(), widest()] {
        fails_in(f.clone(), &Tables::default(), shape);
    }
}

pub fn fails<F>(f: F)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    fails_with(f, &Tables::default())
}

pub fn fails_with<F>(f: F, tables: &Tables)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    fails_in(f, tables, wide())
}

/// [`fails_with`] in `shape`.
pub fn fails_in<F>(f: F, tables: &Tables, shape: Shape)
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    assert!(
        run(f, tables, shape).is_err(),
        "a witness that breaks the relation was accepted"
    );
}

/// The mutation net on an honest layout: every advice cell it assigns, changed by each of
/// [`mutation::DELTAS`], must be rejected. Returns how many cells it covered.
pub fn cells<F>(f: F, what: &str) -> usize
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync,
{
    cells_with(f, &Tables::default(), what)
}

pub fn cells_with<F>(f: F, tables: &Tables, what: &str) -> usize
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync,
{
    cells_in(f, tables, wide(), what)
}

/// [`cells_with`] in `shape`.
pub fn cells_in<F>(f: F, tables: &Tables, shape: Shape, what: &str) -> usize
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync,
{
    let (k, h) = harness(f, tables, shape);
    mutation::assert_every_cell_bound(k, &h, &[vec![]], what).cells
}

/// The cells whose mutation the circuit accepts (for tests that show the net catches a bug).
pub fn survivors<F>(f: F) -> BTreeSet<Site>
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync,
{
    let (k, h) = harness(f, &Tables::default(), wide());
    let all = mutation::sites(k, &h, &[vec![]]).expect("honest witness passes");
    let report = mutation::mutate(k, &h, &[vec![]], &all, &mutation::DELTAS, &[])
        .expect("synthesis succeeds");
    report.survivors.into_iter().map(|(s, _)| s).collect()
}

/// Whether a real KZG proof of the layout in `shape` verifies: key generation, a proof, and its
/// verification (for faults a mock prover cannot see, such as a first-phase cell written after
/// its phase was committed).
pub fn proves<F>(f: F, shape: Shape) -> bool
where
    F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone,
{
    use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof};
    use halo2_proofs::poly::commitment::ParamsProver;
    use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
    use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
    use halo2_proofs::poly::kzg::strategy::SingleStrategy;
    use halo2_proofs::transcript::{
        Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
    };
    use halo2curves::bn256::{Bn256, G1Affine};
    use rand_chacha::rand_core::SeedableRng;

    let (k, h) = harness(f, &Tables::default(), shape);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let params = ParamsKZG::<Bn256>::setup(k, &mut rng);
    let vk = keygen_vk(&params, &h).expect("keygen_vk");
    let pk = keygen_pk(&params, vk, &h).expect("keygen_pk");
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        &params,
        &pk,
        &[h],
        &[&[&[]]],
        &mut rng,
        &mut transcript,
    )
    .expect("a proof is made, valid or not");
    let proof = transcript.finalize();
    let mut read = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(&proof[..]);
    verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
        params.verifier_params(),
        pk.get_vk(),
        SingleStrategy::new(&params),
        &[&[&[]]],
        &mut read,
    )
    .is_ok()
}
