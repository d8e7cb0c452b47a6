"""A webhook receiver for Docket's tests, verifying every request with the
`standardwebhooks` package (the specification's own Python library), an
implementation independent of Docket's.

Each request is appended to a JSON-lines log (one object per request:
webhook-id, the message's seq, ticket and type, whether the signature
verified, the status answered, the instant received), so a test can read
what arrived even across restarts of the receiver.

    python3 receiver.py --secret whsec_... --log FILE [--port N]
        [--fail-first N] [--hang] [--delay-ms N]

Prints `listening on PORT` once ready.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fail-first", type=int, default=0,
                        help="answer 500 to this many requests first")
    parser.add_argument("--hang", action="store_true",
                        help="never answer (the sender's timeout ends each attempt)")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="wait this long before answering")
    args = parser.parse_args()

    verifier = Webhook(args.secret)
    lock = threading.Lock()
    state = {"seen": 0}
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            received = time.time()
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if args.hang:
                time.sleep(3600)
                return
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError as e:
                payload = json.loads(body)
                verified = False
                print("verification failed:", e, flush=True)
            with lock:
                state["seen"] += 1
                failing = state["seen"] <= args.fail_first
            status = 400 if not verified else (500 if failing else 204)
            with lock:
                log.write(json.dumps({
                    "id": headers.get("webhook-id"),
                    "timestamp": headers.get("webhook-timestamp"),
                    "seq": payload.get("seq"),
                    "message_id": payload.get("id"),
                    "ticket": payload.get("ticket"),
                    "type": payload.get("type"),
                    "verified": verified,
                    "status": status,
                    "received_ms": int(received * 1000),
                }) + "\n")
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a sender that died or timed out mid-request

    server = Server(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
