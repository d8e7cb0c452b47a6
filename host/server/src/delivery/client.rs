//! One attempt: POST a message to an endpoint, signed as the Standard
//! Webhooks specification says, and report what came of it.
//!
//! The address policy holds at connection time, not only when the URL was
//! subscribed: host names are resolved by [`PublicOnly`], which refuses
//! special addresses (so a name that later resolves to a private address
//! is refused too), and literal addresses are checked before sending.
//! Redirects are not followed (a 3xx is a failed attempt), so a public
//! endpoint cannot bounce a delivery inward.

use docket_app::webhook::address::refused_range;
use docket_app::webhook::signature::Secret;
use docket_app::webhook::{AttemptResult, Claimed, WebhookSettings};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a response body is read up to (then dropped): enough to keep a
/// connection reusable, never a large answer held in memory.
const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// Resolves host names, refusing any that resolves to an address the
/// policy refuses.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(refused) = refusal(&host, addrs.iter().map(|a| a.ip()), allow_private) {
                return Err(refused.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a host's addresses are refused, if one of them is.
fn refusal(
    host: &str,
    mut addrs: impl Iterator<Item = IpAddr>,
    allow_private: bool,
) -> Option<String> {
    addrs.find_map(|ip| {
        refused_range(ip, allow_private).map(|range| {
            format!(
                "`{host}` resolves to {ip}, a {range} address; webhooks go to public addresses only"
            )
        })
    })
}

/// Sends attempts; one per process, its connections pooled per host.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    /// A sender with the settings' timeout and address policy.
    ///
    /// # Errors
    /// When the TLS backend cannot be set up.
    pub fn new(settings: &WebhookSettings) -> anyhow::Result<Sender> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: settings.allow_private_addresses,
            }))
            .user_agent(concat!("docket-webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Sender {
            client,
            allow_private: settings.allow_private_addresses,
        })
    }

    /// Makes one attempt at `now` (ms since the epoch, the signature's
    /// timestamp).
    pub async fn attempt(&self, c: &Claimed, now: i64) -> AttemptResult {
        let started = Instant::now();
        let outcome = self.post(c, now).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (status_code, error) = match outcome {
            Ok(status) => (Some(status), None),
            Err(e) => (None, Some(e)),
        };
        AttemptResult {
            tenant: c.tenant.clone(),
            webhook: c.webhook.clone(),
            seq: c.seq,
            message_id: c.message_id.clone(),
            attempt: c.attempt,
            at: now,
            duration_ms,
            status_code,
            error,
        }
    }

    /// POSTs the message; the status answered, or why there was none.
    async fn post(&self, c: &Claimed, now: i64) -> Result<u16, String> {
        let url = reqwest::Url::parse(&c.url).map_err(|e| format!("`{}`: {e}", c.url))?;
        if let Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) = url.host() {
            let host = url.host_str().unwrap_or_default();
            let ip: IpAddr = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|e| format!("`{host}`: {e}"))?;
            if let Some(refused) = refusal(host, std::iter::once(ip), self.allow_private) {
                return Err(refused);
            }
        }
        let body = c.body.clone().into_bytes();
        let seconds = now.div_euclid(1000);
        let signatures: Vec<String> = c
            .secrets
            .iter()
            .map(|s| {
                Secret::parse(s)
                    .map(|s| s.sign(&c.message_id, seconds, &body))
                    .map_err(|e| format!("the stored secret: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &c.message_id)
            .header("webhook-timestamp", seconds.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        drain(response).await;
        Ok(status)
    }
}

/// Reads a response's body up to [`MAX_RESPONSE_BYTES`], so its connection
/// can carry the next attempt.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

/// An error with its causes: "error sending request: ... : connection
/// refused" rather than reqwest's outermost words only.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_named_in_the_refusal() {
        let ips = [
            "93.184.215.14".parse().unwrap(),
            "10.0.0.7".parse().unwrap(),
        ];
        let refused = refusal("hooks.example", ips.into_iter(), false).unwrap();
        assert!(refused.contains("10.0.0.7, a private address"), "{refused}");
        assert!(refusal("hooks.example", ips.into_iter(), true).is_none());
        let metadata = ["169.254.169.254".parse().unwrap()];
        assert!(refusal("m", metadata.into_iter(), true).is_some(), "never");
        assert!(
            refusal(
                "ok",
                std::iter::once("93.184.215.14".parse().unwrap()),
                false
            )
            .is_none()
        );
    }
}
