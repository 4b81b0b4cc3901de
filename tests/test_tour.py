"""`losskit tour` and `losskit explain`: every number the tour prints is asserted here."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from losskit.batching import sample_batch
from losskit.chapter.tour import TOPICS, TourResult, run_explain, run_tour
from losskit.cli import main
from losskit.datasets import load_dataset


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[TourResult, list[str], Path]:
    out = tmp_path_factory.mktemp("tour")
    printed: list[str] = []
    return run_tour(out, emit=printed.append), printed, out


def test_chapter_numbers(tour: tuple[TourResult, list[str], Path]) -> None:
    f = tour[0].facts
    assert f["mse_right"] == pytest.approx(0.0975, abs=1e-15)
    assert f["cee_right"] == 0.510825457099338
    assert f["mse_wrong"] == pytest.approx(0.6975, abs=1e-15)
    assert f["cee_wrong"] == 16.11809565095832
    assert "0.510825457099338" in tour[1][1] and "16.11809565095832" in tour[1][1]


def test_minibatch_draw(tour: tuple[TourResult, list[str], Path]) -> None:
    f = tour[0].facts
    (x, t), _ = load_dataset("sample")
    batch = sample_batch(len(x), 100, rng=np.random.default_rng(0))
    assert (f["batch_size"], f["train_size"]) == (100, 10_000)
    assert f["batch_indices"] == batch[:5].tolist()
    assert f["batch_labels"] == t[batch[:5]].tolist()
    assert f["batch_loss"] == pytest.approx(math.log(10), abs=0.05)  # untrained: uniform


def test_short_training_learns(tour: tuple[TourResult, list[str], Path]) -> None:
    f = tour[0].facts
    assert f["train_iters"] == 1000
    assert f["acc_start"] < 0.3 < 0.85 < f["acc_end"]
    assert f["loss_end"] < f["loss_start"] / 5


def test_accuracy_is_a_staircase_and_the_loss_is_smooth(
    tour: tuple[TourResult, list[str], Path],
) -> None:
    f = tour[0].facts
    assert f["acc_flat"] >= 0.90  # accuracy's derivative is exactly 0 at ≥ 90 % of points
    assert f["loss_nonzero"] == 1.0  # the loss's is non-zero at all of them
    assert 10 < f["levels"] < f["sweep_points"] == 201


def test_step_vs_sigmoid(tour: tuple[TourResult, list[str], Path]) -> None:
    f = tour[0].facts
    assert f["step_flat"] == 1.0
    assert f["step_points"] == 601
    assert 0.002 < f["sigmoid_min"] < 0.0025  # σ'(±6) = 0.00247


def test_delta(tour: tuple[TourResult, list[str], Path]) -> None:
    f = tour[0].facts
    assert f["delta_small"] == pytest.approx(-math.log(1e-12 + 1e-7), rel=1e-12)
    assert f["nodelta_small"] == pytest.approx(-math.log(1e-12), rel=1e-12)
    assert f["delta_zero"] == pytest.approx(-math.log(1e-7), rel=1e-12)
    assert f["nodelta_zero"] == math.inf


def test_mse_vs_cross_entropy(tour: tuple[TourResult, list[str], Path]) -> None:
    f = tour[0].facts
    assert f["p_wrong"] > 0.99
    assert f["ratio"] > 100  # cross entropy's gradient is far larger on a confident mistake
    assert f["acc_ce"] > f["acc_mse"] + 0.2  # and it learns faster
    assert f["compare_iters"] == 300


def test_minibatch_estimate_improves_with_size(tour: tuple[TourResult, list[str], Path]) -> None:
    errors = tour[0].facts["minibatch_errors"]
    sizes = sorted(errors)
    assert sizes == [1, 10, 100, 1000]
    assert all(errors[a] > errors[b] for a, b in itertools.pairwise(sizes))
    assert errors[1000] < 0.05 and errors[100] < tour[0].facts["full_loss"] / 2


def test_every_printed_number_is_a_fact(tour: tuple[TourResult, list[str], Path]) -> None:
    """The paragraphs are formatted from the facts asserted above, nothing else."""
    result, printed, _out = tour
    for paragraph in result.paragraphs:
        assert paragraph in printed
    assert f"{result.facts['acc_flat']:.1%}" in printed[4]
    assert printed[-1].startswith("Finished in")


def test_figures_are_real_pictures(tour: tuple[TourResult, list[str], Path]) -> None:
    import matplotlib.image

    result, _, out = tour
    names = sorted(p.name for p in result.figures)
    assert names == sorted(f"{topic}.png" for topic in TOPICS)
    for path in result.figures:
        assert path.parent == out
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500
        assert pixels[..., :3].std() > 0.05  # not blank: axes, curves and text


def test_chinese_tour_has_the_same_numbers(
    tmp_path: Path, tour: tuple[TourResult, list[str], Path]
) -> None:
    printed: list[str] = []
    zh = run_tour(tmp_path, lang="zh", emit=printed.append)
    english = {k: v for k, v in tour[0].facts.items() if k != "seconds"}
    chinese = {k: v for k, v in zh.facts.items() if k != "seconds"}
    assert chinese == english
    assert "交叉熵误差" in printed[1] and printed[0].startswith("losskit 导览")


def test_explain_each_topic_via_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for topic in ("delta", "step-vs-sigmoid"):
        assert main(["explain", topic, "--out", str(tmp_path)]) == 0
        text = capsys.readouterr().out
        assert text.startswith(f"losskit explain {topic}")
        assert (tmp_path / f"{topic}.png").is_file()
    with pytest.raises(ValueError, match="unknown topic 'nope'"):
        run_explain("nope", tmp_path)
    with pytest.raises(SystemExit):
        main(["explain", "nope"])
    capsys.readouterr()


def test_tour_cli_names_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import losskit.chapter.tour

    def quick(out: Path, *, lang: str, emit: object) -> TourResult:
        return run_explain("delta", out, lang=lang, emit=emit)  # type: ignore[arg-type]

    monkeypatch.setattr(losskit.chapter.tour, "run_tour", quick)
    assert main(["tour", "--out", str(tmp_path / "t"), "--lang", "zh"]) == 0
    text = capsys.readouterr().out
    assert str(tmp_path / "t" / "delta.png") in text and "图像已保存到" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_one_experiment_alone_carries_no_tour_number(topic: str, lang: str, tmp_path: Path) -> None:
    lines: list[str] = []
    run_explain(topic, tmp_path, lang=lang, emit=lines.append)
    assert not any(re.match(r"\d+\. ", line) for line in lines), lines


def test_the_chinese_readme_shows_the_chapters_numbers_as_the_english_one() -> None:
    """README.zh.md's Python block is the English README's (its doctest runs there)."""
    root = Path(__file__).resolve().parents[1]
    zh = (root / "README.zh.md").read_text(encoding="utf-8")
    en = (root / "README.md").read_text(encoding="utf-8")
    assert "(README.zh.md)" in en.splitlines()[2]
    for line in ("0.09750000000000003", "0.510825457099338", "0.6975", "16.11809565095832"):
        assert line in zh and line in en
    assert "pip install . && losskit tour" in zh and 'pip install -e ".[test,jax,dask]"' in zh
