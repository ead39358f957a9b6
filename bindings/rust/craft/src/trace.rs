//! The library's trace events, re-emitted as `tracing` events.
//!
//! A C target `craft.<t>` becomes the tracing target `craft::<t>`
//! (`craft::engine`, `craft::node`, `craft::storage`, `craft::transport`);
//! the event's stable name (`leader.elected`, ...) is the message, its
//! first field `node_id` a field of its own and the other fields one
//! `fields` value ("term=3 leader=1"), formatted only when a subscriber
//! records the event. C levels map to ERROR, WARN, INFO and DEBUG.
//!
//! The C trace callback is installed only when a subscriber is set when
//! the node is built (with the most verbose level it wants), so with no
//! subscriber tracing costs nothing.

use std::fmt;

use tracing::level_filters::LevelFilter;
use tracing::Level;

use crate::ffi::FieldValue;

/// The C trace level to ask for: 0 (off) when no subscriber wants any
/// event, else the most verbose level any subscriber wants.
pub(crate) fn c_level() -> i32 {
    match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        _ => 4,
    }
}

/// The C trace level that lets through `tracing` level `level`.
pub(crate) fn c_level_of(level: Level) -> i32 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        _ => 4,
    }
}

struct Fields<'a>(&'a [(&'a str, FieldValue<'a>)]);

impl fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, v) in self.0 {
            if *k == "node_id" {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            match v {
                FieldValue::U64(u) => write!(f, "{k}={u}")?,
                FieldValue::I64(i) => write!(f, "{k}={i}")?,
                FieldValue::Str(s) => write!(f, "{k}={s:?}")?,
            }
        }
        Ok(())
    }
}

// tracing needs the target and level as constants at each call site.
macro_rules! emit_at {
    ($target:literal, $level:expr, $node:expr, $name:expr, $fields:expr) => {
        match $level {
            Level::ERROR => tracing::event!(target: $target, Level::ERROR, node_id = $node, fields = %$fields, "{}", $name),
            Level::WARN => tracing::event!(target: $target, Level::WARN, node_id = $node, fields = %$fields, "{}", $name),
            Level::INFO => tracing::event!(target: $target, Level::INFO, node_id = $node, fields = %$fields, "{}", $name),
            _ => tracing::event!(target: $target, Level::DEBUG, node_id = $node, fields = %$fields, "{}", $name),
        }
    };
}

/// Re-emits one C trace event.
pub(crate) fn emit(level: i32, target: &str, name: &str, fields: &[(&str, FieldValue<'_>)]) {
    let level = match level {
        1 => Level::ERROR,
        2 => Level::WARN,
        3 => Level::INFO,
        _ => Level::DEBUG,
    };
    let node = fields
        .iter()
        .find_map(|(k, v)| match (k, v) {
            (&"node_id", FieldValue::U64(u)) => Some(*u),
            _ => None,
        })
        .unwrap_or(0);
    let fields = Fields(fields);
    match target {
        "craft.engine" => emit_at!("craft::engine", level, node, name, fields),
        "craft.node" => emit_at!("craft::node", level, node, name, fields),
        "craft.storage" => emit_at!("craft::storage", level, node, name, fields),
        "craft.transport" => emit_at!("craft::transport", level, node, name, fields),
        _ => emit_at!("craft::other", level, node, name, fields),
    }
}
