//! The Lua scripts, compiled once with the shared prelude; run with EVALSHA.

use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = include_str!("lua/prelude.lua");

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

pub static CREATE: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/create.lua")));
pub static CHECK: LazyLock<Script> = LazyLock::new(|| with_prelude(include_str!("lua/check.lua")));
pub static ANSWER_LINK: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/answer_link.lua")));
pub static OPT_OUT: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/opt_out.lua")));
pub static CANCEL: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/cancel.lua")));
pub static RESEND: LazyLock<Script> =
    LazyLock::new(|| with_prelude(include_str!("lua/resend.lua")));
pub static MARK_SENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/mark_sent.lua")));
pub static RATE_LIMIT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/rate_limit.lua")));
pub static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/ack.lua")));
pub static OUTBOX_PUSH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/outbox_push.lua")));
