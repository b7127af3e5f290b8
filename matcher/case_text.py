"""Case-study texts: the passages they are split into (whole sentences, with overlap) and the
tags inferred from them for cases their source left untagged."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sentencex import segment

from .features.text import Encoder
from .vocab import barrier_parents, survey_barriers, taxonomy, vocabularies

# Bumped when the way cases become passages, vectors or tags changes: older indexes are rebuilt.
PIPELINE_VERSION = 2
CHUNKING = {"max_words": 120, "overlap_sentences": 1, "fields": ["title", "summary", "quote", "body"]}


def case_text(row) -> str:
    parts = [row.get("title"), row.get("summary")]
    if isinstance(row.get("quote"), str) and row["quote"]:
        parts.append(f"\u201c{row['quote']}\u201d")
    if isinstance(row.get("body"), str) and row["body"] and row["body"] != row.get("summary"):
        parts.append(row["body"])
    return "\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def chunk_text(text: str, language: str = "en", max_words: int = 120, overlap_sentences: int = 1) -> list[str]:
    """Passages of whole sentences, about `max_words` long, each starting with the last
    `overlap_sentences` sentences of the previous one (sentence boundaries by sentencex)."""
    sentences = [s.strip() for s in segment(language or "en", text) if s.strip()]
    passages, current = [], []
    for sentence in sentences:
        words = sum(len(s.split()) for s in current)
        if current and words + len(sentence.split()) > max_words:
            passages.append(" ".join(current))
            current = current[-overlap_sentences:] if overlap_sentences else []
            if sum(len(s.split()) for s in current) + len(sentence.split()) > max_words:
                current = []
        current.append(sentence)
    if current:
        passages.append(" ".join(current))
    return passages


def make_passages(cases: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for i, row in enumerate(cases.to_dict("records")):
        for j, text in enumerate(chunk_text(case_text(row), row.get("language") or "en",
                                            CHUNKING["max_words"], CHUNKING["overlap_sentences"])):
            rows.append({"passage_id": f"{row['case_id']}#{j}", "case_row": i, "text": text})
    return pd.DataFrame(rows, columns=["passage_id", "case_row", "text"])


# ---------------------------------------------------------------------------- tag inference
def _label_sets(kind: str) -> tuple[str, ...]:
    if kind == "sectors":
        return vocabularies()["case_sectors"]
    gaps = [g for g in taxonomy()["funding_gaps"] if g not in survey_barriers()]
    return tuple(survey_barriers()) + tuple(gaps)


def _prf(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & truth).sum())
    precision = tp / pred.sum() if pred.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _best_threshold(sims: np.ndarray, truth: np.ndarray) -> float:
    grid = np.round(np.arange(0.10, 0.80, 0.01), 2)
    scores = [(_prf(sims >= t, truth)[2], _prf(sims >= t, truth)[0], t) for t in grid]
    return float(max(scores)[2])


def infer_tags(case_vectors: np.ndarray, cases: pd.DataFrame, encoder: Encoder, folds: int = 5) -> tuple[dict, dict]:
    """Tags from text for cases the source left untagged: a label is inferred when the cosine
    between the case and the label wording passes a threshold chosen (best F1) on the cases
    that carry source tags. Precision/recall are cross-validated (threshold chosen on the other
    folds), so the reported figures are not fitted to themselves."""
    columns = {"sectors": "sectors", "barriers": "barriers_addressed"}
    parents = barrier_parents()
    inferred: dict[str, list] = {}
    report: dict[str, dict] = {}
    for kind, col in columns.items():
        labels = _label_sets(kind)
        label_vecs = encoder.encode(list(labels))
        sims = case_vectors @ label_vecs.T
        # Focus-group wording counts as its survey category (barrier_parents.csv) for scoring.
        own = [set(tags) | {parents.get(t) for t in tags if parents.get(t)} for tags in cases[col]]
        truth = np.array([[lab in tags for lab in labels] for tags in own], dtype=bool)
        tagged = truth.any(axis=1)  # cases whose source tags can score the inference
        untagged = np.array([len(tags) == 0 for tags in cases[col]])  # only these get inferred tags
        idx = np.flatnonzero(tagged)
        entry = {"labels": len(labels), "scored_cases": int(tagged.sum()), "untagged_cases": int(untagged.sum())}
        if len(idx) >= folds * 2:
            rng = np.random.default_rng(0)
            order = rng.permutation(idx)
            preds = np.zeros_like(truth)
            for f in range(folds):
                test = order[f::folds]
                train = np.setdiff1d(order, test)
                t = _best_threshold(sims[train], truth[train])
                preds[test] = sims[test] >= t
            p, r, f1 = _prf(preds[idx], truth[idx])
            threshold = _best_threshold(sims[idx], truth[idx])
            entry.update({"threshold": threshold, "precision_cv": round(p, 3), "recall_cv": round(r, 3),
                          "f1_cv": round(f1, 3)})
        else:
            threshold = None
            entry["note"] = "too few tagged cases to choose a threshold; nothing inferred"
        tags, confidences = [], []
        for i in range(len(cases)):
            if not untagged[i] or threshold is None:
                tags.append([]), confidences.append([])
                continue
            hits = [(float(sims[i, j]), labels[j]) for j in np.argsort(-sims[i]) if sims[i, j] >= threshold]
            tags.append([lab for _, lab in hits]), confidences.append([round(c, 3) for c, _ in hits])
        inferred[f"inferred_{kind}"] = tags
        inferred[f"inferred_{kind}_confidence"] = confidences
        entry["inferred_cases"] = int(sum(1 for t in tags if t))
        report[kind] = entry
    return inferred, report
