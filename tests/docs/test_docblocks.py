"""The doc parser: what runs, what is output, and that leaving a block out needs a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.docblocks import MarkerError, output_pattern, parse_blocks, unfenced_commands


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_unmarked_blocks_run_and_a_marker_covers_only_the_next_block(tmp_path: Path) -> None:
    doc = _doc(tmp_path, '<!-- docs-test: skip reason="needs a cluster" -->\n```sh\nkubectl x\n```\n'
                         "\n```sh\necho hi\n```\n```yaml\na: 1\n```\n")
    first, second, third = parse_blocks(doc)
    assert (first.runs, first.skip_reason) == (False, "needs a cluster")
    assert second.runs and second.where == "doc.md:7"
    assert not third.runs  # yaml is an illustration


@pytest.mark.parametrize("marker", ["<!-- docs-test: skip -->", "<!-- docs-test: ignore -->"])
def test_a_marker_without_a_reason_is_refused(tmp_path: Path, marker: str) -> None:
    with pytest.raises(MarkerError, match="doc.md:1"):
        parse_blocks(_doc(tmp_path, f"{marker}\n```sh\necho\n```\n"))


def test_commands_continuations_and_shown_output(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "```sh\ncurl -X POST \\\n     -d x   # inline comment\n# {\"a\": 1}\n"
                         "    # indented: a comment\nnext\n```\n")
    (block,) = parse_blocks(doc)
    first, second = block.commands
    assert (first.line, first.shown_output) == (2, ('{"a": 1}',))
    assert first.text.endswith("-d x   # inline comment")
    assert (second.line, second.shown_output) == (6, ())


def test_output_pattern_wildcards() -> None:
    pattern = output_pattern(('{"jobId": "<id>", "mean": 0.41, ...}',))
    assert pattern.search('{"jobId":"ab-12","mean":0.3713,"x":1}')
    assert not output_pattern(("HTTP/1.1 201 Created",)).search("HTTP/1.1403Forbidden")


def test_indented_commands_are_found(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "text\n\n    packager build x\n    my-service/\n\n```sh\ncurl y\n```\n")
    assert unfenced_commands(doc) == [(3, "packager build x")]
