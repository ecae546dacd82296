"""The trained judgement model: a linear model per field over the features of `hub.judge.features`.

The weights are a reviewable, versioned JSON artifact in the repository (`data/judge/model.json`,
written by `hub judge train`; no pickle). Each head (reason, sub-category, urgency, and one
business-line head per industry profile) is multinomial logistic regression over sublinear
tf-idf features, with a temperature fitted on cross-validated predictions so that its
probabilities are calibrated. Prediction runs over a batch at once (one sparse matrix product).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from core.configfile import cached_config
from core.errors import ConfigError
from core.settings import PROJECT_ROOT, get_settings

DEFAULT_PATH = PROJECT_ROOT / "data" / "judge" / "model.json"


@dataclass(frozen=True)
class Head:
    """One field's classifier: class names, weights (classes × features), intercepts, temperature."""

    name: str
    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float = 1.0


@dataclass(frozen=True)
class Prediction:
    """A head's answer for one text: the class, its probability, and the features that pushed it there."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    top: list[tuple[str, float]] = field(default_factory=list)


def encode(matrix: np.ndarray) -> str:
    """A float matrix as base64 of little-endian float16 (the artifact's compact weight form)."""
    return base64.b64encode(np.ascontiguousarray(matrix, dtype="<f2").tobytes()).decode("ascii")


def decode(text: str, shape: tuple[int, int]) -> np.ndarray:
    """The inverse of `encode`, as float32."""
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32).reshape(shape)


class JudgeModel:
    """The loaded artifact: vocabulary, idf and heads."""

    def __init__(self, doc: dict[str, Any]):
        self.version: str = doc["version"]
        self.meta: dict[str, Any] = doc.get("meta", {})
        self.vocabulary: list[str] = doc["vocabulary"]
        self.index = {f: i for i, f in enumerate(self.vocabulary)}
        n = len(self.vocabulary)
        self.idf = np.asarray(doc["idf"], dtype=np.float32)
        self.heads: dict[str, Head] = {}
        for name, h in doc["heads"].items():
            classes = tuple(h["classes"])
            self.heads[name] = Head(name, classes, decode(h["coef"], (len(classes), n)),
                                    np.asarray(h["intercept"], dtype=np.float32), float(h.get("temperature", 1.0)))

    def matrix(self, docs: list[list[str]]) -> sparse.csr_matrix:
        """Sublinear tf-idf rows (l2-normalised) of feature lists, as the training vectorizer makes them."""
        n_cols = len(self.vocabulary)
        lookup = self.index.get
        # map() with dict.get and a default stays in C; the unknown features (-1) drop out in numpy
        cols = [c[c >= 0] for c in (np.fromiter(map(lookup, feats, repeat(-1)), dtype=np.int64, count=len(feats))
                                    for feats in docs)]
        rows = np.repeat(np.arange(len(docs), dtype=np.int64), [len(c) for c in cols])
        keys, counts = np.unique(rows * n_cols + (np.concatenate(cols) if cols else np.zeros(0, np.int64)),
                                 return_counts=True)  # sorted by row, then column: CSR order
        r, c = keys // n_cols, keys % n_cols
        values = ((1.0 + np.log(counts)) * self.idf[c]).astype(np.float32)
        norms = np.sqrt(np.bincount(r, weights=values * values, minlength=len(docs))).astype(np.float32)
        values /= np.where(norms > 0, norms, 1.0)[r]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=len(docs)))]).astype(np.int32)
        return sparse.csr_matrix((values, c.astype(np.int32), indptr), shape=(len(docs), n_cols))

    def predict(self, head: str, x: sparse.csr_matrix, *, explain: int = 0,
                allowed: list[list[str] | None] | None = None) -> list[Prediction]:
        """The head's prediction for every row of `x` (`allowed[i]` restricts row i to some classes)."""
        h = self.heads[head]
        scores = (np.asarray(x @ h.coef.T) + h.intercept) / h.temperature
        if allowed is not None:  # rows restricted to some classes: the others get no probability
            index = {c: k for k, c in enumerate(h.classes)}
            masks: dict[tuple[str, ...], np.ndarray] = {}
            for i, mask in enumerate(allowed):
                if mask is not None:
                    key = tuple(mask)
                    if key not in masks:
                        masks[key] = np.ones(len(h.classes), dtype=bool)
                        masks[key][[index[c] for c in key if c in index]] = False
                    scores[i, masks[key]] = -np.inf
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        best = p.argmax(axis=1)
        indptr, indices = x.indptr, x.indices
        if explain:  # every stored feature's push towards its row's class, in one vector operation
            rows = np.repeat(np.arange(x.shape[0]), np.diff(indptr))
            contrib = x.data * h.coef[best[rows], indices]
        out = []
        probs = p.tolist()
        for i in range(x.shape[0]):
            k = int(best[i])
            top: list[tuple[str, float]] = []
            if explain and indptr[i + 1] > indptr[i]:
                a, b = indptr[i], indptr[i + 1]
                seg = contrib[a:b]
                n = min(explain, b - a)
                pick = np.argpartition(-seg, n - 1)[:n]
                pick = pick[np.argsort(-seg[pick])]
                top = [(self.vocabulary[indices[a + j]], round(float(seg[j]), 3)) for j in pick if seg[j] > 0]
            out.append(Prediction(h.classes[k], probs[i][k], dict(zip(h.classes, probs[i], strict=True)), top))
        return out


def model_path() -> Path:
    """The artifact in force: `HUB_JUDGE_MODEL`, else data/judge/model.json of the checkout."""
    return get_settings().judge_model or DEFAULT_PATH


def load_model_file(path: Path) -> JudgeModel:
    """Load an artifact (ConfigError naming the file when it is missing or not a model)."""
    try:
        return JudgeModel(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"judgement model {path} not found", hint="run `hub judge train` or set HUB_JUDGE_MODEL"
                          ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"judgement model {path} is not a model artifact: {exc}") from None


@cached_config
def get_model() -> JudgeModel:
    """The process's model (loaded once; `reload_config()` reloads it)."""
    return load_model_file(model_path())
