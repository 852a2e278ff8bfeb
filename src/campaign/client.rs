//! The batch route and the batch counts, as a well-behaved client calls them: `Retry-After` on
//! 429, backoff with jitter on 5xx and lost connections (up to a limit), and a stop at once on
//! 401 or 403.

use std::time::Duration;

use rand::Rng;
use serde_json::Value;

use super::CampaignError;

/// Tries for a 5xx or a lost connection before the run stops.
const TRIES: u32 = 6;

pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub fn new(base: &str, key: String) -> Result<Self, CampaignError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("optin-verify-campaign/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CampaignError::Input(e.to_string()))?;
        Ok(Self { http, base: base.trim_end_matches('/').to_string(), key })
    }

    /// One batch, under its `Idempotency-Key`: its answer, however many tries it took.
    pub async fn batch(&self, items: &[Value], idempotency_key: &str) -> Result<Value, CampaignError> {
        let body = serde_json::json!({ "items": items });
        self.call(|| {
            self.http
                .post(format!("{}/v1/verifications/batch", self.base))
                .bearer_auth(&self.key)
                .header("Idempotency-Key", idempotency_key)
                .json(&body)
        })
        .await
    }

    /// A batch's counts (`GET /v1/batches/{id}`).
    pub async fn counts(&self, batch: &str) -> Result<Value, CampaignError> {
        self.call(|| self.http.get(format!("{}/v1/batches/{batch}", self.base)).bearer_auth(&self.key)).await
    }

    async fn call(&self, request: impl Fn() -> reqwest::RequestBuilder) -> Result<Value, CampaignError> {
        let mut failures = 0;
        loop {
            let wait = match request().send().await {
                Ok(r) if r.status().is_success() => {
                    return r
                        .json()
                        .await
                        .map_err(|e| CampaignError::Server(format!("an answer that is not JSON: {e}")));
                }
                Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                    return Err(CampaignError::Refused(format!(
                        "HTTP {}: the API key is not accepted (OPTIN_API_KEY or --key-file)",
                        r.status().as_u16()
                    )));
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().as_u16() == 409 => {
                    // 409: the same batch is being answered on another connection (a rerun that
                    // overlaps a run still going); its answer is soon there to replay.
                    let after =
                        r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
                    Duration::from_secs(after.unwrap_or(1).clamp(1, 300))
                }
                Ok(r) if r.status().is_server_error() => {
                    failures += 1;
                    if failures >= TRIES {
                        return Err(CampaignError::Server(format!("HTTP {} {failures} times", r.status().as_u16())));
                    }
                    backoff(failures)
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    return Err(CampaignError::Server(format!(
                        "HTTP {status}: {}",
                        text.chars().take(300).collect::<String>()
                    )));
                }
                Err(e) => {
                    failures += 1;
                    if failures >= TRIES {
                        return Err(CampaignError::Server(format!("{e} ({failures} times)")));
                    }
                    backoff(failures)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// 0.5 s, 1 s, 2 s, ... with up to half again of jitter, so that many clients do not retry
/// in step.
fn backoff(failures: u32) -> Duration {
    let base = 500u64 << failures.min(6).saturating_sub(1);
    Duration::from_millis(base + rand::rng().random_range(0..=base / 2))
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_has_jitter() {
        let first = super::backoff(1).as_millis();
        let fifth = super::backoff(5).as_millis();
        assert!((500..=750).contains(&first), "{first}");
        assert!((8000..=12000).contains(&fifth), "{fifth}");
    }
}
