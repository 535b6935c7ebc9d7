//! Holding a job at the engine's gate (`EngineSettings::gate`), at one of its points: after it
//! recorded a record first (G8) and before it decides on it, or between the two lookups of whose
//! a record is (G2), with no other IO in between to pause. Tests force another job into that
//! moment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use syncledger_engine::{Gate, GatePoint};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The entities whose next job is to be held at the gate.
#[derive(Clone, Default)]
pub struct Gates(Arc<Mutex<HashMap<(GatePoint, Uuid), Slot>>>);

struct Slot {
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// One held job: wait until it is at the gate, then let it go on.
pub struct Held {
    reached: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Gates {
    /// The gate to configure the engine with.
    pub fn gate(&self) -> Gate {
        let slots = self.0.clone();
        Gate(Arc::new(move |point, entity| {
            let slot = slots.lock().expect("gates").remove(&(point, entity));
            Box::pin(async move {
                if let Some(slot) = slot {
                    let _ = slot.reached.send(());
                    let _ = slot.release.await;
                }
            })
        }))
    }

    /// Holds the next job of `entity` that reaches the gate before deciding (G8).
    pub fn hold(&self, entity: Uuid) -> Held {
        self.hold_at(GatePoint::Decide, entity)
    }

    /// Holds the next job of `entity` that reaches the gate at `point`.
    pub fn hold_at(&self, point: GatePoint, entity: Uuid) -> Held {
        let (reached_tx, reached) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        let slot = Slot {
            reached: reached_tx,
            release: release_rx,
        };
        self.0.lock().expect("gates").insert((point, entity), slot);
        Held { reached, release }
    }
}

impl Held {
    /// Returns once the job waits at the gate.
    pub async fn reached(&mut self) {
        tokio::time::timeout(Duration::from_secs(30), &mut self.reached)
            .await
            .expect("the job reaches the gate within 30 s")
            .expect("the gate is kept");
    }

    /// Returns once the job waits at the gate; never, if the gate is dropped unreached (for a
    /// `select!` against the job finishing).
    pub async fn reached_or_never(&mut self) {
        if (&mut self.reached).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub fn release(self) {
        let _ = self.release.send(());
    }
}
