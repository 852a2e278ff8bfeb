//! `POST /v1/verifications/{id}/call-outcome`: the marketer reports the announced, recorded
//! verification call. Each broken rule is a 422 naming it; the verification stays pending.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::{Method, PhoneNumber, PhonePolicy, PlainText, Status, VerificationId},
    error::{ApiError, Problem},
    http::ApiJson,
    state::AppState,
    store::{CallOutcome, CallReport},
};

use super::{
    AuthTenant, VerificationView,
    call_rules::{NewWindow, check_window},
};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CallResult {
    Confirmed,
    Declined,
    Unreachable,
}

/// Where the recording is and how to check it is the same file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    #[schema(value_type = String, min_length = 1, max_length = 2048, pattern = "^\\S+$")]
    pub uri: PlainText,
    /// Hex SHA-256 of the recording file.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub sha256: String,
    #[schema(minimum = 1, maximum = 14400)]
    pub duration_seconds: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallOutcomeRequest {
    pub outcome: CallResult,
    pub called_at: DateTime<Utc>,
    pub caller_number: String,
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = "\\S")]
    pub agent_id: PlainText,
    /// Required for `confirmed`.
    #[serde(default)]
    pub recording: Option<Recording>,
    /// For `unreachable`, while reschedules are left: the next window (announced anew).
    #[serde(default)]
    pub new_window: Option<NewWindow>,
}

fn rule(rule: &'static str, field: &'static str, detail: &str) -> ApiError {
    ApiError::CallRule { rule, field, detail: detail.into() }
}

fn check_recording(r: &Recording) -> Result<(), ApiError> {
    if r.uri.trim().is_empty() || r.uri.len() > 2048 || r.uri.contains(char::is_whitespace) {
        return Err(ApiError::invalid("recording.uri", "a URI of at most 2048 characters"));
    }
    if r.sha256.len() != 64 || !r.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("recording.sha256", "64 hex digits"));
    }
    if r.duration_seconds == 0 || r.duration_seconds > 4 * 3600 {
        return Err(ApiError::invalid("recording.duration_seconds", "1 to 14400 seconds"));
    }
    Ok(())
}

/// Report the announced, recorded verification call.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/call-outcome", tag = "verifications", operation_id = "report_call_outcome",
    params(("id" = String, Path)), request_body = CallOutcomeRequest,
    responses(
        (status = 200, body = VerificationView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn report(
    state: web::Data<AppState>,
    AuthTenant(tenant): AuthTenant,
    path: web::Path<String>,
    ApiJson(body, _): ApiJson<CallOutcomeRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = VerificationId::parse(&path, state.settings.redis.partitions).ok_or(ApiError::NotFound)?;
    let v = match state.store.get(&id).await? {
        Some(v) if v.tenant == tenant.id => v,
        _ => return Err(ApiError::NotFound),
    };
    let call = match (&v.call, v.method) {
        (Some(c), Method::Call) => c.clone(),
        _ => return Err(rule("not-a-call-verification", "outcome", "this verification is not a call verification")),
    };
    if v.status != Status::Pending {
        return Err(ApiError::NotPending { status: v.status.as_str() });
    }
    let agent = body.agent_id.trim();
    if agent.is_empty() || agent.len() > 100 {
        return Err(ApiError::invalid("agent_id", "1 to 100 characters"));
    }
    let now = Utc::now();
    let called = body.called_at;
    if called > now + Duration::seconds(60) {
        return Err(rule("called-at-in-future", "called_at", "the call cannot have taken place in the future"));
    }
    let any = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let caller = PhoneNumber::parse_any_country(&body.caller_number, &any)
        .map_err(|e| ApiError::InvalidPhone { field: "caller_number", source: e })?;
    if caller.e164() != call.caller_number {
        return Err(rule("caller-number-mismatch", "caller_number", "the call must come from the announced number"));
    }
    let ms = called.timestamp_millis();
    if ms < call.start_ms || ms > call.end_ms {
        return Err(rule("called-outside-window", "called_at", "the call must take place inside the announced window"));
    }
    let announced = v.last_announcement_ms();
    if announced.is_none_or(|at| ms < at) {
        return Err(rule(
            "called-before-announcement",
            "called_at",
            "the call must come after the announcement was delivered",
        ));
    }
    let calls = &state.settings.calls;
    let retain_until = called
        .checked_add_months(Months::new(calls.recording_retention_months))
        .ok_or_else(|| ApiError::internal("date overflow"))?;
    let mut new_window = None;
    match body.outcome {
        CallResult::Confirmed => {
            let r = body.recording.as_ref().ok_or_else(|| {
                rule("recording-required", "recording", "a confirmed call needs its recording reference")
            })?;
            check_recording(r)?;
        }
        CallResult::Unreachable if call.reschedules < calls.max_reschedules => {
            let w = body.new_window.as_ref().ok_or_else(|| {
                rule("new-window-required", "new_window", "an unreachable person needs a new, announced window")
            })?;
            check_window(w.window_start, w.window_end, now, &tenant, calls)?;
            let end = w.window_end.timestamp_millis();
            new_window = Some((w.window_start.timestamp_millis(), end, end + calls.report_grace_hours * 3_600_000));
        }
        _ => {}
    }
    let outcome = match body.outcome {
        CallResult::Confirmed => "confirmed",
        CallResult::Declined => "declined",
        CallResult::Unreachable => "unreachable",
    };
    let report = CallReport {
        outcome,
        expected_window_start_ms: call.start_ms,
        called_at_ms: ms,
        agent_id: agent,
        recording: body.recording.as_ref().map(|r| (r.uri.as_str(), r.sha256.as_str(), r.duration_seconds)),
        retain_until_ms: retain_until.timestamp_millis(),
        remind_at_ms: (retain_until - Duration::days(calls.retention_reminder_days)).timestamp_millis(),
        new_window,
        max_reschedules: calls.max_reschedules,
    };
    match state.store.call_outcome(&id, &tenant.id, &report, now.timestamp_millis()).await? {
        CallOutcome::Missing => return Err(ApiError::NotFound),
        CallOutcome::Final(s) => return Err(ApiError::NotPending { status: s.as_str() }),
        CallOutcome::Moved => {
            return Err(rule("call-window-changed", "called_at", "the window changed; read it again"));
        }
        CallOutcome::NeedsWindow => {
            return Err(rule("new-window-required", "new_window", "an unreachable person needs a new window"));
        }
        CallOutcome::Done(what) => tracing::info!(verification = %id, outcome = what, "call outcome recorded"),
    }
    let v = state.store.get(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(VerificationView::build(&v, &state.key, &state.signer)))
}
