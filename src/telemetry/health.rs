//! The health details' form of the readings: one JSON tree, built from key paths in the order
//! the parts wrote them.

use serde_json::{Map, Value};

use super::Readings;

impl Readings {
    /// The counters as `/api/v1/health` shows them, each value at its key path. A part that is
    /// off writes `null` over its sections, and nothing is written below a `null`: a section stays
    /// `null` even where another part reports into it (the pipeline counts
    /// `p2p.received_from_peers`).
    pub fn health_details(&self) -> Map<String, Value> {
        let mut root = Map::new();
        for (path, value) in &self.health {
            insert(&mut root, path, value.clone());
        }
        root
    }
}

/// Sets `path` to `value`, adding the objects on the way; does nothing below a value that is not
/// an object (a `null` section).
fn insert(root: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut object = root;
    for key in parents {
        let child = object
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        match child {
            Value::Object(map) => object = map,
            _ => return,
        }
    }
    object.insert(last.clone(), value);
}
