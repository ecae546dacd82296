"""`hub judge train`: fit the model heads on the corpus's training split and write the JSON artifact.

Deterministic: records sorted by id, fixed solver and seeds, so the same corpus gives the same
weights. The held-out split (`hub.judge.corpus.is_heldout`) is never read here. Temperatures are
fitted on 5-fold cross-validated scores of the training split (calibration without the held-out).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from hub.judge.config import Taxonomy, get_taxonomy
from hub.judge.corpus import CORPUS_DIR, INDUSTRIES, ComplaintRecord, load_corpus, split
from hub.judge.features import features
from hub.judge.matcher import Matcher
from hub.judge.model import encode
from hub.judge.normalise import largest_amount

#: model settings (one place; the artifact records them)
MAX_FEATURES = 20000
MIN_DF = 2
C = 32.0


@dataclass
class Sample:
    """A training text with its features and labels."""

    record: ComplaintRecord
    feats: list[str]


def _identity(doc: list[str]) -> list[str]:
    return doc


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of cross-validated scores."""

    def nll(t: float) -> float:
        s = scores / t
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def _fit_head(x: Any, labels: Sequence[str], name: str) -> dict[str, Any]:
    """One calibrated logistic head. Classes are weighted by inverse frequency: without it the
    majority (service, general) swallows the rarer product and consultation texts."""
    classes = sorted(set(labels))
    y = np.array([classes.index(v) for v in labels])
    if len(classes) < 2:
        raise ValueError(f"head {name}: one class only ({classes})")
    clf = LogisticRegression(C=C, max_iter=300, solver="newton-cg", class_weight="balanced")
    clf.fit(x, y)
    folds = min(5, int(np.bincount(y).min()))
    scores = np.zeros((len(y), len(classes)))
    if folds >= 2:
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=7).split(x, y):
            part = LogisticRegression(C=C, max_iter=300, solver="newton-cg", class_weight="balanced").fit(x[tr], y[tr])
            cols = [list(part.classes_).index(c) if c in part.classes_ else None for c in range(len(classes))]
            raw = part.decision_function(x[te])
            raw = raw if raw.ndim == 2 else np.stack([-raw, raw], axis=1)
            for c, col in enumerate(cols):
                scores[te, c] = raw[:, col] if col is not None else -1e3
        temperature = fit_temperature(scores, y)
    else:
        temperature = 1.0
    coef = clf.coef_ if len(classes) > 2 else np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
    intercept = clf.intercept_ if len(classes) > 2 else np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    return {"classes": classes, "coef": encode(coef), "intercept": [round(float(v), 5) for v in intercept],
            "temperature": round(temperature, 4), "n": len(y)}


def train(records: Sequence[ComplaintRecord], taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """The artifact (a JSON-able dict) trained on `records` (the training split)."""
    tax = taxonomy or get_taxonomy()
    matcher = Matcher(tax)
    recs = sorted(records, key=lambda r: r.id)
    docs = [features(matcher, r.channel, r.text, amount=largest_amount(r.text)) for r in recs]
    vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=MIN_DF, max_features=MAX_FEATURES,
                          norm="l2", dtype=np.float32)
    x = vec.fit_transform(docs).tocsr()
    vocab = [str(f) for f in vec.get_feature_names_out()]
    heads = {"reason": _fit_head(x, [r.reason for r in recs], "reason"),
             "sub": _fit_head(x, [f"{r.reason}/{r.sub}" for r in recs], "sub"),
             "urgency": _fit_head(x, [r.urgency for r in recs], "urgency")}
    for name, profile in tax.profiles.items():
        rows = [i for i, r in enumerate(recs) if r.industry in profile.industries and r.business_line]
        if len({recs[i].business_line for i in rows}) >= 2:
            heads[f"line:{name}"] = _fit_head(x[rows], [str(recs[i].business_line) for i in rows], f"line:{name}")
    digest = hashlib.sha256("\n".join(f"{r.id}\t{r.text}\t{r.reason}\t{r.sub}\t{r.urgency}\t{r.business_line}"
                                      for r in recs).encode()).hexdigest()
    fingerprint = matcher.fingerprint
    version = hashlib.sha256(f"{digest}:{fingerprint}".encode()).hexdigest()[:12]
    return {"version": f"judge-{version}",  # the corpus and the taxonomy decide the weights, so they name them
            "meta": {"records": len(recs), "corpus_sha256": digest, "taxonomy": fingerprint, "features": len(vocab),
                     "settings": {"max_features": MAX_FEATURES, "min_df": MIN_DF, "C": C, "ngrams": [1, 3]},
                     "industries": list(INDUSTRIES)},
            "vocabulary": vocab, "idf": [round(float(v), 4) for v in vec.idf_], "heads": heads}


def train_to(path: Path, corpus_dir: Path | None = None, corrections: Sequence[Path] = ()) -> dict[str, Any]:
    """Train on the training split of the corpus (or `corpus_dir`) plus every record of the `corrections`
    files (`hub judge export-corrections`), and write the artifact to `path`."""
    corpus_files = sorted(corpus_dir.glob("*.jsonl")) if corpus_dir else sorted(CORPUS_DIR.glob("*.jsonl"))
    records = load_corpus([*corpus_files, *corrections])  # one load: ids unique across corpus and corrections
    extra = {r.id for r in load_corpus(corrections)} if corrections else set()
    train_part, _ = split([r for r in records if r.id not in extra])
    train_part += [r for r in records if r.id in extra]  # corrections always train, never hold out
    doc = train([r for r in train_part if isinstance(r, ComplaintRecord)])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return doc
