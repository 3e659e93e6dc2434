//! The field registry: every field the rules may use, with its type and an extractor
//! over the event model.

pub mod value;

pub use value::{FieldType, Value};
