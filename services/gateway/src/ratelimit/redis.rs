//! The shared limiter: GCRA in a Lua script on Redis, so every gateway replica pointing at the
//! same Redis enforces one limit. The script reads Redis' own clock (`TIME`), so replicas with
//! skewed clocks still agree, and expires each key (`PEXPIRE`) once its burst is full again.

use futures::future::BoxFuture;

use super::{Cell, Decision, RateLimitError, RateLimiter, Verdict, decision};

/// The same arithmetic as [`super::gcra`], atomically on Redis.
///
/// `KEYS[1]`: the limit key; `ARGV[1]`: emission interval (µs); `ARGV[2]`: tolerance (µs).
/// Returns `{1, 0}` when allowed, `{0, retry_after_us}` when refused.
const GCRA_LUA: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > tolerance then
  return {0, ahead - tolerance}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ahead / 1000)))
return {1, 0}
";

/// GCRA state in Redis, under `prefix` + key.
pub struct RedisLimiter {
    connection: ::redis::aio::ConnectionManager,
    prefix: String,
    script: ::redis::Script,
}

impl RedisLimiter {
    /// A limiter over an open connection; every key is written under `prefix`.
    pub fn new(connection: ::redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self {
            connection,
            prefix: prefix.to_owned(),
            script: ::redis::Script::new(GCRA_LUA),
        }
    }
}

impl RateLimiter for RedisLimiter {
    fn check<'a>(
        &'a self,
        key: &'a str,
        cell: Cell,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let reply: Vec<i64> = self
                .script
                .key(format!("{}{key}", self.prefix))
                .arg(cell.emission_interval_us)
                .arg(cell.tolerance_us)
                .invoke_async(&mut connection)
                .await?;
            let verdict = match reply.as_slice() {
                [1, _] => Verdict::Allow {
                    tat_us: 0,
                    ttl_us: 0,
                },
                [0, retry_after_us] => Verdict::Deny {
                    retry_after_us: *retry_after_us,
                },
                other => return Err(RateLimitError::Protocol(format!("{other:?}"))),
            };
            Ok(decision(verdict))
        })
    }
}
