//! The demo's last phase (without `--exit`): the service stays up, and whatever a person changes
//! through the simulated systems' APIs is delivered to it as webhooks until Ctrl-C.

use super::world::Demo;
use crate::app;

pub async fn stay_up(demo: Demo, crm_url: &str) -> anyhow::Result<()> {
    let signal = app::ShutdownSignal::install();
    println!();
    println!("Changes made through the simulated systems' APIs now sync live, e.g.");
    println!("  curl -X POST {crm_url}/contacts -H 'content-type: application/json' \\");
    println!("       -d '{{\"full_name\":\"Grace Hopper\",\"email\":\"grace@example.com\"}}'");
    println!("Ctrl-C to stop.");
    let stop = demo.running.shutdown.clone();
    let (crm, erp) = (demo.crm.clone(), demo.erp.clone());
    let (crm_hook, erp_hook) = (demo.to_crm_hook, demo.to_erp_hook);
    let (s1, s2) = (stop.clone(), stop.clone());
    let pumps = [
        tokio::spawn(async move { crm_hook.run(&crm, s1.cancelled_owned()).await }),
        tokio::spawn(async move { erp_hook.run(&erp, s2.cancelled_owned()).await }),
    ];
    signal.recv().await;
    demo.running.stop().await;
    for p in pumps {
        let _ = p.await;
    }
    Ok(())
}
