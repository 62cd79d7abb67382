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
    description: str  # what breaks, as a user would notice it
    file: str  # relative to the repository root
    old: str
    new: str
    tests: tuple[str, ...]
    more: tuple[tuple[str, str], ...] = ()  # further (old, new) pairs, same file


UPDATE = "scaffold/update.py"
RENDER = "scaffold/render.py"
TRAIN = "templates/package/train.py.jinja"
CHECKPOINT = "templates/package/handlers/checkpoint.py"
HISTORY = "templates/package/handlers/history.py"
LOADERS = "templates/package/data/loaders.py"
SUPERVISED = "templates/package/engine/supervised.py"
IMAGES = "templates/data/imagefolder/package/data"
IMAGEFOLDER_TESTS = "tests/test_imagefolder.py::"

KNOWN_EDITS = "tests/test_update_properties.py::test_known_edits_survive_byte_for_byte"
RESUME_KILLED = "tests/test_run_resume.py::test_killed_at_an_epoch_end_and_mid_epoch_resumes_to_identical_weights"
RESUME_TRUNCATED = "tests/test_run_resume.py::test_a_truncated_checkpoint_is_rejected_by_name_and_last_takes_the_previous"
ALL_ON_HANDLER_TESTS = (
    "tests/test_run_features.py::test_all_on_projects_own_handler_tests_pass"
)
DEFAULT_PROJECT_TESTS = (
    "tests/test_end_to_end.py::test_generated_projects_own_tests_pass[default]"
)
NAN_LOSS_RUN = (
    "tests/test_run_features.py::"
    "test_the_nan_guard_names_the_loss_before_the_checkpoint_of_its_step_runs"
)
NAN_RUN = "tests/test_run_features.py::test_a_nan_loss_ends_the_run_with_one_line_before_its_iteration_is_checkpointed"
# train.py.jinja: the NaN guard's registration, and the end of the checkpoint block.
NAN_GUARD = "    trainer.add_event_handler(Events.ITERATION_COMPLETED, stop_on_non_finite_loss)\n"
CHECKPOINT_BLOCK_END = (
    "    history.keep_until(trainer.state.iteration // epoch_length)\n{% endif %}\n"
)
BAD_INPUT_CASES = "tests/test_run_bad_input.py::test_a_bad_input_ends_the_run_with_one_error_line_and_writes_nothing"
BAD_INPUT_PAIRS = (
    "tests/test_run_bad_input.py::test_every_refused_pair_of_flags_has_a_case"
)
JOURNAL_KILLED = "tests/test_tool_faults.py::test_update_killed_inside_every_journal_line_is_undone_by_the_next_run"
JOURNAL_FULL_DISK = (
    "tests/test_tool_faults.py::test_a_full_disk_inside_every_journal_line_is_undone"
)
ENCODINGS = "tests/test_update_encodings.py::"
RESUME_ANY_STEP = "tests/test_run_resume.py::test_a_run_killed_after_any_iteration_resumes_to_the_identical_run"
BLACK_MATRIX = "tests/test_render_matrix.py::test_every_distinct_python_file_compiles_and_is_in_black_format"

MUTANTS = (
    # ------------------------------------------------------------ scaffold update
    Mutant(
        name="update-drops-unterminated-last-line",
        description="update reads the user's file as lines that each end in a "
        "newline, so a last line without one is lost in the merge",
        file=UPDATE,
        old='    return (data.replace(b"\\r\\n", b"\\n") if crlf else data), crlf\n',
        new=(
            '    lf = data.replace(b"\\r\\n", b"\\n") if crlf else data\n'
            '    return b"".join(line + b"\\n" for line in lf.split(b"\\n")[:-1]), crlf\n'
        ),
        tests=(
            KNOWN_EDITS,
            "tests/test_update_properties.py::test_an_edit_next_to_a_template_change_is_kept",
        ),
    ),
    Mutant(
        name="update-whitespace-edit-is-no-edit",
        description="a file whose only edits are indentation or spacing counts as "
        "unedited, so the new render overwrites it",
        file=UPDATE,
        old="    if lf == base:\n",
        new="    if lf.split() == base.split():\n",
        tests=(KNOWN_EDITS,),
    ),
    Mutant(
        name="update-crlf-becomes-lf",
        description="a merged CRLF file is written back with LF line endings",
        file=UPDATE,
        old='    return action, merged.replace(b"\\n", b"\\r\\n") if crlf else merged\n',
        new="    return action, merged\n",
        tests=("tests/test_update.py::test_crlf_file_keeps_crlf_and_merges",),
    ),
    Mutant(
        name="update-move-drops-an-unchanged-file",
        description="a file the templates moved but did not change is removed from "
        "its old path and never written at its new one",
        file=UPDATE,
        old="        return self.moved or self.before != self.after\n",
        new="        return self.before != self.after\n",
        tests=(
            "tests/test_update_moves.py::test_an_unedited_moved_file_lands_at_its_new_path_as_rendered",
        ),
    ),
    Mutant(
        name="update-move-leaves-the-old-file",
        description="a moved file is written at its new path and also left at its "
        "old one, so the package holds both",
        file=UPDATE,
        old="            if change.moved:\n                transaction.stage(change.path, None)\n",
        new="",
        tests=(
            "tests/test_update_moves.py::test_an_edited_moved_file_keeps_the_edit_at_its_new_path",
        ),
    ),
    Mutant(
        name="ui-token-accepts-a-prefix",
        description="the ui takes any leading part of its token for the token",
        file="scaffold/ui/server.py",
        old="        if not hmac.compare_digest(given.encode(), self.server.token.encode()):\n",
        new="        if not given or not self.server.token.startswith(given):\n",
        tests=("tests/test_ui_locks.py::test_no_near_miss_of_the_token_opens_the_api",),
    ),
    Mutant(
        name="ui-origin-accepts-a-look-alike",
        description="the ui takes any Origin that starts like its own address "
        "(http://127.0.0.1:PORT.evil.example)",
        file="scaffold/ui/server.py",
        old="        if origin is not None and origin.lower() not in self.server.trusted_origins:\n",
        new="        if origin is not None and not origin.lower().startswith(\n"
        "            tuple(self.server.trusted_origins)\n"
        "        ):\n",
        tests=(
            "tests/test_ui_locks.py::test_an_origin_that_only_looks_like_this_page_is_refused",
        ),
    ),
    Mutant(
        name="update-overwrites-a-file-the-user-created",
        description="a file the user created where the templates now add one merges "
        "against itself instead of an empty base: the template's version wins",
        file=UPDATE,
        old='    action, after = bring_up_to_date(ours, base or b"", theirs)\n',
        new="    action, after = bring_up_to_date(ours, base or to_lf(ours)[0], theirs)\n",
        tests=(
            "tests/test_update.py::test_file_the_user_created_where_the_templates_add_one_conflicts",
        ),
    ),
    Mutant(
        name="update-resurrects-a-deleted-file",
        description="a generated file the user deleted comes back when the "
        "templates change it",
        file=UPDATE,
        old='        return Change(path, "deleted", path, None, None) if theirs',
        new='        return Change(path, "created", path, None, theirs) if theirs',
        tests=(
            "tests/test_update.py::test_file_the_user_deleted_stays_deleted_and_is_reported",
        ),
    ),
    Mutant(
        name="update-merges-over-leftover-markers",
        description="update merges into files that still hold the conflict blocks "
        "of an earlier update instead of refusing",
        file=UPDATE,
        old="    if unresolved:\n        more =",
        new="    if False:\n        more =",
        tests=(
            "tests/test_update.py::test_update_refuses_while_conflict_markers_remain",
        ),
    ),
    # ------------------------------------------------------------ scaffold render
    Mutant(
        name="render-misspelt-variable-renders-empty",
        description="Jinja's lenient Undefined instead of StrictUndefined: a "
        "misspelt template variable renders as nothing instead of failing",
        file=RENDER,
        old="        undefined=jinja2.StrictUndefined,\n",
        new="        undefined=jinja2.Undefined,\n",
        tests=(
            "tests/test_templates.py::test_a_misspelt_template_variable_fails_the_render_instead_of_rendering_empty",
            "tests/test_render_matrix.py::test_no_template_residue_and_no_comment_about_templates",
            BLACK_MATRIX,
        ),
    ),
    Mutant(
        name="render-tag-lines-leave-blank-lines",
        description="trim_blocks off: every {% if %} line leaves an empty line",
        file=RENDER,
        old="        trim_blocks=True,\n",
        new="        trim_blocks=False,\n",
        tests=(BLACK_MATRIX,),
    ),
    Mutant(
        name="render-every-feature-file-in-every-project",
        description="the manifest adds every render-time feature's files, chosen "
        "or not",
        file=RENDER,
        old=(
            "        if spec.render_time and getattr(options, spec.name):\n"
            "            files.extend(spec.files)\n"
        ),
        new="        if spec.render_time:\n            files.extend(spec.files)\n",
        tests=(
            "tests/test_feature_options.py::test_new_records_the_features_and_generates_only_their_files",
        ),
    ),
    # ------------------------------------------------ the render matrix, run time
    Mutant(
        name="tensorboard-crashes-at-epoch-end",
        description="a typo only a run reaches: the TensorBoard handler raises "
        "AttributeError after the first validation of a tensorboard project",
        file="templates/package/handlers/tensorboard_logger.py",
        old="self.writer.add_scalar(tag, value, engine.state.iteration)",
        new="self.writer.add_scalar(tag, value, engine.state.iterations)",
        tests=(
            "tests/test_run_features.py::test_tensorboard_logs_the_loss_every_interval_and_each_validation",
        ),
    ),
    Mutant(
        name="train-undefined-name-under-plot",
        description="train.py uses an undefined name inside the plot feature's "
        "block, so only projects with --plot break",
        file=TRAIN,
        old="image = plot_history(history.path, ",
        new="image = plot_history(history_path, ",
        tests=(
            "tests/test_render_matrix.py::test_every_distinct_python_file_passes_the_common_ruff_rules",
            "tests/test_run_features.py::test_plot_draws_a_panel_per_score_after_the_run",
        ),
    ),
    # ------------------------------------------------------------ resume
    Mutant(
        name="history-keep-until-keeps-every-row",
        description="resuming keeps the metrics.jsonl rows of epochs after the "
        "checkpoint, so the epochs trained again appear twice",
        file=HISTORY,
        old='        self.rows = [row for row in self.read() if row["epoch"] <= epoch]\n',
        new="        self.rows = self.read()\n",
        tests=(RESUME_TRUNCATED,),
    ),
    Mutant(
        name="train-resume-forgets-the-history",
        description="train.py never calls history.keep_until: a resumed run "
        "rewrites metrics.jsonl with only the epochs it trains itself",
        file=TRAIN,
        old="    history.keep_until(trainer.state.iteration // epoch_length)\n",
        new="",
        tests=(RESUME_KILLED,),
    ),
    Mutant(
        name="checkpoint-resume-keeps-later-checkpoints",
        description="resuming from an earlier checkpoint leaves the later ones of "
        "the abandoned run in the folder, where --resume last and keep_last "
        "find them",
        file=CHECKPOINT,
        old="                later.unlink()\n",
        new="                continue\n",
        tests=(RESUME_TRUNCATED, RESUME_KILLED, ALL_ON_HANDLER_TESTS),
    ),
    Mutant(
        name="checkpoint-random-states-not-restored",
        description="RandomStates.load_state_dict restores nothing: a resumed run "
        "draws other random numbers (dropout, augmentation) than the "
        "uninterrupted one",
        file=CHECKPOINT,
        old=(
            '        torch.set_rng_state(state["torch"])\n'
            '        torch.cuda.set_rng_state_all(state["cuda"])\n'
            '        random.setstate(state["python"])\n'
        ),
        new="        pass\n",
        tests=(RESUME_KILLED, ALL_ON_HANDLER_TESTS),
    ),
    Mutant(
        name="history-written-in-place",
        description="metrics.jsonl is rewritten in place, not through a temporary "
        "file and a rename: a kill mid-write loses the earlier epochs' rows",
        file=HISTORY,
        old='        temporary = self.path.with_name(self.path.name + ".tmp")\n',
        new="        temporary = self.path\n",
        tests=(DEFAULT_PROJECT_TESTS, RESUME_KILLED, RESUME_TRUNCATED),
    ),
    # ------------------------------------------------------------ training
    Mutant(
        name="evaluator-stays-in-train-mode",
        description="the evaluator never switches the model to eval mode: "
        "BatchNorm normalizes with each test batch's statistics and updates its "
        "running ones",
        file=SUPERVISED,
        old="        was_training = model.training\n        model.eval()\n",
        new="        was_training = model.training\n",
        tests=(DEFAULT_PROJECT_TESTS,),
    ),
    Mutant(
        name="process-share-ignores-drop-last",
        description="under torchrun the training shares are not cut equal, so the "
        "processes take different numbers of steps and DDP hangs or fails",
        file=LOADERS,
        old=(
            "    if drop_last:\n"
            "        order = order[: len(order) - len(order) % world_size]\n"
        ),
        new="",
        tests=(
            DEFAULT_PROJECT_TESTS,
            "tests/test_distributed.py::test_two_processes_train_one_run_on_equal_disjoint_shares",
        ),
    ),
    Mutant(
        name="checkpoint-best-ignores-mode-min",
        description='the checkpointer ranks best checkpoints as if mode were "max",'
        " so with --monitor nll it keeps the worst epochs",
        file=CHECKPOINT,
        old='        return score if self.mode == "max" else -score  # higher is better\n',
        new="        return score\n",
        tests=(
            "tests/test_run_features.py::test_monitor_nll_with_mode_min_keeps_the_lowest_nll_epochs_as_best",
            ALL_ON_HANDLER_TESTS,
        ),
    ),
    Mutant(
        name="nan-guard-after-checkpoint",
        description="the NaN guard is registered after the mid-epoch checkpoint, "
        "so a step whose loss is NaN is checkpointed before the guard sees it (the "
        "checkpointer's own check of the state may still refuse the write)",
        file=TRAIN,
        old=(
            "    # First at the end of every iteration, so that no later handler"
            " (a checkpoint)\n"
            "    # ever sees the weights that a non-finite loss produced.\n" + NAN_GUARD
        ),
        new="",
        more=((CHECKPOINT_BLOCK_END, CHECKPOINT_BLOCK_END + NAN_GUARD),),
        tests=(NAN_LOSS_RUN, NAN_RUN),
    ),
    Mutant(
        name="checkpoint-saves-non-finite-weights",
        description="the checkpointer writes whatever state it is given, so the "
        "weights a step broke (its loss, read before the step, still finite) are "
        "saved",
        file=CHECKPOINT,
        old="        if _holds_non_finite(state):\n",
        new="        if False:\n",
        tests=(
            "tests/test_run_features.py::test_no_checkpoint_holds_non_finite_weights",
            NAN_RUN,
        ),
    ),
    Mutant(
        name="nan-guard-misses-infinity",
        description="the guard stops on NaN only: an infinite loss trains on",
        file="templates/package/handlers/nan_guard.py",
        old="    if not math.isfinite(loss):\n",
        new="    if math.isnan(loss):\n",
        tests=(ALL_ON_HANDLER_TESTS, NAN_RUN),
    ),
    Mutant(
        name="clipping-before-unscaling",
        description="gradients are clipped while still multiplied by the loss "
        "scale, so float16 training with --clip-grad-norm takes steps thousands "
        "of times too small",
        file=SUPERVISED,
        old="            scaler.unscale_(optimizer)  # clip the true gradients,",
        new="            # clip the true gradients,",
        tests=(
            "tests/test_run_resume.py::test_a_loss_scaler_steps_the_fused_optimizer_exactly_and_skips_overflows",
        ),
    ),
    Mutant(
        name="early-stopping-ignores-min-delta",
        description="early stopping counts any gain as an improvement, however "
        "small",
        file="templates/package/handlers/early_stopping.py",
        old="        if self.best is None or score > self.best + self.min_delta:\n",
        new="        if self.best is None or score > self.best:\n",
        tests=(
            "tests/test_run_features.py::test_early_stopping_ends_a_run_whose_score_cannot_improve_by_min_delta",
            ALL_ON_HANDLER_TESTS,
        ),
    ),
    Mutant(
        name="dataloader-order-differs-from-tensor-path",
        description="the DataLoader path's sampler draws its order from the global "
        "generator, not from (seed, epoch): it differs from the tensor path and "
        "cannot be replayed on resume",
        file=LOADERS,
        old="        return iter(self.order(self.generator()).tolist())",
        new="        return iter(self.order(torch.default_generator).tolist())",
        tests=(
            "tests/test_run_features.py::test_the_dataloader_path_gives_the_tensor_paths_numbers",
        ),
    ),
    # ------------------------------------------------------------ metrics, engine
    Mutant(
        name="accuracy-counts-one-example-too-many",
        description="Accuracy divides by one more example per batch than it saw",
        file="templates/package/metrics/accuracy.py",
        old='        self.accumulate("num_examples", torch.tensor(len(correct)))\n',
        new='        self.accumulate("num_examples", torch.tensor(len(correct) + 1))\n',
        tests=(
            "tests/test_metrics_reference.py::test_accuracy_precision_recall_f1_match_sklearn",
        ),
    ),
    Mutant(
        name="running-average-alpha-ignored",
        description="RunningAverage smooths with 0.98 whatever alpha it was given",
        file="templates/package/metrics/running_average.py",
        old="self.alpha * self.average + (1 - self.alpha) * value",
        new="0.98 * self.average + (1 - 0.98) * value",
        tests=(
            "tests/test_metrics_reference.py::test_generated_metric_tests_pass_for_all_and_for_the_default_metrics",
        ),
    ),
    Mutant(
        name="event-filter-every-off-by-one",
        description="Events.X(every=n) fires at counts 1, n+1, 2n+1, ... instead "
        "of n, 2n, ...",
        file="templates/package/engine/events.py",
        old="    return lambda engine, count: count % every == 0\n",
        new="    return lambda engine, count: (count - 1) % every == 0\n",
        tests=("tests/test_engine.py::test_generated_engine_tests_pass",),
    ),
    # ------------------------------------------------------------ image folders
    Mutant(
        name="augment-draws-from-the-global-generator",
        description="the batch crops are drawn from torch's global generator, not the "
        "epoch's: a resumed run crops differently and ends on other weights",
        file="templates/package/data/augment.py",
        old="        uniform = torch.rand(count, 5, generator=generator).numpy()\n",
        new="        uniform = torch.rand(count, 5).numpy()\n",
        tests=(
            f"{IMAGEFOLDER_TESTS}test_the_projects_own_data_tests_pass_quickly",
            f"{IMAGEFOLDER_TESTS}test_a_run_killed_mid_epoch_resumes_to_identical_weights",
        ),
    ),
    Mutant(
        name="val-split-not-stratified",
        description="--val-split holds out the first images of the whole list, not "
        "a share of each class: validation then lacks whole classes",
        file=f"{IMAGES}/folders.py",
        old="        count = round(len(members) * fraction) if len(members) > 1 else 0\n",
        new="        count = round(len(labels) * fraction) if label == 0 else 0\n",
        tests=(
            f"{IMAGEFOLDER_TESTS}test_the_projects_own_data_tests_pass_quickly",
            f"{IMAGEFOLDER_TESTS}test_without_a_val_folder_a_tenth_of_each_class_is_held_out",
        ),
    ),
    Mutant(
        name="class-folder-takes-any-file",
        description="a class folder's text files and junk count as images, and fail "
        "to decode instead of being passed over",
        file=f"{IMAGES}/folders.py",
        old="        images = [p for p in files if is_image_path(p)]\n",
        new="        images = files\n",
        tests=(
            f"{IMAGEFOLDER_TESTS}test_the_projects_own_data_tests_pass_quickly",
            f"{IMAGEFOLDER_TESTS}test_the_runs_name_each_unreadable_image_once_and_count_them",
        ),
    ),
    Mutant(
        name="predict-skips-normalization",
        description="predict feeds the model raw pixels scaled to [0, 1], not the "
        "normalization of training: its guesses disagree with validation",
        file="templates/package/model/classifier.py",
        old="        images = (images.float() / 255 - self.mean) / self.std\n",
        new="        images = images.float() / 255\n",
        tests=(
            f"{IMAGEFOLDER_TESTS}test_predict_agrees_with_the_folder_labels_at_the_runs_accuracy",
        ),
    ),
    # ------------------------------------------------------------ refused flag pairs
    Mutant(
        name="flags-freeze-backbone-with-net-accepted",
        description="the config no longer refuses --freeze-backbone with the "
        "project's own net: the run dies later with a traceback",
        file="templates/package/config.py.jinja",
        old=(
            "    Conflict(\n"
            '        "--freeze-backbone",\n'
            '        "--model",\n'
            '        lambda args: args.freeze_backbone and args.model == "net",\n'
            '        "takes a torchvision --model, not net",\n'
            "    ),\n"
        ),
        new="",
        tests=(BAD_INPUT_PAIRS, f"{BAD_INPUT_CASES}[freeze-backbone-with-net]"),
    ),
    Mutant(
        name="flags-refusal-checks-the-wrong-flag",
        description="--weights is refused only without --pretrained, so --weights "
        "with --pretrained gets past the flag check",
        file="templates/package/config.py.jinja",
        old="        lambda args: args.weights is not None and args.pretrained,\n",
        new="        lambda args: args.weights is not None and not args.pretrained,\n",
        tests=(f"{BAD_INPUT_CASES}[weights-with-pretrained]",),
    ),
    # ------------------------------------------------------------ the journal
    Mutant(
        name="journal-half-written-line-breaks-recovery",
        description="recovery parses the journal's last line even when a kill cut "
        "it short: the next update fails on it, and the project stays stuck until "
        "the user deletes the scratch folder by hand",
        file="scaffold/transaction.py",
        old='    complete = data[: data.rfind(b"\\n") + 1]\n',
        new="    complete = data\n",
        tests=(JOURNAL_KILLED,),
    ),
    Mutant(
        name="journal-short-write-ignored",
        description="a journal line the full disk took only part of is taken as "
        "written: its move is made, and a kill before the undo leaves that file "
        "swapped for good",
        file="scaffold/transaction.py",
        old="        if os.write(self.journal, line) != len(line):\n",
        new="        if os.write(self.journal, line) < 0:\n",
        tests=(JOURNAL_FULL_DISK,),
    ),
    # ------------------------------------------------------------ text that is not UTF-8
    Mutant(
        name="update-merges-latin-1-into-mojibake",
        description="update takes any bytes that decode as Latin-1 for text, so a "
        "Latin-1 file (or a binary one) is merged line by line instead of being "
        "left alone with FILE.new beside it",
        file=UPDATE,
        old='        data.decode("utf-8")\n',
        new='        data.decode("latin-1")\n',
        tests=(
            f"{ENCODINGS}test_a_file_that_is_not_utf8_is_left_alone_with_the_new_version_beside",
        ),
    ),
    Mutant(
        name="update-merges-utf-16",
        description="a file holding NUL bytes counts as text when it decodes as "
        "UTF-8, as UTF-16 of ASCII without a byte order mark does: update merges "
        "it into a broken file",
        file=UPDATE,
        old='    if b"\\0" in data:\n        return False\n',
        new="",
        tests=(
            f"{ENCODINGS}test_a_file_that_is_not_utf8_is_left_alone_with_the_new_version_beside[utf-16-ascii-without-bom]",
        ),
    ),
    # ------------------------------------------------------------ what is a template
    Mutant(
        name="fingerprint-counts-tool-caches",
        description="the templates' fingerprint takes in the cache folders that "
        "linters and test runners leave in templates/ (only __pycache__ is "
        "passed over): after a ruff run, check reports every project as behind",
        file=RENDER,
        old='    return any(part == "__pycache__" or part.startswith(".") for part in relative.parts)\n',
        new='    return any(part == "__pycache__" for part in relative.parts)\n',
        tests=(
            "tests/test_template_fingerprint.py::test_tool_caches_in_the_templates_leave_the_fingerprint_and_check_alone",
        ),
    ),
    # ------------------------------------------------------------ the ui's paths
    Mutant(
        name="ui-path-accepts-a-windows-drive",
        description="the ui takes a path with a Windows drive (C:/..., c:name) for "
        "a path inside the project",
        file="scaffold/ui/api.py",
        old="        or PureWindowsPath(text).drive\n",
        new="",
        tests=(
            "tests/test_ui_locks.py::test_a_file_path_in_either_os_convention_that_leaves_the_project_is_refused",
        ),
    ),
    Mutant(
        name="ui-create-follows-a-link-out",
        description="Create writes through a link in the output folder to wherever "
        "it points, out of the folder `scaffold ui` was given",
        file="scaffold/ui/api.py",
        old="    if not Path(os.path.realpath(root)).is_relative_to(workspace.output_dir):\n",
        new="    if False:\n",
        tests=(
            "tests/test_ui_locks.py::test_create_refuses_a_project_folder_that_links_out_of_the_output_folder",
        ),
    ),
    # ------------------------------------------------------------ resume at any step
    Mutant(
        name="resume-in-the-first-epoch-loses-the-running-loss",
        description="the running loss starts afresh when a run resumes inside its "
        "first epoch, so that epoch's train_loss differs from the uninterrupted "
        "run's (resuming later keeps it)",
        file="templates/package/metrics/running_average.py",
        old="        if engine.state.iteration == 0:  # a resumed run keeps the loaded average\n",
        new="        if engine.state.iteration < engine.state.epoch_length:\n",
        tests=(RESUME_ANY_STEP,),
    ),
)
