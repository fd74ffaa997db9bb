"""Population methods in a few lines of NumPy: PSRO on a matrix game, MAP-Elites on a planar arm."""

# --8<-- [start:meta_nash]
import numpy as np


def meta_nash(payoff, iters=4000):
    # Zero-sum meta-game payoff[i, j] = row strategy i vs column strategy j.
    # Fictitious play: each side best-responds to the other's empirical mixture; averages -> Nash.
    rows, cols = np.ones(len(payoff)), np.ones(len(payoff))
    for _ in range(iters):
        rows[np.argmax(payoff @ (cols / cols.sum()))] += 1
        cols[np.argmin((rows / rows.sum()) @ payoff)] += 1
    return rows / rows.sum()
# --8<-- [end:meta_nash]


# --8<-- [start:psro]
import numpy as np


def psro(payoff, meta_solver, iterations, start=0):
    # payoff: the full symmetric zero-sum game (payoff = -payoff.T), one row per pure policy.
    population, exploitability = [start], []
    for _ in range(iterations):
        sub = payoff[np.ix_(population, population)]       # 1. empirical meta-game
        sigma = meta_solver(sub)                            # 2. meta-strategy (Nash)
        mixture = np.zeros(len(payoff))
        np.add.at(mixture, population, sigma)
        values = payoff @ mixture                           # every policy vs the mixture
        exploitability.append(values.max())                 # 0 at an exact Nash (game value 0)
        best_response = int(np.argmax(values))              # 3. oracle: best response
        if best_response not in population:
            population.append(best_response)                # 4. grow the population
    return np.array(exploitability), population
# --8<-- [end:psro]


# --8<-- [start:map_elites]
import numpy as np


def map_elites(fitness, descriptor, dim, bins=12, iterations=3000, sigma=0.2, seed=0):
    # descriptor(x) in [0, 1]^2 picks the cell; each cell keeps its best solution (its elite).
    rng = np.random.default_rng(seed)
    best = np.full((bins, bins), -np.inf)
    elites = np.zeros((bins, bins, dim))
    for it in range(iterations):
        filled = np.argwhere(np.isfinite(best))
        if it < 200:                                        # random bootstrap
            x = rng.uniform(-np.pi, np.pi, dim)
        else:                                               # mutate a random elite
            i, j = filled[rng.integers(len(filled))]
            x = elites[i, j] + sigma * rng.standard_normal(dim)
        cell = tuple(np.minimum((descriptor(x) * bins).astype(int), bins - 1))
        f = fitness(x)
        if f > best[cell]:                                  # the only "loss": beat the elite
            best[cell], elites[cell] = f, x
    return best, elites
# --8<-- [end:map_elites]


# --8<-- [start:planar_arm]
import numpy as np


def arm_descriptor(angles):
    # End-effector position of a planar arm of total length 1, mapped to [0, 1]^2.
    cumulative = np.cumsum(angles)
    links = 1.0 / len(angles)
    xy = np.array([np.cos(cumulative).sum(), np.sin(cumulative).sum()]) * links
    return (xy + 1.0) / 2.0


def arm_fitness(angles):
    return -np.std(angles)  # prefer smooth arms (all joints bent alike)
# --8<-- [end:planar_arm]
