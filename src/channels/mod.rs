//! Turning a verification into a message, and handing messages to a transport.

mod console;
mod render;

pub use console::ConsoleTransport;
pub use render::{CallInfo, MessageInputs, render};

use futures_util::future::BoxFuture;

use crate::domain::Channel;

/// A message exactly as the person receives it.
#[derive(Clone)]
pub struct Message {
    pub verification_id: String,
    pub channel: Channel,
    /// E.164 or email address.
    pub to: String,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// Extra headers (email: RFC 8058 one-click unsubscribe).
    pub headers: Vec<(String, String)>,
}

/// Messages carry codes and links: never print them.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("verification_id", &self.verification_id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Worth another try later: the job stays queued.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    #[error("message rendering failed: {0}")]
    Render(#[from] askama::Error),
}

/// Something that delivers messages. Dyn-compatible so config can pick one per channel.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), ChannelError>>;
}
