//! ONNX → [`Gpt`]: reads a decoder exported the way `examples/tiny_gpt/train.py` exports it
//! (initializers `tok`, `pos_used`, `l{i}.ln1_g` … `head`, input `tokens`), checks that the graph
//! only uses the decoder's ops, and quantizes: int8 weights with a power-of-two scale per tensor,
//! biases at the accumulator scale, embeddings and LayerNorm betas at the activation scale.

use std::path::Path;

use tract_onnx::pb;

use super::{Block, Gpt, Linear, Norm, ACT, GPT_VERSION};
use crate::import::proto::{initializers, read_graph, Tensor};
use crate::import::ImportError;

/// Fractional bits of activations chosen at import.
pub const FRAC_BITS: u32 = 6;
/// The ops a decoder graph may contain.
pub const DECODER_OPS: [&str; 10] = [
    "Gather",
    "Add",
    "LayerNormalization",
    "MatMul",
    "Split",
    "Reshape",
    "Transpose",
    "Mul",
    "Softmax",
    "Erf",
];

/// Does this ONNX graph look like a decoder (a Gather on an int64 `tokens` input)?
pub fn is_decoder(path: &Path) -> bool {
    read_graph(path).is_ok_and(|g| {
        g.node.iter().any(|n| n.op_type == "Gather") && g.input.iter().any(|i| i.name == "tokens")
    })
}

/// The largest shift `s ≤ 16` with `max|v| · 2^s ≤ 127`.
fn int8_shift(v: &[f64]) -> u32 {
    let max = v.iter().fold(0f64, |m, x| m.max(x.abs()));
    (0..=16u32)
        .rev()
        .find(|s| max * (1u64 << s) as f64 <= 127.0)
        .unwrap_or(0)
}

fn round_at(v: f64, bits: u32) -> i64 {
    libm::round(v * (1u64 << bits) as f64) as i64
}

pub fn import(path: &Path) -> Result<Gpt, ImportError> {
    let malformed = ImportError::Malformed;
    let graph = read_graph(path)?;
    let graph = &graph;
    if let Some(n) = graph
        .node
        .iter()
        .find(|n| !DECODER_OPS.contains(&n.op_type.as_str()))
    {
        return Err(ImportError::Node {
            node: n.name.clone(),
            op: n.op_type.clone(),
            msg: format!("not a decoder op (supported: {})", DECODER_OPS.join(", ")),
        });
    }
    let consts = initializers(graph)?;
    let get = |name: &str, rank: usize| -> Result<&Tensor, ImportError> {
        let t = consts
            .get(name)
            .ok_or_else(|| malformed(format!("missing initializer `{name}`")))?;
        if t.dims.len() != rank {
            return Err(malformed(format!(
                "initializer `{name}` has shape {:?}, expected rank {rank}",
                t.dims
            )));
        }
        Ok(t)
    };
    let eps = |node: &str| -> f64 {
        graph
            .node
            .iter()
            .find(|n| n.name == node)
            .and_then(|n| n.attribute.iter().find(|a| a.name == "epsilon"))
            .map(|a: &pb::AttributeProto| a.f as f64)
            .unwrap_or(1e-5)
    };

    let tok = get("tok", 2)?;
    let pos = get("pos_used", 2)?;
    let (vocab, d) = (tok.dims[0], tok.dims[1]);
    let heads = get("heads_shape", 1)?;
    let n_head = *heads
        .data
        .get(2)
        .ok_or_else(|| malformed("heads_shape".into()))? as usize;
    let frac = FRAC_BITS;
    let act = |v: &[f64]| -> Vec<i64> {
        v.iter()
            .map(|x| round_at(*x, frac).clamp(ACT.0, ACT.1))
            .collect()
    };
    let norm = |g: &str, b: &str, node: &str| -> Result<Norm, ImportError> {
        let (g, b) = (get(g, 1)?, get(b, 1)?);
        let gs = int8_shift(&g.data);
        let dd = g.data.len() as f64;
        Ok(Norm {
            gamma: g.data.iter().map(|x| round_at(*x, gs)).collect(),
            gamma_shift: gs,
            beta: act(&b.data),
            eps: libm::round(eps(node) * dd * dd * (1u64 << (2 * frac)) as f64).max(1.0) as i64,
        })
    };
    // ONNX stores `x @ W` weights as in × out; the IR is out-major.
    let linear = |w: &str, b: Option<&str>| -> Result<Linear, ImportError> {
        let w = get(w, 2)?;
        let (i, o) = (w.dims[0], w.dims[1]);
        let s = int8_shift(&w.data);
        let weights = (0..o)
            .flat_map(|oo| (0..i).map(move |ii| (oo, ii)))
            .map(|(oo, ii)| round_at(w.data[ii * o + oo], s))
            .collect();
        let bias = match b {
            Some(b) => get(b, 1)?
                .data
                .iter()
                .map(|x| round_at(*x, frac + s))
                .collect(),
            None => vec![0; o],
        };
        Ok(Linear {
            in_dim: i,
            out_dim: o,
            shift: s,
            weights,
            bias,
        })
    };
    let mut blocks = Vec::new();
    while consts.contains_key(format!("l{}.qkv", blocks.len()).as_str()) {
        let l = format!("l{}", blocks.len());
        let n = |s: &str| format!("{l}.{s}");
        blocks.push(Block {
            ln1: norm(&n("ln1_g"), &n("ln1_b"), &n("ln1"))?,
            qkv: linear(&n("qkv"), Some(&n("qkv_b")))?,
            proj: linear(&n("proj"), Some(&n("proj_b")))?,
            ln2: norm(&n("ln2_g"), &n("ln2_b"), &n("ln2"))?,
            fc: linear(&n("fc"), Some(&n("fc_b")))?,
            out: linear(&n("out"), Some(&n("out_b")))?,
        });
    }
    let d_ff = blocks.first().map(|b| b.fc.out_dim).unwrap_or(0);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let gpt = Gpt {
        version: GPT_VERSION,
        name,
        vocab,
        // The exporter's convention: the last token is the stop token.
        stop: vocab.saturating_sub(1),
        d_model: d,
        n_head,
        d_ff,
        context: pos.dims[0],
        frac_bits: frac,
        tok: act(&tok.data),
        pos: act(&pos.data),
        blocks,
        ln_f: norm("lnf_g", "lnf_b", "lnf")?,
        head: linear("head", None)?,
    };
    gpt.validate().map_err(|e| malformed(e.to_string()))?;
    Ok(gpt)
}
