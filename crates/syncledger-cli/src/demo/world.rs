//! What every phase of the demo acts on: the two simulated systems, a webhook sender towards the
//! ledger for each, and the running ledger; and the steps between a phase's moves: delivering
//! what a system has emitted, and waiting until the sync has settled.
//!
//! Waiting is for a state (the queue empty, no webhook left), bounded at 10 s.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use syncledger_core::projections::pending_queue;
use syncledger_sim::{SimSystem, WebhookSender};

use crate::app;

pub struct Demo {
    pub crm: Arc<SimSystem>,
    pub erp: Arc<SimSystem>,
    pub to_crm_hook: WebhookSender,
    pub to_erp_hook: WebhookSender,
    pub running: app::Running,
}

impl Demo {
    pub async fn deliver_crm(&self) -> anyhow::Result<()> {
        let batch = self.crm.drain_webhooks();
        if !batch.is_empty() {
            self.to_crm_hook.send(&batch).await?;
        }
        Ok(())
    }

    pub async fn deliver_erp(&self) -> anyhow::Result<()> {
        let batch = self.erp.drain_webhooks();
        if !batch.is_empty() {
            self.to_erp_hook.send(&batch).await?;
        }
        Ok(())
    }

    /// Delivers the CRM's webhooks only (the ERP's stay in its outbox) until the queue is empty.
    pub async fn settle_without_erp_webhooks(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            self.deliver_crm().await?;
            let depth = self
                .running
                .ledger
                .store()
                .count_rows(pending_queue::NAME, None, None)
                .await?;
            if depth == 0 && self.crm.pending_webhooks().is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the sync did not settle within 10 s")
    }

    /// Delivers every webhook and waits until the queue is empty and no webhook is left.
    pub async fn settle(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            self.deliver_crm().await?;
            self.deliver_erp().await?;
            let depth = self
                .running
                .ledger
                .store()
                .count_rows(pending_queue::NAME, None, None)
                .await?;
            if depth == 0
                && self.crm.pending_webhooks().is_empty()
                && self.erp.pending_webhooks().is_empty()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the sync did not settle within 10 s")
    }

    pub async fn wait_until(&self, done: impl Fn(&Demo) -> bool) -> anyhow::Result<()> {
        for _ in 0..200 {
            if done(self) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the demo waited 10 s for a step that did not happen")
    }
}
