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
