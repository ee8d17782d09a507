"""Linear probe of a trained model's shared trunk: how much of the class its frozen
features carry, whatever its MER head learned (issue 29).

Each clip's trunk features (the F5C features of every frame pair, averaged over space and
pairs, first and second frame side by side: [2C]) are standardised on the training clips,
and a logistic regression (L-BFGS, L2 ``weight_decay``) is fitted to the training clips'
labels; a video's prediction is the argmax of its clips' mean logits. Centre crops, no
augmentation.

``python -m mol_core.train.probe --checkpoint results/E/folds/F/model.pt --clips
results/D/clips.parquet`` probes on the subjects the checkpoint records (trained on its
training subjects, tested on its test subjects) and prints the probe's accuracy beside the
majority class of the training videos.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..clips.data import ClipDataset
from ..model import MOL, Checkpoint
from ..util.cli import command, existing_file
from ..util.device import pick_device, to_device


@torch.no_grad()
def trunk_features(model: MOL, dataset: ClipDataset, batch_size: int = 16, device: torch.device | None = None) -> np.ndarray:
    """Per clip of ``dataset`` (centre crops), the trunk's features [N, 2C]: the mean over
    space and frame pairs of the first and of the second frame's F5C features."""
    device = device or torch.device("cpu")
    model = model.to(device).eval()
    out = []
    for start in range(0, len(dataset), batch_size):
        batch = dataset.batch(range(start, min(start + batch_size, len(dataset))))
        first, second = model.pair_features(to_device(batch["frames"], device))  # [B,T-1,C,16,16] each
        out.append(torch.cat([first.mean((1, 3, 4)), second.mean((1, 3, 4))], 1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def fit_probe(x: np.ndarray, y: np.ndarray, num_classes: int, weight_decay: float = 1e-3, steps: int = 200) -> torch.nn.Linear:
    """A logistic regression [D] -> [num_classes] on standardised features (L-BFGS, ``steps``
    iterations at most); the standardisation is folded into its weights."""
    torch.manual_seed(0)
    features = torch.from_numpy(np.asarray(x, np.float32))
    mean, std = features.mean(0), features.std(0).clamp_min(1e-6)
    z, labels = (features - mean) / std, torch.from_numpy(np.array(y, np.int64))
    layer = torch.nn.Linear(z.shape[1], num_classes)
    optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = torch.nn.functional.cross_entropy(layer(z), labels) + weight_decay * layer.weight.pow(2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    folded = torch.nn.Linear(z.shape[1], num_classes)
    with torch.no_grad():
        folded.weight.copy_(layer.weight / std)
        folded.bias.copy_(layer.bias - (layer.weight * mean / std).sum(1))
    return folded


@dataclass(frozen=True)
class ProbeResult:
    """Video-level accuracy of the probe on the test clips, beside the majority class of the
    training videos; numbers of training and test videos."""

    accuracy: float
    majority: float
    train_videos: int
    test_videos: int


def probe(model: MOL, train: pd.DataFrame, test: pd.DataFrame, num_classes: int, device: torch.device | None = None) -> ProbeResult:
    """Fit the probe on the clips ``train`` and score it per video on the clips ``test``."""
    train_x = trunk_features(model, ClipDataset(train), device=device)
    test_x = trunk_features(model, ClipDataset(test), device=device)
    layer = fit_probe(train_x, train.label.to_numpy(), num_classes)
    with torch.no_grad():
        logits = layer(torch.from_numpy(test_x)).numpy()
    keys = ["dataset", "subject", "video"]
    per_video = pd.DataFrame(logits).groupby([test[k].to_numpy() for k in keys]).mean()
    labels = test.groupby(keys).label.first()
    predicted = per_video.to_numpy().argmax(1)
    train_videos = train.drop_duplicates(keys).label
    majority = int(train_videos.value_counts().idxmax())
    return ProbeResult(float((predicted == labels.to_numpy()).mean()), float((labels == majority).mean()), len(train_videos), len(labels))


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mol_core.train.probe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, type=existing_file)
    parser.add_argument("--clips", required=True, type=existing_file, nargs="+", help="the clip index(es) the fold was trained and tested on")
    args = parser.parse_args(argv)
    checkpoint = Checkpoint.load(args.checkpoint)
    clips = pd.concat([pd.read_parquet(p) for p in args.clips], ignore_index=True)
    subjects = checkpoint.subjects
    train, test = clips[clips.subject.isin(subjects.get("train", []))], clips[clips.subject.isin(subjects.get("test", []))]
    if train.empty or test.empty:
        raise SystemExit(f"{args.checkpoint}: its training or test subjects have no clips in {', '.join(args.clips)}")
    result = probe(checkpoint.build_model(), train, test, checkpoint.num_classes, pick_device())
    print(
        f"linear probe of the trunk: accuracy {result.accuracy:.3f} on {result.test_videos} test videos "
        f"(majority class {result.majority:.3f}; fitted on {result.train_videos} training videos)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
