{
  "targets": [
    {
      "target_name": "rxrl_matmul",
      "sources": ["src/sgemm.c"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread"],
      "libraries": ["-lopenblas"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
