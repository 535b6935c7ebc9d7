//! The mapping's laws, over generated paths, records and values.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{patch, system};
use crate::events::Fields;
use crate::mapping::{FieldPath, to_canonical, write_body};

/// Segments from a small alphabet, so generated records often collide with generated paths.
fn path_text() -> impl Strategy<Value = String> {
    prop::collection::vec(("[a-c]", 0..3usize), 1..4).prop_map(|segments| {
        let parts: Vec<String> = segments
            .into_iter()
            .map(|(name, firsts)| name + &"[0]".repeat(firsts))
            .collect();
        parts.join(".")
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z0-9 ]{0,6}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]", inner, 0..3).prop_map(|m| json!(m)),
        ]
    })
}

fn record() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-c]", value(), 0..4).prop_map(|m| json!(m))
}

fn maybe_null(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop_oneof![1 => Just(Value::Null), 4 => value]
}

proptest! {
    #[test]
    fn what_is_written_through_a_patch_reads_back(
        record in record(), path in path_text(), written in value()
    ) {
        let map = system(&[("f", &path)], &[]);
        let changes = Fields::from([("f".to_string(), written.clone())]);
        let after = patch(&record, &write_body(&map, &changes, Some(&record)));
        prop_assert_eq!(&to_canonical(&map, &after)["f"], &written);
        // The body names only the top-level key the path lives under.
        let body = write_body(&map, &changes, Some(&record));
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        prop_assert_eq!(keys, vec![map.fields["f"].top()]);
    }

    #[test]
    fn a_cleared_field_reads_back_as_null_unless_it_is_a_first_element(
        record in record(), path in path_text()
    ) {
        let map = system(&[("f", &path)], &[]);
        let changes = Fields::from([("f".to_string(), Value::Null)]);
        let after = patch(&record, &write_body(&map, &changes, Some(&record)));
        // Clearing `list[0]` promotes the next element instead (see the property below).
        prop_assume!(!path.ends_with("[0]"));
        prop_assert_eq!(&to_canonical(&map, &after)["f"], &Value::Null);
    }

    #[test]
    fn a_record_created_from_fields_reads_back_as_those_fields(
        paths in prop::collection::vec(path_text(), 1..5),
        values in prop::collection::vec(maybe_null(value()), 5)
    ) {
        let mut kept: Vec<FieldPath> = Vec::new();
        for text in paths {
            let path: FieldPath = text.parse().unwrap();
            if kept.iter().all(|k| !k.overlaps(&path)) {
                kept.push(path);
            }
        }
        let names: Vec<String> = (0..kept.len()).map(|i| format!("f{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().zip(&kept).map(|(n, p)| (n.as_str(), p.as_str())).collect();
        let map = system(&pairs, &[]);
        let fields: Fields = names.iter().cloned().zip(values).collect();
        prop_assert_eq!(to_canonical(&map, &write_body(&map, &fields, None)), fields);
    }

    #[test]
    fn clearing_the_first_element_promotes_the_next(
        record in record(), container in path_text(), list in prop::collection::vec(value(), 1..4)
    ) {
        let container: FieldPath = container.parse().unwrap();
        let first: FieldPath = format!("{container}[0]").parse().unwrap();
        let mut record = record;
        container.write(&mut record, &Value::Array(list.clone()));
        let map = system(&[("f", first.as_str())], &[]);
        let clear = Fields::from([("f".to_string(), Value::Null)]);
        let after = patch(&record, &write_body(&map, &clear, Some(&record)));
        prop_assert_eq!(container.get(&after), Some(&Value::Array(list[1..].to_vec())));
        prop_assert_eq!(&to_canonical(&map, &after)["f"], list.get(1).unwrap_or(&Value::Null));
    }

    #[test]
    fn setting_the_first_element_keeps_the_rest(
        record in record(), container in path_text(), list in prop::collection::vec(value(), 1..4),
        written in value()
    ) {
        let container: FieldPath = container.parse().unwrap();
        let first: FieldPath = format!("{container}[0]").parse().unwrap();
        let mut record = record;
        container.write(&mut record, &Value::Array(list.clone()));
        first.write(&mut record, &written);
        let mut expected = list;
        expected[0] = written;
        prop_assert_eq!(container.get(&record), Some(&Value::Array(expected)));
    }
}
