//! `zkinfer chain`: deploy, register, request, settle, refund and withdraw on the embedded chain
//! (revm; its state persists in a file) or on a node (`--rpc-url`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use zkinfer_circuits::field::{fr_parse, fr_to_hex, random_fr};
use zkinfer_circuits::halo2::Witness;
use zkinfer_contracts::chain::embedded::{Embedded, StateLock};
use zkinfer_contracts::chain::rpc::Rpc;
use zkinfer_contracts::chain::Chain;
use zkinfer_contracts::claim::{from_proof_file, to_u256};
use zkinfer_contracts::settlement::{
    compile_settlement, ModelTerms, RequestTerms, Settlement, IERC20,
};
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::{read_json, ModelDir};
use zkinfer_prover::prove::ProofFile;

use super::generate::Prompt;

#[derive(Args)]
pub struct ChainOpts {
    /// JSON-RPC URL of a node; without it, the embedded chain.
    #[arg(long, global = true)]
    rpc_url: Option<String>,
    /// State file of the embedded chain (created on first use).
    #[arg(long, global = true, default_value = "zkinfer-chain.json")]
    state: PathBuf,
    /// File holding the sender's hex private key; default: $ZKINFER_PRIVATE_KEY.
    #[arg(long, global = true)]
    key_file: Option<PathBuf>,
    /// Act as anvil's well-known dev account N (0-3): for the embedded chain and local dev nodes.
    #[arg(long, global = true, conflicts_with = "key_file")]
    dev_account: Option<usize>,
}

impl ChainOpts {
    /// The embedded chain saved at `state`, acting as dev account `dev_account`.
    pub fn embedded(state: PathBuf, dev_account: usize) -> Self {
        Self {
            rpc_url: None,
            state,
            key_file: None,
            dev_account: Some(dev_account),
        }
    }
}

#[derive(Subcommand)]
pub enum ChainCmd {
    /// Deploy Settlement, or a verifier written by `zkinfer verifier`.
    Deploy {
        #[command(subcommand)]
        what: DeployWhat,
    },
    /// Register a model: its verifier (adapter address), owner, provider, royalty and prices.
    Register {
        #[arg(long)]
        settlement: Address,
        #[arg(long)]
        verifier: Address,
        #[arg(long)]
        owner: Address,
        #[arg(long)]
        provider: Address,
        /// Owner's share of each payment in basis points (at most 10000).
        #[arg(long)]
        royalty_bps: u16,
        /// Price per metered input unit, in wei (or token units).
        #[arg(long)]
        price_in: U256,
        /// Price per metered output unit.
        #[arg(long)]
        price_out: U256,
        /// ERC-20 token to pay in; default ETH.
        #[arg(long, default_value_t = Address::ZERO)]
        token: Address,
    },
    /// Open a request and escrow its maximum cost. Its id is derived from the sender and
    /// `--nonce`, so the input commitment (given, or computed from the model directory, input and
    /// salt) is bound to an id no one else can open.
    Request {
        #[command(flatten)]
        args: RequestArgs,
    },
    /// Settle a request with a proof file from `zkinfer prove`.
    Settle {
        #[arg(long)]
        settlement: Address,
        proof: PathBuf,
    },
    /// Register, as the model's owner, a batch verifier (deployed from `zkinfer verifier
    /// --aggregation N`); it settles requests opened after this.
    RegisterBatch {
        #[arg(long)]
        settlement: Address,
        #[arg(long)]
        model_id: U256,
        #[arg(long)]
        verifier: Address,
    },
    /// Settle every request of an aggregation proof from `zkinfer aggregate` in one transaction.
    SettleBatch {
        #[arg(long)]
        settlement: Address,
        #[arg(long)]
        model_id: U256,
        proof: PathBuf,
    },
    /// Read a settled request's output from its `RequestSettled` event and decrypt it with the
    /// request's salt (the client's secret).
    Output {
        #[arg(long)]
        settlement: Address,
        #[arg(long)]
        request_id: U256,
        #[arg(long)]
        salt: String,
        /// The model directory: unpacks the output (or completion) and checks it against the
        /// proven output commitment. Without it, the decrypted words.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Refund an unsettled request after its deadline (anyone may call).
    Refund {
        #[arg(long)]
        settlement: Address,
        #[arg(long)]
        request_id: U256,
    },
    /// Withdraw everything credited to the sender.
    Withdraw {
        #[arg(long)]
        settlement: Address,
        #[arg(long, default_value_t = Address::ZERO)]
        token: Address,
    },
    /// Check a proof file with a deployed verifier without settling: exit 0 if and only if it is
    /// accepted (1 if refused).
    Verify {
        #[arg(long)]
        verifier: Address,
        proof: PathBuf,
    },
    /// Move a dev chain's clock forward.
    Warp { seconds: u64 },
}

/// What a client opens a request with.
#[derive(Args, Clone)]
pub struct RequestArgs {
    #[arg(long)]
    pub settlement: Address,
    #[arg(long)]
    pub model_id: U256,
    /// Any number this sender has not opened a request with; default: a random one.
    #[arg(long)]
    pub nonce: Option<u64>,
    #[arg(long, conflicts_with_all = ["model", "input", "prompt", "prompt_tokens", "salt"])]
    pub input_commitment: Option<U256>,
    /// Model directory (with --input, or --prompt / --prompt-tokens and --max-tokens for a
    /// decoder) to compute the input commitment.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, conflicts_with_all = ["prompt", "prompt_tokens"])]
    pub input: Option<PathBuf>,
    /// Decoders: the prompt (its bytes are the tokens) the request pays for.
    #[arg(long, requires = "max_tokens", conflicts_with = "prompt_tokens")]
    pub prompt: Option<String>,
    /// Decoders: the prompt as token ids (any vocabulary), `1,2,3`.
    #[arg(long, requires = "max_tokens", value_delimiter = ',')]
    pub prompt_tokens: Vec<u64>,
    /// Decoders: the most tokens the provider may generate (bound into the commitment).
    #[arg(long)]
    pub max_tokens: Option<u64>,
    /// The client's secret for this request (0x-hex field element): it hides the input in
    /// its commitment and the output in the settlement's ciphertext, so it must be uniformly
    /// random and used once. Default: a fresh random one, printed as `salt`.
    #[arg(long)]
    pub salt: Option<String>,
    #[arg(long)]
    pub max_in: u64,
    #[arg(long)]
    pub max_out: u64,
    /// Seconds from now until the request can be refunded.
    #[arg(long, default_value_t = 3600)]
    pub deadline_in: u64,
}

impl RequestArgs {
    /// The prompt given, if any.
    pub fn prompt(&self) -> Option<Prompt> {
        match (&self.prompt, self.prompt_tokens.is_empty()) {
            (Some(text), _) => Some(Prompt::Text(text.clone())),
            (None, false) => Some(Prompt::Tokens(self.prompt_tokens.clone())),
            (None, true) => None,
        }
    }
}

/// A request opened on-chain.
pub struct OpenedRequest {
    pub request_id: U256,
    pub nonce: u64,
    pub input_commitment: U256,
    /// The salt, when the commitment was computed here.
    pub salt: Option<String>,
    pub escrow: U256,
    pub deadline: u64,
    pub gas: u64,
}

/// Opens the request `args` describe, as `from`, approving a token first if the model is paid in one.
pub fn open_request(
    chain: &mut dyn Chain,
    from: Address,
    args: &RequestArgs,
) -> Result<OpenedRequest> {
    let mut s = settlement_at(chain, args.settlement);
    let token = s.model_token(args.model_id)?;
    let nonce = args.nonce.unwrap_or_else(random_nonce);
    let expected_id = s.request_id_for(from, nonce)?;
    let salt = match (&args.input_commitment, &args.salt) {
        (None, None) => Some(fr_to_hex(&random_fr())),
        (_, salt) => salt.clone(),
    };
    let commitment = match (args.input_commitment, &args.model) {
        (Some(c), _) => c,
        (None, Some(dir)) => {
            let salt = salt.as_deref().expect("a salt, given or drawn");
            match (&args.input, args.prompt()) {
                (Some(input), _) => input_commitment_for(dir, input, salt, expected_id)?,
                (None, Some(p)) => prompt_commitment_for(
                    dir,
                    &p,
                    args.max_tokens.expect("clap requires --max-tokens"),
                    salt,
                    expected_id,
                )?,
                (None, None) => {
                    bail!("--model needs --input, or --prompt / --prompt-tokens for a decoder")
                }
            }
        }
        (None, None) => bail!("give --input-commitment, or --model, --input and --salt"),
    };
    let cost = s.max_cost(args.model_id, args.max_in, args.max_out)?;
    let value = if token == Address::ZERO {
        cost
    } else {
        let approve = alloy::sol_types::SolCall::abi_encode(&IERC20::approveCall {
            spender: args.settlement,
            amount: cost,
        });
        let out = s
            .chain
            .send(from, Some(token), approve.into(), U256::ZERO)?;
        if !out.success {
            bail!("approving {cost} of token {token} for Settlement failed");
        }
        U256::ZERO
    };
    let deadline = s.chain.timestamp()? + args.deadline_in;
    let terms = RequestTerms {
        model_id: args.model_id,
        nonce,
        input_commitment: commitment,
        max_in: args.max_in,
        max_out: args.max_out,
        deadline,
    };
    let r = s.open_request(from, &terms, value)?;
    ensure!(
        r.value.requestId == expected_id,
        "request opened as {} but its commitment was made for {expected_id}",
        r.value.requestId
    );
    Ok(OpenedRequest {
        request_id: r.value.requestId,
        nonce,
        input_commitment: commitment,
        salt,
        escrow: r.value.escrow,
        deadline,
        gas: r.gas_used,
    })
}

#[derive(Subcommand)]
pub enum DeployWhat {
    Settlement,
    /// The verifier parts and adapter in a directory written by `zkinfer verifier`.
    Verifier {
        dir: PathBuf,
    },
}

/// An opened chain; the embedded one is held locked (a running `zkinfer serve` may share it) and
/// saved back to its state file when done.
pub enum Opened {
    Embedded(Embedded, PathBuf, StateLock),
    Node(Rpc),
}

impl Opened {
    pub fn chain(&mut self) -> &mut dyn Chain {
        match self {
            Opened::Embedded(c, _, _) => c,
            Opened::Node(c) => c,
        }
    }

    /// Saves the embedded chain and releases its lock.
    pub fn close(self) -> Result<()> {
        if let Opened::Embedded(chain, path, _lock) = &self {
            chain.save(path)?;
        }
        Ok(())
    }
}

/// Opens the chain `opts` name, with the sender's address.
pub fn open(opts: &ChainOpts) -> Result<(Opened, Address)> {
    let key: Option<PrivateKeySigner> = match opts.dev_account {
        Some(i) if i < 4 => Some(zkinfer_contracts::keys::dev(i)),
        Some(i) => bail!("--dev-account {i}: there are 4 dev accounts (0-3)"),
        None => zkinfer_contracts::keys::load(opts.key_file.as_deref())?,
    };
    match &opts.rpc_url {
        Some(url) => {
            let key = key.with_context(|| {
                format!(
                    "a node needs a signing key: pass --key-file FILE or set {}",
                    zkinfer_contracts::keys::KEY_ENV
                )
            })?;
            let from = key.address();
            Ok((Opened::Node(Rpc::connect(url, &[key])?), from))
        }
        None => {
            let from = key
                .unwrap_or_else(|| zkinfer_contracts::keys::dev(0))
                .address();
            let lock = Embedded::lock(&opts.state)?;
            let chain = Embedded::open(&opts.state)?;
            Ok((Opened::Embedded(chain, opts.state.clone(), lock), from))
        }
    }
}

pub fn run(opts: &ChainOpts, cmd: ChainCmd, json_out: bool) -> Result<ExitCode> {
    let (mut opened, from) = open(opts)?;
    let result = execute(opened.chain(), from, cmd);
    // The embedded chain keeps what happened, reverted transactions included (they use a nonce).
    opened.close()?;
    let report = result?;
    // `chain verify` answers with its exit code, like `zkinfer verify`.
    let code = match report.get("valid") {
        Some(serde_json::Value::Bool(false)) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    };
    if json_out {
        super::print_json(&report);
    } else {
        for (k, v) in report.as_object().into_iter().flatten() {
            println!(
                "{k}: {}",
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            );
        }
    }
    Ok(code)
}

fn settlement_at(chain: &mut dyn Chain, address: Address) -> Settlement<'_> {
    Settlement { chain, address }
}

fn execute(chain: &mut dyn Chain, from: Address, cmd: ChainCmd) -> Result<serde_json::Value> {
    let on = chain.describe();
    Ok(match cmd {
        ChainCmd::Deploy {
            what: DeployWhat::Settlement,
        } => {
            let code = compile_settlement(&Solc::find()?)?;
            let (address, gas) = zkinfer_contracts::chain::deploy(chain, from, &code.bytecode)?;
            json!({ "chain": on, "settlement": address.to_string(), "gas": gas })
        }
        ChainCmd::Deploy {
            what: DeployWhat::Verifier { dir },
        } => {
            let (manifest, parts, adapter) = zkinfer_contracts::artifact::read(&dir)?;
            let (address, gas) =
                zkinfer_contracts::artifact::deploy(chain, from, &parts, &adapter)?;
            json!({ "chain": on, "verifier": address.to_string(), "backend": manifest.backend,
                    "vk_sha256": manifest.vk_sha256, "parts": parts.len(), "gas": gas })
        }
        ChainCmd::Register {
            settlement,
            verifier,
            owner,
            provider,
            royalty_bps,
            price_in,
            price_out,
            token,
        } => {
            let terms = ModelTerms {
                verifier,
                owner,
                provider,
                royalty_bps,
                price_in,
                price_out,
                token,
            };
            let r = settlement_at(chain, settlement).register_model(from, &terms)?;
            json!({ "chain": on, "model_id": r.value.to_string(), "gas": r.gas_used })
        }
        ChainCmd::Request { args } => {
            let r = open_request(chain, from, &args)?;
            json!({ "chain": on, "request_id": r.request_id.to_string(), "nonce": r.nonce, "escrow": r.escrow.to_string(),
                    "input_commitment": format!("{:#x}", r.input_commitment), "salt": r.salt, "deadline": r.deadline, "gas": r.gas })
        }
        ChainCmd::Settle { settlement, proof } => {
            let file: ProofFile = read_json(&proof)?;
            let claim = from_proof_file(&file).with_context(|| format!("{}", proof.display()))?;
            let r = settlement_at(chain, settlement).settle(from, &claim)?;
            json!({ "chain": on, "request_id": claim.request_id.to_string(), "n_in": claim.n_in, "n_out": claim.n_out,
                    "provider_paid": r.value.providerAmount.to_string(), "owner_paid": r.value.royalty.to_string(),
                    "refunded": r.value.refund.to_string(), "gas": r.gas_used })
        }
        ChainCmd::RegisterBatch {
            settlement,
            model_id,
            verifier,
        } => {
            let r = settlement_at(chain, settlement)
                .register_batch_verifier(from, model_id, verifier)?;
            json!({ "chain": on, "model_id": model_id.to_string(), "verifier": verifier.to_string(),
                    "requests": r.value.requests.to_string(), "index": r.value.index, "gas": r.gas_used })
        }
        ChainCmd::SettleBatch {
            settlement,
            model_id,
            proof,
        } => {
            let file: zkinfer_aggregate::AggregateProofFile = read_json(&proof)?;
            let batch = zkinfer_contracts::claim::from_aggregate_file(&file)
                .with_context(|| format!("{}", proof.display()))?;
            let r = settlement_at(chain, settlement).settle_batch(from, model_id, &batch)?;
            let sum = |f: &dyn Fn(
                &zkinfer_contracts::settlement::ISettlement::RequestSettled,
            ) -> U256| {
                r.value
                    .iter()
                    .map(f)
                    .fold(U256::ZERO, |a, b| a + b)
                    .to_string()
            };
            let n = r.value.len().max(1) as u64;
            json!({ "chain": on, "requests": r.value.len(),
                    "request_ids": r.value.iter().map(|e| e.requestId.to_string()).collect::<Vec<_>>(),
                    "provider_paid": sum(&|e| e.providerAmount), "owner_paid": sum(&|e| e.royalty),
                    "refunded": sum(&|e| e.refund), "gas": r.gas_used, "gas_per_request": r.gas_used / n })
        }
        ChainCmd::Output {
            settlement,
            request_id,
            salt,
            model,
        } => {
            let salt = fr_parse(&salt).context("--salt")?;
            let settled = settled_output(&mut settlement_at(chain, settlement), request_id)?;
            let mut out = json!({ "chain": on, "request_id": request_id.to_string(), "n_out": settled.n_out });
            let body = match model {
                Some(dir) => serde_json::to_value(zkinfer_prover::deliver::open(
                    &ModelDir::new(&dir),
                    &settled,
                    salt,
                )?)?,
                None => {
                    let words = zkinfer_circuits::usage::decrypt(
                        settled.request_id,
                        salt,
                        &settled.ciphertext,
                    );
                    json!({ "words": words.iter().map(fr_to_hex).collect::<Vec<_>>() })
                }
            };
            let obj = out.as_object_mut().expect("an object");
            obj.extend(body.as_object().cloned().unwrap_or_default());
            out
        }
        ChainCmd::Refund {
            settlement,
            request_id,
        } => {
            let r = settlement_at(chain, settlement).refund(from, request_id)?;
            json!({ "chain": on, "request_id": request_id.to_string(), "refunded": r.value.to_string(), "gas": r.gas_used })
        }
        ChainCmd::Withdraw { settlement, token } => {
            let r = settlement_at(chain, settlement).withdraw(from, token)?;
            json!({ "chain": on, "account": from.to_string(), "amount": r.value.to_string(), "gas": r.gas_used })
        }
        ChainCmd::Verify { verifier, proof } => {
            let file: ProofFile = read_json(&proof)?;
            let claim = from_proof_file(&file).with_context(|| format!("{}", proof.display()))?;
            let (accepted, gas) = zkinfer_contracts::settlement::verify_call(
                chain,
                verifier,
                claim.proof.clone(),
                claim.instances(),
            )?;
            json!({ "chain": on, "valid": accepted, "gas": gas })
        }
        ChainCmd::Warp { seconds } => {
            chain.advance_time(seconds)?;
            json!({ "chain": on, "timestamp": chain.timestamp()? })
        }
    })
}

/// The output `request_id`'s settlement published, read from its `RequestSettled` event.
pub fn settled_output(
    s: &mut Settlement<'_>,
    request_id: U256,
) -> Result<zkinfer_prover::deliver::Settled> {
    let e = s.settled(request_id)?.with_context(|| {
        format!(
            "request {request_id} has not been settled on {}",
            s.chain.describe()
        )
    })?;
    let fr = |u: &U256| fr_parse(&format!("{u:#x}"));
    Ok(zkinfer_prover::deliver::Settled {
        request_id: fr(&request_id)?,
        output_commitment: fr(&e.outputCommitment)?,
        n_out: e.nOut,
        ciphertext: e.ciphertext.iter().map(fr).collect::<Result<_, _>>()?,
    })
}

/// The input commitment of `input` for request `id` with `salt`, as the prover will compute it.
/// A decoder's input commitment: the prompt's tokens padded to the circuit's prompt slots.
pub fn prompt_commitment_for(
    dir: &Path,
    prompt: &Prompt,
    max_tokens: u64,
    salt: &str,
    id: U256,
) -> Result<U256> {
    let md = ModelDir::new(dir);
    let tokens = prompt.tokens();
    let plan = md.decode_plan()?;
    plan.decoder
        .check_request(&tokens, max_tokens as usize)
        .context("--prompt / --prompt-tokens / --max-tokens")?;
    let slots = plan.decoder.slots;
    let c = zkinfer_circuits::usage::prompt_commitment(
        fr_parse(&format!("{id:#x}"))?,
        fr_parse(salt).context("--salt")?,
        &tokens,
        slots.prompt,
        max_tokens,
    );
    Ok(to_u256(&c))
}

pub fn input_commitment_for(dir: &Path, input: &Path, salt: &str, id: U256) -> Result<U256> {
    let md = ModelDir::new(dir);
    let model = md.model()?;
    let batch = md.settings()?.batch;
    let rows = crate::input::read_quantized(input, &model)?;
    let w = Witness {
        rows,
        request_id: fr_parse(&format!("{id:#x}"))?,
        salt: fr_parse(salt).context("--salt")?,
    };
    let run = zkinfer_circuits::witness::run(&model, batch, &w)?;
    Ok(to_u256(&run.statement.input_commitment))
}

/// A fresh request nonce: the low 64 bits of a random field element (a repeat only reverts).
fn random_nonce() -> u64 {
    to_u256(&random_fr()).as_limbs()[0]
}
