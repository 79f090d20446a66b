"""The README's Python examples run as written, top to bottom, in a fresh interpreter
(as a newcomer pasting them into a notebook would)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.browser_support import ROOT


def test_readme_examples_run(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4, "the README lost its examples"
    script = "\n".join(blocks)
    # show() calls are what a notebook does with a bare expression; end the background
    # fit before the interpreter exits, and check a few things the text promises
    script += (
        "\njob.join()\n"
        "assert app.state.layer_names[0].startswith('conv2d')\n"
        "assert state.layer == 'conv2d' and state.input_index == 3\n"
        "assert acts.channel == 3 and before.layer == state.layer\n"
        "assert open('run.csv').readline().strip() == 'run,series,step,value'\n"
        "assert reviews.state.input_kinds == ('tokens',)\n"
        "assert set(norms) == {'conv2d', 'dense'} and counts.sum() == np.size(model.weights[0])\n"
        "assert set(dead) == {'conv2d', 'global_average_pooling2d', 'dense'}\n"
        "assert reviews.prediction.summaries[0].startswith('predicted ')\n"
        "assert cam.shape == (8, 26, 26) and sal.shape == (8, 28, 28) and drop.shape == (8, 7, 7)\n"
        "assert ig.shape == x[:8].shape and state.ablation == {}\n"
        "assert graph.selected == state.layer and scores.shape == (8, 2, 12, 12)\n"
        "assert heads.layer == 'attention' and heads.shown.shape == (12, 12)\n"
        "print('README ok')\n"
    )
    (tmp_path / "readme.py").write_text(script)
    done = subprocess.run(
        [sys.executable, "readme.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "README ok" in done.stdout
