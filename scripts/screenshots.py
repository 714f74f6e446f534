"""Screenshots of every aliasdesk page, in English and German, 1280 and 375 px wide.

Usage, from the repository (the project's virtualenv, Debian's chromium at /usr/bin/chromium):

    PYTHONPATH=$PWD .venv/bin/python scripts/screenshots.py
    PYTHONPATH=$PWD .venv/bin/python scripts/screenshots.py --width 375 --lang de --page grid --page dashboard

What it does:

1. makes a fresh data directory (a temporary one, or ``--data DIR``, which must not hold a
   database yet) and loads the demo content into it, as ``aliasdesk demo --no-serve`` does;
   then adds what the demo lacks to show every page: an alias with a very long address and
   long destinations, an edited alias (its history), changes not deployed (the deploy
   preview), an alias in the trash, an API token and a webhook;
2. starts ``aliasdesk serve`` on a free port of 127.0.0.1 (gunicorn and whitenoise, as in
   production);
3. with Playwright and /usr/bin/chromium, signs in as the demo administrator and saves each
   page, whole, as ``screenshots/<lang>-<width>-<page>.png`` (``--out`` for another folder);
   German comes from a browser context with the locale de-DE (Accept-Language: de).

It prints, for each shot, what does not fit the width: a page wider than the window (the
page scrolls sideways) and the links, buttons and fields that stick out of it. ``--list``
names the pages; ``--height 1400`` keeps only the top of each (long pages shrink to
nothing in an image viewer). The exit status is 1 when a page could not be taken.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chromium import CHROMIUM, CHROMIUM_ARGS  # scripts/ is on the path when this runs as a script

REPO = Path(__file__).resolve().parents[1]
ADMIN, ADMIN_PASSWORD = "admin", "demo-admin-pass"
DOMAIN = "example.com"
LONG_KEY = "accounts-payable.europe-middle-east-africa.shared-services@example.com"
LONG_DESTINATIONS = (
    "finance.accounts-payable.invoices-and-credit-notes@ledger.accounting.subsidiaries.example.net, "
    "maximiliane.von-hohenzollern-sigmaringen@subsidiaries.europe.holding.example.org, "
    "archive+accounts-payable@archive.example.net"
)
# Pages taller than this (a printable list of 1,200 aliases) are shot as the window shows them.
MAX_HEIGHT = 12_000
# What no screen can show without one: the JavaScript that marks what sticks out.
OVERFLOW_JS = """() => {
    const width = window.innerWidth, problems = [];
    if (document.documentElement.scrollWidth > width) {
        problems.push(`page is ${document.documentElement.scrollWidth}px wide`);
    }
    for (const el of document.querySelectorAll('a, button, summary, input, select, textarea')) {
        const box = el.getBoundingClientRect();
        if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
        if (el.closest('.visually-hidden, .skip-link, details:not([open]) > :not(summary)')) continue;
        if (box.right > width + 1 || box.left < -1) {
            const name = (el.textContent || el.value || el.name || el.tagName).trim().slice(0, 40);
            problems.push(`${el.tagName.toLowerCase()} "${name}" at ${Math.round(box.left)}..${Math.round(box.right)}`);
        }
    }
    return problems;
}"""


@dataclass
class Page:
    name: str
    path: str
    then: Callable[[Any], None] | None = None  # what to do on the page before the shot
    anonymous: bool = False


def prepare(data: Path) -> dict[str, Any]:
    """The demo content and the extras; returns the ids the page URLs need."""
    os.environ["ALIASDESK_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aliasdesk.settings")
    from aliasdesk import datadir

    datadir.prepare()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("demo", no_serve=True)
    from aliasdesk.accounts.models import User
    from aliasdesk.aliases import services
    from aliasdesk.aliases.models import Alias, Domain
    from aliasdesk.api.tokens import create_token
    from aliasdesk.deploys.models import Deploy
    from aliasdesk.webhooks.models import EVENTS
    from aliasdesk.webhooks.services import HookInput, create_hook

    admin = User.objects.get(username=ADMIN)
    domain = Domain.objects.get(name=DOMAIN)
    long_alias = services.create_alias(
        domain, LONG_KEY, LONG_DESTINATIONS, user=admin, comment="FIN-20931 shared mailbox for the EMEA invoices"
    )
    long_alias = services.update_alias(
        long_alias, version=long_alias.version, user=admin, comment="FIN-20931, FIN-21007: credit notes too"
    )
    info = Alias.objects.get(key=f"info@{DOMAIN}", deleted_at__isnull=True)
    services.update_alias(
        info, version=info.version, user=admin, destinations="anna.berg@staff.example, desk@staff.example"
    )
    press = Alias.objects.get(key=f"press@{DOMAIN}", deleted_at__isnull=True)
    services.soft_delete_alias(press, version=press.version, user=admin)
    create_token(admin, by=admin, name="monitoring")
    create_hook(HookInput(url="https://hooks.example.net/aliasdesk", description="ticket system",
                         events=tuple(EVENTS)[:2]), user=admin)
    from aliasdesk.webhooks.models import Hook

    return {
        "alias": long_alias.pk,
        "deploy": Deploy.objects.filter(domain=domain).order_by("-pk").values_list("pk", flat=True).first(),
        "editor": User.objects.get(username="editor").pk,
        "hook": Hook.objects.order_by("pk").values_list("pk", flat=True).first(),
    }


def open_first_edit(page: Any) -> None:
    page.locator("button[hx-target^='#alias-'][hx-get$='edit']").first.click()  # "Edit", in any language
    page.wait_for_selector("tr.editing textarea")


def open_downloads(page: Any) -> None:
    page.locator("#downloads summary").click()


def charts_drawn(page: Any) -> None:
    page.wait_for_function(
        "() => window.Chart && [...document.querySelectorAll('canvas[data-traffic]')]"
        ".every(c => Chart.getChart(c) || !c.isConnected)"
    )


def pages(ids: dict[str, Any]) -> list[Page]:
    d = f"/domains/{DOMAIN}"
    return [
        Page("login", "/login/", anonymous=True),
        Page("domains", "/domains/"),
        Page("reports-menu", "/domains/", open_downloads),
        Page("reports-print", "/reports/domains.html"),
        Page("aliases-print", f"{d}/aliases.html"),
        Page("grid", f"{d}/"),
        Page("grid-edit", f"{d}/?q=accounts-payable", open_first_edit),
        Page("history", f"{d}/aliases/{ids['alias']}/history"),
        Page("paste", f"{d}/paste"),
        Page("upload", f"{d}/upload"),
        Page("deploy-preview", f"{d}/deploy"),
        Page("deploy-history", f"{d}/deploys/"),
        Page("deploy-detail", f"{d}/deploys/{ids['deploy']}"),
        Page("rollback", f"{d}/deploys/{ids['deploy']}/rollback"),
        Page("trash", f"{d}/trash"),
        Page("settings", f"{d}/settings"),
        Page("dashboard", "/dashboard/", charts_drawn),
        Page("unused", "/traffic/unused/"),
        Page("search", "/search/?q=anna.berg"),
        Page("offboard", "/offboard/"),
        Page("resolve", f"/resolve/?address=info@{DOMAIN}"),
        Page("users", "/users/"),
        Page("user-new", "/users/new"),
        Page("user-edit", f"/users/{ids['editor']}/"),
        Page("audit", "/audit/"),
        Page("tokens", "/account/tokens/"),
        Page("two-factor", "/account/2fa/"),
        Page("password", "/password/"),
        Page("webhooks", "/webhooks/"),
        Page("webhook-new", "/webhooks/new"),
        Page("webhook-detail", f"/webhooks/{ids['hook']}/"),
        Page("nodes", "/nodes/"),
        Page("not-found", "/domains/no-such.example/"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ALIASDESK_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    aliasdesk = Path(sys.executable).with_name("aliasdesk")
    command = [str(aliasdesk)] if aliasdesk.exists() else [sys.executable, "-m", "aliasdesk"]
    log = open(data / "serve.log", "wb")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(
        [*command, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"], env=env, stdout=log, stderr=log
    )
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"aliasdesk serve stopped: see {data / 'serve.log'}") from None
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"aliasdesk serve did not answer within a minute: see {data / 'serve.log'}")


def shoot(base: str, out: Path, wanted: list[Page], widths: list[int], langs: list[str], clip: int = 0) -> int:
    from playwright.sync_api import sync_playwright

    failures = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for lang in langs:
            for width in widths:
                context = browser.new_context(
                    viewport={"width": width, "height": 900 if width > 600 else 800},
                    locale="de-DE" if lang == "de" else "en-GB",
                )
                context.set_default_timeout(15_000)
                tab = context.new_page()
                signed_in = False
                for page in sorted(wanted, key=lambda p: not p.anonymous):
                    name = f"{lang}-{width}-{page.name}"
                    try:
                        if not page.anonymous and not signed_in:
                            tab.goto(base + "/login/")
                            tab.locator("input[name=username]").fill(ADMIN)
                            tab.locator("input[name=password]").fill(ADMIN_PASSWORD)
                            tab.locator("form button[type=submit]").click()
                            tab.wait_for_url("**/domains/")
                            signed_in = True
                        tab.goto(base + page.path)
                        tab.wait_for_load_state("load")
                        if page.then:
                            page.then(tab)
                        problems = list(dict.fromkeys(tab.evaluate(OVERFLOW_JS)))  # each once
                        tall = tab.evaluate("document.documentElement.scrollHeight") > MAX_HEIGHT
                        if clip:
                            box = {"x": 0, "y": 0, "width": width, "height": clip}
                            tab.screenshot(path=str(out / f"{name}.png"), full_page=True, clip=box)
                        else:
                            tab.screenshot(path=str(out / f"{name}.png"), full_page=not tall)
                    except Exception as exc:  # one page's trouble: say it, go on with the others
                        failures += 1
                        print(f"{name}: FAILED {str(exc).splitlines()[0]}")
                        continue
                    print(f"{name}: {'; '.join(problems) if problems else 'fits'}")
                context.close()
        browser.close()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    parser.add_argument("--data", type=Path, help="data directory to make (default: a temporary one)")
    parser.add_argument("--width", type=int, action="append", help="window width (default: 1280 and 375)")
    parser.add_argument("--lang", action="append", choices=["en", "de"], help="default: both")
    parser.add_argument("--page", action="append", help="only this page (repeatable; --list names them)")
    parser.add_argument("--list", action="store_true", help="name the pages and stop")
    parser.add_argument("--height", type=int, default=0, help="only the top HEIGHT px of each page")
    args = parser.parse_args()
    if args.list:
        print("\n".join(p.name for p in pages({"alias": 0, "deploy": 0, "editor": 0, "hook": 0})))
        return 0
    with tempfile.TemporaryDirectory(prefix="aliasdesk-shots-") as scratch:
        data = (args.data or Path(scratch) / "data").resolve()
        data.mkdir(parents=True, exist_ok=True)
        if (data / "aliasdesk.sqlite3").exists():
            raise SystemExit(f"{data} holds a database already: give an empty directory")
        ids = prepare(data)
        wanted = [p for p in pages(ids) if not args.page or p.name in args.page]
        unknown = set(args.page or []) - {p.name for p in wanted}
        if unknown:
            raise SystemExit(f"no such page: {', '.join(sorted(unknown))} (--list names them)")
        args.out.mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = serve(data, port)
        try:
            failures = shoot(f"http://127.0.0.1:{port}", args.out, wanted, args.width or [1280, 375],
                             args.lang or ["en", "de"], args.height)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"screenshots in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
