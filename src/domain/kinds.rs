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
    /// Language of messages and pages.
    Locale { #[default] Nl => "nl", En => "en" }
);

impl Channel {
    /// SMS and WhatsApp reach a phone, so the destination must be a mobile number.
    pub fn needs_mobile(self) -> bool {
        matches!(self, Self::Sms | Self::Whatsapp)
    }
}
