"""ConvL2LFlows trained on the first part of a dataset-3 file and evaluated on the rest: showers
generated at the test showers' incident energies, as the flows give them (the paper's dataset-3
setting) and renormalized to the energy flow's layer energies (the authors' post-processing for
ILD), against the test showers (evaluate.py); the time per generated shower, the loss curves; the
trained model is kept in the output folder (model/)."""
from __future__ import annotations

import time
from pathlib import Path


from ..files import DataError, json_text, output_folder
from ..icaloflow.data import read_showers
from ..icaloflow.evaluate import plot
from .data import GRID, from_images, readout, renormalize
from .evaluate import evaluate
from .train import SMALL, ConvL2LConfig, train_model

TRAIN_FRACTION = 0.8


def run_experiment(data: str | Path, out: str | Path, config: ConvL2LConfig = SMALL, seed: int = 0,
                   limit: int | None = None, quiet: bool = False) -> dict:
    energy, showers = read_showers(data, limit, GRID)
    n_train = int(round(TRAIN_FRACTION * len(energy)))
    if n_train < 40 or len(energy) - n_train < 20:
        raise DataError(f"{data}: {len(energy)} showers; ConvL2LFlows needs at least 40 to train on and 20 to test")
    model, training = train_model(energy[:n_train], showers[:n_train], config, seed, quiet)
    e_test, s_test = energy[n_train:], showers[n_train:]
    start = time.perf_counter()
    voxels, layer_mev = model.sample(e_test, seed + 1)
    seconds = (time.perf_counter() - start) / len(e_test)
    generated = {"ConvL2LFlows": (e_test, from_images(readout(voxels))),
                 "ConvL2LFlows, renormalized": (e_test, from_images(renormalize(voxels, layer_mev)))}
    table, ref, gen = evaluate(e_test, s_test, generated, seed)
    curves = training["curves"]
    results = {"config": config.to_dict(), "data": str(data), "seed": seed, "train_showers": n_train,
               "test_showers": len(e_test), "train_seconds": training["train_seconds"],
               "seconds_per_shower": seconds,
               "loss": {"energy_first": curves["energy"][0], "energy_last": curves["energy"][-1],
                        "layers_first": [c[0] for c in curves["layers"]], "layers_last": [c[-1] for c in curves["layers"]]},
               "comparison": table}
    with output_folder(out) as folder:
        model.save(folder / "model", {"data": str(data), "train_showers": n_train})
        (folder / "results.json").write_text(json_text(results))
        plot(ref, gen, folder / "observables.png")
    return results
