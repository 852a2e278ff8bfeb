//! Background work: sending queued messages. One task per partition, each on its own
//! connection, so a blocking stream read never stalls the API's shared connection.

mod sender;

pub use sender::{SenderDeps, spawn_senders};
