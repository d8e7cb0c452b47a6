//! A generated event stream over the demo tenants (`acme-repair`,
//! `shopco`): creations valid and invalid, updates, comments, status
//! changes, assignments, time and parts, deterministic for a seed. Shared
//! by the recording tests and the backtest benchmark.

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One record of the generated stream for ticket `n` of a tenant.
fn record(rng: &mut Rng, tenant: &str, ticket: &str, exists: bool, at: i64) -> String {
    let at = jiff::Timestamp::from_millisecond(at).unwrap();
    let head = format!(r#""tenant":"{tenant}","ticket":"{ticket}","at":"{at}""#);
    let requester = format!(
        r#"{{"id":"c-{}","name":"Customer","tier":"{}","region":"{}"}}"#,
        rng.below(40),
        rng.pick(&["standard", "standard", "vip", "gold"]),
        rng.pick(&["emea", "amer", "apac"])
    );
    if !exists {
        let data = if tenant == "acme-repair" {
            let device = rng.pick(&["laptop", "printer", "phone", "tablet"]);
            let variant = rng.pick(&["x1-carbon", "laserjet-m404", "iphone-15", "unknown"]);
            let serial = rng.pick(&["PF481516", "pr-77", "IP150001", ""]);
            format!(
                r#"{{"subject":"Device issue {ticket}","category":"{}","channel":"{}","requester":{requester},"fields":{{"device_model":{{"choice":"{device}"}},"device_variant":{{"choice":"{variant}"}},"serial_number":{{"text":"{serial}"}},"under_warranty":{{"checkbox":{}}}}}}}"#,
                rng.pick(&["hardware", "software", "hardware", "billing"]),
                rng.pick(&["email", "web", "phone"]),
                rng.below(2) == 0
            )
        } else {
            format!(
                r#"{{"subject":"Return {ticket}","category":"{}","requester":{requester},"fields":{{"order_number":{{"text":"ORD-{}"}},"order_value":{{"money":{{"amount_minor":{},"currency":"EUR"}}}},"return_reason":{{"choice":"{}"}}}}}}"#,
                rng.pick(&["returns", "returns", "shipping"]),
                20_260_000 + rng.below(9_999),
                rng.below(40_000),
                rng.pick(&["wrong-item", "damaged", "changed-mind"])
            )
        };
        return format!(r#"{{{head},"event":"created","data":{data}}}"#);
    }
    let (event, data) = match rng.below(8) {
        0 => (
            "commented",
            format!(
                r#"{{"author":"{}","author_kind":"{}","body":"Any news?","public":true}}"#,
                rng.pick(&["ana", "ben", "c-1"]),
                rng.pick(&["agent", "requester"])
            ),
        ),
        1 => (
            "status_changed",
            format!(
                r#"{{"status":"{}"}}"#,
                rng.pick(&["open", "pending", "on_hold", "solved"])
            ),
        ),
        2 => (
            "updated",
            format!(
                r#"{{"priority":"{}"}}"#,
                rng.pick(&["low", "normal", "high", "urgent"])
            ),
        ),
        3 => (
            "assigned",
            format!(
                r#"{{"group":"{}","agent":"{}"}}"#,
                rng.pick(&["field-service", "support", "returns"]),
                rng.pick(&["ana", "ben", "sara", "tom"])
            ),
        ),
        4 => (
            "time_logged",
            format!(
                r#"{{"agent":"{}","work_type":"{}","started_at":"{at}","minutes":{}}}"#,
                rng.pick(&["ana", "ben"]),
                rng.pick(&["onsite", "workshop", "remote"]),
                1 + rng.below(240)
            ),
        ),
        5 => (
            "part_used",
            format!(
                r#"{{"sku":"P-{}","description":"Part","quantity":{},"unit_price_minor":{},"currency":"EUR"}}"#,
                rng.below(50),
                1 + rng.below(3),
                rng.below(50_000)
            ),
        ),
        6 => (
            "updated",
            r#"{"fields":{"resolution_code":{"choice":"repaired"}}}"#.to_string(),
        ),
        _ => (
            "commented",
            r#"{"author":"c-9","author_kind":"requester","body":"Still broken","public":true}"#
                .to_string(),
        ),
    };
    format!(r#"{{{head},"event":"{event}","data":{data}}}"#)
}

/// `count` records over both demo tenants, minutes apart, on 600
/// tickets per tenant named `prefix-n`.
pub fn stream(count: usize, start: i64, seed: u64, prefix: &str) -> String {
    let mut rng = Rng(seed);
    let mut created = std::collections::HashSet::new();
    let mut at = start;
    let mut lines = Vec::with_capacity(count);
    for _ in 0..count {
        at += 1 + rng.below(4 * 60_000) as i64;
        let tenant = rng.pick(&["acme-repair", "shopco"]);
        let ticket = format!("{prefix}-{}", rng.below(600));
        let exists = !created.insert((tenant, ticket.clone()));
        lines.push(record(&mut rng, tenant, &ticket, exists, at));
    }
    lines.join("\n")
}
