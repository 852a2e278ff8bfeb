//! `POST /v1/verifications/batch` and `GET /v1/batches/{id}`: re-permission campaigns.
//! Each item is a start of its own (limits, suppression, idempotency), answered in order; a
//! bad item never fails the others.

use std::collections::{HashMap, hash_map::Entry};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::{PhoneNumber, PhonePolicy},
    error::{ApiError, Problem},
    evidence::record_at,
    http::{ApiJson, json},
    state::AppState,
    store::SKIPPED,
};

use super::{
    AuthTenant, plain_text,
    start::{IdFrom, start_one},
    start_request::StartRequest,
    view::VerificationView,
};

/// The most items one batch may hold.
pub const MAX_ITEMS: usize = 1000;

/// Items start concurrently, this many at a time; answers keep the items' order.
const IN_FLIGHT: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 start bodies, each with an optional `reference` (your own id, echoed back).
    #[schema(value_type = Vec<BatchItem>)]
    pub items: Vec<serde_json::Value>,
}

/// A start body plus your own reference. Only describes an item in the OpenAPI document:
/// items are parsed one by one, so that a bad one fails alone. `initiated_by` defaults to
/// `marketer` in a batch.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct BatchItem {
    pub reference: Option<String>,
    #[schema(inline)]
    pub start: StartRequest,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub id: String,
    pub accepted: usize,
    pub refused: usize,
    pub items: Vec<BatchItemResult>,
}

/// One item's answer: `status` 201 with the verification, or the problem that refused it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    pub index: usize,
    pub reference: Option<String>,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub items: u64,
    pub accepted: u64,
    /// Verifications per state, kept current as they move.
    pub counts: BatchCountsView,
}

/// How many of a batch's verifications are in each state.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BatchCountsView {
    /// Waiting to be sent (or for their turn, on a paced channel).
    pub queued: u64,
    /// Waiting for the tenant's send window (quiet hours).
    pub held: u64,
    pub sent: u64,
    pub confirmed: u64,
    pub declined: u64,
    pub expired: u64,
    pub failed: u64,
    pub canceled: u64,
    /// Items that started nothing: the number already consented to this purpose and caller.
    pub already_consented: u64,
    /// Items that started nothing: the same number, purpose and caller as an earlier item.
    pub duplicate_in_batch: u64,
}

impl BatchCountsView {
    fn from_counts(counts: &[(&'static str, i64)], skipped: &[(&'static str, i64)]) -> Self {
        let skip = |kind: &str| skipped.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| (*n).max(0) as u64);
        let n = |state: &str| counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| (*n).max(0) as u64);
        Self {
            queued: n("queued"),
            held: n("held"),
            sent: n("sent"),
            confirmed: n("confirmed"),
            declined: n("declined"),
            expired: n("expired"),
            failed: n("failed"),
            canceled: n("canceled"),
            already_consented: skip("already-consented"),
            duplicate_in_batch: skip("duplicate-in-batch"),
        }
    }
}

pub(super) fn parse_batch_id(raw: &str) -> Option<&str> {
    let hexpart = raw.strip_prefix("bt_")?;
    (hexpart.len() == 24 && hexpart.bytes().all(|b| b.is_ascii_hexdigit())).then_some(raw)
}

/// The reference, taken out of the item so that the rest is a plain start body.
fn take_reference(item: &mut serde_json::Value, index: usize) -> Result<Option<String>, ApiError> {
    let field = format!("items[{index}].reference");
    let Some(obj) = item.as_object_mut() else {
        return Err(ApiError::invalid(format!("items[{index}]"), "each item must be a JSON object"));
    };
    match obj.remove("reference") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(r)) if !r.is_empty() && r.chars().count() <= 100 => {
            // Echoed back and kept with the item's answer: the one free-text rule applies.
            plain_text(&field, &r)?;
            Ok(Some(r))
        }
        Some(_) => Err(ApiError::invalid(field, "a string of 1 to 100 characters")),
    }
}

/// What makes two items the same ask: the number (as E.164), the purpose and the caller. An
/// item whose number does not parse has none, and fails on its own.
fn same_ask(item: &serde_json::Value, tenant_name: &str) -> Option<String> {
    let policy = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let phone = PhoneNumber::parse_any_country(item.get("phone")?.as_str()?, &policy).ok()?;
    let purpose = item.get("purpose")?.get("id")?.as_str()?;
    let caller = item.get("caller").and_then(|c| c.as_str()).unwrap_or(tenant_name);
    Some(format!("{}\0{purpose}\0{caller}", phone.e164()))
}

/// Names the item in a field path: `phone` of item 3 is `items[3].phone`.
fn in_item(e: ApiError, index: usize) -> ApiError {
    match e {
        ApiError::InvalidRequest { field, detail } => {
            let field = if field.is_empty() { format!("items[{index}]") } else { format!("items[{index}].{field}") };
            ApiError::InvalidRequest { field, detail }
        }
        other => other,
    }
}

/// Start up to 1,000 verifications, each answered on its own, in order. A bad item never
/// fails the others: its answer is the problem that refused it.
#[utoipa::path(
    post, path = "/v1/verifications/batch", tag = "batches", operation_id = "create_batch",
    request_body = BatchRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried batch returns the same verifications")),
    responses(
        (status = 200, body = BatchResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    AuthTenant(tenant): AuthTenant,
    ApiJson(body, _): ApiJson<BatchRequest, true>,
) -> Result<HttpResponse, ApiError> {
    let n = body.items.len();
    if n == 0 || n > MAX_ITEMS {
        return Err(ApiError::invalid("items", format!("1 to {MAX_ITEMS} items")));
    }
    let idem = crate::http::idempotency::idempotency_key(&req)?;
    let batch_id = match &idem {
        Some(k) => format!("bt_{}", state.key.pseudonym("batch", &format!("{}\n{k}", tenant.id))),
        None => format!("bt_{}", hex::encode(&crate::domain::ServerKey::new_seed()[..12])),
    };
    let now = AppState::now_ms();
    // Longer than any of its verifications stays open (a call window may lie 14 days ahead);
    // the batch is kept a retention period past that.
    let keep_until = now + 30 * 86_400_000;
    state.store.put_batch(&batch_id, &tenant.id, n, now, keep_until).await?;
    let (state_ref, tenant_ref, batch_ref, idem_ref) = (&state, &tenant, batch_id.as_str(), idem.as_deref());
    let mut first_of: HashMap<String, usize> = HashMap::new();
    let prepared: Vec<_> = body
        .items
        .into_iter()
        .enumerate()
        .map(|(index, mut item)| match take_reference(&mut item, index) {
            Err(e) => (index, None, Err(e)),
            Ok(reference) => {
                // A batch is a campaign: quiet hours, pacing and suppression apply unless an
                // item says the person asked for it themselves.
                if let Some(obj) = item.as_object_mut() {
                    obj.entry("initiated_by").or_insert_with(|| serde_json::json!("marketer"));
                }
                // The same person asked twice for the same thing costs two messages and
                // irritates: only the first item is started.
                let first = same_ask(&item, &tenant.name).and_then(|k| match first_of.entry(k) {
                    Entry::Occupied(e) => Some(*e.get()),
                    Entry::Vacant(v) => {
                        v.insert(index);
                        None
                    }
                });
                match first {
                    Some(first) => (index, reference, Err(ApiError::DuplicateInBatch { first })),
                    None => (index, reference, Ok(item)),
                }
            }
        })
        .collect();
    let results: Vec<BatchItemResult> = futures_util::stream::iter(prepared)
        .map(|(index, reference, item)| async move {
            let outcome = match item {
                Err(e) => Err(e),
                Ok(item) => {
                    async {
                        let bytes = serde_json::to_vec(&item).map_err(ApiError::internal)?;
                        let start: StartRequest = json::parse(&bytes).map_err(|e| in_item(e, index))?;
                        // Its own namespace: no single start's key can name a batch item's id.
                        let key = idem_ref.map(|k| format!("batch\0{k}\0{index}"));
                        let id_from = key.as_deref().map_or(IdFrom::Random, IdFrom::Key);
                        start_one(state_ref, tenant_ref, start, &bytes, id_from, Some(batch_ref)).await
                    }
                    .await
                }
            };
            match outcome {
                Ok(started) => {
                    BatchItemResult { index, reference, status: 201, verification: Some(started.view), error: None }
                }
                Err(e) => {
                    e.log();
                    let problem = e.problem();
                    BatchItemResult {
                        index,
                        reference,
                        status: problem.status,
                        verification: None,
                        error: Some(problem),
                    }
                }
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let skipped: Vec<(usize, &'static str)> = results
        .iter()
        .filter_map(|r| {
            let kind = r.error.as_ref()?.type_.rsplit('/').next()?;
            SKIPPED.iter().find(|k| **k == kind).map(|k| (r.index, *k))
        })
        .collect();
    state.store.batch_skipped(&batch_id, &skipped).await?;
    // What each item became, for `GET /v1/batches/{id}/items`.
    let rows: Vec<(usize, String)> = results
        .iter()
        .map(|r| {
            let row = serde_json::json!({
                "v": r.verification.as_ref().map(|v| v.id.as_str()),
                "r": r.reference,
                "p": r.error.as_ref().and_then(|e| e.type_.rsplit('/').next()),
            });
            (r.index, row.to_string())
        })
        .collect();
    state.store.batch_items_put(&batch_id, &rows).await?;
    let accepted = results.iter().filter(|r| r.verification.is_some()).count();
    Ok(HttpResponse::Ok().json(BatchResponse { id: batch_id, accepted, refused: n - accepted, items: results }))
}

/// A batch's counts per state.
#[utoipa::path(
    get, path = "/v1/batches/{id}", tag = "batches", operation_id = "get_batch",
    params(("id" = String, Path)),
    responses((status = 200, body = BatchView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_batch_id(&path).ok_or(ApiError::NotFound)?;
    let b = state.store.batch(id).await?.filter(|b| b.tenant == tenant.id).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(BatchView {
        id: id.to_string(),
        created_at: record_at(b.created_ms),
        items: b.items,
        // Every verification the batch created is in exactly one state: their sum is what it
        // accepted, even when the client left before the batch's answer.
        accepted: b.counts.iter().map(|(_, n)| (*n).max(0) as u64).sum(),
        counts: BatchCountsView::from_counts(&b.counts, &b.skipped),
    }))
}
