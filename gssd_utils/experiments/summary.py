"""The summary chapter: every results file with its provenance, what each stage cost, and the sizes that scale.

At the ``paper-dryrun`` profile the stage table is the memory plan of a paper-scale run: every stage runs with the
paper's networks and batch sizes, so its peak memory is what one step of the real run needs, while the arrays
that grow with the data set are listed with their size at the dry run's scale and at the paper's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gssd_utils.profiles import Profile, get_profile


def result_files(folder: str | Path) -> dict[str, dict]:
    """Every results record below ``folder`` by its path relative to it (without ``.json``), sorted."""
    folder = Path(folder)
    records = {}
    for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
        record = json.loads(path.read_text())
        if "provenance" in record and "rows" in record:
            records[str(path.relative_to(folder).with_suffix(""))] = record
    return records


def stage_cost_table(records: dict[str, dict]) -> pd.DataFrame:
    """One row per stage of every results file: compute time, cache status and peak memory above its start."""
    rows = []
    for name, record in records.items():
        for stage, cost in record["provenance"].get("stages", {}).items():
            rows.append({"results file": name, "stage": stage, "compute (s)": cost.get("compute_s"),
                         "from cache": cost.get("cache"), "peak memory (MB)": cost.get("peak_mb"),
                         "device": record["provenance"].get("device")})
    return pd.DataFrame(rows)


def data_sizes(profile: Profile, feature_dim: int, num_classes: int = 10) -> pd.DataFrame:
    """The arrays whose size grows with the data set, at ``profile``'s size and at the paper's (in MB)."""
    paper = get_profile("paper")
    sizes = {  # name -> (bytes per training image, bytes per test image)
        "training images (uint8)": (3072, 0),
        "test images, clean and triggered (uint8)": (0, 2 * 3072),
        f"SimCLR features ({feature_dim}-d, float32)": (4 * feature_dim, 4 * feature_dim),
        f"log-likelihood matrix ({num_classes} flows, float64)": (8 * num_classes, 8 * num_classes),
        "kNN/energy similarity block (1,024 rows, float64)": (1024 * 8, 0),
    }

    def count(p: Profile) -> tuple[int, int]:
        return p.n_train or 50_000, p.n_test or 10_000

    here, full = count(profile), count(paper)
    rows = []
    for name, (per_train, per_test) in sizes.items():
        rows.append({"array": name,
                     f"at {profile.name} ({here[0]:,} / {here[1]:,}) MB": round(
                         (per_train * here[0] + per_test * here[1]) / 2**20, 1),
                     f"at paper ({full[0]:,} / {full[1]:,}) MB": round((per_train * full[0] + per_test * full[1])
                                                                       / 2**20, 1)})
    return pd.DataFrame(rows)
