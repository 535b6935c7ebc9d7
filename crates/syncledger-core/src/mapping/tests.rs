use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn path(text: &str) -> FieldPath {
    text.parse().unwrap()
}

fn system(fields: &[(&str, &str)], required: &[&str]) -> EntitySystemConfig {
    EntitySystemConfig {
        collection: "customers".into(),
        fields: fields
            .iter()
            .map(|(c, p)| (c.to_string(), path(p)))
            .collect(),
        required: required.iter().map(|r| r.to_string()).collect(),
    }
}

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// What a system does with a PATCH body: replaces the top-level keys it names.
pub(super) fn patch(record: &Value, body: &Value) -> Value {
    let mut out = record.as_object().cloned().unwrap_or_default();
    for (key, value) in body.as_object().unwrap() {
        out.insert(key.clone(), value.clone());
    }
    Value::Object(out)
}

#[test]
fn every_path_shape_of_the_contract_parses() {
    assert_eq!(path("email").steps(), &[Step::Key("email".into())]);
    assert_eq!(
        path("contact.phones[0]").steps(),
        &[
            Step::Key("contact".into()),
            Step::Key("phones".into()),
            Step::First
        ]
    );
    assert_eq!(
        path("list[0].x").steps(),
        &[Step::Key("list".into()), Step::First, Step::Key("x".into())]
    );
    assert_eq!(
        path("a[0][0]").steps(),
        &[Step::Key("a".into()), Step::First, Step::First]
    );
    assert_eq!(
        (path("a.b.c").top(), path("phones[0]").top()),
        ("a", "phones")
    );
    assert_eq!(path("a.b[0]").to_string(), "a.b[0]");
}

#[test]
fn malformed_paths_are_rejected_with_the_reason() {
    let reason = |text: &str| match text.parse::<FieldPath>() {
        Err(ConfigError::FieldPath { path, reason }) => {
            assert_eq!(path, text);
            reason
        }
        other => panic!("{text:?} parsed: {other:?}"),
    };
    assert_eq!(reason(""), "a field path cannot be empty");
    assert_eq!(
        reason("a..b"),
        "empty segment (two dots in a row, or a dot at an end)"
    );
    assert_eq!(
        reason("a."),
        "empty segment (two dots in a row, or a dot at an end)"
    );
    assert_eq!(reason("[0]"), "`[0]` needs a field name before `[0]`");
    assert_eq!(
        reason("phones[1]"),
        "only the first element `[0]` can be mapped, not `[1]`"
    );
    assert_eq!(
        reason("phones[x]"),
        "`[x]` is not an index; only `[0]` (the first element) is allowed"
    );
    assert_eq!(reason("phones[0"), "unclosed `[` in `phones[0`");
    assert_eq!(
        reason("phones[0]x"),
        "unexpected `x` after `]`; separate segments with `.`"
    );
    assert_eq!(reason("full name"), "field name `full name` contains ' '");
}

#[test]
fn paths_deserialize_from_config_strings_and_serialize_back() {
    let parsed: BTreeMap<String, FieldPath> =
        serde_json::from_value(json!({"p": "phones[0]"})).unwrap();
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        json!({"p": "phones[0]"})
    );
    let error = serde_json::from_value::<FieldPath>(json!("a[2]"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("only the first element"), "{error}");
}

#[test]
fn overlapping_paths_are_the_ones_sharing_a_prefix() {
    assert!(path("a").overlaps(&path("a.b")));
    assert!(path("l[0].x").overlaps(&path("l")));
    assert!(path("a.b").overlaps(&path("a.b")));
    assert!(!path("a.b").overlaps(&path("a.c")));
    assert!(!path("ab").overlaps(&path("a")));
    assert!(
        path("c[0]").overlaps(&path("c.a")),
        "c cannot be a list and an object at once"
    );
    assert!(!path("l[0].x").overlaps(&path("l[0].y")));
}

#[test]
fn reading_maps_absent_and_null_to_null() {
    let map = system(
        &[
            ("name", "name"),
            ("phone", "phones[0]"),
            ("city", "address.city"),
            ("fax", "fax"),
        ],
        &[],
    );
    let record = json!({"id": "E7", "name": "Ann", "phones": ["1", "2"], "address": "not an object", "fax": null});
    let expected = fields(&[
        ("name", json!("Ann")),
        ("phone", json!("1")),
        ("city", json!(null)),
        ("fax", json!(null)),
    ]);
    assert_eq!(to_canonical(&map, &record), expected);
}

#[test]
fn writing_the_first_element_keeps_the_rest_and_creates_a_missing_list() {
    let mut record = json!({"phones": ["1", "2"]});
    path("phones[0]").write(&mut record, &json!("9"));
    assert_eq!(record, json!({"phones": ["9", "2"]}));
    let mut record = json!({});
    path("contact.phones[0]").write(&mut record, &json!("9"));
    assert_eq!(record, json!({"contact": {"phones": ["9"]}}));
}

#[test]
fn clearing_the_first_element_promotes_the_next_and_clearing_a_field_sets_null() {
    let mut record = json!({"phones": ["1", "2"], "name": "Ann"});
    path("phones[0]").write(&mut record, &Value::Null);
    path("name").write(&mut record, &Value::Null);
    assert_eq!(record, json!({"phones": ["2"], "name": null}));
    let mut record = json!({"name": "Ann"});
    path("address.city").write(&mut record, &Value::Null);
    path("emails[0]").write(&mut record, &Value::Null);
    assert_eq!(
        record,
        json!({"name": "Ann"}),
        "a clear creates nothing on its way"
    );
}

#[test]
fn a_patch_sends_whole_top_level_values_with_the_changes_applied() {
    let map = system(
        &[
            ("name", "name"),
            ("phone", "phones[0]"),
            ("city", "address.city"),
            ("zip", "address.zip"),
        ],
        &[],
    );
    let current = json!({"id": "E7", "name": "Ann", "phones": ["1", "2"], "address": {"city": "Oslo", "zip": "1"}});
    let changes = fields(&[
        ("phone", Value::Null),
        ("city", json!("Bergen")),
        ("unmapped", json!(1)),
    ]);
    let body = write_body(&map, &changes, Some(&current));
    assert_eq!(
        body,
        json!({"phones": ["2"], "address": {"city": "Bergen", "zip": "1"}})
    );
    let body = write_body(
        &map,
        &fields(&[("name", Value::Null), ("phone", json!("0"))]),
        Some(&json!({"id": "E7"})),
    );
    assert_eq!(body, json!({"name": null, "phones": ["0"]}));
    let body = write_body(
        &map,
        &fields(&[("city", Value::Null)]),
        Some(&json!({"id": "E7"})),
    );
    assert_eq!(
        body,
        json!({"address": null}),
        "a top-level key the clear left empty is sent as null"
    );
}

#[test]
fn a_create_body_is_built_from_scratch_without_nulls() {
    let map = system(
        &[
            ("name", "name"),
            ("email", "email_address"),
            ("phone", "phones[0]"),
            ("city", "address.city"),
        ],
        &[],
    );
    let changes = fields(&[
        ("name", json!("Ann")),
        ("email", Value::Null),
        ("phone", json!("1")),
        ("city", json!("Oslo")),
    ]);
    assert_eq!(
        write_body(&map, &changes, None),
        json!({"name": "Ann", "phones": ["1"], "address": {"city": "Oslo"}})
    );
}

#[test]
fn fingerprints_ignore_case_and_surrounding_space_and_need_every_key() {
    let keys = ["email".to_string(), "name".to_string()];
    let a = match_fingerprint(
        &keys,
        &fields(&[
            ("email", json!(" Ann@Example.COM ")),
            ("name", json!("Ann")),
        ]),
    );
    let b = match_fingerprint(
        &keys,
        &fields(&[("email", json!("ann@example.com")), ("name", json!("ann"))]),
    );
    assert_eq!(a, b);
    let a = a.unwrap();
    assert!(
        a.len() == 64 && a.chars().all(|c| c.is_ascii_hexdigit()),
        "{a}"
    );
    let other = match_fingerprint(
        &keys,
        &fields(&[("email", json!("bob@example.com")), ("name", json!("ann"))]),
    );
    assert_ne!(other.as_deref(), Some(a.as_str()));
    let swapped = match_fingerprint(
        &keys,
        &fields(&[("email", json!("ann")), ("name", json!("ann@example.com"))]),
    );
    assert_ne!(
        swapped.as_deref(),
        Some(a.as_str()),
        "values are bound to their keys"
    );
    assert_eq!(
        match_fingerprint(
            &keys,
            &fields(&[("email", json!("a@b.c")), ("name", json!("  "))])
        ),
        None
    );
    assert_eq!(
        match_fingerprint(&keys, &fields(&[("email", json!("a@b.c"))])),
        None
    );
    assert_eq!(
        match_fingerprint(&[], &fields(&[("email", json!("a@b.c"))])),
        None
    );
    assert!(match_fingerprint(&["n".to_string()], &fields(&[("n", json!(42))])).is_some());
}

#[test]
fn missing_required_lists_the_blank_required_fields_in_order() {
    let required = ["email".to_string(), "name".to_string(), "phone".to_string()];
    let have = fields(&[
        ("email", json!("")),
        ("name", json!("Ann")),
        ("phone", json!([])),
    ]);
    assert_eq!(missing_required(&required, &have), vec!["email", "phone"]);
    assert_eq!(
        missing_required(&required, &Fields::new()),
        vec!["email", "name", "phone"]
    );
    assert!(missing_required(&[], &Fields::new()).is_empty());
}

mod properties;
