//! `zkinfer`: compile an ONNX model to a circuit, set up its keys, prove inference with its usage
//! statement, verify, inspect, generate the Solidity verifier, and settle payments on a chain.
//! Every verb prints machine-readable output with `--json`.

mod commands;
mod input;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zkinfer_circuits::decoder::Slots;
use zkinfer_prover::compile::Stop;
use zkinfer_prover::transcript::TranscriptKind;

#[derive(Parser)]
#[command(
    name = "zkinfer",
    version,
    about = "Prove AI inference and its usage with zero-knowledge proofs"
)]
struct Cli {
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Proof system: chosen at `compile`, checked against the model directory elsewhere.
    #[arg(long, global = true, value_enum)]
    backend: Option<commands::Backend>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import an ONNX model, quantize it and write the IR, settings and accuracy report.
    Compile {
        model: PathBuf,
        /// Calibration inputs (`{"input": [[...], ...]}` or EZKL's `{"input_data": ...}`); default:
        /// calibration.json or input.json beside the model.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Concrete shape of each graph input, in order, batch axis first (`1x3x32x32`); default:
        /// the file's declared shapes with a symbolic batch axis set to 1.
        #[arg(long = "input-shape", value_parser = parse_shape)]
        input_shapes: Vec<Vec<usize>>,
        /// Samples per proof (padding rows are not metered).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// halo2: what the circuit's layout minimizes. `speed`: proving time (the fewest rows);
        /// `gas`: the on-chain verifier's cost (the fewest columns, at the price of more rows).
        #[arg(long, value_enum, default_value_t = commands::Optimize::Speed)]
        optimize: commands::Optimize,
        /// Decoders: prompt tokens the generation circuit takes (padding is not metered).
        #[arg(long, default_value_t = 16)]
        prompt_slots: usize,
        /// Decoders: tokens the generation circuit can generate (a request's --max-tokens ≤ this).
        #[arg(long, default_value_t = 16)]
        gen_slots: usize,
        /// Decoder graphs: the token that ends generation (`none`: only --max-tokens does);
        /// default: the vocabulary's last entry.
        #[arg(long, value_parser = parse_stop)]
        stop_token: Option<Stop>,
        /// Decoders: compile one forward pass of the graph over `--input-shape` tokens (proven
        /// with `zkinfer prove`) instead of generation.
        #[arg(long)]
        forward: bool,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Generate (or reuse cached) proving and verifying keys (Groth16: a circuit-specific dev setup).
    Setup {
        dir: PathBuf,
        /// A KZG SRS in halo2's ParamsKZG format.
        #[arg(long, conflicts_with = "dev_srs")]
        srs: Option<PathBuf>,
        /// Generate an INSECURE SRS from a public seed (development only).
        #[arg(long)]
        dev_srs: bool,
    },
    /// Run the model on inputs and prove each run, in parallel.
    Prove {
        dir: PathBuf,
        #[arg(long, num_args = 1.., required = true)]
        input: Vec<PathBuf>,
        /// Settlement request id of the first input; input i answers request id + i.
        #[arg(long)]
        request_id: String,
        /// Commitment salt (0x-hex field element); default: random per proof.
        #[arg(long)]
        salt: Option<String>,
        /// Prove with the Poseidon transcript, for `zkinfer aggregate` (halo2 only); such a proof
        /// is settled through an aggregation proof, not on its own.
        #[arg(long)]
        for_aggregation: bool,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Generate text greedily with a compiled decoder and prove it, metered per token.
    Generate {
        dir: PathBuf,
        /// The prompt; its bytes are the tokens.
        #[arg(
            long,
            required_unless_present = "prompt_tokens",
            conflicts_with = "prompt_tokens"
        )]
        prompt: Option<String>,
        /// The prompt as token ids (any vocabulary): `1,2,3`.
        #[arg(long, value_delimiter = ',')]
        prompt_tokens: Vec<u64>,
        /// Stop after this many generated tokens (the stop token ends generation earlier).
        #[arg(long)]
        max_tokens: usize,
        /// Settlement request id the proof answers.
        #[arg(long)]
        request_id: String,
        /// Commitment salt (0x-hex field element); default: random.
        #[arg(long)]
        salt: Option<String>,
        /// The proof file; the opening is written beside it as `*.opening.json`.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Verify a proof file: exit 0 if and only if it is valid.
    Verify { dir: PathBuf, proof: PathBuf },
    /// Show the circuit's size: rows, columns, lookups, memory (halo2) or constraints (Groth16).
    Inspect { dir: PathBuf },
    /// Generate the model's Solidity verifier and its IUsageVerifier adapter, compiled.
    Verifier {
        dir: PathBuf,
        #[arg(short, long)]
        out: PathBuf,
        /// The verifier of aggregation proofs over N requests instead (keys from `zkinfer
        /// aggregate`), with its IBatchVerifier adapter.
        #[arg(long, value_name = "N")]
        aggregation: Option<usize>,
        /// With --aggregation: the root of a tree over M leaf aggregations (`aggregate --leaves`).
        #[arg(long, value_name = "M", default_value_t = 1, requires = "aggregation")]
        leaves: usize,
    },
    /// Fold N proofs of one model (from `prove --for-aggregation`) into one aggregation proof for
    /// `chain settle-batch`; the keys for N are made on first use and kept in DIR/aggregate-N
    /// (a tree's root in DIR/aggregate-{N/M}xM).
    Aggregate {
        dir: PathBuf,
        #[arg(num_args = 1.., required = true)]
        proofs: Vec<PathBuf>,
        #[arg(short, long)]
        out: PathBuf,
        /// The SRS for the aggregation keys: the model's setup with at least 2^k points (halo2
        /// ParamsKZG or snarkjs .ptau).
        #[arg(long, conflicts_with = "dev_srs")]
        srs: Option<PathBuf>,
        /// The insecure dev SRS (for development only).
        #[arg(long)]
        dev_srs: bool,
        /// log2 of the aggregation circuit's rows; default: the smallest that fits 8 advice columns.
        #[arg(long)]
        k: Option<u32>,
        /// Aggregate as a tree: M leaves of N/M proofs each, then one root over the leaves, so
        /// no circuit verifies more than max(N/M, M) proofs (memory and time per circuit).
        #[arg(long, value_name = "M", default_value_t = 1)]
        leaves: usize,
    },
    /// Deploy, register, request, settle, refund and withdraw, on the embedded chain or a node.
    Chain {
        #[command(flatten)]
        opts: commands::chain::ChainOpts,
        #[command(subcommand)]
        cmd: commands::chain::ChainCmd,
    },
    /// Publish what an auditor needs to rebuild and check the model's deployment: the ONNX file,
    /// compile recipe and calibration set, the SRS (or its public seed), settings, verifying key,
    /// verifier and terms, with every SHA-256 in bundle.json. Never writes over a bundle.
    Publish {
        dir: PathBuf,
        #[arg(short, long)]
        out: PathBuf,
        #[command(flatten)]
        terms: commands::publish::TermsArgs,
    },
    /// Rebuild a bundle from scratch and compare every artifact; with a chain, also the
    /// verifier's runtime code, the model's registration and every settled proof. Exit 0 if
    /// everything matches, 1 on a mismatch, 2 if the bundle is bad.
    Audit {
        bundle: PathBuf,
        #[command(flatten)]
        chain: commands::audit::ChainArgs,
    },
    /// The provider's service: follows paid requests, takes clients' openings over HTTP, proves
    /// and settles them (configuration: see the README). Runs until SIGINT or SIGTERM.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Listen here instead of the configuration's address (`127.0.0.1:0`: a free port).
        #[arg(long)]
        listen: Option<String>,
        /// The job store instead of the configuration's: a SQLite file, or `postgres://…` shared
        /// by servers on several machines.
        #[arg(long)]
        store: Option<String>,
        /// Only prove and settle jobs of a shared (PostgreSQL) store; another server takes the
        /// openings.
        #[arg(long)]
        workers_only: bool,
    },
    /// A client of `zkinfer serve`: submit a request, wait for its settled output.
    Client {
        #[command(flatten)]
        opts: commands::chain::ChainOpts,
        #[command(subcommand)]
        cmd: commands::client::ClientCmd,
    },
    /// Everything end to end on an example model and the embedded chain: compile, set up, deploy,
    /// open a request, prove, settle, withdraw; prints balances and gas.
    Demo {
        /// The example: the MLP, or the tiny GPT generating text paid per token.
        #[arg(long, value_enum, default_value_t)]
        model: commands::demo::DemoModel,
        /// tiny-gpt: the client's prompt (bytes are tokens; at most 16).
        #[arg(long, default_value = "The class ")]
        prompt: String,
        /// tiny-gpt: the most tokens to generate (the circuit is sized for it).
        #[arg(long, default_value_t = 16)]
        max_tokens: usize,
        /// tiny-gpt: prompt tokens the circuit takes (the client escrows for all of them).
        #[arg(long, default_value_t = 16)]
        prompt_slots: usize,
        /// Keep the artifacts in this directory (default: a temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// MLP on halo2: open N requests, aggregate their proofs and settle them in one
        /// transaction (`settleBatch`), next to N single settlements.
        #[arg(long, value_name = "N")]
        requests: Option<usize>,
        /// With --requests: aggregate as a tree of M leaves (see `aggregate --leaves`).
        #[arg(
            long,
            value_name = "M",
            default_value_t = 1,
            requires = "requests",
            conflicts_with = "serve"
        )]
        leaves: usize,
        /// Run `zkinfer serve` on the embedded chain and have --requests N (default 4) clients
        /// submit at once and wait for their outputs; prints throughput, latency and payments.
        #[arg(long)]
        serve: bool,
        /// With --serve: proving workers in the service.
        #[arg(long, default_value_t = 1, requires = "serve")]
        workers: usize,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let backend = cli.backend;
    let result = match cli.command {
        Command::Compile {
            model,
            calibration,
            input_shapes,
            batch,
            optimize,
            prompt_slots,
            gen_slots,
            stop_token,
            forward,
            out,
        } => commands::compile::run(
            &model,
            calibration.as_deref(),
            &input_shapes,
            (batch, optimize),
            commands::compile::Decoding {
                slots: Slots {
                    prompt: prompt_slots,
                    gen: gen_slots,
                },
                stop: stop_token.unwrap_or(Stop::Last),
                forward,
            },
            backend.unwrap_or_default(),
            &out,
            cli.json,
        ),
        Command::Setup { dir, srs, dev_srs } => commands::check_backend(&dir, backend)
            .and_then(|_| commands::setup::run(&dir, srs, dev_srs, cli.json)),
        Command::Prove {
            dir,
            input,
            request_id,
            salt,
            for_aggregation,
            out,
        } => commands::check_backend(&dir, backend).and_then(|_| {
            let transcript = if for_aggregation {
                TranscriptKind::Poseidon
            } else {
                TranscriptKind::Evm
            };
            let salt = salt.as_deref();
            commands::prove::run(&dir, &input, &request_id, salt, transcript, &out, cli.json)
        }),
        Command::Generate {
            dir,
            prompt,
            prompt_tokens,
            max_tokens,
            request_id,
            salt,
            out,
        } => commands::check_backend(&dir, backend).and_then(|_| {
            let prompt = match prompt {
                Some(text) => commands::generate::Prompt::Text(text),
                None => commands::generate::Prompt::Tokens(prompt_tokens),
            };
            commands::generate::run(
                &dir,
                &prompt,
                max_tokens,
                &request_id,
                salt.as_deref(),
                &out,
                cli.json,
            )
        }),
        Command::Verify { dir, proof } => commands::check_backend(&dir, backend)
            .and_then(|_| commands::verify::run(&dir, &proof, cli.json)),
        Command::Inspect { dir } => commands::check_backend(&dir, backend)
            .and_then(|_| commands::inspect::run(&dir, cli.json)),
        Command::Verifier {
            dir,
            out,
            aggregation,
            leaves,
        } => commands::check_backend(&dir, backend).and_then(|_| {
            let aggregation = aggregation.map(|n| (n, leaves));
            commands::verifier::run(&dir, &out, aggregation, cli.json)
        }),
        Command::Aggregate {
            dir,
            proofs,
            out,
            srs,
            dev_srs,
            k,
            leaves,
        } => commands::check_backend(&dir, backend).and_then(|_| {
            let args = commands::aggregate::Args {
                dir: &dir,
                proofs: &proofs,
                out: &out,
                srs,
                dev_srs,
                k,
                leaves,
            };
            commands::aggregate::run(args, cli.json)
        }),
        Command::Chain { opts, cmd } => commands::chain::run(&opts, cmd, cli.json),
        Command::Publish { dir, out, terms } => commands::check_backend(&dir, backend)
            .and_then(|_| commands::publish::run(&dir, &out, &terms, cli.json)),
        Command::Audit { bundle, chain } => commands::audit::run(&bundle, &chain, cli.json),
        Command::Serve {
            config,
            listen,
            store,
            workers_only,
        } => commands::serve::run(
            &config,
            store,
            zkinfer_serve::Options {
                listen,
                workers_only,
            },
        ),
        Command::Client { opts, cmd } => commands::client::run(&opts, cmd, cli.json),
        Command::Demo {
            model,
            prompt,
            max_tokens,
            prompt_slots,
            dir,
            requests,
            leaves,
            serve,
            workers,
        } => match requests {
            n if serve => commands::demo_serve::run(
                model,
                backend.unwrap_or_default(),
                &commands::demo::GptOptions {
                    prompt: prompt.clone(),
                    max_tokens,
                    prompt_slots,
                },
                n.unwrap_or(4),
                workers,
                dir.as_deref(),
                cli.json,
            ),
            Some(_) if model != commands::demo::DemoModel::Mlp => Err(anyhow::anyhow!(
                "--requests aggregates proofs of the MLP: drop --model"
            )),
            Some(_) if backend.is_some_and(|b| b != commands::Backend::Halo2) => Err(
                anyhow::anyhow!("--requests aggregates halo2 proofs: drop --backend"),
            ),
            Some(n) => commands::demo_batch::run(n, leaves, dir.as_deref(), cli.json),
            None => commands::demo::run(
                model,
                backend.unwrap_or_default(),
                &commands::demo::GptOptions {
                    prompt,
                    max_tokens,
                    prompt_slots,
                },
                dir.as_deref(),
                cli.json,
            ),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `1x3x32x32` → `[1, 3, 32, 32]`.
fn parse_stop(s: &str) -> Result<Stop, String> {
    match s {
        "none" => Ok(Stop::Never),
        _ => s
            .parse::<u64>()
            .map(Stop::Token)
            .map_err(|_| format!("`{s}` is neither a token id nor `none`")),
    }
}

fn parse_shape(s: &str) -> Result<Vec<usize>, String> {
    s.split(['x', ','])
        .map(|d| match d.trim().parse::<usize>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(format!("`{s}` is not a shape like 1x3x32x32")),
        })
        .collect()
}
