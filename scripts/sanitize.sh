#!/usr/bin/env bash
# Run the coder's tests once against a build with AddressSanitizer and
# UndefinedBehaviorSanitizer (a separate copy of the package; .venv is untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r pillow_l3c "$work/"
rm -f "$work"/pillow_l3c/_coder*.so
SANITIZE=1 .venv/bin/python setup.py -q build_ext --build-temp "$work/build" \
  --build-lib "$work" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
grep -q __asan_init "$work"/pillow_l3c/_coder*.so || { echo "the build is not instrumented"; exit 1; }
cp tests/test_coder.py fuzz/fuzz_l3c.py "$work/"
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
py="$PWD/.venv/bin/python"
cd "$work"  # so that this copy of pillow_l3c, not the source tree's, is imported
export LD_PRELOAD="$asan:$ubsan" ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$py" -c "import pillow_l3c._coder as c, sys; assert c.__file__.startswith(sys.argv[1]), c.__file__" "$work"
"$py" -m pytest -q -p no:cacheprovider test_coder.py
"$py" fuzz_l3c.py coder --inputs 200000
