//! Trace events arrive as tracing events under craft::<target>.

mod common;

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

/// Records (target, message, fields) of every event.
#[derive(Clone, Default)]
struct Record(Arc<Mutex<Vec<(String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Record {
    fn on_event(&self, ev: &tracing::Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
        struct V(String);
        impl tracing::field::Visit for V {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", f.name(), v));
            }
        }
        let mut v = V(String::new());
        ev.record(&mut v);
        self.0
            .lock()
            .unwrap()
            .push((ev.metadata().target().to_string(), v.0));
    }
}

#[test]
fn trace_events_reach_the_subscriber() {
    let rec = Record::default();
    let subscriber = tracing_subscriber::registry().with(rec.clone());
    // Global: the C callback is installed only when a subscriber exists
    // at build time.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let c = common::Cluster::new(3);
    c.propose(b"a=1");
    drop(c);
    let events = rec.0.lock().unwrap().clone();
    let has = |target: &str, name: &str| {
        events
            .iter()
            .any(|(t, m)| t == target && m.contains(&format!("message={name}")))
    };
    assert!(has("craft::engine", "leader.elected"), "{events:#?}");
    assert!(has("craft::node", "node.started"), "{events:#?}");
    assert!(has("craft::node", "node.stopped"), "{events:#?}");
    let elected = events
        .iter()
        .find(|(_, m)| m.contains("leader.elected"))
        .unwrap();
    assert!(elected.1.contains("node_id="), "{elected:?}");
    assert!(elected.1.contains("term="), "{elected:?}");
}
