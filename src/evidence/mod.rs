//! The evidence record of a finished verification, its signed receipt, the proof bundle that
//! gathers a number's consents, and the offline checks a third party runs on them.

pub mod proof;
mod receipt;
mod record;
mod seal;
pub mod verify;

pub use receipt::{ReceiptKeyError, ReceiptSigner, RetiredReceiptKey};
pub use record::{EvidenceRecord, at as record_at, build};
pub use seal::{ReceiptClaims, issue, receipt};
