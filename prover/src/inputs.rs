//! Input and calibration files: `{"input": [[...], ...]}`, one array of numbers per sample (every
//! model input concatenated; booleans may be written `true` / `false`), or EZKL's `{"input_data": [[...], ...]}`, one array per model input
//! with samples concatenated, so its users' data and calibration files work unchanged. The arrays
//! are returned as written; the importer lays them out for the model.

use std::path::Path;

use serde_json::Value;

use crate::artifacts::read_bytes;
use crate::ProverError;

/// The arrays of an input file, as written.
pub fn read_rows(path: &Path) -> Result<Vec<Vec<f64>>, ProverError> {
    rows_of(path, &read_bytes(path)?)
}

/// The arrays of an input file's bytes (`path` names it in errors).
pub fn rows_of(path: &Path, bytes: &[u8]) -> Result<Vec<Vec<f64>>, ProverError> {
    let bad = |msg: String| ProverError::artifact(path, msg);
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let rows = v
        .get("input")
        .or_else(|| v.get("input_data"))
        .ok_or_else(|| bad("expected an \"input\" (or EZKL \"input_data\") field".into()))?;
    // a boolean input's values may be written true / false, as EZKL's files do
    let value = |v: &Value| v.as_f64().or_else(|| v.as_bool().map(f64::from));
    let rows: Vec<Vec<f64>> = rows
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .map(|r| {
                    r.as_array()?
                        .iter()
                        .map(value)
                        .collect::<Option<Vec<f64>>>()
                })
                .collect()
        })
        .ok_or_else(|| {
            bad("\"input\" must be an array of arrays of numbers (or booleans)".into())
        })?;
    if rows.is_empty() {
        return Err(bad("no input rows".into()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_are_read_and_anything_else_named() {
        let p = Path::new("in.json");
        let rows = rows_of(p, br#"{"input_data": [[true, false, 1], [0.5, -2]]}"#).unwrap();
        assert_eq!(rows, vec![vec![1.0, 0.0, 1.0], vec![0.5, -2.0]]);
        for bad in [
            r#"{"input": [["a"]]}"#,
            r#"{"input": [1, 2]}"#,
            r#"{"input": []}"#,
        ] {
            let e = rows_of(p, bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("in.json") && e.contains("input"), "{e}");
        }
    }
}
