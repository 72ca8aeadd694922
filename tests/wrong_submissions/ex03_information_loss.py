"""Plausible wrong answers to ex03_information_loss; each must lose points where stated."""

WRONG = {
    "null_space_exact_zero_tolerance": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    _, s, vh = torch.linalg.svd(W)\n"
            "    rank = int((s > 0).sum())\n"
            "    return vh[rank:].T\n"
        )},
        "loses": ["null-test"],
    },
    "null_space_left_singular_vectors": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    u, s, _ = torch.linalg.svd(W)\n"
            "    rank = int((s > rtol * s.max()).sum())\n"
            "    return u[:, rank:]\n"
        )},
        "loses": ["null-test"],
    },
    "avgpool_transpose_not_pinv": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    return y.repeat_interleave(k, dim=0).repeat_interleave(k, dim=1) / (k * k)\n"
        )},
        "loses": ["avgpool-test", "energy-test"],
    },
    "avgpool_all_mass_in_one_corner": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    x = torch.zeros(k * y.shape[0], k * y.shape[1], dtype=y.dtype)\n"
            "    x[::k, ::k] = y * k * k\n"
            "    return x\n"
        )},
        "loses": ["avgpool-test", "energy-test"],
    },
    "batchnorm_forgot_eps": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    return (y - bias) / weight * torch.sqrt(running_var) + running_mean\n"
        )},
        "loses": ["bn-test"],
    },
    "batchnorm_weight_bias_order": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    return (y / weight - bias) * torch.sqrt(running_var + eps) + running_mean\n"
        )},
        "loses": ["bn-test"],
    },
    "batchnorm_var_not_std": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    return (y - bias) / weight * (running_var + eps) + running_mean\n"
        )},
        "loses": ["bn-test"],
    },
    "softmax_plain_log": {
        "replace": {"softmax-solution": "def softmax_inverse(p):\n    return torch.log(p)\n"},
        "loses": ["softmax-test"],
    },
    "softmax_mean_over_wrong_axis": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p):\n"
            "    z = torch.log(p)\n"
            "    return z - z.mean(dim=0, keepdim=True)\n"
        )},
        "loses": ["softmax-test"],
    },
    # ---- Part A (null-test): mistakes the visible tests let through
    "null_space_absolute_cutoff": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    _, s, vh = torch.linalg.svd(W)\n"
            "    rank = int((s > rtol).sum())  # absolute, not relative to s_max\n"
            "    return vh[rank:].T\n"
        )},
        "loses": ["null-test"],
    },
    "null_space_ignores_rtol": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    _, s, vh = torch.linalg.svd(W)\n"
            "    rank = int((s > 1e-10 * s.max()).sum()) if s.numel() else 0\n"
            "    return vh[rank:].T\n"
        )},
        "loses": ["null-test"],
    },
    "null_space_matrix_rank_default_tolerance": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    rank = int(torch.linalg.matrix_rank(W))\n"
            "    return torch.linalg.svd(W).Vh[rank:].T\n"
        )},
        "loses": ["null-test"],
    },
    "null_space_float32_svd": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    _, s, vh = torch.linalg.svd(W.float())\n"
            "    rank = int((s > rtol * s.max()).sum()) if s.numel() else 0\n"
            "    return vh[rank:].T.to(W.dtype)\n"
        )},
        "loses": ["null-test"],
    },
    "null_space_eigh_of_gram_rtol_on_eigenvalues": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    evals, evecs = torch.linalg.eigh(W.T @ W)  # ascending\n"
            "    small = evals <= rtol * evals.max()\n"
            "    return evecs[:, small]\n"
        )},
        "loses": ["null-test"],
    },
    "null_space_normalises_W_in_place": {
        "replace": {"null-solution": (
            "def null_space_basis(W, rtol=1e-10):\n"
            "    W /= torch.linalg.matrix_norm(W, 2)  # now s_max = 1, so an absolute cut-off is relative\n"
            "    _, s, vh = torch.linalg.svd(W)\n"
            "    return vh[int((s > rtol).sum()):].T\n"
        )},
        "loses": ["null-test"],
    },
    # ---- Part B (avgpool-test)
    "avgpool_hard_coded_k_2": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    return y.repeat_interleave(2, dim=0).repeat_interleave(2, dim=1)\n"
        )},
        "loses": ["avgpool-test", "energy-test"],
    },
    "avgpool_square_images_only": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    n = y.shape[0]\n"
            "    x = torch.empty(k * n, k * n, dtype=y.dtype)\n"
            "    for i in range(n):\n"
            "        for j in range(n):\n"
            "            x[i * k:(i + 1) * k, j * k:(j + 1) * k] = y[i, j]\n"
            "    return x\n"
        )},
        "loses": ["avgpool-test", "energy-test"],
    },
    "avgpool_always_float64": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    x = torch.zeros(k * y.shape[0], k * y.shape[1], dtype=torch.float64)\n"
            "    for di in range(k):\n"
            "        for dj in range(k):\n"
            "            x[di::k, dj::k] = y\n"
            "    return x\n"
        )},
        "loses": ["avgpool-test"],
    },
    "avgpool_float32_interpolate": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    up = torch.nn.functional.interpolate(y.float()[None, None], scale_factor=k, mode='nearest')\n"
            "    return up[0, 0].to(y.dtype)\n"
        )},
        "loses": ["avgpool-test"],
    },
    "avgpool_tiles_instead_of_blocks": {
        "replace": {"avgpool-solution": "def avgpool_min_norm_inverse(y, k):\n    return y.repeat(k, k)\n"},
        "loses": ["avgpool-test", "energy-test"],
    },
    # ---- Part C (bn-test)
    "batchnorm_float32": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    f = lambda t: t.float()\n"
            "    x = (f(y) - f(bias)) / f(weight) * torch.sqrt(f(running_var) + eps) + f(running_mean)\n"
            "    return x.to(y.dtype)\n"
        )},
        "loses": ["bn-test"],
    },
    "batchnorm_sqrt_of_ratio_loses_the_sign_of_weight": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    return (y - bias) * torch.sqrt((running_var + eps) / weight ** 2) + running_mean\n"
        )},
        "loses": ["bn-test"],
    },
    "batchnorm_division_guard_epsilon": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    return (y - bias) / (weight + 1e-8) * torch.sqrt(running_var + eps) + running_mean\n"
        )},
        "loses": ["bn-test"],
    },
    "batchnorm_in_place_on_y": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    y -= bias\n"
            "    y /= weight\n"
            "    y *= torch.sqrt(running_var + eps)\n"
            "    y += running_mean\n"
            "    return y\n"
        )},
        "loses": ["bn-test"],
    },
    # ---- Part D (softmax-test)
    "softmax_float32_log": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p):\n"
            "    z = torch.log(p.float())\n"
            "    return (z - z.mean(dim=-1, keepdim=True)).to(p.dtype)\n"
        )},
        "loses": ["softmax-test"],
    },
    "softmax_epsilon_inside_log": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p):\n"
            "    z = torch.log(p + 1e-12)  # avoid log(0)\n"
            "    return z - z.mean(dim=-1, keepdim=True)\n"
        )},
        "loses": ["softmax-test"],
    },
    "softmax_geometric_mean_by_product": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p):\n"
            "    geo = p.prod(dim=-1, keepdim=True) ** (1.0 / p.shape[-1])\n"
            "    return torch.log(p / geo)\n"
        )},
        "loses": ["softmax-test"],
    },
    "softmax_clamped_probabilities": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p):\n"
            "    z = torch.log(p.clamp(min=1e-10))\n"
            "    return z - z.mean(dim=-1, keepdim=True)\n"
        )},
        "loses": ["softmax-test"],
    },
    "softmax_log_in_place": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p):\n"
            "    z = p.log_()\n"
            "    return z - z.mean(dim=-1, keepdim=True)\n"
        )},
        "loses": ["softmax-test"],
    },
    # ---- Part E (energy-test): the experiment
    "energy_pools_with_k_2_always": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x, k):\n"
            "    y = torch.nn.functional.avg_pool2d(x[None, None], 2)[0, 0]\n"
            "    return float((x - avgpool_min_norm_inverse(y, 2)).pow(2).sum() / x.pow(2).sum())\n\n\n"
            "def predicted_noise_loss(k):\n"
            "    return 1.0 - 1.0 / k ** 2\n\n\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = 0.1086\n"
        )},
        "loses": ["energy-test"],
    },
    "energy_variance_instead_of_energy": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x, k):\n"
            "    y = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    return float((x - avgpool_min_norm_inverse(y, k)).var() / x.var())\n\n\n"
            "def predicted_noise_loss(k):\n"
            "    return 1.0 - 1.0 / k ** 2\n\n\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n"
        )},
        "loses": ["energy-test"],
    },
    "energy_ratio_of_norms_not_energies": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x, k):\n"
            "    y = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    return float((x - avgpool_min_norm_inverse(y, k)).norm() / x.norm())\n\n\n"
            "def predicted_noise_loss(k):\n"
            "    return 1.0 - 1.0 / k ** 2\n\n\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n"
        )},
        "loses": ["energy-test"],
    },
    "energy_smallest_k_off_by_one": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x, k):\n"
            "    y = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    return float((x - avgpool_min_norm_inverse(y, k)).pow(2).sum() / x.pow(2).sum())\n\n\n"
            "def predicted_noise_loss(k):\n"
            "    return 1.0 - 1.0 / k ** 2\n\n\n"
            "SMALLEST_K_90 = 3  # 0.889 rounds to 0.9\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n"
        )},
        "loses": ["energy-test"],
    },
    "energy_smooth_loss_measured_at_k_2": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x, k):\n"
            "    y = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    return float((x - avgpool_min_norm_inverse(y, k)).pow(2).sum() / x.pow(2).sum())\n\n\n"
            "def predicted_noise_loss(k):\n"
            "    return 1.0 - 1.0 / k ** 2\n\n\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 2)\n"
        )},
        "loses": ["energy-test"],
    },
    "energy_prediction_one_over_k": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x, k):\n"
            "    y = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    return float((x - avgpool_min_norm_inverse(y, k)).pow(2).sum() / x.pow(2).sum())\n\n\n"
            "def predicted_noise_loss(k):\n"
            "    return 1.0 - 1.0 / k  # one value kept per window\n\n\n"
            "SMALLEST_K_90 = 10\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n"
        )},
        "loses": ["energy-test"],
    },
    # issue 15 outsider probe: cut at rtol * ||W||_F (up to sqrt(rank) * s_max): 10/10 before
    "null_space_frobenius_norm_threshold": {
        "replace": {"null-solution": (
            "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
            "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
            "    U, S, Vh = torch.linalg.svd(W)\n"
            "    r = int((S > rtol * torch.linalg.norm(W)).sum())\n"
            "    return Vh[r:].T\n")},
        "loses": ["null-test"],
    },
    # issue 15 outsider probe: cut at rtol * max|W_ij| (down to s_max / sqrt(mn)): 10/10 before
    "null_space_largest_entry_threshold": {
        "replace": {"null-solution": (
            "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
            "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
            "    U, S, Vh = torch.linalg.svd(W)\n"
            "    r = int((S > rtol * W.abs().max()).sum())\n"
            "    return Vh[r:].T\n")},
        "loses": ["null-test"],
    },
    # issue 15 outsider probe: a float32 W gets a float64 basis: 10/10 before
    "null_space_float64_basis_for_float32_W": {
        "replace": {"null-solution": (
            "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
            "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
            "    U, S, Vh = torch.linalg.svd(W.double())\n"
            "    r = int((S > rtol * S.max()).sum()) if S.numel() else 0\n"
            "    return Vh[r:].T\n")},
        "loses": ["null-test"],
    },
    "null_space_tie_counts_as_rank": {
        "replace": {"null-solution": (
            "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
            "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
            "    U, S, Vh = torch.linalg.svd(W)\n"
            "    r = int((S >= rtol * S.max()).sum()) if S.numel() else 0\n"
            "    return Vh[r:].T\n")},
        "loses": ["null-test"],
    },
    "null_space_assumes_full_row_rank": {
        "replace": {"null-solution": (
            "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
            "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
            "    U, S, Vh = torch.linalg.svd(W)\n"
            "    return Vh[W.shape[0]:].T\n")},
        "loses": ["null-test"],
    },
    # issue 15 outsider probe: weight + 1e-12 is an error of 1e-12 / |weight|; hidden only when the bias swamps y: 10/10 before
    "batchnorm_division_guard_1e_12": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    \"\"\"Return x with weight * (x - running_mean) / sqrt(running_var + eps) + bias == y.\"\"\"\n"
            "    return (y - bias) / (weight + 1e-12) * torch.sqrt(running_var + eps) + running_mean\n")},
        "loses": ["bn-test"],
    },
    "batchnorm_float64_result_for_float32": {
        "replace": {"bn-solution": (
            "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
            "    \"\"\"Return x with weight * (x - running_mean) / sqrt(running_var + eps) + bias == y.\"\"\"\n"
            "    y, m, v, w, b = (t.double() for t in (y, running_mean, running_var, weight, bias))\n"
            "    return (y - b) / w * torch.sqrt(v + eps) + m\n")},
        "loses": ["bn-test"],
    },
    "softmax_mean_over_dim_1": {
        "replace": {"softmax-solution": (
            "def softmax_inverse(p: torch.Tensor) -> torch.Tensor:\n"
            "    \"\"\"Return the zero-mean logits z with softmax(z, dim=-1) == p.\"\"\"\n"
            "    z = torch.log(p)\n"
            "    dim = 1 if p.dim() > 1 else 0\n"
            "    return z - z.mean(dim, keepdim=True)\n")},
        "loses": ["softmax-test"],
    },
    "energy_mean_of_per_block_fractions": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
            "    H, W = x.shape[0] // k, x.shape[1] // k\n"
            "    blocks = x.reshape(H, k, W, k).permute(0, 2, 1, 3).reshape(H * W, k * k)\n"
            "    lost = ((blocks - blocks.mean(1, keepdim=True)) ** 2).sum(1)\n"
            "    return float((lost / (blocks ** 2).sum(1)).mean())\n"
            "\n"
            "\n"
            "def predicted_noise_loss(k: int) -> float:\n"
            "    \"\"\"The expected lost fraction of a white-noise image under k x k average pooling.\"\"\"\n"
            "    return 1.0 - 1.0 / k ** 2\n"
            "\n"
            "\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n")},
        "loses": ["energy-test"],
    },
    "energy_square_images_only": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
            "    H = x.shape[0] // k\n"
            "    blocks = x.reshape(H, k, H, k)\n"
            "    x_hat = blocks.mean(dim=(1, 3), keepdim=True).expand(H, k, H, k).reshape(x.shape)\n"
            "    return float(((x - x_hat) ** 2).sum() / (x ** 2).sum())\n"
            "\n"
            "\n"
            "def predicted_noise_loss(k: int) -> float:\n"
            "    \"\"\"The expected lost fraction of a white-noise image under k x k average pooling.\"\"\"\n"
            "    return 1.0 - 1.0 / k ** 2\n"
            "\n"
            "\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n")},
        "loses": ["energy-test"],
    },
    "energy_prediction_geometric_guess": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
            "    \"\"\"||x - x_hat||^2 / ||x||^2, with x_hat the minimum-norm image whose k x k average pooling is that of x.\"\"\"\n"
            "    pooled = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    x_hat = pooled.repeat_interleave(k, 0).repeat_interleave(k, 1)\n"
            "    return float(((x - x_hat) ** 2).sum() / (x ** 2).sum())\n"
            "\n"
            "\n"
            "def predicted_noise_loss(k: int) -> float:\n"
            "    return 1.0 - 0.25 ** (k - 1)\n"
            "\n"
            "\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n")},
        "loses": ["energy-test"],
    },
    "energy_prediction_hard_coded": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
            "    \"\"\"||x - x_hat||^2 / ||x||^2, with x_hat the minimum-norm image whose k x k average pooling is that of x.\"\"\"\n"
            "    pooled = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    x_hat = pooled.repeat_interleave(k, 0).repeat_interleave(k, 1)\n"
            "    return float(((x - x_hat) ** 2).sum() / (x ** 2).sum())\n"
            "\n"
            "\n"
            "def predicted_noise_loss(k: int) -> float:\n"
            "    return 0.0 if k == 1 else 0.75\n"
            "\n"
            "\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = lost_energy_fraction(smooth_image(32), 4)\n")},
        "loses": ["energy-test"],
    },
    "energy_smooth_loss_is_the_kept_fraction": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
            "    \"\"\"||x - x_hat||^2 / ||x||^2, with x_hat the minimum-norm image whose k x k average pooling is that of x.\"\"\"\n"
            "    pooled = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    x_hat = pooled.repeat_interleave(k, 0).repeat_interleave(k, 1)\n"
            "    return float(((x - x_hat) ** 2).sum() / (x ** 2).sum())\n"
            "\n"
            "\n"
            "def predicted_noise_loss(k: int) -> float:\n"
            "    \"\"\"The expected lost fraction of a white-noise image under k x k average pooling.\"\"\"\n"
            "    return 1.0 - 1.0 / k ** 2\n"
            "\n"
            "\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = 1.0 - lost_energy_fraction(smooth_image(32), 4)\n")},
        "loses": ["energy-test"],
    },
    "energy_smooth_loss_is_the_noise_prediction": {
        "replace": {"energy-solution": (
            "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
            "    \"\"\"||x - x_hat||^2 / ||x||^2, with x_hat the minimum-norm image whose k x k average pooling is that of x.\"\"\"\n"
            "    pooled = torch.nn.functional.avg_pool2d(x[None, None], k)[0, 0]\n"
            "    x_hat = pooled.repeat_interleave(k, 0).repeat_interleave(k, 1)\n"
            "    return float(((x - x_hat) ** 2).sum() / (x ** 2).sum())\n"
            "\n"
            "\n"
            "def predicted_noise_loss(k: int) -> float:\n"
            "    \"\"\"The expected lost fraction of a white-noise image under k x k average pooling.\"\"\"\n"
            "    return 1.0 - 1.0 / k ** 2\n"
            "\n"
            "\n"
            "SMALLEST_K_90 = 4\n"
            "SMOOTH_LOSS_K4 = predicted_noise_loss(4)\n")},
        "loses": ["energy-test"],
    },
}
