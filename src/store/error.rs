/// What can go wrong below the API. Redis being away is the one expected failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis is unavailable")]
    Unavailable(#[from] redis::RedisError),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
}
