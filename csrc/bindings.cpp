// pybind11 binding of the rANS coder: numpy buffers in, bytes or numpy out.
//
// The module knows nothing of torch, so one build serves every torch version. The
// GIL is released while coding, so several threads can code different streams.
// Errors: std::invalid_argument -> ValueError (a caller's mistake);
// CorruptStreamError -> pillow_l3c.errors.CorruptStreamError (a bad stream).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "distributions.hpp"
#include "format_constants.hpp"
#include "rans.hpp"

namespace py = pybind11;
using pillow_l3c::CdfTable;
using pillow_l3c::LogisticMixture;

namespace {

using IntArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

void CheckPrecision(int precision, int64_t alphabet) {
  if (precision < 1 || precision > pillow_l3c::kMaxPrecision) {
    throw std::invalid_argument("precision must be in 1 .. " +
                                std::to_string(pillow_l3c::kMaxPrecision) + ", got " +
                                std::to_string(precision));
  }
  if (alphabet < 1 || alphabet > (int64_t{1} << precision)) {
    throw std::invalid_argument("alphabet of " + std::to_string(alphabet) +
                                " symbols does not fit precision " +
                                std::to_string(precision));
  }
}

CdfTable MakeTable(const IntArray& cdf, size_t n, int precision) {
  if (cdf.ndim() != 2 || cdf.shape(1) < 2) {
    throw std::invalid_argument("cdf must have shape (rows, alphabet + 1)");
  }
  const size_t rows = static_cast<size_t>(cdf.shape(0));
  if (rows != 1 && rows != n) {
    throw std::invalid_argument("cdf must have 1 row or one row per symbol");
  }
  const int64_t alphabet = cdf.shape(1) - 1;
  CheckPrecision(precision, alphabet);
  return CdfTable(cdf.data(), rows, static_cast<int>(alphabet), precision);
}

LogisticMixture MakeMixture(const IntArray& weights, const IntArray& means,
                            const IntArray& inv_scales, size_t n, int alphabet,
                            int precision) {
  if (weights.ndim() != 2 || means.ndim() != 2 || inv_scales.ndim() != 2) {
    throw std::invalid_argument("mixture parameters must have shape (n, K)");
  }
  const auto k = weights.shape(1);
  for (const IntArray* a : {&weights, &means, &inv_scales}) {
    if (a->shape(1) != k || static_cast<size_t>(a->shape(0)) != n) {
      throw std::invalid_argument("mixture parameters must all have shape (n, K)");
    }
  }
  if (k < 1 || k > pillow_l3c::kMaxMixtures) {
    throw std::invalid_argument("mixtures must number 1 .. " +
                                std::to_string(pillow_l3c::kMaxMixtures));
  }
  if (alphabet > pillow_l3c::kMaxMixtureAlphabet) {
    throw std::invalid_argument("mixture alphabets are limited to " +
                                std::to_string(pillow_l3c::kMaxMixtureAlphabet) + " symbols");
  }
  CheckPrecision(precision, alphabet);
  return LogisticMixture(weights.data(), means.data(), inv_scales.data(), n,
                         static_cast<int>(k), alphabet, precision);
}

size_t SymbolCount(const IntArray& symbols) {
  if (symbols.ndim() != 1) {
    throw std::invalid_argument("symbols must be one-dimensional");
  }
  return static_cast<size_t>(symbols.shape(0));
}

py::bytes ToBytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

template <typename Dist>
py::bytes Encode(const IntArray& symbols, const Dist& dist) {
  std::vector<uint8_t> out;
  {
    py::gil_scoped_release release;
    out = pillow_l3c::EncodeSymbols(symbols.data(), SymbolCount(symbols), dist);
  }
  return ToBytes(out);
}

template <typename Dist>
py::array_t<int32_t> Decode(const py::buffer& data, size_t n, const Dist& dist) {
  const py::buffer_info info = data.request();
  if (info.ndim != 1 || info.itemsize != 1) {
    throw std::invalid_argument("data must be a bytes-like object");
  }
  py::array_t<int32_t> out(static_cast<py::ssize_t>(n));
  int32_t* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    pillow_l3c::DecodeSymbols(static_cast<const uint8_t*>(info.ptr),
                              static_cast<size_t>(info.size), n, dist, dst);
  }
  return out;
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

  static py::object corrupt =
      py::module_::import("pillow_l3c.errors").attr("CorruptStreamError");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pillow_l3c::CorruptStreamError& e) {
      PyErr_SetString(corrupt.ptr(), e.what());
    }
  });

  m.def(
      "encode_cdf",
      [](const IntArray& symbols, const IntArray& cdf, int precision) {
        return Encode(symbols, MakeTable(cdf, SymbolCount(symbols), precision));
      },
      py::arg("symbols"), py::arg("cdf"), py::arg("precision") = pillow_l3c::kPrecision,
      "Encode int32 symbols (n,) under integer CDF rows (n or 1, L + 1).");
  m.def(
      "decode_cdf",
      [](const py::buffer& data, const IntArray& cdf, size_t n, int precision) {
        return Decode(data, n, MakeTable(cdf, n, precision));
      },
      py::arg("data"), py::arg("cdf"), py::arg("n"), py::arg("precision") = pillow_l3c::kPrecision,
      "Decode n symbols encoded by encode_cdf with the same CDF rows.");
  m.def(
      "encode_mixture",
      [](const IntArray& symbols, const IntArray& weights, const IntArray& means,
         const IntArray& inv_scales, int alphabet, int precision) {
        LogisticMixture dist = MakeMixture(weights, means, inv_scales,
                                           SymbolCount(symbols), alphabet, precision);
        dist.Validate();
        return Encode(symbols, dist);
      },
      py::arg("symbols"), py::arg("weights"), py::arg("means"), py::arg("inv_scales"),
      py::arg("alphabet"), py::arg("precision") = pillow_l3c::kPrecision,
      "Encode int32 symbols (n,) under integer logistic mixtures, each (n, K).");
  m.def(
      "decode_mixture",
      [](const py::buffer& data, const IntArray& weights, const IntArray& means,
         const IntArray& inv_scales, int alphabet, int precision) {
        const size_t n = weights.ndim() == 2 ? static_cast<size_t>(weights.shape(0)) : 0;
        LogisticMixture dist =
            MakeMixture(weights, means, inv_scales, n, alphabet, precision);
        dist.Validate();
        return Decode(data, n, dist);
      },
      py::arg("data"), py::arg("weights"), py::arg("means"), py::arg("inv_scales"),
      py::arg("alphabet"), py::arg("precision") = pillow_l3c::kPrecision,
      "Decode the symbols of encode_mixture with the same mixture parameters.");
  m.def(
      "mixture_cdf",
      [](const IntArray& weights, const IntArray& means, const IntArray& inv_scales,
         int alphabet, int precision) {
        const size_t n = weights.ndim() == 2 ? static_cast<size_t>(weights.shape(0)) : 0;
        LogisticMixture dist =
            MakeMixture(weights, means, inv_scales, n, alphabet, precision);
        dist.Validate();
        py::array_t<int32_t> out({static_cast<py::ssize_t>(n),
                                  static_cast<py::ssize_t>(alphabet + 1)});
        auto r = out.mutable_unchecked<2>();
        for (size_t i = 0; i < n; ++i) {
          for (int b = 0; b <= alphabet; ++b) {
            r(i, b) = static_cast<int32_t>(dist.Cdf(i, b));
          }
        }
        return out;
      },
      py::arg("weights"), py::arg("means"), py::arg("inv_scales"), py::arg("alphabet"),
      py::arg("precision") = pillow_l3c::kPrecision,
      "The integer CDF rows the mixture coder uses (for tests and inspection).");
}
