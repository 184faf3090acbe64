"""The schedule against its closed forms (course lesson 1; Ho et al. 2020)."""
import math

import pytest
import torch

from ddpm import Schedule


def test_default_is_the_course_schedule():
    s = Schedule()
    assert (s.T, s.beta1, s.beta2) == (500, 1e-4, 0.02)
    assert all(len(v) == 501 for v in (s.b_t, s.a_t, s.ab_t, s.s1, s.s2, s.s3))
    assert s.steps == 500


@pytest.mark.parametrize("t", [0, 1, 2, 137, 250, 499, 500])
def test_closed_forms(t):
    s = Schedule()
    beta = 1e-4 + (0.02 - 1e-4) * t / 500
    assert s.b_t[t].item() == pytest.approx(beta, rel=1e-6)
    assert s.a_t[t].item() == pytest.approx(1 - beta, rel=1e-6)
    # ᾱ_t = Π_{s=0..t} (1 − β_s) for t ≥ 1, computed here in float64 as a plain product.
    ab = 1.0 if t == 0 else math.prod(1 - (1e-4 + (0.02 - 1e-4) * k / 500) for k in range(t + 1))
    assert s.ab_t[t].item() == pytest.approx(ab, rel=1e-4)
    if t >= 1:
        assert s.s1[t].item() == pytest.approx(1 / math.sqrt(1 - beta), rel=1e-5)
        # 1 − ᾱ_t is small at t = 1, 2, so float32's rounding of ᾱ_t shows at ~1e-4 relative there.
        assert s.s2[t].item() == pytest.approx(beta / math.sqrt(1 - ab), rel=1e-3 if t < 10 else 1e-5)
    assert s.s3[t].item() == pytest.approx(math.sqrt(beta), rel=1e-5)


def test_ab_t_keeps_the_course_quirk_of_including_a0():
    s = Schedule()
    assert s.ab_t[0] == 1
    assert s.ab_t[1].item() == pytest.approx((1 - 1e-4) * s.a_t[1].item(), rel=1e-7)


def test_custom_parameters_and_validation():
    s = Schedule(T=10, beta1=0.01, beta2=0.2)
    assert len(s.b_t) == 11 and s.b_t[-1].item() == pytest.approx(0.2)
    with pytest.raises(ValueError):
        Schedule(T=0)
    with pytest.raises(ValueError):
        Schedule(beta1=0.3, beta2=0.2)


def test_respacing_keeps_alpha_bar_at_kept_timesteps():
    s = Schedule()
    r = s.respace(25)
    assert r.steps == 25
    assert r.t_model.tolist() == list(range(0, 501, 20))
    assert torch.allclose(r.ab_t, s.ab_t[r.t_model])
    # The product of the respaced α's telescopes back to ᾱ (Nichol & Dhariwal 2021, eq. 19).
    assert torch.allclose(torch.cumprod(r.a_t[1:], 0), s.ab_t[r.t_model[1:]], rtol=1e-5)
    assert s.respace(500).t_model.tolist() == list(range(501))
    with pytest.raises(ValueError):
        s.respace(0)
    with pytest.raises(ValueError):
        s.respace(501)
