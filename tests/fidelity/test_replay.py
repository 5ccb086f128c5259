"""The test server answers the fidelity corpus as a real Cassandra 4.0 node did (see ``replay.py``)."""

from __future__ import annotations

import pytest

from tests.fidelity.replay import CORPUS, load_known, parse_corpus, run_on_test_server

pytestmark = pytest.mark.integration


def test_corpus_parses_into_the_recorded_statements() -> None:
    from tests.fidelity.replay import load_recording

    statements = parse_corpus(CORPUS.read_text(encoding="utf-8"))
    recording = load_recording()
    assert [s.key for s in statements] == list(recording)
    assert all(recording[s.key]["cql"] == s.cql for s in statements)


@pytest.mark.timeout(300)
def test_replay_matches_the_recording_except_known_differences() -> None:
    known = load_known()
    result = run_on_test_server()
    print(result.line())
    unexpected = result.unexpected(known)
    fixed = result.fixed(known)
    message = [result.line()]
    if unexpected:
        message.append(
            f"{len(unexpected)} statement(s) differ from Cassandra 4.0 and are not in known_differences.txt:"
        )
        message.append(result.explain(unexpected))
    if fixed:
        message.append(
            f"{len(fixed)} statement(s) in known_differences.txt now match; remove them "
            f"(python -m tests.fidelity.replay --write-known): {', '.join(fixed)}"
        )
    assert not unexpected, "\n".join(message)
    assert not fixed, "\n".join(message)
