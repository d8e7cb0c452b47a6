//! Where webhooks may go. An endpoint is an `http` or `https` URL whose
//! host resolves only to public addresses: loopback, private, link-local
//! (cloud metadata services live there), shared, documentation,
//! multicast and other special ranges are refused. An operator may allow
//! private networks (loopback, private, unique local and shared
//! addresses: an endpoint inside its own network, the tests' receivers);
//! link-local and the other special ranges stay refused even then.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Why an endpoint URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// Not a URL.
    #[error("`{url}` is not a URL: {reason}")]
    NotAUrl {
        /// The text given.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// Another scheme than http(s), or credentials in the URL.
    #[error("`{url}`: {reason}")]
    Unsupported {
        /// The URL.
        url: String,
        /// What is not supported.
        reason: &'static str,
    },
    /// The host does not resolve.
    #[error("`{host}` does not resolve: {reason}")]
    Unresolved {
        /// The host.
        host: String,
        /// The resolver's reason.
        reason: String,
    },
    /// The host resolves to an address webhooks may not reach.
    #[error(
        "`{host}` resolves to {address}, a {range} address; webhooks go to public addresses only (an operator may allow private networks)"
    )]
    NotPublic {
        /// The host.
        host: String,
        /// The refused address.
        address: IpAddr,
        /// Which range it is in.
        range: &'static str,
    },
}

/// The special range an address is in, or `None` for a public one.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_range(v4),
            None => v6_range(v6),
        },
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        () if ip.is_loopback() => "loopback",
        () if ip.is_private() => "private",
        () if ip.is_link_local() => "link-local (metadata services)",
        () if ip.is_unspecified() || a == 0 => "unspecified",
        () if a == 100 && (64..128).contains(&b) => "shared (carrier-grade NAT)",
        () if ip.is_broadcast() || ip.is_multicast() => "broadcast or multicast",
        () if ip.is_documentation() => "documentation",
        () if a == 198 && (b == 18 || b == 19) => "benchmarking",
        () if a >= 240 => "reserved",
        () if a == 192 && b == 0 && ip.octets()[2] == 0 => "protocol assignments",
        () => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        () if ip.is_loopback() => "loopback",
        () if ip.is_unspecified() => "unspecified",
        () if ip.is_multicast() => "multicast",
        () if first & 0xfe00 == 0xfc00 => "private (unique local)",
        () if first & 0xffc0 == 0xfe80 => "link-local",
        () if first == 0x2001 && ip.segments()[1] == 0x0db8 => "documentation",
        () if first == 0x0064 && ip.segments()[1] == 0xff9b => "NAT64",
        () => return None,
    })
}

/// Whether a special range is a private network an operator may allow.
fn private_network(range: &str) -> bool {
    matches!(
        range,
        "loopback" | "private" | "private (unique local)" | "shared (carrier-grade NAT)"
    )
}

/// The range that makes an address unreachable for webhooks, if any:
/// every special range, but for private networks when `allow_private`.
pub fn refused_range(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    special_range(ip).filter(|range| !(allow_private && private_network(range)))
}

/// A checked endpoint: its URL and the addresses it resolved to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL.
    pub url: url::Url,
    /// Every address the host resolved to (all allowed).
    pub addresses: Vec<SocketAddr>,
}

/// Parses and resolves an endpoint URL; refuses it unless every address
/// its host resolves to is public (or, with `allow_private`, in a private
/// network).
///
/// # Errors
/// [`AddressError`], naming the URL or host and why.
pub fn check(text: &str, allow_private: bool) -> Result<Endpoint, AddressError> {
    let url = url::Url::parse(text).map_err(|e| AddressError::NotAUrl {
        url: text.to_string(),
        reason: e.to_string(),
    })?;
    let unsupported = |reason| AddressError::Unsupported {
        url: text.to_string(),
        reason,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(unsupported("only http and https endpoints are supported"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(unsupported(
            "credentials do not belong in the URL; verify the signature instead",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| unsupported("the URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    // `[::1]` comes back bracketed; resolution wants it bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| AddressError::Unresolved {
            host: host.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    if addresses.is_empty() {
        return Err(AddressError::Unresolved {
            host: host.to_string(),
            reason: "no address".into(),
        });
    }
    if let Some((address, range)) = addresses
        .iter()
        .find_map(|a| refused_range(a.ip(), allow_private).map(|r| (a.ip(), r)))
    {
        return Err(AddressError::NotPublic {
            host: host.to_string(),
            address,
            range,
        });
    }
    Ok(Endpoint { url, addresses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_refused_with_their_range() {
        for (url, range) in [
            ("http://127.0.0.1:9000/hook", "loopback"),
            ("http://localhost/hook", "loopback"),
            ("http://10.1.2.3/", "private"),
            ("http://172.16.0.1/", "private"),
            ("http://192.168.1.1/", "private"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "link-local (metadata services)",
            ),
            ("http://100.64.0.1/", "shared (carrier-grade NAT)"),
            ("http://0.0.0.0/", "unspecified"),
            ("http://[::1]/", "loopback"),
            ("http://[fd00::1]/", "private (unique local)"),
            ("http://[fe80::1]/", "link-local"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            (
                "http://[::ffff:169.254.169.254]/",
                "link-local (metadata services)",
            ),
        ] {
            match check(url, false) {
                Err(AddressError::NotPublic { range: r, .. }) => assert_eq!(r, range, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
            assert_eq!(
                check(url, true).is_ok(),
                private_network(range),
                "{url} with private networks allowed"
            );
        }
    }

    #[test]
    fn public_addresses_pass_and_malformed_urls_say_why() {
        assert!(check("https://93.184.215.14/hooks", false).is_ok());
        assert!(check("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", false).is_ok());
        for (url, says) in [
            ("not a url", "is not a URL"),
            ("ftp://93.184.215.14/", "only http and https"),
            ("https://user:pw@93.184.215.14/", "credentials"),
            ("https://no-such-host.invalid/", "does not resolve"),
        ] {
            let e = check(url, true).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
