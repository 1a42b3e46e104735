"""Build-once logic of `scripts/frontend.py`: the fingerprint of the frontend's inputs, and the decision to
rebuild or to start the backend alone (run as the real command in a subprocess over a temporary tree)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import frontend

ROOT = Path(__file__).resolve().parents[2]
VERSION = "reflex==0.10.1"
ENV = {"PORT": "3000", "PATH": os.environ.get("PATH", "")}


def make_tree(root: Path) -> Path:
    (root / "app" / "pages").mkdir(parents=True)
    (root / "app" / "pages" / "chat.py").write_text("def page():\n    return 'chat'\n")
    (root / "components").mkdir()
    (root / "components" / "shell.py").write_text("SHELL = 1\n")
    (root / "state").mkdir()
    (root / "state" / "chat.py").write_text("class ChatState: ...\n")
    (root / "services").mkdir()
    (root / "services" / "common.py").write_text("DEFAULT_TITLE = 'New chat'\n")
    (root / "assets").mkdir()
    (root / "assets" / "solo.css").write_text("body { margin: 0 }\n")
    (root / "reflex.lock").mkdir()
    (root / "reflex.lock" / "package.json").write_text("{}\n")
    (root / "rxconfig.py").write_text("PORT = 3000\n")
    return root


def fp(root: Path, env: dict[str, str] | None = None, version: str = VERSION) -> str:
    return frontend.fingerprint(root, ENV if env is None else env, version)


@pytest.mark.parametrize(
    "path",
    [
        "app/pages/chat.py",
        "components/shell.py",
        "state/chat.py",
        "services/common.py",
        "assets/solo.css",
        "rxconfig.py",
        "reflex.lock/package.json",
    ],
)
def test_any_source_edit_changes_the_fingerprint(tmp_path: Path, path: str) -> None:
    root = make_tree(tmp_path)
    before = fp(root)
    target = root / path
    target.write_text(target.read_text() + "# edited\n")
    assert fp(root) != before


def test_new_removed_and_renamed_pages_change_the_fingerprint(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = fp(root)
    page = root / "app" / "pages" / "members.py"
    page.write_text("def page(): ...\n")
    added = fp(root)
    assert added != before
    page.rename(root / "app" / "pages" / "people.py")
    assert fp(root) not in {before, added}
    (root / "app" / "pages" / "people.py").unlink()
    assert fp(root) == before


def test_bytecode_caches_and_timestamps_do_not_change_the_fingerprint(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = fp(root)
    cache = root / "app" / "pages" / "__pycache__"
    cache.mkdir()
    (cache / "chat.cpython-311.pyc").write_bytes(b"\0\1\2")
    (root / "state" / "chat.pyc").write_bytes(b"\0")
    os.utime(root / "app" / "pages" / "chat.py", (1, 1))
    assert fp(root) == before


def test_settings_compiled_into_the_frontend_change_the_fingerprint(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = fp(root)
    assert fp(root, {**ENV, "PORT": "8080"}) != before
    assert fp(root, {**ENV, "SOLO_API_URL": "https://solo.example"}) != before
    assert fp(root, {**ENV, "SOLO_PUBLIC_URL": "https://solo.example"}) != before
    assert fp(root, {**ENV, "REFLEX_FRONTEND_PATH": "/app"}) != before
    assert fp(root, version="reflex==0.10.2") != before
    # rxconfig.py's default port is the same build as naming it.
    assert fp(root, {"PATH": ENV["PATH"]}) == before


def test_other_settings_do_not_change_the_fingerprint(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    before = fp(root)
    noise = {"OPENAI_API_KEY": "sk-x", "HOST": "0.0.0.0", "REFLEX_DIR": "/elsewhere", "DATABASE_URL": "x"}
    assert fp(root, {**ENV, **noise}) == before


def test_the_real_project_fingerprints_every_page_and_the_lock() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in frontend._source_files(ROOT)}
    pages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "app" / "pages").glob("*.py")}
    assert pages and pages <= files
    assert {"rxconfig.py", "reflex.lock/package.json", "reflex.lock/bun.lock", "uv.lock"} <= files
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "assets").glob("*.*")} <= files
    assert "reflex==" in frontend.reflex_version()


def check(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "frontend.py"
    return subprocess.run(
        [sys.executable, str(script), "--root", str(root), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def finish_build(root: Path, env: dict[str, str]) -> None:
    """What a successful build leaves behind: the built files and the stamp of what they were built from."""
    client = root / ".web" / "build" / "client"
    client.mkdir(parents=True, exist_ok=True)
    (client / "index.html").write_text("<html></html>")
    frontend.write_stamp(root / ".web", frontend.build_inputs(root, env, frontend.reflex_version()))


def test_check_decides_rebuild_or_skip(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    env = dict(ENV)

    first = check(root, env)
    assert first.returncode == 1, first.stderr
    assert "no finished build" in first.stdout

    finish_build(root, env)
    fresh = check(root, env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "current" in fresh.stdout

    # Same sources, another port: the API URL in the build names the port, so it must be rebuilt.
    other_port = check(root, {**env, "PORT": "8080"})
    assert other_port.returncode == 1
    assert "env PORT" in other_port.stdout
    assert "8080" not in other_port.stdout

    page = root / "app" / "pages" / "chat.py"
    page.write_text(page.read_text().replace("'chat'", "'Chat'"))
    edited = check(root, env)
    assert edited.returncode == 1
    assert "file app/pages/chat.py" in edited.stdout

    finish_build(root, env)
    assert check(root, env).returncode == 0
    (root / ".web" / "build" / "client" / "index.html").unlink()
    missing = check(root, env)
    assert missing.returncode == 1
    assert "missing" in missing.stdout

    finish_build(root, env)
    (root / ".web" / frontend.STAMP).write_text("not json")
    assert check(root, env).returncode == 1


def test_a_failed_build_leaves_no_stamp(tmp_path: Path) -> None:
    """A build that fails must not leave the previous stamp behind (the next start must try again)."""
    root = make_tree(tmp_path)
    (root / "rxconfig.py").write_text("raise RuntimeError('broken config')\n")
    env = {**ENV, **{k: v for k, v in os.environ.items() if k.startswith(("REFLEX_", "BUN_"))}}
    finish_build(root, env)
    (root / "app" / "pages" / "chat.py").write_text("# edited\n")
    script = ROOT / "scripts" / "frontend.py"
    result = subprocess.run(
        [sys.executable, str(script), "--root", str(root), "build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "frontend build failed" in result.stderr
    assert not (root / ".web" / frontend.STAMP).exists()
    assert check(root, env).returncode == 1
