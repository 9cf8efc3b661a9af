//! Poseidon over BN254 with the circom parameters (x^5 S-box, 8 full rounds), natively. The
//! constants come from `light-poseidon`, which generated them with the Poseidon authors' script;
//! they are converted once into halo2's field type. `hash(inputs)` equals circomlibjs
//! `poseidon(inputs)`.

use std::sync::OnceLock;

use halo2curves::ff::{Field, PrimeField};

use crate::Fr;

/// Width used by zkinfer's commitments: a capacity element and four inputs.
pub const WIDTH: usize = 5;
pub const RATE: usize = WIDTH - 1;

#[derive(Debug, Clone)]
pub struct Spec {
    pub full_rounds: usize,
    pub partial_rounds: usize,
    /// Round constants, `WIDTH` per round.
    pub ark: Vec<[Fr; WIDTH]>,
    pub mds: [[Fr; WIDTH]; WIDTH],
}

impl Spec {
    pub fn rounds(&self) -> usize {
        self.full_rounds + self.partial_rounds
    }

    pub fn is_full(&self, round: usize) -> bool {
        let half = self.full_rounds / 2;
        round < half || round >= half + self.partial_rounds
    }
}

fn to_fr(x: &ark_bn254::Fr) -> Fr {
    use ark_ff::{BigInteger, PrimeField as _};
    let bytes = x.into_bigint().to_bytes_le();
    let mut repr = <Fr as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(&bytes);
    Fr::from_repr(repr).expect("light-poseidon constants are canonical")
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let p = light_poseidon::parameters::bn254_x5::get_poseidon_parameters::<ark_bn254::Fr>(
            WIDTH as u8,
        )
        .expect("width 5 is a circom width");
        assert_eq!(p.width, WIDTH);
        let ark = p
            .ark
            .chunks(WIDTH)
            .map(|c| std::array::from_fn(|i| to_fr(&c[i])))
            .collect();
        let mds = std::array::from_fn(|i| std::array::from_fn(|j| to_fr(&p.mds[i][j])));
        Spec {
            full_rounds: p.full_rounds,
            partial_rounds: p.partial_rounds,
            ark,
            mds,
        }
    })
}

pub fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// One round: add constants, S-box (all lanes in full rounds, lane 0 in partial), mix.
pub fn round(spec: &Spec, r: usize, state: &[Fr; WIDTH]) -> [Fr; WIDTH] {
    let full = spec.is_full(r);
    let sboxed: [Fr; WIDTH] = std::array::from_fn(|j| {
        let v = state[j] + spec.ark[r][j];
        if full || j == 0 {
            sbox(v)
        } else {
            v
        }
    });
    std::array::from_fn(|i| (0..WIDTH).fold(Fr::ZERO, |acc, j| acc + spec.mds[i][j] * sboxed[j]))
}

/// circom `Poseidon(4)`: state `[0, inputs...]`, output lane 0.
pub fn hash(inputs: &[Fr; RATE]) -> Fr {
    let spec = spec();
    let mut state = [Fr::ZERO; WIDTH];
    state[1..].copy_from_slice(inputs);
    for r in 0..spec.rounds() {
        state = round(spec, r, &state);
    }
    state[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use light_poseidon::{Poseidon, PoseidonHasher};

    #[test]
    fn matches_light_poseidon() {
        let mut lp = Poseidon::<ark_bn254::Fr>::new_circom(RATE).unwrap();
        for seed in 0u64..4 {
            let ins: Vec<ark_bn254::Fr> = (0..RATE as u64)
                .map(|i| ark_bn254::Fr::from(seed * 1_000_003 + i * 7919 + 1))
                .collect();
            let want = to_fr(&lp.hash(&ins).unwrap());
            let got = hash(&std::array::from_fn(|i| to_fr(&ins[i])));
            assert_eq!(got, want);
        }
    }

    #[test]
    fn matches_circomlibjs_vector() {
        // circomlibjs: poseidon([1, 2, 3, 4])
        let want = crate::field::fr_parse(
            "0x299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465",
        )
        .unwrap();
        assert_eq!(hash(&[1u64, 2, 3, 4].map(Fr::from)), want);
    }
}
