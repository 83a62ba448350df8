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


def test_a_quoted_argument_may_span_lines(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "```sh\ncurl -d '{\"a\": 1,\n       \"b\": 2}' -o x   # it's fine\nls\n```\n")
    (block,) = parse_blocks(doc)
    assert [c.line for c in block.commands] == [2, 4]
    assert block.commands[0].text.endswith("-o x   # it's fine")


def test_output_pattern_wildcards() -> None:
    pattern = output_pattern(('{"jobId": "<id>", "mean": 0.41, ...}',))
    assert pattern.search('{"jobId":"ab-12","mean":0.3713,"x":1}')
    assert not output_pattern(("HTTP/1.1 201 Created",)).search("HTTP/1.1403Forbidden")


def test_indented_commands_are_found(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "text\n\n    packager build x\n    my-service/\n\n```sh\ncurl y\n```\n")
    assert unfenced_commands(doc) == [(3, "packager build x")]


def test_a_failing_command_is_named_by_file_line_and_text(tmp_path: Path) -> None:
    """What CI shows when a doc (a new one too) breaks: where, which command, its output."""
    from tests.docs.test_docs_run import DocSession

    doc = _doc(tmp_path, "# Title\n\n```sh\necho fine\nls /no/such/folder\n```\n")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    session = DocSession(sandbox)
    (block,) = parse_blocks(doc)
    session.run(block, block.commands[0], block.commands[0].text)
    with pytest.raises(pytest.fail.Exception) as failed:
        session.run(block, block.commands[1], block.commands[1].text)
    message = str(failed.value)
    assert "doc.md:5: `ls /no/such/folder` exited 2" in message
    assert "No such file or directory" in message


def test_a_shown_output_that_differs_fails(tmp_path: Path) -> None:
    from tests.docs.test_docs_run import DocSession

    doc = _doc(tmp_path, "```sh\necho '{\"status\": \"OK\"}'\n# {\"status\": \"FAILED\"}\n```\n")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (block,) = parse_blocks(doc)
    with pytest.raises(pytest.fail.Exception, match="printed something else"):
        DocSession(sandbox).run(block, block.commands[0], block.commands[0].text)


def test_variables_and_folder_carry_to_the_next_command(tmp_path: Path) -> None:
    from tests.docs.test_docs_run import DocSession

    doc = _doc(tmp_path, "```sh\nmkdir sub && cd sub\nNAME=value\necho \"$NAME $(basename $PWD)\"\n"
                         "# value sub\n```\n")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    session = DocSession(sandbox)
    (block,) = parse_blocks(doc)
    for command in block.commands:
        output = session.run(block, command, command.text)
    assert output.strip() == "value sub"
