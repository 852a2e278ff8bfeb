//! The evidence record of a finished verification and its signed receipt.

mod receipt;
mod record;
mod seal;

pub use receipt::{ReceiptKeyError, ReceiptSigner, RetiredReceiptKey};
pub use record::{EvidenceRecord, at as record_at, build};
pub use seal::{ReceiptClaims, issue, receipt};
