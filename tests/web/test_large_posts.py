"""Large posts on "Add many": up to 20 MB (100,000 lines) is taken, more is refused with the
page and a message (413, never a bare 400/500), an upload goes through the same service,
binary uploads are refused; nothing changes in any refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from aliasdesk.aliases.models import Alias, Domain

pytestmark = [pytest.mark.django_db]

URL = "/domains/example.com/paste"
MB = 1024 * 1024


def sized_paste(lines: int, size: int, entries: int) -> str:
    """``lines`` lines of about ``size`` bytes in all: ``entries`` aliases, each below a block
    of long comment lines (which become its comment)."""
    per_block = lines // entries
    comment_line_len = size // lines - 1  # with its "\n"
    blocks = []
    for n in range(entries):
        comment = [f"# {n:06d} " + "x" * (comment_line_len - 9) for _ in range(per_block - 1)]
        blocks.append("\n".join([*comment, f"big{n}@example.com\tanna{n}@example.org"]) + "\n")
    return "".join(blocks)


def snapshot(domain: Domain) -> tuple[int, int, list[tuple[str, str]]]:
    domain.refresh_from_db()
    return domain.serial, Alias.objects.count(), list(Alias.objects.order_by("key").values_list("key", "destinations"))


def test_a_20_mb_paste_of_100000_lines_is_taken(login: Callable[[str], Client], example: Domain) -> None:
    text = sized_paste(100_000, 20 * MB - 200_000, 1000)
    assert text.count("\n") == 100_000 and 19 * MB < len(text.encode()) <= 20 * MB
    before = Alias.objects.count()
    response = login("bob").post(URL, {"text": text.replace("\n", "\r\n")})  # as a browser sends a textarea
    assert response.status_code == 302, response.content[:2000]
    assert Alias.objects.count() == before + 1000
    assert Alias.objects.get(key="big999@example.com").comment.count("\n") == 98


def test_21_mb_is_refused_with_the_page_and_a_message(login: Callable[[str], Client], example: Domain) -> None:
    before = snapshot(example)
    text = "x@example.com\ty@example.org\n" + "# " + "z" * (21 * MB) + "\n"
    response = login("bob").post(URL, {"text": text})
    assert response.status_code == 413
    page = response.content.decode()
    assert "<form" in page and 'name="text"' in page and "Add many" in page
    assert "at most 20.0\xa0MB can be pasted or uploaded at once" in page
    assert snapshot(example) == before


def test_a_post_too_large_to_read_still_gets_the_page(login: Callable[[str], Client], example: Domain) -> None:
    """Beyond DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses to read the body (before the CSRF
    check): the 400 handler answers with the paste page and 413, not a bare 400."""
    before = snapshot(example)
    response = login("bob").post(URL, {"text": "x" * (30 * MB)})
    assert response.status_code == 413
    assert "can be pasted or uploaded at once" in response.content.decode()
    assert snapshot(example) == before


def test_a_huge_upload_is_refused_before_it_is_read(login: Callable[[str], Client], example: Domain) -> None:
    before = snapshot(example)
    upload = SimpleUploadedFile("virtual", b"a@example.com b@example.org\n" + b"#" * (25 * MB))
    response = login("bob").post(URL, {"text": "", "file": upload})
    assert response.status_code == 413
    assert "can be pasted or uploaded at once" in response.content.decode()
    assert snapshot(example) == before


def test_other_pages_answer_a_too_large_post_with_a_page(login: Callable[[str], Client], example: Domain) -> None:
    response = login("alice").post("/domains/example.com/settings", {"header": "#" * (30 * MB)})
    assert response.status_code == 413
    assert "Too large" in response.content.decode() and "Nothing was changed" in response.content.decode()


def test_an_uploaded_map_file_is_added_like_a_paste(login: Callable[[str], Client], example: Domain) -> None:
    upload = SimpleUploadedFile("virtual", "\ufeff# from the old server\njobs@example.com\thr@example.org\n".encode())
    response = login("bob").post(URL, {"text": "", "file": upload})
    assert response.status_code == 302
    alias = Alias.objects.get(key="jobs@example.com")
    assert (alias.destinations, alias.comment) == ("hr@example.org", "from the old server")
    assert alias.history.latest().history_user.username == "bob"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a@example.com b@example.org\n\0\0\0\x01\x02", "is a binary file, not map text (it holds NUL bytes)"),
        (b"\x00\x06\x15\x61" + bytes(range(256)) * 8, "is a binary file"),
        ("a@example.com\tbj\u00f6rn@example.org\n".encode("latin-1"), "is not UTF-8 text (line 1, byte 16)"),
    ],
    ids=["nul", "compiled-table", "latin-1"],
)
def test_a_binary_upload_is_refused_and_changes_nothing(
    login: Callable[[str], Client], example: Domain, content: bytes, message: str
) -> None:
    before = snapshot(example)
    response = login("bob").post(URL, {"text": "", "file": SimpleUploadedFile("virtual.db", content)})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert snapshot(example) == before


def test_text_and_a_file_at_once_are_refused_and_the_text_kept(
    login: Callable[[str], Client], example: Domain
) -> None:
    before = snapshot(example)
    upload = SimpleUploadedFile("virtual", b"jobs@example.com hr@example.org\n")
    response = login("bob").post(URL, {"text": "kept@example.com x@example.org", "file": upload})
    assert response.status_code == 422
    page = response.content.decode()
    assert "not both" in page and "kept@example.com x@example.org" in page
    assert snapshot(example) == before


def test_a_viewer_cannot_upload(login: Callable[[str], Client], example: Domain) -> None:
    before = snapshot(example)
    upload = SimpleUploadedFile("virtual", b"jobs@example.com hr@example.org\n")
    assert login("dave").post(URL, {"text": "", "file": upload}).status_code == 403
    assert login("dave").post(URL, {"text": "x" * (30 * MB)}).status_code == 403
    assert snapshot(example) == before
