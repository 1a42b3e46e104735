"""A real S3 server on loopback: moto's `ThreadedMotoServer` speaking the S3 REST API (SigV4, multipart,
presigned URLs, ACLs), driven by the real boto3 client.

    from tests.fakes.s3_server import FakeS3Server

    with FakeS3Server() as s3:
        storage = S3Storage(bucket=s3.bucket, endpoint_url=s3.endpoint_url, **s3.credentials)

By default the server runs in a child process (`python -m tests.fakes.s3_server`): what the server holds in
memory (moto keeps objects and joins multipart uploads in RAM) then does not count in the test process, so
memory measurements there see the client only, and moto's global state stays out of the tests.
`FakeS3Server(in_process=True)` runs it in a thread of this process instead.

In pytest: the session fixture `s3_server` (register this module with `pytest_plugins = ["tests.fakes.s3_server"]`
or import the fixture) starts one server for the session and creates the bucket. From a shell:
`python -m tests.fakes.s3_server --port 9000`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict

import pytest

from services.config import PROJECT_ROOT

if TYPE_CHECKING:
    from services.files.storage import S3Storage

ACCESS_KEY_ID = "solo-test-access-key"  # moto takes any key
SECRET_ACCESS_KEY = "fake-s3-secret-access-key-do-not-leak"
REGION = "us-east-1"
_READY = "FAKE-S3-READY"


class S3Credentials(TypedDict):
    access_key_id: str
    secret_access_key: str
    region: str


@dataclass
class FakeS3Server:
    """A moto S3 server on 127.0.0.1 (a free port unless `port` is given) with one bucket created."""

    bucket: str = field(default_factory=lambda: f"solo-test-{uuid.uuid4().hex[:12]}")
    port: int = 0
    in_process: bool = False
    endpoint_url: str = ""
    _process: subprocess.Popen[str] | None = None
    _thread_server: Any = None

    @property
    def credentials(self) -> S3Credentials:
        """Keyword arguments for S3Storage: access key, secret, region."""
        return {"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY, "region": REGION}

    def storage(self, *, prefix: str = "", bucket: str | None = None) -> S3Storage:
        """Our S3 back end pointed at this server (this bucket unless another is named)."""
        from services.files.storage import S3Storage

        return S3Storage(
            bucket=self.bucket if bucket is None else bucket,
            endpoint_url=self.endpoint_url,
            prefix=prefix,
            **self.credentials,
        )

    @property
    def env(self) -> dict[str, str]:
        """The settings (environment variables) that point the app at this server."""
        return {
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def client(self) -> Any:
        """A plain boto3 client of this server (for setting up and inspecting from tests)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def start(self) -> FakeS3Server:
        if self.in_process:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            server.start()
            self._thread_server = server
            host, port = server.get_host_and_port()
        else:
            port = self._start_child()
            host = "127.0.0.1"
        self.endpoint_url = f"http://{host}:{port}"
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def _start_child(self) -> int:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.s3_server", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._process = process
        tail: deque[str] = deque(maxlen=50)
        ready = threading.Event()
        found: list[int] = []

        def drain() -> None:  # read everything the child prints, for ever: a full pipe would block it
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line)
                if line.startswith(_READY) and not found:
                    found.append(int(line.split()[1]))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True, name="fake-s3-output").start()
        ready.wait(timeout=60)
        if not found:
            self.stop()
            raise RuntimeError(f"the fake S3 server did not start: {''.join(tail)[-2000:]}")
        return found[0]

    def stop(self) -> None:
        if self._thread_server is not None:
            self._thread_server.stop()
            self._thread_server = None
        if self._process is not None:
            process, self._process = self._process, None
            if process.stdin is not None:
                process.stdin.close()  # the child stops at end of input
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def __enter__(self) -> FakeS3Server:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[FakeS3Server]:
    """One fake S3 server for the test session, with a bucket (`.bucket`), `.endpoint_url`, `.credentials`."""
    with FakeS3Server() as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake S3 server (moto) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"{_READY} {port} http://127.0.0.1:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if sys.stdin.isatty():
            while True:
                time.sleep(3600)
        else:
            sys.stdin.read()  # a parent holds our stdin: stop when it closes it (or dies)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
