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
        "loses": ["avgpool-test"],
    },
    "avgpool_all_mass_in_one_corner": {
        "replace": {"avgpool-solution": (
            "def avgpool_min_norm_inverse(y, k):\n"
            "    x = torch.zeros(k * y.shape[0], k * y.shape[1], dtype=y.dtype)\n"
            "    x[::k, ::k] = y * k * k\n"
            "    return x\n"
        )},
        "loses": ["avgpool-test"],
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
}
