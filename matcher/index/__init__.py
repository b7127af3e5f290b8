"""Vector index: FAISS inner product, saved with a manifest, refused on mismatch.

Everything outside this package imports from here, never from its modules."""
from .backends import BACKENDS, choose_index
from .exact import exact_search
from .store import (BUILD_MODES, FORMAT_VERSION, build_index, check_manifest, current_version_dir, layout_hash,
                    load_index, open_index, read_manifest, save_index)
from .vector_index import VectorIndex

__all__ = ["BACKENDS", "BUILD_MODES", "FORMAT_VERSION", "VectorIndex", "build_index", "check_manifest", "choose_index",
           "current_version_dir", "exact_search", "layout_hash", "load_index", "open_index", "read_manifest",
           "save_index"]
