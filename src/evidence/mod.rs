//! The evidence record of a finished verification (DESIGN.md §4) and its signed receipt.

mod receipt;
mod record;

pub use receipt::{ReceiptKeyError, ReceiptSigner, RetiredReceiptKey};
pub use record::{EvidenceRecord, at as record_at, build};
