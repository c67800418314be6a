"""Energy-flow polynomials (Komiske, Metodiev, Thaler, arXiv 1712.07124), our own enumeration and
evaluation, for the jet references (DisCo-FFS selects among them; the JetNet metric W1EFP compares
their distributions).

A loopless multigraph G with vertices V and edges E (repeats allowed) defines
    EFP_G = sum over i_1..i_|V| of z_i1 ... z_i|V| * prod over edges (k, l) of theta_{i_k i_l},
with z_i = (pT_i / sum pT)^kappa and theta_ij = (Delta eta^2 + Delta phi^2)^(beta / 2). The degree
d is |E|. Connected graphs are the "prime" EFPs; a disconnected graph's EFP is the product of its
components', so a set of prime EFPs spans all of them.

Graphs are tuples of edges (a, b), a < b, sorted, on vertices 0..n-1, in a canonical labelling:
the smallest edge tuple over the relabellings that keep vertices ordered by an invariant (their
degree and their sorted edge multiplicities)."""
from __future__ import annotations

import itertools
from collections import Counter
from functools import lru_cache

import numpy as np
import torch

Graph = tuple[tuple[int, int], ...]


def _n_vertices(graph: Graph) -> int:
    return 1 + max((max(e) for e in graph), default=0)  # () is the one-vertex graph


def _vertex_key(graph: Graph, v: int) -> tuple:
    multiplicities = Counter(tuple(sorted(e)) for e in graph if v in e)
    return (sum(multiplicities.values()), tuple(sorted(multiplicities.values())))


def canonical(graph: Graph) -> Graph:
    """The canonical labelling of a multigraph given as edges on vertices 0..n-1."""
    n = _n_vertices(graph)
    keys = [_vertex_key(graph, v) for v in range(n)]
    classes = [[v for v in range(n) if keys[v] == key] for key in sorted(set(keys))]
    best = None
    for choice in itertools.product(*(itertools.permutations(c) for c in classes)):
        order = [v for block in choice for v in block]  # new label i goes to old vertex order[i]
        label = {old: new for new, old in enumerate(order)}
        edges = tuple(sorted(tuple(sorted((label[a], label[b]))) for a, b in graph))
        if best is None or edges < best:
            best = edges
    return best


@lru_cache(maxsize=None)
def connected_multigraphs(degree: int) -> tuple[Graph, ...]:
    """All connected loopless multigraphs with `degree` edges, up to isomorphism, canonical.
    Grown edge by edge: removing a leaf edge (trees) or an edge on a cycle (the rest) leaves a
    connected graph with one edge fewer, so every graph is one edge added to a smaller one."""
    if degree < 1:
        raise ValueError(f"an EFP's degree must be >= 1, got {degree}")
    if degree == 1:
        return (((0, 1),),)
    found = set()
    for graph in connected_multigraphs(degree - 1):
        n = _n_vertices(graph)
        for a in range(n):
            for b in range(a + 1, n + 1):  # b == n: a new vertex
                found.add(canonical(graph + ((a, b),)))
    return tuple(sorted(found, key=lambda g: (_n_vertices(g), g)))


def prime_efps(max_degree: int) -> list[Graph]:
    """The connected graphs of degree 0..max_degree: the single vertex () (sum of z_i: 1 when
    kappa = 1, the multiplicity when kappa = 0), then 1, 2, 5, 12, 33, 103, 333 graphs for degree
    1..7 (490 up to degree 7, as energyflow's prime EFPSet)."""
    return [()] + [g for d in range(1, max_degree + 1) for g in connected_multigraphs(d)]


def describe(graph: Graph) -> str:
    """A short name: n vertices, d edges and the edge list, e.g. 'n3 d3 (0-1,0-1,1-2)'."""
    return f"n{_n_vertices(graph)} d{len(graph)} ({','.join(f'{a}-{b}' for a, b in graph)})"


def _einsum_terms(graph: Graph) -> tuple[str, list[tuple[int, int, int]]]:
    """The einsum equation of a graph and its distinct edges with their multiplicities."""
    n = _n_vertices(graph)
    letters = "ijklmnopqrstuvw"[:n]
    if n > 15:
        raise ValueError(f"graphs of more than 15 vertices are not supported, got {n}")
    edges = sorted(Counter(graph).items())
    inputs = [f"b{v}" for v in letters] + [f"b{letters[a]}{letters[c]}" for (a, c), _ in edges]
    return ",".join(inputs) + "->b", [(a, c, m) for (a, c), m in edges]


def efp_values(constituents: np.ndarray, mask: np.ndarray, graphs: list[Graph], kappa: float = 1.0,
               beta: float = 1.0, chunk: int = 256) -> np.ndarray:
    """EFP_G for every jet and graph: (jets, graphs) float64. `constituents` (jets, particles, 3)
    holds (pT, eta, phi) (any pT scale: the fractions are taken here); `mask` marks real particles.
    kappa = 0 counts particles (z = 1 for each). Whatever the padding holds is ignored."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta:g}")
    pt = np.where(mask, constituents[..., 0], 0.0).astype(np.float64)
    angles = np.where(mask[..., None], constituents[..., 1:3], 0.0).astype(np.float64)
    if np.any(pt < 0):
        raise ValueError("constituent pT must be >= 0")
    total = pt.sum(1, keepdims=True)
    fraction = np.divide(pt, total, out=np.zeros_like(pt), where=total > 0)
    with np.errstate(divide="ignore"):  # kappa < 0 on padding: masked out here
        z = np.where(mask, fraction ** kappa if kappa != 0 else 1.0, 0.0)
    terms = [_einsum_terms(g) for g in graphs]
    max_multiplicity = max((m for _, edges in terms for _, _, m in edges), default=1)
    out = np.empty((len(pt), len(graphs)))
    for start in range(0, len(pt), chunk):
        rows = slice(start, start + chunk)
        eta = torch.from_numpy(angles[rows, :, 0])
        phi = torch.from_numpy(angles[rows, :, 1])
        d_phi = torch.remainder(phi[:, :, None] - phi[:, None, :] + np.pi, 2 * np.pi) - np.pi
        squared = (eta[:, :, None] - eta[:, None, :]) ** 2 + d_phi ** 2
        powers = {m: squared ** (beta * m / 2) for m in range(1, max_multiplicity + 1)}
        zt = torch.from_numpy(z[rows])
        for column, (equation, edges) in enumerate(terms):
            n = equation.count(",") + 1 - len(edges)
            operands = [zt] * n + [powers[m] for _, _, m in edges]
            out[rows, column] = torch.einsum(equation, *operands).numpy()
    return out
