//! A graph the IR must refuse is refused with an error that names the node: dangling edges,
//! cycles, recorded shapes the op does not compute, bounds that could wrap the field or `i128`,
//! outputs that are not int8, unknown versions; and `model.json` round-trips, validated on load.

use zkinfer_circuits::graph::{Builder, Model, Tensor};
use zkinfer_circuits::ops::{affine::Affine, einsum::Einsum, reduce, relu::Relu, Op};

/// `n` affine nodes after `from`, each multiplying by `k`: bounds that grow by `log2 k` bits each.
fn scaled(b: &mut Builder, from: &str, prefix: &str, n: usize, k: i64) -> String {
    let mut cur = from.to_string();
    for i in 0..n {
        let a = Op::Affine(Affine {
            mul: Tensor::new(vec![], vec![k]).unwrap(),
            add: Tensor::new(vec![], vec![0]).unwrap(),
        });
        cur = b.node(&format!("{prefix}{i}"), a, &[&cur]).unwrap();
    }
    cur
}

#[test]
fn bad_graphs_are_named_errors() {
    use zkinfer_circuits::graph::{Graph, GraphError};
    let mut b = Builder::new("bad");
    let x = b.input("x", &[1, 4]);
    let r = b.node("r", Op::Relu(Relu {}), &[&x]).unwrap();
    let good = b.graph(&[&r]);
    let err = |g: Graph| Model::new(g).expect_err("rejected").to_string();
    // a dangling edge
    let mut g = good.clone();
    g.nodes[0].inputs = vec!["nowhere".into()];
    assert!(
        err(g).contains("node `r` (relu): input `nowhere` is no tensor"),
        "dangling"
    );
    // a cycle
    let mut g = good.clone();
    g.nodes.push(g.nodes[0].clone());
    g.nodes[0].inputs = vec!["r2".into()];
    g.nodes[1].name = "r2".into();
    g.nodes[1].inputs = vec!["r".into()];
    let e = err(g);
    assert!(e.contains("is on a cycle"), "{e}");
    // a recorded shape the op does not compute
    let mut g = good.clone();
    g.nodes[0].shape = vec![1, 5];
    assert!(err(g).contains("computes shape [1, 4] but the graph records [1, 5]"));
    // an accumulator that could wrap: 2^100 bound exceeded
    let mut b = Builder::new("wide");
    let x = b.input("x", &[1, 1]);
    let cur = scaled(&mut b, &x, "a", 5, 1 << 24);
    let e = b.finish(&[&cur]).err().unwrap();
    assert!(
        matches!(e, GraphError::Node { ref node, .. } if node == "a3"),
        "{e}"
    );
    // bounds beyond i128 are refused, not wrapped: 2^99 inputs times 2^24 weights, 2^12 terms
    let mut b = Builder::new("wrap");
    let x = b.input("x", &[1, 4096]);
    let cur = scaled(&mut b, &x, "w", 4, 1 << 23);
    let e = Op::Einsum(Einsum {
        input_axes: "bk".into(),
        weight_axes: "k".into(),
        output_axes: "b".into(),
        weights: Tensor::new(vec![4096], vec![1 << 24; 4096]).unwrap(),
        bias: None,
    });
    b.node("sum", e, &[&cur]).unwrap();
    let e = b.finish(&["sum"]).err().unwrap().to_string();
    assert!(e.contains("node `sum`") && e.contains("2^127"), "{e}");
    // an output that is not int8
    let mut b = Builder::new("wide_out");
    let x = b.input("x", &[1, 2]);
    let s = b
        .node(
            "s",
            Op::ReduceSum(reduce::ReduceSum(reduce::Axes {
                axes: vec![1],
                keepdims: false,
            })),
            &[&x],
        )
        .unwrap();
    assert!(b
        .finish(&[&s])
        .err()
        .unwrap()
        .to_string()
        .contains("must end in a rescale"));
    // an unknown IR version
    let mut g = good;
    g.version = 99;
    assert!(err(g).contains("unsupported IR version 99"));
}

#[test]
fn model_json_round_trips_and_validates_on_load() {
    let mut b = Builder::new("json");
    let x = b.input("x", &[1, 2]);
    let r = b.node("r", Op::Relu(Relu {}), &[&x]).unwrap();
    let model = b.finish(&[&r]).unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let back: Model = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    let broken = json.replace("\"inputs\":[\"x\"]", "\"inputs\":[\"y\"]");
    let e = serde_json::from_str::<Model>(&broken)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("input `y` is no tensor"), "{e}");
}
