//! Types that parse rather than validate. Nothing here knows Redis or HTTP.

mod apikey;
mod calendar;
mod code;
mod context;
mod email;
mod ids;
mod keyring;
mod kinds;
mod mask;
mod page_secret;
mod phone;
mod secret;
mod secret_box;
mod text;
mod token;

pub use apikey::{ApiKey, ApiKeyHash};
pub use calendar::{HoursError, OpeningHours, clock, spoken_date};
pub use code::{Code, CodeError};
pub use context::{CheckboxDefault, Collection, ConsentText, Context, Controller, PrivacyStatement, Purpose};
pub use email::{Email, EmailError};
pub use ids::{Partition, VerificationId};
pub use keyring::ServerKeys;
pub use kinds::{Channel, InitiatedBy, Locale, MessageState, Method, Status, WebhookOutcome, WebhookState};
pub use mask::{mask_email, mask_phone, redact_contacts};
pub use page_secret::PageSecret;
pub use phone::{PhoneError, PhoneNumber, PhonePolicy};
pub use secret::{SecretError, ServerKey, low_entropy};
pub use secret_box::{Opened, SealError, SecretBox};
pub use text::{PlainText, TextError};
pub use token::{LinkToken, TokenKind};
