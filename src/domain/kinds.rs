//! The small closed vocabularies of a verification.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

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
    Method { Link => "link", Code => "code" }
);
str_enum!(
    /// How the verification message travels.
    Channel { Sms => "sms", Whatsapp => "whatsapp", Email => "email" }
);
str_enum!(
    /// Lifecycle of a verification. Every move away from `pending` happens once.
    Status {
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
    InitiatedBy { Consumer => "consumer", Marketer => "marketer" }
);
str_enum!(
    /// Language of messages and pages.
    Locale { Nl => "nl", En => "en" }
);

impl Channel {
    /// SMS and WhatsApp reach a phone, so the destination must be a mobile number.
    pub fn needs_mobile(self) -> bool {
        matches!(self, Self::Sms | Self::Whatsapp)
    }
}

impl Default for Locale {
    fn default() -> Self {
        Self::Nl
    }
}

impl Default for InitiatedBy {
    fn default() -> Self {
        Self::Consumer
    }
}
