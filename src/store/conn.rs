//! One connection type for standalone Redis and Redis Cluster, so the store is written once.

use std::time::{Duration, Instant};

use redis::{
    Cmd, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
};

/// A cheap-to-clone multiplexed connection that reconnects by itself.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// `url` is one node; with `cluster`, a comma-separated list of seed nodes also works.
    pub async fn connect(url: &str, cluster: bool, timeout: Duration) -> redis::RedisResult<Self> {
        if cluster {
            let nodes: Vec<String> = url.split(',').map(|s| s.trim().to_string()).collect();
            let client = ClusterClientBuilder::new(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(2)
                .build()?;
            Ok(Self::Cluster(client.get_async_connection().await?))
        } else {
            let client = redis::Client::open(url)?;
            let cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1);
            Ok(Self::Single(client.get_connection_manager_with_config(cfg).await?))
        }
    }
}

/// Times a command for `optin_verify_redis_command_duration_seconds`.
fn timed<'a, T: Send + 'a>(name: &'a [u8], fut: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
    Box::pin(async move {
        let started = Instant::now();
        let result = fut.await;
        crate::metrics::observe_redis(name, started, result.as_ref().err());
        result
    })
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let name = match cmd.args_iter().next() {
            Some(redis::Arg::Simple(n)) => n,
            _ => b"other".as_slice(),
        };
        let fut = match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        };
        timed(name, fut)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let fut = match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        };
        timed(b"pipeline", fut)
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
