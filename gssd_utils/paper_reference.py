"""Numbers published in the papers, kept apart from anything we measure.

Tables show these beside our own results, always labelled as the paper's. Sources: GSSD (Sabolić et al.,
BMVC 2024) Table 1, CIFAR-10, ResNet-18, 10% poisoning; Wang et al. (ICASSP 2023) Table 2 for the additive
chessboard, which GSSD does not evaluate (1,000 poisoned images).
"""

from __future__ import annotations

# attack -> (ACC %, ASR %, source)
NO_DEFENSE = {
    "badnets": (94.9, 100.0, "GSSD Tab. 1"),
    "blend": (94.2, 98.25, "GSSD Tab. 1"),
    "wanet": (94.3, 98.00, "GSSD Tab. 1"),
    "chessboard": (94.14, 99.9, "Wang et al. Tab. 2"),
}
