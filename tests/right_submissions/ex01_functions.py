"""Correct answers to ex01_functions written another way than the solution; each must earn full marks."""

RIGHT = {
    "lu_masks_sets_qr_eigh": {
        "replace": {
            "affine-solution": (
                "def invert_affine(W, b, y):\n"
                "    LU, piv = torch.linalg.lu_factor(W)\n"
                "    return torch.linalg.lu_solve(LU, piv, (y - b).T).T\n"),
            "leaky-solution": (
                "def leaky_relu_inverse(y, slope):\n"
                "    if not slope > 0:\n"
                "        raise ValueError('the slope must be positive for the leaky ReLU to be invertible')\n"
                "    x = y.clone()\n"
                "    neg = y < 0\n"
                "    x[neg] = y[neg] / slope\n"
                "    return x\n"),
            "preimage-solution": (
                "def preimage_of_square(y):\n"
                "    if y < 0:\n"
                "        return []\n"
                "    r = math.sqrt(y)\n"
                "    return sorted({-r, r})\n"),
            "left-solution": (
                "def left_inverse(A):\n"
                "    if A.dim() != 2:\n"
                "        raise ValueError('A must be 2-D')\n"
                "    m, n = A.shape\n"
                "    if m < n:\n"
                "        raise ValueError('A is wider than tall')\n"
                "    s = torch.linalg.svdvals(A)\n"
                "    if int((s > max(m, n) * torch.finfo(A.dtype).eps * s[0]).sum()) < n:\n"
                "        raise ValueError('A does not have full column rank')\n"
                "    Q, R = torch.linalg.qr(A)\n"
                "    return torch.linalg.solve_triangular(R, Q.T, upper=True)\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    vals, vecs = torch.linalg.eigh(A @ A.T)\n"
                "    return vecs[:, 0]\n"),
        },
    },
    "inverse_where_lstsq_svd_of_transpose": {
        "replace": {
            "affine-solution": (
                "def invert_affine(W, b, y):\n"
                "    return torch.linalg.solve(W.T, y - b, left=False)\n"),
            "leaky-solution": (
                "def leaky_relu_inverse(y, slope):\n"
                "    if slope <= 0:\n"
                "        raise ValueError(f'slope {slope}: not invertible')\n"
                "    return y / torch.where(y < 0, torch.as_tensor(slope, dtype=y.dtype), torch.ones((), dtype=y.dtype))\n"),
            "preimage-solution": (
                "def preimage_of_square(y):\n"
                "    out = []\n"
                "    if y > 0:\n"
                "        out = [-(y ** 0.5), y ** 0.5]\n"
                "    elif y == 0:\n"
                "        out = [0.0]\n"
                "    return out\n"),
            "left-solution": (
                "def left_inverse(A):\n"
                "    if len(A.shape) != 2 or A.shape[0] < A.shape[1]:\n"
                "        raise ValueError('A must be a tall (or square) matrix')\n"
                "    if torch.linalg.matrix_rank(A) != A.shape[1]:\n"
                "        raise ValueError('A is rank deficient')\n"
                "    return torch.linalg.lstsq(A, torch.eye(A.shape[0], dtype=A.dtype), driver='gelsd').solution\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    _, _, Vh = torch.linalg.svd(A.T)\n"
                "    return Vh[-1]\n"),
        },
    },
    "loops_leaky_relu_normal_equations_inverse_svd": {
        "replace": {
            "affine-solution": (
                "def invert_affine(W, b, y):\n"
                "    return torch.stack([torch.linalg.solve(W, row - b) for row in y])\n"),
            "leaky-solution": (
                "def leaky_relu_inverse(y, slope):\n"
                "    if slope <= 0:\n"
                "        raise ValueError('not invertible')\n"
                "    return torch.nn.functional.leaky_relu(y, 1.0 / slope)\n"),
            "preimage-solution": (
                "def preimage_of_square(y):\n"
                "    return sorted({math.sqrt(y), -math.sqrt(y)}) if y >= 0 else []\n"),
            "left-solution": (
                "def left_inverse(A):\n"
                "    if A.ndim != 2:\n"
                "        raise ValueError('not a matrix')\n"
                "    if A.shape[0] < A.shape[1] or torch.linalg.matrix_rank(A) < A.shape[1]:\n"
                "        raise ValueError('no left inverse: wide or rank deficient')\n"
                "    return torch.linalg.solve(A.T @ A, A.T)\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    _, _, Vh = torch.linalg.svd(torch.linalg.inv(A))\n"
                "    return Vh[0]\n"),
        },
    },
}
