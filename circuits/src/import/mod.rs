//! ONNX → quantized IR. [`onnx`] reads a float MLP (Gemm, MatMul + Add, Relu, Flatten/Reshape)
//! through tract-onnx's protobuf types, [`calibrate`] fixes every scale on a calibration set, and
//! [`float`] runs the original model in tract so the accuracy of the quantized model is reported.

pub mod calibrate;
pub mod float;
pub mod onnx;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{execute, quantize_input, Model, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: cannot read ONNX model: {msg}")]
    Malformed { path: String, msg: String },
    #[error("{path}: unsupported op `{op}` at node `{node}` (supported: Gemm, MatMul, Add, Relu, Flatten, Reshape, Identity, Dropout)")]
    UnsupportedOp {
        path: String,
        op: String,
        node: String,
    },
    #[error("{path}: node `{node}` ({op}): {msg}")]
    Node {
        path: String,
        node: String,
        op: String,
        msg: String,
    },
    #[error("calibration: {0}")]
    Calibration(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Float vs quantized outputs over the calibration set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    pub samples: usize,
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    /// Fraction of samples whose argmax agrees.
    pub argmax_agreement: f64,
}

pub struct Imported {
    pub model: Model,
    pub accuracy: AccuracyReport,
}

/// Imports, calibrates and measures accuracy against tract's float execution.
pub fn compile(path: &Path, calibration: &[Vec<f64>]) -> Result<Imported, ImportError> {
    let net = onnx::parse(path)?;
    let model = calibrate::calibrate(&net, calibration)?;
    let float_out = float::run(path, &net.input_dims, calibration)?;
    let mut report = AccuracyReport {
        samples: calibration.len(),
        max_abs_error: 0.0,
        mean_abs_error: 0.0,
        argmax_agreement: 0.0,
    };
    let (mut sum, mut count, mut agree) = (0.0, 0usize, 0usize);
    for (x, want) in calibration.iter().zip(&float_out) {
        let q = quantize_input(x, &model.input)?;
        let got: Vec<f64> = execute(&model, &q)?
            .output()
            .iter()
            .map(|v| *v as f64 / model.output_scale)
            .collect();
        for (g, w) in got.iter().zip(want) {
            let e = (g - w).abs();
            report.max_abs_error = report.max_abs_error.max(e);
            sum += e;
            count += 1;
        }
        agree += (argmax(&got) == argmax(want)) as usize;
    }
    report.mean_abs_error = sum / count.max(1) as f64;
    report.argmax_agreement = agree as f64 / calibration.len().max(1) as f64;
    Ok(Imported {
        model,
        accuracy: report,
    })
}

/// Index of the largest value; ties go to the lowest index.
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}
