"""What the workflow's config becomes before it is planned: the ablation variants and the
per-seed runs expanded into experiments (:func:`expanded`), and the key-by-key merge that
Snakemake applies to config files (:func:`merged`). Pure functions: none changes the dict
it is given. The plan itself is :class:`mol_core.workflow_plan.WorkflowPlan`.
"""

from __future__ import annotations

import copy

from .errors import ConfigError

ABLATION_KEYS = ("model", "sampling", "paper")  # what a variant of resources/ablations.yaml may set
SEED_SUFFIX = "_seed"  # an experiment with seeds runs as <name>_seed<n>, one per seed


def merged(base: dict, extra: dict) -> dict:
    """A new dict: ``base`` updated by ``extra``, nested dicts merged key by key (a mapping
    over a value that is not one replaces it, as Snakemake merges config files)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        nested = isinstance(value, dict) and isinstance(out.get(key, {}), dict)
        out[key] = merged(out.get(key, {}), value) if nested else copy.deepcopy(value)
    return out


def ablation_experiments(config: dict, variants: dict) -> dict[str, dict]:
    """``ablation_<variant>`` -> its experiment: the ``ablations.base`` experiment (without its
    ``paper`` row) with the variant's ``model``, ``sampling`` and ``paper`` (``variants``:
    resources/ablations.yaml). ``ablations.variants`` picks some; default all."""
    spec = config.get("ablations")
    if not spec:
        return {}
    base = config["experiments"].get(spec["base"])
    if base is None:
        raise ConfigError(f"ablations.base: {spec['base']!r} is not under experiments: ({', '.join(config['experiments'])})")
    chosen = spec.get("variants") or list(variants)
    unknown = [name for name in chosen if name not in variants]
    if unknown:
        raise ConfigError(f"ablations.variants: unknown {', '.join(map(repr, unknown))}; known: {', '.join(variants)}")
    start = {k: v for k, v in base.items() if k != "paper"}
    return {f"ablation_{name}": merged(start, {k: v for k, v in variants[name].items() if k in ABLATION_KEYS}) for name in chosen}


def seed_experiments(experiments: dict[str, dict]) -> dict[str, dict]:
    """``<name>_seed<n>`` -> its experiment, for each experiment with ``seeds`` and each of
    them: a copy with ``train.seed: n`` and without ``seeds``. The experiment itself then
    trains nothing: its report pools the seeds' metrics (mean and std over seeds)."""
    out = {}
    for name, exp in experiments.items():
        for seed in exp.get("seeds") or []:
            out[seed_run_name(name, seed)] = merged({k: v for k, v in exp.items() if k != "seeds"}, {"train": {"seed": seed}})
    return out


def seed_run_name(experiment: str, seed: int) -> str:
    """``<experiment>_seed<n>``: the experiment that trains ``experiment`` with seed n."""
    return f"{experiment}{SEED_SUFFIX}{seed}"


def expanded(config: dict, variants: dict) -> dict:
    """A copy of ``config`` with the ablation experiments (``variants``:
    resources/ablations.yaml) and the per-seed experiments added (checked by the plan)."""
    ablations = ablation_experiments(config, variants)
    clash = sorted(set(ablations) & set(config["experiments"]))
    if clash:
        raise ConfigError(f"experiments.{clash[0]}: the name of an ablation variant of ablations.base; rename it")
    out = copy.deepcopy(config)
    out["experiments"].update(ablations)
    seeded = seed_experiments(out["experiments"])
    clash = sorted(set(seeded) & set(out["experiments"]))
    if clash:
        raise ConfigError(f"experiments.{clash[0]}: the name of a seed run of experiments.{clash[0].rsplit(SEED_SUFFIX, 1)[0]}; rename it")
    out["experiments"].update(seeded)
    return out
