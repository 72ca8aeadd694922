"""Correct answers to ex03_information_loss written another way than the solution; each must earn full marks."""

RIGHT = {
    "svd_of_transpose_kron_affine_geometric_mean": {
        "replace": {
            "null-solution": (
                "def null_space_basis(W, rtol=1e-10):\n"
                "    U, s, _ = torch.linalg.svd(W.T, full_matrices=True)\n"
                "    rank = int((s > rtol * s.max()).sum()) if s.numel() else 0\n"
                "    return U[:, rank:].contiguous()\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y, k):\n"
                "    return torch.kron(y, torch.ones(k, k, dtype=y.dtype))\n"),
            "bn-solution": (
                "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
                "    scale = weight / torch.sqrt(running_var + eps)\n"
                "    shift = bias - running_mean * scale\n"
                "    return (y - shift) / scale\n"),
            "softmax-solution": (
                "def softmax_inverse(p):\n"
                "    geo = torch.exp(torch.log(p).mean(dim=-1, keepdim=True))\n"
                "    return torch.log(p / geo)\n"),
        },
    },
    "numpy_expand_loop_centering_matrix": {
        "replace": {
            "null-solution": (
                "import numpy as np\n\n"
                "def null_space_basis(W, rtol=1e-10):\n"
                "    u, s, vt = np.linalg.svd(W.detach().cpu().numpy(), full_matrices=True)\n"
                "    rank = int(np.sum(s > rtol * s.max())) if s.size else 0\n"
                "    return torch.from_numpy(vt[rank:].T.copy()).to(W.dtype)\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y, k):\n"
                "    H, W = y.shape\n"
                "    return y[:, None, :, None].expand(H, k, W, k).reshape(H * k, W * k)\n"),
            "bn-solution": (
                "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
                "    x = torch.empty_like(y)\n"
                "    for j in range(y.shape[1]):\n"
                "        x[:, j] = (y[:, j] - bias[j]) * torch.sqrt(running_var[j] + eps) / weight[j] + running_mean[j]\n"
                "    return x\n"),
            "softmax-solution": (
                "def softmax_inverse(p):\n"
                "    d = p.shape[-1]\n"
                "    C = torch.eye(d, dtype=p.dtype) - torch.full((d, d), 1.0 / d, dtype=p.dtype)\n"
                "    return torch.log(p) @ C\n"),
        },
    },
    "scipy_null_space_nearest_upsampling_log_softmax_rows": {
        "replace": {
            "null-solution": (
                "import scipy.linalg\n\n"
                "def null_space_basis(W, rtol=1e-10):\n"
                "    N = scipy.linalg.null_space(W.detach().cpu().numpy(), rcond=rtol)\n"
                "    return torch.tensor(N, dtype=W.dtype).reshape(W.shape[1], -1)\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y, k):\n"
                "    return torch.nn.functional.interpolate(y[None, None], scale_factor=k, mode='nearest')[0, 0]\n"),
            "bn-solution": (
                "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
                "    std = (running_var + eps) ** 0.5\n"
                "    return running_mean + (y - bias) * (std / weight)\n"),
            "softmax-solution": (
                "def softmax_inverse(p):\n"
                "    flat = p.reshape(-1, p.shape[-1])\n"
                "    rows = []\n"
                "    for row in flat:\n"
                "        z = torch.log(row)\n"
                "        rows.append(z - z.sum() / row.numel())\n"
                "    return torch.stack(rows).reshape(p.shape)\n"),
        },
    },
    "matrix_rank_rtol_conv_transpose_pythagoras_energy": {
        "replace": {
            "null-solution": (
                "def null_space_basis(W, rtol=1e-10):\n"
                "    rank = int(torch.linalg.matrix_rank(W, rtol=rtol)) if W.abs().max() > 0 else 0\n"
                "    return torch.linalg.svd(W).Vh[rank:].mT.clone()\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y, k):\n"
                "    ones = torch.ones(1, 1, k, k, dtype=y.dtype)\n"
                "    return torch.nn.functional.conv_transpose2d(y[None, None], ones, stride=k)[0, 0]\n"),
            "bn-solution": (
                "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
                "    return torch.addcmul(running_mean, y - bias, torch.sqrt(running_var + eps) / weight)\n"),
            "energy-solution": (
                "import torch.nn.functional as F\n\n"
                "def lost_energy_fraction(x, k):\n"
                "    # x_hat is the orthogonal projection of x: ||x - x_hat||^2 = ||x||^2 - ||x_hat||^2 (Pythagoras)\n"
                "    kept = k * k * F.avg_pool2d(x[None, None], k).pow(2).sum()\n"
                "    return 1.0 - float(kept / x.pow(2).sum())\n\n\n"
                "def predicted_noise_loss(k):\n"
                "    return (k * k - 1) / (k * k)\n\n\n"
                "SMALLEST_K_90 = next(k for k in range(1, 100) if predicted_noise_loss(k) >= 0.9)\n"
                "SMOOTH_LOSS_K4 = round(lost_energy_fraction(smooth_image(32), 4), 3)\n"),
        },
    },
    "float32_loops_energy_and_explicit_svd_threshold": {
        "replace": {
            "null-solution": (
                "def null_space_basis(W, rtol=1e-10):\n"
                "    n = W.shape[1]\n"
                "    U, S, Vh = torch.linalg.svd(W, full_matrices=True)\n"
                "    if S.numel() == 0 or S[0] == 0:\n"
                "        return torch.eye(n, dtype=W.dtype)\n"
                "    rank = 0\n"
                "    for s in S:\n"
                "        if s > rtol * S[0]:\n"
                "            rank += 1\n"
                "    return Vh[rank:].T.contiguous()\n"),
            "softmax-solution": (
                "def softmax_inverse(p):\n"
                "    logp = torch.log(p)\n"
                "    return logp - logp.sum(dim=-1, keepdim=True) / p.shape[-1]\n"),
            "energy-solution": (
                "def lost_energy_fraction(x, k):\n"
                "    x = x.float()  # an energy fraction needs no float64\n"
                "    lost = 0.0\n"
                "    for i in range(0, x.shape[0], k):\n"
                "        for j in range(0, x.shape[1], k):\n"
                "            block = x[i:i + k, j:j + k]\n"
                "            lost += float((block - block.mean()).pow(2).sum())\n"
                "    return lost / float(x.pow(2).sum())\n\n\n"
                "def predicted_noise_loss(k):\n"
                "    return 1 - k ** -2\n\n\n"
                "SMALLEST_K_90 = 4\n"
                "SMOOTH_LOSS_K4 = 0.109\n"),
        },
    },
    # issue 15 outsider probe (written blind): each part another way
    "qr_completion_autograd_adjoint_feature_loop_log_ratio_pythagoras_float32": {
        "replace": {
            "null-solution": (
                "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
                "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
                "    n = W.shape[1]\n"
                "    U, S, Vh = torch.linalg.svd(W, full_matrices=False)\n"
                "    r = int((S > rtol * S.max()).sum()) if S.numel() else 0\n"
                "    R = Vh[:r].mT                                   # (n, r): orthonormal basis of the row space\n"
                "    # complete it to an orthonormal basis of R^n with a full QR of [R, I]\n"
                "    Q, _ = torch.linalg.qr(torch.cat([R, torch.eye(n, dtype=W.dtype)], dim=1), mode=\"complete\")\n"
                "    # the first r columns of Q span the row space; the remaining n - r its orthogonal complement\n"
                "    return Q[:, r:n].contiguous()\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y: torch.Tensor, k: int) -> torch.Tensor:\n"
                "    \"\"\"Return the minimum-norm x of shape (k*H, k*W) whose k x k average pooling is y.\"\"\"\n"
                "    H, W = y.shape\n"
                "    x0 = torch.zeros(k * H, k * W, dtype=y.dtype, requires_grad=True)\n"
                "    out = torch.nn.functional.avg_pool2d(x0[None, None], k)[0, 0]\n"
                "    (g,) = torch.autograd.grad((out * y.detach()).sum(), x0)\n"
                "    return (k * k) * g\n"),
            "bn-solution": (
                "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
                "    \"\"\"Return x with weight * (x - running_mean) / sqrt(running_var + eps) + bias == y.\"\"\"\n"
                "    x = torch.empty_like(y)\n"
                "    for j in range(y.shape[-1]):\n"
                "        x[..., j] = (y[..., j] - bias[j]) * math.sqrt(float(running_var[j]) + eps) / weight[j] + running_mean[j]\n"
                "    return x\n"),
            "softmax-solution": (
                "def softmax_inverse(p: torch.Tensor) -> torch.Tensor:\n"
                "    \"\"\"Return the zero-mean logits z with softmax(z, dim=-1) == p.\"\"\"\n"
                "    z = torch.log(p) - torch.log(p[..., -1:])\n"
                "    return z - z.mean(dim=-1, keepdim=True)\n"),
            "energy-solution": (
                "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
                "    \"\"\"||x - x_hat||^2 / ||x||^2, with x_hat the minimum-norm image whose k x k average pooling is that of x.\"\"\"\n"
                "    x32 = x.to(torch.float32)\n"
                "    pooled = torch.nn.functional.avg_pool2d(x32[None, None], k)[0, 0]\n"
                "    kept = float((pooled ** 2).sum()) * k * k      # ||x_hat||^2: each mean repeated k^2 times\n"
                "    return 1.0 - kept / float((x32 ** 2).sum())\n"
                "\n"
                "\n"
                "def predicted_noise_loss(k: int) -> float:\n"
                "    \"\"\"The expected lost fraction of a white-noise image under k x k average pooling.\"\"\"\n"
                "    return (k * k - 1) / (k * k)\n"
                "\n"
                "\n"
                "k = 1\n"
                "while predicted_noise_loss(k) < 0.9:\n"
                "    k += 1\n"
                "SMALLEST_K_90 = k\n"
                "SMOOTH_LOSS_K4 = 0.1086\n"),
        },
    },
    "matrix_rank_float64_block_loops_std_over_weight_row_loop_block_variances": {
        "replace": {
            "null-solution": (
                "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
                "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
                "    W64 = W.to(torch.float64)\n"
                "    r = int(torch.linalg.matrix_rank(W64, rtol=rtol))\n"
                "    _, _, Vh = torch.linalg.svd(W64, full_matrices=True)\n"
                "    return Vh[r:].mT.contiguous().to(W.dtype)\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y: torch.Tensor, k: int) -> torch.Tensor:\n"
                "    \"\"\"Return the minimum-norm x of shape (k*H, k*W) whose k x k average pooling is y.\"\"\"\n"
                "    H, W = y.shape\n"
                "    x = torch.empty(k * H, k * W, dtype=y.dtype)\n"
                "    for i in range(H):\n"
                "        for j in range(W):\n"
                "            x[i * k:(i + 1) * k, j * k:(j + 1) * k] = y[i, j]\n"
                "    return x\n"),
            "bn-solution": (
                "def batchnorm_eval_inverse(y, running_mean, running_var, weight, bias, eps):\n"
                "    \"\"\"Return x with weight * (x - running_mean) / sqrt(running_var + eps) + bias == y.\"\"\"\n"
                "    std = torch.sqrt(running_var + eps)\n"
                "    return running_mean + (y - bias) * (std / weight)\n"),
            "softmax-solution": (
                "def softmax_inverse(p: torch.Tensor) -> torch.Tensor:\n"
                "    \"\"\"Return the zero-mean logits z with softmax(z, dim=-1) == p.\"\"\"\n"
                "    d = p.shape[-1]\n"
                "    flat = p.reshape(-1, d)\n"
                "    out = torch.empty_like(flat)\n"
                "    for i in range(flat.shape[0]):\n"
                "        logs = torch.log(flat[i])\n"
                "        out[i] = logs - logs.sum() / d\n"
                "    return out.reshape(p.shape)\n"),
            "energy-solution": (
                "def lost_energy_fraction(x: torch.Tensor, k: int) -> float:\n"
                "    \"\"\"||x - x_hat||^2 / ||x||^2, with x_hat the minimum-norm image whose k x k average pooling is that of x.\"\"\"\n"
                "    H, W = x.shape[0] // k, x.shape[1] // k\n"
                "    blocks = x.reshape(H, k, W, k).permute(0, 2, 1, 3).reshape(H * W, k * k)\n"
                "    lost = blocks.var(dim=1, unbiased=False).sum() * (k * k)\n"
                "    return (lost / x.pow(2).sum()).item()\n"
                "\n"
                "\n"
                "def predicted_noise_loss(k: int) -> float:\n"
                "    \"\"\"The expected lost fraction of a white-noise image under k x k average pooling.\"\"\"\n"
                "    return 1 - k ** -2\n"
                "\n"
                "\n"
                "SMALLEST_K_90 = math.ceil(math.sqrt(1 / (1 - 0.9)))\n"
                "SMOOTH_LOSS_K4 = round(lost_energy_fraction(smooth_image(32), 4), 3)\n"),
        },
    },
    "transpose_svd_rank_loop_interpolate_nearest": {
        "replace": {
            "null-solution": (
                "def null_space_basis(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:\n"
                "    \"\"\"Return an orthonormal basis (as columns) of {v : W v = 0}.\"\"\"\n"
                "    n = W.shape[1]\n"
                "    U, S, Vh = torch.linalg.svd(W.T, full_matrices=True)   # U: (n, n)\n"
                "    r = 0\n"
                "    if S.numel() > 0:\n"
                "        smax = S.max()\n"
                "        for s in S:\n"
                "            if s > rtol * smax:\n"
                "                r += 1\n"
                "    cols = [U[:, i] for i in range(r, n)]\n"
                "    if not cols:\n"
                "        return torch.zeros(n, 0, dtype=W.dtype)\n"
                "    return torch.stack(cols, dim=1)\n"),
            "avgpool-solution": (
                "def avgpool_min_norm_inverse(y: torch.Tensor, k: int) -> torch.Tensor:\n"
                "    \"\"\"Return the minimum-norm x of shape (k*H, k*W) whose k x k average pooling is y.\"\"\"\n"
                "    return torch.nn.functional.interpolate(y[None, None], scale_factor=k, mode=\"nearest\")[0, 0]\n"),
        },
    },
}
