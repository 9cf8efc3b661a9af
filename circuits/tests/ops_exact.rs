//! The ops whose outputs are exact integers decided by their inputs, on both backends through
//! the checks of `op_nets`: comparisons and the picks they condition, integer quotients, TopK's
//! ranks, the one-hot rows of indices, and the rows of a constant table they select (an
//! embedding, which halo2 looks up and R1CS selects by the one-hot row). Reference, halo2 and R1CS agree, a changed output is refused, and the
//! witness-mutation nets run over each op's circuits.

mod op_nets;

use op_nets::check;
use zkinfer_circuits::graph::{execute, Builder, Tensor};
use zkinfer_circuits::ops::{
    add::Add, affine::Affine, choose, clip::Clip, compare, compare::Cmp, embed::Embed,
    index_hot::IndexHot, mul::Mul, quotient::Quotient, topk::TopK, Op,
};

/// Comparisons of two tensors and of a tensor with constants, giving 0/1; picks by those
/// conditions between two inputs, an input and a constant, and two constants; a condition
/// that may leave [0, 1] is refused. `check` runs the three-way agreement, the changed-output
/// refusals and the witness-mutation nets (sampled halo2 cells, every R1CS variable) over it.
#[test]
fn comparisons_give_0_or_1_and_choose_picks_by_them() {
    let mut b = Builder::new("compare");
    let x = b.input("x", &[1, 2, 4]);
    let y = b.input("y", &[1, 1, 4]);
    let cmp = |cmp, k: Option<Tensor<i64>>| Op::Compare(compare::Compare { cmp, k });
    let lt = b.node("lt", cmp(Cmp::Lt, None), &[&x, &y]).unwrap();
    let c = b
        .node("c", Op::Clip(Clip { min: -5, max: 5 }), &[&x])
        .unwrap();
    let eq = b.node("eq", cmp(Cmp::Eq, None), &[&x, &c]).unwrap();
    let ne = b.node("ne", cmp(Cmp::Ne, None), &[&c, &x]).unwrap();
    let k = Tensor::new(vec![4], vec![0, 127, -128, 3]).unwrap();
    let ge = b.node("ge", cmp(Cmp::Ge, Some(k.clone())), &[&x]).unwrap();
    let le = b.node("le", cmp(Cmp::Le, Some(k)), &[&y]).unwrap();
    let gt = b
        .node("gt", cmp(Cmp::Gt, Some(Tensor::scalar(-128))), &[&x])
        .unwrap();
    let both = b.node("and", Op::Mul(Mul {}), &[&lt, &eq]).unwrap();
    let choose = |then, otherwise| Op::Choose(choose::Choose { then, otherwise });
    let min = b.node("min", choose(None, None), &[&lt, &x, &y]).unwrap();
    let w2 = b.node("w2", choose(Some(-7), None), &[&eq, &y]).unwrap();
    let w3 = b.node("w3", choose(None, Some(9)), &[&ge, &x]).unwrap();
    let w4 = b.node("w4", choose(Some(1), Some(-1)), &[&gt]).unwrap();
    let w5 = b.node("w5", choose(None, None), &[&both, &c, &y]).unwrap();
    let model = b
        .finish(&[&lt, &eq, &ne, &ge, &le, &min, &w2, &w3, &w4, &w5])
        .unwrap();
    let row = vec![3, -2, 127, -128, 9, 0, 5, -6, 3, 1, 127, 2];
    let out = execute(&model, &row).unwrap().output();
    let (xs, ys) = (&row[..8], &row[8..]);
    let want: Vec<i128> = [
        (0..8)
            .map(|i| i64::from(xs[i] < ys[i % 4]))
            .collect::<Vec<_>>(),
        xs.iter().map(|v| i64::from((-5..=5).contains(v))).collect(),
        xs.iter()
            .map(|v| i64::from(!(-5..=5).contains(v)))
            .collect(),
        (0..8)
            .map(|i| i64::from(xs[i] >= [0, 127, -128, 3][i % 4]))
            .collect(),
        (0..4)
            .map(|i| i64::from(ys[i] <= [0, 127, -128, 3][i]))
            .collect(),
        (0..8).map(|i| xs[i].min(ys[i % 4])).collect(),
    ]
    .concat()
    .into_iter()
    .map(i128::from)
    .collect();
    assert_eq!(&out[..want.len()], &want[..]);
    check(model, 13);
    let mut b = Builder::new("bad_choose");
    let x = b.input("x", &[1, 3]);
    let w = b.node("w", choose(None, None), &[&x, &x, &x]).unwrap();
    let e = b.finish(&[&w]).err().unwrap().to_string();
    assert!(
        e.contains("node `w` (choose)") && e.contains("0 or 1"),
        "{e}"
    );
}

/// Integer quotients by constants round toward 0, or down, on both sides of 0, with the
/// divisor broadcast: 1, a negative one, one that never divides evenly here, and one wider than
/// every input (the quotient is then 0 or -1). A divisor of 0 is refused naming the node.
#[test]
fn quotients_of_integers_round_toward_0_or_down() {
    let mut b = Builder::new("quotient");
    let x = b.input("x", &[1, 2, 4]);
    let d = Tensor::new(vec![4], vec![3, -4, 1, 200]).unwrap();
    let by = |divisor: &Tensor<i64>, floor| {
        Op::Quotient(Quotient {
            divisor: divisor.clone(),
            floor,
        })
    };
    let q = b.node("q", by(&d, false), &[&x]).unwrap();
    let f = b.node("f", by(&d, true), &[&x]).unwrap();
    let r = b.node("r", by(&Tensor::scalar(8), false), &[&q]).unwrap();
    let model = b.finish(&[&q, &f, &r]).unwrap();
    let row = vec![-7, -8, 5, -128, 7, 127, -1, 127];
    let out = execute(&model, &row).unwrap().output();
    let q_want = [-2, 2, 5, 0, 2, -31, -1, 0];
    let f_want = [-3, 2, 5, -1, 2, -32, -1, 0];
    let r_want = q_want.map(|v: i128| v / 8);
    assert_eq!(out, [&q_want[..], &f_want[..], &r_want[..]].concat());
    check(model, 14);
    let mut b = Builder::new("by_zero");
    let x = b.input("x", &[1, 2]);
    let q = b.node(
        "q",
        by(&Tensor::new(vec![2], vec![2, 0]).unwrap(), true),
        &[&x],
    );
    let e = q.err().unwrap().to_string();
    assert!(
        e.contains("node `q` (quotient)") && e.contains("divides by 0"),
        "{e}"
    );
}

/// TopK's values and indices along the last and a middle axis, largest and smallest first, with
/// ties ranked by index as tract's stable sort ranks them; a `k` past the axis is refused.
#[test]
fn top_k_values_and_indices_in_order() {
    let mut b = Builder::new("top_k");
    let x = b.input("x", &[1, 2, 5]);
    let top = |axis, k, largest, indices| {
        Op::TopK(TopK {
            axis,
            k,
            largest,
            indices,
        })
    };
    let v = b.node("v", top(2, 3, true, false), &[&x]).unwrap();
    let i = b.node("i", top(2, 3, true, true), &[&x]).unwrap();
    let sv = b.node("sv", top(1, 1, false, false), &[&x]).unwrap();
    let si = b.node("si", top(2, 2, false, true), &[&x]).unwrap();
    let model = b.finish(&[&v, &i, &sv, &si]).unwrap();
    let row = vec![3, -2, 3, 127, -128, 0, 0, -5, 9, 0];
    let out = execute(&model, &row).unwrap().output();
    let want: Vec<i128> = [
        &[127, 3, 3, 9, 0, 0][..],
        &[3, 0, 2, 3, 0, 1],
        &[0, -2, -5, 9, -128],
        &[4, 1, 2, 0],
    ]
    .concat();
    assert_eq!(out, want);
    check(model, 15);
    let mut b = Builder::new("too_many");
    let x = b.input("x", &[1, 3]);
    let e = b.node("t", top(1, 4, true, false), &[&x]).err().unwrap();
    assert!(e.to_string().contains("k = 4 of an axis of 3"), "{e}");
}

/// The one-hot rows of indices computed from int8 inputs: quotients that reach the axis from
/// either end (no end needs asserting), and a difference that is always 0 but whose bound spans
/// ±255 (both ends asserted); the witness-mutation nets run over both. An index past the axis is
/// refused naming the node.
#[test]
fn index_rows_have_one_1_at_the_index() {
    let mut b = Builder::new("index_hot");
    let x = b.input("x", &[1, 2, 3]);
    let by32 = Op::Quotient(Quotient {
        divisor: Tensor::scalar(32),
        floor: true,
    });
    let q = b.node("q", by32, &[&x]).unwrap();
    let h = b
        .node("h", Op::IndexHot(IndexHot { depth: 4 }), &[&q])
        .unwrap();
    let z = b
        .node("z", Op::Add(Add { coeffs: [1, -1] }), &[&x, &x])
        .unwrap();
    let hz = b
        .node("hz", Op::IndexHot(IndexHot { depth: 1 }), &[&z])
        .unwrap();
    let model = b.finish(&[&h, &hz]).unwrap();
    let row = vec![-128, -33, 0, 31, 32, 127];
    let out = execute(&model, &row).unwrap().output();
    // floor(x / 32) = [-4, -2, 0, 0, 1, 3]: positions 0, 2, 0, 0, 1, 3 of 4
    let mut want = vec![0i128; 24];
    for (i, p) in [0, 2, 0, 0, 1, 3].into_iter().enumerate() {
        want[i * 4 + p] = 1;
    }
    want.extend([1; 6]);
    assert_eq!(out, want);
    check(model, 15);
    let mut b = Builder::new("past");
    let x = b.input("x", &[1, 2]);
    let h = b
        .node("h", Op::IndexHot(IndexHot { depth: 2 }), &[&x])
        .unwrap();
    let model = b.finish(&[&h]).unwrap();
    let e = execute(&model, &[1, 5]).err().unwrap().to_string();
    assert!(
        e.contains("node `h`") && e.contains("outside [-2, 2)"),
        "{e}"
    );
}

/// Rows of a constant table at computed indices (an embedding, as a tree reads its nodes): the
/// index spans rows 0 to 3 of 5, entries across int8. Both backends (halo2's lookup, R1CS's
/// one-hot selection) agree with the reference, and the witness-mutation nets run over each
/// (every R1CS variable of the selection is bound).
#[test]
fn embedding_rows_on_both_backends() {
    let mut b = Builder::new("embed");
    let x = b.input("x", &[1, 2, 3]);
    let by64 = Op::Quotient(Quotient {
        divisor: Tensor::scalar(64),
        floor: true,
    });
    let q = b.node("q", by64, &[&x]).unwrap();
    let shift = Op::Affine(Affine {
        mul: Tensor::scalar(1),
        add: Tensor::scalar(2),
    });
    let at = b.node("at", shift, &[&q]).unwrap();
    let table = Tensor::new(vec![5, 2], vec![7, -3, 127, 0, -128, 5, 12, -12, 99, 98]).unwrap();
    let e = b.node("e", Op::Embed(Embed { table }), &[&at]).unwrap();
    let model = b.finish(&[&e]).unwrap();
    // floor(x / 64) + 2 = [0, 1, 2, 2, 3, 3]
    let out = execute(&model, &[-128, -1, 0, 63, 64, 127])
        .unwrap()
        .output();
    let rows: [[i128; 2]; 4] = [[7, -3], [127, 0], [-128, 5], [12, -12]];
    let want: Vec<i128> = [0, 1, 2, 2, 3, 3].iter().flat_map(|r| rows[*r]).collect();
    assert_eq!(out, want);
    check(model, 16);
}
