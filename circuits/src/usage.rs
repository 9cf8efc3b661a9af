//! The usage statement: the public instances every zkinfer proof exposes, in this order, for
//! every backend and for the settlement contract: five usage instances, then the output
//! encrypted to the client, one instance per packed output word.
//!
//! | # | instance            | meaning                                                     |
//! |---|---------------------|-------------------------------------------------------------|
//! | 0 | `request_id`        | the settlement request this run answers                     |
//! | 1 | `input_commitment`  | `commit(request_id, salt, n_in, input rows)`                |
//! | 2 | `output_commitment` | `commit(request_id, salt, n_out, output rows)`              |
//! | 3 | `n_in`              | metered input units (non-padding samples or prompt tokens)  |
//! | 4 | `n_out`             | metered output units                                        |
//!
//! `commit` packs the int8 values of all rows (padding rows are zeros) as bytes `v + 128`, 31 per
//! field element, little-endian; then it chains circom `Poseidon(4)` over
//! `[request_id, salt, count, word_0, word_1, ...]`: `h = Poseidon(e0, e1, e2, e3)`, then
//! `h = Poseidon(h, next three)` while elements remain, the last group padded with zeros. Anyone can
//! recompute it with circomlibjs or light-poseidon.
//!
//! A model whose inputs are token ids packs them as tokens ([`commit_tokens`]). A generation
//! commits to tokens too ([`prompt_commitment`], [`completion_commitment`]):
//! 16 bits per token, 15 per field element, and the input head also binds the client's
//! `max_tokens`.
//!
//! ## The output ciphertext (instances `5..`)
//!
//! The words the output commitment packs (int8 bytes or tokens, padding included) are each
//! published under a one-time pad, `c_j = w_j + Poseidon(D, salt, request_id, j)`, circom
//! `Poseidon(4)`, with the domain tag `D` = [`CIPHER_DOMAIN`] read as a big-endian integer. The
//! commitments' chains start with `request_id` (a Keccak output reduced mod r), never with `D`
//! unless someone finds a Keccak preimage, so no pad is a commitment or a link of one. The salt is
//! the shared secret: whoever knows it (the client, the provider) subtracts the pads; to anyone
//! else each `c_j` is uniformly random, provided the salt is uniformly random and never used for
//! two requests (the pads depend on `request_id` too, so a reused salt leaks nothing across
//! requests either, but a fresh salt is still the rule: it is what the commitments hide behind).

use halo2curves::ff::{Field, PrimeField};
use serde::{Deserialize, Serialize};

use crate::field::{fr_parse, fr_to_hex, FieldError};
use crate::poseidon::{hash, RATE};
use crate::Fr;

/// The usage instances that precede the ciphertext.
pub const USAGE_INSTANCES: usize = 5;
/// Names of the usage instances; the ciphertext words follow them (named `ciphertext` in errors).
pub const INSTANCE_NAMES: [&str; USAGE_INSTANCES] = [
    "request_id",
    "input_commitment",
    "output_commitment",
    "n_in",
    "n_out",
];

/// Values packed per field element (31 bytes keep every word below the modulus).
pub const BYTES_PER_WORD: usize = 31;
/// Packed values are int8, stored as `v + 128`.
pub const BYTE_OFFSET: i64 = 128;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("value {value} at position {index} is not int8 and cannot be committed")]
    NotInt8 { index: usize, value: i128 },
    #[error("value {value} at position {index} is not a 16-bit token id and cannot be committed")]
    NotToken { index: usize, value: i128 },
    #[error("instance {name}: {source}")]
    Instance {
        name: &'static str,
        source: FieldError,
    },
    #[error("expected {expected} instances, found {found}")]
    Count { expected: usize, found: usize },
}

/// Packs int8 values into field elements, `BYTES_PER_WORD` per element.
pub fn pack(values: &[i128]) -> Result<Vec<Fr>, UsageError> {
    let mut words = Vec::with_capacity(values.len().div_ceil(BYTES_PER_WORD));
    for (c, chunk) in values.chunks(BYTES_PER_WORD).enumerate() {
        let mut word = Fr::ZERO;
        let mut base = Fr::ONE;
        for (i, v) in chunk.iter().enumerate() {
            if !(-128..=127).contains(v) {
                return Err(UsageError::NotInt8 {
                    index: c * BYTES_PER_WORD + i,
                    value: *v,
                });
            }
            word += base * Fr::from((*v as i64 + BYTE_OFFSET) as u64);
            base *= Fr::from(256u64);
        }
        words.push(word);
    }
    Ok(words)
}

/// The commitment chain's schedule, for any representation of field elements (native values,
/// halo2 cells, R1CS linear combinations): `h = hash(e0, e1, e2, e3)`, then
/// `h = hash(h, next three)` while elements remain, short groups padded with `zero`.
pub fn chain_with<T: Clone, E>(
    elements: &[T],
    zero: &T,
    mut hash: impl FnMut([&T; RATE]) -> Result<T, E>,
) -> Result<T, E> {
    let pick = |group: &[T], i: usize| group.get(i).unwrap_or(zero).clone();
    let (first, mut rest) = elements.split_at(elements.len().min(RATE));
    let mut h = hash(std::array::from_fn(|i| first.get(i).unwrap_or(zero)))?;
    while !rest.is_empty() {
        let (group, tail) = rest.split_at(rest.len().min(RATE - 1));
        rest = tail;
        let ins: [T; RATE] = std::array::from_fn(|i| {
            if i == 0 {
                h.clone()
            } else {
                pick(group, i - 1)
            }
        });
        h = hash(std::array::from_fn(|i| &ins[i]))?;
    }
    Ok(h)
}

/// The Poseidon chain over already-packed elements.
pub fn chain(elements: &[Fr]) -> Fr {
    chain_with(elements, &Fr::ZERO, |ins| {
        Ok::<_, std::convert::Infallible>(hash(&ins.map(|x| *x)))
    })
    .unwrap_or_else(|e| match e {})
}

/// The commitment to `count` metered units whose rows (padding included) hold `values`.
pub fn commit(request_id: Fr, salt: Fr, count: u64, values: &[i128]) -> Result<Fr, UsageError> {
    let mut elements = vec![request_id, salt, Fr::from(count)];
    elements.extend(pack(values)?);
    Ok(chain(&elements))
}

/// Tokens packed per field element: 16 bits each, little-endian.
pub const TOKENS_PER_WORD: usize = 15;
pub const TOKEN_BITS: u32 = 16;

/// Packs tokens (each below `2^16`) into field elements, [`TOKENS_PER_WORD`] per element.
pub fn pack_tokens(tokens: &[u64]) -> Vec<Fr> {
    tokens
        .chunks(TOKENS_PER_WORD)
        .map(|chunk| {
            chunk.iter().rev().fold(Fr::ZERO, |w, t| {
                w * Fr::from(1u64 << TOKEN_BITS) + Fr::from(*t)
            })
        })
        .collect()
}

/// The commitment to `count` metered units whose rows of token ids (padding included) are
/// `tokens`: as [`commit`], the values packed by [`pack_tokens`].
pub fn commit_tokens(
    request_id: Fr,
    salt: Fr,
    count: u64,
    tokens: &[i128],
) -> Result<Fr, UsageError> {
    let ids = tokens
        .iter()
        .enumerate()
        .map(|(index, t)| {
            u64::try_from(*t)
                .ok()
                .filter(|t| *t < 1 << TOKEN_BITS)
                .ok_or(UsageError::NotToken { index, value: *t })
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let mut elements = vec![request_id, salt, Fr::from(count)];
    elements.extend(pack_tokens(&ids));
    Ok(chain(&elements))
}

/// A generation's input commitment: the chain over
/// `[request_id, salt, n_in, max_tokens, words(prompt padded with zeros to `slots` tokens)]`.
pub fn prompt_commitment(
    request_id: Fr,
    salt: Fr,
    prompt: &[u64],
    slots: usize,
    max_tokens: u64,
) -> Fr {
    let mut padded = prompt.to_vec();
    padded.resize(slots.max(prompt.len()), 0);
    let mut elements = vec![
        request_id,
        salt,
        Fr::from(prompt.len() as u64),
        Fr::from(max_tokens),
    ];
    elements.extend(pack_tokens(&padded));
    chain(&elements)
}

/// A generation's output commitment: the chain over
/// `[request_id, salt, n_out, words(completion padded with zeros to `slots` tokens)]`; the
/// completion includes the stop token when generation stopped at it.
pub fn completion_commitment(request_id: Fr, salt: Fr, completion: &[u64], slots: usize) -> Fr {
    let mut elements = vec![request_id, salt, Fr::from(completion.len() as u64)];
    elements.extend(completion_words(completion, slots));
    chain(&elements)
}

/// The packed words of a completion padded with zeros to `slots` tokens: what the output
/// commitment covers and the ciphertext encrypts.
pub fn completion_words(completion: &[u64], slots: usize) -> Vec<Fr> {
    let mut padded = completion.to_vec();
    padded.resize(slots.max(completion.len()), 0);
    pack_tokens(&padded)
}

/// The domain tag of the output pads (see the module doc).
pub const CIPHER_DOMAIN: &[u8] = b"zkinfer/cipher/v1";

/// [`CIPHER_DOMAIN`] as a field element (big-endian; 17 bytes, far below the modulus).
pub fn cipher_domain() -> Fr {
    CIPHER_DOMAIN.iter().fold(Fr::ZERO, |acc, b| {
        acc * Fr::from(256u64) + Fr::from(*b as u64)
    })
}

/// The pad of output word `j`.
pub fn pad(request_id: Fr, salt: Fr, j: usize) -> Fr {
    hash(&[cipher_domain(), salt, request_id, Fr::from(j as u64)])
}

/// The ciphertext of packed output words.
pub fn encrypt(request_id: Fr, salt: Fr, words: &[Fr]) -> Vec<Fr> {
    let pads = (0..words.len()).map(|j| pad(request_id, salt, j));
    words.iter().zip(pads).map(|(w, p)| *w + p).collect()
}

/// The packed output words behind a ciphertext.
pub fn decrypt(request_id: Fr, salt: Fr, ciphertext: &[Fr]) -> Vec<Fr> {
    let pads = (0..ciphertext.len()).map(|j| pad(request_id, salt, j));
    ciphertext.iter().zip(pads).map(|(c, p)| *c - p).collect()
}

/// Why decrypted words do not unpack: the ciphertext was made under another salt or request, or
/// for another model.
#[derive(Debug, thiserror::Error)]
#[error("{found} output words do not unpack to {count} values of {bits} bits: wrong salt, request id or model")]
pub struct UnpackError {
    /// Words given.
    pub found: usize,
    /// Values expected.
    pub count: usize,
    /// Bits a value takes.
    pub bits: u32,
}

/// Splits words into `count` values of `bits` bits, `per_word` a word, little-endian, refusing a
/// word count that does not fit and any bit set above a word's values (what the pads of a wrong
/// salt leave, in all but a small fraction of words: the output commitment is the real check).
fn unpack_words(
    words: &[Fr],
    count: usize,
    per_word: usize,
    bits: u32,
) -> Result<Vec<u64>, UnpackError> {
    let err = UnpackError {
        found: words.len(),
        count,
        bits,
    };
    if words.len() != count.div_ceil(per_word) {
        return Err(err);
    }
    let step = bits as usize / 8;
    let mut out = Vec::with_capacity(count);
    for (j, w) in words.iter().enumerate() {
        let bytes = w.to_repr();
        let width = (count - j * per_word).min(per_word) * step;
        if bytes[width..].iter().any(|b| *b != 0) {
            return Err(err);
        }
        for v in bytes[..width].chunks(step) {
            out.push(v.iter().rev().fold(0u64, |a, b| a << 8 | *b as u64));
        }
    }
    Ok(out)
}

/// The `count` int8 values packed by [`pack`].
pub fn unpack(words: &[Fr], count: usize) -> Result<Vec<i128>, UnpackError> {
    let bytes = unpack_words(words, count, BYTES_PER_WORD, 8)?;
    Ok(bytes
        .iter()
        .map(|b| *b as i128 - BYTE_OFFSET as i128)
        .collect())
}

/// The `count` tokens packed by [`pack_tokens`].
pub fn unpack_tokens(words: &[Fr], count: usize) -> Result<Vec<u64>, UnpackError> {
    unpack_words(words, count, TOKENS_PER_WORD, TOKEN_BITS)
}

/// The statement of one proof: the five usage instances and the output ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageStatement {
    pub request_id: Fr,
    pub input_commitment: Fr,
    pub output_commitment: Fr,
    pub n_in: u64,
    pub n_out: u64,
    /// The packed output words, each under its pad.
    pub ciphertext: Vec<Fr>,
}

impl UsageStatement {
    /// Every public instance, in order.
    pub fn instances(&self) -> Vec<Fr> {
        let mut out = vec![
            self.request_id,
            self.input_commitment,
            self.output_commitment,
            Fr::from(self.n_in),
            Fr::from(self.n_out),
        ];
        out.extend(&self.ciphertext);
        out
    }

    pub fn to_hex(&self) -> Vec<String> {
        self.instances().iter().map(fr_to_hex).collect()
    }
}

/// Instances as written in proof files: 0x-hex strings, in statement order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceStrings(pub Vec<String>);

impl InstanceStrings {
    /// Parses every instance, rejecting any at or above the field modulus, and a list shorter
    /// than the usage instances.
    pub fn parse(&self) -> Result<Vec<Fr>, UsageError> {
        if self.0.len() < USAGE_INSTANCES {
            return Err(UsageError::Count {
                expected: USAGE_INSTANCES,
                found: self.0.len(),
            });
        }
        self.0
            .iter()
            .enumerate()
            .map(|(i, s)| {
                fr_parse(s).map_err(|source| UsageError::Instance {
                    name: INSTANCE_NAMES.get(i).copied().unwrap_or("ciphertext"),
                    source,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_is_little_endian_offset_bytes() {
        let w = pack(&[-128, 0, 127]).unwrap();
        // bytes 0, 128, 255, little-endian
        assert_eq!(w, vec![Fr::from(128 * 256 + 255 * 65536)]);
        assert_eq!(pack(&vec![0; 32]).unwrap().len(), 2);
        assert!(matches!(
            pack(&[0, 128]),
            Err(UsageError::NotInt8 { index: 1, .. })
        ));
    }

    #[test]
    fn chain_groups_four_then_three() {
        let e: Vec<Fr> = (1..=8u64).map(Fr::from).collect();
        let h1 = hash(&[e[0], e[1], e[2], e[3]]);
        let h2 = hash(&[h1, e[4], e[5], e[6]]);
        let h3 = hash(&[h2, e[7], Fr::ZERO, Fr::ZERO]);
        assert_eq!(chain(&e), h3);
        assert_eq!(chain(&e[..2]), hash(&[e[0], e[1], Fr::ZERO, Fr::ZERO]));
    }

    #[test]
    fn ciphertext_round_trips_and_names_a_wrong_salt() {
        let (rid, salt) = (Fr::from(7), Fr::from(9));
        let values: Vec<i128> = (-40..40).collect();
        let c = encrypt(rid, salt, &pack(&values).unwrap());
        assert_eq!(c.len(), 3);
        assert_eq!(unpack(&decrypt(rid, salt, &c), 80).unwrap(), values);
        // another salt or request leaves random words, refused as such
        assert!(unpack(&decrypt(rid, Fr::from(10), &c), 80).is_err());
        assert!(unpack(&decrypt(Fr::from(8), salt, &c), 80).is_err());
        let tokens: Vec<u64> = (0..20).map(|t| t * 3001).collect();
        let c = encrypt(rid, salt, &pack_tokens(&tokens));
        assert_eq!(unpack_tokens(&decrypt(rid, salt, &c), 20).unwrap(), tokens);
        // the pad's domain differs from the commitment chain's first element
        assert_ne!(pad(rid, salt, 0), hash(&[rid, salt, Fr::ZERO, Fr::ZERO]));
        assert_eq!(
            cipher_domain(),
            Fr::from_str_vartime("41657223590251349703292556198173391943217").unwrap()
        );
    }

    #[test]
    fn commitment_binds_every_part() {
        let base = commit(Fr::from(7), Fr::from(9), 1, &[1, 2, 3]).unwrap();
        assert_ne!(
            base,
            commit(Fr::from(8), Fr::from(9), 1, &[1, 2, 3]).unwrap()
        );
        assert_ne!(
            base,
            commit(Fr::from(7), Fr::from(10), 1, &[1, 2, 3]).unwrap()
        );
        assert_ne!(
            base,
            commit(Fr::from(7), Fr::from(9), 2, &[1, 2, 3]).unwrap()
        );
        assert_ne!(
            base,
            commit(Fr::from(7), Fr::from(9), 1, &[1, 2, 4]).unwrap()
        );
    }
}
