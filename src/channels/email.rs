//! Email through SMTP with lettre: a connection pool, STARTTLS / implicit TLS / plain by config,
//! multipart text + HTML, DKIM when a key is configured, RFC 8058 one-click headers.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{
        Body, Mailbox, MultiPart,
        dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey},
        header::{self, ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue},
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

/// Headers the DKIM signature covers. RFC 8058 §4 asks for both List-Unsubscribe headers, so a
/// relay cannot add a one-click target of its own; the rest are what a receiver shows or trusts.
const SIGNED_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// Relaxed/relaxed: relays refold and re-space headers, and lettre writes its own signature header
/// folded, so only relaxed header canonicalization verifies at the receiver.
fn dkim_config(selector: String, domain: String, key: DkimSigningKey) -> DkimConfig {
    let relaxed =
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
    let headers = SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
    DkimConfig::new(selector, domain, key, headers, relaxed)
}

/// The multipart body as a raw body under top-level `Content-Type` and `MIME-Version` headers.
/// lettre writes a multipart's own `Content-Type` after the message headers, where its DKIM signer
/// does not see it; a signature that names `Content-Type` then fails. As a raw body the header is
/// one of the message's and is signed like the others, over the exact bytes that are sent.
fn flatten(builder: lettre::message::MessageBuilder, body: MultiPart) -> Result<lettre::Message, String> {
    let content_type = body.headers().get::<ContentType>().ok_or("multipart without Content-Type")?;
    let formatted = body.formatted();
    let head = body.headers().to_string().len() + 2;
    let raw = formatted.get(head..).ok_or("multipart shorter than its headers")?.to_vec();
    // lettre has already encoded every part (quoted-printable or base64), so the whole is 7-bit.
    let raw = Body::dangerous_pre_encoded(raw, ContentTransferEncoding::SevenBit);
    builder.header(header::MIME_VERSION_1_0).header(content_type).body(raw).map_err(|e| e.to_string())
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
                Some(dkim_config(d.selector.clone(), d.domain.clone(), key))
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
        let mut mail = flatten(b, body).map_err(|e| permanent(&e))?;
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
    use super::{SmtpTransport, parse_from, sender};
    use crate::{
        channels::Message,
        config::{SmtpSettings, SmtpTls},
        domain::{Channel, Locale, Method},
    };

    #[tokio::test]
    async fn the_multipart_content_type_is_a_message_header_before_the_body() {
        let settings = SmtpSettings {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::None,
            username: String::new(),
            password: String::new(),
            from: "verify@acme.example".into(),
            pool_size: 1,
            dkim: None,
            rate_per_second: 0,
        };
        let transport = SmtpTransport::new(&settings).unwrap();
        let m = Message {
            verification_id: "ver_test".into(),
            channel: Channel::Email,
            method: Method::Code,
            locale: Locale::Nl,
            to: "jan@example.nl".into(),
            subject: Some("Uw code".into()),
            text: "Uw code is 123456.".into(),
            html: Some("<p>Uw code is 123456.</p>".into()),
            headers: vec![("List-Unsubscribe".into(), "<https://x.example/o/t>".into())],
            code: String::new(),
            link_token: String::new(),
            whatsapp_template: None,
            from_name: "Acme".into(),
            reply_to: None,
            send_number: 1,
        };
        let mail = transport.build(&m).unwrap();
        let formatted = String::from_utf8(mail.formatted()).unwrap();
        let (head, body) = formatted.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Content-Type: multipart/alternative;"), "{formatted}");
        assert!(head.contains("MIME-Version: 1.0"), "{formatted}");
        assert_eq!(head.matches("Content-Type:").count(), 1, "{formatted}");
        assert!(body.starts_with("--"), "{formatted}");
        assert!(body.contains("Content-Type: text/plain; charset=utf-8"), "{formatted}");
    }

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
