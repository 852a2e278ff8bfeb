//! The evidence record of a finished verification (DESIGN.md §4). Signed receipts over it
//! arrive with the webhooks work; the record's shape is fixed here.

mod record;

pub use record::{EvidenceRecord, at as record_at, build};
