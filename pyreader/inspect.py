"""A plain-data description of an open model (what `phq inspect` prints)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import layout as L
from .reader import Model


_DTYPE_NAMES: dict = {}


def _dtype_name(dtype) -> str:
    """"float32" for <f4 (cached: a file may hold 65,536 tensors and numpy's str of a dtype is slow)."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype.newbyteorder("="))
    return name


# a META text up to this size is written into `inspect --json` from its parsed tree (numbers
# normalized, e.g. 1e400 as 1e999); a larger one is written as its own (valid, RFC 8259) text,
# so that printing it costs a few times its size, not a tree of Python objects
INLINE_TREE_BYTES = 1 << 20


class MetadataView(Mapping):
    """The model's metadata for `describe`: iterating lists the top-level member names from
    a shallow scan (no tree: what the text summary of `phq inspect` shows); reading a member
    parses the metadata (Model.metadata). `json_text` writes it whole: from the tree when
    the META text is at most INLINE_TREE_BYTES, else as the text itself."""

    def __init__(self, model: Model):
        self._model = model
        self._raw = model.metadata_bytes
        self._names = None

    def _keys(self) -> list:
        if self._names is None:
            self._names = self._model.metadata_names()
        return self._names

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __getitem__(self, name):
        return self._model.metadata[name]

    def __repr__(self) -> str:
        return f"<metadata: {len(self)} members>"

    def json_value(self):
        """What json_text writes: the tree (a dict) or, for a large META, a RawJSON."""
        if self._raw is None or len(self._raw) <= INLINE_TREE_BYTES:
            return self._model.metadata
        return RawJSON(self._raw.decode("utf-8"))


class RawJSON(str):
    """JSON text to be written as it is (json_text splices it in)."""


def describe(model: Model) -> dict:
    h = model.header
    out = {
        "path": model.path,
        "format_version": f"{h.major}.{h.minor}",
        "file_size": h.file_size,
        "required_features": h.required_features,
        "optional_features": h.optional_features,
        "sections": [
            {
                "index": s.index,
                "kind": s.name,
                "kind_id": s.kind,
                "ancillary": s.ancillary,
                "owner": None if s.owner == L.NO_OWNER else s.owner,
                "offset": s.offset,
                "size": s.size,
                "crc32c": f"{s.checksum:08x}",
            }
            for s in model.sections
        ],
        "skipped_sections": [s.index for s in model.skipped_sections],
        "tables": {},
        "tensors": {
            name: {"dtype": _dtype_name(a.dtype), "shape": list(a.shape), "bytes": a.nbytes}
            for name, a in model.tensors.items()
        },
        "metadata": MetadataView(model),
    }
    for name, t in model.tables.items():
        sizes = {L.SECTION_NAMES[s.kind]: s.size for s in t.sections}
        table_bytes = sum(L.align(s.size) for s in t.sections)
        info = {
            "num_keys": t.num_keys,
            "dim": t.dim,
            "quant": t.quant,
            "layout": t.layout,
            "scale_granularity": t.scale_granularity,
            "fingerprint_bits": t.fingerprint_bits,
            "seed": t.seed,
            "gamma": t.gamma,
            "num_partitions": t.num_partitions,
            "num_levels": int(t._p_level_count.sum()),
            "fallback_keys": int(t._p_fb_count.sum()),
            "nnz": t.nnz,
            "density": (t.nnz / (t.num_keys * t.dim)) if t.num_keys and t.dim else 0.0,
            "mph_bytes": t.mph_bytes,
            "mph_bits_per_key": round(t.mph_bits_per_key, 4),
            "bytes_per_key": round(table_bytes / t.num_keys, 4) if t.num_keys else 0.0,
            "section_bytes": sizes,
        }
        if t.layout == "compact":  # spec/format-v1.2.md §3
            d = t.descriptor
            info["compact"] = {"rows_per_base": 1 << (d.reserved1 & 0xFF), "delta_width": d.reserved0, "column_low_bits": d.reserved1 >> 8}
        if t.scales.size:
            sc = t.scales["scale"]
            zp = t.scales["zero_point"]
            info["scale_table"] = {
                "groups": int(sc.size),
                "block_rows": t.descriptor.scale_block_rows or None,
                "scale_min": float(np.min(sc)),
                "scale_max": float(np.max(sc)),
                "zero_point_min": int(np.min(zp)),
                "zero_point_max": int(np.max(zp)),
            }
        if t.levels is not None:  # format 1.1 codebook schemes
            info["codebook"] = {
                "groups": int(t.levels.shape[0]),
                "levels_per_group": int(t.levels.shape[1]),
                "level_min": float(t.levels.min(initial=0)),
                "level_max": float(t.levels.max(initial=0)),
            }
        info["bytes"] = table_bytes
        out["tables"][name] = info
    nlu = describe_nlu(model, out)
    if nlu is not None:
        out["nlu"] = nlu
    return out


def _classifier_summary(c, out: dict) -> dict:
    tensors, tables = out["tensors"], out["tables"]
    feats = []
    featurizers = c.get("featurizers") if isinstance(c.get("featurizers"), list) else []
    for f in featurizers:
        if not isinstance(f, dict):
            continue
        item = {k: f.get(k) for k in ("name", "kind", "analyzer", "ngram_range", "norm", "sublinear_tf", "lowercase") if k in f}
        feats.append(item)
    names = [c.get("table")] + [f.get("norm_table") for f in featurizers if isinstance(f, dict)]
    parts = {f"table {n}": tables[n]["bytes"] for n in dict.fromkeys(n for n in names if isinstance(n, str) and n in tables)}
    if isinstance(c.get("intercept"), str) and c["intercept"] in tensors:
        parts[f"tensor {c['intercept']}"] = tensors[c["intercept"]]["bytes"]
    classes = c.get("classes") if isinstance(c.get("classes"), list) else []
    return {"estimator": c.get("estimator"), "input": c.get("input"), "classes": len(classes), "class_names": classes,
            "proba": c.get("proba"), "featurizers": feats, "source": c.get("source"), "parts": parts,
            "bytes": sum(parts.values())}


def _nlu_member(model: Model):
    """The metadata's "phq.nlu" value, parsed alone (a shallow scan finds its text: the rest of
    a large META is never turned into a tree), or None."""
    if model.metadata_bytes is None:
        return None
    if model._metadata is not None:  # already parsed
        return model._metadata.get("phq.nlu")
    import json

    from . import metajson

    for name, start, end in metajson.top_level_members(model.metadata_bytes):
        if name == "phq.nlu":
            return json.loads(model.metadata_bytes[start:end])
    return None


def describe_nlu(model: Model, out: dict) -> dict | None:
    """A summary of an NLU model (metadata "phq.nlu", profiles 1-3): estimator, classes,
    featurizers, tagger labels and slots, the bytes of each part. Plain data from the
    metadata as it is (inspect describes, phq.nlu.load checks)."""
    prof = _nlu_member(model)
    if not isinstance(prof, dict):
        return None
    res: dict = {"profile": prof.get("profile")}
    if prof.get("profile") == 3:
        c, t = prof.get("classifier"), prof.get("tagger")
        res["classifier"] = _classifier_summary(c, out) if isinstance(c, dict) else None
        if isinstance(t, dict):
            labels = t.get("labels") if isinstance(t.get("labels"), list) else []
            slots = sorted({str(x)[2:] for x in labels if isinstance(x, str) and x[:2] in ("B-", "I-")})
            parts = {}
            if isinstance(t.get("state_table"), str) and t["state_table"] in out["tables"]:
                parts[f"table {t['state_table']}"] = out["tables"][t["state_table"]]["bytes"]
            if isinstance(t.get("transitions"), str) and t["transitions"] in out["tensors"]:
                parts[f"tensor {t['transitions']}"] = out["tensors"][t["transitions"]]["bytes"]
            res["tagger"] = {"estimator": t.get("estimator"), "scheme": t.get("scheme"), "tokenizer": t.get("tokenizer"),
                             "labels": len(labels), "slots": slots,
                             "templates": len(t["templates"]) if isinstance(t.get("templates"), list) else None,
                             "source": t.get("source"), "parts": parts, "bytes": sum(parts.values())}
        else:
            res["tagger"] = None
    else:
        res["classifier"] = _classifier_summary(prof, out)
        res["tagger"] = None
    return res
