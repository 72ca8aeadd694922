"""Plausible wrong answers to ex09_privacy; each must lose points where stated."""

_FGSM = "def fgsm(model, x, label, eps):\n    x = x.detach().clone().requires_grad_()\n    loss = torch.nn.functional.cross_entropy(model(x), label)\n    (grad,) = torch.autograd.grad(loss, x)\n"

WRONG = {
    "fgsm_subtracts": {
        "replace": {"fgsm-solution": _FGSM + "    return (x - eps * grad.sign()).clamp(0, 1).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "fgsm_forgets_clamp": {
        "replace": {"fgsm-solution": _FGSM + "    return (x + eps * grad.sign()).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "fgsm_gradient_not_sign": {
        "replace": {"fgsm-solution": _FGSM + "    return (x + eps * grad).clamp(0, 1).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "success_counts_already_wrong": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    return float(fooled.double().mean())\n")},
        "loses": ["success-test"],
    },
    "success_divides_by_all": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    return float((correct & fooled).sum()) / len(label)\n")},
        "loses": ["success-test"],
    },
    "matching_norm_not_squared": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum((gd - gt).norm() for gd, gt in zip(dummy_grads, true_grads))\n")},
        "loses": ["matching-test"],
    },
    "matching_mean_not_sum": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum(((gd - gt) ** 2).mean() for gd, gt in zip(dummy_grads, true_grads))\n")},
        "loses": ["matching-test"],
    },
    "matching_detached": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum(((gd - gt) ** 2).sum() for gd, gt in zip(dummy_grads, true_grads)).detach()\n")},
        "loses": ["matching-test"],
    },
    "recover_always_row_zero": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    return grad_W1[0] / grad_b1[0]\n")},
        "loses": ["recover-test"],
    },
    "recover_transposed": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    i = grad_b1.abs().argmax()\n"
            "    if grad_b1[i] == 0:\n"
            "        raise ValueError('no information')\n"
            "    return grad_W1[:, i] / grad_b1[i]\n")},
        "loses": ["recover-test"],
    },
    "rounding_rounds_logits": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        return torch.softmax(torch.round(model(x), decimals=decimals), dim=1)\n")},
        "loses": ["rounding-test"],
    },
    "rounding_not_rounded": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        return torch.softmax(model(x), dim=1)\n")},
        "loses": ["rounding-test"],
    },
}
