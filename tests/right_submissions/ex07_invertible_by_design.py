"""Correct answers to ex07_invertible_by_design written another way than the solution; each must earn full marks."""

RIGHT = {
    "split_divide_while_loop_power_loop": {
        "replace": {
            "inverse-solution": (
                "def affine_coupling_inverse(y, scale_shift):\n"
                "    k = y.shape[-1] // 2\n"
                "    yp, ya = torch.split(y, [k, y.shape[-1] - k], dim=-1)\n"
                "    s, t = scale_shift(yp)\n"
                "    return torch.cat([yp, (ya - t) / torch.exp(s)], dim=-1)\n"),
            "logdet-solution": (
                "def affine_coupling_logdet(x, scale_shift):\n"
                "    s, _ = scale_shift(x[:, : x.shape[1] // 2])\n"
                "    return torch.einsum('nd->n', s)\n"),
            "fixed-point-solution": (
                "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
                "    c = lipschitz / (1 - lipschitz)\n"
                "    x, k = y.clone(), 0\n"
                "    while k < max_iter:\n"
                "        nxt = y - g(x)\n"
                "        k += 1\n"
                "        done = c * torch.sqrt(((nxt - x) ** 2).sum(dim=-1)) <= tol\n"
                "        x = nxt\n"
                "        if done.all():\n"
                "            return x, k\n"
                "    raise RuntimeError('fixed-point iteration did not reach the tolerance in max_iter steps')\n"),
            "experiment-solution": (
                "def steps_to_tolerance(g, x_true, tol, max_iter=100_000):\n"
                "    y = x_true + g(x_true)\n"
                "    x, k = y.clone(), 0\n"
                "    while torch.sqrt(((x - x_true) ** 2).sum(dim=1)).max() > tol:\n"
                "        if k == max_iter:\n"
                "            raise RuntimeError('max_iter reached')\n"
                "        x = y - g(x)\n"
                "        k += 1\n"
                "    return k\n"
                "\n"
                "STEPS_WORST = steps_to_tolerance(g_worst, x_exp, 1e-8)\n"
                "STEPS_TANH = steps_to_tolerance(g_tanh, x_exp, 1e-8)\n"
                "TIGHT_FOR = 'worst' if STEPS_WORST > 1.5 * STEPS_TANH else 'tanh'\n"),
            "banach-solution": (
                "def banach_iterations(lipschitz, first_step, tol):\n"
                "    if lipschitz <= 0 or lipschitz >= 1:\n"
                "        raise ValueError('need 0 < lipschitz < 1')\n"
                "    k = 0\n"
                "    while lipschitz ** k / (1 - lipschitz) * first_step > tol:\n"
                "        k += 1\n"
                "    return k\n"),
        },
    },
    "fill_in_place_loop_rows_max_step_log_base": {
        "replace": {
            "inverse-solution": (
                "def affine_coupling_inverse(y, scale_shift):\n"
                "    k = y.shape[-1] // 2\n"
                "    s, t = scale_shift(y[..., :k])\n"
                "    x = y.clone()\n"
                "    x[..., k:] = (y[..., k:] - t) * torch.exp(-s)\n"
                "    return x\n"),
            "logdet-solution": (
                "def affine_coupling_logdet(x, scale_shift):\n"
                "    k = x.shape[-1] // 2\n"
                "    s, t = scale_shift(x[..., :k])\n"
                "    return torch.stack([row.sum() for row in s])\n"),
            "fixed-point-solution": (
                "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
                "    x = y\n"
                "    for k in range(max_iter):\n"
                "        x_next = y - g(x)\n"
                "        worst = torch.linalg.norm(x_next - x, dim=-1).max()\n"
                "        x = x_next\n"
                "        if lipschitz * worst <= tol * (1 - lipschitz):\n"
                "            return x, k + 1\n"
                "    raise RuntimeError(f'not converged after {max_iter} steps')\n"),
            "experiment-solution": (
                "def steps_to_tolerance(g, x_true, tol, max_iter=100_000):\n"
                "    y = x_true + g(x_true)\n"
                "    x = y\n"
                "    for k in range(max_iter + 1):\n"
                "        if all(float(torch.linalg.norm(x[i] - x_true[i])) <= tol for i in range(x.shape[0])):\n"
                "            return k\n"
                "        x = y - g(x)\n"
                "    raise RuntimeError(f'{max_iter} steps were not enough')\n"
                "\n"
                "STEPS_WORST, STEPS_TANH = (steps_to_tolerance(g, x_exp, 1e-8) for g in (g_worst, g_tanh))\n"
                "y_exp = x_exp + g_tanh(x_exp)\n"
                "promise = banach_iterations(0.9, float(g_tanh(y_exp).norm(dim=1).max()), 1e-8)\n"
                "TIGHT_FOR = 'tanh' if promise <= 1.5 * STEPS_TANH else 'worst'\n"),
            "banach-solution": (
                "def banach_iterations(lipschitz, first_step, tol):\n"
                "    if not (0 < lipschitz < 1):\n"
                "        raise ValueError('not a contraction')\n"
                "    if first_step == 0:\n"
                "        return 0\n"
                "    k = max(0, math.ceil(math.log(tol * (1 - lipschitz) / first_step, lipschitz)))\n"
                "    while k > 0 and lipschitz ** (k - 1) / (1 - lipschitz) * first_step <= tol:\n"
                "        k -= 1\n"
                "    while lipschitz ** k / (1 - lipschitz) * first_step > tol:\n"
                "        k += 1\n"
                "    return k\n"),
        },
    },
    "reciprocal_slogdet_vector_norm_bisection": {
        "replace": {
            "inverse-solution": (
                "def affine_coupling_inverse(y, scale_shift):\n"
                "    half = y.shape[1] // 2\n"
                "    passive = y[:, :half]\n"
                "    s, t = scale_shift(passive)\n"
                "    active = (y[:, half:] - t) * torch.exp(s).reciprocal()\n"
                "    return torch.hstack([passive, active])\n"),
            "logdet-solution": (
                "def affine_coupling_logdet(x, scale_shift):\n"
                "    s, _ = scale_shift(x[..., : x.shape[-1] // 2])\n"
                "    return torch.linalg.slogdet(torch.diag_embed(torch.exp(s))).logabsdet\n"),
            "fixed-point-solution": (
                "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
                "    prev = y\n"
                "    for k in range(1, max_iter + 1):\n"
                "        cur = y - g(prev)\n"
                "        bound = lipschitz / (1 - lipschitz) * torch.linalg.vector_norm(cur - prev, ord=2, dim=-1)\n"
                "        if not (bound > tol).any():\n"
                "            return cur, k\n"
                "        prev = cur\n"
                "    raise RuntimeError('max_iter reached before the tolerance')\n"),
            "experiment-solution": (
                "def steps_to_tolerance(g, x_true, tol, max_iter=100_000):\n"
                "    y = x_true + g(x_true)\n"
                "    x = y\n"
                "    k = 0\n"
                "    errors = torch.linalg.vector_norm(x - x_true, ord=2, dim=-1)\n"
                "    while (errors > tol).any():\n"
                "        k += 1\n"
                "        if k > max_iter:\n"
                "            raise RuntimeError('did not reach tol within max_iter steps')\n"
                "        x = y - g(x)\n"
                "        errors = torch.linalg.vector_norm(x - x_true, ord=2, dim=-1)\n"
                "    return k\n"
                "\n"
                "STEPS_WORST = int(steps_to_tolerance(g_worst, x_exp, tol=1e-8))\n"
                "STEPS_TANH = int(steps_to_tolerance(g_tanh, x_exp, tol=1e-8))\n"
                "TIGHT_FOR = \"worst\"\n"),
            "banach-solution": (
                "def banach_iterations(lipschitz, first_step, tol):\n"
                "    if not 0.0 < lipschitz < 1.0:\n"
                "        raise ValueError(f'lipschitz={lipschitz} is not in (0, 1)')\n"
                "    ok = lambda k: lipschitz ** k / (1 - lipschitz) * first_step <= tol\n"
                "    hi = 1\n"
                "    while not ok(hi):\n"
                "        hi *= 2\n"
                "    lo = -1\n"
                "    while hi - lo > 1:\n"
                "        mid = (lo + hi) // 2\n"
                "        if ok(mid):\n"
                "            hi = mid\n"
                "        else:\n"
                "            lo = mid\n"
                "    return hi\n"),
        },
    },
    "autograd_jacobian_logdet_recursive_steps": {
        "replace": {
            "logdet-solution": (
                "def affine_coupling_logdet(x, scale_shift):\n"
                "    out = []\n"
                "    for row in x:\n"
                "        J = torch.autograd.functional.jacobian(\n"
                "            lambda v: affine_coupling_forward(v[None], scale_shift)[0], row)\n"
                "        out.append(torch.linalg.slogdet(J).logabsdet)\n"
                "    return torch.stack(out)\n"),
            "experiment-solution": (
                "def steps_to_tolerance(g, x_true, tol, max_iter=100_000):\n"
                "    y = x_true + g(x_true)\n"
                "    def within(v):\n"
                "        return bool((torch.linalg.vector_norm(v - x_true, dim=-1) <= tol).all())\n"
                "    x, k = y, 0\n"
                "    while not within(x):\n"
                "        if k >= max_iter:\n"
                "            raise RuntimeError(f'{max_iter} steps are not enough to reach {tol}')\n"
                "        x, k = y - g(x), k + 1\n"
                "    return k\n"
                "\n"
                "STEPS_WORST = steps_to_tolerance(g_worst, x_exp, 1e-8)\n"
                "STEPS_TANH = steps_to_tolerance(g_tanh, x_exp, 1e-8)\n"
                "y_t = x_exp + g_tanh(x_exp)\n"
                "promise = banach_iterations(0.9, float(torch.linalg.vector_norm(g_tanh(y_t), dim=-1).max()), 1e-8)\n"
                "TIGHT_FOR = 'worst' if promise <= 1.5 * STEPS_WORST else 'tanh'\n"),
        },
    },
    # ---- issue 15, outsider attack (atk5, written blind from the release) ----
    "atk5_clone_inplace_slogdet_rearranged_rule_power_loop": {
        "replace": {
            "inverse-solution": (
                'def affine_coupling_inverse(y: torch.Tensor, scale_shift) -> torch.Tensor:\n'
                '    """Return x with affine_coupling_forward(x, scale_shift) == y."""\n'
                '    d = y.shape[1]\n'
                '    k = d // 2\n'
                '    x = y.clone()\n'
                '    s, t = scale_shift(y[:, :k])\n'
                '    x[:, k:] -= t\n'
                '    x[:, k:] /= torch.exp(s)\n'
                '    return x\n'
            ),
            "logdet-solution": (
                'def affine_coupling_logdet(x: torch.Tensor, scale_shift) -> torch.Tensor:\n'
                '    """Return log|det J_f(x)| per row, shape (n,)."""\n'
                '    k = x.shape[-1] // 2\n'
                '    s, _ = scale_shift(x[:, :k])\n'
                '    return torch.linalg.slogdet(torch.diag_embed(torch.exp(s))).logabsdet\n'
            ),
            "fixed-point-solution": (
                'def fixed_point_inverse(g, y: torch.Tensor, lipschitz: float, tol: float = 1e-10,\n'
                '                        max_iter: int = 1000) -> tuple[torch.Tensor, int]:\n'
                '    """Solve x + g(x) = y by x_{k+1} = y - g(x_k), x_0 = y; return (x, number of steps)."""\n'
                '    x_prev = y\n'
                '    k = 0\n'
                '    while k < max_iter:\n'
                '        x = y - g(x_prev)\n'
                '        k += 1\n'
                '        worst = torch.sqrt(((x - x_prev) ** 2).sum(dim=1)).max()\n'
                '        if float(worst) <= tol * (1 - lipschitz) / lipschitz:\n'
                '            return x, k\n'
                '        x_prev = x\n'
                '    raise RuntimeError("fixed_point_inverse: max_iter steps did not reach the tolerance")\n'
            ),
            "banach-solution": (
                'def banach_iterations(lipschitz: float, first_step: float, tol: float) -> int:\n'
                '    """Smallest k >= 0 with lipschitz**k / (1 - lipschitz) * first_step <= tol."""\n'
                '    if lipschitz <= 0 or lipschitz >= 1:\n'
                '        raise ValueError("lipschitz must lie strictly between 0 and 1")\n'
                '    bound = first_step / (1 - lipschitz)\n'
                '    k = 0\n'
                '    while bound > tol:\n'
                '        bound *= lipschitz\n'
                '        k += 1\n'
                '    return k\n'
            ),
            "experiment-solution": (
                'def steps_to_tolerance(g, x_true: torch.Tensor, tol: float, max_iter: int = 100_000) -> int:\n'
                '    """Smallest k >= 0 with ||x_k - x_true|| <= tol in every row, for x_0 = y, x_(k+1) = y - g(x_k)."""\n'
                '    y = x_true + g(x_true)\n'
                '    x = y\n'
                '    k = 0\n'
                '    while float(torch.linalg.norm(x - x_true, dim=1).max()) > tol:\n'
                '        if k == max_iter:\n'
                '            raise RuntimeError("steps_to_tolerance: max_iter steps are not enough")\n'
                '        x = y - g(x)\n'
                '        k += 1\n'
                '    return k\n'
                '\n'
                '\n'
                'STEPS_WORST = steps_to_tolerance(g_worst, x_exp, 1e-8)\n'
                'STEPS_TANH = steps_to_tolerance(g_tanh, x_exp, 1e-8)\n'
                'fs_w = torch.linalg.norm(g_worst(x_exp + g_worst(x_exp)), dim=1).max().item()\n'
                'fs_t = torch.linalg.norm(g_tanh(x_exp + g_tanh(x_exp)), dim=1).max().item()\n'
                'print(STEPS_WORST, banach_iterations(0.9, fs_w, 1e-8), STEPS_TANH, banach_iterations(0.9, fs_t, 1e-8))\n'
                'TIGHT_FOR = "worst" if banach_iterations(0.9, fs_w, 1e-8) <= 1.5 * STEPS_WORST else "tanh"\n'
            ),
        },
    },
    "atk5_row_loops_per_row_rule_checked_closed_form": {
        "replace": {
            "inverse-solution": (
                'def affine_coupling_inverse(y: torch.Tensor, scale_shift) -> torch.Tensor:\n'
                '    """Return x with affine_coupling_forward(x, scale_shift) == y."""\n'
                '    rows = []\n'
                '    k = y.size(-1) // 2\n'
                '    for row in y:\n'
                '        yp, ya = torch.split(row[None], [k, y.size(-1) - k], dim=-1)\n'
                '        s, t = scale_shift(yp)\n'
                '        rows.append(torch.cat((yp, torch.exp(-s) * (ya - t)), dim=-1))\n'
                '    return torch.cat(rows, dim=0)\n'
            ),
            "logdet-solution": (
                'def affine_coupling_logdet(x: torch.Tensor, scale_shift) -> torch.Tensor:\n'
                '    """Return log|det J_f(x)| per row, shape (n,)."""\n'
                '    s, _ = scale_shift(x[:, : x.shape[1] // 2])\n'
                '    out = torch.zeros(x.shape[0], dtype=x.dtype)\n'
                '    for j in range(s.shape[1]):\n'
                '        out = out + s[:, j]\n'
                '    return out\n'
            ),
            "fixed-point-solution": (
                'def fixed_point_inverse(g, y: torch.Tensor, lipschitz: float, tol: float = 1e-10,\n'
                '                        max_iter: int = 1000) -> tuple[torch.Tensor, int]:\n'
                '    """Solve x + g(x) = y by x_{k+1} = y - g(x_k), x_0 = y; return (x, number of steps)."""\n'
                '    c = lipschitz / (1.0 - lipschitz)\n'
                '    x = y.clone()\n'
                '    for k in range(max_iter):\n'
                '        x_next = y - g(x)\n'
                '        done = all(c * float(torch.linalg.norm(x_next[i] - x[i])) <= tol for i in range(x.shape[0]))\n'
                '        x = x_next\n'
                '        if done:\n'
                '            return x, k + 1\n'
                '    raise RuntimeError(f"did not converge in {max_iter} iterations")\n'
            ),
            "banach-solution": (
                'def banach_iterations(lipschitz: float, first_step: float, tol: float) -> int:\n'
                '    """Smallest k >= 0 with lipschitz**k / (1 - lipschitz) * first_step <= tol."""\n'
                '    if not (0.0 < lipschitz < 1.0):\n'
                '        raise ValueError(f"no contraction for lipschitz={lipschitz}")\n'
                '    ok = lambda k: lipschitz**k / (1 - lipschitz) * first_step <= tol\n'
                '    if ok(0):\n'
                '        return 0\n'
                '    k = max(0, math.ceil(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz)))\n'
                '    while k > 0 and ok(k - 1):\n'
                '        k -= 1\n'
                '    while not ok(k):\n'
                '        k += 1\n'
                '    return int(k)\n'
            ),
        },
    },
}
