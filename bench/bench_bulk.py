"""Bulk benchmarks over HTTP against `aliasdesk serve --workers 2` (SQLite), one client.

Signs in through the login form as an administrator, then measures in the same run:
- paste: POST /domains/{name}/paste of BENCH_LINES map lines ("Add many"), one request;
- upload: POST /domains/{name}/upload of the same lines as a map file (the preview: a dry run
  of the whole import) plus POST …/upload/apply, and the same as a CSV;
- the reference: `aliasdesk import` of the same lines into a third domain (the whole command,
  interpreter start included, as a user runs it);
- BENCH_BIG lines through the web: a paste and a map upload (preview + apply), each request
  under gunicorn's worker timeout (30 s by default), and the aliases counted afterwards.

Prints a Markdown section. Targets (issue 14): paste and upload of 5,000 lines at most 3x the
command-line import; 100,000 lines through the web without hitting the worker timeout.

    .venv/bin/python bench/bench_bulk.py     # BENCH_LINES (5000), BENCH_BIG (100000)
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench_web import AD, PASSWORD, env_for, run, served

GUNICORN_TIMEOUT = 30
COUNT = """
import django, json, sys
django.setup()
from aliasdesk.aliases.models import Alias
print(json.dumps({d: Alias.objects.filter(domain__name=d, deleted_at__isnull=True).count() for d in sys.argv[1:]}))
"""


class Session:
    """A signed-in browser, as far as forms go: cookies, CSRF tokens, multipart posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def token(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            page = response.read().decode()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not match:
            raise SystemExit(f"no CSRF token on {path}")
        return match.group(1)

    def login(self) -> None:
        status, _, final = self.post("/login/", {"username": "bench", "password": PASSWORD})
        if status != 200 or "/login/" in final:
            raise SystemExit(f"login failed ({status}, {final})")

    def post(
        self, path: str, fields: dict[str, str], file: tuple[str, bytes] | None = None, form: str | None = None
    ) -> tuple[int, str, str]:
        """POST the form of page ``form`` (default: ``path``); status, body and final URL."""
        fields = {**fields, "csrfmiddlewaretoken": self.token(form or path)}
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        if file is not None:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file[0]}"\r\n'
            parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + file[1] + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Referer", self.base + (form or path))
        try:
            with self.opener.open(request, timeout=600) as response:
                return response.status, response.read().decode(), response.geturl()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace"), path


def map_text(domain: str, n: int) -> str:
    lines = []
    for i in range(n):
        if i % 4 == 0:
            lines.append(f"# ticket OPS-{i}\n")
        lines.append(f"bulk{i}@{domain}\tperson{i}@mail.corp.example, team{i % 50}@lists.example.org\n")
    return "".join(lines)


def csv_text(domain: str, n: int) -> str:
    rows = ["key,destinations,enabled,comment,valid_until\n"]
    rows += [
        f'bulk{i}@{domain},"person{i}@mail.corp.example, team{i % 50}@lists.example.org",on,OPS-{i},\n'
        for i in range(n)
    ]
    return "".join(rows)


def timed(action: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def paste(web: Session, domain: str, text: str) -> float:
    path = f"/domains/{domain}/paste"
    took, (status, body, final) = timed(lambda: web.post(path, {"text": text}))
    if status != 200 or not final.endswith(f"/domains/{domain}/"):
        raise SystemExit(f"paste into {domain}: {status} {final}\n{body[-2000:]}")
    return float(took)


def upload(web: Session, domain: str, name: str, data: bytes) -> tuple[float, float]:
    """Seconds of the preview and of Apply."""
    path = f"/domains/{domain}/upload"
    took, (status, body, _) = timed(lambda: web.post(path, {"mode": "update", "format": ""}, (name, data)))
    match = re.search(r'name="upload" value="([^"]+)"', body)
    if status != 200 or not match:
        raise SystemExit(f"upload preview of {name} into {domain}: {status}\n{body[-2000:]}")
    applied, (status, body, final) = timed(
        lambda: web.post(path + "/apply", {"upload": match.group(1)}, form=path)
    )
    if status != 200 or not final.endswith(f"/domains/{domain}/") or "Applied" not in body:
        raise SystemExit(f"upload apply of {name} into {domain}: {status} {final}\n{body[-2000:]}")
    return float(took), float(applied)


def main() -> None:
    n = int(os.environ.get("BENCH_LINES", "5000"))
    big = int(os.environ.get("BENCH_BIG", "100000"))
    names = ["paste.example", "upload.example", "csv.example", "import.example", "bigpaste.example", "bigup.example"]
    with tempfile.TemporaryDirectory(prefix="aliasdesk-bench-bulk-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        (work / "maps").mkdir()
        env = env_for(work / "data", None)
        env["ALIASDESK_MAP_DIR"] = str(work / "maps")
        run([*AD, "migrate", "--verbosity", "0"], env)
        run([*AD, "user", "add", "bench", "--role", "admin", "--password-stdin"], env, stdin=PASSWORD + "\n")
        for name in names:
            run([*AD, "domain", "add", name], env)
        import_file = work / "bulk.map"
        import_file.write_text(map_text("import.example", n))
        start = time.perf_counter()
        run([*AD, "import", str(import_file), "--domain", "import.example"], env)
        import_s = time.perf_counter() - start

        with served(env) as (base, _server):
            web = Session(base)
            web.login()
            result: dict[str, Any] = {"n": n, "big": big, "import_s": import_s}
            result["paste_s"] = paste(web, "paste.example", map_text("paste.example", n))
            result["upload_s"] = upload(web, "upload.example", "bulk.map", map_text("upload.example", n).encode())
            result["csv_s"] = upload(web, "csv.example", "bulk.csv", csv_text("csv.example", n).encode())
            result["big_paste_s"] = paste(web, "bigpaste.example", map_text("bigpaste.example", big))
            result["big_upload_s"] = upload(
                web, "bigup.example", "big.map", map_text("bigup.example", big).encode()
            )
        script = work / "count.py"
        script.write_text(COUNT)
        counts = run([sys.executable, str(script), *names], env)
    report(result, counts)


def report(r: dict[str, Any], counts: str) -> None:
    n, big, base = r["n"], r["big"], r["import_s"]
    up = sum(r["upload_s"])
    up_csv = sum(r["csv_s"])
    big_paste, (big_preview, big_apply) = r["big_paste_s"], r["big_upload_s"]
    slowest = max(big_paste, big_preview, big_apply)

    def ok(flag: bool) -> str:
        return "met" if flag else "**missed**"

    print(f"One client over HTTP against `aliasdesk serve --workers 2` on SQLite; every request measured as the "
          f"client sees it. `aliasdesk import` of the same {n:,} lines: {base:.2f} s (whole command).")
    print()
    print("| measure | result | target | |")
    print("|---|---|---|---|")
    print(f"| paste of {n:,} lines (\"Add many\") | {r['paste_s']:.2f} s = {r['paste_s'] / base:.2f}x import "
          f"| ≤ 3x | {ok(r['paste_s'] <= 3 * base)} |")
    print(f"| upload of {n:,} lines as a map: preview + apply | {r['upload_s'][0]:.2f} s + {r['upload_s'][1]:.2f} s "
          f"= {up / base:.2f}x import | ≤ 3x | {ok(up <= 3 * base)} |")
    print(f"| upload of {n:,} rows as a CSV: preview + apply | {r['csv_s'][0]:.2f} s + {r['csv_s'][1]:.2f} s "
          f"= {up_csv / base:.2f}x import | ≤ 3x | {ok(up_csv <= 3 * base)} |")
    print(f"| paste of {big:,} lines | {big_paste:.2f} s | one request < {GUNICORN_TIMEOUT} s (worker timeout) "
          f"| {ok(big_paste < GUNICORN_TIMEOUT)} |")
    print(f"| upload of {big:,} lines as a map: preview, apply | {big_preview:.2f} s, {big_apply:.2f} s "
          f"| each < {GUNICORN_TIMEOUT} s | {ok(slowest < GUNICORN_TIMEOUT)} |")
    print()
    print(f"Aliases afterwards, by domain: `{counts.strip()}`")


if __name__ == "__main__":
    main()
