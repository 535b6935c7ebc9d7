//! A decision that carries its write request (`DecisionMade` version 3) reads as the decision
//! and the request in one line; the write's outcome is told as before.

use super::*;

/// [`phone_change`] as this build records it: the decision carries the update, no
/// `WriteRequested`, and the outcome is caused by the decision.
fn phone_change_carried() -> Stream {
    let old: Vec<SyncEvent> = phone_change()
        .0
        .iter()
        .map(|e| SyncEvent::from_recorded(e).unwrap())
        .collect();
    let mut s = Stream(vec![]);
    let mut events = old.into_iter();
    while let Some(event) = events.next() {
        match event {
            SyncEvent::DecisionMade(d) => {
                let Some(SyncEvent::WriteRequested(w)) = events.next() else {
                    unreachable!("the decision's request follows it")
                };
                s.push(SyncEvent::DecisionMade(d.asking(w)));
            }
            other => {
                s.push(other);
            }
        }
    }
    s
}

#[test]
fn a_decision_carrying_its_write_says_what_it_asked_for() {
    let lines = explain_stream("customer", &phone_change_carried().0);
    assert_eq!(
        lines,
        vec![
            "linked erp customer E7 (created by the sync)",
            "crm contact c-42 updated (webhook crm-evt-9, at 2026-11-21 09:59:00 UTC)",
            "fetched crm contact c-42: email=a@x.io, phone=555-0101",
            "decided to update the erp customer (phone 555-0100 -> 555-0101): phone changed in crm \
             c-42; asked erp to update erp customer E7 with phone=555-0101 (request abcdef12)",
            "erp customer E7: phone written 555-0101 because crm contact c-42 changed it (webhook crm-evt-9)",
        ]
    );
}
