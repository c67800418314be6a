"""Energy-flow polynomials: the graph enumeration gives the known counts of connected multigraphs,
each once, and the einsum evaluation equals the defining sum over all index tuples."""
from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from l1forge.reference.efp import canonical, connected_multigraphs, efp_values, prime_efps

# OEIS A076864: connected loopless multigraphs with d edges; energyflow's prime EFPSet to d <= 7
# holds 490 graphs (these plus the single vertex).
CONNECTED = {1: 1, 2: 2, 3: 5, 4: 12, 5: 33, 6: 103, 7: 333}


def test_enumeration_counts_are_the_known_ones():
    assert {d: len(connected_multigraphs(d)) for d in CONNECTED} == CONNECTED
    assert len(prime_efps(7)) == 490


def _networkx(graph) -> nx.MultiGraph:
    g = nx.MultiGraph()
    g.add_edges_from(graph)
    return g


def test_graphs_are_connected_and_pairwise_distinct():
    for d in range(1, 6):
        graphs = [_networkx(g) for g in connected_multigraphs(d)]
        assert all(nx.is_connected(g) and g.number_of_edges() == d for g in graphs)
        for a, b in itertools.combinations(graphs, 2):
            assert not nx.is_isomorphic(a, b)


def test_canonical_form_ignores_the_labelling():
    rng = np.random.default_rng(0)
    for graph in connected_multigraphs(5):
        n = 1 + max(max(e) for e in graph)
        relabel = rng.permutation(n)
        shuffled = tuple((int(relabel[a]), int(relabel[b])) for a, b in graph)
        assert canonical(shuffled) == graph


def _brute_force(pt, eta, phi, graph, kappa, beta) -> float:
    """The defining sum over every assignment of particles to the graph's vertices."""
    z = (pt / pt.sum()) ** kappa
    n = 1 + max((max(e) for e in graph), default=0)
    total = 0.0
    for index in itertools.product(range(len(pt)), repeat=n):
        term = np.prod(z[list(index)])
        for a, b in graph:
            d_phi = (phi[index[a]] - phi[index[b]] + np.pi) % (2 * np.pi) - np.pi
            term *= ((eta[index[a]] - eta[index[b]]) ** 2 + d_phi ** 2) ** (beta / 2)
        total += term
    return total


@pytest.mark.parametrize("kappa,beta", [(1.0, 1.0), (2.0, 0.5), (-1.0, 2.0), (0.5, 1.0)])
def test_values_equal_the_defining_sum(kappa, beta):
    rng = np.random.default_rng(1)
    constituents = np.zeros((3, 7, 3))
    mask = np.zeros((3, 7), bool)
    for jet, n in enumerate((5, 3, 1)):
        constituents[jet, :n] = np.c_[rng.uniform(1, 50, n), rng.normal(0, 0.3, n), rng.uniform(-np.pi, np.pi, n)]
        mask[jet, :n] = True
    graphs = prime_efps(3) + [g for g in connected_multigraphs(4) if 1 + max(max(e) for e in g) <= 4]
    values = efp_values(constituents, mask, graphs, kappa, beta)
    for jet in range(3):
        real = mask[jet]
        pt, eta, phi = constituents[jet, real].T
        expected = [_brute_force(pt, eta, phi, g, kappa, beta) for g in graphs]
        np.testing.assert_allclose(values[jet], expected, rtol=1e-12, atol=0)


def test_padding_is_ignored_and_beta_checked():
    rng = np.random.default_rng(2)
    constituents = np.c_[rng.uniform(1, 9, (4, 1)), rng.normal(0, 0.3, (4, 2))][None]
    mask = np.ones((1, 4), bool)
    padded = np.concatenate([constituents, np.full((1, 3, 3), np.nan)], 1)
    graphs = prime_efps(3)
    np.testing.assert_allclose(efp_values(padded, np.c_[mask, np.zeros((1, 3), bool)], graphs),
                               efp_values(constituents, mask, graphs), rtol=1e-12)
    with pytest.raises(ValueError, match="beta must be > 0"):
        efp_values(constituents, mask, graphs, beta=0.0)


def test_known_values():
    """A jet of two particles: z = (3/4, 1/4), theta = 0.5 (across the phi wrap)."""
    constituents = np.array([[[3.0, 0.1, np.pi - 0.2], [1.0, 0.1, -np.pi + 0.3]]])
    mask = np.ones((1, 2), bool)
    dot, edge, double = (), ((0, 1),), ((0, 1), (0, 1))
    values = efp_values(constituents, mask, [dot, edge, double], kappa=1.0, beta=1.0)[0]
    np.testing.assert_allclose(values, [1.0, 2 * 0.75 * 0.25 * 0.5, 2 * 0.75 * 0.25 * 0.25], rtol=1e-12)
    counts = efp_values(constituents, mask, [dot, edge], kappa=0.0, beta=2.0)[0]
    np.testing.assert_allclose(counts, [2.0, 2 * 0.25], rtol=1e-12)
