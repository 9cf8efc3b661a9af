//! A model's compiled verifier as published: Solidity sources, creation code, runtime code, ABI and
//! a manifest recording the key it was generated from and the pinned compiler settings. Writing is
//! atomic per file; the same key and compiler give byte-identical files.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zkinfer_prover::artifacts::ModelDir;
use zkinfer_prover::keys::load_verifier_keys;

use crate::generate::{generate, VerifierSources};
use crate::solc::{CompiledContract, CompilerSettings, Solc};
use crate::{write_atomic, ContractsError};

/// EIP-170: the largest deployable runtime code.
pub const MAX_CODE_SIZE: usize = 24_576;
pub const MANIFEST_FILE: &str = "verifier.json";
pub const ADAPTER_BIN: &str = "adapter.bin";
/// Most parts a halo2 verifier is split into before generation gives up.
pub const MAX_PARTS: usize = 8;

/// Hex creation code file of verifier part `i`.
pub fn part_bin(i: usize) -> String {
    format!("part{i}.bin")
}
pub const ADAPTER_ABI: &str = "adapter.abi.json";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContractInfo {
    pub contract: String,
    pub creation_code_sha256: String,
    pub runtime_size: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifierManifest {
    pub backend: zkinfer_prover::BackendId,
    pub vk_sha256: String,
    pub compiler: CompilerSettings,
    /// The generated verifier's parts, in deployment and call order.
    pub parts: Vec<ContractInfo>,
    /// The `IUsageVerifier` (or, for aggregation proofs, `IBatchVerifier`) adapter; its
    /// constructor takes the parts' addresses.
    pub adapter: ContractInfo,
}

/// Compiled verifier and adapter.
pub struct VerifierArtifact {
    pub sources: VerifierSources,
    pub compiler: CompilerSettings,
    pub parts: Vec<CompiledContract>,
    pub adapter: CompiledContract,
}

/// Generates and compiles the verifier for a model directory, splitting a halo2 verifier into as
/// few parts as keep each under the EIP-170 limit.
pub fn build(dir: &ModelDir, solc: &Solc) -> Result<VerifierArtifact, ContractsError> {
    let keys = load_verifier_keys(dir).map_err(|e| ContractsError::Model(e.to_string()))?;
    compile_fitting(&generate(&keys), solc)
}

/// The verifier for a model directory in exactly `parts` contracts (a Groth16 verifier in its
/// one), each still under EIP-170: the layout [`build`] would choose for a larger key, which
/// tests use to check that a split verifier refuses what the whole one does.
pub fn build_in_parts(
    dir: &ModelDir,
    solc: &Solc,
    parts: usize,
) -> Result<VerifierArtifact, ContractsError> {
    let keys = load_verifier_keys(dir).map_err(|e| ContractsError::Model(e.to_string()))?;
    compile_parts(&generate(&keys), solc, parts)?.map_err(over_limit)
}

fn over_limit(largest: usize) -> ContractsError {
    ContractsError::Compile(format!(
        "the verifier does not fit the EIP-170 limit of {MAX_CODE_SIZE} bytes (largest contract {largest} bytes)"
    ))
}

/// Generates and compiles the verifier of a model's aggregation proofs for N requests.
pub fn build_aggregation(
    dir: &zkinfer_aggregate::AggregateDir,
    solc: &Solc,
) -> Result<VerifierArtifact, ContractsError> {
    let keys = zkinfer_aggregate::keys::load(dir, false)
        .map_err(|e| ContractsError::Model(e.to_string()))?;
    compile_fitting(&crate::generate::generate_aggregation(&keys), solc)
}

/// Compiles generated code in as few parts as keep each contract under EIP-170.
fn compile_fitting(
    generated: &crate::generate::Generated,
    solc: &Solc,
) -> Result<VerifierArtifact, ContractsError> {
    let mut largest = 0;
    for n in 1..=MAX_PARTS {
        match compile_parts(generated, solc, n)? {
            Ok(artifact) => return Ok(artifact),
            Err(size) => largest = size,
        }
        if !generated.splits() {
            break;
        }
        tracing::debug!("verifier in {n} part(s): {largest} bytes of code, over EIP-170");
    }
    Err(over_limit(largest))
}

/// The generated code compiled in `n` parts, or the size of its largest contract when that is
/// over EIP-170.
fn compile_parts(
    generated: &crate::generate::Generated,
    solc: &Solc,
    n: usize,
) -> Result<Result<VerifierArtifact, usize>, ContractsError> {
    let sources = generated.sources(n)?;
    let mut compiled = solc.compile(&sources.sources)?;
    let mut take = |name: &str| {
        compiled
            .remove(name)
            .ok_or_else(|| ContractsError::Compile(format!("{name} missing from compiler output")))
    };
    let parts = sources
        .parts
        .iter()
        .map(|p| take(p))
        .collect::<Result<Vec<_>, _>>()?;
    let adapter = take(sources.adapter)?;
    let largest = parts
        .iter()
        .chain([&adapter])
        .map(|c| c.deployed_bytecode.len())
        .max()
        .unwrap_or(0);
    if largest > MAX_CODE_SIZE {
        return Ok(Err(largest));
    }
    Ok(Ok(VerifierArtifact {
        compiler: solc.settings(),
        sources,
        parts,
        adapter,
    }))
}

fn info(name: &str, c: &CompiledContract) -> ContractInfo {
    ContractInfo {
        contract: name.to_string(),
        creation_code_sha256: zkinfer_prover::artifacts::sha256_hex(&c.bytecode),
        runtime_size: c.deployed_bytecode.len(),
    }
}

impl VerifierArtifact {
    pub fn manifest(&self) -> VerifierManifest {
        VerifierManifest {
            backend: self.sources.backend,
            vk_sha256: self.sources.vk_sha256.clone(),
            compiler: self.compiler.clone(),
            parts: self
                .sources
                .parts
                .iter()
                .zip(&self.parts)
                .map(|(n, c)| info(n, c))
                .collect(),
            adapter: info(self.sources.adapter, &self.adapter),
        }
    }

    /// Writes sources, hex creation codes, the adapter's ABI and the manifest into `out`.
    pub fn write(&self, out: &Path) -> Result<VerifierManifest, ContractsError> {
        for (name, text) in &self.sources.sources {
            write_atomic(&out.join(name), text.as_bytes())?;
        }
        for (i, part) in self.parts.iter().enumerate() {
            write_atomic(
                &out.join(part_bin(i)),
                hex::encode(&part.bytecode).as_bytes(),
            )?;
        }
        write_atomic(
            &out.join(ADAPTER_BIN),
            hex::encode(&self.adapter.bytecode).as_bytes(),
        )?;
        let abi = serde_json::to_vec_pretty(&self.adapter.abi).expect("ABI serializes");
        write_atomic(&out.join(ADAPTER_ABI), &abi)?;
        let manifest = self.manifest();
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        write_atomic(&out.join(MANIFEST_FILE), &json)?;
        Ok(manifest)
    }
}

/// Creation codes read back from a directory written by [`VerifierArtifact::write`], each checked
/// against the manifest: (manifest, parts, adapter).
pub fn read(out: &Path) -> Result<(VerifierManifest, Vec<Vec<u8>>, Vec<u8>), ContractsError> {
    let path = out.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| ContractsError::io(&path, e))?;
    let manifest: VerifierManifest = serde_json::from_str(&text).map_err(|e| {
        ContractsError::State(format!("{}: not a verifier manifest: {e}", path.display()))
    })?;
    let load = |file: &str, want: &str| -> Result<Vec<u8>, ContractsError> {
        let p = out.join(file);
        let text = std::fs::read_to_string(&p).map_err(|e| ContractsError::io(&p, e))?;
        let code = hex::decode(text.trim())
            .map_err(|e| ContractsError::State(format!("{}: not hex: {e}", p.display())))?;
        if zkinfer_prover::artifacts::sha256_hex(&code) != want {
            return Err(ContractsError::State(format!(
                "{}: does not match {MANIFEST_FILE}",
                p.display()
            )));
        }
        Ok(code)
    };
    let parts = manifest
        .parts
        .iter()
        .enumerate()
        .map(|(i, info)| load(&part_bin(i), &info.creation_code_sha256))
        .collect::<Result<Vec<_>, _>>()?;
    let adapter = load(ADAPTER_BIN, &manifest.adapter.creation_code_sha256)?;
    Ok((manifest, parts, adapter))
}

/// Deploys a verifier's parts and its adapter; returns the adapter's address (what Settlement
/// registers) and the gas of all deployments.
pub fn deploy(
    chain: &mut dyn crate::chain::Chain,
    from: alloy::primitives::Address,
    parts: &[Vec<u8>],
    adapter_code: &[u8],
) -> Result<(alloy::primitives::Address, u64), ContractsError> {
    use alloy::sol_types::SolValue;
    let mut gas = 0;
    let mut addresses = Vec::new();
    for code in parts {
        let (addr, g) = crate::chain::deploy(chain, from, code)?;
        addresses.push(addr);
        gas += g;
    }
    let mut code = adapter_code.to_vec();
    code.extend((addresses,).abi_encode_params());
    let (adapter, g) = crate::chain::deploy(chain, from, &code)?;
    Ok((adapter, gas + g))
}

impl VerifierArtifact {
    /// Creation codes of the parts, for [`deploy`].
    pub fn part_codes(&self) -> Vec<Vec<u8>> {
        self.parts.iter().map(|p| p.bytecode.clone()).collect()
    }
}
