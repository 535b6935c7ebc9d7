//! `sqlx::migrate!` embeds the migration folders at compile time; this makes new files there
//! trigger a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
