//! Input files, read with [`zkinfer_prover::inputs`], quantized for a model.

use std::path::Path;

use anyhow::{anyhow, Result};
use zkinfer_circuits::graph::Model;
use zkinfer_circuits::import::data::quantized_samples;

/// The quantized samples of an input file for `model`.
pub fn read_quantized(path: &Path, model: &Model) -> Result<Vec<Vec<i64>>> {
    quantized_samples(model, &zkinfer_prover::inputs::read_rows(path)?)
        .map_err(|e| anyhow!("{}: {e}", path.display()))
}
