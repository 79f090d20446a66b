"""Every notebook in notebooks/ runs top to bottom in a fresh kernel and shows widgets."""

from __future__ import annotations

import concurrent.futures
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# quickstart.ipynb promises "well under a minute"; leave room for a slow CI machine.
TIME_BUDGET = {
    "quickstart.ipynb": 120,
    "convolution.ipynb": 120,
    "training_curves.ipynb": 120,
    "models.ipynb": 120,
    "why_did_the_model_say_that.ipynb": 90,  # about 35 s alone, 45 s beside another
    "how_layers_organise_the_data.ipynb": 120,  # about 30 s alone, 60-90 s beside others
    "what_attention_attends_to.ipynb": 120,  # about 50 s alone on a busy machine (30 s of training)
    "comparing_runs.ipynb": 150,
}


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "dashboard.ipynb"} <= names, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear the outputs before committing"
            )


# Two notebooks run at a time, each in a fresh kernel of its own (a kernel keeps about
# one core busy: two use the machine's two cores), the longest first (any not listed
# here before those).
PARALLEL = 2
LONGEST_FIRST = [
    "training_curves.ipynb",
    "how_layers_organise_the_data.ipynb",
    "models.ipynb",
    "quickstart.ipynb",
]


def _execute(path: Path) -> tuple[nbformat.NotebookNode, int, float]:
    """Run ``path`` in a fresh ``python3`` kernel: (the notebook run, its own cell
    count, seconds); raises CellExecutionError on the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    # One extra cell, run last, reports which interpreter the kernel is.
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, n_cells, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed():
    """Every notebook run, ``PARALLEL`` at a time: {name: future of _execute's result}.
    ``python3`` resolves to this interpreter's kernelspec (the venv), not a user or
    system one that could shadow it, and TensorFlow is kept quiet."""
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = saved["TF_CPP_MIN_LOG_LEVEL"] or "3"
    order = {name: i for i, name in enumerate(LONGEST_FIRST)}
    longest_first = sorted(NOTEBOOKS, key=lambda p: order.get(p.name, -1))
    pool = concurrent.futures.ThreadPoolExecutor(PARALLEL)
    try:
        yield {p.name: pool.submit(_execute, p) for p in longest_first}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, executed):
    nb, n_cells, elapsed = executed[path.name].result()  # raises what the run raised
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, ARTIFACTS / f"executed-{path.name}")  # to open and look at

    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert Path(probe).absolute() == Path(sys.executable).absolute(), (
        f"the notebook ran in {probe!r}, not in this environment's {sys.executable!r}"
    )

    outputs = [o for cell in nb.cells[:n_cells] if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Traceback" not in stderr, stderr
    views = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert views, f"{path.name} displayed no widget"
    # Each view refers to a widget whose state the kernel sent to the notebook.
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})
    for view in views:
        model_id = view["data"][WIDGET_VIEW]["model_id"]
        assert model_id in models, f"widget {model_id} has no saved state"
    names = {m["model_name"] for m in models.values()}
    assert {"FigureModel", "ImageModel", "SelectModel"} <= names, sorted(names)

    budget = TIME_BUDGET.get(path.name)
    if budget is not None:
        assert elapsed < budget, f"{path.name} took {elapsed:.0f} s (budget {budget} s)"
