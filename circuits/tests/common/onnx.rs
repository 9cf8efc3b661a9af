//! A small ONNX writer for tests: a graph of named nodes over named tensors, float or int64
//! initializers, inputs with concrete shapes, and attributes, written with opset 13 unless told
//! otherwise; the halo2 check every compiled test model passes, and the compile-and-prove
//! check of a graph written here on both backends. Each test file uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use halo2_proofs::dev::MockProver;
use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tract_onnx::pb::{self, attribute_proto::AttributeType};
use zkinfer_circuits::graph::{quantize_input, Model};
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::groth16::{Groth16Circuit, F};
use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::import::{compile, Imported, Options};
use zkinfer_circuits::Fr;

/// The compiled `model` on the real sample `x` satisfies its halo2 circuit (MockProver);
/// returns the witness, for the other backend.
pub fn halo2_accepts(model: &Model, x: &[f64]) -> Witness {
    let w = Witness {
        rows: vec![quantize_input(x, model).unwrap()],
        request_id: Fr::from(3),
        salt: Fr::from(9),
    };
    let plan = Arc::new(Plan::new(model.clone(), 1).unwrap());
    let (circuit, run) = ModelCircuit::prepare(plan.clone(), w.clone()).unwrap();
    let inst = run.statement.instances().to_vec();
    if let Err(e) = MockProver::run(plan.k, &circuit, vec![inst])
        .unwrap()
        .verify()
    {
        panic!("{}: {:?}", model.name(), &e[..e.len().min(3)]);
    }
    w
}

/// Compiles `net` on `samples`; the error's message where it is refused.
pub fn compile_on(net: &Net, name: &str, samples: &[Vec<f64>]) -> Result<Imported, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = net.write(dir.path(), name);
    compile(&path, samples, &Options::default()).map_err(|e| e.to_string())
}

/// Compiles `net` on 24 random samples in `[-1, 1]` of `size` values; the model and the first
/// sample.
fn compiled_on_random(net: &Net, name: &str, size: usize, seed: u64) -> (Imported, Vec<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = net.write(dir.path(), name);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let samples: Vec<Vec<f64>> = (0..24)
        .map(|_| (0..size).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let imported =
        compile(&path, &samples, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    (imported, samples.into_iter().next().unwrap())
}

/// Compiles `net` on 24 random samples in `[-1, 1]` of `size` values; the first satisfies both
/// backends.
pub fn compiled(net: &Net, name: &str, size: usize, seed: u64) -> Imported {
    let (imported, x) = compiled_on_random(net, name, size, seed);
    proves(&imported.model, &x);
    imported
}

/// As [`compiled`], for a model with tables: the first sample satisfies the halo2 circuit.
pub fn compiled_halo2(net: &Net, name: &str, size: usize, seed: u64) -> Imported {
    let (imported, x) = compiled_on_random(net, name, size, seed);
    halo2_accepts(&imported.model, &x);
    imported
}

pub fn ops(i: &Imported) -> Vec<&'static str> {
    i.model.graph().nodes.iter().map(|n| n.op.name()).collect()
}

/// Every output within `tol` (real units) of tract's float run.
pub fn within(i: &Imported, tol: f64) {
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= tol, "{}: {o:?}", i.model.name());
    }
}

/// The compiled model on `x` satisfies the halo2 circuit and the R1CS with the same statement.
pub fn proves(model: &Model, x: &[f64]) {
    let w = halo2_accepts(model, x);
    let shape = Arc::new(Shape::new(model.clone(), 1).unwrap());
    let (g16, _) = Groth16Circuit::prepare(shape, w).unwrap();
    let cs = ConstraintSystem::<F>::new_ref();
    g16.generate_constraints(cs.clone()).unwrap();
    assert!(cs.is_satisfied().unwrap(), "{}: R1CS", model.name());
}

/// An ONNX graph under construction.
#[derive(Default)]
pub struct Net {
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
    inputs: Vec<pb::ValueInfoProto>,
    outputs: Vec<pb::ValueInfoProto>,
    opset: Option<i64>,
}

fn value_info(name: &str, dims: Option<&[i64]>) -> pb::ValueInfoProto {
    typed_info(name, dims, 1)
}

fn typed_info(name: &str, dims: Option<&[i64]>, elem_type: i32) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension, Dimension};
    let r#type = dims.map(|dims| pb::TypeProto {
        value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
            elem_type,
            shape: Some(pb::TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|d| Dimension {
                        value: Some(dimension::Value::DimValue(*d)),
                        ..Default::default()
                    })
                    .collect(),
            }),
        })),
        ..Default::default()
    });
    pb::ValueInfoProto {
        name: name.into(),
        r#type,
        ..Default::default()
    }
}

impl Net {
    /// Writes the model with `version` of the default domain instead of 13.
    pub fn opset(&mut self, version: i64) -> &mut Self {
        self.opset = Some(version);
        self
    }

    /// A float input of shape `dims`.
    pub fn input(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.inputs.push(value_info(name, Some(dims)));
        self
    }

    /// An int64 input (token ids) of shape `dims`.
    pub fn input_i64(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.inputs.push(typed_info(name, Some(dims), 7));
        self
    }

    /// A double input of shape `dims` (as scikit-learn's converters write them).
    pub fn input_f64(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.inputs.push(typed_info(name, Some(dims), 11));
        self
    }

    /// A double initializer.
    pub fn init_f64(&mut self, name: &str, dims: &[i64], data: Vec<f64>) -> &mut Self {
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: 11,
            double_data: data,
            ..Default::default()
        });
        self
    }

    /// A boolean input of shape `dims`.
    pub fn input_bool(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.inputs.push(typed_info(name, Some(dims), 9));
        self
    }

    /// A float initializer.
    pub fn init(&mut self, name: &str, dims: &[i64], data: Vec<f32>) -> &mut Self {
        assert_eq!(dims.iter().product::<i64>() as usize, data.len(), "{name}");
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: 1,
            float_data: data,
            ..Default::default()
        });
        self
    }

    /// An int64 initializer (indices, repeats, split sizes).
    pub fn init_i64(&mut self, name: &str, dims: &[i64], data: Vec<i64>) -> &mut Self {
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: 7,
            int64_data: data,
            ..Default::default()
        });
        self
    }

    /// An int8 (`unsigned`: uint8) initializer, as quantizers write weights and zero points.
    pub fn init_i8(
        &mut self,
        name: &str,
        dims: &[i64],
        data: Vec<i32>,
        unsigned: bool,
    ) -> &mut Self {
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: if unsigned { 2 } else { 3 },
            int32_data: data,
            ..Default::default()
        });
        self
    }

    /// A node `op(inputs) -> outputs`, named after its first output.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<pb::AttributeProto>,
    ) -> &mut Self {
        self.nodes.push(pb::NodeProto {
            op_type: op.into(),
            name: format!("{op}_{}", outputs[0]),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self
    }

    /// One attention head over `x` `[1, L, D]` as exporters write it: `q`, `k`, `v` by the
    /// weights `w`, `kt` the transpose of `k` and `s = q · kt`, the unscaled scores.
    pub fn scores(&mut self, x: &str, w: [&str; 3]) -> &mut Self {
        self.node("MatMul", &[x, w[0]], &["q"], vec![])
            .node("MatMul", &[x, w[1]], &["k"], vec![])
            .node("MatMul", &[x, w[2]], &["v"], vec![])
            .node("Transpose", &["k"], &["kt"], vec![ints("perm", &[0, 2, 1])])
            .node("MatMul", &["q", "kt"], &["s"], vec![])
    }

    /// A graph output, its shape left to inference.
    pub fn output(&mut self, name: &str) -> &mut Self {
        self.outputs.push(value_info(name, None));
        self
    }

    /// A float graph output declared with shape `dims`.
    pub fn output_shaped(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.outputs.push(value_info(name, Some(dims)));
        self
    }

    /// Writes the model to `dir/name.onnx`.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let graph = pb::GraphProto {
            name: name.into(),
            node: self.nodes.clone(),
            initializer: self.inits.clone(),
            input: self.inputs.clone(),
            output: self.outputs.clone(),
            ..Default::default()
        };
        let model = pb::ModelProto {
            ir_version: 8,
            graph: Some(graph),
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: self.opset.unwrap_or(13),
            }],
            ..Default::default()
        };
        let path = dir.join(format!("{name}.onnx"));
        std::fs::write(&path, model.encode_to_vec()).unwrap();
        path
    }
}

fn attr(name: &str, t: AttributeType) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: t as i32,
        ..Default::default()
    }
}

/// An int attribute.
pub fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        i: v,
        ..attr(name, AttributeType::Int)
    }
}

/// A float attribute.
pub fn float(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        f: v,
        ..attr(name, AttributeType::Float)
    }
}

/// An ints attribute.
pub fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        ints: v.to_vec(),
        ..attr(name, AttributeType::Ints)
    }
}

/// A string attribute.
pub fn string(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        s: v.as_bytes().to_vec(),
        ..attr(name, AttributeType::String)
    }
}
