"""Call a high-value endpoint with an RFC 9421 HTTP Message Signature, as an integrator would.

    CLIENT_ID=… CLIENT_SECRET=… SIGNING_SECRET=… \
        python examples/signed_request.py DELETE http://127.0.0.1:8000/api/v1/cs-integration/customers/cust_12345
    … python examples/signed_request.py POST http://127.0.0.1:8000/api/v1/cs-integration/customers/bulk \
        '{"customers": [{"name": "Acme", "health_score": 80}]}'

It fetches a token with the client credentials grant (or uses TOKEN), signs the request with
``sign_request`` below and prints the status and the body. Needs ``requests`` and ``http-message-signatures``.
"""

import json
import os
import sys
from urllib.parse import urlsplit

import requests
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms


def sign_request(request, *, client_id, signing_secret, created=None, label="sig1"):
    """Sign a requests.PreparedRequest in place: adds Content-Digest, Signature-Input and Signature."""
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={client_id: signing_secret.encode()}),
    )
    signer.sign(
        request,
        key_id=client_id,
        created=created,
        label=label,
        covered_component_ids=("@method", "@path", "content-digest"),
        body=body,
    )
    return request


def client_credentials_token(base_url: str, client_id: str, client_secret: str) -> str:
    response = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    method, url = argv[0].upper(), argv[1]
    body = argv[2] if len(argv) == 3 else ""
    client_id, signing_secret = os.environ["CLIENT_ID"], os.environ["SIGNING_SECRET"]
    parts = urlsplit(url)
    try:
        token = os.environ.get("TOKEN") or client_credentials_token(
            f"{parts.scheme}://{parts.netloc}", client_id, os.environ["CLIENT_SECRET"]
        )
    except requests.RequestException as exc:  # a wrong secret, or no server: say so, no traceback
        answer = getattr(exc, "response", None)
        print(f"no token: {answer.status_code} {answer.text}" if answer is not None else f"no token: {exc}")
        return 1
    headers = {"Authorization": f"Bearer {token}"}
    if body:
        headers["Content-Type"] = "application/json"
    request = requests.Request(method, url, data=body.encode(), headers=headers).prepare()
    response = requests.Session().send(
        sign_request(request, client_id=client_id, signing_secret=signing_secret), timeout=30
    )
    print(response.status_code)
    if response.content:
        print(json.dumps(response.json(), indent=2))
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
