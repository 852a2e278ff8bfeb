//! Email through SMTP with lettre: a connection pool, STARTTLS / implicit TLS / plain by config,
//! multipart text + HTML, DKIM when a key is configured, RFC 8058 one-click headers.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey},
        header::{Header, HeaderName, HeaderValue},
    },
    transport::smtp::{PoolConfig, authentication::Credentials},
};

use crate::config::{SmtpSettings, SmtpTls};

use super::{ChannelError, Message, Notifier, SendReceipt, SendReport};

macro_rules! raw_header {
    ($t:ident, $name:literal) => {
        #[derive(Clone)]
        struct $t(String);

        impl Header for $t {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

raw_header!(ListUnsubscribe, "List-Unsubscribe");
raw_header!(ListUnsubscribePost, "List-Unsubscribe-Post");

#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("smtp: {0}")]
    Transport(#[from] lettre::transport::smtp::Error),
    #[error("`from` is not an address: {0}")]
    From(String),
    #[error("dkim key: {0}")]
    Dkim(String),
}

pub struct SmtpTransport {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    dkim: Option<DkimConfig>,
}

/// `from` as mail settings usually write it: `Name <address>` or a bare `address`.
fn parse_from(raw: &str) -> Result<Mailbox, SmtpSetupError> {
    raw.trim().parse().map_err(|_| SmtpSetupError::From(raw.to_string()))
}

/// The configured display name, or else the tenant's name.
fn sender(from: &Mailbox, tenant_name: &str) -> Mailbox {
    let name = from.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| tenant_name.to_string());
    Mailbox::new(Some(name), from.email.clone())
}

impl SmtpTransport {
    pub fn new(s: &SmtpSettings) -> Result<Self, SmtpSetupError> {
        let builder = match s.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
        };
        let mut builder = builder
            .port(s.port)
            .timeout(Some(Duration::from_secs(15)))
            .pool_config(PoolConfig::new().max_size(s.pool_size));
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), s.password.clone()));
        }
        let from = parse_from(&s.from)?;
        let dkim = match &s.dkim {
            Some(d) => {
                let algorithm =
                    if d.algorithm == "rsa" { DkimSigningAlgorithm::Rsa } else { DkimSigningAlgorithm::Ed25519 };
                let key = DkimSigningKey::new(d.private_key.trim(), algorithm)
                    .map_err(|e| SmtpSetupError::Dkim(e.to_string()))?;
                Some(DkimConfig::default_config(d.selector.clone(), d.domain.clone(), key))
            }
            None => None,
        };
        Ok(Self { mailer: builder.build(), from, dkim })
    }

    fn build(&self, m: &Message) -> Result<lettre::Message, ChannelError> {
        let permanent = |e: &dyn std::fmt::Display| ChannelError::Permanent(format!("email: {e}"));
        let to: Mailbox = m.to.parse().map_err(|e| permanent(&e))?;
        let domain = self.from.email.domain().to_string();
        let mut b = lettre::Message::builder()
            .from(sender(&self.from, &m.from_name))
            .to(to)
            .subject(m.subject.clone().unwrap_or_default())
            .date_now()
            .message_id(Some(format!(
                "<{}.{}@{domain}>",
                m.verification_id,
                hex::encode(crate::domain::ServerKey::new_seed())
            )));
        if let Some(r) = &m.reply_to {
            b = b.reply_to(r.parse().map_err(|e| permanent(&e))?);
        }
        for (name, value) in &m.headers {
            b = match name.as_str() {
                "List-Unsubscribe" => b.header(ListUnsubscribe(value.clone())),
                "List-Unsubscribe-Post" => b.header(ListUnsubscribePost(value.clone())),
                _ => b,
            };
        }
        let body = match &m.html {
            Some(html) => MultiPart::alternative_plain_html(m.text.clone(), html.clone()),
            None => MultiPart::mixed().singlepart(lettre::message::SinglePart::plain(m.text.clone())),
        };
        let mut mail = b.multipart(body).map_err(|e| permanent(&e))?;
        if let Some(d) = &self.dkim {
            mail.sign(d);
        }
        Ok(mail)
    }
}

impl Notifier for SmtpTransport {
    fn send<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, SendReport> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            SendReport::single("smtp", started, self.deliver(m).await)
        })
    }
}

impl SmtpTransport {
    async fn deliver(&self, m: &Message) -> Result<SendReceipt, ChannelError> {
        let mail = self.build(m)?;
        let id = mail.headers().get_raw("Message-ID").map(str::to_string);
        match self.mailer.send(mail).await {
            Ok(_) => Ok(SendReceipt { provider: "smtp", reference: id }),
            Err(e) => {
                // Only "this mailbox does not exist / will not take it" is about the recipient;
                // other 5xx (auth 530/535, relay or policy 554) are ours to fix and may pass later.
                let code = e.status().map(|c| c.to_string()).unwrap_or_default();
                if matches!(code.as_str(), "550" | "551" | "553") {
                    Err(ChannelError::Permanent(format!("smtp {code}")))
                } else {
                    Err(ChannelError::Transient(format!("smtp: {e}")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_from, sender};

    #[test]
    fn from_takes_a_display_name_or_a_bare_address() {
        let named = parse_from("Acme Energie <verify@acme.example>").unwrap();
        let s = sender(&named, "Tenant B.V.");
        assert_eq!((s.name.as_deref(), s.email.to_string().as_str()), (Some("Acme Energie"), "verify@acme.example"));
        let bare = parse_from("verify@acme.example").unwrap();
        let s = sender(&bare, "Tenant B.V.");
        assert_eq!((s.name.as_deref(), s.email.to_string().as_str()), (Some("Tenant B.V."), "verify@acme.example"));
        assert!(parse_from("not an address").is_err());
    }
}
