//! The ops on lookups, table and softmax, through the checks of `op_nets` (reference and halo2
//! agree, a changed output is refused, the mutation nets run, Groth16 refuses them by node),
//! several tables in one circuit told apart by their tags, and the bounds rule that keeps every
//! input inside its table.

mod op_nets;

use op_nets::{check, rescale, tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::graph::{execute, Builder};
use zkinfer_circuits::halo2::Plan;
use zkinfer_circuits::ops::{einsum::Einsum, softmax::Softmax, table::Table, Op};

/// A table over all of int8 of a function without symmetry, so that a lookup under the wrong
/// tag or key gives another value.
fn table(func: &str, k: i64) -> Op {
    Op::Table(Table {
        func: func.into(),
        first: -128,
        values: (-128i64..128).map(|x| (x * x * k / 97 + x) % 128).collect(),
    })
}

#[test]
fn tables_agree_and_each_lookup_is_bound_to_its_own_table() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut b = Builder::new("tables");
    let x = b.input("x", &[1, 6]);
    let f = b.node("f", table("f", 3), &[&x]).unwrap();
    let g = b.node("g", table("g", -5), &[&f]).unwrap();
    // the same table again: one set of entries, one tag
    let f2 = b.node("f2", table("f", 3), &[&g]).unwrap();
    let mm = Op::Einsum(Einsum {
        input_axes: "bk".into(),
        weight_axes: "kn".into(),
        output_axes: "bn".into(),
        weights: tensor(&mut rng, &[6, 4], 127),
        bias: None,
    });
    let acc = b.node("mm", mm, &[&f2]).unwrap();
    let y = b.node("y", rescale(16), &[&acc]).unwrap();
    let t = b.node("t", table("t", 7), &[&y]).unwrap();
    let model = b.finish(&[&t, &f]).unwrap();
    assert_eq!(model.tables().len(), 3);
    let plan = Plan::new(model.clone(), 1).unwrap();
    assert!(plan.shape.lookups);
    // the reference is the table
    let row = vec![5, -128, 127, 0, -1, 64];
    let out = execute(&model, &row).unwrap().output();
    let entry = |x: i64, k: i64| ((x * x * k / 97 + x) % 128) as i128;
    assert_eq!(
        out[4..],
        row.iter().map(|v| entry(*v, 3)).collect::<Vec<_>>()[..]
    );
    check(model, 21);
}

#[test]
fn an_input_that_may_leave_the_domain_is_refused_by_node() {
    let mut b = Builder::new("narrow");
    let x = b.input("x", &[1, 3]);
    let narrow = Op::Table(Table {
        func: "narrow".into(),
        first: -100,
        values: vec![0; 200],
    });
    b.node("n", narrow, &[&x]).unwrap();
    let e = b.finish(&["n"]).err().unwrap().to_string();
    assert!(
        e.contains("node `n` (table)") && e.contains("outside the table's domain [-100, 99]"),
        "{e}"
    );
    let mut b = Builder::new("empty");
    let x = b.input("x", &[1, 3]);
    let empty = Op::Table(Table {
        func: "none".into(),
        first: 0,
        values: vec![],
    });
    let e = b.node("e", empty, &[&x]).err().unwrap().to_string();
    assert!(e.contains("none: 0 entries"), "{e}");
}

/// Softmax with the front end's constants for an input at scale `s`.
fn softmax(axes: &[usize], s: f64, first: i64) -> Op {
    Op::Softmax(Softmax {
        axes: axes.to_vec(),
        first,
        exp: (first..=0)
            .map(|d| ((d as f64 / s).exp() * 65536.0).round() as i64)
            .collect(),
        out: 127,
        keep: None,
    })
}

#[test]
fn softmax_rows_are_normalised_on_any_axis() {
    let mut b = Builder::new("softmax");
    let x = b.input("x", &[1, 3, 4]);
    let last = b.node("last", softmax(&[2], 20.0, -255), &[&x]).unwrap();
    let mid = b.node("mid", softmax(&[1], 8.0, -255), &[&x]).unwrap();
    let both = b.node("both", softmax(&[1, 2], 30.0, -255), &[&x]).unwrap();
    let model = b.finish(&[&last, &mid, &both]).unwrap();
    assert_eq!(model.tables().len(), 3);
    let row: Vec<i64> = vec![5, -128, 127, 0, -1, 64, 64, 3, 100, -100, 20, 21];
    let out = execute(&model, &row).unwrap().output();
    // each probability is e_j / Σe at scale 127, rounded: a row sums to 127 within its rounding
    let sums: Vec<i128> = out[..12].chunks(4).map(|r| r.iter().sum()).collect();
    assert!(sums.iter().all(|s| (125..=129).contains(s)), "{sums:?}");
    let e: Vec<f64> = row[..4].iter().map(|v| (*v as f64 / 20.0).exp()).collect();
    let total: f64 = e.iter().sum();
    for (p, e) in out[..4].iter().zip(&e) {
        assert!((*p as f64 - 127.0 * e / total).abs() <= 0.6, "{out:?}");
    }
    check(model, 31);
}

/// A causal mask: masked outputs are 0, each row's kept probabilities are a softmax of its
/// kept scores alone, so a masked score cannot leak in (changing one changes nothing); the nets
/// hold; a mask that empties a row, or has other entries than 0 and 1, is refused.
#[test]
fn a_masked_softmax_sees_only_its_kept_scores() {
    let causal = |keep: Vec<i64>| {
        let Op::Softmax(mut s) = softmax(&[2], 16.0, -255) else {
            unreachable!()
        };
        s.keep = Some(zkinfer_circuits::graph::Tensor::new(vec![1, 4, 4], keep).unwrap());
        Op::Softmax(s)
    };
    let tril: Vec<i64> = (0..16).map(|i| i64::from(i % 4 <= i / 4)).collect();
    let mut b = Builder::new("masked_softmax");
    let x = b.input("x", &[1, 4, 4]);
    let p = b.node("p", causal(tril.clone()), &[&x]).unwrap();
    let model = b.finish(&[&p]).unwrap();
    let mut row: Vec<i64> = vec![
        5, -128, 127, 0, -1, 64, 64, 3, 100, -100, 20, 21, 7, 7, -7, 90,
    ];
    let out = execute(&model, &row).unwrap().output();
    for r in 0..4 {
        let kept = &row[r * 4..r * 4 + r + 1];
        let e: Vec<f64> = kept.iter().map(|v| (*v as f64 / 16.0).exp()).collect();
        let total: f64 = e.iter().sum();
        for (j, p) in out[r * 4..r * 4 + 4].iter().enumerate() {
            let want = if j <= r { 127.0 * e[j] / total } else { 0.0 };
            assert!((*p as f64 - want).abs() <= 0.6, "row {r}: {out:?}");
        }
    }
    // the future scores of row 0, however large, change nothing
    row[1..4].copy_from_slice(&[127, 127, 127]);
    assert_eq!(execute(&model, &row).unwrap().output(), out);
    check(model, 37);
    for (keep, why) in [
        ((0..16).map(|i| i64::from(i >= 4)).collect(), "no element"),
        (vec![2; 16], "0 or 1"),
    ] {
        let mut b = Builder::new("bad_mask");
        let x = b.input("x", &[1, 4, 4]);
        let e = b.node("p", causal(keep), &[&x]).err().unwrap().to_string();
        assert!(e.contains("node `p` (softmax)") && e.contains(why), "{e}");
    }
}

#[test]
fn softmax_differences_outside_its_table_are_refused() {
    let mut b = Builder::new("narrow_softmax");
    let x = b.input("x", &[1, 4]);
    b.node("p", softmax(&[1], 10.0, -100), &[&x]).unwrap();
    let e = b.finish(&["p"]).err().unwrap().to_string();
    assert!(
        e.contains("node `p` (softmax)") && e.contains("leave the exp table's domain [-100, 0]"),
        "{e}"
    );
}
