/// What can go wrong below the API. Redis being away is the one expected failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis is unavailable")]
    Unavailable(#[from] redis::RedisError),
    /// A script answered a tag its decoder does not know: the script and this build disagree.
    /// Only the tag is kept, since the values may carry ids.
    #[error("{script}.lua answered {tag:?} ({values} values), which this build does not know")]
    UnexpectedReply { script: &'static str, tag: String, values: usize },
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    /// Stored data that its decoder refused; the decoder's error is kept as the source.
    #[error("stored data is unreadable: {what}")]
    Unreadable {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub fn unreadable(what: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unreadable { what: what.into(), source: source.into() }
    }
}
