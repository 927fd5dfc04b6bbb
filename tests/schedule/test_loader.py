"""Schedule files: every mistake is reported with file, line and key, all at once."""

from __future__ import annotations

import pytest

from compressor.runner.run import check_schedule
from compressor.schedule import ScheduleError, read_schedule
from compressor.schedule.sections import PolicySection

from ..helpers import VALID_SCHEDULE


def errors_of(path, epochs=None) -> ScheduleError:
    with pytest.raises(ScheduleError) as info:
        check_schedule(str(path), epochs=epochs)
    return info.value


def line_of(path, needle: str, nth: int = 0) -> int:
    """1-based line of the nth line of ``path`` that contains ``needle``."""
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return hits[nth]


def problem_at(err: ScheduleError, line: int, key: str, fragment: str) -> None:
    found = [p for p in err.problems if p.line == line and p.key == key and fragment in p.message]
    assert found, f"no problem at line {line} key {key!r} containing {fragment!r}:\n{err}"


def test_valid_schedule_parses_into_typed_sections(write_schedule):
    path = write_schedule(VALID_SCHEDULE)
    schedule = check_schedule(str(path))
    assert schedule.training.epochs == 4 and schedule.training.optimizer.kwargs["lr"] == 0.05
    assert schedule.pruners["fc_agp"].config.final_sparsity == 0.8
    assert schedule.lr_schedulers["step"].config.kwargs == {"step_size": 2, "gamma": 0.5}
    assert [p.kind for p in schedule.policies] == ["pruner", "pruner", "regularizer", "lr_scheduler"]
    assert list(schedule.policies[0].active(4)) == [0, 1, 2]
    assert list(schedule.policies[1].active(4)) == [1]
    assert list(schedule.policies[3].active(4)) == [0, 1, 2, 3]


def test_pattern_matching_nothing_names_line_and_suggests(write_schedule):
    path = write_schedule(VALID_SCHEDULE.replace("weights: [fc1.weight]", "weights: [fc.weight]"))
    err = errors_of(path)
    problem_at(err, line_of(path, "fc.weight"), "pruners.fc_agp.weights", "'fc.weight' matches no parameter")
    assert "did you mean" in str(err) and "'fc1.weight'" in str(err)
    assert f"{path}:{line_of(path, 'fc.weight')}: pruners.fc_agp.weights" in str(err)


def test_regex_patterns_and_bad_regex(write_schedule):
    ok = write_schedule(VALID_SCHEDULE.replace("weights: [fc1.weight]", r"weights: ['re:fc1\.w.*']"))
    assert check_schedule(str(ok)).pruners["fc_agp"].config.weights == [r"re:fc1\.w.*"]
    bad = write_schedule(VALID_SCHEDULE.replace("weights: [fc1.weight]", "weights: ['re:fc1[']"), "bad.yaml")
    problem_at(errors_of(bad), line_of(bad, "re:fc1["), "pruners.fc_agp.weights",
               "invalid regular expression")


def test_unknown_keys_get_did_you_mean(write_schedule):
    text = VALID_SCHEDULE.replace("final_sparsity: 0.8", "finale_sparsity: 0.8").replace(
        "  batch_size: 32", "  batchsize: 32").replace("policies:", "policy:")
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "finale_sparsity"), "pruners.fc_agp.finale_sparsity",
               "did you mean 'final_sparsity'")
    problem_at(err, line_of(path, "fc_agp:"), "pruners.fc_agp.final_sparsity", "missing required key")
    assert not any("no policy uses it" in p.message for p in err.problems)
    problem_at(err, line_of(path, "batchsize"), "training.batchsize", "did you mean 'batch_size'")
    problem_at(err, line_of(path, "policy:"), "policy", "did you mean 'policies'")


def test_wrong_types(write_schedule):
    text = VALID_SCHEDULE.replace("  epochs: 4", "  epochs: four").replace(
        "initial_sparsity: 0.1", "initial_sparsity: [0.1]").replace("augment", "x")
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "epochs: four"), "training.epochs", "expected an integer, got 'four' (str)")
    problem_at(err, line_of(path, "initial_sparsity"), "pruners.fc_agp.initial_sparsity",
               "expected a number, got a list")


@pytest.mark.parametrize("value", ["1.0", "-0.1", "1.5"])
def test_sparsity_outside_unit_interval(write_schedule, value):
    err = errors_of(path := write_schedule(VALID_SCHEDULE.replace("final_sparsity: 0.8",
                                                                  f"final_sparsity: {value}")))
    problem_at(err, line_of(path, "final_sparsity"), "pruners.fc_agp.final_sparsity", "must be in [0, 1)")


def test_sparsity_in_pattern_mapping_is_checked(write_schedule):
    err = errors_of(path := write_schedule(VALID_SCHEDULE.replace("{conv2.weight: 0.5}",
                                                                  "{conv2.weight: 1.2}")))
    problem_at(err, line_of(path, "conv2.weight: 1.2"), "pruners.conv_level.weights.conv2.weight",
               "must be in [0, 1)")


def test_overlapping_pruners_on_one_tensor(write_schedule):
    err = errors_of(path := write_schedule(VALID_SCHEDULE.replace("{conv2.weight: 0.5}",
                                                                  "{'fc*.weight': 0.5}")))
    problem_at(err, line_of(path, "fc*.weight"), "pruners.conv_level.weights",
               "'fc1.weight' is already pruned by pruner 'fc_agp'")


def test_epoch_window_outside_training(write_schedule):
    text = VALID_SCHEDULE.replace("ending_epoch: 3", "ending_epoch: 9").replace("epochs: [1]",
                                                                                "epochs: [1, 4]")
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "ending_epoch: 9"), "policies[0].ending_epoch",
               "beyond training.epochs (4)")
    problem_at(err, line_of(path, "epochs: [1, 4]"), "policies[1].epochs",
               "epoch 4 is outside training (epochs 0..3)")


def test_epochs_override_is_checked_against_windows(write_schedule):
    path = write_schedule(VALID_SCHEDULE)
    problem_at(errors_of(path, epochs=2), line_of(path, "ending_epoch: 3"), "policies[0].ending_epoch",
               "beyond training.epochs (2)")
    assert check_schedule(str(path), epochs=6).training.epochs == 6


def test_empty_window_and_mixed_window_keys(write_schedule):
    text = VALID_SCHEDULE.replace("starting_epoch: 0\n    ending_epoch: 3",
                                  "starting_epoch: 3\n    ending_epoch: 3").replace(
        "epochs: [1]", "epochs: [1]\n    frequency: 2")
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "starting_epoch: 3"), "policies[0].starting_epoch", "is empty")
    problem_at(err, line_of(path, "epochs: [1]"), "policies[1].epochs", "not both")


def test_all_errors_reported_at_once(write_schedule):
    text = (VALID_SCHEDULE.replace("weights: [fc1.weight]", "weights: [fc9.weight]")
            .replace("  epochs: 4", "  epochs: -1")
            .replace("type: StepLR", "type: StepLRR")
            .replace("pruner: fc_agp", "pruner: fc_agq"))
    err = errors_of(write_schedule(text))
    keys = {p.key for p in err.problems}
    assert {"training.epochs", "lr_schedulers.step.type", "policies[0].pruner"} <= keys
    assert "did you mean 'StepLR'" in str(err) and "did you mean 'fc_agp'" in str(err)
    assert str(err).splitlines()[0].endswith(f"{len(err.problems)} errors in schedule")


def test_references_types_and_unused_components(write_schedule):
    text = (VALID_SCHEDULE.replace("type: agp", "type: agpp")
            .replace("  - regularizer: small_l1\n", ""))
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "type: agpp"), "pruners.fc_agp.type", "did you mean 'agp'")
    problem_at(err, line_of(path, "small_l1:"), "regularizers.small_l1", "no policy uses it")


def test_policy_must_name_exactly_one_component(write_schedule):
    text = VALID_SCHEDULE.replace("  - regularizer: small_l1\n",
                                  "  - regularizer: small_l1\n    pruner: fc_agp\n")
    path = write_schedule(text)
    problem_at(errors_of(path), line_of(path, "- regularizer: small_l1"), "policies[2]",
               "names exactly one of")


def test_torch_rejects_optimizer_and_scheduler_settings(write_schedule):
    text = VALID_SCHEDULE.replace("    momentum: 0.9", "    momentun: 0.9").replace("gamma: 0.5", "gama: 0.5")
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "momentun"), "training.optimizer.momentun", "did you mean 'momentum'")
    problem_at(err, line_of(path, "gama"), "lr_schedulers.step.gama", "did you mean 'gamma'")
    err = errors_of(path := write_schedule(VALID_SCHEDULE.replace("lr: 0.05", "lr: -1.0"), "c.yaml"))
    problem_at(err, line_of(path, "optimizer:"), "training.optimizer",
               "torch.optim.SGD rejected the settings")
    err = errors_of(path2 := write_schedule(VALID_SCHEDULE.replace("type: SGD", "type: Adamm"), "b.yaml"))
    problem_at(err, line_of(path2, "type: Adamm"), "training.optimizer.type", "did you mean 'Adam'")


def test_iterative_window_too_short(write_schedule):
    text = VALID_SCHEDULE.replace("""    type: agp
    weights: [fc1.weight]
    initial_sparsity: 0.1
    final_sparsity: 0.8""", """    type: iterative
    weights: [fc1.weight]
    step: 0.2
    final_sparsity: 0.8""")
    path = write_schedule(text)
    problem_at(errors_of(path), line_of(path, "- pruner: fc_agp"), "policies[0]", "needs 4 active epochs")


def test_agp_initial_above_final_and_magnitude_forms(write_schedule):
    text = VALID_SCHEDULE.replace("initial_sparsity: 0.1", "initial_sparsity: 0.9").replace(
        "weights: {conv2.weight: 0.5}", "weights: {conv2.weight: 0.5}\n    sparsity: 0.3")
    err = errors_of(path := write_schedule(text))
    problem_at(err, line_of(path, "initial_sparsity"), "pruners.fc_agp.initial_sparsity",
               "must not exceed final_sparsity")
    problem_at(err, line_of(path, "sparsity: 0.3"), "pruners.conv_level.sparsity", "not both")
    text = VALID_SCHEDULE.replace("weights: {conv2.weight: 0.5}", "weights: [conv2.weight]")
    path2 = write_schedule(text, "b.yaml")
    problem_at(errors_of(path2), line_of(path2, "conv2.weight"), "pruners.conv_level.sparsity", "missing")


def test_yaml_syntax_duplicate_keys_and_unsafe_tags(write_schedule):
    err = errors_of(path := write_schedule(VALID_SCHEDULE.replace("  batch_size: 32", "  batch_size: [32")))
    assert "invalid YAML" in str(err)
    err = errors_of(path := write_schedule(VALID_SCHEDULE.replace("  batch_size: 32",
                                                                  "  batch_size: 32\n  epochs: 5")))
    problem_at(err, line_of(path, "epochs: 5"), "epochs", "duplicate key 'epochs' (first defined on line 10)")
    err = errors_of(path := write_schedule("model: !!python/object/apply:os.system ['echo hi']\n"))
    problem_at(err, 1, "", "invalid YAML")
    err = errors_of(path := write_schedule("- just\n- a list\n"))
    problem_at(err, 1, "", "must be a YAML mapping")


def test_missing_sections_and_version(write_schedule):
    err = errors_of(write_schedule("version: 2\npruners: {}\n"))
    for key in ("model", "data", "training"):
        problem_at(err, 1, key, "missing required section")
    problem_at(err, 1, "version", "unsupported schedule version 2")


def test_float_strings_are_numbers(write_schedule):
    schedule, problems = read_schedule(write_schedule(VALID_SCHEDULE.replace("strength: 1.0e-5",
                                                                             "strength: 1e-5")))
    assert not problems and schedule.regularizers["small_l1"].config.strength == 1e-5


@pytest.mark.parametrize("name", ["mnist_net_agp", "resnet18_agp", "resnet18_oneshot", "resnet18_iterative",
                                  "mnist_net_l1_filter", "mnist_net_fpgm", "resnet18_filters_agp",
                                  "resnet18_slimming"])
def test_shipped_schedules_are_valid(name):
    from ..helpers import REPO

    schedule = check_schedule(str(REPO / "schedules" / f"{name}.yaml"))
    assert schedule.pruners and schedule.policies


def test_policy_active_epochs_frequency():
    p = PolicySection(starting_epoch=1, ending_epoch=8, frequency=3)
    assert list(p.active(10)) == [1, 4, 7]
    assert list(PolicySection(epochs=[5, 2, 2]).active(10)) == [2, 5]


def test_a_broken_component_is_reported_once(write_schedule):
    path = write_schedule(VALID_SCHEDULE.replace("final_sparsity: 0.8", "final_sparsity: 1.8"))
    err = errors_of(path)
    keys = [p.key for p in err.problems]
    assert keys == ["pruners.fc_agp.final_sparsity"], keys  # not also "no pruner named 'fc_agp'"


def test_unknown_argument_without_close_match_lists_the_valid_ones(write_schedule):
    path = write_schedule(VALID_SCHEDULE.replace("momentum: 0.9", "zzz: 0.9"))
    (problem,) = errors_of(path).problems
    assert problem.message.startswith("SGD takes no argument 'zzz'; valid: ")
