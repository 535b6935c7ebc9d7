//! The loader under random input: it never panics, and no error ever shows a secret.
//!
//! The contract's example gets a distinctive secret in one of its secret places (admin token,
//! tenant token, webhook secret, a header value), then one random edit (a character inserted or
//! deleted, the text cut, a line doubled) and random environment overrides whose values may be
//! the secret too. Whatever the loader answers, neither its message nor its `Debug` may hold the
//! secret. A second property feeds arbitrary text and variables and asks only for no panic.
//!
//! `SYNCLEDGER_FUZZ_CASES` sets the number of cases of each property (the default keeps CI
//! fast); each property prints how many it ran (`cargo test ... -- --nocapture`).

use proptest::prelude::*;
use proptest::test_runner::{Config as Runner, TestRunner};

use super::EXAMPLE;
use crate::config::Config;

/// Cases per property: `SYNCLEDGER_FUZZ_CASES`, else `default`.
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("SYNCLEDGER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn run<T: std::fmt::Debug>(
    name: &str,
    strategy: impl Strategy<Value = T>,
    test: impl Fn(T) -> Result<(), TestCaseError>,
) {
    let cases = fuzz_cases(256);
    let mut runner = TestRunner::new(Runner {
        cases,
        failure_persistence: None,
        ..Runner::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    eprintln!("fuzz: {name}: {cases} cases passed");
}

/// Where in the example the secret is put.
const PLACES: [(&str, &str); 4] = [
    (
        "admin_token = \"change-me-to-a-long-secret\"",
        "admin_token = \"{}\"",
    ),
    ("api_token = \"acme-read-token-0123\"", "api_token = \"{}\""),
    (
        "webhook_secret = \"crm-webhook-secret-01\"",
        "webhook_secret = \"{}\"",
    ),
    (
        "Authorization = \"Bearer abc\"",
        "Authorization = \"Bearer {}\"",
    ),
];

/// Keys whose values are not names: an error about any of them must not quote the value.
const VARIABLES: [&str; 15] = [
    "SYNCLEDGER_SERVER__LISTEN",
    "SYNCLEDGER_SERVER__DATABASE_URL",
    "SYNCLEDGER_SERVER__WORKERS",
    "SYNCLEDGER_SERVER__ADMIN_TOKEN",
    "SYNCLEDGER_SERVER__LOG_FORMAT",
    "SYNCLEDGER_SERVER__WEBHOOK_BODY_LIMIT",
    "SYNCLEDGER_SERVER__MAX_RECORD_ID_BYTES",
    "SYNCLEDGER_SERVER__ALLOW_SHARED_BASE_URL",
    "SYNCLEDGER_TENANTS__ACME__API_TOKEN",
    "SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__BASE_URL",
    "SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__WEBHOOK_SECRET",
    "SYNCLEDGER_TENANTS__ACME__SYSTEMS__ERP__HEADERS__X_API_KEY",
    "SYNCLEDGER_ENTITIES__CUSTOMER__ON_DELETE",
    "SYNCLEDGER_ENTITIES__CUSTOMER__CONFLICT",
    "SYNCLEDGER_TENANTS__GLOBEX__API_TOKEN",
];

#[derive(Debug, Clone)]
enum Edit {
    None,
    Insert(usize, char),
    Delete(usize),
    Cut(usize),
    DoubleLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let chars = proptest::sample::select("=[]{}\"'#\n.,:x0 \\\t".chars().collect::<Vec<_>>());
    prop_oneof![
        Just(Edit::None),
        (any::<usize>(), chars).prop_map(|(at, c)| Edit::Insert(at, c)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Cut),
        any::<usize>().prop_map(Edit::DoubleLine),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let boundary = |at: usize| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match *edit {
        Edit::None => text.to_string(),
        Edit::Insert(at, c) => {
            let at = boundary(at);
            format!("{}{c}{}", &text[..at], &text[at..])
        }
        Edit::Delete(at) => {
            let at = boundary(at);
            let mut out = text.to_string();
            if at < out.len() {
                out.remove(at);
            }
            out
        }
        Edit::Cut(at) => text[..boundary(at)].to_string(),
        Edit::DoubleLine(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let n = n % lines.len();
            let mut out: Vec<&str> = lines[..=n].to_vec();
            out.extend_from_slice(&lines[n..]);
            out.join("\n")
        }
    }
}

#[test]
fn no_error_of_the_loader_shows_a_secret() {
    let strategy = (
        "SeCrEt[A-Za-z0-9]{16,24}",
        0..PLACES.len(),
        edit(),
        proptest::collection::vec((0..VARIABLES.len(), any::<bool>(), "[ -~]{0,12}"), 0..3),
    );
    run(
        "config: no secret in errors",
        strategy,
        |(secret, place, edit, vars)| {
            let (from, to) = PLACES[place];
            let text = apply(&EXAMPLE.replace(from, &to.replace("{}", &secret)), &edit);
            let vars: Vec<(String, String)> = vars
                .into_iter()
                .map(|(name, is_secret, other)| {
                    let value = if is_secret { secret.clone() } else { other };
                    (VARIABLES[name].to_string(), value)
                })
                .collect();
            if let Err(error) = Config::from_toml_str(&text, vars) {
                let shown = format!("{error}\n{error:?}");
                prop_assert!(!shown.contains(&secret), "{shown}");
            }
            Ok(())
        },
    );
}

#[test]
fn the_loader_never_panics_on_arbitrary_input() {
    let strategy = (
        prop_oneof![
            "\\PC{0,300}",
            proptest::sample::select(vec![EXAMPLE.to_string()]),
        ],
        proptest::collection::vec(("SYNCLEDGER_[A-Z_]{0,40}", "\\PC{0,20}"), 0..4),
    );
    run("config: arbitrary text", strategy, |(text, vars)| {
        let _ = Config::from_toml_str(&text, vars);
        Ok(())
    });
}
