//! The Lua scripts, compiled once with the shared prelude; run with EVALSHA.

use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = include_str!("lua/prelude.lua");

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

pub static CREATE: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/create.lua")));
pub static CHECK: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/check.lua")));
pub static ANSWER_LINK: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/answer_link.lua")));
pub static OPT_OUT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/opt_out.lua")));
pub static CANCEL: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/cancel.lua")));
pub static RESEND: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/resend.lua")));
pub static MARK_SENT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/mark_sent.lua")));
pub static RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/rate_limit.lua")));
pub static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ack.lua")));
pub static OUTBOX_PUSH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/outbox_push.lua")));
pub static SWEEP: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/sweep.lua")));
pub static FANOUT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/fanout.lua")));
pub static DELIVERY_RESULT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/delivery_result.lua")));
pub static DUE_RETRIES: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/due_retries.lua")));
pub static REDELIVER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/redeliver.lua")));
pub static EP_CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ep_create.lua")));
pub static EP_DELETE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ep_delete.lua")));
pub static EP_REPLACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ep_replace.lua")));
pub static WITHDRAW_VERIFICATION: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/withdraw_verification.lua")));
pub static CALL_OUTCOME: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/call_outcome.lua")));
pub static RETENTION_DUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/retention_due.lua")));
pub static HOLD: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/hold.lua")));
pub static SEND_FAILED: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/send_failed.lua")));
pub static IDEM_BEGIN: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/idem_begin.lua")));
pub static IDEM_FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/idem_finish.lua")));
pub static LOAD: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/load.lua")));
pub static LOOKUP: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/lookup.lua")));
pub static WITHDRAW_PHONE: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/withdraw_phone.lua")));
pub static BATCH_PUT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/batch_put.lua")));
pub static PACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/pace.lua")));
pub static TO_CAMPAIGN: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/to_campaign.lua")));
pub static RELEASE_CAMPAIGN: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/release_campaign.lua")));
