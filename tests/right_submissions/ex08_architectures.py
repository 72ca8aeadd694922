"""Correct answers to ex08_architectures written another way than the solution; each must earn full marks."""

RIGHT = {
    "manual_dft_loops": {
        "replace": {
            "conv-solution": (
                "def circular_conv_singular_values(kernel, n):\n"
                "    c, _, k = kernel.shape\n"
                "    j = torch.arange(k, dtype=torch.float64)\n"
                "    out = []\n"
                "    for f in range(n):\n"
                "        phase = torch.exp(-2j * math.pi * f * j / n).to(torch.complex128)\n"
                "        B = (kernel.to(torch.complex128) * phase).sum(dim=-1)\n"
                "        out.append(torch.linalg.svdvals(B))\n"
                "    return torch.cat(out).sort(descending=True).values.to(kernel.dtype)\n"),
            "rev-solution": (
                "def reversible_inverse(y1, y2, F, G):\n"
                "    x2 = y2.clone()\n"
                "    x2 = x2 - G(y1)\n"
                "    x1 = y1.clone() - F(x2)\n"
                "    return x1, x2\n"),
            "rate-solution": (
                "def success_rate(errors, threshold):\n"
                "    values = errors.tolist()\n"
                "    if not values:\n"
                "        raise ValueError('no inputs')\n"
                "    return sum(1 for v in values if v <= threshold) / len(values)\n"),
            "dropout-solution": (
                "def predicted_recovery_rate(p, d):\n"
                "    return math.exp(d * math.log1p(-p)) if p < 1 else float(d == 0)\n\n\n"
                "def measured_recovery_rate(p, d, n, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
                "    layer = torch.nn.Dropout(p=p)\n"
                "    layer.train(True)\n"
                "    y = layer(x)\n"
                "    rows = sum(1 for i in range(n) if torch.allclose(y[i] * (1 - p), x[i], rtol=1e-12, atol=0))\n"
                "    return rows / n\n\n\n"
                "LARGEST_D_HALF = 0\n"
                "while 0.9 ** (LARGEST_D_HALF + 1) >= 0.5:\n"
                "    LARGEST_D_HALF += 1\n"),
        },
    },
    "numpy_fft_float32_rate_mask_rows": {
        "replace": {
            "conv-solution": (
                "import numpy as np\n\n"
                "def circular_conv_singular_values(kernel, n):\n"
                "    B = np.fft.fft(kernel.numpy(), n=n, axis=-1)\n"
                "    s = np.linalg.svd(np.moveaxis(B, -1, 0), compute_uv=False).ravel()\n"
                "    return torch.from_numpy(np.sort(s)[::-1].copy()).to(kernel.dtype)\n"),
            "rev-solution": (
                "def reversible_inverse(y1, y2, F, G):\n"
                "    g = G(y1)\n"
                "    x2 = torch.sub(y2, g)\n"
                "    return torch.sub(y1, F(x2)), x2\n"),
            "rate-solution": (
                "def success_rate(errors, threshold):\n"
                "    if len(errors) == 0:\n"
                "        raise ValueError('empty errors')\n"
                "    return (errors <= threshold).float().mean().item()\n"),
            "dropout-solution": (
                "def predicted_recovery_rate(p, d):\n"
                "    return math.pow(1.0 - p, d)\n\n\n"
                "def measured_recovery_rate(p, d, n, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
                "    kept = torch.nn.functional.dropout(x, p=p, training=True) != 0\n"
                "    return kept.all(dim=1).sum().item() / n\n\n\n"
                "LARGEST_D_HALF = int(math.floor(math.log(0.5) / math.log(0.9)))\n"),
        },
    },
    "svd_per_block_count_nonzero_isclose": {
        "replace": {
            "conv-solution": (
                "def circular_conv_singular_values(kernel, n):\n"
                "    F = torch.fft.fft(torch.nn.functional.pad(kernel, (0, n - kernel.shape[-1])), dim=-1)\n"
                "    vals = [torch.linalg.svdvals(F[:, :, f]) for f in range(n)]\n"
                "    return torch.sort(torch.cat(vals), descending=True)[0]\n"),
            "rev-solution": (
                "def reversible_inverse(y1, y2, F, G):\n"
                "    x2 = -(G(y1) - y2)\n"
                "    x1 = -(F(x2) - y1)\n"
                "    return (x1, x2)\n"),
            "rate-solution": (
                "def success_rate(errors, threshold):\n"
                "    n = errors.numel()\n"
                "    if n == 0:\n"
                "        raise ValueError('the success rate of no inputs is undefined')\n"
                "    return float(torch.count_nonzero(errors <= threshold)) / n\n"),
            "dropout-solution": (
                "def predicted_recovery_rate(p, d):\n"
                "    out = 1.0\n"
                "    for _ in range(d):\n"
                "        out *= 1 - p\n"
                "    return out\n\n\n"
                "def measured_recovery_rate(p, d, n, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
                "    x_hat = torch.nn.Dropout(p).train()(x) * (1 - p)\n"
                "    return torch.isclose(x_hat, x, rtol=1e-12, atol=0).all(dim=1).double().mean().item()\n\n\n"
                "LARGEST_D_HALF = max(d for d in range(1, 50) if 0.9 ** d >= 0.5)\n"),
        },
    },
}

# Issue 15, second blind attack (written from the release only; all earned full marks before and after the fix).
RIGHT.update({
    "rfft_mirrored_row_loop_exact_compare": {
        "replace": {
            "conv-solution": (
                "def circular_conv_singular_values(kernel, n):\n"
                "    R = torch.fft.rfft(kernel, n=n, dim=-1).permute(2, 0, 1)  # f = 0 .. n // 2\n"
                "    sv = torch.linalg.svdvals(R)\n"
                "    sv = torch.cat([sv, sv[1:(n + 1) // 2]])  # f = n - 1 .. n // 2 + 1 are their conjugates\n"
                "    return torch.sort(sv.reshape(-1), descending=True).values\n"),
            "rev-solution": (
                "def reversible_inverse(y1, y2, F, G):\n"
                "    x1_rows, x2_rows = [], []\n"
                "    for i in range(y1.shape[0]):\n"
                "        a, b = y1[i:i + 1], y2[i:i + 1]\n"
                "        x2 = b - G(a)\n"
                "        x1_rows.append(a - F(x2))\n"
                "        x2_rows.append(x2)\n"
                "    return torch.cat(x1_rows), torch.cat(x2_rows)\n"),
            "rate-solution": (
                "def success_rate(errors, threshold):\n"
                "    if errors.numel() == 0:\n"
                "        raise ValueError('errors is empty: a success rate needs at least one input')\n"
                "    return torch.sum(errors.double() <= threshold).item() / errors.numel()\n"),
        },
    },
    "ifft_conjugate_blocks_clone_then_in_place": {
        "replace": {
            "conv-solution": (
                "def circular_conv_singular_values(kernel, n):\n"
                "    B = torch.fft.ifft(kernel, n=n, dim=-1) * n  # the conjugates of the blocks\n"
                "    return torch.linalg.svdvals(B.permute(2, 1, 0)).flatten().sort(descending=True).values\n"),
            "rev-solution": (
                "def reversible_inverse(y1, y2, F, G):\n"
                "    x2 = y2.clone()\n"
                "    x2 -= G(y1)\n"
                "    x1 = y1.clone()\n"
                "    x1 -= F(x2)\n"
                "    return x1, x2\n"),
        },
    },
})
