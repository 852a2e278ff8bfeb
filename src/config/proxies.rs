//! `http.trusted_proxies`: single addresses and CIDR ranges, IPv4 and IPv6.
//!
//! Behind a Kubernetes ingress or a cloud load balancer the proxy addresses change and are
//! known only as ranges, so a range is what an operator can honestly write down. Production
//! refuses ranges so wide that they trust the internet ([`TrustedProxies::too_broad`]).

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

    /// Whether the entries together cover every IPv4 or every IPv6 address (`0.0.0.0/0`, or
    /// `0.0.0.0/1` with `128.0.0.0/1`, ...): then any client could write its own evidence IP.
    pub fn trusts_everyone(&self) -> bool {
        IpNet::aggregate(&self.0).iter().any(|n| n.prefix_len() == 0)
    }

    /// Why production refuses this list, if it does. The rule: no entry, and no range that
    /// entries make together once overlapping and adjacent ones are merged, may be wider than
    /// /8 for IPv4 (`10.0.0.0/8` is the widest) or /32 for IPv6, except inside the unique-local
    /// block `fc00::/7`, where /8 (`fd00::/8`, the IPv6 counterpart of `10.0.0.0/8`) is allowed.
    /// So a list that covers the whole IPv4 or IPv6 space, however it is split, is refused.
    pub fn too_broad(&self) -> Option<String> {
        if let Some(n) = self.0.iter().find(|n| too_wide(n)) {
            return Some(format!("{n} is wider than {}", limit_of(n)));
        }
        IpNet::aggregate(&self.0)
            .into_iter()
            .find(too_wide)
            .map(|n| format!("the entries together cover {n}, wider than {}", limit_of(&n)))
    }
}

/// The widest prefix production trusts for a range like `n`.
fn widest_prefix(n: &IpNet) -> u8 {
    match n {
        IpNet::V4(_) => 8,
        // fc00::/7: the first seven bits are 1111110.
        IpNet::V6(v6) if v6.prefix_len() >= 7 && (v6.network().segments()[0] & 0xfe00) == 0xfc00 => 8,
        IpNet::V6(_) => 32,
    }
}

fn too_wide(n: &IpNet) -> bool {
    n.prefix_len() < widest_prefix(n)
}

fn limit_of(n: &IpNet) -> String {
    match n {
        IpNet::V4(_) => "/8 (the widest IPv4 range allowed)".to_string(),
        IpNet::V6(_) if widest_prefix(n) == 8 => "/8 (the widest unique-local IPv6 range allowed)".to_string(),
        IpNet::V6(_) => "/32 (the widest IPv6 range allowed outside fc00::/7)".to_string(),
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
        assert_eq!(t.too_broad(), None);
    }

    #[test]
    fn ranges_wider_than_the_limit_are_too_broad_alone_or_together() {
        fn broad(entries: &[&str]) -> Option<String> {
            TrustedProxies::parse(entries).unwrap().too_broad()
        }
        // Alone: wider than /8 (IPv4) or /32 (IPv6; /8 inside fc00::/7).
        for wide in
            ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/7", "::/0", "2000::/3", "2001:db8::/31", "fc00::/7"]
        {
            assert!(broad(&[wide]).is_some(), "{wide}");
        }
        for narrow in ["10.0.0.0/8", "172.16.0.0/12", "192.0.2.7", "2001:db8::/32", "fd00::/8", "fc00::/8", "::1"] {
            assert_eq!(broad(&[narrow]), None, "{narrow}");
        }
        // Together: halves, quarters, or 256 /8s, cover everything; two adjacent /8s make a /7.
        assert!(broad(&["0.0.0.0/1", "128.0.0.0/1"]).is_some());
        let quarters = ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"];
        assert!(broad(&quarters).is_some());
        let all_slash_8: Vec<String> = (0..=255).map(|a| format!("{a}.0.0.0/8")).collect();
        let t = TrustedProxies::parse(&all_slash_8).unwrap();
        assert!(t.trusts_everyone());
        let why = t.too_broad().expect("256 /8s cover IPv4");
        assert!(why.contains("0.0.0.0/0"), "{why}");
        assert!(broad(&["10.0.0.0/8", "11.0.0.0/8"]).unwrap().contains("10.0.0.0/7"));
        let all_v6: Vec<String> = (0..=255u16).map(|a| format!("{:x}::/8", a << 8)).collect();
        assert!(TrustedProxies::parse(&all_v6).unwrap().trusts_everyone());
        // Separate ranges that merge into nothing wider stay allowed.
        assert_eq!(broad(&["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8", "2001:db8::/48"]), None);
    }

    #[test]
    fn garbage_and_catch_all_ranges_are_told_apart() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().trusts_everyone());
        assert!(TrustedProxies::parse(&["::/0"]).unwrap().trusts_everyone());
        assert!(TrustedProxies::parse(&["0.0.0.0/1", "128.0.0.0/1"]).unwrap().trusts_everyone());
        assert!(TrustedProxies::parse(&["::/1", "8000::/1"]).unwrap().trusts_everyone());
        // A range written with host bits set still means the whole network.
        assert!(TrustedProxies::parse(&["10.1.2.3/8"]).unwrap().contains(&ip("10.200.0.1")));
    }
}
