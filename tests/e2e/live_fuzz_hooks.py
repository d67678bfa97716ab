"""schemathesis hooks of the live fuzz run (``test_live_api_fuzzing.py``), loaded by the CLI through
``SCHEMATHESIS_HOOKS``.

- Operations marked ``x-signature-required`` are signed for real (RFC 9421, the client's signing secret
  from ``FUZZ_CLIENT_ID``/``FUZZ_SIGNING_SECRET``), after the body is serialised, so the signature covers
  the bytes sent; a nonce makes each signature unique, as the server accepts each one once.
- In positive cases, which the schema promises to be well formed, a time in a body that lies in the
  future is moved to the past (the server refuses observations from the future, which a schema
  cannot state, as it does not know the server's clock), a cursor is dropped (it is opaque:
  only the server makes valid ones, and any other is a 400) and an ``Idempotency-Key`` is made unique
  to its case (a client uses a new key per request; a random generator reuses short keys with other
  bodies, which is the documented 422).
"""

import os
import re
import uuid
from datetime import UTC, datetime

import requests
import schemathesis
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms


class SignRequest(requests.auth.AuthBase):
    def __init__(self, client_id: str, signing_secret: str) -> None:
        self.client_id = client_id
        self.signer = HTTPMessageSigner(
            signature_algorithm=algorithms.HMAC_SHA256,
            key_resolver=MappingKeyResolver(
                public_keys={}, private_keys={client_id: signing_secret.encode()}
            ),
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        self.signer.sign(
            request,
            key_id=self.client_id,
            nonce=uuid.uuid4().hex,
            covered_component_ids=("@method", "@path", "content-digest"),
            body=body.encode() if isinstance(body, str) else body,
        )
        return request


PAST = "2025-01-31T09:30:00Z"


def _no_future_times(node) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
            try:
                # Seconds are precise enough here; Python 3.11 reads at most 6 fraction digits.
                moment = datetime.fromisoformat(re.sub(r"\.\d+", "", value).replace("Z", "+00:00"))
            except ValueError:
                continue
            if moment.tzinfo is not None and moment > datetime.now(UTC):
                node[key] = PAST
        else:
            _no_future_times(value)


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.definition.raw.get("x-signature-required"):
        kwargs["auth"] = SignRequest(os.environ["FUZZ_CLIENT_ID"], os.environ["FUZZ_SIGNING_SECRET"])
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    _no_future_times(case.body)
    if case.query and "cursor" in case.query:
        del case.query["cursor"]
    if isinstance(case.body, dict) and "url" in case.body and "/webhooks" in case.operation.path:
        # A receiver URL is valid only if its host resolves to an admitted address, which a generator
        # cannot know; the server admits loopback receivers here (WEBHOOK_ALLOWED_NETWORKS).
        case.body["url"] = "http://127.0.0.1:9/fuzz-receiver"
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = (
            f"{str(case.headers['Idempotency-Key'])[:200].strip()}-{uuid.uuid4().hex}"
        )
