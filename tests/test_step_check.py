"""gssd step-check: the 224-px profiles' stages one step each on a generated folder. CI runs the ImageNet-30 one at
224 px; here the VGGFace2-30 one (DenseNet-121, identities without a fixed list) runs at 64 px on a few images."""

from dataclasses import replace

import pytest

from gssd_utils.cli import main
from gssd_utils.experiments.step_check import step_check
from gssd_utils.profiles import resolve


def _small(name: str):
    profile = resolve(name, ["image_size=64", "ssl.batch_size=32", "classifier.batch_size=8", "flows.batch_size=4",
                                   "flows.min_class_size=4"])
    return replace(profile, attacks=("badnets", "blend"))  # WaNet's k=224 field needs the 224-px images


@pytest.mark.slow
def test_every_stage_runs_one_step_at_the_batch_it_reports():
    lines = []
    table = step_check(_small("paper-vggface2"), train_per_class=8, echo=lines.append).set_index("stage")
    stages = table.index.tolist()
    assert stages[0] == "load vggface2_30 (240 + 60 images at 64 px)"
    assert [s.split(" (")[0] for s in stages[1:3]] == ["poison: badnets", "poison: blend"]
    assert table.loc["simclr step (resnet18_imagenet, two views)", "batch"] == 32
    assert table.loc["flows: one epoch, all classes", "batch"] == 4
    assert table.loc["classifier step (densenet121) + test predictions", "batch"] == 8
    assert "detection (paper rule) + split" in stages and len(lines) == len(table)
    assert (table["peak memory (GiB)"] > 0).all()


def test_too_few_images_per_class_is_refused_before_training():
    with pytest.raises(ValueError, match=r"--per-class 2 leaves a class with \d images after poisoning, fewer than a "
                                         r"flow needs \(4\)\. Fix: --per-class 8"):
        step_check(_small("paper-imagenet30"), train_per_class=2)


def test_a_32px_profile_is_sent_to_the_paper_dryrun(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["step-check", "--profile", "paper"])
    assert exit_.value.code == 2
    assert "make book PROFILE=paper-dryrun" in capsys.readouterr().err
