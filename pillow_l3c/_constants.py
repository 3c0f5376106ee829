"""The integers that define a .l3c file, in one place (docs/FORMAT.md).

Changing any value here changes which bytes a file holds or how they decode, so it
needs a new format version and new golden files (tests/golden). The container's
own fields (magic, header layout, tile sizes, model id length) live in ``_format``;
this module holds the integers of the streams inside it: the coder's precision, the
sigmoid table, the units of the mixture parameters, the integer network's grid and
the polyphase stream markers.

Pure standard library and plain ints: ``_format``, the codec, the TorchScript models
(which copy the values into ``Final`` class attributes, since TorchScript reads no
module-level names) and the tests all import it without torch.

The C++ coder gets the same values from ``csrc/format_constants.hpp``, generated
from this module by ``csrc/gen_headers.py``. A generated header rather than values
passed in at run time: the coder's hot loops need them as compile-time constants
(shifts, loop bounds, a static_assert on the table), and the header builds with a
plain C++17 compiler, without Python. ``tests/test_constants.py`` checks that the
committed header is what the generator writes today, and that the built extension
reports the same values (``_coder.CONSTANTS``), so neither can drift.
"""

from __future__ import annotations

# --- rANS streams (csrc/rans.hpp) ---------------------------------------------------

# Samples have 8 bits: the alphabet of every pixel stream.
SAMPLE_LEVELS = 256

# Probabilities of every stream are integers in units of 2^-PRECISION.
PRECISION = 16
# The coder's states live in [2^31, 2^63); a stream ends with both back at 2^31.
RANS_STATE_LOW_BITS = 31
# Two interleaved states: symbol i is coded by lane i % 2.
RANS_LANES = 2
# A stream starts with the lanes' final states, 8 bytes each: no stream is shorter.
RANS_HEADER_BYTES = 8 * RANS_LANES

# --- the sigmoid table (csrc/sigmoid_table.hpp) --------------------------------------

# Entries are round(2^SIGMOID_BITS * sigmoid(x)) ...
SIGMOID_BITS = 16
# ... for x from -SIGMOID_RANGE to +SIGMOID_RANGE (flat beyond: 0 and 2^16) ...
SIGMOID_RANGE = 16
# ... in steps of 2^-SIGMOID_STEP_BITS, linearly interpolated in between.
SIGMOID_STEP_BITS = 6

# --- the coder's mixture parameters (docs/FORMAT.md, "Distributions") ---------------

# Means are in units of 2^-8 bin: 1/256 of a symbol.
MEAN_FRACTION_BITS = 8
# Inverse scales are in units of 2^-12 per bin.
INV_SCALE_FRACTION_BITS = 12
# The weights of one mixture sum to exactly 2^12.
WEIGHT_BITS = 12
# |mean| <= 2^28 and inverse scale <= 2^20 keep (edge - mean) * inv_scale within
# int64 and the sigmoid argument exact.
MAX_ABS_MEAN = 1 << 28
MAX_INV_SCALE = 1 << 20
# At most 64 components, over an alphabet of at most 2^16 symbols: the sums of the
# integer CDF stay within uint64.
MAX_MIXTURES = 64
MAX_MIXTURE_ALPHABET = 1 << 16

# --- the integer networks (network/exact.py, network/polyphase_exact.py) ------------

# Activations are integers in units of 2^-9, clamped to +-2047 (about +-4.0).
ACT_BITS = 9
ACT_LIMIT = 2047
# Mixture parameters leave the network in units of 2^-8, clamped to +-2^16, which
# keeps the int32 mixture arithmetic exact.
PARAM_BITS = 8
PARAM_LIMIT = 1 << 16
# A convolution's weights have at most 16 fractional bits.
MAX_CONV_WEIGHT_BITS = 16
# Every partial sum of a convolution stays below 2^24: float32 holds it exactly.
EXACT_LIMIT = 1 << 24
# Logit differences beyond SOFTMAX_RANGE units (12.0) get weight 0; the softmax's
# exp table holds round(2^SOFTMAX_BITS exp(-d / 2^PARAM_BITS)).
SOFTMAX_RANGE = 3072
SOFTMAX_BITS = 16

# --- polyphase streams (tile_coders/polyphase.py) ------------------------------------------------

# A scale of the pyramid is split while both its sides exceed this.
POLYPHASE_MIN_SIDE = 8
# A stream's scale offset counts 1/16 of a log-scale (16 units of 2^-8) ...
SCALE_OFFSET_UNIT = 16
# ... at most +-8 of them (a factor of e^0.5 on every scale).
MAX_SCALE_OFFSET = 8
# The offset byte of a stream whose symbols follow as plain bytes.
STORED_STREAM = 0x7F

# The names csrc/format_constants.hpp defines (as kCamelCase) and the extension
# reports in ``_coder.CONSTANTS``.
CPP_NAMES = (
    "PRECISION",
    "RANS_STATE_LOW_BITS",
    "RANS_LANES",
    "RANS_HEADER_BYTES",
    "SIGMOID_BITS",
    "SIGMOID_RANGE",
    "SIGMOID_STEP_BITS",
    "MEAN_FRACTION_BITS",
    "INV_SCALE_FRACTION_BITS",
    "WEIGHT_BITS",
    "MAX_ABS_MEAN",
    "MAX_INV_SCALE",
    "MAX_MIXTURES",
    "MAX_MIXTURE_ALPHABET",
)
