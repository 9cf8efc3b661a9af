//! The audit's findings: one row per artifact (what the bundle or the published terms say, what
//! was found, whether they agree), printed as a table or JSON. The audit passes when no row is a
//! mismatch; a trusted row (what cannot be rebuilt, such as a Groth16 key) says so instead of
//! passing silently.

use serde::Serialize;

/// How a row came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Found what was expected.
    Match,
    /// Found something else (or nothing).
    Mismatch,
    /// Cannot be checked; taken as published, and said so.
    Trusted,
}

/// One comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What was compared: a bundle file, a contract, a registration, a settled request.
    pub artifact: String,
    /// What the bundle says.
    pub expected: String,
    /// What the rebuild or the chain gave.
    pub found: String,
    /// Whether they agree.
    pub status: Status,
    /// Why, when that is not evident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Row {
    /// A match when `expected == found`.
    pub fn new(artifact: impl Into<String>, expected: &str, found: &str) -> Self {
        let status = if expected == found {
            Status::Match
        } else {
            Status::Mismatch
        };
        Self {
            artifact: artifact.into(),
            expected: expected.into(),
            found: found.into(),
            status,
            note: None,
        }
    }

    /// A mismatch, with why.
    pub fn mismatch(artifact: impl Into<String>, expected: &str, found: &str, note: &str) -> Self {
        Self {
            status: Status::Mismatch,
            note: Some(note.into()),
            ..Self::new(artifact, expected, found)
        }
    }

    /// Taken as published because it cannot be checked.
    pub fn trusted(artifact: impl Into<String>, value: &str, note: &str) -> Self {
        Self {
            status: Status::Trusted,
            note: Some(note.into()),
            ..Self::new(artifact, value, value)
        }
    }

    /// With a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// All rows of an audit.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The bundle audited.
    pub bundle: String,
    /// The chain, when one was audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The findings, in the order they were made.
    pub rows: Vec<Row>,
    /// True when no row is a mismatch.
    pub passed: bool,
}

impl Report {
    /// A report over `rows`.
    pub fn new(bundle: String, chain: Option<String>, rows: Vec<Row>) -> Self {
        let passed = rows.iter().all(|r| r.status != Status::Mismatch);
        Self {
            bundle,
            chain,
            rows,
            passed,
        }
    }

    /// The rows that do not match.
    pub fn mismatches(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.status == Status::Mismatch)
    }

    /// The report as an aligned text table (long values shortened; `--json` has them whole).
    pub fn table(&self) -> String {
        let short = |s: &str| -> String {
            if s.chars().count() > 20 {
                format!("{}…", s.chars().take(19).collect::<String>())
            } else {
                s.to_string()
            }
        };
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                let ok = match r.status {
                    Status::Match => "ok",
                    Status::Mismatch => "MISMATCH",
                    Status::Trusted => "trusted",
                };
                [
                    r.artifact.clone(),
                    short(&r.expected),
                    short(&r.found),
                    ok.into(),
                ]
            })
            .collect();
        let head = ["artifact", "expected", "found", "ok"].map(String::from);
        let mut width = [0; 4];
        for row in std::iter::once(&head).chain(&cells) {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |row: &[String; 4]| -> String {
            let mut s = String::new();
            for (i, (c, w)) in row.iter().zip(width).enumerate() {
                if i < 3 {
                    s.push_str(&format!("{c:<w$}  "));
                } else {
                    s.push_str(c);
                }
            }
            s
        };
        let mut out = line(&head);
        out.push('\n');
        for (cells, row) in cells.iter().zip(&self.rows) {
            out.push_str(&line(cells));
            if let (Some(note), Status::Mismatch | Status::Trusted) = (&row.note, row.status) {
                out.push_str(&format!("  ({note})"));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mismatch_fails_the_report_and_trusted_rows_do_not() {
        let ok = Row::new("a", "x", "x");
        let trusted = Row::trusted("vk.bin", "y", "cannot be rebuilt");
        assert!(Report::new("b".into(), None, vec![ok.clone(), trusted.clone()]).passed);
        let bad = Row::new("c", "x", "z");
        assert_eq!(bad.status, Status::Mismatch);
        let r = Report::new("b".into(), None, vec![ok, trusted, bad]);
        assert!(!r.passed);
        assert_eq!(r.mismatches().count(), 1);
        let table = r.table();
        assert!(
            table.contains("MISMATCH") && table.contains("trusted"),
            "{table}"
        );
    }
}
