//! The small closed vocabularies of a verification.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

str_enum!(
    /// How consent is confirmed.
    Method { #[default] Link => "link", Code => "code", Call => "call" }
);
str_enum!(
    /// How the verification message travels.
    Channel { #[default] Sms => "sms", Whatsapp => "whatsapp", Email => "email" }
);
str_enum!(
    /// Lifecycle of a verification. Every move away from `pending` happens once.
    Status {
        #[default]
        Pending => "pending",
        Confirmed => "confirmed",
        Declined => "declined",
        Expired => "expired",
        Failed => "failed",
        Canceled => "canceled",
    }
);
str_enum!(
    /// Who asked for the message: a waiting consumer or a marketer's campaign.
    InitiatedBy { #[default] Consumer => "consumer", Marketer => "marketer" }
);
str_enum!(
    /// Where the message to the person stands: `queued` until a worker handed it to its
    /// transport, `held` while it waits for the send window, `sent`, then `delivered` or
    /// `failed` when the provider reports; `retrying` after a provider error.
    MessageState {
        #[default]
        Queued => "queued",
        Held => "held",
        Sent => "sent",
        Delivered => "delivered",
        Failed => "failed",
        Retrying => "retrying",
    }
);
str_enum!(
    /// What one webhook delivery attempt left: `delivered`, `retrying` (a later attempt is
    /// scheduled), `dead` (its schedule is used up, or the endpoint is gone), or `deferred`
    /// (not attempted: its endpoint was busy, so it waits without using an attempt).
    WebhookOutcome {
        #[default]
        Delivered => "delivered",
        Retrying => "retrying",
        Dead => "dead",
        Deferred => "deferred",
    }
);
str_enum!(
    /// Where one endpoint's delivery of a message stands.
    WebhookState {
        #[default]
        Pending => "pending",
        Retrying => "retrying",
        Delivered => "delivered",
        Dead => "dead",
    }
);
str_enum!(
    /// Language of messages and pages.
    Locale { #[default] Nl => "nl", En => "en" }
);

impl Channel {
    /// SMS and WhatsApp reach a phone, so the destination must be a mobile number.
    pub fn needs_mobile(self) -> bool {
        matches!(self, Self::Sms | Self::Whatsapp)
    }
}
