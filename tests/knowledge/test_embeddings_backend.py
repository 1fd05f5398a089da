"""The ONNX encoder backends (EMBEDDING_BACKEND): same model, same tokens, near-same vectors, safe fallback."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from knowledge import embeddings as emb
from knowledge import onnx_export
from knowledge.config import Settings

TEXTS = [
    "QLoRA fine-tunes a 65B model on a single 48 GB GPU by backpropagating through a frozen 4-bit model into low-rank adapters.",
    "Mixture-of-experts layers send every token to two of eight experts, so compute per token stays small. " * 6,
    "미스트랄 7B는 슬라이딩 윈도 어텐션과 그룹 쿼리 어텐션으로 추론을 빠르게 한다.",
    "Direct preference optimisation trains on pairs of answers without a separate reward model.",
]
SHORT = ["short", "mixture of experts"]  # one- or two-word texts move most under int8


@pytest.fixture(scope="module")
def torch_embedder():
    return emb.get_embedder(None, "torch")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.parametrize(("backend", "floor"), [("onnx", 0.999), ("onnx-int8", 0.99)])
def test_onnx_vectors_match_torch(torch_embedder, backend, floor):
    e = emb.get_embedder(None, backend)
    if e.backend != backend:
        pytest.skip(f"{backend} export unavailable here: {e.fallback_reason}")
    got, want = e.encode(TEXTS), torch_embedder.encode(TEXTS)
    assert got.shape == want.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert _cosines(got, want).min() >= floor
    assert _cosines(e.encode(SHORT), torch_embedder.encode(SHORT)).min() >= floor - 0.02
    assert e.encode_query(TEXTS[0]) @ want[0] >= floor
    assert e.encode([]).shape == (0, 384)


def test_token_counts_and_window_unchanged(torch_embedder):
    e = emb.get_embedder(None, "onnx")
    long_text = " ".join(TEXTS) * 20  # far past the window: counted in full, not truncated
    texts = [*TEXTS, long_text, ""]
    assert e.count_tokens(texts) == torch_embedder.count_tokens(texts)
    assert e.count_tokens(texts)[-2] > e.max_tokens
    assert e.max_tokens == torch_embedder.max_tokens == 256
    assert e.dimension == torch_embedder.dimension == 384


def test_labels_keep_stores_apart():
    base = emb.model_label(None)
    assert emb.backend_label(base, "torch") == emb.backend_label(base, "onnx") == base  # cosine 1.0: same vectors
    assert emb.backend_label(base, "onnx-int8") != base  # int8 vectors differ: a store records which


def test_backend_setting_is_validated(monkeypatch):
    assert emb.backend_from_env("") == emb.DEFAULT_BACKEND
    assert emb.backend_from_env("ONNX") == "onnx"
    with pytest.raises(ValueError, match="EMBEDDING_BACKEND"):
        emb.backend_from_env("tensorrt")
    assert Settings.from_env({}, dotenv=False).embedding_backend == emb.DEFAULT_BACKEND == "onnx"
    assert Settings.from_env({"EMBEDDING_BACKEND": "torch"}, dotenv=False).embedding_backend == "torch"
    with pytest.raises(ValueError, match="EMBEDDING_BACKEND"):
        Settings.from_env({"EMBEDDING_BACKEND": "gpu"}, dotenv=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    assert emb.Embedder(None).requested_backend == "torch"


def test_falls_back_to_torch_when_no_export_can_be_built(tmp_path, monkeypatch, torch_embedder, caplog):
    monkeypatch.setenv("EMBEDDING_CACHE_DIR", str(tmp_path))

    def fail(*_args, **_kwargs):
        raise emb.ModelUnavailable("no exporter here")

    monkeypatch.setattr(onnx_export, "build_onnx_export", fail)
    e = emb.Embedder(None, backend="onnx-int8")
    with caplog.at_level("WARNING", logger="knowledge.embeddings"):
        assert e.backend == "torch"
    assert "falling back" in caplog.text
    assert "no exporter here" in (e.fallback_reason or "")
    assert e.name == emb.model_label(None)  # the torch label: never mixed with an int8 store
    vec = e.encode(TEXTS[:2])
    assert _cosines(vec, torch_embedder.encode(TEXTS[:2])).min() >= 0.9999


def test_int8_failure_falls_back_to_fp32_onnx(tmp_path, monkeypatch):
    source = emb.get_embedder(None, "onnx")
    if source.backend != "onnx":
        pytest.skip(f"onnx export unavailable here: {source.fallback_reason}")
    real_dir = source.export_dir()
    monkeypatch.setenv("EMBEDDING_CACHE_DIR", str(tmp_path))
    e = emb.Embedder(None, backend="onnx-int8")
    target = e.export_dir()
    target.mkdir(parents=True)
    for name in ("model.onnx", "export.json"):
        shutil.copy2(real_dir / name, target / name)

    def fail(*_args, **_kwargs):
        raise emb.ModelUnavailable("quantiser missing")

    monkeypatch.setattr(onnx_export, "build_int8_export", fail)
    assert e.backend == "onnx"
    assert e.name == emb.model_label(None)
    assert "quantiser missing" in (e.fallback_reason or "")


def test_an_export_that_differs_from_torch_is_refused(tmp_path, monkeypatch):
    source = emb.get_embedder(None, "onnx")
    if source.backend != "onnx":
        pytest.skip(f"onnx export unavailable here: {source.fallback_reason}")
    real_dir = source.export_dir()
    monkeypatch.setenv("EMBEDDING_CACHE_DIR", str(tmp_path))
    e = emb.Embedder(None, backend="onnx")
    target = e.export_dir()
    target.mkdir(parents=True)
    shutil.copy2(real_dir / "model.onnx", target / "model.onnx")
    (target / "export.json").write_text('{"min_cosine": 0.95}', encoding="utf-8")
    assert e.backend == "torch"
