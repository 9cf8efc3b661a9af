//! A random tiny decoder (one block, 8 tokens, d_model 8) for tests and benchmarks of the
//! generation circuit: small enough for MockProver, with every op of the real one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::{Block, Gpt, Linear, Norm, GPT_VERSION};

fn vals(rng: &mut ChaCha20Rng, n: usize, lim: i64) -> Vec<i64> {
    (0..n).map(|_| rng.gen_range(-lim..=lim)).collect()
}

fn lin(rng: &mut ChaCha20Rng, i: usize, o: usize) -> Linear {
    Linear {
        in_dim: i,
        out_dim: o,
        shift: 6,
        weights: vals(rng, i * o, 90),
        bias: vals(rng, o, 2000),
    }
}

fn norm(rng: &mut ChaCha20Rng, d: usize) -> Norm {
    Norm {
        gamma: vals(rng, d, 20).iter().map(|x| 64 + x).collect(),
        gamma_shift: 6,
        beta: vals(rng, d, 30),
        eps: 168,
    }
}

/// A random one-block decoder: 8 tokens (7 stops), d_model 8 in 2 heads, MLP 12.
pub fn toy(seed: u64) -> Gpt {
    let r = &mut ChaCha20Rng::seed_from_u64(seed);
    let (vocab, d, ff, ctx) = (8, 8, 12, 8);
    let blocks = vec![Block {
        ln1: norm(r, d),
        qkv: lin(r, d, 3 * d),
        proj: lin(r, d, d),
        ln2: norm(r, d),
        fc: lin(r, d, ff),
        out: lin(r, ff, d),
    }];
    Gpt {
        version: GPT_VERSION,
        name: "toy".into(),
        vocab,
        stop: vocab - 1,
        d_model: d,
        n_head: 2,
        d_ff: ff,
        context: ctx,
        frac_bits: 6,
        tok: vals(r, vocab * d, 120),
        pos: vals(r, ctx * d, 60),
        blocks,
        ln_f: norm(r, d),
        head: lin(r, d, vocab),
    }
}
