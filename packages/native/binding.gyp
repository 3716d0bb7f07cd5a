{
  "targets": [
    {
      "target_name": "gaze_native",
      "sources": ["src/gaze_native.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-ffp-contract=off"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl"]
    }
  ]
}
