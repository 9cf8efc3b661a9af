//! The ops of the graph IR on both backends (comparisons, picks, quotients and ranks in
//! `ops_exact.rs`), through the checks of `op_nets`: reference, halo2 and R1CS agree, a changed
//! output is refused, and the witness-mutation nets run over each op's circuits.

mod op_nets;

use op_nets::{check, ints, plans, rescale, tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::graph::{execute, Builder, Tensor};
use zkinfer_circuits::ops::{
    add::Add, affine::Affine, clip::Clip, conv::Conv, conv_transpose::ConvTranspose,
    einsum::Einsum, linear_map::LinearMap, matmul::MatMul, max::Max, max::Min, mul::Mul,
    piecewise::Piecewise, pool, reduce, relu::Relu, select, wiring, Op,
};

#[test]
fn conv_2d_with_stride_padding_and_groups() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut b = Builder::new("conv2d");
    let x = b.input("x", &[1, 4, 5, 5]);
    let conv = Op::Conv(Conv {
        weights: tensor(&mut rng, &[4, 2, 3, 3], 127),
        bias: Some(ints(&mut rng, 4, 3000)),
        strides: vec![2, 1],
        dilations: vec![1, 1],
        pads: vec![1, 0, 1, 2],
        groups: 2,
    });
    let acc = b.node("conv", conv, &[&x]).unwrap();
    assert_eq!(b.shape(&acc), Some(&[1, 4, 3, 5][..]));
    let y = b.node("y", rescale(20), &[&acc]).unwrap();
    check(b.finish(&[&y]).unwrap(), 1);
}

#[test]
fn conv_1d_dilated() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut b = Builder::new("conv1d");
    let x = b.input("x", &[1, 2, 9]);
    let conv = Op::Conv(Conv {
        weights: tensor(&mut rng, &[3, 2, 3], 127),
        bias: None,
        strides: vec![1],
        dilations: vec![2],
        pads: vec![2, 0],
        groups: 1,
    });
    let acc = b.node("conv", conv, &[&x]).unwrap();
    let y = b.node("y", rescale(19), &[&acc]).unwrap();
    check(b.finish(&[&y]).unwrap(), 2);
}

#[test]
fn einsum_in_either_layout_with_a_broadcast_bias() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut b = Builder::new("einsum");
    let x = b.input("x", &[1, 3, 5]);
    let e = Op::Einsum(Einsum {
        input_axes: "bsk".into(),
        weight_axes: "kn".into(),
        output_axes: "bsn".into(),
        weights: tensor(&mut rng, &[5, 4], 127),
        bias: Some(tensor(&mut rng, &[4], 2000)),
    });
    let acc = b.node("mm", e, &[&x]).unwrap();
    let y = b.node("y", rescale(18), &[&acc]).unwrap();
    // tract's `k,nk->mn`: a summed-out axis and a new output axis of size 1
    let flat = b
        .node(
            "flat",
            Op::Reshape(wiring::Reshape { shape: vec![12] }),
            &[&y],
        )
        .unwrap();
    let e2 = Op::Einsum(Einsum {
        input_axes: "k".into(),
        weight_axes: "nk".into(),
        output_axes: "mn".into(),
        weights: tensor(&mut rng, &[3, 12], 127),
        bias: None,
    });
    let acc2 = b.node("mm2", e2, &[&flat]).unwrap();
    assert_eq!(b.shape(&acc2), Some(&[1, 3][..]));
    let z = b.node("z", rescale(17), &[&acc2]).unwrap();
    let model = b.finish(&[&y, &z]).unwrap();
    // both products also run on the matvec chip and, repeated at every position, under the
    // challenge check, each under the same checks
    assert_eq!(plans(&model).len(), 3);
    check(model, 3);
}

#[test]
fn affine_per_channel() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut b = Builder::new("affine");
    let x = b.input("x", &[1, 3, 2, 2]);
    let a = Op::Affine(Affine {
        mul: tensor(&mut rng, &[1, 3, 1, 1], 127),
        add: tensor(&mut rng, &[3, 1, 1], 3000),
    });
    let acc = b.node("bn", a, &[&x]).unwrap();
    let y = b.node("y", rescale(15), &[&acc]).unwrap();
    check(b.finish(&[&y]).unwrap(), 4);
}

#[test]
fn add_sub_and_mul_of_two_inputs_broadcast() {
    let mut b = Builder::new("binary");
    let x = b.input("x", &[1, 3, 4]);
    let s = b.input("s", &[1, 1, 4]);
    let sum = Op::Add(Add { coeffs: [3, -5] });
    let acc = b.node("sub", sum, &[&x, &s]).unwrap();
    let y = b.node("y", rescale(14), &[&acc]).unwrap();
    let p = b.node("prod", Op::Mul(Mul {}), &[&y, &s]).unwrap();
    let z = b.node("z", rescale(22), &[&p]).unwrap();
    check(b.finish(&[&y, &z]).unwrap(), 5);
}

#[test]
fn max_relu_and_pools() {
    let mut b = Builder::new("compare");
    let x = b.input("x", &[1, 2, 5, 5]);
    let m = b.input("m", &[1, 2, 1, 5]);
    let mx = b.node("max", Op::Max(Max {}), &[&x, &m]).unwrap();
    let win = |k: usize, s: usize, p: [usize; 4]| pool::Window {
        kernel: vec![k, k],
        strides: vec![s, s],
        dilations: vec![1, 1],
        pads: p.to_vec(),
    };
    let mp = b
        .node(
            "maxpool",
            Op::MaxPool(pool::MaxPool(win(3, 2, [1, 1, 1, 1]))),
            &[&mx],
        )
        .unwrap();
    let r = b.node("relu", Op::Relu(Relu {}), &[&x]).unwrap();
    let sp = b
        .node(
            "sumpool",
            Op::SumPool(pool::SumPool(win(2, 2, [0, 0, 1, 1]))),
            &[&r],
        )
        .unwrap();
    let avg = b.node("avg", rescale(16), &[&sp]).unwrap();
    let axes = |a: Vec<usize>, keepdims| reduce::Axes { axes: a, keepdims };
    let rmax = b
        .node(
            "rmax",
            Op::ReduceMax(reduce::ReduceMax(axes(vec![1, 3], false))),
            &[&x],
        )
        .unwrap();
    let rsum = b
        .node(
            "rsum",
            Op::ReduceSum(reduce::ReduceSum(axes(vec![2], true))),
            &[&x],
        )
        .unwrap();
    let mean = b.node("mean", rescale(17), &[&rsum]).unwrap();
    check(b.finish(&[&mp, &avg, &rmax, &mean]).unwrap(), 6);
}

#[test]
fn conv_transpose_with_stride_crop_and_groups() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut b = Builder::new("deconv");
    let x = b.input("x", &[1, 4, 3, 3]);
    let ct = Op::ConvTranspose(ConvTranspose {
        weights: tensor(&mut rng, &[4, 1, 3, 2], 127),
        bias: Some(ints(&mut rng, 2, 3000)),
        strides: vec![2, 1],
        dilations: vec![1, 2],
        pads: vec![1, 0, 0, 1],
        output_padding: vec![1, 0],
        groups: 2,
    });
    let acc = b.node("deconv", ct, &[&x]).unwrap();
    // (3-1)·2 + 2 + 1 + 1 - 1 = 7 rows; (3-1) + 2·1 + 1 - 1 = 4 columns
    assert_eq!(b.shape(&acc), Some(&[1, 2, 7, 4][..]));
    let y = b.node("y", rescale(18), &[&acc]).unwrap();
    let model = b.finish(&[&y]).unwrap();
    // the reference scatters: input (c, i, j) with tap (t, u) adds to (2i + t - 1, j + 2u)
    let row: Vec<i64> = ints(&mut rng, 36, 127);
    let Op::ConvTranspose(ref ct) = model.graph().nodes[0].op else {
        unreachable!()
    };
    let mut want = vec![0i128; 56];
    for m in 0..2 {
        for v in want[m * 28..(m + 1) * 28].iter_mut() {
            *v = ct.bias.as_ref().unwrap()[m] as i128;
        }
        for c in 2 * m..2 * m + 2 {
            for (i, j, t, u) in (0..3).flat_map(|i| {
                (0..3)
                    .flat_map(move |j| (0..3).flat_map(move |t| (0..2).map(move |u| (i, j, t, u))))
            }) {
                let (r, q) = (2 * i + t, j + 2 * u);
                if !(1..=7).contains(&r) || q >= 4 {
                    continue;
                }
                let w = ct.weights.data[c * 6 + t * 2 + u] as i128;
                want[m * 28 + (r - 1) * 4 + q] += w * row[c * 9 + i * 3 + j] as i128;
            }
        }
    }
    let trace = zkinfer_circuits::graph::execute(&model, &row).unwrap();
    let Op::Rescale(ref r) = model.graph().nodes[1].op else {
        unreachable!()
    };
    let got = trace.output();
    let want: Vec<i128> = want.iter().map(|v| r.apply(*v).unwrap() as i128).collect();
    assert_eq!(got, want);
    check(model, 8);
}

#[test]
fn clamps_minima_arg_extremes_and_piecewise_slopes() {
    let mut b = Builder::new("compare2");
    let x = b.input("x", &[1, 2, 2, 4]);
    let y = b.input("y", &[1, 2, 1, 4]);
    let mn = b.node("min", Op::Min(Min {}), &[&x, &y]).unwrap();
    let clip = |min, max| Op::Clip(Clip { min, max });
    // a range around 0, one above it (shifted), one below it, and Sign
    let c0 = b.node("c0", clip(-20, 50), &[&mn]).unwrap();
    let c1 = b.node("c1", clip(5, 60), &[&x]).unwrap();
    let c2 = b.node("c2", clip(-70, -10), &[&x]).unwrap();
    let sign = b.node("sign", clip(-1, 1), &[&y]).unwrap();
    let t = |shape: Vec<usize>, v: Vec<i64>| Tensor::new(shape, v).unwrap();
    // LeakyRelu 0.1 at 2^7, PRelu per channel, Abs
    let leaky = Op::Piecewise(Piecewise {
        pos: t(vec![], vec![128]),
        neg: t(vec![], vec![13]),
    });
    let l = b.node("leaky:acc", leaky, &[&x]).unwrap();
    let l = b.node("leaky", rescale(7 + 14), &[&l]).unwrap();
    let prelu = Op::Piecewise(Piecewise {
        pos: t(vec![], vec![64]),
        neg: t(vec![1, 2, 1, 1], vec![-32, 48]),
    });
    let p = b.node("prelu:acc", prelu, &[&x]).unwrap();
    let p = b.node("prelu", rescale(6 + 14), &[&p]).unwrap();
    let abs = Op::Piecewise(Piecewise {
        pos: t(vec![], vec![1]),
        neg: t(vec![], vec![-1]),
    });
    let a = b.node("abs", abs, &[&y]).unwrap();
    let a = b.node("abs8", clip(0, 127), &[&a]).unwrap();
    let axes = |a: Vec<usize>, keepdims| reduce::Axes { axes: a, keepdims };
    let rmin = b
        .node(
            "rmin",
            Op::ReduceMin(reduce::ReduceMin(axes(vec![3], true))),
            &[&x],
        )
        .unwrap();
    let arg = |axis, min, last| {
        Op::ArgMax(reduce::ArgMax {
            axis,
            keepdims: false,
            min,
            last,
        })
    };
    let am = b.node("argmax", arg(3, false, false), &[&x]).unwrap();
    let an = b.node("argmin_last", arg(1, true, true), &[&c0]).unwrap();
    let model = b
        .finish(&[&c0, &c1, &c2, &sign, &l, &p, &a, &rmin, &am, &an])
        .unwrap();
    // ties: the first maximum, the last minimum
    let mut row = vec![0i64; 24];
    row[..4].copy_from_slice(&[3, 9, 9, -1]);
    row[16..20].copy_from_slice(&[5, 5, 0, -2]);
    let out = execute(&model, &row).unwrap().output();
    let sizes: Vec<usize> = model
        .output_shapes()
        .iter()
        .map(|s| s.iter().product())
        .collect();
    let am_at: usize = sizes[..8].iter().sum();
    assert_eq!(out[am_at], 1, "first of two maxima");
    // c0 over channels at (h 0, w 0): both equal → the last index, 1
    assert_eq!(out[am_at + 4], 1, "last of two minima");
    check(model, 9);
}

#[test]
fn tile_and_gather_elements_copy_the_indexed_elements() {
    let mut b = Builder::new("wiring2");
    let x = b.input("x", &[1, 2, 3]);
    let tile = b
        .node(
            "tile",
            Op::Tile(wiring::Tile {
                reps: vec![2, 1, 2],
            }),
            &[&x],
        )
        .unwrap();
    let idx = Tensor::new(vec![1, 2, 2], vec![2, 0, 1, 1]).unwrap();
    let ge = b
        .node(
            "ge",
            Op::GatherElements(wiring::GatherElements {
                axis: 2,
                indices: idx,
            }),
            &[&x],
        )
        .unwrap();
    let model = b.finish(&[&tile, &ge]).unwrap();
    let row: Vec<i64> = (1..=6).collect();
    let out = execute(&model, &row).unwrap().output();
    let want: Vec<i128> = [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]
        .repeat(2)
        .into_iter()
        .chain([3, 1, 5, 5])
        .collect();
    assert_eq!(out, want);
    check(model, 10);
}

/// A select by a constant condition broadcast over two inputs, and with a constant fill.
#[test]
fn select_picks_by_a_constant_condition() {
    let mut b = Builder::new("select");
    let x = b.input("x", &[1, 2, 3]);
    let y = b.input("y", &[1, 1, 3]);
    let cond = Tensor::new(vec![2, 1], vec![1, 0]).unwrap();
    let two = Op::Select(select::Select {
        cond: cond.clone(),
        fill: None,
    });
    let s = b.node("s", two, &[&x, &y]).unwrap();
    let filled = Op::Select(select::Select {
        cond,
        fill: Some(-7),
    });
    let f = b.node("f", filled, &[&x]).unwrap();
    let model = b.finish(&[&s, &f]).unwrap();
    let row: Vec<i64> = vec![1, 2, 3, 4, 5, 6, 10, 20, 30];
    let out = execute(&model, &row).unwrap().output();
    assert_eq!(out, [1, 2, 3, 10, 20, 30, 1, 2, 3, -7, -7, -7]);
    check(model, 12);
    let mut b = Builder::new("bad_select");
    let x = b.input("x", &[1, 3]);
    let bad = Op::Select(select::Select {
        cond: Tensor::new(vec![3], vec![1, 2, 0]).unwrap(),
        fill: Some(0),
    });
    let e = b.node("s", bad, &[&x]).err().unwrap().to_string();
    assert!(
        e.contains("node `s` (select)") && e.contains("0 or 1"),
        "{e}"
    );
}

#[test]
fn wiring_moves_values_and_pads_with_pinned_constants() {
    let mut b = Builder::new("wiring");
    let x = b.input("x", &[1, 2, 3, 4]);
    let y = b.input("y", &[1, 2, 3, 1]);
    let t = b
        .node(
            "t",
            Op::Transpose(wiring::Transpose {
                perm: vec![0, 3, 1, 2],
            }),
            &[&x],
        )
        .unwrap();
    let s = b
        .node(
            "s",
            Op::Slice(wiring::Slice {
                axis: 1,
                start: 1,
                end: 4,
                step: 2,
            }),
            &[&t],
        )
        .unwrap();
    let g = b
        .node(
            "g",
            Op::Gather(wiring::Gather {
                axis: 3,
                indices: Tensor::new(vec![2], vec![3, 0]).unwrap(),
            }),
            &[&x],
        )
        .unwrap();
    let c = b
        .node(
            "c",
            Op::Concat(wiring::Concat {
                axis: 3,
                inputs: 2,
                parts: vec![],
            }),
            &[&g, &y],
        )
        .unwrap();
    let p = b
        .node(
            "p",
            Op::Pad(wiring::Pad {
                pads: vec![0, 0, 1, 0, 0, 0, 0, 2],
                value: -3,
                mode: wiring::PadMode::Constant,
            }),
            &[&c],
        )
        .unwrap();
    let e = b
        .node(
            "e",
            Op::Expand(wiring::Expand {
                shape: vec![2, 2, 3, 1],
            }),
            &[&y],
        )
        .unwrap();
    let r = b
        .node("r", Op::Reshape(wiring::Reshape { shape: vec![12] }), &[&e])
        .unwrap();
    let model = b.finish(&[&s, &p, &r]).unwrap();
    // the reference moves exactly the elements the index arithmetic says
    let row: Vec<i64> = (0..30).map(|i| i - 15).collect();
    let out = execute(&model, &row).unwrap().output();
    // s = x transposed to [1, 4, 2, 3], rows 1 and 3 of axis 1: x[0, c, h, 1] then x[0, c, h, 3]
    let xv = |c: i64, h: i64, w: i64| c * 12 + h * 4 + w - 15;
    let s_want: Vec<i128> = [1, 3]
        .iter()
        .flat_map(|w| (0..2).flat_map(move |c| (0..3).map(move |h| xv(c, h, *w) as i128)))
        .collect();
    assert_eq!(&out[..12], &s_want[..]);
    // p is [1, 2, 4, 5]: a padded first row, then rows of 3 values and 2 padding
    assert!(out[12..17].iter().all(|v| *v == -3));
    assert_eq!(
        &out[17..22],
        &[xv(0, 0, 3) as i128, xv(0, 0, 0) as i128, -15 + 24, -3, -3]
    );
    check(model, 7);
}

#[test]
fn matmul_of_two_computed_tensors_batched() {
    let mut b = Builder::new("matmul");
    let q = b.input("q", &[2, 3, 4]);
    let k = b.input("k", &[2, 5, 4]);
    let mm = Op::MatMul(MatMul {
        a_axes: "bqd".into(),
        b_axes: "bkd".into(),
        output_axes: "bqk".into(),
    });
    let acc = b.node("scores", mm, &[&q, &k]).unwrap();
    let y = b.node("y", rescale(23), &[&acc]).unwrap();
    let model = b.finish(&[&y]).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (qv, kv) = (ints(&mut rng, 24, 128), ints(&mut rng, 40, 128));
    let row: Vec<i64> = qv.iter().chain(&kv).map(|v| (*v).min(127)).collect();
    let trace = execute(&model, &row).unwrap();
    // batch 1, query 2, key 4: Σ_d q[1,2,d] · k[1,4,d], at [1,2,4] of the [2,3,5] scores
    let want: i128 = (0..4)
        .map(|d| row[20 + d] as i128 * row[24 + 36 + d] as i128)
        .sum();
    assert_eq!(trace.tensors[2][15 + 10 + 4], want);
    check(model, 14);
}

/// Attention's two products as torch writes them, each wider than a row of the challenge
/// check's folded dot: `s = q·kᵀ` over 12 features, then `s·v` over 7 keys; the challenge
/// plan checks both grids, folded along their cheaper side.
#[test]
fn matmuls_of_attention() {
    let mut b = Builder::new("attention products");
    let q = b.input("q", &[1, 6, 12]);
    let k = b.input("k", &[1, 7, 12]);
    let v = b.input("v", &[1, 7, 3]);
    let mm = |a: &str, b: &str, o: &str| {
        Op::MatMul(MatMul {
            a_axes: a.into(),
            b_axes: b.into(),
            output_axes: o.into(),
        })
    };
    let s = b
        .node("scores", mm("bqd", "bkd", "bqk"), &[&q, &k])
        .unwrap();
    let p = b.node("p", rescale(24), &[&s]).unwrap();
    let o = b.node("pv", mm("bqk", "bkd", "bqd"), &[&p, &v]).unwrap();
    let y = b.node("y", rescale(19), &[&o]).unwrap();
    let model = b.finish(&[&y]).unwrap();
    let shapes: Vec<_> = plans(&model).iter().map(|p| p.shape.freivalds).collect();
    assert!(shapes.contains(&true), "{shapes:?}");
    check(model, 15);
}

/// A constant sparse linear map of another shape: outputs reading one, several or no input
/// element (a bias alone), with weights of both signs, then a rescale.
#[test]
fn linear_map_sums_its_listed_terms() {
    let mut b = Builder::new("linear_map");
    let x = b.input("x", &[1, 2, 3]);
    let map = LinearMap {
        shape: vec![2, 2],
        terms: vec![
            vec![(0, 3)],
            vec![(1, -2), (5, 7), (1, 4)],
            vec![],
            vec![(2, 127), (3, -128), (4, 1)],
        ],
        bias: vec![5, 0, -9, 1000],
    };
    let y = b.node("y", Op::LinearMap(map), &[&x]).unwrap();
    let r = b.node("r", rescale(16), &[&y]).unwrap();
    let model = b.finish(&[&r]).unwrap();
    let row = vec![1, -2, 3, 4, -5, 6];
    // the sums 8, 38, -9 and 864, times 21000 / 2^16, rounded and clamped
    let out = execute(&model, &row).unwrap().output();
    assert_eq!(out, [3, 12, -3, 127]);
    check(model, 16);
    let mut b = Builder::new("past_the_input");
    let x = b.input("x", &[1, 3]);
    let map = LinearMap {
        shape: vec![1],
        terms: vec![vec![(3, 1)]],
        bias: vec![0],
    };
    let e = b.node("m", Op::LinearMap(map), &[&x]).err().unwrap();
    assert!(
        e.to_string().contains("reads element 3 of an input of 3"),
        "{e}"
    );
}

/// A concatenation with constant blocks among its inputs (a class token before the patches):
/// the constants are pinned, so a changed one is refused like any output; parts that do not
/// match the inputs are refused naming the node.
#[test]
fn concat_with_constant_blocks() {
    let mut b = Builder::new("concat_constants");
    let x = b.input("x", &[1, 2, 2]);
    let y = b.input("y", &[1, 1, 2]);
    let block = |data: Vec<i64>| Some(Tensor::new(vec![1, data.len() / 2, 2], data).unwrap());
    let concat = |parts: Vec<Option<Tensor<i64>>>| {
        Op::Concat(wiring::Concat {
            axis: 1,
            inputs: 2,
            parts,
        })
    };
    let c = b
        .node(
            "c",
            concat(vec![
                block(vec![5, -7]),
                None,
                block(vec![127, -128, 0, 1]),
                None,
            ]),
            &[&x, &y],
        )
        .unwrap();
    let model = b.finish(&[&c]).unwrap();
    let row = vec![1, 2, 3, 4, -9, 8];
    let out = execute(&model, &row).unwrap().output();
    assert_eq!(out, [5, -7, 1, 2, 3, 4, 127, -128, 0, 1, -9, 8]);
    check(model, 17);
    let mut b = Builder::new("concat_miscounted");
    let x = b.input("x", &[1, 2, 2]);
    let e = b.node("c", concat(vec![block(vec![1, 2]), None]), &[&x, &x]);
    let e = e.err().unwrap().to_string();
    assert!(e.contains("1 computed parts for 2 inputs"), "{e}");
}
