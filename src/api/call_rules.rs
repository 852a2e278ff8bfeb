//! The rules of ACM method 3 that a request can break, each with its own problem `type`.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    config::{CallSettings, TenantSettings},
    domain::{PhoneNumber, PhonePolicy},
    error::ApiError,
};

/// When, and from which published number, the verification call will come.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallWindow {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// One of the tenant's registered caller numbers.
    pub caller_number: String,
}

/// A new window after an unreachable attempt; the caller number stays the announced one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

fn rule(rule: &'static str, field: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::CallRule { rule, field, detail: detail.into() }
}

/// The window is in the future, 15 min to 4 h long, within the horizon and the calling hours.
pub fn check_window(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    tenant: &TenantSettings,
    calls: &CallSettings,
) -> Result<(), ApiError> {
    if start <= now {
        return Err(rule("call-window-in-past", "call.window_start", "the window must start in the future"));
    }
    let minutes = (end - start).num_minutes();
    if end <= start || minutes < calls.min_window_minutes {
        return Err(rule(
            "call-window-too-short",
            "call.window_end",
            format!("the window must last at least {} minutes", calls.min_window_minutes),
        ));
    }
    if minutes > calls.max_window_minutes {
        return Err(rule(
            "call-window-too-long",
            "call.window_end",
            format!("the window may last at most {} minutes", calls.max_window_minutes),
        ));
    }
    if end > now + Duration::days(calls.horizon_days) {
        return Err(rule(
            "call-window-too-far-ahead",
            "call.window_end",
            format!("the window must end within {} days", calls.horizon_days),
        ));
    }
    let hours = tenant.calling_hours.hours().map_err(ApiError::internal)?;
    if !hours.covers(start, end) {
        return Err(rule(
            "call-window-outside-calling-hours",
            "call.window_start",
            format!(
                "calls are allowed on {} from {} to {} (Dutch time), not on blocked dates",
                tenant.calling_hours.days.join(", "),
                tenant.calling_hours.start,
                tenant.calling_hours.end
            ),
        ));
    }
    Ok(())
}

/// The number must be one the tenant registered: recognisable and able to take calls back.
pub fn check_caller(number: &str, tenant: &TenantSettings) -> Result<String, ApiError> {
    let any = PhonePolicy { allowed_countries: &[], require_mobile: false };
    let given = PhoneNumber::parse_any_country(number, &any)
        .map_err(|e| ApiError::InvalidPhone { field: "call.caller_number", source: e })?;
    let registered = tenant
        .caller_numbers
        .iter()
        .filter_map(|n| PhoneNumber::parse_any_country(n, &any).ok())
        .any(|n| n.e164() == given.e164());
    if !registered {
        return Err(rule(
            "caller-number-not-registered",
            "call.caller_number",
            "not one of the tenant's registered, published caller numbers",
        ));
    }
    Ok(given.e164().to_string())
}
