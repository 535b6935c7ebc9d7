//! The layout of the configuration file, as data.
//!
//! Two things need to know which keys exist where before serde sees the tree: environment
//! overrides (to address a key the file leaves out, and to give a value its type) and the unknown
//! key check (to report every typo with its full path instead of serde's first one, unplaced).
//! Keeping the layout in one table keeps both in step with the types in [`super`].

use super::Problem;

/// What sits at one place of the tree.
pub(super) enum Node {
    Str,
    Int,
    Float,
    Bool,
    /// A list of strings.
    List,
    /// A table with a fixed set of keys.
    Table(&'static [(&'static str, Node)]),
    /// An array of tables, each addressed by the value of its `key` (`tenants[acme]`).
    ById {
        key: &'static str,
        what: &'static str,
        item: &'static Node,
    },
    /// A table whose keys the user names (systems, fields, headers).
    Map {
        what: &'static str,
        item: &'static Node,
        create: Create,
    },
}

/// Whether an environment variable may add a key to a [`Node::Map`], and how it is spelled.
#[derive(Clone, Copy)]
pub(super) enum Create {
    /// The key must already be in the file (a system needs more than one value to exist).
    No,
    /// Added lower-cased, as written in the variable.
    Lower,
    /// Added lower-cased with `_` turned into `-`: `X_API_KEY` becomes `x-api-key`.
    Header,
}

static SYSTEM: Node = Node::Table(&[
    ("base_url", Node::Str),
    ("webhook_secret", Node::Str),
    ("webhook_secret_file", Node::Str),
    (
        "headers",
        Node::Map {
            what: "header",
            item: &Node::Str,
            create: Create::Header,
        },
    ),
    (
        "headers_file",
        Node::Map {
            what: "header",
            item: &Node::Str,
            create: Create::Header,
        },
    ),
    (
        "rate_limit",
        Node::Table(&[
            ("requests_per_second", Node::Float),
            ("burst", Node::Int),
            ("max_in_flight", Node::Int),
        ]),
    ),
]);

static TENANT: Node = Node::Table(&[
    ("id", Node::Str),
    ("api_token", Node::Str),
    ("api_token_file", Node::Str),
    (
        "systems",
        Node::Map {
            what: "system",
            item: &SYSTEM,
            create: Create::No,
        },
    ),
]);

static ENTITY_SYSTEM: Node = Node::Table(&[
    ("collection", Node::Str),
    (
        "fields",
        Node::Map {
            what: "field",
            item: &Node::Str,
            create: Create::Lower,
        },
    ),
    ("required", Node::List),
]);

static ENTITY: Node = Node::Table(&[
    ("name", Node::Str),
    ("match_keys", Node::List),
    ("on_delete", Node::Str),
    ("conflict", Node::Str),
    (
        "owners",
        Node::Map {
            what: "owner",
            item: &Node::Str,
            create: Create::Lower,
        },
    ),
    (
        "systems",
        Node::Map {
            what: "system",
            item: &ENTITY_SYSTEM,
            create: Create::No,
        },
    ),
]);

pub(super) static ROOT: Node = Node::Table(&[
    (
        "server",
        Node::Table(&[
            ("listen", Node::Str),
            ("database_url", Node::Str),
            ("workers", Node::Int),
            ("admin_token", Node::Str),
            ("admin_token_file", Node::Str),
            ("master_key", Node::Str),
            ("master_key_file", Node::Str),
            ("seal", Node::Bool),
            ("log_format", Node::Str),
            ("webhook_body_limit", Node::Int),
            ("round_trip_ttl_secs", Node::Int),
            ("lease_ttl_secs", Node::Int),
            ("max_record_id_bytes", Node::Int),
            ("max_retry_after_secs", Node::Int),
            ("max_response_bytes", Node::Int),
            ("max_attempts", Node::Int),
            ("allow_shared_base_url", Node::Bool),
            ("max_connections", Node::Int),
            ("header_read_timeout_secs", Node::Int),
            ("body_read_timeout_secs", Node::Int),
            ("ws_init_timeout_secs", Node::Int),
            ("shutdown_timeout_secs", Node::Int),
        ]),
    ),
    (
        "tenants",
        Node::ById {
            key: "id",
            what: "tenant",
            item: &TENANT,
        },
    ),
    (
        "entities",
        Node::ById {
            key: "name",
            what: "entity",
            item: &ENTITY,
        },
    ),
    (
        "retention",
        Node::Table(&[
            ("enabled", Node::Bool),
            ("archive_after_days", Node::Int),
            ("archive_dir", Node::Str),
            ("interval_secs", Node::Int),
            ("partition_width", Node::Int),
        ]),
    ),
]);

/// `parent.key`, or `key` at the root.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// How an item of an array of tables is named in a path: its id, or its 1-based place.
pub(super) fn item_label(item: &toml::Value, key: &str, index: usize) -> String {
    match item.get(key).and_then(toml::Value::as_str) {
        Some(id) => id.to_string(),
        None => format!("#{}", index + 1),
    }
}

/// Reports every key the layout does not know, with its path. Values of the wrong type are
/// left to serde, which names the expected type.
pub(super) fn check_keys(root: &toml::Table, problems: &mut Vec<Problem>) {
    check_table(root, &ROOT, "", problems);
}

fn check_table(table: &toml::Table, node: &Node, path: &str, problems: &mut Vec<Problem>) {
    let Node::Table(fields) = node else { return };
    for (key, value) in table {
        match fields.iter().find(|(name, _)| name == key) {
            Some((_, child)) => check_value(value, child, &join(path, key), problems),
            None => {
                let here = join(path, &shown_key(key, fields));
                let known: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
                let mut message = format!("unknown key (expected one of: {})", known.join(", "));
                if key == "owners" && path.contains(".systems.") {
                    message.push_str(
                        "; owners belong to the entity: write `owners = {...}` under [[entities]], \
                         before its [entities.systems.*] tables",
                    );
                }
                problems.push(Problem::new(here, message));
            }
        }
    }
}

/// How an unknown key is named in an error: as written when it is a key of the layout (in the
/// wrong place) or a near miss of one of `fields` (a typo: `wrokers`), masked otherwise. A key
/// that is neither may be a secret pasted in the wrong place, and errors end up in logs.
fn shown_key(key: &str, fields: &[(&str, Node)]) -> String {
    let near = |name: &str| key.len() >= 3 && edit_distance(key, name) <= 2;
    if in_layout(&ROOT, key) || fields.iter().any(|(name, _)| near(name)) {
        key.to_string()
    } else {
        format!(
            "<unknown key of {} characters, not shown>",
            key.chars().count()
        )
    }
}

/// Whether `key` is a key of `node`'s layout, at any depth.
fn in_layout(node: &Node, key: &str) -> bool {
    match node {
        Node::Table(fields) => fields
            .iter()
            .any(|(name, child)| *name == key || in_layout(child, key)),
        Node::ById { item, .. } | Node::Map { item, .. } => in_layout(item, key),
        _ => false,
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn check_value(value: &toml::Value, node: &Node, path: &str, problems: &mut Vec<Problem>) {
    match (node, value) {
        (Node::Table(_), toml::Value::Table(table)) => check_table(table, node, path, problems),
        (Node::ById { key, item, .. }, toml::Value::Array(items)) => {
            for (index, entry) in items.iter().enumerate() {
                let here = format!("{path}[{}]", item_label(entry, key, index));
                check_value(entry, item, &here, problems);
            }
        }
        (Node::Map { item, .. }, toml::Value::Table(table)) => {
            for (key, entry) in table {
                check_value(entry, item, &join(path, key), problems);
            }
        }
        _ => {}
    }
}
