"""The API's documentation pages work without internet: every asset they load is served here."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_only_local_assets_and_those_are_served(page):
    client = Client()
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    references += re.findall(r"""["'](/static/[^"']+)["']""", html)
    assert references, html
    external = [url for url in references if re.match(r"^(https?:)?//", url)]
    assert external == [], f"{page} loads assets from elsewhere: {external}"
    assets = {url for url in references if url.startswith("/static/")}
    assert any(url.endswith(".js") for url in assets), assets
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content if asset.streaming else [asset.content])
