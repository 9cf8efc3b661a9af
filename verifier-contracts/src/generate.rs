//! Solidity verifiers generated from a model's verifying key, each paired with the adapter that
//! gives it the one `IUsageVerifier` interface. halo2 verifiers come from snark-verifier's EVM code
//! generation (SHPLONK over KZG, Keccak transcript); Groth16 verifiers from taceo-groth16-sol.

use std::collections::BTreeMap;
use std::rc::Rc;

use halo2_proofs::plonk::VerifyingKey;
use halo2_proofs::poly::commitment::ParamsProver;
use halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use snark_verifier::loader::evm::EvmLoader;
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::pcs::kzg::{Bdfg21, KzgAs, KzgDecidingKey, LimbsEncoding};
use snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use snark_verifier::system::halo2::{compile, Config};
use snark_verifier::util::transcript::{Transcript, TranscriptRead};
use snark_verifier::verifier::{plonk::PlonkVerifier, SnarkVerifier};
use zkinfer_prover::keys::{Groth16VerifierKeys, LoadedVerifier};
use zkinfer_prover::transcript::Layout;
use zkinfer_prover::BackendId;

use crate::ContractsError;

type Plonk = PlonkVerifier<KzgAs<Bn256, Bdfg21>>;
/// The verifier of aggregation proofs: the accumulator is decoded from 3 limbs of 88 bits per
/// coordinate, as snark-verifier-sdk's circuit exposes it.
type AggregationPlonk = PlonkVerifier<
    KzgAs<Bn256, Bdfg21>,
    LimbsEncoding<{ zkinfer_aggregate::LIMBS }, { zkinfer_aggregate::LIMB_BITS }>,
>;

pub const I_USAGE_VERIFIER_SOL: &str = include_str!("../contracts/IUsageVerifier.sol");
pub const I_BATCH_VERIFIER_SOL: &str = include_str!("../contracts/IBatchVerifier.sol");
const HALO2_ADAPTER_TEMPLATE: &str = include_str!("../contracts/Halo2UsageVerifier.sol.tmpl");
const GROTH16_ADAPTER_TEMPLATE: &str = include_str!("../contracts/Groth16UsageVerifier.sol.tmpl");

/// The Solidity sources of one model's verifier: the generated verifier, its adapter and the
/// interface, by file name.
#[derive(Clone, Debug)]
pub struct VerifierSources {
    pub backend: BackendId,
    pub vk_sha256: String,
    pub sources: BTreeMap<String, String>,
    /// Contract names of the generated verifier's parts, deployed first, in call order.
    pub parts: Vec<String>,
    /// Contract name of the adapter (deployed with the verifier's address; this is what a model
    /// registers in Settlement).
    pub adapter: &'static str,
}

/// A model's verifier as generated, before a halo2 verifier is split into parts. Generating is
/// the slow step, so it is done once and split as often as [`crate::artifact::build`] needs.
pub struct Generated {
    backend: BackendId,
    vk_sha256: String,
    /// Public instances of the key's proofs.
    instances: usize,
    /// Requests per proof of an aggregation verifier; `None` for a model's own.
    batch: Option<usize>,
    code: Code,
}

enum Code {
    Halo2 { verifier: String, layout: Layout },
    Groth16 { verifier: String },
}

/// Generates the verifier code for a model directory's keys.
pub fn generate(keys: &LoadedVerifier) -> Generated {
    let (manifest, code) = match keys {
        LoadedVerifier::Halo2(k) => (
            &k.manifest,
            Code::Halo2 {
                verifier: plonk_verifier_sol(&k.srs, &k.vk, k.manifest.instances, false),
                layout: proof_layout(&k.srs, &k.vk, k.manifest.instances),
            },
        ),
        LoadedVerifier::Groth16(k) => (
            &k.manifest,
            Code::Groth16 {
                verifier: groth16_verifier_sol(k),
            },
        ),
    };
    Generated {
        backend: manifest.backend,
        vk_sha256: manifest.vk_sha256.clone(),
        instances: manifest.instances,
        batch: None,
        code,
    }
}

/// Generates the verifier of a model's aggregation proofs: the accumulator's limbs lead the
/// instances, and the verifier folds its pairing check into its own.
pub fn generate_aggregation(keys: &zkinfer_aggregate::keys::AggregateKeys) -> Generated {
    let m = &keys.manifest;
    Generated {
        backend: BackendId::Halo2,
        vk_sha256: m.vk_sha256.clone(),
        instances: m.instances,
        batch: Some(m.requests),
        code: Code::Halo2 {
            verifier: plonk_verifier_sol(&keys.srs, &keys.vk, m.instances, true),
            layout: proof_layout(&keys.srs, &keys.vk, m.instances),
        },
    }
}

impl Generated {
    /// Whether [`Generated::sources`] can cut this verifier into more contracts (halo2's can;
    /// a Groth16 verifier is always its adapter's base contract).
    pub fn splits(&self) -> bool {
        matches!(self.code, Code::Halo2 { .. })
    }

    /// The sources with a halo2 verifier split into `parts` contracts (a Groth16 verifier is
    /// its adapter's base contract, never split).
    pub fn sources(&self, parts: usize) -> Result<VerifierSources, ContractsError> {
        match &self.code {
            Code::Halo2 { verifier, layout } => self.halo2_sources(verifier, layout, parts),
            Code::Groth16 { verifier } => Ok(self.groth16_sources(verifier)),
        }
    }

    fn halo2_sources(
        &self,
        code: &str,
        layout: &Layout,
        parts: usize,
    ) -> Result<VerifierSources, ContractsError> {
        let (adapter, interface, extra) = match self.batch {
            None => ("Halo2UsageVerifier", "IUsageVerifier", String::new()),
            Some(n) => (
                "Halo2BatchVerifier",
                "IBatchVerifier",
                format!("\n    uint256 public constant NUM_REQUESTS = {n};\n\n    function numRequests() external pure returns (uint256) {{\n        return NUM_REQUESTS;\n    }}\n"),
            ),
        };
        let split =
            crate::yul::split_verifier(code, parts, 32 * self.instances + layout.len, adapter)?;
        let names: Vec<String> = (0..split.len())
            .map(|i| format!("{adapter}Part{i}"))
            .collect();
        let mut sources: BTreeMap<String, String> = names
            .iter()
            .zip(split)
            .map(|(name, text)| (format!("{name}.sol"), text))
            .collect();
        let text = halo2_adapter(&self.vk_sha256, layout, names.len(), self.instances)
            .replace("{{NAME}}", adapter)
            .replace("{{INTERFACE}}", interface)
            .replace("{{EXTRA}}", &extra);
        sources.insert(format!("{adapter}.sol"), text);
        if self.batch.is_some() {
            sources.insert("IBatchVerifier.sol".into(), I_BATCH_VERIFIER_SOL.into());
        }
        Ok(VerifierSources {
            backend: self.backend,
            vk_sha256: self.vk_sha256.clone(),
            sources: with_interface(sources),
            parts: names,
            adapter,
        })
    }

    fn groth16_sources(&self, verifier: &str) -> VerifierSources {
        VerifierSources {
            backend: self.backend,
            vk_sha256: self.vk_sha256.clone(),
            sources: with_interface(BTreeMap::from([
                ("Groth16Verifier.sol".to_string(), verifier.to_string()),
                (
                    "Groth16UsageVerifier.sol".to_string(),
                    GROTH16_ADAPTER_TEMPLATE
                        .replace("{{NUM_INSTANCES}}", &self.instances.to_string()),
                ),
            ])),
            // The adapter inherits the verifier: one contract, no parts.
            parts: vec![],
            adapter: "Groth16UsageVerifier",
        }
    }
}

fn with_interface(mut sources: BTreeMap<String, String>) -> BTreeMap<String, String> {
    sources.insert("IUsageVerifier.sol".into(), I_USAGE_VERIFIER_SOL.into());
    sources
}

fn halo2_adapter(vk_sha256: &str, layout: &Layout, parts: usize, instances: usize) -> String {
    let decls: String = (0..parts)
        .map(|i| format!("    address internal immutable part{i};\n"))
        .collect();
    let assigns: String = (0..parts)
        .map(|i| format!("        part{i} = parts[{i}];\n"))
        .collect();
    let list: String = (0..parts)
        .map(|i| format!("        parts[{i}] = part{i};\n"))
        .collect();
    let locals: String = (0..parts)
        .map(|i| format!("        address p{i} = part{i};\n"))
        .collect();
    let calls: String = (1..parts)
        .map(|i| {
            format!(
                "            if ok {{\n                let m := returndatasize()\n                returndatacopy(add(ptr, n), 0, m)\n                ok := staticcall(gas(), p{i}, ptr, add(n, m), 0, 0)\n            }}\n"
            )
        })
        .collect();
    HALO2_ADAPTER_TEMPLATE
        .replace("{{VK_SHA256}}", vk_sha256)
        .replace("{{PROOF_LENGTH}}", &layout.len.to_string())
        .replace("{{NUM_PARTS}}", &parts.to_string())
        .replace("{{NUM_INSTANCES}}", &instances.to_string())
        .replace("{{PART_DECLS}}", &decls)
        .replace("{{PART_ASSIGNS}}", &assigns)
        .replace("{{PART_LIST}}", &list)
        .replace("{{PART_LOCALS}}", &locals)
        .replace("{{PART_CALLS}}", &calls)
        .replace("{{SCALAR_CHECKS}}", &scalar_checks(layout))
}

fn groth16_verifier_sol(k: &Groth16VerifierKeys) -> String {
    use taceo_groth16_sol::askama::Template;
    let ctx = taceo_groth16_sol::SolidityVerifierContext {
        vk: k.vk.clone(),
        config: taceo_groth16_sol::SolidityVerifierConfig {
            pragma_version: "^0.8.20".into(),
        },
    };
    ctx.render().expect("the verifier template renders")
}

fn protocol(
    srs: &zkinfer_prover::srs::Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: usize,
    accumulator: bool,
) -> snark_verifier::verifier::plonk::PlonkProtocol<G1Affine> {
    let indices = accumulator.then(|| {
        (0..zkinfer_aggregate::ACCUMULATOR_LIMBS)
            .map(|i| (0, i))
            .collect()
    });
    compile(
        srs,
        vk,
        Config::kzg()
            .with_num_instance(vec![instances])
            .with_accumulator_indices(indices),
    )
}

fn deciding_key(srs: &zkinfer_prover::srs::Srs) -> KzgDecidingKey<Bn256> {
    (srs.get_g()[0], srs.g2(), srs.s_g2()).into()
}

/// snark-verifier's Solidity (Yul inside a fallback) for this key and count of instances. Its
/// calldata is the instances followed by the proof, as 32-byte big-endian words. With
/// `accumulator`, the first [`zkinfer_aggregate::ACCUMULATOR_LIMBS`] instances are an
/// aggregation proof's accumulator, whose pairing check the verifier folds into its own.
pub fn plonk_verifier_sol(
    srs: &zkinfer_prover::srs::Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: usize,
    accumulator: bool,
) -> String {
    let protocol = protocol(srs, vk, instances, accumulator);
    let dk = deciding_key(srs);
    let loader = EvmLoader::new::<Fq, Fr>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(vec![instances]);
    if accumulator {
        let proof = AggregationPlonk::read_proof(&dk, &protocol, &instances, &mut transcript)
            .expect("reading a proof symbolically cannot fail");
        AggregationPlonk::verify(&dk, &protocol, &instances, &proof)
            .expect("symbolic verification");
    } else {
        let proof = Plonk::read_proof(&dk, &protocol, &instances, &mut transcript)
            .expect("reading a proof symbolically cannot fail");
        Plonk::verify(&dk, &protocol, &instances, &proof).expect("symbolic verification");
    }
    // The generator pins 0.8.19 exactly; the code is plain Yul that later 0.8 compilers accept.
    let code = loader
        .solidity_code()
        .replace("pragma solidity 0.8.19;", "pragma solidity ^0.8.19;");
    crate::yul::shrink(&code)
}

/// Where the scalars of every proof for this key sit, found by letting snark-verifier read a proof
/// from a transcript that only records what is read.
pub fn proof_layout(
    srs: &zkinfer_prover::srs::Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: usize,
) -> Layout {
    // The accumulator changes what is verified, not what is read.
    let protocol = protocol(srs, vk, instances, false);
    let mut recorder = LayoutRecorder::default();
    let instances = vec![vec![Fr::zero(); instances]];
    Plonk::read_proof(&deciding_key(srs), &protocol, &instances, &mut recorder)
        .expect("the recorder never fails");
    recorder.layout
}

#[derive(Default)]
struct LayoutRecorder {
    layout: Layout,
}

impl Transcript<G1Affine, NativeLoader> for LayoutRecorder {
    fn loader(&self) -> &NativeLoader {
        &snark_verifier::loader::native::LOADER
    }
    fn squeeze_challenge(&mut self) -> Fr {
        Fr::one()
    }
    fn common_ec_point(&mut self, _: &G1Affine) -> Result<(), snark_verifier::Error> {
        Ok(())
    }
    fn common_scalar(&mut self, _: &Fr) -> Result<(), snark_verifier::Error> {
        Ok(())
    }
}

impl TranscriptRead<G1Affine, NativeLoader> for LayoutRecorder {
    fn read_scalar(&mut self) -> Result<Fr, snark_verifier::Error> {
        self.layout.scalar_offsets.push(self.layout.len);
        self.layout.len += 32;
        Ok(Fr::one())
    }
    fn read_ec_point(&mut self) -> Result<G1Affine, snark_verifier::Error> {
        self.layout.len += 64;
        Ok(G1Affine::generator())
    }
}

/// Solidity lines checking each contiguous run of scalars with one loop.
fn scalar_checks(layout: &Layout) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &off in &layout.scalar_offsets {
        match runs.last_mut() {
            Some((_, end)) if *end == off => *end += 32,
            _ => runs.push((off, off + 32)),
        }
    }
    runs.iter()
        .map(|(s, e)| format!("        if (!scalarsBelowR(proof, {s:#x}, {e:#x})) return false;\n"))
        .collect()
}

/// The bytes a contract verifies for a proof file's proof: halo2 proofs are already in the EVM
/// transcript's encoding; Groth16 proofs are re-encoded as EIP-197 words (A, B, C).
pub fn evm_proof(backend: BackendId, proof: &[u8]) -> Result<Vec<u8>, ContractsError> {
    if backend == BackendId::Halo2 {
        return Ok(proof.to_vec());
    }
    use ark_ec::AffineRepr;
    use ark_ff::{BigInteger, PrimeField};
    let p: ark_groth16::Proof<ark_bn254::Bn254> = zkinfer_prover::groth16::from_bytes(proof)
        .ok_or_else(|| ContractsError::Proof("not a canonical Groth16 proof".into()))?;
    let word = |f: &ark_bn254::Fq| {
        let mut w = [0u8; 32];
        let be = f.into_bigint().to_bytes_be();
        w[32 - be.len()..].copy_from_slice(&be);
        w
    };
    let zero = ark_bn254::Fq::from(0u8);
    let (ax, ay) = p.a.xy().unwrap_or((zero, zero));
    let (cx, cy) = p.c.xy().unwrap_or((zero, zero));
    let z2 = ark_bn254::Fq2::new(zero, zero);
    let (bx, by) = p.b.xy().unwrap_or((z2, z2));
    // EIP-197 puts the imaginary part of each G2 coordinate first.
    Ok([ax, ay, bx.c1, bx.c0, by.c1, by.c0, cx, cy]
        .iter()
        .flat_map(word)
        .collect())
}

/// The inverse of [`evm_proof`]: proof bytes as a verifier contract reads them, in the encoding
/// the off-chain verifier takes. A Groth16 proof's points must be on the curve and in its
/// subgroup (what the pairing precompile requires).
pub fn native_proof(backend: BackendId, proof: &[u8]) -> Result<Vec<u8>, ContractsError> {
    if backend == BackendId::Halo2 {
        return Ok(proof.to_vec());
    }
    use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
    use ark_ff::{BigInteger, PrimeField, Zero};
    let bad = |what: &str| ContractsError::Proof(format!("not an EIP-197 Groth16 proof: {what}"));
    if proof.len() != 256 {
        return Err(bad("not 256 bytes"));
    }
    let words: Vec<Fq> = proof
        .chunks(32)
        .map(|w| {
            let f = Fq::from_be_bytes_mod_order(w);
            let mut back = f.into_bigint().to_bytes_be();
            back.splice(0..0, std::iter::repeat_n(0, 32 - back.len()));
            (back == w)
                .then_some(f)
                .ok_or_else(|| bad("a coordinate at or above p"))
        })
        .collect::<Result<_, _>>()?;
    let g1 = |x: Fq, y: Fq| -> Result<G1Affine, ContractsError> {
        if x.is_zero() && y.is_zero() {
            return Ok(G1Affine::identity());
        }
        let p = G1Affine::new_unchecked(x, y);
        (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve())
            .then_some(p)
            .ok_or_else(|| bad("a G1 point off the curve"))
    };
    let (bx, by) = (Fq2::new(words[3], words[2]), Fq2::new(words[5], words[4]));
    let b = if bx.is_zero() && by.is_zero() {
        G2Affine::identity()
    } else {
        let p = G2Affine::new_unchecked(bx, by);
        if !(p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()) {
            return Err(bad("a G2 point off the curve or outside its subgroup"));
        }
        p
    };
    let p = ark_groth16::Proof::<ark_bn254::Bn254> {
        a: g1(words[0], words[1])?,
        b,
        c: g1(words[6], words[7])?,
    };
    Ok(zkinfer_prover::groth16::to_bytes(&p))
}
