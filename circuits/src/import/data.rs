//! Input and calibration data as users write it: our `{"input": [[sample], ...]}` (one flat array
//! per sample, every model input concatenated in order) and EZKL's `{"input_data": [[...], ...]}`
//! (one flat array per model input, several samples concatenated in each). Both are split into
//! samples here, so EZKL's data and calibration files work unchanged.

use crate::graph::{quantize_input, Model};

/// Splits arrays into samples for a model whose inputs hold `sizes` values each.
///
/// As many arrays as inputs, each a positive multiple of its input's size, and not all of one
/// sample's length, is EZKL's layout; otherwise every array is one sample.
pub fn samples(sizes: &[usize], arrays: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, String> {
    // tract runs real inputs as f32, where such a value is infinite and no scale fits it
    for (i, a) in arrays.iter().enumerate() {
        if let Some((j, v)) = a
            .iter()
            .enumerate()
            .find(|(_, v)| v.abs() > f32::MAX as f64)
        {
            return Err(format!(
                "array {i} holds {v:e} at {j}, beyond what an f32 holds"
            ));
        }
    }
    let total: usize = sizes.iter().sum();
    if arrays.is_empty() {
        return Err("no input arrays".into());
    }
    let per_input = arrays.len() == sizes.len()
        && arrays
            .iter()
            .zip(sizes)
            .all(|(a, s)| !a.is_empty() && a.len() % s == 0)
        && !arrays.iter().all(|a| a.len() == total);
    if per_input {
        let count = arrays[0].len() / sizes[0];
        if let Some((i, a)) = arrays
            .iter()
            .zip(sizes)
            .enumerate()
            .find(|(_, (a, s))| a.len() / **s != count)
            .map(|(i, (a, _))| (i, a))
        {
            return Err(format!(
                "input {i} holds {} samples, input 0 holds {count}",
                a.len() / sizes[i]
            ));
        }
        return Ok((0..count)
            .map(|k| {
                arrays
                    .iter()
                    .zip(sizes)
                    .flat_map(|(a, s)| a[k * s..(k + 1) * s].iter().copied())
                    .collect()
            })
            .collect());
    }
    if let Some((i, a)) = arrays.iter().enumerate().find(|(_, a)| a.len() != total) {
        return Err(format!(
            "sample {i} has {} values, the model expects {total}{}",
            a.len(),
            if sizes.len() > 1 {
                format!(" ({} inputs of {sizes:?})", sizes.len())
            } else {
                String::new()
            }
        ));
    }
    Ok(arrays.to_vec())
}

/// The quantized samples of `arrays` (either layout) for `model`.
pub fn quantized_samples(model: &Model, arrays: &[Vec<f64>]) -> Result<Vec<Vec<i64>>, String> {
    samples(&model.input_sizes(), arrays)?
        .iter()
        .enumerate()
        .map(|(i, x)| quantize_input(x, model).map_err(|e| format!("sample {i}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::samples;

    #[test]
    fn a_value_no_f32_holds_is_named() {
        let e = samples(&[2], &[vec![1.0, 2.4e198]]).unwrap_err();
        assert_eq!(e, "array 0 holds 2.4e198 at 1, beyond what an f32 holds");
    }

    #[test]
    fn ezkl_concatenated_samples_are_split() {
        // one input of 3 values, two samples concatenated (EZKL calibration layout)
        let s = samples(&[3], &[vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]).unwrap();
        assert_eq!(s, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
        // two inputs of 2 and 1 values, two samples each
        let s = samples(&[2, 1], &[vec![1.0, 2.0, 3.0, 4.0], vec![9.0, 8.0]]).unwrap();
        assert_eq!(s, vec![vec![1.0, 2.0, 9.0], vec![3.0, 4.0, 8.0]]);
        // our layout: one array per sample
        let s = samples(&[2, 1], &[vec![1.0, 2.0, 3.0]]).unwrap();
        assert_eq!(s, vec![vec![1.0, 2.0, 3.0]]);
        let e = samples(&[3], &[vec![1.0; 4]]).unwrap_err();
        assert!(
            e.contains("sample 0 has 4 values, the model expects 3"),
            "{e}"
        );
        assert!(samples(&[2, 1], &[vec![1.0; 4], vec![1.0; 3]]).is_err());
    }
}
