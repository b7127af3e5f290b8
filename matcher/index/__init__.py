"""Vector index: FAISS inner product, saved with a manifest, refused on mismatch."""
from .store import (BUILD_MODES, FORMAT_VERSION, VectorIndex, build_index, check_manifest, layout_hash, load_index,
                    open_index, read_manifest, save_index)

__all__ = ["BUILD_MODES", "FORMAT_VERSION", "VectorIndex", "build_index", "check_manifest", "layout_hash", "load_index", "open_index",
           "read_manifest", "save_index"]
