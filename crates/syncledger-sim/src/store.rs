//! The simulated system's data: collections of JSON records, synchronous and free of IO.
//!
//! Ids are `{prefix}-{n}` with one counter per system, so `n` also orders records by creation;
//! listings walk that order and their cursor is the last `n` handed out, which stays valid while
//! records are created and deleted between pages (no record is skipped or repeated).
//!
//! PATCH follows JSON Merge Patch (RFC 7396): objects merge recursively, `null` removes a field,
//! anything else (arrays included) replaces. `"id"` belongs to the system and cannot be patched.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

/// All collections of one system.
#[derive(Debug)]
pub(crate) struct Collections {
    prefix: String,
    next_n: u64,
    collections: BTreeMap<String, Collection>,
}

#[derive(Debug, Default)]
struct Collection {
    by_n: BTreeMap<u64, Value>,
    n_of: HashMap<String, u64>,
}

impl Collections {
    pub fn new(prefix: &str) -> Self {
        Collections {
            prefix: prefix.to_owned(),
            next_n: 1,
            collections: BTreeMap::new(),
        }
    }

    pub fn get(&self, collection: &str, id: &str) -> Option<&Value> {
        let coll = self.collections.get(collection)?;
        coll.by_n.get(coll.n_of.get(id)?)
    }

    /// Stores `fields` as a new record with a fresh id (a client's `"id"` is ignored) and
    /// returns the whole record.
    pub fn insert(&mut self, collection: &str, mut fields: Map<String, Value>) -> Value {
        let n = self.next_n;
        self.next_n += 1;
        let id = format!("{}-{n}", self.prefix);
        fields.remove("id");
        let mut record = Map::with_capacity(fields.len() + 1);
        record.insert("id".to_owned(), Value::String(id.clone()));
        record.extend(fields);
        let record = Value::Object(record);
        let coll = self.collections.entry(collection.to_owned()).or_default();
        coll.n_of.insert(id, n);
        coll.by_n.insert(n, record.clone());
        record
    }

    /// Merges `patch` into the record; `None` when there is no such record.
    pub fn patch(
        &mut self,
        collection: &str,
        id: &str,
        patch: &Map<String, Value>,
    ) -> Option<Value> {
        let coll = self.collections.get_mut(collection)?;
        let record = coll.by_n.get_mut(coll.n_of.get(id)?)?;
        let Value::Object(fields) = record else {
            unreachable!("records are always objects");
        };
        for (name, value) in patch {
            if name != "id" {
                merge_field(fields, name, value);
            }
        }
        Some(record.clone())
    }

    /// Removes the record; whether it was there.
    pub fn remove(&mut self, collection: &str, id: &str) -> bool {
        let Some(coll) = self.collections.get_mut(collection) else {
            return false;
        };
        match coll.n_of.remove(id) {
            Some(n) => coll.by_n.remove(&n).is_some(),
            None => false,
        }
    }

    /// Up to `limit` records created after cursor `after`, and the cursor of the next page when
    /// more records follow.
    pub fn page(&self, collection: &str, limit: usize, after: u64) -> (Vec<Value>, Option<u64>) {
        let Some(coll) = self.collections.get(collection) else {
            return (Vec::new(), None);
        };
        let mut rest = coll.by_n.range(after.saturating_add(1)..);
        let items: Vec<(u64, Value)> = rest
            .by_ref()
            .take(limit)
            .map(|(n, v)| (*n, v.clone()))
            .collect();
        let next = match (items.last(), rest.next()) {
            (Some((last, _)), Some(_)) => Some(*last),
            _ => None,
        };
        (items.into_iter().map(|(_, v)| v).collect(), next)
    }

    /// Every record of the collection in creation order.
    pub fn all(&self, collection: &str) -> Vec<Value> {
        self.collections
            .get(collection)
            .map(|coll| coll.by_n.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// RFC 7396 for one member of the patch.
fn merge_field(target: &mut Map<String, Value>, name: &str, patch: &Value) {
    match patch {
        Value::Null => {
            target.remove(name);
        }
        Value::Object(inner_patch) => {
            let slot = target
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                for (inner_name, inner_value) in inner_patch {
                    merge_field(inner, inner_name, inner_value);
                }
            }
        }
        other => {
            target.insert(name.to_owned(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn ids_are_prefixed_and_client_ids_ignored() {
        let mut c = Collections::new("E");
        let first = c.insert("customers", obj(json!({"id": "mine", "name": "A"})));
        let second = c.insert("orders", obj(json!({})));
        assert_eq!(first["id"], "E-1");
        assert_eq!(second["id"], "E-2");
        assert_eq!(c.get("customers", "E-1"), Some(&first));
        assert_eq!(c.get("orders", "E-1"), None);
    }

    #[test]
    fn patches_merge_objects_clear_nulls_and_replace_arrays() {
        let mut c = Collections::new("c");
        c.insert(
            "contacts",
            obj(json!({"name": "A", "addr": {"city": "X", "zip": "1"}, "phones": ["1", "2"]})),
        );
        let patched = c
            .patch(
                "contacts",
                "c-1",
                &obj(json!({"id": "c-9", "name": null, "addr": {"zip": null, "street": "S"}, "phones": ["3"]})),
            )
            .unwrap();
        assert_eq!(
            patched,
            json!({"id": "c-1", "addr": {"city": "X", "street": "S"}, "phones": ["3"]})
        );
        assert_eq!(c.patch("contacts", "c-2", &Map::new()), None);
    }

    #[test]
    fn pages_survive_deletes_between_them() {
        let mut c = Collections::new("c");
        for _ in 0..5 {
            c.insert("contacts", Map::new());
        }
        let (first, next) = c.page("contacts", 2, 0);
        assert_eq!(first.len(), 2);
        assert_eq!(next, Some(2));
        assert!(c.remove("contacts", "c-3"));
        assert!(!c.remove("contacts", "c-3"));
        let (second, next) = c.page("contacts", 2, 2);
        let ids: Vec<_> = second.iter().map(|r| r["id"].clone()).collect();
        assert_eq!(ids, [json!("c-4"), json!("c-5")]);
        assert_eq!(next, None);
    }
}
