//! `api/schema.graphql` is the schema users and tools read: it must be what the code serves.

use std::path::PathBuf;

#[test]
fn the_committed_schema_is_the_served_schema() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../api/schema.graphql");
    let sdl = syncledger_graphql::sdl();
    if std::env::var_os("SYNCLEDGER_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("write api/schema.graphql");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "api/schema.graphql differs from syncledger_graphql::sdl(); regenerate it with \
         `SYNCLEDGER_UPDATE_SCHEMA=1 cargo test -p syncledger-graphql --test graphql schema_file` \
         (or `syncledger export-schema > api/schema.graphql`) and review the diff"
    );
}

#[test]
fn no_type_can_carry_a_secret() {
    let sdl = syncledger_graphql::sdl().to_lowercase();
    for word in ["token", "secret", "header", "password", "credential"] {
        assert!(!sdl.contains(word), "the schema mentions {word:?}");
    }
}
