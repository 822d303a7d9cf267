"""codeward: a Python coding assistant that checks its own suggestions and measures its failure modes."""

import os as _os

__version__ = "0.1.0"

# The layer folders (model/, safety/, eval/, lsp_server/) install as codeward.<folder>. When Python runs from the
# checkout itself (`python -m ...` puts the working directory first on sys.path), this folder shadows the installed
# package mapping, so let the subpackages be found beside it as well.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "model", "base.py")) and _root not in __path__:
    __path__.append(_root)
