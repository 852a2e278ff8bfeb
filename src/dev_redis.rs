//! Dev mode convenience: start a throw-away `redis-server` when none answers.

use std::{process::Stdio, time::Duration};

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum DevRedisError {
    #[error("no Redis answers at {0} and redis-server could not be started: {1}")]
    Spawn(String, std::io::Error),
    #[error("started redis-server, but it did not answer at {0}")]
    NoAnswer(String),
}

async fn answers(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(1), client.get_multiplexed_async_connection()).await
    else {
        return false;
    };
    redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
}

/// Returns the child when one was started; dropping it stops the server.
pub async fn ensure(url: &str) -> Result<Option<Child>, DevRedisError> {
    if answers(url).await {
        return Ok(None);
    }
    let port = redis::Client::open(url)
        .ok()
        .and_then(|c| match &c.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(_, p) => Some(*p),
            _ => None,
        })
        .unwrap_or(6379);
    tracing::warn!(port, "no Redis answered; starting a throw-away redis-server (dev mode, nothing is persisted)");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DevRedisError::Spawn(url.to_string(), e))?;
    for _ in 0..50 {
        if answers(url).await {
            return Ok(Some(child));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(DevRedisError::NoAnswer(url.to_string()))
}
