"""Token counting with tiktoken, offline: the BPE files come from llama-index-core's cache."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import util
from pathlib import Path

import tiktoken


def tiktoken_cache_dir() -> Path:
    """The tiktoken cache folder that llama-index-core ships (cl100k_base, o200k_base)."""
    spec = util.find_spec("llama_index.core")
    if spec is None or spec.origin is None:  # pragma: no cover - a dependency, always there
        raise RuntimeError("llama-index-core is not installed: run `make install`.")
    return Path(spec.origin).parent / "_static" / "tiktoken_cache"


@lru_cache(maxsize=4)
def encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """A tiktoken encoding loaded without network.

    tiktoken reads TIKTOKEN_CACHE_DIR when it loads; it is pointed at the shipped cache unless
    the user has set it to a cache of their own.
    """
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tiktoken_cache_dir()))
    return tiktoken.get_encoding(name)


def count(texts: list[str], name: str = "o200k_base") -> list[int]:
    """Token counts of ``texts``."""
    enc = encoding(name)
    # encode_ordinary per text: the batch API starts a thread pool on every call, which costs
    # more than encoding the few sentences a chunker asks about at a time.
    return [len(enc.encode_ordinary(t)) for t in texts]
