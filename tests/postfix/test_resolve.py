"""resolve: where mail for an address goes, in Postfix's lookup order and with its limits.

The expectations come from a running Postfix 3.7 (see test_resolve_agrees_with_a_real_postfix).
"""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aliasdesk.postfix.maps.resolve import (
    AliasTable,
    explain,
    parse_value,
    quote_local,
    resolve,
    split_extension,
    unquote_local,
)
from aliasdesk.postfix.maps.virtual import Entry
from tests.conftest import require_postmap

LOCAL = {"local_domains": ["local.test"], "myorigin": "mx.test.invalid"}

MAP = """\
joe@example.com joe.user@example.net
jx@example.com jx.user+x@example.net, other@example.net
self@example.com self@example.com, copy@example.net
self2@example.com copy@example.net, SELF2@example.com
list@example.com x@example.net, X@EXAMPLE.NET, y@example.net, x@example.net
@example.com catch@example.net
bare@example.com devnull
devnull dn-result@example.net
otherdom@example.com @example.org
twodom@example.com @example.org, z@example.net
loop1@example.com loop2@example.com
loop2@example.com loop1@example.com
grow@example.com grow+x@example.com
sa@example.com sb@example.com
sb@example.com sa@example.com, sb@example.com
order@example.com b1@example.com, c@example.net
b1@example.com x@example.net, y@example.net
user+ext@example.com userext-result@example.net
user@example.com user-result@example.net
Upper@Example.com upper-result@example.net
straße@example.com strasse-result@example.net
loc local-result@example.net
loc+tag loctag-result@example.net
cmt@example.com a@example.net (comment), <b@example.net>, Name <c@example.net>
hash@example.com a@example.net # note
"""


def table(text: str = MAP, *more: str) -> AliasTable:
    return AliasTable.from_text(text, *more)


def recipients(address: str, **options: object) -> list[str]:
    result = resolve(address, table(), **{**LOCAL, **options})  # type: ignore[arg-type]
    assert not result.deferred, result.problems
    return result.recipients


# --- lookup order ---------------------------------------------------------------------------


def test_lookup_order_for_an_extension_on_a_local_domain() -> None:
    steps = resolve("nobody+tag@local.test", table(), **LOCAL).steps  # type: ignore[arg-type]
    assert [(s.query, s.form, s.hit) for s in steps] == [
        ("nobody+tag@local.test", "user+ext@domain", False),
        ("nobody@local.test", "user@domain", False),
        ("nobody+tag", "user+ext", False),
        ("nobody", "user", False),
        ("@local.test", "@domain", False),
    ]


def test_user_forms_are_tried_only_on_local_domains() -> None:
    steps = resolve("loc@example.com", table(), **LOCAL).steps  # type: ignore[arg-type]
    assert [s.form for s in steps if s.depth == 0] == ["user@domain", "@domain"]
    assert recipients("loc@example.com") == ["catch@example.net"]
    assert recipients("loc@local.test") == ["local-result@example.net"]
    assert recipients("loc@mx.test.invalid") == ["local-result@example.net"]  # $myorigin is local


def test_full_key_wins_over_key_without_extension() -> None:
    assert recipients("user+ext@example.com") == ["userext-result@example.net"]
    assert recipients("loc+tag@local.test") == ["loctag-result@example.net"]


def test_lookups_fold_case_like_postmap_with_smtputf8() -> None:
    assert recipients("upper@EXAMPLE.COM") == ["upper-result@example.net"]
    assert recipients("STRASSE@example.com") == ["strasse-result@example.net"]
    ascii_only = AliasTable.from_text(MAP, utf8=False)
    assert resolve("STRASSE@example.com", ascii_only).recipients == ["catch@example.net"]


def test_quoted_local_part_is_looked_up_quoted() -> None:
    weird = AliasTable([Entry('"we ird"@example.com', "weird-result@example.net")])
    result = resolve('"we ird"@example.com', weird)
    assert result.steps[0].query == '"we ird"@example.com'
    assert result.recipients == ["weird-result@example.net"]


def test_several_maps_each_query_goes_to_every_map_before_the_next() -> None:
    first = "u@example.com map1-u@example.net\n"
    second = "@example.com map2-catch@example.net\nu@example.com map2-u@example.net\nv@example.com map2-v@example.net\n"
    both = AliasTable.from_text(first, second)
    assert resolve("u@example.com", both).recipients == ["map1-u@example.net"]
    assert resolve("v@example.com", both).recipients == ["map2-v@example.net"]
    assert [s.map_index for s in resolve("w@example.com", both).steps if s.hit] == [1]


def test_disabled_entries_are_not_in_the_table() -> None:
    off = AliasTable([Entry("a@example.com", "x@example.net", False), Entry("@example.com", "c@example.net")])
    assert resolve("a@example.com", off).recipients == ["c@example.net"]


# --- results --------------------------------------------------------------------------------


def test_unmatched_extension_is_propagated_to_every_result() -> None:
    assert recipients("joe+foo@example.com") == ["joe.user+foo@example.net"]
    # Postfix appends it even where the result has an extension of its own.
    assert recipients("jx+foo@example.com") == ["jx.user+x+foo@example.net", "other+foo@example.net"]
    assert recipients("user+zz@example.com") == ["user-result+zz@example.net"]
    assert recipients("loc+zz@local.test") == ["local-result+zz@example.net"]


def test_extension_is_not_propagated_without_propagate_unmatched_extensions() -> None:
    assert recipients("joe+foo@example.com", propagate_extension=False) == ["joe.user@example.net"]


def test_catch_all_does_not_propagate_the_extension() -> None:
    assert recipients("nobody+e@example.com") == ["catch@example.net"]


def test_at_domain_result_keeps_the_user_and_extension() -> None:
    assert recipients("otherdom@example.com") == ["otherdom@example.org"]
    assert recipients("otherdom+e@example.com") == ["otherdom+e@example.org"]
    # With more addresses Postfix glues them into one address, as here.
    assert recipients("twodom@example.com") == ['"twodom@example.org, z"@example.net']


def test_self_mapping_keeps_a_copy_and_stops() -> None:
    assert recipients("self@example.com") == ["self@example.com", "copy@example.net"]
    assert recipients("self+e@example.com") == ["self+e@example.com", "copy+e@example.net"]
    assert recipients("self2@example.com") == ["copy@example.net", "SELF2@example.com"]


def test_cycle_through_a_self_keeping_key_is_delivered() -> None:
    assert recipients("sa@example.com") == ["sb@example.com"]


def test_first_result_takes_the_place_further_results_go_last() -> None:
    assert recipients("order@example.com") == ["x@example.net", "c@example.net", "y@example.net"]


def test_duplicates_are_dropped_case_insensitively_first_spelling_wins() -> None:
    assert recipients("list@example.com") == ["x@example.net", "y@example.net"]


def test_bare_name_gets_myorigin_and_is_looked_up_as_local() -> None:
    assert recipients("bare@example.com") == ["dn-result@example.net"]
    assert resolve("bare@example.com", table()).recipients == ["dn-result@example.net"]  # no $myorigin: bare lookup


def test_values_are_read_as_rfc_822_address_lists() -> None:
    assert recipients("cmt@example.com") == ["a@example.net", "b@example.net", "c@example.net"]
    assert recipients("hash@example.com") == ["a@example.net", "#@mx.test.invalid", "note@mx.test.invalid"]
    assert parse_value('"x y"@e.example, a\\ b@e.example') == ["x y@e.example", "a b@e.example"]


# --- limits and loops -----------------------------------------------------------------------


def chain(length: int) -> AliasTable:
    return AliasTable([Entry(f"d{i}@example.com", f"d{i + 1}@example.com") for i in range(length)])


def test_999_nested_lookups_are_fine_1000_defer_the_mail() -> None:
    assert resolve("d0@example.com", chain(999)).recipients == ["d999@example.com"]
    result = resolve("d0@example.com", chain(1000))
    assert result.deferred and result.recipients == []
    assert "virtual_alias_recursion_limit" in result.problems[-1] and "4.6.0" in result.problems[-1]


def test_loop_defers_the_mail_and_names_the_cycle() -> None:
    result = resolve("loop1@example.com", table())
    assert result.deferred
    assert result.problems[0] == "loop: loop1@example.com -> loop2@example.com -> loop1@example.com"


def test_extension_that_grows_every_round_hits_the_address_length_limit() -> None:
    result = resolve("grow@example.com", table())
    assert result.deferred and "virtual_alias_address_length_limit" in result.problems[-1]


def test_1000_addresses_are_fine_1001_defer_counting_duplicates() -> None:
    def wide(n: int, value: Callable[[int], str] = lambda i: f"m{i}@example.net") -> AliasTable:
        return AliasTable([Entry("all@example.com", ", ".join(map(value, range(n))))])

    assert len(resolve("all@example.com", wide(1000)).recipients) == 1000
    assert resolve("all@example.com", wide(1001)).deferred
    assert resolve("all@example.com", wide(2500, lambda i: f"d{i % 10}@example.net")).deferred


def test_recipient_delimiter_set_and_owner_request_special() -> None:
    lists = AliasTable([Entry("owner-list@example.com", "o@example.net"), Entry("list@example.com", "l@example.net"),
                        Entry("a@example.com", "a@example.net")])
    assert resolve("owner-list@example.com", lists, recipient_delimiter="+-").recipients == ["o@example.net"]
    request = resolve("list-request@example.com", lists, recipient_delimiter="+-")
    assert [s.query for s in request.steps] == ["list-request@example.com", "@example.com"]  # not split at '-'
    assert request.recipients == ["list-request@example.com"]
    assert resolve("a-x@example.com", lists, recipient_delimiter="+-").recipients == ["a-x@example.net"]


def test_split_extension_quote_and_unquote() -> None:
    assert split_extension("user+a+b@example.com", "+") == ("user@example.com", "+a+b")
    assert split_extension("+x@example.com", "+") is None
    assert split_extension("postmaster+x", "+") == ("postmaster", "+x")
    assert quote_local("we ird@example.com") == '"we ird"@example.com'
    assert quote_local("a.b@example.com") == "a.b@example.com"
    assert unquote_local('"we ird"@example.com') == "we ird@example.com"


def test_explain_shows_each_lookup_and_the_final_recipients() -> None:
    text = explain(resolve("jx+foo@example.com", table(), **LOCAL))  # type: ignore[arg-type]
    assert "lookup jx+foo@example.com (user+ext@domain): not found" in text
    assert "lookup jx@example.com (user@domain): found in map 1, line 2" in text
    assert "(unmatched extension +foo added)" in text
    assert text.rstrip().endswith("other+foo@example.net")
    deferred = explain(resolve("loop1@example.com", table()))
    assert "would not accept this mail" in deferred and "Problem: loop:" in deferred


def test_resolution_to_dict_is_json_ready() -> None:
    data = resolve("joe@example.com", table()).to_dict()
    assert data["recipients"] == ["joe.user@example.net"]
    assert data["steps"][0]["hit"] is True and data["deferred"] is False


# --- against the real programs ----------------------------------------------------------------


def test_direct_hits_agree_with_postmap(tmp_path: Path, postfix_conf: Path) -> None:
    require_postmap()
    source = tmp_path / "virtual"
    lines = ['"we ird"@example.com weird', "Info@Example.com info", "straße@example.com strasse", "@example.com catch",
             "sales@example.com sales", "bücher@xn--bcher-kva.example puny", "info@bücher.example utf8", "bare bare"]
    source.write_text("\n".join(lines) + "\n")
    subprocess.run(["postmap", "-c", str(postfix_conf), f"hash:{source}"], check=True)
    mine = AliasTable([Entry(*line.rsplit(" ", 1)) for line in lines])
    queries = ['"we ird"@example.com', '"WE IRD"@example.com', "info@example.com", "INFO@EXAMPLE.COM",
               "STRASSE@example.com", "@example.com", "@EXAMPLE.com", "sales@example.com", "nobody@example.com",
               "info@xn--bcher-kva.example", "INFO@BÜCHER.example", "bare", "BARE", "sales", "we ird@example.com"]
    postmap = subprocess.run(["postmap", "-c", str(postfix_conf), "-q", "-", f"hash:{source}"], check=True,
                             input="\n".join(queries) + "\n", capture_output=True, text=True).stdout
    answers = dict(line.split("\t", 1) for line in postmap.splitlines())
    assert {q: found[1].value for q in queries if (found := mine.find(q))} == answers


@pytest.fixture(scope="module")
def held_postfix() -> Iterator[Callable[[str], list[str] | str]]:
    """A private Postfix that holds every message: ``expand(address)`` returns the queued recipients."""
    if os.geteuid() != 0 or not shutil.which("postfix", path="/usr/sbin:/usr/bin") or not Path(
            "/etc/postfix/master.cf").is_file():
        pytest.skip("a test Postfix needs root and an installed postfix")
    base = Path(tempfile.mkdtemp(prefix="aliasdesk-held-"))  # pytest's tmp dirs are 0700: postfix could not enter
    base.chmod(0o755)
    for sub in ("conf", "queue", "data"):
        (base / sub).mkdir()
    shutil.chown(base / "data", "postfix")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (base / "conf" / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
myhostname = mx.test.invalid
mydestination = local.test, $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
maillog_file = {base}/maillog
maillog_file_prefixes = /tmp
recipient_delimiter = +
virtual_alias_domains = example.com
virtual_alias_maps = hash:{base}/virtual
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
smtpd_client_restrictions = check_client_access static:HOLD
default_transport = discard
local_transport = discard
""")
    master = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line[:1].isalnum() and len(fields) >= 8:
            fields[4] = "n"
            line = f"127.0.0.1:{port} inet n - n - - smtpd" if fields[:2] == ["smtp", "inet"] else " ".join(fields)
        master.append(line)
    (base / "conf" / "master.cf").write_text("\n".join(master) + "\n")
    (base / "virtual").write_text(MAP)
    conf = ["-c", str(base / "conf")]
    subprocess.run(["postmap", *conf, f"hash:{base}/virtual"], check=True)
    subprocess.run(["postfix", *conf, "start"], check=True, capture_output=True)
    hold = base / "queue" / "hold"

    def expand(address: str) -> list[str] | str:
        before = set(hold.rglob("*")) if hold.exists() else set()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
                smtp.sendmail("sender@example.org", [address], b"Subject: t\r\n\r\nt\r\n")
        except smtplib.SMTPException as exc:
            return str(exc)
        for _ in range(200):
            new = [p for p in hold.rglob("*") if p.is_file() and p not in before] if hold.exists() else []
            if new:
                time.sleep(0.05)
                out = subprocess.run(["postcat", *conf, "-e", "-q", new[0].name], capture_output=True, text=True).stdout
                subprocess.run(["postsuper", *conf, "-d", new[0].name], capture_output=True)
                return re.findall(r"^recipient: (.*)$", out, re.M)
            time.sleep(0.05)
        return "timeout"

    try:
        yield expand
    finally:
        subprocess.run(["postfix", *conf, "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postfix
@pytest.mark.parametrize("address", [
    "joe+foo@example.com", "jx+foo@example.com", "self+e@example.com", "self2@example.com", "list@example.com",
    "nobody+e@example.com", "bare@example.com", "otherdom+e@example.com", "twodom@example.com", "loop1@example.com",
    "grow@example.com", "sa@example.com", "order@example.com", "user+zz@example.com", "STRASSE@example.com",
    "loc+zz@local.test", "loc@mx.test.invalid", "cmt@example.com", "hash@example.com",
])
def test_resolve_agrees_with_a_real_postfix(held_postfix: Callable[[str], list[str] | str], address: str) -> None:
    real = held_postfix(address)
    mine = resolve(address, table(), **LOCAL)  # type: ignore[arg-type]
    if isinstance(real, str):
        assert "4.6.0 Alias expansion error" in real and mine.deferred
    else:
        assert [unquote_local(r) for r in mine.recipients] == real
