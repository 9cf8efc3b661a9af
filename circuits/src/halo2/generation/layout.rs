//! The generation circuit's layout, position by position: the prompt mask and commitment, then
//! for every position the token (prompt or previous argmax), its embedding, each block
//! (LayerNorm, QKV, attention over the cached keys and values, projection + residual, LayerNorm,
//! MLP with GELU + residual), the final LayerNorm, logits and argmax; then the meter, the output
//! tokens and their commitment. The same function counts rows (a context without a region), so
//! the plan and the circuit cannot disagree.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::Error;
use halo2curves::ff::Field;

use super::config::GenConfig;
use super::plan::GenPlan;
use crate::field::{fr_from_i64, fr_to_i128};
use crate::gpt::{Gpt, Linear, ACT, LOGIT, PROB_BITS, RES, SCORE_BITS};
use crate::halo2::chips::control::{MeterFault, Step};
use crate::halo2::chips::dot::Term;
use crate::halo2::chips::layernorm::NormChips;
use crate::halo2::chips::matvec::Layer;
use crate::halo2::chips::rescale::RescaleParams;
use crate::halo2::chips::softmax::Fault;
use crate::halo2::chips::table::{TAG_EMBED, TAG_GELU};
use crate::halo2::commit::{commit, TOKENS};
use crate::halo2::ctx::{Ctx, Wire};
use crate::ops::kind::bits_of;
use crate::Fr;

/// The private inputs of one generation.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub request_id: Fr,
    pub salt: Fr,
    pub prompt: Vec<usize>,
    pub max_tokens: usize,
}

/// Deliberate faults, for the negative tests of the whole circuit.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Claim this token instead of the argmax at this position.
    pub argmax: Option<(usize, usize)>,
    /// Prompt mask bits instead of the honest prefix.
    pub mask: Option<Vec<u64>>,
    pub meter: MeterFault,
    pub softmax: Fault,
    /// Added to LayerNorm's inverse square root.
    pub norm_r: i128,
    /// Added to the first output of every constant-weight layer, before its rescale.
    pub linear: i64,
    /// Added to every witness dot product.
    pub adot: i64,
    /// Added to every looked-up embedding and GELU value.
    pub table: i64,
    /// Finding 1 of `SECURITY.md` at the output read-out: `(j, δ)` writes `(1, δ)` into a padding
    /// pair of `o_j`'s dot product, moving the committed token `j` by `δ`.
    pub forge_readout: Option<(usize, i64)>,
    /// Finding 1 at attention: `(position, column, δ)` moves the first block's `p·v` at that
    /// position and output column by `δ` through a padding pair.
    pub forge_mix: Option<(usize, usize, i64)>,
}

fn int(w: &Wire) -> Value<i64> {
    w.value.map(|f| fr_to_i128(&f).unwrap_or(0) as i64)
}

/// The rescale after a linear layer whose inputs are at most `in_max` in magnitude.
pub fn linear_rescale(l: &Linear, in_max: i64, residual: bool, clamp: (i64, i64)) -> RescaleParams {
    let bound = (0..l.out_dim)
        .map(|o| {
            let w: u128 = l.row(o).iter().map(|w| w.unsigned_abs() as u128).sum();
            let res = if residual {
                (RES.1 as u128 + 1) << l.shift
            } else {
                0
            };
            w * in_max as u128 + l.bias[o].unsigned_abs() as u128 + res
        })
        .max()
        .unwrap_or(0);
    RescaleParams {
        multiplier: 1,
        shift: l.shift,
        min: clamp.0,
        max: clamp.1,
        acc_bits: bits_of(bound),
    }
}

fn layer(l: &Linear) -> Layer<'_> {
    Layer {
        in_dim: l.in_dim,
        out_dim: l.out_dim,
        weights: &l.weights,
        bias: &l.bias,
        shift: l.shift,
    }
}

struct Lay<'c, 'p> {
    cfg: &'c GenConfig,
    m: &'p Gpt,
    faults: &'p Faults,
    one: Wire,
    exp: &'p [i64],
    gelu: &'p [i64],
}

impl Lay<'_, '_> {
    fn adot(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
        forge: Option<i64>,
    ) -> Result<Wire, Error> {
        let bump = Value::known(fr_from_i64(self.faults.adot));
        let forge = forge.map(fr_from_i64);
        self.cfg.adot.assign_forged(ctx, a, b, |v| v + bump, forge)
    }

    fn rescale(&self, ctx: &mut Ctx, accs: &[Wire], p: &RescaleParams) -> Result<Vec<Wire>, Error> {
        let b = &self.cfg.base;
        accs.iter()
            .map(|a| b.rescale.assign(ctx, &b.range, a, p))
            .collect()
    }

    fn linear(
        &self,
        ctx: &mut Ctx,
        l: &Linear,
        x: &[Wire],
        residual: Option<&[Wire]>,
        clamp: (i64, i64),
    ) -> Result<Vec<Wire>, Error> {
        let bump = self.faults.linear;
        let acc = self
            .cfg
            .matvec
            .assign_with(ctx, &layer(l), x, residual, &self.one, |o, v| {
                if o == 0 {
                    v + Value::known(fr_from_i64(bump))
                } else {
                    v
                }
            })?;
        self.rescale(
            ctx,
            &acc,
            &linear_rescale(l, ACT.1 + 1, residual.is_some(), clamp),
        )
    }

    fn norm(&self, ctx: &mut Ctx, n: &crate::gpt::Norm, x: &[Wire]) -> Result<Vec<Wire>, Error> {
        let b = &self.cfg.base;
        let chips = NormChips {
            dot: &b.dot,
            adot: &self.cfg.adot,
            range: &b.range,
            rescale: &b.rescale,
        };
        self.cfg
            .norm
            .assign(ctx, &chips, n, self.m.frac_bits, x, self.faults.norm_r)
    }

    /// One head's attention for the newest position over `keys` / `values` (oldest first).
    fn attend(
        &self,
        ctx: &mut Ctx,
        q: &[Wire],
        keys: &[&[Wire]],
        values: &[&[Wire]],
        fault: Fault,
        forge: Option<(usize, i64)>,
    ) -> Result<Vec<Wire>, Error> {
        let m = self.m;
        let qs: Vec<Option<&Wire>> = q.iter().map(Some).collect();
        let dots = keys
            .iter()
            .map(|k| {
                let ks: Vec<Option<&Wire>> = k.iter().map(Some).collect();
                self.adot(ctx, &qs, &ks, None)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let score = RescaleParams {
            multiplier: m.score_multiplier(),
            shift: m.frac_bits + SCORE_BITS,
            min: ACT.0,
            max: ACT.1,
            acc_bits: bits_of(m.head_dim() as u128 * (ACT.1 as u128 + 1).pow(2)),
        };
        let s = self.rescale(ctx, &dots, &score)?;
        let b = &self.cfg.base;
        let p =
            self.cfg
                .softmax
                .assign(ctx, &b.dot, &b.range, &self.cfg.table, self.exp, &s, fault)?;
        let ps: Vec<Option<&Wire>> = p.iter().map(Some).collect();
        let mix = RescaleParams {
            multiplier: 1,
            shift: PROB_BITS,
            min: ACT.0,
            max: ACT.1,
            acc_bits: bits_of(((1u128 << PROB_BITS) + p.len() as u128) * (ACT.1 as u128 + 1)),
        };
        let accs = (0..q.len())
            .map(|c| {
                let vs: Vec<Option<&Wire>> = values.iter().map(|v| Some(&v[c])).collect();
                let forge = forge.filter(|(col, _)| *col == c).map(|(_, d)| d);
                self.adot(ctx, &ps, &vs, forge)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.rescale(ctx, &accs, &mix)
    }
}

/// Lays the circuit out; returns the five public cells in statement order.
pub fn layout(
    cfg: &GenConfig,
    plan: &GenPlan,
    ctx: &mut Ctx,
    inputs: Option<&Inputs>,
    faults: &Faults,
) -> Result<[Wire; 5], Error> {
    let m = &*plan.model;
    let b = &cfg.base;
    let (p_slots, t_slots) = (plan.slots.prompt, plan.slots.gen);
    let total = p_slots + t_slots;
    let (d, hd) = (m.d_model, m.head_dim());
    let known = |f: &dyn Fn(&Inputs) -> Fr| match inputs {
        Some(i) => Value::known(f(i)),
        None => Value::unknown(),
    };

    let one = ctx.constant(b.main[0], ctx.row, Fr::ONE)?;
    let zero = ctx.constant(b.main[1], ctx.row, Fr::ZERO)?;
    ctx.row += 1;
    let lay = Lay {
        cfg,
        m,
        faults,
        one: one.clone(),
        exp: &plan.exp,
        gelu: &plan.gelu,
    };

    // The prompt: mask bits (a prefix of ones, the first forced), count, commitment.
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
    // cap ∈ [0, T]: below 2^8, and cap + 255 - T below 2^8.
    b.range.check(ctx, &cap, 8, 0)?;
    b.range.check(ctx, &cap, 8, 255 - t_slots as i64)?;
    let prompt_terms: Vec<Term> = (0..p_slots)
        .map(|i| {
            Term::Fresh(known(&|inp| {
                Fr::from(inp.prompt.get(i).copied().unwrap_or(0) as u64)
            }))
        })
        .collect();
    let (prompt, in_commit) = commit(
        b,
        ctx,
        &[&request_id, &salt, &n_in, &cap],
        &prompt_terms,
        TOKENS,
    )?;
    for p in &prompt {
        b.range.check(ctx, p, 9, 0)?;
    }

    // Positions: token, forward pass, next token.
    let mut keys: Vec<Vec<Vec<Wire>>> = vec![Vec::new(); m.blocks.len()];
    let mut values: Vec<Vec<Vec<Wire>>> = vec![Vec::new(); m.blocks.len()];
    let mut generated = zero.clone();
    let mut steps: Vec<(Wire, Wire)> = Vec::with_capacity(total);
    for i in 0..total {
        let mbit = if i < p_slots {
            mask[i].clone()
        } else {
            zero.clone()
        };
        let p = if i < p_slots {
            prompt[i].clone()
        } else {
            zero.clone()
        };
        let t = cfg.control.select(ctx, &mbit, &p, &generated)?;
        let tv = int(&t);
        let mut x = (0..d)
            .map(|c| {
                let e = tv.map(|t| {
                    fr_from_i64(m.tok.get(t as usize * d + c).copied().unwrap_or(0) + faults.table)
                });
                cfg.table
                    .embed(ctx, TAG_EMBED, &t, d, c, e, m.pos[i * d + c])
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (bi, blk) in m.blocks.iter().enumerate() {
            let h = lay.norm(ctx, &blk.ln1, &x)?;
            let qkv = lay.linear(ctx, &blk.qkv, &h, None, ACT)?;
            keys[bi].push(qkv[d..2 * d].to_vec());
            values[bi].push(qkv[2 * d..].to_vec());
            let mut o = Vec::with_capacity(d);
            for head in 0..m.n_head {
                let cols = head * hd..(head + 1) * hd;
                let ks: Vec<&[Wire]> = keys[bi].iter().map(|k| &k[cols.clone()]).collect();
                let vs: Vec<&[Wire]> = values[bi].iter().map(|v| &v[cols.clone()]).collect();
                let forge = faults
                    .forge_mix
                    .filter(|(at, col, _)| bi == 0 && *at == i && cols.contains(col))
                    .map(|(_, col, d)| (col - head * hd, d));
                o.extend(lay.attend(ctx, &qkv[cols.clone()], &ks, &vs, faults.softmax, forge)?);
            }
            x = lay.linear(ctx, &blk.proj, &o, Some(&x), RES)?;
            let h = lay.norm(ctx, &blk.ln2, &x)?;
            let f = lay.linear(ctx, &blk.fc, &h, None, ACT)?;
            let g = f
                .iter()
                .map(|f| {
                    let v = int(f).map(|v| {
                        fr_from_i64(lay.gelu[(v - ACT.0).clamp(0, 4095) as usize] + faults.table)
                    });
                    cfg.table.apply(ctx, TAG_GELU, f, v)
                })
                .collect::<Result<Vec<_>, _>>()?;
            x = lay.linear(ctx, &blk.out, &g, Some(&x), RES)?;
        }
        steps.push((mbit, t));
        if i + 1 < total {
            let h = lay.norm(ctx, &m.ln_f, &x)?;
            let logits = lay.linear(ctx, &m.head, &h, None, LOGIT)?;
            let choose = faults.argmax.filter(|(at, _)| *at == i).map(|(_, t)| t);
            generated = cfg.argmax.assign(ctx, &b.range, &logits, choose)?;
        }
    }

    // Meter, then the output tokens: o_j = Σ_k h_k · e_{k+j} with h the one-hot of n_in.
    let steps: Vec<Step> = steps
        .iter()
        .map(|(mask, token)| Step { mask, token })
        .collect();
    let metered = cfg
        .control
        .meter(ctx, &steps, &cap, m.stop as u64, &zero, faults.meter)?;
    let onehot = (0..=p_slots)
        .map(|k| {
            let before = if k == 0 { &one } else { &mask[k - 1] };
            let here = if k < p_slots { &mask[k] } else { &zero };
            let terms = [Term::Copy(before), Term::Copy(here)];
            b.dot
                .assign(ctx, &[Fr::ONE, -Fr::ONE], &terms, Fr::ZERO)
                .map(|(_, h)| h)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hs: Vec<Option<&Wire>> = onehot.iter().map(Some).collect();
    let outputs = (0..t_slots)
        .map(|j| {
            let es: Vec<Option<&Wire>> = (0..=p_slots).map(|k| metered.out.get(k + j)).collect();
            let forge = faults.forge_readout.filter(|(at, _)| *at == j);
            lay.adot(ctx, &hs, &es, forge.map(|(_, d)| d))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out_terms: Vec<Term> = outputs.iter().map(Term::Copy).collect();
    let (_, out_commit) = commit(
        b,
        ctx,
        &[&request_id, &salt, &metered.count],
        &out_terms,
        TOKENS,
    )?;
    Ok([request_id, in_commit, out_commit, n_in, metered.count])
}
