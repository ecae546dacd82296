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
from hub.judge.features import SKIP_CODES

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
        self._grams = _gram_table(self.vocabulary)
        self.heads: dict[str, Head] = {}
        for name, h in doc["heads"].items():
            classes = tuple(h["classes"])
            self.heads[name] = Head(name, classes, decode(h["coef"], (len(classes), n)),
                                    np.asarray(h["intercept"], dtype=np.float32), float(h.get("temperature", 1.0)))

    def matrix(self, docs: list[list[str]], texts: list[str] | None = None) -> sparse.csr_matrix:
        """Sublinear tf-idf rows (l2-normalised) of feature lists, as the training vectorizer makes them.

        `texts[i]`, when given, is row i's prepared text: its character n-grams (`features.char_ngrams`,
        left out of `docs[i]`) are counted here for the whole batch at once, by code point in numpy.
        """
        n_cols = len(self.vocabulary)
        lookup = self.index.get
        # map() with dict.get and a default stays in C; the unknown features (-1) drop out in numpy
        cols = [c[c >= 0] for c in (np.fromiter(map(lookup, feats, repeat(-1)), dtype=np.int64, count=len(feats))
                                    for feats in docs)]
        rows = np.repeat(np.arange(len(docs), dtype=np.int64), [len(c) for c in cols])
        flat = [rows * n_cols + (np.concatenate(cols) if cols else np.zeros(0, np.int64))]
        if texts is not None:
            flat.append(self._gram_keys(texts))
        # sorted by row, then column: CSR order (the same counts whichever way a feature was found)
        keys, counts = np.unique(np.concatenate(flat), return_counts=True)
        r, c = keys // n_cols, keys % n_cols
        values = ((1.0 + np.log(counts)) * self.idf[c]).astype(np.float32)
        norms = np.sqrt(np.bincount(r, weights=values * values, minlength=len(docs))).astype(np.float32)
        values /= np.where(norms > 0, norms, 1.0)[r]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=len(docs)))]).astype(np.int32)
        return sparse.csr_matrix((values, c.astype(np.int32), indptr), shape=(len(docs), n_cols))

    def _gram_keys(self, texts: list[str]) -> np.ndarray:
        """row × n_cols + column of every character n-gram of the texts that is in the vocabulary."""
        codes, cols = self._grams
        n_cols = len(self.vocabulary)
        # one array of code points for the batch (+1, so no character codes as 0), each with its row
        cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4").astype(np.int64) + 1
        row = np.repeat(np.arange(len(texts), dtype=np.int64), [len(t) for t in texts])
        keep = ~np.isin(cp, _SKIP_PLUS_ONE)
        cp, row = cp[keep], row[keep]
        out = []
        for n in (1, 2, 3):
            if len(cp) < n:
                break
            m = len(cp) - n + 1
            code = cp[:m].copy()
            for k in range(1, n):
                code = (code << _BITS) | cp[k:k + m]
            ok = row[:m] == row[n - 1:]  # the n-gram lies inside one text
            code, r = code[ok], row[:m][ok]
            at = np.searchsorted(codes, code)
            at[at == len(codes)] = 0
            hit = codes[at] == code
            out.append(r[hit] * n_cols + cols[at[hit]])
        return np.concatenate(out) if out else np.zeros(0, np.int64)

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
        probs, ptr, vocab, classes = p.tolist(), indptr.tolist(), self.vocabulary, h.classes
        for i, k in enumerate(best.tolist()):
            top: list[tuple[str, float]] = []
            a, b = ptr[i], ptr[i + 1]
            if explain and b > a:
                seg = contrib[a:b]
                n = min(explain, b - a)
                pick = np.argpartition(-seg, n - 1)[:n]
                pick = pick[np.argsort(-seg[pick])]
                # as Python numbers at once (the same doubles float() gives one numpy scalar at a time)
                cols, pushes = indices[a + pick].tolist(), seg[pick].tolist()
                top = [(vocab[c], round(v, 3)) for c, v in zip(cols, pushes, strict=True) if v > 0]
            row = probs[i]
            out.append(Prediction(classes[k], row[k], dict(zip(classes, row, strict=True)), top))
        return out


#: bits per character in an n-gram's code (code points + 1 < 2**21; three fit in an int64, and an n-gram
#: of n characters codes at least 2**(21*(n-1)), so codes of different lengths never meet)
_BITS = 21
_SKIP_PLUS_ONE = np.asarray(SKIP_CODES, dtype=np.int64) + 1


def _gram_table(vocabulary: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted codes, their columns) of the vocabulary's character n-grams (`c1:`, `c2:`, `c3:`)."""
    pairs = []
    for col, f in enumerate(vocabulary):
        if len(f) >= 4 and f[0] == "c" and f[2] == ":" and f[1] in "123" and len(f) - 3 == int(f[1]):
            code = 0
            for ch in f[3:]:
                code = (code << _BITS) | (ord(ch) + 1)
            pairs.append((code, col))
    pairs.sort()
    return (np.asarray([c for c, _ in pairs], dtype=np.int64).reshape(-1),
            np.asarray([k for _, k in pairs], dtype=np.int64).reshape(-1))


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
