"""Classifier-free guidance against its closed form."""
import pytest
import torch

from ddpm import Schedule, sample, sample_ddpm, seeded_noise
from ddpm.data import CLASSES
from ddpm.guidance import MIXED, Guided, class_context, guide, mix_context, model_rows


def test_guided_is_the_weighted_difference_of_two_calls(tiny_model):
    x, t = torch.randn(3, 3, 16, 16), torch.randint(1, 501, (3,))
    c = torch.nn.functional.one_hot(torch.tensor([0, 2, 4]), 5).float()
    with torch.no_grad():
        cond, uncond = tiny_model(x, t, c), tiny_model(x, t, torch.zeros_like(c))
        for w in (0.0, 1.0, 3.5):
            expected = (1 + w) * cond - w * uncond  # Ho & Salimans eq. 6
            assert torch.allclose(Guided(tiny_model, w)(x, t, c), expected, atol=1e-5)
    assert guide(tiny_model, 2.0, None) is tiny_model  # no class: nothing to guide towards
    assert guide(tiny_model, 0.0, c) is tiny_model  # w = 0: the plain conditional model, one call
    assert isinstance(guide(tiny_model, 2.0, c), Guided)
    assert (model_rows(16, 2.0, True), model_rows(16, 0.0, True), model_rows(16, 2.0, False)) == (32, 16, 16)


def test_guided_model_drives_the_sampler(tiny_model):
    s = Schedule(T=5)
    c = torch.nn.functional.one_hot(torch.tensor([1, 3]), 5).float()
    x_T, noise = seeded_noise(0, 2)
    plain = sample(sample_ddpm(tiny_model, s, x_T, noise=noise, context=c))
    x_T, noise = seeded_noise(0, 2)
    w0 = sample(sample_ddpm(guide(tiny_model, 0.0, c), s, x_T, noise=noise, context=c))
    x_T, noise = seeded_noise(0, 2)
    w3 = sample(sample_ddpm(Guided(tiny_model, 3.0), s, x_T, noise=noise, context=c))
    assert torch.equal(plain, w0) and w3.shape == plain.shape and not torch.allclose(w3, plain)


def test_negative_weight_is_refused(tiny_model):
    with pytest.raises(ValueError, match="guidance"):
        Guided(tiny_model, -1.0)


def test_class_context_one_hot_per_sprite():
    assert class_context(None, 4, CLASSES) is None
    food = class_context("food", 3, CLASSES)
    assert food.shape == (3, 5) and (food.argmax(1) == 2).all() and (food.sum(1) == 1).all()
    mixed = class_context(MIXED, 12, CLASSES)
    assert mixed.argmax(1).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]  # sprite i asks for class i mod 5
    assert torch.equal(class_context(MIXED, 7, CLASSES), mixed[:7])  # a sprite's class does not depend on n
    with pytest.raises(ValueError, match="class must be one of"):
        class_context("dragon", 2, CLASSES)
    assert class_context(MIXED, 3, ("block", "bar")).argmax(1).tolist() == [0, 1, 0]  # any data set's classes


def test_a_mix_of_one_class_at_weight_one_is_that_class():
    assert torch.equal(mix_context({"food": 1}, 3, CLASSES), class_context("food", 3, CLASSES))
    mixed = mix_context({"hero": 1, "food": 0.6}, 2, CLASSES)
    torch.testing.assert_close(mixed, torch.tensor([[1, 0, 0.6, 0, 0]] * 2))  # the course's mix of lesson 3, as written there
    for bad, words in [({"dragon": 1}, "among"), ({"hero": -1}, "≥ 0"), ({"hero": float("nan")}, "finite"), ({}, "at least one")]:
        with pytest.raises(ValueError, match=words):
            mix_context(bad, 2, CLASSES)


def test_autoguidance_is_the_weak_net_pushed_towards_the_main_one(tiny_model):
    from ddpm import ContextUnet, UNetConfig
    from ddpm.guidance import AutoGuided, autoguide

    torch.manual_seed(1)
    weak = ContextUnet(UNetConfig(n_feat=8)).eval()
    x, t = torch.randn(3, 3, 16, 16), torch.randint(1, 501, (3,))
    c = torch.nn.functional.one_hot(torch.tensor([0, 2, 4]), 5).float()
    with torch.no_grad():
        main_eps, weak_eps = tiny_model(x, t, c), weak(x, t, c)
        for omega in (1.5, 2.5, 4.0):
            expected = weak_eps + omega * (main_eps - weak_eps)  # Karras et al. 2024, eq. 2, by hand
            torch.testing.assert_close(AutoGuided(tiny_model, weak, omega, (1, 500))(x, t, c), expected)  # every t guided
        torch.testing.assert_close(AutoGuided(tiny_model, weak, 1.0, (1, 500))(x, t, c), main_eps)  # ω = 1: the main net alone
        assert autoguide(tiny_model, weak, 1.0) is tiny_model and autoguide(tiny_model, None, 2.5) is tiny_model
        # With a class, classifier-free guidance goes over the autoguided estimate, ε̂(c) and ε̂(∅) alike.
        ag = AutoGuided(tiny_model, weak, 2.5)
        both = guide(ag, 3.0, c)(x, t, c)
        torch.testing.assert_close(both, 4.0 * ag(x, t, c) - 3.0 * ag(x, t, torch.zeros_like(c)), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="ω"):
        AutoGuided(tiny_model, weak, 0.5)


def test_autoguidance_on_an_interval_of_t_calls_the_weak_net_only_there(tiny_model):
    """Kynkäänniemi et al. 2024: guided where lo ≤ t ≤ hi, the main net alone elsewhere, row by row (the demo batches
    runs at different steps in one call), and the weak net not called at all for a call outside the interval."""
    from ddpm import ContextUnet, UNetConfig
    from ddpm.guidance import AutoGuided

    torch.manual_seed(2)
    weak = ContextUnet(UNetConfig(n_feat=8)).eval()
    calls = []
    counted = lambda x, t, c: calls.append(len(t)) or weak(x, t, c)  # noqa: E731
    counted.n_cfeat = weak.n_cfeat
    x, t, c = torch.randn(4, 3, 16, 16), torch.tensor([99, 100, 300, 301]), torch.zeros(4, 5)
    with torch.no_grad():
        main_eps, weak_eps = tiny_model(x, t, c), weak(x, t, c)
        inside = ((t >= 100) & (t <= 300)).view(-1, 1, 1, 1)
        by_hand = torch.where(inside, weak_eps + 2.0 * (main_eps - weak_eps), main_eps)
        torch.testing.assert_close(AutoGuided(tiny_model, counted, 2.0, (100, 300))(x, t, c), by_hand)
        assert calls == [2]  # the two rows inside, only
        AutoGuided(tiny_model, counted, 2.0, (100, 300))(x[:1], t[:1], c[:1])
        assert calls == [2]  # t = 99: the main net alone
    for bad in ((0, 10), (300, 100)):
        with pytest.raises(ValueError, match="interval"):
            AutoGuided(tiny_model, weak, 2.0, bad)


def test_the_default_run_is_autoguided_by_the_shipped_weak_net_by_its_formula():
    """Issue 32: autoguidance by default. The CLI's and the demo's default ω, with the weak net that ships beside the
    weights, gives ε̂_weak + ω·(ε̂ − ε̂_weak), computed here by hand from the two nets."""
    from ddpm import load_model
    from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path
    from ddpm.guidance import DEFAULT_AUTOGUIDANCE, DEFAULT_INTERVAL, autoguide
    from demo.request import parse_request

    omega, (lo, hi) = parse_request().autoguidance, DEFAULT_INTERVAL
    assert omega == DEFAULT_AUTOGUIDANCE > 1 and weak_path(DEFAULT_WEIGHTS).is_file()
    main, weak = load_model(DEFAULT_WEIGHTS, device="cpu"), load_model(weak_path(DEFAULT_WEIGHTS), device="cpu")
    torch.manual_seed(0)
    x, t, c = torch.randn(5, 3, 16, 16), torch.tensor([1, 100, 250, 400, 500]), torch.zeros(5, 5)
    with torch.no_grad():
        guided = weak(x, t, c) + omega * (main(x, t, c) - weak(x, t, c))
        by_hand = torch.where(((t >= lo) & (t <= hi)).view(-1, 1, 1, 1), guided, main(x, t, c))
        torch.testing.assert_close(autoguide(main, weak, omega)(x, t, c), by_hand)
