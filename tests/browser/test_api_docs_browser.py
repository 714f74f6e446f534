"""The API's interactive documents (/api/v1/docs) in chromium: swagger-ui comes from our own
static files (no CDN), runs under the enforced Content-Security-Policy without one violation,
and lists the operations of the OpenAPI document. Screenshot: screenshots/api-docs.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import BROWSER_TEST, UI, Desk
from tests.browser.test_csp_browser import LISTEN

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = playwright_api.expect

pytestmark = BROWSER_TEST


def test_the_api_documents_load_from_this_server_under_the_csp(ui: UI, desk: Desk, live_server: Any) -> None:
    ui.page.context.add_init_script(LISTEN)
    elsewhere: list[str] = []
    ui.page.on("request", lambda r: r.url.startswith(live_server.url) or elsewhere.append(r.url))
    response = ui.page.goto(f"{live_server.url}/api/v1/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    expect(ui.page.locator(".swagger-ui .info .title")).to_contain_text("aliasdesk", timeout=15_000)
    operations = ui.page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    paths = set(operations.all_inner_texts())
    assert {"/api/v1/domains", "/api/v1/domains/{name}/aliases"} <= {re.sub(r"\s+", "", p) for p in paths}
    ui.page.wait_for_load_state("networkidle")
    assert ui.page.evaluate("window.__csp") == []
    assert elsewhere == [], f"the documents fetched from elsewhere: {elsewhere}"
    ui.shot("api-docs")
