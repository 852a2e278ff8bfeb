//! `http.trusted_proxies`: single addresses and CIDR ranges, IPv4 and IPv6.
//!
//! Behind a Kubernetes ingress or a cloud load balancer the proxy addresses change and are
//! known only as ranges, so a range is what an operator can honestly write down.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// The peers whose `X-Forwarded-For` is believed. Empty by default: nobody's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Each entry is an address (`10.0.0.1`, `::1`) or a range (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| format!("{e:?} is neither an IP address nor a CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of the proxies. IPv4-mapped IPv6 peers compare as IPv4.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// A `/0` range trusts every peer, so any client could write its own evidence IP.
    pub fn trusts_everyone(&self) -> bool {
        self.0.iter().any(|n| n.prefix_len() == 0)
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        Self::parse(&entries).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_of_both_families() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7", "fd00::/8", "2001:db8::1"]).unwrap();
        assert!(t.contains(&ip("10.20.30.40")));
        assert!(t.contains(&ip("::ffff:10.1.2.3")), "IPv4-mapped peers compare as IPv4");
        assert!(t.contains(&ip("192.0.2.7")));
        assert!(!t.contains(&ip("192.0.2.8")));
        assert!(t.contains(&ip("fd12:3456::1")));
        assert!(t.contains(&ip("2001:db8::1")));
        assert!(!t.contains(&ip("2001:db8::2")));
        assert!(!t.contains(&ip("11.0.0.1")));
        assert!(!t.trusts_everyone());
    }

    #[test]
    fn garbage_and_catch_all_ranges_are_told_apart() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().trusts_everyone());
        assert!(TrustedProxies::parse(&["::/0"]).unwrap().trusts_everyone());
        // A range written with host bits set still means the whole network.
        assert!(TrustedProxies::parse(&["10.1.2.3/8"]).unwrap().contains(&ip("10.200.0.1")));
    }
}
