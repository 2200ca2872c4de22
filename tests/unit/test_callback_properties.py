"""Whatever a browser (or anything else) sends to the Configure callbacks: no 500, no traceback, and
every error names the field it is about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_backtest_framework.catalog import STRATEGIES
from components.configure_layout import LABELS
from tests.fakes import use_fake_services
from tests.support.signin import OffLoopClient

DRAFT = {"id": "configure-draft", "property": "data"}
SAVE = {"id": "configure-save", "property": "n_clicks"}
# What a message about a field starts with or says: the spec's keys, the names the form shows, the
# strategies' parameters.
FIELD_WORDS = (
    *LABELS,
    *LABELS.values(),
    *{param.name for spec in STRATEGIES.values() for param in spec.params},
)
HEADERS = {"Origin": "http://127.0.0.1", "Host": "127.0.0.1"}

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.,:-eE+ x", max_size=60),
    st.builds(lambda n, tail: "1" * n + tail, st.integers(0, 20_000), st.sampled_from(["", "x", ":", ","])),
    st.sampled_from(["../../etc/passwd", "/abs/x", "a" * 5000, "7:91:5", "2021-02-30", "-1", "1e400", ""]),
)
anything = st.one_of(texts, st.none(), st.integers(), st.floats(allow_nan=True), st.lists(texts, max_size=3))
strategy_names = st.one_of(st.sampled_from(sorted(STRATEGIES)), texts)
drafts = st.one_of(
    st.fixed_dictionaries(
        {
            "strategy": strategy_names,
            "params": st.dictionaries(
                strategy_names, st.dictionaries(texts, anything, max_size=4), max_size=2
            ),
            "universe": anything,
            "factors": anything,
            "start_date": anything,
            "end_date": anything,
            "initial_capital": anything,
            "points_per_task": anything,
            "name": anything,
            "owner": anything,
            "description": anything,
        }
    ),
    anything,
)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory):
    """The app's callback endpoint over fake services, and the Configure callbacks fed by the draft."""
    use_fake_services(Path(tmp_path_factory.mktemp("props")))
    from tests.fakes import _app

    client = OffLoopClient(_app[0].server)  # whole-suite runs keep Playwright's loop in this thread
    dependencies = client.get("/_dash-dependencies").get_json()
    fed = [d for d in dependencies if DRAFT in d["inputs"] + d["state"] and not d.get("clientside_function")]
    assert len(fed) >= 2, "the validation and save callbacks read the draft"
    return client, fed


def payload(dependency: dict[str, Any], draft: Any) -> dict[str, Any]:
    """The JSON a browser posts for `dependency`, with `draft` as the draft store's value."""

    def value_of(item: dict[str, Any]) -> Any:
        if item == DRAFT:
            return draft
        return 1 if item == SAVE else None

    return {
        "output": dependency["output"],
        "outputs": _outputs(dependency["output"]),
        "inputs": [{**item, "value": value_of(item)} for item in dependency["inputs"]],
        "state": [{**item, "value": value_of(item)} for item in dependency["state"]],
        "changedPropIds": [f"{item['id']}.{item['property']}" for item in dependency["inputs"]],
    }


def _outputs(output: str) -> Any:
    """The `outputs` field for an output string: one output, or a list for a multi-output callback;
    wildcard outputs match no component here (an empty list)."""

    def one(part: str) -> Any:
        component, prop = part.rsplit(".", 1)
        if component.startswith("{"):
            return []  # a pattern-matching output (ALL): no parameter rows in this request
        return {"id": component, "property": prop.split("@")[0]}

    if not output.startswith(".."):
        return one(output)
    return [one(part) for part in output.strip(".").split("...")]


def alerts(response: dict[str, Any]) -> list[str]:
    """The texts of the alerts in a callback's response."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Alert":
                found.append(json.dumps(node.get("props", {}).get("children"), ensure_ascii=False))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(response)
    return found


def unexplained_fields(response: dict[str, Any]) -> list[str]:
    """Fields marked invalid whose feedback (the message under the field) is empty."""
    return [
        component
        for component, props in response.items()
        if props.get("invalid") is True and not response.get(f"{component}-feedback", {}).get("children")
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draft=drafts)
def test_any_draft_gives_no_500_no_traceback_and_errors_name_their_field(endpoint, draft) -> None:
    client, fed = endpoint
    for dependency in fed:
        response = client.post("/_dash-update-component", json=payload(dependency, draft), headers=HEADERS)
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 204), (response.status_code, body[:300])
        assert "Traceback" not in body and 'File "' not in body
        answer = json.loads(body)["response"] if body else {}
        for message in alerts(answer):
            assert any(word in message for word in FIELD_WORDS), message[:300]
        assert unexplained_fields(answer) == []


def test_a_wrong_draft_is_explained_field_by_field(endpoint) -> None:
    """The property above is not vacuous: a draft wrong in three fields gets three messages."""
    client, fed = endpoint
    draft = {"name": "../x", "universe": "", "initial_capital": "-5"}
    answers = [
        client.post("/_dash-update-component", json=payload(d, draft), headers=HEADERS).get_json()["response"]
        for d in fed
    ]
    invalid = {c for answer in answers for c, props in answer.items() if props.get("invalid") is True}
    assert {"configure-name", "configure-universe", "configure-initial-capital"} <= invalid
    assert all(unexplained_fields(answer) == [] for answer in answers)
    saved = [text for answer in answers for text in alerts(answer)]
    assert any("name:" in text and "universe:" in text and "initial_capital:" in text for text in saved)


def test_the_output_parser_reads_every_callback_of_the_draft(endpoint) -> None:
    _client, fed = endpoint
    for dependency in fed:
        outputs = _outputs(dependency["output"])
        assert isinstance(outputs, dict) or (outputs and all(isinstance(o, dict | list) for o in outputs))
