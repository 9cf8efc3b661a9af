//! Input files: `{"input": [[...], ...]}`, one array of floats per sample (every model input
//! concatenated), or EZKL's `{"input_data": [[...], ...]}`, one array per model input with
//! samples concatenated, so its users' data and calibration files work unchanged.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use zkinfer_circuits::graph::Model;
use zkinfer_circuits::import::data::quantized_samples;

/// The arrays of an input file, as written.
pub fn read_rows(path: &Path) -> Result<Vec<Vec<f64>>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let v: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
    let rows = v
        .get("input")
        .or_else(|| v.get("input_data"))
        .with_context(|| {
            format!(
                "{}: expected an \"input\" (or EZKL \"input_data\") field",
                path.display()
            )
        })?;
    let rows: Vec<Vec<f64>> = serde_json::from_value(rows.clone()).with_context(|| {
        format!(
            "{}: \"input\" must be an array of arrays of numbers",
            path.display()
        )
    })?;
    if rows.is_empty() {
        bail!("{}: no input rows", path.display());
    }
    Ok(rows)
}

/// The quantized samples of an input file for `model`.
pub fn read_quantized(path: &Path, model: &Model) -> Result<Vec<Vec<i64>>> {
    quantized_samples(model, &read_rows(path)?).map_err(|e| anyhow!("{}: {e}", path.display()))
}
