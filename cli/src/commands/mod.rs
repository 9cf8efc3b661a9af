//! One module per verb.

pub mod compile;
pub mod inspect;
pub mod prove;
pub mod setup;
pub mod verify;

/// Prints `value` as JSON on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}
