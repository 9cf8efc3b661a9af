//! Rewrites of snark-verifier's generated Solidity (Yul in a fallback) that keep what it
//! computes and only change where its code lives: [`split_verifier`] cuts it into contracts under
//! EIP-170, [`shrink`] makes it smaller. Each works on the text at statement or function
//! boundaries it checks, and refuses (or leaves the code as it was) when the text is not shaped
//! as it expects, so a new generator version cannot be rewritten silently into something else.
//! Every contract a verifier is split into costs a cold call and a copy of the memory it hands
//! over (15k gas for the MLP), so bytes saved can save a part.

use crate::ContractsError;

/// The BN254 base-field modulus as the generator writes it.
const F_P: &str = "0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";

/// Where the generator's assembly body ends: the final check of `success`.
const END: &str = "// Revert if anything fails";

/// The scalar-field modulus r and its neighbours as decimal literals, with the expressions of
/// the body's `f_q` (which is r) that stand for them.
const R_FAMILY: [(&str, &str); 3] = [
    (
        "21888242871839275222246405745257275088548364400416034343698204186575808495617",
        "f_q",
    ),
    (
        "21888242871839275222246405745257275088548364400416034343698204186575808495616",
        "sub(f_q, 1)",
    ),
    (
        "21888242871839275222246405745257275088548364400416034343698204186575808495615",
        "sub(f_q, 2)",
    ),
];

/// Both rewrites below: the same verifier in about 320 bytes less code a contract.
pub fn shrink(code: &str) -> String {
    literals_of_r(&share_modulus(code))
}

/// The byte range of the function `name`'s definition in `code`, through its closing brace.
fn function_span(code: &str, name: &str) -> Option<(usize, usize)> {
    let start = code.find(&format!("function {name}"))?;
    let mut depth = 0i32;
    for (i, ch) in code[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((start, start + i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The curve-point check `validate_ec_point` with the modulus held in one local instead of five
/// 32-byte literals: 132 bytes less code in every contract that holds it, the same result (a
/// `DUP` reads the local where a `PUSH32` read the literal, both 3 gas). It is what brings
/// the MLP's gas-layout verifier (24,591 bytes in one contract) under EIP-170's 24,576, saving
/// the cold call to a second part on every verification.
fn share_modulus(code: &str) -> String {
    let Some((start, end)) = function_span(code, "validate_ec_point") else {
        return code.to_string();
    };
    let func = &code[start..end];
    let Some(open) = func.find('{') else {
        return code.to_string();
    };
    if func.contains("let p ") || !func.contains(F_P) {
        return code.to_string();
    }
    let body = func[open + 1..].replace(F_P, "p");
    format!(
        "{}{}\n                let p := {F_P}{}{}",
        &code[..start],
        &func[..=open],
        body,
        &code[end..]
    )
}

/// The body's top-level statements with r, r − 1 and r − 2 read from its `f_q` instead of
/// written as 32-byte literals (33 bytes of code each; `f_q` is one `DUP`, its neighbours a
/// `DUP`, a `PUSH1` and a `SUB`): r and r − 2 are the modulus and exponent of every inversion
/// by the modexp precompile, r − 1 is −1. Only statements outside every block are rewritten,
/// where the stack holds nothing but the body's three variables, so the extra operand cannot
/// put a variable out of `DUP`'s reach.
fn literals_of_r(code: &str) -> String {
    let Some((_, body_start)) = function_span(code, "validate_ec_point") else {
        return code.to_string();
    };
    let Some(body_end) = code.find(END) else {
        return code.to_string();
    };
    if body_end < body_start || !code[..body_start].contains("let f_q := ") {
        return code.to_string();
    }
    let mut out = String::with_capacity(code.len());
    out.push_str(&code[..body_start]);
    let mut depth = 0i32;
    for line in code[body_start..body_end].split_inclusive('\n') {
        let mut line = line.to_string();
        if depth == 0 {
            for (literal, expr) in R_FAMILY {
                line = replace_token(&line, literal, expr);
            }
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        out.push_str(&line);
    }
    out.push_str(&code[body_end..]);
    out
}

/// `text` with every whole-number occurrence of the decimal `literal` (not part of a longer
/// run of digits or a name) replaced by `expr`.
fn replace_token(text: &str, literal: &str, expr: &str) -> String {
    let bytes = text.as_bytes();
    let word = |i: usize| bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_';
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (i, _) in text.match_indices(literal) {
        let end = i + literal.len();
        if (i > 0 && word(i - 1)) || (end < bytes.len() && word(end)) {
            continue;
        }
        out.push_str(&text[rest..i]);
        out.push_str(expr);
        rest = end;
    }
    out.push_str(&text[rest..]);
    out
}

/// Splits snark-verifier's contract into `parts` contracts at top-level statements of its assembly
/// body, balanced by length. Everything the body keeps between statements lives in memory (the
/// only top-level variables are `success`, which each part checks before returning, and the
/// constants `f_p`, `f_q`, which every part declares), so each later part resumes exactly where
/// the previous stopped once it has copied that memory back from its calldata at `state_offset`.
pub fn split_verifier(
    code: &str,
    parts: usize,
    state_offset: usize,
    name: &str,
) -> Result<Vec<String>, ContractsError> {
    let unexpected =
        |what: &str| ContractsError::Compile(format!("unexpected snark-verifier output: {what}"));
    // The body starts after the helper function's closing brace.
    let (_, body_start) = function_span(code, "validate_ec_point")
        .ok_or_else(|| unexpected("no validate_ec_point"))?;
    let body_end = code.find(END).ok_or_else(|| unexpected("no final check"))?;
    let (head, body, tail) = (
        &code[..body_start],
        &code[body_start..body_end],
        &code[body_end..],
    );
    if parts <= 1 {
        return Ok(vec![code.replace(
            "contract Halo2Verifier ",
            &format!("contract {name}Part0 "),
        )]);
    }
    // Top-level statement boundaries (byte offsets into `body`).
    let mut bounds = vec![0usize];
    let mut depth = 0i32;
    let mut offset = 0usize;
    for line in body.split_inclusive('\n') {
        let t = line.trim_start();
        if depth == 0 && (t.starts_with("let ") || t.starts_with("function ")) {
            return Err(unexpected("a top-level variable in the body"));
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        offset += line.len();
        if depth == 0 {
            bounds.push(offset);
        }
    }
    let mut cuts = vec![0usize];
    for p in 1..parts {
        let target = body.len() * p / parts;
        let cut = *bounds.iter().find(|&&b| b >= target).unwrap_or(&body.len());
        cuts.push(cut.max(*cuts.last().expect("non-empty")));
    }
    cuts.push(body.len());
    let restore = format!(
        "\n            calldatacopy(0, {state_offset:#x}, sub(calldatasize(), {state_offset:#x}))\n"
    );
    let hand_over = "\n            if iszero(success) { revert(0, 0) }\n            return(0, msize())\n        }\n    }\n}\n";
    Ok((0..parts)
        .map(|i| {
            let head = head.replace(
                "contract Halo2Verifier ",
                &format!("contract {name}Part{i} "),
            );
            let chunk = &body[cuts[i]..cuts[i + 1]];
            let start = if i == 0 {
                String::new()
            } else {
                restore.clone()
            };
            let end = if i + 1 == parts {
                tail.to_string()
            } else {
                hand_over.to_string()
            };
            format!("{head}{start}{chunk}{end}")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{share_modulus, shrink, split_verifier, R_FAMILY};

    const CODE: &str = "contract Halo2Verifier {\n    fallback(bytes calldata) external returns (bytes memory) {\n        assembly {\n            let success := true\n            function validate_ec_point(x, y) -> valid {\n                valid := 1\n            }\n            mstore(0x80, 1)\n        {\n            let x := calldataload(0xa0)\n            mstore(0xa0, x)\n        }\nmstore(0xc0, 2)\nmstore(0xe0, 3)\n            // Revert if anything fails\n            if iszero(success) { revert(0, 0) }\n            return(0, 0)\n        }\n    }\n}\n";

    #[test]
    fn splits_at_top_level_statements_and_hands_memory_over() {
        let parts = split_verifier(CODE, 2, 0x1e0, "Halo2Verifier").unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].contains("contract Halo2VerifierPart0 "));
        assert!(parts[0].contains("return(0, msize())") && !parts[0].contains("calldatacopy"));
        assert!(parts[1].contains("calldatacopy(0, 0x1e0, sub(calldatasize(), 0x1e0))"));
        assert!(parts[1].contains("return(0, 0)"));
        // Every statement lands in exactly one part, and a block is never cut.
        for stmt in [
            "mstore(0x80, 1)",
            "mstore(0xa0, x)",
            "mstore(0xc0, 2)",
            "mstore(0xe0, 3)",
        ] {
            assert_eq!(
                parts.iter().filter(|p| p.contains(stmt)).count(),
                1,
                "{stmt}"
            );
        }
        for p in &parts {
            assert_eq!(p.matches('{').count(), p.matches('}').count());
        }
    }

    #[test]
    fn refuses_to_split_code_with_top_level_variables() {
        let code = CODE.replace("mstore(0xc0, 2)", "let t := 2");
        assert!(split_verifier(&code, 2, 0x1e0, "Halo2Verifier").is_err());
        assert_eq!(
            split_verifier(&code, 1, 0x1e0, "Halo2Verifier")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn the_modulus_is_one_local_of_the_point_check() {
        let p = super::F_P;
        let code = format!(
            "let f_p := {p}\n            function validate_ec_point(x, y) -> valid {{\n                {{\n                    valid := and(lt(x, {p}), lt(y, {p}))\n                }}\n                {{\n                    let y_square := mulmod(y, y, {p})\n                }}\n            }}\n            mstore(0x80, {p})\n"
        );
        let shared = share_modulus(&code);
        let (start, end) = super::function_span(&shared, "validate_ec_point").unwrap();
        let func = &shared[start..end];
        assert_eq!(func.matches(p).count(), 1, "{func}");
        assert!(func.contains(&format!("let p := {p}")));
        assert!(func.contains("lt(x, p), lt(y, p)") && func.contains("mulmod(y, y, p)"));
        // nothing outside the function changes
        assert_eq!(shared[..start], code[..start]);
        assert!(shared.ends_with(&format!("mstore(0x80, {p})\n")));
        assert_eq!(shared.matches('{').count(), code.matches('{').count());
        // applied twice, or to code without the helper, it changes nothing
        assert_eq!(share_modulus(&shared), shared);
        assert_eq!(share_modulus("mstore(0, 1)"), "mstore(0, 1)");
    }

    #[test]
    fn literals_of_r_become_f_q_at_top_level_only() {
        let [(r, _), (r1, _), (r2, _)] = R_FAMILY;
        let code = format!(
            "let f_q := 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001\n            function validate_ec_point(x, y) -> valid {{\n                valid := 1\n            }}\nmstore(0x80, {r2})\nmstore(0xa0, {r})\nmstore(0xc0, addmod(mload(0x40), {r1}, f_q))\n        {{\n            mstore(0xe0, {r1})\n        }}\nmstore(0x100, 9{r})\n            // Revert if anything fails\n            mstore(0x120, {r})\n"
        );
        let out = shrink(&code);
        assert!(out.contains("mstore(0x80, sub(f_q, 2))"), "{out}");
        assert!(out.contains("mstore(0xa0, f_q)"));
        assert!(out.contains("mstore(0xc0, addmod(mload(0x40), sub(f_q, 1), f_q))"));
        // inside a block, in a longer number and after the body: as they were
        assert!(out.contains(&format!("mstore(0xe0, {r1})")));
        assert!(out.contains(&format!("mstore(0x100, 9{r})")));
        assert!(out.contains(&format!("mstore(0x120, {r})")));
        assert_eq!(shrink(&out), out);
        // without `f_q` in the head there is nothing to read r from
        let no_f_q = code.replace("let f_q", "let g_q");
        assert_eq!(shrink(&no_f_q), no_f_q);
    }
}
