"""The interview snippets of the glossary's RL, alignment and multi-agent pages equal the library
(values and gradients, random and adversarial inputs), and the population toys do what they say."""

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import lossbook as L

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets"
RL = runpy.run_path(str(SNIPPETS / "rl.py"))
AL = runpy.run_path(str(SNIPPETS / "alignment.py"))
MA = runpy.run_path(str(SNIPPETS / "multi_agent.py"))
f64 = {"dtype": torch.float64}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def same_value_and_grad(snippet_fn, library_fn, inputs, grad_index=0, atol=1e-10):
    a = [x.clone().requires_grad_(i == grad_index) for i, x in enumerate(inputs)]
    b = [x.clone().requires_grad_(i == grad_index) for i, x in enumerate(inputs)]
    out_a, out_b = snippet_fn(*a), library_fn(*b)
    assert torch.allclose(out_a, out_b, atol=atol, rtol=1e-9), (out_a, out_b)
    out_a.backward()
    out_b.backward()
    assert torch.allclose(a[grad_index].grad, b[grad_index].grad, atol=atol, rtol=1e-9)


# ----------------------------------------------------------------------------- RL


@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0])
def test_ppo_snippet(scale):
    g = gen(0)
    logp, old = (scale * torch.randn(2, 4, 9, **f64, generator=g)).unbind()
    adv = 3 * torch.randn(4, 9, **f64, generator=g)
    same_value_and_grad(RL["ppo_clip_loss"], L.ppo_clip_loss, [logp, old, adv])
    np_value = RL["ppo_clip_loss_np"](logp.numpy(), old.numpy(), adv.numpy())
    assert np_value == pytest.approx(L.ppo_clip_loss(logp, old, adv).item(), rel=1e-12)


def test_reinforce_snippet():
    g = gen(1)
    logp, ret, base = torch.randn(3, 12, **f64, generator=g).unbind()
    same_value_and_grad(RL["reinforce_loss"], L.reinforce_loss, [logp, ret])
    same_value_and_grad(lambda a, b, c: RL["reinforce_loss"](a, b, c),
                        lambda a, b, c: L.reinforce_loss(a, b, baseline=c), [logp, ret, base])


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (1.0, 1.0), (0.9, 0.0)])
def test_gae_snippets(gamma, lam):
    g = gen(2)
    rewards = torch.randn(15, generator=g)
    values = torch.randn(16, generator=g)
    dones = torch.rand(15, generator=g) < 0.2
    lib = L.generalized_advantage_estimate(rewards, values, gamma=gamma, lam=lam, dones=dones)
    assert torch.allclose(RL["gae"](rewards, values, gamma, lam, dones), lib, atol=1e-6)
    no_dones = L.generalized_advantage_estimate(rewards, values, gamma=gamma, lam=lam)
    np.testing.assert_allclose(RL["gae_np"](rewards.numpy(), values.numpy(), gamma, lam),
                               no_dones.numpy(), atol=1e-5)


def test_td_snippet():
    g = gen(3)
    q, r, nq = (3 * torch.randn(3, 20, **f64, generator=g)).unbind()
    dones = torch.rand(20, generator=g) < 0.3
    same_value_and_grad(lambda a, b, c: RL["td_loss"](a, b, c, dones, 0.9),
                        lambda a, b, c: L.td_loss(a, b, c, dones=dones, gamma=0.9, kind="huber"),
                        [q, r, nq])


@pytest.mark.parametrize("kappa", [0.5, 1.0, 2.0])
def test_quantile_huber_snippet(kappa):
    g = gen(4)
    theta = torch.randn(5, 8, **f64, generator=g)
    target = 2 * torch.randn(5, 6, **f64, generator=g)
    same_value_and_grad(lambda a, b: RL["quantile_huber_loss"](a, b, kappa),
                        lambda a, b: L.quantile_huber_loss(a, b, kappa=kappa), [theta, target])


def test_sac_snippets():
    g = gen(5)
    logp, q, r, nq, nlogp = torch.randn(5, 10, **f64, generator=g).unbind()
    dones = torch.rand(10, generator=g) < 0.3
    same_value_and_grad(lambda a, b: RL["sac_actor_loss"](a, b, 0.3),
                        lambda a, b: L.sac_actor_loss(a, b, alpha=0.3), [logp, q])
    same_value_and_grad(lambda a, b: RL["sac_actor_loss"](a, b, 0.3),
                        lambda a, b: L.sac_actor_loss(a, b, alpha=0.3), [logp, q], grad_index=1)
    same_value_and_grad(
        lambda a, b, c, d: RL["sac_critic_loss"](a, b, c, d, dones, 0.9, 0.1),
        lambda a, b, c, d: L.sac_critic_loss(a, b, c, d, dones=dones, gamma=0.9, alpha=0.1),
        [q, r, nq, nlogp])


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
def test_kl_snippet(estimator):
    g = gen(6)
    logp, ref = (-3 * torch.rand(2, 4, 7, **f64, generator=g)).unbind()
    same_value_and_grad(lambda a, b: RL["kl_penalty"](a, b, estimator).mean(),
                        lambda a, b: L.kl_penalty(a, b, estimator=estimator), [logp, ref])


# ----------------------------------------------------------------------------- alignment


def test_bradley_terry_snippet():
    g = gen(7)
    rc, rr = (20 * torch.randn(2, 16, **f64, generator=g)).unbind()
    same_value_and_grad(AL["bradley_terry_loss"], L.bradley_terry_loss, [rc, rr])


def test_sequence_logps_snippet():
    g = gen(8)
    logits = torch.randn(3, 5, 11, **f64, generator=g)
    labels = torch.randint(0, 11, (3, 5), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float64)
    ours = AL["sequence_logps"](logits, labels, mask)
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
    assert torch.allclose(ours, -(ce * mask).sum(1))


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
@pytest.mark.parametrize("scale", [1.0, 300.0])
def test_dpo_snippet(loss_type, scale):
    g = gen(9)
    logps = (-scale * torch.rand(4, 32, **f64, generator=g)).unbind()
    same_value_and_grad(lambda *a: AL["dpo_loss"](*a, beta=0.2, loss_type=loss_type),
                        lambda *a: L.dpo_loss(*a, beta=0.2, loss_type=loss_type), list(logps),
                        atol=1e-9)
    if loss_type == "sigmoid":
        np_value = AL["dpo_loss_np"](*(x.numpy() for x in logps), beta=0.2)
        assert np_value == pytest.approx(L.dpo_loss(*logps, beta=0.2).item(), rel=1e-12)


def test_kto_snippet():
    g = gen(10)
    logp, ref, klp, klr = (-10 * torch.rand(4, 12, **f64, generator=g)).unbind()
    good = torch.rand(12, generator=g) < 0.5
    same_value_and_grad(
        lambda a, b, c, d: AL["kto_loss"](a, b, good, c, d, beta=0.5),
        lambda a, b, c, d: L.kto_loss(a, b, good, kl_policy_logps=c, kl_ref_logps=d, beta=0.5),
        [logp, ref, klp, klr])


def test_orpo_snippet():
    g = gen(11)
    c, r = (-3 * torch.rand(2, 12, **f64, generator=g) - 1e-6).unbind()
    same_value_and_grad(lambda a, b: AL["orpo_loss"](a, b, 0.3),
                        lambda a, b: L.orpo_loss(a, b, beta=0.3), [c, r])


def test_grpo_snippet():
    g = gen(12)
    B, T = 8, 6
    logp = -torch.rand(B, T, **f64, generator=g)
    old = logp + 0.2 * torch.randn(B, T, **f64, generator=g)
    rewards = torch.randint(0, 2, (B,), generator=g).to(torch.float64)
    mask = (torch.arange(T)[None] < torch.randint(1, T + 1, (B, 1), generator=g)).to(torch.float64)
    same_value_and_grad(
        lambda a, b, c: AL["grpo_loss"](a, b, c, mask, 4),
        lambda a, b, c: L.grpo_loss(a, b, c, group_size=4, mask=mask, loss_type="grpo"),
        [logp, old, rewards])


# ----------------------------------------------------------------------------- population toys


RPS = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=float)


def test_meta_nash_solves_small_games():
    np.testing.assert_allclose(MA["meta_nash"](RPS), [1 / 3] * 3, atol=0.02)
    dominant = np.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 1.0], [-2.0, -1.0, 0.0]])  # transitive
    np.testing.assert_allclose(MA["meta_nash"](dominant), [1.0, 0.0, 0.0], atol=1e-3)


def test_psro_reaches_nash_with_a_small_population():
    exploitability, population = MA["psro"](RPS, MA["meta_nash"], 4)
    assert population == [0, 1, 2]  # rock, then paper beats it, then scissors
    assert exploitability[0] == pytest.approx(1.0) and exploitability[-1] < 0.02
    rng = np.random.default_rng(0)
    skill, angle = rng.uniform(0, 1, 40), rng.uniform(0, 2 * np.pi, 40)
    game = skill[:, None] - skill[None, :] + np.sin(angle[:, None] - angle[None, :])
    exploitability, population = MA["psro"](game, MA["meta_nash"], 6)
    assert exploitability[-1] < 0.02 and len(population) <= 8


def test_map_elites_archive_is_consistent():
    best, elites = MA["map_elites"](MA["arm_fitness"], MA["arm_descriptor"], 6, bins=8,
                                    iterations=1500)
    filled = np.argwhere(np.isfinite(best))
    assert len(filled) > 0.5 * 64
    for i, j in filled:
        x = elites[i, j]
        assert best[i, j] == pytest.approx(MA["arm_fitness"](x))
        cell = np.minimum((MA["arm_descriptor"](x) * 8).astype(int), 7)
        assert tuple(cell) == (i, j)
    assert math.isinf(best[~np.isfinite(best)].sum()) or np.isfinite(best).all()


# ----------------------------------------------------------------------------- glossary index


GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary"


def _questions(page):
    """(heading text, difficulty) of every question of a glossary page: a heading followed by
    a '*Difficulty:* **level**' line."""
    import re

    lines, found, fenced = page.read_text(encoding="utf-8").split("\n"), [], False
    for i, line in enumerate(lines):
        fenced ^= line.lstrip().startswith("```")
        heading = re.match(r"^#{2,3} (.+)$", line)
        if fenced or not heading:
            continue
        for follow in lines[i + 1:i + 4]:
            level = re.match(r"^\*Difficulty:\* \*\*(easy|medium|hard)\*\*", follow)
            if level:
                found.append((heading.group(1).strip(), level.group(1)))
                break
    return found


def test_glossary_index_lists_every_question_with_its_difficulty():
    from markdown.extensions.toc import slugify

    index = (GLOSSARY / "index.md").read_text(encoding="utf-8")
    pages = sorted(p for p in GLOSSARY.glob("*.md") if p.name != "index.md")
    assert {"rl.md", "alignment.md", "multi-agent.md", "synthesis.md", "diffusion.md"} <= {
        p.name for p in pages}
    total = 0
    for page in pages:
        questions = _questions(page)
        assert questions, f"{page.name}: no question with a difficulty tag"
        for text, level in questions:
            slug = slugify(text.replace("`", "").replace("*", ""), "-")
            row = f"]({page.name}#{slug}) | {level} |"
            assert row in index, (
                f"docs/glossary/index.md lacks {page.name}: {text!r}; add the row "
                f"| [{text}]({page.name}#{slug}) | {level} | under the page's table"
            )
            total += 1
    # ... and lists nothing that is not a question of a page.
    assert index.count(".md#") == total
