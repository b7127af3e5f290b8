"""Embed a text column of a Parquet corpus: locally (streamed batches, one process) or on a
Ray cluster with Ray Data (`--engine ray`), the same encoder either way.

    matcher embed passages.parquet --column text --out vectors.parquet [--engine ray]

The output keeps the input columns (or those named by `keep`) and adds `embedding`, a
fixed-size list of float32 (L2-normalised; an empty or missing text gives a zero row, never a
made-up text). Rows come out in input order on both engines.

When to use Ray: one 2-core machine embeds about 60 paragraphs/s with MiniLM, about 200,000
an hour or 2-3 million overnight. A corpus beyond that is embedded on a Ray cluster (the same
command with `--engine ray`, `ray.init(address=...)` set up by `RAY_ADDRESS`), where each
actor loads the model once and Ray Data streams Parquet blocks through them. No home-made
process pool.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ConfigError, LimitExceededError
from .limits import Limits
from .limits import resolve as resolve_limits
from .settings import DEFAULT_SETTINGS

DEFAULT_MODEL = str(DEFAULT_SETTINGS["model_name"])


@dataclass
class EmbedStats:
    rows: int
    dim: int
    seconds: float
    engine: str
    out: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def _encode_texts(encoder, texts) -> np.ndarray:
    """Encode a batch; missing or blank texts give zero rows; each text is cut to
    `Limits.max_embed_chars` (matcher.limits) before it reaches the tokenizer."""
    from .features.text import cap_texts

    clean = cap_texts([t.strip() if isinstance(t, str) else "" for t in texts])
    out = np.zeros((len(clean), int(encoder.dim)), dtype=np.float32)
    rows = [i for i, t in enumerate(clean) if t]
    if rows:
        out[rows] = encoder.encode([clean[i] for i in rows])
    return out


def _embedding_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])


def _check_input(path: Path, column: str, keep: list[str] | None) -> pq.ParquetFile:
    if not path.exists():
        raise ConfigError(f"{path} does not exist.")
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a non-Parquet file
        raise ConfigError(f"{path} is not a readable Parquet file ({exc}).") from None
    names = pf.schema_arrow.names
    for name in [column, *(keep or [])]:
        if name not in names:
            raise ConfigError(f"{path} has no column '{name}'. Columns: {', '.join(names)}.")
    if "embedding" in names and "embedding" not in ([] if keep is None else keep):
        raise ConfigError(f"{path} already has an 'embedding' column; pass --keep without it.")
    return pf


def _bounded_batches(path: Path, pf: pq.ParquetFile, columns: list[str], batch_rows: int, limits: Limits | None):
    """The file's row batches as tables, each refused (LimitExceededError) when it would take more
    than `max_decompressed_bytes` once decoded: the text columns are read dictionary-encoded and
    measured before they are decoded (a dictionary-encoded Parquet file of 1 KB can hold GBs)."""
    from .io import decoded_nbytes

    limits = resolve_limits(limits)
    schema = pf.schema
    texts = [schema.column(i).path for i in range(len(schema)) if schema.column(i).physical_type == "BYTE_ARRAY"]
    target = pa.schema([pf.schema_arrow.field(name) for name in columns])
    encoded = pq.ParquetFile(path, read_dictionary=texts)
    done = 0
    for batch in encoded.iter_batches(batch_size=batch_rows, columns=columns):
        size = sum(decoded_nbytes(col) for col in batch.columns)
        if size > limits.max_decompressed_bytes:
            raise LimitExceededError(path, "max_decompressed_bytes", limits.max_decompressed_bytes,
                                     f"rows {done + 1:,}-{done + batch.num_rows:,} are {size:,} bytes once decoded",
                                     row=done + 1, what="corpus")
        done += batch.num_rows
        yield pa.Table.from_batches([batch]).cast(target)


def embed_local(path: str | Path, column: str, out: str | Path, encoder=None, model: str = DEFAULT_MODEL,
                keep: list[str] | None = None, batch_rows: int = 4096,
                progress: Callable[[int], None] | None = None, limits: Limits | None = None) -> EmbedStats:
    """Stream the Parquet file in row batches through one encoder and write `out` as it goes.
    Each batch is bounded by `limits.max_decompressed_bytes` once decoded; texts are cut to
    `limits.max_embed_chars` before they are encoded."""
    from .features.text import make_encoder
    from .files import atomic_path

    path, out = Path(path), Path(out)
    pf = _check_input(path, column, keep)
    encoder = encoder or make_encoder(model)
    columns = list(dict.fromkeys([*(keep if keep is not None else pf.schema_arrow.names), column]))
    start, rows, writer = time.perf_counter(), 0, None
    with atomic_path(out) as tmp:
        try:
            for batch in _bounded_batches(path, pf, columns, batch_rows, limits):
                vectors = _encode_texts(encoder, batch.column(column).to_pylist())
                table = batch.append_column("embedding", _embedding_array(vectors))
                if keep is not None and column not in keep:
                    table = table.drop_columns([column])
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows += len(table)
                if progress:
                    progress(rows)
            if writer is None:  # an empty corpus still gives a valid (empty) output file
                schema = pf.schema_arrow.append(pa.field("embedding", pa.list_(pa.float32(), int(encoder.dim))))
                writer = pq.ParquetWriter(tmp, schema)
        finally:
            if writer is not None:
                writer.close()
    return EmbedStats(rows, int(encoder.dim), time.perf_counter() - start, "local", str(out))


class RayEmbedBatch:
    """Ray Data actor: loads the encoder once, then embeds the batches it is given."""

    def __init__(self, model: str, column: str, threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from .features.text import make_encoder

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.column = column
        self.encoder = make_encoder(model)

    def __call__(self, batch: dict) -> dict:
        batch = dict(batch)
        batch["embedding"] = _encode_texts(self.encoder, list(batch[self.column]))
        return batch


def embed_ray(path: str | Path, column: str, out: str | Path, model: str = DEFAULT_MODEL,
              keep: list[str] | None = None, concurrency: int | None = None, batch_size: int = 256,
              num_cpus_per_actor: float = 1.0, address: str | None = None) -> EmbedStats:
    """The same embedding on Ray Data: read_parquet -> map_batches(RayEmbedBatch actors) -> one
    Parquet file in input order. Uses a running cluster (`address`, or RAY_ADDRESS) or starts a
    local one with the machine's cores."""
    try:
        import ray
    except ImportError:
        raise ConfigError("The Ray engine needs Ray Data: pip install 'matcher[ray]' "
                          "(or pip install 'ray[data]').") from None
    from .files import atomic_path

    path, out = Path(path), Path(out)
    pf = _check_input(path, column, keep)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows come back in input order
        ctx.enable_progress_bars = False
        # Leave one CPU for the Parquet read tasks: actors holding every CPU starve the reads and
        # the pipeline stalls (seen on a 2-CPU machine).
        cpus = float(ray.cluster_resources().get("CPU", 1))
        n_actors = concurrency or max(1, int((cpus - 1) // num_cpus_per_actor))
        if n_actors * num_cpus_per_actor > cpus - 1:
            num_cpus_per_actor = max(0.1, (cpus - 1) / n_actors) if cpus > 1 else 0.5 / n_actors
        columns = list(dict.fromkeys([*(keep if keep is not None else pf.schema_arrow.names), column]))
        start = time.perf_counter()
        ds = ray.data.read_parquet(str(path), columns=columns)
        ds = ds.map_batches(RayEmbedBatch, fn_constructor_kwargs={"model": model, "column": column,
                                                                 "threads": max(1, round(num_cpus_per_actor))},
                            batch_size=batch_size, batch_format="numpy", concurrency=n_actors,
                            num_cpus=num_cpus_per_actor)
        rows, writer, dim = 0, None, 0
        with atomic_path(out) as tmp:
            try:
                for batch in ds.iter_batches(batch_format="numpy", batch_size=4096):
                    vectors = np.asarray(batch["embedding"], dtype=np.float32)
                    dim = vectors.shape[1]
                    data = {name: batch[name] for name in columns if keep is None or name in keep}
                    table = pa.table({name: pa.array(list(values)) if values.dtype == object else pa.array(values)
                                      for name, values in data.items()})
                    table = table.cast(pa.schema([pf.schema_arrow.field(name) for name in table.column_names]))
                    table = table.append_column("embedding", _embedding_array(vectors))
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    rows += len(table)
            finally:
                if writer is not None:
                    writer.close()
            if writer is None:
                raise ConfigError(f"{path} has no rows to embed.")
        return EmbedStats(rows, dim, time.perf_counter() - start, f"ray ({n_actors} actors)", str(out))
    finally:
        if started:
            ray.shutdown()


def embed_parquet(path, column: str, out, model: str = DEFAULT_MODEL, engine: str = "local",
                  keep: list[str] | None = None, concurrency: int | None = None, batch_size: int = 256,
                  progress: Callable[[int], None] | None = None) -> EmbedStats:
    if engine == "local":
        return embed_local(path, column, out, model=model, keep=keep, progress=progress)
    if engine == "ray":
        return embed_ray(path, column, out, model=model, keep=keep, concurrency=concurrency, batch_size=batch_size)
    raise ConfigError(f"engine must be local or ray, got {engine!r}.")


def read_embeddings(path: str | Path, column: str = "embedding") -> np.ndarray:
    """The `embedding` column of an output file as an (n, d) float32 matrix."""
    table = pq.read_table(path, columns=[column])
    arr = table.column(column).combine_chunks()
    if len(arr) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return arr.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(arr), -1)
