//! `syncledger demo`: a CRM and an ERP, simulated and served over HTTP on local ports, synced by a
//! real syncledger (real connector, signed webhooks, SQLite in a temporary folder). The seed's
//! three races are played out with the webhook deliveries ordered on purpose, then the service
//! stays up with its URLs printed.
//!
//! One file per phase, in the order [`run`] plays them:
//!
//! - `setup`: the two simulated systems, the configuration and the ledger started on them.
//! - `world`: what every phase acts on ([`world::Demo`]): the systems, the webhook senders, the
//!   running service, and the delivering and settling between steps.
//! - `races`: the three races of the seed, each checked before its narration claims it.
//! - `audit`: the audit trail of the entity the races touched, as `syncledger history` prints it.
//! - `live`: staying up until Ctrl-C, the systems' webhooks pumped to the ledger.

mod audit;
mod live;
mod races;
mod setup;
mod world;

pub async fn run(stay_up: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("demo.db");
    let (demo, urls) = setup::start(&db).await?;
    let base = &urls.ledger;
    println!("Audit console: {base}/console   (sign in with the token demo-admin-secret)");
    println!();
    println!("syncledger demo");
    println!("  CRM (simulated)  {}/contacts", urls.crm);
    println!("  ERP (simulated)  {}/customers", urls.erp);
    println!("  ledger           {base}   (SQLite: {})", db.display());
    println!();
    races::race_one(&demo).await?;
    races::race_two(&demo).await?;
    races::race_three(&demo).await?;
    println!("All three races ended without a duplicate or a stale overwrite.");
    println!();
    audit::show_audit(&demo).await?;
    println!();
    println!(
        "  console    {base}/console   (token demo-admin-secret, or demo-acme-secret for tenant acme)"
    );
    println!(
        "  GraphQL    {base}/graphql   (GraphiQL in a browser; header Authorization: Bearer demo-admin-secret)"
    );
    println!("  webhooks   POST {base}/webhooks/acme/{{crm,erp}}");
    println!("  metrics    {base}/metrics");
    println!("  health     {base}/healthz");
    if !stay_up {
        demo.running.stop().await;
        return Ok(());
    }
    live::stay_up(demo, &urls.crm).await
}
