"""`l1forge data ...` commands (plugged into compiler.cli through the l1forge.commands entry point)."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

data_app = typer.Typer(no_args_is_help=True, help="Generate and inspect physics data sets.")
console = Console()


@data_app.command("jets")
def jets_command(
    out: Path = typer.Option(..., "--out", help="HDF5 file to write (public hls4ml LHC jet layout)."),
    n_per_class: int = typer.Option(1000, "--n-per-class", help="Jets of each of the 5 classes."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same arguments give the same bytes."),
    workers: int = typer.Option(0, "--workers", help="Processes (0: all cores)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Also write FILE_mass.png."),
    preset: str = typer.Option("public", "--preset",
                               help="public: like the public files (default); v3: generator v3's default "
                                    "(generator particles, 0.4 cone of R=0.8 jets, ISR and MPI on); v1: the "
                                    "generator before issue 23 (no cone, wider spectrum, Pythia's mass ranges "
                                    "and decay correlations)."),
    pt_hat: str = typer.Option(None, "--pt-hat", help="Pythia pTHat window LOW,HIGH in GeV (public: 990,1010)."),
    jet_pt: str = typer.Option(None, "--jet-pt", help="Accepted jet pT window LOW,HIGH in GeV (public: 800,1600)."),
    cone: float = typer.Option(None, "--cone", help="Constituent cone radius about the re-centred axis; 0 keeps "
                                                    "the whole jet (public: 0; v3: 0.4)."),
    min_particle_pt: float = typer.Option(None, "--min-particle-pt",
                                          help="Drop particles below this pT in GeV (public: 0; v3: 0.4)."),
    bw_cutoff: float = typer.Option(None, "--bw-cutoff", help="Keep W, Z and top masses within this many widths of "
                                                              "the pole, as MadGraph's bwcutoff (public: 15; 0: "
                                                              "Pythia's own range)."),
    boson_decays: str = typer.Option(None, "--boson-decays",
                                     help="isotropic: W and Z decayed by Pythia from undecayed Les Houches events, "
                                          "as the public chain (default); correlated: Pythia's decay-angle "
                                          "correlations (v1)."),
    detector: str = typer.Option(None, "--detector", help="cms: the public files' parametric CMS-like detector "
                                                          "(tracks, ECAL and HCAL cells; models/data/detector.py; "
                                                          "public); none: generator particles (v3)."),
    radius: float = typer.Option(None, "--radius", help="Anti-kT radius of the jets (public: 0.4; v3: 0.8)."),
    isr: bool = typer.Option(None, "--isr/--no-isr", help="Pythia's initial-state radiation (public: off; v3: on)."),
    mpi: bool = typer.Option(None, "--mpi/--no-mpi", help="Pythia's multiple interactions, the underlying event "
                                                          "(public: off; v3: on)."),
) -> None:
    """Generate gluon, light-quark, W, Z and top jets with Pythia 8 + FastJet."""
    from .data.jets import generate_jets, jet_settings

    settings = jet_settings(preset, pt_hat=pt_hat, jet_pt=jet_pt, cone=cone, min_particle_pt=min_particle_pt,
                            bw_cutoff=bw_cutoff, boson_decays=boson_decays, detector=detector, radius=radius,
                            isr=isr, mpi=mpi)
    stats = generate_jets(n_per_class, seed, out, workers=workers or None, settings=settings)
    origin = "from cache " + stats["cache"] if stats["cached"] else "generated"
    console.print(f"wrote {out} ({5 * n_per_class} jets, {origin})")
    print_summary(out, plot)


@data_app.command("showers")
def showers_command(
    out: Path = typer.Option(..., "--out", help="HDF5 file to write (CaloChallenge layout for ds2/ds3, "
                                                "CaloClouds layout for ild)."),
    geometry: str = typer.Option("ds2", "--geometry", help="ds2, ds3 (CaloChallenge datasets 2 and 3) or ild "
                                                           "(ILD-ECAL-like point clouds)."),
    n: int = typer.Option(1000, "--n", help="Number of showers."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same arguments give the same bytes."),
    particle: str = typer.Option(None, "--particle", help="electron or photon (public: electron for ds2/ds3, "
                                                          "photon for ild)."),
    energy: str = typer.Option(None, "--energy", help="Incident energy window LOW,HIGH (or one energy) in GeV, "
                                                      "within 1-1000 (public: 1,1000 for ds2/ds3, 10,90 for ild)."),
    spectrum: str = typer.Option(None, "--spectrum", help="log-uniform or flat (public: log-uniform for ds2/ds3, "
                                                          "flat for ild)."),
    stochastic_term: float = typer.Option(None, "--stochastic-term",
                                          help="Sampling term a of sigma/E = a/sqrt(E/GeV) (0.17 for ds2/ds3, "
                                               "0.166 for ild)."),
    workers: int = typer.Option(0, "--workers", help="Processes (0: all cores)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Also write FILE_physics.png."),
) -> None:
    """Generate electromagnetic showers with a parametric (Grindhammer-Peters) simulator."""
    from .data.showers import generate_showers, shower_settings
    from .data.showers.generate import binning_path
    from .data.showers.geometry import GEOMETRIES

    settings = shower_settings(geometry, particle=particle, energy=energy, spectrum=spectrum,
                               stochastic_term=stochastic_term)
    stats = generate_showers(n, seed, out, settings, workers=workers or None)
    origin = "from cache " + stats["cache"] if stats["cached"] else "generated"
    console.print(f"wrote {out} ({n} {settings.particle} showers, {GEOMETRIES[geometry].description}; {origin})")
    if GEOMETRIES[geometry].kind == "voxels":
        console.print(f"binning: {binning_path(out)}")
    print_summary(out, plot)


@data_app.command("dijets")
def dijets_command(
    out: Path = typer.Option(..., "--out", help="HDF5 file to write (one data set per kind of event)."),
    n_background: int = typer.Option(10000, "--n-background", help="QCD dijet events passing the trigger."),
    n_signal: int = typer.Option(1000, "--n-signal", help="W' -> X Y -> (qq)(qq) events passing the trigger."),
    n_sr_background: int = typer.Option(0, "--n-sr-background",
                                        help="Extra QCD events in the signal region (an idealised anomaly "
                                             "detector's background sample)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same arguments give the same bytes."),
    workers: int = typer.Option(0, "--workers", help="Processes (0: all cores)."),
    w_prime_mass: float = typer.Option(3500.0, "--w-prime-mass", help="W' mass in GeV (R&D set: 3500)."),
    x_mass: float = typer.Option(500.0, "--x-mass", help="X mass in GeV (R&D set: 500)."),
    y_mass: float = typer.Option(100.0, "--y-mass", help="Y mass in GeV (R&D set: 100)."),
    detector: str = typer.Option("cms", "--detector", help="cms: the jet data's parametric CMS-like detector; "
                                                           "none: generator particles."),
    mpi: bool = typer.Option(True, "--mpi/--no-mpi", help="Pythia's multiple interactions (underlying event)."),
) -> None:
    """Generate LHC-Olympics-like dijet events (QCD and a W' -> X Y signal) with Pythia 8 + FastJet."""
    from .data.dijets import DIJET_FEATURES, KINDS, SIGNAL_REGION, DijetSettings, generate_dijets

    settings = DijetSettings(w_prime_mass=w_prime_mass, x_mass=x_mass, y_mass=y_mass, detector=detector, mpi=mpi)
    counts = {"background": n_background, "signal": n_signal, "sr_background": n_sr_background}
    stats = generate_dijets(counts, seed, out, workers=workers or None, settings=settings)
    origin = "from cache " + stats["cache"] if stats["cached"] else "generated"
    console.print(f"wrote {out} ({origin})")
    import h5py
    import numpy as np

    table = Table(title=f"{out}: medians (TeV for masses); j1 is the lighter jet")
    for col in ("kind", "events", f"in SR {SIGNAL_REGION[0]:g}-{SIGNAL_REGION[1]:g} TeV", *DIJET_FEATURES[:5]):
        table.add_column(col, justify="right")
    with h5py.File(out, "r") as f:
        for kind in KINDS:
            rows = f[kind][:]
            if len(rows):
                in_sr = np.mean((rows[:, 0] >= SIGNAL_REGION[0]) & (rows[:, 0] <= SIGNAL_REGION[1]))
                table.add_row(kind, str(len(rows)), f"{in_sr:.1%}", *(f"{v:.3f}" for v in np.median(rows[:, :5], axis=0)))
    console.print(table)


@data_app.command("jetclass")
def jetclass_command(
    out: Path = typer.Option(..., "--out", help="HDF5 file to write ('particles' (n, 128, 16), 'jets' (n, 7))."),
    n_per_class: int = typer.Option(1000, "--n-per-class", help="Jets of each class."),
    classes: str = typer.Option("all", "--classes", help="Comma-separated classes to make (QCD, Hbb, ...; all: "
                                                        "every one)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same arguments give the same bytes."),
    workers: int = typer.Option(0, "--workers", help="Processes (0: all cores)."),
    pt_hat: str = typer.Option("450,1100", "--pt-hat", help="Pythia pTHat window LOW,HIGH in GeV."),
    jet_pt: str = typer.Option("500,1000", "--jet-pt", help="Accepted jet pT window LOW,HIGH in GeV (JetClass')."),
    mpi: bool = typer.Option(True, "--mpi/--no-mpi", help="Pythia's multiple interactions (underlying event)."),
) -> None:
    """Generate JetClass-like jets (QCD, H -> bb/cc/gg, t -> bqq, W/Z -> qq) with particle identity,
    charge and track impact parameters, with Pythia 8 + FastJet."""
    from .data.jetclass import CLASSES, JetClassSettings, generate_jetclass
    from .data.jets import _window

    settings = JetClassSettings(pt_hat=_window(pt_hat, "--pt-hat"), jet_pt=_window(jet_pt, "--jet-pt"), mpi=mpi)
    chosen = CLASSES if classes == "all" else tuple(c.strip() for c in classes.split(",") if c.strip())
    stats = generate_jetclass(n_per_class, seed, out, chosen, workers=workers or None, settings=settings)
    origin = "from cache " + stats["cache"] if stats["cached"] else "generated"
    console.print(f"wrote {out} ({origin})")
    print_jetclass_summary(out)


def print_jetclass_summary(file: Path, as_json: bool = False) -> dict:
    from .data.jetclass import summarize_jetclass

    summary = summarize_jetclass(file)
    if as_json:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"{file}: per class (displaced: tracks with |d0| / sigma > 3)")
    columns = ("jets", "mean_particles", "median_mass", "median_pt", "charged_share", "displaced_share",
               "leptons_per_jet")
    for col in ("class", *columns):
        table.add_column(col.replace("_", " "), justify="right")
    for cls, row in summary.items():
        table.add_row(cls, *(f"{row[c]:.3g}" for c in columns))
    console.print(table)
    return summary


@data_app.command("summary")
def summary_command(
    file: Path = typer.Argument(..., help="Jet file or shower file (generated or public)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Also write a plot beside the file."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    max_showers: int = typer.Option(20000, "--max-showers", help="Showers read from a shower file (0: all)."),
) -> None:
    """Jets: per-class counts, multiplicity, mass peaks (JetClass-like jets: also identity and
    displaced tracks). Showers: the physics table per energy."""
    print_summary(file, plot, as_json, max_showers or None)


def _setting_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "-".join(f"{x:g}" for x in value)
    return value if isinstance(value, str) else f"{value:g}"


def _file_kind(file: Path) -> str:
    """'jets', 'jetclass' or 'showers' from the datasets a file holds; one line naming the layouts
    otherwise."""
    import h5py

    from l1forge.compiler.errors import L1ForgeError

    from .data.jetclass import PARTICLES_KEY
    from .data.layout import CONSTITUENTS_KEY
    from .data.showers.formats import shower_kind

    if not file.is_file():
        raise L1ForgeError(f"{file}: no such file")
    try:
        with h5py.File(file, "r") as f:
            has_jets = CONSTITUENTS_KEY in f
            has_jetclass = PARTICLES_KEY in f and "particle_features" in f.attrs
    except OSError:
        raise L1ForgeError(f"{file}: not an HDF5 file (expected a jet file or a shower file)") from None
    if has_jets:
        return "jets"
    if has_jetclass:
        return "jetclass"
    if shower_kind(file) is not None:
        return "showers"
    raise L1ForgeError(f"{file}: neither a jet file ('{CONSTITUENTS_KEY}', 'jets': the hls4ml LHC jet layout; "
                       f"'{PARTICLES_KEY}', 'jets': JetClass-like) nor a shower file ('incident_energies', 'showers': "
                       "CaloChallenge; 'events', 'energy': CaloClouds)")


def print_summary(file: Path, plot: bool = True, as_json: bool = False, max_showers: int | None = 20000) -> dict:
    from .data.summary import plot_jet_mass, summarize_jets

    kind = _file_kind(Path(file))
    if kind == "showers":
        return print_shower_summary(file, plot, as_json, max_showers)
    if kind == "jetclass":
        return print_jetclass_summary(file, as_json)

    summary = summarize_jets(file)
    if plot:
        summary["mass_plot"] = str(plot_jet_mass(file, Path(file).with_name(Path(file).stem + "_mass.png")))
    if as_json:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"{file}: {summary['jets']} jets")
    for col in ("class", "jets", "mean constituents", "mass peak [GeV]", "median mass [GeV]", "mean pT [GeV]"):
        table.add_column(col, justify="right")
    for cls, s in summary["classes"].items():
        table.add_row(cls, str(s["jets"]), f"{s['mean_constituents']:.1f}", f"{s['mass_peak']:.0f}",
                      f"{s['mass_median']:.1f}", f"{s['pt_mean']:.0f}")
    console.print(table)
    _print_origin(summary, f"jet-mass plot: {summary['mass_plot']}" if plot else None)
    return summary


def _print_origin(summary: dict, plot_line: str | None) -> None:
    """The generator and its settings (files l1forge made), and where the plot went."""
    if summary["generator"]:
        settings = ", ".join(f"{k} {_setting_text(v)}" for k, v in summary["settings"].items())
        console.print(f"made by {summary['generator']}" + (f": {settings}" if settings else ""), soft_wrap=True)
    if plot_line:
        console.print(plot_line)


def print_shower_summary(file: Path, plot: bool, as_json: bool, max_showers: int | None) -> dict:
    from .data.showers.summary import plot_showers, summarize_showers

    summary = summarize_showers(file, max_showers)
    if plot:
        summary["plot"] = str(plot_showers(summary, Path(file).with_name(Path(file).stem + "_physics.png")))
    if as_json:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"{file}: {summary['showers']} {summary['geometry']} showers "
                        f"(R_M {summary['moliere_mm']:.2f} mm, E_c {summary['critical_energy_mev']:.2f} MeV)")
    for col in ("E [GeV]", "showers", "<E>/E0", "sigma/E", "t_max [X0]", "R90 [mm]", "R90 [R_M]", "hits"):
        table.add_column(col, justify="right")
    for r in summary["rows"]:
        table.add_row(f"{r['e_low_gev']:.3g}-{r['e_high_gev']:.3g}", str(r["showers"]), f"{r['linearity']:.3f}",
                      f"{r['resolution']:.4f}", f"{r['t_max_x0']:.2f}", f"{r['r90_mm']:.1f}",
                      f"{r['r90_moliere']:.2f}", f"{r['hits']:.0f}")
    console.print(table)
    if summary["resolution_fit"]:
        fit = summary["resolution_fit"]
        console.print(f"resolution fit: sigma/E = {100 * fit['stochastic']:.1f} %/sqrt(E/GeV) (+) "
                      f"{100 * fit['constant']:.2f} %")
    if summary["t_max_fit"]:
        fit = summary["t_max_fit"]
        console.print(f"shower maximum: t_max = {fit['slope']:.2f} ln(E/E_c) {fit['intercept']:+.2f} X0; with slope 1: "
                      f"ln(E/E_c) {fit['pdg_constant']:+.2f} X0 (PDG: -0.5 electrons, +0.5 photons)")
    _print_origin(summary, f"physics plots: {summary['plot']}" if plot else None)
    return summary


def train(
    data: list[Path] = typer.Option(..., "--data", help="Jet file(s): generated or the public hls4ml files; for "
                                                         "caloclouds-student one ILD-like shower file, for "
                                                         "icaloflow-student one dataset-2 shower file."),
    out: Path = typer.Option(..., "--out", help="Folder for model.onnx, checkpoints, metrics, roc.png."),
    model: str = typer.Option("deepsets", "--model", help="deepsets, intnet (interaction network), mlp, "
                                                           "caloclouds-student (the one-step shower generator) or "
                                                           "icaloflow-student (the IAF shower flow's sampling pass)."),
    n_constituents: int = typer.Option(8, "--n-constituents", "-N", help="Leading constituents: 8, 16 or 32."),
    features: str = typer.Option("3", "--features", help="3 (pT, eta_rel, phi_rel), 3rel (pT_rel, ...) or 16."),
    pool: str = typer.Option("mean", "--pool", help="Aggregation over particles (deepsets, intnet): mean, sum or max."),
    phi: str = typer.Option("32,32,32", "--phi", help="Deep-set phi widths."),
    rho: str = typer.Option("32", "--rho", help="Deep-set rho widths."),
    widths: str = typer.Option("120,60,32,64,64,64,32,44", "--widths", help="MLP widths."),
    effects: str = typer.Option("12,6", "--effects", help="Interaction-network edge MLP widths."),
    objects: str = typer.Option("36,18,6", "--objects", help="Interaction-network node MLP widths."),
    classifier: str = typer.Option("170", "--classifier", help="Interaction-network classifier widths."),
    w_bits: int = typer.Option(8, "--w-bits", help="Weight bits (2-16)."),
    a_bits: int = typer.Option(None, "--a-bits", help="Activation bits (2-16; default 8, generators 10)."),
    run: Path = typer.Option(None, "--run", help="caloclouds-student / icaloflow-student: a trained reference "
                                                 "run (`python -m l1forge.reference.caloclouds2 train` or "
                                                 "`... .icaloflow train`); without it one is trained first on --data."),
    flow: int = typer.Option(1, "--flow", help="icaloflow-student: 1 (the 45 layer energies) or 3 (one layer's "
                                               "144 voxels given the layer before)."),
    reference_config: str = typer.Option("small", "--reference-config",
                                         help="generators without --run: small (minutes on 2 cores) or "
                                              "paper (the paper's own sizes)."),
    steps: int = typer.Option(2000, "--steps", help="generators: quantization-aware fine-tuning steps."),
    table_bits: int = typer.Option(8, "--table-bits", help="generators: input bits of the function tables "
                                                            "(sigmoid and leaky ReLU; exp)."),
    hgq: bool = typer.Option(False, "--hgq", help="Learnable bit widths (HGQ): every weight and activation "
                                                  "channel on its own power-of-two grid (any --model; "
                                                  "compile with --backend rtl)."),
    beta: float = typer.Option(0.0, "--beta", help="With --hgq: weight of the resource term in the loss "
                                                   "(per adder bit of the adders proxy, or per EBOP)."),
    hgq_granularity: str = typer.Option("element", "--hgq-granularity",
                                        help="With --hgq: weight grids per element or per output channel."),
    hgq_cost: str = typer.Option("adders", "--hgq-cost",
                                 help="With --hgq: resource term, 'adders' (adder bits of the adder trees) "
                                      "or 'ebops' (HGQ's effective bit operations)."),
    hgq_rounding: str = typer.Option("floor", "--hgq-rounding",
                                     help="With --hgq: activation rounding, 'floor' (no logic) or 'even'."),
    hgq_act_granularity: str = typer.Option("channel", "--hgq-act-granularity",
                                            help="With --hgq: activation grids per channel, or one per "
                                                 "layer (what the hls4ml backend casts)."),
    hgq_per_particle: bool = typer.Option(False, "--hgq-per-particle",
                                          help="With --hgq: activation grids per pT-ordered particle slot "
                                               "(smaller firmware, not permutation invariant)."),
    beta_warmup: int = typer.Option(0, "--beta-warmup", help="With --hgq: epochs over which beta ramps up "
                                                              "linearly from 0."),
    epochs: int = typer.Option(20, "--epochs"),
    batch_size: int = typer.Option(None, "--batch-size", help="Default 256; generators 1024 rows."),
    lr: float = typer.Option(None, "--lr", help="Default 2e-3; generators 1e-3."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Quantization-aware training (Brevitas) with the float twin beside it; exports QONNX."""
    from l1forge.compiler.errors import L1ForgeError

    models = ("deepsets", "intnet", "mlp", "caloclouds-student", "icaloflow-student")
    if model not in models:
        raise L1ForgeError(f"--model must be one of {', '.join(models)}, got {model!r}")
    generator = model.endswith("-student")
    defaults = (10, 1024, 1e-3) if generator else (8, 256, 2e-3)  # --a-bits, --batch-size, --lr
    a_bits, batch_size, lr = (d if v is None else v for v, d in zip((a_bits, batch_size, lr), defaults))
    if generator:
        return _train_generator(model, flow, data, out, run, reference_config, w_bits, a_bits, table_bits, steps,
                                batch_size, lr, seed)
    from .data.loader import load_jets
    from .taggers import TaggerConfig
    from .train import TrainSettings, train_and_export

    if beta_warmup < 0:
        raise L1ForgeError(f"--beta-warmup must be >= 0 epochs, got {beta_warmup}")
    n_features = {"3": 3, "3rel": 3, "16": 16}.get(features)
    if n_features is None:
        raise L1ForgeError(f"--features must be 3, 3rel or 16, got {features!r}")
    try:
        cfg = TaggerConfig(model=model, n_constituents=n_constituents, n_features=n_features, pool=pool,
                           phi=_widths(phi), rho=_widths(rho), widths=_widths(widths), effects=_widths(effects),
                           objects=_widths(objects), classifier=_widths(classifier), w_bits=w_bits, a_bits=a_bits,
                           hgq=hgq, beta=beta, hgq_granularity=hgq_granularity, hgq_cost=hgq_cost,
                           hgq_rounding=hgq_rounding, hgq_per_particle=hgq_per_particle,
                           hgq_act_granularity=hgq_act_granularity)
    except ValueError as exc:
        raise L1ForgeError(str(exc)) from None
    jets = load_jets(data, n_constituents=n_constituents, features=features, seed=seed)
    res = train_and_export(cfg, jets, TrainSettings(epochs, batch_size, lr, seed, beta_warmup), out, log=console.print)
    bits = f"learnable bits, beta {beta:g}" if hgq else f"{w_bits}/{a_bits} bits"
    table = Table(title=f"{model} N={n_constituents} {features} features, {bits}: test split "
                        f"({res['splits']['test']} jets)")
    table.add_column("model")
    table.add_column("accuracy", justify="right")
    for cls in jets.classes:
        table.add_column(f"AUC {cls}", justify="right")
    for label in ("quantized", "float"):
        r = res[label]
        table.add_row(label, f"{r['accuracy']:.4f}", *[f"{r['auc'][c]:.4f}" for c in jets.classes])
    console.print(table)
    bq = res["brevitas_vs_qonnx"]
    trained = "PyTorch" if hgq else "Brevitas"
    console.print(f"{trained} vs exported QONNX: {bq['rows_differing']} of {bq['samples']} test rows differ")
    if hgq:
        b = res["quantized"]["bits"]
        console.print(f"learned bits: {b['weights_zero']} of {b['weights']} weights pruned, mean weight bits "
                      f"{b['mean_weight_bits']:.2f}, mean activation bits {b['mean_activation_bits']:.2f}, "
                      f"EBOPs {b['ebops']:,.0f}, adder-bit proxy {b['adders_lut_proxy']:,.0f}")
    console.print(f"wrote {out}/model.onnx, checkpoint.pt, metrics.json, roc.png, test_inputs.npz")


def _train_generator(model: str, flow: int, data: list[Path], out: Path, run: Path | None, reference_config: str,
                     w_bits: int, a_bits: int, table_bits: int, steps: int, batch: int, lr: float, seed: int) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from l1forge.compiler.errors import L1ForgeError

    from .generators import GeneratorSettings, train_caloclouds_student, train_icaloflow_student
    from .generators.icaloflow import INPUT_BITS

    if len(data) != 1:
        raise L1ForgeError(f"--model {model} takes one shower file as --data, got {len(data)}")
    flow_student = model == "icaloflow-student"
    settings = GeneratorSettings(w_bits=w_bits, a_bits=a_bits, table_bits=table_bits, steps=steps, batch=batch,
                                 lr=lr, seed=seed, **({"input_bits": INPUT_BITS} if flow_student else {}))
    # started at the first fine-tuning step: the reference run (without --run) shows its own bars first
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=console)
    task = bar.add_task("quantization-aware fine-tuning", total=steps, status="")

    def progress(step, total, loss):
        if step == 1:
            bar.start()
        bar.update(task, completed=step, status=f"mse {loss:.2e}")

    try:
        if flow_student:
            res = train_icaloflow_student(data[0], out, flow, settings, run=run, reference_config=reference_config,
                                          progress=progress)
        else:
            res = train_caloclouds_student(data[0], out, settings, run=run, reference_config=reference_config,
                                           progress=progress)
    finally:
        bar.stop()
    bits = f"{w_bits}-bit weights, {a_bits}-bit activations, {table_bits}-bit table inputs"
    if flow_student:
        spec = res["student"]
        title = (f"iCaloFlow Flow-{flow} IAF student, {bits} ({spec['blocks']} blocks, hidden {spec['hidden']} x "
                 f"{spec['layers']}; {res['nonzero_weights']:,} of {res['weights']:,} weights nonzero)")
    else:
        title = f"CaloClouds II student, {bits} (hidden {'-'.join(map(str, res['hidden']))})"
    table = Table(title=title)
    for col in ("quantized vs float student (MSE)", "variance of the float output", "relative"):
        table.add_column(col, justify="right")
    table.add_row(f"{res['mse_to_float_student']:.3e}", f"{res['target_variance']:.3e}",
                  f"{res['mse_to_float_student'] / res['target_variance']:.2%}")
    console.print(table)
    bq = res["brevitas_vs_qonnx"]
    console.print(f"Brevitas vs exported QONNX: {bq['rows_differing']} of {bq['samples']} rows differ")
    console.print(f"wrote {out}/model.onnx, quantized_student.pt, metrics.json, test_inputs.npz"
                  + ("" if run else ", reference/ (the float run)"))


def _widths(text: str) -> tuple[int, ...]:
    from l1forge.compiler.errors import L1ForgeError

    try:
        w = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise L1ForgeError(f"layer widths must be comma-separated integers, got {text!r}") from None
    if not w or min(w) < 1:
        raise L1ForgeError(f"layer widths must be positive, got {text!r}")
    return w


def sweep(
    spec: Path = typer.Argument(..., metavar="SPEC", help="Sweep spec (YAML): data, fixed settings, axes, search, "
                                                          "objectives, resources, retries (README: Sweeps)."),
    out: Path = typer.Option(None, "--out", help="Folder of the sweep (store, points, tables, plots); default: "
                                                 "SPEC's name without .yaml, beside it."),
    address: str = typer.Option(None, "--address", help="Join a running Ray cluster (HOST:PORT, as `ray start "
                                                        "--head` prints) instead of starting a local one."),
    workers: int = typer.Option(0, "--workers", help="Local Ray: cores to use (0: all); one point per core."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run again the points that failed before "
                                                                    "(finished points are never redone)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the spec and list its points; run nothing."),
) -> None:
    """Design-space sweep: every point trained, compiled, proven bit-exact and measured, as Ray tasks;
    resumable (finished points are kept in OUT/sweep.sqlite); table, Pareto plots and an HTML page."""
    from l1forge.compiler.errors import Interrupted, L1ForgeError

    from .sweep import load_spec, run_sweep, write_outputs
    from .sweep.spec import short

    if workers < 0:
        raise L1ForgeError(f"--workers must be >= 0, got {workers}")
    loaded = load_spec(spec)
    out = out or spec.with_suffix("")
    if out.resolve() == spec.resolve():
        raise L1ForgeError(f"--out {out} is the spec file itself; give a folder")
    points = loaded.points()
    if dry_run:
        console.print(f"{spec}: {len(points)} points", soft_wrap=True)
        for point in points:
            console.print(f"  {short(point, list(loaded.axes))}", highlight=False, soft_wrap=True)
        return
    try:
        result = run_sweep(loaded, out, address=address, workers=workers or None, retry_failed=retry_failed,
                           console=console)
    except Interrupted as exc:
        from .sweep.store import SweepStore

        store = SweepStore(out / "sweep.sqlite")
        done = sum(r["status"] == "done" for r in store.rows())
        store.close()
        console.print(f"[red]interrupted[/red]: {done} finished points kept in {out / 'sweep.sqlite'}; run the same "
                      f"command again to resume", soft_wrap=True)
        raise typer.Exit(128 + exc.signum) from None
    summary = write_outputs(loaded, result["rows"], out)
    console.print(f"{result['done']} of {len(points)} points done, {result['failed']} failed "
                  f"({result['ran']} run now in {result['wall_s']:.0f} s)", soft_wrap=True)
    console.print(f"front of {', '.join(f'{m} ({s})' for m, s in loaded.objectives.items())}: "
                  f"{', '.join(summary['front']) or 'none'}", highlight=False, soft_wrap=True)
    console.print(f"wrote {out}/sweep.html, sweep.md, sweep.json, comparison/", soft_wrap=True)
    if result["failed"]:
        raise typer.Exit(1)


def generate(
    build: Path = typer.Argument(..., metavar="BUILD", help="A compile folder of the caloclouds-student (`l1forge "
                                                            "compile`), with or without an on-chip noise source."),
    student: Path = typer.Option(..., "--student", help="The `l1forge train --model caloclouds-student` folder: "
                                                        "its reference run's ShowerFlow draws each shower's make-up."),
    out: Path = typer.Option(..., "--out", help="Showers to write (.h5, the CaloClouds layout `l1forge data "
                                                "showers --geometry ild` writes)."),
    n: int = typer.Option(100, "--n", help="Number of showers."),
    energy: str = typer.Option(None, "--energy", help="Incident energies LOW,HIGH in GeV, drawn uniformly (or one "
                                                      "energy); default: the training showers' range."),
    seed: int = typer.Option(0, "--seed", help="Random seed (energies, ShowerFlow, noise fed to the firmware)."),
) -> None:
    """Generate showers with compiled shower-generator firmware: the build's exact integer meaning (proven
    equal to the firmware when it was compiled) draws every point."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from l1forge.compiler.errors import L1ForgeError
    from l1forge.reference.caloclouds2.data import write_showers

    from .generators.caloclouds import generate_with_firmware

    if n < 1:
        raise L1ForgeError(f"--n must be at least 1, got {n}")
    if out.suffix not in (".h5", ".hdf5"):
        raise L1ForgeError(f"--out {out}: showers are written as HDF5 (name it e.g. showers.h5)")
    if not out.parent.is_dir():
        raise L1ForgeError(f"--out {out}: folder {out.parent} does not exist")
    window = None if energy is None else _energy_window(energy)
    bar = Progress(TextColumn("showers"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn(), console=console, transient=True)
    start = time.perf_counter()
    with bar:
        task = bar.add_task("showers", total=n)
        energies, showers = generate_with_firmware(student, build, n, energy=window, seed=seed,
                                                   progress=lambda done: bar.advance(task, done))
    seconds = time.perf_counter() - start
    write_showers(out, energies, showers)
    points = sum(len(s) for s in showers)
    console.print(f"wrote {out}: {n} showers, {points:,} points, {energies.min():.3g}-{energies.max():.3g} GeV, "
                  f"from {build} ({n / seconds:.1f} showers/s through the emulator)", highlight=False, soft_wrap=True)


def _energy_window(text: str) -> tuple[float, float]:
    from l1forge.compiler.errors import L1ForgeError

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not 0 < values[0] <= values[-1]:
        raise L1ForgeError(f"--energy {text!r}: give LOW,HIGH in GeV (0 < LOW <= HIGH) or one energy")
    return values[0], values[-1]
