"""Seeds a tenant for the fuzz run: plugins, a pipeline, a calendar, a
ticket, a webhook (to a public documentation-free address the closed test
network never reaches: its deliveries fail and are retried, as they would).

Prints the tenant's id and the webhook's for run.sh. Standard library only.
"""

import json
import sys
import urllib.request

base, admin, routing_wasm = sys.argv[1], sys.argv[2], sys.argv[3]
TENANT = "acme"


def call(method, path, key, body=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
        return json.loads(text) if text else None


key = call("POST", "/v1/tenants", admin, {"id": TENANT})["api_key"]
with open(routing_wasm, "rb") as f:
    call("POST", f"/v1/tenants/{TENANT}/plugins/routing", key, f.read(), "application/wasm")
call("POST", f"/v1/tenants/{TENANT}/plugins/routing/activate", key, {"version": 1})
hours = {d: "09:00-17:00" for d in ["mon", "tue", "wed", "thu", "fri"]}
call("PUT", f"/v1/tenants/{TENANT}/calendars", key,
     [{"name": "business-hours", "timezone": "Europe/Berlin", "hours": hours}])
call("PUT", f"/v1/tenants/{TENANT}/agents", key,
     [{"id": "ana", "group": "hardware", "level": 2}])
call("PUT", f"/v1/tenants/{TENANT}/pipeline", key, [{"plugin": "routing"}])
call("POST", f"/v1/tenants/{TENANT}/tickets/T-1", key,
     {"subject": "Printer", "category": "hardware", "requester": {"id": "c-1"}})
hook = call("POST", f"/v1/tenants/{TENANT}/webhooks", key,
            {"url": "https://93.184.215.14/hooks", "description": "fuzz"})
print(TENANT, hook["id"])
