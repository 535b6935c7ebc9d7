//! A proposed `[[entities]]` set (what-if, CONTRACT §7 `replayDecisions(..., config:)`).
//!
//! A proposal is checked exactly as the file is at start, against the server and tenants that
//! run: its TOML is parsed (a syntax error gives its line and column), its keys are checked
//! against the layout, its tables are typed one entity at a time, then the whole configuration
//! it would make (today's `[server]` and `[[tenants]]` with the proposed `[[entities]]`) is
//! validated. Every problem found is reported, each with the line of the proposal it points at
//! (the deepest key of its path that the text holds) and what was expected. Environment
//! overrides do not apply: a proposal is exactly the text given. `[server]` and `[[tenants]]`
//! are refused: they hold secrets, and a what-if changes decisions, not connections.

use std::fmt;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::{Config, EntityConfig, Problem, load, schema};

/// One problem of a proposal, with the line it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based; `None` when the path names nothing in the text (a missing key).
    pub line: Option<usize>,
    pub problem: Problem,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

/// Why a proposal is refused; nothing runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// TOML syntax: where, and what the parser expected.
    #[error("TOML syntax error at line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid proposal:{}", .0.iter().map(|p| format!("\n  - {p}")).collect::<String>())]
    Invalid(Vec<Located>),
}

impl Config {
    /// The `[[entities]]` of the proposal `text`, checked as at start against this
    /// configuration's server and tenants.
    pub fn propose_entities(&self, text: &str) -> Result<Vec<EntityConfig>, ProposalError> {
        let mut tree: toml::Table =
            text.parse()
                .map_err(|e| match load::syntax_error(text, &e) {
                    super::ConfigError::Parse {
                        line,
                        column,
                        message,
                    } => ProposalError::Parse {
                        line,
                        column,
                        message,
                    },
                    other => ProposalError::Parse {
                        line: 1,
                        column: 1,
                        message: other.to_string(),
                    },
                })?;
        let mut problems = Vec::new();
        for section in ["server", "tenants"] {
            if tree.remove(section).is_some() {
                problems.push(Problem::new(
                    section,
                    "a proposal holds only [[entities]] tables: the server and the tenants stay \
                     as they run",
                ));
            }
        }
        if !tree.contains_key("entities") {
            problems.push(Problem::new(
                "entities",
                "expected at least one [[entities]] table",
            ));
        }
        schema::check_keys(&tree, &mut problems);
        if problems.is_empty() {
            match load::typed(tree) {
                Ok(proposed) => {
                    let whole = Config {
                        server: self.server.clone(),
                        tenants: self.tenants.clone(),
                        entities: proposed.entities,
                        retention: self.retention.clone(),
                    };
                    match whole.validate() {
                        Ok(()) => return Ok(whole.entities),
                        Err(super::ConfigError::Invalid(found)) => problems.extend(found),
                        Err(other) => problems.push(Problem::new("entities", other.to_string())),
                    }
                }
                Err(found) => problems.extend(found),
            }
        }
        Err(ProposalError::Invalid(locate(text, problems)))
    }
}

/// Each problem with the line of the deepest key of its path found in `text`.
fn locate(text: &str, problems: Vec<Problem>) -> Vec<Located> {
    let root = DeTable::parse(text).ok();
    problems
        .into_iter()
        .map(|problem| {
            let span = root
                .as_ref()
                .and_then(|root| deepest(root.get_ref(), &problem.path));
            Located {
                line: span.map(|at| text[..at.min(text.len())].matches('\n').count() + 1),
                problem,
            }
        })
        .collect()
}

/// The start of the deepest key of `path` (`entities[customer].systems.erp.required`) that
/// `table` holds.
fn deepest(table: &DeTable<'_>, path: &str) -> Option<usize> {
    let mut here = table;
    let mut found = None;
    for segment in path.split('.') {
        let (key, label) = match segment.split_once('[') {
            Some((key, rest)) => (key, Some(rest.trim_end_matches(']'))),
            None => (segment, None),
        };
        let Some((k, v)) = here.iter().find(|(k, _)| is(k, key)) else {
            return found;
        };
        found = Some(k.span().start);
        let value = match (label, v.get_ref()) {
            (Some(label), DeValue::Array(items)) => {
                let item = items.iter().enumerate().find(|(i, item)| {
                    let named = match item.get_ref() {
                        DeValue::Table(t) => t.iter().any(|(k, v)| {
                            is(k, "name")
                                && matches!(v.get_ref(), DeValue::String(s) if text(s) == label)
                        }),
                        _ => false,
                    };
                    named || label.strip_prefix('#') == Some(&(i + 1).to_string())
                })?;
                found = Some(item.1.span().start);
                item.1.get_ref()
            }
            (_, value) => value,
        };
        match value {
            DeValue::Table(t) => here = t,
            _ => return found,
        }
    }
    found
}

fn text<'a>(s: &'a DeString<'_>) -> &'a str {
    s
}

fn is(key: &Spanned<DeString<'_>>, name: &str) -> bool {
    text(key.get_ref()) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Config {
        Config::from_toml_str(crate::config::tests::EXAMPLE, Vec::new()).expect("the example")
    }

    const PROPOSAL: &str = r#"[[entities]]
name = "customer"
match_keys = ["email"]
[entities.systems.crm]
collection = "contacts"
fields = { name = "full_name", email = "email", phone = "phone" }
[entities.systems.erp]
collection = "customers"
fields = { name = "name", email = "email_address", phone = "phones[0]" }
required = ["email", "phone"]
"#;

    #[test]
    fn a_valid_proposal_gives_its_entities() {
        let entities = running().propose_entities(PROPOSAL).expect("valid");
        assert_eq!(entities[0].systems["erp"].required, ["email", "phone"]);
    }

    #[test]
    fn a_syntax_error_gives_its_line_and_what_was_expected() {
        let broken = PROPOSAL.replace("required = [\"email\", \"phone\"]", "required = [\"email]");
        let err = running().propose_entities(&broken).unwrap_err();
        assert!(
            matches!(err, ProposalError::Parse { line: 10, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_required_field_that_is_not_mapped_is_refused_at_its_line() {
        let wrong = PROPOSAL.replace("\"phone\"]", "\"fax\"]");
        let err = running().propose_entities(&wrong).unwrap_err();
        let ProposalError::Invalid(found) = &err else {
            panic!("{err}")
        };
        assert_eq!(found[0].line, Some(10), "{err}");
        assert!(
            found[0].problem.path.ends_with("systems.erp.required"),
            "{err}"
        );
    }

    #[test]
    fn a_system_no_tenant_has_is_refused_at_its_table() {
        let wrong = PROPOSAL.replace("[entities.systems.erp]", "[entities.systems.ledger]");
        let err = running().propose_entities(&wrong).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 7: entities[customer].systems.ledger"),
            "{err}"
        );
    }

    #[test]
    fn server_and_tenant_sections_are_refused() {
        let with_server = format!("[server]\nworkers = 2\n{PROPOSAL}");
        let err = running().propose_entities(&with_server).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 1: server: a proposal holds only"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let wrong = PROPOSAL.replace("match_keys", "match_kees");
        let err = running().propose_entities(&wrong).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 3: entities[customer].match_kees"),
            "{err}"
        );
    }
}
