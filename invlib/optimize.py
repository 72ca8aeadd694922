"""PLACEHOLDER (being written)."""
class InversionResult: ...
def optimize_inverse(f, y, **kwargs):
    raise NotImplementedError
