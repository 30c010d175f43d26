#!/bin/sh
# Builds and runs skinny_bench.c (see its header) against the system OpenBLAS.
set -e
here=$(dirname "$0")
out=${TMPDIR:-/tmp}/rxrl_skinny_bench
cc -O3 -march=native -std=c11 -Wall -Wextra -fopenmp -I/usr/include/x86_64-linux-gnu/openblas-pthread \
  "$here/skinny_bench.c" "$here/../src/skinny.c" -o "$out" -lopenblas -lm
exec "$out" "$@"
