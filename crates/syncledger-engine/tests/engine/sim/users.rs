//! Simulated users at work in both systems: creates with names and phones from small pools (so
//! values repeat and come back), fresh emails or none, edits of one field, deletes.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use super::driver::Sim;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, ERP};

const NAMES: [&str; 5] = ["Ada", "Grace", "Alan", "Edsger", "Barbara"];
const PHONES: [&str; 4] = ["111", "222", "333", "444"];

impl Sim {
    pub(super) fn user_op(&mut self) -> String {
        let system = if self.rng.random_bool(0.5) { CRM } else { ERP };
        let collection = if system == CRM { CONTACTS } else { CUSTOMERS };
        let sim = self.w.sim(system).clone();
        let records = sim.records(collection);
        let roll = self.rng.random_range(0..100);
        if records.is_empty() || roll < 35 {
            let fields = self.new_record(system);
            let created = sim.user_create(collection, fields.clone());
            self.note_edit(system, &created.id, &fields);
            return format!("{system} user creates {} {fields}", created.id);
        }
        let target = records.choose(&mut self.rng).expect("a record").id.clone();
        if roll < 88 {
            let patch = self.patch(system);
            sim.user_update(collection, &target, patch.clone());
            self.note_edit(system, &target, &patch);
            format!("{system} user updates {target} {patch}")
        } else {
            sim.user_delete(collection, &target);
            format!("{system} user deletes {target}")
        }
    }

    fn email(&mut self) -> Value {
        if self.rng.random_bool(0.25) {
            return Value::Null;
        }
        self.next_email += 1;
        json!(format!("p{}@example.com", self.next_email))
    }

    fn phones(&mut self) -> Vec<&'static str> {
        let n = self.rng.random_range(0..=2);
        (0..n)
            .map(|_| *PHONES.choose(&mut self.rng).expect("a phone"))
            .collect()
    }

    fn new_record(&mut self, system: &str) -> Value {
        let name = *NAMES.choose(&mut self.rng).expect("a name");
        let email = self.email();
        let mut fields = if system == CRM {
            json!({"full_name": name, "email": email})
        } else {
            json!({"name": name, "email_address": email, "phones": self.phones()})
        };
        if system == CRM && self.rng.random_bool(0.5) {
            fields["phone"] = json!(*PHONES.choose(&mut self.rng).expect("a phone"));
        }
        strip_nulls(fields)
    }

    fn patch(&mut self, system: &str) -> Value {
        let name = *NAMES.choose(&mut self.rng).expect("a name");
        match (system, self.rng.random_range(0..3)) {
            (CRM, 0) => json!({"full_name": name}),
            (CRM, 1) => json!({"phone": self.phones().first()}),
            (CRM, _) => json!({"email": self.email()}),
            (_, 0) => json!({"name": name}),
            (_, 1) => json!({"phones": self.phones()}),
            (_, _) => json!({"email_address": self.email()}),
        }
    }
}

fn strip_nulls(mut fields: Value) -> Value {
    if let Value::Object(map) = &mut fields {
        map.retain(|_, v| !v.is_null());
    }
    fields
}
