//! todo
pub fn fmt_value(v: f64) -> String { format!("{v}") }
