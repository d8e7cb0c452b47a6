//! Three `docket serve` replicas on one PostgreSQL database; one is
//! SIGKILLed in the middle of a stream of creations, updates and comments
//! (with idempotency keys and short timers) and restarted later, while the
//! clients retry what failed on another replica. Afterwards every
//! acknowledged event exists exactly once, every timer and SLA milestone
//! fired exactly once, each ticket's audit follows the acknowledged order,
//! and nothing is half-applied.
//! Needs a test server (`DOCKET_TEST_DATABASE_URL`); without one the test
//! says so and passes, unless `DOCKET_REQUIRE_POSTGRES` is set (CI).

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;
use server::Server;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 6;
const TICKETS_PER_CLIENT: usize = 6;
const STEPS_PER_TICKET: usize = 4;
const TOTAL: usize = CLIENTS * TICKETS_PER_CLIENT * STEPS_PER_TICKET;

/// Every ticket gets an SLA clock (a one-minute first-response target on a
/// calendar that never closes: milestones at 30, 45 and 60 s) and a
/// plugin timer 300 ms after its creation that tags it `pinged`.
const RULES: &str = r#"
[plugin]
name = "crash"

[escalation]
[[escalation.on]]
when = 'event.timer == "ping"'
actions = [{ add_tag = "pinged" }]

[[escalation.on]]
when = { event = "timer_fired" }

[[escalation.on]]
when = { event = "created" }
sla = { name = "fast", calendar = '"always"', targets = { first_response = "1" }, pause_on = [] }
timers = [{ set = "ping", after = "300ms" }]
"#;

/// The timers each ticket must have fired, once each: `plugin:key`.
const FIRED: [&str; 4] = [
    "rules:ping",
    "@sla:sla-clock:first_response:50",
    "@sla:sla-clock:first_response:75",
    "@sla:sla-clock:first_response:100",
];

/// One request of the stream.
struct Step {
    method: &'static str,
    path: String,
    idem: String,
    body: serde_json::Value,
    expect: u16,
}

/// Creation, update, requester comment, update: each with its own key.
fn steps(ticket: &str) -> [Step; STEPS_PER_TICKET] {
    let at = |suffix: &str| format!("/v1/tenants/acme/tickets/{ticket}{suffix}");
    let step = |method, path, idem: &str, body, expect| Step {
        method,
        path,
        idem: format!("{idem}-{ticket}"),
        body,
        expect,
    };
    [
        step("POST", at(""), "create", new_ticket(), 201),
        step(
            "PATCH",
            at(""),
            "u1",
            serde_json::json!({ "add_tags": ["u1"] }),
            200,
        ),
        step(
            "POST",
            at("/comments"),
            "comment",
            serde_json::json!({ "author": "c-1", "author_kind": "requester", "body": "still jammed" }),
            200,
        ),
        step(
            "PATCH",
            at(""),
            "u2",
            serde_json::json!({ "add_tags": ["u2"] }),
            200,
        ),
    ]
}

/// Requests that found their replica dead (and went to another).
static UNANSWERED: AtomicUsize = AtomicUsize::new(0);

/// Sends `step` until a replica acknowledges it, moving to the next live
/// replica when one fails to answer (killed) or answers that the key is
/// still in progress; returns the answer's body.
fn send_until_acknowledged(
    live: &Mutex<Vec<String>>,
    key: &str,
    step: &Step,
    start: usize,
) -> String {
    let client = server::client();
    let auth = format!("Bearer {key}");
    for attempt in 0..200 {
        let base = {
            let live = live.lock().unwrap();
            live[(start + attempt) % live.len()].clone()
        };
        let url = format!("{base}{}", step.path);
        let request = match step.method {
            "POST" => client.post(&url),
            _ => client.patch(&url),
        };
        let sent = request
            .header("Authorization", &auth)
            .header("Idempotency-Key", &step.idem)
            .header("content-type", "application/json")
            .send(step.body.to_string().as_bytes());
        match sent {
            Ok(r) if r.status().as_u16() == step.expect => {
                return r.into_body().read_to_string().unwrap();
            }
            Ok(r) if r.status().as_u16() == 409 || r.status().as_u16() >= 500 => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(r) => {
                let status = r.status().as_u16();
                panic!(
                    "{} {}: {status} {}",
                    step.method,
                    step.path,
                    r.into_body().read_to_string().unwrap_or_default()
                )
            }
            // The replica died under the request: try the next one.
            Err(_) => {
                UNANSWERED.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    panic!("{} {} never acknowledged", step.method, step.path);
}

#[test]
fn a_replica_killed_mid_stream_loses_nothing_and_fires_everything_once() {
    let Some((dirs, mut replicas, url)) = replicas("replica_crash", 3) else {
        return;
    };
    let first = replicas[0].base.clone();
    let key = create_tenant(&first, "acme");
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let hours: serde_json::Map<String, serde_json::Value> = days
        .iter()
        .map(|d| (d.to_string(), "00:00-24:00".into()))
        .collect();
    let (s, b) = json(
        "PUT",
        &format!("{first}/v1/tenants/acme/calendars"),
        Some(&key),
        serde_json::json!([{ "name": "always", "timezone": "UTC", "hours": hours }]),
    );
    assert_eq!(s, 204, "{b}");
    install_rules(&first, "acme", &key, "rules", RULES);
    pipeline(
        &first,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "rules" }]),
    );

    // The clients stream; the main thread kills replica 1 once 30% of the
    // requests are acknowledged and restarts it at 70%.
    let live = Mutex::new(replicas.iter().map(|r| r.base.clone()).collect::<Vec<_>>());
    let acknowledged = AtomicUsize::new(0);
    let tickets = |c: usize| (0..TICKETS_PER_CLIENT).map(move |t| format!("K-{c}-{t}"));
    let replays: Vec<(Step, String)> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (live, acknowledged, key) = (&live, &acknowledged, &key);
                scope.spawn(move || {
                    let mut first_answers = Vec::new();
                    for (t, ticket) in tickets(c).enumerate() {
                        for (i, step) in steps(&ticket).into_iter().enumerate() {
                            let body = send_until_acknowledged(live, key, &step, c + t + i);
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                            if i == 0 {
                                first_answers.push((step, body));
                            }
                        }
                    }
                    first_answers
                })
            })
            .collect();
        let wait_for = |share: usize| {
            let deadline = Instant::now() + Duration::from_secs(120);
            while acknowledged.load(Ordering::SeqCst) < TOTAL * share / 100 {
                assert!(Instant::now() < deadline, "the stream stalled");
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        wait_for(30);
        let victim = replicas.remove(1);
        let victim_base = victim.base.clone();
        victim.kill();
        let killed_at = acknowledged.load(Ordering::SeqCst);
        // Clients find the dead replica themselves for a while, as behind a
        // load balancer that has not noticed yet.
        std::thread::sleep(Duration::from_millis(300));
        live.lock().unwrap().retain(|b| *b != victim_base);
        wait_for(70);
        let back = Server::start_on(&dirs[1], Some(&url));
        live.lock().unwrap().push(back.base.clone());
        replicas.push(back);
        let answers: Vec<(Step, String)> = clients
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert!(
            killed_at < TOTAL,
            "the kill landed mid-stream ({killed_at} of {TOTAL})"
        );
        eprintln!(
            "replica killed after {killed_at} of {TOTAL} acknowledgements; \
             {} requests found it dead and went to another replica",
            UNANSWERED.load(Ordering::SeqCst)
        );
        answers
    });
    assert_eq!(acknowledged.load(Ordering::SeqCst), TOTAL);

    // Every timer comes due within a minute of its ticket's creation; wait
    // for the replicas to have fired them all (a claim the killed replica
    // held is taken over when its lease runs out).
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let all: Vec<String> = (0..CLIENTS).flat_map(tickets).collect();
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let pending: Vec<&String> = all
            .iter()
            .filter(|t| {
                let (_, b) = call(
                    "GET",
                    &format!("{}/v1/tenants/acme/tickets/{t}", bases[0]),
                    Some(&key),
                    None,
                    "",
                );
                b["timers"].as_array().is_none_or(|t| !t.is_empty())
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timers still pending on {pending:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    for (n, ticket) in all.iter().enumerate() {
        let view = get_ok(
            &format!(
                "{}/v1/tenants/acme/tickets/{ticket}",
                bases[n % bases.len()]
            ),
            &key,
        );
        let history = view["history"].as_array().unwrap();
        assert!(
            history.iter().all(|h| h["status"] == "applied"),
            "{ticket}: {history:?}"
        );
        // The requests, each once, in the order they were acknowledged.
        let requests: Vec<&str> = history
            .iter()
            .filter(|h| h["kind"] != "timer_fired")
            .map(|h| h["event_id"].as_str().unwrap())
            .collect();
        let sent: Vec<String> = steps(ticket).iter().map(|s| s.idem.clone()).collect();
        assert_eq!(requests, sent, "{ticket}: audit order");
        // Every timer and milestone, each once.
        let fired: Vec<String> = history
            .iter()
            .filter(|h| h["kind"] == "timer_fired")
            .map(|h| {
                let id = h["event_id"].as_str().unwrap();
                let rest = id.strip_prefix(&format!("timer:{ticket}:")).unwrap_or(id);
                // `owner:key:due:version`; keys may hold colons.
                rest.rsplitn(3, ':').last().unwrap_or(rest).to_string()
            })
            .collect();
        let distinct: BTreeSet<&str> = fired.iter().map(String::as_str).collect();
        assert_eq!(fired.len(), FIRED.len(), "{ticket}: {fired:?}");
        assert_eq!(
            distinct,
            FIRED.iter().copied().collect(),
            "{ticket}: {fired:?}"
        );
        // Every applied change is in the ticket, once.
        let mut tags: Vec<&str> = view["ticket"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        tags.sort_unstable();
        assert_eq!(tags, ["pinged", "u1", "u2"], "{ticket}");
        let clock = &view["sla"][0];
        assert_eq!(clock["metric"], "first_response", "{ticket}: {view}");
        assert_eq!(clock["breached"], true, "{ticket}: {clock}");
    }

    // A retry of an acknowledged creation is answered from the store with
    // the outcome the client first got, on any replica.
    for (step, first_answer) in replays.iter().take(CLIENTS) {
        let again = send_until_acknowledged(&Mutex::new(bases.clone()), &key, step, 0);
        assert_eq!(&again, first_answer, "{}", step.idem);
    }
    let page = get_ok(
        &format!("{}/v1/tenants/acme/audit?limit=1000", bases[1]),
        &key,
    );
    assert_eq!(
        page["entries"].as_array().unwrap().len(),
        all.len() * (STEPS_PER_TICKET + FIRED.len()),
        "no event beyond the acknowledged ones and the timers"
    );
}
