"""Replay buffer: budget and balance over several tasks, what each selection picks, save/load, validation sets."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from cffd_engine.continual import (
    HerdingSelection,
    HybridSelection,
    RandomSelection,
    ReplayBuffer,
    SampleError,
    SampleSet,
    ValidationSets,
    hold_out,
    source_of,
)
from cffd_engine.continual.buffer import stored_counts, stored_genuine_faces
from cffd_engine.continual.samples import FAKE, REAL
from cffd_engine.continual.selection import Ranking, hardness_order, herding_order, kcenter_order, uncertainty
from cffd_engine.fileio import atomic_write_json
from tests.engine.continual_fixtures import make_task


def reference_herding(embeddings: torch.Tensor) -> list[int]:
    """iCaRL's herding written as plainly as possible."""
    z = F.normalize(embeddings.double(), dim=1)
    mu = z.mean(0)
    chosen: list[int] = []
    for k in range(1, len(z) + 1):
        best, best_distance = None, None
        for i in range(len(z)):
            if i in chosen:
                continue
            mean = (sum((z[j] for j in chosen), torch.zeros_like(mu)) + z[i]) / k
            distance = float((mu - mean).norm())
            if best_distance is None or distance < best_distance:
                best, best_distance = i, distance
        chosen.append(best)
    return chosen


def ranked(count: int) -> Ranking:
    return Ranking(list(range(count)), ["random"] * count, [float(i) for i in range(count)])


def test_budget_and_balance_hold_after_each_of_several_tasks():
    buffer = ReplayBuffer(budget=50, image_size=32)
    selection = RandomSelection()
    for t in range(5):
        task = make_task(f"task{t}", 40, seed=t)
        generator = torch.Generator().manual_seed(t)
        rankings = {
            label: selection.rank(torch.zeros(20, 4), torch.full((20, 2), 0.5), generator) for label in (0, 1)
        }
        buffer.add_task(f"task{t}", task, rankings, selection)
        tasks_seen = t + 1
        share = 50 // tasks_seen // 2
        assert len(buffer) <= 50
        assert buffer.tasks == [f"task{i}" for i in range(tasks_seen)]
        for name, counts in buffer.counts().items():
            assert counts == {"real": min(share, 20), "fake": min(share, 20)}, name
        assert buffer.samples.labels.sum() * 2 == len(buffer)  # balanced overall


def test_shrinking_keeps_each_tasks_best_ranked_samples():
    buffer = ReplayBuffer(budget=20, image_size=32)
    task = make_task("first", 40)
    reals = torch.nonzero(task.labels == 0).flatten().tolist()
    # Rank the reals in reverse order of their position: the best is the last real.
    order = list(range(20))[::-1]
    rankings = {0: Ranking(order, ["hard"] * 20, [float(i) for i in range(20)]), 1: ranked(20)}
    buffer.add_task("first", task, rankings, HybridSelection())
    assert buffer.counts()["first"] == {"real": 10, "fake": 10}
    buffer.add_task("second", make_task("second", 40), {0: ranked(20), 1: ranked(20)}, RandomSelection())
    kept = [
        buffer.samples.ids[i]
        for i, (t, label) in enumerate(zip(buffer.samples.tasks, buffer.samples.labels, strict=True))
        if t == "first" and label == 0
    ]
    expected = [task.ids[reals[local]] for local in order[:5]]
    assert kept == expected
    assert buffer.counts() == {"first": {"real": 5, "fake": 5}, "second": {"real": 5, "fake": 5}}


def test_herding_follows_the_running_class_mean():
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(12, 5, generator=generator)
    assert herding_order(embeddings)[0] == reference_herding(embeddings)
    # Constructed case: the sample at the class mean comes first, then the pair that keeps the mean.
    points = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071], [0.6, 0.8]])
    order, _ = herding_order(points)
    assert order[0] == 2
    ranking = HerdingSelection().rank(points, torch.full((4, 2), 0.5), generator)
    assert ranking.order == order and set(ranking.kinds) == {"representative"}


def test_hybrid_picks_the_smallest_margins_as_hard_samples():
    p_fake = torch.tensor([0.99, 0.52, 0.80, 0.45, 0.97, 0.60, 0.05, 0.70])
    probabilities = torch.stack([1 - p_fake, p_fake], dim=1)
    margins, entropy = uncertainty(probabilities)
    by_margin = torch.argsort(margins).tolist()  # 3 (0.1), 1 (0.04)... computed, not assumed
    assert hardness_order(probabilities)[0] == by_margin
    assert torch.argsort(-entropy).tolist() == by_margin  # two classes: entropy agrees with margin
    embeddings = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))

    only_hard = HybridSelection(hard_fraction=1.0).rank(embeddings, probabilities, torch.Generator())
    assert only_hard.order == by_margin and set(only_hard.kinds) == {"hard"}

    half = HybridSelection(hard_fraction=0.5).rank(embeddings, probabilities, torch.Generator())
    assert half.kinds == ["hard", "representative"] * 4  # every prefix keeps the ratio
    hard = [i for i, kind in zip(half.order, half.kinds, strict=True) if kind == "hard"]
    assert hard[:2] == by_margin[:2]  # the two smallest margins are the first hard picks
    # Reference merge: alternately the next not-yet-taken sample by margin and by herding.
    herding, taken, expected = herding_order(embeddings)[0], [], []
    for kind in half.kinds:
        queue = by_margin if kind == "hard" else herding
        expected.append(next(i for i in queue if i not in taken))
        taken.append(expected[-1])
    assert half.order == expected and sorted(half.order) == list(range(8))


def test_hybrid_combines_margin_and_entropy_by_rank_with_three_classes():
    # Sample 0: small margin, low entropy; sample 1: larger margin, high entropy; 2: confident.
    probabilities = torch.tensor([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.98, 0.01, 0.01]])
    order, scores = hardness_order(probabilities)
    assert order[-1] == 2
    assert scores[0] == scores[1]  # each wins one criterion: tied on the mean rank


def test_kcenter_spreads_out():
    points = torch.tensor([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [-1.0, 0.0]])
    order, _ = kcenter_order(points)
    assert set(order[:3]) >= {3} and sorted(order) == [0, 1, 2, 3]


def test_random_selection_is_seeded():
    a = RandomSelection().rank(torch.zeros(10, 2), torch.zeros(10, 2), torch.Generator().manual_seed(5))
    b = RandomSelection().rank(torch.zeros(10, 2), torch.zeros(10, 2), torch.Generator().manual_seed(5))
    assert a.order == b.order and sorted(a.order) == list(range(10))


def test_buffer_save_load_round_trip_is_identical(tmp_path):
    buffer = ReplayBuffer(budget=24, image_size=32)
    for t, selection in enumerate((HybridSelection(0.25), HerdingSelection())):
        task = make_task(f"t{t}", 30, seed=t)
        generator = torch.Generator().manual_seed(t)
        embeddings = torch.randn(15, 6, generator=generator)
        probabilities = torch.softmax(torch.randn(15, 2, generator=generator), 1)
        buffer.add_task(
            f"t{t}",
            task,
            {label: selection.rank(embeddings, probabilities, generator) for label in (0, 1)},
            selection,
        )
    buffer.save(tmp_path / "replay")
    assert sorted(p.name for p in (tmp_path / "replay").iterdir()) == ["index.json", "samples.safetensors"]
    loaded = ReplayBuffer.load(tmp_path / "replay")
    assert torch.equal(loaded.samples.images, buffer.samples.images)
    assert torch.equal(loaded.samples.labels, buffer.samples.labels)
    assert loaded.samples.tasks == buffer.samples.tasks and loaded.samples.ids == buffer.samples.ids
    assert (loaded.ranks, loaded.kinds, loaded.scores) == (buffer.ranks, buffer.kinds, buffer.scores)
    assert (loaded.budget, loaded.tasks, loaded.selections) == (
        buffer.budget,
        buffer.tasks,
        buffer.selections,
    )
    assert loaded.selections["t0"] == {"name": "hybrid", "hard_fraction": 0.25, "representative": "herding"}
    loaded.save(tmp_path / "again")
    for name in ("index.json", "samples.safetensors"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "replay" / name).read_bytes()


def test_a_damaged_buffer_is_refused_with_its_folder(tmp_path):
    buffer = ReplayBuffer(budget=10, image_size=32)
    buffer.add_task("t", make_task("t", 10), {0: ranked(5), 1: ranked(5)}, RandomSelection())
    folder = buffer.save(tmp_path / "replay")
    index = json.loads((folder / "index.json").read_text())
    index["labels"][0] = 1 - index["labels"][0]
    atomic_write_json(folder / "index.json", index)
    with pytest.raises(SampleError, match="disagree"):
        ReplayBuffer.load(folder)
    (folder / "samples.safetensors").unlink()
    with pytest.raises(SampleError, match="samples.safetensors is missing"):
        ReplayBuffer.load(folder)
    ValidationSets().save(tmp_path / "validation")
    with pytest.raises(SampleError, match="not a replay buffer"):
        ReplayBuffer.load(tmp_path / "validation")


def test_hold_out_is_balanced_disjoint_and_keeps_videos_together():
    task = make_task("t", 60)
    rest, held = hold_out(task, size=20, seed=3)
    assert held.counts() == {"real": 10, "fake": 10}
    assert len(rest) == 40 and not set(rest.ids) & set(held.ids)
    task.groups = [f"video{i // 3}" for i in range(60)]  # three crops per "video", labels alternate
    task.labels = torch.tensor([(i // 3) % 2 for i in range(60)])
    rest, held = hold_out(task, size=12, seed=0)
    assert not set(rest.groups) & set(held.groups)


@pytest.mark.parametrize("seed", range(6))
def test_a_forgery_and_its_genuine_twin_are_held_out_together(seed):
    """Two sources, each a forgery and its untouched twin (as `cffd synth video` and the demo name them):
    held out apart, a model could learn who is in the video and the figures would say the opposite."""
    files = ["/fake/a_morph.mp4", "/genuine/a_morph_pristine.mp4", "/fake/b.mp4", "/genuine/b_pristine.mp4"]
    task = make_task("t", 40)
    task.groups = [files[i // 10] for i in range(40)]
    task.labels = torch.tensor([1 - (i // 10) % 2 for i in range(40)])  # the forgeries fake, the twins real
    rest, held = hold_out(task, size=20, seed=seed)
    assert held.counts() == {"real": 10, "fake": 10}
    assert {source_of(group) for group in held.groups} in ({"a_morph"}, {"b"})
    assert not {source_of(group) for group in rest.groups} & {source_of(group) for group in held.groups}
    assert source_of("/x/demo_manipulated.mp4") == source_of("/y/demo_pristine.mp4") == "demo"


def test_validation_sets_round_trip_per_task(tmp_path):
    sets = ValidationSets(32)
    sets.add("a", make_task("x", 10))
    sets.add("b", make_task("y", 6))
    sets.save(tmp_path / "validation")
    loaded = ValidationSets.load(tmp_path / "validation")
    assert loaded.tasks == ["a", "b"] and len(loaded.get("a")) == 10 and set(loaded.get("b").tasks) == {"b"}
    assert torch.equal(loaded.get("b").images, sets.get("b").images)
    with pytest.raises(KeyError):
        loaded.get("c")


def test_sample_sets_check_their_shape():
    with pytest.raises(ValueError, match="uint8"):
        SampleSet(torch.zeros(2, 3, 8, 8), torch.zeros(2))
    with pytest.raises(ValueError, match="disagree"):
        SampleSet(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(3))


def test_a_saved_buffers_faces_are_counted_per_task_and_label_from_its_index(tmp_path):
    buffer = ReplayBuffer(budget=100, image_size=32)
    kept = {"a": {"real": 3, "fake": 7}, "b": {"real": 5, "fake": 2}}
    for seed, (task, wanted) in enumerate(kept.items()):
        rankings = {REAL: ranked(wanted["real"]), FAKE: ranked(wanted["fake"])}
        buffer.add_task(task, make_task(task, 40, seed=seed), rankings, RandomSelection())
    buffer.save(tmp_path / "replay")
    assert stored_counts(tmp_path / "replay") == kept == buffer.counts()
    assert stored_genuine_faces(tmp_path / "replay") == 3 + 5
    # a model shared without its faces, or an index that is not one: nothing to count
    assert stored_counts(tmp_path / "nowhere") == {} and stored_genuine_faces(tmp_path / "nowhere") == 0
    (tmp_path / "replay" / "index.json").write_text("{", encoding="utf-8")
    assert stored_counts(tmp_path / "replay") == {}
