"""Plausible wrong answers to ex01_functions; each must lose points where stated."""

WRONG = {
    "affine_forgot_bias": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W, y.T).T\n"},
        "loses": ["affine-test"],
    },
    "affine_transposed_weight": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W.T, (y - b).T).T\n"},
        "loses": ["affine-test"],
    },
    "affine_float32": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W.float(), (y - b).float().T).T\n"},
        "loses": ["affine-test"],
    },
    "leaky_multiplies_by_slope": {
        "replace": {"leaky-solution": "def leaky_relu_inverse(y, slope):\n    return torch.where(y >= 0, y, y * slope)\n"},
        "loses": ["leaky-test"],
    },
    "leaky_accepts_zero_slope": {
        "replace": {"leaky-solution": "def leaky_relu_inverse(y, slope):\n    return torch.where(y >= 0, y, y / slope)\n"},
        "loses": ["leaky-test"],
    },
    "preimage_positive_root_only": {
        "replace": {"preimage-solution": "def preimage_of_square(y):\n    return [math.sqrt(y)] if y >= 0 else []\n"},
        "loses": ["preimage-test"],
    },
    "preimage_repeats_zero": {
        "replace": {"preimage-solution": "def preimage_of_square(y):\n    if y < 0:\n        return []\n    r = math.sqrt(y)\n    return [-r, r]\n"},
        "loses": ["preimage-test"],
    },
}

WRONG.update({
    "left_inverse_transpose": {
        "replace": {"left-solution": "def left_inverse(A):\n    if A.ndim != 2 or A.shape[0] < A.shape[1] or torch.linalg.matrix_rank(A) < A.shape[1]:\n        raise ValueError('no left inverse')\n    return A.T\n"},
        "loses": ["left-test-basic"],
    },
    "left_inverse_no_rank_check": {
        "replace": {"left-solution": "def left_inverse(A):\n    if A.ndim != 2 or A.shape[0] < A.shape[1]:\n        raise ValueError('no left inverse')\n    return torch.linalg.pinv(A)\n"},
        "loses": ["left-test-errors"],
    },
    "left_inverse_float32": {
        "replace": {"left-solution": "def left_inverse(A):\n    if A.ndim != 2 or A.shape[0] < A.shape[1] or torch.linalg.matrix_rank(A) < A.shape[1]:\n        raise ValueError('no left inverse')\n    return torch.linalg.pinv(A.float())\n"},
        "loses": ["left-test-basic"],
    },
    "worst_right_singular_vector": {
        "replace": {"worst-solution": "def worst_perturbation(A):\n    U, S, Vh = torch.linalg.svd(A)\n    return Vh[-1]\n"},
        "loses": ["worst-test"],
    },
    "worst_largest_singular_vector": {
        "replace": {"worst-solution": "def worst_perturbation(A):\n    U, S, Vh = torch.linalg.svd(A)\n    return U[:, 0]\n"},
        "loses": ["worst-test"],
    },
})

# Issue 15: mistakes that pass the visible tests of each cell (and a few that do not); the hidden tests catch each.
_LEFT_CHECKS = (
    "    if A.ndim != 2:\n        raise ValueError('not a matrix')\n"
    "    if A.shape[0] < A.shape[1]:\n        raise ValueError('wide')\n")


def _amplify(body: str, trend: str = '"1/sqrt(d)"', digits: str = "-math.log10(_r400)") -> str:
    """The Part F answer cell with the function body ``body`` and the interpretation set from it."""
    return (
        "def median_amplification_ratio(A, n, seed):\n" + body
        + "\n\n_r400 = median_amplification_ratio(torch.diag(torch.tensor([1.0] * 399 + [1e-6], dtype=torch.float64)), 1001, 0)\n"
        + f"TREND = {trend}\nDIGITS_SAVED_400 = {digits}\n")


_AMPLIFY_RIGHT = (
    "    torch.manual_seed(seed)\n"
    "    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n"
    "    r = torch.linalg.solve(A, D.T).T.norm(dim=1) / D.norm(dim=1) * torch.linalg.svdvals(A)[-1]\n"
    "    return float(r.median())\n")

WRONG.update({
    # affine-test: visible 3 cases pass
    "affine_float32_cast_back": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W.float(), (y - b).float().T).T.to(y.dtype)\n"},
        "loses": ["affine-test"],
    },
    "affine_first_row_only": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W, y[0] - b).unsqueeze(0)\n"},
        "loses": ["affine-test"],
    },
    "affine_jitter_for_safety": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    W = W + 1e-8 * torch.eye(W.shape[0], dtype=W.dtype)\n    return torch.linalg.solve(W, (y - b).T).T\n"},
        "loses": ["affine-test"],
    },
    "affine_subtracts_bias_in_place": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    y -= b\n    return torch.linalg.solve(W, y.T).T\n"},
        "loses": ["affine-test"],
    },
    "affine_solve_from_the_right": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W, y - b, left=False)\n"},
        "loses": ["affine-test"],
    },
    "affine_always_float64": {
        "replace": {"affine-solution": "def invert_affine(W, b, y):\n    return torch.linalg.solve(W.double(), (y - b).double().T).T\n"},
        "loses": ["affine-test"],
    },
    # leaky-test
    "leaky_zero_slope_accepted": {
        "replace": {"leaky-solution": "def leaky_relu_inverse(y, slope):\n    if slope < 0:\n        raise ValueError('negative slope')\n    return torch.where(y >= 0, y, y / slope)\n"},
        "loses": ["leaky-test"],
    },
    "leaky_min_formula": {
        "replace": {"leaky-solution": "def leaky_relu_inverse(y, slope):\n    if slope <= 0:\n        raise ValueError('slope must be > 0')\n    return torch.minimum(y, y / slope)\n"},
        "loses": ["leaky-test"],
    },
    "leaky_loop_over_entries": {
        "replace": {"leaky-solution": "def leaky_relu_inverse(y, slope):\n    if slope <= 0:\n        raise ValueError('slope must be > 0')\n    return torch.stack([v if v >= 0 else v / slope for v in y])\n"},
        "loses": ["leaky-test"],
    },
    "leaky_in_place": {
        "replace": {"leaky-solution": "def leaky_relu_inverse(y, slope):\n    if slope <= 0:\n        raise ValueError('slope must be > 0')\n    y[y < 0] /= slope\n    return y\n"},
        "loses": ["leaky-test"],
    },
    # preimage-test
    "preimage_tiny_is_zero": {
        "replace": {"preimage-solution": "def preimage_of_square(y):\n    if abs(y) < 1e-9:\n        return [0.0]\n    if y < 0:\n        return []\n    r = math.sqrt(y)\n    return [-r, r]\n"},
        "loses": ["preimage-test"],
    },
    "preimage_float32_sqrt": {
        "replace": {"preimage-solution": "def preimage_of_square(y):\n    if y < 0:\n        return []\n    if y == 0:\n        return [0.0]\n    r = float(torch.sqrt(torch.tensor(y)))\n    return [-r, r]\n"},
        "loses": ["preimage-test"],
    },
    "preimage_rounds_noise": {
        "replace": {"preimage-solution": "def preimage_of_square(y):\n    if y < 0:\n        return []\n    if y == 0:\n        return [0.0]\n    r = round(math.sqrt(y), 12)\n    return [-r, r]\n"},
        "loses": ["preimage-test"],
    },
    # left-test-basic / left-test-errors
    "left_float32_cast_back": {
        "replace": {"left-solution": "def left_inverse(A):\n" + _LEFT_CHECKS + "    if torch.linalg.matrix_rank(A) < A.shape[1]:\n        raise ValueError('rank deficient')\n    return torch.linalg.pinv(A.float()).to(A.dtype)\n"},
        "loses": ["left-test-basic"],
    },
    "left_absolute_rank_cutoff": {
        "replace": {"left-solution": "def left_inverse(A):\n" + _LEFT_CHECKS + "    if int((torch.linalg.svdvals(A) > 1e-10).sum()) < A.shape[1]:\n        raise ValueError('rank deficient')\n    return torch.linalg.pinv(A)\n"},
        "loses": ["left-test-basic", "left-test-errors"],
    },
    "left_determinant_cutoff": {
        "replace": {"left-solution": "def left_inverse(A):\n" + _LEFT_CHECKS + "    if abs(float(torch.linalg.det(A.T @ A))) < 1e-10:\n        raise ValueError('singular')\n    return torch.linalg.inv(A.T @ A) @ A.T\n"},
        "loses": ["left-test-basic", "left-test-errors"],
    },
    "left_always_float64": {
        "replace": {"left-solution": "def left_inverse(A):\n" + _LEFT_CHECKS + "    A = A.double()\n    if torch.linalg.matrix_rank(A) < A.shape[1]:\n        raise ValueError('rank deficient')\n    return torch.linalg.pinv(A)\n"},
        "loses": ["left-test-basic", "left-test-errors"],
    },
    "left_float64_eps_for_every_dtype": {
        "replace": {"left-solution": "def left_inverse(A):\n" + _LEFT_CHECKS + "    s = torch.linalg.svdvals(A)\n    if int((s > max(A.shape) * 2.2e-16 * s[0]).sum()) < A.shape[1]:\n        raise ValueError('rank deficient')\n    return torch.linalg.pinv(A)\n"},
        "loses": ["left-test-errors"],
    },
    "left_no_ndim_check": {
        "replace": {"left-solution": "def left_inverse(A):\n    if A.dim() < 2 or A.shape[-2] < A.shape[-1]:\n        raise ValueError('no left inverse')\n    if torch.linalg.matrix_rank(A).min() < A.shape[-1]:\n        raise ValueError('rank deficient')\n    return torch.linalg.pinv(A)\n"},
        "loses": ["left-test-errors"],
    },
    # worst-test
    "worst_row_of_u": {
        "replace": {"worst-solution": "def worst_perturbation(A):\n    U, S, Vh = torch.linalg.svd(A)\n    return U[-1]\n"},
        "loses": ["worst-test"],
    },
    "worst_eigh_of_a": {
        "replace": {"worst-solution": "def worst_perturbation(A):\n    vals, vecs = torch.linalg.eigh(A)\n    return vecs[:, vals.abs().argmin()]\n"},
        "loses": ["worst-test"],
    },
    "worst_largest_column_of_inverse": {
        "replace": {"worst-solution": "def worst_perturbation(A):\n    j = int(torch.linalg.inv(A).norm(dim=0).argmax())\n    e = torch.zeros(A.shape[0], dtype=A.dtype)\n    e[j] = 1\n    return e\n"},
        "loses": ["worst-test"],
    },
    "worst_float32_svd": {
        "replace": {"worst-solution": "def worst_perturbation(A):\n    U, S, Vh = torch.linalg.svd(A.float())\n    return U[:, -1].to(A.dtype)\n"},
        "loses": ["worst-test"],
    },
    # amplify-test (Part F, the experiment)
    "amplify_mean_not_median": {
        "replace": {"amplify-solution": _amplify(_AMPLIFY_RIGHT.replace("r.median()", "r.mean()"))},
        "loses": ["amplify-test"],
    },
    "amplify_seed_ignored": {
        "replace": {"amplify-solution": _amplify(_AMPLIFY_RIGHT.replace("manual_seed(seed)", "manual_seed(0)"))},
        "loses": ["amplify-test"],
    },
    "amplify_columns_not_rows": {
        "replace": {"amplify-solution": _amplify(_AMPLIFY_RIGHT.replace(
            "torch.randn(n, A.shape[0], dtype=torch.float64)", "torch.randn(A.shape[0], n, dtype=torch.float64).T"))},
        "loses": ["amplify-test"],
    },
    "amplify_one_norm_for_the_batch": {
        "replace": {"amplify-solution": _amplify(
            "    torch.manual_seed(seed)\n"
            "    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n"
            "    return float(torch.linalg.solve(A, D.T).norm() / D.norm() * torch.linalg.svdvals(A)[-1])\n")},
        "loses": ["amplify-test"],
    },
    "amplify_transposed_inverse": {
        "replace": {"amplify-solution": _amplify(_AMPLIFY_RIGHT.replace(
            "torch.linalg.solve(A, D.T).T", "(D @ torch.linalg.inv(A))"))},
        "loses": ["amplify-test"],
    },
    "amplify_forward_not_inverse": {
        "replace": {"amplify-solution": _amplify(
            "    torch.manual_seed(seed)\n"
            "    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n"
            "    r = (D @ A.T).norm(dim=1) / D.norm(dim=1) / torch.linalg.svdvals(A)[0]\n"
            "    return float(r.median())\n")},
        "loses": ["amplify-test"],
    },
    "amplify_trend_one_over_d": {
        "replace": {"amplify-solution": _amplify(_AMPLIFY_RIGHT, trend='"1/d"')},
        "loses": ["amplify-test"],
    },
    "amplify_digits_natural_log": {
        "replace": {"amplify-solution": _amplify(_AMPLIFY_RIGHT, digits="-math.log(_r400)")},
        "loses": ["amplify-test"],
    },
})

# Issue 15, outside attack (phase 1 blind, /tmp/attack/ex01_functions_findings.md): the first 11 kept points before.
WRONG.update({
    'affine_elimination_without_pivoting': {  # nan for W[0, 0] = 0
        "replace": {
            'affine-solution': (
                'def invert_affine(W, b, y):\n'
                '    # Gaussian elimination without pivoting on W x_i = y_i - b, all rows at once\n'
                '    M = W.clone()\n'
                '    R = (y - b).T.clone()\n'
                '    d = M.shape[0]\n'
                '    for k in range(d):\n'
                '        for i in range(k + 1, d):\n'
                '            f = M[i, k] / M[k, k]\n'
                '            M[i] = M[i] - f * M[k]\n'
                '            R[i] = R[i] - f * R[k]\n'
                '    X = torch.zeros_like(R)\n'
                '    for k in range(d - 1, -1, -1):\n'
                '        X[k] = (R[k] - M[k, k + 1:] @ X[k + 1:]) / M[k, k]\n'
                '    return X.T\n'
            ),
        },
        "loses": ['affine-test'],
    },
    'affine_triangular_solve': {  # right only for the triangular examples
        "replace": {
            'affine-solution': (
                'def invert_affine(W, b, y):\n'
                '    return torch.linalg.solve_triangular(W, (y - b).T, upper=True).T\n'
            ),
        },
        "loses": ['affine-test'],
    },
    'leaky_rejects_slopes_above_one': {  # slope 2.5 is invertible too
        "replace": {
            'leaky-solution': (
                'def leaky_relu_inverse(y, slope):\n'
                '    if not 0 < slope < 1:\n'
                '        raise ValueError("a leaky ReLU needs 0 < slope < 1")\n'
                '    return torch.where(y >= 0, y, y / slope)\n'
            ),
        },
        "loses": ['leaky-test'],
    },
    'preimage_newton_fixed_steps': {  # not converged for tiny or huge y
        "replace": {
            'preimage-solution': (
                'def preimage_of_square(y):\n'
                '    if y < 0:\n'
                '        return []\n'
                '    if y == 0:\n'
                '        return [0.0]\n'
                '    r = 1.0\n'
                '    for _ in range(20):\n'
                '        r = 0.5 * (r + y / r)\n'
                '    return [-r, r]\n'
            ),
        },
        "loses": ['preimage-test'],
    },
    'left_normal_equations': {  # squares kappa: ||LA - I|| = 2e-3 at kappa 1e7
        "replace": {
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.dim() != 2:\n'
                '        raise ValueError("A must be 2-D")\n'
                '    m, n = A.shape\n'
                '    if m < n:\n'
                '        raise ValueError("A is wider than tall")\n'
                '    if torch.linalg.matrix_rank(A) < n:\n'
                '        raise ValueError("A does not have full column rank")\n'
                '    return torch.linalg.solve(A.T @ A, A.T)\n'
            ),
        },
        "loses": ['left-test-basic'],
    },
    'left_default_dtype_eps': {  # float32's eps refuses a float64 A of kappa 1e7
        "replace": {
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.dim() != 2:\n'
                '        raise ValueError("A must be 2-D")\n'
                '    m, n = A.shape\n'
                '    if m < n:\n'
                '        raise ValueError("A is wider than tall")\n'
                '    S = torch.linalg.svdvals(A)\n'
                '    tol = max(m, n) * torch.finfo().eps * S[0]\n'
                '    if int((S > tol).sum()) < n:\n'
                '        raise ValueError("A does not have full column rank")\n'
                '    return torch.linalg.pinv(A)\n'
            ),
        },
        "loses": ['left-test-basic'],
    },
    'left_rank_from_residual_of_pinv': {  # refuses kappa 1e12 (full rank)
        "replace": {
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.dim() != 2:\n'
                '        raise ValueError("A must be 2-D")\n'
                '    m, n = A.shape\n'
                '    if m < n:\n'
                '        raise ValueError("A is wider than tall")\n'
                '    L = torch.linalg.pinv(A)\n'
                '    if not torch.allclose(L @ A, torch.eye(n, dtype=A.dtype), atol=1e-6):\n'
                '        raise ValueError("A does not have full column rank")\n'
                '    return L\n'
            ),
        },
        "loses": ['left-test-basic'],
    },
    'left_cutoff_without_max_m_n': {  # accepts s = [1, 1e-15] in a (10, 2)
        "replace": {
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.dim() != 2:\n'
                '        raise ValueError("A must be 2-D")\n'
                '    m, n = A.shape\n'
                '    if m < n:\n'
                '        raise ValueError("A is wider than tall")\n'
                '    S = torch.linalg.svdvals(A)\n'
                '    if int((S > torch.finfo(A.dtype).eps * S[0]).sum()) < n:\n'
                '        raise ValueError("A does not have full column rank")\n'
                '    return torch.linalg.pinv(A)\n'
            ),
        },
        "loses": ['left-test-errors'],
    },
    'left_batched_3d_accepted': {
        "replace": {
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.dim() < 2:\n'
                '        raise ValueError("A must be a matrix")\n'
                '    m, n = A.shape[-2:]\n'
                '    if m < n:\n'
                '        raise ValueError("A is wider than tall")\n'
                '    if bool((torch.linalg.matrix_rank(A) < n).any()):\n'
                '        raise ValueError("A does not have full column rank")\n'
                '    return torch.linalg.pinv(A)\n'
            ),
        },
        "loses": ['left-test-errors'],
    },
    'worst_float32_svd_renormalized': {  # direction 8e-7 off
        "replace": {
            'worst-solution': (
                'def worst_perturbation(A):\n'
                '    U, S, Vh = torch.linalg.svd(A.float())\n'
                '    u = U[:, -1].to(A.dtype)\n'
                '    return u / u.norm()\n'
            ),
        },
        "loses": ['worst-test'],
    },
    'worst_power_iteration_30_steps': {  # not converged when s_(d-1) ~ s_d
        "replace": {
            'worst-solution': (
                'def worst_perturbation(A):\n'
                '    # inverse power iteration on A A^T converges to the left singular vector of sigma_min\n'
                '    g = torch.Generator().manual_seed(0)\n'
                '    v = torch.randn(A.shape[0], dtype=A.dtype, generator=g)\n'
                '    M = A @ A.T\n'
                '    for _ in range(30):\n'
                '        v = torch.linalg.solve(M, v)\n'
                '        v = v / v.norm()\n'
                '    return v\n'
            ),
        },
        "loses": ['worst-test'],
    },
    'worst_smallest_eigenvector_of_a': {
        "replace": {
            'worst-solution': (
                'def worst_perturbation(A):\n'
                '    vals, vecs = torch.linalg.eig(A)\n'
                '    v = vecs[:, vals.abs().argmin()].real.to(A.dtype)\n'
                '    return v / v.norm()\n'
            ),
        },
        "loses": ['worst-test'],
    },
    'amplify_eigenvalue_not_singular_value': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.eigvals(A).abs().min()\n'
                '    return float((smin * X.norm(dim=1) / D.norm(dim=1)).median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_ignores_n': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(1001, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    return float((smin * X.norm(dim=1) / D.norm(dim=1)).median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_squared_ratio': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    return float((smin**2 * (X**2).sum(dim=1) / (D**2).sum(dim=1)).median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_ratio_of_medians': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    return float(smin * X.norm(dim=1).median() / D.norm(dim=1).median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_median_index_off_by_one': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    r = (smin * X.norm(dim=1) / D.norm(dim=1)).sort().values\n'
                '    return float(r[n // 2 + 1])\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_float32_draw': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0]).double()\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    return float((smin * X.norm(dim=1) / D.norm(dim=1)).median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_worst_not_median': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    return float((smin * X.norm(dim=1) / D.norm(dim=1)).max())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_digits_from_the_prediction': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    r = smin * X.norm(dim=1) / D.norm(dim=1)\n'
                '    return float(r.median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = 0.5 * math.log10(400)\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_digits_other_seed': {  # seed 1 gives 1.481, seed 0 1.444
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    r = smin * X.norm(dim=1) / D.norm(dim=1)\n'
                '    return float(r.median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(median_amplification_ratio(torch.diag(torch.tensor([1.0] * 399 + [1e-6], dtype=torch.float64)), 1001, 1))\n'
            ),
        },
        "loses": ['amplify-test'],
    },
    'amplify_digits_smaller_sample': {
        "replace": {
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    X = torch.linalg.solve(A, D.T).T\n'
                '    smin = torch.linalg.svdvals(A)[-1]\n'
                '    r = smin * X.norm(dim=1) / D.norm(dim=1)\n'
                '    return float(r.median())\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(median_amplification_ratio(torch.diag(torch.tensor([1.0] * 399 + [1e-6], dtype=torch.float64)), 101, 0))\n'
            ),
        },
        "loses": ['amplify-test'],
    },
})

WRONG.update({
    # was a right submission before the release said "the value this protocol gives, not a prediction": the
    # 1/sqrt(d) prediction 1.472 is 0.028 from the measured 1.444 (seeds 1-7 give 1.457-1.493)
    "amplify_digits_predicted_not_measured": {
        "replace": {"amplify-solution": _amplify(
            _AMPLIFY_RIGHT, digits="math.log10(math.sqrt(400) / 0.6745)  # median |N(0,1)| / sqrt(d)")},
        "loses": ["amplify-test"],
    },
})
