//! `zkinfer demo`: the whole product in one command on embedded defaults. An example model (the
//! MLP or the tiny GPT, both built into the binary) is compiled and set up, its verifier is
//! generated and deployed with Settlement on the embedded chain, a client opens a request, the
//! provider proves the run (a classification, or a generation metered per token) and settles, and
//! everyone withdraws. Prints balances and gas.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use alloy::primitives::{Address, U256};
use anyhow::{ensure, Context, Result};
use serde_json::json;
use zkinfer_circuits::decoder::Slots;
use zkinfer_circuits::field::random_fr;
use zkinfer_circuits::halo2::Witness;
use zkinfer_circuits::usage::prompt_commitment;
use zkinfer_circuits::Fr;
use zkinfer_contracts::artifact::build;
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::claim::{from_proof_file, to_u256};
use zkinfer_contracts::keys::dev;
use zkinfer_contracts::settlement::{
    compile_settlement, verify_call, ModelTerms, RequestTerms, Settlement,
};
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::compile::{compile, Objective, Recipe, Stop, Target};
use zkinfer_prover::deliver::Delivered;
use zkinfer_prover::keys::{load_prover, setup, SrsSource};
use zkinfer_prover::prove::prove_one;
use zkinfer_prover::verify::verify_file;

const MLP_ONNX: &[u8] = include_bytes!("../../../examples/mlp/mlp.onnx");
const GPT_ONNX: &[u8] = include_bytes!("../../../examples/tiny_gpt/tiny_gpt.onnx");
/// Text windows the tiny GPT's activations are calibrated on.
const GPT_CALIBRATION: &[u8] = include_bytes!("../../../examples/tiny_gpt/calibration.json");
/// Prices of the demo decoder: 0.0001 ETH per prompt token, 0.0002 ETH per generated token.
const GPT_PRICE_IN: u64 = 100_000_000_000_000;
const GPT_PRICE_OUT: u64 = 200_000_000_000_000;

const CALIBRATION: &[u8] = include_bytes!("../../../examples/mlp/calibration.json");
const INPUT: &[u8] = include_bytes!("../../../examples/mlp/input.json");

/// Prices of the demo model: 0.001 ETH per input sample, 0.002 ETH per output.
const PRICE_IN: u64 = 1_000_000_000_000_000;
const PRICE_OUT: u64 = 2_000_000_000_000_000;
pub(super) const ROYALTY_BPS: u16 = 1_000;
/// The client reserves more than one run uses, so part of the escrow comes back.
const MAX_IN: u64 = 2;
const MAX_OUT: u64 = 2;

pub(super) fn step(json_out: bool, msg: &str) {
    if !json_out {
        eprintln!("==> {msg}");
    }
}

/// Which example the demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DemoModel {
    #[default]
    Mlp,
    TinyGpt,
}

/// The model-specific half of the demo: what the client commits to and what the provider proves.
pub(super) enum Job {
    Mlp {
        keys: Box<dyn zkinfer_prover::keys::ProvingBackend>,
        row: Vec<i64>,
    },
    Gpt {
        dir: std::path::PathBuf,
        prompt: String,
        max_tokens: usize,
        prompt_slots: usize,
    },
}

/// A proof and what the demo reports of it beyond the usage statement.
struct Proof {
    file: zkinfer_prover::prove::ProofFile,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Job {
    fn input_commitment(&self, request_id: Fr, salt: Fr) -> Result<Fr> {
        Ok(match self {
            Job::Mlp { keys, row } => {
                let w = Witness {
                    rows: vec![row.clone()],
                    request_id,
                    salt,
                };
                zkinfer_circuits::witness::run(keys.model(), keys.batch(), &w)?
                    .statement
                    .input_commitment
            }
            Job::Gpt {
                prompt,
                max_tokens,
                prompt_slots,
                ..
            } => {
                let tokens: Vec<u64> = prompt.bytes().map(u64::from).collect();
                prompt_commitment(request_id, salt, &tokens, *prompt_slots, *max_tokens as u64)
            }
        })
    }

    fn prove(&self, request_id: Fr, salt: Fr, work: &Path) -> Result<Proof> {
        let mut extra = serde_json::Map::new();
        let file = match self {
            Job::Mlp { keys, row } => {
                let w = Witness {
                    rows: vec![row.clone()],
                    request_id,
                    salt,
                };
                let proved = prove_one(keys.as_ref(), w, Default::default())?;
                extra.insert("output".into(), json!(proved.opening.output_real[0]));
                write_json(&work.join("opening.json"), &proved.opening)?;
                write_json(&work.join("proof.json"), &proved.file)?;
                proved.file
            }
            Job::Gpt {
                dir,
                prompt,
                max_tokens,
                ..
            } => {
                let out = work.join("proof.json");
                let text = super::generate::Prompt::Text(prompt.clone());
                let (g, _) =
                    super::generate::prove(dir, &text, *max_tokens, request_id, salt, &out)?;
                extra.insert("prompt".into(), json!(prompt));
                extra.insert("completion".into(), json!(g.opening.completion_text));
                extra.insert("completion_tokens".into(), json!(g.opening.completion));
                g.file
            }
        };
        Ok(Proof { file, extra })
    }
}

/// What the demo sells: the prices per unit and the client's maximum units.
pub(super) struct Terms {
    pub(super) label: String,
    pub(super) price_in: u64,
    pub(super) price_out: u64,
    pub(super) max_in: u64,
    pub(super) max_out: u64,
}

impl Terms {
    /// The demo model's registration with `verifier`, paid in ETH.
    pub(super) fn registration(
        &self,
        verifier: Address,
        owner: Address,
        provider: Address,
    ) -> ModelTerms {
        ModelTerms {
            verifier,
            owner,
            provider,
            royalty_bps: ROYALTY_BPS,
            price_in: U256::from(self.price_in),
            price_out: U256::from(self.price_out),
            token: Address::ZERO,
        }
    }
}

/// The demo's dev accounts: (deployer, owner, provider, client).
pub(super) fn roles() -> (Address, Address, Address, Address) {
    let a = |i| dev(i).address();
    (a(0), a(1), a(2), a(3))
}

/// A fresh embedded chain with `verifier` and Settlement deployed by the demo's deployer and the
/// model registered on `t` by its owner: (chain, verifier adapter, Settlement, model id).
pub(super) fn fresh_market(
    solc: &Solc,
    verifier: &zkinfer_contracts::artifact::VerifierArtifact,
    t: &Terms,
) -> Result<(Embedded, Address, Address, U256)> {
    let (deployer, owner, provider, _) = roles();
    let mut chain = Embedded::new();
    let (adapter, _) = zkinfer_contracts::artifact::deploy(
        &mut chain,
        deployer,
        &verifier.part_codes(),
        &verifier.adapter.bytecode,
    )?;
    let code = compile_settlement(solc)?;
    let (settlement, _) = zkinfer_contracts::chain::deploy(&mut chain, deployer, &code.bytecode)?;
    let model_id = Settlement {
        chain: &mut chain,
        address: settlement,
    }
    .register_model(owner, &t.registration(adapter, owner, provider))?
    .value;
    Ok((chain, adapter, settlement, model_id))
}

/// The tiny GPT's demo options.
pub struct GptOptions {
    pub prompt: String,
    pub max_tokens: usize,
    pub prompt_slots: usize,
}

/// The demo's working directory: the one given (kept), or a temporary one; the example's files
/// go to `example/`, the model directory is `model/`.
pub(super) struct Workspace {
    _tmp: Option<tempfile::TempDir>,
    pub(super) work: PathBuf,
    pub(super) example: PathBuf,
    pub(super) dir: ModelDir,
}

impl Workspace {
    pub(super) fn new(workdir: Option<&Path>) -> Result<Self> {
        let (tmp, work) = match workdir {
            Some(d) => (None, d.to_path_buf()),
            None => {
                let t = tempfile::tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let example = work.join("example");
        std::fs::create_dir_all(&example)
            .with_context(|| format!("{}: cannot create", example.display()))?;
        Ok(Self {
            _tmp: tmp,
            dir: ModelDir::new(work.join("model")),
            work,
            example,
        })
    }
}

pub fn run(
    model: DemoModel,
    backend: super::Backend,
    gpt: &GptOptions,
    workdir: Option<&Path>,
    json_out: bool,
) -> Result<ExitCode> {
    let ws = Workspace::new(workdir)?;
    let (example, dir, work) = (&ws.example, &ws.dir, &ws.work);
    let (job, terms) = match model {
        DemoModel::Mlp => prepare_mlp(backend, example, dir, json_out)?,
        DemoModel::TinyGpt => prepare_gpt(backend, gpt, example, dir, json_out)?,
    };
    market(
        backend,
        &job,
        &terms,
        dir,
        work,
        workdir.is_some(),
        json_out,
    )
}

pub(super) fn prepare_mlp(
    backend: super::Backend,
    example: &Path,
    dir: &ModelDir,
    json_out: bool,
) -> Result<(Job, Terms)> {
    for (name, bytes) in [
        ("mlp.onnx", MLP_ONNX),
        ("calibration.json", CALIBRATION),
        ("input.json", INPUT),
    ] {
        zkinfer_prover::artifacts::write_atomic(&example.join(name), bytes)?;
    }
    step(
        json_out,
        &format!("compile the example MLP (784-64-10) for {}", backend.id()),
    );
    // every request is settled on-chain: the layout with the cheapest verifier
    let recipe = Recipe {
        backend: backend.id(),
        target: Target::Graph {
            batch: 1,
            input_shapes: None,
        },
        optimize: Objective::Gas,
    };
    let calibration = example.join("calibration.json");
    compile(&recipe, &example.join("mlp.onnx"), &calibration, &dir.dir)?;
    step(json_out, "set up keys (INSECURE dev setup)");
    setup(dir, &SrsSource::Dev)?;
    let keys = load_prover(dir)?;
    let row = crate::input::read_quantized(&example.join("input.json"), keys.model())?.remove(0);
    let terms = Terms {
        label: "example MLP (784-64-10)".into(),
        price_in: PRICE_IN,
        price_out: PRICE_OUT,
        max_in: MAX_IN,
        max_out: MAX_OUT,
    };
    Ok((Job::Mlp { keys, row }, terms))
}

pub(super) fn prepare_gpt(
    backend: super::Backend,
    opts: &GptOptions,
    example: &Path,
    dir: &ModelDir,
    json_out: bool,
) -> Result<(Job, Terms)> {
    ensure!(
        backend == super::Backend::Halo2,
        "the tiny GPT demo runs on halo2 (the generation circuit has no Groth16 gadgets yet)"
    );
    let onnx = example.join("tiny_gpt.onnx");
    zkinfer_prover::artifacts::write_atomic(&onnx, GPT_ONNX)?;
    let calibration = example.join("calibration.json");
    zkinfer_prover::artifacts::write_atomic(&calibration, GPT_CALIBRATION)?;
    let slots = Slots {
        prompt: opts.prompt_slots,
        gen: opts.max_tokens.max(1),
    };
    step(
        json_out,
        &format!(
            "compile the example tiny GPT ({} prompt + {} generated tokens)",
            slots.prompt, slots.gen
        ),
    );
    // proving a generation takes minutes: the fastest layout (more columns, more gas)
    let recipe = Recipe {
        backend: backend.id(),
        target: Target::Decoder {
            slots,
            stop: Stop::Last,
        },
        optimize: Objective::Speed,
    };
    compile(&recipe, &onnx, &calibration, &dir.dir)?;
    step(json_out, "set up keys (INSECURE dev setup)");
    setup(dir, &SrsSource::Dev)?;
    let terms = Terms {
        label: "example tiny GPT (135k parameters)".into(),
        price_in: GPT_PRICE_IN,
        price_out: GPT_PRICE_OUT,
        max_in: slots.prompt as u64,
        max_out: opts.max_tokens as u64,
    };
    let job = Job::Gpt {
        dir: dir.dir.clone(),
        prompt: opts.prompt.clone(),
        max_tokens: opts.max_tokens,
        prompt_slots: opts.prompt_slots,
    };
    Ok((job, terms))
}

/// The chain half: verifier, Settlement, request, proof, settlement, withdrawals.
fn market(
    backend: super::Backend,
    job: &Job,
    t: &Terms,
    dir: &ModelDir,
    work: &Path,
    keep: bool,
    json_out: bool,
) -> Result<ExitCode> {
    step(json_out, "generate and compile the Solidity verifier");
    let solc = Solc::find()?;
    let verifier = build(dir, &solc)?;
    let manifest = verifier.write(&work.join("verifier"))?;

    step(
        json_out,
        "deploy verifier and Settlement on the embedded chain",
    );
    let (_, owner, provider, client) = roles();
    let (mut chain, adapter, settlement_addr, model_id) = fresh_market(&solc, &verifier, t)?;
    let mut s = Settlement {
        chain: &mut chain,
        address: settlement_addr,
    };

    step(
        json_out,
        "client opens a request and escrows its maximum cost",
    );
    let nonce = 1;
    let request_id = s.request_id_for(client, nonce)?;
    let request_fr = zkinfer_circuits::field::fr_parse(&format!("{request_id:#x}"))?;
    let salt = random_fr();
    let input_commitment = job.input_commitment(request_fr, salt)?;
    let escrow = s.max_cost(model_id, t.max_in, t.max_out)?;
    let deadline = s.chain.timestamp()? + 3600;
    let terms = RequestTerms {
        model_id,
        nonce,
        input_commitment: to_u256(&input_commitment),
        max_in: t.max_in,
        max_out: t.max_out,
        deadline,
    };
    let opened = s.open_request(client, &terms, escrow)?;
    ensure!(
        opened.value.requestId == request_id,
        "request id changed while opening"
    );

    step(json_out, "provider proves the run");
    let start = Instant::now();
    let proved = job.prove(request_fr, salt, work)?;
    let prove_seconds = start.elapsed().as_secs_f64();
    let off_chain = zkinfer_prover::keys::load_verifier(dir)?;
    verify_file(off_chain.as_ref(), &proved.file)
        .context("the fresh proof does not verify off-chain")?;
    let claim = from_proof_file(&proved.file)?;
    ensure!(
        claim.input_commitment == to_u256(&input_commitment),
        "input commitment changed"
    );

    step(json_out, "verify on-chain and settle");
    let (accepted, verify_gas) =
        verify_call(s.chain, adapter, claim.proof.clone(), claim.instances())?;
    ensure!(accepted, "the on-chain verifier rejected the proof");
    let settled = s.settle(provider, &claim)?;
    let mut paid = Vec::new();
    for who in [provider, owner, client] {
        // A request that used its whole budget leaves the client nothing to withdraw.
        if s.credits(Address::ZERO, who)? == U256::ZERO {
            paid.push(U256::ZERO);
            continue;
        }
        let before = s.chain.balance(who)?;
        let w = s.withdraw(who, Address::ZERO)?;
        ensure!(
            s.chain.balance(who)? - before == w.value,
            "withdrawal did not pay its amount"
        );
        paid.push(w.value);
    }
    let (provider_paid, owner_paid, refunded) = (paid[0], paid[1], paid[2]);

    step(
        json_out,
        "client reads its output from the settlement event",
    );
    let settled_event = super::chain::settled_output(&mut s, request_id)?;
    let output_from_chain = match zkinfer_prover::deliver::open(dir, &settled_event, salt)? {
        Delivered::Tensor { output_real, .. } => json!(output_real[0]),
        Delivered::Completion {
            completion_text, ..
        } => json!(completion_text),
    };
    let output = proved
        .extra
        .get("output")
        .or_else(|| proved.extra.get("completion"))
        .cloned()
        .unwrap_or_default();
    ensure!(
        output == output_from_chain,
        "the client decrypted {output_from_chain} from the chain, the model produced {output}"
    );
    ensure!(
        provider_paid + owner_paid + refunded == escrow,
        "payments do not add up to the escrow"
    );

    let eth = |x: U256| format!("{:.6}", x.to::<u128>() as f64 / 1e18);
    if json_out {
        let mut out = json!({
            "model": t.label,
            "backend": backend.id(),
            "chain": s.chain.describe(),
            "request_id": request_id.to_string(),
            "n_in": claim.n_in,
            "n_out": claim.n_out,
            "escrow": escrow.to_string(),
            "provider_paid": provider_paid.to_string(),
            "owner_paid": owner_paid.to_string(),
            "refunded": refunded.to_string(),
            "verify_gas": verify_gas,
            "settle_gas": settled.gas_used,
            "output": output,
            "output_from_chain": output_from_chain,
            "prove_seconds": prove_seconds,
            "proof_bytes": claim.proof.len(),
            "verifier_parts": manifest.parts.iter().map(|p| p.runtime_size).collect::<Vec<_>>(),
            "workdir": keep.then(|| work.to_path_buf()),
        });
        out.as_object_mut()
            .expect("an object")
            .extend(proved.extra.clone());
        super::print_json(&out);
    } else {
        println!("model          {}", t.label);
        println!("backend        {}", backend.id());
        if let Some(c) = proved.extra.get("completion") {
            println!(
                "generated      {:?} -> {c}",
                proved
                    .extra
                    .get("prompt")
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
            );
        }
        // The id is a hash of (client, nonce): its ends are enough to tell requests apart.
        let id = format!("{request_id:x}");
        println!(
            "request        0x{}…{} (nonce {nonce}): n_in {}, n_out {}",
            &id[..6.min(id.len())],
            &id[id.len().saturating_sub(4)..],
            claim.n_in,
            claim.n_out
        );
        println!(
            "proof          {} bytes, proved in {prove_seconds:.2} s",
            claim.proof.len()
        );
        println!(
            "verifier       {} part(s) of {} bytes + adapter",
            manifest.parts.len(),
            manifest
                .parts
                .iter()
                .map(|p| p.runtime_size.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("escrow         {} ETH", eth(escrow));
        println!("provider paid  {} ETH", eth(provider_paid));
        println!(
            "owner paid     {} ETH (royalty {}%)",
            eth(owner_paid),
            ROYALTY_BPS / 100
        );
        println!("refunded       {} ETH", eth(refunded));
        println!("output         {output_from_chain} (decrypted by the client from the settlement event)");
        println!("verify gas     {verify_gas}");
        println!("settle gas     {}", settled.gas_used);
        if keep {
            println!("artifacts in   {}", work.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
