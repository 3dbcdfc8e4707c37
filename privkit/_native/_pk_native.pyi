# The cffi-generated extension module; its attributes are defined in csrc/privkit.h.
from typing import Any

ffi: Any
lib: Any
