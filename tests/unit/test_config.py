"""Settings: the generated secret key is read from disk once per process, not on every use."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config import Settings


def test_the_secret_key_is_generated_once_then_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOLO_SECRET_KEY", raising=False)
    settings = Settings(solo_data_dir=tmp_path)
    key = settings.secret_key()
    assert (tmp_path / "secret_key").read_text() == key and len(key) > 40
    reads: list[Path] = []
    real_read = Path.read_text

    def counting_read(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return real_read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counting_read)
    assert all(settings.secret_key() == key for _ in range(100))
    assert reads == []  # cached: no disk access per call
    assert Settings(solo_data_dir=tmp_path).secret_key() == key  # a new process reads the same key
    assert len(reads) == 1
