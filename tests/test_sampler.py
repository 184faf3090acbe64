"""One step against the posterior mean, x̂0 from the true noise, step order, seeds."""

import pytest
import torch

from ddpm import Schedule, denoise_add_noise, predict_x0, q_sample, sample, sample_ddim, sample_ddpm, seeded_noise


def posterior_step(schedule, x_t, t, eps, z):
    """x_{t−1} = μ̃(x_t, x̂0) + σ_t z, with μ̃ from Ho et al. eq. 7 written out in float64."""
    ab, ab_prev, beta = (schedule.ab_t[t].double(), schedule.ab_t[t - 1].double(), schedule.b_t[t].double())
    alpha = 1 - beta
    x_t, eps, z = x_t.double(), eps.double(), z.double()
    x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    # With the course's ᾱ (which includes α_0), ᾱ_{t−1} α_t = ᾱ_t holds for t ≥ 2 only.
    mean = ab_prev.sqrt() * beta / (1 - ab) * x0 + alpha.sqrt() * (1 - ab_prev) / (1 - ab) * x_t
    return mean + beta.sqrt() * z


@pytest.mark.parametrize("t", [2, 10, 250, 500])
def test_denoise_add_noise_equals_posterior_mean_form(t):
    s = Schedule()
    g = torch.Generator().manual_seed(t)
    x_t, eps, z = (torch.randn(4, 3, 16, 16, generator=g) for _ in range(3))
    ours = denoise_add_noise(s, x_t, t, eps, z)
    # At small t, 1 − ᾱ_t ≈ 3e-4 carries float32's rounding of ᾱ_t (≈ 1e-7) to ~1e-3 relative.
    tol = 2e-3 if t < 10 else 1e-4
    assert torch.allclose(ours.double(), posterior_step(s, x_t, t, eps, z), atol=tol, rtol=tol)
    assert not torch.allclose(ours, denoise_add_noise(s, x_t, t - 1, eps, z), atol=tol, rtol=tol)


class TrueNoise(torch.nn.Module):
    """A 'model' that knows x0 and returns the exact noise in x_t."""

    def __init__(self, schedule, x0):
        super().__init__()
        self.s, self.x0 = schedule, x0
        self.seen = []
        self.n_cfeat = 5

    def forward(self, x, t, c):
        self.seen.append(int(t[0]))
        ab = self.s.ab_t[t][:, None, None, None]
        return (x - ab.sqrt() * self.x0) / (1 - ab).sqrt()


def test_x0_prediction_from_the_true_noise_is_x0():
    s = Schedule()
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1, torch.randn(3, 3, 16, 16, generator=g)
    for t in (1, 100, 499):
        x_t = q_sample(s, x0, torch.full((3,), t), eps)
        assert torch.allclose(predict_x0(s, x_t, t, eps), x0, atol=1e-3)


def test_predict_x0_takes_one_t_or_one_per_row():
    s = Schedule()
    x_t, eps = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    t = torch.tensor([1, 60, 300, 500])
    per_row = predict_x0(s, x_t, t, eps)
    for row in range(4):
        assert torch.allclose(per_row[row], predict_x0(s, x_t[row], int(t[row]), eps[row]), atol=1e-6)


def test_sampler_walks_T_steps_in_order_and_adds_no_noise_at_the_end():
    s = Schedule()
    x0 = torch.zeros(2, 3, 16, 16)
    model = TrueNoise(s, x0)
    x_T, noise = seeded_noise(0, 2)
    steps = list(sample_ddpm(model, s, x_T, noise=noise))
    assert [st.t for st in steps] == list(range(500, 0, -1))
    assert model.seen == list(range(500, 0, -1))
    assert torch.count_nonzero(steps[-1].z) == 0
    assert all(torch.count_nonzero(st.z) > 0 for st in steps[:-1])
    # Each yielded x is exactly denoise_add_noise of the previous x with the recorded noise.
    prev = steps[-2].x
    assert torch.equal(steps[-1].x, denoise_add_noise(s, prev, 1, steps[-1].eps, torch.zeros_like(prev)))


def test_no_noise_sampler_adds_nothing():
    s = Schedule(T=20)
    model = TrueNoise(s, torch.zeros(1, 3, 16, 16))
    steps = list(sample_ddpm(model, s, torch.randn(1, 3, 16, 16), noise_scale=0.0))
    assert all(torch.count_nonzero(st.z) == 0 for st in steps)


def test_ddim_with_the_true_noise_recovers_x0():
    s = Schedule()
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    x_T = q_sample(s, x0, torch.full((2,), 500), torch.randn(2, 3, 16, 16, generator=g))
    model = TrueNoise(s, x0)
    steps = list(sample_ddim(model, s.respace(25), x_T))
    assert [st.t for st in steps] == list(range(500, 0, -20))
    assert torch.allclose(steps[-1].x, x0, atol=1e-3)


def test_respaced_ddpm_walks_the_kept_timesteps():
    s = Schedule().respace(50)
    model = TrueNoise(Schedule(), torch.zeros(1, 3, 16, 16))
    x_T, noise = seeded_noise(3, 1)
    assert [st.t for st in sample_ddpm(model, s, x_T, noise=noise)] == list(range(500, 0, -10))


def test_seeds_are_reproducible_and_independent_of_batch_size(tiny_model):
    s = Schedule(T=30)

    def draw(seed, n):
        x_T, noise = seeded_noise(seed, n)
        return sample(sample_ddpm(tiny_model, s, x_T, noise=noise))

    a, b, c = draw(7, 4), draw(7, 4), draw(8, 4)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    big = draw(7, 9)
    assert torch.allclose(big[:4], a, atol=1e-5)  # sprite i does not depend on the batch


def test_seeded_noise_is_distinct_per_sprite_and_per_draw():
    x_T, noise = seeded_noise(5, 3)
    assert not torch.equal(x_T[0], x_T[1])
    assert torch.equal(seeded_noise(5, 1)[0][0], x_T[0])
    assert not torch.equal(noise.draw()[0], x_T[0])  # a step's z is the stream's next draw, not x_T again
    with pytest.raises(ValueError):
        seeded_noise(-1, 3)


def test_noise_scale_per_sprite(tiny_model):
    s = Schedule(T=20)
    x_T, noise = seeded_noise(0, 2)
    both = sample(sample_ddpm(tiny_model, s, torch.cat([x_T, x_T]), noise_scale=torch.tensor([1.0, 1.0, 0.0, 0.0]),
                              noise=noise.padded(2)))
    x_T2, _ = seeded_noise(0, 2)
    alone = sample(sample_ddpm(tiny_model, s, x_T2, noise_scale=0.0))
    assert torch.allclose(both[2:], alone, atol=1e-5)
    assert not torch.allclose(both[:2], alone)


def test_side_by_side_halves_equal_the_two_samplers_run_apart(tiny_model):
    from ddpm import sample_side_by_side

    s = Schedule(T=20)
    x_T, noise = seeded_noise(2, 3)
    both = sample(sample_side_by_side(tiny_model, s, x_T, noise, noise_scale=0.7))
    x_T, noise = seeded_noise(2, 3)
    noisy = sample(sample_ddpm(tiny_model, s, x_T, noise_scale=0.7, noise=noise))
    plain = sample(sample_ddpm(tiny_model, s, x_T, noise_scale=0.0))
    assert torch.allclose(both[:3], noisy, atol=1e-5)
    assert torch.allclose(both[3:], plain, atol=1e-5)


@pytest.mark.parametrize("lam", [0.5, 1.0, 1.7])
def test_step_noise_is_lambda_s3_times_the_sprites_own_draws(tiny_model, lam):
    """Step.z = λ·s3[t]·ε, with ε sprite i's stream's draws right after its x_T."""
    s = Schedule(T=6)
    x_T, noise = seeded_noise(9, 2)
    steps = list(sample_ddpm(tiny_model, s, x_T, noise_scale=lam, noise=noise))
    _, replay = seeded_noise(9, 2)  # x_T came first
    for step in steps[:-1]:
        torch.testing.assert_close(step.z, lam * s.s3[step.t] * replay.draw())
    assert torch.count_nonzero(steps[-1].z) == 0


def test_sampling_without_a_generator_leaves_the_global_seed_alone(tiny_model):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sample(sample_ddpm(tiny_model, Schedule(T=3), torch.zeros(1, 3, 16, 16), noise_scale=0.0))  # draws nothing
    assert torch.equal(torch.rand(3), expected)


def test_sampler_maps_kind_and_steps_to_the_walk(tiny_model):
    from ddpm import sampler

    s = Schedule()
    model = TrueNoise(s, torch.zeros(1, 3, 16, 16))
    x_T, noise = seeded_noise(0, 1)
    assert [st.t for st in sampler("ddim", model, x_T)] == list(range(500, 0, -20))  # DDIM: 25 steps by default
    assert len(list(sampler("ddpm", model, x_T, steps=10, noise=noise))) == 10
    assert len(list(sampler("ddpm", model, x_T, noise=seeded_noise(0, 1)[1]))) == 500
    with pytest.raises(ValueError, match="sampler must be"):
        sampler("gan", model, x_T)
    with pytest.raises(ValueError, match="DDIM"):
        sampler("ddim", model, x_T, side_by_side=True)
