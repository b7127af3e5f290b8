"""Case-study library: hybrid search (semantic + BM25) and recommendations for a city, every
score explained by terms that add up; and the loaders of a network's library.

Texts are split into passages on sentence boundaries (matcher.case_text), embedded with the
cached encoder (content hash: an edit re-encodes only the passages it changed), indexed in
their own FAISS folder with a manifest (matcher.builds), and results are grouped back to one hit
per case study. The twin side is reached only through the TwinSpace protocol.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
import pandas as pd
import yaml
from scipy import sparse

from .case_text import infer_tags, make_passages
from .errors import ConfigError, LimitExceededError, ProfileValidationError
from .features.text import Encoder
from .files import atomic_write_parquet
from .index import VectorIndex, build_index, exact_search
from .io import check_input_file, read_profile_table
from .limits import Limits
from .limits import resolve as resolve_limits
from .lookup import resolve_city_ids
from .protocols import TwinSpace
from .schema import validate_case_studies
from .scoring import Match, Result, Term, check_k, normalise_weights, ranked
from .vocab import SIZE_BANDS, expand_barriers, vocabularies
from .wording import Num, Reason, Terms, cosine_figure, survey_list, survey_term

CASE_FILE = Path("case_studies") / "case_studies.parquet"
SEARCH_WEIGHTS = {"semantic": 0.6, "keyword": 0.4}
RECOMMEND_WEIGHTS = {"barriers": 0.35, "sectors": 0.25, "peer": 0.2, "text": 0.2}
TERM_LABELS = {"semantic": "Meaning", "keyword": "Exact words", "barriers": "Your barriers",
               "sectors": "Your priority sectors", "peer": "From a peer city", "text": "Fits your narrative"}
SEARCH_POOL = 200  # best passages taken from each side before grouping and filtering


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



# ---------------------------------------------------------------------------- results
@dataclass
class CaseFilters:
    """Which case studies may be returned; tags match source or inferred tags."""

    sectors: list[str] = field(default_factory=list)
    barriers: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    size_band: str | None = None
    languages: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class CaseHit(Match):
    case_id: str
    title: str
    city: str | None
    country_code: str | None
    passage: str
    sectors: list[str]
    barriers: list[str]
    inferred_sectors: list[str]
    inferred_barriers: list[str]
    source: str | None


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _term(name: str, weight: float, similarity: float, detail: str) -> Term:
    return Term(name, weight, float(similarity), float(weight * similarity), detail, TERM_LABELS[name])


# ---------------------------------------------------------------------------- the library
class CaseLibrary:
    """Validated case studies + passage index + BM25, optionally linked to the twin side."""

    def __init__(self, cases: pd.DataFrame, passages: pd.DataFrame, index: VectorIndex, encoder: Encoder,
                 twins: TwinSpace | None = None, tag_report: dict | None = None):
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
    def prepare(cases: pd.DataFrame, encoder: Encoder, twins: TwinSpace | None):
        """Validated cases -> (cases with city ids and inferred tags, passages, vectors, tag report)."""
        cases = cases.reset_index(drop=True).copy()
        if "city_id" not in cases.columns:
            cases["city_id"] = (resolve_city_ids(twins.lookup, cases["city"], cases["country_code"])
                                if twins is not None else None)
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
    def from_table(cls, cases: pd.DataFrame, encoder: Encoder, twins: TwinSpace | None = None) -> "CaseLibrary":
        """In memory (tests, an uploaded library): validate, embed and index."""
        cases, passages, vectors, report = cls.prepare(cases, encoder, twins)
        index = build_index(vectors, passages["passage_id"], {"model_id": encoder.model_id})
        return cls(cases, passages, index, encoder, twins, report)

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
        out = np.full(len(self.cases), np.nan)
        if self.twins is None:
            return out
        for i, cid in enumerate(self.cases["city_id"]):
            row = self.twins.row_of_id(cid) if isinstance(cid, str) else None
            if row is not None:
                pop = self.twins.profiles.at[row, "population"]
                out[i] = float(pop) if pd.notna(pop) else np.nan
        return out

    def passages_of(self, case_row: int) -> np.ndarray:
        return np.flatnonzero(self._case_of_passage == case_row)

    # ---------------------------------------------------------------- search
    def search(self, text: str, k: int = 10, filters: CaseFilters | None = None,
               weights: dict[str, float] | None = None) -> Result:
        """Hybrid search: w_sem * best passage cosine + w_kw * BM25 (scaled so the best case of
        this query scores 1). Exact names survive through the keyword term."""
        if not text or not text.strip():
            raise ConfigError("Type something to search for.")
        k = check_k(k)
        w = normalise_weights(weights, SEARCH_WEIGHTS, "search signal")
        allowed = self._allowed(filters)
        q = self.encoder.encode([text.strip()])[0]
        semantic, sem_passage = self._best_passages(q, max(SEARCH_POOL, 20 * k))
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False, return_ids=False)[0]
        keyword, kw_passage = self._keyword_scores(tokens)
        top_kw = keyword[allowed].max() if allowed.any() else 0
        keyword = keyword / top_kw if top_kw > 0 else keyword
        candidates = np.flatnonzero(allowed & (np.isfinite(semantic) | (keyword > 0)))
        for c in candidates:  # a case outside the semantic pool still gets its exact cosine
            if not np.isfinite(semantic[c]):
                (best,), (score,) = exact_search(q, self.index.vectors, 1, self._case_of_passage == c)
                semantic[c], sem_passage[c] = float(score), best
        hits = []
        for c in candidates:
            use_kw = w["keyword"] * keyword[c] > w["semantic"] * semantic[c] and kw_passage[c] >= 0
            passage = self.passages.at[int(kw_passage[c] if use_kw else sem_passage[c]), "text"]
            matched = sorted(set(tokens) & {t.lower() for t in _TOKEN.findall(passage)})
            explanation = [
                _term("semantic", w["semantic"], semantic[c],
                      Reason("meaning of the best passage{cosine}", cosine=cosine_figure(semantic[c]))),
                _term("keyword", w["keyword"], keyword[c], Reason("BM25 on the words {words}", words=Terms(
                    f"'{m}'" for m in matched)) if keyword[c] > 0 else Reason("none of the query's words")),
            ]
            hits.append(self._hit(c, explanation, passage))
        return Result(mode="case search", asker=None, weights=w, matches=ranked(hits, k, tie=lambda h: h.case_id),
                      query=text.strip())

    def _best_passages(self, q: np.ndarray, pool: int) -> tuple[np.ndarray, np.ndarray]:
        """Per case, the best cosine among the `pool` nearest passages (-inf: not in the pool)."""
        rows, sims = self.index.search(q, min(self.index.n, pool))
        best = np.full(len(self.cases), -np.inf)
        where = np.full(len(self.cases), -1)
        for r, s in zip(rows, sims):
            c = self._case_of_passage[r]
            if s > best[c]:
                best[c], where[c] = float(s), r
        return best, where

    def _keyword_scores(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per case, the best BM25 score of its passages (0: no query word)."""
        scores = self._bm25.get_scores(tokens) if tokens else np.zeros(self.index.n)
        best = np.zeros(len(self.cases))
        where = np.full(len(self.cases), -1)
        for r in np.flatnonzero(scores > 0):
            c = self._case_of_passage[r]
            if scores[r] > best[c]:
                best[c], where[c] = scores[r], r
        return best, where

    def _hit(self, c: int, explanation: list[Term], passage: str, reasons=None) -> CaseHit:
        row = self.cases.iloc[int(c)]
        text = lambda v: v if isinstance(v, str) else None  # noqa: E731
        listed = lambda v: list(v) if v is not None else []  # noqa: E731
        return CaseHit(
            case_id=row["case_id"], title=row["title"], city=text(row["city"]), country_code=text(row["country_code"]),
            score=float(sum(t.contribution for t in explanation)), rank=0, explanation=explanation,
            passage=passage, sectors=listed(row["sectors"]), barriers=listed(row["barriers_addressed"]),
            inferred_sectors=listed(row["inferred_sectors"]), inferred_barriers=listed(row["inferred_barriers"]),
            source=text(row["source"]), reasons=list(reasons or []))

    # ---------------------------------------------------------------- recommend
    def recommend_for_city(self, city: str | None = None, *, country: str | None = None, profile=None,
                           k: int = 10, weights: dict[str, float] | None = None,
                           filters: CaseFilters | None = None, include_own: bool = False) -> Result:
        """Case studies aimed at the city's barriers and sectors, from peers like it.

        score = w_b * share of your barriers addressed + w_s * share of your priority sectors
        covered + w_p * twin score of the case's city + w_t * cosine(your narrative, the case)."""
        if self.twins is None:
            raise ConfigError("Recommending for a city needs the twin recommender (profiles).")
        k = check_k(k)
        w = normalise_weights(weights, RECOMMEND_WEIGHTS, "recommendation signal")
        query = self.twins.query(city, country, profile)
        asker = query.asker
        allowed = self._allowed(filters)
        if not include_own and asker.get("city_id") is not None:
            allowed &= (self.cases["city_id"] != asker["city_id"]).to_numpy()
        fit = _CityFit(asker, self.encoder, self._peer_scores(query.vector))
        hits = []
        for c in np.flatnonzero(allowed):
            row = self.cases.iloc[int(c)]
            terms = [fit.barriers(row, w["barriers"]), fit.sectors(row, w["sectors"]),
                     fit.peer(row, w["peer"], self.twins.row_of_id), fit.text(self.case_vectors[c], w["text"])]
            reasons = [t.detail for t in sorted(terms, key=lambda t: -t.contribution) if t.contribution > 0.005]
            passage = self.passages.at[int(self.passages_of(c)[0]), "text"]
            hits.append(self._hit(c, terms, passage, reasons))
        return Result(mode="cases for a city", asker=asker, weights=w,
                      matches=ranked(hits, k, tie=lambda h: h.case_id))

    def _peer_scores(self, asker_vec: np.ndarray) -> dict[int, float]:
        """Default-weighted twin score of the asker against each city that has case studies."""
        rows = sorted({r for r in (self.twins.row_of_id(cid) if isinstance(cid, str) else None
                                   for cid in self.cases["city_id"]) if r is not None})
        if not rows:
            return {}
        scores = self.twins.vectors(rows) @ (asker_vec * self.twins.weight_vector(None))
        return dict(zip(rows, scores.tolist()))


class _CityFit:
    """The four terms of a case study for one asking city."""

    def __init__(self, asker: dict, encoder: Encoder, peer_scores: dict[int, float]):
        self.name = asker.get("name") or Reason("you")
        self.own_barriers = list(asker.get("barriers") or [])
        self.wanted_barriers = sorted(expand_barriers(self.own_barriers))
        self.own_sectors = [s.lower() for s in (asker.get("priority_sectors") or [])]
        narrative = asker.get("narrative") if isinstance(asker.get("narrative"), str) else None
        self.text_vec = encoder.encode([narrative])[0] if narrative else None
        self.peer_scores = peer_scores

    def barriers(self, row, weight: float) -> Term:
        if not self.own_barriers:
            return _term("barriers", weight, 0.0, Reason("not compared: no barriers known for {name}", name=self.name))
        src, inf = set(row["barriers_addressed"]), set(row["inferred_barriers"])
        hit_src = [b for b in self.wanted_barriers if b in src]
        hit_inf = [b for b in self.wanted_barriers if b in inf and b not in src]
        share = min(1.0, (len(hit_src) + len(hit_inf)) / len(self.own_barriers))
        listed = [survey_term(b) for b in hit_src] + [Reason("{barrier} (inferred)", barrier=survey_term(b))
                                                       for b in hit_inf]
        detail = Reason("addresses {n} of your barriers: {barriers}", n=len(hit_src) + len(hit_inf),
                        barriers=Terms(listed, "; ")) if share else Reason("none of your barriers")
        return _term("barriers", weight, share, detail)

    def sectors(self, row, weight: float) -> Term:
        if not self.own_sectors:
            return _term("sectors", weight, 0.0,
                         Reason("not compared: no priority sectors known for {name}", name=self.name))
        covered = set(row["sectors"]) | set(row["inferred_sectors"])
        hit = [s for s in self.own_sectors if s in covered]
        detail = Reason("in your priority sectors: {sectors}", sectors=survey_list(hit, ", ")) if hit \
            else Reason("none of your priority sectors")
        return _term("sectors", weight, len(hit) / len(self.own_sectors), detail)

    def peer(self, row, weight: float, row_of_id) -> Term:
        peer_row = row_of_id(row["city_id"]) if isinstance(row["city_id"], str) else None
        if peer_row is None:
            return _term("peer", weight, 0.0, Reason("not compared: the case names no city in the profiles"))
        sim = float(self.peer_scores[peer_row])
        kind = Reason("a close twin") if sim >= 0.5 else Reason("a peer")
        return _term("peer", weight, sim, Reason("from {city}, {kind} (twin score {score})", city=row["city"], kind=kind,
                                                 score=Num(sim, ".2f")))

    def text(self, case_vector: np.ndarray, weight: float) -> Term:
        if self.text_vec is None:
            return _term("text", weight, 0.0, Reason("not compared: no narrative for {name}", name=self.name))
        cos = float(case_vector @ self.text_vec)
        return _term("text", weight, cos, Reason("fits your narrative{cosine}", cosine=cosine_figure(cos)))


def read_saved_table(path: Path) -> pd.DataFrame:
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
