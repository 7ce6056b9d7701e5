"""End to end: a user subscribes by webhook, email and SMS through the api of the running system,
confirms the email by its link and the SMS by the code texted to it, and is told of a code generation
on each channel; the webhook signatures are verified with the
`standardwebhooks` library, the email and SMS are read from the embedded AWS's stores."""

from __future__ import annotations

import html
import io
import re
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
USER = {"x-dev-user-id": "nina"}


def receiver() -> tuple[ThreadingHTTPServer, list[tuple[dict[str, str], bytes]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def eventually(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def store(system: RunningSystem) -> dict:
    """What the embedded AWS keeps (sent emails and texts). moto builds this dump by walking every backend
    while the services keep writing, and it can fail on a model changed under it (a 500): such an answer
    counts as nothing found yet, and the caller's `eventually` asks again."""
    answer = requests.get(f"{system.aws}/moto-api/data.json", timeout=30)
    return answer.json() if answer.status_code == 200 else {}


def emails(system: RunningSystem, to: str) -> list[dict]:
    return [m for m in store(system).get("ses", {}).get("Message", []) if to in m["destinations"]["ToAddresses"]]


def texts_to(system: RunningSystem, phone: str) -> list[dict]:
    return [m for m in store(system).get("sns", {}).get("SMS", []) if m["phone_number"] == phone]


def test_a_user_is_told_of_a_code_generation_by_webhook_email_and_sms(tmp_path):
    server, received = receiver()
    try:
        with RunningSystem(tmp_path / "system.log") as system:
            api_ = system.api + "/api"
            hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            hook = requests.post(
                f"{api_}/notifications/subscribe/webhook", json={"url": hook_url}, headers=USER, timeout=10
            )
            assert hook.status_code == 201, hook.text
            secret = hook.json()["secret"]
            address = "nina@example.com"
            mail = requests.post(
                f"{api_}/notifications/subscribe",
                json={"email": address, "eventTypes": ["codegen.completed"]},
                headers=USER,
                timeout=10,
            )
            assert mail.status_code == 201 and mail.json()["status"] == "pending_confirmation"
            phone = "+14155552671"
            sms = requests.post(
                f"{api_}/notifications/subscribe/sms",
                json={"phone": phone, "statuses": ["completed"]},
                headers=USER,
                timeout=10,
            )
            assert sms.status_code == 201 and sms.json()["status"] == "pending_confirmation"
            (code_text,) = eventually(lambda: texts_to(system, phone))  # the only text before confirming
            code = re.search(r"Snapinfra code: ([0-9]{6})\.", code_text["message"]).group(1)
            confirmed = requests.post(
                f"{api_}/notifications/subscriptions/{sms.json()['id']}/confirm",
                json={"code": code},
                headers=USER,
                timeout=10,
            )
            assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text

            (confirmation,) = eventually(lambda: emails(system, address))
            link = html.unescape(re.search(r'href="([^"]+/confirm\?token=[^"]+)"', confirmation["body"]).group(1))
            assert link.startswith(system.api)
            assert requests.get(link, timeout=10).json()["status"] == "confirmed"
            eventually(
                lambda: all(
                    s["status"] == "active"
                    for s in requests.get(f"{api_}/notifications/subscriptions", headers=USER, timeout=10).json()[
                        "items"
                    ]
                )
            )

            job = requests.post(
                f"{api_}/code-gen",
                json={"projectId": "shop", "type": "api", "prompt": "a shop with products and orders"},
                headers=USER,
                timeout=10,
            ).json()
            eventually(lambda: len(received) >= 3)
            kinds = []
            for headers, body in received:
                payload = Webhook(secret).verify(body, headers)  # raises unless the signature is right
                assert payload["user_id"] == "nina" and payload["data"]["job_id"] == job["id"]
                kinds.append(payload["kind"])
            assert sorted(kinds) == ["codegen.completed", "codegen.queued", "codegen.started"]

            done = eventually(lambda: [m for m in emails(system, address) if "ready to download" in m["subject"]])
            download = html.unescape(re.search(r'href="([^"]+)">Download the project', done[0]["body"]).group(1))
            archive = zipfile.ZipFile(io.BytesIO(requests.get(download, timeout=30).content))
            assert "shop/README.md" in archive.namelist()
            texts = eventually(lambda: texts_to(system, phone)[1:])
            assert [t["message"][:37] for t in texts] == ["Snapinfra: Your project shop is ready"]

            deliveries = eventually(
                lambda: (
                    [
                        d
                        for d in requests.get(f"{api_}/notifications/deliveries", headers=USER, timeout=10).json()[
                            "items"
                        ]
                        if d["outcome"] == "succeeded"
                    ]
                    if len(requests.get(f"{api_}/notifications/deliveries", headers=USER, timeout=10).json()["items"])
                    >= 5
                    else []
                )
            )
            assert sorted(d["channel"] for d in deliveries) == ["email", "sms", "webhook", "webhook", "webhook"]
    finally:
        server.shutdown()
        server.server_close()
