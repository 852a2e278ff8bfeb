//! Dev transport: the message goes to the Redis-backed `/dev/outbox`, never to the log.

use futures_util::future::BoxFuture;

use crate::{
    domain::{Channel, mask_email, mask_phone},
    store::{OutboxMessage, Store},
};

use super::{ChannelError, Message, Notifier, SendReceipt, SendReport};

pub struct ConsoleTransport {
    store: Store,
}

impl ConsoleTransport {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl Notifier for ConsoleTransport {
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, SendReport> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = self.put(m).await;
            SendReport::single("console", started, result)
        })
    }
}

impl ConsoleTransport {
    async fn put(&self, m: &Message) -> Result<SendReceipt, ChannelError> {
        {
            let now = chrono::Utc::now();
            let entry = OutboxMessage {
                id: format!("msg_{}", hex::encode(crate::domain::ServerKey::new_seed())),
                verification_id: m.verification_id.clone(),
                channel: m.channel.as_str().to_string(),
                to: m.to.clone(),
                subject: m.subject.clone(),
                text: m.text.clone(),
                html: m.html.clone(),
                headers: m.headers.iter().cloned().collect(),
                created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            };
            self.store.outbox_push(&entry).await.map_err(|e| ChannelError::Transient(e.to_string()))?;
            let masked = match m.channel {
                Channel::Email => mask_email(&m.to),
                _ => mask_phone(&m.to),
            };
            tracing::info!(verification = %m.verification_id, channel = m.channel.as_str(), to = %masked, "message placed in dev outbox");
            Ok(SendReceipt { provider: "console", reference: Some(entry.id) })
        }
    }
}
