//! The grammar of field paths and the write rules, apart from the public wrapper.
//!
//! Grammar: segments joined by `.`; a segment is a field name followed by any number of `[0]`.
//! Only `[0]` is allowed because the contract maps a system's list to one canonical value, its
//! first element; any other index is rejected with that reason rather than silently accepted.

use serde_json::{Map, Value};

/// One step of a [`super::FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// An object's key.
    Key(String),
    /// A list's first element.
    First,
}

pub(super) fn parse(text: &str) -> Result<Vec<Step>, String> {
    if text.trim().is_empty() {
        return Err("a field path cannot be empty".into());
    }
    let mut steps = Vec::new();
    for segment in text.split('.') {
        if segment.is_empty() {
            return Err("empty segment (two dots in a row, or a dot at an end)".into());
        }
        let (name, mut rest) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        if name.is_empty() {
            return Err(format!("`{segment}` needs a field name before `[0]`"));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == ']')
        {
            return Err(format!("field name `{name}` contains {bad:?}"));
        }
        steps.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("[0]") {
                steps.push(Step::First);
                rest = after;
                continue;
            }
            if !rest.starts_with('[') {
                return Err(format!(
                    "unexpected `{rest}` after `]`; separate segments with `.`"
                ));
            }
            let Some(end) = rest.find(']') else {
                return Err(format!("unclosed `[` in `{segment}`"));
            };
            let index = &rest[1..end];
            return Err(if index.trim().parse::<u64>().is_ok() {
                format!("only the first element `[0]` can be mapped, not `[{index}]`")
            } else {
                format!("`[{index}]` is not an index; only `[0]` (the first element) is allowed")
            });
        }
    }
    Ok(steps)
}

/// Writes `value` at `steps` below `target`; `null` clears. Never called with empty `steps`.
pub(super) fn write_at(target: &mut Value, steps: &[Step], value: &Value) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    let clearing = value.is_null();
    match step {
        Step::Key(key) => {
            if !target.is_object() {
                if clearing {
                    // Nothing is stored below a non-object: it already reads as null.
                    return;
                }
                *target = Value::Object(Map::new());
            }
            let Value::Object(object) = target else {
                return;
            };
            if rest.is_empty() {
                object.insert(key.clone(), value.clone());
            } else if let Some(child) = object.get_mut(key) {
                write_at(child, rest, value);
            } else if !clearing {
                let mut child = Value::Null;
                write_at(&mut child, rest, value);
                object.insert(key.clone(), child);
            }
        }
        Step::First => {
            if !target.is_array() {
                if clearing {
                    return;
                }
                *target = Value::Array(Vec::new());
            }
            let Value::Array(items) = target else {
                return;
            };
            match (rest.is_empty(), clearing, items.is_empty()) {
                // Clearing the first element promotes the next one.
                (true, true, false) => {
                    items.remove(0);
                }
                (true, true, true) => {}
                (true, false, true) => items.push(value.clone()),
                (true, false, false) => items[0] = value.clone(),
                (false, true, true) => {}
                (false, _, _) => {
                    if items.is_empty() {
                        items.push(Value::Null);
                    }
                    write_at(&mut items[0], rest, value);
                }
            }
        }
    }
}
