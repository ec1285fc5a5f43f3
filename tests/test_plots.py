"""Figures: a run's metrics, runs compared (today's logs and the old A2C ones), live curves."""

import matplotlib
import numpy as np
import pytest
from conftest import load_script

from rlcourse.metrics import MetricLogger, read_run_log
from rlcourse.plots import LivePlot, plot_metrics, plot_runs

matplotlib.use("Agg")

PNG = b"\x89PNG\r\n\x1a\n"
OLD_A2C_HEADER = (
    "wall_s,train_s,steps,steps_per_s,eval_score,eval_std,train_score,entropy,"
    "policy_loss,value_loss,grad_norm"
)


def _new_log(path):
    metrics = MetricLogger(path)
    for step in (100, 200, 300, 400):
        metrics.log_episode(
            step=step,
            episode_return=float(step),
            episode_length=10,
            entropy=2.0 - step / 1000,
            wall_seconds=step / 10,
        )
        if step % 200 == 0:
            metrics.log_evaluation(step, step * 3.0, 5.0, wall_seconds=step / 10)
    return path


def _old_a2c_log(path):
    path.write_text(
        OLD_A2C_HEADER + "\n"
        "130,120,70000,580,4000,1600,2900,2.3,0.01,0.2,0.3\n"
        "270,240,190000,990,4400,1300,3800,2.0,0.02,0.3,0.5\n"
    )
    return path


def test_read_run_log_renames_the_old_a2c_columns(tmp_path):
    old = read_run_log(_old_a2c_log(tmp_path / "old.csv"))
    assert old["step"].tolist() == [70000, 190000]
    assert old["wall_seconds"].tolist() == [120, 240]  # training time, evaluations excluded
    assert old["eval_mean"].tolist() == [4000, 4400] and old["entropy"].tolist() == [2.3, 2.0]
    new = read_run_log(_new_log(tmp_path / "new.csv"))
    assert np.isfinite(new["eval_mean"]).sum() == 2


def test_read_run_log_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="has no rows yet"):
        read_run_log(tmp_path / "empty.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a training log with evaluations"):
        read_run_log(tmp_path / "other.csv")


def test_plot_runs_compares_old_and_new_logs(tmp_path):
    logs = [_old_a2c_log(tmp_path / "old.csv"), _new_log(tmp_path / "new.csv")]
    figure = plot_runs(
        logs,
        tmp_path / "out" / "runs.png",
        labels=["old", "new"],
        target=4200,
        budget_minutes=3,
        n_actions=14,
        title="A2C",
    )
    assert (tmp_path / "out" / "runs.png").read_bytes()[:8] == PNG
    score_ax, steps_ax, entropy_ax = figure.axes
    assert [t.get_text() for t in score_ax.get_legend().get_texts()] == ["old", "new"]
    assert len(entropy_ax.get_lines()) == 3  # one per run and log(14)
    assert figure._suptitle.get_text() == "A2C"
    assert "minutes" in score_ax.get_xlabel() and "steps" in steps_ax.get_xlabel()


def test_plot_runs_without_entropy_has_two_panels(tmp_path):
    metrics = MetricLogger(tmp_path / "dqn" / "log.csv")
    metrics.log_step(1.0)
    metrics.log_episode(step=1, wall_seconds=0.5)
    metrics.log_evaluation(1, 9.0, 1.0, wall_seconds=0.5)
    figure = plot_runs(tmp_path / "dqn" / "log.csv")
    assert len(figure.axes) == 2
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["dqn"]


def test_plot_runs_checks_labels(tmp_path):
    log = _new_log(tmp_path / "log.csv")
    with pytest.raises(ValueError, match="2 logs but 1 labels"):
        plot_runs([log, log], labels=["one"])
    with pytest.raises(ValueError, match="at least one log"):
        plot_runs([])


def test_make_results_draws_the_result_figures_from_the_committed_logs(tmp_path):
    """tools/make_results.py: the shipped DQN logs, the study, the old-format A2C logs,
    lesson 07's ablation and its seed runs, lesson 06's Double DQN against DQN and the held
    exploration runs on Mario Bros., lesson 10's PPO runs."""
    module = load_script("tools/make_results")
    written = module.main(["--out", str(tmp_path)])
    names = {path.name for path in written}
    assert names == {
        "dqn_mspacman.png",
        "ddqn_mario.png",
        "overestimation.png",
        "a2c_kungfu.png",
        "a2c_kungfu_cpp.png",
        "a2c_kungfu_levers.png",
        "a2c_kungfu_survival.png",
        "ddqn_nes_mario.png",
        "dqn_100k_ablation.png",
        "dqn_100k_seeds_mspacman.png",
        "dqn_100k_seeds_kungfu.png",
        "mario_ddqn.png",
        "mario_held.png",
        "ppo_kungfu_seeds.png",
    }
    for path in written:
        assert path.read_bytes()[:8] == PNG


def test_plot_metrics_panels_and_png(tmp_path):
    metrics = MetricLogger(window=2)
    for step in range(1, 6):
        metrics.log_step(float(step), loss=1.0 / step, q_mean=float(step))
        metrics.log_episode(step=step * 10)
    metrics.log_evaluation(50, 4.0, 1.0)
    figure = plot_metrics(metrics, tmp_path / "m.png", title="run", baselines={"random": 1.0})
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "training episode return",
        "episode length (steps)",
        "mean loss",
        "mean predicted Q",
        "evaluation score",
    ]
    assert plot_metrics(metrics) is not None  # no file
    empty = plot_metrics(MetricLogger())
    assert [ax.get_title() for ax in empty.axes] == ["training episode return"]


def test_live_plot_keeps_data_and_draws_nothing_outside_a_notebook():
    plot = LivePlot(["episode_return", "epsilon"])
    plot.add(1, episode_return=2.0, epsilon=None, other=5.0)
    plot.add(2, episode_return=float("nan"), epsilon=0.5)
    assert plot.data == {"episode_return": [(1, 2.0)], "epsilon": [(2, 0.5)]}
    plot.draw()  # no notebook: nothing happens
    assert len(plot.figure().axes) == 2


# Each public plotting function, called twice in a loop (first cell), as a cell's last line
# (second), and its returned figure shown again in a later cell (third).
_FIGURE_CALLS = {
    "plot_metrics": "plot_metrics(metrics)",
    "plot_runs": "plot_runs([pretrained.path('a2c_kungfu_log.csv')], labels=['run'])",
    "plot_grid_values": "plot_grid_values(np.arange(4.0), (2, 2), policy=[2, 1, 2, 0])",
    "plot_grid_path": "plot_grid_path({'walk': [0, 1, 3]}, (2, 2))",
    "plot_ablation": "plot_ablation(ablation)",
    "plot_overestimation": "plot_overestimation(shipped_study())",
}
_FIGURE_SETUP = """\
import matplotlib.pyplot as plt
import numpy as np
from rlcourse import pretrained
from rlcourse.metrics import MetricLogger
from rlcourse.plots import plot_grid_path, plot_grid_values, plot_metrics, plot_runs
from rlcourse.studies.ablation import plot_ablation, read_ablation
from rlcourse.studies.overestimation import plot_overestimation, shipped_study

metrics = MetricLogger(window=2)
for step in range(1, 4):
    metrics.log_step(1.0, loss=0.5, q_mean=1.0)
    metrics.log_episode(step=10 * step)
ablation = read_ablation(pretrained.path("mario_ddqn_log.csv"),
                         pretrained.path("mario_ddqn_scores.csv"))
"""


def _images(cell):
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


@pytest.mark.parametrize("name", sorted(_FIGURE_CALLS))
def test_a_plotting_function_shows_its_figure_wherever_it_is_called(name):
    """No lost figures: a helper's figure is displayed when called in a loop or before
    ``plt.show()``, once as a cell's value, and again when shown in a later cell."""
    import nbformat
    from nbclient import NotebookClient

    call = _FIGURE_CALLS[name]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [
        nbformat.v4.new_code_cell(_FIGURE_SETUP),
        nbformat.v4.new_code_cell(f"for _ in range(2):\n    figure = {call}\nplt.show()"),
        nbformat.v4.new_code_cell(call),
        nbformat.v4.new_code_cell("figure"),
        # The package drawing for itself (the training harness saving metrics.png): not shown.
        nbformat.v4.new_code_cell(f"exec({call!r}, {{**globals(), '__name__': 'rlcourse.x'}})"),
    ]
    NotebookClient(notebook, timeout=300).execute()
    assert [_images(cell) for cell in notebook.cells] == [0, 2, 1, 1, 0]
