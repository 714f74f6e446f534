"""GET /api/v1/search and POST /api/v1/offboard: the web's functions, within the token's scope."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aliasdesk.aliases.models import Alias
from tests.across.conftest import BOB
from tests.api.conftest import Api

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("forwarders"),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),
]
NEW = "carol@example.org"


def found(client: Api, q: str = BOB, **params: object) -> list[tuple[str, str]]:
    answer = client.get("search", q=q, **params)
    assert answer.status_code == 200, answer.content
    return [(hit["domain"], hit["key"]) for hit in answer.json()["results"]]


@pytest.mark.parametrize(
    ("asker", "options", "domains"),
    [
        ("alice", {}, {"example.com", "other.org"}),
        ("alice", {"domains": ["other.org"]}, {"other.org"}),
        ("carol", {}, {"example.com", "other.org"}),
        ("bob", {}, {"example.com"}),
        ("bob", {"read_only": True}, {"example.com"}),
        ("dave", {}, {"example.com"}),
        ("erin", {}, set()),
    ],
)
def test_search_answers_from_the_domains_the_token_sees(
    asker: str, options: dict[str, object], domains: set[str], api_as: Callable[..., Api]
) -> None:
    assert {d for d, _ in found(api_as(asker, **options))} == domains


def test_search_gives_each_hit_with_its_domain_and_pages(api_as: Callable[..., Api]) -> None:
    client = api_as("alice")
    answer = client.get("search", q="example.org").json()
    assert answer["count"] == len(answer["results"]) and not answer["capped"] and answer["pages"] == 1
    team = next(h for h in answer["results"] if h["key"] == "team@example.com")
    assert team == {
        "id": Alias.objects.get(key="team@example.com").pk, "domain": "example.com", "key": "team@example.com",
        "destinations": ["Bob@Example.org", "carla@example.org"], "enabled": True, "comment": "the team",
        "version": 1,
    }
    assert client.get("search", q="example.org", page=5).json()["results"] == []
    assert client.get("search").status_code == 422


def test_offboard_dry_run_then_apply(api_as: Callable[..., Api]) -> None:
    client = api_as("bob")
    preview = client.post("offboard", {"old": BOB, "new": NEW, "dry_run": True})
    assert preview.status_code == 200
    plan = preview.json()
    assert not plan["applied"] and len(plan["changed"]) == 2 and [s["key"] for s in plan["skipped"]] == ["root"]
    assert Alias.objects.get(key="solo@example.com").destinations == BOB
    done = client.post("offboard", {"old": BOB, "new": NEW}).json()
    assert done["applied"] and done["domains"] == ["example.com"]
    assert done["deploys"] == [{"domain": "example.com", "deploy_on_save": False, "url": "/domains/example.com/deploy"}]
    solo = Alias.objects.get(key="solo@example.com")
    assert solo.destinations == NEW
    reason = solo.history.latest("history_id").history_change_reason  # type: ignore[attr-defined]
    assert reason == f"{done['reason']} · via API"


def test_offboard_refuses_emptied_aliases_with_409_and_the_plan(api_as: Callable[..., Api]) -> None:
    answer = api_as("alice").post("offboard", {"old": BOB})
    assert answer.status_code == 409
    body = answer.json()
    assert "without destinations" in body["detail"] and [r["key"] for r in body["plan"]["refused"]] == [
        "solo@example.com"
    ]
    assert Alias.objects.get(key="team@example.com").destinations.startswith("Bob@")
    switched = api_as("alice").post("offboard", {"old": BOB, "switch_off_empty": True}).json()
    assert switched["applied"] and not Alias.objects.get(key="solo@example.com").enabled


@pytest.mark.parametrize(
    ("asker", "options"),
    [("alice", {"read_only": True}), ("bob", {"read_only": True}), ("dave", {}), ("carol", {}), ("erin", {})],
)
def test_tokens_that_may_change_nothing_change_nothing(
    asker: str, options: dict[str, object], api_as: Callable[..., Api]
) -> None:
    before = list(Alias.objects.order_by("pk").values_list("destinations", "enabled", "version"))
    answer = api_as(asker, **options).post("offboard", {"old": BOB, "new": NEW})
    assert answer.status_code == 200, answer.content
    assert answer.json()["changed"] == []
    assert list(Alias.objects.order_by("pk").values_list("destinations", "enabled", "version")) == before


def test_a_token_limited_to_one_domain_changes_only_that_one(api_as: Callable[..., Api]) -> None:
    done = api_as("alice", domains=["other.org"]).post("offboard", {"old": BOB, "new": NEW}).json()
    assert done["domains"] == ["other.org"]
    assert Alias.objects.get(key="solo@example.com").destinations == BOB


def test_bad_input_is_422(api_as: Callable[..., Api]) -> None:
    assert api_as("alice").post("offboard", {"old": "a@x.org b@x.org"}).status_code == 422
    assert api_as("alice").post("offboard", {"new": NEW}).status_code == 422
    assert api_as("alice").post("offboard", {"old": BOB, "new": ""}).status_code == 422  # never a removal
