"""Strategies and the trainer: EWC's penalty, CFFD's terms, progress, cancel and resume to the same weights."""

from __future__ import annotations

import copy

import pytest
import torch

from cffd_engine.config import ConfigError, read_continual_settings
from cffd_engine.continual import (
    ContinualSettings,
    StrategyConfig,
    Trainer,
    TrainerCallback,
    TrainSettings,
    build_strategy,
    update_settings,
)
from cffd_engine.continual.strategies import Batch
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.model import RSIANet, inference_copy
from cffd_engine.model.device import cpu_threads
from tests.engine.continual_fixtures import make_task, tiny_config


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """Same seed and one thread: CPU training is then bit-for-bit reproducible."""
    with cpu_threads(1):
        yield


@pytest.fixture(scope="module")
def trained_tiny():
    torch.manual_seed(0)
    model = RSIANet(tiny_config())
    with cpu_threads(1):
        Trainer(TrainSettings(device="cpu", epochs=1, batch_size=16)).fit(
            model, build_strategy("ft"), make_task("a", 32), 0
        )
    return model.eval()


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away_from_it(trained_tiny):
    model = copy.deepcopy(trained_tiny)
    ewc = build_strategy(StrategyConfig(name="ewc", fisher_samples=8))
    assert ewc.penalty(model).item() == 0.0  # nothing consolidated yet
    ewc.consolidate(model, make_task("a", 16))
    assert all((f >= 0).all() for f in ewc.fisher.values())
    assert sum(float(f.sum()) for f in ewc.fisher.values()) > 0
    assert ewc.penalty(model).item() == 0.0
    direction = {n: torch.randn_like(p) for n, p in model.named_parameters()}
    penalties = []
    for step in (0.01, 0.02, 0.04):
        moved = copy.deepcopy(model)
        with torch.no_grad():
            for name, parameter in moved.named_parameters():
                parameter.add_(step * direction[name])
        penalties.append(ewc.penalty(moved).item())
    assert 0 < penalties[0] < penalties[1] < penalties[2]
    assert penalties[1] == pytest.approx(4 * penalties[0], rel=1e-3)  # quadratic


def test_online_ewc_accumulates_fisher(trained_tiny):
    ewc = build_strategy(StrategyConfig(name="ewc", fisher_samples=4, ewc_gamma=0.5))
    ewc.consolidate(trained_tiny, make_task("a", 8))
    first = {n: f.clone() for n, f in ewc.fisher.items()}
    ewc.consolidate(trained_tiny, make_task("a", 8))
    name = next(iter(first))
    torch.testing.assert_close(ewc.fisher[name], 1.5 * first[name])


def test_cffd_distils_on_replayed_samples_against_a_frozen_teacher(trained_tiny):
    model = copy.deepcopy(trained_tiny)
    cffd = build_strategy(StrategyConfig(name="cffd", hscl_projection_dim=8))
    cffd.before_task(model, 0, make_task("a", 8), None)
    assert cffd.teacher is None and set(cffd.trainable_modules()) == {"hscl"}
    cffd.before_task(model, 1, make_task("b", 8), make_task("a", 8))
    assert cffd.teacher is not None and not any(p.requires_grad for p in cffd.teacher.parameters())
    assert cffd.teacher.inference_only  # batch norms folded: it answers faster, and cannot be trained
    images = make_task("b", 6).float_images()
    batch = Batch(
        images, torch.tensor([0, 1, 0, 1, 0, 1]), torch.tensor([False, False, True, True, True, True])
    )
    mask = cffd.teacher_mask(batch)
    assert mask.tolist() == batch.replay.tolist()
    model.eval()  # same mode as the teacher: an unchanged student has nothing to distil
    with torch.no_grad():
        terms = cffd.losses(model(images), batch, cffd.teacher(images[mask]), mask, model)
    assert set(terms) == {"ce", "hscl", "slkd", "mfkd"}
    assert float(terms["slkd"]) == pytest.approx(0.0, abs=1e-6)
    assert float(terms["mfkd"]) == pytest.approx(0.0, abs=1e-6)


def test_strategies_share_first_tasks_only_when_trained_the_same_way():
    signatures = {
        name: build_strategy(name).first_task_signature() for name in ("ft", "lwf", "ewc", "er", "icarl")
    }
    assert len({str(s) for s in signatures.values()}) == 1
    assert build_strategy("cffd").first_task_signature() != signatures["ft"]
    no_hscl = build_strategy(StrategyConfig(name="cffd", lambda_hscl=0.0)).first_task_signature()
    assert no_hscl == signatures["ft"]
    assert build_strategy("er").selection().name == "random"
    assert build_strategy("icarl").selection().name == "herding"
    assert build_strategy("cffd").selection().name == "hybrid"
    assert build_strategy("lwf").selection() is None and build_strategy("ft").selection() is None


def test_settings_round_trip_through_json(tmp_path):
    settings = ContinualSettings(
        StrategyConfig(name="icarl", lambda_kd=2.0), TrainSettings(device="cpu", epochs=3), replay_budget=42
    )
    path = settings.save(tmp_path / "settings.json")
    assert read_continual_settings(path) == settings
    path.write_text('{"strategy": {"name": "magic"}}')
    with pytest.raises(
        ConfigError, match=r"settings.json: \[strategy\] name: 'magic' is not one of these \(allowed: ft,"
    ):
        read_continual_settings(path)
    with pytest.raises(ValueError, match="unknown strategy"):
        StrategyConfig(name="magic")
    with pytest.raises(ValueError, match="lamda_kd"):
        StrategyConfig.from_dict({"lamda_kd": 1})


def test_an_update_starts_from_the_paper_cffd_with_slkd_on_the_new_faces_too_for_five_passes_early_layers_kept():
    paper = ContinualSettings().to_dict()
    preset = update_settings().to_dict()
    assert preset["strategy"].pop("slkd_on_new") is True and paper["strategy"].pop("slkd_on_new") is False
    assert preset["strategy"].pop("lambda_slkd") == 0.6 and paper["strategy"].pop("lambda_slkd") == 0.3
    assert preset["train"].pop("epochs") == 5 and paper["train"].pop("epochs") == 10
    assert (
        preset["train"].pop("freeze_early_layers") is True
        and paper["train"].pop("freeze_early_layers") is False
    )
    assert preset == paper  # nothing else moves away from the paper's CFFD

    changed = update_settings({"strategy": {"lambda_mfkd": 2.0}, "train": {"epochs": 2}, "replay_budget": 7})
    assert (changed.strategy.lambda_mfkd, changed.train.epochs, changed.replay_budget) == (2.0, 2, 7)
    # A change names the fields it replaces; the preset's other fields stay.
    assert changed.strategy.slkd_on_new and changed.strategy.lambda_slkd == 0.6
    assert changed.train.learning_rate == TrainSettings().learning_rate
    assert update_settings({"strategy": {"slkd_on_new": False}}).strategy.slkd_on_new is False
    with pytest.raises(ValueError, match="lamda_slkd"):
        update_settings({"strategy": {"lamda_slkd": 1.0}})


class CancelAt(TrainerCallback):
    def __init__(self, job: JobControl, epoch: int, step: int):
        self.job, self.epoch, self.step = job, epoch, step
        self.steps: list[tuple[int, int]] = []
        self.checkpoints: list[int] = []

    def on_step(self, progress):
        self.steps.append((progress.epoch, progress.step))
        assert set(progress.losses) >= {"ce", "total"} and progress.samples_per_second > 0
        if (progress.epoch, progress.step) == (self.epoch, self.step):
            self.job.cancel()

    def on_checkpoint(self, path, epoch):
        self.checkpoints.append(epoch)


def _cffd_run(checkpoint_dir, callbacks=(), job=None):
    """A CFFD second task (teacher, HSCL heads, replay) on a fixed starting model."""
    torch.manual_seed(1)
    model = RSIANet(tiny_config())
    strategy = build_strategy(StrategyConfig(name="cffd", hscl_projection_dim=8))
    settings = TrainSettings(device="cpu", epochs=3, batch_size=16, lr_step_epochs=1, seed=7)
    trainer = Trainer(settings, callbacks, job)
    summary = trainer.fit(
        model, strategy, make_task("b", 24, "stripes"), 1, make_task("a", 12), "b", checkpoint_dir
    )
    return model, strategy, summary


def test_a_cancelled_run_resumes_from_its_checkpoint_to_the_same_weights(tmp_path):
    reference, reference_strategy, reference_summary = _cffd_run(None)

    job = JobControl()
    cancel = CancelAt(job, epoch=2, step=2)
    with pytest.raises(Cancelled):
        _cffd_run(tmp_path / "ckpt", [cancel], job)
    assert cancel.checkpoints == [1]
    assert (tmp_path / "ckpt" / "checkpoint.json").is_file()

    reported: list[float] = []
    resumed_callback = CancelAt(JobControl(), epoch=-1, step=-1)
    model, strategy, summary = _cffd_run(
        tmp_path / "ckpt", [resumed_callback], JobControl(lambda f, m: reported.append(f))
    )
    assert summary.resumed_from_epoch == 1
    assert resumed_callback.steps[0] == (2, 1)  # it did not redo epoch 1
    assert reported[-1] == 1.0
    for (name, a), b in zip(reference.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(reference_strategy.hscl.parameters(), strategy.hscl.parameters(), strict=True):
        assert torch.equal(a, b)
    assert summary.history == reference_summary.history
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "checkpoint.json",
        "epoch-003.safetensors",
    ]


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path):
    def run(seed: int):
        torch.manual_seed(1)
        settings = TrainSettings(device="cpu", epochs=1, batch_size=16, seed=seed)
        return Trainer(settings).fit(
            RSIANet(tiny_config()), build_strategy("ft"), make_task("b", 24), 1, None, "b", tmp_path
        )

    assert run(seed=8).resumed_from_epoch == 0
    assert run(seed=8).resumed_from_epoch == 1  # the same run again: nothing left to train
    summary = run(seed=9)  # another seed: another run
    assert summary.resumed_from_epoch == 0 and summary.steps == 2


@pytest.mark.parametrize("name", ["ft", "lwf", "ewc", "er", "icarl", "cffd"])
def test_every_strategy_trains_through_the_one_trainer(name, trained_tiny):
    model = copy.deepcopy(trained_tiny)
    config = StrategyConfig(name=name, fisher_samples=4, hscl_projection_dim=8)
    strategy = build_strategy(config)
    memory = make_task("a", 8)
    before = copy.deepcopy(model.state_dict())
    summary = Trainer(TrainSettings(device="cpu", epochs=1, batch_size=8)).fit(
        model, strategy, make_task("b", 16), 1, memory, "b"
    )
    assert summary.replay_samples == (8 if strategy.uses_replay else 0)
    assert summary.steps == (3 if strategy.uses_replay else 2)
    expected = {"ft": {"ce"}, "er": {"ce"}, "lwf": {"ce", "kd"}, "icarl": {"ce", "kd"}, "ewc": {"ce", "ewc"}}
    assert set(summary.final_losses) - {"total", "steps"} == expected.get(
        name, {"ce", "hscl", "slkd", "mfkd"}
    )
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_frozen_early_layers_keep_their_weights_and_statistics_and_the_rest_learns(trained_tiny):
    model = copy.deepcopy(trained_tiny)
    early = {id(p) for layer in model.early_layers() for p in [*layer.parameters(), *layer.buffers()]}
    names = {name for name, t in [*model.named_parameters(), *model.named_buffers()] if id(t) in early}
    assert any(".bn1.running_mean" in name for name in names)  # batch-norm statistics are among them
    before = copy.deepcopy(model.state_dict())
    settings = TrainSettings(device="cpu", epochs=2, batch_size=8, freeze_early_layers=True)
    strategy = build_strategy(StrategyConfig(name="cffd", hscl_projection_dim=8))
    Trainer(settings).fit(model, strategy, make_task("b", 16, "stripes"), 1, make_task("a", 8), "b")
    after = model.state_dict()
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert not moved & names
    assert {n for n in moved if n.endswith("weight")} >= {"classifier.weight", "faf.score.0.weight"} - names
    assert any(name.startswith("spatial_backbone.body.blocks.2.") for name in moved)
    assert all(p.requires_grad for p in model.parameters())  # frozen for the task only


@pytest.mark.parametrize("channels_last", [True, False])
def test_training_runs_in_the_configured_memory_format_and_leaves_contiguous_weights(
    channels_last, trained_tiny
):
    """channels_last made a CPU training step a third faster; whoever saves the weights wants them contiguous."""
    model = copy.deepcopy(trained_tiny)
    model.config = model.config.replace(channels_last=channels_last)
    stem = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels == 3)
    seen: set[tuple[bool, bool]] = set()

    class Recording(type(build_strategy("ft"))):
        def losses(self, out, batch, teacher_out, mask, model):
            formats = (batch.images, stem.weight)
            seen.add(tuple(t.is_contiguous(memory_format=torch.channels_last) for t in formats))
            return super().losses(out, batch, teacher_out, mask, model)

    before = stem.weight.detach().clone()
    settings = TrainSettings(device="cpu", epochs=1, batch_size=8, horizontal_flip=True)
    Trainer(settings).fit(model, Recording(StrategyConfig(name="ft")), make_task("b", 16), 1, None, "b")
    assert seen == {(channels_last, channels_last)}
    assert all(p.is_contiguous() for p in model.parameters())
    assert not torch.equal(before, stem.weight)  # it trained


def test_predictions_match_the_model_in_eval_mode_and_leave_its_mode(trained_tiny):
    from cffd_engine.continual.evaluate import predict

    model = copy.deepcopy(trained_tiny).train()
    samples = make_task("b", 12)
    predictions = predict(model, samples, batch_size=5)
    assert model.training  # the model itself is left as it was
    model.eval()
    with torch.no_grad():
        out = model(samples.float_images())
    torch.testing.assert_close(predictions.logits, out.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(predictions.embeddings, out.embedding, atol=1e-4, rtol=1e-4)
    answering = inference_copy(model)
    assert answering is not model and inference_copy(answering) is answering  # made once, used again


def test_pairs_made_from_one_source_share_a_batch():
    from cffd_engine.continual import SampleSet, TrainSettings
    from cffd_engine.continual.trainer import Trainer, source_key

    assert (
        source_key("blend-00001-9d299f87a1#0/0") == source_key("blend-00001-f6bb1edf40#0/0") == "blend-00001"
    )
    assert source_key("000_003-0123456789#12/0") == "000_003" and source_key("plain") == "plain"
    ids = [f"swap-{i // 2:05d}-{'%010x' % (7 * i + 1)}#0/0" for i in range(40)]  # 20 pairs, adjacent
    shuffled = torch.randperm(40, generator=torch.Generator().manual_seed(1)).tolist()
    data = SampleSet(
        torch.zeros(40, 3, 4, 4, dtype=torch.uint8),
        torch.tensor([i % 2 for i in shuffled]),
        ids=[ids[i] for i in shuffled],
    )
    generator = torch.Generator().manual_seed(0)
    paired = Trainer(TrainSettings(batch_size=8, pair_by_source=True))._batches(data, generator)
    assert sorted(torch.cat(paired).tolist()) == list(range(40))
    for batch in paired:
        keys = [source_key(data.ids[i]) for i in batch.tolist()]
        assert all(keys.count(key) == 2 for key in keys)  # batches of 8 hold whole pairs
    unpaired = Trainer(TrainSettings(batch_size=8))._batches(data, torch.Generator().manual_seed(0))
    split = sum(
        any(
            [source_key(data.ids[j]) for j in b.tolist()].count(source_key(data.ids[i])) == 1
            for i in b.tolist()
        )
        for b in unpaired
    )
    assert split > 0  # without the option, pairs are scattered


@pytest.mark.parametrize("name", ["lwf", "cffd"])
def test_a_training_step_never_makes_the_host_wait_for_the_device(name, trained_tiny, monkeypatch):
    """On a GPU a boolean select or a bool() of a device tensor stalls the queue; CFFD once made ~40 a step."""
    from cffd_engine.continual import trainer as trainer_module
    from tests.engine.device_reads import DeviceReads

    reads = DeviceReads()

    class MarkedBatch(Batch):
        def __post_init__(self):
            reads.mark(self.images, self.labels)

    monkeypatch.setattr(trainer_module, "Batch", MarkedBatch)
    model = copy.deepcopy(trained_tiny)
    strategy = build_strategy(StrategyConfig(name=name, hscl_projection_dim=8))
    trainer = Trainer(TrainSettings(device="cpu", epochs=1, batch_size=8, horizontal_flip=True))
    strategy.before_task(model, 0, make_task("a", 8), None)  # HSCL heads, as after a first task
    with reads:
        summary = trainer.fit(model, strategy, make_task("b", 16), 1, make_task("a", 8), "b")
    distilled = {"lwf": {"kd"}, "cffd": {"slkd", "mfkd", "hscl"}}[name]
    assert distilled <= set(summary.final_losses)
    assert dict(reads.sites) == {}


@pytest.mark.parametrize("cpu_bfloat16", [False, True])
def test_cpu_bfloat16_trains_in_bfloat16_and_keeps_float32_weights(cpu_bfloat16, trained_tiny):
    """The update's CPU bfloat16: convolutions compute in bfloat16 where the CPU has the instructions
    (emulated it would be slower, so float32 stays), while the weights Adam updates stay float32."""
    from cffd_engine.model.device import cpu_computes_bfloat16

    model = copy.deepcopy(trained_tiny)
    seen: set[torch.dtype] = set()
    convolution = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    # The student's steps only: the teacher (a copy, hook included) is made with float32 probe passes.
    hook = convolution.register_forward_hook(
        lambda module, inputs, output: seen.add(output.dtype) if module.training else None
    )
    before = copy.deepcopy(model.state_dict())
    settings = TrainSettings(device="cpu", epochs=1, batch_size=8, cpu_bfloat16=cpu_bfloat16)
    summary = Trainer(settings).fit(
        model, build_strategy("cffd"), make_task("b", 16), 1, make_task("a", 8), "b"
    )
    hook.remove()
    expected = torch.bfloat16 if cpu_bfloat16 and cpu_computes_bfloat16() else torch.float32
    assert seen == {expected}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.isfinite(torch.tensor(v)) for v in summary.final_losses.values())
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_training_benchmark_says_whether_it_ran_in_bfloat16():
    from cffd_engine.continual import throughput
    from cffd_engine.model.device import cpu_computes_bfloat16

    figures = {
        flag: throughput.measure("lite", 2, 4, 1, device="cpu", threads=1, cpu_bfloat16=flag)
        for flag in (False, True)
    }
    assert [figures[flag]["cpu_bfloat16"] for flag in (False, True)] == [False, cpu_computes_bfloat16()]
    assert all(f["timed_steps"] == 2 and f["ms_per_step"] > 0 for f in figures.values())


def test_the_teachers_kept_answers_are_its_forward_pass_on_each_face_as_it_is_and_mirrored(trained_tiny):
    from cffd_engine.continual.teacher_answers import TeacherAnswers
    from cffd_engine.jobs import JobControl

    teacher = inference_copy(trained_tiny)
    data = make_task("b", 10)
    rows = torch.tensor([True, False] * 5)
    answers = TeacherAnswers.compute(
        teacher, data, rows, ("logits", "rsia_features"), flips=True, batch_size=3,
        device=torch.device("cpu"), memory_format=torch.contiguous_format,
        precision=lambda: torch.autocast("cpu", enabled=False), job=JobControl(),
    )  # fmt: skip
    index, flipped = torch.tensor([4, 0, 8]), torch.tensor([True, False, True])
    images = data.float_images(index)
    images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
    with torch.no_grad():
        expected = teacher(images)
    got = answers.answers(index, flipped)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-5, rtol=1e-4)
    for a, b in zip(got.rsia_features, expected.rsia_features, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert got.embedding is None and got.spatial_features is None  # not kept: CFFD does not read them
    with pytest.raises(KeyError, match=r"samples \[1\]"):
        answers.answers(torch.tensor([1]), torch.tensor([False]))
    too_big = TeacherAnswers.compute(
        teacher, data, rows, ("logits",), flips=True, batch_size=3, device=torch.device("cpu"),
        memory_format=torch.contiguous_format, precision=lambda: torch.autocast("cpu", enabled=False),
        job=JobControl(), budget_bytes=5 * 2 * 2 * 4 - 1,  # a byte short of 5 faces, 2 ways, 2 logits
    )  # fmt: skip
    assert too_big is None


@pytest.mark.parametrize("budget", [1 << 30, 0])
def test_cffd_distils_against_what_the_teacher_answers_on_the_batch_kept_or_not(budget, monkeypatch):
    """Kept answers (computed once for five passes) or asked each step, the losses see the same teacher."""
    import cffd_engine.continual.teacher_answers as teacher_answers

    monkeypatch.setattr(teacher_answers, "BUDGET_BYTES", budget)
    differences: list[float] = []
    teacher_calls: list[int] = []

    class Checking(type(build_strategy("cffd"))):
        def before_task(self, model, task_index, train, memory):
            super().before_task(model, task_index, train, memory)
            inner = self.teacher.forward
            self.teacher.forward = lambda x: (teacher_calls.append(len(x)), inner(x))[1]

        def losses(self, out, batch, teacher_out, mask, model):
            with torch.no_grad():
                fresh = self.teacher(batch.images[mask])
            teacher_calls.pop()  # the check's own call
            differences.append(float((teacher_out.logits - fresh.logits).abs().max()))
            differences.append(float((teacher_out.rsia_features[-1] - fresh.rsia_features[-1]).abs().max()))
            return super().losses(out, batch, teacher_out, mask, model)

    torch.manual_seed(1)
    strategy = Checking(StrategyConfig(name="cffd", hscl_projection_dim=8, slkd_on_new=True))
    settings = TrainSettings(device="cpu", epochs=5, batch_size=8)
    Trainer(settings).fit(RSIANet(tiny_config()), strategy, make_task("b", 16), 1, make_task("a", 8), "b")
    assert len(differences) == 2 * 5 * 3 and max(differences) < 1e-5
    # Kept: one face to size them, then the 24 asked once each way, in batches of 8; else each pass.
    assert teacher_calls == [1] + [8] * (2 * 3 if budget else 5 * 3)
