"""Every shell command and Python snippet of README.md and docs/*.md runs as written.

How a doc is run (one test per doc file, its blocks in order, in one sandbox folder):

- Which blocks: fenced blocks tagged `sh`/`bash`/`shell`/`python` (tests/docs/docblocks.py).
  A block is left out only with `<!-- docs-test: skip reason="..." -->` just before it; an
  indented line that starts like a command (`packager ...`, `curl ...`) fails the test: put it
  in a fenced block. So a block added to any doc runs in CI unless it says why it cannot.
- The sandbox (the current folder of every command): copies of examples/, dags/, workflows/,
  `.venv` (a link to the checkout's), and generated data: `data/scene.tif` (a 6-band 256 x 256
  synthetic scene, bands blue..swir2), `data/s2.tif` and `scene.tif` (the same), `tile.tif`
  (a 1-band 64 x 64 tile). PATH starts with the venv's bin; PESTO_WORKSPACE and AIRFLOW_HOME
  are in the sandbox; dags/ is on PYTHONPATH (as on Airflow's workers).
- Placeholders filled before a command runs: the absolute folder `/data` is the sandbox's data/;
  ports 8080-8089 after `127.0.0.1:`, `localhost:`, `--port ` or `"port": ` become free ports
  (one per doc and number); `<id>` is the last `jobId` a command printed; options in square
  brackets starting with `-` (`[--parallel 4]`) are left out.
- Shell state (variables, exports, the folder `cd` went to) carries from one command to the
  next within a doc. A command ending in `&`, or running `pesto-runtime serve` / `packager
  serve`, is started in the background until the end of the doc; the next command starts once
  its health route answers.
- A block marked `<!-- docs-test: engine -->` builds or runs images: it runs when DOCKER_HOST
  is set (`make test`), with PESTO_BASE_IMAGE set to the engine's local base
  (localhost/pybase:bookworm, built by `make engine`: no registry is reachable here); without
  an engine those blocks do not run and the doc's test then skips, which the suite's skip
  policy refuses. Images the doc built (`my-service:*`) are removed at its end.
- Every command must exit 0 (use `curl --fail` where a doc means success). `# ...` lines right
  after a command are the output it shows, checked by `docblocks.output_pattern`.
A failure names the doc file, the line and the command, with the tail of its output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port, wait_until
from tests.docs.docblocks import (
    PYTHON_TAGS,
    SHELL_TAGS,
    Block,
    Command,
    output_pattern,
    parse_blocks,
    unfenced_commands,
)

LOCAL_BASE = "localhost/pybase:bookworm"
#: Image names the docs build: removed after each doc (a build leaves ~0.5 GB).
DOC_IMAGES = ("my-service",)
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND_TIMEOUT = 300
_PORT = re.compile(r'(?:(?<=127\.0\.0\.1:)|(?<=localhost:)|(?<=--port )|(?<="port": ))(808\d)\b')
_DATA = re.compile(r"(?<![\w.~-])/data\b")
_OPTIONAL = re.compile(r"\s\[-[^\]\n]*\]")
_JOB_ID = re.compile(r'"jobId"\s*:\s*"([^"]+)"')
_SERVE = re.compile(r"(^|\s|/)(pesto-runtime|packager|pesto) serve\b")


class DocSession:
    """One doc's run: the sandbox, the shell state file, the background services."""

    def __init__(self, sandbox: Path) -> None:
        self.sandbox = sandbox
        self.state = sandbox / ".docs-test-state.sh"
        self.ports: dict[str, str] = {}
        self.job_id: str | None = None
        self.background: list[subprocess.Popen] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PESTO_", "AIRFLOW"))}
        env.update(PATH=f"{sandbox / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                   PESTO_WORKSPACE=str(sandbox / "workspace"), PYTHONDONTWRITEBYTECODE="1",
                   AIRFLOW_HOME=str(sandbox / "airflow"), PYTHONPATH=str(sandbox / "dags"))
        env.pop("VIRTUAL_ENV", None)
        if os.environ.get("DOCKER_HOST"):
            env["PESTO_BASE_IMAGE"] = os.environ.get("PESTO_BASE_IMAGE", LOCAL_BASE)
        self.used_engine = False
        self.env = env
        self.state.write_text("")

    def fill(self, text: str, *, shell: bool, job: bool = True) -> str:
        """The command as it runs here: placeholders replaced (see the module docstring).
        Shown outputs get the same folders and ports; their `<id>` stays a wildcard."""
        text = _DATA.sub(str(self.sandbox / "data"), text)
        text = _PORT.sub(lambda m: self.ports.setdefault(m.group(1), str(free_port())), text)
        if job and "<id>" in text:
            assert self.job_id, "the doc uses <id> before any command printed a jobId"
            text = text.replace("<id>", self.job_id)
        if shell:  # one line: a left-out option must not leave a dangling continuation
            text = _OPTIONAL.sub("", re.sub(r"\\\n\s*", " ", text)).rstrip(" \\")
        return text

    def _script(self, command: str) -> str:
        """The command in bash, with the variables and folder the doc's earlier commands left."""
        cwd = f"{self.state}.cwd"
        return (f"set -a\n. {self.state}\ncd \"$(cat {cwd} 2>/dev/null || pwd)\"\n{command}\n"
                f"__rc=$?\npwd > {cwd}\n"
                f"declare -px > {self.state}.new 2>/dev/null && mv {self.state}.new {self.state}\n"
                "exit $__rc\n")

    def run(self, block: Block, command: Command | None, text: str) -> str:
        doc = block.doc.relative_to(REPO) if block.doc.is_relative_to(REPO) else block.doc.name
        where = f"{doc}:{command.line if command else block.line}"
        shown = text if command else f"python block:\n{block.text}"
        if command and (text.rstrip().endswith("&") or _SERVE.search(text)):
            self._start_background(text.rstrip().removesuffix("&"), where)
            return ""
        try:
            result = subprocess.run(["bash", "-c", self._script(text)], cwd=self.sandbox,
                                    env=self.env, capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{where}: `{shown}` ran over {COMMAND_TIMEOUT} s", pytrace=False)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            pytest.fail(f"{where}: `{shown}` exited {result.returncode}; its output ends:\n"
                        + "\n".join(output.splitlines()[-40:]), pytrace=False)
        if command and command.shown_output:
            pattern = output_pattern(tuple(self.fill(line, shell=False, job=False)
                                           for line in command.shown_output))
            if not pattern.search("".join(output.split())):
                pytest.fail(f"{where}: `{shown}` printed something else than the doc shows\n"
                            f"doc:    {' '.join(command.shown_output)}\nprinted: "
                            + "\n".join(output.splitlines()[-20:]), pytrace=False)
        found = _JOB_ID.findall(output)
        if found:
            self.job_id = found[-1]
        return output

    def _start_background(self, text: str, where: str) -> None:
        log = self.sandbox / f".docs-test-bg-{len(self.background)}.log"
        process = subprocess.Popen(["bash", "-c", self._script(text)],
                                   cwd=self.sandbox, env=self.env, stdin=subprocess.DEVNULL,
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.background.append(process)
        port = re.search(r"--port\s+(\d+)", text)
        url = f"http://127.0.0.1:{port.group(1) if port else self.ports.setdefault('8080', str(free_port()))}"

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"{where}: `{text}` exited {process.returncode}:\n"
                            + log.read_text(errors="replace")[-3000:], pytrace=False)
            try:
                return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=120, what=f"{where}: `{text}` to answer on {url}")

    def remove_images(self) -> None:
        """The images this doc built."""
        from pesto_factory.packager.engine import connect

        client = connect()
        for image in client.images.list():
            if any(tag.split(":")[0].endswith(DOC_IMAGES) for tag in image.tags):
                client.images.remove(image.id, force=True)

    def close(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.background:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def make_sandbox(root: Path) -> Path:
    """The folder a doc's commands run in, with the files the docs name (module docstring)."""
    from examples.scenes import write_cog, write_synthetic_scene

    for name in ("examples", "dags", "workflows"):
        shutil.copytree(REPO / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", ".pesto-state"))
    (root / ".venv").symlink_to(REPO / ".venv")
    data = root / "data"
    data.mkdir()
    write_synthetic_scene(data / "scene.tif", height=256, width=256, seed=3)
    shutil.copy(data / "scene.tif", data / "s2.tif")
    shutil.copy(data / "scene.tif", root / "scene.tif")
    import numpy as np

    tile = np.random.default_rng(0).integers(0, 1000, size=(1, 64, 64)).astype("uint16")
    write_cog(root / "tile.tif", tile)
    return root


def test_every_runnable_block_is_fenced() -> None:
    """Commands in indented blocks would never run: they must be fenced (and so tested)."""
    found = [f"{doc.relative_to(REPO)}:{line}: {text}"
             for doc in DOCS for line, text in unfenced_commands(doc)]
    assert not found, ("commands outside a fenced ```sh block (they would not be tested):\n"
                       + "\n".join(found))


def _doc_params() -> list:
    """One test per doc; those with engine blocks also carry the `engine` mark."""
    return [pytest.param(doc, id=doc.name, marks=[pytest.mark.engine] if any(
        block.needs_engine for block in parse_blocks(doc)) else []) for doc in DOCS]


@pytest.mark.slow
@pytest.mark.parametrize("doc", _doc_params())
def test_doc_runs_as_written(doc: Path, tmp_path: Path) -> None:
    blocks = [block for block in parse_blocks(doc) if block.runs]
    if not blocks:
        return
    engine = bool(os.environ.get("DOCKER_HOST"))
    not_run = [block.where for block in blocks if block.needs_engine and not engine]
    session = DocSession(make_sandbox(tmp_path))
    try:
        for number, block in enumerate(blocks):
            if block.needs_engine and not engine:
                continue
            session.used_engine |= block.needs_engine
            if block.lang in SHELL_TAGS:
                for command in block.commands:
                    session.run(block, command, session.fill(command.text, shell=True))
            elif block.lang in PYTHON_TAGS:
                script = tmp_path / f".docs-test-block-{number}.py"
                script.write_text(session.fill(block.text, shell=False))
                session.run(block, None, f"python {script.name}")
    finally:
        session.close()
        if session.used_engine:
            session.remove_images()
    if not_run:
        pytest.skip(f"needs the container engine (DOCKER_HOST unset; make test sets it): "
                    f"{', '.join(not_run)} not run")


def test_skip_markers_give_reasons() -> None:
    """parse_blocks raises MarkerError on a marker without a reason: every doc parses."""
    reasons = {block.where: block.skip_reason for doc in DOCS for block in parse_blocks(doc)
               if block.skip_reason}
    print(json.dumps(reasons, indent=1))
