"""Recipe tests run a fork of a recipe, made as a user makes one: its own files copied, the template
and utils linked (so the test never writes into egs/), with the environment a new shell would have."""

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OWN_FILES = ("run.sh", "db.sh", "cmd.sh", "path.sh")
OWN_DIRS = ("conf", "local")


def copy_recipe(recipe, dst, template, *more_templates):
    """Fork ``egs/<recipe>`` into ``dst``; ``template`` is the shared script, e.g. ``enh/enh.sh`` (a
    template that calls another, such as pse/pse.sh calling enh/enh.sh, takes both)."""
    src = REPO / "egs" / recipe
    dst.mkdir(parents=True)
    for name in OWN_FILES:
        shutil.copy2(src / name, dst / name)
    for name in OWN_DIRS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
    for name in (template, *more_templates):
        (dst / Path(name).name).symlink_to(REPO / "egs" / "TEMPLATE" / name)
    (dst / "utils").symlink_to(REPO / "utils")
    return dst


def recipe_env(drop=()):
    """The test's environment without an activated venv (path.sh activates tools/venv)."""
    return {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and k not in drop}
