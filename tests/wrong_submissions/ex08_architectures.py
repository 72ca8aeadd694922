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

# Issue 15, second blind attack (written from the release only; conv_gram_eigenvalues, conv_always_float64 and
# rate_float32_compare kept full marks before the fix).
_PRED = "def predicted_recovery_rate(p, d):\n    return (1 - p) ** d\n\n\n"
_MEAS_HEAD = "def measured_recovery_rate(p, d, n, seed):\n"
_MEAS_OK = (_MEAS_HEAD + "    torch.manual_seed(seed)\n    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    x_hat = torch.nn.Dropout(p).train()(x) * (1 - p)\n"
            "    return sum(torch.allclose(x_hat[i], x[i], rtol=1e-12, atol=0) for i in range(n)) / n\n\n\n")


def _dropout(pred: str = _PRED, meas: str = _MEAS_OK, largest: str = "6") -> str:
    """The Part D answer cell: the two functions, then the interpretation."""
    return pred + meas + f"LARGEST_D_HALF = {largest}\n"


def _sorted_sv(body: str) -> str:
    return "def circular_conv_singular_values(kernel, n):\n" + body


WRONG.update({
    # conv-test: sqrt(eig(B^H B)) squares the blocks: a smallest singular value 5e-10 comes out 0
    "conv_gram_eigenvalues": {
        "replace": {"conv-solution": _sorted_sv(
            "    B = torch.fft.fft(kernel, n=n, dim=-1).permute(2, 0, 1)\n"
            "    ev = torch.linalg.eigvalsh(B.mH @ B).clamp(min=0).sqrt().flatten()\n"
            "    return ev.sort(descending=True).values\n")},
        "loses": ["conv-test"],
    },
    "conv_always_float64": {
        "replace": {"conv-solution": _sorted_sv(
            "    B = torch.fft.fft(kernel.double(), n=n, dim=-1).permute(2, 0, 1)\n"
            "    return torch.linalg.svdvals(B).flatten().sort(descending=True).values\n")},
        "loses": ["conv-test"],
    },
    "conv_sorted_along_frequencies": {
        "replace": {"conv-solution": _sorted_sv(
            "    sv = torch.linalg.svdvals(torch.fft.fft(kernel, n=n, dim=-1).permute(2, 0, 1))\n"
            "    return sv.sort(dim=0, descending=True).values.reshape(-1)\n")},
        "loses": ["conv-test"],
    },
    "conv_reshape_not_permute": {
        "replace": {"conv-solution": _sorted_sv(
            "    c = kernel.shape[0]\n"
            "    B = torch.fft.fft(kernel, n=n, dim=-1).reshape(n, c, c)\n"
            "    return torch.linalg.svdvals(B).flatten().sort(descending=True).values\n")},
        "loses": ["conv-test"],
    },
    # rev-test: F(y2 - G(y1)) expanded as if F were linear (true for the visible Scale only)
    "rev_assumes_linear_F": {
        "replace": {"rev-solution": (
            "def reversible_inverse(y1, y2, F, G):\n"
            "    g = G(y1)\n"
            "    return y1 - F(y2) + F(g), y2 - g\n")},
        "loses": ["rev-test"],
    },
    # rate-test: comparing in float32 turns a float64 error of 0.1 + 1e-12 into a success at threshold 0.1
    "rate_float32_compare": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    if errors.numel() == 0:\n"
            "        raise ValueError('empty')\n"
            "    return float((errors.float() <= threshold).sum()) / errors.numel()\n")},
        "loses": ["rate-test"],
    },
    "rate_nan_to_inf_in_place": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    if errors.numel() == 0:\n"
            "        raise ValueError('empty')\n"
            "    errors[torch.isnan(errors)] = float('inf')\n"
            "    return float((errors <= threshold).sum()) / errors.numel()\n")},
        "loses": ["rate-test"],
    },
    "rate_empty_zero_division": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    return int((errors <= threshold).sum()) / len(errors)\n")},
        "loses": ["rate-test"],
    },
    "rate_empty_returns_nan": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    return (errors <= threshold).double().mean().item()\n")},
        "loses": ["rate-test"],
    },
    "rate_nan_counts_as_success": {
        "replace": {"rate-solution": (
            "def success_rate(errors, threshold):\n"
            "    if errors.numel() == 0:\n"
            "        raise ValueError('empty')\n"
            "    return float((~(errors > threshold)).sum()) / errors.numel()\n")},
        "loses": ["rate-test"],
    },
    # dropout-test
    "dropout_any_entry_survives": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_HEAD + (
            "    torch.manual_seed(seed)\n    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    y = torch.nn.Dropout(p).train()(x)\n"
            "    return float(torch.isclose(y * (1 - p), x, rtol=1e-12, atol=0).any(dim=1).double().mean())\n\n\n"))},
        "loses": ["dropout-test"],
    },
    "dropout_exact_equality": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_HEAD + (
            "    torch.manual_seed(seed)\n    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    y = torch.nn.Dropout(p).train()(x)\n"
            "    return float((y * (1 - p) == x).all(dim=1).double().mean())\n\n\n"))},
        "loses": ["dropout-test"],
    },
    "dropout_seed_hardcoded_0": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_OK.replace("manual_seed(seed)", "manual_seed(0)"))},
        "loses": ["dropout-test"],
    },
    "dropout_x_drawn_in_float32": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_OK.replace(
            "torch.rand(n, d, dtype=torch.float64)", "torch.rand(n, d).double()"))},
        "loses": ["dropout-test"],
    },
    "dropout_all_float32": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_OK.replace(
            "torch.rand(n, d, dtype=torch.float64)", "torch.rand(n, d)"))},
        "loses": ["dropout-test"],
    },
    "dropout_own_bernoulli_mask": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_HEAD + (
            "    torch.manual_seed(seed)\n    x = torch.rand(n, d, dtype=torch.float64) + 0.5\n"
            "    keep = torch.rand(n, d, dtype=torch.float64) >= p\n"
            "    return float(keep.all(dim=1).double().mean())\n\n\n"))},
        "loses": ["dropout-test"],
    },
    "dropout_measurement_is_the_prediction": {
        "replace": {"dropout-solution": _dropout(meas=_MEAS_HEAD + "    return float((1 - p) ** d)\n\n\n")},
        "loses": ["dropout-test"],
    },
    "dropout_prediction_second_order": {
        "replace": {"dropout-solution": _dropout(
            pred="def predicted_recovery_rate(p, d):\n    return 1 - d * p + d * (d - 1) / 2 * p ** 2\n\n\n")},
        "loses": ["dropout-test"],
    },
    "dropout_largest_d_union_bound": {
        "replace": {"dropout-solution": _dropout(largest="int(0.5 / 0.1)")},
        "loses": ["dropout-test"],
    },
})
