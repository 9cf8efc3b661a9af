//! snarkjs powers-of-tau files (`.ptau`) as a KZG SRS. Only the first two sections matter: the
//! header (field size, power) and the tau powers in G1 and G2, stored as little-endian Montgomery
//! coordinates. The powers are checked against each other with one batched pairing equation,
//! `e(Σ r_i·g_{i+1}, h) = e(Σ r_i·g_i, τh)` for random `r_i`, so a corrupt or inconsistent file is
//! refused before any key is made from it.

use std::path::Path;

use halo2_proofs::arithmetic::best_multiexp;
use halo2curves::bn256::{Fq, Fq2, G1Affine, G2Affine, G1};
use halo2curves::ff::{Field, PrimeField};
use halo2curves::group::Curve;
use halo2curves::pairing::Engine;
use halo2curves::CurveAffine;

use crate::srs::Srs;
use crate::{Bn256, Fr, ProverError};

pub fn is_ptau(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ptau")
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// An Fq element from little-endian Montgomery form.
fn fq(bytes: &[u8]) -> Option<Fq> {
    let mut repr = <Fq as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(bytes);
    let mont: Fq = Option::from(Fq::from_repr(repr))?;
    let r_inv: Fq = Option::from(Fq::from(2).pow_vartime([256]).invert())?;
    Some(mont * r_inv)
}

fn g1(b: &[u8]) -> Option<G1Affine> {
    Option::from(G1Affine::from_xy(fq(&b[..32])?, fq(&b[32..64])?))
}

fn g2(b: &[u8]) -> Option<G2Affine> {
    let x = Fq2 {
        c0: fq(&b[..32])?,
        c1: fq(&b[32..64])?,
    };
    let y = Fq2 {
        c0: fq(&b[64..96])?,
        c1: fq(&b[96..128])?,
    };
    Option::from(G2Affine::from_xy(x, y))
}

/// Reads the first `2^k` tau powers of a `.ptau` file into KZG parameters.
pub fn load(path: &Path, bytes: &[u8], k: u32) -> Result<Srs, ProverError> {
    let bad =
        |msg: &str| ProverError::artifact(path, format!("not a usable powers-of-tau file: {msg}"));
    let mut r = Reader { bytes, pos: 4 };
    let _version = r.u32().ok_or_else(|| bad("truncated header"))?;
    let sections = r.u32().ok_or_else(|| bad("truncated header"))?;
    let mut found: [Option<(usize, usize)>; 4] = [None; 4];
    for _ in 0..sections {
        let kind = r.u32().ok_or_else(|| bad("truncated section table"))?;
        let size = r.u64().ok_or_else(|| bad("truncated section table"))? as usize;
        let start = r.pos;
        r.take(size)
            .ok_or_else(|| bad("section runs past the end of the file"))?;
        if (1..=3).contains(&kind) {
            found[kind as usize] = Some((start, size));
        }
    }
    let (h, _) = found[1].ok_or_else(|| bad("no header section"))?;
    let mut hr = Reader { bytes, pos: h };
    let n8 = hr.u32().ok_or_else(|| bad("short header"))?;
    let q = hr.take(n8 as usize).ok_or_else(|| bad("short header"))?;
    let mut modulus = hex::decode(Fq::MODULUS.trim_start_matches("0x")).expect("hex modulus");
    modulus.reverse();
    if n8 != 32 || q != modulus.as_slice() {
        return Err(bad("not a BN254 (bn128) file"));
    }
    let power = hr.u32().ok_or_else(|| bad("short header"))?;
    if power < k {
        return Err(ProverError::artifact(
            path,
            format!("powers of tau for 2^{power} rows, the circuit needs 2^{k}"),
        ));
    }
    let n = 1usize << k;
    let (g1_start, g1_size) = found[2].ok_or_else(|| bad("no tauG1 section"))?;
    let (g2_start, g2_size) = found[3].ok_or_else(|| bad("no tauG2 section"))?;
    if g1_size < n * 64 || g2_size < 2 * 128 {
        return Err(bad("tau sections are too short"));
    }
    let g: Vec<G1Affine> = (0..n)
        .map(|i| g1(&bytes[g1_start + 64 * i..g1_start + 64 * (i + 1)]))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("a tauG1 point is not on the curve"))?;
    let h0 =
        g2(&bytes[g2_start..g2_start + 128]).ok_or_else(|| bad("tauG2[0] is not on the curve"))?;
    let s_h = g2(&bytes[g2_start + 128..g2_start + 256])
        .ok_or_else(|| bad("tauG2[1] is not on the curve"))?;
    if g[0] != G1Affine::generator() || h0 != G2Affine::generator() {
        return Err(bad("the first powers are not the generators"));
    }
    if !consistent(&g, &s_h) {
        return Err(bad(
            "the tau powers are inconsistent (pairing check failed)",
        ));
    }
    let template = Srs::setup(1, rand::rngs::OsRng);
    Ok(template.from_parts(k, g, None, h0, s_h))
}

/// `e(Σ r_i g_{i+1}, h) = e(Σ r_i g_i, s_h)` for random `r_i`: every `g_{i+1} = τ g_i`.
fn consistent(g: &[G1Affine], s_h: &G2Affine) -> bool {
    if g.len() < 2 {
        return true;
    }
    let r: Vec<Fr> = (0..g.len() - 1)
        .map(|_| Fr::random(rand::rngs::OsRng))
        .collect();
    let hi: G1 = best_multiexp(&r, &g[1..]);
    let lo: G1 = best_multiexp(&r, &g[..g.len() - 1]);
    let lhs = Bn256::pairing(&hi.to_affine(), &G2Affine::generator());
    let rhs = Bn256::pairing(&lo.to_affine(), s_h);
    lhs == rhs
}
