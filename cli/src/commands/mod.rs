//! One module per verb.

pub mod aggregate;
pub mod audit;
pub mod chain;
pub mod client;
pub mod compile;
pub mod demo;
pub mod demo_batch;
pub mod demo_serve;
pub mod generate;
pub mod inspect;
pub mod prove;
pub mod publish;
pub mod serve;
pub mod setup;
pub mod verifier;
pub mod verify;

/// Prints `value` as JSON on stdout.
pub fn print_json(value: &serde_json::Value) {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    // a reader that stopped early (`| head`) has what it wanted; that is not our failure
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Prints `value` as one line of JSON on stdout and flushes it (for a reader waiting on it).
pub fn print_json_line(value: &serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// The proof systems the CLI drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    #[default]
    Halo2,
    Groth16,
}

impl Backend {
    pub fn id(self) -> zkinfer_prover::BackendId {
        match self {
            Backend::Halo2 => zkinfer_prover::BackendId::Halo2,
            Backend::Groth16 => zkinfer_prover::BackendId::Groth16,
        }
    }
}

/// What the halo2 plan minimizes (`zkinfer compile --optimize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Optimize {
    /// Proving time: the lowest `k`, with extra range lanes and pools where they lower it.
    #[default]
    Speed,
    /// Verifier gas: the fewest columns (each a commitment the EVM verifier checks), then the
    /// lowest `k`.
    Gas,
}

impl Optimize {
    pub fn objective(self) -> zkinfer_prover::compile::Objective {
        match self {
            Optimize::Speed => zkinfer_prover::compile::Objective::Speed,
            Optimize::Gas => zkinfer_prover::compile::Objective::Gas,
        }
    }
}

/// Fails when `--backend` names another backend than the model directory was compiled for.
pub fn check_backend(dir: &std::path::Path, backend: Option<Backend>) -> anyhow::Result<()> {
    if let Some(b) = backend {
        let found = zkinfer_prover::artifacts::ModelDir::new(dir)
            .settings()?
            .backend;
        if found != b.id() {
            anyhow::bail!(
                "{} was compiled for backend {found}, not {}",
                dir.display(),
                b.id()
            );
        }
    }
    Ok(())
}
