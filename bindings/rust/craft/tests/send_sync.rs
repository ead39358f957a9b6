//! Compile-time checks: what may cross threads does, the rest does not
//! need to. (A failure here is a compile error.)

mod common;

use craft::{
    Applied, Error, FileStorage, Hub, Inbox, MemStorage, Node, Pending, Status, TcpTransport,
};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

// Node<S> is Send + Sync for any StateMachine (which must be Send).
const _: fn() = send_sync::<Node<common::Kv>>;
const _: fn() = send_sync::<Inbox>;
const _: fn() = send_sync::<Hub>;
const _: fn() = send_sync::<MemStorage>;
const _: fn() = send_sync::<FileStorage>;
const _: fn() = send_sync::<TcpTransport>;
const _: fn() = send_sync::<Error>;
const _: fn() = send_sync::<Status>;
// Futures can move to any executor thread.
const _: fn() = send::<Pending<Applied>>;

/// A state machine that is Send but not Sync still gives a Send + Sync
/// node: the node owns it behind a lock, on its apply thread.
struct NotSync(std::cell::Cell<u64>);
impl craft::StateMachine for NotSync {
    fn apply(&mut self, _: craft::Entry<'_>) -> Result<Vec<u8>, craft::BoxError> {
        self.0.set(self.0.get() + 1);
        Ok(vec![])
    }
    fn snapshot(&mut self, _: &mut dyn std::io::Write) -> std::io::Result<()> {
        Ok(())
    }
    fn restore(&mut self, _: &mut dyn std::io::Read) -> std::io::Result<()> {
        Ok(())
    }
}
const _: fn() = send_sync::<Node<NotSync>>;

fn assert_future<F: std::future::Future + Send + 'static>(_: &F) {}

#[test]
fn futures_are_send_and_static() {
    let c = common::Cluster::new(1);
    let n = c.node(1);
    let p = n.propose_async(b"a=1", std::time::Duration::ZERO);
    assert_future(&p);
    let r = n.read_async(std::time::Duration::ZERO, |kv: &common::Kv| kv.map.len());
    assert_future(&r);
    drop(p);
    drop(r);
}
