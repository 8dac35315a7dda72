// Copied from go.etcd.io/etcd/server/v3/main.go (Apache-2.0); built by test/k8s/build-tools.ts.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
