//! The routing rules as a GoRules zen-engine decision table (JDM): the group
//! decision (VIP, phone, region × category, category → department, the
//! general queue) with the "first" hit policy, fed the ticket as JSON. The
//! agent pick (least-loaded available agent) has no decision-table form and
//! is not part of this row.

use serde_json::{Value, json};

/// Category → department (the routing example's table).
const DEPARTMENTS: &[(&str, &str)] = &[
    ("hardware", "field-service"),
    ("software", "it-support"),
    ("network", "network-ops"),
    ("billing", "finance"),
    ("returns", "ecommerce"),
    ("account", "customer-care"),
];

/// Region × category → team.
const REGION_MATRIX: &[(&str, &str, &str)] = &[
    ("emea", "hardware", "field-service-emea"),
    ("amer", "hardware", "field-service-amer"),
    ("apac", "hardware", "field-service-apac"),
    ("emea", "network", "network-ops-emea"),
    ("amer", "network", "network-ops-amer"),
];

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// The JDM graph: request → decision table → response. `phone` is how the
/// ticket's channel serializes for the phone channel.
pub fn routing_jdm(phone: &str) -> Value {
    let (tier, channel, region, category, group) = (
        "in-tier",
        "in-channel",
        "in-region",
        "in-category",
        "out-group",
    );
    let mut rules = Vec::new();
    let mut rule = |t: &str, ch: &str, r: &str, c: &str, g: &str| {
        let id = format!("r{}", rules.len());
        rules.push(
            json!({ "_id": id, tier: t, channel: ch, region: r, category: c, group: quoted(g) }),
        );
    };
    rule(&quoted("vip"), "", "", "", "senior-support");
    rule("", phone, "", "", "voice");
    for (r, c, team) in REGION_MATRIX {
        rule("", "", &quoted(r), &quoted(c), team);
    }
    for (c, dept) in DEPARTMENTS {
        rule("", "", "", &quoted(c), dept);
    }
    rule("", "", "", "", "general");
    json!({
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            { "id": "request", "type": "inputNode", "name": "Request", "position": { "x": 0, "y": 0 } },
            {
                "id": "table", "type": "decisionTableNode", "name": "Routing", "position": { "x": 200, "y": 0 },
                "content": {
                    "hitPolicy": "first",
                    "inputs": [
                        { "id": tier, "name": "Tier", "type": "expression", "field": "ticket.requester.tier" },
                        { "id": channel, "name": "Channel", "type": "expression", "field": "ticket.channel" },
                        { "id": region, "name": "Region", "type": "expression", "field": "ticket.requester.region" },
                        { "id": category, "name": "Category", "type": "expression", "field": "ticket.category" }
                    ],
                    "outputs": [ { "id": group, "name": "Group", "type": "expression", "field": "group" } ],
                    "rules": rules
                }
            },
            { "id": "response", "type": "outputNode", "name": "Response", "position": { "x": 400, "y": 0 } }
        ],
        "edges": [
            { "id": "e1", "type": "edge", "sourceId": "request", "targetId": "table" },
            { "id": "e2", "type": "edge", "sourceId": "table", "targetId": "response" }
        ]
    })
}
