// An OCI registry on 127.0.0.1 for the test of pushing the image and installing the chart by digest
// (test/image.test.ts): go-containerregistry's pkg/registry, in memory. Not part of the shipped product.
module hookwise.dev/test/tools/registry

go 1.26.0

require github.com/google/go-containerregistry v0.21.5
