"""Plausible wrong answers to ex08_architectures; each must lose points where stated."""

WRONG = {
    "conv_float32_blocks": {
        "replace": {"conv-solution": (
            "def circular_conv_singular_values(kernel, n):\n"
            "    blocks = torch.fft.fft(kernel.float(), n=n, dim=-1).permute(2, 0, 1)\n"
            "    return torch.linalg.svdvals(blocks).flatten().sort(descending=True).values.double()\n")},
        "loses": ["conv-test"],
    },
    "conv_eigenvalue_magnitudes": {
        "replace": {"conv-solution": (
            "def circular_conv_singular_values(kernel, n):\n"
            "    blocks = torch.fft.fft(kernel, n=n, dim=-1).permute(2, 0, 1)\n"
            "    return torch.linalg.eigvals(blocks).abs().flatten().sort(descending=True).values\n")},
        "loses": ["conv-test"],
    },
    "conv_singular_values_of_magnitudes": {
        "replace": {"conv-solution": (
            "def circular_conv_singular_values(kernel, n):\n"
            "    blocks = torch.fft.fft(kernel, n=n, dim=-1).abs().permute(2, 0, 1)\n"
            "    return torch.linalg.svdvals(blocks).flatten().sort(descending=True).values\n")},
        "loses": ["conv-test"],
    },
    "rev_uses_y2_for_x1": {
        "replace": {"rev-solution": (
            "def reversible_inverse(y1, y2, F, G):\n"
            "    x1 = y1 - F(y2)\n"
            "    x2 = y2 - G(y1)\n"
            "    return x1, x2\n")},
        "loses": ["rev-test"],
    },
    "rev_changes_y2_in_place": {
        "replace": {"rev-solution": (
            "def reversible_inverse(y1, y2, F, G):\n"
            "    y2 -= G(y1)\n"
            "    return y1 - F(y2), y2\n")},
        "loses": ["rev-test"],
    },
    "rev_float32": {
        "replace": {"rev-solution": (
            "def reversible_inverse(y1, y2, F, G):\n"
            "    x2 = (y2.float() - G(y1).float()).double()\n"
            "    return (y1.float() - F(x2).float()).double(), x2\n")},
        "loses": ["rev-test"],
    },
    "rate_strict_inequality": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    if errors.numel() == 0:\n"
            "        raise ValueError('empty')\n"
            "    return float((errors < threshold).double().mean())\n")},
        "loses": ["rate-test"],
    },
    "rate_drops_nan_from_denominator": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    ok = errors[~errors.isnan()]\n"
            "    if ok.numel() == 0:\n"
            "        raise ValueError('empty')\n"
            "    return float((ok <= threshold).double().mean())\n")},
        "loses": ["rate-test"],
    },
    "rate_empty_is_zero": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    return int((errors <= threshold).sum()) / max(errors.numel(), 1)\n")},
        "loses": ["rate-test"],
    },
    "dropout_counts_entries_not_rows": {
        "replace": {"dropout-solution": (
            "def predicted_recovery_rate(p, d):\n"
            "    return (1 - p) ** d\n\n\n"
            "def measured_recovery_rate(p, d, n, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    y = torch.nn.Dropout(p).train()(x)\n"
            "    return float((y != 0).double().mean())\n\n\n"
            "LARGEST_D_HALF = 6\n")},
        "loses": ["dropout-test"],
    },
    "dropout_rounds_up_the_interpretation": {
        "replace": {"dropout-solution": (
            "def predicted_recovery_rate(p, d):\n"
            "    return (1 - p) ** d\n\n\n"
            "def measured_recovery_rate(p, d, n, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    y = torch.nn.Dropout(p).train()(x)\n"
            "    return float((y != 0).all(dim=1).double().mean())\n\n\n"
            "LARGEST_D_HALF = math.ceil(math.log(0.5) / math.log(0.9))\n")},
        "loses": ["dropout-test"],
    },
    "dropout_unseeded_measurement": {
        "replace": {"dropout-solution": (
            "def predicted_recovery_rate(p, d):\n"
            "    return (1 - p) ** d\n\n\n"
            "def measured_recovery_rate(p, d, n, seed):\n"
            "    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    y = torch.nn.Dropout(p).train()(x)\n"
            "    return float((y != 0).all(dim=1).double().mean())\n\n\n"
            "LARGEST_D_HALF = 6\n")},
        "loses": ["dropout-test"],
    },
}
