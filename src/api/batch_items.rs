//! `GET /v1/batches/{id}/items`: what each item of a batch became, a page at a time, for a
//! CRM to write back: its verification and where it stands now, or why it was refused.

use actix_web::{HttpResponse, web};
use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{MessageState, Status, VerificationId},
    error::{ApiError, Problem},
    state::AppState,
    store::{BATCH_STATES, VerificationRecord},
};

use super::{AuthTenant, batches::parse_batch_id};

/// The statuses an item can have: a verification's batch state, `refused`, or `gone` (its
/// record is no longer kept).
const ITEM_STATUSES: [&str; 10] =
    ["queued", "held", "sent", "confirmed", "declined", "expired", "failed", "canceled", "refused", "gone"];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    /// `next_cursor` of the page before; leave it out for the first page.
    pub cursor: Option<String>,
    /// 1 to 1,000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Only items with this status: queued, held, sent, confirmed, declined, expired, failed,
    /// canceled, refused or gone.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemRow {
    /// The item's place in the batch, from 0.
    pub index: usize,
    /// Your own id for the item, as sent.
    pub reference: Option<String>,
    pub verification_id: Option<String>,
    /// The verification's state now (as the batch counts it), `refused`, or `gone`.
    pub status: String,
    /// Why the item was refused (`invalid-phone`, `already-consented`, ...).
    pub problem_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemList {
    pub data: Vec<BatchItemRow>,
    /// Pass as `cursor` for the next page; `null` when this page is the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Row {
    v: Option<String>,
    r: Option<String>,
    p: Option<String>,
}

/// Where a verification stands, in the batch's words.
fn batch_state(v: &VerificationRecord) -> &'static str {
    match (v.status, v.delivery) {
        (Status::Pending, MessageState::Held) => "held",
        (Status::Pending, MessageState::Sent | MessageState::Delivered) => "sent",
        (Status::Pending, _) => "queued",
        (s, _) => BATCH_STATES.iter().find(|b| **b == s.as_str()).copied().unwrap_or("gone"),
    }
}

/// The items of a batch in index order, with each one's verification and status now.
#[utoipa::path(
    get, path = "/v1/batches/{id}/items", tag = "batches", operation_id = "list_batch_items",
    params(("id" = String, Path), ItemsQuery),
    responses((status = 200, body = BatchItemList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("api_key" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
    q: web::Query<ItemsQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_batch_id(&path).ok_or(ApiError::NotFound)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 1000"));
    }
    if let Some(s) = &q.status
        && !ITEM_STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::invalid("status", format!("one of {}", ITEM_STATUSES.join(", "))));
    }
    let mut from = match &q.cursor {
        Some(c) => c.parse::<usize>().map_err(|_| ApiError::invalid("cursor", "not a cursor this route gave"))?,
        None => 0,
    };
    let b = state.store.batch(id).await?.filter(|b| b.tenant == tenant.id).ok_or(ApiError::NotFound)?;
    let total = b.items as usize;
    let partitions = state.settings.redis.partitions;
    let mut data = Vec::new();
    // With a status filter a read may match few; read on (in reads of `limit`) until the page
    // is full or the batch ends.
    while from < total && data.len() < limit {
        let count = limit.min(total - from);
        let rows = state.store.batch_item_rows(id, from, count).await?;
        let rows: Vec<(usize, Option<Row>)> = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| (from + i, r.and_then(|r| serde_json::from_str(&r).ok())))
            .collect();
        let records = try_join_all(rows.iter().map(|(_, r)| async {
            match r.as_ref().and_then(|r| r.v.as_deref()).and_then(|v| VerificationId::parse(v, partitions)) {
                Some(v) => state.store.get(&v).await,
                None => Ok(None),
            }
        }))
        .await?;
        for ((index, row), record) in rows.into_iter().zip(records) {
            from = index + 1;
            let Some(row) = row else { continue };
            let status = match (&row.v, &record) {
                (None, _) => "refused",
                (Some(_), Some(v)) if v.tenant == tenant.id => batch_state(v),
                (Some(_), _) => "gone",
            };
            if q.status.as_deref().is_none_or(|s| s == status) {
                data.push(BatchItemRow {
                    index,
                    reference: row.r,
                    verification_id: row.v,
                    status: status.to_string(),
                    problem_type: row.p,
                });
                if data.len() == limit {
                    break;
                }
            }
        }
    }
    let next_cursor = (from < total).then(|| from.to_string());
    Ok(HttpResponse::Ok().json(BatchItemList { data, next_cursor }))
}
