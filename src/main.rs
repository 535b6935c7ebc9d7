//! `syncledger`: see `syncledger --help`, and README.md.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    syncledger_cli::run().await
}
