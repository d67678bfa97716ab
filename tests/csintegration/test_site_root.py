"""The site's root and the admin's "View site" lead to the API's documentation, not to a 404."""

import pytest
from django.contrib import admin
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_root_redirects_to_the_api_docs():
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"] == "/api/docs/"
    assert Client().get(response["Location"]).status_code == 200


def test_the_admin_view_site_link_is_the_api_docs(staff_client):
    assert admin.site.site_url == "/api/docs/"
    assert 'href="/api/docs/"' in staff_client.get("/admin/").content.decode()
