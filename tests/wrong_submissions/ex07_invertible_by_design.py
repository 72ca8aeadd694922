"""Plausible wrong answers to ex07_invertible_by_design; each must lose points where stated."""

_INV_HEAD = "def affine_coupling_inverse(y, scale_shift):\n    k = y.shape[-1] // 2\n    yp, ya = y[..., :k], y[..., k:]\n"
_LD_HEAD = "def affine_coupling_logdet(x, scale_shift):\n    k = x.shape[-1] // 2\n    s, _ = scale_shift(x[..., :k])\n"
_FP_HEAD = (
    "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
    "    factor = lipschitz / (1 - lipschitz)\n"
    "    x = y\n"
    "    for k in range(1, max_iter + 1):\n"
)
_BANACH_HEAD = (
    "def banach_iterations(lipschitz, first_step, tol):\n"
    "    if not 0 < lipschitz < 1:\n"
    "        raise ValueError('no contraction')\n"
)

WRONG = {
    "inverse_multiplies_by_exp_s": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(yp)\n"
                    "    return torch.cat([yp, (ya - t) * torch.exp(s)], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "inverse_conditions_on_active_half": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(ya[..., :k])\n"
                    "    return torch.cat([yp, (ya - t) * torch.exp(-s)], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "logdet_sums_over_batch": {
        "replace": {"logdet-solution": _LD_HEAD + "    return s.sum(dim=0)\n"},
        "loses": ["logdet-test"],
    },
    "logdet_wrong_sign": {
        "replace": {"logdet-solution": _LD_HEAD + "    return -s.sum(dim=-1)\n"},
        "loses": ["logdet-test"],
    },
    "fixed_point_sign_error": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y + g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((factor * step <= tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_stops_when_step_small": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((step <= tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "banach_floor_off_by_one": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, math.floor(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    "banach_forgets_one_minus_L": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, math.ceil(math.log(tol / first_step) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    "banach_negative_when_already_converged": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return math.ceil(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz))\n"},
        "loses": ["banach-test"],
    },
}
