"""Release tools: the nbgrader course helpers and the Colab notebook pairing (run by `make exercises`, `make notebooks`)."""
