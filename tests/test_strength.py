"""Chapter 1's attack-strength table: the committed runs at the papers' rate and at 1%, merged per attack."""

import pandas as pd

from gssd_utils.experiments.strength import attack_strength
from gssd_utils.provenance import Provenance
from gssd_utils.results_io import write_results


def _run(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["attack", "rate", "ACC ours", "ASR ours"])
    return table.assign(**{"ACC paper": 94.9, "ASR paper": 100.0, "paper source": "GSSD Tab. 1"})


def test_attack_strength_merges_the_two_committed_runs_and_keeps_paper_numbers_at_the_paper_rate(tmp_path):
    assert attack_strength(tmp_path) is None
    paper_rate = Provenance(profile="quick", data={}, command="gssd no-defense --profile quick")
    write_results(_run([("badnets", 0.1, 80.8, 100.0), ("chessboard", 0.02, 81.4, 95.7)]), paper_rate,
                  tmp_path / "attack_strength" / "paper_rate", "no_defense")
    one_percent = Provenance(profile="quick", data={}, command="gssd no-defense --profile quick --rates 0.01")
    write_results(_run([("badnets", 0.01, 81.1, 99.9), ("wanet", 0.01, 80.0, 12.5)]), one_percent,
                  tmp_path / "attack_strength" / "one_percent", "no_defense")
    table, notes = attack_strength(tmp_path)
    assert list(table["attack"]) == ["badnets", "chessboard", "wanet"]
    badnets = table.set_index("attack").loc["badnets"]
    assert (badnets["ASR ours (paper rate)"], badnets["ASR ours (1%)"]) == (100.0, 99.9)
    assert table.columns[-3:].tolist() == ["ACC paper", "ASR paper", "paper source"]
    assert pd.isna(table.set_index("attack").loc["wanet", "ASR ours (paper rate)"])  # only run at 1%
    assert pd.isna(table.set_index("attack").loc["wanet", "ACC paper"])  # no paper number at a rate not run
    assert "`gssd no-defense --profile quick --rates 0.01`" in notes[1]
