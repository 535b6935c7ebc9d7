//! The sync's own writes, as the decision core sees them (G3).

use std::collections::BTreeMap;

use serde_json::Value;

/// What the sync recently wrote into each system: system -> canonical field -> values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EchoContext {
    pub written: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
}

impl EchoContext {
    pub fn record(&mut self, system: &str, field: &str, value: Value) {
        let values = self
            .written
            .entry(system.into())
            .or_default()
            .entry(field.into())
            .or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    pub fn was_written(&self, system: &str, field: &str, value: &Value) -> bool {
        self.written
            .get(system)
            .and_then(|fields| fields.get(field))
            .is_some_and(|values| values.contains(value))
    }
}
