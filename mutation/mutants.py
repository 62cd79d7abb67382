"""Named semantic mutants: small, described breaks that the tests must catch.

Each mutant replaces `old` with `new` in one file (and each pair in `more`, for a
break that moves code); every `old` must occur exactly once, or the mutant is
stale and needs rewriting against the current code. `tests` are the pytest node
ids meant to catch it, cheapest first: the runner stops at the first failure.
"""

from __future__ import annotations

from typing import NamedTuple


class Mutant(NamedTuple):
    name: str
    description: str
    file: str  # relative to the repository root
    old: str
    new: str
    tests: tuple[str, ...]
    more: tuple[tuple[str, str], ...] = ()  # further (old, new) pairs, same file


UPDATE = "scaffold/update.py"
RENDER = "scaffold/render.py"
TRAIN = "templates/package/train.py.jinja"
CHECKPOINT = "templates/package/handlers/checkpoint.py"

KNOWN_EDITS = "tests/test_update_properties.py::test_known_edits_survive_byte_for_byte"
RESUME_KILLED = (
    "tests/test_features.py::"
    "test_killed_at_an_epoch_end_and_mid_epoch_resumes_to_identical_weights"
)
RESUME_TRUNCATED = (
    "tests/test_features.py::"
    "test_a_truncated_checkpoint_is_rejected_by_name_and_last_takes_the_previous"
)
ALL_ON_HANDLER_TESTS = (
    "tests/test_feature_runs.py::test_all_on_projects_own_handler_tests_pass"
)
DEFAULT_PROJECT_TESTS = (
    "tests/test_end_to_end.py::test_generated_projects_own_tests_pass[default]"
)

MUTANTS = (
    # ------------------------------------------------------------ scaffold update
    Mutant(
        "update-drops-unterminated-last-line",
        "update reads the user's file as lines that each end in a newline, so a "
        "last line without one is lost in the merge",
        UPDATE,
        '    return (data.replace(b"\\r\\n", b"\\n") if crlf else data), crlf\n',
        '    lf = data.replace(b"\\r\\n", b"\\n") if crlf else data\n'
        '    return b"".join(line + b"\\n" for line in lf.split(b"\\n")[:-1]), crlf\n',
        (
            KNOWN_EDITS,
            "tests/test_update_properties.py::"
            "test_an_edit_next_to_a_template_change_is_kept",
        ),
    ),
    Mutant(
        "update-whitespace-edit-is-no-edit",
        "a file whose only edits are indentation or spacing counts as unedited, "
        "so the new render overwrites it",
        UPDATE,
        "    if lf == base:\n",
        "    if lf.split() == base.split():\n",
        (KNOWN_EDITS,),
    ),
    Mutant(
        "update-crlf-becomes-lf",
        "a merged CRLF file is written back with LF line endings",
        UPDATE,
        '    after = merged.replace(b"\\n", b"\\r\\n") if crlf else merged\n',
        "    after = merged\n",
        ("tests/test_update.py::test_crlf_file_keeps_crlf_and_merges",),
    ),
    Mutant(
        "update-overwrites-a-file-the-user-created",
        "a file the user created where the templates now add one merges against "
        "itself instead of an empty base: the template's version silently wins",
        UPDATE,
        '        merged, conflicts = merge(lf, base or b"", theirs)\n',
        "        merged, conflicts = merge(lf, base or lf, theirs)\n",
        (
            "tests/test_update.py::"
            "test_file_the_user_created_where_the_templates_add_one_conflicts",
        ),
    ),
    Mutant(
        "update-resurrects-a-deleted-file",
        "a generated file the user deleted comes back when the templates change it",
        UPDATE,
        '        return Change(path, "deleted", path, None, None) if theirs != base '
        "else None\n",
        '        return Change(path, "created", path, None, theirs) if theirs != base '
        "else None\n",
        ("tests/test_update.py::test_file_the_user_deleted_stays_deleted_and_is_reported",),
    ),
    Mutant(
        "update-merges-over-leftover-markers",
        "update merges into files that still hold conflict blocks of an earlier "
        "update instead of refusing",
        UPDATE,
        "    if unresolved:\n        more =",
        "    if False:\n        more =",
        ("tests/test_update.py::test_update_refuses_while_conflict_markers_remain",),
    ),
    # ------------------------------------------------------------ scaffold render
    Mutant(
        "render-misspelt-variable-renders-empty",
        "Jinja's lenient Undefined instead of StrictUndefined: a misspelt template "
        "variable renders as nothing instead of failing",
        RENDER,
        "        undefined=jinja2.StrictUndefined,\n",
        "        undefined=jinja2.Undefined,\n",
        (
            "tests/test_templates.py",
            "tests/test_render_matrix.py::"
            "test_every_distinct_python_file_compiles_and_is_in_black_format",
        ),
    ),
    Mutant(
        "render-tag-lines-leave-blank-lines",
        "trim_blocks off: every {% if %} line leaves an empty line in the output",
        RENDER,
        "        trim_blocks=True,\n",
        "        trim_blocks=False,\n",
        (
            "tests/test_render_matrix.py::"
            "test_every_distinct_python_file_compiles_and_is_in_black_format",
        ),
    ),
    Mutant(
        "render-every-feature-file-in-every-project",
        "the manifest adds every render-time feature's files, chosen or not",
        RENDER,
        "        if spec.render_time and getattr(options, spec.name):\n"
        "            files.extend(spec.files)\n",
        "        if spec.render_time:\n            files.extend(spec.files)\n",
        (
            "tests/test_features.py::"
            "test_new_records_the_features_and_generates_only_their_files",
        ),
    ),
    # ------------------------------------------------- render matrix: run time
    Mutant(
        "tensorboard-crashes-at-epoch-end",
        "a typo that only a run reaches: the TensorBoard handler raises "
        "AttributeError after the first validation of a tensorboard project",
        "templates/package/handlers/tensorboard_logger.py",
        "self.writer.add_scalar(tag, value, engine.state.iteration)",
        "self.writer.add_scalar(tag, value, engine.state.iterations)",
        (
            "tests/test_feature_runs.py::"
            "test_tensorboard_logs_the_loss_every_interval_and_each_validation",
        ),
    ),
    Mutant(
        "train-undefined-name-under-plot",
        "train.py uses an undefined name inside the plot feature's block, so only "
        "projects with --plot break",
        TRAIN,
        'image = plot_history(history.path, args.output_dir / "training_curves.png")',
        'image = plot_history(history_path, args.output_dir / "training_curves.png")',
        (
            "tests/test_render_matrix.py::"
            "test_every_distinct_python_file_passes_the_common_ruff_rules",
            "tests/test_feature_runs.py::test_plot_draws_a_panel_per_score_after_the_run",
        ),
    ),
    # ------------------------------------------------------------ resume
    Mutant(
        "history-keep-until-keeps-every-row",
        "resuming keeps the metrics.jsonl rows of epochs after the checkpoint, so "
        "the epochs trained again appear twice",
        "templates/package/history.py",
        '        self.rows = [row for row in self.read() if row["epoch"] <= epoch]\n',
        "        self.rows = self.read()\n",
        (RESUME_TRUNCATED,),
    ),
    Mutant(
        "train-resume-forgets-the-history",
        "train.py never calls history.keep_until: a resumed run rewrites "
        "metrics.jsonl with only the epochs it trains itself",
        TRAIN,
        "    history.keep_until(trainer.state.iteration // epoch_length)\n",
        "",
        (RESUME_KILLED,),
    ),
    Mutant(
        "checkpoint-resume-keeps-later-checkpoints",
        "resuming from an earlier checkpoint leaves the later ones of the abandoned "
        "run in the folder (where --resume last and keep_last find them)",
        CHECKPOINT,
        "                later.unlink()\n",
        "                continue\n",
        (RESUME_TRUNCATED, RESUME_KILLED, ALL_ON_HANDLER_TESTS),
    ),
    Mutant(
        "checkpoint-random-states-not-restored",
        "RandomStates.load_state_dict restores nothing: a resumed run draws "
        "different random numbers (dropout, augmentation) than the uninterrupted one",
        CHECKPOINT,
        '        torch.set_rng_state(state["torch"])\n'
        '        torch.cuda.set_rng_state_all(state["cuda"])\n'
        '        random.setstate(state["python"])\n',
        "        pass\n",
        (RESUME_KILLED, ALL_ON_HANDLER_TESTS),
    ),
    # ------------------------------------------------------------ training
    Mutant(
        "evaluator-stays-in-train-mode",
        "the evaluator never switches the model to eval mode: BatchNorm normalizes "
        "with each test batch's statistics and updates its running ones",
        "templates/package/supervised.py",
        "        was_training = model.training\n        model.eval()\n",
        "        was_training = model.training\n",
        (DEFAULT_PROJECT_TESTS,),
    ),
    Mutant(
        "process-share-ignores-drop-last",
        "under torchrun the training shares are not cut equal, so the processes "
        "take different numbers of steps and DDP hangs or fails at the epoch end",
        "templates/package/data.py",
        "    if drop_last:\n        order = order[: len(order) - len(order) % world_size]\n",
        "",
        ("tests/test_distributed.py::test_the_projects_own_distributed_tests_pass",),
    ),
    Mutant(
        "checkpoint-best-ignores-mode-min",
        'the checkpointer ranks best checkpoints as if mode were "max", so with '
        "--monitor nll it keeps the worst epochs",
        CHECKPOINT,
        '        return score if self.mode == "max" else -score  # higher is better\n',
        "        return score\n",
        (
            "tests/test_feature_runs.py::"
            "test_monitor_nll_with_mode_min_keeps_the_lowest_nll_epochs_as_best",
            ALL_ON_HANDLER_TESTS,
        ),
    ),
    Mutant(
        "nan-guard-after-checkpoint",
        "the NaN guard is registered after the mid-epoch checkpoint, so the "
        "checkpoint of the step whose loss is NaN is written before the run stops",
        TRAIN,
        "    # First at the end of every iteration, so that no later handler (a "
        "checkpoint)\n"
        "    # ever sees the weights that a non-finite loss produced.\n"
        "    trainer.add_event_handler(Events.ITERATION_COMPLETED, "
        "stop_on_non_finite_loss)\n",
        "",
        (
            "tests/test_feature_runs.py::"
            "test_a_nan_loss_ends_the_run_with_one_line_before_any_later_checkpoint",
        ),
        more=(
            (
                "    history.keep_until(trainer.state.iteration // epoch_length)\n"
                "{% endif %}\n",
                "    history.keep_until(trainer.state.iteration // epoch_length)\n"
                "{% endif %}\n"
                "    trainer.add_event_handler(Events.ITERATION_COMPLETED, "
                "stop_on_non_finite_loss)\n",
            ),
        ),
    ),
    Mutant(
        "nan-guard-misses-infinity",
        "the guard stops on NaN only: an infinite loss trains on",
        "templates/package/handlers/nan_guard.py",
        "    if not math.isfinite(loss):\n",
        "    if math.isnan(loss):\n",
        (
            ALL_ON_HANDLER_TESTS,
            "tests/test_feature_runs.py::"
            "test_a_nan_loss_ends_the_run_with_one_line_before_any_later_checkpoint",
        ),
    ),
    Mutant(
        "clipping-before-unscaling",
        "gradients are clipped while still multiplied by the loss scale, so float16 "
        "training with --clip-grad-norm takes steps thousands of times too small",
        "templates/package/supervised.py",
        "            scaler.unscale_(optimizer)  # clip the true gradients, not scaled "
        "ones\n",
        "",
        (
            "tests/test_features.py::"
            "test_a_loss_scaler_steps_the_fused_optimizer_exactly_and_skips_overflows",
        ),
    ),
    Mutant(
        "early-stopping-ignores-min-delta",
        "early stopping counts any gain as an improvement, however small",
        "templates/package/handlers/early_stopping.py",
        "        if self.best is None or score > self.best + self.min_delta:\n",
        "        if self.best is None or score > self.best:\n",
        (
            "tests/test_feature_runs.py::"
            "test_early_stopping_ends_a_run_whose_score_cannot_improve_by_min_delta",
            ALL_ON_HANDLER_TESTS,
        ),
    ),
    Mutant(
        "accuracy-counts-one-example-too-many",
        "Accuracy divides by one more example per batch than it saw",
        "templates/package/metrics/accuracy.py",
        '        self.accumulate("num_examples", torch.tensor(len(correct)))\n',
        '        self.accumulate("num_examples", torch.tensor(len(correct) + 1))\n',
        (
            "tests/test_metrics_reference.py::"
            "test_accuracy_precision_recall_f1_match_sklearn",
        ),
    ),
    Mutant(
        "running-average-alpha-ignored",
        "RunningAverage smooths with 0.98 whatever alpha it was given",
        "templates/package/metrics/running_average.py",
        "            self.average = self.alpha * self.average + (1 - self.alpha) * value\n",
        "            self.average = 0.98 * self.average + (1 - 0.98) * value\n",
        (
            "tests/test_metrics_reference.py::"
            "test_generated_metric_tests_pass_for_all_and_for_the_default_metrics",
        ),
    ),
    Mutant(
        "dataloader-order-differs-from-tensor-path",
        "the DataLoader path's sampler draws its order from the global generator, "
        "not from (seed, epoch): it differs from the tensor path and cannot be "
        "replayed on resume",
        "templates/package/data.py",
        "            order = torch.randperm(self.size, generator=generator).tolist()\n",
        "            order = torch.randperm(self.size).tolist()\n",
        (
            "tests/test_feature_runs.py::"
            "test_the_dataloader_path_gives_the_tensor_paths_numbers",
        ),
    ),
    Mutant(
        "history-written-in-place",
        "metrics.jsonl is rewritten in place instead of through a temporary file "
        "and a rename: a kill mid-write loses the earlier epochs' rows",
        "templates/package/history.py",
        '        temporary = self.path.with_name(self.path.name + ".tmp")\n',
        "        temporary = self.path\n",
        (RESUME_KILLED, RESUME_TRUNCATED),
    ),
    Mutant(
        "event-filter-every-off-by-one",
        "Events.X(every=n) fires at counts 1, n+1, 2n+1, ... instead of n, 2n, ...",
        "templates/package/events.py",
        "    return lambda engine, count: count % every == 0\n",
        "    return lambda engine, count: (count - 1) % every == 0\n",
        ("tests/test_engine.py::test_generated_engine_tests_pass",),
    ),
)
