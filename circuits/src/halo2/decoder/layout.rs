//! The decoder circuit's layout: the prompt mask and commitment, the token stream and the graph's
//! lowering over it, the argmax of every position but the last, one select row per position tying
//! the stream to prompt and argmax, then the meter, the completion read out from position `n_in`
//! on, and its commitment; last, the challenge checks of the deferred products. The same function counts rows (a context without a region), so the
//! plan and the circuit cannot disagree.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::Error;
use halo2curves::ff::Field;

use super::DecodeConfig;
use crate::decoder::Decoder;
use crate::field::fr_from_i64;
use crate::graph::lower;
use crate::halo2::chips::control::{MeterFault, Step};
use crate::halo2::chips::dot::Term;
use crate::halo2::commit::{commit, encrypt, TOKENS};
use crate::halo2::ctx::{Ctx, Wire};
use crate::halo2::instructions::Halo2Ops;
use crate::ops::kind::{Kind, Src};
use crate::ops::Instructions;
use crate::Fr;

/// The private inputs of one generation, with the stream the reference generation computed.
#[derive(Debug, Clone)]
pub struct DecodeInputs {
    /// The settlement request.
    pub request_id: Fr,
    /// The client's salt.
    pub salt: Fr,
    /// The prompt's token ids.
    pub prompt: Vec<u64>,
    /// The client's budget.
    pub max_tokens: usize,
    /// Every position's token.
    pub stream: Vec<u64>,
}

/// Deliberate faults, for the negative tests of the whole circuit.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Put this token in the stream at this position instead of the one generation gives.
    pub stream: Option<(usize, u64)>,
    /// Prompt mask bits instead of the honest prefix.
    pub mask: Option<Vec<u64>>,
    /// The meter's fault.
    pub meter: MeterFault,
    /// Write `(1, δ)` into a padding pair of output `j`'s read-out, `(j, δ)`: finding 1 of
    /// `SECURITY.md`, which the pinned padding must reject.
    pub forge_readout: Option<(usize, i64)>,
}

/// The whole circuit on `ctx`; returns the cells of the public instances in order (the five
/// usage instances, then the completion's ciphertext).
pub fn layout(
    cfg: &DecodeConfig,
    d: &Decoder,
    ctx: &mut Ctx,
    inputs: Option<&DecodeInputs>,
    faults: &Faults,
) -> Result<Vec<Wire>, Error> {
    let b = &cfg.base;
    let (p_slots, t_slots) = (d.slots.prompt, d.slots.gen);
    let (total, v) = (p_slots + t_slots, d.vocab);
    let known = |f: &dyn Fn(&DecodeInputs) -> Fr| match inputs {
        Some(i) => Value::known(f(i)),
        None => Value::unknown(),
    };
    let one = ctx.constant(b.main[0], ctx.row, Fr::ONE)?;
    let zero = ctx.constant(b.main[1], ctx.row, Fr::ZERO)?;
    ctx.row += 1;

    let bits: Vec<Value<Fr>> = (0..p_slots)
        .map(|i| match (&faults.mask, inputs) {
            (Some(bad), _) => Value::known(Fr::from(bad[i])),
            (None, Some(inp)) => Value::known(Fr::from((i < inp.prompt.len()) as u64)),
            (None, None) => Value::unknown(),
        })
        .collect();
    let (mask, n_in) = b.mask.mask_bits(ctx, &bits)?;
    ctx.constrain_equal(mask[0].cell, one.cell);
    let row = ctx.row;
    let request_id = ctx.assign(b.main[0], row, known(&|i| i.request_id));
    let salt = ctx.assign(b.main[1], row, known(&|i| i.salt));
    let cap = ctx.assign(b.main[2], row, known(&|i| Fr::from(i.max_tokens as u64)));
    ctx.row += 1;
    b.range.within(ctx, &cap, t_slots as i64)?;
    let prompt_terms: Vec<Term> = (0..p_slots)
        .map(|i| {
            Term::Fresh(known(&|inp| {
                Fr::from(inp.prompt.get(i).copied().unwrap_or(0))
            }))
        })
        .collect();
    let head = [&request_id, &salt, &n_in, &cap];
    let committed = commit(b, ctx, &head, &prompt_terms, TOKENS)?;
    let (prompt, in_commit) = (committed.cells, committed.commitment);
    for p in &prompt {
        b.range.within(ctx, p, v as i64 - 1)?;
    }

    // the stream, then the graph over it and the argmax of each position but the last
    let mut stream = Vec::with_capacity(total);
    for i in 0..total {
        let (row, col) = (ctx.row, i % b.main.len());
        let t = known(&|inp| {
            let t = match faults.stream {
                Some((at, t)) if at == i => t,
                _ => inp.stream[i],
            };
            Fr::from(t)
        });
        stream.push(ctx.assign(b.main[col], row, t));
        if col + 1 == b.main.len() || i + 1 == total {
            ctx.row += 1;
        }
    }
    let model = &d.model;
    let tables = model.tables();
    let bound = model
        .bounds_of(&model.graph().outputs[0])
        .expect("a decoder has its logits");
    let argmax = Kind::Arg {
        sets: (0..total - 1)
            .map(|i| (0..v).map(|c| (c as i64, Src::of(i * v + c))).collect())
            .collect(),
        min: false,
    };
    let best = argmax.bounds(&[bound]).map_err(|_| Error::Synthesis)?;
    let generated = {
        let mut ins = Halo2Ops::new(b, ctx, &tables);
        let logits = lower(model, &mut ins, stream.clone())?;
        argmax.lower(&mut ins, &[&logits], &[bound], best)?
    };

    // each position's token: the prompt's under the mask, else the previous argmax
    for i in 0..total {
        let m = mask.get(i).unwrap_or(&zero);
        let p = prompt.get(i).unwrap_or(&zero);
        let g = if i == 0 { &zero } else { &generated[i - 1] };
        let t = cfg.control().select(ctx, m, p, g)?;
        ctx.constrain_equal(t.cell, stream[i].cell);
    }
    let steps: Vec<Step> = (0..total)
        .map(|i| Step {
            mask: mask.get(i).unwrap_or(&zero),
            token: &stream[i],
        })
        .collect();
    // with no stop token the meter compares with `v`, which no token is
    let stop = d.stop.unwrap_or(v as u64);
    let metered = cfg
        .control()
        .meter(ctx, &steps, &cap, stop, &zero, faults.meter)?;

    // output j is the metered token at n_in + j: Σ_k [n_in = k] · out[k + j]
    let mut ins = Halo2Ops::new(b, ctx, &tables);
    let onehot = (0..=p_slots)
        .map(|k| {
            let before = if k == 0 { &one } else { &mask[k - 1] };
            let here = mask.get(k).unwrap_or(&zero);
            ins.linear(&[(1, before), (-1, here)], 0)
        })
        .collect::<Result<Vec<_>, _>>()?;
    drop(ins);
    let mut outputs = Vec::with_capacity(t_slots);
    for j in 0..t_slots {
        let pairs: Vec<(&Wire, &Wire)> = (0..=p_slots)
            .filter_map(|k| metered.out.get(k + j).map(|e| (&onehot[k], e)))
            .collect();
        let out = match (faults.forge_readout, &b.adot) {
            (Some((at, delta)), Some(chip)) if at == j => {
                let a: Vec<Option<&Wire>> = pairs.iter().map(|(a, _)| Some(*a)).collect();
                let e: Vec<Option<&Wire>> = pairs.iter().map(|(_, e)| Some(*e)).collect();
                chip.assign_forged(ctx, &a, &e, |v| v, Some(fr_from_i64(delta)))?
            }
            _ => Halo2Ops::new(b, ctx, &tables).inner(&pairs)?,
        };
        outputs.push(out);
    }
    let out_terms: Vec<Term> = outputs.iter().map(Term::Copy).collect();
    let head = [&request_id, &salt, &metered.count];
    let out = commit(b, ctx, &head, &out_terms, TOKENS)?;
    let ciphertext = encrypt(b, ctx, &request_id, &salt, &out.words)?;
    if let Some(chip) = &b.freivalds {
        chip.finish(ctx)?;
    }
    let mut publics = vec![request_id, in_commit, out.commitment, n_in, metered.count];
    publics.extend(ciphertext);
    Ok(publics)
}
