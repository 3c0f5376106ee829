// pybind11 binding of the rANS coder: numpy buffers in, bytes or numpy out.
//
// The module knows nothing of torch, so one build serves every torch version. The
// GIL is released while coding, so several threads can code different streams.
// Errors: std::invalid_argument -> ValueError (a caller's mistake: a bad shape or
// value); py::type_error -> TypeError (an argument of the wrong type or dtype);
// CorruptStreamError -> pillow_l3c.errors.CorruptStreamError (a bad stream).
//
// Every argument is checked here before the coder sees a pointer: the coder's loops
// read raw row-major int32 blocks and trust their shapes, so nothing is converted.
// A silent cast (py::array::forcecast) would turn weights of 2048.7 into 2048 or an
// int64 mean of 2^32 + 5 into 5, and code a stream that the true values cannot
// decode; a strided or misaligned block would be read as if it were contiguous.
#include <pybind11/gil_safe_call_once.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "distributions.hpp"
#include "format_constants.hpp"
#include "rans.hpp"

namespace py = pybind11;
using pillow_l3c::CdfTable;
using pillow_l3c::LogisticMixture;

namespace {

// --- checked arguments --------------------------------------------------------------

std::string TypeName(const py::handle& obj) { return Py_TYPE(obj.ptr())->tp_name; }

std::string ShapeString(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    s += (d > 0 ? ", " : "") + std::to_string(a.shape(d));
  }
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// An int32 argument as the coder reads it: `data` points at shape[0] * shape[1]
// (or shape[0]) int32 in row-major order, valid while the argument is alive (the
// whole call: pybind11 holds a reference to every argument).
struct Int32Block {
  py::array array;
  const int32_t* data;
  size_t rows;
  size_t cols;  // 1 for a one-dimensional argument
};

// `obj`, the argument `name`, as an aligned C-contiguous int32 array of `ndim`
// (1 or 2) dimensions; `shape` (e.g. "(n, K)") is what its messages say it must be.
// The dtype must be int32 in native byte order exactly: nothing is cast.
Int32Block CheckInt32(const py::handle& obj, const std::string& name, py::ssize_t ndim,
                      const std::string& shape) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(name + " must be a numpy.ndarray of dtype int32, got " + TypeName(obj));
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  // EquivTypes: int32 (or intc) in native byte order; '>i4', int64, float32 fail.
  if (!py::isinstance<py::array_t<int32_t>>(a)) {
    throw py::type_error(name + " must have dtype int32, got " +
                         std::string(py::str(a.dtype())));
  }
  if (a.ndim() != ndim) {
    throw std::invalid_argument(name + " must have shape " + shape + ", got shape " +
                                ShapeString(a));
  }
  if (!(a.flags() & py::array::c_style)) {
    throw std::invalid_argument(name +
                                " must be C-contiguous (np.ascontiguousarray makes a copy)");
  }
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw std::invalid_argument(name + " must be aligned to 4 bytes");
  }
  const size_t rows = static_cast<size_t>(a.shape(0));
  const size_t cols = ndim == 2 ? static_cast<size_t>(a.shape(1)) : 1;
  return {a, static_cast<const int32_t*>(a.data()), rows, cols};
}

void CheckPrecision(int precision, int64_t alphabet) {
  if (precision < 1 || precision > pillow_l3c::kMaxPrecision) {
    throw std::invalid_argument("precision must be in 1 .. " +
                                std::to_string(pillow_l3c::kMaxPrecision) + ", got " +
                                std::to_string(precision));
  }
  if (alphabet < 1) {
    throw std::invalid_argument("alphabet must have at least 1 symbol, got " +
                                std::to_string(alphabet));
  }
  if (alphabet > (int64_t{1} << precision)) {
    throw std::invalid_argument("alphabet of " + std::to_string(alphabet) +
                                " symbols does not fit precision " +
                                std::to_string(precision));
  }
}

// The symbols to encode: shape (n,), each in [0, alphabet). The distributions
// check each symbol again as they code it; this pass gives the message (with the
// GIL held) before any coding starts.
Int32Block CheckSymbols(const py::handle& obj) { return CheckInt32(obj, "symbols", 1, "(n,)"); }

void CheckSymbolValues(const Int32Block& s, int alphabet) {
  for (size_t i = 0; i < s.rows; ++i) {
    if (s.data[i] < 0 || s.data[i] >= alphabet) {
      throw std::invalid_argument("symbols[" + std::to_string(i) + "] = " +
                                  std::to_string(s.data[i]) + " is outside the alphabet 0 .. " +
                                  std::to_string(alphabet - 1));
    }
  }
}

// A count of symbols to decode, which becomes the size of an int32 array.
size_t CheckCount(size_t n) {
  const auto limit = static_cast<size_t>(PY_SSIZE_T_MAX) / sizeof(int32_t);
  if (n > limit) {
    throw std::invalid_argument("n = " + std::to_string(n) + " symbols exceed the largest array (" +
                                std::to_string(limit) + ")");
  }
  return n;
}

// The CDF rows (1 or n, alphabet + 1), checked against CdfTable's row convention.
struct CheckedTable {
  Int32Block cdf;
  CdfTable table;
};

CheckedTable MakeTable(const py::handle& obj, size_t n, int precision) {
  Int32Block cdf = CheckInt32(obj, "cdf", 2, "(rows, alphabet + 1)");
  if (cdf.cols < 2) {
    throw std::invalid_argument("cdf must have shape (rows, alphabet + 1) with an alphabet of "
                                "at least 1 symbol, got shape " +
                                ShapeString(cdf.array));
  }
  if (cdf.rows != 1 && cdf.rows != n) {
    throw std::invalid_argument("cdf has " + std::to_string(cdf.rows) + " rows for " +
                                std::to_string(n) +
                                " symbols; it must have 1 row or one row per symbol");
  }
  const int64_t alphabet = static_cast<int64_t>(cdf.cols) - 1;
  CheckPrecision(precision, alphabet);
  CdfTable table(cdf.data, cdf.rows, static_cast<int>(alphabet), precision);
  table.Validate();
  return {std::move(cdf), table};
}

// The mixture parameters, each (n, K) with 1 <= K <= kMaxMixtures, validated
// (MixtureCdf::Validate) for an alphabet of 1 .. kMaxMixtureAlphabet symbols.
struct CheckedMixture {
  Int32Block weights, means, inv_scales;
  LogisticMixture dist;
  size_t n() const { return weights.rows; }
};

CheckedMixture MakeMixture(const py::handle& w, const py::handle& mu, const py::handle& inv,
                           int alphabet, int precision) {
  Int32Block weights = CheckInt32(w, "weights", 2, "(n, K)");
  Int32Block means = CheckInt32(mu, "means", 2, "(n, K)");
  Int32Block inv_scales = CheckInt32(inv, "inv_scales", 2, "(n, K)");
  for (const auto& [block, name] :
       {std::pair{&means, "means"}, std::pair{&inv_scales, "inv_scales"}}) {
    if (block->rows != weights.rows || block->cols != weights.cols) {
      throw std::invalid_argument(std::string(name) + " has shape " +
                                  ShapeString(block->array) + " but weights has shape " +
                                  ShapeString(weights.array) +
                                  "; weights, means and inv_scales must share one shape (n, K)");
    }
  }
  const size_t k = weights.cols;
  if (k < 1 || k > static_cast<size_t>(pillow_l3c::kMaxMixtures)) {
    throw std::invalid_argument("mixtures must number 1 .. " +
                                std::to_string(pillow_l3c::kMaxMixtures) + ", got " +
                                std::to_string(k));
  }
  if (alphabet > pillow_l3c::kMaxMixtureAlphabet) {
    throw std::invalid_argument("mixture alphabets are limited to " +
                                std::to_string(pillow_l3c::kMaxMixtureAlphabet) +
                                " symbols, got " + std::to_string(alphabet));
  }
  CheckPrecision(precision, alphabet);
  LogisticMixture dist(weights.data, means.data, inv_scales.data, weights.rows,
                       static_cast<int>(k), alphabet, precision);
  dist.Validate();
  return {std::move(weights), std::move(means), std::move(inv_scales), dist};
}

void CheckRowCount(const Int32Block& symbols, size_t rows) {
  if (symbols.rows != rows) {
    throw std::invalid_argument("symbols has " + std::to_string(symbols.rows) +
                                " entries but the mixture parameters have " +
                                std::to_string(rows) + " rows");
  }
}

// `obj` as bytes to decode: a buffer of unsigned bytes ('B': bytes, bytearray,
// memoryview, uint8 arrays), one-dimensional and contiguous. The buffer request
// asks for strides, so a reversed or stepped view is seen as such and refused
// instead of being read forward from its first element. The returned buffer_info
// keeps the export (and so the bytes) alive and unmoved until it is destroyed.
py::buffer_info CheckBytes(const py::handle& obj) {
  if (!PyObject_CheckBuffer(obj.ptr())) {
    throw py::type_error("data must be a bytes-like object, got " + TypeName(obj));
  }
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request();
  if (info.itemsize != 1 || info.format != "B") {
    throw py::type_error("data must hold unsigned bytes (format 'B'), got format '" +
                         info.format + "' of " + std::to_string(info.itemsize) +
                         "-byte items");
  }
  if (info.ndim != 1) {
    throw std::invalid_argument("data must be one-dimensional, got " +
                                std::to_string(info.ndim) + " dimensions");
  }
  if (info.size > 1 && info.strides[0] != 1) {
    throw std::invalid_argument("data must be contiguous, got a stride of " +
                                std::to_string(info.strides[0]) + " bytes");
  }
  return info;
}

// --- coding -------------------------------------------------------------------------

py::bytes ToBytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

template <typename Dist>
py::bytes Encode(const Int32Block& symbols, const Dist& dist) {
  std::vector<uint8_t> out;
  {
    py::gil_scoped_release release;
    out = pillow_l3c::EncodeSymbols(symbols.data, symbols.rows, dist);
  }
  return ToBytes(out);
}

template <typename Dist>
py::array_t<int32_t> Decode(const py::buffer_info& data, size_t n, const Dist& dist) {
  py::array_t<int32_t> out(static_cast<py::ssize_t>(n));
  int32_t* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    pillow_l3c::DecodeSymbols(static_cast<const uint8_t*>(data.ptr),
                              static_cast<size_t>(data.size), n, dist, dst);
  }
  return out;
}

// pillow_l3c.errors.CorruptStreamError, imported once. Not a `static py::object`:
// its destructor would run after the interpreter is finalized, and its first-use
// initialization can deadlock against the GIL; gil_safe_call_once_and_store
// (pybind11 >= 2.12) leaks the reference instead and orders its locks.
py::object& CorruptStreamErrorType() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> storage;
  return storage
      .call_once_and_store_result(
          [] { return py::module_::import("pillow_l3c.errors").attr("CorruptStreamError"); })
      .get_stored();
}

}  // namespace

PYBIND11_MODULE(_coder, m) {
  m.attr("__name__") = "pillow_l3c._coder";
  m.doc() = "Interleaved rANS coder for pillow_l3c (see csrc/rans.hpp).";
  // The format's integers as this build has them (csrc/format_constants.hpp), for
  // tests/test_constants.py to compare with pillow_l3c/_constants.py.
  py::dict constants;
  for (const auto& c : pillow_l3c::kFormatConstants) constants[c.name] = c.value;
  m.attr("CONSTANTS") = constants;

  CorruptStreamErrorType();  // imported now, so that a broken package fails at import
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pillow_l3c::CorruptStreamError& e) {
      PyErr_SetString(CorruptStreamErrorType().ptr(), e.what());
    }
  });

  m.def(
      "encode_cdf",
      [](const py::object& symbols, const py::object& cdf, int precision) {
        const Int32Block s = CheckSymbols(symbols);
        const CheckedTable t = MakeTable(cdf, s.rows, precision);
        CheckSymbolValues(s, static_cast<int>(t.cdf.cols) - 1);
        return Encode(s, t.table);
      },
      py::arg("symbols"), py::arg("cdf"), py::arg("precision") = pillow_l3c::kPrecision,
      "Encode int32 symbols (n,) under integer CDF rows (n or 1, L + 1).");
  m.def(
      "decode_cdf",
      [](const py::object& data, const py::object& cdf, size_t n, int precision) {
        const py::buffer_info bytes = CheckBytes(data);
        const CheckedTable t = MakeTable(cdf, CheckCount(n), precision);
        return Decode(bytes, n, t.table);
      },
      py::arg("data"), py::arg("cdf"), py::arg("n"), py::arg("precision") = pillow_l3c::kPrecision,
      "Decode n symbols encoded by encode_cdf with the same CDF rows.");
  m.def(
      "encode_mixture",
      [](const py::object& symbols, const py::object& weights, const py::object& means,
         const py::object& inv_scales, int alphabet, int precision) {
        const Int32Block s = CheckSymbols(symbols);
        const CheckedMixture mix = MakeMixture(weights, means, inv_scales, alphabet, precision);
        CheckRowCount(s, mix.n());
        CheckSymbolValues(s, alphabet);
        return Encode(s, mix.dist);
      },
      py::arg("symbols"), py::arg("weights"), py::arg("means"), py::arg("inv_scales"),
      py::arg("alphabet"), py::arg("precision") = pillow_l3c::kPrecision,
      "Encode int32 symbols (n,) under integer logistic mixtures, each (n, K).");
  m.def(
      "decode_mixture",
      [](const py::object& data, const py::object& weights, const py::object& means,
         const py::object& inv_scales, int alphabet, int precision) {
        const py::buffer_info bytes = CheckBytes(data);
        const CheckedMixture mix = MakeMixture(weights, means, inv_scales, alphabet, precision);
        return Decode(bytes, mix.n(), mix.dist);
      },
      py::arg("data"), py::arg("weights"), py::arg("means"), py::arg("inv_scales"),
      py::arg("alphabet"), py::arg("precision") = pillow_l3c::kPrecision,
      "Decode the symbols of encode_mixture with the same mixture parameters.");
  m.def(
      "mixture_cdf",
      [](const py::object& weights, const py::object& means, const py::object& inv_scales,
         int alphabet, int precision) {
        const CheckedMixture mix = MakeMixture(weights, means, inv_scales, alphabet, precision);
        const size_t n = mix.n();
        py::array_t<int32_t> out({static_cast<py::ssize_t>(n),
                                  static_cast<py::ssize_t>(alphabet + 1)});
        auto r = out.mutable_unchecked<2>();
        for (size_t i = 0; i < n; ++i) {
          for (int b = 0; b <= alphabet; ++b) {
            r(i, b) = static_cast<int32_t>(mix.dist.Cdf(i, b));
          }
        }
        return out;
      },
      py::arg("weights"), py::arg("means"), py::arg("inv_scales"), py::arg("alphabet"),
      py::arg("precision") = pillow_l3c::kPrecision,
      "The integer CDF rows the mixture coder uses (for tests and inspection).");
}
