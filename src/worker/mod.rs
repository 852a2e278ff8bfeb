//! Background work: sending queued messages. Each partition has its own task and connection,
//! so a blocking stream read never stalls the API's shared connection.

mod pacer;
mod sender;
pub mod stream_loop;

pub use pacer::Pacer;
pub use sender::{SenderDeps, consumer_name, spawn_senders};
