{
  "targets": [
    {
      "target_name": "rxrl_native",
      "sources": ["src/sgemm.c", "src/skinny.c", "src/rowops.c", "src/strided.c", "src/mapreduce.c", "src/optim.c", "src/topk.c", "src/fused.c", "src/vexp.c", "src/lmhead.c", "src/sample.c"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread"],
      "libraries": ["-lopenblas", "-lmvec", "-lm", "-fopenmp"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fopenmp"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
