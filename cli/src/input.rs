//! Input files: `{"input": [[...], ...]}`, one array of floats per batch row, or EZKL's
//! `{"input_data": [[...], ...]}` so its users' inputs work unchanged.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

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
