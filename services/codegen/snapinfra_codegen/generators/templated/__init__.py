"""The default generator: deterministic, offline, built from string templates."""

from snapinfra_codegen.generators.templated.generator import TemplatedGenerator

__all__ = ["TemplatedGenerator"]
