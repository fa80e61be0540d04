"""Numbers published in the papers, kept apart from anything we measure.

Tables show these beside our own results, always labelled as the paper's. Sources: GSSD (Sabolić et al.,
BMVC 2024) Table 1, CIFAR-10, ResNet-18, 10% poisoning, and its ImageNet-30 (ResNet-18) and VGGFace2-30
(DenseNet-121) rows; Wang et al. (ICASSP 2023) Table 2 for the additive chessboard, which GSSD does not evaluate
(1,000 poisoned images).
"""

from __future__ import annotations

# attack -> the poisoning rate (share of the whole training set) at which the papers report it: GSSD §5.1;
# Wang et al. poison 1,000 of 50,000 images with the chessboard
PAPER_RATE = {"badnets": 0.10, "blend": 0.10, "wanet": 0.10, "chessboard": 0.02, "adap_blend": 0.01,
              "adap_patch": 0.01, "issba": 0.10, "lc": 0.025}

# attack -> (ACC %, ASR %, source)
NO_DEFENSE = {
    "badnets": (94.9, 100.0, "GSSD Tab. 1"),
    "blend": (94.2, 98.25, "GSSD Tab. 1"),
    "wanet": (94.3, 98.00, "GSSD Tab. 1"),
    "chessboard": (94.14, 99.9, "Wang et al. Tab. 2"),
    "adap_blend": (95.0, 64.9, "GSSD Tab. 1"),
    "adap_patch": (95.2, 80.9, "GSSD Tab. 1"),
    "issba": (94.5, 100.0, "GSSD Tab. 1"),
    "lc": (94.9, 99.33, "GSSD Tab. 1"),
}

# attack -> (ACC %, ASR %) of GSSD itself, GSSD Tab. 1 (CIFAR-10); GSSD does not evaluate the chessboard.
GSSD_DEFENDED = {
    "badnets": (91.7, 0.14),
    "blend": (92.2, 0.77),
    "wanet": (93.7, 1.35),
    "lc": (92.8, 0.06),
    "issba": (93.9, 0.62),
    "adap_patch": (92.4, 0.23),
    "adap_blend": (92.7, 0.22),
}


# defense -> attack -> (ACC %, ASR %): the baselines of GSSD Tab. 1 (CIFAR-10, ResNet-18, their rates above). NAD and
# ASD use clean data. The kNN and energy rows are Wang et al.'s (Tab. 2), at their own rates (WANG_RATE).
TABLE1 = {
    "nad": {"badnets": (88.2, 4.60), "blend": (85.8, 3.40), "wanet": (71.3, 6.70), "lc": (86.4, 9.50),
            "issba": (90.7, 0.64), "adap_patch": (91.1, 2.96), "adap_blend": (88.3, 2.11)},
    "abl": {"badnets": (93.8, 1.10), "blend": (91.9, 1.60), "wanet": (84.1, 2.20), "lc": (86.6, 1.30),
            "issba": (89.2, 1.20), "adap_patch": (81.9, 0.00), "adap_blend": (91.5, 81.93)},
    "dbd": {"badnets": (92.4, 0.96), "blend": (92.2, 1.73), "wanet": (91.2, 0.39), "lc": (89.7, 0.01),
            "issba": (83.2, 0.53), "adap_patch": (92.9, 1.77), "adap_blend": (90.1, 99.97)},
    "asd": {"badnets": (92.1, 3.00), "blend": (93.4, 1.00), "wanet": (93.3, 1.20), "lc": (93.1, 0.90),
            "issba": (92.4, 2.13), "adap_patch": (93.6, 100.0), "adap_blend": (94.0, 93.90)},
}
# GSSD Tab. 1, the 224-px data sets (BadNets, Blend and WaNet at 10%): data set -> defense -> attack -> (ACC %, ASR %)
TABLE1_224 = {
    "imagenet30": {
        "none": {"badnets": (95.3, 99.98), "blend": (93.7, 99.93), "wanet": (93.5, 100.0)},
        "nad": {"badnets": (92.7, 0.42), "blend": (90.0, 0.51), "wanet": (90.7, 0.56)},
        "abl": {"badnets": (94.3, 0.24), "blend": (93.1, 0.14), "wanet": (92.0, 1.33)},
        "dbd": {"badnets": (91.2, 0.54), "blend": (90.3, 0.58), "wanet": (90.5, 0.48)},
        "asd": {"badnets": (90.7, 9.72), "blend": (89.9, 2.07), "wanet": (88.8, 2.89)},
        "gssd": {"badnets": (94.8, 0.00), "blend": (93.5, 0.45), "wanet": (93.4, 1.33)},
    },
    "vggface2_30": {
        "none": {"badnets": (93.2, 100.0), "blend": (92.8, 99.95), "wanet": (93.7, 99.60)},
        "nad": {"badnets": (56.1, 6.50), "blend": (50.8, 7.30), "wanet": (50.4, 4.20)},
        "abl": {"badnets": (93.9, 2.67), "blend": (93.4, 5.40), "wanet": (93.2, 1.48)},
        "dbd": {"badnets": (90.3, 0.00), "blend": (90.2, 0.04), "wanet": (87.2, 0.00)},
        "asd": {"badnets": (96.7, 98.12), "blend": (96.0, 0.18), "wanet": (96.9, 96.51)},
        "gssd": {"badnets": (95.2, 0.09), "blend": (94.2, 0.42), "wanet": (94.9, 0.14)},
    },
}
CIFAR_LIKE = ("cifar10", "digits32")  # the data sets shown beside the paper's CIFAR-10 rows
SOURCE_224 = {"imagenet30": "GSSD Tab. 1 (ImageNet-30)", "vggface2_30": "GSSD Tab. 1 (VGGFace2-30)"}

# Wang et al. poison 1,000 of 50,000 images (2%) with their own BadNet, blend and additive variants, 5,000 with WaNet
WANG_RATE = {"chessboard": 0.02, "badnets": 0.02, "blend": 0.02, "wanet": 0.10}


# GSSD Tab. 4 (CIFAR-10): (training data, fine-tuned on D'_P) -> attack -> (ACC %, ASR %)
TABLE4 = {
    ("Original (D)", False): {"badnets": (94.5, 100.0), "blend": (94.2, 98.32), "wanet": (94.5, 99.12),
                              "adap_patch": (95.2, 80.95)},
    ("Original (D)", True): {"badnets": (93.6, 1.48), "blend": (92.0, 1.30), "wanet": (94.0, 3.47),
                             "adap_patch": (94.3, 8.01)},
    ("Cleansed (D_C)", False): {"badnets": (93.8, 95.92), "blend": (94.0, 51.00), "wanet": (93.6, 5.30),
                                "adap_patch": (93.4, 0.18)},
    ("Cleansed (D_C ∪ D'_P)", False): {"badnets": (93.8, 3.69), "blend": (93.5, 10.47), "wanet": (93.5, 2.58),
                                       "adap_patch": (92.2, 0.10)},
    ("Cleansed (D_C)", True): {"badnets": (91.7, 0.14), "blend": (92.2, 0.77), "wanet": (93.7, 1.35),
                               "adap_patch": (92.4, 0.23)},
}

# GSSD Tab. 2 (CIFAR-10): poisoning rate -> attack -> {"no defense": (ACC, ASR), "gssd": (ACC, ASR)}
TABLE2 = {
    0.01: {"badnets": {"no defense": (95.2, 99.96), "gssd": (91.2, 0.04)},
           "blend": {"no defense": (95.2, 94.52), "gssd": (91.7, 0.05)},
           "wanet": {"no defense": (94.7, 60.05), "gssd": (91.1, 0.01)}},
    0.05: {"badnets": {"no defense": (94.5, 100.0), "gssd": (93.5, 0.47)},
           "blend": {"no defense": (94.7, 99.34), "gssd": (93.5, 1.30)},
           "wanet": {"no defense": (94.4, 95.70), "gssd": (93.4, 0.52)}},
    0.10: {"badnets": {"no defense": (95.0, 100.0), "gssd": (91.7, 0.14)},
           "blend": {"no defense": (94.6, 99.69), "gssd": (92.2, 0.77)},
           "wanet": {"no defense": (94.5, 99.00), "gssd": (93.7, 1.35)}},
    0.15: {"badnets": {"no defense": (94.5, 100.0), "gssd": (92.8, 0.44)},
           "blend": {"no defense": (94.3, 99.92), "gssd": (92.1, 0.94)},
           "wanet": {"no defense": (94.2, 99.71), "gssd": (93.0, 0.83)}},
    0.20: {"badnets": {"no defense": (94.5, 100.0), "gssd": (91.6, 1.20)},
           "blend": {"no defense": (94.4, 99.90), "gssd": (89.6, 1.90)},
           "wanet": {"no defense": (94.1, 98.83), "gssd": (92.5, 1.00)}},
}

# GSSD Tab. 3 (CIFAR-10): feature extractor -> attack -> (ACC %, ASR %)
TABLE3 = {
    "RN-18 supervised": {"badnets": (75.1, 6.00), "blend": (76.7, 76.40), "wanet": (92.4, 0.42)},
    "RN-50 CLIP": {"badnets": (91.1, 0.10), "blend": (93.0, 0.88), "wanet": (94.0, 0.81)},
    "RN-18 self-sup (SimCLR)": {"badnets": (91.7, 0.14), "blend": (92.2, 0.77), "wanet": (93.7, 1.35)},
}

# Wang et al. Tab. 2 (CIFAR-10, 1,000 poisons; 5,000 for WaNet): method -> attack -> (ACC %, ASR %). Their BadNet
# (a random 3x3 noise patch) and blend (a local 3x3 patch, alpha 0.4) are not GSSD's; only WaNet and the additive
# chessboard are the same attacks as ours.
WANG_TABLE2 = {
    "none": {"chessboard": (94.14, 99.9), "badnets": (94.19, 98.4), "blend": (94.14, 99.9), "wanet": (93.11, 67.6)},
    "knn": {"chessboard": (91.46, 2.6), "badnets": (92.37, 4.2), "blend": (92.13, 4.2), "wanet": (92.24, 3.6)},
    "energy": {"chessboard": (91.91, 2.8), "badnets": (92.12, 4.9), "blend": (92.10, 2.5), "wanet": (91.25, 1.3)},
}


def published(defense: str, attack: str, rate: float, dataset: str = "cifar10"
              ) -> tuple[float | None, float | None, str]:
    """(ACC %, ASR %, source) a paper reports for ``defense`` against ``attack`` at ``rate`` on ``dataset``; Nones
    and "" when no paper ran that combination (another rate, another attack variant, a defense no paper has).

    A paper number beside ours is only a comparison at the same poisoning rate: at any other the column stays
    empty rather than suggest one. The 224-px data sets have their own rows; the smoke profile's digits stand in
    for CIFAR-10 and are shown beside its rows; a user's own data set has no paper row.
    """
    def same(paper_rate: float) -> bool:
        return abs(rate - paper_rate) < 1e-9

    if dataset in TABLE1_224:
        row = TABLE1_224[dataset].get(defense, {}).get(attack)
        return (*row, SOURCE_224[dataset]) if row and same(0.10) else (None, None, "")
    if dataset not in CIFAR_LIKE:
        return None, None, ""

    if defense in ("knn", "energy"):
        if attack in ("wanet", "chessboard") and same(WANG_RATE[attack]):  # their BadNet and blend are other attacks
            return (*WANG_TABLE2[defense][attack], "Wang et al. Tab. 2")
        return None, None, ""
    if attack not in PAPER_RATE or not same(PAPER_RATE[attack]):
        return None, None, ""
    if defense == "none":
        return NO_DEFENSE[attack]
    table = GSSD_DEFENDED if defense == "gssd" else TABLE1.get(defense, {})
    return (*table[attack], "GSSD Tab. 1") if attack in table else (None, None, "")

