//! One connection type for standalone Redis and Redis Cluster, so the store is written once.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use redis::{
    Cmd, FromRedisValue, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
    cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo},
};

/// A cheap-to-clone multiplexed connection that reconnects by itself.
#[derive(Clone)]
pub struct Conn {
    link: Link,
    /// Bounds the commands this connection has in Redis at once (see [`Conn::gated`]).
    gate: Option<Arc<Semaphore>>,
}

#[derive(Clone)]
enum Link {
    /// The connection and the node's `host:port`, as metrics and `store-info` name it.
    Single(ConnectionManager, Arc<str>),
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
            Ok(Self { link: Link::Cluster(client.get_async_connection().await?), gate: None })
        } else {
            let client = redis::Client::open(url)?;
            let cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1);
            let node = node_of(url).into();
            Ok(Self { link: Link::Single(client.get_connection_manager_with_config(cfg).await?, node), gate: None })
        }
    }

    /// The same connection, with at most `in_flight` commands in Redis at once from all its
    /// clones. Background work uses one: Redis runs one command at a time, so a request's
    /// command waits behind whatever the worker has queued there.
    pub fn gated(self, in_flight: usize) -> Self {
        Self { gate: Some(Arc::new(Semaphore::new(in_flight.max(1)))), ..self }
    }
}

impl Conn {
    /// `cmd`'s reply from every master (the one node of a standalone Redis), by `host:port`:
    /// memory, eviction and persistence are settings of each node, not of the cluster.
    pub async fn each_master(&self, cmd: &Cmd) -> redis::RedisResult<Vec<(String, Value)>> {
        match &self.link {
            Link::Single(c, node) => Ok(vec![(node.to_string(), cmd.query_async(&mut c.clone()).await?)]),
            Link::Cluster(c) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let replies: Vec<(String, Value)> = match c.clone().route_command(cmd.clone(), routing).await? {
                    Value::Map(replies) => replies
                        .into_iter()
                        .map(|(node, reply)| Ok((String::from_redis_value(node)?, reply)))
                        .collect::<redis::RedisResult<_>>()?,
                    other => return Err(unexpected("a reply per master", format!("{other:?}"))),
                };
                // The client leaves out masters it is still connecting to: a partial answer
                // would read as "no data there" or "no such setting".
                let masters = masters_owning_slots(&mut c.clone()).await?;
                if replies.len() < masters {
                    return Err(unexpected("every master to answer", format!("{} of {masters}", replies.len())));
                }
                Ok(replies)
            }
        }
    }

    /// How `each_master` names the node of a standalone Redis; `cluster` for a cluster.
    pub fn node_name(&self) -> String {
        match &self.link {
            Link::Single(_, node) => node.to_string(),
            Link::Cluster(_) => "cluster".into(),
        }
    }

    /// `cmd` on the node `each_master` named (a SCAN walks one node's keys).
    pub async fn on_node(&self, node: &str, cmd: &Cmd) -> redis::RedisResult<Value> {
        match &self.link {
            Link::Single(c, _) => cmd.query_async(&mut c.clone()).await,
            Link::Cluster(c) => {
                let (host, port) =
                    node.rsplit_once(':').and_then(|(h, p)| Some((h, p.parse().ok()?))).ok_or_else(|| {
                        redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, "not host:port", node.into()))
                    })?;
                let routing = SingleNodeRoutingInfo::ByAddress { host: host.into(), port };
                c.clone().route_command(cmd.clone(), RoutingInfo::SingleNode(routing)).await
            }
        }
    }
}

/// The masters that own slots, by `CLUSTER SLOTS` (each range names its master first).
async fn masters_owning_slots(c: &mut ClusterConnection) -> redis::RedisResult<usize> {
    let ranges: Vec<Value> = redis::cmd("CLUSTER").arg("SLOTS").query_async(c).await?;
    let mut masters = std::collections::HashSet::new();
    for range in ranges {
        if let Value::Array(parts) = range
            && let Some(Value::Array(master)) = parts.get(2)
        {
            masters.insert(format!("{:?}:{:?}", master.first(), master.get(1)));
        }
    }
    Ok(masters.len())
}

fn unexpected(expected: &'static str, got: String) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, expected, got))
}

/// `host:port` of a `redis://[user:password@]host[:port][/db]` URL, without the credentials;
/// the socket's path for a `unix://` URL.
fn node_of(url: &str) -> String {
    if let Some((_, path)) = url.split_once("unix://") {
        return path.split('?').next().unwrap_or(path).to_string();
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if host.contains(':') && !host.ends_with(']') { host.to_string() } else { format!("{host}:6379") }
}

/// Waits for a free place in `gate`, if any, before the command goes out.
fn through<'a, T: Send + 'a>(gate: Option<Arc<Semaphore>>, fut: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
    match gate {
        None => fut,
        Some(g) => Box::pin(async move {
            let asked = Instant::now();
            let _permit = g.acquire_owned().await;
            crate::metrics::observe_gate_wait(asked.elapsed());
            fut.await
        }),
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
        let gate = self.gate.clone();
        let fut = match &mut self.link {
            Link::Single(c, _) => c.req_packed_command(cmd),
            Link::Cluster(c) => c.req_packed_command(cmd),
        };
        through(gate, timed(name, fut))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let gate = self.gate.clone();
        let fut = match &mut self.link {
            Link::Single(c, _) => c.req_packed_commands(pipeline, offset, count),
            Link::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        };
        through(gate, timed(b"pipeline", fut))
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(c, _) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_node_is_named_by_host_and_port_without_credentials() {
        assert_eq!(node_of("redis://127.0.0.1:6391/"), "127.0.0.1:6391");
        assert_eq!(node_of("rediss://user:p%40ss@redis.example:6380/2"), "redis.example:6380");
        assert_eq!(node_of("redis://:secret@cache"), "cache:6379");
        assert_eq!(node_of("redis://[::1]"), "[::1]:6379");
        assert_eq!(node_of("redis://[::1]:7000/0"), "[::1]:7000");
        assert_eq!(node_of("unix:///run/redis.sock?db=2"), "/run/redis.sock");
        assert_eq!(node_of("redis+unix:///run/redis.sock"), "/run/redis.sock");
    }

    #[tokio::test]
    async fn a_gate_holds_commands_in_flight_to_its_size() {
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let gate = Arc::new(Semaphore::new(3));
        let commands = (0..12).map(|_| {
            let (now, peak) = (now.clone(), peak.clone());
            let command: RedisFuture<'static, ()> = Box::pin(async move {
                peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
            tokio::spawn(through(Some(gate.clone()), command))
        });
        for c in commands.collect::<Vec<_>>() {
            assert_eq!(c.await.unwrap(), Ok(()));
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(gate.available_permits(), 3);
        // Each waited, and the nine behind the first three waited 5 to 15 ms: at least 45 ms in
        // all (no other unit test uses a gate).
        let text = crate::metrics::Metrics::new().render();
        let value = |name: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert_eq!(value("optin_verify_redis_gate_wait_seconds_count "), 12.0);
        assert!(value("optin_verify_redis_gate_wait_seconds_sum ") >= 0.045);
    }
}
