//! The client address that goes into evidence and rate limits.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::TrustedProxies;

/// The socket peer, unless the peer is a configured proxy: then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy. A client cannot spoof its
/// way into evidence by sending the header directly.
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d: compare it as IPv4.
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if !trusted.contains(&ip) => return Some(ip),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(std::net::SocketAddr::new(peer.parse().unwrap(), 5000));
        if let Some(x) = xff {
            r = r.insert_header(("x-forwarded-for", x));
        }
        r.to_http_request()
    }

    #[test]
    fn untrusted_peer_cannot_spoof() {
        let ip = client_ip(&req("198.51.100.9", Some("203.0.113.7")), &TrustedProxies::default()).unwrap();
        assert_eq!(ip.to_string(), "198.51.100.9");
    }

    #[test]
    fn trusted_proxy_passes_the_rightmost_untrusted_hop() {
        let proxy = TrustedProxies::parse(&["10.0.0.1"]).unwrap();
        let ip = client_ip(&req("10.0.0.1", Some("1.2.3.4, 203.0.113.7")), &proxy).unwrap();
        assert_eq!(ip.to_string(), "203.0.113.7");
    }

    #[test]
    fn a_range_of_proxies_is_skipped_hop_by_hop() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "fd00::/8"]).unwrap();
        let ip = client_ip(&req("10.3.2.1", Some("203.0.113.7, 10.9.9.9")), &proxies).unwrap();
        assert_eq!(ip.to_string(), "203.0.113.7");
        let ip = client_ip(&req("fd00::5", Some("2001:db8::7")), &proxies).unwrap();
        assert_eq!(ip.to_string(), "2001:db8::7");
        // A peer outside the range is not believed.
        let ip = client_ip(&req("11.0.0.1", Some("203.0.113.7")), &proxies).unwrap();
        assert_eq!(ip.to_string(), "11.0.0.1");
    }
}
