"""Result cache: one JSON file per (model file, design point, hardware, compiler+simulator source).

The key hashes the bytes that decide a result, so a re-run recomputes exactly what changed: an
edited model file, other flags, another hardware description, or any change to the compiler or
simulator source. The bench's own modules (tables, plots) are left out of the source hash so that
reworking a plot does not re-simulate anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA = 2  # bump when a cached record's layout changes
SOURCE_SUFFIXES = (".py", ".lark", ".toml", ".j2", ".jinja", ".fsm")


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/lergan_cc/bench`` (``~/.cache/lergan_cc/bench``): shared by every ``--out``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lergan_cc" / "bench"


def file_digest(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _source_roots() -> list[Path]:
    """The directories the installed package is made of (``passes``/``targets``/``grammar`` are mapped),
    found without importing them."""
    roots = set()
    for name in ("lergan_cc", "lergan_cc.passes", "lergan_cc.targets", "lergan_cc.grammar"):
        spec = importlib.util.find_spec(name)
        locations = (spec.submodule_search_locations or []) if spec is not None else []
        roots |= {Path(p).resolve() for p in locations}
    return sorted(roots)


def _is_source(path: Path, bench: Path) -> bool:
    if "__pycache__" in path.parts or bench in path.parents:
        return False
    return path.suffix in SOURCE_SUFFIXES and path.name != "lergan_bench.py"


@lru_cache(maxsize=1)
def source_digest() -> str:
    """Hash of the compiler and simulator source (every package file except the bench's own)."""
    bench = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for root in _source_roots():
        for path in sorted(p for p in root.rglob("*") if p.is_file() and _is_source(p, bench)):
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def hardware_digest(hw: str | None) -> str:
    """The hardware description: the package's default TOML files, and ``--hw`` when given."""
    return hardware_text_digest(None if hw is None else Path(hw).read_bytes())


def hardware_text_digest(overlay: bytes | None) -> str:
    """:func:`hardware_digest` of an ``--hw`` file holding exactly ``overlay`` (a sweep point's hardware)."""
    parts = list(_default_hw_digests())
    if overlay is not None:
        parts.append(hashlib.sha256(overlay).hexdigest())
    return hashlib.sha256("".join(parts).encode()).hexdigest()


@lru_cache(maxsize=1)
def _default_hw_digests() -> tuple[str, ...]:
    """The packaged hardware TOML files (read once: a sweep keys thousands of points)."""
    spec = importlib.util.find_spec("lergan_cc.targets")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    return tuple(file_digest(p) for p in sorted(root.glob("*.toml")))


def key(model: Path, config: str, flags: tuple[str, ...], extra: dict[str, Any], hw: str | None) -> str:
    """The cache key of one run: everything that can change its result."""
    return key_of(file_digest(model), config, flags, extra, hardware_digest(hw), source_digest())


def key_of(model_digest: str, config: str, flags: tuple[str, ...], extra: dict[str, Any], hw_digest: str,
           source: str) -> str:
    """:func:`key` from digests: a task that carries its files' bytes is keyed like the files themselves."""
    fields = {"schema": SCHEMA, "model": model_digest, "config": config, "flags": list(flags),
              "extra": extra, "hw": hw_digest, "source": source}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class Cache:
    """A directory of ``<key>.json`` records; ``None`` as the directory disables it."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def get(self, k: str) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        path = self.directory / f"{k}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def has(self, k: str) -> bool:
        return self.directory is not None and (self.directory / f"{k}.json").is_file()

    def put(self, k: str, record: dict[str, Any]) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{k}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, self.directory / f"{k}.json")
