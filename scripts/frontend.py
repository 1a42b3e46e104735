"""Build the frontend once, serve it many times.

`reflex run --env prod` compiles every page and runs the Vite build on every start. The built frontend only
depends on the app's sources, the locked packages, the Reflex version and a few settings that are compiled
into it (the API URL names the port), so this script fingerprints those, rebuilds only when the fingerprint
changed, and otherwise starts the backend alone, serving the already-built files on the same one port.

    python scripts/frontend.py check          # exit 0: the build is current; 1: it needs a build (says why)
    python scripts/frontend.py build          # build now (always)
    python scripts/frontend.py serve --host 127.0.0.1 --port 3000   # set up, build if needed, serve

What a build was made from (each input with a hash of its content) is stored in `<web dir>/solo-build.stamp`
only after the build succeeded, and removed before a build starts, so an interrupted build is never mistaken for
a good one; `check` and `serve` name the inputs that changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Everything the compiled frontend is made from. Pages import state, state imports services (defaults such as
# titles and limits end up in the compiled state), so every Python package of the app counts.
SOURCE_DIRS = ("app", "components", "state", "services", "models", "assets")
SOURCE_FILES = ("rxconfig.py", "reflex.lock/package.json", "reflex.lock/bun.lock", "uv.lock", ".env")
# Settings read by rxconfig.py that change the built files (the API URL carries host and port).
ENV_NAMES = ("PORT", "SOLO_API_URL", "SOLO_PUBLIC_URL")
# Any Reflex or Vite setting can change the build (`REFLEX_<FIELD>` overrides rx.Config), except these,
# which only say where tools live or silence network checks.
ENV_PREFIXES = ("REFLEX_", "VITE_")
ENV_IGNORED = frozenset(
    {
        "REFLEX_DIR",
        "REFLEX_BUN_PATH",
        "REFLEX_TELEMETRY_ENABLED",
        "REFLEX_CHECK_LATEST_VERSION",
        "REFLEX_WEB_WORKDIR",
        "REFLEX_BACKEND_HOST",
        "REFLEX_LOGLEVEL",
    }
)
SKIPPED_PARTS = frozenset({"__pycache__", "node_modules", "external"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
STAMP = "solo-build.stamp"
DEFAULT_PORT = "3000"


def _source_files(root: Path) -> Iterable[Path]:
    for name in SOURCE_FILES:
        path = root / name
        if path.is_file():
            yield path
    for name in SOURCE_DIRS:
        base = root / name
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(root)
            if any(part in SKIPPED_PARTS or part.startswith(".") for part in rel.parts):
                continue
            if path.is_file() and not path.name.endswith(SKIPPED_SUFFIXES):
                yield path


def reflex_version() -> str:
    """The installed Reflex packages, read from their metadata (importing Reflex costs seconds)."""
    from importlib import metadata

    found = []
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("reflex"):
            found.append(f"{name}=={dist.version}")
    return ",".join(sorted(found))


def compiled_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings that are compiled into the frontend, with rxconfig.py's default port filled in."""
    env = {name: environ.get(name, "") for name in ENV_NAMES}
    env["PORT"] = env["PORT"] or DEFAULT_PORT
    for name, value in environ.items():
        if name.startswith(ENV_PREFIXES) and name not in ENV_IGNORED:
            env[name] = value
    return dict(sorted(env.items()))


def build_inputs(root: Path, environ: Mapping[str, str], version: str) -> dict[str, str]:
    """Every input of the frontend build, each with a hash of its content: files, settings, Reflex version.
    (Settings are stored hashed: the stamp tells which one changed without holding its value.)"""
    inputs = {"reflex": version}
    for name, value in compiled_env(environ).items():
        inputs[f"env {name}"] = hashlib.sha256(value.encode()).hexdigest()[:16]
    for path in _source_files(root):
        inputs[f"file {path.relative_to(root).as_posix()}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return inputs


def fingerprint(root: Path, environ: Mapping[str, str], version: str) -> str:
    """One hash over all the build's inputs (names and contents)."""
    return _digest(build_inputs(root, environ, version))


def _digest(inputs: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def write_stamp(web: Path, inputs: Mapping[str, str]) -> None:
    web.mkdir(parents=True, exist_ok=True)
    stamp = {"fingerprint": _digest(inputs), "inputs": dict(inputs)}
    (web / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")


def _changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def web_dir(root: Path, environ: Mapping[str, str]) -> Path:
    path = Path(environ.get("REFLEX_WEB_WORKDIR", ".web"))
    return path if path.is_absolute() else root / path


def needs_build(root: Path, environ: Mapping[str, str], version: str) -> str | None:
    """Why the frontend must be built, or None when the last build is current."""
    web = web_dir(root, environ)
    stamp = web / STAMP
    if not stamp.is_file():
        return "no finished build yet"
    if not (web / "build" / "client" / "index.html").is_file():
        return "the built files are missing"
    try:
        recorded = json.loads(stamp.read_text())
        old_inputs = dict(recorded["inputs"])
    except (ValueError, KeyError, TypeError):
        return "the stamp of the last build is unreadable"
    changed = _changed(old_inputs, build_inputs(root, environ, version))
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return f"changed since the last build: {', '.join(changed[:3])}{more}"
    return None


def build(root: Path, environ: Mapping[str, str], version: str) -> None:
    """Compile the pages and run the production build, then record what it was built from."""
    web = web_dir(root, environ)
    stamp = web / STAMP
    stamp.unlink(missing_ok=True)
    wanted = build_inputs(root, environ, version)
    cmd = [
        str(Path(sys.executable).parent / "reflex"),
        "export",
        "--frontend-only",
        "--no-zip",
        "--env",
        "prod",
    ]
    result = subprocess.run(cmd, cwd=root, env=dict(environ), check=False)
    if result.returncode != 0:
        raise SystemExit(f"frontend build failed (exit {result.returncode}); the app was not started")
    write_stamp(web, wanted)


def compile_sources(root: Path) -> None:
    """Byte-compile the app's own modules (a no-op when current). Where PYTHONDONTWRITEBYTECODE is set, every
    start would otherwise compile them from source again."""
    import compileall

    for name in ("app", "components", "state", "services", "models"):
        if (root / name).is_dir():
            compileall.compile_dir(root / name, quiet=2)
    compileall.compile_file(root / "rxconfig.py", quiet=2)


def serve(host: str, port: int, loglevel: str) -> None:
    """Start the production backend alone, serving the built frontend on the same port (what
    `reflex run --env prod --single-port` does after its build step)."""
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_SKIP_COMPILE.set(True)

    from reflex.utils import exec as reflex_exec

    reflex_exec.run_backend_prod(host, port, constants.LogLevel(loglevel), True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the project directory (default: this one)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="exit 0 when the built frontend is current, 1 when it needs a build")
    sub.add_parser("build", help="build the frontend now")
    run = sub.add_parser("serve", help="set up the database, build when needed, serve on one port")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    run.add_argument("--loglevel", default="error", choices=["debug", "info", "warning", "error", "critical"])
    run.add_argument("--no-setup", action="store_true", help="skip the database set-up")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    os.chdir(root)
    if args.command == "serve":
        # rxconfig.py reads PORT: the build and the server must see the port they serve on.
        os.environ["PORT"] = str(args.port)
    version = reflex_version()
    if args.command == "check":
        reason = needs_build(root, os.environ, version)
        print(f"build needed: {reason}" if reason else "frontend build is current")
        return 1 if reason else 0
    if args.command == "build":
        build(root, os.environ, version)
        return 0

    compile_sources(root)
    sys.path.insert(0, str(root))
    if not args.no_setup:
        from services.setup import setup

        setup()
    reason = needs_build(root, os.environ, version)
    if reason:
        print(f"Solo OS AI: building the frontend ({reason})", flush=True)
        build(root, os.environ, version)
    else:
        print("Solo OS AI: frontend unchanged since the last build, starting the server", flush=True)
    print(f"Solo OS AI: starting on http://{args.host}:{args.port}", flush=True)
    serve(args.host, args.port, args.loglevel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
