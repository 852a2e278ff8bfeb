//! Keeps each provider account to its configured rate across every instance that shares the
//! Redis. Campaign messages on a paced channel wait in their partition's campaign queue and
//! are released onto the send stream only as tokens come; a person waiting on a form takes a
//! token at once (in debt if need be), so consumer-initiated messages go first.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    config::Settings,
    domain::{Channel, Partition},
    store::{PaceMode, Store, StoreError},
};

/// A provider account with a rate: the bucket every instance shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub rate: u32,
}

/// The paced account of each channel, if any.
#[derive(Clone)]
pub struct Pacer {
    store: Store,
    email: Option<Account>,
    sms: Option<Account>,
    whatsapp: Option<Account>,
}

/// At most this much of a second's budget is released per partition per tick, so that the
/// partitions share an account fairly.
const TICK: Duration = Duration::from_millis(100);

fn account(name: String, rate: u32) -> Option<Account> {
    (rate > 0).then_some(Account { name, rate })
}

impl Pacer {
    /// The SMS rate is that of the first provider, the one that takes the traffic.
    pub fn from_settings(s: &Settings, store: Store) -> Self {
        let c = &s.channels;
        Self {
            email: c.email.as_ref().and_then(|e| account("email".into(), e.smtp.rate_per_second)),
            sms: c
                .sms
                .as_ref()
                .and_then(|sms| sms.providers.first())
                .and_then(|p| account(format!("sms-{}", format!("{:?}", p.kind).to_lowercase()), p.rate_per_second)),
            whatsapp: c.whatsapp.as_ref().and_then(|w| account("whatsapp".into(), w.rate_per_second)),
            store,
        }
    }

    pub fn account(&self, c: Channel) -> Option<&Account> {
        match c {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
            Channel::Whatsapp => self.whatsapp.as_ref(),
        }
    }

    fn paced(&self) -> impl Iterator<Item = (Channel, &Account)> {
        [Channel::Email, Channel::Sms, Channel::Whatsapp].into_iter().filter_map(|c| self.account(c).map(|a| (c, a)))
    }

    /// A consumer-initiated message on a paced channel: counted at once, never delayed.
    pub async fn take_for_consumer(&self, c: Channel) -> Result<(), StoreError> {
        if let Some(a) = self.account(c) {
            self.store.pace(&a.name, a.rate, 1, PaceMode::Debt).await?;
        }
        Ok(())
    }

    /// One partition's turn: release as many waiting campaign messages as there are tokens.
    async fn release(&self, p: Partition) -> Result<(), StoreError> {
        for (c, a) in self.paced() {
            let waiting = self.store.campaign_len(p, c.as_str()).await?;
            if waiting == 0 {
                continue;
            }
            let want = waiting.min(u64::from(a.rate.div_ceil(4).max(1))) as u32;
            let (granted, _) = self.store.pace(&a.name, a.rate, want, PaceMode::Take).await?;
            if granted == 0 {
                continue;
            }
            let moved = self.store.release_campaign(p, c.as_str(), granted).await?;
            if moved < granted {
                self.store.pace(&a.name, a.rate, granted - moved, PaceMode::Give).await?;
            }
        }
        Ok(())
    }

    /// Messages left waiting for a channel that is no longer paced (its rate set to 0) go out
    /// at once instead of waiting forever.
    async fn drain_unpaced(&self, p: Partition) -> Result<(), StoreError> {
        for c in [Channel::Email, Channel::Sms, Channel::Whatsapp] {
            if self.account(c).is_none() {
                while self.store.release_campaign(p, c.as_str(), 1000).await? == 1000 {}
            }
        }
        Ok(())
    }

    /// Once per partition, what an unpaced channel left queued; then, when any channel is
    /// paced, one releaser per partition.
    pub fn spawn(self, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let paced = self.paced().next().is_some();
        self.store
            .keys()
            .all_partitions()
            .map(|p| {
                let (pacer, mut stop) = (self.clone(), stop.clone());
                tokio::spawn(async move {
                    if let Err(e) = pacer.drain_unpaced(p).await {
                        tracing::warn!(partition = p.0, error = %e, "draining unpaced campaign queues failed");
                    }
                    while paced && !super::stream_loop::stopped(&stop) {
                        if let Err(e) = pacer.release(p).await {
                            tracing::warn!(partition = p.0, error = %e, "campaign release failed");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(TICK) => {}
                            _ = stop.changed() => {}
                        }
                    }
                })
            })
            .collect()
    }
}
