"""The test server answers the fidelity corpus as a real Cassandra 4.0 node did (see ``replay.py``)."""

from __future__ import annotations

import pytest

from tests.fidelity.replay import CORPUS, load_recording, parse_corpus, run_on_test_server

pytestmark = pytest.mark.integration


def test_corpus_parses_into_the_recorded_statements() -> None:
    statements = parse_corpus(CORPUS.read_text(encoding="utf-8"))
    recording = load_recording()
    assert [s.key for s in statements] == list(recording)
    assert all(recording[s.key]["cql"] == s.cql for s in statements)


@pytest.mark.timeout(300)
def test_every_statement_answers_as_cassandra_4_0_did() -> None:
    result = run_on_test_server()
    print(result.line())
    assert not result.differing, "\n".join(
        [result.line(), "differences from Cassandra 4.0:", result.explain(result.differing)]
    )
