"""What the API does beyond who may: tokens, stale versions, invalid input, history, the
desired set (idempotent, dry run, all or nothing), bulk creation, search as the web grid."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from aliasdesk.accounts.models import User
from aliasdesk.aliases import services
from aliasdesk.aliases.models import Alias, Domain
from aliasdesk.aliases.search import AliasPaginator, AliasQuery
from aliasdesk.api.models import ApiToken
from aliasdesk.api.tokens import create_token, revoke_token
from tests.api.conftest import Api, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


def serial(domain: Domain) -> int:
    return Domain.objects.get(pk=domain.pk).serial


# --- tokens -------------------------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401_with_a_bearer_challenge(example: Domain, alice: User) -> None:
    for header in (None, "adk_nothing", "Basic YWxpY2U6eA==", "adk_aaaaaaaaaaaa_" + "x" * 43):
        client = Client()
        headers = {"Authorization": header if header.startswith("Basic") else f"Bearer {header}"} if header else {}
        answer = client.get("/api/v1/domains", headers=headers)
        assert answer.status_code == 401, header
        assert answer["WWW-Authenticate"].startswith("Bearer")
        assert "token" in answer.json()["detail"]


def test_revoked_and_expired_tokens_stop_at_once(example: Domain, alice: User) -> None:
    new = create_token(alice, by=None, expires_days=1)
    api = Api(new.secret)
    assert api.get("domains").status_code == 200
    ApiToken.objects.filter(pk=new.token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert api.get("domains").status_code == 401
    other = create_token(alice, by=None)
    api = Api(other.secret)
    assert api.get("domains").status_code == 200
    revoke_token(other.token, by=alice)
    answer = api.get("domains")
    assert answer.status_code == 401 and 'error="invalid_token"' in answer["WWW-Authenticate"]


def test_a_disabled_user_s_token_is_refused(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert api.get("domains").status_code == 401


def test_a_session_cookie_does_not_authenticate_and_no_csrf_is_asked(example: Domain, alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/v1/domains").status_code == 401
    body = '{"key": "cookie@example.com", "destinations": ["x@example.org"]}'
    assert client.post("/api/v1/domains/example.com/aliases", body, content_type="application/json").status_code == 401
    assert not Alias.objects.filter(key="cookie@example.com").exists()
    # a token needs no CSRF token, even with a session cookie beside it
    api = Api(token_for(alice), client)
    made = api.post("domains/example.com/aliases", {"key": "t@example.com", "destinations": ["x@example.org"]})
    assert made.status_code == 201


def test_the_documents_need_no_token(example: Domain) -> None:
    client = Client()
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    assert "bearer" in str(schema.json()["components"]["securitySchemes"]).lower()
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.content and b"cdn" not in docs.content.lower()


def test_unknown_paths_and_methods_answer_json(example: Domain, alice: User) -> None:
    api = Api(token_for(alice))
    for answer, status in [(api.get("nothing/here"), 404), (api.get("/api/v2/domains"), 404),
                           (api.delete("domains"), 405), (api.get("domains/nowhere.example"), 404),
                           (api.get("domains/example.com/aliases/999999"), 404)]:
        assert answer.status_code == status
        assert answer["Content-Type"].startswith("application/json") and answer.json()["detail"]


# --- aliases ------------------------------------------------------------------------------


def test_create_then_patch_with_version_and_a_stale_patch_is_409(example: Domain, bob: User, alice: User) -> None:
    api = Api(token_for(bob))
    created = api.post("domains/example.com/aliases",
                       {"key": "team@example.com", "destinations": ["a@example.org", "b@example.org"],
                        "comment": "TICKET-1", "enabled": False})
    assert created.status_code == 201
    alias = created.json()
    assert alias["destinations"] == ["a@example.org", "b@example.org"] and alias["enabled"] is False
    assert alias["version"] == 1 and alias["created_by"] == "bob"
    first = api.patch(f"domains/example.com/aliases/{alias['id']}", {"version": 1, "enabled": True})
    assert first.status_code == 200 and first.json()["version"] == 2 and first.json()["enabled"] is True
    # someone else changes it meanwhile, on the web
    row = Alias.objects.get(pk=alias["id"])
    services.update_alias(row, version=2, user=alice, comment="alice was here")
    stale = api.patch(f"domains/example.com/aliases/{alias['id']}", {"version": 2, "comment": "bob's"})
    assert stale.status_code == 409
    assert "alice" in stale.json()["detail"] and "version 3" in stale.json()["detail"]
    assert stale.json()["current"]["version"] == 3 and stale.json()["current"]["comment"] == "alice was here"
    assert Alias.objects.get(pk=alias["id"]).comment == "alice was here"


def test_invalid_input_is_422_with_errors_per_field(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    missing = api.post("domains/example.com/aliases", {"key": "x@example.com"})
    assert missing.status_code == 422
    assert missing.json()["errors"] == {"destinations": "Field required"} and missing.json()["detail"]
    bad = api.post("domains/example.com/aliases", {"key": "a b@example.com", "destinations": ["x@example.org"]})
    assert bad.status_code == 422 and "key" in bad.json()["errors"]
    bad = api.post("domains/example.com/aliases", {"key": "y@example.com", "destinations": ["#x"]})
    assert bad.status_code == 422 and "destinations" in bad.json()["errors"]
    taken = api.post("domains/example.com/aliases", {"key": "info@example.com", "destinations": ["x@example.org"]})
    assert taken.status_code == 422 and "exists already" in taken.json()["errors"]["key"]
    not_json = Client().post("/api/v1/domains/example.com/aliases", "{nope", content_type="application/json",
                             headers={"Authorization": f"Bearer {api.token}"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["detail"]
    foreign = api.post("domains/example.com/aliases", {"key": "info@other.org", "destinations": ["x@example.org"]})
    assert foreign.status_code == 403 and "key" in foreign.json()["errors"]
    assert not Alias.objects.filter(key__in=["x@example.com", "y@example.com", "info@other.org"],
                                    domain=example).exists()


def test_history_says_via_api_with_the_token_s_user(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    alias = api.post("domains/example.com/aliases", {"key": "h@example.com", "destinations": ["x@example.org"]}).json()
    api.post(f"domains/example.com/aliases/{alias['id']}/disable")
    api.delete(f"domains/example.com/aliases/{alias['id']}")
    api.post(f"domains/example.com/aliases/{alias['id']}/restore")
    history = api.get(f"domains/example.com/aliases/{alias['id']}/history").json()
    assert [h["type"] for h in history] == ["~", "~", "~", "+"]
    assert all(h["user"] == "bob" and "via API" in h["reason"] for h in history)
    records = Alias.history.filter(id=alias["id"])  # type: ignore[attr-defined]
    assert {r.history_user_id for r in records} == {bob.pk}
    first = history[-1]["history_id"]
    restored = api.post(f"domains/example.com/aliases/{alias['id']}/history/{first}/restore").json()
    assert restored["enabled"] is True and restored["version"] == 5


def test_the_search_is_the_web_grid_s(example: Domain, alice: User) -> None:
    for n in range(30):
        services.create_alias(example, f"user{n}@example.com", f"person{n}@example.org", comment=f"TICKET-{n % 3}")
    api = Api(token_for(alice))
    for q in ["user1", "ticket-2", "person2 user2", "", "ex"]:
        answer = api.get("domains/example.com/aliases", q=q, per_page=7, page=2).json()
        paginator = AliasPaginator(example, AliasQuery(q), 7)
        page = paginator.get_page(2)
        assert [a["id"] for a in answer["results"]] == [a.pk for a in page.object_list] if page.number == 2 else []
        assert answer["count"] == paginator.count
    beyond = api.get("domains/example.com/aliases", page=99).json()
    assert beyond["results"] == [] and beyond["count"] == 32


def test_bulk_creation_is_all_or_nothing_and_keeps_history(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    before = serial(example)
    items = [{"key": f"bulk{n}@example.com", "destinations": [f"p{n}@example.org"]} for n in range(50)]
    refused = api.post("domains/example.com/aliases/bulk-create",
                       {"aliases": [*items, {"key": "bad key@example.com", "destinations": ["x@example.org"]},
                                    {"key": "bulk1@example.com", "destinations": ["x@example.org"]}]})
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"aliases[50].key", "aliases[51].key"}
    assert serial(example) == before and not Alias.objects.filter(key__startswith="bulk").exists()
    added = api.post("domains/example.com/aliases/bulk-create", {"aliases": items})
    assert added.status_code == 201 and added.json()["added"] == 50
    rows = Alias.objects.filter(key__startswith="bulk")
    assert rows.count() == 50
    records = Alias.history.filter(id__in=rows.values("pk"))  # type: ignore[attr-defined]
    assert records.count() == 50 and {r.history_user_id for r in records} == {bob.pk}
    assert all("via API" in r.history_change_reason for r in records)
    search = api.get("domains/example.com/aliases", q="bulk4").json()  # the search index has them
    assert {a["key"] for a in search["results"]} == {"bulk4@example.com"} | {f"bulk4{n}@example.com" for n in range(10)}


def test_bulk_actions(example: Domain, bob: User, alice: User) -> None:
    ids = list(Alias.objects.filter(domain=example).values_list("pk", flat=True))
    bob_api = Api(token_for(bob))
    assert bob_api.post("domains/example.com/aliases/bulk", {"action": "delete", "ids": ids}).json()["changed"] == 2
    assert bob_api.post("domains/example.com/aliases/bulk", {"action": "purge", "ids": ids}).status_code == 403
    assert Api(token_for(alice)).post("domains/example.com/aliases/bulk",
                                      {"action": "purge", "ids": ids}).json()["changed"] == 2
    assert not Alias.objects.filter(domain=example).exists()


# --- the desired set ----------------------------------------------------------------------

DESIRED = {
    "aliases": [
        {"key": "info@example.com", "destinations": ["anna@example.org"], "comment": "OPS-1"},
        {"key": "new@example.com", "destinations": ["x@example.org", "y@example.org"], "enabled": False},
    ]
}


def test_the_desired_set_dry_run_answers_the_diff_and_writes_nothing(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    before, history = serial(example), Alias.history.count()  # type: ignore[attr-defined]
    diff = api.put("domains/example.com/aliases", DESIRED, dry_run=True).json()
    assert diff["dry_run"] is True and diff["changed"] is True
    assert [a["key"] for a in diff["add"]] == ["new@example.com"]
    assert diff["change"][0]["before"] == {"destinations": ["anna@example.org", "ben@example.org"]}
    assert diff["change"][0]["after"] == {"destinations": ["anna@example.org"]}
    assert [a["key"] for a in diff["remove"]] == ["sales@example.com"]
    assert serial(example) == before and Alias.history.count() == history  # type: ignore[attr-defined]


def test_the_desired_set_is_idempotent(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    applied = api.put("domains/example.com/aliases", DESIRED)
    assert applied.status_code == 200 and applied.json()["changed"] is True
    live = Alias.objects.filter(domain=example, deleted_at__isnull=True).order_by("key")
    assert [(a.key, a.destinations, a.enabled) for a in live] == [
        ("info@example.com", "anna@example.org", True), ("new@example.com", "x@example.org, y@example.org", False)]
    before, history = serial(example), Alias.history.count()  # type: ignore[attr-defined]
    again = api.put("domains/example.com/aliases", DESIRED).json()
    assert again["changed"] is False and again["unchanged"] == 2
    assert serial(example) == before and Alias.history.count() == history  # type: ignore[attr-defined]
    reasons = {r.history_change_reason for r in Alias.history.filter(history_user=bob)}  # type: ignore[attr-defined]
    assert reasons and all("via API" in r for r in reasons)


def test_the_desired_set_is_all_or_nothing(example: Domain, other: Domain, bob: User, alice: User) -> None:
    api = Api(token_for(bob))
    before, history = serial(example), Alias.history.count()  # type: ignore[attr-defined]
    # one key bob may not write: nothing of the rest is written either
    foreign = {"key": "x@other.org", "destinations": ["z@x.net"]}
    refused = api.put("domains/example.com/aliases", {"aliases": [*DESIRED["aliases"], foreign]})
    assert refused.status_code == 403 and "aliases[2].key" in refused.json()["errors"]
    twice = api.put("domains/example.com/aliases", {"aliases": [*DESIRED["aliases"], DESIRED["aliases"][0]]})
    assert twice.status_code == 422 and "aliases[2].key" in twice.json()["errors"]
    # a limit that the additions break, found after the removals and changes were made
    Domain.objects.filter(pk=example.pk).update(max_aliases=3)
    many = [{"key": f"m{n}@example.com", "destinations": ["m@x.net"]} for n in range(5)]
    full = api.put("domains/example.com/aliases", {"aliases": [DESIRED["aliases"][0], *many]})
    assert full.status_code == 422
    assert serial(example) == before and Alias.history.count() == history  # type: ignore[attr-defined]
    assert Alias.objects.filter(domain=example, deleted_at__isnull=True).count() == 2
    read_only = Api(token_for(alice, read_only=True))
    assert read_only.put("domains/example.com/aliases", DESIRED).status_code == 403
    assert read_only.put("domains/example.com/aliases", DESIRED, dry_run=True).status_code == 200


# --- deploys ------------------------------------------------------------------------------


def test_preview_then_deploy_then_history(example: Domain, bob: User) -> None:
    api = Api(token_for(bob))
    preview = api.get("domains/example.com/deploy").json()
    assert "info@example.com" in preview["diff"] and preview["agent_mode"] is False
    done = api.post("domains/example.com/deploy")
    assert done.status_code == 200 and done.json()["status"] == "ok"
    again = api.post("domains/example.com/deploy", {"force": False}).json()
    assert again["status"] == "noop"
    history = api.get("domains/example.com/deploys").json()
    assert history["results"][0]["user"] == "bob" and history["count"] >= 1
    detail = api.get(f"domains/example.com/deploys/{done.json()['deploy_id']}").json()
    assert "info@example.com" in detail["diff"]


def test_in_agent_mode_a_deploy_is_queued(example: Domain, bob: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEPLOY_MODE = "agent"
    answer = Api(token_for(bob)).post("domains/example.com/deploy")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    assert not (settings.MAP_DIR / "example.com").exists()


@pytest.mark.django_db(transaction=True)  # the deploy on save runs once the change has committed
def test_a_save_that_deploys_says_so_in_a_header_and_sets_no_cookie(api_as, example, settings):
    example.deploy_on_save = True
    example.save(update_fields=["deploy_on_save"])
    response = api_as("alice").post("domains/example.com/aliases", {"key": "ops@example.com",
                                                                     "destinations": ["o@example.org"]})
    assert response.status_code == 201
    assert response["Aliasdesk-Deploy"].startswith("example.com: saved and deployed")
    assert "messages" not in response.cookies


def test_the_read_only_demo_answers_the_api_in_json(api_as, settings):
    settings.DEMO_READONLY = True
    body = {"key": "x@example.com", "destinations": ["y@example.org"]}
    response = api_as("alice").post("domains/example.com/aliases", body)
    assert response.status_code == 403
    assert response.json() == {"detail": "This demo is read-only: nothing can be changed."}
